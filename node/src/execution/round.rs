//! One round of execution per block, within an instruction budget.
//!
//! Messages wait in one queue per receiver (a canister, or the management
//! canister for its messages that name no canister; a management message
//! about canister C waits in C's queue). A round serves the receivers in
//! turn, one message each, starting after the one served last, until its
//! budget ([`ExecutionConfig::round_instructions`]) is spent: a canister
//! flooded with work, or one whose heartbeat never ends, delays nobody
//! else's messages by more than one message per turn.
//!
//! A message runs at most one slice ([`ExecutionConfig::slice_instructions`])
//! at a time. If it has not ended, it pauses: its instance waits in
//! [`Sliced`], the state keeps the canister's heap from before the message
//! and a [`Paused`] record of how it started, and the canister runs
//! nothing else (its queue waits) until the message ends in a later round.
//! A node that restarted has only the record: it starts the message again
//! from the saved heap and runs it through the slices the others already
//! ran, so it stops where they stopped (slices depend only on the
//! instructions run). The message's effects are applied only when it ends,
//! and a trap discards them.
//!
//! [`ExecutionConfig::round_instructions`]: crate::config::ExecutionConfig::round_instructions
//! [`ExecutionConfig::slice_instructions`]: crate::config::ExecutionConfig::slice_instructions

use std::ops::Bound;

use serde::{Deserialize, Serialize};

use super::install::Install;
use super::low_memory_hook::HookStatus;
use super::pages::Pages;
use super::{
    reject_code, Api, Canister, Entry, EntryPoint, Executor, Instance, Live, Message, Origin, Ran,
    Reject, Response, RunStatus, Running, Sliced, MESSAGES_PER_BLOCK,
};

/// Instructions charged for a message the node itself answers (management,
/// governance, chain-key): it takes its turn like any other message.
pub const SYSTEM_MESSAGE_INSTRUCTIONS: u64 = 10_000;

/// A canister's periodic entry points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SystemTask {
    /// `canister_heartbeat`, once per round.
    Heartbeat,
    /// `canister_global_timer`, once its deadline passed.
    GlobalTimer,
    /// `canister_on_low_wasm_memory`, once its memory runs low
    /// ([`super::low_memory_hook`]).
    LowWasmMemory,
}

impl SystemTask {
    fn export(self) -> &'static str {
        match self {
            SystemTask::Heartbeat => "canister_heartbeat",
            SystemTask::GlobalTimer => "canister_global_timer",
            SystemTask::LowWasmMemory => "canister_on_low_wasm_memory",
        }
    }
}

/// A canister message as it starts: everything needed to start it again
/// the same way after a restart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Its call context (`u64::MAX`: a cleanup, which answers nobody).
    pub context: u64,
    /// The kind of entry point, which decides what the System API allows.
    pub entry: Entry,
    /// The function it runs.
    pub entry_point: EntryPoint,
    /// Who called.
    pub caller: Vec<u8>,
    /// The argument (or the reply, in a reply callback).
    #[serde(with = "serde_bytes")]
    pub arg: Vec<u8>,
    /// Cycles the caller attached.
    pub cycles: u128,
    /// Cycles refunded to a callback.
    pub refunded: u128,
    /// Reject code and message, in a reject callback.
    pub reject: (u32, String),
    /// The block time it started at.
    pub time_ns: u64,
    /// The cleanup callback to run if it traps.
    pub cleanup: Option<(u64, u64)>,
    /// Cycles taken before it ran, for its instruction limit (callbacks
    /// and cleanups prepay nothing: they pay for what they used).
    pub prepaid: u128,
    /// The canister's balance when it started (after prepaying): what the
    /// message sees, also when it is run again after a restart, though
    /// fees charged meanwhile changed the balance.
    pub balance: u128,
    /// Bytes of the canister's memories when it started.
    pub memory_bytes: u64,
}

impl Run {
    /// A message entering at `entry_point` at block time `time_ns`, with
    /// no caller, argument or cycles.
    pub fn new(context: u64, entry: Entry, entry_point: EntryPoint, time_ns: u64) -> Run {
        Run {
            context,
            entry,
            entry_point,
            caller: Vec::new(),
            arg: Vec::new(),
            cycles: 0,
            refunded: 0,
            reject: (0, String::new()),
            time_ns,
            cleanup: None,
            prepaid: 0,
            balance: 0,
            memory_bytes: 0,
        }
    }
}

/// What a paused execution runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Task {
    /// A canister message.
    Message(Run),
    /// An `install_code` of the canister.
    Install(Install),
}

/// An execution that has run `slices` slices and continues next round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paused {
    /// What it runs, as it started.
    pub task: Task,
    /// Slices run so far.
    pub slices: u64,
}

impl Paused {
    /// Whether it may run at `height` (an install waits for its module
    /// to compile).
    fn ready(&self, height: u64) -> bool {
        match &self.task {
            Task::Message(_) => true,
            Task::Install(install) => install.ready_at <= height,
        }
    }
}

impl Message {
    /// Whose queue the message waits in.
    fn receiver(&self) -> Vec<u8> {
        match self {
            Message::Request { callee, arg, .. } if callee.is_empty() => {
                // A management call about canister C waits while C runs a
                // paused message, without holding up anyone else's.
                super::management::target(arg).unwrap_or_default()
            }
            Message::Request { callee, .. } => callee.clone(),
            Message::Response { canister, .. } | Message::Task { canister, .. } => canister.clone(),
        }
    }
}

impl Executor {
    /// Queues each running canister's heartbeat and due global timer
    /// behind its waiting messages (so a heartbeat that runs for many
    /// rounds does not starve its own canister's calls), unless one is
    /// queued already or the canister is in the middle of a message.
    pub(super) fn queue_system_tasks(&mut self) {
        let now = self.state.time_ns;
        let ids: Vec<Vec<u8>> = self.state.canisters.keys().cloned().collect();
        for id in ids {
            let canister = &self.state.canisters[&id];
            let Some(code) = &canister.code else { continue };
            let prepay = self.fees.execution(self.limits.update_instructions);
            let frozen = canister.cycles < self.fees.freezing_threshold(canister) + prepay;
            if canister.status != RunStatus::Running
                || frozen
                || self.state.paused.contains_key(&id)
            {
                continue;
            }
            let compiled = self.runtime.load(&code.module, &code.module_hash).ok();
            let has = |task: SystemTask| {
                compiled
                    .as_ref()
                    .is_some_and(|c| c.exports_function(task.export()))
            };
            let timer_due = canister.global_timer != 0 && canister.global_timer <= now;
            let timer = timer_due && has(SystemTask::GlobalTimer);
            let heartbeat = has(SystemTask::Heartbeat);
            let hook =
                canister.low_wasm_memory == HookStatus::Ready && has(SystemTask::LowWasmMemory);
            if timer_due {
                self.canister(&id).global_timer = 0;
            }
            let queue = self.state.input_queues.entry(id.clone()).or_default();
            for (wanted, task) in [
                (heartbeat, SystemTask::Heartbeat),
                (timer, SystemTask::GlobalTimer),
                (hook, SystemTask::LowWasmMemory),
            ] {
                let queued = queue
                    .iter()
                    .any(|m| matches!(m, Message::Task { task: t, .. } if *t == task));
                if wanted && !queued {
                    queue.push_back(Message::Task {
                        canister: id.clone(),
                        task,
                    });
                }
            }
            if queue.is_empty() {
                self.state.input_queues.remove(&id);
            }
        }
    }

    /// Moves sent messages into their receivers' queues.
    fn route(&mut self) {
        while let Some(message) = self.state.queue.pop_front() {
            let receiver = message.receiver();
            self.state
                .input_queues
                .entry(receiver)
                .or_default()
                .push_back(message);
        }
    }

    /// The next receiver with work after the one served last, wrapping
    /// around: paused messages and queued ones take turns alike (a
    /// canister whose install waits for its module has no work yet, and
    /// its queue waits with it).
    fn next_receiver(&self) -> Option<Vec<u8>> {
        let after = (Bound::Excluded(&self.state.last_served), Bound::Unbounded);
        let queued = &self.state.input_queues;
        let paused = &self.state.paused;
        let height = self.state.height;
        let busy = |id: &&Vec<u8>| paused.get(*id).is_some_and(|p| !p.ready(height));
        let ready = |(_, p): &(&Vec<u8>, &Paused)| p.ready(height);
        let first_after = [
            queued
                .range::<Vec<u8>, _>(after)
                .map(|(id, _)| id)
                .find(|id| !busy(id)),
            paused
                .range::<Vec<u8>, _>(after)
                .find(ready)
                .map(|(id, _)| id),
        ];
        let first = [
            queued.keys().find(|id| !busy(id)),
            paused.iter().find(ready).map(|(id, _)| id),
        ];
        let earliest_after = first_after.into_iter().flatten().min();
        earliest_after
            .or_else(|| first.into_iter().flatten().min())
            .cloned()
    }

    /// Runs messages receiver by receiver until the round's budget is
    /// spent, [`MESSAGES_PER_BLOCK`] were started, or no work is left.
    pub(super) fn run_round(&mut self) {
        self.used = 0;
        self.memory_used = self
            .state
            .canisters
            .values()
            .map(|c| c.memory_bytes())
            .sum();
        let mut started = 0;
        self.route();
        while self.used < self.limits.round_instructions && started < MESSAGES_PER_BLOCK {
            let Some(receiver) = self.next_receiver() else {
                break;
            };
            self.state.last_served = receiver.clone();
            if self.state.paused.contains_key(&receiver) {
                self.continue_paused(&receiver);
            } else {
                let queue = self
                    .state
                    .input_queues
                    .get_mut(&receiver)
                    .expect("a receiver with work");
                let message = queue.pop_front().expect("queues in the map are not empty");
                if queue.is_empty() {
                    self.state.input_queues.remove(&receiver);
                }
                started += 1;
                self.execute(message);
            }
            self.route();
        }
    }

    /// Executes (or starts) one message.
    fn execute(&mut self, message: Message) {
        match message {
            Message::Request {
                origin,
                caller,
                callee,
                method,
                arg,
                cycles,
            } => {
                if callee.is_empty() || super::system_canisters::is_served_by_the_node(&callee) {
                    self.used += SYSTEM_MESSAGE_INSTRUCTIONS;
                }
                self.request(origin, caller, callee, method, arg, cycles);
            }
            Message::Response {
                canister,
                callback,
                result,
                refund,
            } => self.response(canister, callback, result.map(|b| b.into_vec()), refund),
            Message::Task { canister, task } => self.system_task(&canister, task),
        }
    }

    /// Runs a heartbeat or a global timer, if the canister can still run it.
    fn system_task(&mut self, id: &[u8], task: SystemTask) {
        let Some(canister) = self.state.canisters.get(id) else {
            return;
        };
        let runs = canister.status == RunStatus::Running
            && canister.code.as_ref().is_some_and(|code| {
                self.runtime
                    .load(&code.module, &code.module_hash)
                    .is_ok_and(|c| c.exports_function(task.export()))
            });
        if !runs {
            return;
        }
        if task == SystemTask::LowWasmMemory {
            // Due only while the condition holds, and once.
            let canister = self.canister(id);
            if canister.low_wasm_memory != HookStatus::Ready {
                return;
            }
            canister.low_wasm_memory = HookStatus::Executed;
        }
        let context = self.open_context(id, Origin::Nobody, Vec::new());
        let entry_point = EntryPoint::Export(task.export().into());
        let run = Run::new(context, Entry::System, entry_point, self.state.time_ns);
        self.run_message(id, run);
    }

    /// Instructions a message of this kind may use in all.
    fn limit(&self, entry: Entry) -> u64 {
        match entry {
            Entry::Query => self.limits.query_instructions,
            Entry::InspectMessage => self.limits.inspect_message_instructions,
            Entry::Init | Entry::PreUpgrade => self.limits.install_instructions,
            Entry::Update
            | Entry::ReplyCallback
            | Entry::RejectCallback
            | Entry::Cleanup
            | Entry::System => self.limits.update_instructions,
        }
    }

    /// The System API context `run` starts with on `canister`.
    fn api_for(&self, canister: &Canister, id: &[u8], run: &Run, stable: Pages) -> Api {
        let mut api = canister.api(run.entry, id, run.time_ns, stable);
        api.caller = run.caller.clone();
        api.arg = run.arg.clone();
        api.available = run.cycles;
        api.refunded = run.refunded;
        api.reject = run.reject.clone();
        api.responded = canister
            .call_contexts
            .get(&run.context)
            .is_none_or(|context| context.responded);
        api.balance = run.balance;
        api.call_fees = (self.fees.call, self.fees.call_byte);
        api.freezing_threshold = self.fees.freezing_threshold(canister);
        api
    }

    /// Starts `run` on canister `id`'s instance without running it.
    fn start(&mut self, id: &[u8], run: &Run, live: Live) -> Sliced {
        let canister = std::sync::Arc::clone(&self.state.canisters[id]);
        let api = self.api_for(&canister, id, run, live.stable);
        Sliced::start(
            live.instance,
            run.entry_point.clone(),
            api,
            self.limit(run.entry),
            self.limits.slice_instructions,
        )
    }

    /// Runs message `run` of canister `id` for one slice: it ends (and
    /// what it did is applied), or it pauses until the next round.
    pub(super) fn run_message(&mut self, id: &[u8], mut run: Run) {
        if let Err(reject) = self.prepay(id, &mut run) {
            self.close_context(id, run.context, Some(Err(reject)), run.cycles);
            return;
        }
        run.balance = self.state.canisters[id].cycles;
        let mut live = match self.take_live(id) {
            Ok(live) => live,
            Err(reject) => {
                self.close_context(id, run.context, Some(Err(reject)), run.cycles);
                return;
            }
        };
        run.memory_bytes = live.instance.memory_bytes() + live.stable.len() as u64;
        // The saved heap is older than the instance if the canister ran
        // earlier in this block: keep the heap before this message.
        let before = self.touched.iter().any(|t| t == id).then(|| {
            let saved = &self.state.canisters[id].code.as_ref().expect("runs").heap;
            live.instance.save(&saved.memory, live.stable.clone())
        });
        let mut sliced = self.start(id, &run, live);
        match sliced.step() {
            Some((instance, api, ran)) => {
                self.used += api.instructions;
                let ran = self.within_capacity(&run, &instance, &api, ran);
                if let Some(before) = &before {
                    // Only a trap or a replicated query goes back to it.
                    if matches!(ran, Ran::Trapped(_)) || run.entry == Entry::Query {
                        self.set_heap(id, before.clone());
                    }
                }
                self.finish(id, run, instance, api, ran);
            }
            None => {
                self.used += self.limits.slice_instructions;
                if let Some(before) = before {
                    self.set_heap(id, before);
                }
                self.state.paused.insert(
                    id.to_vec(),
                    Paused {
                        task: Task::Message(run),
                        slices: 1,
                    },
                );
                self.running.insert(id.to_vec(), Running::Message(sliced));
            }
        }
    }

    /// Takes the cost of `run` at its instruction limit from canister
    /// `id`, unless that would freeze it. Callbacks and cleanups, whose
    /// calls were paid for when they were made, prepay nothing.
    fn prepay(&mut self, id: &[u8], run: &mut Run) -> Result<(), Reject> {
        if matches!(
            run.entry,
            Entry::ReplyCallback | Entry::RejectCallback | Entry::Cleanup
        ) {
            return Ok(());
        }
        let prepaid = self.fees.execution(self.limit(run.entry));
        let canister = self
            .state
            .canisters
            .get_mut(id)
            .expect("a canister that runs");
        self.fees
            .charge(id, std::sync::Arc::make_mut(canister), prepaid)?;
        run.prepaid = prepaid;
        Ok(())
    }

    /// Settles what an ended message cost against what it prepaid.
    pub(super) fn settle(&mut self, id: &[u8], prepaid: u128, instructions: u64) {
        let cost = self.fees.execution(instructions);
        let canister = self.canister(id);
        canister.cycles = if prepaid >= cost {
            canister.cycles.saturating_add(prepaid - cost)
        } else {
            canister.cycles.saturating_sub(cost - prepaid)
        };
    }

    /// Runs one more slice of canister `id`'s paused execution.
    fn continue_paused(&mut self, id: &[u8]) {
        let Paused { task, slices } = self.state.paused[id].clone();
        match task {
            Task::Message(run) => self.continue_message(id, run, slices),
            Task::Install(install) => self.continue_install(id, install, slices),
        }
    }

    /// Runs one more slice of message `run` of canister `id`, which ran
    /// `slices` slices (started again from the saved heap after a restart).
    fn continue_message(&mut self, id: &[u8], run: Run, slices: u64) {
        let mut sliced = match self.running.remove(id) {
            Some(Running::Message(sliced)) => sliced,
            _ => {
                let live = match self.take_live(id) {
                    Ok(live) => live,
                    Err(reject) => {
                        self.state.paused.remove(id);
                        self.close_context(id, run.context, Some(Err(reject)), run.cycles);
                        return;
                    }
                };
                let mut sliced = self.start(id, &run, live);
                for _ in 0..slices {
                    if let Some((instance, api, ran)) = sliced.step() {
                        // Cannot happen: slices are deterministic. End it
                        // as the others would have, at its next turn.
                        tracing::error!("a paused message ended early while catching up");
                        self.state.paused.remove(id);
                        return self.finish(id, run, instance, api, ran);
                    }
                }
                sliced
            }
        };
        match sliced.step() {
            Some((instance, api, ran)) => {
                let slice = self.limits.slice_instructions;
                self.used += api
                    .instructions
                    .saturating_sub(slices.saturating_mul(slice))
                    .min(slice);
                self.state.paused.remove(id);
                let ran = self.within_capacity(&run, &instance, &api, ran);
                self.finish(id, run, instance, api, ran);
            }
            None => {
                self.used += self.limits.slice_instructions;
                self.state.paused.get_mut(id).expect("paused").slices += 1;
                self.running.insert(id.to_vec(), Running::Message(sliced));
            }
        }
    }

    /// `ran`, or a trap if the message grew its canister's memories past
    /// what the subnet has left (its changes are then discarded); counts
    /// the growth of those that keep their changes.
    fn within_capacity(&mut self, run: &Run, instance: &Instance, api: &Api, ran: Ran) -> Ran {
        if !matches!(ran, Ran::Returned) || run.entry == Entry::Query {
            return ran;
        }
        let bytes = instance.memory_bytes() + api.stable.len() as u64;
        let used = (self.memory_used + bytes).saturating_sub(run.memory_bytes);
        if bytes > run.memory_bytes && used > self.limits.subnet_memory_bytes {
            return Ran::Trapped(super::wasm::Trap {
                error_code: "IC0507",
                message: format!(
                    "Canister cannot grow its memory to {bytes} bytes: the subnet's memory \
                     capacity of {} bytes is exhausted",
                    self.limits.subnet_memory_bytes
                ),
            });
        }
        self.memory_used = used;
        ran
    }

    /// Appends what a message of canister `id` printed, and why it
    /// trapped, to the canister's log.
    fn log(&mut self, id: &[u8], time_ns: u64, printed: Vec<Vec<u8>>, ran: &Ran) {
        let Some(canister) = self.state.canisters.get_mut(id) else {
            return;
        };
        let trap = match ran {
            Ran::Trapped(trap) => Some(format!("[TRAP]: {}", trap.message).into_bytes()),
            Ran::Returned => None,
        };
        if printed.is_empty() && trap.is_none() {
            return;
        }
        let canister = std::sync::Arc::make_mut(canister);
        let limit = canister.settings.log_memory_limit;
        for content in printed.into_iter().chain(trap) {
            canister.log.append(time_ns, content, limit);
        }
    }

    /// Applies what an ended message did: its answer, its calls and its
    /// changes — or, if it trapped, nothing but the rejection (and its
    /// cleanup callback). The saved heap is already the one before the
    /// message wherever its changes are discarded.
    fn finish(&mut self, id: &[u8], run: Run, instance: Instance, mut api: Api, ran: Ran) {
        let instructions = api.instructions;
        self.log(id, run.time_ns, std::mem::take(&mut api.logs), &ran);
        let answer = |api: &mut Api| {
            api.response.take().map(|response| match response {
                Response::Reply(bytes) => Ok(bytes),
                Response::Reject(message) => {
                    Err(Reject::new(reject_code::CANISTER_REJECT, "IC0406", message))
                }
            })
        };
        match ran {
            Ran::Trapped(trap) => {
                drop(instance);
                self.close_context(id, run.context, Some(Err(trap.into())), run.cycles);
                if let Some((index, env)) = run.cleanup {
                    // The cleanup runs on the state before the trapped
                    // callback; its own trap changes nothing more.
                    let entry_point = EntryPoint::Callback { index, env };
                    let cleanup = Run::new(u64::MAX, Entry::Cleanup, entry_point, run.time_ns);
                    self.run_message(id, cleanup);
                }
            }
            Ran::Returned if run.entry == Entry::Query => {
                drop(instance);
                let answer = answer(&mut api);
                self.close_context(id, run.context, answer, run.cycles);
            }
            Ran::Returned => {
                let used = instance.memory_bytes();
                let stable = std::mem::take(&mut api.stable);
                self.live.insert(id.to_vec(), Live { instance, stable });
                if !self.touched.iter().any(|t| t == id) {
                    self.touched.push(id.to_vec());
                }
                let canister = self.canister(id);
                canister.note_wasm_memory(used);
                canister.certified_data = std::mem::take(&mut api.certified_data);
                // What the message did to its balance (accepted, sent,
                // burned), on top of fees charged while it was paused.
                canister.cycles = (canister.cycles + api.balance).saturating_sub(run.balance);
                canister.global_timer = api.global_timer;
                for call in std::mem::take(&mut api.calls) {
                    self.perform(id, run.context, call);
                }
                let answer = answer(&mut api);
                self.close_context(id, run.context, answer, api.available);
            }
        }
        if self.state.canisters.contains_key(id) {
            self.settle(id, run.prepaid, instructions);
        }
    }
}
