//! The certified state of a subnet at one height as the IC lays it out
//! (interface spec, "The system state tree"): `/time`, `/subnet/…`,
//! `/canister/…` and `/request_status/…`, with each value encoded as the
//! spec says (numbers in LEB128, lists as self-described CBOR).

use std::collections::BTreeMap;

use ciborium::value::Value;

use super::hash_tree::{leaf, HashTree};
use super::status_tree::StatusTree;
use crate::cbor::encode_described;

/// What the state tree says about one canister.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CanisterState {
    /// Data the canister certified (`ic0.certified_data_set`, ≤ 32 bytes).
    pub certified_data: Vec<u8>,
    /// SHA-256 of its module, if installed.
    pub module_hash: Option<[u8; 32]>,
    /// Its controllers' principals.
    pub controllers: Vec<Vec<u8>>,
    /// Its module's metadata sections, by name: each value with its leaf
    /// hash, computed once at install, so that a height's tree hashes no
    /// metadata bytes (a witness reveals the values it names).
    pub metadata: BTreeMap<String, MetadataLeaf>,
}

/// A metadata section's value and its leaf hash in the state tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataLeaf {
    /// The section's content.
    pub content: std::sync::Arc<serde_bytes::ByteBuf>,
    /// The hash of the leaf holding it.
    pub digest: [u8; 32],
}

/// The outcome of an update call, as `/request_status/<id>` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RequestStatus {
    /// Accepted, not yet executed.
    Received,
    /// Executing.
    Processing,
    /// Answered with a reply.
    Replied(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Rejected with a code (1–5), a message and an error code.
    Rejected {
        /// The reject code.
        code: u64,
        /// The human-readable reason.
        message: String,
        /// The machine-readable error code (e.g. `IC0503`).
        error_code: String,
    },
    /// Its answer was dropped after some time.
    Done,
}

/// Everything certified at one height.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertifiedState {
    /// The block time, Unix nanoseconds.
    pub time_ns: u64,
    /// The subnet's principal.
    pub subnet_id: Vec<u8>,
    /// The subnet's public key (DER).
    pub subnet_public_key: Vec<u8>,
    /// Canister id ranges the subnet hosts, inclusive.
    pub canister_ranges: Vec<(Vec<u8>, Vec<u8>)>,
    /// Each node's principal and its public key (DER).
    pub node_public_keys: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The canisters, by id.
    pub canisters: BTreeMap<Vec<u8>, CanisterState>,
    /// Update calls' outcomes, by request id.
    pub request_status: StatusTree,
}

/// `n` in unsigned LEB128, as the state tree stores numbers.
fn leb128(n: u64) -> Vec<u8> {
    super::request_id::leb128(u128::from(n))
}

fn node(children: Vec<(&[u8], HashTree)>) -> HashTree {
    let mut children: Vec<(Vec<u8>, HashTree)> = children
        .into_iter()
        .map(|(label, tree)| (label.to_vec(), tree))
        .collect();
    children.sort_by(|a, b| a.0.cmp(&b.0));
    HashTree::from_sorted(children)
}

/// The self-described CBOR of a canister-range list, `[[low, high], …]`.
pub fn encode_ranges(ranges: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    encode_described(Value::Array(
        ranges
            .iter()
            .map(|(low, high)| {
                Value::Array(vec![Value::Bytes(low.clone()), Value::Bytes(high.clone())])
            })
            .collect(),
    ))
}

impl RequestStatus {
    /// Its subtree under `/request_status/<id>`.
    pub(crate) fn tree(&self) -> HashTree {
        let status = |name: &str| (b"status".as_slice(), leaf(name.as_bytes()));
        match self {
            RequestStatus::Received => node(vec![status("received")]),
            RequestStatus::Processing => node(vec![status("processing")]),
            RequestStatus::Done => node(vec![status("done")]),
            RequestStatus::Replied(reply) => {
                node(vec![status("replied"), (b"reply", leaf(reply.clone()))])
            }
            RequestStatus::Rejected {
                code,
                message,
                error_code,
            } => node(vec![
                status("rejected"),
                (b"reject_code", leaf(leb128(*code))),
                (b"reject_message", leaf(message.as_bytes())),
                (b"error_code", leaf(error_code.as_bytes())),
            ]),
        }
    }
}

impl CertifiedState {
    /// The root hash of the state tree: what the subnet signs.
    pub fn root(&self) -> [u8; 32] {
        self.outline().digest()
    }

    /// The state tree revealing `paths` (and the labels proving absent
    /// ones absent), everything else pruned. Request statuses are revealed
    /// by id (a path `/request_status/<id>/…` reveals that whole status).
    pub fn witness(&self, paths: &[&[&[u8]]]) -> HashTree {
        let mut ids = Vec::new();
        let mut others: Vec<&[&[u8]]> = Vec::new();
        for path in paths {
            match path {
                [b"request_status", id, ..] => ids.extend(<[u8; 32]>::try_from(*id)),
                _ => others.push(path),
            }
        }
        if !ids.is_empty() {
            others.push(&[b"request_status"]);
        }
        let mut tree = self.outline().prune(&others);
        if !ids.is_empty() {
            tree.replace_labeled(b"request_status", self.request_status.witness(&ids));
        }
        // Metadata values stand in the outline as their hashes: put back
        // those asked for.
        for path in paths {
            if let [b"canister", id, b"metadata", name] = path {
                let value = std::str::from_utf8(name)
                    .ok()
                    .and_then(|name| self.canisters.get(*id)?.metadata.get(name));
                if let Some(value) = value {
                    tree.replace_at(path, leaf(value.content.to_vec()));
                }
            }
        }
        tree
    }

    /// The state tree with `/request_status` pruned to its root hash
    /// (the status tree keeps that hash; witnesses graft it back in part).
    fn outline(&self) -> HashTree {
        let canisters = HashTree::from_sorted(
            self.canisters
                .iter()
                .map(|(id, canister)| {
                    let mut fields = vec![
                        (
                            b"certified_data".as_slice(),
                            leaf(canister.certified_data.clone()),
                        ),
                        (
                            b"controllers",
                            leaf(encode_described(Value::Array(
                                canister
                                    .controllers
                                    .iter()
                                    .map(|c| Value::Bytes(c.clone()))
                                    .collect(),
                            ))),
                        ),
                    ];
                    if let Some(hash) = canister.module_hash {
                        fields.push((b"module_hash", leaf(hash.to_vec())));
                    }
                    if !canister.metadata.is_empty() {
                        let sections = canister.metadata.iter().map(|(name, value)| {
                            (name.as_bytes().to_vec(), HashTree::Pruned(value.digest))
                        });
                        fields.push((b"metadata", HashTree::from_sorted(sections.collect())));
                    }
                    (id.clone(), node(fields))
                })
                .collect(),
        );
        let nodes = HashTree::from_sorted(
            self.node_public_keys
                .iter()
                .map(|(id, key)| (id.clone(), node(vec![(b"public_key", leaf(key.clone()))])))
                .collect(),
        );
        let subnet = HashTree::from_sorted(vec![(
            self.subnet_id.clone(),
            node(vec![
                (
                    b"canister_ranges",
                    leaf(encode_ranges(&self.canister_ranges)),
                ),
                (b"node", nodes),
                (b"public_key", leaf(self.subnet_public_key.clone())),
            ]),
        )]);
        // The routing table's shards of this subnet, each labeled by its
        // first canister id: one shard holds all of its few ranges.
        let shard = self.canister_ranges.first().map(|(low, _)| {
            let ranges = leaf(encode_ranges(&self.canister_ranges));
            HashTree::from_sorted(vec![(low.clone(), ranges)])
        });
        let routing = HashTree::from_sorted(vec![(
            self.subnet_id.clone(),
            shard.unwrap_or(HashTree::Empty),
        )]);
        node(vec![
            (b"canister", canisters),
            (b"canister_ranges", routing),
            (
                b"request_status",
                HashTree::Pruned(self.request_status.digest()),
            ),
            (b"subnet", subnet),
            (b"time", leaf(leb128(self.time_ns))),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ic::hash_tree::Lookup;
    use crate::ic::status_tree::StoredStatus;

    #[test]
    fn canister_ranges_encode_as_on_mainnet() {
        // From the delegation of an IC mainnet certificate (see `certificate`).
        let hex = |s: &str| hex::decode(s).unwrap();
        let ranges = vec![
            (hex("00000000006000000101"), hex("00000000006000ae0101")),
            (hex("00000000006000b00101"), hex("00000000006fffff0101")),
        ];
        assert_eq!(
            hex::encode(encode_ranges(&ranges)),
            "d9d9f782824a000000000060000001014a00000000006000ae0101824a00000000006000b001014a00000000006fffff0101"
        );
    }

    #[test]
    fn every_path_of_the_spec_layout_is_found_and_witnessed() {
        let mut state = CertifiedState {
            time_ns: 1_700_000_000_000_000_000,
            subnet_id: vec![7; 29],
            subnet_public_key: b"DER".to_vec(),
            canister_ranges: vec![(vec![0; 10], vec![1; 10])],
            ..CertifiedState::default()
        };
        state
            .node_public_keys
            .insert(vec![3; 29], b"node key".to_vec());
        state.canisters.insert(
            vec![0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
            CanisterState {
                certified_data: b"hello".to_vec(),
                module_hash: Some([9; 32]),
                controllers: vec![vec![4]],
                metadata: BTreeMap::from([(
                    "candid:service".to_string(),
                    MetadataLeaf {
                        content: std::sync::Arc::new(b"service : {}".to_vec().into()),
                        digest: leaf(b"service : {}".to_vec()).digest(),
                    },
                )]),
            },
        );
        let stored = |status| StoredStatus {
            status,
            expiry_ns: 0,
            sender: Vec::new(),
        };
        state
            .request_status
            .insert([5; 32], stored(RequestStatus::Replied(b"DIDL".to_vec())));
        state.request_status.insert(
            [6; 32],
            stored(RequestStatus::Rejected {
                code: 4,
                message: "no".into(),
                error_code: "IC0503".into(),
            }),
        );
        let root = state.root();
        let canister: &[u8] = &[0, 0, 0, 0, 0, 0, 0, 1, 1, 1];
        let subnet: &[u8] = &[7; 29];
        let time = leb128(state.time_ns);
        let ranges = encode_ranges(&state.canister_ranges);
        let expectations: Vec<(Vec<&[u8]>, Lookup)> = vec![
            (vec![b"time"], Lookup::Found(&time)),
            (
                vec![b"canister", canister, b"certified_data"],
                Lookup::Found(b"hello"),
            ),
            (
                vec![b"canister", canister, b"module_hash"],
                Lookup::Found(&[9; 32]),
            ),
            (
                vec![b"canister", canister, b"metadata", b"candid:service"],
                Lookup::Found(b"service : {}"),
            ),
            (
                vec![b"canister", canister, b"metadata", b"motoko:compiler"],
                Lookup::Absent,
            ),
            (
                vec![b"canister_ranges", subnet, &[0; 10]],
                Lookup::Found(&ranges),
            ),
            (
                vec![b"subnet", subnet, b"public_key"],
                Lookup::Found(b"DER"),
            ),
            (
                vec![b"subnet", subnet, b"node", &[3; 29], b"public_key"],
                Lookup::Found(b"node key"),
            ),
            (
                vec![b"request_status", &[5; 32], b"status"],
                Lookup::Found(b"replied"),
            ),
            (
                vec![b"request_status", &[5; 32], b"reply"],
                Lookup::Found(b"DIDL"),
            ),
            (
                vec![b"request_status", &[6; 32], b"reject_code"],
                Lookup::Found(&[4]),
            ),
            (
                vec![b"request_status", &[6; 32], b"error_code"],
                Lookup::Found(b"IC0503"),
            ),
            (vec![b"request_status", &[8; 32], b"status"], Lookup::Absent),
        ];
        for (path, expected) in expectations {
            // A witness for the path answers it and keeps the root.
            let witness = state.witness(&[&path, &[b"time"]]);
            assert_eq!(witness.digest(), root);
            assert_eq!(witness.lookup(&path), expected, "witness of {path:?}");
            assert_eq!(witness.lookup(&[b"time"]), Lookup::Found(&time));
        }
    }
}
