//! Non-interactive distributed key generation (NIDKG) for threshold BLS
//! keys, after J. Groth, *Non-interactive distributed key generation and key
//! resharing*, eprint 2021/339 — the scheme the Internet Computer uses.
//!
//! No trusted dealer: every dealer publishes one [`Dealing`] (e.g. in a
//! block); anyone can check it without secrets; any large enough set of
//! valid dealings yields the key. MinSig throughout: the public polynomial
//! and group key are in G2, so the result signs with
//! [`threshold`](crate::threshold) and verifies like any min-sig key.
//!
//! ## The protocol, step by step
//!
//! 1. **Keys** (§5, §6.1). Each receiver has an encryption key pair
//!    `(x, y = x·g₁)` ([`EncryptionSecretKey`]) registered with a
//!    [`ProofOfPossession`] (a Schnorr proof bound to the node's identity).
//! 2. **Config** (§6). A [`DkgConfig`] fixes the DKG id, the receivers (the
//!    receiver at position p gets share index p + 1), the threshold t, how
//!    many dealings are needed and, for a resharing, the key carried over.
//! 3. **Dealing** (§6.2, §6.3). A dealer picks a random polynomial f of
//!    degree t − 1 (for a resharing, with f(0) = its old share), publishes
//!    `Aₖ = aₖ·g₂`, and encrypts each f(i) with chunked ElGamal (§5: 16
//!    chunks of 16 bits, one randomizer per chunk shared by all receivers).
//! 4. **Proofs** (§6.4, §6.5). A proof of correct sharing (the ciphertexts
//!    hold the committed polynomial's evaluations) and a proof of correct
//!    chunking (the chunks are small, approximately: see
//!    `chunking_proof`). Both are Fiat–Shamir transformed from one
//!    statement binding the config digest, the dealer, the commitment and
//!    every ciphertext.
//! 5. **Verification** (§6, "VerifyDealing"). [`verify_dealing`] or, for
//!    many dealings, [`verify_dealings`]: the equations of all proofs are
//!    folded with random 128-bit weights into one G1 and one G2 MSM (on a
//!    backend's kernels, the GPU's included, with [`verify_dealings_on`]),
//!    and invalid dealings are found by bisection and named ([`DealingFault`]).
//! 6. **Transcript** (§6, "Combine"). [`Transcript::create`] from at least
//!    `min_dealings` verified dealings of distinct dealers: the public
//!    polynomial is their sum (resharing: their Lagrange combination at 0,
//!    which keeps the group public key).
//! 7. **Share** (§6, "Decrypt"). [`Transcript::decrypt_share`]: a receiver
//!    decrypts its chunks (a table lookup each for honest dealers),
//!    combines them and checks the result against its public key share.
//!
//! ## Parameters
//! 16 chunks of 16 bits; chunking proof with ℓ = 32 repetitions of 8-bit
//! challenges (2⁻²⁵⁶ soundness), as the Internet Computer; at most
//! [`MAX_RECEIVERS`] receivers.
//!
//! ## What is not (yet) here
//! Forward secrecy (§4: binary-tree encryption with epoch key updates) is
//! not implemented; see `encryption` for what that leaves open. Decryption
//! of a cheating dealer's chunks is bounded by a budget
//! ([`DEFAULT_DECRYPTION_BUDGET`]).
//!
//! ```
//! use chainkey_crypto::nidkg::{verify_dealings, Dealing, DkgConfig, EncryptionSecretKey, Transcript};
//! use chainkey_crypto::{Ciphersuite, MinSig};
//!
//! let mut rng = rand::thread_rng();
//! let keys: Vec<EncryptionSecretKey> = (0..4).map(|_| EncryptionSecretKey::generate(&mut rng)).collect();
//! let receivers = keys.iter().map(EncryptionSecretKey::public_key).collect();
//! // 4 receivers, threshold 2, and two dealings (f + 1 for f = 1).
//! let config = DkgConfig::new(b"subnet 7, key 1", receivers, 2, 2)?;
//! let dealings = (0..4).map(|dealer| Ok((dealer, Dealing::create(&config, dealer, &mut rng)?)));
//! let verified = verify_dealings(&config, dealings.collect::<Result<_, chainkey_crypto::nidkg::DkgError>>()?);
//! let transcript = Transcript::create(&config, verified.into_iter().collect::<Result<_, _>>()?)?;
//!
//! let suite = Ciphersuite::<MinSig>::basic();
//! let shares: Vec<_> = [0, 3]
//!     .iter()
//!     .map(|&p| Ok(suite.sign_share(&transcript.decrypt_share(p, &keys[p])?, b"beacon 1")))
//!     .collect::<Result<_, chainkey_crypto::nidkg::DkgError>>()?;
//! let signature = suite.combine(transcript.commitment(), b"beacon 1", &shares)?;
//! suite.verify(&transcript.public_key(), b"beacon 1", &signature)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
#![doc = include_str!("../../docs/nidkg.md")]

mod checks;
mod chunking_proof;
mod config;
mod dealing;
mod dlog;
mod encryption;
mod fiat_shamir;
mod sharing_proof;
mod transcript;
mod verification;

#[cfg(test)]
mod tests;

pub use chunking_proof::ChunkingProof;
pub use config::DkgConfig;
pub use dealing::Dealing;
pub use encryption::{
    ChunkedCiphertexts, EncryptionPublicKey, EncryptionSecretKey, ProofOfPossession,
};
pub use sharing_proof::SharingProof;
pub use transcript::{Transcript, DEFAULT_DECRYPTION_BUDGET};
pub use verification::{verify_dealing, verify_dealings, verify_dealings_on, VerifiedDealing};

/// Bits per chunk of an encrypted share.
pub const CHUNK_BITS: u32 = 16;
/// Chunk base B = 2¹⁶.
pub const CHUNK_SIZE: u64 = 1 << CHUNK_BITS;
/// Chunks per share: 16 × 16 bits cover a 255-bit scalar.
pub const NUM_CHUNKS: usize = 16;
/// Parallel repetitions ℓ of the chunking proof.
pub const REPETITIONS: usize = 32;
/// Size E of each chunking challenge (8 bits; ℓ·log₂E = 256-bit soundness).
pub const CHALLENGE_SPACE: u64 = 1 << 8;
/// Most receivers a config may have (keeps the range bound Z below 2⁴⁵).
pub const MAX_RECEIVERS: usize = 1024;

/// What makes a dealing invalid; every variant is decided publicly.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum DealingFault {
    /// The commitment does not have exactly t coefficients (wrong degree).
    #[error("commitment has {actual} coefficients, expected {expected}")]
    CommitmentDegree {
        /// The config's threshold.
        expected: usize,
        /// Coefficients in the dealing.
        actual: usize,
    },
    /// Ciphertext rows or proof vectors do not match the receiver count.
    #[error("ciphertexts or proof do not match the receiver count")]
    ProofShape,
    /// A chunking response `z_s` is outside `[0, Z)`.
    #[error("chunking proof response out of range")]
    ChunkResponseOutOfRange,
    /// The proof of correct chunking does not verify.
    #[error("invalid proof of correct chunking")]
    ChunkingProof,
    /// The proof of correct sharing does not verify.
    #[error("invalid proof of correct sharing")]
    SharingProof,
    /// A resharing dealer is not one of the previous receivers.
    #[error("dealer is not a previous receiver")]
    UnknownDealer,
    /// A resharing dealing's constant term is not the dealer's previous public key share.
    #[error("constant term is not the dealer's previous public key share")]
    ResharedKeyMismatch,
}

/// Errors of the NIDKG.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum DkgError {
    /// Parameters that cannot form a DKG.
    #[error("invalid DKG config: {0}")]
    InvalidConfig(&'static str),
    /// Bytes that do not decode, naming the field.
    #[error("malformed {field}: {error}")]
    Malformed {
        /// Which field failed to decode.
        field: &'static str,
        /// Why.
        error: crate::Error,
    },
    /// A dealing failed public verification.
    #[error("dealing from dealer {dealer} is invalid: {fault}")]
    InvalidDealing {
        /// The dealer.
        dealer: u32,
        /// What is wrong with it.
        fault: DealingFault,
    },
    /// A resharing dealer that is not a previous receiver.
    #[error("dealer {0} is not a previous receiver")]
    UnknownDealer(u32),
    /// A decryption key that is not the receiver's registered one.
    #[error("the decryption key is not receiver {0}'s")]
    WrongDecryptionKey(usize),
    /// A receiver position outside the config.
    #[error("no receiver at position {0}")]
    UnknownReceiver(usize),
    /// A transcript needs more valid dealings.
    #[error("need {needed} valid dealings of distinct dealers, have {valid}")]
    NotEnoughDealings {
        /// The config's minimum.
        needed: usize,
        /// Valid dealings offered.
        valid: usize,
    },
    /// Two dealings by the same dealer.
    #[error("two dealings from dealer {0}")]
    DuplicateDealer(u32),
    /// A dealing verified under a different config.
    #[error("dealing was verified under another config")]
    ConfigMismatch,
    /// The dealer's own chunks are too large for the chunking proof.
    #[error("chunks out of range: cannot prove chunking")]
    ChunkOutOfRange,
    /// Decryption gave up on a cheating dealer's chunks.
    #[error("decryption budget exceeded")]
    DecryptionBudgetExceeded,
    /// No Δ < E makes the chunks small (impossible for a verified dealing).
    #[error("share cannot be decrypted")]
    UndecryptableShare,
    /// The decrypted share does not match the public key share.
    #[error("decrypted share does not match the public key share (dealer {dealer:?})")]
    ShareMismatch {
        /// The first dealer whose part does not match, if one could be named.
        dealer: Option<u32>,
    },
    /// A key or share that is the identity/zero (probability 2⁻²⁵⁵).
    #[error("degenerate key or share")]
    DegenerateKey,
    /// A proof of possession that does not verify.
    #[error("invalid proof of possession of an encryption key")]
    InvalidProofOfPossession,
}
