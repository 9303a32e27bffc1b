//! Items received from peers that wait for something (a transcript to
//! open, a membership switch), each peer within its own budget of items
//! and bytes: a peer flooding the buffer evicts only its own oldest items,
//! never another peer's, and what the buffer holds is bounded by
//! peers × budget. [`PeerQueue`] keeps the same budgets for what peers
//! have queued on a channel to a worker thread.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use chainkey_consensus::NodeId;

/// What one peer may keep waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerBudget {
    /// Items at most.
    pub items: usize,
    /// Bytes at most (as the caller measures its items).
    pub bytes: usize,
}

/// Items waiting, oldest first, within each sender's [`PeerBudget`].
#[derive(Debug)]
pub struct PeerBuffer<T> {
    budget: PeerBudget,
    items: VecDeque<(NodeId, usize, T)>,
    /// Items and bytes held, by sender.
    held: BTreeMap<NodeId, (usize, usize)>,
}

impl<T> PeerBuffer<T> {
    /// An empty buffer giving each peer `budget`.
    pub fn new(budget: PeerBudget) -> Self {
        PeerBuffer {
            budget,
            items: VecDeque::new(),
            held: BTreeMap::new(),
        }
    }

    /// Keeps `item` of `bytes` from `from`, evicting `from`'s oldest items
    /// as its budget requires; returns how many were evicted. An item
    /// larger than the whole budget is not kept (counted as evicted).
    pub fn push(&mut self, from: NodeId, bytes: usize, item: T) -> usize {
        if bytes > self.budget.bytes || self.budget.items == 0 {
            return 1;
        }
        let mut evicted = 0;
        loop {
            let (count, held) = self.held.get(&from).copied().unwrap_or_default();
            if count < self.budget.items && held + bytes <= self.budget.bytes {
                break;
            }
            self.evict_oldest(from);
            evicted += 1;
        }
        let held = self.held.entry(from).or_default();
        held.0 += 1;
        held.1 += bytes;
        self.items.push_back((from, bytes, item));
        evicted
    }

    fn evict_oldest(&mut self, from: NodeId) {
        if let Some(position) = self.items.iter().position(|(sender, ..)| *sender == from) {
            if let Some((_, bytes, _)) = self.items.remove(position) {
                self.release(from, bytes);
            }
        }
    }

    fn release(&mut self, from: NodeId, bytes: usize) {
        if let Some(held) = self.held.get_mut(&from) {
            held.0 -= 1;
            held.1 -= bytes;
            if held.0 == 0 {
                self.held.remove(&from);
            }
        }
    }

    /// Takes every item, oldest first.
    pub fn take(&mut self) -> Vec<(NodeId, T)> {
        self.held.clear();
        self.items
            .drain(..)
            .map(|(from, _, item)| (from, item))
            .collect()
    }

    /// Takes the items for which `wanted` is true, oldest first.
    pub fn take_if(&mut self, mut wanted: impl FnMut(NodeId, &T) -> bool) -> Vec<(NodeId, T)> {
        let (taken, kept): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut self.items)
            .into_iter()
            .partition(|(from, _, item)| wanted(*from, item));
        self.items = kept;
        for (from, bytes, _) in &taken {
            self.release(*from, *bytes);
        }
        taken
            .into_iter()
            .map(|(from, _, item)| (from, item))
            .collect()
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Removes every item.
    pub fn clear(&mut self) {
        self.items.clear();
        self.held.clear();
    }
}

/// What each peer has queued on a channel to a worker thread, within its
/// [`PeerBudget`]: the sending side admits an item (or refuses it: the
/// peer is over budget), the worker releases what it takes off.
#[derive(Debug)]
pub struct PeerQueue {
    budget: PeerBudget,
    /// Items and bytes queued, by sender.
    queued: Mutex<BTreeMap<NodeId, (usize, usize)>>,
}

impl PeerQueue {
    /// Nothing queued yet; each peer may queue `budget`.
    pub fn new(budget: PeerBudget) -> Self {
        PeerQueue {
            budget,
            queued: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether `from` may queue an item of `bytes` (then counted as queued).
    pub fn admit(&self, from: NodeId, bytes: usize) -> bool {
        let mut queued = self.queued.lock().expect("peer queue");
        let (items, held) = queued.entry(from).or_default();
        let admitted = *items < self.budget.items && *held + bytes <= self.budget.bytes;
        if admitted {
            *items += 1;
            *held += bytes;
        }
        admitted
    }

    /// The worker took `from`'s item of `bytes` off the channel.
    pub fn release(&self, from: NodeId, bytes: usize) {
        let mut queued = self.queued.lock().expect("peer queue");
        if let Some((items, held)) = queued.get_mut(&from) {
            *items = items.saturating_sub(1);
            *held = held.saturating_sub(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flooding_peer_evicts_only_its_own_oldest_items() {
        let mut buffer = PeerBuffer::new(PeerBudget {
            items: 3,
            bytes: 100,
        });
        assert_eq!(buffer.push(1, 10, "honest"), 0);
        for _ in 0..10 {
            buffer.push(2, 30, "flood");
        }
        // The flood keeps its newest three; the honest item stays.
        let kept: Vec<_> = buffer.take().into_iter().map(|(from, _)| from).collect();
        assert_eq!(kept, vec![1, 2, 2, 2]);
        assert!(buffer.is_empty());

        let mut buffer = PeerBuffer::new(PeerBudget {
            items: 10,
            bytes: 100,
        });
        buffer.push(2, 60, "a");
        assert_eq!(buffer.push(2, 60, "b"), 1, "bytes evict too");
        assert_eq!(buffer.push(2, 101, "too large"), 1);
        assert_eq!(buffer.len(), 1);
        assert_eq!(buffer.take_if(|_, item| *item == "b"), vec![(2, "b")]);
        assert!(buffer.is_empty());
        assert_eq!(buffer.push(2, 100, "fits again"), 0);
    }

    #[test]
    fn a_peer_queues_within_its_budget_until_the_worker_takes_its_items() {
        let queue = PeerQueue::new(PeerBudget {
            items: 2,
            bytes: 100,
        });
        assert!(queue.admit(1, 60));
        assert!(!queue.admit(1, 60), "over its bytes");
        assert!(queue.admit(1, 40));
        assert!(!queue.admit(1, 0), "over its items");
        assert!(queue.admit(2, 100), "another peer has its own budget");
        queue.release(1, 60);
        assert!(queue.admit(1, 60), "room again once the worker took one");
    }
}
