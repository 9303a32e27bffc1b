//! The management canister (`aaaaa-aa`) of the interface specification:
//! creating, starting, stopping, deleting and configuring canisters
//! ([`super::settings`]), their status and history ([`status`]), logs
//! (`fetch_canister_logs`, a query), the chunk store ([`chunks`]),
//! snapshots ([`snapshots`]), cycles and `raw_rand`; installs are in
//! [`super::install`], signing in [`super::signing`]. Its arguments and
//! results are Candid, with the types of the `ic-management-canister-types`
//! crate where they match the specification.

use std::sync::Arc;

use candid::de::DecoderConfig;
use candid::{CandidType, Encode, Principal as CandidPrincipal};
use ic_management_canister_types as types;
use serde::Deserialize;

pub mod chunks;
pub mod snapshots;
pub mod status;

use super::{
    principal_text as text, reject_code, settings, Canister, Executor, Reject, ReplicatedState,
    RunStatus,
};

/// Cycles a canister created without an amount starts with.
pub const DEFAULT_CYCLES: u128 = 100_000_000_000_000;
/// Most canisters this subnet hosts (the size of its canister range).
pub const MAX_CANISTERS: u64 = 1 << 20;
/// The number of this subnet's first canister id: its range starts where
/// a local replica's did for years (`0x80000000_00100000`), far from the
/// mainnet system canisters (numbers below 2²⁰ on the NNS subnet, from
/// `0x2100000` on the subnets after it), whose ids clients know.
pub const RANGE_START: u64 = 0x8000_0000_0010_0000;

/// The id of the `index`-th canister: 8 bytes of its number, then `01 01`,
/// as on the IC.
pub fn canister_id(index: u64) -> Vec<u8> {
    let mut id = (RANGE_START + index).to_be_bytes().to_vec();
    id.extend_from_slice(&[1, 1]);
    id
}

/// The index of the canister id `id` in this subnet's range, if it is one.
pub fn canister_index(id: &[u8]) -> Option<u64> {
    let (number, suffix) = id.split_first_chunk::<8>()?;
    let index = u64::from_be_bytes(*number).checked_sub(RANGE_START)?;
    (suffix == [1, 1] && index < MAX_CANISTERS).then_some(index)
}

/// The ranges of canister ids this subnet answers for, inclusive: the
/// canisters it hosts, and the system canisters it serves itself.
pub fn canister_ranges() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut ranges = vec![(canister_id(0), canister_id(MAX_CANISTERS - 1))];
    for id in super::system_canisters::ids() {
        ranges.push((id.clone(), id));
    }
    ranges.sort();
    ranges
}

fn bad_argument(method: &str, error: impl std::fmt::Display) -> Reject {
    invalid_argument("Management canister", method, error)
}

/// The rejection of an argument of `method` of the host canister `canister`
/// that is not what the method takes.
pub(super) fn invalid_argument(
    canister: &str,
    method: &str,
    error: impl std::fmt::Display,
) -> Reject {
    Reject::new(
        reject_code::CANISTER_ERROR,
        "IC0504",
        format!("{canister}: invalid argument of {method}: {error}"),
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

/// Executes `method` of the management canister for `caller`, who
/// attached `cycles` (kept only by the methods that take cycles).
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
                Some(amount) => super::cycles::saturating_u128(&amount),
                None => DEFAULT_CYCLES,
            };
            let id = create(executor, caller, args.settings, amount)?;
            Ok(encode(types::CanisterIdRecord { canister_id: id }))
        }
        "create_canister" => {
            let args: types::CreateCanisterArgs = decode(method, arg)?;
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
            let id = create(executor, caller, args.settings, balance)?;
            Ok(encode(types::CanisterIdRecord { canister_id: id }))
        }
        "provisional_top_up_canister" => {
            let args: types::ProvisionalTopUpCanisterArgs = decode(method, arg)?;
            may_mint(executor, caller, method)?;
            let id = args.canister_id.as_slice().to_vec();
            existing(executor, &id)?;
            let amount = super::cycles::saturating_u128(&args.amount);
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
            let args: types::CanisterStatusArgs = decode(method, arg)?;
            let id = args.canister_id.as_slice();
            let canister = existing(executor, id)?;
            let settings = &canister.settings;
            if !settings
                .status_visibility
                .allows(&canister.controllers, caller)
            {
                return Err(not_allowed(id, method));
            }
            Ok(encode(status::status(&canister, &executor.fees)))
        }
        "canister_info" => {
            let args: types::CanisterInfoArgs = decode(method, arg)?;
            from_a_canister(executor, caller, method)?;
            let canister = existing(executor, args.canister_id.as_slice())?;
            Ok(encode(status::info(&canister, args.num_requested_changes)))
        }
        "canister_metadata" => {
            let args: types::CanisterMetadataArgs = decode(method, arg)?;
            from_a_canister(executor, caller, method)?;
            let id = args.canister_id.as_slice();
            let canister = existing(executor, id)?;
            let section = canister
                .code
                .as_ref()
                .and_then(|code| code.metadata.get(&args.name))
                .ok_or_else(|| {
                    Reject::new(
                        reject_code::CANISTER_REJECT,
                        "IC0406",
                        format!(
                            "Canister {} has no metadata section named {}",
                            text(id),
                            args.name
                        ),
                    )
                })?;
            // Private sections only to the canister's controllers, as in read_state.
            if !section.public && !canister.controllers.iter().any(|c| c == caller) {
                return Err(not_allowed(id, method));
            }
            Ok(encode(types::CanisterMetadataResult {
                value: section.content.to_vec(),
            }))
        }
        "subnet_info" => {
            let args: types::SubnetInfoArgs = decode(method, arg)?;
            from_a_canister(executor, caller, method)?;
            if args.subnet_id.as_slice() != executor.subnet_id {
                return Err(Reject::new(
                    reject_code::DESTINATION_INVALID,
                    "IC0301",
                    format!(
                        "Subnet {} is not this one (a local network has one subnet)",
                        args.subnet_id
                    ),
                ));
            }
            Ok(encode(types::SubnetInfoResult {
                replica_version: concat!("chainkey ", env!("CARGO_PKG_VERSION")).into(),
                registry_version: executor.state.governance.subnet().version,
            }))
        }
        "start_canister" | "stop_canister" => {
            let args: types::CanisterIdRecord = decode(method, arg)?;
            let id = args.canister_id.as_slice().to_vec();
            controlled(executor, caller, &id, method)?;
            executor.canister(&id).status = match method {
                "start_canister" => RunStatus::Running,
                _ => RunStatus::Stopped,
            };
            Ok(encode(()))
        }
        "delete_canister" => {
            let args: types::CanisterIdRecord = decode(method, arg)?;
            let id = args.canister_id.as_slice().to_vec();
            let canister = controlled(executor, caller, &id, method)?;
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
            Ok(encode(()))
        }
        "update_settings" => {
            let args: types::UpdateSettingsArgs = decode(method, arg)?;
            let id = args.canister_id.as_slice().to_vec();
            let canister = controlled(executor, caller, &id, method)?;
            let room = room(executor, &id, &canister);
            let controllers = match &args.settings.controllers {
                Some(list) => {
                    Some(settings::controllers(list).map_err(|e| bad_argument(method, e))?)
                }
                None => None,
            };
            let next = canister
                .settings
                .with(args.settings, &room)
                .map_err(|e| bad_argument(method, e))?;
            let time_ns = executor.state.time_ns;
            let origin = status::origin(executor, caller);
            // A new limit or threshold may make the low-memory hook due.
            executor.save_heap(&id);
            let canister = executor.canister(&id);
            canister.settings = next;
            let used = canister.code.as_ref().map_or(0, |c| c.heap.memory.len());
            canister.note_wasm_memory(used as u64);
            canister.log.shrink_to(canister.settings.log_memory_limit);
            canister.version += 1;
            if let Some(controllers) = controllers {
                canister.controllers = controllers;
                let details = status::controllers_change(&canister.controllers);
                canister
                    .history
                    .record(time_ns, canister.version, origin, details);
            }
            Ok(encode(()))
        }
        "uninstall_code" => {
            let args: types::UninstallCodeArgs = decode(method, arg)?;
            let id = args.canister_id.as_slice().to_vec();
            controlled(executor, caller, &id, method)?;
            uninstall(executor, &id, caller);
            Ok(encode(()))
        }
        "upload_chunk" | "clear_chunk_store" | "stored_chunks" => {
            chunks::call(executor, caller, method, arg)
        }
        "take_canister_snapshot"
        | "load_canister_snapshot"
        | "list_canister_snapshots"
        | "delete_canister_snapshot"
        | "read_canister_snapshot_metadata"
        | "read_canister_snapshot_data"
        | "upload_canister_snapshot_metadata"
        | "upload_canister_snapshot_data" => snapshots::call(executor, caller, method, arg),
        "fetch_canister_logs" => Err(Reject::new(
            reject_code::CANISTER_REJECT,
            "IC0406",
            "fetch_canister_logs can only be called as a query",
        )),
        "raw_rand" => Ok(encode(serde_bytes::ByteBuf::from(
            executor.random_bytes().to_vec(),
        ))),
        _ => Err(no_method(method)),
    }
}

/// Answers a query of `caller` to the management canister on `state`.
pub fn query(
    state: &ReplicatedState,
    caller: &[u8],
    method: &str,
    arg: &[u8],
) -> Result<Vec<u8>, Reject> {
    match method {
        "fetch_canister_logs" => {
            let args: types::FetchCanisterLogsArgs = decode(method, arg)?;
            let id = args.canister_id.as_slice();
            let canister = state
                .canisters
                .get(id)
                .ok_or_else(|| Reject::not_found(id))?;
            if !canister
                .settings
                .log_visibility
                .allows(&canister.controllers, caller)
            {
                return Err(not_allowed(id, method));
            }
            Ok(encode(types::FetchCanisterLogsResult {
                canister_log_records: canister.log.fetch(args.filter.as_ref()),
            }))
        }
        _ => Err(no_method(method)),
    }
}

/// The canister a management call or query is about: the `canister_id`
/// (or `target_canister`) field of its argument, which is its effective
/// canister id.
pub fn target(arg: &[u8]) -> Option<Vec<u8>> {
    #[derive(CandidType, Deserialize)]
    struct Target {
        canister_id: Option<CandidPrincipal>,
        target_canister: Option<CandidPrincipal>,
    }
    // The target is one field among others, some of them large (a
    // module): skipping them is allowed as much as the argument is long.
    let skipping = arg
        .len()
        .saturating_mul(CANDID_COST_PER_BYTE)
        .saturating_add(CANDID_SKIPPING_QUOTA);
    let target: Target = decode_within(arg, skipping).ok()?;
    target
        .canister_id
        .or(target.target_canister)
        .map(|id| id.as_slice().to_vec())
}

/// Uninstalls canister `id`'s code for `caller`, recording it in its history.
fn uninstall(executor: &mut Executor, id: &[u8], caller: &[u8]) {
    let origin = status::origin(executor, caller);
    executor.uninstall(id);
    let time_ns = executor.state.time_ns;
    let canister = executor.canister(id);
    let details = types::ChangeDetails::CodeUninstall;
    canister
        .history
        .record(time_ns, canister.version, origin, details);
}

fn no_method(method: &str) -> Reject {
    Reject::new(
        reject_code::CANISTER_ERROR,
        "IC0536",
        format!("Management canister has no method '{method}'"),
    )
}

/// Refuses `method` unless `caller` is a canister (the methods the
/// specification offers to canisters only).
fn from_a_canister(executor: &Executor, caller: &[u8], method: &str) -> Result<(), Reject> {
    match executor.state.canisters.contains_key(caller) {
        true => Ok(()),
        false => Err(Reject::new(
            reject_code::CANISTER_REJECT,
            "IC0406",
            format!("{method} can only be called by canisters"),
        )),
    }
}

fn not_allowed(id: &[u8], method: &str) -> Reject {
    Reject::new(
        reject_code::CANISTER_REJECT,
        "IC0406",
        format!(
            "Caller is not allowed to call {method} of canister {}",
            text(id)
        ),
    )
}

/// What the subnet leaves a settings change of canister `id`.
fn room(executor: &Executor, id: &[u8], canister: &Canister) -> settings::Room {
    let others_compute = executor
        .state
        .canisters
        .iter()
        .filter(|(other, _)| other.as_slice() != id)
        .map(|(_, other)| other.settings.compute_allocation)
        .sum();
    settings::Room {
        memory_used: canister.memory_bytes(),
        others_compute,
    }
}

/// Creates a canister for `caller` with `balance` cycles and `asked`
/// settings (default: `caller` controls it); returns its id.
pub(super) fn create(
    executor: &mut Executor,
    caller: &[u8],
    asked: Option<types::CanisterSettings>,
    balance: u128,
) -> Result<CandidPrincipal, Reject> {
    let method = "create_canister";
    let index = executor.state.canisters_created;
    if index >= MAX_CANISTERS {
        return Err(Reject::new(
            reject_code::SYS_TRANSIENT,
            "IC0515",
            "The subnet's canister id range is exhausted",
        ));
    }
    let mut canister = Canister::new(vec![caller.to_vec()], balance);
    if let Some(mut asked) = asked {
        if let Some(list) = asked.controllers.take() {
            canister.controllers =
                settings::controllers(&list).map_err(|e| bad_argument(method, e))?;
        }
        let room = room(executor, &[], &canister);
        canister.settings = canister
            .settings
            .with(asked, &room)
            .map_err(|e| bad_argument(method, e))?;
    }
    executor.state.canisters_created += 1;
    let id = canister_id(index);
    let origin = status::origin(executor, caller);
    let details = status::creation(&canister.controllers);
    canister
        .history
        .record(executor.state.time_ns, 0, origin, details);
    executor
        .state
        .canisters
        .insert(id.clone(), Arc::new(canister));
    Ok(CandidPrincipal::from_slice(&id))
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
