//! Helpers the agent tests share: a subnet of node processes, the Motoko
//! compiler, agents and their calls.

#![allow(dead_code)] // each test binary uses some of them

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candid::{Decode, Encode};
use chainkey_node::local_subnet::LocalSubnet;
use ic_agent::identity::BasicIdentity;
use ic_agent::{Agent, Identity};
use ic_utils::interfaces::management_canister::builders::CanisterInstallMode;
use ic_utils::interfaces::ManagementCanister;

/// One subnet at a time: a 2-core machine runs one well.
pub static ONE_SUBNET_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Installs `tests/js` (the Motoko compiler, `@dfinity/agent`) if needed.
pub fn install_js() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let js = workspace().join("tests/js");
        if js.join("node_modules/motoko").exists() {
            return;
        }
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&js)
            .status()
            .expect("npm runs (install Node.js and npm)");
        assert!(status.success(), "npm ci --prefix tests/js failed");
    });
}

/// Compiles `tests/canisters/<name>.mo` with the npm `motoko` compiler.
pub fn motoko(name: &str, out: &Path) -> Vec<u8> {
    install_js();
    let root = workspace();
    let status = std::process::Command::new("node")
        .arg(root.join("tests/js/compile-motoko.js"))
        .arg(root.join(format!("tests/canisters/{name}.mo")))
        .arg(out)
        .status()
        .expect("Node.js runs (install it and `npm ci --prefix tests/js`)");
    assert!(status.success(), "the Motoko compiler failed");
    std::fs::read(out).unwrap()
}

pub async fn agent(url: &str, identity: impl Identity + 'static) -> Agent {
    let agent = Agent::builder()
        .with_url(url)
        .with_identity(identity)
        .with_verify_query_signatures(true)
        .build()
        .unwrap();
    agent.fetch_root_key().await.unwrap();
    agent
}

pub fn url(subnet: &LocalSubnet, id: usize) -> String {
    format!("http://{}", subnet.http[id])
}

/// Node `id`'s Prometheus metrics, as text.
pub fn metrics(subnet: &LocalSubnet, id: usize) -> String {
    ureq::get(format!("{}/metrics", url(subnet, id)))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

/// Waits until every running node reports a state digest for one same
/// height, and returns them (all equal, if execution is deterministic).
pub fn common_digests(subnet: &LocalSubnet) -> Vec<String> {
    common_digests_of(subnet, 4)
}

/// [`common_digests`] of the `running` nodes that answer.
pub fn common_digests_of(subnet: &LocalSubnet, running: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let statuses: Vec<_> = subnet.statuses().into_iter().flatten().collect();
        if statuses.len() == running {
            let first = &statuses[0].state_digests;
            for (height, _) in first.iter().rev() {
                let digests: Vec<String> = statuses
                    .iter()
                    .filter_map(|s| s.state_digests.iter().find(|(h, _)| h == height))
                    .map(|(_, d)| d.clone())
                    .collect();
                if digests.len() == running {
                    return digests;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no common executed height: {statuses:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Creates a canister through the management canister and installs `wasm` in it.
pub async fn create_and_install(agent: &Agent, wasm: &[u8]) -> candid::Principal {
    let management = ManagementCanister::create(agent);
    let (canister,) = management
        .create_canister()
        .as_provisional_create_with_amount(None)
        .with_effective_canister_id(candid::Principal::management_canister())
        .call_and_wait()
        .await
        .expect("create a canister");
    management
        .install_code(&canister, wasm)
        .with_mode(CanisterInstallMode::Install)
        .call_and_wait()
        .await
        .expect("install the canister");
    canister
}

/// Calls `method` with `arg` and waits for its certified reply.
pub async fn update<T: candid::CandidType + for<'de> serde::Deserialize<'de>>(
    agent: &Agent,
    canister: candid::Principal,
    method: &str,
    arg: candid::Result<Vec<u8>>,
) -> T {
    let reply = agent
        .update(&canister, method)
        .with_arg(arg.unwrap())
        .call_and_wait()
        .await
        .unwrap_or_else(|error| panic!("update {method}: {error}"));
    Decode!(&reply, T).unwrap()
}

/// Queries `method` (no argument); the node's signature is verified.
pub async fn query<T: candid::CandidType + for<'de> serde::Deserialize<'de>>(
    agent: &Agent,
    canister: candid::Principal,
    method: &str,
) -> Result<T, ic_agent::AgentError> {
    let reply = agent
        .query(&canister, method)
        .with_arg(Encode!().unwrap())
        .call()
        .await?;
    Ok(Decode!(&reply, T).unwrap())
}

/// An agent on node `id` that may have just started (retries the root key).
pub async fn agent_for_node(subnet: &LocalSubnet, id: usize) -> Agent {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let agent = Agent::builder()
            .with_url(url(subnet, id))
            .with_identity(BasicIdentity::from_raw_key(&[43; 32]))
            .build()
            .unwrap();
        if agent.fetch_root_key().await.is_ok() {
            return agent;
        }
        assert!(Instant::now() < deadline, "node {id} does not answer");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Finalized blocks per second over `window`, the slowest of `nodes`.
pub fn block_rate(subnet: &LocalSubnet, nodes: std::ops::Range<usize>, window: Duration) -> f64 {
    let heights = || -> Vec<u64> {
        subnet
            .statuses()
            .iter()
            .map(|s| s.as_ref().map_or(0, |s| s.finalized_height))
            .collect()
    };
    let (before, start) = (heights(), Instant::now());
    std::thread::sleep(window);
    let after = heights();
    let elapsed = start.elapsed().as_secs_f64();
    nodes
        .map(|id| after[id].saturating_sub(before[id]) as f64 / elapsed)
        .fold(f64::INFINITY, f64::min)
}

/// Resident memory of each node process, MiB.
pub fn resident_mib(subnet: &LocalSubnet) -> Vec<u64> {
    subnet
        .pids()
        .iter()
        .map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
            let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
            let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
            kib / 1024
        })
        .collect()
}
