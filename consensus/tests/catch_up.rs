//! Catch-up packages: restarted nodes jump ahead, and pools stay bounded.

use std::collections::BTreeMap;

use chainkey_consensus::sim::{run, Behaviour, NetworkConfig, SimConfig};
use chainkey_consensus::Config;

fn scenario(nodes: usize, duration: u64, faulty: BTreeMap<u32, Behaviour>) -> SimConfig {
    SimConfig {
        seed: 9,
        consensus: Config::new(nodes),
        network: NetworkConfig::default(),
        faulty,
        duration,
        ingress_per_second: 20,
    }
}

#[test]
fn a_node_restarted_long_after_a_crash_jumps_to_a_catch_up_package() {
    let crash = Behaviour::Crash {
        at: 1_000,
        restart: Some(25_000),
    };
    let outcome = run(scenario(4, 30_000, BTreeMap::from([(3, crash)])));
    assert!(
        outcome.safety_violation.is_none(),
        "{:?}",
        outcome.safety_violation
    );
    // The restarted node is not "honest" in the outcome's sense, but its jumps are recorded
    // and checked for safety like any finalization.
    assert!(
        outcome.catch_up_jumps.get(&3).copied().unwrap_or(0) >= 1,
        "{:?} {:#?}",
        outcome.catch_up_jumps,
        outcome.final_states
    );
    assert!(
        outcome.min_finalized() > 150,
        "{:?}",
        outcome.finalized_heights
    );
    // ... and then follows the others again.
    assert!(
        outcome.all_finalized_heights[&3] + 5 >= outcome.min_finalized(),
        "{:?}",
        outcome.all_finalized_heights
    );
}

#[test]
fn pools_stay_bounded_however_long_the_run() {
    let short = run(scenario(4, 20_000, BTreeMap::new()));
    let long = run(scenario(4, 80_000, BTreeMap::new()));
    assert!(
        long.min_finalized() > 3 * short.min_finalized(),
        "{:?} vs {:?}",
        long.finalized_heights,
        short.finalized_heights
    );
    let config = Config::new(4);
    // Per height at most: a few proposals and blocks, 3n shares, two certificates, a beacon.
    let per_height = 3 * config.nodes + 8;
    let bound = (2 * config.catch_up_interval as usize + config.window as usize) * per_height;
    assert!(long.max_pool <= bound, "{} > {bound}", long.max_pool);
    assert!(
        long.max_pool <= short.max_pool * 2,
        "pool grows with time: {} vs {}",
        long.max_pool,
        short.max_pool
    );
}
