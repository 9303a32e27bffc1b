//! `chainkey bench ecdsa`: threshold ECDSA costs for n-node subnets (all
//! nodes in one process) and the end-to-end throughput target.

use std::time::{Duration, Instant};

use chainkey_crypto::batch::Secp256k1;
use chainkey_crypto::tecdsa::{
    verify_dealings, DealerInput, Dealing, DerivationPath, LocalSubnet, Operation, SigningRequest,
    Transcript,
};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use rand::Rng;
use rayon::prelude::*;
use serde::Serialize;

/// Options of `chainkey bench ecdsa`.
#[derive(clap::Args, Debug)]
pub struct EcdsaArgs {
    /// Subnet sizes to measure (threshold f + 1 with f = ⌊(n − 1)/3⌋).
    #[arg(long, value_delimiter = ',', default_values_t = [4, 13])]
    nodes: Vec<usize>,
    /// Complete signatures (presignature included) in the throughput run at n = 4.
    #[arg(long, default_value_t = 512)]
    signatures: usize,
    /// Presignatures made together (one ephemeral key per dealer and round).
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Write the results as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// Medians for one subnet size, in milliseconds.
#[derive(Debug, Serialize)]
struct EcdsaRow {
    nodes: usize,
    threshold: usize,
    key_generation_ms: f64,
    presignature_ms: f64,
    presignature_in_batch_ms: f64,
    online_signing_ms: f64,
    verify_product_dealings_batched_ms: f64,
    verify_product_dealings_one_by_one_ms: f64,
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

fn request(rng: &mut impl Rng) -> SigningRequest {
    SigningRequest {
        message_hash: rng.gen(),
        path: DerivationPath::for_caller(&rng.gen::<[u8; 10]>(), &[b"account".to_vec()]),
        randomness: rng.gen(),
    }
}

/// `count` complete signatures: a batch of fresh presignatures, then for
/// each every node's share, combination, and a check with k256's verifier.
fn sign_batch(
    subnet: &LocalSubnet<Secp256k1>,
    key: &Transcript<Secp256k1>,
    count: usize,
) -> Result<(), String> {
    let mut rng = rand::thread_rng();
    let presignatures = subnet
        .presignatures(key, count, &mut rng)
        .map_err(|error| error.to_string())?;
    for (presignature, shares) in presignatures {
        let request = request(&mut rng);
        let combined = LocalSubnet::sign(&presignature, shares, key, &request)
            .map_err(|error| error.to_string())?;
        let verifying_key = k256::ecdsa::VerifyingKey::from_affine(combined.public_key.to_affine())
            .map_err(|error| error.to_string())?;
        let signature = k256::ecdsa::Signature::from_slice(&combined.signature.to_bytes())
            .map_err(|error| error.to_string())?;
        verifying_key
            .verify_prehash(&request.message_hash, &signature)
            .map_err(|_| "a combined signature does not verify".to_string())?;
    }
    Ok(())
}

/// Runs the benchmark and prints the table and the target.
pub fn run(args: &EcdsaArgs) -> Result<(), String> {
    println!(
        "chainkey bench ecdsa: {} threads (rayon), secp256k1, all nodes in one process",
        rayon::current_num_threads()
    );
    let mut rng = rand::thread_rng();
    let mut rows = Vec::new();
    for &nodes in &args.nodes {
        if nodes < 2 {
            return Err(format!("a subnet needs at least 2 nodes, not {nodes}"));
        }
        let threshold = (nodes - 1) / 3 + 1;
        let subnet = LocalSubnet::<Secp256k1>::new("bench", nodes, threshold, &mut rng);
        let started = Instant::now();
        let key = subnet
            .generate_key(&mut rng)
            .map_err(|error| error.to_string())?;
        let key_generation = started.elapsed();
        let samples = if nodes <= 4 { 20 } else { 5 };
        let mut presignature_times = Vec::new();
        let mut signing_times = Vec::new();
        for _ in 0..samples {
            let started = Instant::now();
            let (presignature, shares) = subnet
                .presignature(&key, &mut rng)
                .map_err(|error| error.to_string())?;
            presignature_times.push(started.elapsed());
            let request = request(&mut rng);
            let started = Instant::now();
            LocalSubnet::sign(&presignature, shares, &key, &request)
                .map_err(|error| error.to_string())?;
            signing_times.push(started.elapsed());
        }
        let batch = args.batch.max(1);
        let started = Instant::now();
        subnet
            .presignatures(&key, batch, &mut rng)
            .map_err(|error| error.to_string())?;
        let presignature_in_batch = started.elapsed() / batch as u32;
        // The n dealings of a key·λ product transcript (the costliest kind).
        let lambda = subnet
            .random(false, &mut rng)
            .map_err(|error| error.to_string())?;
        let operation =
            Operation::UnmaskedTimesMasked(key.commitment().clone(), lambda.commitment().clone());
        let params = subnet
            .params(nodes, operation)
            .map_err(|error| error.to_string())?;
        let dealings = (0..nodes as u32)
            .map(|dealer| {
                let a = subnet.share(&key, dealer)?;
                let b = subnet.share(&lambda, dealer)?;
                Dealing::create(&params, dealer, DealerInput::Product(&a, &b), &mut rng)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| error.to_string())?;
        let mut all_valid = true;
        let budget = Duration::from_millis(1000);
        let batched = super::measure::median_time(budget, || {
            all_valid &= verify_dealings(&params, &dealings)
                .iter()
                .all(Result::is_ok)
        });
        let one_by_one = super::measure::median_time(budget, || {
            all_valid &= dealings
                .iter()
                .all(|dealing| dealing.verify(&params).is_ok())
        });
        if !all_valid {
            return Err(format!(
                "an honest dealing failed verification at n = {nodes}"
            ));
        }
        rows.push(EcdsaRow {
            nodes,
            threshold,
            key_generation_ms: millis(key_generation),
            presignature_ms: millis(median(presignature_times)),
            presignature_in_batch_ms: millis(presignature_in_batch),
            online_signing_ms: millis(median(signing_times)),
            verify_product_dealings_batched_ms: millis(batched),
            verify_product_dealings_one_by_one_ms: millis(one_by_one),
        });
    }
    println!(
        "\n{:>5} {:>9} {:>12} {:>14} {:>14} {:>14} {:>16} {:>16} {:>7}",
        "nodes",
        "threshold",
        "key gen",
        "presignature",
        format!("in batch of {}", args.batch.max(1)),
        "online sign",
        "verify n batch",
        "verify n 1×1",
        "ratio"
    );
    for row in &rows {
        println!(
            "{:>5} {:>9} {:>9.1} ms {:>11.2} ms {:>11.2} ms {:>11.2} ms {:>13.2} ms {:>13.2} ms {:>6.2}×",
            row.nodes,
            row.threshold,
            row.key_generation_ms,
            row.presignature_ms,
            row.presignature_in_batch_ms,
            row.online_signing_ms,
            row.verify_product_dealings_batched_ms,
            row.verify_product_dealings_one_by_one_ms,
            row.verify_product_dealings_one_by_one_ms / row.verify_product_dealings_batched_ms,
        );
    }
    println!("(presignature: 4 transcripts, every node dealing, the dealings verified once in a batch, every node opening its shares;");
    println!(" online: every node's share, share verification, combination; verify: the n dealings of one x·λ product transcript)");

    let subnet = LocalSubnet::<Secp256k1>::new("throughput", 4, 2, &mut rng);
    let key = subnet
        .generate_key(&mut rng)
        .map_err(|error| error.to_string())?;
    let batch = args.batch.max(1);
    let batches = args.signatures.div_ceil(batch);
    let started = Instant::now();
    (0..batches)
        .into_par_iter()
        .try_for_each(|_| sign_batch(&subnet, &key, batch))?;
    let per_second = (batches * batch) as f64 / started.elapsed().as_secs_f64();
    println!(
        "\nTarget: [{}] complete threshold signatures per second at n = 4, presignatures included: {per_second:.0}/s (≥ 200/s)",
        if per_second >= 200.0 { "PASS" } else { "FAIL" }
    );
    if let Some(path) = &args.json {
        super::measure::write_json(path, &rows)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
