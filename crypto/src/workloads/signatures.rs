//! Benchmark workloads and the baselines they are measured against.
//!
//! Each [`Workload`] is a batch of signature jobs shaped like real traffic,
//! with the same signatures also prepared for the baselines: blst's own
//! batch API (`verify_multiple_aggregate_signatures`) and one-by-one
//! verification. `chainkey bench` and the criterion benches both use them,
//! so the numbers they print compare like with like.

use std::fmt;

use crate::batch::{BatchVerifier, Claim, EcdsaClaim, Ed25519Claim, Job, Malleability, Secp256k1};
use crate::threshold::deal;
use crate::{Ciphersuite, MinSig, PublicKey, SecretKey, Signature};
use blst::min_sig as blst_min_sig;
use ed25519_dalek::Signer as _;
use k256::ecdsa::signature::hazmat::PrehashSigner;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// Signers in a consensus-shaped workload: an Internet Computer subnet has at most 40 nodes.
pub const SUBNET_SIZE: usize = 40;

/// The traffic shapes `chainkey bench` measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Shape {
    /// Min-sig BLS, n keys and n messages: no structure to exploit.
    AllDistinct,
    /// Min-sig BLS from 40 signers, each signing n/40 distinct messages.
    Consensus,
    /// Min-sig threshold shares on one message, one of them invalid.
    ThresholdOneBad,
    /// Ed25519 ingress signatures, n keys and n messages.
    Ed25519,
    /// ECDSA secp256k1 on 32-byte hashes, n keys.
    Ecdsa,
}

impl Shape {
    /// Every shape, in report order.
    pub const ALL: [Shape; 5] = [
        Shape::AllDistinct,
        Shape::Consensus,
        Shape::ThresholdOneBad,
        Shape::Ed25519,
        Shape::Ecdsa,
    ];

    /// Whether blst's batch API applies (min-sig BLS shapes).
    pub fn is_bls(self) -> bool {
        matches!(
            self,
            Shape::AllDistinct | Shape::Consensus | Shape::ThresholdOneBad
        )
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Shape::AllDistinct => "bls all-distinct",
            Shape::Consensus => "bls consensus 40 signers",
            Shape::ThresholdOneBad => "bls threshold shares, 1 bad",
            Shape::Ed25519 => "ed25519 ingress",
            Shape::Ecdsa => "ecdsa secp256k1",
        })
    }
}

/// The same signatures in blst's own types, for its batch API and one-by-one checks.
struct BlstSet {
    messages: Vec<Vec<u8>>,
    keys: Vec<blst_min_sig::PublicKey>,
    signatures: Vec<blst_min_sig::Signature>,
}

/// A generated batch: the engine's jobs, the baseline's inputs, and the
/// verdicts every run must reproduce.
pub struct Workload {
    /// The traffic shape.
    pub shape: Shape,
    /// The engine's jobs.
    pub jobs: Vec<Job>,
    /// The correct verdict of each job (`false` only for planted faults).
    pub expected: Vec<bool>,
    blst: Option<BlstSet>,
    dst: Vec<u8>,
}

impl Workload {
    /// Generates `size` jobs of `shape` deterministically from `seed`.
    pub fn generate(shape: Shape, size: usize, seed: u64) -> Workload {
        match shape {
            Shape::AllDistinct | Shape::Consensus => Self::bls(shape, size, seed),
            Shape::ThresholdOneBad => Self::threshold(size, seed),
            Shape::Ed25519 => Self::ed25519(size, seed),
            Shape::Ecdsa => Self::ecdsa(size, seed),
        }
    }

    fn bls(shape: Shape, size: usize, seed: u64) -> Workload {
        let signers = if shape == Shape::Consensus {
            SUBNET_SIZE.min(size)
        } else {
            size
        };
        let keys: Vec<SecretKey> = (0..signers as u64)
            .into_par_iter()
            .map(|i| SecretKey::generate(&mut StdRng::seed_from_u64(seed ^ (i << 20))))
            .collect();
        let suite = Ciphersuite::<MinSig>::basic();
        let items: Vec<(usize, Vec<u8>)> = (0..size)
            .map(|i| {
                (
                    i % signers,
                    format!("artifact {i} of batch {seed}").into_bytes(),
                )
            })
            .collect();
        let signatures: Vec<Signature<MinSig>> = items
            .par_iter()
            .map(|(signer, message)| suite.sign(&keys[*signer], message))
            .collect();
        let public: Vec<PublicKey<MinSig>> = keys.par_iter().map(SecretKey::public_key).collect();
        Self::from_min_sig(shape, &suite, &items, &public, signatures, vec![true; size])
    }

    fn threshold(size: usize, seed: u64) -> Workload {
        let mut rng = StdRng::seed_from_u64(seed);
        let threshold = size / 3 + 1;
        let (_, shares) =
            deal::<MinSig, _>(threshold, size as u32, &mut rng).expect("valid parameters");
        let suite = Ciphersuite::<MinSig>::basic();
        let message = format!("block at height {seed}").into_bytes();
        let bad = rng.gen_range(0..size);
        let public: Vec<PublicKey<MinSig>> = shares
            .par_iter()
            .map(|share| share.secret_key().public_key())
            .collect();
        let signatures: Vec<Signature<MinSig>> = shares
            .par_iter()
            .enumerate()
            .map(|(i, share)| {
                let signed: &[u8] = if i == bad { b"another block" } else { &message };
                suite.sign_share(share, signed).signature
            })
            .collect();
        let items: Vec<(usize, Vec<u8>)> = (0..size).map(|i| (i, message.clone())).collect();
        let mut expected = vec![true; size];
        expected[bad] = false;
        Self::from_min_sig(
            Shape::ThresholdOneBad,
            &suite,
            &items,
            &public,
            signatures,
            expected,
        )
    }

    /// Builds jobs (source = signer) and the blst copy of (signer, message) items.
    fn from_min_sig(
        shape: Shape,
        suite: &Ciphersuite<MinSig>,
        items: &[(usize, Vec<u8>)],
        public: &[PublicKey<MinSig>],
        signatures: Vec<Signature<MinSig>>,
        expected: Vec<bool>,
    ) -> Workload {
        let jobs = items
            .iter()
            .zip(&signatures)
            .map(|((signer, message), signature)| {
                Job::new(suite.signature_claim(&public[*signer], message, signature))
                    .from_source(*signer as u64)
            })
            .collect();
        let blst_keys: Vec<blst_min_sig::PublicKey> = public
            .iter()
            .map(|key| blst_min_sig::PublicKey::from_bytes(&key.to_bytes()).expect("valid key"))
            .collect();
        let blst = BlstSet {
            messages: items.iter().map(|(_, message)| message.clone()).collect(),
            keys: items.iter().map(|(signer, _)| blst_keys[*signer]).collect(),
            signatures: signatures
                .iter()
                .map(|signature| {
                    blst_min_sig::Signature::from_bytes(&signature.to_bytes())
                        .expect("valid signature")
                })
                .collect(),
        };
        Workload {
            shape,
            jobs,
            expected,
            blst: Some(blst),
            dst: suite.signature_dst().to_vec(),
        }
    }

    fn ed25519(size: usize, seed: u64) -> Workload {
        let jobs: Vec<Job> = (0..size as u64)
            .into_par_iter()
            .map(|i| {
                let key = ed25519_dalek::SigningKey::generate(&mut StdRng::seed_from_u64(
                    seed ^ (i << 20),
                ));
                let message = format!("ingress message {i}").into_bytes();
                let signature = key.sign(&message);
                Job::new(Ed25519Claim {
                    key: key.verifying_key().to_bytes(),
                    message,
                    signature,
                })
                .from_source(i % 40)
            })
            .collect();
        Workload {
            shape: Shape::Ed25519,
            expected: vec![true; size],
            jobs,
            blst: None,
            dst: Vec::new(),
        }
    }

    fn ecdsa(size: usize, seed: u64) -> Workload {
        let jobs: Vec<Job> = (0..size as u64)
            .into_par_iter()
            .map(|i| {
                let key =
                    k256::ecdsa::SigningKey::random(&mut StdRng::seed_from_u64(seed ^ (i << 20)));
                let message_hash: [u8; 32] = Sha256::digest(format!("transaction {i}")).into();
                let signature: k256::ecdsa::Signature =
                    key.sign_prehash(&message_hash).expect("signing a hash");
                Job::new(EcdsaClaim::<Secp256k1> {
                    key: *key.verifying_key(),
                    message_hash,
                    signature,
                    malleability: Malleability::LowSOnly,
                })
                .from_source(i % 40)
            })
            .collect();
        Workload {
            shape: Shape::Ecdsa,
            expected: vec![true; size],
            jobs,
            blst: None,
            dst: Vec::new(),
        }
    }

    /// Number of jobs.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether the workload is empty.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Verifies with chainkey's engine as on a first encounter with any
    /// faulty source (suspects from earlier runs are forgotten); returns the verdicts.
    pub fn run_engine(&self, verifier: &BatchVerifier) -> Vec<bool> {
        verifier.clear_suspects();
        verifier.verify(&self.jobs)
    }

    /// Verifies with blst's batch API (64-bit random weights, no re-checks
    /// of already validated points, blst's own thread pool), if it applies.
    /// Returns whether the whole batch verified: blst cannot say which job failed.
    pub fn run_blst_batch(&self) -> Option<bool> {
        let set = self.blst.as_ref()?;
        let mut rng = rand::thread_rng();
        let weights: Vec<blst::blst_scalar> = (0..set.signatures.len())
            .map(|_| {
                let mut scalar = blst::blst_scalar::default();
                scalar.b[..8].copy_from_slice(&rng.gen::<u64>().to_le_bytes());
                scalar
            })
            .collect();
        let messages: Vec<&[u8]> = set.messages.iter().map(Vec::as_slice).collect();
        let keys: Vec<&blst_min_sig::PublicKey> = set.keys.iter().collect();
        let signatures: Vec<&blst_min_sig::Signature> = set.signatures.iter().collect();
        let result = blst_min_sig::Signature::verify_multiple_aggregate_signatures(
            &messages,
            &self.dst,
            &keys,
            false,
            &signatures,
            false,
            &weights,
            64,
        );
        Some(result == blst::BLST_ERROR::BLST_SUCCESS)
    }

    /// Verifies the first `count` jobs one by one (blst for BLS, ZIP-215
    /// single verification for Ed25519, k256 for ECDSA), in parallel on the
    /// current rayon pool.
    pub fn run_one_by_one(&self, count: usize) -> Vec<bool> {
        let count = count.min(self.len());
        if let Some(set) = &self.blst {
            return (0..count)
                .into_par_iter()
                .map(|i| {
                    let result = set.signatures[i].verify(
                        false,
                        &set.messages[i],
                        &self.dst,
                        &[],
                        &set.keys[i],
                        false,
                    );
                    result == blst::BLST_ERROR::BLST_SUCCESS
                })
                .collect();
        }
        self.jobs[..count]
            .par_iter()
            .map(|job| match &job.claim {
                Claim::Ed25519(claim) => claim.is_valid(),
                Claim::Secp256k1(claim) => claim.is_valid(),
                Claim::P256(claim) => claim.is_valid(),
                Claim::MinSig(_) | Claim::MinPk(_) => {
                    unreachable!("BLS workloads are verified through blst above")
                }
            })
            .collect()
    }

    /// The floor of a BLS batch's cost: hashing every distinct message to
    /// G1 and the G1 multi-scalar multiplication that combines the
    /// signatures (on the current rayon pool). `None` for non-BLS shapes.
    pub fn run_floor(&self) -> Option<()> {
        let set = self.blst.as_ref()?;
        let mut distinct: Vec<&[u8]> = set.messages.iter().map(Vec::as_slice).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let hashes: Vec<crate::G1Projective> = distinct
            .par_iter()
            .map(|message| crate::G1Projective::hash_to_curve(message, &self.dst, &[]))
            .collect();
        std::hint::black_box(hashes);
        let points: Vec<blst::blst_p1_affine> = self
            .jobs
            .iter()
            .filter_map(|job| match &job.claim {
                crate::batch::Claim::MinSig(claim) => Some(*claim.signature().as_point().as_ref()),
                _ => None,
            })
            .collect();
        let scalars: Vec<u8> = (0..points.len())
            .flat_map(|_| rand::random::<u64>().to_le_bytes())
            .collect();
        std::hint::black_box(blst::MultiPoint::mult(points.as_slice(), &scalars, 64));
        Some(())
    }
}
