//! Finalized blocks, from consensus to the store, execution and
//! certification.
//!
//! A finalized block is stored first (with its ingress ids, and as the
//! point to resume from), then sent to the execution thread in height
//! order once the next height's beacon exists (execution pairs signing
//! requests with it). Executed heights come back with their state: the
//! node signs its root for certification, and adopts the subnet records
//! governance made.

use std::sync::Arc;
use std::time::Instant;

use chainkey_consensus::{FinalizedBlock, Hash, Height};

use super::{Node, NodeError};
use crate::certification::Certified;
use crate::chain_key::signer;
use crate::execution::service::{self, Executed};
use crate::ingress::expiries;
use crate::net::wire::Message;

/// The execution thread's inbox and how far it got.
pub(super) struct ExecutionFeed {
    /// Finalized blocks go to the execution thread, in order.
    pub sender: std::sync::mpsc::Sender<service::Block>,
    /// Heights sent to execution so far.
    pub sent: Height,
    /// The last height executed.
    pub executed: Height,
}

impl Node {
    /// Signs an executed height's state root and shares the signature.
    pub(super) fn on_executed(&mut self, mut executed: Executed) {
        self.stats
            .executed(executed.height, &executed.digest, executed.calls);
        self.feed.executed = executed.height;
        self.hold_proposals_while_execution_lags();
        // Only presignatures still ready: a lagging node's execution pairs
        // what the subnet may already have signed with and used.
        let ready = self.consensus.payloads_mut().chain_key.state().ready();
        for job in std::mem::take(&mut executed.sign_jobs) {
            if ready.contains_key(&job.presignature) {
                self.signer.send(signer::Command::Sign(job));
            }
        }
        let chain_key = &mut self.consensus.payloads_mut().chain_key;
        let governance = &executed.state.governance;
        for version in chain_key.adopted_version() + 1..=governance.subnet().version {
            if let Some(record) = governance.record(version) {
                tracing::info!(
                    node = self.me,
                    version,
                    "governance adopted a subnet record"
                );
                chain_key.adopt(record.clone());
            }
        }
        self.shared
            .executed
            .send_replace(Some(Arc::clone(&executed.state)));
        let (share, certified) = self.certifier.on_executed(executed);
        if let Some(share) = share {
            let frame = Arc::new(Message::CertificationShare(share).to_frame());
            self.peers.transport.broadcast(frame);
        }
        if let Some(certified) = certified {
            self.publish(certified);
        }
    }

    pub(super) fn publish(&mut self, certified: Certified) {
        self.stats.certified_height = certified.height;
        self.shared
            .certified
            .send_replace(Some(Arc::new(certified)));
    }

    /// Sends the finalized blocks after the last one sent to execution,
    /// as far as the store has them without a gap — and no further than
    /// consensus has finalized (after a restart, stored blocks above the
    /// resume point are finalized again before they are executed, so the
    /// chain-key state never runs ahead of the blocks being judged).
    /// A block waits for the next height's beacon (execution pairs signing
    /// requests with it), which nodes make as soon as the block is notarized.
    pub(super) fn feed_execution(&mut self) -> Result<(), NodeError> {
        while self.feed.sent < self.consensus.finalized_height() {
            let height = self.feed.sent + 1;
            let Some(next_beacon) = self.next_beacon(height)? else {
                break;
            };
            let Some(block) = self.durable.store.finalized(height)? else {
                break;
            };
            self.execute(&block, next_beacon);
        }
        Ok(())
    }

    /// The beacon value of the height after `height`: from consensus, or
    /// (for blocks executed again after a restart) the stored next block.
    pub(super) fn next_beacon(&self, height: Height) -> Result<Option<Hash>, NodeError> {
        if let Some(beacon) = self.consensus.beacon_value(height + 1) {
            return Ok(Some(beacon));
        }
        if height + 1 > self.consensus.finalized_height() {
            return Ok(None);
        }
        Ok(self
            .durable
            .store
            .finalized(height + 1)?
            .map(|next| next.block.beacon))
    }

    /// Sends the next block to execution (applying its chain-key items
    /// first if consensus has not: blocks a catch-up package jumped over).
    pub(super) fn execute(&mut self, block: &FinalizedBlock, next_beacon: Hash) {
        let height = block.block.height;
        let payloads = self.consensus.payloads_mut();
        let calls = payloads.take_calls(&block.block.payload);
        let chain_key = &mut payloads.chain_key;
        chain_key.on_finalized(height, &block.block.payload);
        let next = service::Block {
            height,
            time_ns: block.block.time_ns,
            hash: block.hash.0,
            next_beacon: next_beacon.0,
            calls,
            chain_key: chain_key.take_events(height),
            query_stats: crate::query_stats::reported(&block.block.payload),
        };
        // Fails only once the execution thread ended: the node is stopping.
        if self.feed.sender.send(next).is_ok() {
            self.feed.sent = block.block.height;
        }
    }

    /// Stores a finalized block (as the point to resume from), then executes it (once).
    pub(super) fn deliver(&mut self, block: FinalizedBlock) -> Result<(), NodeError> {
        let height = block.block.height;
        let ingress = expiries(&block.block.payload);
        let new = match self.consensus.beacon(height) {
            Some(beacon) => {
                let proof = self.consensus.finality_proof(height);
                self.durable
                    .store
                    .put_resume_point(&block, beacon, proof.as_ref(), &ingress)?
            }
            None => self
                .durable
                .store
                .put_finalized(std::slice::from_ref(&block), &ingress)?,
        };
        if new == 0 {
            return self.feed_execution(); // stored before a restart
        }
        match self.consensus.beacon_value(height + 1) {
            Some(next_beacon) if height == self.feed.sent + 1 => self.execute(&block, next_beacon),
            _ => self.feed_execution()?,
        }
        let messages = ingress.len() as u64;
        self.shared.metrics.ingress_finalized.inc_by(messages);
        self.shared.metrics.finalized_height.set(height as i64);
        if let Some(latency) = self.stats.finalized(height, messages, Instant::now()) {
            self.shared.metrics.finalization_latency.observe(latency);
        }
        Ok(())
    }
}
