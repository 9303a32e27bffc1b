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
//!
#![doc = include_str!("../../docs/canisters.md")]

pub mod canister_log;
pub mod cycles;
pub mod governance_canister;
pub mod ingress_filter;
pub mod install;
pub mod instrument;
pub mod low_memory_hook;
pub mod management;
mod memory_image;
pub mod pages;
pub mod query;
pub mod round;
pub mod service;
pub mod settings;
pub mod signing;
mod state;
pub mod system_api;
pub mod system_canisters;
pub mod wasm;

pub use query::{inspect_message, query, QueryCounts, QueryRun};
use state::principal_text;
pub use state::{
    reject_code, CallContext, Callback, Canister, Code, IngressCall, Message, Metadata, Origin,
    Reject, ReplicatedState, RunStatus, MESSAGES_PER_BLOCK, STATUS_RETENTION_NS,
    STATUS_SWEEP_EVERY, STORAGE_CHARGE_EVERY,
};

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::chain_key::SignJob;
use crate::config::{ChainKeyConfig, CyclesConfig, ExecutionConfig};
use crate::ic::state_tree::RequestStatus;
use crate::ic::status_tree::StoredStatus;
use cycles::Fees;
use pages::Pages;
use round::Run;
use system_api::{Api, Entry, OutgoingCall, Response};
use wasm::{EntryPoint, Heap, Instance, Ran, Runtime, Sliced};

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
    /// The subnet's id (what `subnet_info` answers for).
    subnet_id: Vec<u8>,
    /// What installs read of recent modules, by hash (unzipped once).
    facts: RefCell<lru::LruCache<[u8; 32], Arc<install::ModuleFacts>>>,
}

impl Executor {
    /// An executor continuing from `state` (the modules of installs that
    /// wait for theirs to compile start compiling again).
    pub fn new(runtime: Arc<Runtime>, state: ReplicatedState) -> Executor {
        install::compile_waiting_modules(&runtime, &state);
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
            subnet_id: Vec::new(),
            facts: RefCell::new(lru::LruCache::new(install::KEPT_MODULE_FACTS)),
        }
    }

    /// The same executor on the subnet whose id is `subnet_id`.
    pub fn with_subnet_id(mut self, subnet_id: Vec<u8>) -> Executor {
        self.subnet_id = subnet_id;
        self
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
        self.add_query_stats(block.query_stats);
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
                    sender: call.sender.clone(),
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

    /// Adds the query counts a block's maker reported to their canisters
    /// (counts for a canister that no longer exists are dropped).
    fn add_query_stats(&mut self, reported: Vec<(Vec<u8>, QueryCounts)>) {
        for (id, counts) in reported {
            if let Some(canister) = self.state.canisters.get_mut(&id) {
                Arc::make_mut(canister).query_stats.add(&counts);
            }
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

    /// Takes `bytes` of the subnet's memory capacity for something a
    /// management call stores (a chunk, a snapshot), or says it is full.
    fn reserve_memory(&mut self, bytes: u64) -> Result<(), Reject> {
        let used = self.memory_used.saturating_add(bytes);
        if used > self.limits.subnet_memory_bytes {
            return Err(Reject::new(
                reject_code::CANISTER_ERROR,
                "IC0507",
                format!(
                    "The subnet's memory capacity of {} bytes cannot hold {bytes} more",
                    self.limits.subnet_memory_bytes
                ),
            ));
        }
        self.memory_used = used;
        Ok(())
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
                    let answered = StoredStatus {
                        status,
                        ..stored.clone()
                    };
                    self.state.request_status.insert(request_id, answered);
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
        if callee.is_empty() && method == "install_chunked_code" {
            return match management::chunks::as_install_code(self, &caller, &arg) {
                Ok(arg) => self.start_install(origin, caller, arg, cycles),
                Err(reject) => self.respond(origin, Err(reject), cycles),
            };
        }
        if callee.is_empty() && method == "sign_with_ecdsa" {
            if let Err(reject) = self.sign_with_ecdsa(origin.clone(), caller, &arg, cycles) {
                self.respond(origin, Err(reject), cycles);
            }
            return;
        }
        if system_canisters::is_system_canister(&callee) {
            let (result, refund) =
                system_canisters::update(self, &callee, &caller, &method, &arg, cycles);
            return self.respond(origin, result, refund);
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
        let from_another_canister = matches!(origin, Origin::Canister { .. }) && caller != callee;
        let checked = self.callable(&callee, &method).and_then(|export| {
            let minimum = self.state.canisters[&callee]
                .settings
                .minimum_incoming_canister_call_cycles;
            if from_another_canister && cycles < minimum {
                return Err(Reject::new(
                    reject_code::CANISTER_ERROR,
                    "IC0540",
                    format!(
                        "Canister {} accepts calls from other canisters with at least \
                         {minimum} cycles attached, not {cycles}",
                        principal_text(&callee)
                    ),
                ));
            }
            Ok(export)
        });
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
