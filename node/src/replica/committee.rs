//! The consensus committee: which membership runs consensus, and the
//! switch to the next one.
//!
//! The chain-key state (in the block payloads) says when the keys pass to
//! a new membership and after which height it takes over. Up to that
//! height the old committee signs; above it, only the new one. A node
//! that sees peers' artifacts above the switch before it gets there keeps
//! them for its new committee and asks a peer for the catch-up package
//! that takes it across. The decisions are pure functions, tested below;
//! the [`Node`] methods at the end apply them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chainkey_consensus::{Artifact, BlsCrypto, Event, Height, NodeId};
use chainkey_crypto::batch::BatchVerifier;

use super::crypto::MeteredCrypto;
use super::{Node, NodeError};
use crate::chain_key::bls::BlsKey;
use crate::chain_key::state::ChainKeyState;
use crate::peer_buffer::{PeerBudget, PeerBuffer};
use crate::registry::Membership;

/// Finalized heights execution may lag behind before this node holds back
/// its block proposals (about a second of blocks): a subnet whose execution
/// cannot keep up slows its blocks instead of queueing an unbounded backlog.
pub const MAX_EXECUTION_LAG: Height = 16;

/// How often a node behind a membership switch asks for a catch-up package.
const CATCH_UP_REQUEST_INTERVAL: Duration = Duration::from_secs(1);

/// What one peer's artifacts above a coming membership switch may take.
const EARLY_ARTIFACTS: PeerBudget = PeerBudget {
    items: 2048,
    bytes: 32 << 20,
};

/// The consensus committee in force and what a new one is built from.
pub(super) struct Committee {
    /// The registry version whose members run consensus (1: genesis).
    pub epoch: u64,
    /// The consensus parameters of the current committee.
    pub config: chainkey_consensus::Config,
    /// Signs this node's proposals and shares (kept for a new committee).
    pub node_key: chainkey_crypto::SecretKey,
    /// Batches signature checks (kept for a new committee).
    pub verifier: Arc<BatchVerifier>,
    /// Peers' artifacts above a coming membership switch, for the new committee.
    early_artifacts: PeerBuffer<Artifact>,
    /// When this node last asked a peer past the switch for its catch-up package.
    last_catch_up_request: Option<Instant>,
    /// The registry versions (latest, in force) the transport last followed.
    followed: Option<(u64, u64)>,
}

impl Committee {
    /// The genesis committee (registry version 1).
    pub fn genesis(
        config: chainkey_consensus::Config,
        node_key: chainkey_crypto::SecretKey,
        verifier: Arc<BatchVerifier>,
    ) -> Self {
        Committee {
            epoch: 1,
            config,
            node_key,
            verifier,
            early_artifacts: PeerBuffer::new(EARLY_ARTIFACTS),
            last_catch_up_request: None,
            followed: None,
        }
    }

    /// Heights a lagging peer is helped across ([`chainkey_consensus::Config::window`]).
    pub fn window(&self) -> Height {
        self.config.window
    }

    /// The consensus parameters of a committee of `nodes`, with this
    /// subnet's timing.
    pub fn config_for(&self, nodes: usize) -> chainkey_consensus::Config {
        let mut config = chainkey_consensus::Config::new(nodes);
        config.delta = self.config.delta;
        config.epsilon = self.config.epsilon;
        config
    }

    /// Keeps `from`'s artifact above the switch for the next committee
    /// (within the peer's budget, [`EARLY_ARTIFACTS`]: its oldest go first). Returns the height to
    /// ask `from` a catch-up package for, when this node (finalized at
    /// `finalized`) is below the switch `after` and has not asked within
    /// [`CATCH_UP_REQUEST_INTERVAL`].
    pub fn hold_early(
        &mut self,
        from: NodeId,
        artifact: Artifact,
        after: Height,
        finalized: Height,
        now: Instant,
    ) -> Option<Height> {
        self.early_artifacts
            .push(from, artifact.byte_len(), artifact);
        let due = self
            .last_catch_up_request
            .is_none_or(|at| now.saturating_duration_since(at) >= CATCH_UP_REQUEST_INTERVAL);
        (finalized < after && due).then(|| {
            self.last_catch_up_request = Some(now);
            finalized + 1
        })
    }

    /// The artifacts kept for the next committee, oldest first.
    pub fn take_early(&mut self) -> Vec<(NodeId, Artifact)> {
        self.early_artifacts.take()
    }
}

/// The height after which a new membership runs consensus, once the
/// chain-key state knows it (artifacts above it belong to the new
/// committee), for a node whose committee is that of `committee_epoch`.
pub fn switch_height(state: &ChainKeyState, committee_epoch: u64) -> Option<Height> {
    let epoch = state.epoch();
    if epoch.version > committee_epoch {
        return Some(epoch.after);
    }
    state.switch_at()
}

/// Whether an artifact at `height` is not sent: anything above a coming
/// switch (the old committee does not sign there), and what this node
/// signed while its chain-key state (at `state_height`) lags its finalized
/// height (after a jump it cannot know yet whether a switch comes below).
pub fn withheld(
    height: Height,
    signed_by_me: bool,
    switch: Option<Height>,
    state_height: Height,
    finalized: Height,
) -> bool {
    switch.is_some_and(|after| height > after) || (signed_by_me && state_height < finalized)
}

/// How the transport's peers change to follow the membership.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PeerChanges {
    /// Ids to disconnect: in neither membership.
    pub leave: Vec<NodeId>,
    /// Ids to dial, in id order: in the latest record, with a certificate
    /// the transport does not pin for that id.
    pub join: Vec<NodeId>,
}

/// The peers to drop and dial for a transport pinning `pinned`
/// certificates by id (empty: none) on node `me`, given the latest subnet
/// record and the membership in force (which still runs consensus until
/// the switch, so its members stay connected until then).
pub fn peer_changes(
    pinned: &[Vec<u8>],
    me: NodeId,
    latest: &Membership,
    in_force: Option<&Membership>,
) -> PeerChanges {
    let member = |id: NodeId| {
        latest.members.contains_key(&id) || in_force.is_some_and(|m| m.members.contains_key(&id))
    };
    let leave = (0..pinned.len() as NodeId)
        .filter(|&id| id != me && !pinned[id as usize].is_empty() && !member(id))
        .collect();
    let join = latest
        .members
        .iter()
        .filter(|(&id, m)| id != me && pinned.get(id as usize) != Some(&m.certificate))
        .map(|(&id, _)| id)
        .collect();
    PeerChanges { leave, join }
}

/// Whether this node holds its block proposals: its execution is more
/// than [`MAX_EXECUTION_LAG`] finalized heights behind.
pub fn holds_proposals(finalized: Height, executed: Height) -> bool {
    finalized.saturating_sub(executed) > MAX_EXECUTION_LAG
}

impl Node {
    /// Holds this node's proposals while its execution lags (see [`holds_proposals`]).
    pub(super) fn hold_proposals_while_execution_lags(&mut self) {
        let hold = holds_proposals(self.consensus.finalized_height(), self.feed.executed);
        self.consensus.hold_proposals(hold);
    }

    /// The coming switch, if any (see [`switch_height`]).
    pub(super) fn committee_switch(&self) -> Option<Height> {
        switch_height(
            self.consensus.payloads().chain_key.state(),
            self.committee.epoch,
        )
    }

    /// Whether `artifact` is not sent (see [`withheld`]).
    pub(super) fn withheld(&self, artifact: &Artifact) -> bool {
        withheld(
            artifact.height(),
            artifact.signed_height(self.me).is_some(),
            self.committee_switch(),
            self.consensus.payloads().chain_key.state().height(),
            self.consensus.finalized_height(),
        )
    }

    /// A peer's artifact above the coming switch: peers are past it while
    /// this node is not there yet (it joined, or lags). Kept for the new
    /// committee; their catch-up package (checked against the beacon's
    /// public key, the same before and after) takes this node across.
    pub(super) fn hold_for_next_committee(&mut self, from: NodeId, artifact: Artifact) {
        let Some(after) = self.committee_switch() else {
            return;
        };
        let finalized = self.consensus.finalized_height();
        let ask = self
            .committee
            .hold_early(from, artifact, after, finalized, Instant::now());
        if let Some(height) = ask {
            let request = Artifact::CatchUpRequest { height };
            self.peers
                .transport
                .send(from, self.peers.dissemination.outgoing(request));
        }
    }

    /// Keeps the transport's peers those of the memberships in force and
    /// coming (see [`peer_changes`]): nodes that joined are dialled, nodes
    /// that left are disconnected and their certificates unpinned.
    pub(super) fn follow_membership(&mut self) {
        let state = self.consensus.payloads().chain_key.state();
        let Some(latest) = state.membership() else {
            return; // the configuration's nodes, as at genesis
        };
        let in_force = state.epoch().record.as_deref();
        // Once per change of either record, not at every step.
        let versions = (latest.version, in_force.map_or(1, |record| record.version));
        if self.committee.followed == Some(versions) {
            return;
        }
        self.committee.followed = Some(versions);
        let changes = peer_changes(
            &self.peers.transport.certificates(),
            self.me,
            latest,
            in_force,
        );
        for id in changes.leave {
            tracing::info!(
                node = self.me,
                peer = id,
                "disconnecting from a node that left"
            );
            self.peers.transport.remove_peer(id);
        }
        for id in changes.join {
            let member = &latest.members[&id];
            let added =
                self.peers
                    .transport
                    .add_peer(id, &member.address, member.certificate.clone());
            match added {
                Ok(()) => tracing::info!(node = self.me, peer = id, "connecting to a new member"),
                Err(error) => {
                    tracing::error!(node = self.me, peer = id, %error, "cannot connect to a new member");
                    return;
                }
            }
        }
        self.peers.nodes = self.peers.nodes.max(self.peers.transport.stats().len());
    }

    /// Once the chain keys passed to a new membership (at the end of block
    /// H), consensus goes on after the last finalized block (H, live) with
    /// its committee, thresholds and reshared beacon key, and certification
    /// after H with its certification key. A node not in it stops signing.
    pub(super) fn switch_committee_if_due(&mut self) -> Result<(), NodeError> {
        let in_force = Arc::clone(self.consensus.payloads().chain_key.state().epoch());
        if in_force.version == self.committee.epoch {
            return Ok(());
        }
        let (Some(record), Some(keys)) = (&in_force.record, &in_force.keys) else {
            return Ok(());
        };
        let (epoch, after) = (in_force.version, in_force.after);
        let committee = in_force.committee.clone();
        let finalized = self.consensus.finalized_height();
        let (Some(block), Some(beacon)) = (
            self.durable.store.finalized(finalized)?,
            self.consensus.beacon(finalized).cloned(),
        ) else {
            return Ok(()); // the block below the switch is not stored yet
        };
        self.committee.epoch = epoch;
        self.certifier.start_epoch(
            after,
            keys.certification.clone(),
            self.bls.share(BlsKey::Certification).cloned(),
        );
        let Some(beacon_share) = self.bls.share(BlsKey::Beacon).cloned() else {
            if record.members.contains_key(&self.me) {
                return Err(NodeError::MissingShares(epoch));
            }
            tracing::warn!(
                node = self.me,
                epoch,
                "this node is not a member any more: it stops"
            );
            return Err(NodeError::NotAMember(epoch));
        };
        let n = committee.len();
        let config = self.committee.config_for(n);
        let crypto = MeteredCrypto {
            inner: BlsCrypto::new(
                self.committee.node_key.clone(),
                beacon_share,
                Arc::new(chainkey_consensus::SubnetKeys {
                    committee,
                    beacon: keys.beacon.clone(),
                }),
                Arc::clone(&self.committee.verifier),
            ),
            metrics: self.shared.metrics.clone(),
            batches: self.stats.batch_log(),
        };
        self.committee.config = config.clone();
        // Where this node signed as a member of the old committee (its new
        // core forgets its own shares), it does not sign again.
        self.consensus.abstain_through(self.durable.signed_through);
        self.consensus
            .start_epoch(config, crypto, block.block, beacon);
        self.peers.nodes = n;
        tracing::info!(
            node = self.me,
            epoch,
            nodes = n,
            after,
            resumed_at = finalized,
            "a new committee runs consensus"
        );
        self.step(Event::Start)?;
        for (from, artifact) in self.committee.take_early() {
            self.step(Event::Artifact { from, artifact })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committee() -> Committee {
        let mut config = chainkey_consensus::Config::new(4);
        config.delta = 123;
        config.epsilon = 45;
        Committee::genesis(
            config,
            chainkey_crypto::SecretKey::generate(&mut rand::thread_rng()),
            Arc::new(BatchVerifier::new(Default::default())),
        )
    }

    fn artifact(height: Height) -> Artifact {
        Artifact::CatchUpRequest { height }
    }

    #[test]
    fn the_transport_follows_nodes_joining_leaving_and_coming_back() {
        use crate::registry::governance::SubnetRecord;
        use crate::registry::node_record::test_peer;
        let membership = |version, members: &[NodeId]| {
            let record = SubnetRecord {
                version,
                members: members.iter().map(|&id| (id, test_peer(id))).collect(),
            };
            Membership::decode(&record).unwrap()
        };
        let certificate = |id| hex::decode(test_peer(id).certificate).unwrap();
        let pinned: Vec<Vec<u8>> = (0..4).map(certificate).collect();
        let genesis = membership(1, &[0, 1, 2, 3]);
        // Node 4 joins: dialled at once (it takes part in the reshare).
        let joined = membership(2, &[0, 1, 2, 3, 4]);
        let changes = peer_changes(&pinned, 0, &joined, Some(&genesis));
        assert_eq!(
            changes,
            PeerChanges {
                leave: vec![],
                join: vec![4]
            }
        );
        // Node 3 leaves: kept while the membership in force has it.
        let left = membership(3, &[0, 1, 2]);
        assert_eq!(
            peer_changes(&pinned, 0, &left, Some(&genesis)),
            PeerChanges::default()
        );
        assert_eq!(
            peer_changes(&pinned, 0, &left, Some(&left)),
            PeerChanges {
                leave: vec![3],
                join: vec![]
            }
        );
        // Id 3 comes back as another node: its new certificate is dialled.
        let mut unpinned = pinned.clone();
        unpinned[3].clear();
        let mut back = membership(4, &[0, 1, 2, 3]);
        back.members.get_mut(&3).unwrap().certificate = b"another node".to_vec();
        assert_eq!(
            peer_changes(&unpinned, 0, &back, Some(&left)),
            PeerChanges {
                leave: vec![],
                join: vec![3]
            }
        );
        // Or replaced without leaving first.
        assert_eq!(
            peer_changes(&pinned, 0, &back, Some(&back)),
            PeerChanges {
                leave: vec![],
                join: vec![3]
            }
        );
        // This node itself is never dialled nor dropped.
        assert_eq!(
            peer_changes(&pinned, 3, &left, Some(&left)),
            PeerChanges::default()
        );
    }

    #[test]
    fn a_node_below_the_switch_asks_for_a_catch_up_package_once_a_second() {
        let mut committee = committee();
        let start = Instant::now();
        let ask = |committee: &mut Committee, at_ms: u64, finalized: Height| {
            committee.hold_early(
                2,
                artifact(60),
                50,
                finalized,
                start + Duration::from_millis(at_ms),
            )
        };
        assert_eq!(ask(&mut committee, 0, 40), Some(41));
        assert_eq!(ask(&mut committee, 500, 40), None);
        assert_eq!(ask(&mut committee, 1000, 45), Some(46));
        // At the switch, it needs no package: consensus takes it across.
        assert_eq!(ask(&mut committee, 5000, 50), None);
        assert_eq!(committee.take_early().len(), 4);
        assert!(committee.take_early().is_empty());
    }

    #[test]
    fn early_artifacts_are_bounded_per_peer_and_a_peers_oldest_go_first() {
        let mut committee = committee();
        let now = Instant::now();
        committee.hold_early(2, artifact(1), 0, 0, now);
        for height in 0..EARLY_ARTIFACTS.items as Height + 5 {
            committee.hold_early(1, artifact(height), 0, 0, now);
        }
        let kept = committee.take_early();
        assert_eq!(kept.len(), EARLY_ARTIFACTS.items + 1);
        assert_eq!(kept[0], (2, artifact(1)), "another peer's artifact stays");
        assert_eq!(kept[1].1.height(), 5);
    }

    #[test]
    fn nothing_above_the_switch_is_sent_nor_what_this_node_signed_while_lagging() {
        // Above the switch: withheld, signed or relayed.
        assert!(withheld(51, false, Some(50), 50, 50));
        assert!(!withheld(50, true, Some(50), 50, 50));
        // This node's own shares while its chain-key state lags a jump.
        assert!(withheld(40, true, None, 30, 40));
        assert!(!withheld(40, false, None, 30, 40));
        assert!(!withheld(40, true, None, 40, 40));
    }

    #[test]
    fn proposals_wait_while_execution_lags_more_than_the_limit() {
        assert!(!holds_proposals(100, 100 - MAX_EXECUTION_LAG));
        assert!(holds_proposals(100, 99 - MAX_EXECUTION_LAG));
        assert!(!holds_proposals(5, 10));
    }

    #[test]
    fn a_new_committee_keeps_the_subnet_timing() {
        let config = committee().config_for(7);
        assert_eq!(config.nodes, 7);
        assert_eq!((config.delta, config.epsilon), (123, 45));
    }
}
