//! Execution: canisters run by wasmtime on the blocks consensus
//! finalized, identically on every node.
//!
//! [`ReplicatedState`] is everything the subnet agrees on (canisters,
//! their heaps, the answers to update calls, messages in flight); it is
//! plain data, cheap to clone (heaps and modules are shared until
//! changed), so every height's state can be kept for queries and
//! certification. [`Executor`] owns the live wasmtime instances and
//! applies one block at a time: the block's ingress joins each receiver's
//! queue, then a round ([`round`]) runs heartbeats, timers and queued
//! messages canister by canister within an instruction budget; a message
//! longer than a slice pauses and continues in later rounds. Canisters pay
//! for all of it in cycles ([`cycles`]).

pub mod cycles;
pub mod governance_canister;
pub mod ingress_filter;
pub mod install;
pub mod instrument;
pub mod management;
mod memory_image;
pub mod pages;
pub mod query;
pub mod round;
pub mod service;
pub mod signing;
pub mod system_api;
pub mod wasm;

pub use query::{inspect_message, query};

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::chain_key::SignJob;
use crate::config::{ChainKeyConfig, CyclesConfig, ExecutionConfig};
use crate::ic::state_tree::RequestStatus;
use crate::ic::status_tree::{StatusTree, StoredStatus};
use cycles::Fees;
use pages::Pages;
use round::{Paused, Run, SystemTask};
use system_api::{Api, Entry, OutgoingCall, Response};
use wasm::{EntryPoint, Heap, Instance, Ran, Runtime, Sliced, Trap};

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
fn principal_text(id: &[u8]) -> String {
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
    /// Seconds of storage its balance must keep paying for; below that it
    /// is frozen.
    #[serde(default = "default_freezing_threshold")]
    pub freezing_threshold: u64,
    /// Largest wasm memory its messages may grow to, bytes.
    #[serde(default = "default_wasm_memory_limit")]
    pub wasm_memory_limit: u64,
}

/// The IC's default `wasm_memory_limit`: 3 GiB.
fn default_wasm_memory_limit() -> u64 {
    3 << 30
}

fn default_freezing_threshold() -> u64 {
    cycles::DEFAULT_FREEZING_THRESHOLD_SECONDS
}

impl Canister {
    fn new(controllers: Vec<Vec<u8>>, cycles: u128) -> Canister {
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
            freezing_threshold: default_freezing_threshold(),
            wasm_memory_limit: default_wasm_memory_limit(),
        }
    }

    /// How far its messages may grow its memories.
    fn memory_caps(&self) -> system_api::MemoryCaps {
        system_api::MemoryCaps {
            heap: self.wasm_memory_limit.min(wasm::MAX_HEAP_BYTES as u64),
            stable: wasm::MAX_STABLE_BYTES,
        }
    }

    /// Bytes it stores: heap, stable memory and module.
    pub fn memory_bytes(&self) -> u64 {
        self.code.as_ref().map_or(0, |code| {
            (code.heap.memory.len() + code.heap.stable.len() + code.module.len()) as u64
        })
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The System API context of a message of this canister (`id`) at
    /// block time `time_ns`, with its stable memory `stable`.
    fn api(&self, entry: Entry, id: &[u8], time_ns: u64, stable: Pages) -> Api {
        let mut api = Api::new(entry, id.to_vec());
        api.time_ns = time_ns;
        api.controllers = self.controllers.clone();
        api.status = self.status_code();
        api.stable = stable;
        api.certified_data = self.certified_data.clone();
        api.balance = self.cycles;
        api.caps = self.memory_caps();
        api.global_timer = self.global_timer;
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
        hasher.finalize().into()
    }
}

/// A paused execution, owning its instances.
enum Running {
    /// A message.
    Message(Sliced),
    /// An install.
    Install(install::Installing),
}

/// A canister's live instance and its stable memory between messages.
struct Live {
    instance: Instance,
    stable: Pages,
}

/// Applies blocks to a [`ReplicatedState`], keeping canisters' instances
/// alive between messages.
pub struct Executor {
    runtime: Arc<Runtime>,
    /// The state after the last executed block.
    pub state: ReplicatedState,
    live: HashMap<Vec<u8>, Live>,
    /// Canisters whose heap changed in the current block.
    touched: Vec<Vec<u8>>,
    /// Seed of `raw_rand` for the current block.
    seed: [u8; 32],
    rand_counter: u64,
    /// The chain-key signing service's settings.
    chain_key: ChainKeyConfig,
    /// Signing requests paired with presignatures since the last take.
    sign_jobs: Vec<SignJob>,
    /// Instruction limits and the round budget.
    limits: ExecutionConfig,
    /// The paused messages' executions (their instances inside), by canister.
    running: HashMap<Vec<u8>, Running>,
    /// Instructions used in the current round so far.
    used: u64,
    /// Bytes all canisters hold (counted at the start of each round, then
    /// kept up to date as messages end).
    memory_used: u64,
    /// The fee schedule.
    fees: Fees,
    /// Who may mint cycles.
    cycles: CyclesConfig,
}

impl Executor {
    /// An executor continuing from `state`.
    pub fn new(runtime: Arc<Runtime>, state: ReplicatedState) -> Executor {
        Executor {
            runtime,
            state,
            live: HashMap::new(),
            touched: Vec::new(),
            seed: [0; 32],
            rand_counter: 0,
            chain_key: ChainKeyConfig::default(),
            sign_jobs: Vec::new(),
            limits: ExecutionConfig::default(),
            running: HashMap::new(),
            used: 0,
            memory_used: 0,
            fees: Fees::default(),
            cycles: CyclesConfig::default(),
        }
    }

    /// The same executor with these fees and minting rules.
    pub fn with_cycles(mut self, cycles: &CyclesConfig) -> Executor {
        self.fees = Fees::new(cycles);
        self.cycles = cycles.clone();
        self
    }

    /// The same executor with these execution limits.
    pub fn with_limits(mut self, limits: ExecutionConfig) -> Executor {
        self.limits = limits;
        self
    }

    /// The same executor with these chain-key settings.
    pub fn with_chain_key(mut self, chain_key: ChainKeyConfig) -> Executor {
        self.chain_key = chain_key;
        self
    }

    /// Takes the signing requests paired since the last call (every node
    /// signs them).
    pub fn take_sign_jobs(&mut self) -> Vec<SignJob> {
        std::mem::take(&mut self.sign_jobs)
    }

    /// Executes a finalized block: its chain-key events, then its calls
    /// and the messages they cause (its hash seeds `raw_rand`); at its end,
    /// signing requests are paired with the next height's beacon.
    pub fn execute_block(&mut self, block: service::Block) {
        self.state.height = block.height;
        self.state.time_ns = self.state.time_ns.max(block.time_ns);
        self.seed = block.hash;
        self.rand_counter = 0;
        self.apply_chain_key(block.chain_key);
        self.charge_storage();
        self.queue_system_tasks();
        for call in block.calls {
            if self.state.request_status.get(&call.request_id).is_some() {
                continue; // executed before: never twice
            }
            let status = match self.induct(&call) {
                Ok(()) => RequestStatus::Processing,
                Err(reject) => RequestStatus::Rejected {
                    code: u64::from(reject.code),
                    message: reject.message,
                    error_code: reject.error_code,
                },
            };
            let inducted = status == RequestStatus::Processing;
            self.state.request_status.insert(
                call.request_id,
                StoredStatus {
                    status,
                    expiry_ns: call.expiry_ns,
                },
            );
            if !inducted {
                continue;
            }
            self.state.queue.push_back(Message::Request {
                origin: Origin::Ingress(call.request_id),
                caller: call.sender,
                callee: call.canister_id,
                method: call.method,
                arg: call.arg,
                cycles: 0,
            });
        }
        self.run_round();
        // The requests queued so far were fixed before the next beacon
        // existed: nobody could choose a message knowing its randomness.
        self.pair_requests(&block.next_beacon);
        self.save_touched();
        if block.height.is_multiple_of(STATUS_SWEEP_EVERY) {
            let now = self.state.time_ns;
            self.state
                .request_status
                .retain(|status| status.expiry_ns.saturating_add(STATUS_RETENTION_NS) > now);
        }
    }

    /// Removes canister `id`'s code and state, as `uninstall_code` does or
    /// as running out of cycles does: a paused message is abandoned, and
    /// every call it has not answered is rejected.
    fn uninstall(&mut self, id: &[u8]) {
        self.drop_instance(id);
        self.running.remove(id);
        let uninstalled = || {
            Reject::new(
                reject_code::CANISTER_REJECT,
                "IC0537",
                "Canister has been uninstalled.",
            )
        };
        if let Some(round::Paused {
            task: round::Task::Install(install),
            ..
        }) = self.state.paused.remove(id)
        {
            // An install in progress answers its caller too.
            self.respond(install.origin, Err(uninstalled()), install.cycles);
        }
        let canister = self.canister(id);
        canister.code = None;
        canister.certified_data.clear();
        canister.global_timer = 0;
        canister.version += 1;
        canister.callbacks.clear();
        let contexts = std::mem::take(&mut canister.call_contexts);
        for context in contexts.into_values().filter(|c| !c.responded) {
            self.respond(context.origin, Err(uninstalled()), 0);
        }
    }

    fn canister(&mut self, id: &[u8]) -> &mut Canister {
        Arc::make_mut(
            self.state
                .canisters
                .get_mut(id)
                .expect("an existing canister"),
        )
    }

    fn open_context(&mut self, id: &[u8], origin: Origin, caller: Vec<u8>) -> u64 {
        let canister = self.canister(id);
        let context = canister.next_id();
        canister.call_contexts.insert(
            context,
            CallContext {
                origin,
                caller,
                responded: false,
                outstanding: 0,
            },
        );
        context
    }

    /// Sends an answer where `origin` says.
    fn respond(&mut self, origin: Origin, result: Result<Vec<u8>, Reject>, refund: u128) {
        match origin {
            Origin::Ingress(request_id) => {
                let status = match result {
                    Ok(reply) => RequestStatus::Replied(reply),
                    Err(reject) => RequestStatus::Rejected {
                        code: u64::from(reject.code),
                        message: reject.message,
                        error_code: reject.error_code,
                    },
                };
                if let Some(stored) = self.state.request_status.get(&request_id) {
                    let expiry_ns = stored.expiry_ns;
                    self.state
                        .request_status
                        .insert(request_id, StoredStatus { status, expiry_ns });
                }
            }
            Origin::Canister { caller, callback } => {
                self.state.queue.push_back(Message::Response {
                    canister: caller,
                    callback,
                    result: result.map(serde_bytes::ByteBuf::from),
                    refund,
                })
            }
            Origin::Nobody => {}
        }
    }

    fn request(
        &mut self,
        origin: Origin,
        caller: Vec<u8>,
        callee: Vec<u8>,
        method: String,
        arg: Vec<u8>,
        cycles: u128,
    ) {
        if callee.is_empty() && method == "install_code" {
            return self.start_install(origin, caller, arg, cycles);
        }
        if callee.is_empty() && method == "sign_with_ecdsa" {
            if let Err(reject) = self.sign_with_ecdsa(origin.clone(), caller, &arg, cycles) {
                self.respond(origin, Err(reject), cycles);
            }
            return;
        }
        if callee == governance_canister::id() {
            let governance = &mut self.state.governance;
            let result = governance_canister::update(governance, &caller, &method, &arg);
            return self.respond(origin, result, cycles);
        }
        if callee.is_empty() {
            let result = match method.as_str() {
                "ecdsa_public_key" => self.ecdsa_public_key(&caller, &arg),
                _ => management::call(self, &caller, &method, &arg, cycles),
            };
            let refund = if result.is_err() { cycles } else { 0 };
            return self.respond(origin, result, refund);
        }
        let checked = self.callable(&callee, &method);
        let export = match checked {
            Ok(export) => export,
            Err(reject) => return self.respond(origin, Err(reject), cycles),
        };
        // A query method called as an update is a replicated query: it is
        // answered and its changes are discarded.
        let entry = if export.starts_with("canister_query ") {
            Entry::Query
        } else {
            Entry::Update
        };
        let context = self.open_context(&callee, origin, caller.clone());
        let run = Run::new(
            context,
            entry,
            EntryPoint::Export(export),
            self.state.time_ns,
        );
        self.run_message(
            &callee,
            Run {
                caller,
                arg,
                cycles,
                ..run
            },
        );
    }

    /// The export that serves `method` on `callee`, or why it cannot be called.
    fn callable(&self, callee: &[u8], method: &str) -> Result<String, Reject> {
        let name = principal_text(callee);
        let Some(canister) = self.state.canisters.get(callee) else {
            return Err(Reject::not_found(callee));
        };
        if canister.status != RunStatus::Running {
            return Err(Reject::not_running(callee));
        }
        let Some(code) = &canister.code else {
            return Err(Reject::new(
                reject_code::CANISTER_ERROR,
                "IC0537",
                format!("Attempted to execute a message, but the canister {name} contains no Wasm module"),
            ));
        };
        let compiled = self.runtime.load(&code.module, &code.module_hash).ok();
        for kind in ["canister_update ", "canister_query "] {
            let export = format!("{kind}{method}");
            if compiled
                .as_ref()
                .is_some_and(|c| c.exports_function(&export))
            {
                return Ok(export);
            }
        }
        Err(Reject::new(
            reject_code::CANISTER_ERROR,
            "IC0536",
            format!("Canister {name} has no update method '{method}'"),
        ))
    }

    fn response(
        &mut self,
        canister_id: Vec<u8>,
        callback_id: u64,
        result: Result<Vec<u8>, Reject>,
        refund: u128,
    ) {
        let Some(canister) = self.state.canisters.get(&canister_id) else {
            return; // deleted meanwhile
        };
        if canister.code.is_none() || !canister.callbacks.contains_key(&callback_id) {
            return; // uninstalled meanwhile: its callbacks are gone
        }
        let canister = self.canister(&canister_id);
        let callback = canister.callbacks.remove(&callback_id).expect("checked");
        canister.cycles = canister.cycles.saturating_add(refund);
        let Some(context) = canister.call_contexts.get_mut(&callback.context) else {
            return;
        };
        context.outstanding -= 1;
        let caller = context.caller.clone();
        let (entry, (index, env), arg, reject) = match result {
            Ok(reply) => (
                Entry::ReplyCallback,
                callback.on_reply,
                reply,
                (0, String::new()),
            ),
            Err(reject) => (
                Entry::RejectCallback,
                callback.on_reject,
                Vec::new(),
                (reject.code, reject.message),
            ),
        };
        let entry_point = EntryPoint::Callback { index, env };
        let run = Run::new(callback.context, entry, entry_point, self.state.time_ns);
        self.run_message(
            &canister_id,
            Run {
                caller,
                arg,
                refunded: refund,
                reject,
                cleanup: callback.on_cleanup,
                ..run
            },
        );
    }

    /// Takes the live instance of `id` (made from its saved heap if there
    /// is none) and its stable memory; the caller puts them back.
    fn take_live(&mut self, id: &[u8]) -> Result<Live, Reject> {
        if let Some(live) = self.live.remove(id) {
            return Ok(live);
        }
        let code = self.state.canisters[id]
            .code
            .clone()
            .expect("only canisters with code run");
        let compiled = self
            .runtime
            .load(&code.module, &code.module_hash)
            .map_err(|error| {
                Reject::new(reject_code::CANISTER_ERROR, "IC0505", error.to_string())
            })?;
        let instance = self.runtime.resume(&compiled, id, &code.heap)?;
        Ok(Live {
            instance,
            stable: code.heap.stable.clone(),
        })
    }

    /// Replaces the saved heap of `id` (after a trap, or when a message
    /// pauses: the state keeps the heap before the message).
    fn set_heap(&mut self, id: &[u8], heap: Heap) {
        let heap = Arc::new(heap);
        if let Some(code) = self.canister(id).code.as_mut() {
            code.heap_digest = heap.digest();
            code.heap = heap;
        }
        self.touched.retain(|t| t != id);
    }

    /// Sends a call a canister made, remembering its callback.
    fn perform(&mut self, id: &[u8], context: u64, call: OutgoingCall) {
        let canister = self.canister(id);
        let callback = canister.next_id();
        canister.callbacks.insert(
            callback,
            Callback {
                context,
                on_reply: call.on_reply,
                on_reject: call.on_reject,
                on_cleanup: call.on_cleanup,
            },
        );
        if let Some(context) = canister.call_contexts.get_mut(&context) {
            context.outstanding += 1;
        }
        self.state.queue.push_back(Message::Request {
            origin: Origin::Canister {
                caller: id.to_vec(),
                callback,
            },
            caller: id.to_vec(),
            callee: call.callee,
            method: call.method,
            arg: call.arg,
            cycles: call.cycles,
        });
    }

    /// Answers call context `context` with `answer` (if it is the first
    /// answer), and closes it once nothing is outstanding. A context that
    /// closes unanswered is rejected: the canister did not reply.
    fn close_context(
        &mut self,
        id: &[u8],
        context: u64,
        answer: Option<Result<Vec<u8>, Reject>>,
        refund: u128,
    ) {
        let canister = self.canister(id);
        let Some(call) = canister.call_contexts.get_mut(&context) else {
            return;
        };
        let mut send = None;
        if let Some(answer) = answer {
            if !call.responded {
                call.responded = true;
                send = Some((call.origin.clone(), answer));
            }
        }
        if call.outstanding == 0 {
            let call = canister.call_contexts.remove(&context).expect("present");
            if !call.responded && send.is_none() {
                let reject = Reject::new(
                    reject_code::CANISTER_ERROR,
                    "IC0506",
                    "Canister did not reply to the call",
                );
                send = Some((call.origin, Err(reject)));
            }
        }
        if let Some((origin, answer)) = send {
            self.respond(origin, answer, refund);
        }
    }

    /// Copies the heap of canister `id` into the state if it ran since it
    /// was last saved.
    fn save_heap(&mut self, id: &[u8]) {
        if self.touched.iter().any(|t| t == id) {
            self.touched.retain(|t| t != id);
            if let Some(live) = self.live.get_mut(id) {
                let saved = &self.state.canisters[id].code.as_ref().expect("ran").heap;
                let heap = live.instance.save(&saved.memory, live.stable.clone());
                self.set_heap(id, heap);
            }
        }
    }

    /// Copies the heaps of canisters that ran into the state.
    fn save_touched(&mut self) {
        for id in std::mem::take(&mut self.touched) {
            let Some(live) = self.live.get_mut(&id) else {
                continue;
            };
            let saved = self.state.canisters[&id]
                .code
                .as_ref()
                .map(|c| &c.heap.memory);
            let heap = Arc::new(
                live.instance
                    .save(saved.unwrap_or(&Default::default()), live.stable.clone()),
            );
            if let Some(code) = Arc::make_mut(self.state.canisters.get_mut(&id).expect("live"))
                .code
                .as_mut()
            {
                code.heap_digest = heap.digest();
                code.heap = heap;
            }
        }
    }

    /// Forgets the live instance of `id` (after an install or an uninstall).
    fn drop_instance(&mut self, id: &[u8]) {
        self.live.remove(id);
        self.touched.retain(|t| t != id);
    }

    /// 32 random bytes for `raw_rand`, from the block.
    fn random_bytes(&mut self) -> [u8; 32] {
        self.rand_counter += 1;
        Sha256::new()
            .chain_update(b"chainkey raw_rand")
            .chain_update(self.seed)
            .chain_update(self.rand_counter.to_le_bytes())
            .finalize()
            .into()
    }
}

#[cfg(test)]
mod tests;
