//! The link between consensus and the chain-key signer thread.
//!
//! Finalized blocks change the chain-key state (transcripts open and
//! complete, presignatures become ready, signatures are made, keys pass to
//! a new membership); those changes go to the signer, which deals,
//! verifies and signs off the event loop. Peers' dealings go to it too,
//! once per peer and transcript, and wait here (bounded) while their
//! transcript is not open yet. What goes where is decided by the pure
//! functions below; the [`Node`] methods at the end send it.

use std::collections::HashSet;
use std::sync::Arc;

use chainkey_consensus::NodeId;
use chainkey_crypto::nidkg::DkgConfig;

use super::{Node, NodeError};
use crate::chain_key::bls::{BlsChange, BlsKey};
use crate::chain_key::pool::PooledDealing;
use crate::chain_key::state::{ChainKeyState, Change};
use crate::chain_key::{signer, ChainKeyMessage, SignedDealing, TranscriptRef};
use crate::net::wire::Message;
use crate::peer_buffer::{PeerBudget, PeerBuffer};

/// What one peer's dealings kept until their transcript opens here may
/// take (a few pools' worth of presignature dealings).
const EARLY_DEALINGS: PeerBudget = PeerBudget {
    items: 1024,
    bytes: 16 << 20,
};
/// (peer, transcript) pairs remembered as sent to the signer, at most.
const MAX_FORWARDED: usize = 100_000;

/// The chain-key signer thread, and peers' dealings on their way to it.
pub(super) struct SignerLink {
    inbox: signer::Inbox,
    /// The registry version whose setup the signer works with (1: genesis).
    epoch: u64,
    /// Peers' dealings for transcripts not open here yet (we lag a little).
    early_dealings: PeerBuffer<SignedDealing>,
    /// The (peer, transcript) pairs whose dealing went to the signer: one each.
    forwarded: HashSet<(NodeId, TranscriptRef)>,
}

impl SignerLink {
    /// The link to a signer working with the genesis setup.
    pub fn new(inbox: signer::Inbox) -> Self {
        SignerLink {
            inbox,
            epoch: 1,
            early_dealings: PeerBuffer::new(EARLY_DEALINGS),
            forwarded: HashSet::new(),
        }
    }

    /// Sends the signer a command: whether it went (a peer's goes only
    /// within its budget, [`signer::PEER_QUEUE`]).
    pub fn send(&self, command: signer::Command) -> bool {
        self.inbox.send(command)
    }

    /// Admits `from`'s dealing: returned when it goes to the signer now
    /// (its transcript `is_open`, and no dealing of `from` for it went
    /// before); kept for later when its transcript is not open yet (within
    /// the peer's budget, [`EARLY_DEALINGS`]: its oldest go first).
    pub fn admit(
        &mut self,
        from: NodeId,
        signed: SignedDealing,
        is_open: bool,
    ) -> Option<SignedDealing> {
        if !is_open {
            let bytes = signed.dealing.len() + signed.signature.len();
            self.early_dealings.push(from, bytes, signed);
            return None;
        }
        if self.forwarded.len() >= MAX_FORWARDED {
            self.forwarded.clear();
        }
        self.forwarded
            .insert((from, signed.transcript))
            .then_some(signed)
    }

    /// The dealings kept while their transcripts were not open, oldest first.
    pub fn take_early(&mut self) -> Vec<(NodeId, SignedDealing)> {
        self.early_dealings.take()
    }
}

/// One thing to do with a chain-key change, in the order of the changes.
#[derive(Debug)]
pub enum Step {
    /// Send it to the signer.
    ToSigner(Change),
    /// A new membership took over at this registry version: hold its BLS key shares.
    TakeUpShares(u64),
    /// Deal this node's share of a BLS key to the members of a version.
    DealBls(BlsKey, u64, Arc<DkgConfig>),
    /// The BLS keys were reshared: decrypt this node's new shares.
    OpenReshared,
}

/// What to do with the chain-key changes of newly finalized blocks.
#[derive(Debug, Default)]
pub struct Routed {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Signatures finalized among the changes.
    pub signatures: u64,
    /// A new membership took over: the signer starts over with its setup
    /// and is told what the state holds (covering the changes not sent).
    pub resync_signer: bool,
    /// A transcript opened: dealings kept for it may go now.
    pub retry_early_dealings: bool,
}

/// Routes chain-key changes: BLS reshares to this node's key shares,
/// everything else to the signer — except after a membership took over,
/// when the signer is resynchronised instead.
pub fn route(changes: Vec<Change>) -> Routed {
    let mut routed = Routed::default();
    for change in changes {
        match change {
            Change::EpochStarted { version, .. } => {
                routed.steps.push(Step::TakeUpShares(version));
                routed.resync_signer = true;
                continue;
            }
            Change::Bls(BlsChange::Opened {
                key,
                version,
                config,
            }) => {
                routed.steps.push(Step::DealBls(key, version, config));
                continue;
            }
            Change::Bls(BlsChange::Reshared(_)) => {
                routed.steps.push(Step::OpenReshared);
                continue;
            }
            Change::Opened { .. } => routed.retry_early_dealings = true,
            Change::Signed(_) => routed.signatures += 1,
            _ => {}
        }
        if !routed.resync_signer {
            routed.steps.push(Step::ToSigner(change));
        }
    }
    routed
}

/// What a fresh signer must be told of `state`: the master key, the
/// completed transcripts, the open ones to deal into, and the ready
/// presignatures (with the transcripts it opens their shares from).
pub fn resync_changes(state: &ChainKeyState) -> Vec<Change> {
    let mut changes = Vec::new();
    if let Some(key) = state.key() {
        changes.push(Change::Completed(TranscriptRef::Key, Arc::clone(key)));
        changes.push(Change::KeyReady(Arc::clone(key)));
    }
    for (transcript, slot) in state.slots() {
        if let Some(complete) = &slot.transcript {
            changes.push(Change::Completed(*transcript, Arc::clone(complete)));
        }
    }
    for (transcript, slot) in state.slots() {
        if slot.is_open() {
            changes.push(Change::Opened {
                transcript: *transcript,
                params: Arc::clone(&slot.params),
                sources: slot.sources.clone(),
            });
        }
    }
    for (i, presignature) in state.ready() {
        // The state keeps no slots for them: the signer opens its shares
        // from the presignature's own transcripts.
        let parts = [
            TranscriptRef::Lambda(*i),
            TranscriptRef::KappaTimesLambda(*i),
            TranscriptRef::KeyTimesLambda(*i),
        ];
        for (part, transcript) in parts.into_iter().zip(presignature.masked_transcripts()) {
            changes.push(Change::Completed(part, Arc::new(transcript.clone())));
        }
        changes.push(Change::PresignatureReady(*i, Arc::clone(presignature)));
    }
    changes
}

impl Node {
    /// Applies the stored finalized blocks the chain-key state lacks (after
    /// a restart it is rebuilt from genesis; after a catch-up package, the
    /// blocks below it arrive later), up to consensus's finalized height.
    /// Execution's events for heights it already executed are dropped.
    /// Whether any block was applied (then the signer needs a resync).
    pub(super) fn catch_up_chain_key(&mut self) -> Result<bool, NodeError> {
        let finalized = self.consensus.finalized_height();
        let mut applied = false;
        loop {
            let pool = &mut self.consensus.payloads_mut().chain_key;
            let next = pool.state().height() + 1;
            if next > finalized {
                break;
            }
            let Some(block) = self.durable.store.finalized(next)? else {
                break; // a gap: filled from peers later
            };
            pool.on_finalized(next, &block.block.payload);
            if next <= self.feed.sent {
                pool.take_events(next);
            }
            // The signer is told the state as it ends (`resync_signer`),
            // not every change on the way.
            pool.take_changes();
            applied = true;
        }
        Ok(applied)
    }

    /// Tells a fresh signer what the chain-key state holds (see [`resync_changes`]).
    pub(super) fn resync_signer(&mut self) {
        let pool = &mut self.consensus.payloads_mut().chain_key;
        pool.take_changes();
        let state = pool.state();
        if state.epoch().version != self.signer.epoch {
            self.signer.epoch = state.epoch().version;
            self.signer
                .send(signer::Command::NewEpoch(state.setup().clone()));
        }
        for change in resync_changes(state) {
            self.signer.send(signer::Command::Chain(change));
        }
    }

    /// Sends the chain-key changes of newly finalized blocks where [`route`]
    /// says, then the peers' dealings that were waiting for a transcript.
    pub(super) fn forward_chain_key_changes(&mut self) {
        let changes = self.consensus.payloads_mut().chain_key.take_changes();
        if changes.is_empty() {
            return;
        }
        let routed = route(changes);
        self.stats.signatures_finalized += routed.signatures;
        for step in routed.steps {
            match step {
                Step::ToSigner(change) => {
                    self.signer.send(signer::Command::Chain(change));
                }
                Step::TakeUpShares(version) => {
                    tracing::info!(
                        node = self.me,
                        version,
                        "the subnet's new membership took over the keys"
                    );
                    self.take_up_bls_shares(version);
                }
                Step::DealBls(key, version, config) => self.deal_bls(key, version, &config),
                Step::OpenReshared => self.open_bls_shares(),
            }
        }
        if routed.resync_signer {
            self.resync_signer();
        }
        if routed.retry_early_dealings {
            for (from, signed) in self.signer.take_early() {
                self.on_dealing(from, signed);
            }
        }
    }

    /// A peer's chain-key message: its dealing as [`Node::on_dealing`]
    /// says, the rest to the signer (which verifies them off the loop).
    pub(super) fn on_chain_key_message(&mut self, from: NodeId, message: ChainKeyMessage) {
        let command = match message {
            ChainKeyMessage::Dealing(signed) => return self.on_dealing(from, signed),
            ChainKeyMessage::Complaint {
                transcript,
                complaint,
            } => signer::Command::Complaint {
                from,
                transcript,
                bytes: complaint,
            },
            ChainKeyMessage::Opening {
                transcript,
                opening,
            } => signer::Command::Opening {
                from,
                transcript,
                bytes: opening,
            },
            ChainKeyMessage::SignatureShare {
                presignature,
                share,
            } => signer::Command::Share {
                from,
                presignature,
                bytes: share,
            },
        };
        if !self.signer.send(command) {
            self.shared
                .metrics
                .dropped_frames
                .with_label_values(&[from.to_string().as_str(), "signer_over_budget"])
                .inc();
        }
    }

    /// A peer's dealing: to the signer if [`SignerLink::admit`] says so.
    pub(super) fn on_dealing(&mut self, from: NodeId, signed: SignedDealing) {
        let state = self.consensus.payloads().chain_key.state();
        let params = state.open_params(&signed.transcript).cloned();
        if let Some(signed) = self.signer.admit(from, signed, params.is_some()) {
            let params = params.expect("admitted only when open");
            self.signer.send(signer::Command::Verify {
                from,
                signed,
                params,
            });
        }
    }

    /// What the signer produced.
    pub(super) fn on_signer(&mut self, output: signer::Output) {
        match output {
            signer::Output::Dealing {
                signed,
                dealing,
                own,
            } => {
                if own {
                    let message = ChainKeyMessage::Dealing(signed.clone());
                    let frame = Arc::new(Message::ChainKey(message).to_frame());
                    self.peers.transport.broadcast(frame);
                }
                self.consensus
                    .payloads_mut()
                    .chain_key
                    .add_dealing(PooledDealing { signed, dealing });
            }
            signer::Output::Share {
                presignature,
                bytes,
            } => {
                let message = ChainKeyMessage::SignatureShare {
                    presignature,
                    share: bytes,
                };
                self.peers
                    .transport
                    .broadcast(Arc::new(Message::ChainKey(message).to_frame()));
            }
            signer::Output::Signature(item) => {
                self.consensus.payloads_mut().chain_key.add_signature(item);
            }
            signer::Output::Rebuilt(transcript) => {
                tracing::info!(?transcript, "chain-key share rebuilt from openings");
                self.stats.shares_rebuilt += 1;
            }
            signer::Output::Complaint { transcript, bytes } => {
                let message = ChainKeyMessage::Complaint {
                    transcript,
                    complaint: bytes,
                };
                self.peers
                    .transport
                    .broadcast(Arc::new(Message::ChainKey(message).to_frame()));
            }
            signer::Output::Opening {
                to,
                transcript,
                bytes,
            } => {
                let message = ChainKeyMessage::Opening {
                    transcript,
                    opening: bytes,
                };
                self.peers
                    .transport
                    .send(to, Arc::new(Message::ChainKey(message).to_frame()));
            }
            signer::Output::Invalid { node, kind } => {
                let count = self.stats.chain_key_invalid.entry(node).or_default();
                *count += 1;
                // A log line for the first and then every thousandth: a
                // faulty peer must not fill the log (the metric counts all).
                if *count % 1000 == 1 {
                    tracing::warn!(culprit = node, kind, count, "invalid chain-key artifact");
                }
                self.shared
                    .metrics
                    .chain_key_invalid
                    .with_label_values(&[node.to_string().as_str(), kind])
                    .inc();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain_key::{SignJob, SignatureItem};

    fn dealing(transcript: TranscriptRef) -> SignedDealing {
        SignedDealing {
            transcript,
            dealing: vec![1, 2, 3],
            signature: vec![4; 64],
        }
    }

    fn link() -> SignerLink {
        SignerLink::new(signer::Inbox::detached(std::sync::mpsc::channel().0))
    }

    #[test]
    fn a_peers_dealing_goes_to_the_signer_once_per_transcript() {
        let mut link = link();
        assert!(link
            .admit(1, dealing(TranscriptRef::Kappa(3)), true)
            .is_some());
        assert!(link
            .admit(1, dealing(TranscriptRef::Kappa(3)), true)
            .is_none());
        assert!(link
            .admit(2, dealing(TranscriptRef::Kappa(3)), true)
            .is_some());
        assert!(link
            .admit(1, dealing(TranscriptRef::Kappa(4)), true)
            .is_some());
    }

    #[test]
    fn dealings_for_transcripts_not_open_wait_within_each_peers_budget() {
        let mut link = link();
        for i in 0..EARLY_DEALINGS.items as u64 + 3 {
            assert!(link
                .admit(1, dealing(TranscriptRef::Kappa(i)), false)
                .is_none());
        }
        let early = link.take_early();
        assert_eq!(early.len(), EARLY_DEALINGS.items);
        assert_eq!(early[0].1.transcript, TranscriptRef::Kappa(3));
        assert!(link.take_early().is_empty());
    }

    fn signed(presignature: u64) -> Change {
        Change::Signed(SignatureItem {
            job: SignJob {
                presignature,
                caller: vec![],
                path: vec![],
                message_hash: [0; 32],
                randomness: [0; 32],
            },
            signature: vec![],
        })
    }

    #[test]
    fn after_a_membership_takes_over_the_signer_is_resynchronised_instead() {
        let routed = route(vec![
            signed(1),
            Change::EpochStarted {
                version: 2,
                retired: vec![7],
            },
            signed(2),
        ]);
        assert_eq!(routed.signatures, 2);
        assert!(routed.resync_signer);
        assert!(!routed.retry_early_dealings);
        assert!(matches!(
            routed.steps[..],
            [Step::ToSigner(Change::Signed(_)), Step::TakeUpShares(2)]
        ));
    }

    #[test]
    fn changes_go_to_the_signer_in_order() {
        let routed = route(vec![signed(1), signed(2)]);
        assert!(!routed.resync_signer);
        let presignatures: Vec<u64> = routed
            .steps
            .iter()
            .map(|step| match step {
                Step::ToSigner(Change::Signed(item)) => item.job.presignature,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(presignatures, [1, 2]);
    }
}
