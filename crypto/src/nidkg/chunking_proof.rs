//! NIZK proof of correct chunking (paper §6.5): an approximate range proof.
//!
//! Statement: receiver keys `yᵢ`, randomizers `Rⱼ = rⱼ·g₁` and chunk
//! ciphertexts `Cᵢⱼ = rⱼ·yᵢ + sᵢⱼ·g₁`. Claim: every chunk `sᵢⱼ` is small.
//! What it proves is weaker than `sᵢⱼ ∈ [0, B)`: there is a Δ ∈ [1, E) with
//! `Δ·sᵢⱼ ∈ (−Z, Z)` for all i, j, where, for n receivers, m = 16 chunks,
//! B = 2¹⁶, E = 2⁸ and ℓ = 32 parallel repetitions (soundness 2⁻²⁵⁶):
//!
//! ```text
//! S = n·m·(B − 1)·(E − 1)        Z = 2·ℓ·S
//! ```
//!
//! That is enough for decryption to terminate (see `encryption`).
//!
//! ```text
//! prover:   y₀ = random point; βₖ random, bₖ = βₖ·g₁          (k < ℓ)
//!           σₖ ← [−S, Z)  and  cₖ = βₖ·y₀ + σₖ·g₁
//!           eᵢⱼₖ ∈ [0, E) = H(statement, y₀, b, c)
//!           z_sₖ = Σᵢⱼ eᵢⱼₖ·sᵢⱼ + σₖ, restarting with fresh σ unless all z_sₖ ∈ [0, Z)
//!           δ₀…δₙ random; dᵢ = δᵢ·g₁; Y = δ₀·y₀ + Σᵢ δᵢ·yᵢ
//!           x = H(…, z_s, d, Y);  Eᵢⱼ = Σₖ eᵢⱼₖ·xᵏ⁺¹
//!           z_rᵢ = δᵢ + Σⱼ Eᵢⱼ·rⱼ;  z_β = δ₀ + Σₖ βₖ·xᵏ⁺¹
//! verifier: z_sₖ ∈ [0, Z) for all k
//!           Σⱼ Eᵢⱼ·Rⱼ + dᵢ = z_rᵢ·g₁                         (each i)
//!           Σₖ xᵏ⁺¹·bₖ + d₀ = z_β·g₁
//!           Σᵢⱼ Eᵢⱼ·Cᵢⱼ + Σₖ xᵏ⁺¹·cₖ + Y = Σᵢ z_rᵢ·yᵢ + z_β·y₀ + (Σₖ z_sₖ·xᵏ⁺¹)·g₁
//! ```

use blstrs::{G1Affine, G1Projective, Scalar};
use ff::Field;
use group::{Curve, Group};
use rand::Rng;
use rand_core::{CryptoRng, RngCore};

use super::checks::Checks;
use super::encryption::{signed_scalar, EncryptionPublicKey, EncryptionRandomness};
use super::fiat_shamir::FiatShamir;
use super::{DealingFault, DkgError, CHALLENGE_SPACE, CHUNK_SIZE, NUM_CHUNKS, REPETITIONS};
use crate::backend::msm::bls_msm;
use crate::linear_check::random_weight;

/// A proof that every chunk of a dealing is (approximately) in range.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ChunkingProof {
    pub(crate) y0: G1Affine,
    pub(crate) b: [G1Affine; REPETITIONS],
    pub(crate) c: [G1Affine; REPETITIONS],
    pub(crate) d: Vec<G1Affine>,
    pub(crate) y: G1Affine,
    pub(crate) z_r: Vec<Scalar>,
    pub(crate) z_s: [u64; REPETITIONS],
    pub(crate) z_beta: Scalar,
}

/// The bounds `(S, Z)` for `receivers` receivers.
pub(crate) fn range_bounds(receivers: usize) -> (u64, u64) {
    let s = receivers as u64 * NUM_CHUNKS as u64 * (CHUNK_SIZE - 1) * (CHALLENGE_SPACE - 1);
    (s, 2 * REPETITIONS as u64 * s)
}

/// Rejection-sampling rounds before the prover gives up. An honest prover
/// succeeds in each round with probability ≈ (64/65)³² ≈ 0.6, so 64 rounds
/// fail with probability < 2⁻⁸⁴; a prover holding out-of-range chunks fails.
const MAX_ROUNDS: usize = 64;

/// Proves the chunking; `statement` has absorbed the whole dealing.
///
/// # Errors
/// [`DkgError::ChunkOutOfRange`] when the chunks are too large to prove.
pub(crate) fn prove<R: RngCore + CryptoRng>(
    statement: &FiatShamir,
    receivers: &[EncryptionPublicKey],
    randomness: &EncryptionRandomness,
    chunks: &[[u64; NUM_CHUNKS]],
    rng: &mut R,
) -> Result<ChunkingProof, DkgError> {
    let n = receivers.len();
    let (s_bound, z_bound) = range_bounds(n);
    let g1 = G1Projective::generator();
    let y0 = g1 * Scalar::random(&mut *rng);
    let beta: [Scalar; REPETITIONS] = std::array::from_fn(|_| Scalar::random(&mut *rng));
    let b = to_affine_array(beta.map(|beta| g1 * beta));

    let (mut transcript, challenges, c, z_s) = (0..MAX_ROUNDS)
        .find_map(|_| {
            let sigma: [i128; REPETITIONS] = std::array::from_fn(|_| {
                i128::from(rng.gen_range(0..s_bound + z_bound)) - i128::from(s_bound)
            });
            let c = to_affine_array(std::array::from_fn(|k| {
                y0 * beta[k] + g1 * signed_scalar(sigma[k] as i64)
            }));
            let mut transcript = statement.clone();
            let challenges = first_challenge(&mut transcript, n, &y0.to_affine(), &b, &c);
            let mut z_s = [0u64; REPETITIONS];
            for (k, z) in z_s.iter_mut().enumerate() {
                let folded: i128 = chunks
                    .iter()
                    .flatten()
                    .enumerate()
                    .map(|(ij, &chunk)| {
                        i128::from(challenges[ij * REPETITIONS + k]) * i128::from(chunk)
                    })
                    .sum::<i128>()
                    + sigma[k];
                *z = u64::try_from(folded).ok().filter(|&z| z < z_bound)?;
            }
            Some((transcript, challenges, c, z_s))
        })
        .ok_or(DkgError::ChunkOutOfRange)?;

    let delta: Vec<Scalar> = (0..=n).map(|_| Scalar::random(&mut *rng)).collect();
    let d: Vec<G1Affine> = delta.iter().map(|delta| (g1 * delta).to_affine()).collect();
    let mut bases: Vec<G1Projective> = vec![y0];
    bases.extend(receivers.iter().map(|key| G1Projective::from(key.0)));
    let y = bls_msm(&bases, &delta).to_affine();
    let x_powers = second_challenge(&mut transcript, &z_s, &d, &y);
    let folded = folded_challenges(&challenges, n, &x_powers);

    let z_r = (0..n)
        .map(|i| {
            delta[i + 1]
                + folded[i * NUM_CHUNKS..(i + 1) * NUM_CHUNKS]
                    .iter()
                    .zip(&randomness.0)
                    .map(|(e, r)| e * r)
                    .sum::<Scalar>()
        })
        .collect();
    let z_beta = delta[0]
        + beta
            .iter()
            .zip(&x_powers)
            .map(|(beta, x)| beta * x)
            .sum::<Scalar>();
    Ok(ChunkingProof {
        y0: y0.to_affine(),
        b,
        c,
        d,
        y,
        z_r,
        z_s,
        z_beta,
    })
}

fn to_affine_array(points: [G1Projective; REPETITIONS]) -> [G1Affine; REPETITIONS] {
    let mut affine = [G1Affine::default(); REPETITIONS];
    G1Projective::batch_normalize(&points, &mut affine);
    affine
}

/// The challenges `eᵢⱼₖ`, at `(i·m + j)·ℓ + k`.
fn first_challenge(
    transcript: &mut FiatShamir,
    receivers: usize,
    y0: &G1Affine,
    b: &[G1Affine],
    c: &[G1Affine],
) -> Vec<u8> {
    transcript.append_g1(b"y0", &[*y0]);
    transcript.append_g1(b"b", b);
    transcript.append_g1(b"c", c);
    transcript.challenge_bytes(b"e", receivers * NUM_CHUNKS * REPETITIONS)
}

/// `[x¹, …, x^ℓ]` for the second challenge x.
fn second_challenge(
    transcript: &mut FiatShamir,
    z_s: &[u64; REPETITIONS],
    d: &[G1Affine],
    y: &G1Affine,
) -> [Scalar; REPETITIONS] {
    let z_s_bytes: Vec<u8> = z_s.iter().flat_map(|z| z.to_be_bytes()).collect();
    transcript.append(b"z_s", &z_s_bytes);
    transcript.append_g1(b"d", d);
    transcript.append_g1(b"Y", &[*y]);
    let x = transcript.challenge_scalar(b"x");
    let mut powers = [x; REPETITIONS];
    for k in 1..REPETITIONS {
        powers[k] = powers[k - 1] * x;
    }
    powers
}

/// `Eᵢⱼ = Σₖ eᵢⱼₖ·xᵏ⁺¹` for every chunk (i, j), row-major.
///
/// The challenges are bytes, so each `e·xᵏ⁺¹` comes from a table of the
/// 256 multiples of `xᵏ⁺¹` (built by additions): Eᵢⱼ costs ℓ additions
/// instead of ℓ multiplications.
fn folded_challenges(
    challenges: &[u8],
    receivers: usize,
    x_powers: &[Scalar; REPETITIONS],
) -> Vec<Scalar> {
    let multiples: Vec<[Scalar; CHALLENGE_SPACE as usize]> = x_powers
        .iter()
        .map(|x| {
            let mut row = [Scalar::ZERO; CHALLENGE_SPACE as usize];
            for e in 1..row.len() {
                row[e] = row[e - 1] + x;
            }
            row
        })
        .collect();
    challenges
        .chunks_exact(REPETITIONS)
        .take(receivers * NUM_CHUNKS)
        .map(|e| {
            e.iter()
                .zip(&multiples)
                .map(|(&e, row)| row[usize::from(e)])
                .sum()
        })
        .collect()
}

/// The proof's equations, randomly weighted.
///
/// # Errors
/// [`DealingFault::ProofShape`] or [`DealingFault::ChunkResponseOutOfRange`]
/// for faults seen without any group operation.
pub(crate) fn checks<R: RngCore>(
    statement: &FiatShamir,
    receivers: usize,
    threshold: usize,
    proof: &ChunkingProof,
    rng: &mut R,
) -> Result<Checks, DealingFault> {
    if proof.d.len() != receivers + 1 || proof.z_r.len() != receivers {
        return Err(DealingFault::ProofShape);
    }
    let (_, z_bound) = range_bounds(receivers);
    if proof.z_s.iter().any(|&z| z >= z_bound) {
        return Err(DealingFault::ChunkResponseOutOfRange);
    }
    let mut transcript = statement.clone();
    let challenges = first_challenge(&mut transcript, receivers, &proof.y0, &proof.b, &proof.c);
    let x_powers = second_challenge(&mut transcript, &proof.z_s, &proof.d, &proof.y);
    let folded = folded_challenges(&challenges, receivers, &x_powers);
    let mut checks = Checks::new(receivers, threshold);

    // Σⱼ Eᵢⱼ·Rⱼ + dᵢ − z_rᵢ·g₁ = 0 for each i
    for i in 0..receivers {
        let w = random_weight(rng);
        for (coefficient, e) in checks.randomizers.iter_mut().zip(&folded[i * NUM_CHUNKS..]) {
            *coefficient += w * e;
        }
        checks.proof_g1.push((proof.d[i + 1], w));
        checks.g1 -= w * proof.z_r[i];
    }

    // Σₖ xᵏ⁺¹·bₖ + d₀ − z_β·g₁ = 0
    let w = random_weight(rng);
    checks
        .proof_g1
        .extend(proof.b.iter().zip(&x_powers).map(|(b, x)| (*b, w * x)));
    checks.proof_g1.push((proof.d[0], w));
    checks.g1 -= w * proof.z_beta;

    // Σᵢⱼ Eᵢⱼ·Cᵢⱼ + Σₖ xᵏ⁺¹·cₖ + Y − Σᵢ z_rᵢ·yᵢ − z_β·y₀ − (Σₖ z_sₖ·xᵏ⁺¹)·g₁ = 0
    let w = random_weight(rng);
    for (coefficient, e) in checks.chunks.iter_mut().zip(&folded) {
        *coefficient += w * e;
    }
    checks
        .proof_g1
        .extend(proof.c.iter().zip(&x_powers).map(|(c, x)| (*c, w * x)));
    checks.proof_g1.push((proof.y, w));
    checks.proof_g1.push((proof.y0, -(w * proof.z_beta)));
    for (coefficient, z_r) in checks.receiver_keys.iter_mut().zip(&proof.z_r) {
        *coefficient -= w * z_r;
    }
    let folded_z_s: Scalar = proof
        .z_s
        .iter()
        .zip(&x_powers)
        .map(|(&z, x)| x * Scalar::from(z))
        .sum();
    checks.g1 -= w * folded_z_s;
    Ok(checks)
}
