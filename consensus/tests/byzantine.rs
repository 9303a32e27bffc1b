//! Each Byzantine behaviour, with f faulty nodes: safety holds and honest
//! nodes keep finalizing. With f + 1 silent nodes, liveness is lost (as the
//! theory says: no quorum of n − f) but safety is not.

use std::collections::BTreeMap;
use std::sync::Arc;

use chainkey_consensus::sim::{run, run_with, Behaviour, NetworkConfig, Outcome, SimConfig};
use chainkey_consensus::{BlsCrypto, Config, SubnetKeys};
use chainkey_crypto::batch::BatchVerifier;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn scenario(nodes: usize, faulty: &[(u32, Behaviour)], seed: u64) -> SimConfig {
    SimConfig {
        seed,
        consensus: Config::new(nodes),
        network: NetworkConfig {
            drop_probability: 0.05,
            max_latency: 80,
            stable_after: 3_000,
            ..NetworkConfig::default()
        },
        faulty: faulty.iter().cloned().collect::<BTreeMap<_, _>>(),
        duration: 8_000,
        ingress_per_second: 20,
    }
}

fn assert_safe_and_live(outcome: &Outcome, what: &str) {
    assert!(
        outcome.safety_violation.is_none(),
        "{what}: {:?}",
        outcome.safety_violation
    );
    assert!(
        outcome.min_progress_after_stable() >= 5,
        "{what}: finalized {:?} (when stable {:?})\n{:#?}",
        outcome.finalized_heights,
        outcome.finalized_when_stable,
        outcome.final_states
    );
}

/// Runs `behaviour` on f nodes (the first f) for n = 4 and n = 7 over a few seeds.
fn with_f_faulty(behaviour: Behaviour) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for nodes in [4usize, 7] {
        let f = (nodes - 1) / 3;
        let faulty: Vec<(u32, Behaviour)> = (0..f as u32)
            .map(|node| (node, behaviour.clone()))
            .collect();
        for seed in 0..5 {
            let outcome = run(scenario(nodes, &faulty, seed));
            assert_safe_and_live(
                &outcome,
                &format!("{behaviour:?}, n = {nodes}, seed {seed}"),
            );
            outcomes.push(outcome);
        }
    }
    outcomes
}

#[test]
fn equivocating_block_makers() {
    with_f_faulty(Behaviour::Equivocate);
}

#[test]
fn invalid_signature_shares_are_dropped_and_their_sender_named() {
    for outcome in with_f_faulty(Behaviour::InvalidShares) {
        assert!(
            outcome.invalid_artifacts.get(&0).copied().unwrap_or(0) > 0,
            "{:?}",
            outcome.invalid_artifacts
        );
        let honest_blamed = outcome
            .invalid_artifacts
            .keys()
            .any(|node| outcome.finalized_heights.contains_key(node));
        assert!(
            !honest_blamed,
            "an honest node was blamed: {:?}",
            outcome.invalid_artifacts
        );
    }
}

#[test]
fn shares_for_blocks_that_do_not_exist() {
    with_f_faulty(Behaviour::SharesForMissingBlocks);
}

#[test]
fn withholding_nodes() {
    with_f_faulty(Behaviour::Withhold);
}

#[test]
fn spam_of_malformed_and_duplicate_artifacts_keeps_pools_bounded() {
    for outcome in with_f_faulty(Behaviour::Spam) {
        assert!(outcome.invalid_artifacts.get(&0).copied().unwrap_or(0) > 0);
        assert!(outcome.max_unvalidated <= Config::new(7).max_unvalidated);
    }
}

/// The least progress after the network stabilizes, over the runs of
/// [`with_f_faulty`], that `behaviour` leaves the honest nodes.
fn least_progress(outcomes: &[Outcome]) -> u64 {
    outcomes
        .iter()
        .map(Outcome::min_progress_after_stable)
        .min()
        .unwrap()
}

#[test]
fn forged_proposals_with_full_payloads_are_dropped_and_slow_no_more_than_silence() {
    let forged = with_f_faulty(Behaviour::ForgedProposals);
    for outcome in &forged {
        assert!(
            outcome.invalid_artifacts.get(&0).copied().unwrap_or(0) > 0,
            "{:?}",
            outcome.invalid_artifacts
        );
        assert!(outcome.max_unvalidated <= Config::new(7).max_unvalidated);
    }
    // Forgeries make honest nodes stop checking their sender at that
    // height, so some drop its real proposal: before honest nodes relayed
    // the blocks they vote for, that split the votes and cut progress to
    // 2–13 heights (n = 7) where silent nodes leave 15.
    let silent = least_progress(&with_f_faulty(Behaviour::Withhold));
    assert!(
        least_progress(&forged) >= silent,
        "forged proposals: {} heights, silent nodes: {silent}",
        least_progress(&forged)
    );
}

#[test]
fn a_maker_showing_its_block_to_some_nodes_slows_no_more_than_silence() {
    // Before honest nodes relayed the blocks they vote for: 5–7 heights
    // (n = 7) where silent nodes leave 15.
    let partial = least_progress(&with_f_faulty(Behaviour::ProposeToSome));
    let silent = least_progress(&with_f_faulty(Behaviour::Withhold));
    assert!(
        partial >= silent,
        "proposals to some nodes: {partial} heights, silent nodes: {silent}"
    );
}

#[test]
fn lagging_clocks() {
    with_f_faulty(Behaviour::LaggingClock(400));
}

#[test]
fn crash_and_restart_from_genesis_catches_up() {
    with_f_faulty(Behaviour::Crash {
        at: 1_000,
        restart: Some(2_500),
    });
}

#[test]
fn f_plus_one_silent_nodes_stop_liveness_but_not_safety() {
    for nodes in [4usize, 7] {
        let f = (nodes - 1) / 3;
        let faulty: Vec<(u32, Behaviour)> = (0..=f as u32)
            .map(|node| (node, Behaviour::Withhold))
            .collect();
        let outcome = run(scenario(nodes, &faulty, 1));
        assert!(outcome.safety_violation.is_none());
        assert_eq!(
            outcome.min_progress_after_stable(),
            0,
            "n = {nodes}: {:?}",
            outcome.finalized_heights
        );
        assert_eq!(
            outcome.min_finalized(),
            0,
            "n = {nodes}: nothing can ever be finalized"
        );
    }
}

/// The same protocol on real BLS12-381 keys, every signature checked by the
/// batch verifier: a node sending invalid shares is named, the rest finalize.
#[test]
fn real_bls_subnet_with_a_faulty_node() {
    let nodes = 4;
    let (subnet, secrets) = SubnetKeys::generate(nodes, &mut StdRng::seed_from_u64(7));
    let subnet = Arc::new(subnet);
    let verifier = Arc::new(BatchVerifier::default());
    let secrets = Arc::new(secrets);
    let mut config = scenario(nodes, &[(3, Behaviour::InvalidShares)], 3);
    config.duration = 4_000;
    let outcome = run_with(config, move |id| {
        let (key, share) = secrets[id as usize].clone();
        BlsCrypto::new(key, share, Arc::clone(&subnet), Arc::clone(&verifier))
    });
    assert!(outcome.safety_violation.is_none());
    assert!(
        outcome.min_progress_after_stable() >= 5,
        "{:?}",
        outcome.finalized_heights
    );
    assert!(
        outcome.invalid_artifacts.get(&3).copied().unwrap_or(0) > 0,
        "{:?}",
        outcome.invalid_artifacts
    );
    assert_eq!(
        outcome.invalid_artifacts.len(),
        1,
        "{:?}",
        outcome.invalid_artifacts
    );
}
