//! The CPU backend: blst's assembly on a rayon pool whose size the caller
//! chooses.

use std::sync::Arc;

use blst::{
    blst_final_exp, blst_fp12, blst_p1, blst_p1_affine, blst_p1s_mult_pippenger,
    blst_p1s_mult_pippenger_scratch_sizeof, blst_p1s_to_affine, blst_p2, blst_p2_affine,
    blst_p2s_mult_pippenger, blst_p2s_mult_pippenger_scratch_sizeof, blst_p2s_to_affine,
};
use blstrs::{G1Affine, G1Projective, G2Affine, G2Projective, Gt, Scalar};
use group::{Curve, Group};
use rayon::prelude::*;

use super::miller::{multi_miller_loop, PreparedG2};
use super::msm::bls_msm;
use super::{Backend, G2Argument, Msm};

/// The CPU backend: blst kernels, parallelised over a rayon pool.
#[derive(Debug)]
pub struct CpuBackend {
    pool: rayon::ThreadPool,
}

impl CpuBackend {
    /// A backend running on `threads` worker threads (0 = one per core).
    ///
    /// # Panics
    /// Only if the operating system refuses to start threads.
    pub fn new(threads: usize) -> Self {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("chainkey-verify-{i}"))
            .build()
            .expect("failed to start the verification thread pool");
        CpuBackend { pool }
    }

    /// Number of worker threads.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Runs `work` on this backend's pool (for jobs the engine parallelises itself).
    pub fn install<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        self.pool.install(work)
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> &str {
        "cpu"
    }

    fn hash_to_g1(&self, messages: &[&[u8]], dst: &[u8]) -> Vec<G1Affine> {
        let points: Vec<G1Projective> = self.install(|| {
            messages
                .par_iter()
                .map(|message| G1Projective::hash_to_curve(message, dst, &[]))
                .collect()
        });
        normalize_g1(&points)
    }

    fn hash_to_g2(&self, messages: &[&[u8]], dst: &[u8]) -> Vec<G2Affine> {
        let points: Vec<G2Projective> = self.install(|| {
            messages
                .par_iter()
                .map(|message| G2Projective::hash_to_curve(message, dst, &[]))
                .collect()
        });
        normalize_g2(&points)
    }

    fn msm_g1(&self, msms: &[Msm<G1Affine>]) -> Vec<G1Affine> {
        let sums = self.install(|| parallel_msms(msms, self.threads(), pippenger_g1));
        normalize_g1(&sums)
    }

    fn msm_g2(&self, msms: &[Msm<G2Affine>]) -> Vec<G2Affine> {
        let sums = self.install(|| parallel_msms(msms, self.threads(), pippenger_g2));
        normalize_g2(&sums)
    }

    fn msm_g1_full(&self, points: &[G1Projective], scalars: &[Scalar]) -> G1Projective {
        self.install(|| bls_msm(points, scalars))
    }

    fn msm_g2_full(&self, points: &[G2Projective], scalars: &[Scalar]) -> G2Projective {
        self.install(|| bls_msm(points, scalars))
    }

    fn pairing_product(&self, terms: &[(G1Affine, G2Argument)]) -> Gt {
        // One shared-squaring loop per thread, over that thread's share of the terms.
        let chunk = terms.len().div_ceil(self.threads()).max(1);
        let partial: Vec<blst_fp12> = self.install(|| {
            terms
                .par_chunks(chunk)
                .map(|chunk| {
                    let prepared: Vec<Arc<PreparedG2>> = chunk
                        .iter()
                        .map(|(_, g2)| match g2 {
                            G2Argument::Prepared(prepared) => Arc::clone(prepared),
                            G2Argument::Fresh(point) => Arc::new(PreparedG2::new(point)),
                        })
                        .collect();
                    let arguments: Vec<(G1Affine, &PreparedG2)> = chunk
                        .iter()
                        .zip(&prepared)
                        .map(|((g1, _), g2)| (*g1, g2.as_ref()))
                        .collect();
                    multi_miller_loop(&arguments)
                })
                .collect()
        });
        let mut product = partial.into_iter().reduce(|a, b| a * b).unwrap_or_default();
        if terms.is_empty() {
            return Gt::identity();
        }
        let product_ptr: *mut blst_fp12 = &mut product;
        // SAFETY: in-place final exponentiation of an initialised value (blst allows aliasing);
        // `Gt` is `#[repr(transparent)]` over blstrs' `Fp12`, itself over `blst_fp12`.
        unsafe {
            blst_final_exp(product_ptr, product_ptr);
            std::mem::transmute::<blst_fp12, Gt>(product)
        }
    }
}

/// Scalars as the little-endian byte string blst reads, with as many whole
/// bytes each as the largest needs; returns the bytes and the bit length.
fn scalar_bytes(scalars: &[u128]) -> (Vec<u8>, usize) {
    let largest = scalars.iter().copied().max().unwrap_or(0);
    let width = (u128::BITS - largest.leading_zeros()).div_ceil(8).max(1) as usize;
    let bytes = scalars
        .iter()
        .flat_map(|scalar| scalar.to_le_bytes()[..width].to_vec())
        .collect();
    (bytes, width * 8)
}

/// MSMs larger than this are split into pieces that run on different threads.
const MIN_PIECE_POINTS: usize = 512;

/// Computes independent MSMs on the current rayon pool: large ones are
/// split into pieces so every thread gets work, small ones run whole.
fn parallel_msms<G>(
    msms: &[Msm<G::AffineRepr>],
    threads: usize,
    pippenger: fn(&[G::AffineRepr], &[u128]) -> G,
) -> Vec<G>
where
    G: Curve + Send,
    G::AffineRepr: Default + Copy + Send + Sync,
{
    let mut pieces = Vec::new();
    for (index, msm) in msms.iter().enumerate() {
        assert_eq!(msm.bases.len(), msm.scalars.len(), "one scalar per base");
        let piece = msm
            .bases
            .len()
            .div_ceil(threads.max(1))
            .max(MIN_PIECE_POINTS);
        for (bases, scalars) in msm.bases.chunks(piece).zip(msm.scalars.chunks(piece)) {
            pieces.push((index, bases, scalars));
        }
    }
    let partial: Vec<(usize, G)> = pieces
        .par_iter()
        .map(|&(index, bases, scalars)| {
            let sum = if bases.is_empty() {
                G::identity()
            } else {
                pippenger(bases, scalars)
            };
            (index, sum)
        })
        .collect();
    let mut sums = vec![G::identity(); msms.len()];
    for (index, sum) in partial {
        sums[index] += sum;
    }
    sums
}

/// Defines the blst kernels of one group: batch conversion to affine and
/// single-threaded Pippenger (blst's FFI differs per group only by names).
macro_rules! blst_group_kernels {
    ($normalize:ident, $pippenger:ident, $projective:ty, $affine:ty,
     $raw:ty, $raw_affine:ty, $to_affine:ident, $msm:ident, $scratch:ident) => {
        /// Converts points to affine with one shared inversion (blst's batch
        /// conversion; blstrs' `batch_normalize` inverts once per point).
        pub(crate) fn $normalize(points: &[$projective]) -> Vec<$affine> {
            let mut affine = vec![<$affine>::default(); points.len()];
            if !points.is_empty() {
                // SAFETY: the blstrs point types are `#[repr(transparent)]` over blst's; blst
                // reads `points.len()` contiguous points (a null second pointer marks a
                // contiguous array) and writes as many affine points.
                unsafe {
                    let input = [points.as_ptr().cast::<$raw>(), std::ptr::null()];
                    $to_affine(
                        affine.as_mut_ptr().cast::<$raw_affine>(),
                        input.as_ptr(),
                        points.len(),
                    );
                }
            }
            affine
        }

        /// blst's single-threaded Pippenger on the calling thread.
        fn $pippenger(bases: &[$affine], scalars: &[u128]) -> $projective {
            let (bytes, bits) = scalar_bytes(scalars);
            let mut out = <$raw>::default();
            // SAFETY: blst reads `bases.len()` contiguous affine points (`#[repr(transparent)]`
            // over blst's type) and as many scalars of `bits / 8` bytes, and writes within the
            // scratch size it asked for.
            unsafe {
                let mut scratch = vec![0u64; $scratch(bases.len()).div_ceil(8)];
                let points = [bases.as_ptr().cast::<$raw_affine>(), std::ptr::null()];
                let scalars = [bytes.as_ptr(), std::ptr::null()];
                $msm(
                    &mut out,
                    points.as_ptr(),
                    bases.len(),
                    scalars.as_ptr(),
                    bits,
                    scratch.as_mut_ptr(),
                );
            }
            // SAFETY: the projective type is `#[repr(transparent)]` over blst's, and blst
            // returns a valid point of the group it was given.
            unsafe { std::mem::transmute::<$raw, $projective>(out) }
        }
    };
}

blst_group_kernels!(
    normalize_g1,
    pippenger_g1,
    G1Projective,
    G1Affine,
    blst_p1,
    blst_p1_affine,
    blst_p1s_to_affine,
    blst_p1s_mult_pippenger,
    blst_p1s_mult_pippenger_scratch_sizeof
);
blst_group_kernels!(
    normalize_g2,
    pippenger_g2,
    G2Projective,
    G2Affine,
    blst_p2,
    blst_p2_affine,
    blst_p2s_to_affine,
    blst_p2s_mult_pippenger,
    blst_p2s_mult_pippenger_scratch_sizeof
);

#[cfg(test)]
mod tests {
    use super::*;
    use blstrs::Scalar;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn scalar(k: u128) -> Scalar {
        let mut bytes = [0u8; 32];
        bytes[..16].copy_from_slice(&k.to_le_bytes());
        Scalar::from_bytes_le(&bytes).unwrap()
    }

    /// The blst-based MSMs agree with naive scalar multiplication (through
    /// blstrs' independent full-width path), identity points included.
    #[test]
    fn msms_match_naive_sums() {
        let mut rng = StdRng::seed_from_u64(3);
        let backend = CpuBackend::new(2);
        for n in [1usize, 2, 3, 17, 70, 300, 1500] {
            let mut g1: Vec<G1Affine> = (0..n)
                .map(|_| G1Projective::random(&mut rng).to_affine())
                .collect();
            let mut g2: Vec<G2Affine> = (0..n)
                .map(|_| G2Projective::random(&mut rng).to_affine())
                .collect();
            g1[n / 2] = G1Affine::default();
            g2[n / 2] = G2Affine::default();
            let scalars: Vec<u128> = (0..n)
                .map(|i| {
                    if i % 3 == 0 {
                        rng.gen()
                    } else {
                        u128::from(rng.gen::<u64>())
                    }
                })
                .collect();
            let naive1: G1Projective = g1.iter().zip(&scalars).map(|(p, k)| p * scalar(*k)).sum();
            let naive2: G2Projective = g2.iter().zip(&scalars).map(|(p, k)| p * scalar(*k)).sum();
            let msm1 = backend.msm_g1(&[Msm {
                bases: g1,
                scalars: scalars.clone(),
            }]);
            let msm2 = backend.msm_g2(&[Msm { bases: g2, scalars }]);
            assert_eq!(msm1, vec![naive1.to_affine()], "G1, n = {n}");
            assert_eq!(msm2, vec![naive2.to_affine()], "G2, n = {n}");
        }
    }
}
