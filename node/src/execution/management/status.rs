//! What the management canister tells about a canister: its status record
//! (`canister_status`) and its history of changes (`canister_info`).

use std::collections::VecDeque;

use candid::{CandidType, Nat, Principal as CandidPrincipal};
use ic_management_canister_types as types;
use serde::{Deserialize, Serialize};

use super::super::cycles::Fees;
use super::super::{Canister, Executor, RunStatus};

/// Changes a canister's history keeps (the IC keeps at least 20).
pub const KEPT_CHANGES: usize = 20;

/// One change of a canister, as the interface specification's `change`
/// record has it: its details are not optional (the
/// `ic-management-canister-types` crate has them optional, which the
/// specification's `canister_info` result does not accept).
#[derive(Clone, Debug, PartialEq, Eq, CandidType, Serialize, Deserialize)]
pub struct Change {
    /// Block time of the change.
    pub timestamp_nanos: u64,
    /// The canister's version after it.
    pub canister_version: u64,
    /// Who made it.
    pub origin: types::ChangeOrigin,
    /// What it was.
    pub details: types::ChangeDetails,
}

/// `canister_info`'s result, with the specification's [`Change`].
#[derive(Clone, Debug, PartialEq, Eq, CandidType, Deserialize)]
pub struct CanisterInfoResult {
    /// Changes ever recorded.
    pub total_num_changes: u64,
    /// The newest of them, oldest first.
    pub recent_changes: Vec<Change>,
    /// SHA-256 of the module, if one is installed.
    pub module_hash: Option<serde_bytes::ByteBuf>,
    /// The controllers.
    pub controllers: Vec<CandidPrincipal>,
}

/// The newest changes of a canister: creation, code deployments and
/// uninstalls, controller changes, snapshot loads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Changes ever recorded.
    total: u64,
    recent: VecDeque<Change>,
}

impl History {
    /// Records a change at block time `time_ns` that left the canister at
    /// `version`.
    pub fn record(
        &mut self,
        time_ns: u64,
        version: u64,
        origin: types::ChangeOrigin,
        details: types::ChangeDetails,
    ) {
        self.total += 1;
        self.recent.push_back(Change {
            timestamp_nanos: time_ns,
            canister_version: version,
            origin,
            details,
        });
        if self.recent.len() > KEPT_CHANGES {
            self.recent.pop_front();
        }
    }

    /// Bytes the kept changes take, roughly (counted as canister memory).
    pub fn bytes(&self) -> u64 {
        self.recent.len() as u64 * 128
    }
}

/// Who made a change: a canister of this subnet, or a user.
pub(in super::super) fn origin(executor: &Executor, caller: &[u8]) -> types::ChangeOrigin {
    let principal = CandidPrincipal::from_slice(caller);
    match executor.state.canisters.get(caller) {
        Some(canister) => types::ChangeOrigin::FromCanister(types::FromCanisterRecord {
            canister_id: principal,
            canister_version: Some(canister.version),
        }),
        None => types::ChangeOrigin::FromUser(types::FromUserRecord { user_id: principal }),
    }
}

fn principals(list: &[Vec<u8>]) -> Vec<CandidPrincipal> {
    list.iter()
        .map(|p| CandidPrincipal::from_slice(p))
        .collect()
}

/// A creation with `controllers`.
pub(in super::super) fn creation(controllers: &[Vec<u8>]) -> types::ChangeDetails {
    types::ChangeDetails::Creation(types::CreationRecord {
        controllers: principals(controllers),
        environment_variables_hash: None,
    })
}

/// A change of controllers to `controllers`.
pub(in super::super) fn controllers_change(controllers: &[Vec<u8>]) -> types::ChangeDetails {
    types::ChangeDetails::ControllersChange(types::ControllersChangeRecord {
        controllers: principals(controllers),
    })
}

/// `canister_info`: the newest `wanted` changes, module hash and controllers.
pub fn info(canister: &Canister, wanted: Option<u64>) -> CanisterInfoResult {
    let wanted = wanted.unwrap_or(0).min(KEPT_CHANGES as u64) as usize;
    let history = &canister.history;
    let skip = history.recent.len().saturating_sub(wanted);
    CanisterInfoResult {
        total_num_changes: history.total,
        recent_changes: history.recent.iter().skip(skip).cloned().collect(),
        module_hash: canister
            .code
            .as_ref()
            .map(|code| serde_bytes::ByteBuf::from(code.module_hash.to_vec())),
        controllers: principals(&canister.controllers),
    }
}

/// `canister_status`: the whole current record, with real values.
pub fn status(canister: &Canister, fees: &Fees) -> types::CanisterStatusResult {
    let code = canister.code.as_ref();
    let wasm = code.map_or(0, |c| c.heap.memory.len() as u64);
    let stable = code.map_or(0, |c| c.heap.stable.len() as u64);
    let binary = code.map_or(0, |c| c.module.len() as u64);
    let custom_sections = code.map_or(0, |c| c.metadata_bytes());
    let globals = code.map_or(0, |c| c.heap.globals.len() as u64 * 8);
    let memory = types::MemoryMetrics {
        wasm_memory_size: Nat::from(wasm),
        stable_memory_size: Nat::from(stable),
        global_memory_size: Nat::from(globals),
        wasm_binary_size: Nat::from(binary),
        custom_sections_size: Nat::from(custom_sections),
        canister_history_size: Nat::from(canister.history.bytes()),
        wasm_chunk_store_size: Nat::from(canister.chunk_store_bytes()),
        snapshots_size: Nat::from(canister.snapshot_bytes()),
        log_memory_store_size: Nat::from(canister.log.bytes()),
    };
    types::CanisterStatusResult {
        status: match canister.status {
            RunStatus::Running => types::CanisterStatusType::Running,
            RunStatus::Stopping => types::CanisterStatusType::Stopping,
            RunStatus::Stopped => types::CanisterStatusType::Stopped,
        },
        ready_for_migration: false,
        version: canister.version,
        settings: canister.settings.definite(&canister.controllers),
        module_hash: code.map(|c| c.module_hash.to_vec()),
        memory_size: Nat::from(canister.memory_bytes()),
        memory_metrics: memory,
        cycles: Nat::from(canister.cycles),
        reserved_cycles: Nat::from(0u8),
        idle_cycles_burned_per_day: Nat::from(fees.idle_per_day(canister)),
        query_stats: types::QueryStats {
            num_calls_total: Nat::from(canister.query_stats.calls),
            num_instructions_total: Nat::from(canister.query_stats.instructions),
            request_payload_bytes_total: Nat::from(canister.query_stats.request_bytes),
            response_payload_bytes_total: Nat::from(canister.query_stats.response_bytes),
        },
    }
}
