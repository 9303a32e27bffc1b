//! Canister snapshots: `take_canister_snapshot` keeps a canister's module,
//! memories, certified data and timer; `load_canister_snapshot` puts them
//! back; `list_canister_snapshots` and `delete_canister_snapshot`. A
//! snapshot shares its memory pages with the canister until either
//! changes, and counts as the canister's memory, which it pays for.

use ic_management_canister_types as types;
use serde::{Deserialize, Serialize};

use super::super::{reject_code, Code, Executor, Reject, RunStatus};
use super::{controlled, decode, encode, existing, not_allowed, status, text};

/// Most snapshots a canister keeps (as on the IC).
pub const MAX_SNAPSHOTS: usize = 10;

/// One snapshot of a canister.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Its number among the canister's snapshots.
    pub local_id: u64,
    /// Block time it was taken at, Unix nanoseconds.
    pub taken_at_ns: u64,
    /// The module and memories.
    pub code: Code,
    /// The certified data.
    pub certified_data: Vec<u8>,
    /// The global timer's deadline.
    pub global_timer: u64,
    /// The canister's version when it was taken.
    pub version: u64,
}

impl Snapshot {
    /// Bytes it holds.
    pub fn bytes(&self) -> u64 {
        let heap = &self.code.heap;
        (heap.memory.len() + heap.stable.len() + self.code.module.len()) as u64
            + self.certified_data.len() as u64
    }

    /// Its id: the canister's id, then its number (as on the IC).
    fn id(&self, canister: &[u8]) -> Vec<u8> {
        let mut id = canister.to_vec();
        id.extend_from_slice(&self.local_id.to_be_bytes());
        id
    }

    fn record(&self, canister: &[u8]) -> types::Snapshot {
        types::Snapshot {
            id: self.id(canister),
            taken_at_timestamp: self.taken_at_ns,
            total_size: self.bytes(),
        }
    }
}

/// The number of the snapshot `snapshot` of canister `canister`.
fn local_id(canister: &[u8], snapshot: &[u8]) -> Option<u64> {
    let number = snapshot.strip_prefix(canister)?;
    Some(u64::from_be_bytes(number.try_into().ok()?))
}

fn unknown(snapshot: &[u8]) -> Reject {
    Reject::new(
        reject_code::DESTINATION_INVALID,
        "IC0411",
        format!("Snapshot {} not found", hex::encode(snapshot)),
    )
}

/// Executes a snapshot method of the management canister.
pub fn call(
    executor: &mut Executor,
    caller: &[u8],
    method: &str,
    arg: &[u8],
) -> Result<Vec<u8>, Reject> {
    match method {
        "take_canister_snapshot" => {
            let args: types::TakeCanisterSnapshotArgs = decode(method, arg)?;
            take(executor, caller, args)
        }
        "load_canister_snapshot" => {
            let args: types::LoadCanisterSnapshotArgs = decode(method, arg)?;
            load(executor, caller, args)
        }
        "list_canister_snapshots" => {
            let args: types::ListCanisterSnapshotsArgs = decode(method, arg)?;
            let id = args.canister_id.as_slice();
            let canister = existing(executor, id)?;
            let visibility = &canister.settings.snapshot_visibility;
            if !visibility.allows(&canister.controllers, caller) {
                return Err(not_allowed(id, method));
            }
            let list: Vec<_> = canister.snapshots.iter().map(|s| s.record(id)).collect();
            Ok(encode(list))
        }
        _ => {
            let args: types::DeleteCanisterSnapshotArgs = decode(method, arg)?;
            let id = args.canister_id.as_slice().to_vec();
            let canister = controlled(executor, caller, &id, method)?;
            let number = local_id(&id, &args.snapshot_id);
            let Some(at) = canister
                .snapshots
                .iter()
                .position(|s| Some(s.local_id) == number)
            else {
                return Err(unknown(&args.snapshot_id));
            };
            executor.canister(&id).snapshots.remove(at);
            Ok(encode(()))
        }
    }
}

fn take(
    executor: &mut Executor,
    caller: &[u8],
    args: types::TakeCanisterSnapshotArgs,
) -> Result<Vec<u8>, Reject> {
    let method = "take_canister_snapshot";
    let id = args.canister_id.as_slice().to_vec();
    let canister = controlled(executor, caller, &id, method)?;
    let replaced = match &args.replace_snapshot {
        Some(snapshot) => {
            let number = local_id(&id, snapshot);
            let found = canister
                .snapshots
                .iter()
                .position(|s| Some(s.local_id) == number);
            Some(found.ok_or_else(|| unknown(snapshot))?)
        }
        None => None,
    };
    if replaced.is_none() && canister.snapshots.len() >= MAX_SNAPSHOTS {
        return Err(Reject::new(
            reject_code::CANISTER_ERROR,
            "IC0539",
            format!(
                "Canister {} already has {MAX_SNAPSHOTS} snapshots: delete or replace one",
                text(&id)
            ),
        ));
    }
    if canister.code.is_none() {
        return Err(Reject::new(
            reject_code::CANISTER_ERROR,
            "IC0537",
            format!("Canister {} has no module to snapshot", text(&id)),
        ));
    }
    // The canister's saved heap is behind its live instance if it ran
    // earlier in this block.
    executor.save_heap(&id);
    let code = executor.state.canisters[&id]
        .code
        .as_ref()
        .expect("checked above");
    let bytes = (code.heap.memory.len() + code.heap.stable.len() + code.module.len()) as u64;
    executor.reserve_memory(bytes)?;
    let time_ns = executor.state.time_ns;
    let target = executor.canister(&id);
    let local_id = target
        .snapshots
        .iter()
        .map(|s| s.local_id + 1)
        .max()
        .unwrap_or(0);
    let snapshot = Snapshot {
        local_id,
        taken_at_ns: time_ns,
        code: target.code.clone().expect("checked above"),
        certified_data: target.certified_data.clone(),
        global_timer: target.global_timer,
        version: target.version,
    };
    let record = snapshot.record(&id);
    match replaced {
        Some(at) => target.snapshots[at] = snapshot,
        None => target.snapshots.push(snapshot),
    }
    if args.uninstall_code == Some(true) {
        super::uninstall(executor, &id, caller);
    }
    Ok(encode(record))
}

fn load(
    executor: &mut Executor,
    caller: &[u8],
    args: types::LoadCanisterSnapshotArgs,
) -> Result<Vec<u8>, Reject> {
    let method = "load_canister_snapshot";
    let id = args.canister_id.as_slice().to_vec();
    let canister = controlled(executor, caller, &id, method)?;
    let number = local_id(&id, &args.snapshot_id);
    let Some(snapshot) = canister
        .snapshots
        .iter()
        .find(|s| Some(s.local_id) == number)
    else {
        return Err(unknown(&args.snapshot_id));
    };
    if canister.status != RunStatus::Stopped {
        return Err(Reject::new(
            reject_code::CANISTER_ERROR,
            "IC0510",
            format!("Canister {} must be stopped to load a snapshot", text(&id)),
        ));
    }
    let snapshot = snapshot.clone();
    let time_ns = executor.state.time_ns;
    let origin = status::origin(executor, caller);
    executor.drop_instance(&id);
    let target = executor.canister(&id);
    let details = types::ChangeDetails::LoadSnapshot(types::LoadSnapshotRecord {
        from_canister_id: None,
        snapshot_id: args.snapshot_id,
        canister_version: snapshot.version,
        taken_at_timestamp: snapshot.taken_at_ns,
        source: types::SnapshotSource::TakenFromCanister(candid::Reserved),
    });
    target.code = Some(snapshot.code);
    target.certified_data = snapshot.certified_data;
    target.global_timer = snapshot.global_timer;
    target.version += 1;
    target
        .history
        .record(time_ns, target.version, origin, details);
    Ok(encode(()))
}
