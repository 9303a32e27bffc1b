//! This node's shares of the subnet's threshold BLS keys (random beacon
//! and state certification): which it holds, the ones it decrypted from a
//! reshare to the next membership, and dealing them again when the keys
//! are reshared. Secret material: never logged (`SecretKeyShare` zeroizes
//! on drop and has no Debug output of its value).

use std::collections::BTreeMap;
use std::sync::Arc;

use chainkey_consensus::NodeId;
use chainkey_crypto::nidkg::{EncryptionSecretKey, Transcript};
use chainkey_crypto::threshold::SecretKeyShare;

use super::Node;
use crate::chain_key::bls::{BlsDealing, BlsKey, Reshared};
use crate::registry::Membership;

/// This node's shares of the subnet's threshold BLS keys: it deals them
/// again when the keys are reshared to a new membership.
pub(super) struct BlsShares {
    /// The shares in force.
    shares: BTreeMap<BlsKey, SecretKeyShare>,
    /// Decrypts this node's shares of reshared BLS keys.
    dkg_key: EncryptionSecretKey,
    /// This node's shares of the last reshared BLS keys, by registry version.
    next: Option<(u64, BTreeMap<BlsKey, SecretKeyShare>)>,
    /// The registry version whose members' shares `shares` are.
    epoch: Option<u64>,
    /// The version of the reshare being decrypted off the event loop.
    decrypting: Option<u64>,
}

/// This node's shares of the keys reshared to a registry version.
pub(super) type Decrypted = (u64, BTreeMap<BlsKey, SecretKeyShare>);

/// Decrypting this node's shares of a reshare: NIDKG decryption may take
/// up to 2³⁰ group operations for a cheating dealer's chunks, so it runs
/// off the event loop ([`DecryptJob::run`]) and its result comes back
/// through [`BlsShares::decrypted`].
pub(super) struct DecryptJob {
    me: NodeId,
    version: u64,
    position: usize,
    dkg_key: EncryptionSecretKey,
    transcripts: Vec<(BlsKey, Arc<Transcript>)>,
}

impl DecryptJob {
    /// This node's shares of the reshare, with its version (none if a
    /// share does not decrypt).
    pub fn run(self) -> Option<Decrypted> {
        let shares: Result<BTreeMap<BlsKey, SecretKeyShare>, _> = self
            .transcripts
            .iter()
            .map(|(key, transcript)| {
                transcript
                    .decrypt_share(self.position, &self.dkg_key)
                    .map(|share| (*key, share))
            })
            .collect();
        match shares {
            Ok(shares) => Some((self.version, shares)),
            Err(error) => {
                tracing::error!(node = self.me, %error, "cannot decrypt a reshared BLS key share");
                None
            }
        }
    }
}

impl BlsShares {
    /// The genesis shares this node's secrets hold (none for a node that
    /// joined later).
    pub fn genesis(
        beacon: Option<SecretKeyShare>,
        certification: Option<SecretKeyShare>,
        dkg_key: EncryptionSecretKey,
    ) -> Self {
        let epoch = beacon.is_some().then_some(1);
        let shares = [
            (BlsKey::Beacon, beacon),
            (BlsKey::Certification, certification),
        ]
        .into_iter()
        .filter_map(|(key, share)| share.map(|share| (key, share)))
        .collect();
        BlsShares {
            shares,
            dkg_key,
            next: None,
            epoch,
            decrypting: None,
        }
    }

    /// This node's share of `key` in force, if it holds one.
    pub fn share(&self, key: BlsKey) -> Option<&SecretKeyShare> {
        self.shares.get(&key)
    }

    /// The registry version whose members' shares this node holds.
    pub fn epoch(&self) -> Option<u64> {
        self.epoch
    }

    /// The registry version of the reshared shares decrypted and not in force yet.
    pub fn next_version(&self) -> Option<u64> {
        self.next.as_ref().map(|(version, _)| *version)
    }

    /// Decrypting node `me`'s shares of the keys `reshared` made, if it
    /// is among the members of `record` (their receivers, in id order).
    fn job(&self, me: NodeId, reshared: &Reshared, record: &Membership) -> Option<DecryptJob> {
        Some(DecryptJob {
            me,
            version: reshared.version,
            position: record.position(me)?,
            dkg_key: self.dkg_key.clone(),
            transcripts: reshared
                .transcripts
                .iter()
                .map(|(key, transcript)| (*key, Arc::clone(transcript)))
                .collect(),
        })
    }

    /// What to decrypt of the last reshared keys, if `record` (the latest
    /// membership) is the one they were reshared to and their shares are
    /// neither decrypted nor being decrypted yet (the caller runs the job
    /// off the event loop, then hands the result to [`Self::decrypted`]).
    pub fn open(
        &mut self,
        me: NodeId,
        reshared: &Reshared,
        record: &Membership,
    ) -> Option<DecryptJob> {
        let version = reshared.version;
        if record.version != version
            || self.next_version() == Some(version)
            || self.decrypting == Some(version)
        {
            return None;
        }
        let job = self.job(me, reshared, record)?;
        self.decrypting = Some(version);
        Some(job)
    }

    /// This node's decrypted shares of the keys reshared to `version`.
    pub fn decrypted(
        &mut self,
        me: NodeId,
        version: u64,
        shares: BTreeMap<BlsKey, SecretKeyShare>,
    ) {
        if self.decrypting == Some(version) {
            self.decrypting = None;
        }
        // Shares of a version taken up meanwhile, or older, are not needed.
        if self.epoch.is_some_and(|epoch| epoch >= version)
            || self.next_version().is_some_and(|next| next >= version)
        {
            return;
        }
        tracing::info!(
            node = me,
            version,
            "decrypted this node's shares of the reshared BLS keys"
        );
        self.next = Some((version, shares));
    }

    /// The members of `epoch` took over: hold their shares — the ones
    /// decrypted ahead, or decrypted now from the reshare `in_force` to
    /// `record` — or none if node `me` is not one of them.
    pub fn take_up(
        &mut self,
        me: NodeId,
        epoch: u64,
        in_force: Option<&Reshared>,
        record: Option<&Membership>,
    ) {
        self.shares = match self.next.take() {
            Some((version, shares)) if version == epoch => shares,
            other => {
                self.next = other.filter(|(version, _)| *version > epoch);
                // Not decrypted ahead (a restart, or the job is still
                // running): the switch needs them now.
                in_force
                    .zip(record)
                    .filter(|(reshared, _)| reshared.version == epoch)
                    .and_then(|(reshared, record)| self.job(me, reshared, record))
                    .and_then(DecryptJob::run)
                    .map(|(_, shares)| shares)
                    .unwrap_or_default()
            }
        };
        self.epoch = (!self.shares.is_empty()).then_some(epoch);
    }
}

impl Node {
    /// Deals this node's share of `key` again, to the members of `version`.
    pub(super) fn deal_bls(
        &mut self,
        key: BlsKey,
        version: u64,
        config: &chainkey_crypto::nidkg::DkgConfig,
    ) {
        let Some(share) = self.bls.shares.get(&key) else {
            return;
        };
        match chainkey_crypto::nidkg::Dealing::reshare(config, share, &mut rand::thread_rng()) {
            Ok(dealing) => {
                tracing::info!(node = self.me, ?key, version, "dealt a BLS key reshare");
                self.consensus
                    .payloads_mut()
                    .chain_key
                    .add_bls_dealing(BlsDealing {
                        key,
                        version,
                        dealer: share.index(),
                        dealing: dealing.to_bytes(),
                    });
            }
            Err(error) => tracing::error!(node = self.me, ?key, %error, "cannot reshare a BLS key"),
        }
    }

    /// Decrypts this node's shares of the last reshared BLS keys off the
    /// event loop (see [`BlsShares::open`]); the result comes back
    /// through the node's channel of decrypted shares.
    pub(super) fn open_bls_shares(&mut self) {
        let state = self.consensus.payloads().chain_key.state();
        let (Some(reshared), Some(record)) = (
            state.bls().and_then(|bls| bls.reshared()),
            state.membership(),
        ) else {
            return;
        };
        if let Some(job) = self.bls.open(self.me, reshared, record) {
            let decrypted = self.bls_decrypted.clone();
            tokio::task::spawn_blocking(move || {
                if let Some(result) = job.run() {
                    let _ = decrypted.send(result);
                }
            });
        }
    }

    /// Holds the shares of the members of `epoch` (see [`BlsShares::take_up`]).
    pub(super) fn take_up_bls_shares(&mut self, epoch: u64) {
        let state = self.consensus.payloads().chain_key.state();
        let in_force = state.bls().and_then(|bls| bls.in_force());
        let record = state.epoch().record.as_deref();
        self.bls.take_up(self.me, epoch, in_force, record);
    }

    /// After a restart or a catch-up: deals into the BLS reshares still
    /// open, and opens this node's shares of the last completed one.
    pub(super) fn resync_bls(&mut self) {
        let state = self.consensus.payloads().chain_key.state();
        let open = state
            .bls()
            .map(|bls| bls.open_reshares())
            .unwrap_or_default();
        self.open_bls_shares();
        // Shares of the keys in force, if a membership took over since genesis.
        let epoch = self.consensus.payloads().chain_key.state().epoch().version;
        if epoch > 1 && self.bls.epoch() != Some(epoch) {
            self.take_up_bls_shares(epoch);
        }
        for (key, version, config) in open {
            self.deal_bls(key, version, &config);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainkey_crypto::SecretKey;

    fn shares(index: u32) -> BTreeMap<BlsKey, SecretKeyShare> {
        let share =
            || SecretKeyShare::new(index, SecretKey::generate(&mut rand::thread_rng())).unwrap();
        [(BlsKey::Beacon, share()), (BlsKey::Certification, share())].into()
    }

    fn holder() -> BlsShares {
        let genesis = shares(1);
        BlsShares::genesis(
            genesis.get(&BlsKey::Beacon).cloned(),
            genesis.get(&BlsKey::Certification).cloned(),
            EncryptionSecretKey::generate(&mut rand::thread_rng()),
        )
    }

    #[test]
    fn genesis_shares_are_of_version_one_and_a_joined_node_has_none() {
        assert_eq!(holder().epoch(), Some(1));
        let joined = BlsShares::genesis(
            None,
            None,
            EncryptionSecretKey::generate(&mut rand::thread_rng()),
        );
        assert_eq!(joined.epoch(), None);
        assert!(joined.share(BlsKey::Beacon).is_none());
    }

    #[test]
    fn shares_decrypted_ahead_are_taken_up_when_their_version_takes_over() {
        let mut holder = holder();
        holder.next = Some((2, shares(3)));
        holder.take_up(0, 2, None, None);
        assert_eq!(holder.epoch(), Some(2));
        assert_eq!(
            holder.share(BlsKey::Beacon).map(SecretKeyShare::index),
            Some(3)
        );
        assert_eq!(holder.next_version(), None);
    }

    #[test]
    fn shares_decrypted_off_the_event_loop_wait_for_their_version_unless_stale() {
        let mut holder = holder();
        holder.decrypting = Some(2);
        holder.decrypted(0, 2, shares(3));
        assert_eq!(holder.next_version(), Some(2));
        assert_eq!(holder.decrypting, None);
        // A late result for a version taken up meanwhile is dropped.
        holder.take_up(0, 2, None, None);
        holder.decrypted(0, 2, shares(4));
        assert_eq!(holder.next_version(), None);
        assert_eq!(
            holder.share(BlsKey::Beacon).map(SecretKeyShare::index),
            Some(3)
        );
    }

    #[test]
    fn a_node_without_shares_of_the_new_version_holds_none() {
        let mut holder = holder();
        holder.next = Some((5, shares(2)));
        holder.take_up(0, 3, None, None);
        assert_eq!(holder.epoch(), None);
        assert!(holder.share(BlsKey::Certification).is_none());
        // Shares of a later version stay for it; of an earlier one, they go.
        assert_eq!(holder.next_version(), Some(5));
        holder.take_up(0, 6, None, None);
        assert_eq!(holder.next_version(), None);
    }
}
