//! Verification equations as one linear combination of group elements.
//!
//! Every check of a dealing's proofs is a claim `Σ cₖ·Pₖ = 0` over points of
//! the dealing, the receivers' keys and the generators. [`Checks`] collects
//! them, each multiplied by its own random 128-bit weight, with one
//! coefficient per *role* (generator, receiver key i, randomizer j, chunk
//! (i, j), commitment coefficient k), so a point used by several equations
//! enters the final MSM once. Weighted sums of several dealings' checks are
//! checked with one G1 and one G2 MSM: if any single claim is false, the
//! sum is non-zero except with probability 2⁻¹²⁸ over the weights (the
//! crate's one [`LinearCheck`] does the sums).

use blstrs::{G1Affine, G1Projective, G2Affine, G2Projective, Scalar};
use ff::Field;
use group::Group;

use super::dealing::Dealing;
use super::encryption::EncryptionPublicKey;
use super::NUM_CHUNKS;
use crate::backend::Backend;
use crate::linear_check::{CheckGroup, LinearCheck};

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

/// Whether every claim of every `(dealing, checks)` pair holds (up to 2⁻¹²⁸):
/// one [`LinearCheck`] over G1 and one over G2, summed on `backend`'s
/// kernels if given, on the CPU otherwise.
pub(crate) fn all_hold(
    receivers: &[EncryptionPublicKey],
    parts: &[(&Dealing, &Checks)],
    backend: Option<&dyn Backend>,
) -> bool {
    let mut on_g1 = LinearCheck::<G1Projective>::new();
    let mut on_g2 = LinearCheck::<G2Projective>::new();
    let mut g1 = Scalar::ZERO;
    let mut g2 = Scalar::ZERO;
    let mut keys = vec![Scalar::ZERO; receivers.len()];
    for (dealing, checks) in parts {
        g1 += checks.g1;
        g2 += checks.g2;
        add_into(&mut keys, &checks.receiver_keys);
        let ciphertexts = dealing.ciphertexts();
        let randomizers = ciphertexts.randomizers.iter().map(G1Projective::from);
        on_g1.extend(randomizers.zip(checks.randomizers));
        let chunks = ciphertexts.chunks.iter().flatten().map(G1Projective::from);
        on_g1.extend(chunks.zip(checks.chunks.iter().copied()));
        on_g1.extend(checks.proof_g1.iter().map(|(point, s)| (point.into(), *s)));
        let commitment = dealing.commitment().iter().map(G2Projective::from);
        on_g2.extend(commitment.zip(checks.commitment.iter().copied()));
        on_g2.extend(checks.proof_g2.iter().map(|(point, s)| (point.into(), *s)));
    }
    on_g1.add(G1Projective::generator(), g1);
    on_g1.extend(
        receivers
            .iter()
            .map(|key| G1Projective::from(key.0))
            .zip(keys),
    );
    on_g2.add(G2Projective::generator(), g2);
    let (g1_holds, g2_holds) = rayon::join(|| holds(&on_g1, backend), || holds(&on_g2, backend));
    g1_holds && g2_holds
}

fn holds<G: CheckGroup>(check: &LinearCheck<G>, backend: Option<&dyn Backend>) -> bool {
    backend.map_or_else(|| check.holds(), |backend| check.holds_on(backend))
}
