//! Ed25519 claims (ingress request signatures), verified under ZIP-215.
//!
//! Ed25519 implementations disagree on edge cases (small-order points,
//! cofactored or not), and a batch equation may accept what single
//! verification rejects — fatal when nodes must agree on which ingress
//! messages are valid. Claims are therefore judged by ZIP-215 (cofactored,
//! as implemented by `ed25519-zebra`), whose batch verification (with fresh
//! random 128-bit weights) agrees with its single verification on every
//! input: a claim's verdict never depends on the other claims in its batch.

use ed25519_dalek::Signature;
use ed25519_zebra::batch;
use ed25519_zebra::VerificationKeyBytes;

use super::faults::BatchCheck;

/// `signature` is an Ed25519 signature by `key` on `message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ed25519Claim {
    /// The signer's public key, encoded (32 bytes). It is decoded under
    /// ZIP-215 when the claim is checked, once per batch for a key that
    /// signs several claims; a key that does not decode makes the claim
    /// invalid. (Decoding costs about a third of a verification: holding
    /// decoded keys would only decode them twice.)
    pub key: [u8; 32],
    /// The signed message.
    pub message: Vec<u8>,
    /// The signature.
    pub signature: Signature,
}

impl Ed25519Claim {
    /// Whether the claim holds under ZIP-215, on its own (the one-by-one
    /// verdict batches reproduce).
    pub fn is_valid(&self) -> bool {
        batch::Item::from((
            VerificationKeyBytes::from(self.key),
            self.signature,
            &self.message,
        ))
        .verify_single()
        .is_ok()
    }
}

/// Checks subsets of Ed25519 claims with one batch equation each.
pub(crate) struct Ed25519Checker<'a> {
    pub(crate) claims: &'a [&'a Ed25519Claim],
}

impl BatchCheck for Ed25519Checker<'_> {
    type Failure = ();

    fn check(&self, subset: &[usize]) -> Result<(), ()> {
        let mut verifier = batch::Verifier::new();
        for &i in subset {
            let claim = self.claims[i];
            verifier.queue((
                VerificationKeyBytes::from(claim.key),
                claim.signature,
                &claim.message,
            ));
        }
        verifier.verify(rand::thread_rng()).map_err(drop)
    }

    /// The batch equation hides which signature failed: halving finds it.
    fn locate_single(&self, _: &[usize], (): ()) -> Option<usize> {
        None
    }
}
