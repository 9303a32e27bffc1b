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
}

/// A curve whose ECDSA signatures the engine verifies.
pub trait EcdsaCurve {
    /// The verifying key type.
    type VerifyingKey: Clone + std::fmt::Debug + PartialEq + Eq + Send + Sync;
    /// The signature type.
    type Signature: Clone + std::fmt::Debug + PartialEq + Eq + Send + Sync;
    /// Verifies one signature on a prehashed message.
    fn verify(
        key: &Self::VerifyingKey,
        message_hash: &[u8; 32],
        signature: &Self::Signature,
    ) -> bool;
}

impl<C: EcdsaCurve> EcdsaClaim<C> {
    /// Whether the claim holds.
    pub fn is_valid(&self) -> bool {
        C::verify(&self.key, &self.message_hash, &self.signature)
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
            ) -> bool {
                key.verify_prehash(message_hash, signature).is_ok()
            }
        }
    };
}

ecdsa_curve!(Secp256k1, k256);
ecdsa_curve!(P256, p256);
