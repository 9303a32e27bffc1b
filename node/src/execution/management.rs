//! The management canister (`aaaaa-aa`): creating, installing, starting,
//! stopping, deleting and configuring canisters, and `raw_rand`. Its
//! arguments and results are Candid, with the types of the
//! `ic-management-canister-types` crate.

use std::sync::Arc;

use candid::de::DecoderConfig;
use candid::{CandidType, Encode, Nat, Principal as CandidPrincipal};
use ic_management_canister_types as types;
use serde::Deserialize;

use super::{reject_code, Canister, Executor, Reject, RunStatus};
use crate::ic::principal::Principal;

/// Cycles a canister created without an amount starts with.
pub const DEFAULT_CYCLES: u128 = 100_000_000_000_000;
/// Most canisters this subnet hosts (the size of its canister range).
pub const MAX_CANISTERS: u64 = 1 << 20;

/// The id of the `index`-th canister: 8 bytes of index, then `01 01`, as on the IC.
pub fn canister_id(index: u64) -> Vec<u8> {
    let mut id = index.to_be_bytes().to_vec();
    id.extend_from_slice(&[1, 1]);
    id
}

/// The index of the canister id `id` in this subnet's range, if it is one.
pub fn canister_index(id: &[u8]) -> Option<u64> {
    let (index, suffix) = id.split_first_chunk::<8>()?;
    let index = u64::from_be_bytes(*index);
    (suffix == [1, 1] && index < MAX_CANISTERS).then_some(index)
}

/// The ranges of canister ids this subnet answers for, inclusive: the
/// canisters it hosts, and the governance canister just past them.
pub fn canister_ranges() -> Vec<(Vec<u8>, Vec<u8>)> {
    let governance = super::governance_canister::id();
    vec![
        (canister_id(0), canister_id(MAX_CANISTERS - 1)),
        (governance.clone(), governance),
    ]
}

fn bad_argument(method: &str, error: impl std::fmt::Display) -> Reject {
    Reject::new(
        reject_code::CANISTER_ERROR,
        "IC0504",
        format!("Management canister: invalid argument of {method}: {error}"),
    )
}

pub(super) fn encode(value: impl CandidType) -> Vec<u8> {
    Encode!(&value).expect("management results encode")
}

/// Work the decoder may spend skipping what the receiving type does not
/// need (extra fields and arguments, mismatched options): the IC's value.
pub const CANDID_SKIPPING_QUOTA: usize = 10_000;
/// Decoding work allowed per byte of argument, on top of the skipping
/// quota. Honest data costs at most about four units per byte (a vector
/// element costs three plus its own bytes); only elements of zero bytes
/// (`null`, `reserved`) cost more, and those are what a Candid bomb uses.
pub const CANDID_COST_PER_BYTE: usize = 4;

/// Decodes the Candid argument of a host canister's method (management,
/// governance, signing) within quotas proportional to its size: a
/// 41-byte `vec null` of length 2⁴⁰ is refused after a few thousand steps
/// instead of looping for hours outside any instruction meter.
pub fn decode_bounded<T: CandidType + for<'de> Deserialize<'de>>(
    arg: &[u8],
) -> Result<T, candid::Error> {
    decode_within(arg, CANDID_SKIPPING_QUOTA)
}

/// [`decode_bounded`] with another skipping quota: for reading one field
/// of an argument whose other fields (a module, say) must be skipped.
pub fn decode_within<T: CandidType + for<'de> Deserialize<'de>>(
    arg: &[u8],
    skipping_quota: usize,
) -> Result<T, candid::Error> {
    let mut config = DecoderConfig::new();
    config
        .set_decoding_quota(
            arg.len()
                .saturating_mul(CANDID_COST_PER_BYTE)
                .saturating_add(skipping_quota),
        )
        .set_skipping_quota(skipping_quota)
        .set_full_error_message(false);
    candid::decode_one_with_config(arg, &config)
}

pub(super) fn decode<T: CandidType + for<'de> Deserialize<'de>>(
    method: &str,
    arg: &[u8],
) -> Result<T, Reject> {
    decode_bounded(arg).map_err(|error| bad_argument(method, error))
}

fn text(id: &[u8]) -> String {
    Principal::from_bytes(id)
        .map(|principal| principal.to_text())
        .unwrap_or_else(|_| hex::encode(id))
}

/// Executes `method` of the management canister for `caller`.
pub fn call(
    executor: &mut Executor,
    caller: &[u8],
    method: &str,
    arg: &[u8],
    cycles: u128,
) -> Result<Vec<u8>, Reject> {
    match method {
        "provisional_create_canister_with_cycles" => {
            let args: types::ProvisionalCreateCanisterWithCyclesArgs = decode(method, arg)?;
            may_mint(executor, caller, method)?;
            let amount = match args.amount {
                Some(amount) => u128::try_from(amount.0).unwrap_or(u128::MAX),
                None => DEFAULT_CYCLES,
            };
            let controllers = args.settings.and_then(|settings| settings.controllers);
            create(executor, caller, controllers, amount)
        }
        "create_canister" => {
            let args: types::CreateCanisterArgs = decode(method, arg)?;
            let controllers = args.settings.and_then(|settings| settings.controllers);
            let fee = executor.fees.canister_creation;
            let balance = if cycles >= fee {
                cycles - fee
            } else if cycles == 0 && super::cycles::may_mint(&executor.cycles, caller) {
                // A development subnet lets users create canisters
                // directly, with cycles of its own.
                DEFAULT_CYCLES
            } else {
                return Err(Reject::new(
                    reject_code::CANISTER_REJECT,
                    "IC0406",
                    format!("create_canister: {cycles} cycles attached, {fee} required"),
                ));
            };
            create(executor, caller, controllers, balance)
        }
        "provisional_top_up_canister" => {
            let args: types::ProvisionalTopUpCanisterArgs = decode(method, arg)?;
            may_mint(executor, caller, method)?;
            let id = args.canister_id.as_slice().to_vec();
            existing(executor, &id)?;
            let amount = u128::try_from(args.amount.0).unwrap_or(u128::MAX);
            let canister = executor.canister(&id);
            canister.cycles = canister.cycles.saturating_add(amount);
            Ok(encode(()))
        }
        "deposit_cycles" => {
            let args: types::DepositCyclesArgs = decode(method, arg)?;
            let id = args.canister_id.as_slice().to_vec();
            existing(executor, &id)?;
            let canister = executor.canister(&id);
            canister.cycles = canister.cycles.saturating_add(cycles);
            Ok(encode(()))
        }
        "canister_status" => {
            let args: types::CanisterIdRecord = decode(method, arg)?;
            let id = args.canister_id.as_slice();
            let canister = controlled(executor, caller, id, method)?;
            Ok(encode(status(&canister, &executor.fees)))
        }
        "start_canister" | "stop_canister" | "delete_canister" => {
            let args: types::CanisterIdRecord = decode(method, arg)?;
            let id = args.canister_id.as_slice().to_vec();
            let canister = controlled(executor, caller, &id, method)?;
            match method {
                "start_canister" => executor.canister(&id).status = RunStatus::Running,
                "stop_canister" => executor.canister(&id).status = RunStatus::Stopped,
                _ => {
                    if canister.status != RunStatus::Stopped {
                        return Err(Reject::new(
                            reject_code::CANISTER_ERROR,
                            "IC0510",
                            format!(
                                "Canister {} must be stopped before it is deleted",
                                text(&id)
                            ),
                        ));
                    }
                    executor.state.canisters.remove(&id);
                    executor.drop_instance(&id);
                }
            }
            Ok(encode(()))
        }
        "update_settings" => {
            let args: types::UpdateSettingsArgs = decode(method, arg)?;
            let id = args.canister_id.as_slice().to_vec();
            controlled(executor, caller, &id, method)?;
            let settings = args.settings;
            let canister = executor.canister(&id);
            if let Some(controllers) = settings.controllers {
                canister.controllers = controllers.iter().map(|c| c.as_slice().to_vec()).collect();
            }
            if let Some(threshold) = settings.freezing_threshold {
                canister.freezing_threshold = u64::try_from(threshold.0).unwrap_or(u64::MAX);
            }
            if let Some(limit) = settings.wasm_memory_limit {
                canister.wasm_memory_limit = u64::try_from(limit.0).unwrap_or(u64::MAX);
            }
            canister.version += 1;
            Ok(encode(()))
        }
        "raw_rand" => Ok(encode(serde_bytes::ByteBuf::from(
            executor.random_bytes().to_vec(),
        ))),
        _ => Err(Reject::new(
            reject_code::CANISTER_ERROR,
            "IC0536",
            format!("Management canister has no method '{method}'"),
        )),
    }
}

fn create(
    executor: &mut Executor,
    caller: &[u8],
    controllers: Option<Vec<CandidPrincipal>>,
    cycles: u128,
) -> Result<Vec<u8>, Reject> {
    let index = executor.state.canisters_created;
    if index >= MAX_CANISTERS {
        return Err(Reject::new(
            reject_code::SYS_TRANSIENT,
            "IC0515",
            "The subnet's canister id range is exhausted",
        ));
    }
    executor.state.canisters_created += 1;
    let id = canister_id(index);
    let controllers = match controllers {
        Some(list) => list.iter().map(|c| c.as_slice().to_vec()).collect(),
        None => vec![caller.to_vec()],
    };
    executor
        .state
        .canisters
        .insert(id.clone(), Arc::new(Canister::new(controllers, cycles)));
    Ok(encode(types::CanisterIdRecord {
        canister_id: CandidPrincipal::from_slice(&id),
    }))
}

/// Refuses `caller` unless this subnet lets it mint cycles.
fn may_mint(executor: &Executor, caller: &[u8], method: &str) -> Result<(), Reject> {
    if super::cycles::may_mint(&executor.cycles, caller) {
        return Ok(());
    }
    Err(Reject::new(
        reject_code::CANISTER_REJECT,
        "IC0406",
        format!(
            "{method} is not available to {} on this subnet",
            text(caller)
        ),
    ))
}

/// The canister `id`, if it exists.
fn existing(executor: &Executor, id: &[u8]) -> Result<Arc<Canister>, Reject> {
    executor
        .state
        .canisters
        .get(id)
        .cloned()
        .ok_or_else(|| Reject::not_found(id))
}

/// The canister `id`, if `caller` controls it.
pub(super) fn controlled(
    executor: &Executor,
    caller: &[u8],
    id: &[u8],
    method: &str,
) -> Result<Arc<Canister>, Reject> {
    let canister = existing(executor, id)?;
    if !canister.controllers.iter().any(|c| c == caller) {
        return Err(Reject::new(
            reject_code::CANISTER_ERROR,
            "IC0512",
            format!(
                "Only controllers of canister {} can call ic00 method {method}",
                text(id)
            ),
        ));
    }
    Ok(canister)
}

fn zero() -> Nat {
    Nat::from(0u8)
}

fn status(canister: &Canister, fees: &super::cycles::Fees) -> types::CanisterStatusResult {
    let memory = canister
        .code
        .as_ref()
        .map_or(0, |code| code.heap.memory.len() + code.heap.stable.len());
    types::CanisterStatusResult {
        status: match canister.status {
            RunStatus::Running => types::CanisterStatusType::Running,
            RunStatus::Stopping => types::CanisterStatusType::Stopping,
            RunStatus::Stopped => types::CanisterStatusType::Stopped,
        },
        ready_for_migration: false,
        version: canister.version,
        settings: types::DefiniteCanisterSettings {
            controllers: canister
                .controllers
                .iter()
                .map(|c| CandidPrincipal::from_slice(c))
                .collect(),
            compute_allocation: zero(),
            memory_allocation: zero(),
            freezing_threshold: Nat::from(canister.freezing_threshold),
            reserved_cycles_limit: zero(),
            log_visibility: types::LogVisibility::Controllers,
            log_memory_limit: zero(),
            snapshot_visibility: types::SnapshotVisibility::Controllers,
            wasm_memory_limit: Nat::from(canister.wasm_memory_limit),
            wasm_memory_threshold: zero(),
            environment_variables: Vec::new(),
        },
        module_hash: canister.code.as_ref().map(|code| code.module_hash.to_vec()),
        memory_size: Nat::from(memory),
        memory_metrics: types::MemoryMetrics {
            wasm_memory_size: Nat::from(canister.code.as_ref().map_or(0, |c| c.heap.memory.len())),
            stable_memory_size: Nat::from(
                canister.code.as_ref().map_or(0, |c| c.heap.stable.len()),
            ),
            global_memory_size: zero(),
            wasm_binary_size: Nat::from(canister.code.as_ref().map_or(0, |c| c.module.len())),
            custom_sections_size: zero(),
            canister_history_size: zero(),
            wasm_chunk_store_size: zero(),
            snapshots_size: zero(),
            log_memory_store_size: zero(),
        },
        cycles: Nat::from(canister.cycles),
        reserved_cycles: zero(),
        idle_cycles_burned_per_day: Nat::from(fees.idle_per_day(canister)),
        query_stats: types::QueryStats {
            num_calls_total: zero(),
            num_instructions_total: zero(),
            request_payload_bytes_total: zero(),
            response_payload_bytes_total: zero(),
        },
    }
}
