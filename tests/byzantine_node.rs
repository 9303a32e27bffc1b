//! One Byzantine node of a 4-node subnet of real processes: through its
//! test hook it sends, at full speed for 60 s, invalid notarization and
//! chain-key signature shares, forged 4 MiB proposals whose signature does
//! not verify, 1 MiB dealings for transcripts not open yet, requests for
//! every finalized block and oversized frames. The three honest nodes keep
//! most of their idle block rate, their memory stays within the budgets,
//! and a normal update (a Motoko counter, through `ic-agent`) completes
//! within 2 s throughout.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use candid::{Encode, Nat};
use chainkey_node::local_subnet::{prepare, test_hook, wait_for_height, LocalSubnet};
use common::*;
use ic_agent::identity::BasicIdentity;

/// The Byzantine node.
const BYZANTINE: usize = 3;

/// The share of their idle block rate the honest nodes keep (the target).
const HELD_SHARE: f64 = 0.8;

/// What an honest node's resident memory may grow by under the attack,
/// MiB: the peer's share of the unvalidated pool (64 MiB) and of the queue
/// to the chain-key signer (16 MiB), its early dealings (16 MiB), frames
/// being read, and headroom.
const MEMORY_GROWTH_MIB: u64 = 256;

/// A metric's value on the node at `address` (0 when absent).
fn metric(subnet: &LocalSubnet, node: usize, prefix: &str) -> f64 {
    metrics(subnet, node)
        .lines()
        .filter(|line| line.starts_with(prefix))
        .filter_map(|line| line.split_whitespace().last()?.parse::<f64>().ok())
        .fold(0.0, |sum, value| sum + value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_byzantine_node_barely_slows_the_honest_three() {
    let _serial = ONE_SUBNET_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let counter_wasm = motoko("counter", &dir.path().join("counter.wasm"));
    let configs = prepare(dir.path(), 4, &[], true).unwrap();
    let program = PathBuf::from(env!("CARGO_BIN_EXE_chainkey"));
    let mut subnet = LocalSubnet::start(&program, dir.path(), &configs).unwrap();
    wait_for_height(&subnet, 3, Duration::from_secs(120)).unwrap();
    let agent = agent(&url(&subnet, 0), BasicIdentity::from_raw_key(&[9; 32])).await;
    let counter = create_and_install(&agent, &counter_wasm).await;
    update::<Nat>(&agent, counter, "increment", Encode!()).await;
    let idle = block_rate(&subnet, 0..BYZANTINE, Duration::from_secs(10));
    let idle_memory = resident_mib(&subnet)[..BYZANTINE].to_vec();
    eprintln!("idle: {idle:.1} blocks/s, honest nodes resident {idle_memory:?} MiB");

    // The Byzantine node stands for a machine of its own: at the lowest
    // CPU priority it takes what the honest nodes leave of these two cores.
    let renice = std::process::Command::new("renice")
        .args(["-n", "19", "-p", &subnet.pids()[BYZANTINE].to_string()])
        .output()
        .unwrap();
    assert!(renice.status.success(), "{renice:?}");
    test_hook(subnet.http[BYZANTINE], "byzantine", true).unwrap();
    let (mut rates, mut latencies) = (Vec::new(), Vec::new());
    let mut count = 1u32;
    let attack = Instant::now();
    while attack.elapsed() < Duration::from_secs(60) {
        rates.push(block_rate(&subnet, 0..BYZANTINE, Duration::from_secs(10)));
        let heights: Vec<_> = subnet
            .statuses()
            .iter()
            .flatten()
            .map(|s| (s.finalized_height, s.executed_height, s.certified_height))
            .collect();
        eprintln!("finalized, executed, certified: {heights:?}");
        let start = Instant::now();
        let counted: Nat = update(&agent, counter, "increment", Encode!()).await;
        latencies.push(start.elapsed());
        count += 1;
        assert_eq!(counted, Nat::from(count));
    }
    let attacked_memory = resident_mib(&subnet)[..BYZANTINE].to_vec();
    test_hook(subnet.http[BYZANTINE], "byzantine", false).unwrap();

    let invalid = metric(&subnet, 0, "chainkey_invalid_artifacts_total{peer=\"3\"}");
    let chain_key_invalid = metric(&subnet, 0, "chainkey_chain_key_invalid_total");
    let attacked = rates.iter().sum::<f64>() / rates.len() as f64;
    eprintln!(
        "under attack: {attacked:.1} blocks/s ({:.0}% of idle; per 10 s: {rates:.1?}), counter \
         latencies {latencies:?}, honest nodes resident {attacked_memory:?} MiB; node 0 dropped \
         {invalid:.0} invalid artifacts and {chain_key_invalid:.0} invalid chain-key items",
        100.0 * attacked / idle
    );
    assert!(
        chain_key_invalid > 0.0,
        "the attack reached the honest nodes"
    );
    assert!(
        attacked >= HELD_SHARE * idle,
        "finalization fell from {idle:.1} to {attacked:.1} blocks/s"
    );
    for latency in &latencies {
        assert!(*latency <= Duration::from_secs(2), "{latencies:?}");
    }
    for (before, after) in idle_memory.iter().zip(&attacked_memory) {
        assert!(
            *after <= before + MEMORY_GROWTH_MIB,
            "resident memory grew from {idle_memory:?} to {attacked_memory:?} MiB"
        );
    }
    subnet.stop();
}
