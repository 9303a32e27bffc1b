//! Dealings: one dealer's shares of a secret, encrypted to every receiver
//! and proven correct (paper §6, "Dealing").
//!
//! A dealing is the public polynomial commitment `Aₖ = aₖ·g₂` (k < t),
//! the chunked encryptions of the evaluations f(1) … f(n), a proof of
//! correct sharing and a proof of correct chunking. Both proofs start from
//! one Fiat–Shamir statement that binds the config digest (receivers,
//! threshold, DKG id, reshared key), the dealer's index, the commitment and
//! every ciphertext, so a proof is never valid for another dealing, dealer
//! or receiver set.

use blstrs::{G1Affine, G2Affine, G2Projective, Scalar};
use ff::Field;
use group::{Curve, Group};
use rand_core::{CryptoRng, RngCore};
use rayon::prelude::*;
use zeroize::Zeroize;

use super::chunking_proof::{self, ChunkingProof};
use super::config::DkgConfig;
use super::encryption::{encrypt, split_into_chunks, ChunkedCiphertexts};
use super::fiat_shamir::FiatShamir;
use super::sharing_proof::{self, SharingProof};
use super::{DkgError, NUM_CHUNKS, REPETITIONS};
use crate::curve::BlsGroup;
use crate::polynomial::{Polynomial, SecretValues};
use crate::threshold::SecretKeyShare;
use crate::Error;

/// One dealer's contribution to a DKG.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Dealing {
    pub(crate) commitment: Vec<G2Affine>,
    pub(crate) ciphertexts: ChunkedCiphertexts,
    pub(crate) sharing_proof: SharingProof,
    pub(crate) chunking_proof: ChunkingProof,
}

impl Dealing {
    /// Deals a fresh random secret as dealer `dealer` of a fresh DKG.
    ///
    /// # Errors
    /// [`DkgError::InvalidConfig`] if `config` is a resharing.
    pub fn create<R: RngCore + CryptoRng>(
        config: &DkgConfig,
        dealer: u32,
        rng: &mut R,
    ) -> Result<Self, DkgError> {
        if config.is_resharing() {
            return Err(DkgError::InvalidConfig(
                "a resharing config needs Dealing::reshare",
            ));
        }
        let secret = Scalar::random(&mut *rng);
        deal(config, dealer, secret, rng)
    }

    /// Reshares `share` (a share of the key `config` reshares) as dealer
    /// `share.index()`.
    ///
    /// # Errors
    /// [`DkgError::InvalidConfig`] if `config` is not a resharing;
    /// [`DkgError::UnknownDealer`] if the share index is not a previous receiver's.
    pub fn reshare<R: RngCore + CryptoRng>(
        config: &DkgConfig,
        share: &SecretKeyShare,
        rng: &mut R,
    ) -> Result<Self, DkgError> {
        let resharing = config.resharing.as_ref().ok_or(DkgError::InvalidConfig(
            "a fresh config needs Dealing::create",
        ))?;
        let dealer = share.index();
        if dealer as usize > resharing.previous_receivers {
            return Err(DkgError::UnknownDealer(dealer));
        }
        deal(config, dealer, *share.secret_key().scalar(), rng)
    }

    /// The public polynomial `A₀ … A_{t−1}` in G2 (`A₀ = secret·g₂`).
    pub fn commitment(&self) -> &[G2Affine] {
        &self.commitment
    }

    /// The encrypted shares.
    pub fn ciphertexts(&self) -> &ChunkedCiphertexts {
        &self.ciphertexts
    }

    /// The encoding: commitment (t × 96 bytes), randomizers (16 × 48),
    /// chunks (n × 16 × 48, by receiver), sharing proof (F, A, Y, z_r, z_α),
    /// chunking proof (y₀, b, c, d, Y, z_r, z_s as 8-byte integers, z_β);
    /// points compressed, scalars 32-byte big-endian. Its length is fixed
    /// by (n, t), so it is decoded against the config.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let g1 = |out: &mut Vec<u8>, points: &[G1Affine]| {
            points
                .iter()
                .for_each(|p| out.extend_from_slice(&p.to_compressed()))
        };
        let scalars = |out: &mut Vec<u8>, scalars: &[Scalar]| {
            scalars
                .iter()
                .for_each(|s| out.extend_from_slice(&s.to_bytes_be()))
        };
        self.commitment
            .iter()
            .for_each(|p| out.extend_from_slice(&p.to_compressed()));
        g1(&mut out, &self.ciphertexts.randomizers);
        self.ciphertexts
            .chunks
            .iter()
            .for_each(|row| g1(&mut out, row));
        let sharing = &self.sharing_proof;
        g1(&mut out, &[sharing.f]);
        out.extend_from_slice(&sharing.a.to_compressed());
        g1(&mut out, &[sharing.y]);
        scalars(&mut out, &[sharing.z_r, sharing.z_alpha]);
        let chunking = &self.chunking_proof;
        g1(&mut out, &[chunking.y0]);
        g1(&mut out, &chunking.b);
        g1(&mut out, &chunking.c);
        g1(&mut out, &chunking.d);
        g1(&mut out, &[chunking.y]);
        scalars(&mut out, &chunking.z_r);
        chunking
            .z_s
            .iter()
            .for_each(|z| out.extend_from_slice(&z.to_be_bytes()));
        scalars(&mut out, &[chunking.z_beta]);
        out
    }

    /// The encoded size for `receivers` receivers and threshold `threshold`.
    pub fn encoded_len(receivers: usize, threshold: usize) -> usize {
        let (g1, g2, scalar) = (48, 96, 32);
        threshold * g2
            + (NUM_CHUNKS + receivers * NUM_CHUNKS) * g1
            + (2 * g1 + g2 + 2 * scalar)
            + (g1
                + 2 * REPETITIONS * g1
                + (receivers + 1) * g1
                + g1
                + receivers * scalar
                + REPETITIONS * 8
                + scalar)
    }

    /// Decodes a dealing for `config`, checking every point (on the curve,
    /// in the prime-order subgroup) and every scalar (canonical).
    ///
    /// # Errors
    /// [`DkgError::Malformed`] naming the first bad field.
    pub fn from_bytes(bytes: &[u8], config: &DkgConfig) -> Result<Self, DkgError> {
        let n = config.receivers.len();
        let t = config.threshold;
        let expected = Self::encoded_len(n, t);
        if bytes.len() != expected {
            return Err(DkgError::Malformed {
                field: "dealing",
                error: Error::InvalidLength {
                    expected,
                    actual: bytes.len(),
                },
            });
        }
        let mut reader = Reader { bytes, position: 0 };
        let commitment = reader.g2s("commitment", t)?;
        let randomizers = reader.g1s("randomizers", NUM_CHUNKS)?;
        let chunks = reader.g1s("chunks", n * NUM_CHUNKS)?;
        let sharing_proof = SharingProof {
            f: reader.g1s("sharing proof F", 1)?[0],
            a: reader.g2s("sharing proof A", 1)?[0],
            y: reader.g1s("sharing proof Y", 1)?[0],
            z_r: reader.scalar("sharing proof z_r")?,
            z_alpha: reader.scalar("sharing proof z_alpha")?,
        };
        let y0 = reader.g1s("chunking proof y0", 1)?[0];
        let b = reader.g1s("chunking proof b", REPETITIONS)?;
        let c = reader.g1s("chunking proof c", REPETITIONS)?;
        let d = reader.g1s("chunking proof d", n + 1)?;
        let y = reader.g1s("chunking proof Y", 1)?[0];
        let z_r = (0..n)
            .map(|_| reader.scalar("chunking proof z_r"))
            .collect::<Result<_, _>>()?;
        let z_s = std::array::from_fn(|_| reader.u64());
        let z_beta = reader.scalar("chunking proof z_beta")?;
        Ok(Dealing {
            commitment,
            ciphertexts: ChunkedCiphertexts {
                randomizers: randomizers.try_into().expect("16 randomizers"),
                chunks: chunks
                    .chunks_exact(NUM_CHUNKS)
                    .map(|row| row.try_into().expect("16 chunks"))
                    .collect(),
            },
            sharing_proof,
            chunking_proof: ChunkingProof {
                y0,
                b: b.try_into().expect("ℓ points"),
                c: c.try_into().expect("ℓ points"),
                d,
                y,
                z_r,
                z_s,
                z_beta,
            },
        })
    }
}

/// Sequential decoding of a buffer whose total length is already checked.
struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Reader<'_> {
    fn take(&mut self, len: usize) -> &[u8] {
        let slice = &self.bytes[self.position..self.position + len];
        self.position += len;
        slice
    }

    fn g1s(&mut self, field: &'static str, count: usize) -> Result<Vec<G1Affine>, DkgError> {
        self.take(count * 48)
            .par_chunks(48)
            .map(blstrs::G1Projective::from_compressed_slice)
            .collect::<Result<_, _>>()
            .map_err(|error| DkgError::Malformed { field, error })
    }

    fn g2s(&mut self, field: &'static str, count: usize) -> Result<Vec<G2Affine>, DkgError> {
        self.take(count * 96)
            .par_chunks(96)
            .map(G2Projective::from_compressed_slice)
            .collect::<Result<_, _>>()
            .map_err(|error| DkgError::Malformed { field, error })
    }

    fn scalar(&mut self, field: &'static str) -> Result<Scalar, DkgError> {
        let bytes: &[u8; 32] = self.take(32).try_into().expect("32 bytes");
        Option::from(Scalar::from_bytes_be(bytes)).ok_or(DkgError::Malformed {
            field,
            error: Error::NonCanonicalScalar,
        })
    }

    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.take(8).try_into().expect("8 bytes"))
    }
}

/// The Fiat–Shamir statement both proofs of a dealing start from.
pub(crate) fn statement(
    config: &DkgConfig,
    dealer: u32,
    commitment: &[G2Affine],
    ciphertexts: &ChunkedCiphertexts,
) -> FiatShamir {
    let mut transcript = FiatShamir::new("chainkey-nidkg-v1 dealing");
    transcript.append(b"config", &config.digest);
    transcript.append_u64(b"dealer", u64::from(dealer));
    transcript.append_g2(b"commitment", commitment);
    transcript.append_g1(b"randomizers", &ciphertexts.randomizers);
    transcript.append_g1(b"chunks", ciphertexts.chunks.as_flattened());
    transcript
}

/// Shares `secret` with a random polynomial of the config's threshold.
fn deal<R: RngCore + CryptoRng>(
    config: &DkgConfig,
    dealer: u32,
    secret: Scalar,
    rng: &mut R,
) -> Result<Dealing, DkgError> {
    let polynomial = Polynomial::random_with_secret(secret, config.threshold, rng)
        .map_err(|_| DkgError::InvalidConfig("threshold must be positive"))?;
    let g2 = G2Projective::generator();
    let projective: Vec<G2Projective> = polynomial.coefficients().iter().map(|a| g2 * a).collect();
    let mut commitment = vec![G2Affine::default(); projective.len()];
    G2Projective::batch_normalize(&projective, &mut commitment);
    let shares = SecretValues(
        (1..=config.receivers.len() as u64)
            .map(|index| polynomial.evaluate(Scalar::from(index)))
            .collect::<Vec<Scalar>>(),
    );
    let mut chunks: Vec<[u64; NUM_CHUNKS]> = shares.0.iter().map(split_into_chunks).collect();
    let dealing = assemble(config, dealer, commitment, &shares.0, &chunks, rng);
    chunks.zeroize();
    dealing
}

/// Encrypts `chunks` and proves the dealing, with `shares` as the sharing
/// witness (honest dealers: `chunks[i]` are the chunks of `shares[i]`).
pub(crate) fn assemble<R: RngCore + CryptoRng>(
    config: &DkgConfig,
    dealer: u32,
    commitment: Vec<G2Affine>,
    shares: &[Scalar],
    chunks: &[[u64; NUM_CHUNKS]],
    rng: &mut R,
) -> Result<Dealing, DkgError> {
    let (ciphertexts, randomness) = encrypt(&config.receivers, chunks, rng);
    let statement = statement(config, dealer, &commitment, &ciphertexts);
    let sharing_proof =
        sharing_proof::prove(&statement, &config.receivers, &randomness, shares, rng);
    let chunking_proof =
        chunking_proof::prove(&statement, &config.receivers, &randomness, chunks, rng)?;
    Ok(Dealing {
        commitment,
        ciphertexts,
        sharing_proof,
        chunking_proof,
    })
}
