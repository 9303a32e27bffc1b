//! `/request_status` as a persistent crit-bit tree with cached hashes.
//!
//! A subnet keeps the answer of every update call until it expires:
//! hundreds of thousands at a few thousand calls per second. Rebuilding
//! and rehashing them at every height would cost more than executing the
//! calls, so they live in a binary trie on the bits of the request id
//! whose inner nodes are hash-tree forks with their hash cached. The
//! trie's in-order leaves are sorted by id, so it *is* a valid IC hash
//! tree; its shape depends only on the set of ids. An update changes one
//! path (about log₂ n nodes): in place where no snapshot shares it,
//! copied where one does, its cached hashes cleared — they are computed
//! again when a hash is next asked for, so the hundreds of updates of one
//! height rehash the paths they share once, not once each. A snapshot is
//! a pointer copy; a witness reveals the paths asked for and prunes the
//! rest to cached hashes, with the neighbouring labels as proof when an
//! id is absent.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use super::hash_tree::{fork_digest, labeled, labeled_digest, HashTree};
use super::state_tree::RequestStatus;

/// The answer to an update call, and until when it is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredStatus {
    /// The status.
    pub status: RequestStatus,
    /// The request's expiry (it is forgotten some time after).
    pub expiry_ns: u64,
    /// Who sent the request (principal bytes): only they may read its
    /// status. Not part of the certified tree.
    #[serde(with = "serde_bytes")]
    pub sender: Vec<u8>,
}

type Id = [u8; 32];

/// A node, with its hash once computed.
#[derive(Clone, Debug)]
enum Node {
    Leaf {
        id: Id,
        value: StoredStatus,
        hash: OnceLock<[u8; 32]>,
    },
    /// Ids below share their bits before `bit`; `bit` is 0 on the left.
    Fork {
        bit: u16,
        left: Arc<Node>,
        right: Arc<Node>,
        hash: OnceLock<[u8; 32]>,
    },
}

fn bit(id: &Id, index: u16) -> bool {
    id[usize::from(index / 8)] >> (7 - index % 8) & 1 == 1
}

/// Sorted ids sharing the bits before `index`, split into those whose bit
/// `index` is clear (they come first) and those where it is set.
fn split_at_bit(ids: &[Id], index: u16) -> (&[Id], &[Id]) {
    ids.split_at(ids.partition_point(|id| !bit(id, index)))
}

/// The first bit where `a` and `b` differ.
fn first_difference(a: &Id, b: &Id) -> Option<u16> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .map(|byte| byte as u16 * 8 + (a[byte] ^ b[byte]).leading_zeros() as u16)
}

impl Node {
    fn leaf(id: Id, value: StoredStatus) -> Arc<Node> {
        Arc::new(Node::Leaf {
            id,
            value,
            hash: OnceLock::new(),
        })
    }

    fn fork(bit: u16, left: Arc<Node>, right: Arc<Node>) -> Arc<Node> {
        Arc::new(Node::Fork {
            bit,
            left,
            right,
            hash: OnceLock::new(),
        })
    }

    /// Its hash: cached, or computed (with the uncached ones below).
    fn hash(&self) -> [u8; 32] {
        match self {
            Node::Leaf { id, value, hash } => {
                *hash.get_or_init(|| labeled_digest(id, &value.status.tree().digest()))
            }
            Node::Fork {
                left, right, hash, ..
            } => *hash.get_or_init(|| fork_digest(&left.hash(), &right.hash())),
        }
    }

    /// The smallest id below.
    fn first(&self) -> &Id {
        match self {
            Node::Leaf { id, .. } => id,
            Node::Fork { left, .. } => left.first(),
        }
    }

    /// The largest id below.
    fn last(&self) -> &Id {
        match self {
            Node::Leaf { id, .. } => id,
            Node::Fork { right, .. } => right.last(),
        }
    }

    /// Whether `id` falls within the bits this subtree's ids share.
    fn covers(&self, id: &Id) -> bool {
        match self {
            Node::Leaf { id: own, .. } => own == id,
            Node::Fork { bit, .. } => {
                first_difference(self.first(), id).is_none_or(|differs| differs >= *bit)
            }
        }
    }

    fn get(&self, id: &Id) -> Option<&StoredStatus> {
        match self {
            Node::Leaf { id: own, value, .. } => (own == id).then_some(value),
            Node::Fork {
                bit: b,
                left,
                right,
                ..
            } => if bit(id, *b) { right } else { left }.get(id),
        }
    }

    /// Sets `id` to `value` in the tree at `node`, `differs` being the
    /// first bit where `id` differs from the ids there (`None`: it is
    /// there). Forks on the way are changed in place unless a snapshot
    /// shares them (then copied), and forget their hash.
    fn insert(node: &mut Arc<Node>, id: Id, value: StoredStatus, differs: Option<u16>) {
        let descends = matches!(&**node, Node::Fork { bit: b, .. } if differs.is_none_or(|differs| differs > *b));
        if descends {
            if let Node::Fork {
                bit: b,
                left,
                right,
                hash,
            } = Arc::make_mut(node)
            {
                hash.take();
                let below = if bit(&id, *b) { right } else { left };
                Node::insert(below, id, value, differs);
            }
            return;
        }
        let leaf = Node::leaf(id, value);
        *node = match differs {
            None => leaf,
            Some(differs) if bit(&id, differs) => Node::fork(differs, Arc::clone(node), leaf),
            Some(differs) => Node::fork(differs, leaf, Arc::clone(node)),
        };
    }

    /// The tree without `id` (`None` if nothing is left).
    fn remove(self: &Arc<Node>, id: &Id) -> Option<Arc<Node>> {
        match &**self {
            Node::Leaf { id: own, .. } => (own != id).then(|| Arc::clone(self)),
            Node::Fork {
                bit: b,
                left,
                right,
                ..
            } => Some(if bit(id, *b) {
                match right.remove(id) {
                    Some(right) => Node::fork(*b, Arc::clone(left), right),
                    None => Arc::clone(left),
                }
            } else {
                match left.remove(id) {
                    Some(left) => Node::fork(*b, left, Arc::clone(right)),
                    None => Arc::clone(right),
                }
            }),
        }
    }

    /// The largest id below that is smaller than `id`.
    fn before(&self, id: &Id) -> Option<Id> {
        match self {
            Node::Leaf { id: own, .. } => (own < id).then_some(*own),
            Node::Fork {
                bit: b,
                left,
                right,
                ..
            } => {
                if !self.covers(id) {
                    return (self.last() < id).then(|| *self.last());
                }
                if bit(id, *b) {
                    right.before(id).or_else(|| Some(*left.last()))
                } else {
                    left.before(id)
                }
            }
        }
    }

    /// The smallest id below that is larger than `id`.
    fn after(&self, id: &Id) -> Option<Id> {
        match self {
            Node::Leaf { id: own, .. } => (own > id).then_some(*own),
            Node::Fork {
                bit: b,
                left,
                right,
                ..
            } => {
                if !self.covers(id) {
                    return (self.first() > id).then(|| *self.first());
                }
                if bit(id, *b) {
                    right.after(id)
                } else {
                    left.after(id).or_else(|| Some(*right.first()))
                }
            }
        }
    }

    /// This subtree revealing `full` ids with their statuses and
    /// `labels` ids by label only; everything else pruned. Both lists are
    /// sorted and hold only ids of leaves below this node, so each fork
    /// splits them at its bit: the work is the witness's size, not the
    /// number of ids times the number of nodes.
    fn witness(&self, full: &[Id], labels: &[Id]) -> HashTree {
        if full.is_empty() && labels.is_empty() {
            return HashTree::Pruned(self.hash());
        }
        match self {
            Node::Leaf { id, value, .. } => {
                if full.contains(id) {
                    labeled(id.to_vec(), value.status.tree())
                } else {
                    labeled(id.to_vec(), HashTree::Pruned(value.status.tree().digest()))
                }
            }
            Node::Fork {
                bit: b,
                left,
                right,
                ..
            } => {
                let (full_left, full_right) = split_at_bit(full, *b);
                let (labels_left, labels_right) = split_at_bit(labels, *b);
                HashTree::Fork(
                    Box::new(left.witness(full_left, labels_left)),
                    Box::new(right.witness(full_right, labels_right)),
                )
            }
        }
    }

    fn for_each<'a>(&'a self, visit: &mut impl FnMut(&'a Id, &'a StoredStatus)) {
        match self {
            Node::Leaf { id, value, .. } => visit(id, value),
            Node::Fork { left, right, .. } => {
                left.for_each(visit);
                right.for_each(visit);
            }
        }
    }
}

/// The request statuses of a subnet (see the module documentation).
#[derive(Clone, Default)]
pub struct StatusTree {
    root: Option<Arc<Node>>,
    len: usize,
}

impl StatusTree {
    /// The status of request `id`.
    pub fn get(&self, id: &Id) -> Option<&StoredStatus> {
        self.root.as_ref()?.get(id)
    }

    /// Sets the status of request `id`.
    pub fn insert(&mut self, id: Id, value: StoredStatus) {
        let Some(root) = &mut self.root else {
            self.len = 1;
            self.root = Some(Node::leaf(id, value));
            return;
        };
        // The leaf `id` leads to shares the most bits with it.
        let mut node = &**root;
        while let Node::Fork {
            bit: b,
            left,
            right,
            ..
        } = node
        {
            node = if bit(&id, *b) { right } else { left };
        }
        let differs = first_difference(node.first(), &id);
        if differs.is_some() {
            self.len += 1;
        }
        Node::insert(root, id, value, differs);
    }

    /// Forgets every status for which `keep` is false.
    pub fn retain(&mut self, mut keep: impl FnMut(&StoredStatus) -> bool) {
        let mut gone = Vec::new();
        if let Some(root) = &self.root {
            root.for_each(&mut |id, value| {
                if !keep(value) {
                    gone.push(*id);
                }
            });
        }
        for id in gone {
            self.root = self.root.as_ref().and_then(|root| root.remove(&id));
            self.len -= 1;
        }
    }

    /// How many statuses there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The root hash of the `/request_status` subtree.
    pub fn digest(&self) -> [u8; 32] {
        self.root
            .as_ref()
            .map_or_else(|| HashTree::Empty.digest(), |root| root.hash())
    }

    /// The `/request_status` subtree revealing the statuses of `ids`, or
    /// for an id without one, the neighbouring labels proving it absent.
    pub fn witness(&self, ids: &[Id]) -> HashTree {
        let Some(root) = &self.root else {
            return HashTree::Empty;
        };
        let mut full = Vec::new();
        let mut labels = Vec::new();
        for id in ids {
            if root.get(id).is_some() {
                full.push(*id);
            } else {
                labels.extend(root.before(id));
                labels.extend(root.after(id));
            }
        }
        for ids in [&mut full, &mut labels] {
            ids.sort_unstable();
            ids.dedup();
        }
        root.witness(&full, &labels)
    }

    /// Every status, in id order.
    pub fn for_each<'a>(&'a self, mut visit: impl FnMut(&'a Id, &'a StoredStatus)) {
        if let Some(root) = &self.root {
            root.for_each(&mut visit);
        }
    }
}

impl PartialEq for StatusTree {
    /// Equal sets of statuses (the shape, hence the hash, depends only on them).
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.digest() == other.digest()
    }
}

impl Eq for StatusTree {}

impl std::fmt::Debug for StatusTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StatusTree({} statuses)", self.len)
    }
}

impl Serialize for StatusTree {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.len))?;
        let mut result = Ok(());
        self.for_each(|id, value| {
            if result.is_ok() {
                result = seq.serialize_element(&(serde_bytes::Bytes::new(id), value));
            }
        });
        result?;
        seq.end()
    }
}

impl<'de> Deserialize<'de> for StatusTree {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries: Vec<(serde_bytes::ByteBuf, StoredStatus)> = Vec::deserialize(deserializer)?;
        let mut tree = StatusTree::default();
        for (id, value) in entries {
            let id: Id = id
                .as_slice()
                .try_into()
                .map_err(|_| serde::de::Error::custom("a request id is 32 bytes"))?;
            tree.insert(id, value);
        }
        Ok(tree)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ic::hash_tree::Lookup;
    use rand::{Rng, SeedableRng};

    fn status(n: u8) -> StoredStatus {
        StoredStatus {
            status: RequestStatus::Replied(vec![n]),
            expiry_ns: u64::from(n),
            sender: Vec::new(),
        }
    }

    fn lookup<'a>(tree: &'a HashTree, id: &'a Id) -> Lookup<'a> {
        tree.lookup(&[id, b"reply"])
    }

    #[test]
    fn witnesses_prove_presence_and_absence_under_the_cached_root() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut tree = StatusTree::default();
        let mut ids: Vec<Id> = (0..500).map(|_| rng.gen()).collect();
        // Ids sharing long prefixes, and the extremes.
        ids.extend([[0; 32], [255; 32], [7; 32]]);
        let mut near = [7; 32];
        near[31] = 8;
        ids.push(near);
        for (n, id) in ids.iter().enumerate() {
            tree.insert(*id, status(n as u8));
        }
        assert_eq!(tree.len(), ids.len());
        let root = tree.digest();
        for (n, id) in ids.iter().enumerate().step_by(7) {
            let witness = tree.witness(&[*id]);
            assert_eq!(witness.digest(), root);
            assert_eq!(lookup(&witness, id), Lookup::Found(&[n as u8]));
        }
        let mut absent: Vec<Id> = (0..50).map(|_| rng.gen()).collect();
        let mut between = [7; 32];
        between[31] = 9;
        absent.extend([between, [1; 32], [254; 32]]);
        for id in &absent {
            let witness = tree.witness(&[*id]);
            assert_eq!(witness.digest(), root);
            assert_eq!(lookup(&witness, id), Lookup::Absent, "{id:?}");
        }
        // Several at once.
        let witness = tree.witness(&[ids[3], absent[0], ids[9]]);
        assert_eq!(witness.digest(), root);
        assert_eq!(lookup(&witness, &ids[9]), Lookup::Found(&[9]));
        assert_eq!(lookup(&witness, &absent[0]), Lookup::Absent);
        // All of them at once, present and absent, in no particular order.
        let mut everything: Vec<Id> = ids.iter().chain(&absent).copied().collect();
        everything.reverse();
        let all = tree.witness(&everything);
        assert_eq!(all.digest(), root);
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(lookup(&all, id), Lookup::Found(&[n as u8]));
        }
        for id in &absent {
            assert_eq!(lookup(&all, id), Lookup::Absent, "{id:?}");
        }
        // What was pruned is unknown, not absent.
        let unrevealed = ids
            .iter()
            .find(|id| lookup(&witness, id) == Lookup::Unknown);
        assert!(unrevealed.is_some());
    }

    #[test]
    fn the_shape_and_hash_depend_only_on_the_contents() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let ids: Vec<Id> = (0..300).map(|_| rng.gen()).collect();
        let mut forward = StatusTree::default();
        for (n, id) in ids.iter().enumerate() {
            forward.insert(*id, status(n as u8));
        }
        let mut backward = StatusTree::default();
        for (n, id) in ids.iter().enumerate().rev() {
            backward.insert(*id, status(n as u8));
        }
        assert_eq!(forward.digest(), backward.digest());
        // Removing some gives the tree of the rest; updating changes the hash.
        let snapshot = forward.clone();
        forward.retain(|value| !value.expiry_ns.is_multiple_of(3));
        let mut rest = StatusTree::default();
        for (n, id) in ids
            .iter()
            .enumerate()
            .filter(|(n, _)| !(*n as u8).is_multiple_of(3))
        {
            rest.insert(*id, status(n as u8));
        }
        assert_eq!(forward.len(), rest.len());
        assert_eq!(forward.digest(), rest.digest());
        assert_ne!(
            snapshot.digest(),
            forward.digest(),
            "snapshots are unaffected"
        );
        assert_eq!(snapshot.len(), ids.len());
        let before = forward.digest();
        forward.insert(ids[1], status(200));
        assert_ne!(forward.digest(), before);
        assert_eq!(forward.get(&ids[1]), Some(&status(200)));
        // Through CBOR (checkpoints).
        let bytes = crate::cbor::to_cbor(&forward);
        let back: StatusTree = ciborium::from_reader(bytes.as_slice()).unwrap();
        assert_eq!(back, forward);
        forward.retain(|_| false);
        assert!(forward.is_empty());
        assert_eq!(forward.digest(), HashTree::Empty.digest());
    }

    /// Updates change nodes in place unless a snapshot shares them, and
    /// clear the cached hashes on their path: a snapshot keeps its
    /// contents and hash, and the updated tree's hash — asked for between
    /// updates or only at the end — is that of a tree built afresh from
    /// its contents.
    #[test]
    fn updates_leave_snapshots_alone_and_never_keep_a_stale_hash() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let ids: Vec<Id> = (0..400).map(|_| rng.gen()).collect();
        let mut tree = StatusTree::default();
        for (n, id) in ids.iter().enumerate().take(200) {
            tree.insert(*id, status(n as u8));
        }
        let snapshot = tree.clone();
        let snapshot_digest = snapshot.digest();
        let mut contents: std::collections::BTreeMap<Id, StoredStatus> = ids[..200]
            .iter()
            .enumerate()
            .map(|(n, id)| (*id, status(n as u8)))
            .collect();
        for (round, id) in ids.iter().enumerate() {
            // New ids, and new values for old ones.
            let value = status((round * 7 % 251) as u8);
            tree.insert(*id, value.clone());
            contents.insert(*id, value);
            if round % 37 == 0 {
                let mut fresh = StatusTree::default();
                for (id, value) in contents.iter().rev() {
                    fresh.insert(*id, value.clone());
                }
                assert_eq!(tree.digest(), fresh.digest(), "after update {round}");
            }
        }
        assert_eq!(tree.len(), ids.len());
        let mut fresh = StatusTree::default();
        for (id, value) in &contents {
            fresh.insert(*id, value.clone());
        }
        assert_eq!(tree.digest(), fresh.digest());
        assert_eq!(snapshot.digest(), snapshot_digest);
        assert_eq!(snapshot.len(), 200);
        for (n, id) in ids.iter().enumerate().take(200) {
            assert_eq!(snapshot.get(id), Some(&status(n as u8)));
        }
        assert_eq!(snapshot.get(&ids[300]), None);
    }
}
