//! `chainkey bench dkg`: NIDKG costs for n-node subnets, and the batched
//! against one-by-one verification ratio, measured in the same run.

use std::time::Duration;

use chainkey_crypto::workloads::DkgWorkload;
use serde::Serialize;

use super::measure::median_time;

/// Options of `chainkey bench dkg`.
#[derive(clap::Args, Debug)]
pub struct DkgArgs {
    /// Subnet sizes to measure (every node deals once; threshold n − f).
    #[arg(long, value_delimiter = ',', default_values_t = [13, 28, 40])]
    nodes: Vec<usize>,
    /// Time spent repeating each measurement before taking the median, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    budget_ms: u64,
    /// Write the results as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// Medians for one subnet size, in milliseconds.
#[derive(Debug, Serialize)]
struct DkgRow {
    nodes: usize,
    create_dealing_ms: f64,
    decode_dealing_ms: f64,
    verify_one_ms: f64,
    verify_all_batched_ms: f64,
    verify_all_one_by_one_ms: f64,
    decrypt_share_ms: f64,
}

impl DkgRow {
    fn batched_speedup(&self) -> f64 {
        self.verify_all_one_by_one_ms / self.verify_all_batched_ms
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Runs the DKG benchmark and prints the table and the target.
pub fn run(args: &DkgArgs) -> Result<(), String> {
    let budget = Duration::from_millis(args.budget_ms);
    println!(
        "chainkey bench dkg: {} threads (rayon)",
        rayon::current_num_threads()
    );
    let mut rows = Vec::new();
    for &nodes in &args.nodes {
        if nodes < 2 {
            return Err(format!("a subnet needs at least 2 nodes, not {nodes}"));
        }
        let workload = DkgWorkload::generate(nodes).map_err(|error| error.to_string())?;
        let mut all_valid = true;
        let row = DkgRow {
            nodes,
            create_dealing_ms: millis(median_time(budget, || drop(workload.create_dealing()))),
            decode_dealing_ms: millis(median_time(budget, || all_valid &= workload.decode_all()))
                / nodes as f64,
            verify_one_ms: millis(median_time(budget, || {
                all_valid &= workload.verify_single()
            })),
            verify_all_batched_ms: millis(median_time(budget, || {
                all_valid &= workload.verify_batched()
            })),
            verify_all_one_by_one_ms: millis(median_time(budget, || {
                all_valid &= workload.verify_one_by_one()
            })),
            decrypt_share_ms: millis(median_time(budget, || {
                all_valid &= workload.decrypt_share().is_ok()
            })),
        };
        if !all_valid {
            return Err(format!(
                "an honest dealing failed verification or decryption at n = {nodes}"
            ));
        }
        rows.push(row);
    }

    println!(
        "\n{:>5} {:>11} {:>11} {:>11} {:>14} {:>14} {:>8} {:>12}",
        "nodes",
        "create",
        "decode",
        "verify 1",
        "verify n batch",
        "verify n 1×1",
        "ratio",
        "decrypt"
    );
    for row in &rows {
        println!(
            "{:>5} {:>8.1} ms {:>8.1} ms {:>8.1} ms {:>11.1} ms {:>11.1} ms {:>7.2}× {:>9.1} ms",
            row.nodes,
            row.create_dealing_ms,
            row.decode_dealing_ms,
            row.verify_one_ms,
            row.verify_all_batched_ms,
            row.verify_all_one_by_one_ms,
            row.batched_speedup(),
            row.decrypt_share_ms,
        );
    }
    println!("(decode: per dealing, from bytes with subgroup checks; decrypt: receiver 0's share of the n-dealing transcript)");
    if let Some(row) = rows.iter().find(|row| row.nodes == 40) {
        let ratio = row.batched_speedup();
        println!(
            "\nTarget: [{}] batched vs one-by-one verification of 40 dealings: {ratio:.2}× (≥ 3.0×)",
            if ratio >= 3.0 { "PASS" } else { "FAIL" }
        );
    }
    if let Some(path) = &args.json {
        super::measure::write_json(path, &rows)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
