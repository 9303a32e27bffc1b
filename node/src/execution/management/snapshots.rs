//! Canister snapshots: `take_canister_snapshot` keeps a canister's module,
//! memories, certified data and timer; `load_canister_snapshot` puts them
//! back; `list_canister_snapshots` and `delete_canister_snapshot`; a
//! snapshot is downloaded with `read_canister_snapshot_metadata` and
//! `read_canister_snapshot_data`. A snapshot shares its memory pages with
//! the canister until either changes, and counts as the canister's memory,
//! which it pays for.

use candid::CandidType;
use ic_management_canister_types as types;
use serde::{Deserialize, Serialize};

use super::super::{reject_code, Code, Executor, Reject, RunStatus};
use super::{controlled, decode, encode, existing, not_allowed, status, text};

/// Most snapshots a canister keeps (as on the IC).
pub const MAX_SNAPSHOTS: usize = 10;
/// Most bytes one `read_canister_snapshot_data` returns (as on the IC).
pub const MAX_READ_BYTES: u64 = 2_000_000;

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
        "read_canister_snapshot_metadata" => {
            let args: types::ReadCanisterSnapshotMetadataArgs = decode(method, arg)?;
            let snapshot = readable(
                executor,
                caller,
                method,
                &args.canister_id,
                &args.snapshot_id,
            )?;
            Ok(encode(metadata(&snapshot)?))
        }
        "read_canister_snapshot_data" => {
            let args: types::ReadCanisterSnapshotDataArgs = decode(method, arg)?;
            let snapshot = readable(
                executor,
                caller,
                method,
                &args.canister_id,
                &args.snapshot_id,
            )?;
            let chunk = data(&snapshot, &args.kind)?;
            Ok(encode(types::ReadCanisterSnapshotDataResult { chunk }))
        }
        "list_canister_snapshots" => {
            let args: types::ListCanisterSnapshotsArgs = decode(method, arg)?;
            let id = args.canister_id.as_slice();
            let canister = with_visible_snapshots(executor, caller, method, id)?;
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

/// `read_canister_snapshot_metadata`'s result as the interface
/// specification has it: the `ic-management-canister-types` crate makes
/// `source` and each global optional, which the specification's clients
/// cannot decode.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct SnapshotMetadata {
    /// How the snapshot was made.
    pub source: types::SnapshotSource,
    /// Block time it was taken at.
    pub taken_at_timestamp: u64,
    /// Bytes of its module.
    pub wasm_module_size: u64,
    /// Its mutable globals, in index order.
    pub globals: Vec<types::SnapshotMetadataGlobal>,
    /// Bytes of its wasm memory.
    pub wasm_memory_size: u64,
    /// Bytes of its stable memory.
    pub stable_memory_size: u64,
    /// Its chunk store's hashes.
    pub wasm_chunk_store: Vec<types::ChunkHash>,
    /// The canister's version when it was taken.
    pub canister_version: u64,
    /// The certified data.
    #[serde(with = "serde_bytes")]
    pub certified_data: Vec<u8>,
    /// The global timer.
    pub global_timer: Option<types::CanisterTimer>,
    /// The low-memory hook's state.
    pub on_low_wasm_memory_hook_status: Option<types::OnLowWasmMemoryHookStatus>,
}

/// Canister `id`, if `caller` may see its snapshots.
fn with_visible_snapshots(
    executor: &Executor,
    caller: &[u8],
    method: &str,
    id: &[u8],
) -> Result<std::sync::Arc<super::super::Canister>, Reject> {
    let canister = existing(executor, id)?;
    let visibility = &canister.settings.snapshot_visibility;
    if !visibility.allows(&canister.controllers, caller) {
        return Err(not_allowed(id, method));
    }
    Ok(canister)
}

/// Snapshot `snapshot` of canister `id`, if `caller` may read it.
fn readable(
    executor: &Executor,
    caller: &[u8],
    method: &str,
    id: &candid::Principal,
    snapshot: &[u8],
) -> Result<Snapshot, Reject> {
    let id = id.as_slice();
    let canister = with_visible_snapshots(executor, caller, method, id)?;
    let number = local_id(id, snapshot);
    let found = canister
        .snapshots
        .iter()
        .find(|s| Some(s.local_id) == number);
    Ok(found.ok_or_else(|| unknown(snapshot))?.clone())
}

/// The types of a module's mutable globals, in index order.
fn mutable_global_types(module: &[u8]) -> Result<Vec<wasmparser::ValType>, Reject> {
    let broken = |why: String| Reject::new(reject_code::CANISTER_ERROR, "IC0505", why);
    let wasm = super::super::instrument::decompress(module).map_err(|e| broken(e.to_string()))?;
    let mut types = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
        if let wasmparser::Payload::GlobalSection(section) =
            payload.map_err(|e| broken(e.to_string()))?
        {
            for global in section {
                let ty = global.map_err(|e| broken(e.to_string()))?.ty;
                if ty.mutable {
                    types.push(ty.content_type);
                }
            }
        }
    }
    Ok(types)
}

/// What `read_canister_snapshot_metadata` says of `snapshot`.
fn metadata(snapshot: &Snapshot) -> Result<SnapshotMetadata, Reject> {
    let heap = &snapshot.code.heap;
    let kinds = mutable_global_types(&snapshot.code.module)?;
    let globals = kinds
        .iter()
        .zip(&heap.globals)
        // Mutable reference globals are refused at install: each is a number.
        .filter_map(|(kind, &bits)| {
            use types::SnapshotMetadataGlobal as Global;
            match kind {
                wasmparser::ValType::I32 => Some(Global::I32(bits as u32 as i32)),
                wasmparser::ValType::I64 => Some(Global::I64(bits as u64 as i64)),
                wasmparser::ValType::F32 => Some(Global::F32(f32::from_bits(bits as u32))),
                wasmparser::ValType::F64 => Some(Global::F64(f64::from_bits(bits as u64))),
                wasmparser::ValType::V128 => Some(Global::V128(candid::Nat::from(bits))),
                wasmparser::ValType::Ref(_) => None,
            }
        })
        .collect();
    Ok(SnapshotMetadata {
        source: types::SnapshotSource::TakenFromCanister(candid::Reserved),
        taken_at_timestamp: snapshot.taken_at_ns,
        wasm_module_size: snapshot.code.module.len() as u64,
        globals,
        wasm_memory_size: heap.memory.len() as u64,
        stable_memory_size: heap.stable.len() as u64,
        wasm_chunk_store: Vec::new(),
        canister_version: snapshot.version,
        certified_data: snapshot.certified_data.clone(),
        global_timer: Some(match snapshot.global_timer {
            0 => types::CanisterTimer::Inactive,
            deadline => types::CanisterTimer::Active(deadline),
        }),
        on_low_wasm_memory_hook_status: None,
    })
}

/// The bytes of `snapshot` that `kind` names, at most [`MAX_READ_BYTES`].
fn data(snapshot: &Snapshot, kind: &types::SnapshotDataKind) -> Result<Vec<u8>, Reject> {
    let out_of_range = |what: &str| {
        Reject::new(
            reject_code::CANISTER_ERROR,
            "IC0504",
            format!("read_canister_snapshot_data: the range is outside the snapshot's {what}"),
        )
    };
    let range = |offset: u64, size: u64, len: usize, what: &str| {
        let end = offset.checked_add(size).filter(|&end| end <= len as u64);
        match end {
            Some(_) if size <= MAX_READ_BYTES => Ok((offset as usize, size as usize)),
            _ => Err(out_of_range(what)),
        }
    };
    let heap = &snapshot.code.heap;
    match kind {
        types::SnapshotDataKind::WasmModule { offset, size } => {
            let module = &snapshot.code.module;
            let (at, len) = range(*offset, *size, module.len(), "module")?;
            Ok(module[at..at + len].to_vec())
        }
        types::SnapshotDataKind::WasmMemory { offset, size } => {
            let (at, len) = range(*offset, *size, heap.memory.len(), "wasm memory")?;
            let mut out = vec![0; len];
            heap.memory.read(at, &mut out);
            Ok(out)
        }
        types::SnapshotDataKind::StableMemory { offset, size } => {
            let (at, len) = range(*offset, *size, heap.stable.len(), "stable memory")?;
            let mut out = vec![0; len];
            heap.stable.read(at, &mut out);
            Ok(out)
        }
        types::SnapshotDataKind::WasmChunk { .. } => {
            Err(out_of_range("chunk store (it keeps none)"))
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
