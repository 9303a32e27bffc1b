//! The compute kernels, below the types that use them.
//!
//! Every batch check in this crate — BLS signatures ([`crate::batch`]),
//! NIDKG dealings ([`crate::nidkg`]), chain-key ECDSA dealings
//! ([`crate::tecdsa`]) — comes down to a few bulk operations: hashing many
//! messages to a curve, multi-scalar multiplications, and one product of
//! Miller loops with a single final exponentiation. A [`Backend`] provides
//! the BLS12-381 ones: [`CpuBackend`] with blst's assembly on a rayon pool,
//! and (feature `gpu`) [`gpu::GpuBackend`] with WGSL kernels, falling back
//! to the CPU below its crossover sizes. [`msm`] is the multi-scalar
//! multiplication every random-weight check uses ([`crate::linear_check`]).
//!
#![doc = include_str!("../../docs/gpu.md")]

pub(crate) mod cpu;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod miller;
pub mod msm;

use std::sync::Arc;

use blstrs::{G1Affine, G1Projective, G2Affine, G2Projective, Gt, Scalar};

pub use cpu::CpuBackend;
use miller::PreparedG2;

/// One multi-scalar multiplication `Σ scalarsᵢ·basesᵢ` with short scalars
/// (the random weights of a batch: 64 bits, or up to 128 while locating a fault).
/// Backends process only as many bits as the largest scalar has.
#[derive(Clone, Debug)]
pub struct Msm<P> {
    /// The points.
    pub bases: Vec<P>,
    /// One weight per point.
    pub scalars: Vec<u128>,
}

impl<P> Default for Msm<P> {
    fn default() -> Self {
        Msm {
            bases: Vec::new(),
            scalars: Vec::new(),
        }
    }
}

/// The G2 argument of a Miller loop: prepared ahead (a cached public key) or
/// a fresh point the backend prepares itself.
#[derive(Clone, Debug)]
pub enum G2Argument {
    /// Line functions computed earlier, e.g. from the prepared-key cache.
    Prepared(Arc<PreparedG2>),
    /// A point seen for the first time.
    Fresh(G2Affine),
}

/// Bulk kernels of the batch verifier. Implementations must be exact: the
/// engine's verdicts are only as good as these results.
pub trait Backend: Send + Sync {
    /// Short name for logs and benchmarks, e.g. `"cpu"`.
    fn name(&self) -> &str;

    /// Hashes each message to G1 (RFC 9380 `hash_to_curve`) under `dst`.
    fn hash_to_g1(&self, messages: &[&[u8]], dst: &[u8]) -> Vec<G1Affine>;

    /// Hashes each message to G2 (RFC 9380 `hash_to_curve`) under `dst`.
    fn hash_to_g2(&self, messages: &[&[u8]], dst: &[u8]) -> Vec<G2Affine>;

    /// Computes independent G1 MSMs.
    fn msm_g1(&self, msms: &[Msm<G1Affine>]) -> Vec<G1Affine>;

    /// Computes independent G2 MSMs.
    fn msm_g2(&self, msms: &[Msm<G2Affine>]) -> Vec<G2Affine>;

    /// Π e(g1ᵢ, g2ᵢ): one multi-Miller loop and one final exponentiation.
    fn pairing_product(&self, terms: &[(G1Affine, G2Argument)]) -> Gt;

    /// One G1 MSM `Σ scalarsᵢ·pointsᵢ` with full-width scalars (equal
    /// lengths): the sums of [`crate::linear_check`], e.g. NIDKG's. By
    /// default blst's Pippenger on the calling thread's rayon pool.
    fn msm_g1_full(&self, points: &[G1Projective], scalars: &[Scalar]) -> G1Projective {
        msm::bls_msm(points, scalars)
    }

    /// One G2 MSM with full-width scalars (see [`Backend::msm_g1_full`]).
    fn msm_g2_full(&self, points: &[G2Projective], scalars: &[Scalar]) -> G2Projective {
        msm::bls_msm(points, scalars)
    }
}
