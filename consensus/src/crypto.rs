//! The signatures consensus needs, behind one trait.
//!
//! [`BlsCrypto`] is the real thing: BLS12-381 min-sig multi-signatures for
//! proposals, notarizations and finalizations, a threshold key for the
//! random beacon, and every check batched through
//! [`chainkey_crypto::batch::BatchVerifier`], which names the invalid ones.
//! [`SimCrypto`] is a fast, deterministic stand-in (hash tags, **no
//! security**) that lets the simulator run thousands of seeds; it has the
//! same verdict semantics, so the protocol cannot tell them apart.

use std::sync::Arc;

use chainkey_crypto::batch::{BatchVerifier, Job};
use chainkey_crypto::threshold::{
    combine_unchecked, PublicCommitment, SecretKeyShare, SignatureShare,
};
use chainkey_crypto::{Ciphersuite, MinSig, PublicKey, SecretKey, Signature};

use crate::types::{Hash, NodeId, Share, SignatureBytes};

/// One signature check, as part of a batch.
#[derive(Clone, Copy, Debug)]
pub enum Check<'a> {
    /// A node's own signature (a proposal, notarization or finalization share).
    Node {
        /// The claimed signer.
        signer: NodeId,
        /// The signed bytes.
        message: &'a [u8],
        /// The signature.
        signature: &'a [u8],
    },
    /// A share by `signer`'s threshold key share (random beacon, catch-up packages).
    ThresholdShare {
        /// The claimed signer.
        signer: NodeId,
        /// The signed bytes.
        message: &'a [u8],
        /// The signature share.
        signature: &'a [u8],
    },
    /// An aggregate multi-signature by `signers`.
    Aggregate {
        /// The claimed signers.
        signers: &'a [NodeId],
        /// The signed bytes.
        message: &'a [u8],
        /// The aggregate signature.
        signature: &'a [u8],
    },
    /// A threshold signature under the subnet's threshold key (random beacon, catch-up packages).
    Threshold {
        /// The signed bytes.
        message: &'a [u8],
        /// The threshold signature.
        signature: &'a [u8],
    },
}

/// Signing and batched verification for one node.
pub trait ConsensusCrypto {
    /// Signs with this node's key (proposals, notarization and finalization shares).
    fn sign(&self, message: &[u8]) -> SignatureBytes;
    /// Signs a random-beacon share with this node's threshold key share.
    fn sign_beacon_share(&self, message: &[u8]) -> SignatureBytes;
    /// Aggregates verified shares of distinct signers on `message`.
    fn aggregate(&self, message: &[u8], shares: &[Share]) -> SignatureBytes;
    /// Combines at least [`ConsensusCrypto::beacon_threshold`] verified beacon shares.
    fn combine_beacon(&self, message: &[u8], shares: &[Share]) -> SignatureBytes;
    /// How many beacon shares make a beacon (f + 1).
    fn beacon_threshold(&self) -> usize;
    /// Verifies checks received from the given senders in one batch; one verdict each.
    fn verify_batch(&self, checks: &[(NodeId, Check<'_>)]) -> Vec<bool>;
}

/// Keys of a subnet: everyone's public keys and the beacon's threshold commitment.
#[derive(Clone, Debug)]
pub struct SubnetKeys {
    /// Each node's public key (index = node id).
    pub committee: Vec<PublicKey<MinSig>>,
    /// The random beacon's threshold key (share of node i is evaluated at i + 1).
    pub beacon: PublicCommitment<MinSig>,
}

impl SubnetKeys {
    /// Keys for a new subnet of `nodes` nodes from a trusted dealer (the
    /// genesis setup until the non-interactive DKG replaces it): each node's
    /// key, and its share of an (f + 1)-of-n beacon key.
    ///
    /// # Panics
    /// If `nodes` is 0.
    pub fn generate<R: rand::RngCore + rand::CryptoRng>(
        nodes: usize,
        rng: &mut R,
    ) -> (SubnetKeys, Vec<(SecretKey, SecretKeyShare)>) {
        let threshold = (nodes - 1) / 3 + 1;
        let (beacon, shares) =
            chainkey_crypto::threshold::deal::<MinSig, _>(threshold, nodes as u32, rng)
                .expect("1 ≤ f + 1 ≤ n for n ≥ 1");
        let keys: Vec<SecretKey> = (0..nodes).map(|_| SecretKey::generate(rng)).collect();
        let committee = keys.iter().map(SecretKey::public_key).collect();
        (
            SubnetKeys { committee, beacon },
            keys.into_iter().zip(shares).collect(),
        )
    }
}

/// Real BLS12-381 crypto for one node.
pub struct BlsCrypto {
    key: SecretKey,
    beacon_share: SecretKeyShare,
    subnet: Arc<SubnetKeys>,
    /// Each node's public key share of the beacon key (index = node id),
    /// evaluated from the commitment once: evaluating it costs a G2
    /// scalar multiplication per coefficient, more than checking a share.
    beacon_key_shares: Vec<Option<PublicKey<MinSig>>>,
    verifier: Arc<BatchVerifier>,
    multi: Ciphersuite<MinSig>,
    threshold: Ciphersuite<MinSig>,
}

impl BlsCrypto {
    /// Crypto for the node holding `key` and `beacon_share`.
    pub fn new(
        key: SecretKey,
        beacon_share: SecretKeyShare,
        subnet: Arc<SubnetKeys>,
        verifier: Arc<BatchVerifier>,
    ) -> Self {
        // A node whose index has no key share (the identity, with negligible
        // probability) gets none: its beacon shares are refused.
        let beacon_key_shares = (1..)
            .take(subnet.committee.len())
            .map(|index| subnet.beacon.public_key_share(index).ok())
            .collect();
        BlsCrypto {
            key,
            beacon_share,
            subnet,
            beacon_key_shares,
            verifier,
            multi: Ciphersuite::proof_of_possession(),
            threshold: Ciphersuite::basic(),
        }
    }

    /// The batch job for one check, or `None` if its bytes do not even decode.
    fn job(&self, sender: NodeId, check: &Check<'_>) -> Option<Job> {
        let committee = &self.subnet.committee;
        let claim = match *check {
            Check::Node {
                signer,
                message,
                signature,
            } => {
                let key = committee.get(signer as usize)?;
                self.multi
                    .signature_claim(key, message, &Signature::from_bytes(signature).ok()?)
            }
            Check::ThresholdShare {
                signer,
                message,
                signature,
            } => {
                let key = self.beacon_key_shares.get(signer as usize)?.as_ref()?;
                self.threshold.signature_claim(
                    key,
                    message,
                    &Signature::from_bytes(signature).ok()?,
                )
            }
            Check::Aggregate {
                signers,
                message,
                signature,
            } => {
                let keys = signers
                    .iter()
                    .map(|&signer| committee.get(signer as usize))
                    .collect::<Option<Vec<_>>>()?;
                let key = PublicKey::aggregate(keys).ok()?;
                self.multi
                    .signature_claim(&key, message, &Signature::from_bytes(signature).ok()?)
            }
            Check::Threshold { message, signature } => {
                let key = self.subnet.beacon.public_key();
                self.threshold.signature_claim(
                    &key,
                    message,
                    &Signature::from_bytes(signature).ok()?,
                )
            }
        };
        Some(Job::new(claim).from_source(u64::from(sender)))
    }
}

impl ConsensusCrypto for BlsCrypto {
    fn sign(&self, message: &[u8]) -> SignatureBytes {
        self.multi.sign(&self.key, message).to_bytes()
    }

    fn sign_beacon_share(&self, message: &[u8]) -> SignatureBytes {
        self.threshold
            .sign_share(&self.beacon_share, message)
            .signature
            .to_bytes()
    }

    // The protocol only aggregates and combines shares it verified, which
    // decode. Should that ever fail, the result is an empty signature that
    // every node rejects: a lost certificate, never an accepted bad one.
    fn aggregate(&self, _message: &[u8], shares: &[Share]) -> SignatureBytes {
        let signatures: Vec<Signature<MinSig>> = shares
            .iter()
            .filter_map(|share| Signature::from_bytes(&share.signature).ok())
            .collect();
        Signature::aggregate(&signatures)
            .map(|signature| signature.to_bytes())
            .unwrap_or_default()
    }

    fn combine_beacon(&self, _message: &[u8], shares: &[Share]) -> SignatureBytes {
        let shares: Vec<SignatureShare<MinSig>> = shares
            .iter()
            .filter_map(|share| {
                Some(SignatureShare {
                    index: share.signer + 1,
                    signature: Signature::from_bytes(&share.signature).ok()?,
                })
            })
            .collect();
        combine_unchecked(self.beacon_threshold(), &shares)
            .map(|signature| signature.to_bytes())
            .unwrap_or_default()
    }

    fn beacon_threshold(&self) -> usize {
        self.subnet.beacon.threshold()
    }

    fn verify_batch(&self, checks: &[(NodeId, Check<'_>)]) -> Vec<bool> {
        let jobs: Vec<Option<Job>> = checks
            .iter()
            .map(|(sender, check)| self.job(*sender, check))
            .collect();
        let decodable: Vec<Job> = jobs.iter().flatten().cloned().collect();
        let mut verdicts = self.verifier.verify(&decodable).into_iter();
        jobs.iter()
            .map(|job| job.is_some() && verdicts.next().unwrap_or(false))
            .collect()
    }
}

/// Simulation crypto: a signature is a hash tag anyone can recompute.
/// **Offers no security**; it only makes simulations fast and deterministic.
#[derive(Clone, Debug)]
pub struct SimCrypto {
    me: NodeId,
    beacon_threshold: usize,
}

impl SimCrypto {
    /// Simulated crypto for node `me` in a subnet whose beacon needs `beacon_threshold` shares.
    pub fn new(me: NodeId, beacon_threshold: usize) -> Self {
        SimCrypto {
            me,
            beacon_threshold,
        }
    }

    fn tag(kind: &[u8], who: &[u8], message: &[u8]) -> SignatureBytes {
        Hash::of(&[kind, who, message]).0.to_vec()
    }

    fn signers_bytes(signers: impl Iterator<Item = NodeId>) -> Vec<u8> {
        signers.flat_map(u32::to_be_bytes).collect()
    }
}

impl ConsensusCrypto for SimCrypto {
    fn sign(&self, message: &[u8]) -> SignatureBytes {
        Self::tag(b"node", &self.me.to_be_bytes(), message)
    }

    fn sign_beacon_share(&self, message: &[u8]) -> SignatureBytes {
        Self::tag(b"beacon-share", &self.me.to_be_bytes(), message)
    }

    fn aggregate(&self, message: &[u8], shares: &[Share]) -> SignatureBytes {
        let mut signers: Vec<NodeId> = shares.iter().map(|share| share.signer).collect();
        signers.sort_unstable();
        Self::tag(
            b"aggregate",
            &Self::signers_bytes(signers.into_iter()),
            message,
        )
    }

    fn combine_beacon(&self, message: &[u8], _shares: &[Share]) -> SignatureBytes {
        Self::tag(b"beacon", b"", message)
    }

    fn beacon_threshold(&self) -> usize {
        self.beacon_threshold
    }

    fn verify_batch(&self, checks: &[(NodeId, Check<'_>)]) -> Vec<bool> {
        checks
            .iter()
            .map(|(_, check)| match *check {
                Check::Node {
                    signer,
                    message,
                    signature,
                } => signature == Self::tag(b"node", &signer.to_be_bytes(), message),
                Check::ThresholdShare {
                    signer,
                    message,
                    signature,
                } => signature == Self::tag(b"beacon-share", &signer.to_be_bytes(), message),
                Check::Aggregate {
                    signers,
                    message,
                    signature,
                } => {
                    signature
                        == Self::tag(
                            b"aggregate",
                            &Self::signers_bytes(signers.iter().copied()),
                            message,
                        )
                }
                Check::Threshold { message, signature } => {
                    signature == Self::tag(b"beacon", b"", message)
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// A beacon share is checked against its signer's key share (kept
    /// from the commitment): valid as its signer's, refused as another
    /// node's, on another message, or from a node outside the committee.
    #[test]
    fn beacon_shares_verify_only_under_their_signers_key_share() {
        let (subnet, secrets) = SubnetKeys::generate(4, &mut StdRng::seed_from_u64(3));
        let subnet = Arc::new(subnet);
        let verifier = Arc::new(BatchVerifier::default());
        let crypto = |id: usize| {
            let (key, share) = secrets[id].clone();
            BlsCrypto::new(key, share, Arc::clone(&subnet), Arc::clone(&verifier))
        };
        let share = crypto(1).sign_beacon_share(b"height 7");
        let check = |signer, message| Check::ThresholdShare {
            signer,
            message,
            signature: &share,
        };
        let verdicts = crypto(0).verify_batch(&[
            (1, check(1, b"height 7")),
            (2, check(2, b"height 7")),
            (1, check(1, b"height 8")),
            (1, check(9, b"height 7")),
        ]);
        assert_eq!(verdicts, vec![true, false, false, false]);
    }
}
