//! Chain-key ECDSA: threshold ECDSA over secp256k1 with interactive DKG
//! transcripts, presignatures and per-caller key derivation, after Groth
//! and Shoup, *Design and analysis of a distributed ECDSA signing service*
//! (eprint 2022/506), the protocol the Internet Computer runs.
//!
//! # The protocol in a page
//!
//! (The paper's section numbers are not cited: its text could not be
//! obtained where this was written. Names follow the paper and the IC's
//! implementation: transcript kinds, MEGa, presignature quadruples.)
//!
//! **Sharings.** Every secret is Shamir-shared among `n` receivers
//! with a reconstruction threshold `t`; receiver `i` holds the value at
//! `x = i + 1`. A sharing is *unmasked* when its polynomial is committed
//! coefficient-wise as `aₖ·G` (the secret's `·G` is public — keys and
//! nonces) or *masked* when committed as `aₖ·G + bₖ·H` with a random mask
//! polynomial `b` and a second generator `H` of unknown logarithm (the
//! secret stays hidden) — [`commitment`].
//!
//! **Dealings and transcripts.** A transcript is produced by one
//! of five operations ([`Operation`]): `Random` (masked), `RandomUnmasked`,
//! `ReshareOfMasked` (turn a masked secret into an unmasked one — how the
//! key becomes public), `ReshareOfUnmasked` (move a secret to new
//! receivers or a new threshold — key resharing), `UnmaskedTimesMasked`
//! (a masked product — presignatures). Each dealer sends a [`Dealing`]:
//! a commitment to its polynomial, the receivers' shares encrypted under
//! their keys under the dealer's ephemeral key for the round ([`mega`];
//! a departure from the paper's key per dealing, argued there), and a proof tying the
//! constant term to the dealer's own share of the source transcripts
//! ([`proofs`]). Anyone verifies a dealing without secrets. Enough verified
//! dealings form a [`Transcript`] (added for fresh secrets, interpolated at
//! 0 over the dealers for reshares and products); each receiver decrypts
//! its share and checks it against the transcript's commitment. A receiver
//! whose ciphertext from some dealer does not open files a provable
//! complaint and rebuilds that share from other receivers' openings
//! ([`complaints`]).
//!
//! **Key generation and resharing.** The master key is a `Random`
//! transcript reshared as `ReshareOfMasked`, so `X = x·G` is the constant
//! term of an unmasked commitment and no one ever held `x`. Resharing to a
//! new node set is `ReshareOfUnmasked`: the interpolated secret, hence `X`,
//! is unchanged.
//!
//! **Presignatures.** Ahead of time: `κ` (`RandomUnmasked`), `λ`
//! (`Random`), `κ·λ` and `x·λ` (`UnmaskedTimesMasked`) — a [`Presignature`].
//!
//! **Signing** ([`signing`]). Given a message hash, a derivation path
//! and beacon randomness, each node publishes openings of `ν = λ(e + r(x +
//! t))` and `μ = λ(κ + δ)` (`t` the derivation tweak, `δ` the
//! re-randomiser); any threshold of valid ones give `s = ν/μ`. Shares are
//! checked against the commitments (all at once, then one by one to name
//! the invalid ones), and the combined signature is checked before release.
//!
//! **Key derivation** ([`derivation`]) is the Internet Computer's:
//! generalised BIP32 with the caller's principal as the first element, so
//! `ecdsa_public_key` agrees with the IC for the same master key.
//!
//! **Encodings** ([`encoding`]): canonical, versioned bytes of dealings,
//! signature shares and MEGa keys for the network and for storage.
//!
//! Secrets (encryption keys, shares, polynomials, nonces) are wiped on drop
//! and never printed. Scalar arithmetic is k256's constant-time code; the
//! only branches are on public values.
//!
//! Not here: the consensus layer's dealing *support* (receivers signing that
//! they could decrypt, so a transcript only includes dealings most
//! receivers can use) belongs to the node; the encryption is not forward
//! secure.
//!
//! # Example
//!
//! A 4-node subnet (all nodes in one process) makes a key and a
//! presignature and signs for a caller's derived key:
//!
//! ```
//! use chainkey_crypto::batch::Secp256k1;
//! use chainkey_crypto::tecdsa::{DerivationPath, LocalSubnet, SigningRequest};
//! use k256::ecdsa::signature::hazmat::PrehashVerifier;
//!
//! let mut rng = rand::thread_rng();
//! let subnet = LocalSubnet::<Secp256k1>::new("example", 4, 2, &mut rng);
//! let key = subnet.generate_key(&mut rng)?;
//! let (presignature, shares) = subnet.presignature(&key, &mut rng)?;
//! let request = SigningRequest {
//!     message_hash: [7; 32],
//!     path: DerivationPath::for_caller(b"canister", &[b"account 1".to_vec()]),
//!     randomness: [9; 32],
//! };
//! let signed = LocalSubnet::sign(&presignature, shares, &key, &request)?;
//!
//! let verifying_key = k256::ecdsa::VerifyingKey::from_affine(signed.public_key.to_affine())?;
//! let signature = k256::ecdsa::Signature::from_slice(&signed.signature.to_bytes())?;
//! verifying_key.verify_prehash(&request.message_hash, &signature)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
#![doc = include_str!("../../docs/tecdsa.md")]

mod check;
pub mod commitment;
pub mod complaints;
pub mod curve;
pub mod dealing;
pub mod derivation;
pub mod encoding;
pub mod local;
pub mod mega;
mod oracle;
pub mod proofs;
pub mod signing;
pub mod transcript;

pub use commitment::{Commitment, Masking, Share};
pub use complaints::{Complaint, Opening};
pub use curve::IdkgCurve;
pub use dealing::{
    verify_dealings, verify_dealings_of, DealerInput, Dealing, DealingProof, Operation,
    TranscriptParams,
};
pub use derivation::{derive, ecdsa_public_key, DerivationPath, DerivedKey};
pub use local::{LocalSubnet, PresignatureWithShares};
pub use mega::{EphemeralKey, MegaPublicKey, MegaSecretKey};
pub use signing::{
    combine, verify_shares, verify_signature, Combined, EcdsaSignature, Presignature,
    PresignatureShares, SignatureShare, SigningRequest,
};
pub use transcript::{Transcript, VerifiedDealing};

/// Why a threshold ECDSA operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TecdsaError {
    /// Transcript parameters that cannot work.
    #[error("invalid transcript parameters: {0}")]
    InvalidParams(String),
    /// A dealer's secret input does not fit the operation or is not its share.
    #[error("dealer {dealer}: input does not fit the transcript")]
    WrongDealerInput {
        /// The dealer.
        dealer: u32,
    },
    /// A dealing failed public verification.
    #[error("dealing of dealer {dealer} is invalid: {check}")]
    InvalidDealing {
        /// The dealer.
        dealer: u32,
        /// The check that failed.
        check: &'static str,
    },
    /// Two dealings from one dealer.
    #[error("dealer {0} dealt twice")]
    DuplicateDealer(u32),
    /// Too few verified dealings.
    #[error("need {needed} verified dealings, got {got}")]
    NotEnoughDealings {
        /// Required.
        needed: usize,
        /// Given.
        got: usize,
    },
    /// The key or index is not one of the transcript's receivers.
    #[error("receiver {index} is not a receiver of this transcript with this key")]
    NotAReceiver {
        /// The index given.
        index: u32,
    },
    /// Ciphertexts to this receiver that do not open their dealers' commitments.
    #[error("dealers {dealers:?} sent this receiver shares that do not match their commitments")]
    BadCiphertext {
        /// The cheating dealers.
        dealers: Vec<u32>,
    },
    /// A complaint that does not prove its dealer faulty.
    #[error("complaint of receiver {complainer} against dealer {dealer} is invalid")]
    InvalidComplaint {
        /// The complaining receiver.
        complainer: u32,
        /// The accused dealer.
        dealer: u32,
    },
    /// Transcripts that do not form a presignature for the key.
    #[error("the transcripts do not form a presignature for this key")]
    InvalidPresignature,
    /// Presignature shares of another key transcript (e.g. from before a resharing).
    #[error("the presignature belongs to another key transcript")]
    PresignatureForOtherKey,
    /// The derivation path is longer than the IC allows.
    #[error("derivation path of {length} elements (at most 255)")]
    DerivationPathTooLong {
        /// Elements given, caller included.
        length: usize,
    },
    /// Two shares from one signer.
    #[error("signer {0} sent two shares")]
    DuplicateSigner(u32),
    /// Too few valid signature shares.
    #[error("need {needed} valid signature shares, have {valid} (invalid: {invalid_signers:?})")]
    NotEnoughShares {
        /// Required.
        needed: usize,
        /// Valid ones given.
        valid: usize,
        /// Signers whose shares were invalid.
        invalid_signers: Vec<u32>,
    },
    /// A negligible-probability degenerate value (`r = 0`, `s = 0`, `μ = 0`) or a failed final check.
    #[error("degenerate signature values; use another presignature")]
    DegenerateSignature,
    /// Bytes that are not a valid encoding ([`encoding`]); the reason.
    #[error("malformed encoding: {0}")]
    Malformed(&'static str),
}
