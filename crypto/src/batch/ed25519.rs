//! Ed25519 claims (ingress request signatures), verified with
//! ed25519-dalek's batch equation.
//!
//! The batch equation is cofactored, so a claim's verdict is defined by the
//! cofactored equation too (a batch of one): verdicts then never depend on
//! which other claims share the batch, which nodes that must agree on
//! ingress validity need.

use ed25519_dalek::{Signature, VerifyingKey};

use super::faults::BatchCheck;

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

/// Checks subsets of Ed25519 claims with one batch equation each.
pub(crate) struct Ed25519Checker<'a> {
    pub(crate) claims: &'a [&'a Ed25519Claim],
}

impl BatchCheck for Ed25519Checker<'_> {
    type Failure = ();

    fn check(&self, subset: &[usize]) -> Result<(), ()> {
        let messages: Vec<&[u8]> = subset
            .iter()
            .map(|&i| self.claims[i].message.as_slice())
            .collect();
        let signatures: Vec<Signature> = subset.iter().map(|&i| self.claims[i].signature).collect();
        let keys: Vec<VerifyingKey> = subset.iter().map(|&i| self.claims[i].key).collect();
        ed25519_dalek::verify_batch(&messages, &signatures, &keys).map_err(drop)
    }

    /// The batch equation hides which signature failed: halving finds it.
    fn locate_single(&self, _: &[usize], (): ()) -> Option<usize> {
        None
    }
}
