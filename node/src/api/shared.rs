//! What the HTTP endpoint shares with the node's event loop: the latest
//! status and states, the ingress channel, and what requests need to be
//! checked and answered.

use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};

use chainkey_crypto::batch::VerifyService;
use tokio::sync::mpsc;

use super::status::Status;
use crate::certification::Certified;
use crate::execution::wasm::Runtime;
use crate::ingress::{Seen, Submission};
use crate::metrics::Metrics;
use crate::net::transport::Transport;

/// What the HTTP endpoint shares with the event loop.
pub struct Shared {
    /// The latest status.
    pub status: Mutex<Status>,
    /// Verified ingress for the next blocks.
    pub ingress: mpsc::Sender<Vec<Submission>>,
    /// Ingress ids accepted here, until they expire.
    pub seen: Mutex<Seen>,
    /// Accepted messages waiting for a block (refuse more beyond
    /// [`MAX_PENDING`](crate::ingress::MAX_PENDING)).
    pub pending: AtomicUsize,
    /// Verifies ingress signatures, batched across concurrent submissions.
    pub verify_service: VerifyService,
    /// The node's metrics.
    pub metrics: Metrics,
    /// The network (for the isolation test hook).
    pub transport: Arc<Transport>,
    /// Test hook: behave as a Byzantine node (see `replica::byzantine`).
    pub byzantine: AtomicBool,
    /// Test hook: make this node's chain-key dealings and signature shares invalid.
    pub corrupt_chain_key: Arc<AtomicBool>,
    /// Whether `/debug/*` is enabled.
    pub test_hooks: bool,
    /// The subnet's root key (DER) for `/api/v2/status`.
    pub root_key: Vec<u8>,
    /// Runs queries (shares compiled modules with execution).
    pub runtime: Arc<Runtime>,
    /// Execution limits (queries, and the ingress filter's cycles check).
    pub execution: crate::config::ExecutionConfig,
    /// The subnet's fees (the ingress filter's cycles check).
    pub fees: crate::execution::cycles::Fees,
    /// Who may mint cycles (the ledgers' answers to queries depend on it).
    pub cycles: crate::config::CyclesConfig,
    /// Runs canister code for HTTP requests (queries, inspect_message).
    pub canister_runs: crate::api::canister_runs::CanisterRuns,
    /// The latest executed state (the ingress filter judges calls on it).
    pub executed: tokio::sync::watch::Sender<Option<Arc<crate::execution::ReplicatedState>>>,
    /// The latest certified state, and its height for waiters.
    pub certified: tokio::sync::watch::Sender<Option<Arc<Certified>>>,
    /// Signs query responses.
    pub query_key: ed25519_dalek::SigningKey,
    /// This node's principal.
    pub node_principal: Vec<u8>,
    /// Bounds on the HTTP endpoint's connections.
    pub http_limits: crate::config::HttpLimits,
    /// Counts the queries this node answers, for its block reports.
    pub query_stats: Arc<Mutex<crate::query_stats::Collector>>,
}
