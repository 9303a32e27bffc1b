//! Resharing the subnet's threshold BLS keys to a new membership: the
//! random beacon's key (f + 1 of n) and the state certification key
//! (n − f of n, whose public key is the root key agents trust).
//!
//! Each member holding a share deals it again to the new members' NIDKG
//! encryption keys (Groth's resharing, eprint 2021/339 §5: a dealing of
//! share i is bound to the old public polynomial at i, so nobody can deal
//! for another member). The dealings travel in blocks; the first
//! old-threshold verified dealings of distinct dealers make the transcript,
//! whose public key is the old one. Every node derives the same
//! transcripts from the finalized blocks, and each new member decrypts its
//! share from them.

use std::collections::BTreeMap;
use std::sync::Arc;

use chainkey_crypto::nidkg::{verify_dealing, Dealing, DkgConfig, Transcript, VerifiedDealing};
use chainkey_crypto::threshold::PublicCommitment;
use chainkey_crypto::MinSig;
use serde::{Deserialize, Serialize};

use crate::registry::Membership;

/// Which threshold BLS key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum BlsKey {
    /// The random beacon's (and catch-up packages') key, f + 1 of n.
    Beacon,
    /// The state certification key, n − f of n.
    Certification,
}

impl BlsKey {
    /// Both keys.
    pub const ALL: [BlsKey; 2] = [BlsKey::Beacon, BlsKey::Certification];

    /// The threshold of this key in a subnet of `n` nodes.
    pub fn threshold(self, n: usize) -> usize {
        let f = (n.max(1) - 1) / 3;
        match self {
            BlsKey::Beacon => f + 1,
            BlsKey::Certification => n - f,
        }
    }
}

/// A member's reshare dealing for a registry version, as a block carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlsDealing {
    /// The key reshared.
    pub key: BlsKey,
    /// The registry version whose members receive it.
    pub version: u64,
    /// The dealer's share index.
    pub dealer: u32,
    /// The encoded dealing.
    #[serde(with = "serde_bytes")]
    pub dealing: Vec<u8>,
}

/// The subnet's threshold BLS public keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlsKeys {
    /// The random beacon's public polynomial.
    pub beacon: PublicCommitment<MinSig>,
    /// The state certification key's public polynomial.
    pub certification: PublicCommitment<MinSig>,
}

impl BlsKeys {
    /// The public polynomial of `key`.
    pub fn get(&self, key: BlsKey) -> &PublicCommitment<MinSig> {
        match key {
            BlsKey::Beacon => &self.beacon,
            BlsKey::Certification => &self.certification,
        }
    }
}

/// A reshare in the making: its configuration and the dealings so far.
#[derive(Clone, Debug)]
struct Reshare {
    config: Arc<DkgConfig>,
    dealings: BTreeMap<u32, VerifiedDealing>,
    transcript: Option<Arc<Transcript>>,
}

/// Why a block's BLS dealing is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlsDealingError {
    /// No reshare of that key to that version is open.
    #[error("no open reshare of this key for this version")]
    NotOpen,
    /// The dealer dealt already, or holds no share.
    #[error("the dealer dealt already or holds no share")]
    Dealer,
    /// The dealing does not decode or does not verify.
    #[error("invalid dealing: {0}")]
    Invalid(#[from] chainkey_crypto::nidkg::DkgError),
}

/// What resharing changed, for the node.
#[derive(Clone, Debug)]
pub enum BlsChange {
    /// A reshare opened: members holding a share of `key` deal.
    Opened {
        /// The key.
        key: BlsKey,
        /// The registry version receiving it.
        version: u64,
        /// Its configuration.
        config: Arc<DkgConfig>,
    },
    /// Both keys are reshared (see [`BlsReshares::reshared`]).
    Reshared(Reshared),
}

/// Both keys reshared to the members of a registry version.
#[derive(Clone, Debug)]
pub struct Reshared {
    /// The registry version.
    pub version: u64,
    /// The new public polynomials (same public keys).
    pub keys: BlsKeys,
    /// The transcripts each new member decrypts its shares from.
    pub transcripts: BTreeMap<BlsKey, Arc<Transcript>>,
}

/// The reshares of the subnet's threshold BLS keys, derived from blocks.
#[derive(Clone, Debug)]
pub struct BlsReshares {
    /// The keys the current members hold shares of.
    current: BlsKeys,
    /// How many members hold shares of the current keys.
    holders: usize,
    /// The registry version being reshared to, and its reshares.
    open: Option<(u64, BTreeMap<BlsKey, Reshare>)>,
    /// The last completed reshare.
    reshared: Option<Reshared>,
    /// The reshare whose keys are in force (none: the genesis keys).
    in_force: Option<Reshared>,
}

impl BlsReshares {
    /// Keys `current`, held by `holders` members (share indices 1 to `holders`).
    pub fn new(current: BlsKeys, holders: usize) -> Self {
        BlsReshares {
            current,
            holders,
            open: None,
            reshared: None,
            in_force: None,
        }
    }

    /// The last completed reshare takes over: its keys are the current
    /// ones, held by its `holders` members (it stays readable as
    /// [`Self::in_force`], for members decrypting their shares after a
    /// restart, even once the next reshare completes).
    pub fn start_epoch(&mut self, holders: usize) {
        if let Some(reshared) = &self.reshared {
            self.current = reshared.keys.clone();
            self.holders = holders;
            self.open = None;
            self.in_force = Some(reshared.clone());
        }
    }

    /// The reshare whose keys are in force (none: the genesis keys).
    pub fn in_force(&self) -> Option<&Reshared> {
        self.in_force.as_ref()
    }

    /// The keys the current members hold shares of.
    pub fn current(&self) -> &BlsKeys {
        &self.current
    }

    /// The last completed reshare.
    pub fn reshared(&self) -> Option<&Reshared> {
        self.reshared.as_ref()
    }

    /// Opens the reshares of both keys to the members of `record` (in the
    /// order of their ids, receiver p getting share index p + 1), dropping
    /// any reshare to an older record still in the making.
    pub fn open(&mut self, record: &Membership) -> Vec<BlsChange> {
        let receivers = record.dkg_keys();
        let mut reshares = BTreeMap::new();
        let mut changes = Vec::new();
        for key in BlsKey::ALL {
            let id = dkg_id(key, record.version);
            let config = DkgConfig::resharing(
                &id,
                receivers.clone(),
                key.threshold(receivers.len()),
                self.current.get(key),
                self.holders,
            );
            match config {
                Ok(config) => {
                    let config = Arc::new(config);
                    reshares.insert(
                        key,
                        Reshare {
                            config: Arc::clone(&config),
                            dealings: BTreeMap::new(),
                            transcript: None,
                        },
                    );
                    changes.push(BlsChange::Opened {
                        key,
                        version: record.version,
                        config,
                    });
                }
                Err(error) => {
                    tracing::error!(?key, %error, "cannot open a BLS reshare");
                    return Vec::new();
                }
            }
        }
        self.open = Some((record.version, reshares));
        changes
    }

    /// The configuration of the open reshare of `key` to `version`.
    pub fn open_config(&self, key: BlsKey, version: u64) -> Option<&Arc<DkgConfig>> {
        let (open_version, reshares) = self.open.as_ref()?;
        let reshare = reshares.get(&key)?;
        (*open_version == version && reshare.transcript.is_none()).then_some(&reshare.config)
    }

    /// Checks that a dealing fits this state (without verifying it): its
    /// reshare is open, and its dealer holds a share and has not dealt.
    ///
    /// # Errors
    /// [`BlsDealingError::NotOpen`], [`BlsDealingError::Dealer`].
    pub fn check(&self, item: &BlsDealing) -> Result<&Arc<DkgConfig>, BlsDealingError> {
        let config = self
            .open_config(item.key, item.version)
            .ok_or(BlsDealingError::NotOpen)?;
        let (_, reshares) = self.open.as_ref().expect("open");
        let reshare = &reshares[&item.key];
        let enough = reshare.dealings.len() >= config.min_dealings();
        let holder = item.dealer >= 1 && item.dealer as usize <= self.holders;
        if enough || !holder || reshare.dealings.contains_key(&item.dealer) {
            return Err(BlsDealingError::Dealer);
        }
        Ok(config)
    }

    /// Checks and verifies a block's dealing against this state.
    ///
    /// # Errors
    /// [`BlsDealingError`].
    pub fn verify(&self, item: &BlsDealing) -> Result<VerifiedDealing, BlsDealingError> {
        let config = self.check(item)?;
        let dealing = Dealing::from_bytes(&item.dealing, config)?;
        Ok(verify_dealing(config, item.dealer, dealing)?)
    }

    /// Applies a verified dealing of `item` (from a validated block); once
    /// both keys have enough, they are reshared.
    pub fn apply(&mut self, item: &BlsDealing, verified: VerifiedDealing) -> Vec<BlsChange> {
        let Some((version, reshares)) = self.open.as_mut() else {
            return Vec::new();
        };
        let Some(reshare) = reshares.get_mut(&item.key) else {
            return Vec::new();
        };
        if *version != item.version
            || reshare.transcript.is_some()
            || reshare.dealings.len() >= reshare.config.min_dealings()
        {
            return Vec::new();
        }
        reshare.dealings.insert(item.dealer, verified);
        if reshare.dealings.len() == reshare.config.min_dealings() {
            let dealings = reshare.dealings.values().cloned().collect();
            match Transcript::create(&reshare.config, dealings) {
                Ok(transcript) => reshare.transcript = Some(Arc::new(transcript)),
                Err(error) => {
                    tracing::error!(key = ?item.key, %error, "a BLS reshare did not combine")
                }
            }
        }
        let transcripts: Option<BTreeMap<BlsKey, Arc<Transcript>>> = reshares
            .iter()
            .map(|(key, reshare)| reshare.transcript.clone().map(|t| (*key, t)))
            .collect();
        let Some(transcripts) = transcripts else {
            return Vec::new();
        };
        let keys = BlsKeys {
            beacon: transcripts[&BlsKey::Beacon].commitment().clone(),
            certification: transcripts[&BlsKey::Certification].commitment().clone(),
        };
        let reshared = Reshared {
            version: *version,
            keys,
            transcripts,
        };
        self.open = None;
        self.reshared = Some(reshared.clone());
        vec![BlsChange::Reshared(reshared)]
    }

    /// The reshares still taking dealings: key, registry version, configuration.
    pub fn open_reshares(&self) -> Vec<(BlsKey, u64, Arc<DkgConfig>)> {
        let Some((version, reshares)) = &self.open else {
            return Vec::new();
        };
        reshares
            .iter()
            .filter(|(_, reshare)| reshare.transcript.is_none())
            .map(|(key, reshare)| (*key, *version, Arc::clone(&reshare.config)))
            .collect()
    }
}

/// The NIDKG id of the reshare of `key` to the record of `version`.
fn dkg_id(key: BlsKey, version: u64) -> Vec<u8> {
    let name: &[u8] = match key {
        BlsKey::Beacon => b"beacon",
        BlsKey::Certification => b"certification",
    };
    [
        b"chainkey reshare ".as_slice(),
        name,
        &version.to_be_bytes(),
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainkey_crypto::nidkg::EncryptionSecretKey;
    use chainkey_crypto::threshold::SecretKeyShare;

    /// A 4-node subnet's keys dealt by a trusted dealer, with every share.
    fn genesis() -> (BlsKeys, BTreeMap<BlsKey, Vec<SecretKeyShare>>) {
        let mut rng = rand::thread_rng();
        let mut shares = BTreeMap::new();
        let mut commitments = Vec::new();
        for key in BlsKey::ALL {
            let (commitment, dealt) =
                chainkey_crypto::threshold::deal::<MinSig, _>(key.threshold(4), 4, &mut rng)
                    .unwrap();
            commitments.push(commitment);
            shares.insert(key, dealt);
        }
        let certification = commitments.pop().unwrap();
        let beacon = commitments.pop().unwrap();
        (
            BlsKeys {
                beacon,
                certification,
            },
            shares,
        )
    }

    /// A record of 5 members whose DKG keys are `keys`.
    fn record(keys: &[EncryptionSecretKey]) -> Membership {
        let mut rng = rand::thread_rng();
        let members = keys
            .iter()
            .enumerate()
            .map(|(id, key)| {
                let mut peer = crate::registry::node_record::test_peer(id as u32);
                let context =
                    crate::registry::node_record::dkg_possession_context(&peer.public_key);
                peer.dkg_key = hex::encode(key.public_key().to_bytes());
                peer.dkg_possession =
                    hex::encode(key.prove_possession(&context, &mut rng).to_bytes());
                (id as u32, peer)
            })
            .collect();
        Membership::decode(&crate::registry::governance::SubnetRecord {
            version: 2,
            members,
        })
        .unwrap()
    }

    #[test]
    fn both_keys_are_reshared_to_the_new_members_with_the_same_public_keys() {
        let (keys, shares) = genesis();
        let mut rng = rand::thread_rng();
        let dkg_keys: Vec<EncryptionSecretKey> = (0..5)
            .map(|_| EncryptionSecretKey::generate(&mut rng))
            .collect();
        let mut reshares = BlsReshares::new(keys.clone(), 4);
        let opened = reshares.open(&record(&dkg_keys));
        assert_eq!(opened.len(), 2);
        let mut done = Vec::new();
        for change in opened {
            let BlsChange::Opened {
                key,
                version,
                config,
            } = change
            else {
                panic!("{change:?}");
            };
            assert_eq!(config.threshold(), key.threshold(5));
            // Every old member deals its share; once the old threshold of
            // dealings made the key's transcript, more are refused.
            for share in &shares[&key] {
                let item = BlsDealing {
                    key,
                    version,
                    dealer: share.index(),
                    dealing: Dealing::reshare(&config, share, &mut rng)
                        .unwrap()
                        .to_bytes(),
                };
                match reshares.verify(&item) {
                    Ok(verified) => done.extend(reshares.apply(&item, verified)),
                    Err(error) => assert_eq!(error, BlsDealingError::NotOpen),
                }
            }
        }
        let [BlsChange::Reshared(Reshared {
            version,
            keys: new_keys,
            transcripts,
        })] = done.as_slice()
        else {
            panic!("{done:?}");
        };
        assert_eq!(*version, 2);
        assert_eq!(reshares.reshared().map(|r| &r.keys), Some(new_keys));
        for key in BlsKey::ALL {
            assert_eq!(new_keys.get(key).public_key(), keys.get(key).public_key());
            assert_eq!(new_keys.get(key).threshold(), key.threshold(5));
            // The new member (position 4) decrypts a share on the new polynomial.
            let share = transcripts[&key].decrypt_share(4, &dkg_keys[4]).unwrap();
            assert_eq!(share.index(), 5);
        }
    }

    #[test]
    fn dealings_for_another_version_or_by_a_non_holder_or_forged_are_refused() {
        let (keys, shares) = genesis();
        let mut rng = rand::thread_rng();
        let dkg_keys: Vec<EncryptionSecretKey> = (0..5)
            .map(|_| EncryptionSecretKey::generate(&mut rng))
            .collect();
        let mut reshares = BlsReshares::new(keys, 4);
        reshares.open(&record(&dkg_keys));
        let config = Arc::clone(reshares.open_config(BlsKey::Beacon, 2).unwrap());
        let honest = BlsDealing {
            key: BlsKey::Beacon,
            version: 2,
            dealer: 1,
            dealing: Dealing::reshare(&config, &shares[&BlsKey::Beacon][0], &mut rng)
                .unwrap()
                .to_bytes(),
        };
        assert!(reshares.verify(&honest).is_ok());
        let other_version = BlsDealing {
            version: 3,
            ..honest.clone()
        };
        assert_eq!(
            reshares.verify(&other_version).err(),
            Some(BlsDealingError::NotOpen)
        );
        // Share 1's dealing claimed by dealer 2: bound to the old polynomial at 1.
        let claimed = BlsDealing {
            dealer: 2,
            ..honest.clone()
        };
        assert!(matches!(
            reshares.verify(&claimed),
            Err(BlsDealingError::Invalid(_))
        ));
        let outsider = BlsDealing {
            dealer: 5,
            ..honest.clone()
        };
        assert_eq!(
            reshares.verify(&outsider).err(),
            Some(BlsDealingError::Dealer)
        );
        let verified = reshares.verify(&honest).unwrap();
        assert!(reshares.apply(&honest, verified).is_empty());
        assert_eq!(
            reshares.verify(&honest).err(),
            Some(BlsDealingError::Dealer),
            "twice"
        );
    }
}
