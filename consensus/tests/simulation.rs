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
    assert!(
        outcome.safety_violation.is_none(),
        "seed {seed}: {:?}",
        outcome.safety_violation
    );
}

#[test]
fn honest_subnets_finalize_steadily() {
    for nodes in [4, 7, 13] {
        let outcome = run(config(nodes, 1, 30_000));
        assert_safe(&outcome, 1);
        println!(
            "n = {nodes}: finalized {:?}, {} messages",
            outcome.finalized_heights, outcome.messages
        );
        assert!(
            outcome.min_finalized() >= 50,
            "n = {nodes}: {:?}",
            outcome.finalized_heights
        );
    }
}

/// A random network and fault mix for `seed`: n ∈ {4, 7}, up to f faulty
/// nodes with random behaviours, latency, loss, duplication, and a partition
/// that heals by half time.
fn random_scenario(seed: u64) -> SimConfig {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed);
    let nodes = if rng.gen_bool(0.7) { 4 } else { 7 };
    let mut scenario = config(nodes, seed, 10_000);
    let f = scenario.consensus.faults();
    let behaviours = [
        Behaviour::Withhold,
        Behaviour::InvalidShares,
        Behaviour::Equivocate,
        Behaviour::SharesForMissingBlocks,
        Behaviour::Spam,
        Behaviour::LaggingClock(300),
        Behaviour::Crash {
            at: 2_000,
            restart: Some(4_000),
        },
        Behaviour::Crash {
            at: 1_000,
            restart: None,
        },
    ];
    for _ in 0..rng.gen_range(0..=f) {
        let node = rng.gen_range(0..nodes as u32);
        scenario
            .faulty
            .insert(node, behaviours[rng.gen_range(0..behaviours.len())].clone());
    }
    scenario.network.max_latency = rng.gen_range(20..150);
    scenario.network.drop_probability = rng.gen_range(0.0..0.15);
    scenario.network.duplicate_probability = rng.gen_range(0.0..0.1);
    if rng.gen_bool(0.3) {
        let group: Vec<u32> = (0..nodes as u32).filter(|_| rng.gen_bool(0.4)).collect();
        scenario.network.partitions.push(Partition {
            from: rng.gen_range(500..2_000),
            until: rng.gen_range(2_000..5_000),
            group,
        });
    }
    scenario.network.stable_after = 5_000;
    scenario
}

/// Safety on every seed; liveness (every honest node keeps finalizing once
/// the network is stable) whenever at most f nodes are faulty.
fn check_seed(seed: u64) {
    let scenario = random_scenario(seed);
    let outcome = run(scenario.clone());
    assert_safe(&outcome, seed);
    assert!(
        outcome.min_progress_after_stable() >= 5,
        "seed {seed}: liveness lost with {} faulty of {} ({:?}), finalized {:?} (when stable {:?})\n{:#?}",
        scenario.faulty.len(),
        scenario.consensus.nodes,
        scenario.faulty,
        outcome.finalized_heights,
        outcome.finalized_when_stable,
        outcome.final_states
    );
    assert!(
        outcome.max_unvalidated <= scenario.consensus.max_unvalidated,
        "seed {seed}: unbounded pool"
    );
}

#[test]
fn five_hundred_random_seeds() {
    for seed in 0..500 {
        check_seed(seed);
    }
}

#[test]
#[ignore = "soak: 10,000 seeds, run with --ignored"]
fn soak_ten_thousand_seeds() {
    for seed in 0..10_000 {
        check_seed(seed);
    }
}
