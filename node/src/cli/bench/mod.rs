//! `chainkey bench`: throughput of the batch verification engine against
//! blst's own batch API and one-by-one verification, measured in the same
//! run on the same number of threads.

pub mod calls;
mod dkg;
mod ecdsa;
mod gpu_choice;
mod measure;
pub mod sign;

use std::path::PathBuf;
use std::time::Duration;

use measure::median_time;

use chainkey_crypto::batch::{BatchVerifier, VerifierConfig};
use chainkey_crypto::workloads::{Shape, Workload};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// Options of `chainkey bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Another workload than signature verification.
    #[command(subcommand)]
    pub workload: Option<BenchWorkload>,
    /// Batch sizes to measure (1024 is always added: the targets use it).
    #[arg(long, value_delimiter = ',', default_values_t = [64, 256, 1024, 4096])]
    sizes: Vec<usize>,
    /// Worker threads for the engine and the one-by-one baseline (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Time spent repeating each measurement before taking the median, in milliseconds.
    #[arg(long, default_value_t = 400)]
    budget_ms: u64,
    /// One-by-one verification is timed on at most this many jobs per batch
    /// (its cost per signature does not depend on the batch).
    #[arg(long, default_value_t = 512)]
    one_by_one_sample: usize,
    /// Write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Where the BLS kernels run (prints the adapter and driver for a GPU).
    #[arg(long, value_enum, default_value_t = gpu_choice::BackendChoice::Cpu)]
    backend: gpu_choice::BackendChoice,
    /// Measure the CPU/GPU crossover sizes and write them to `--gpu-config`, then stop.
    #[arg(long)]
    calibrate: bool,
    /// The GPU crossover file `--calibrate` writes and `--backend gpu|auto` read.
    #[arg(long, default_value_os_t = gpu_choice::default_config_path())]
    gpu_config: PathBuf,
    /// Draw throughput against batch size per workload as an SVG to this file.
    #[arg(long)]
    plot: Option<PathBuf>,
}

/// Workloads of `chainkey bench` besides signature verification.
#[derive(clap::Subcommand, Debug)]
pub enum BenchWorkload {
    /// NIDKG: dealing creation, single and batched dealing verification, share decryption.
    Dkg(dkg::DkgArgs),
    /// Threshold ECDSA: presignatures, online signing, end-to-end signatures per second.
    Ecdsa(ecdsa::EcdsaArgs),
}

/// One measured (workload, size) case; times are per signature.
#[derive(Debug, Serialize)]
struct Row {
    shape: Shape,
    workload: String,
    size: usize,
    engine_us: f64,
    signatures_per_second: f64,
    blst_batch_us: Option<f64>,
    one_by_one_us: f64,
    floor_us: Option<f64>,
}

impl Row {
    fn speedup_vs_blst(&self) -> Option<f64> {
        self.blst_batch_us.map(|blst| blst / self.engine_us)
    }
    fn speedup_vs_one_by_one(&self) -> f64 {
        self.one_by_one_us / self.engine_us
    }
    fn over_floor(&self) -> Option<f64> {
        self.floor_us.map(|floor| self.engine_us / floor)
    }
}

/// A printed target: its statement, the measured ratio and the bar it must reach.
#[derive(Debug, Serialize)]
struct Target {
    statement: String,
    measured: f64,
    required: f64,
    higher_is_better: bool,
    pass: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    threads: usize,
    backend: &'a str,
    rows: &'a [Row],
    targets: &'a [Target],
}

/// Runs the benchmark and prints the table and targets.
pub fn run(args: &BenchArgs) -> Result<(), String> {
    match &args.workload {
        Some(BenchWorkload::Dkg(dkg)) => return dkg::run(dkg),
        Some(BenchWorkload::Ecdsa(ecdsa)) => return ecdsa::run(ecdsa),
        None => {}
    }
    if args.calibrate {
        return gpu_choice::calibrate(&args.gpu_config, args.threads);
    }
    let verifier = BatchVerifier::new(VerifierConfig {
        threads: args.threads,
        ..VerifierConfig::default()
    });
    let verifier = gpu_choice::apply(args.backend, &args.gpu_config, args.threads, verifier)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|error| format!("cannot start the baseline thread pool: {error}"))?;
    let threads = pool.current_num_threads();
    let budget = Duration::from_millis(args.budget_ms);

    let mut sizes = args.sizes.clone();
    sizes.push(1024);
    sizes.sort_unstable();
    sizes.dedup();
    let mut cases: Vec<(Shape, usize)> = Shape::ALL
        .iter()
        .flat_map(|&shape| sizes.iter().map(move |&size| (shape, size)))
        .collect();
    cases.insert(0, (Shape::ThresholdOneBad, 40));

    println!(
        "chainkey bench: {} threads, backend {}, blst batch API on blst's own pool ({} cores)",
        threads,
        verifier.backend_name(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let progress = ProgressBar::new(cases.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}")
            .expect("valid progress template"),
    );
    let mut rows = Vec::new();
    for (shape, size) in cases {
        progress.set_message(format!("{shape}, n = {size}: generating"));
        let workload = Workload::generate(shape, size, size as u64);
        progress.set_message(format!("{shape}, n = {size}: measuring"));
        rows.push(measure_case(
            &workload,
            &verifier,
            &pool,
            budget,
            args.one_by_one_sample,
        )?);
        progress.inc(1);
    }
    progress.finish_and_clear();

    print_table(&rows);
    let targets = targets(&rows);
    println!("\nTargets (ratios measured in this run):");
    for target in &targets {
        let comparison = if target.higher_is_better {
            "≥"
        } else {
            "≤"
        };
        println!(
            "  [{}] {}: {:.2}× ({} {:.1}×)",
            if target.pass { "PASS" } else { "FAIL" },
            target.statement,
            target.measured,
            comparison,
            target.required
        );
    }

    let report = Report {
        threads,
        backend: verifier.backend_name(),
        rows: &rows,
        targets: &targets,
    };
    if let Some(path) = &args.json {
        measure::write_json(path, &report)?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &args.plot {
        plot(&rows, path)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Times the engine and the baselines on one workload, checking every verdict.
fn measure_case(
    workload: &Workload,
    verifier: &BatchVerifier,
    pool: &rayon::ThreadPool,
    budget: Duration,
    sample: usize,
) -> Result<Row, String> {
    let name = format!("{}, n = {}", workload.shape, workload.len());
    let verdicts = workload.run_engine(verifier);
    if verdicts != workload.expected {
        return Err(format!(
            "{name}: the engine's verdicts differ from the expected ones"
        ));
    }
    let per_signature = |total: Duration, count: usize| total.as_secs_f64() * 1e6 / count as f64;
    let engine = median_time(budget, || {
        std::hint::black_box(workload.run_engine(verifier));
    });

    let expect_all_valid = workload.expected.iter().all(|&valid| valid);
    let blst_batch = match workload.run_blst_batch() {
        Some(result) if result != expect_all_valid => {
            return Err(format!("{name}: blst's batch verdict is wrong"))
        }
        Some(_) => Some(median_time(budget, || {
            std::hint::black_box(workload.run_blst_batch());
        })),
        None => None,
    };

    let count = sample.min(workload.len());
    if pool.install(|| workload.run_one_by_one(count)) != workload.expected[..count] {
        return Err(format!(
            "{name}: one-by-one verdicts differ from the expected ones"
        ));
    }
    let one_by_one = median_time(budget, || {
        std::hint::black_box(pool.install(|| workload.run_one_by_one(count)));
    });

    let floor = workload.shape.is_bls().then(|| {
        median_time(budget, || {
            pool.install(|| workload.run_floor());
        })
    });

    let engine_us = per_signature(engine, workload.len());
    Ok(Row {
        shape: workload.shape,
        workload: workload.shape.to_string(),
        size: workload.len(),
        engine_us,
        signatures_per_second: 1e6 / engine_us,
        blst_batch_us: blst_batch.map(|time| per_signature(time, workload.len())),
        one_by_one_us: per_signature(one_by_one, count),
        floor_us: floor.map(|time| per_signature(time, workload.len())),
    })
}

fn print_table(rows: &[Row]) {
    let optional = |value: Option<f64>, precision: usize| {
        value.map_or("—".to_string(), |v| format!("{v:.precision$}"))
    };
    println!(
        "\n{:<30} {:>6} {:>11} {:>11} {:>11} {:>8} {:>11} {:>8} {:>10} {:>7}",
        "workload",
        "n",
        "µs/sig",
        "sig/s",
        "blst µs",
        "×blst",
        "1-by-1 µs",
        "×1-by-1",
        "floor µs",
        "/floor"
    );
    for row in rows {
        println!(
            "{:<30} {:>6} {:>11.2} {:>11.0} {:>11} {:>8} {:>11.2} {:>8.2} {:>10} {:>7}",
            row.workload,
            row.size,
            row.engine_us,
            row.signatures_per_second,
            optional(row.blst_batch_us, 2),
            optional(row.speedup_vs_blst(), 2),
            row.one_by_one_us,
            row.speedup_vs_one_by_one(),
            optional(row.floor_us, 2),
            optional(row.over_floor(), 2),
        );
    }
}

/// The targets, read off the measured rows.
fn targets(rows: &[Row]) -> Vec<Target> {
    let find = |shape: Shape, size: usize| {
        rows.iter()
            .find(|row| row.shape == shape && row.size == size)
    };
    let mut targets = Vec::new();
    let mut add =
        |statement: &str, measured: Option<f64>, required: f64, higher_is_better: bool| {
            if let Some(measured) = measured {
                let pass = if higher_is_better {
                    measured >= required
                } else {
                    measured <= required
                };
                targets.push(Target {
                    statement: statement.to_string(),
                    measured,
                    required,
                    higher_is_better,
                    pass,
                });
            }
        };
    let consensus = find(Shape::Consensus, 1024);
    add(
        "consensus-shaped min-sig batch (40 signers, 1024 signatures) vs blst verify_multiple_aggregate_signatures",
        consensus.and_then(Row::speedup_vs_blst),
        4.0,
        true,
    );
    add(
        "40 same-message threshold shares with 1 bad (named) vs one-by-one verification",
        find(Shape::ThresholdOneBad, 40).map(Row::speedup_vs_one_by_one),
        10.0,
        true,
    );
    add(
        "all-distinct min-sig batch of 1024 vs blst's batch API",
        find(Shape::AllDistinct, 1024).and_then(Row::speedup_vs_blst),
        1.2,
        true,
    );
    add(
        "per-signature cost of the consensus-shaped batch over its floor (hash to G1 + MSM share)",
        consensus.and_then(Row::over_floor),
        1.5,
        false,
    );
    targets
}

/// Draws signatures per second against batch size, one line per workload.
fn plot(rows: &[Row], path: &PathBuf) -> Result<(), String> {
    use plotters::prelude::*;
    let error = |e: &dyn std::fmt::Display| format!("cannot draw {}: {e}", path.display());
    let max_size = rows.iter().map(|row| row.size).max().unwrap_or(2) as f64;
    let max_rate = rows
        .iter()
        .map(|row| row.signatures_per_second)
        .fold(1.0, f64::max);
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| error(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption("chainkey batch verification throughput", ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((32f64..max_size * 1.2).log_scale(), 0f64..max_rate * 1.1)
        .map_err(|e| error(&e))?;
    chart
        .configure_mesh()
        .x_desc("batch size")
        .y_desc("signatures / s")
        .draw()
        .map_err(|e| error(&e))?;
    for (index, shape) in Shape::ALL.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|row| row.shape == *shape)
            .map(|row| (row.size as f64, row.signatures_per_second))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| error(&e))?
            .label(shape.to_string())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| error(&e))?;
    root.present().map_err(|e| error(&e))
}
