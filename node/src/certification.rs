//! Certifying executed state: each node signs every height's state root
//! with its share of the subnet's n − f threshold key, sends the share to
//! its peers, and combines n − f shares on the same root into the
//! subnet's signature: the certificate agents check under the root key.
//! Shares are kept only for a window of heights above the last certified
//! one, one per signer and height, so a peer cannot grow the pool.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chainkey_crypto::threshold::{PublicCommitment, SecretKeyShare, SignatureShare};
use chainkey_crypto::{Ciphersuite, MinSig, Signature};

use crate::execution::service::Executed;
use crate::execution::ReplicatedState;
use crate::ic::certificate::signed_root;
use crate::ic::state_tree::CertifiedState;

/// Heights above the last certified one whose shares are kept.
pub const SHARE_WINDOW: u64 = 2_000;
/// Executed heights kept waiting for shares (older ones are given up:
/// peers moved on and will not sign them again).
pub const EXECUTED_WINDOW: usize = 256;

/// A share as it travels.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CertificationShare {
    /// The height certified.
    pub height: u64,
    /// The state root signed.
    pub root: [u8; 32],
    /// The signer's share index.
    pub index: u32,
    /// The signature share (48 bytes).
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

/// A certified height.
#[derive(Clone, Debug)]
pub struct Certified {
    /// The height.
    pub height: u64,
    /// Its state.
    pub state: Arc<ReplicatedState>,
    /// Its state tree.
    pub tree: Arc<CertifiedState>,
    /// The subnet's signature on the tree's root.
    pub signature: Vec<u8>,
}

/// The shares of one height: by signer index, the root signed and the share.
type SharesByIndex = HashMap<u32, ([u8; 32], Signature<MinSig>)>;

/// The pool of executed heights and shares.
pub struct Certifier {
    suite: Ciphersuite<MinSig>,
    key: PublicCommitment<MinSig>,
    /// This node's share of `key` (none: it is not a member).
    share: Option<SecretKeyShare>,
    /// The key of the next membership, and the height after which it certifies.
    next: Option<(u64, PublicCommitment<MinSig>, Option<SecretKeyShare>)>,
    executed: BTreeMap<u64, Executed>,
    shares: BTreeMap<u64, SharesByIndex>,
    certified: u64,
    /// Shares dropped because they did not verify or decode.
    pub invalid_shares: u64,
}

impl Certifier {
    /// A certifier signing with `share` of the key `key` (none: a node
    /// that joined later only combines others' shares until it has one).
    pub fn new(key: PublicCommitment<MinSig>, share: Option<SecretKeyShare>) -> Certifier {
        Certifier {
            suite: Ciphersuite::basic(),
            key,
            share,
            next: None,
            executed: BTreeMap::new(),
            shares: BTreeMap::new(),
            certified: 0,
            invalid_shares: 0,
        }
    }

    /// A new membership certifies the heights after `after` with `key`
    /// (the same public key, reshared), this node with `share` if it is a
    /// member; heights up to `after` are still certified with the old key.
    pub fn start_epoch(
        &mut self,
        after: u64,
        key: PublicCommitment<MinSig>,
        share: Option<SecretKeyShare>,
    ) {
        self.next = Some((after, key, share));
    }

    /// The key certifying `height`, and this node's share of it.
    fn key_at(&self, height: u64) -> (&PublicCommitment<MinSig>, Option<&SecretKeyShare>) {
        match &self.next {
            Some((after, key, share)) if height > *after => (key, share.as_ref()),
            _ => (&self.key, self.share.as_ref()),
        }
    }

    /// Once every height up to the switch is certified, the next
    /// membership's key is the only one.
    fn retire_old_key(&mut self) {
        if self
            .next
            .as_ref()
            .is_some_and(|(after, ..)| self.certified >= *after)
        {
            let (_, key, share) = self.next.take().expect("checked");
            self.key = key;
            self.share = share;
        }
    }

    /// Takes an executed height: returns this node's share of it (to send
    /// to peers; none if it is not a member), and the certification if it
    /// completes one.
    pub fn on_executed(
        &mut self,
        executed: Executed,
    ) -> (Option<CertificationShare>, Option<Certified>) {
        let height = executed.height;
        let message = self.key_at(height).1.map(|share| {
            let share = self.suite.sign_share(share, &signed_root(&executed.root));
            CertificationShare {
                height,
                root: executed.root,
                index: share.index,
                signature: share.signature.to_bytes(),
            }
        });
        self.executed.insert(height, executed);
        while self.executed.len() > EXECUTED_WINDOW {
            self.executed.pop_first();
        }
        if let Some(message) = &message {
            self.add(message.clone());
        }
        (message, self.try_certify(height))
    }

    /// Takes a share from node `signer`: the certification if it completes
    /// one. Share indices are node ids plus one (genesis deals them so): a
    /// node signs only for itself, and a share claiming another index is
    /// counted as invalid.
    pub fn on_share(&mut self, signer: u32, share: CertificationShare) -> Option<Certified> {
        if share.index != signer + 1 {
            self.invalid_shares += 1;
            return None;
        }
        let height = share.height;
        if height <= self.certified || height > self.certified + SHARE_WINDOW {
            return None;
        }
        self.add(share);
        self.try_certify(height)
    }

    fn add(&mut self, share: CertificationShare) {
        let Ok(signature) = Signature::from_bytes(&share.signature) else {
            self.invalid_shares += 1;
            return;
        };
        self.shares
            .entry(share.height)
            .or_default()
            .entry(share.index)
            .or_insert((share.root, signature));
    }

    /// Combines the shares on this node's root at `height`, if enough.
    fn try_certify(&mut self, height: u64) -> Option<Certified> {
        let key = self.key_at(height).0.clone();
        let executed = self.executed.get(&height)?;
        let shares = self.shares.get_mut(&height)?;
        let matching: Vec<SignatureShare<MinSig>> = shares
            .iter()
            .filter(|(_, (root, _))| *root == executed.root)
            .map(|(&index, (_, signature))| SignatureShare {
                index,
                signature: *signature,
            })
            .collect();
        if matching.len() < key.threshold() {
            return None;
        }
        let message = signed_root(&executed.root);
        // Optimistically: combine, and check the one signature (one pairing
        // check instead of one per share); only if it fails are the shares
        // checked one by one, to drop the invalid ones.
        let optimistic = chainkey_crypto::threshold::combine_unchecked(key.threshold(), &matching)
            .ok()
            .filter(|signature| {
                self.suite
                    .verify(&key.public_key(), &message, signature)
                    .is_ok()
            });
        let combined = match optimistic {
            Some(signature) => Ok(signature),
            None => self.suite.combine(&key, &message, &matching),
        };
        let signature = match combined {
            Ok(signature) => signature,
            Err(chainkey_crypto::Error::InvalidShares(bad)) => {
                self.invalid_shares += bad.len() as u64;
                for index in bad {
                    shares.remove(&index);
                }
                // Enough valid shares may remain.
                return self.try_certify(height);
            }
            Err(_) => return None,
        };
        let certified = Certified {
            height,
            state: Arc::clone(&executed.state),
            tree: Arc::clone(&executed.tree),
            signature: signature.to_bytes(),
        };
        self.certified = height;
        self.executed = self.executed.split_off(&(height + 1));
        self.shares = self.shares.split_off(&(height + 1));
        self.retire_old_key();
        Some(certified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ic::certificate::{key_to_der, Certificate};

    fn executed(height: u64, root: u8) -> Executed {
        let tree = CertifiedState {
            time_ns: u64::from(root),
            ..CertifiedState::default()
        };
        Executed {
            height,
            state: Arc::default(),
            root: tree.root(),
            digest: [0; 32],
            calls: 0,
            tree: Arc::new(tree),
            sign_jobs: Vec::new(),
        }
    }

    #[test]
    fn n_minus_f_matching_shares_certify_and_bad_ones_are_dropped() {
        let mut rng = rand::thread_rng();
        let (key, shares) = chainkey_crypto::threshold::deal::<MinSig, _>(3, 4, &mut rng).unwrap();
        let mut nodes: Vec<Certifier> = shares
            .iter()
            .map(|share| Certifier::new(key.clone(), Some(share.clone())))
            .collect();
        // Node 3 first passes off node 0's signature as its own share.
        let (first, none) = nodes[0].on_executed(executed(1, 1));
        assert!(none.is_none());
        let first = first.unwrap();
        let mut forged = first.clone();
        forged.index = 4;
        assert!(nodes[0].on_share(3, forged).is_none());
        let second = nodes[1].on_executed(executed(1, 1)).0.unwrap();
        assert!(
            nodes[0].on_share(1, second).is_none(),
            "a forged share completes nothing"
        );
        assert_eq!(
            nodes[0].invalid_shares, 1,
            "the forged share is found and dropped"
        );
        // Then it signs what it executed, which differs: that does not count either.
        let diverging = nodes[3].on_executed(executed(1, 9)).0.unwrap();
        assert!(nodes[0].on_share(3, diverging).is_none());
        let third = nodes[2].on_executed(executed(1, 1)).0.unwrap();
        let certified = nodes[0].on_share(2, third).expect("three matching shares");
        let certificate = Certificate {
            tree: certified.tree.witness(&[&[b"time"]]),
            signature: certified.signature,
            delegation: None,
        };
        let root_key =
            crate::ic::certificate::key_from_der(&key_to_der(&key.public_key())).unwrap();
        certificate.verify(&root_key).unwrap();
        // A share for another node's index, and shares of certified heights, count for nothing.
        let mut impostor = first.clone();
        impostor.index = 2;
        assert!(nodes[0].on_share(0, impostor).is_none());
        assert_eq!(nodes[0].invalid_shares, 2);
        assert!(nodes[0].on_share(0, first).is_none());
    }

    #[test]
    fn after_a_membership_change_later_heights_are_certified_by_the_new_members() {
        let mut rng = rand::thread_rng();
        let secret = chainkey_crypto::SecretKey::generate(&mut rng);
        let deal = |threshold, n| {
            chainkey_crypto::threshold::deal_secret::<MinSig, _>(
                &secret,
                threshold,
                n,
                &mut rand::thread_rng(),
            )
            .unwrap()
        };
        let (old, old_shares) = deal(3, 4);
        let (new, new_shares) = deal(4, 5);
        assert_eq!(old.public_key(), new.public_key());
        let mut nodes: Vec<Certifier> = (0..5)
            .map(|i| {
                let mut certifier = Certifier::new(old.clone(), old_shares.get(i).cloned());
                certifier.start_epoch(1, new.clone(), Some(new_shares[i].clone()));
                certifier
            })
            .collect();
        // Node 0 executes both heights before either is certified.
        assert!(nodes[0].on_executed(executed(1, 1)).1.is_none());
        assert!(nodes[0].on_executed(executed(2, 2)).1.is_none());
        // Height 1 (the switch height): three old shares certify; node 4
        // has no old share.
        assert!(nodes[4].on_executed(executed(1, 1)).0.is_none());
        let share = nodes[1].on_executed(executed(1, 1)).0.unwrap();
        assert!(nodes[0].on_share(1, share).is_none());
        let share = nodes[2].on_executed(executed(1, 1)).0.unwrap();
        assert!(
            nodes[0].on_share(2, share).is_some(),
            "old key at the switch height"
        );
        // Height 2: the new key, n − f = 4 of 5, node 4 among them.
        let mut certified = None;
        for i in [4, 1, 2] {
            let share = nodes[i].on_executed(executed(2, 2)).0.unwrap();
            assert_eq!(share.index, i as u32 + 1);
            certified = nodes[0].on_share(i as u32, share);
        }
        let certified = certified.expect("four new shares certify");
        let certificate = Certificate {
            tree: certified.tree.witness(&[&[b"time"]]),
            signature: certified.signature,
            delegation: None,
        };
        let root_key =
            crate::ic::certificate::key_from_der(&key_to_der(&old.public_key())).unwrap();
        certificate.verify(&root_key).unwrap();
        assert_eq!(nodes[0].invalid_shares, 0);
    }
}
