//! NIZK proof of correct sharing (paper §6.4).
//!
//! Statement: receiver keys `yᵢ`, the commitment `A₀…A_{t−1}` (G2) and the
//! chunk ciphertexts, read through their recombinations `R = Σⱼ Bʲ·Rⱼ` and
//! `Cᵢ = Σⱼ Bʲ·Cᵢⱼ`. Claim: there are r and sᵢ with `R = r·g₁`,
//! `Cᵢ = r·yᵢ + sᵢ·g₁` and `sᵢ·g₂ = Σₖ iᵏ·Aₖ` — every receiver's
//! ciphertext holds its evaluation of the committed polynomial.
//!
//! All n statements are folded with powers of a challenge x into one
//! Schnorr-style proof for `(r, Σᵢ xⁱ·sᵢ)`:
//!
//! ```text
//! prover:   F = ρ·g₁,  A = α·g₂,  Y = ρ·Σᵢ xⁱ·yᵢ + α·g₁
//!           x' = H(…, F, A, Y);  z_r = x'·r + ρ,  z_α = x'·Σᵢ xⁱ·sᵢ + α
//! verifier: x'·R + F = z_r·g₁
//!           x'·Σₖ (Σᵢ iᵏ·xⁱ)·Aₖ + A = z_α·g₂
//!           x'·Σᵢ xⁱ·Cᵢ + Y = z_r·Σᵢ xⁱ·yᵢ + z_α·g₁
//! ```
//!
//! Receiver i (0-based position) is evaluated at x-coordinate i + 1.

use blstrs::{G1Affine, G1Projective, G2Affine, G2Projective, Scalar};
use ff::Field;
use group::{Curve, Group};
use rand_core::{CryptoRng, RngCore};

use super::checks::Checks;
use super::encryption::{EncryptionPublicKey, EncryptionRandomness};
use super::fiat_shamir::FiatShamir;
use super::{CHUNK_SIZE, NUM_CHUNKS};
use crate::backend::msm::bls_msm;
use crate::linear_check::random_weight;

/// A proof that a dealing's ciphertexts encrypt the shares its commitment defines.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SharingProof {
    pub(crate) f: G1Affine,
    pub(crate) a: G2Affine,
    pub(crate) y: G1Affine,
    pub(crate) z_r: Scalar,
    pub(crate) z_alpha: Scalar,
}

/// `[x¹, x², …, xⁿ]`.
fn powers(x: Scalar, n: usize) -> Vec<Scalar> {
    std::iter::successors(Some(x), |power| Some(power * x))
        .take(n)
        .collect()
}

/// `[B⁰, B¹, …]` for the chunk base B.
fn chunk_base_powers() -> [Scalar; NUM_CHUNKS] {
    let base = Scalar::from(CHUNK_SIZE);
    let mut powers = [Scalar::ONE; NUM_CHUNKS];
    for j in 1..NUM_CHUNKS {
        powers[j] = powers[j - 1] * base;
    }
    powers
}

/// Proves the sharing; `statement` has absorbed the whole dealing.
pub(crate) fn prove<R: RngCore + CryptoRng>(
    statement: &FiatShamir,
    receivers: &[EncryptionPublicKey],
    randomness: &EncryptionRandomness,
    shares: &[Scalar],
    rng: &mut R,
) -> SharingProof {
    let mut transcript = statement.clone();
    let x = transcript.challenge_scalar(b"x");
    let x_powers = powers(x, receivers.len());
    let keys: Vec<G1Projective> = receivers.iter().map(|key| key.0.into()).collect();
    let folded_key = bls_msm(&keys, &x_powers);

    let rho = Scalar::random(&mut *rng);
    let alpha = Scalar::random(&mut *rng);
    let f = (G1Projective::generator() * rho).to_affine();
    let a = (G2Projective::generator() * alpha).to_affine();
    let y = (folded_key * rho + G1Projective::generator() * alpha).to_affine();
    let x_prime = second_challenge(&mut transcript, &f, &a, &y);

    let r: Scalar = chunk_base_powers()
        .iter()
        .zip(&randomness.0)
        .map(|(b, r)| b * r)
        .sum();
    let folded_share: Scalar = x_powers.iter().zip(shares).map(|(p, s)| p * s).sum();
    SharingProof {
        f,
        a,
        y,
        z_r: x_prime * r + rho,
        z_alpha: x_prime * folded_share + alpha,
    }
}

fn second_challenge(
    transcript: &mut FiatShamir,
    f: &G1Affine,
    a: &G2Affine,
    y: &G1Affine,
) -> Scalar {
    transcript.append_g1(b"F", &[*f]);
    transcript.append_g2(b"A", &[*a]);
    transcript.append_g1(b"Y", &[*y]);
    transcript.challenge_scalar(b"x'")
}

/// The proof's three equations, randomly weighted, for a dealing with
/// `receivers` receivers and threshold `threshold`.
pub(crate) fn checks<R: RngCore>(
    statement: &FiatShamir,
    receivers: usize,
    threshold: usize,
    proof: &SharingProof,
    rng: &mut R,
) -> Checks {
    let mut transcript = statement.clone();
    let x = transcript.challenge_scalar(b"x");
    let x_powers = powers(x, receivers);
    let x_prime = second_challenge(&mut transcript, &proof.f, &proof.a, &proof.y);
    let base_powers = chunk_base_powers();
    let mut checks = Checks::new(receivers, threshold);

    // x'·R + F − z_r·g₁ = 0
    let w = random_weight(rng);
    for (coefficient, b) in checks.randomizers.iter_mut().zip(&base_powers) {
        *coefficient += w * x_prime * b;
    }
    checks.proof_g1.push((proof.f, w));
    checks.g1 -= w * proof.z_r;

    // x'·Σₖ (Σᵢ iᵏ·xⁱ)·Aₖ + A − z_α·g₂ = 0
    let w = random_weight(rng);
    let mut evaluation_powers: Vec<Scalar> = vec![Scalar::ONE; receivers]; // iᵏ
    for coefficient in checks.commitment.iter_mut() {
        let folded: Scalar = evaluation_powers
            .iter()
            .zip(&x_powers)
            .map(|(p, x)| p * x)
            .sum();
        *coefficient += w * x_prime * folded;
        for (i, power) in evaluation_powers.iter_mut().enumerate() {
            *power *= Scalar::from(i as u64 + 1);
        }
    }
    checks.proof_g2.push((proof.a, w));
    checks.g2 -= w * proof.z_alpha;

    // x'·Σᵢ xⁱ·Cᵢ + Y − z_r·Σᵢ xⁱ·yᵢ − z_α·g₁ = 0
    let w = random_weight(rng);
    for (i, x_power) in x_powers.iter().enumerate() {
        let row = w * x_prime * x_power;
        for (j, b) in base_powers.iter().enumerate() {
            checks.chunks[i * NUM_CHUNKS + j] += row * b;
        }
        checks.receiver_keys[i] -= w * proof.z_r * x_power;
    }
    checks.proof_g1.push((proof.y, w));
    checks.g1 -= w * proof.z_alpha;
    checks
}
