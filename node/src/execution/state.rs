//! What the subnet agrees on: canisters (code, heaps, stable memory,
//! cycles, settings), the messages and call contexts in flight, and the
//! answers to update calls. Plain data, cheap to clone (heaps and modules
//! are shared until changed), hashed into every height's state digest.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::canister_log::CanisterLog;
use super::management::snapshots::Snapshot;
use super::management::status::History;
use super::pages::Pages;
use super::round::{Paused, SystemTask};
use super::settings::Settings;
use super::system_api::{Api, Entry};
use super::wasm::{Heap, Trap};
use super::{signing, system_api, wasm};
use crate::ic::status_tree::StatusTree;

/// Reject codes of the interface spec.
pub mod reject_code {
    /// Fatal system error.
    pub const SYS_FATAL: u32 = 1;
    /// Transient system error.
    pub const SYS_TRANSIENT: u32 = 2;
    /// The destination does not exist.
    pub const DESTINATION_INVALID: u32 = 3;
    /// The canister rejected the call.
    pub const CANISTER_REJECT: u32 = 4;
    /// The canister failed (trapped, did not reply, …).
    pub const CANISTER_ERROR: u32 = 5;
}

/// Messages started per block at most; the rest wait for the next block.
pub const MESSAGES_PER_BLOCK: usize = 20_000;

/// A rejection: the spec's reject code, a message, and an error code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    /// 1–5.
    pub code: u32,
    /// Human-readable.
    pub message: String,
    /// Machine-readable (`IC0503`, …).
    pub error_code: String,
}

impl Reject {
    /// A rejection with these parts.
    pub fn new(code: u32, error_code: &str, message: impl Into<String>) -> Reject {
        Reject {
            code,
            message: message.into(),
            error_code: error_code.into(),
        }
    }
}

impl Reject {
    /// The IC's rejection of a call to a canister that does not exist.
    pub fn not_found(id: &[u8]) -> Reject {
        Reject::new(
            reject_code::DESTINATION_INVALID,
            "IC0301",
            format!("Canister {} not found", principal_text(id)),
        )
    }

    /// The IC's rejection of a call to a canister that is stopped or stopping.
    pub fn not_running(id: &[u8]) -> Reject {
        Reject::new(
            reject_code::CANISTER_ERROR,
            "IC0508",
            format!("Canister {} is not running", principal_text(id)),
        )
    }
}

/// The textual form of a principal (hex if it is not one).
pub(super) fn principal_text(id: &[u8]) -> String {
    crate::ic::principal::Principal::from_bytes(id)
        .map(|principal| principal.to_text())
        .unwrap_or_else(|_| hex::encode(id))
}

impl From<Trap> for Reject {
    fn from(trap: Trap) -> Reject {
        Reject::new(reject_code::CANISTER_ERROR, trap.error_code, trap.message)
    }
}

/// Running, stopping or stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunStatus {
    /// Accepts calls.
    Running,
    /// Finishing open calls.
    Stopping,
    /// Refuses calls.
    Stopped,
}

/// Where the answer of a call goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Origin {
    /// A user's update call, by request id.
    Ingress([u8; 32]),
    /// A canister's call, to its callback.
    Canister {
        /// The calling canister.
        caller: Vec<u8>,
        /// The callback waiting for the answer.
        callback: u64,
    },
    /// Nobody (timers, heartbeats).
    Nobody,
}

/// A call being processed by a canister.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallContext {
    /// Where the answer goes.
    pub origin: Origin,
    /// Who called.
    pub caller: Vec<u8>,
    /// Whether it was answered.
    pub responded: bool,
    /// Calls it made that have not been answered.
    pub outstanding: u32,
}

/// A callback waiting for the answer to a call a canister made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callback {
    /// The call context it belongs to.
    pub context: u64,
    /// Table index and environment for a reply.
    pub on_reply: (u64, u64),
    /// Table index and environment for a reject.
    pub on_reject: (u64, u64),
    /// Table index and environment to run if a callback traps.
    pub on_cleanup: Option<(u64, u64)>,
}

/// An installed module.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Code {
    /// The module as installed (possibly gzipped).
    pub module: Arc<serde_bytes::ByteBuf>,
    /// SHA-256 of `module`.
    pub module_hash: [u8; 32],
    /// Heap, globals and stable memory after the last message.
    pub heap: Arc<Heap>,
    /// SHA-256 of `heap` (kept with it).
    pub heap_digest: [u8; 32],
    /// The module's metadata: its `icp:public <name>` and `icp:private
    /// <name>` custom sections, by name.
    #[serde(default)]
    pub metadata: BTreeMap<String, Metadata>,
}

/// One metadata section of a module.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Whether anyone may read it (otherwise only controllers).
    pub public: bool,
    /// Its content.
    pub content: Arc<serde_bytes::ByteBuf>,
    /// The hash of its leaf in the state tree.
    pub digest: [u8; 32],
}

impl Metadata {
    /// A section with this content.
    pub fn new(public: bool, content: &[u8]) -> Metadata {
        Metadata {
            public,
            content: Arc::new(serde_bytes::ByteBuf::from(content)),
            digest: crate::ic::hash_tree::leaf(content).digest(),
        }
    }
}

impl Code {
    /// Bytes its metadata sections take.
    pub fn metadata_bytes(&self) -> u64 {
        self.metadata
            .iter()
            .map(|(name, section)| (name.len() + section.content.len()) as u64)
            .sum()
    }
}

/// One canister.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canister {
    /// Who may manage it.
    pub controllers: Vec<Vec<u8>>,
    /// Its cycle balance.
    pub cycles: u128,
    /// Running, stopping or stopped.
    pub status: RunStatus,
    /// What it certified (`ic0.certified_data_set`).
    pub certified_data: Vec<u8>,
    /// Its code and heap, once installed.
    pub code: Option<Code>,
    /// The global timer's deadline (0: none).
    pub global_timer: u64,
    /// Counts installs, upgrades and settings changes.
    pub version: u64,
    /// Calls it is processing, by id.
    pub call_contexts: BTreeMap<u64, CallContext>,
    /// Callbacks of calls it made, by id.
    pub callbacks: BTreeMap<u64, Callback>,
    /// The next id for a call context or callback.
    pub next_id: u64,
    /// Its settings, controllers aside (flattened: checkpoints written
    /// before they were grouped have two of them at the top level).
    #[serde(flatten)]
    pub settings: Settings,
    /// What its messages printed, and why they trapped.
    #[serde(default)]
    pub log: CanisterLog,
    /// Its chunk store (module pieces for `install_chunked_code`), by hash.
    #[serde(default)]
    pub chunks: super::management::chunks::Chunks,
    /// Its snapshots, oldest first.
    #[serde(default)]
    pub snapshots: Vec<Snapshot>,
    /// Its newest changes, for `canister_info`.
    #[serde(default)]
    pub history: History,
    /// Whether its low-wasm-memory hook is due.
    #[serde(default)]
    pub low_wasm_memory: super::low_memory_hook::HookStatus,
    /// The queries the subnet's nodes ran for it, as they reported them.
    #[serde(default)]
    pub query_stats: super::QueryCounts,
}

impl Canister {
    pub(super) fn new(controllers: Vec<Vec<u8>>, cycles: u128) -> Canister {
        Canister {
            controllers,
            cycles,
            status: RunStatus::Running,
            certified_data: Vec::new(),
            code: None,
            global_timer: 0,
            version: 0,
            call_contexts: BTreeMap::new(),
            callbacks: BTreeMap::new(),
            next_id: 0,
            settings: Settings::default(),
            log: CanisterLog::default(),
            chunks: BTreeMap::new(),
            snapshots: Vec::new(),
            history: History::default(),
            low_wasm_memory: Default::default(),
            query_stats: Default::default(),
        }
    }

    /// Notes that its wasm memory is `used` bytes after a message or a
    /// settings change: its low-memory hook may become due, or cease to be.
    pub(super) fn note_wasm_memory(&mut self, used: u64) {
        let (cap, threshold) = (self.memory_caps().heap, self.settings.wasm_memory_threshold);
        self.low_wasm_memory = self.low_wasm_memory.after(used, cap, threshold);
    }

    /// How far its messages may grow its memories.
    fn memory_caps(&self) -> system_api::MemoryCaps {
        system_api::MemoryCaps {
            heap: self.settings.heap_cap().min(wasm::MAX_HEAP_BYTES as u64),
            stable: match self.settings.memory_allocation {
                0 => wasm::MAX_STABLE_BYTES,
                allocation => allocation.min(wasm::MAX_STABLE_BYTES),
            },
        }
    }

    /// Bytes it stores: heap, stable memory, module and metadata, chunk
    /// store, snapshots, log and history.
    pub fn memory_bytes(&self) -> u64 {
        let code = self.code.as_ref().map_or(0, |code| {
            (code.heap.memory.len() + code.heap.stable.len() + code.module.len()) as u64
                + code.metadata_bytes()
        });
        code + self.chunk_store_bytes()
            + self.snapshot_bytes()
            + self.log.bytes()
            + self.history.bytes()
    }

    /// Bytes its chunk store holds.
    pub fn chunk_store_bytes(&self) -> u64 {
        self.chunks.values().map(|chunk| chunk.len() as u64).sum()
    }

    /// Bytes its snapshots hold.
    pub fn snapshot_bytes(&self) -> u64 {
        self.snapshots.iter().map(Snapshot::bytes).sum()
    }

    pub(super) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The System API context of a message of this canister (`id`) at
    /// block time `time_ns`, with its stable memory `stable`.
    pub(super) fn api(&self, entry: Entry, id: &[u8], time_ns: u64, stable: Pages) -> Api {
        let mut api = Api::new(entry, id.to_vec());
        api.time_ns = time_ns;
        api.controllers = self.controllers.clone();
        api.status = self.status_code();
        api.stable = stable;
        api.certified_data = self.certified_data.clone();
        api.balance = self.cycles;
        api.caps = self.memory_caps();
        api.global_timer = self.global_timer;
        api.environment = self.settings.environment_variables.clone();
        api
    }

    fn status_code(&self) -> u32 {
        match self.status {
            RunStatus::Running => 1,
            RunStatus::Stopping => 2,
            RunStatus::Stopped => 3,
        }
    }
}

/// A message in flight between canisters (or from a user).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// A call of `method` on `callee`.
    Request {
        /// Where its answer goes.
        origin: Origin,
        /// The caller's principal.
        caller: Vec<u8>,
        /// The callee (empty: the management canister).
        callee: Vec<u8>,
        /// The method.
        method: String,
        /// The argument.
        #[serde(with = "serde_bytes")]
        arg: Vec<u8>,
        /// Cycles attached.
        cycles: u128,
    },
    /// The answer to a canister's call.
    Response {
        /// The canister that called.
        canister: Vec<u8>,
        /// Its callback.
        callback: u64,
        /// Reply bytes or a rejection.
        result: Result<serde_bytes::ByteBuf, Reject>,
        /// Cycles sent back.
        refund: u128,
    },
    /// A heartbeat or a global timer of `canister`, queued each round.
    Task {
        /// The canister.
        canister: Vec<u8>,
        /// Which.
        task: SystemTask,
    },
}

/// An update call from a user, as a block orders it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngressCall {
    /// Its request id.
    pub request_id: [u8; 32],
    /// The sender.
    pub sender: Vec<u8>,
    /// The canister (empty: the management canister).
    pub canister_id: Vec<u8>,
    /// The method.
    pub method: String,
    /// The argument.
    pub arg: Vec<u8>,
    /// When it expires, Unix nanoseconds.
    pub expiry_ns: u64,
}

/// Heights between storage charges.
pub const STORAGE_CHARGE_EVERY: u64 = 16;

/// How long an answered request's status is kept after its expiry.
pub const STATUS_RETENTION_NS: u64 = 60_000_000_000;
/// Heights between sweeps of expired request statuses (a sweep visits
/// them all; an expired status may outlive its retention by this much).
pub const STATUS_SWEEP_EVERY: u64 = 64;

/// Everything the subnet agrees on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicatedState {
    /// The height of the last block executed.
    pub height: u64,
    /// Its time, Unix nanoseconds.
    pub time_ns: u64,
    /// The canisters, by id.
    pub canisters: BTreeMap<Vec<u8>, Arc<Canister>>,
    /// The answers to update calls, by request id.
    pub request_status: StatusTree,
    /// Messages sent and not yet in their receiver's queue.
    pub queue: VecDeque<Message>,
    /// Each receiver's messages waiting to run, by canister id (empty:
    /// the management canister's messages that name no canister).
    #[serde(default)]
    pub input_queues: BTreeMap<Vec<u8>, VecDeque<Message>>,
    /// The receiver served last: the next one served comes after it.
    #[serde(default)]
    pub last_served: Vec<u8>,
    /// Messages paused after a slice, by canister: each continues in the
    /// next rounds, and its canister runs nothing else meanwhile.
    #[serde(default)]
    pub paused: BTreeMap<Vec<u8>, Paused>,
    /// The height until which the subnet's compiling is spoken for: an
    /// install whose module takes long to compile starts after it, so
    /// modules compile one after another (`install::compile_wait`).
    #[serde(default)]
    pub compiling_until: u64,
    /// Canisters created so far (the next id's index).
    pub canisters_created: u64,
    /// Chain-key signing requests and presignatures.
    pub signing: signing::SigningState,
    /// Block time up to which storage was charged.
    #[serde(default)]
    pub storage_charged_ns: u64,
    /// Neurons, proposals and the subnet record (the governance canister's
    /// state; empty in a checkpoint written before governance existed).
    #[serde(default)]
    pub governance: crate::registry::governance::Governance,
    /// The cycles ledger's and the ICP ledger's accounts.
    #[serde(default)]
    pub ledgers: super::system_canisters::Ledgers,
}

impl ReplicatedState {
    /// SHA-256 over the whole state, for checking that nodes agree.
    pub fn digest(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.height.to_le_bytes());
        hasher.update(self.time_ns.to_le_bytes());
        for (id, canister) in &self.canisters {
            let mut copy = Canister::clone(canister);
            let heap = copy.code.as_mut().map(|code| {
                let digest = code.heap_digest;
                code.heap = Arc::default();
                digest
            });
            hasher.update(id);
            hasher.update(heap.unwrap_or_default());
            hasher.update(crate::cbor::to_cbor(&copy));
        }
        hasher.update(self.request_status.digest());
        hasher.update(crate::cbor::to_cbor(&self.queue));
        hasher.update(crate::cbor::to_cbor(&self.input_queues));
        hasher.update(&self.last_served);
        hasher.update(crate::cbor::to_cbor(&self.paused));
        hasher.update(self.canisters_created.to_le_bytes());
        hasher.update(self.storage_charged_ns.to_le_bytes());
        hasher.update(crate::cbor::to_cbor(&self.signing));
        hasher.update(crate::cbor::to_cbor(&self.governance));
        hasher.update(crate::cbor::to_cbor(&self.ledgers));
        hasher.finalize().into()
    }
}
