//! The System API: the `ic0` functions a canister imports, per the IC
//! interface spec. Each runs against [`Api`], the state of the message
//! being executed. Pointer and size arguments are `i32` for 32-bit
//! memories and `i64` for 64-bit ones (Motoko's default), so every such
//! function is registered twice, once per width.

mod ic0;

pub use ic0::{Linkers, PROVIDED};
use wasmtime::Memory;

use super::pages::Pages;

/// What a message may do, by the entry point it runs (the spec's
/// availability table, simplified to the distinctions that matter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Entry {
    /// `canister_init` or `canister_post_upgrade`.
    Init,
    /// `canister_pre_upgrade`.
    PreUpgrade,
    /// `canister_update <name>`.
    Update,
    /// `canister_query <name>` (never replicated, changes discarded).
    Query,
    /// A reply callback of an inter-canister call.
    ReplyCallback,
    /// A reject callback of an inter-canister call.
    RejectCallback,
    /// A cleanup callback (after a callback trapped).
    Cleanup,
    /// `canister_heartbeat` or `canister_global_timer`.
    System,
    /// `canister_inspect_message`: may accept an ingress message before it
    /// enters a block (never replicated, changes discarded).
    InspectMessage,
}

impl Entry {
    fn can_respond(self) -> bool {
        matches!(
            self,
            Entry::Update | Entry::Query | Entry::ReplyCallback | Entry::RejectCallback
        )
    }

    fn can_call(self) -> bool {
        matches!(
            self,
            Entry::Update | Entry::ReplyCallback | Entry::RejectCallback | Entry::System
        )
    }

    fn has_argument(self) -> bool {
        matches!(
            self,
            Entry::Init
                | Entry::Update
                | Entry::Query
                | Entry::ReplyCallback
                | Entry::InspectMessage
        )
    }

    fn is_replicated(self) -> bool {
        !matches!(self, Entry::Query | Entry::InspectMessage)
    }
}

/// How a message answered its caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// `msg_reply` with these bytes.
    Reply(Vec<u8>),
    /// `msg_reject` with this message.
    Reject(String),
}

/// An inter-canister call being built (`call_new` … `call_perform`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingCall {
    /// The callee.
    pub callee: Vec<u8>,
    /// Its method.
    pub method: String,
    /// The argument.
    pub arg: Vec<u8>,
    /// Cycles sent along.
    pub cycles: u128,
    /// Table index and environment of the reply callback.
    pub on_reply: (u64, u64),
    /// Table index and environment of the reject callback.
    pub on_reject: (u64, u64),
    /// Table index and environment of the cleanup callback, if any.
    pub on_cleanup: Option<(u64, u64)>,
}

/// Bytes of `ic0.debug_print` one message may log: a canister's log keeps
/// no more than its largest log memory limit anyway.
pub const MAX_LOGGED_BYTES: usize = super::settings::MAX_LOG_MEMORY_LIMIT as usize;

/// Everything a message reads and writes through the System API.
pub struct Api {
    /// The entry point being run.
    pub entry: Entry,
    /// The message's argument (or the reply's data, in a reply callback).
    pub arg: Vec<u8>,
    /// The caller's principal.
    pub caller: Vec<u8>,
    /// The method called (`msg_method_name_*`, in `canister_inspect_message`).
    pub method_name: String,
    /// Whether `canister_inspect_message` accepted the message.
    pub accepted: bool,
    /// This canister's principal.
    pub canister_id: Vec<u8>,
    /// The block time (constant within a message), Unix nanoseconds.
    pub time_ns: u64,
    /// The canister's controllers.
    pub controllers: Vec<Vec<u8>>,
    /// The canister's status for `canister_status` (1 running, 2 stopping, 3 stopped).
    pub status: u32,
    /// Reject code and message, in a reject callback.
    pub reject: (u32, String),
    /// Whether this call context was answered already.
    pub responded: bool,
    /// What `msg_reply_data_append` collected.
    pub reply_buffer: Vec<u8>,
    /// The answer this message gave.
    pub response: Option<Response>,
    /// Stable memory (a multiple of 64 KiB).
    pub stable: Pages,
    /// Data the canister certifies (`certified_data_set`).
    pub certified_data: Vec<u8>,
    /// The certificate of the state a query runs on.
    pub data_certificate: Option<Vec<u8>>,
    /// The canister's cycle balance.
    pub balance: u128,
    /// Cycles the caller sent that are not yet accepted.
    pub available: u128,
    /// Cycles refunded to this callback.
    pub refunded: u128,
    /// A call being built.
    pub pending_call: Option<OutgoingCall>,
    /// Calls made (performed) so far.
    pub calls: Vec<OutgoingCall>,
    /// The global timer's deadline (0: not set).
    pub global_timer: u64,
    /// Fuel when the message started (for `performance_counter`).
    pub fuel_at_start: u64,
    /// Instructions the message used, once it ended.
    pub instructions: u64,
    /// What an inter-canister call costs: per call, and per byte.
    pub call_fees: (u128, u128),
    /// The balance the canister must keep (its freezing threshold).
    pub freezing_threshold: u128,
    /// Why the canister trapped explicitly (`ic0.trap`).
    pub trap_message: Option<String>,
    /// The canister's environment variables (name, value), in name order.
    pub environment: Vec<(String, String)>,
    /// What the message printed (`ic0.debug_print`), for the canister's
    /// log: at most [`MAX_LOGGED_BYTES`] in all.
    pub logs: Vec<Vec<u8>>,
    /// The canister's memory, once instantiated.
    pub memory: Option<Memory>,
    /// How far the message may grow its memories.
    pub caps: MemoryCaps,
}

impl Api {
    /// A context for `entry` with no data yet.
    pub fn new(entry: Entry, canister_id: Vec<u8>) -> Api {
        Api {
            entry,
            arg: Vec::new(),
            caller: Vec::new(),
            method_name: String::new(),
            accepted: false,
            canister_id,
            time_ns: 0,
            controllers: Vec::new(),
            status: 1,
            reject: (0, String::new()),
            responded: false,
            reply_buffer: Vec::new(),
            response: None,
            stable: Pages::default(),
            certified_data: Vec::new(),
            data_certificate: None,
            balance: 0,
            available: 0,
            refunded: 0,
            pending_call: None,
            calls: Vec::new(),
            global_timer: 0,
            fuel_at_start: 0,
            instructions: 0,
            call_fees: (0, 0),
            freezing_threshold: 0,
            trap_message: None,
            logs: Vec::new(),
            environment: Vec::new(),
            memory: None,
            caps: MemoryCaps::default(),
        }
    }
}

/// How far a message may grow its canister's memories: the canister's
/// `wasm_memory_limit` and the subnet's free capacity. A `memory.grow` or
/// `stable64_grow` past them fails (returns -1), as on the IC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryCaps {
    /// Largest wasm memory, bytes.
    pub heap: u64,
    /// Largest stable memory, bytes.
    pub stable: u64,
}

impl Default for MemoryCaps {
    fn default() -> Self {
        MemoryCaps {
            heap: super::pages::MAX_MEMORY_BYTES as u64,
            stable: super::pages::MAX_MEMORY_BYTES as u64,
        }
    }
}

/// Largest function table, in elements.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl wasmtime::ResourceLimiter for Api {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired as u64 <= self.caps.heap)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}

/// Largest reply of a replicated message (update, callback): the IC's
/// limit for replies that go through consensus or to another subnet.
pub const MAX_REPLY_BYTES: usize = 2 << 20;
/// Largest reply of a query, which no block carries.
pub const MAX_QUERY_REPLY_BYTES: usize = 3 << 20;
/// Largest argument of an inter-canister call.
pub const MAX_CALL_ARG_BYTES: usize = 2 << 20;
