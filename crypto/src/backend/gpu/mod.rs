//! The GPU backend: BLS12-381 kernels in WGSL (`shaders/`), run through
//! wgpu on any Vulkan, Metal or DX12 device.
//!
//! - [`GpuContext`] finds an adapter, compiles each kernel on first use and keeps a
//!   pool of device buffers so repeated batches allocate nothing.
//! - Kernels: Fp/Fr Montgomery arithmetic with 16-bit limbs, G1 and G2
//!   (over Fp2) Jacobian arithmetic, Pippenger MSM (parallel bucket
//!   accumulation and segmented bucket reduction on the GPU, window
//!   combination on the CPU) and batch hash-to-G1 (SSWU, 11-isogeny and
//!   cofactor clearing on the GPU). `shaders/README.md` documents layouts,
//!   algorithms and a cost model.
//! - [`GpuBackend`] implements the pipeline's [`Backend`](crate::backend::Backend):
//!   batches at or above the [`Crossover`] sizes run on the GPU, the rest on
//!   the CPU backend. Without an adapter, [`GpuContext::discover`] logs one
//!   line and returns `None` (callers keep the CPU backend), unless
//!   [`REQUIRE_GPU_VAR`] is `1`.

mod backend;
mod context;
mod encoding;
mod hash;
mod msm;
#[cfg(test)]
mod tests;

pub use backend::{Crossover, GpuBackend};
pub use context::{GpuContext, REQUIRE_GPU_VAR};

use blstrs::{G1Affine, G1Projective, G2Affine, G2Projective, Scalar};

/// Why a GPU operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// No adapter could be found.
    #[error("no GPU adapter: {0}")]
    NoAdapter(#[from] wgpu::RequestAdapterError),
    /// The device could not be opened.
    #[error("the GPU device cannot be opened: {0}")]
    Device(#[from] wgpu::RequestDeviceError),
    /// The device failed while work was waited for (e.g. it was lost).
    #[error("the GPU device failed: {0}")]
    Poll(#[from] wgpu::PollError),
    /// The driver rejected a kernel.
    #[error("the driver rejected kernel {kernel}: {error}")]
    Kernel {
        /// The kernel's entry point.
        kernel: &'static str,
        /// The driver's error.
        error: wgpu::Error,
    },
    /// A result buffer could not be mapped for reading.
    #[error("GPU readback failed: {0}")]
    Readback(#[from] wgpu::BufferAsyncError),
    /// A mapped result buffer could not be viewed.
    #[error("GPU readback failed: {0}")]
    View(#[from] wgpu::MapRangeError),
    /// The mapping callback never reported (the device went away).
    #[error("the GPU readback's callback was dropped")]
    ReadbackDropped,
    /// A multi-scalar multiplication with unequal numbers of bases and scalars.
    #[error("{bases} bases but {scalars} scalars")]
    Lengths {
        /// Bases given.
        bases: usize,
        /// Scalars given.
        scalars: usize,
    },
    /// A message could not be expanded for hashing to the curve.
    #[error("hash to curve: {0}")]
    Hash(#[from] crate::error::Error),
}

impl GpuContext {
    /// `Σ scalarᵢ·baseᵢ` in G1 on the GPU (full 255-bit scalars).
    ///
    /// # Errors
    /// [`GpuError`] from the device.
    pub fn msm_g1(&self, bases: &[G1Affine], scalars: &[Scalar]) -> Result<G1Projective, GpuError> {
        let scalars = scalar_limbs(bases.len(), scalars)?;
        msm::finish::<G1Affine>(self, msm::submit(self, &self.msm_g1, bases, &scalars, 255)?)
    }

    /// `Σ scalarᵢ·baseᵢ` in G2 on the GPU (full 255-bit scalars).
    ///
    /// # Errors
    /// [`GpuError`] from the device.
    pub fn msm_g2(&self, bases: &[G2Affine], scalars: &[Scalar]) -> Result<G2Projective, GpuError> {
        let scalars = scalar_limbs(bases.len(), scalars)?;
        msm::finish::<G2Affine>(self, msm::submit(self, &self.msm_g2, bases, &scalars, 255)?)
    }

    /// RFC 9380 `hash_to_curve` into G1 for every message, under `dst`.
    ///
    /// # Errors
    /// [`GpuError::Hash`] for an empty DST; [`GpuError`] from the device.
    pub fn hash_to_g1(
        &self,
        messages: &[&[u8]],
        dst: &[u8],
    ) -> Result<Vec<G1Projective>, GpuError> {
        hash::finish(self, hash::submit(self, messages, dst)?)
    }
}

/// Scalars as little-endian u64 limbs (canonical, not Montgomery).
fn scalar_limbs(bases: usize, scalars: &[Scalar]) -> Result<Vec<[u64; 4]>, GpuError> {
    if bases != scalars.len() {
        return Err(GpuError::Lengths {
            bases,
            scalars: scalars.len(),
        });
    }
    Ok(scalars
        .iter()
        .map(|scalar| {
            let bytes = scalar.to_bytes_le();
            std::array::from_fn(|i| {
                u64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().expect("8 bytes"))
            })
        })
        .collect())
}
