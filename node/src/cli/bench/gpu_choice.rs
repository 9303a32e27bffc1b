//! `--backend cpu|gpu|auto` and `--calibrate`: which backend runs the BLS
//! kernels, and the measured batch sizes above which the GPU is used.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use blstrs::{G1Affine, G1Projective};
use chainkey_crypto::backend::gpu::{Crossover, GpuBackend, GpuContext};
use chainkey_crypto::backend::{Backend, CpuBackend, Msm};
use chainkey_crypto::batch::BatchVerifier;
use group::{Curve as _, Group};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::measure::median_time;

/// Where the BLS kernels run.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// The CPU backend (blst on a rayon pool).
    Cpu,
    /// The GPU backend; an error if there is no adapter.
    Gpu,
    /// A hardware GPU if there is one (above the crossover sizes), else the
    /// CPU; software adapters such as lavapipe are not used.
    Auto,
}

/// The config file `--calibrate` writes and `auto`/`gpu` read.
#[derive(Serialize, Deserialize, Debug, Clone, Copy)]
pub struct GpuConfig {
    /// Smallest MSM (points) worth sending to the GPU.
    pub msm_points: usize,
    /// Smallest hash-to-G1 batch (messages) worth sending to the GPU.
    pub hash_messages: usize,
}

/// Default location of the config file.
pub fn default_config_path() -> PathBuf {
    PathBuf::from("chainkey-gpu.json")
}

fn load_crossover(path: &Path) -> Result<Crossover, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let config: GpuConfig = serde_json::from_str(&text)
                .map_err(|error| format!("{}: {error}", path.display()))?;
            Ok(Crossover {
                msm_points: config.msm_points,
                hash_messages: config.hash_messages,
            })
        }
        Err(_) => Ok(Crossover::default()),
    }
}

/// `verifier` with its BLS kernels on the chosen backend; prints which.
pub fn apply(
    choice: BackendChoice,
    config: &Path,
    threads: usize,
    verifier: BatchVerifier,
) -> Result<BatchVerifier, String> {
    let context = match choice {
        BackendChoice::Cpu => None,
        BackendChoice::Gpu => Some(GpuContext::new().map_err(|error| error.to_string())?),
        BackendChoice::Auto => GpuContext::discover().map_err(|error| error.to_string())?,
    };
    let Some(context) = context else {
        println!("backend: cpu");
        return Ok(verifier);
    };
    if choice == BackendChoice::Auto && context.is_software() {
        println!(
            "backend: cpu (the only adapter, {}, is a software renderer)",
            context.describe()
        );
        return Ok(verifier);
    }
    let crossover = load_crossover(config)?;
    println!("compiling GPU kernels…");
    context.compile_all().map_err(|error| error.to_string())?;
    println!(
        "backend: gpu — {} (MSMs from {} points, hashes from {} messages; see {})",
        context.describe(),
        crossover.msm_points,
        crossover.hash_messages,
        config.display()
    );
    let backend = GpuBackend::new(
        Arc::new(context),
        Arc::new(CpuBackend::new(threads)),
        crossover,
    );
    Ok(verifier.with_backend(Arc::new(backend)))
}

/// Measures CPU against GPU for MSMs and hashes of growing size and writes
/// the smallest size where the GPU wins (or "never": usize::MAX) to `config`.
pub fn calibrate(config: &Path, threads: usize) -> Result<(), String> {
    let context = Arc::new(GpuContext::new().map_err(|error| error.to_string())?);
    println!("calibrating against {}", context.describe());
    context.compile_all().map_err(|error| error.to_string())?;
    let cpu = Arc::new(CpuBackend::new(threads));
    let everything = Crossover {
        msm_points: 0,
        hash_messages: 0,
    };
    let gpu = GpuBackend::new(context, cpu.clone(), everything);
    let budget = Duration::from_millis(500);
    let mut rng = rand::thread_rng();

    let mut msm_points = usize::MAX;
    for log in [6u32, 8, 10, 12, 14] {
        let n = 1usize << log;
        let bases: Vec<G1Projective> = (0..n).map(|_| G1Projective::random(&mut rng)).collect();
        let mut affine = vec![G1Affine::default(); n];
        G1Projective::batch_normalize(&bases, &mut affine);
        let msm = [Msm {
            bases: affine,
            scalars: (0..n).map(|_| rng.gen()).collect(),
        }];
        if cpu.msm_g1(&msm) != gpu.msm_g1(&msm) {
            return Err(format!(
                "GPU and CPU disagree on a {n}-point MSM: not calibrating a broken device"
            ));
        }
        let cpu_time = median_time(budget, || drop(cpu.msm_g1(&msm)));
        let gpu_time = median_time(budget, || drop(gpu.msm_g1(&msm)));
        println!("  G1 MSM {n:>6} points: cpu {cpu_time:>10.2?}  gpu {gpu_time:>10.2?}");
        if gpu_time < cpu_time && msm_points == usize::MAX {
            msm_points = n;
        }
    }
    let mut hash_messages = usize::MAX;
    for log in [6u32, 8, 10, 12] {
        let n = 1usize << log;
        let messages: Vec<Vec<u8>> = (0..n)
            .map(|i| format!("message {i}").into_bytes())
            .collect();
        let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        let dst = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";
        if cpu.hash_to_g1(&refs, dst) != gpu.hash_to_g1(&refs, dst) {
            return Err(format!(
                "GPU and CPU disagree on hashing {n} messages: not calibrating a broken device"
            ));
        }
        let cpu_time = median_time(budget, || drop(cpu.hash_to_g1(&refs, dst)));
        let gpu_time = median_time(budget, || drop(gpu.hash_to_g1(&refs, dst)));
        println!("  hash to G1 {n:>6} messages: cpu {cpu_time:>10.2?}  gpu {gpu_time:>10.2?}");
        if gpu_time < cpu_time && hash_messages == usize::MAX {
            hash_messages = n;
        }
    }
    let measured = GpuConfig {
        msm_points,
        hash_messages,
    };
    super::measure::write_json(config, &measured)?;
    let show = |n: usize, unit: &str| {
        if n == usize::MAX {
            "never".to_string()
        } else {
            format!("from {n} {unit}")
        }
    };
    println!(
        "wrote {}: GPU for MSMs {}, for hashes {}",
        config.display(),
        show(msm_points, "points"),
        show(hash_messages, "messages")
    );
    Ok(())
}
