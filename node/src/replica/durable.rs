//! What this node signed and finalized, made durable before it acts.
//!
//! Everything this node signs is stored before it is sent, so that after
//! a restart it never signs a conflicting artifact; relayed artifacts are
//! sent as often as consensus likes, ours are stored once. The latest
//! catch-up package is stored too, and what it makes obsolete pruned.

use std::collections::HashSet;
use std::time::Instant;

use chainkey_consensus::{Artifact, Hash, Height};

use super::{Node, NodeError};
use std::sync::Arc;

use crate::store::Store;

/// The store and what this node remembers about it.
pub(super) struct Durable {
    pub store: Arc<Store>,
    /// The highest height this node signed anything at.
    pub signed_through: Height,
    /// The height of the catch-up package stored.
    pub stored_catch_up: Height,
    /// Signed artifacts already stored, by height and content hash.
    pub recorded: HashSet<(Height, Hash)>,
}

/// Identifies a signed artifact: its height and a hash of its encoding.
pub(super) fn artifact_key(artifact: &Artifact) -> (Height, Hash) {
    (
        artifact.height(),
        Hash::of(&[&crate::cbor::to_cbor(artifact)]),
    )
}

impl Node {
    /// Makes what we signed durable before it leaves (a relayed artifact
    /// is sent again as often as consensus likes; ours is stored once).
    pub(super) fn before_sending(&mut self, artifact: &Artifact) -> Result<(), NodeError> {
        if let Some(height) = artifact.signed_height(self.me) {
            if self.durable.recorded.insert(artifact_key(artifact)) {
                self.durable.store.record_signed(height, artifact)?;
                self.durable.signed_through = self.durable.signed_through.max(height);
            }
        }
        if let Artifact::Proposal(proposal) = artifact {
            self.stats
                .proposal_seen(proposal.block.height, Instant::now());
        }
        Ok(())
    }

    pub(super) fn persist_catch_up(&mut self) -> Result<(), NodeError> {
        if let Some(package) = self.consensus.catch_up_package() {
            let height = package.content.height();
            if height > self.durable.stored_catch_up {
                self.durable.stored_catch_up = height;
                self.durable.store.set_catch_up(package)?;
                self.durable.store.prune_signed(height)?;
                self.durable.recorded.retain(|(at, _)| *at > height);
            }
        }
        Ok(())
    }
}
