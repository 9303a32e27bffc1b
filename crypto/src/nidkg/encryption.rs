//! DKG encryption keys and chunked multi-recipient ElGamal (paper §5).
//!
//! A receiver's key pair is `(x, y = x·g₁)`. A dealer encrypts receiver i's
//! share `s = Σⱼ sⱼ·Bʲ` (16 chunks of 16 bits, B = 2¹⁶) under fresh
//! randomness `rⱼ` shared by all receivers:
//!
//! ```text
//! Rⱼ = rⱼ·g₁            Cᵢⱼ = rⱼ·yᵢ + sᵢⱼ·g₁
//! ```
//!
//! Receiver i recovers `sᵢⱼ·g₁ = Cᵢⱼ − x·Rⱼ` and the chunk by a bounded
//! discrete logarithm (`dlog`). Chunks keep the logarithm small; the
//! chunking proof keeps them (approximately) in range.
//!
//! **What this scheme does not protect against.** It has no forward
//! secrecy: Groth's full scheme (§4, binary-tree encryption with epoch key
//! updates) lets receivers erase old key material, whereas here a receiver
//! key stolen later decrypts every share ever sent to it, so an attacker who
//! compromises t receivers at any time learns the key of every transcript
//! they received. Keys must therefore be rotated with the membership and
//! old keys destroyed. The module is self-contained (keys, `encrypt`,
//! `decrypt`) so the forward-secure scheme can replace it.

use std::fmt;

use blstrs::{G1Affine, G1Projective, Scalar};
use ff::Field;
use group::prime::PrimeCurveAffine;
use group::{Curve, Group};
use rand_core::{CryptoRng, RngCore};
use rayon::prelude::*;

use super::dlog::{bounded_dlog, small_dlog, Budget};
use super::fiat_shamir::FiatShamir;
use super::{DkgError, CHUNK_SIZE, NUM_CHUNKS};
use crate::curve::BlsGroup;
use crate::SecretKey;

/// A receiver's secret decryption key. Wiped on drop, never shown by `Debug`.
#[derive(Clone, Debug)]
pub struct EncryptionSecretKey(SecretKey);

/// A receiver's public encryption key `y = x·g₁` (48 bytes compressed).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EncryptionPublicKey(pub(crate) G1Affine);

/// A Schnorr proof that the owner of an [`EncryptionPublicKey`] knows its
/// secret key, bound to a context (e.g. the node id): registering a key
/// without it would allow related-key attacks on the shared randomness.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ProofOfPossession {
    commitment: G1Affine,
    response: Scalar,
}

/// The chunked encryptions of one dealing's shares, one row per receiver.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ChunkedCiphertexts {
    pub(crate) randomizers: [G1Affine; NUM_CHUNKS],
    pub(crate) chunks: Vec<[G1Affine; NUM_CHUNKS]>,
}

/// The dealer's encryption randomness `rⱼ` (a witness of the proofs).
pub(crate) struct EncryptionRandomness(pub(crate) [Scalar; NUM_CHUNKS]);

impl Drop for EncryptionRandomness {
    fn drop(&mut self) {
        crate::polynomial::wipe(&mut self.0);
    }
}

const POSSESSION_DOMAIN: &str = "chainkey-nidkg-v1 encryption key possession";

impl EncryptionSecretKey {
    /// Draws a fresh key from a cryptographic RNG.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        EncryptionSecretKey(SecretKey::generate(rng))
    }

    /// The public key `x·g₁`.
    pub fn public_key(&self) -> EncryptionPublicKey {
        EncryptionPublicKey((G1Projective::generator() * self.0.scalar()).to_affine())
    }

    /// Decodes the 32-byte big-endian encoding of [`Self::to_bytes`].
    ///
    /// # Errors
    /// [`DkgError::Malformed`] for another length, zero, or a value not below r.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DkgError> {
        SecretKey::from_bytes(bytes)
            .map(EncryptionSecretKey)
            .map_err(|error| DkgError::Malformed {
                field: "encryption secret key",
                error,
            })
    }

    /// The 32-byte big-endian encoding, wiped when dropped (keep it secret).
    pub fn to_bytes(&self) -> zeroize::Zeroizing<[u8; 32]> {
        self.0.to_bytes()
    }

    /// Proves knowledge of this key, bound to `context` (e.g. the node id).
    pub fn prove_possession<R: RngCore + CryptoRng>(
        &self,
        context: &[u8],
        rng: &mut R,
    ) -> ProofOfPossession {
        let nonce = SecretKey::generate(rng);
        let commitment = (G1Projective::generator() * nonce.scalar()).to_affine();
        let challenge = possession_challenge(&self.public_key(), context, &commitment);
        ProofOfPossession {
            commitment,
            response: nonce.scalar() + challenge * self.0.scalar(),
        }
    }

    /// Receiver `position`'s share of one dealing: decrypts its 16 chunks.
    ///
    /// Chunks of honest dealers are found by one table lookup each. Chunks
    /// outside `[0, 2¹⁶)` (which the approximate range proof lets through,
    /// up to a factor Δ < 2⁸ and a bound Z) are searched for as the paper's
    /// decryption does, spending at most `budget` group operations.
    pub(crate) fn decrypt(
        &self,
        ciphertexts: &ChunkedCiphertexts,
        position: usize,
        range_bound: u64,
        budget: &Budget,
    ) -> Result<Scalar, DkgError> {
        let row = ciphertexts
            .chunks
            .get(position)
            .ok_or(DkgError::UnknownReceiver(position))?;
        let messages: Vec<G1Projective> = row
            .iter()
            .zip(&ciphertexts.randomizers)
            .map(|(chunk, randomizer)| G1Projective::from(chunk) - randomizer * self.0.scalar())
            .collect();
        let mut affine = vec![G1Affine::default(); NUM_CHUNKS];
        G1Projective::batch_normalize(&messages, &mut affine);
        if let Some(chunks) = affine.iter().map(small_dlog).collect::<Option<Vec<u64>>>() {
            return Ok(combine_chunks(chunks.into_iter().map(Scalar::from)));
        }
        // Cheating dealer: find Δ ∈ [1, E) with Δ·sⱼ ∈ (−Z, Z) for all j (paper §6.5).
        for delta in 1..super::CHALLENGE_SPACE {
            let delta_scalar = Scalar::from(delta);
            let mut chunks = Vec::with_capacity(NUM_CHUNKS);
            for message in &messages {
                match bounded_dlog(message * delta_scalar, range_bound, budget) {
                    Ok(Some(m)) => chunks.push(signed_scalar(m)),
                    Ok(None) => break,
                    Err(()) => return Err(DkgError::DecryptionBudgetExceeded),
                }
            }
            if chunks.len() == NUM_CHUNKS {
                let inverse = delta_scalar.invert().expect("Δ < r is invertible");
                return Ok(combine_chunks(
                    chunks.into_iter().map(|chunk| chunk * inverse),
                ));
            }
        }
        Err(DkgError::UndecryptableShare)
    }
}

impl EncryptionPublicKey {
    /// Decodes a compressed G1 point, rejecting the identity and points
    /// outside the prime-order subgroup.
    ///
    /// # Errors
    /// [`DkgError::Malformed`] naming the encryption key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DkgError> {
        let point =
            G1Projective::from_compressed_slice(bytes).map_err(|error| DkgError::Malformed {
                field: "encryption key",
                error,
            })?;
        if bool::from(point.is_identity()) {
            return Err(DkgError::Malformed {
                field: "encryption key",
                error: crate::Error::IdentityPublicKey,
            });
        }
        Ok(EncryptionPublicKey(point))
    }

    /// The 48-byte compressed encoding.
    pub fn to_bytes(&self) -> [u8; 48] {
        self.0.to_compressed()
    }

    /// Checks a proof of possession made for `context`.
    ///
    /// # Errors
    /// [`DkgError::InvalidProofOfPossession`].
    pub fn verify_possession(
        &self,
        context: &[u8],
        proof: &ProofOfPossession,
    ) -> Result<(), DkgError> {
        let challenge = possession_challenge(self, context, &proof.commitment);
        let expected = G1Projective::from(proof.commitment) + self.0 * challenge;
        if G1Projective::generator() * proof.response == expected {
            Ok(())
        } else {
            Err(DkgError::InvalidProofOfPossession)
        }
    }
}

impl ProofOfPossession {
    /// The encoded length: a compressed G1 point, then a big-endian scalar.
    pub const LEN: usize = 48 + 32;

    /// The 80-byte encoding.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut bytes = [0; Self::LEN];
        bytes[..48].copy_from_slice(&self.commitment.to_compressed());
        bytes[48..].copy_from_slice(&self.response.to_bytes_be());
        bytes
    }

    /// Decodes [`Self::to_bytes`]: a point of the prime-order subgroup and a
    /// canonical scalar.
    ///
    /// # Errors
    /// [`DkgError::Malformed`] naming the proof of possession.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DkgError> {
        let malformed = |error| DkgError::Malformed {
            field: "proof of possession",
            error,
        };
        let bytes: &[u8; Self::LEN] = bytes.try_into().map_err(|_| {
            malformed(crate::Error::InvalidLength {
                expected: Self::LEN,
                actual: bytes.len(),
            })
        })?;
        let commitment = G1Projective::from_compressed_slice(&bytes[..48]).map_err(malformed)?;
        let scalar: &[u8; 32] = bytes[48..].try_into().expect("32 bytes");
        let response = Option::from(Scalar::from_bytes_be(scalar))
            .ok_or(malformed(crate::Error::NonCanonicalScalar))?;
        Ok(ProofOfPossession {
            commitment,
            response,
        })
    }
}

impl std::hash::Hash for EncryptionPublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_bytes().hash(state);
    }
}

impl fmt::Debug for EncryptionPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptionPublicKey({})", hex_prefix(&self.to_bytes()))
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes[..6]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<String>()
        + "…"
}

fn possession_challenge(
    key: &EncryptionPublicKey,
    context: &[u8],
    commitment: &G1Affine,
) -> Scalar {
    let mut transcript = FiatShamir::new(POSSESSION_DOMAIN);
    transcript.append(b"context", context);
    transcript.append_g1(b"public key", &[key.0]);
    transcript.append_g1(b"commitment", &[*commitment]);
    transcript.challenge_scalar(b"challenge")
}

/// Splits a scalar into its 16 little-endian base-2¹⁶ chunks.
pub(crate) fn split_into_chunks(value: &Scalar) -> [u64; NUM_CHUNKS] {
    let bytes = value.to_bytes_le();
    std::array::from_fn(|j| u64::from(u16::from_le_bytes([bytes[2 * j], bytes[2 * j + 1]])))
}

/// `Σⱼ chunkⱼ·Bʲ`.
pub(crate) fn combine_chunks(chunks: impl DoubleEndedIterator<Item = Scalar>) -> Scalar {
    let base = Scalar::from(CHUNK_SIZE);
    chunks
        .rev()
        .fold(Scalar::ZERO, |acc, chunk| acc * base + chunk)
}

/// A signed integer as a scalar.
pub(crate) fn signed_scalar(value: i64) -> Scalar {
    let magnitude = Scalar::from(value.unsigned_abs());
    if value < 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// Encrypts each receiver's chunks (`chunks[i]` for `receivers[i]`).
pub(crate) fn encrypt<R: RngCore + CryptoRng>(
    receivers: &[EncryptionPublicKey],
    chunks: &[[u64; NUM_CHUNKS]],
    rng: &mut R,
) -> (ChunkedCiphertexts, EncryptionRandomness) {
    let randomness = EncryptionRandomness(std::array::from_fn(|_| Scalar::random(&mut *rng)));
    let generator = G1Projective::generator();
    let randomizers = randomness.0.map(|r| (generator * r).to_affine());
    let rows = receivers
        .par_iter()
        .zip(chunks)
        .map(|(key, row)| {
            let projective: Vec<G1Projective> = randomness
                .0
                .iter()
                .zip(row)
                .map(|(r, &chunk)| key.0 * r + generator * Scalar::from(chunk))
                .collect();
            let mut affine = [G1Affine::default(); NUM_CHUNKS];
            G1Projective::batch_normalize(&projective, &mut affine);
            affine
        })
        .collect();
    (
        ChunkedCiphertexts {
            randomizers,
            chunks: rows,
        },
        randomness,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip_through_the_base() {
        let mut rng = rand::thread_rng();
        for value in [
            Scalar::ZERO,
            Scalar::ONE,
            -Scalar::ONE,
            Scalar::random(&mut rng),
        ] {
            let chunks = split_into_chunks(&value);
            assert!(chunks.iter().all(|&chunk| chunk < CHUNK_SIZE));
            assert_eq!(combine_chunks(chunks.into_iter().map(Scalar::from)), value);
        }
    }

    #[test]
    fn possession_proofs_are_bound_to_key_and_context() {
        let mut rng = rand::thread_rng();
        let key = EncryptionSecretKey::generate(&mut rng);
        let other = EncryptionSecretKey::generate(&mut rng).public_key();
        let proof = key.prove_possession(b"node 3", &mut rng);
        assert!(key
            .public_key()
            .verify_possession(b"node 3", &proof)
            .is_ok());
        assert!(key
            .public_key()
            .verify_possession(b"node 4", &proof)
            .is_err());
        assert!(other.verify_possession(b"node 3", &proof).is_err());
    }

    #[test]
    fn keys_and_proofs_round_trip_and_bad_encodings_are_named() {
        let mut rng = rand::thread_rng();
        let key = EncryptionSecretKey::generate(&mut rng);
        let decoded = EncryptionSecretKey::from_bytes(&*key.to_bytes()).unwrap();
        assert_eq!(decoded.public_key(), key.public_key());
        assert!(EncryptionSecretKey::from_bytes(&[0; 32]).is_err(), "zero");
        assert!(EncryptionSecretKey::from_bytes(&[0xff; 32]).is_err(), "≥ r");

        let proof = key.prove_possession(b"node 3", &mut rng);
        let bytes = proof.to_bytes();
        let decoded = ProofOfPossession::from_bytes(&bytes).unwrap();
        assert_eq!(decoded, proof);
        key.public_key()
            .verify_possession(b"node 3", &decoded)
            .unwrap();
        let field = |bytes: &[u8]| match ProofOfPossession::from_bytes(bytes) {
            Err(DkgError::Malformed { field, error }) => (field, error),
            other => panic!("{other:?}"),
        };
        assert!(matches!(
            field(&bytes[1..]),
            ("proof of possession", crate::Error::InvalidLength { .. })
        ));
        let mut response_too_large = bytes;
        response_too_large[48..].fill(0xff);
        assert_eq!(
            field(&response_too_large).1,
            crate::Error::NonCanonicalScalar
        );
        let mut uncompressed_flag = bytes;
        uncompressed_flag[0] &= 0x7f;
        assert_eq!(
            field(&uncompressed_flag).1,
            crate::Error::InvalidPointEncoding
        );
    }
}
