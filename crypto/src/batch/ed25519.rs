//! Ed25519 claims (ingress request signatures), verified with
//! ed25519-dalek's batch equation.
//!
//! The batch equation is cofactored, so a claim's verdict is defined by the
//! cofactored equation too (a batch of one): verdicts then never depend on
//! which other claims share the batch, which nodes that must agree on
//! ingress validity need.

use ed25519_dalek::{Signature, VerifyingKey};

/// `signature` is an Ed25519 signature by `key` on `message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ed25519Claim {
    /// The signer's public key.
    pub key: VerifyingKey,
    /// The signed message.
    pub message: Vec<u8>,
    /// The signature.
    pub signature: Signature,
}

/// Whether every claim in `subset` verifies, in one batch equation.
pub(crate) fn check(claims: &[&Ed25519Claim], subset: &[usize]) -> bool {
    let messages: Vec<&[u8]> = subset
        .iter()
        .map(|&i| claims[i].message.as_slice())
        .collect();
    let signatures: Vec<Signature> = subset.iter().map(|&i| claims[i].signature).collect();
    let keys: Vec<VerifyingKey> = subset.iter().map(|&i| claims[i].key).collect();
    ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
}
