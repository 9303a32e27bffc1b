//! Deterministic simulations: safety always, liveness when the theory promises it.

use std::collections::BTreeMap;

use chainkey_consensus::sim::{run, Behaviour, NetworkConfig, Outcome, Partition, SimConfig};
use chainkey_consensus::Config;

fn config(nodes: usize, seed: u64, duration: u64) -> SimConfig {
    SimConfig {
        seed,
        consensus: Config::new(nodes),
        network: NetworkConfig::default(),
        faulty: BTreeMap::new(),
        duration,
        ingress_per_second: 20,
    }
}

fn assert_safe(outcome: &Outcome, seed: u64) {
    assert!(outcome.safety_violation.is_none(), "seed {seed}: {:?}", outcome.safety_violation);
}

#[test]
fn honest_subnets_finalize_steadily() {
    for nodes in [4, 7, 13] {
        let outcome = run(config(nodes, 1, 30_000));
        assert_safe(&outcome, 1);
        println!("n = {nodes}: finalized {:?}, {} messages", outcome.finalized_heights, outcome.messages);
        assert!(outcome.min_finalized() >= 50, "n = {nodes}: {:?}", outcome.finalized_heights);
    }
}
