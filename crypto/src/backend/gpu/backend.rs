//! [`GpuBackend`]: the verification pipeline's [`Backend`] with hash-to-G1
//! and MSMs on the GPU above measured crossover sizes, everything else (and
//! everything smaller) on the CPU backend.

use std::sync::Arc;

use blstrs::{G1Affine, G1Projective, G2Affine, G2Projective, Gt, Scalar};
use group::Curve;

use super::context::GpuContext;
use super::encoding::GpuPoint;
use super::{hash, msm, GpuError};
use crate::backend::{Backend, CpuBackend, G2Argument, Msm};

/// Batch sizes from which the GPU is used; below them the CPU is faster
/// (transfers and dispatch cost a fixed ~ms). Measured by
/// `chainkey bench --calibrate`; the defaults suit a discrete GPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crossover {
    /// Points in one MSM.
    pub msm_points: usize,
    /// Messages in one hash-to-G1 batch.
    pub hash_messages: usize,
}

impl Default for Crossover {
    fn default() -> Self {
        Crossover {
            msm_points: 1 << 14,
            hash_messages: 1 << 12,
        }
    }
}

/// The GPU backend. Construct with [`GpuBackend::new`] from a [`GpuContext`].
#[derive(Debug)]
pub struct GpuBackend {
    gpu: Arc<GpuContext>,
    cpu: Arc<CpuBackend>,
    crossover: Crossover,
    name: String,
}

impl GpuBackend {
    /// A backend running large kernels on `gpu` and the rest on `cpu`.
    pub fn new(gpu: Arc<GpuContext>, cpu: Arc<CpuBackend>, crossover: Crossover) -> Self {
        let name = format!("gpu: {}", gpu.describe());
        GpuBackend {
            gpu,
            cpu,
            crossover,
            name,
        }
    }

    /// The GPU.
    pub fn context(&self) -> &GpuContext {
        &self.gpu
    }

    /// The backend's crossover sizes.
    pub fn crossover(&self) -> Crossover {
        self.crossover
    }

    /// MSMs of at least `crossover.msm_points` on the GPU (all submitted
    /// before the first is awaited, so uploads and kernels overlap with the
    /// CPU's work on the small ones), the rest on the CPU.
    fn msms<P>(
        &self,
        msms: &[Msm<P>],
        kernels: &super::context::MsmKernels,
        cpu: impl Fn(&[Msm<P>]) -> Vec<P>,
    ) -> Result<Vec<P>, GpuError>
    where
        P: GpuPoint + Clone,
        P::Projective: Curve<AffineRepr = P>,
    {
        let on_gpu = |msm: &Msm<P>| msm.bases.len() >= self.crossover.msm_points;
        let pending = msms
            .iter()
            .filter(|msm| on_gpu(msm))
            .map(|msm| {
                let scalars: Vec<[u64; 4]> = msm
                    .scalars
                    .iter()
                    .map(|&s| [s as u64, (s >> 64) as u64, 0, 0])
                    .collect();
                msm::submit(&self.gpu, kernels, &msm.bases, &scalars, 128)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let small: Vec<Msm<P>> = msms.iter().filter(|msm| !on_gpu(msm)).cloned().collect();
        let mut small_results = cpu(&small).into_iter();
        let mut gpu_results = pending
            .into_iter()
            .map(|pending| msm::finish::<P>(&self.gpu, pending).map(|sum| sum.to_affine()))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter();
        Ok(msms
            .iter()
            .map(|msm| {
                if on_gpu(msm) {
                    gpu_results.next().expect("one GPU result per large MSM")
                } else {
                    small_results.next().expect("one CPU result per small MSM")
                }
            })
            .collect())
    }
}

impl Backend for GpuBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn hash_to_g1(&self, messages: &[&[u8]], dst: &[u8]) -> Vec<G1Affine> {
        if messages.len() < self.crossover.hash_messages {
            return self.cpu.hash_to_g1(messages, dst);
        }
        let hashed = hash::submit(&self.gpu, messages, dst)
            .and_then(|pending| hash::finish(&self.gpu, pending));
        match hashed {
            Ok(points) => {
                let mut affine = vec![G1Affine::default(); points.len()];
                blstrs::G1Projective::batch_normalize(&points, &mut affine);
                affine
            }
            Err(error) => {
                tracing::warn!("GPU hash-to-G1 failed ({error}); hashing on the CPU");
                self.cpu.hash_to_g1(messages, dst)
            }
        }
    }

    fn hash_to_g2(&self, messages: &[&[u8]], dst: &[u8]) -> Vec<G2Affine> {
        self.cpu.hash_to_g2(messages, dst)
    }

    fn msm_g1(&self, msms: &[Msm<G1Affine>]) -> Vec<G1Affine> {
        self.msms(msms, &self.gpu.msm_g1, |small| self.cpu.msm_g1(small))
            .unwrap_or_else(|error| {
                tracing::warn!("GPU MSM failed ({error}); computing on the CPU");
                self.cpu.msm_g1(msms)
            })
    }

    fn msm_g2(&self, msms: &[Msm<G2Affine>]) -> Vec<G2Affine> {
        self.msms(msms, &self.gpu.msm_g2, |small| self.cpu.msm_g2(small))
            .unwrap_or_else(|error| {
                tracing::warn!("GPU MSM failed ({error}); computing on the CPU");
                self.cpu.msm_g2(msms)
            })
    }

    fn pairing_product(&self, terms: &[(G1Affine, G2Argument)]) -> Gt {
        self.cpu.pairing_product(terms)
    }

    fn msm_g1_full(&self, points: &[G1Projective], scalars: &[Scalar]) -> G1Projective {
        if points.len() < self.crossover.msm_points {
            return self.cpu.msm_g1_full(points, scalars);
        }
        let mut bases = vec![G1Affine::default(); points.len()];
        G1Projective::batch_normalize(points, &mut bases);
        self.gpu.msm_g1(&bases, scalars).unwrap_or_else(|error| {
            tracing::warn!("GPU MSM failed ({error}); computing on the CPU");
            self.cpu.msm_g1_full(points, scalars)
        })
    }

    fn msm_g2_full(&self, points: &[G2Projective], scalars: &[Scalar]) -> G2Projective {
        if points.len() < self.crossover.msm_points {
            return self.cpu.msm_g2_full(points, scalars);
        }
        let mut bases = vec![G2Affine::default(); points.len()];
        G2Projective::batch_normalize(points, &mut bases);
        self.gpu.msm_g2(&bases, scalars).unwrap_or_else(|error| {
            tracing::warn!("GPU MSM failed ({error}); computing on the CPU");
            self.cpu.msm_g2_full(points, scalars)
        })
    }
}
