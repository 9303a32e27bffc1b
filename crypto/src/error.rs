//! The one error type of `chainkey-crypto`.
//!
//! Every function that takes bytes or indices from outside returns
//! [`Error`] instead of panicking, so a node can drop a malformed artifact,
//! count it and carry on.

use thiserror::Error;

/// Why a cryptographic operation refused its input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// A byte string had the wrong length for what it should encode.
    #[error("expected {expected} bytes, got {actual}")]
    InvalidLength {
        /// The length the encoding requires.
        expected: usize,
        /// The length that was given.
        actual: usize,
    },
    /// The bytes are not a canonical compressed encoding of a curve point
    /// (bad flag bits, coordinate not below the field modulus, or no point
    /// with that x-coordinate).
    #[error("not a canonical compressed point encoding")]
    InvalidPointEncoding,
    /// A point given in coordinates is not on the curve.
    #[error("point is not on the curve")]
    NotOnCurve,
    /// The point is on the curve but outside the prime-order subgroup.
    #[error("point is not in the prime-order subgroup")]
    NotInSubgroup,
    /// A public key was the identity element (IETF `KeyValidate` rejects it).
    #[error("public key is the identity element")]
    IdentityPublicKey,
    /// A secret key was zero or not below the group order.
    #[error("secret key is zero or not a canonical scalar")]
    InvalidSecretKey,
    /// Key generation was given fewer than 32 bytes of input keying material.
    #[error("input keying material must be at least 32 bytes, got {0}")]
    KeyMaterialTooShort(usize),
    /// A signature did not verify.
    #[error("signature verification failed")]
    InvalidSignature,
    /// A proof of possession did not verify.
    #[error("proof of possession verification failed")]
    InvalidProofOfPossession,
    /// An operation that aggregates or combines was given nothing.
    #[error("nothing to aggregate")]
    EmptyInput,
    /// Two slices that must pair up element by element differ in length.
    #[error("mismatched lengths: {left} vs {right}")]
    LengthMismatch {
        /// Length of the first slice.
        left: usize,
        /// Length of the second slice.
        right: usize,
    },
    /// The basic scheme's aggregate verification requires distinct messages.
    #[error("messages in an aggregate must be distinct under this ciphersuite")]
    DuplicateMessage,
    /// A share or signer index of 0; indices are evaluation points and start at 1.
    #[error("index 0 is not a valid share index")]
    ZeroIndex,
    /// The same share or signer index appeared twice.
    #[error("index {0} appears more than once")]
    DuplicateIndex(u32),
    /// A signer index outside the committee.
    #[error("signer index {index} is outside the committee of {committee_size}")]
    UnknownSigner {
        /// The offending index.
        index: u32,
        /// The number of committee members.
        committee_size: usize,
    },
    /// Fewer shares than the threshold requires.
    #[error("need {threshold} shares, got {actual}")]
    NotEnoughShares {
        /// Shares required.
        threshold: usize,
        /// Shares given.
        actual: usize,
    },
    /// Threshold parameters that cannot work (threshold 0, or above the number of shares).
    #[error("invalid threshold {threshold} for {shares} shares")]
    InvalidThreshold {
        /// The requested threshold.
        threshold: usize,
        /// The requested number of shares.
        shares: usize,
    },
    /// Shares that failed verification, named by their indices (ascending).
    #[error("invalid signature shares from indices {0:?}")]
    InvalidShares(Vec<u32>),
    /// A domain separation tag that RFC 9380 does not allow (empty).
    #[error("domain separation tag must not be empty")]
    EmptyDomainSeparationTag,
    /// `expand_message_xmd` was asked for more than 255 blocks or 65535 bytes.
    #[error("expand_message_xmd cannot produce {0} bytes")]
    ExpandLengthTooLarge(usize),
    /// A scalar encoding that is not below the group order r.
    #[error("not a canonical scalar encoding")]
    NonCanonicalScalar,
}
