//! The batch verification engine: one entry point for every signature a node checks.
//!
//! A [`BatchVerifier`] takes a slice of heterogeneous [`Job`]s — BLS
//! signatures, threshold and multi-signature shares and aggregates in both
//! schemes, Ed25519 ingress signatures, ECDSA over secp256k1 and P-256 — and
//! returns one verdict per job, exactly as one-by-one verification would
//! (each pairing evaluation of a random linear combination wrongly passes
//! with probability at most 2⁻⁶⁴, so a batch errs with at most the number of
//! its evaluations times 2⁻⁶⁴).
//!
//! - BLS claims are combined with secret random weights into one pairing
//!   product whose Miller loops are shared per signer or per message
//!   (see the `bls` module docs); prepared public keys are cached across batches.
//! - Ed25519 claims use ed25519-dalek's batch equation; ECDSA claims are
//!   verified individually, in parallel.
//! - When a batch fails, fault identification (see [`SourceId`]) names every
//!   invalid job, isolating the sources that sent them.
//!
//! The heavy kernels run on a [`Backend`]; [`CpuBackend`] is the default.
//!
//! [`Backend`]: crate::backend::Backend
//! [`CpuBackend`]: crate::backend::CpuBackend
//!
//! ```
//! use chainkey_crypto::batch::{BatchVerifier, Job};
//! use chainkey_crypto::threshold::deal;
//! use chainkey_crypto::{Ciphersuite, MinSig};
//!
//! let suite = Ciphersuite::<MinSig>::basic();
//! let (commitment, key_shares) = deal::<MinSig, _>(3, 4, &mut rand::thread_rng())?;
//! let mut jobs = Vec::new();
//! for share in &key_shares {
//!     let signature_share = suite.sign_share(share, b"block 12");
//!     jobs.push(Job::new(suite.share_claim(&commitment, b"block 12", &signature_share)?).from_source(share.index().into()));
//! }
//! // Node 4 misbehaves: its share signs another block.
//! let bad = suite.sign_share(&key_shares[3], b"block 13");
//! jobs[3] = Job::new(suite.share_claim(&commitment, b"block 12", &bad)?).from_source(4);
//!
//! let verifier = BatchVerifier::default();
//! assert_eq!(verifier.verify(&jobs), [true, true, true, false]);
//! # Ok::<(), chainkey_crypto::Error>(())
//! ```
//!
#![doc = include_str!("../../docs/batch.md")]

mod bls;
mod cache;
mod ecdsa;
mod ed25519;
pub(crate) mod faults;
#[cfg(feature = "service")]
mod service;

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;

use rayon::prelude::*;

pub use bls::BlsClaim;
pub use cache::PreparedKeyCache;
pub use ecdsa::{EcdsaClaim, EcdsaCurve, Malleability, Secp256k1, P256};
pub use ed25519::Ed25519Claim;
pub use faults::SourceId;
#[cfg(feature = "service")]
pub use service::{ServiceConfig, ServiceError, VerifyService};

use crate::backend::{Backend, CpuBackend};
use crate::multisig::{committee_key, MultiSignature, MultiSignatureShare};
use crate::threshold::{PublicCommitment, SignatureShare};
use crate::{Ciphersuite, Error, MinPk, MinSig, PublicKey, Scheme, Signature};

/// What a job claims is a valid signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// A min-sig BLS claim (signature, share or aggregate).
    MinSig(BlsClaim<MinSig>),
    /// A min-pk BLS claim (signature, share or aggregate).
    MinPk(BlsClaim<MinPk>),
    /// An Ed25519 signature.
    Ed25519(Ed25519Claim),
    /// An ECDSA signature over secp256k1.
    Secp256k1(EcdsaClaim<Secp256k1>),
    /// An ECDSA signature over P-256.
    P256(EcdsaClaim<P256>),
}

impl From<BlsClaim<MinSig>> for Claim {
    fn from(claim: BlsClaim<MinSig>) -> Self {
        Claim::MinSig(claim)
    }
}

impl From<BlsClaim<MinPk>> for Claim {
    fn from(claim: BlsClaim<MinPk>) -> Self {
        Claim::MinPk(claim)
    }
}

impl From<Ed25519Claim> for Claim {
    fn from(claim: Ed25519Claim) -> Self {
        Claim::Ed25519(claim)
    }
}

impl From<EcdsaClaim<Secp256k1>> for Claim {
    fn from(claim: EcdsaClaim<Secp256k1>) -> Self {
        Claim::Secp256k1(claim)
    }
}

impl From<EcdsaClaim<P256>> for Claim {
    fn from(claim: EcdsaClaim<P256>) -> Self {
        Claim::P256(claim)
    }
}

/// A claim and the source it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// Who sent the claim (a peer id); used to isolate faulty sources.
    pub source: SourceId,
    /// What is to be verified.
    pub claim: Claim,
}

impl Job {
    /// A job from source 0 (set the real source with [`Job::from_source`]).
    pub fn new(claim: impl Into<Claim>) -> Self {
        Job {
            source: 0,
            claim: claim.into(),
        }
    }

    /// The same job, attributed to `source`.
    pub fn from_source(self, source: SourceId) -> Self {
        Job { source, ..self }
    }
}

/// Settings of a [`BatchVerifier`].
#[derive(Clone, Debug)]
pub struct VerifierConfig {
    /// Worker threads of the CPU backend (0 = one per core).
    pub threads: usize,
    /// How many prepared public keys to keep (≈ 19.5 KiB each).
    pub prepared_key_cache: NonZeroUsize,
    /// How many suspect sources (that recently sent invalid jobs) to remember.
    pub suspect_sources: NonZeroUsize,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            threads: 0,
            prepared_key_cache: NonZeroUsize::new(4096).expect("non-zero"),
            suspect_sources: NonZeroUsize::new(4096).expect("non-zero"),
        }
    }
}

/// Verifies batches of heterogeneous signature jobs; see the [module docs](self).
pub struct BatchVerifier {
    backend: Arc<dyn Backend>,
    cpu: Arc<CpuBackend>,
    cache: PreparedKeyCache,
    suspects: Mutex<LruCache<SourceId, ()>>,
}

impl Default for BatchVerifier {
    fn default() -> Self {
        Self::new(VerifierConfig::default())
    }
}

impl std::fmt::Debug for BatchVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchVerifier")
            .field("backend", &self.backend.name())
            .field("threads", &self.cpu.threads())
            .field("cache", &self.cache)
            .finish()
    }
}

impl BatchVerifier {
    /// A verifier on the CPU backend.
    pub fn new(config: VerifierConfig) -> Self {
        let cpu = Arc::new(CpuBackend::new(config.threads));
        BatchVerifier {
            backend: cpu.clone(),
            cpu,
            cache: PreparedKeyCache::new(config.prepared_key_cache),
            suspects: Mutex::new(LruCache::new(config.suspect_sources)),
        }
    }

    /// The same verifier with its BLS kernels on another backend (e.g. a GPU).
    pub fn with_backend(self, backend: Arc<dyn Backend>) -> Self {
        BatchVerifier { backend, ..self }
    }

    /// Name of the backend running the BLS kernels.
    pub fn backend_name(&self) -> &str {
        self.backend.name()
    }

    /// Returns one verdict per job (`true` = valid), in order.
    ///
    /// Sources that sent an invalid job are remembered as suspects until
    /// they send a clean batch; their jobs are checked apart from everyone
    /// else's (see [`SourceId`]).
    pub fn verify(&self, jobs: &[Job]) -> Vec<bool> {
        let suspects = self.suspects_among(jobs);
        let mut verdicts = vec![false; jobs.len()];
        let mut min_sig = Kind::default();
        let mut min_pk = Kind::default();
        let mut ed25519 = Kind::default();
        let mut secp256k1 = Kind::default();
        let mut p256 = Kind::default();
        for (position, job) in jobs.iter().enumerate() {
            match &job.claim {
                Claim::MinSig(claim) => min_sig.push(position, job.source, claim),
                Claim::MinPk(claim) => min_pk.push(position, job.source, claim),
                Claim::Ed25519(claim) => ed25519.push(position, job.source, claim),
                Claim::Secp256k1(claim) => secp256k1.push(position, job.source, claim),
                Claim::P256(claim) => p256.push(position, job.source, claim),
            }
        }
        min_sig.record(self.verify_bls(&min_sig, &suspects), &mut verdicts);
        min_pk.record(self.verify_bls(&min_pk, &suspects), &mut verdicts);
        let ed25519_checker = ed25519::Ed25519Checker {
            claims: &ed25519.claims,
        };
        ed25519.record(
            faults::find_invalid(&ed25519.sources, &suspects, &ed25519_checker),
            &mut verdicts,
        );
        secp256k1.record(self.verify_each(&secp256k1.claims), &mut verdicts);
        p256.record(self.verify_each(&p256.claims), &mut verdicts);
        self.update_suspects(jobs, &verdicts);
        verdicts
    }

    fn verify_each<C: EcdsaCurve>(&self, claims: &[&EcdsaClaim<C>]) -> Vec<bool> {
        self.cpu
            .install(|| claims.par_iter().map(|claim| claim.is_valid()).collect())
    }

    fn verify_bls<S: Scheme>(
        &self,
        kind: &Kind<'_, BlsClaim<S>>,
        suspects: &HashSet<SourceId>,
    ) -> Vec<bool> {
        if kind.claims.is_empty() {
            return Vec::new();
        }
        let batch = bls::PreparedBatch::new(&kind.claims, self.backend.as_ref());
        let checker = bls::BlsChecker {
            batch: &batch,
            backend: self.backend.as_ref(),
            cache: &self.cache,
        };
        faults::find_invalid(&kind.sources, suspects, &checker)
    }

    /// Forgets every suspect source (e.g. to measure a first encounter with a fault).
    pub fn clear_suspects(&self) {
        self.lock_suspects().clear();
    }

    fn suspects_among(&self, jobs: &[Job]) -> HashSet<SourceId> {
        let suspects = self.lock_suspects();
        jobs.iter()
            .map(|job| job.source)
            .filter(|source| suspects.contains(source))
            .collect()
    }

    /// Sources with an invalid job become suspects; sources whose jobs were all valid are cleared.
    fn update_suspects(&self, jobs: &[Job], verdicts: &[bool]) {
        let mut faulty = HashSet::new();
        for (job, valid) in jobs.iter().zip(verdicts) {
            if !valid {
                faulty.insert(job.source);
            }
        }
        let mut suspects = self.lock_suspects();
        for job in jobs {
            if faulty.contains(&job.source) {
                suspects.put(job.source, ());
            } else {
                suspects.pop(&job.source);
            }
        }
    }

    fn lock_suspects(&self) -> std::sync::MutexGuard<'_, LruCache<SourceId, ()>> {
        // The set is advisory (it only orders work), so a poisoned lock is still usable.
        self.suspects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The jobs of one kind in a batch, with their positions and sources.
struct Kind<'a, C> {
    positions: Vec<usize>,
    sources: Vec<SourceId>,
    claims: Vec<&'a C>,
}

impl<C> Default for Kind<'_, C> {
    fn default() -> Self {
        Kind {
            positions: Vec::new(),
            sources: Vec::new(),
            claims: Vec::new(),
        }
    }
}

impl<'a, C> Kind<'a, C> {
    fn push(&mut self, position: usize, source: SourceId, claim: &'a C) {
        self.positions.push(position);
        self.sources.push(source);
        self.claims.push(claim);
    }

    fn record(&self, kind_verdicts: Vec<bool>, verdicts: &mut [bool]) {
        for (position, verdict) in self.positions.iter().zip(kind_verdicts) {
            verdicts[*position] = verdict;
        }
    }
}

impl<S: Scheme> Ciphersuite<S> {
    /// A claim that `signature` is valid on `message` under `public_key`.
    pub fn signature_claim(
        &self,
        public_key: &PublicKey<S>,
        message: &[u8],
        signature: &Signature<S>,
    ) -> BlsClaim<S> {
        BlsClaim {
            dst: self.signature_dst().to_vec(),
            pairs: vec![(*public_key, message.to_vec())],
            signature: *signature,
        }
    }

    /// A claim that a threshold signature share is valid (against the key
    /// share its index derives from `commitment`).
    ///
    /// # Errors
    /// [`Error::ZeroIndex`] for index 0.
    pub fn share_claim(
        &self,
        commitment: &PublicCommitment<S>,
        message: &[u8],
        share: &SignatureShare<S>,
    ) -> Result<BlsClaim<S>, Error> {
        let key = commitment.public_key_share(share.index)?;
        Ok(self.signature_claim(&key, message, &share.signature))
    }

    /// A claim that a committee member's multi-signature share is valid.
    ///
    /// # Errors
    /// [`Error::UnknownSigner`] for a signer outside the committee.
    pub fn multi_signature_share_claim(
        &self,
        committee: &[PublicKey<S>],
        message: &[u8],
        share: &MultiSignatureShare<S>,
    ) -> Result<BlsClaim<S>, Error> {
        let key = committee_key(committee, share.signer)?;
        Ok(self.signature_claim(key, message, &share.signature))
    }

    /// A claim that a multi-signature is valid for its signer set.
    ///
    /// # Errors
    /// [`Error::UnknownSigner`], or [`Error::IdentityPublicKey`] if the signers' keys sum to the identity.
    pub fn multi_signature_claim(
        &self,
        committee: &[PublicKey<S>],
        message: &[u8],
        multi_signature: &MultiSignature<S>,
    ) -> Result<BlsClaim<S>, Error> {
        let key = self.multi_signature_key(committee, multi_signature)?;
        Ok(self.signature_claim(&key, message, multi_signature.signature()))
    }

    /// A claim that `signature` aggregates signatures by `public_keys[i]` on
    /// `messages[i]` (see [`Ciphersuite::aggregate_verify`]).
    ///
    /// # Errors
    /// [`Error::EmptyInput`], [`Error::LengthMismatch`] or (basic suite) [`Error::DuplicateMessage`].
    pub fn aggregate_claim(
        &self,
        public_keys: &[PublicKey<S>],
        messages: &[&[u8]],
        signature: &Signature<S>,
    ) -> Result<BlsClaim<S>, Error> {
        self.check_aggregate_inputs(public_keys.len(), messages)?;
        Ok(BlsClaim {
            dst: self.signature_dst().to_vec(),
            pairs: public_keys
                .iter()
                .zip(messages)
                .map(|(key, message)| (*key, message.to_vec()))
                .collect(),
            signature: *signature,
        })
    }
}
