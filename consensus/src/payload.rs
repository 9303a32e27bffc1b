//! Block payloads: what a block maker puts in a block and how others check it.
//!
//! Consensus orders payloads without interpreting them. Ingress messages
//! come first; DKG dealings and chain-key signature work will join through
//! the same trait.

use std::collections::{HashSet, VecDeque};

use crate::types::{Hash, Height, IngressMessage, NodeId, Payload};

/// Builds and validates block payloads.
///
/// `past` holds the payloads of the blocks between the finalized tip
/// (excluded) and the new block's parent (included), in height order:
/// notarized, not yet finalized, so a message in them must not be ordered
/// again. `time_ns` is
/// the block's time (judge expiry by it, not by the local clock, so every
/// node decides alike).
pub trait PayloadBuilder {
    /// The payload for a new block at `height` on `parent`.
    fn build(&mut self, height: Height, parent: &Hash, past: &[&Payload], time_ns: u64) -> Payload;
    /// Whether a proposed payload is acceptable (limits, well-formedness,
    /// nothing already in `past`). `maker` made the block (its signature
    /// on the proposal verified): what a section says for the maker's own
    /// node must be the maker's.
    fn validate(
        &self,
        height: Height,
        maker: NodeId,
        payload: &Payload,
        past: &[&Payload],
        time_ns: u64,
    ) -> bool;
    /// The local wall clock, Unix nanoseconds, for the times of this node's
    /// blocks and for refusing blocks from too far in the future; 0 when
    /// there is none (the simulator), and block times just count up.
    fn now_ns(&self) -> u64 {
        0
    }
    /// Called with each finalized block's payload and height, in height
    /// order (after a catch-up package, the blocks it jumped over come
    /// later, when the node fetched them).
    fn on_finalized(&mut self, _height: Height, _payload: &Payload) {}
    /// Whether the builder can judge a block with `payload` above
    /// `finalized_height` (a builder whose state comes from finalized
    /// blocks may lag after a catch-up package): until it can, the block
    /// waits instead of being called invalid.
    fn can_validate(&self, _finalized_height: Height, _payload: &Payload) -> bool {
        true
    }
}

/// Limits on one block's ingress payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadLimits {
    /// At most this many messages per block (the IC allows 1,000).
    pub max_messages: usize,
    /// At most this many content bytes per block (the IC allows 4 MiB).
    pub max_bytes: usize,
}

impl Default for PayloadLimits {
    fn default() -> Self {
        PayloadLimits {
            max_messages: 1000,
            max_bytes: 4 << 20,
        }
    }
}

/// A FIFO of ingress messages waiting for a block, with per-block limits.
///
/// Messages stay queued until a block that contains them is finalized, so a
/// message proposed in a block that loses is proposed again.
#[derive(Debug, Default)]
pub struct IngressQueue {
    pending: VecDeque<IngressMessage>,
    limits: PayloadLimits,
}

impl IngressQueue {
    /// An empty queue with the given limits.
    pub fn new(limits: PayloadLimits) -> Self {
        IngressQueue {
            pending: VecDeque::new(),
            limits,
        }
    }

    /// Queues a message for a future block.
    pub fn submit(&mut self, message: IngressMessage) {
        self.pending.push_back(message);
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether no message is waiting.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Keeps only the messages `keep` accepts (e.g. drops expired ones).
    pub fn retain(&mut self, keep: impl FnMut(&IngressMessage) -> bool) {
        self.pending.retain(keep);
    }
}

/// The ids of the messages in `payloads`.
fn ids_in(payloads: &[&Payload]) -> HashSet<Hash> {
    payloads
        .iter()
        .flat_map(|payload| payload.ingress.iter().map(|message| message.id))
        .collect()
}

impl IngressQueue {
    /// The per-block limits.
    pub fn limits(&self) -> PayloadLimits {
        self.limits
    }

    /// The next messages not in `past`, within `room` (the limits, less
    /// what else the block carries).
    pub fn build_within(&self, past: &[&Payload], room: PayloadLimits) -> Vec<IngressMessage> {
        let ordered = ids_in(past);
        let mut bytes = 0;
        self.pending
            .iter()
            .filter(|message| !ordered.contains(&message.id))
            .take(room.max_messages)
            .take_while(|message| {
                bytes += message.content.len();
                bytes <= room.max_bytes
            })
            .cloned()
            .collect()
    }
}

impl PayloadBuilder for IngressQueue {
    fn build(
        &mut self,
        _height: Height,
        _parent: &Hash,
        past: &[&Payload],
        _time_ns: u64,
    ) -> Payload {
        Payload {
            ingress: self.build_within(past, self.limits),
            ..Payload::default()
        }
    }

    fn validate(
        &self,
        _height: Height,
        _maker: NodeId,
        payload: &Payload,
        past: &[&Payload],
        _time_ns: u64,
    ) -> bool {
        let ingress = &payload.ingress;
        let bytes: usize = ingress.iter().map(|message| message.content.len()).sum();
        let ordered = ids_in(past);
        let mut ids = HashSet::new();
        ingress.len() <= self.limits.max_messages
            && bytes <= self.limits.max_bytes
            && ingress
                .iter()
                .all(|message| !ordered.contains(&message.id) && ids.insert(message.id))
    }

    fn on_finalized(&mut self, _height: Height, payload: &Payload) {
        let done: HashSet<Hash> = payload.ingress.iter().map(|message| message.id).collect();
        self.pending.retain(|message| !done.contains(&message.id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(byte: u8) -> IngressMessage {
        IngressMessage {
            id: Hash([byte; 32]),
            content: vec![byte],
        }
    }

    fn ingress(bytes: &[u8]) -> Payload {
        Payload {
            ingress: bytes.iter().map(|&byte| message(byte)).collect(),
            ..Payload::default()
        }
    }

    #[test]
    fn messages_in_unfinalized_ancestors_are_not_ordered_again() {
        let mut queue = IngressQueue::default();
        for byte in 1..=3 {
            queue.submit(message(byte));
        }
        let parent_payload = ingress(&[1]);
        let past = [&parent_payload];
        assert_eq!(queue.build(5, &Hash::default(), &past, 0), ingress(&[2, 3]));
        assert!(queue.validate(5, 0, &ingress(&[2]), &past, 0));
        assert!(!queue.validate(5, 0, &ingress(&[1]), &past, 0));
        assert!(!queue.validate(5, 0, &ingress(&[2, 2]), &[], 0));
        // Once the parent is finalized, its messages leave the queue.
        queue.on_finalized(4, &parent_payload);
        assert_eq!(queue.build(6, &Hash::default(), &[], 0), ingress(&[2, 3]));
    }

    #[test]
    fn every_section_is_in_the_payload_hash() {
        let base = ingress(&[1, 2]);
        let mut hashes = vec![base.hash(), Payload::default().hash()];
        for section in 0..3 {
            let mut other = base.clone();
            let item = serde_bytes::ByteBuf::from(vec![7]);
            match section {
                0 => other.chain_key.push(item),
                1 => other.nidkg.push(item),
                _ => other.xnet.push(item),
            }
            hashes.push(other.hash());
        }
        // Items cannot slide between neighbours: [1][2,3] is not [1,2][3].
        let split = Payload {
            chain_key: vec![vec![1].into(), vec![2, 3].into()],
            ..Payload::default()
        };
        let joined = Payload {
            chain_key: vec![vec![1, 2].into(), vec![3].into()],
            ..Payload::default()
        };
        hashes.extend([split.hash(), joined.hash()]);
        let distinct: HashSet<Hash> = hashes.iter().copied().collect();
        assert_eq!(distinct.len(), hashes.len());
    }
}
