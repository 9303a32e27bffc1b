//! Verification equations as one linear combination of group elements.
//!
//! Every check of a dealing's proofs is a claim `Σ cₖ·Pₖ = 0` over points of
//! the dealing, the receivers' keys and the generators. [`Checks`] collects
//! them, each multiplied by its own random 128-bit weight, with one
//! coefficient per *role* (generator, receiver key i, randomizer j, chunk
//! (i, j), commitment coefficient k), so a point used by several equations
//! enters the final MSM once. Weighted sums of several dealings' checks are
//! checked with one G1 and one G2 MSM: if any single claim is false, the
//! sum is non-zero except with probability 2⁻¹²⁸ over the weights.

use blstrs::{G1Affine, G1Projective, G2Affine, G2Projective, Scalar};
use ff::Field;
use group::Group;
use rand_core::RngCore;
use rayon::prelude::*;

use super::dealing::Dealing;
use super::encryption::EncryptionPublicKey;
use super::NUM_CHUNKS;
use crate::curve::BlsGroup;

/// Coefficients of a dealing's checks, by role.
#[derive(Clone, Debug)]
pub(crate) struct Checks {
    pub(crate) g1: Scalar,
    pub(crate) g2: Scalar,
    pub(crate) receiver_keys: Vec<Scalar>,
    pub(crate) randomizers: [Scalar; NUM_CHUNKS],
    /// Row-major: receiver i's chunk j at `i·NUM_CHUNKS + j`.
    pub(crate) chunks: Vec<Scalar>,
    pub(crate) commitment: Vec<Scalar>,
    /// Points that only the proof itself contains.
    pub(crate) proof_g1: Vec<(G1Affine, Scalar)>,
    pub(crate) proof_g2: Vec<(G2Affine, Scalar)>,
}

impl Checks {
    /// No claims yet, for `receivers` receivers and threshold `threshold`.
    pub(crate) fn new(receivers: usize, threshold: usize) -> Self {
        Checks {
            g1: Scalar::ZERO,
            g2: Scalar::ZERO,
            receiver_keys: vec![Scalar::ZERO; receivers],
            randomizers: [Scalar::ZERO; NUM_CHUNKS],
            chunks: vec![Scalar::ZERO; receivers * NUM_CHUNKS],
            commitment: vec![Scalar::ZERO; threshold],
            proof_g1: Vec::new(),
            proof_g2: Vec::new(),
        }
    }

    /// Adds another set of claims about the same dealing.
    pub(crate) fn absorb(&mut self, other: Checks) {
        self.g1 += other.g1;
        self.g2 += other.g2;
        add_into(&mut self.receiver_keys, &other.receiver_keys);
        add_into(&mut self.randomizers, &other.randomizers);
        add_into(&mut self.chunks, &other.chunks);
        add_into(&mut self.commitment, &other.commitment);
        self.proof_g1.extend(other.proof_g1);
        self.proof_g2.extend(other.proof_g2);
    }
}

fn add_into(target: &mut [Scalar], source: &[Scalar]) {
    for (t, s) in target.iter_mut().zip(source) {
        *t += s;
    }
}

/// A random 128-bit weight for one claim.
pub(crate) fn random_weight<R: RngCore>(rng: &mut R) -> Scalar {
    let two_to_64 = Scalar::from(u64::MAX) + Scalar::ONE;
    Scalar::from(rng.next_u64()) * two_to_64 + Scalar::from(rng.next_u64())
}

/// Whether every claim of every `(dealing, checks)` pair holds (up to 2⁻¹²⁸).
pub(crate) fn all_hold(receivers: &[EncryptionPublicKey], parts: &[(&Dealing, &Checks)]) -> bool {
    let mut g1_points: Vec<G1Projective> = Vec::new();
    let mut g1_scalars: Vec<Scalar> = Vec::new();
    let mut g2_points: Vec<G2Projective> = Vec::new();
    let mut g2_scalars: Vec<Scalar> = Vec::new();
    let mut g1 = Scalar::ZERO;
    let mut g2 = Scalar::ZERO;
    let mut keys = vec![Scalar::ZERO; receivers.len()];
    for (dealing, checks) in parts {
        g1 += checks.g1;
        g2 += checks.g2;
        add_into(&mut keys, &checks.receiver_keys);
        let ciphertexts = dealing.ciphertexts();
        g1_points.extend(ciphertexts.randomizers.iter().map(G1Projective::from));
        g1_scalars.extend_from_slice(&checks.randomizers);
        g1_points.extend(ciphertexts.chunks.iter().flatten().map(G1Projective::from));
        g1_scalars.extend_from_slice(&checks.chunks);
        for (point, scalar) in &checks.proof_g1 {
            g1_points.push(point.into());
            g1_scalars.push(*scalar);
        }
        g2_points.extend(dealing.commitment().iter().map(G2Projective::from));
        g2_scalars.extend_from_slice(&checks.commitment);
        for (point, scalar) in &checks.proof_g2 {
            g2_points.push(point.into());
            g2_scalars.push(*scalar);
        }
    }
    g1_points.push(G1Projective::generator());
    g1_scalars.push(g1);
    g1_points.extend(receivers.iter().map(|key| G1Projective::from(key.0)));
    g1_scalars.extend(keys);
    g2_points.push(G2Projective::generator());
    g2_scalars.push(g2);
    let (g1_sum, g2_sum) = rayon::join(
        || parallel_msm(&g1_points, &g1_scalars),
        || parallel_msm(&g2_points, &g2_scalars),
    );
    bool::from(g1_sum.is_identity()) && bool::from(g2_sum.is_identity())
}

/// Σ scalarᵢ·pointᵢ, split across the rayon pool.
pub(crate) fn parallel_msm<G: BlsGroup>(points: &[G], scalars: &[Scalar]) -> G {
    const MIN_PER_TASK: usize = 256;
    let tasks = rayon::current_num_threads()
        .min(points.len().div_ceil(MIN_PER_TASK))
        .max(1);
    let per_task = points.len().div_ceil(tasks).max(1);
    points
        .par_chunks(per_task)
        .zip(scalars.par_chunks(per_task))
        .map(|(points, scalars)| G::multi_scalar_mul(points, scalars))
        .reduce(G::identity, |a, b| a + b)
}
