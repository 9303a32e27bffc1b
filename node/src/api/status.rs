//! What a node reports on `/status`: one JSON document for operators,
//! `chainkey subnet`'s status line and the tests.

use std::collections::BTreeMap;

use chainkey_consensus::{Height, NodeId};
use serde::{Deserialize, Serialize};

/// What `/status` reports.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Status {
    /// The node's id.
    pub node: NodeId,
    /// Current consensus round.
    pub round: Height,
    /// Highest finalized height.
    pub finalized_height: Height,
    /// Hash of the block finalized there (hex).
    pub finalized_hash: String,
    /// Highest height in the store.
    pub stored_height: Height,
    /// Finalized blocks per second over the last 10 seconds.
    pub blocks_per_second: f64,
    /// Median finalization latency of the last 256 blocks (ms).
    pub latency_p50_ms: f64,
    /// 99th percentile of the same (ms).
    pub latency_p99_ms: f64,
    /// Ingress messages finalized since start.
    pub ingress_finalized: u64,
    /// Ingress messages finalized per second over the last 10 seconds.
    pub ingress_per_second: f64,
    /// Accepted ingress messages waiting for a block.
    pub ingress_pending: usize,
    /// Mean checks per consensus verification batch (last 256 batches).
    pub mean_batch: f64,
    /// The verification backend.
    pub backend: String,
    /// Peers our connections to are up.
    pub peers_connected: usize,
    /// Artifacts, certification shares and frames dropped as invalid,
    /// malformed or over the rate limit.
    pub dropped_from_peers: u64,
    /// Highest height executed.
    pub executed_height: Height,
    /// Update calls executed since start (from blocks, replays included).
    pub calls_executed: u64,
    /// Highest height whose state is certified.
    pub certified_height: Height,
    /// Digests of the whole replicated state at the last executed heights
    /// (height, hex), for comparing nodes.
    pub state_digests: Vec<(Height, String)>,
    /// Whether the chain-key ECDSA master key exists.
    pub ecdsa_key_ready: bool,
    /// The master public key (SEC1 compressed, hex), once it exists.
    pub ecdsa_public_key: Option<String>,
    /// The registry version of the latest subnet record the chain carried.
    pub registry_version: u64,
    /// The registry version whose members hold the chain keys now.
    pub key_epoch: u64,
    /// The registry version whose members run consensus now.
    pub consensus_epoch: u64,
    /// How many nodes the consensus committee has.
    pub committee_size: usize,
    /// The registry version the master key was last reshared for, and the
    /// reshared key's public key (hex; the same as the master's).
    pub ecdsa_reshared: Option<(u64, String)>,
    /// The registry version the threshold BLS keys were last reshared
    /// for, and their public keys (hex; beacon, certification).
    pub bls_reshared: Option<(u64, String, String)>,
    /// The registry version whose shares of the reshared BLS keys this
    /// node decrypted, before that membership takes over.
    pub bls_next_shares: Option<u64>,
    /// The registry version whose members' BLS key shares this node holds
    /// (none: it holds none, e.g. it was removed).
    pub bls_shares_epoch: Option<u64>,
    /// Presignatures ready and not used.
    pub presignatures_ready: usize,
    /// Chain-key signatures finalized since start.
    pub signatures_finalized: u64,
    /// Invalid chain-key dealings, ciphertexts and signature shares, by
    /// the node that made them.
    pub chain_key_invalid: BTreeMap<NodeId, u64>,
    /// Shares of chain-key transcripts this node rebuilt from openings
    /// (after a dealer sent it a bad ciphertext).
    pub shares_rebuilt: u64,
}
