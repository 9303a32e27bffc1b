//! The Internet Computer's hash trees: a labeled tree whose root hash
//! commits to every path, revealed in part with the rest pruned to hashes,
//! so a certificate on the root proves what is (and what is not) in it.
//!
//! Hashing, CBOR form, lookup and pruning follow the IC interface spec
//! ("Certification"): domain-separated SHA-256 per node kind; `[0]` Empty,
//! `[1, l, r]` Fork, `[2, label, t]` Labeled, `[3, v]` Leaf, `[4, hash]`
//! Pruned; labels strictly increasing under a node.

use ciborium::value::Value;
use sha2::{Digest, Sha256};

/// A hash tree (or a pruned view of one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashTree {
    /// No children.
    Empty,
    /// Two subtrees side by side (labels in the left before those in the right).
    Fork(Box<HashTree>, Box<HashTree>),
    /// A subtree under a label.
    Labeled(Vec<u8>, Box<HashTree>),
    /// A value.
    Leaf(Vec<u8>),
    /// A subtree known only by its root hash.
    Pruned([u8; 32]),
}

/// What a path leads to in a (possibly pruned) tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// The path ends at this value.
    Found(&'a [u8]),
    /// The tree proves the path does not exist.
    Absent,
    /// The path may exist but is pruned away.
    Unknown,
    /// The path ends inside the tree's structure (not at a value), or goes through a value.
    Error,
}

/// Why bytes are not a hash tree.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed hash tree: {0}")]
pub struct MalformedTree(pub &'static str);

/// Trees nested deeper than this are refused when decoding (untrusted input).
const MAX_DEPTH: usize = 256;

fn domain(name: &str) -> Sha256 {
    let mut hasher = Sha256::new();
    hasher.update([name.len() as u8]);
    hasher.update(name.as_bytes());
    hasher
}

/// The hash of `Fork(l, r)` from the hashes of `l` and `r`.
pub fn fork_digest(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    domain("ic-hashtree-fork")
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// The hash of `Labeled(label, t)` from the hash of `t`.
pub fn labeled_digest(label: &[u8], tree: &[u8; 32]) -> [u8; 32] {
    domain("ic-hashtree-labeled")
        .chain_update(label)
        .chain_update(tree)
        .finalize()
        .into()
}

/// Shorthand constructors, as the spec writes trees.
pub fn fork(left: HashTree, right: HashTree) -> HashTree {
    HashTree::Fork(Box::new(left), Box::new(right))
}

/// `Labeled(label, tree)`.
pub fn labeled(label: impl Into<Vec<u8>>, tree: HashTree) -> HashTree {
    HashTree::Labeled(label.into(), Box::new(tree))
}

/// `Leaf(value)`.
pub fn leaf(value: impl Into<Vec<u8>>) -> HashTree {
    HashTree::Leaf(value.into())
}

impl HashTree {
    /// The root hash ("reconstruct" in the spec).
    pub fn digest(&self) -> [u8; 32] {
        match self {
            HashTree::Empty => domain("ic-hashtree-empty").finalize().into(),
            HashTree::Fork(left, right) => fork_digest(&left.digest(), &right.digest()),
            HashTree::Labeled(label, tree) => labeled_digest(label, &tree.digest()),
            HashTree::Leaf(value) => domain("ic-hashtree-leaf")
                .chain_update(value)
                .finalize()
                .into(),
            HashTree::Pruned(hash) => *hash,
        }
    }

    /// A balanced tree of labeled subtrees; `children` must be sorted by
    /// label without repeats.
    pub fn from_sorted(children: Vec<(Vec<u8>, HashTree)>) -> HashTree {
        fn build(mut nodes: Vec<HashTree>) -> HashTree {
            match nodes.len() {
                0 => HashTree::Empty,
                1 => nodes.pop().expect("one node"),
                n => {
                    let right = nodes.split_off(n / 2);
                    fork(build(nodes), build(right))
                }
            }
        }
        build(
            children
                .into_iter()
                .map(|(label, tree)| labeled(label, tree))
                .collect(),
        )
    }

    /// The spec's `lookup_path`.
    pub fn lookup(&self, path: &[&[u8]]) -> Lookup<'_> {
        let Some((first, rest)) = path.split_first() else {
            return match self {
                HashTree::Leaf(value) => Lookup::Found(value),
                HashTree::Empty => Lookup::Absent,
                HashTree::Pruned(_) => Lookup::Unknown,
                HashTree::Fork(..) | HashTree::Labeled(..) => Lookup::Error,
            };
        };
        match self.find_label(first) {
            Ok(subtree) => subtree.lookup(rest),
            Err(outcome) => outcome,
        }
    }

    /// The subtree under `label` at this level, or why there is none.
    fn find_label(&self, label: &[u8]) -> Result<&HashTree, Lookup<'_>> {
        let mut pruned_since_smaller = false;
        for item in self.level() {
            match item {
                HashTree::Labeled(other, subtree) => match other.as_slice().cmp(label) {
                    std::cmp::Ordering::Equal => return Ok(subtree),
                    std::cmp::Ordering::Greater => break,
                    std::cmp::Ordering::Less => pruned_since_smaller = false,
                },
                HashTree::Pruned(_) => pruned_since_smaller = true,
                HashTree::Leaf(_) => return Err(Lookup::Error),
                HashTree::Empty | HashTree::Fork(..) => {}
            }
        }
        Err(if pruned_since_smaller {
            Lookup::Unknown
        } else {
            Lookup::Absent
        })
    }

    /// The nodes of this level in order: forks flattened away.
    fn level(&self) -> Vec<&HashTree> {
        match self {
            HashTree::Fork(left, right) => {
                let mut items = left.level();
                items.extend(right.level());
                items
            }
            HashTree::Empty => Vec::new(),
            other => vec![other],
        }
    }

    /// The tree with everything pruned but what `paths` need: each path's
    /// subtree when it exists, or else the neighbouring labels that prove
    /// it absent (the spec's witness for `lookup`).
    pub fn prune(&self, paths: &[&[&[u8]]]) -> HashTree {
        if paths.iter().any(|path| path.is_empty()) {
            return self.clone();
        }
        match self {
            HashTree::Fork(..) | HashTree::Labeled(..) => {
                let labels: Vec<&[u8]> = self
                    .level()
                    .into_iter()
                    .filter_map(|item| match item {
                        HashTree::Labeled(label, _) => Some(label.as_slice()),
                        _ => None,
                    })
                    .collect();
                let mut wanted = Vec::new();
                let mut label_only = Vec::new();
                for path in paths {
                    let (first, rest) = path.split_first().expect("non-empty paths");
                    match labels.binary_search(first) {
                        Ok(_) => wanted.push((*first, rest)),
                        Err(position) => {
                            label_only.extend(position.checked_sub(1).map(|i| labels[i]));
                            label_only.extend(labels.get(position).copied());
                        }
                    }
                }
                self.prune_level(&wanted, &label_only).0
            }
            // A path through a value or into an empty or pruned tree:
            // revealing it is the proof.
            HashTree::Leaf(_) | HashTree::Empty | HashTree::Pruned(_) => self.clone(),
        }
    }

    /// Rebuilds one level keeping the forks; returns whether anything in it is revealed.
    fn prune_level(&self, wanted: &[(&[u8], &[&[u8]])], label_only: &[&[u8]]) -> (HashTree, bool) {
        match self {
            HashTree::Fork(left, right) => {
                let (left, left_kept) = left.prune_level(wanted, label_only);
                let (right, right_kept) = right.prune_level(wanted, label_only);
                if left_kept || right_kept {
                    (fork(left, right), true)
                } else {
                    (HashTree::Pruned(self.digest()), false)
                }
            }
            HashTree::Labeled(label, subtree) => {
                let below: Vec<&[&[u8]]> = wanted
                    .iter()
                    .filter(|(first, _)| *first == label.as_slice())
                    .map(|(_, rest)| *rest)
                    .collect();
                if !below.is_empty() {
                    (labeled(label.clone(), subtree.prune(&below)), true)
                } else if label_only.contains(&label.as_slice()) {
                    (
                        labeled(label.clone(), HashTree::Pruned(subtree.digest())),
                        true,
                    )
                } else {
                    (HashTree::Pruned(self.digest()), false)
                }
            }
            HashTree::Empty => (HashTree::Empty, false),
            other => (HashTree::Pruned(other.digest()), false),
        }
    }

    /// Replaces the subtree under `label` at this level; whether it was there.
    pub fn replace_labeled(&mut self, label: &[u8], subtree: HashTree) -> bool {
        self.replace_at(&[label], subtree)
    }

    /// Replaces the subtree at `path`, each label found at its level;
    /// whether the path was there.
    pub fn replace_at(&mut self, path: &[&[u8]], subtree: HashTree) -> bool {
        let Some((first, rest)) = path.split_first() else {
            *self = subtree;
            return true;
        };
        match self {
            HashTree::Fork(left, right) => {
                let in_left = left.level().iter().any(
                    |item| matches!(item, HashTree::Labeled(own, _) if own.as_slice() == *first),
                );
                if in_left { left } else { right }.replace_at(path, subtree)
            }
            HashTree::Labeled(own, child) if own.as_slice() == *first => {
                child.replace_at(rest, subtree)
            }
            _ => false,
        }
    }

    /// The CBOR value of the tree.
    pub fn to_value(&self) -> Value {
        let kind = |n: u8| Value::Integer(n.into());
        Value::Array(match self {
            HashTree::Empty => vec![kind(0)],
            HashTree::Fork(left, right) => vec![kind(1), left.to_value(), right.to_value()],
            HashTree::Labeled(label, tree) => {
                vec![kind(2), Value::Bytes(label.clone()), tree.to_value()]
            }
            HashTree::Leaf(value) => vec![kind(3), Value::Bytes(value.clone())],
            HashTree::Pruned(hash) => vec![kind(4), Value::Bytes(hash.to_vec())],
        })
    }

    /// The CBOR encoding of the tree.
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        ciborium::into_writer(&self.to_value(), &mut bytes).expect("writing to a Vec cannot fail");
        bytes
    }

    /// Reads a tree from its CBOR value.
    ///
    /// # Errors
    /// [`MalformedTree`] for anything else, or nesting beyond 256 levels.
    pub fn from_value(value: &Value) -> Result<HashTree, MalformedTree> {
        Self::from_value_at(value, 0)
    }

    fn from_value_at(value: &Value, depth: usize) -> Result<HashTree, MalformedTree> {
        if depth > MAX_DEPTH {
            return Err(MalformedTree("nested too deeply"));
        }
        let Value::Array(items) = value else {
            return Err(MalformedTree("a node is not an array"));
        };
        let kind = match items.first() {
            Some(Value::Integer(kind)) => u8::try_from(*kind).ok(),
            _ => None,
        };
        let bytes = |value: &Value| match value {
            Value::Bytes(bytes) => Ok(bytes.clone()),
            _ => Err(MalformedTree("expected a byte string")),
        };
        let subtree = |value: &Value| Self::from_value_at(value, depth + 1).map(Box::new);
        match (kind, items.as_slice()) {
            (Some(0), [_]) => Ok(HashTree::Empty),
            (Some(1), [_, left, right]) => Ok(HashTree::Fork(subtree(left)?, subtree(right)?)),
            (Some(2), [_, label, tree]) => Ok(HashTree::Labeled(bytes(label)?, subtree(tree)?)),
            (Some(3), [_, value]) => Ok(HashTree::Leaf(bytes(value)?)),
            (Some(4), [_, hash]) => {
                Ok(HashTree::Pruned(bytes(hash)?.try_into().map_err(|_| {
                    MalformedTree("a pruned hash is not 32 bytes")
                })?))
            }
            _ => Err(MalformedTree("unknown node kind or arity")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The interface spec's example tree (section "Certification", "Example").
    fn spec_tree() -> HashTree {
        fork(
            fork(
                labeled(
                    "a",
                    fork(
                        fork(labeled("x", leaf("hello")), HashTree::Empty),
                        labeled("y", leaf("world")),
                    ),
                ),
                labeled("b", leaf("good")),
            ),
            fork(labeled("c", HashTree::Empty), labeled("d", leaf("morning"))),
        )
    }

    #[test]
    fn the_spec_example_encodes_and_hashes_as_the_spec_says() {
        let tree = spec_tree();
        assert_eq!(
            hex::encode(tree.to_cbor()),
            "8301830183024161830183018302417882034568656c6c6f810083024179820345776f726c6483024162820344676f6f648301830241638100830241648203476d6f726e696e67"
        );
        assert_eq!(
            hex::encode(tree.digest()),
            "eb5c5b2195e62d996b84c9bcc8259d19a83786a2f59e0878cec84c811f669aa0"
        );
        let decoded: Value = ciborium::from_reader(tree.to_cbor().as_slice()).unwrap();
        assert_eq!(HashTree::from_value(&decoded).unwrap(), tree);
    }

    #[test]
    fn pruning_the_spec_example_gives_the_spec_witness() {
        let pruned = spec_tree().prune(&[&[b"a", b"y"], &[b"ax"], &[b"d"]]);
        assert_eq!(
            hex::encode(pruned.to_cbor()),
            "83018301830241618301820458201b4feff9bef8131788b0c9dc6dbad6e81e524249c879e9f10f71ce3749f5a63883024179820345776f726c6483024162820458207b32ac0c6ba8ce35ac82c255fc7906f7fc130dab2a090f80fe12f9c2cae83ba6830182045820ec8324b8a1f1ac16bd2e806edba78006479c9877fed4eb464a25485465af601d830241648203476d6f726e696e67"
        );
        assert_eq!(pruned.digest(), spec_tree().digest());
        assert_eq!(pruned.lookup(&[b"a", b"y"]), Lookup::Found(b"world"));
        assert_eq!(pruned.lookup(&[b"ax"]), Lookup::Absent);
        assert_eq!(pruned.lookup(&[b"d"]), Lookup::Found(b"morning"));
        assert_eq!(pruned.lookup(&[b"a", b"x"]), Lookup::Unknown);
        assert_eq!(pruned.lookup(&[b"c"]), Lookup::Unknown);
        assert_eq!(pruned.lookup(&[b"a"]), Lookup::Error);
    }

    #[test]
    fn lookups_in_the_full_tree() {
        let tree = spec_tree();
        assert_eq!(tree.lookup(&[b"a", b"x"]), Lookup::Found(b"hello"));
        assert_eq!(tree.lookup(&[b"b"]), Lookup::Found(b"good"));
        assert_eq!(tree.lookup(&[b"c"]), Lookup::Absent);
        assert_eq!(tree.lookup(&[b"e"]), Lookup::Absent);
        assert_eq!(tree.lookup(&[b"a", b"z"]), Lookup::Absent);
        assert_eq!(tree.lookup(&[b"b", b"deeper"]), Lookup::Error);
    }

    #[test]
    fn every_witness_keeps_the_root_and_answers_like_the_full_tree() {
        let children: Vec<(Vec<u8>, HashTree)> = (0u8..9)
            .map(|i| {
                let inner = HashTree::from_sorted(
                    (0u8..i)
                        .map(|j| (vec![b'k', j], leaf(vec![i, j])))
                        .collect(),
                );
                (vec![b'a' + 2 * i], inner)
            })
            .collect();
        let tree = HashTree::from_sorted(children);
        let probes: Vec<Vec<Vec<u8>>> = (0u8..20)
            .flat_map(|i| {
                [
                    vec![vec![b'a' + i]],
                    vec![vec![b'a' + i], vec![b'k', i / 3]],
                ]
            })
            .collect();
        for probe in &probes {
            let path: Vec<&[u8]> = probe.iter().map(Vec::as_slice).collect();
            let witness = tree.prune(&[&path]);
            assert_eq!(witness.digest(), tree.digest(), "{probe:?}");
            assert_eq!(witness.lookup(&path), tree.lookup(&path), "{probe:?}");
        }
    }

    #[test]
    fn malformed_trees_are_refused() {
        let deep = (0..300).fold(Value::Array(vec![Value::Integer(0.into())]), |inner, _| {
            Value::Array(vec![
                Value::Integer(2.into()),
                Value::Bytes(b"l".to_vec()),
                inner,
            ])
        });
        assert!(HashTree::from_value(&deep).is_err());
        for bad in [
            Value::Integer(3.into()),
            Value::Array(vec![Value::Integer(4.into()), Value::Bytes(vec![0; 31])]),
            Value::Array(vec![Value::Integer(9.into())]),
            Value::Array(vec![Value::Integer(3.into()), Value::Text("x".into())]),
        ] {
            assert!(HashTree::from_value(&bad).is_err(), "{bad:?}");
        }
    }
}
