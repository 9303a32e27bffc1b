//! Filling the finalized chain below a catch-up package.
//!
//! A node that jumps to a catch-up package has its block but not the
//! blocks below it, down to what it stored before. It asks its peers for
//! them in turn, a range at a time from the top down, and keeps only
//! blocks that link by hash to the block above: a peer cannot slip in a
//! block that is not the subnet's. It answers the same requests from its
//! own store, within a byte budget per answer and a rate per peer. Pure
//! decisions; the replica does the storing and sending.

use std::collections::BTreeMap;
use std::time::Instant;

use chainkey_consensus::{FinalizedBlock, Height, NodeId, Payload};

use crate::net::rate::TokenBucket;

/// Blocks sent per answer, at most (and asked for per request).
pub const BLOCKS_PER_ANSWER: usize = 256;
/// Payload bytes per answer, about (well below a frame's limit).
pub const ANSWER_BYTES: usize = crate::net::wire::MAX_FRAME / 4;

/// Answers per second a peer may have: what a node filling its gap asks
/// of all its peers together (one request per housekeeping tick). Each
/// answer reads up to [`BLOCKS_PER_ANSWER`] blocks from the store and
/// encodes them, so a peer asking faster is ignored beyond it.
pub const ANSWERS_PER_SECOND: f64 = 4.0;

/// Finalized heights missing from the store below a catch-up package.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gap {
    /// The missing heights `from..=to`, if any.
    missing: Option<(Height, Height)>,
    /// The peer asked last.
    asked: NodeId,
}

/// A request for missing blocks: which peer, which heights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlocksRequest {
    /// The peer to ask.
    pub peer: NodeId,
    /// The lowest height wanted.
    pub from: Height,
    /// The highest height wanted.
    pub to: Height,
}

impl Gap {
    /// The gap the store reported at start (`from..=to`), if any.
    pub fn new(missing: Option<(Height, Height)>) -> Self {
        Gap { missing, asked: 0 }
    }

    /// Whether blocks are missing.
    pub fn is_open(&self) -> bool {
        self.missing.is_some()
    }

    /// This node jumped to a catch-up package at `height` while its store
    /// ended at `top`: the heights between are missing too.
    pub fn jumped(&mut self, top: Height, height: Height) {
        if height > top + 1 {
            let from = self.missing.map_or(top + 1, |(from, _)| from.min(top + 1));
            self.missing = Some((from, height - 1));
        }
    }

    /// The next request: the next peer in turn (never `me`), for the
    /// highest [`BLOCKS_PER_ANSWER`] missing heights. `None` without a gap.
    pub fn next_request(&mut self, me: NodeId, nodes: usize) -> Option<BlocksRequest> {
        let (from, to) = self.missing?;
        let nodes = nodes.max(2) as NodeId;
        self.asked = (self.asked + 1) % nodes;
        if self.asked == me {
            self.asked = (self.asked + 1) % nodes;
        }
        Some(BlocksRequest {
            peer: self.asked,
            from: from.max(to.saturating_sub(BLOCKS_PER_ANSWER as u64 - 1)),
            to,
        })
    }

    /// The blocks of `received` that link down by hash from `above` (the
    /// stored block just above the gap), highest first; the gap shrinks
    /// by them. A block that does not link ends the chain: what a peer
    /// sent below it is ignored.
    pub fn link(
        &mut self,
        above: &FinalizedBlock,
        mut received: Vec<FinalizedBlock>,
    ) -> Vec<FinalizedBlock> {
        let Some((from, _)) = self.missing else {
            return Vec::new();
        };
        received.sort_by_key(|block| std::cmp::Reverse(block.block.height));
        let mut linked: Vec<FinalizedBlock> = Vec::new();
        for block in received {
            let parent = linked.last().unwrap_or(above);
            let height = block.block.height;
            if height + 1 != parent.block.height || height < from {
                continue;
            }
            if block.block.hash() != block.hash || block.hash != parent.block.parent {
                break;
            }
            linked.push(block);
        }
        if let Some(lowest) = linked.last() {
            let lowest = lowest.block.height;
            self.missing = (lowest > from).then_some((from, lowest - 1));
        }
        linked
    }

    /// The top of the gap, whose block above must be stored to link to.
    pub fn top(&self) -> Option<Height> {
        self.missing.map(|(_, to)| to)
    }
}

/// Each peer's allowance of answers ([`ANSWERS_PER_SECOND`]).
#[derive(Debug, Default)]
pub struct Answers {
    allowance: BTreeMap<NodeId, TokenBucket>,
}

impl Answers {
    /// Whether `peer`'s request at `now` is answered (taking one from its allowance).
    pub fn admit(&mut self, peer: NodeId, now: Instant) -> bool {
        self.allowance
            .entry(peer)
            .or_insert_with(|| TokenBucket::new(ANSWERS_PER_SECOND))
            .try_take(1.0, now)
    }
}

/// The stored blocks to answer a request with: in order, while they fit
/// in [`ANSWER_BYTES`] (by a rough size: 256 bytes a block, 64 a message
/// besides its content, and every other section's entries).
pub fn answer(stored: Vec<FinalizedBlock>) -> Vec<FinalizedBlock> {
    let mut bytes = 0;
    stored
        .into_iter()
        .take_while(|block| {
            bytes += 256 + rough_size(&block.block.payload);
            bytes <= ANSWER_BYTES
        })
        .collect()
}

/// About how many bytes `payload` takes on the wire: its sections'
/// bytes, and 32 more a message for its encoding.
fn rough_size(payload: &Payload) -> usize {
    payload.byte_len() + 32 * payload.ingress.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainkey_consensus::types::IngressMessage;
    use chainkey_consensus::{Block, Hash};

    /// A chain of finalized blocks at heights `0..count`, each linked to the one below.
    fn chain(count: u64) -> Vec<FinalizedBlock> {
        let mut blocks: Vec<FinalizedBlock> = Vec::new();
        for height in 0..count {
            let parent = blocks.last().map_or(Hash([0; 32]), |below| below.hash);
            let block = Block {
                height,
                parent,
                rank: 0,
                maker: 0,
                time_ns: height,
                beacon: Hash([0; 32]),
                payload: Payload::default(),
            };
            blocks.push(FinalizedBlock {
                hash: block.hash(),
                block,
            });
        }
        blocks
    }

    #[test]
    fn a_jump_opens_a_gap_down_to_what_is_stored() {
        let mut gap = Gap::new(None);
        gap.jumped(10, 11); // right above: nothing missing
        assert!(!gap.is_open());
        gap.jumped(10, 50);
        assert_eq!(gap.missing, Some((11, 49)));
        // A later jump while still filling keeps the lowest missing height.
        gap.jumped(20, 90);
        assert_eq!(gap.missing, Some((11, 89)));
    }

    #[test]
    fn requests_go_to_each_peer_in_turn_and_never_to_this_node() {
        let mut gap = Gap::new(Some((1, 1000)));
        let peers: Vec<NodeId> = (0..6)
            .map(|_| gap.next_request(1, 4).unwrap().peer)
            .collect();
        assert_eq!(peers, [2, 3, 0, 2, 3, 0]);
        let request = gap.next_request(1, 4).unwrap();
        assert_eq!((request.from, request.to), (745, 1000));
        assert_eq!(Gap::new(None).next_request(0, 4), None);
    }

    #[test]
    fn only_blocks_that_link_down_from_the_block_above_fill_the_gap() {
        let blocks = chain(12);
        let mut gap = Gap::new(Some((3, 10)));
        let above = &blocks[11];
        // Heights 10, 9, 8 arrive out of order, with a forged 7 and a real 6.
        let mut forged = blocks[7].clone();
        forged.block.time_ns += 1;
        forged.hash = forged.block.hash();
        let received = vec![
            blocks[8].clone(),
            blocks[10].clone(),
            forged,
            blocks[9].clone(),
            blocks[6].clone(),
        ];
        let linked = gap.link(above, received);
        let heights: Vec<Height> = linked.iter().map(|block| block.block.height).collect();
        assert_eq!(heights, [10, 9, 8]);
        assert_eq!(gap.missing, Some((3, 7)));
        // The rest, with a block below the gap that is ignored.
        let received = blocks[2..8].to_vec();
        let linked = gap.link(&blocks[8], received);
        assert_eq!(linked.len(), 5);
        assert!(!gap.is_open());
    }

    #[test]
    fn a_block_whose_hash_is_not_its_own_is_refused() {
        let blocks = chain(5);
        let mut gap = Gap::new(Some((1, 3)));
        let mut lying = blocks[3].clone();
        lying.block.time_ns += 1; // the claimed hash is the real block's
        assert!(gap.link(&blocks[4], vec![lying]).is_empty());
        assert_eq!(gap.missing, Some((1, 3)));
    }

    #[test]
    fn answers_stay_within_the_byte_budget() {
        let mut blocks = chain(40);
        for block in &mut blocks {
            block.block.payload.ingress = vec![IngressMessage {
                id: Hash([1; 32]),
                content: vec![0; 200 << 10],
            }];
        }
        let answered = answer(blocks.clone());
        let per_block = 256 + 64 + (200 << 10);
        assert_eq!(answered.len(), ANSWER_BYTES / per_block);
        assert_eq!(answer(chain(10)).len(), 10);
    }

    #[test]
    fn a_peer_asking_faster_than_a_gap_filling_node_is_answered_at_the_rate() {
        let mut answers = Answers::default();
        let start = Instant::now();
        let burst = (0..100).filter(|_| answers.admit(2, start)).count();
        assert_eq!(
            burst,
            2 * ANSWERS_PER_SECOND as usize,
            "two seconds' worth at once"
        );
        let later = start + std::time::Duration::from_secs(1);
        let then = (0..100).filter(|_| answers.admit(2, later)).count();
        assert_eq!(then, ANSWERS_PER_SECOND as usize);
        assert!(
            answers.admit(3, later),
            "another peer has its own allowance"
        );
    }
}
