//! Simulated consensus throughput and latency per subnet size and network
//! latency, plus the real cost of the crypto per block.
//!
//! `cargo run --release -p chainkey-consensus --example simulate`

use std::sync::Arc;
use std::time::Instant;

use chainkey_consensus::sim::{run, run_with, NetworkConfig, SimConfig};
use chainkey_consensus::{BlsCrypto, Config, SubnetKeys};
use chainkey_crypto::batch::BatchVerifier;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn scenario(nodes: usize, max_latency: u64, duration: u64) -> SimConfig {
    SimConfig {
        seed: 1,
        consensus: Config::new(nodes),
        network: NetworkConfig {
            min_latency: max_latency / 4,
            max_latency,
            ..NetworkConfig::default()
        },
        faulty: Default::default(),
        duration,
        ingress_per_second: 100,
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p) as usize)
        .copied()
        .unwrap_or(0)
}

fn main() {
    println!("simulated time, SimCrypto (hash tags); Δ = 100 ms, ε = 50 ms");
    println!(
        "{:>5} {:>12} {:>10} {:>12} {:>12}",
        "nodes", "latency ms", "blocks/s", "p50 ms", "p99 ms"
    );
    for nodes in [4usize, 7, 13, 28, 40] {
        for max_latency in [20u64, 100, 300] {
            let duration = 20_000;
            let outcome = run(scenario(nodes, max_latency, duration));
            assert!(outcome.safety_violation.is_none());
            let mut latencies = outcome.finalization_latencies.clone();
            latencies.sort_unstable();
            println!(
                "{nodes:>5} {:>12} {:>10.2} {:>12} {:>12}",
                format!("{}–{max_latency}", max_latency / 4),
                outcome.min_finalized() as f64 / (duration as f64 / 1000.0),
                percentile(&latencies, 0.5),
                percentile(&latencies, 0.99),
            );
        }
    }

    println!("\nreal BLS12-381 crypto, every signature batch-verified (wall-clock time per finalized block, all nodes together)");
    for nodes in [4usize, 7, 13, 40] {
        let (subnet, secrets) = SubnetKeys::generate(nodes, &mut StdRng::seed_from_u64(7));
        let (subnet, secrets) = (Arc::new(subnet), Arc::new(secrets));
        let verifier = Arc::new(BatchVerifier::default());
        let started = Instant::now();
        let outcome = run_with(scenario(nodes, 50, 3_000), move |id| {
            let (key, share) = secrets[id as usize].clone();
            BlsCrypto::new(key, share, Arc::clone(&subnet), Arc::clone(&verifier))
        });
        let blocks = outcome.min_finalized().max(1);
        println!(
            "{nodes:>5} nodes: {blocks} blocks, {:.1} ms of crypto per block for the whole subnet ({:.2} ms per node)",
            started.elapsed().as_secs_f64() * 1000.0 / blocks as f64,
            started.elapsed().as_secs_f64() * 1000.0 / blocks as f64 / nodes as f64
        );
    }
}
