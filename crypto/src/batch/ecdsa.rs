//! ECDSA claims over secp256k1 and P-256 on 32-byte message hashes.
//!
//! ECDSA has no sound batch equation without the full R point, so each
//! claim is verified on its own (in parallel by the engine).

use k256::ecdsa::signature::hazmat::PrehashVerifier;

/// `signature` is an ECDSA signature by `key` on the 32-byte `message_hash`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EcdsaClaim<C: EcdsaCurve> {
    /// The signer's public key.
    pub key: C::VerifyingKey,
    /// The hash that was signed (e.g. SHA-256 or Keccak-256 of a transaction).
    pub message_hash: [u8; 32],
    /// The signature `(r, s)`.
    pub signature: C::Signature,
    /// Whether `(r, n − s)` is accepted as well as `(r, s)`.
    pub malleability: Malleability,
}

/// ECDSA signatures come in pairs: `(r, s)` and `(r, n − s)` are both
/// valid. Protocols that identify transactions by their signature
/// (Bitcoin, Ethereum, the Internet Computer) accept only the low one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Malleability {
    /// Only `s ≤ n/2`: every signature has exactly one valid form.
    #[default]
    LowSOnly,
    /// Either form, as plain ECDSA (X9.62, FIPS 186) allows.
    EitherS,
}

/// A curve whose ECDSA signatures the engine verifies.
pub trait EcdsaCurve {
    /// The verifying key type.
    type VerifyingKey: Clone + std::fmt::Debug + PartialEq + Eq + Send + Sync;
    /// The signature type.
    type Signature: Clone + std::fmt::Debug + PartialEq + Eq + Send + Sync;
    /// Verifies one signature on a prehashed message under `malleability`.
    fn verify(
        key: &Self::VerifyingKey,
        message_hash: &[u8; 32],
        signature: &Self::Signature,
        malleability: Malleability,
    ) -> bool;
}

impl<C: EcdsaCurve> EcdsaClaim<C> {
    /// Whether the claim holds.
    pub fn is_valid(&self) -> bool {
        C::verify(
            &self.key,
            &self.message_hash,
            &self.signature,
            self.malleability,
        )
    }
}

/// secp256k1 (Bitcoin, Ethereum, the IC's chain-key ECDSA), via `k256`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Secp256k1;

/// NIST P-256 (WebAuthn ingress signatures), via `p256`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct P256;

/// Implements [`EcdsaCurve`] for a RustCrypto ECDSA crate.
macro_rules! ecdsa_curve {
    ($curve:ty, $krate:ident) => {
        impl EcdsaCurve for $curve {
            type VerifyingKey = $krate::ecdsa::VerifyingKey;
            type Signature = $krate::ecdsa::Signature;
            fn verify(
                key: &Self::VerifyingKey,
                message_hash: &[u8; 32],
                signature: &Self::Signature,
                malleability: Malleability,
            ) -> bool {
                // `normalize_s` returns the low form only when `s` is high.
                let low = match (signature.normalize_s(), malleability) {
                    (Some(_), Malleability::LowSOnly) => return false,
                    (Some(low), Malleability::EitherS) => low,
                    (None, _) => *signature,
                };
                key.verify_prehash(message_hash, &low).is_ok()
            }
        }
    };
}

ecdsa_curve!(Secp256k1, k256);
ecdsa_curve!(P256, p256);
