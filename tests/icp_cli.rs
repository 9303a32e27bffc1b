//! The IC's own CLI, `icp` (icp-cli 1.5.0 from npm, unmodified), drives a
//! local subnet as a developer would: an `icp.yaml` whose `local` network
//! is a chainkey node, a Motoko project deployed, called, inspected,
//! configured, logged, snapshotted (and a snapshot downloaded and uploaded), topped up,
//! upgraded and deleted.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use candid::{Encode, Nat};
use chainkey_node::execution::system_canisters::cycles_ledger::FAUCET;
use chainkey_node::local_subnet::{prepare, wait_for_height, LocalSubnet};
use common::{
    agent, create_and_install, install_js, motoko, resident_mib, update, url, workspace,
    ONE_SUBNET_AT_A_TIME,
};
use ic_agent::identity::BasicIdentity;
use ic_utils::call::AsyncCall;
use ic_utils::interfaces::ManagementCanister;
use sha2::Digest;

/// The `icp` binary `npm ci --prefix tests/js` installs.
fn icp_binary() -> PathBuf {
    install_js();
    workspace().join("tests/js/node_modules/@icp-sdk/icp-cli-linux-x64/bin/icp")
}

/// Runs `icp` in `project` with its home in `home`; returns stdout, or
/// panics with everything it printed.
fn icp(project: &Path, home: &Path, args: &[&str]) -> String {
    let output = Command::new(icp_binary())
        .args(args)
        .current_dir(project)
        .env("ICP_HOME", home)
        .env("ICP_TELEMETRY_DISABLED", "1")
        .output()
        .expect("icp runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "icp {args:?} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    eprintln!("$ icp {}\n{stdout}{stderr}", args.join(" "));
    stdout + &stderr
}

/// A Motoko project whose `local` network is the node at `node_url`.
fn project(dir: &Path, node_url: &str) {
    let root = workspace();
    let compiler = root.join("tests/js/compile-motoko.js");
    let source = root.join("tests/canisters/counter.mo");
    let manifest = format!(
        "networks:\n\
         \x20 - name: local\n\
         \x20   mode: connected\n\
         \x20   url: {node_url}\n\
         \x20   root-key: fetch\n\
         canisters:\n\
         \x20 - name: counter\n\
         \x20   build:\n\
         \x20     steps:\n\
         \x20       - type: script\n\
         \x20         commands:\n\
         \x20           - node {} {} \"$ICP_WASM_OUTPUT_PATH\"\n",
        compiler.display(),
        source.display()
    );
    std::fs::write(dir.join("icp.yaml"), manifest).unwrap();
}

/// The number after `label` in the first line of `text` that has it
/// (icp prints `1_000_000`).
fn number_after(text: &str, label: &str) -> Option<u128> {
    let line = text.lines().find(|line| line.contains(label))?;
    let rest = &line[line.find(label)? + label.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '_')
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn icp_cli_deploys_and_manages_a_motoko_project() {
    let _serial = ONE_SUBNET_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let configs = prepare(dir.path(), 4, &[], true).unwrap();
    let program = PathBuf::from(env!("CARGO_BIN_EXE_chainkey"));
    let subnet = LocalSubnet::start(&program, dir.path(), &configs).unwrap();
    wait_for_height(&subnet, 3, Duration::from_secs(120)).unwrap();

    let project_dir = dir.path().join("project");
    let home = dir.path().join("icp-home");
    std::fs::create_dir_all(&project_dir).unwrap();
    project(&project_dir, &url(&subnet, 0));
    let run = |args: &[&str]| icp(&project_dir, &home, args);
    run(&["settings", "update-check", "disabled"]);
    run(&["identity", "new", "dev", "--storage", "plaintext"]);
    run(&["identity", "default", "dev"]);

    run(&["network", "ping"]);
    // The developer's account was credited by the local subnet's faucet.
    let balance = run(&["cycles", "balance"]);
    assert_eq!(
        number_after(&balance, "Balance:"),
        Some(FAUCET),
        "{balance}"
    );

    // ICP becomes cycles through the cycles minting canister: 1 ICP at the
    // local rate of 3.5 XDR, an XDR being 10¹² cycles, less the cycles
    // ledger's deposit fee of 10⁸.
    let mint = run(&["cycles", "mint", "--icp", "1"]);
    assert!(mint.contains("Minted 3_499_900_000_000 cycles"), "{mint}");
    let minted = number_after(&run(&["cycles", "balance"]), "Balance:").unwrap();
    assert_eq!(minted, FAUCET + 3_500_000_000_000 - 100_000_000);
    let created = run(&["canister", "create", "--detached", "--with-icp", "1"]);
    assert!(created.contains("-cai"), "{created}");

    run(&["canister", "create", "counter"]);
    run(&["deploy", "-y"]);
    assert!(run(&["canister", "call", "counter", "increment", "()"]).contains("(1 : nat)"));
    assert!(run(&["canister", "call", "counter", "increment", "()"]).contains("(2 : nat)"));
    assert!(run(&["canister", "call", "--query", "counter", "get", "()"]).contains("(2 : nat)"));
    let icp_balance = run(&["token", "balance"]);
    assert!(icp_balance.contains("ICP"), "{icp_balance}");

    // The query above counts in the canister's statistics once node 0
    // has reported it in a block of its own.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let status = run(&["canister", "status", "counter"]);
        if status.contains("Query stats:\n    Calls: 1\n") {
            break status;
        }
        assert!(Instant::now() < deadline, "one query call in {status}");
        std::thread::sleep(Duration::from_millis(500));
    };
    // `()` and `(2 : nat)` in Candid: 6 and 8 bytes.
    assert!(status.contains("Req payload bytes: 6\n"), "{status}");
    assert!(status.contains("Res payload bytes: 8\n"), "{status}");
    assert!(
        status.to_lowercase().contains("running"),
        "status: {status}"
    );

    run(&[
        "canister",
        "settings",
        "update",
        "counter",
        "--freezing-threshold",
        "1234",
    ]);
    let settings = run(&["canister", "settings", "show", "counter"]);
    assert_eq!(
        number_after(&settings, "Freezing threshold:"),
        Some(1234),
        "{settings}"
    );

    let logs = run(&["canister", "logs", "counter"]);
    assert!(logs.contains("count is now 2"), "{logs}");

    // An upgrade keeps Motoko's heap: icp detects enhanced orthogonal
    // persistence from the installed module's metadata.
    run(&["deploy", "-y", "--mode", "upgrade"]);
    assert!(run(&["canister", "call", "--query", "counter", "get", "()"]).contains("(2 : nat)"));

    run(&["canister", "stop", "counter"]);
    let snapshot = run(&["canister", "snapshot", "create", "counter"]);
    let list = run(&["canister", "snapshot", "list", "counter"]);
    let id = list
        .split(|c: char| !c.is_ascii_hexdigit())
        .find(|word| word.len() == 36)
        .unwrap_or_else(|| panic!("a snapshot id in {list} (created: {snapshot})"))
        .to_string();
    // Downloaded, its module is the one installed.
    let download = dir.path().join("snapshot");
    let output = download.to_str().unwrap();
    run(&[
        "canister", "snapshot", "download", "counter", &id, "--output", output,
    ]);
    let module = std::fs::read(download.join("wasm_module.bin")).unwrap();
    let module_hash = format!("0x{}", hex::encode(sha2::Sha256::digest(&module)));
    let status = run(&["canister", "status", "counter"]);
    assert!(status.contains(&module_hash), "{module_hash} in {status}");
    run(&["canister", "start", "counter"]);
    assert!(run(&["canister", "call", "counter", "increment", "()"]).contains("(3 : nat)"));
    run(&["canister", "stop", "counter"]);
    run(&["canister", "snapshot", "restore", "counter", &id]);
    run(&["canister", "start", "counter"]);
    assert!(run(&["canister", "call", "--query", "counter", "get", "()"]).contains("(2 : nat)"));
    // Uploaded back from the download, it is a snapshot of its own, which
    // restores the same state.
    assert!(run(&["canister", "call", "counter", "increment", "()"]).contains("(3 : nat)"));
    run(&["canister", "stop", "counter"]);
    let uploaded = run(&[
        "canister", "snapshot", "upload", "counter", "--input", output, "--quiet",
    ]);
    let uploaded = uploaded
        .split(|c: char| !c.is_ascii_hexdigit())
        .find(|word| word.len() == 36 && *word != id)
        .unwrap_or_else(|| panic!("a new snapshot id in {uploaded}"))
        .to_string();
    run(&["canister", "snapshot", "restore", "counter", &uploaded]);
    run(&["canister", "start", "counter"]);
    assert!(run(&["canister", "call", "--query", "counter", "get", "()"]).contains("(2 : nat)"));

    let before = run(&["canister", "status", "counter"]);
    run(&["canister", "top-up", "counter", "--amount", "1000000000000"]);
    let after = run(&["canister", "status", "counter"]);
    let cycles = |text: &str| number_after(text, "Cycles:").expect("a cycles line");
    // The top-up arrived, less what the canister spent meanwhile.
    assert!(
        cycles(&after) > cycles(&before) + 900_000_000_000,
        "{before}\n{after}"
    );

    // Deleting recovers the canister's cycles to the developer's account
    // (icp installs a canister that deposits them to the cycles ledger).
    let before = number_after(&run(&["cycles", "balance"]), "Balance:").unwrap();
    run(&["canister", "stop", "counter"]);
    run(&["canister", "delete", "counter"]);
    let after = number_after(&run(&["cycles", "balance"]), "Balance:").unwrap();
    assert!(after > before + 1_000_000_000_000, "{before} → {after}");
    let gone = Command::new(icp_binary())
        .args(["canister", "status", "counter"])
        .current_dir(&project_dir)
        .env("ICP_HOME", &home)
        .output()
        .unwrap();
    assert!(!gone.status.success(), "a deleted canister has no status");
}

/// A developer's loop, 200 times over: create a canister, install a
/// Motoko module, call it, stop and delete it. The nodes' memory must stay
/// flat: a deleted canister leaves nothing behind (its heap, module,
/// history, compiled code and live instance all go).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a soak of a few minutes: cargo test --release -p chainkey-node --test icp_cli -- --ignored --nocapture"]
async fn memory_stays_flat_over_200_create_install_delete_cycles() {
    let _serial = ONE_SUBNET_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let wasm = motoko("counter", &dir.path().join("counter.wasm"));
    let configs = prepare(dir.path(), 4, &[], true).unwrap();
    let program = PathBuf::from(env!("CARGO_BIN_EXE_chainkey"));
    let subnet = LocalSubnet::start(&program, dir.path(), &configs).unwrap();
    wait_for_height(&subnet, 3, Duration::from_secs(120)).unwrap();
    let agent = agent(&url(&subnet, 0), BasicIdentity::from_raw_key(&[42; 32])).await;
    let management = ManagementCanister::create(&agent);

    let mut samples = Vec::new();
    for round in 1..=200 {
        let canister = create_and_install(&agent, &wasm).await;
        let count: Nat = update(&agent, canister, "increment", Encode!()).await;
        assert_eq!(count, Nat::from(1u8));
        management
            .stop_canister(&canister)
            .call_and_wait()
            .await
            .unwrap();
        management
            .delete_canister(&canister)
            .call_and_wait()
            .await
            .unwrap();
        if round % 25 == 0 {
            let mut resident = resident_mib(&subnet);
            eprintln!("after {round} canisters: nodes' resident memory {resident:?} MiB");
            resident.sort_unstable();
            samples.push(resident[resident.len() / 2]);
        }
    }
    // After 50 rounds every cache has been filled; from there on the
    // nodes' median may not grow by more than a quarter (and 16 MiB): the
    // kept state versions come and go, a leak of one canister per round
    // (a module and a heap: megabytes) would not.
    let (settled, last) = (samples[1], *samples.last().unwrap());
    assert!(
        last <= settled + settled / 4 + 16,
        "memory grew from {settled} to {last} MiB: {samples:?}"
    );
}
