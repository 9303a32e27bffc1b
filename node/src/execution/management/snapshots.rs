//! Canister snapshots: `take_canister_snapshot` keeps a canister's module,
//! memories, certified data and timer; `load_canister_snapshot` puts them
//! back; `list_canister_snapshots` and `delete_canister_snapshot`; a
//! snapshot is downloaded with `read_canister_snapshot_metadata` and
//! `read_canister_snapshot_data`, and uploaded (to this canister or
//! another) with `upload_canister_snapshot_metadata` then
//! `upload_canister_snapshot_data`. A snapshot shares its memory pages
//! with the canister until either changes, and counts as the canister's
//! memory, which it pays for.

use candid::CandidType;
use ic_management_canister_types as types;
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use super::super::instrument::MAX_MODULE_BYTES;
use super::super::low_memory_hook::HookStatus;
use super::super::pages::{Pages, MAX_MEMORY_BYTES, PAGE_BYTES};
use super::super::wasm::Heap;
use super::super::{reject_code, Canister, Code, Executor, Reject, RunStatus};
use super::chunks::{self, Chunks};
use super::{controlled, decode, encode, existing, not_allowed, status, text};

/// Most snapshots a canister keeps (as on the IC).
pub const MAX_SNAPSHOTS: usize = 10;
/// Most bytes one `read_canister_snapshot_data` returns (as on the IC).
pub const MAX_READ_BYTES: u64 = 2_000_000;
/// Most mutable globals an uploaded snapshot declares (as the IC bounds a
/// module's exported globals).
pub const MAX_UPLOADED_GLOBALS: usize = 1000;

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
    /// How it was made.
    #[serde(default)]
    pub source: Source,
    /// The low-memory hook's state.
    #[serde(default)]
    pub low_wasm_memory: HookStatus,
    /// The canister's chunk store.
    #[serde(default)]
    pub chunks: Chunks,
}

/// How a snapshot was made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// Taken from the canister by `take_canister_snapshot`.
    #[default]
    Taken,
    /// Declared by `upload_canister_snapshot_metadata` and filled by
    /// `upload_canister_snapshot_data`: its module may be anything until it
    /// is loaded, when it is checked as an install checks one, with its
    /// declared globals.
    Uploaded {
        /// The types of the mutable globals declared, in index order.
        globals: Vec<GlobalKind>,
    },
}

/// The type of a mutable global of a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GlobalKind {
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `v128`.
    V128,
}

impl GlobalKind {
    /// The kind of a module's global of type `ty` (none for references,
    /// which install refuses as mutable globals).
    fn of(ty: wasmparser::ValType) -> Option<GlobalKind> {
        match ty {
            wasmparser::ValType::I32 => Some(GlobalKind::I32),
            wasmparser::ValType::I64 => Some(GlobalKind::I64),
            wasmparser::ValType::F32 => Some(GlobalKind::F32),
            wasmparser::ValType::F64 => Some(GlobalKind::F64),
            wasmparser::ValType::V128 => Some(GlobalKind::V128),
            wasmparser::ValType::Ref(_) => None,
        }
    }

    /// The value `bits` (a heap's raw global) of this kind, as the
    /// interface specification writes it.
    fn value(self, bits: u128) -> types::SnapshotMetadataGlobal {
        use types::SnapshotMetadataGlobal as Global;
        match self {
            GlobalKind::I32 => Global::I32(bits as u32 as i32),
            GlobalKind::I64 => Global::I64(bits as u64 as i64),
            GlobalKind::F32 => Global::F32(f32::from_bits(bits as u32)),
            GlobalKind::F64 => Global::F64(f64::from_bits(bits as u64)),
            GlobalKind::V128 => Global::V128(candid::Nat::from(bits)),
        }
    }

    /// The kind and raw bits of `global`; none for a `v128` past 128 bits.
    fn bits(global: &types::SnapshotMetadataGlobal) -> Option<(GlobalKind, u128)> {
        use types::SnapshotMetadataGlobal as Global;
        Some(match global {
            Global::I32(value) => (GlobalKind::I32, u128::from(*value as u32)),
            Global::I64(value) => (GlobalKind::I64, u128::from(*value as u64)),
            Global::F32(value) => (GlobalKind::F32, u128::from(value.to_bits())),
            Global::F64(value) => (GlobalKind::F64, u128::from(value.to_bits())),
            Global::V128(value) => (GlobalKind::V128, u128::try_from(&value.0).ok()?),
        })
    }
}

impl Snapshot {
    /// Bytes it holds.
    pub fn bytes(&self) -> u64 {
        let heap = &self.code.heap;
        let chunks: usize = self.chunks.values().map(|chunk| chunk.len()).sum();
        (heap.memory.len() + heap.stable.len() + self.code.module.len() + chunks) as u64
            + self.certified_data.len() as u64
    }

    /// Its id: the canister's id, then its number (as on the IC).
    fn id(&self, canister: &[u8]) -> Vec<u8> {
        let mut id = canister.to_vec();
        id.extend_from_slice(&self.local_id.to_be_bytes());
        id
    }

    /// The interface specification's name for its source.
    fn source(&self) -> types::SnapshotSource {
        match self.source {
            Source::Taken => types::SnapshotSource::TakenFromCanister(candid::Reserved),
            Source::Uploaded { .. } => types::SnapshotSource::MetadataUpload(candid::Reserved),
        }
    }

    fn record(&self, canister: &[u8]) -> types::Snapshot {
        types::Snapshot {
            id: self.id(canister),
            taken_at_timestamp: self.taken_at_ns,
            total_size: self.bytes(),
        }
    }
}

/// Where snapshot `snapshot` stands among canister `id`'s snapshots.
fn position(canister: &Canister, id: &[u8], snapshot: &[u8]) -> Result<usize, Reject> {
    let number = snapshot
        .strip_prefix(id)
        .and_then(|number| number.try_into().ok())
        .map(u64::from_be_bytes);
    canister
        .snapshots
        .iter()
        .position(|s| Some(s.local_id) == number)
        .ok_or_else(|| unknown(snapshot))
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
            Ok(encode(metadata(executor, &snapshot)?))
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
        "upload_canister_snapshot_metadata" => {
            let args: types::UploadCanisterSnapshotMetadataArgs = decode(method, arg)?;
            upload_metadata(executor, caller, args)
        }
        "upload_canister_snapshot_data" => {
            let args: types::UploadCanisterSnapshotDataArgs = decode(method, arg)?;
            upload_data(executor, caller, args)
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
            let at = position(&canister, &id, &args.snapshot_id)?;
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
) -> Result<std::sync::Arc<Canister>, Reject> {
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
    let at = position(&canister, id, snapshot)?;
    Ok(canister.snapshots[at].clone())
}

/// The kinds of an unzipped module's mutable globals, in index order.
pub(in crate::execution) fn mutable_globals(wasm: &[u8]) -> Result<Vec<GlobalKind>, Reject> {
    let broken = |why: String| Reject::new(reject_code::CANISTER_ERROR, "IC0505", why);
    let mut kinds = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::GlobalSection(section) =
            payload.map_err(|e| broken(e.to_string()))?
        {
            for global in section {
                let ty = global.map_err(|e| broken(e.to_string()))?.ty;
                // Mutable reference globals are refused at install.
                if let Some(kind) = GlobalKind::of(ty.content_type).filter(|_| ty.mutable) {
                    kinds.push(kind);
                }
            }
        }
    }
    Ok(kinds)
}

/// What `read_canister_snapshot_metadata` says of `snapshot`.
fn metadata(executor: &Executor, snapshot: &Snapshot) -> Result<SnapshotMetadata, Reject> {
    let heap = &snapshot.code.heap;
    let kinds = match &snapshot.source {
        Source::Taken => executor
            .hashed_module_facts(&snapshot.code.module, snapshot.code.module_hash)
            .mutable_globals
            .clone()?,
        Source::Uploaded { globals } => globals.clone(),
    };
    let globals = kinds
        .iter()
        .zip(&heap.globals)
        .map(|(kind, &bits)| kind.value(bits))
        .collect();
    Ok(SnapshotMetadata {
        source: snapshot.source(),
        taken_at_timestamp: snapshot.taken_at_ns,
        wasm_module_size: snapshot.code.module.len() as u64,
        globals,
        wasm_memory_size: heap.memory.len() as u64,
        stable_memory_size: heap.stable.len() as u64,
        wasm_chunk_store: chunks::hashes(&snapshot.chunks),
        canister_version: snapshot.version,
        certified_data: snapshot.certified_data.clone(),
        global_timer: Some(match snapshot.global_timer {
            0 => types::CanisterTimer::Inactive,
            deadline => types::CanisterTimer::Active(deadline),
        }),
        on_low_wasm_memory_hook_status: Some(snapshot.low_wasm_memory.record()),
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
        types::SnapshotDataKind::WasmChunk { hash } => <[u8; 32]>::try_from(hash.as_slice())
            .ok()
            .and_then(|hash| snapshot.chunks.get(&hash))
            .map(|chunk| chunk.to_vec())
            .ok_or_else(|| out_of_range("chunk store (no chunk of that hash)")),
    }
}

/// Where a new snapshot of canister `id` goes: in place of `replace`, or
/// after the others if the canister has room for one more.
fn place(
    canister: &Canister,
    id: &[u8],
    replace: Option<&Vec<u8>>,
) -> Result<Option<usize>, Reject> {
    if let Some(snapshot) = replace {
        return position(canister, id, snapshot).map(Some);
    }
    if canister.snapshots.len() >= MAX_SNAPSHOTS {
        return Err(Reject::new(
            reject_code::CANISTER_ERROR,
            "IC0539",
            format!(
                "Canister {} already has {MAX_SNAPSHOTS} snapshots: delete or replace one",
                text(id)
            ),
        ));
    }
    Ok(None)
}

/// Stores a snapshot made by `make` (given its number) at `place` among
/// canister `id`'s snapshots; its id.
fn store(
    executor: &mut Executor,
    id: &[u8],
    place: Option<usize>,
    make: impl FnOnce(u64, &Canister) -> Snapshot,
) -> types::Snapshot {
    let target = executor.canister(id);
    let local_id = target
        .snapshots
        .iter()
        .map(|s| s.local_id + 1)
        .max()
        .unwrap_or(0);
    let snapshot = make(local_id, target);
    let record = snapshot.record(id);
    match place {
        Some(at) => target.snapshots[at] = snapshot,
        None => target.snapshots.push(snapshot),
    }
    record
}

fn take(
    executor: &mut Executor,
    caller: &[u8],
    args: types::TakeCanisterSnapshotArgs,
) -> Result<Vec<u8>, Reject> {
    let method = "take_canister_snapshot";
    let id = args.canister_id.as_slice().to_vec();
    let canister = controlled(executor, caller, &id, method)?;
    let place = place(&canister, &id, args.replace_snapshot.as_ref())?;
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
    let canister = &executor.state.canisters[&id];
    let code = canister.code.as_ref().expect("checked above");
    let chunks: usize = canister.chunks.values().map(|chunk| chunk.len()).sum();
    let bytes = code.heap.memory.len() + code.heap.stable.len() + code.module.len() + chunks;
    executor.reserve_memory(bytes as u64)?;
    let time_ns = executor.state.time_ns;
    let record = store(executor, &id, place, |local_id, canister| Snapshot {
        local_id,
        taken_at_ns: time_ns,
        code: canister.code.clone().expect("checked above"),
        certified_data: canister.certified_data.clone(),
        global_timer: canister.global_timer,
        version: canister.version,
        source: Source::Taken,
        low_wasm_memory: canister.low_wasm_memory,
        chunks: canister.chunks.clone(),
    });
    if args.uninstall_code == Some(true) {
        super::uninstall(executor, &id, caller);
    }
    Ok(encode(record))
}

/// `upload_canister_snapshot_metadata`: a new snapshot of the declared
/// sizes, zero-filled, with the declared globals, certified data and
/// timer; its bytes come with `upload_canister_snapshot_data`.
fn upload_metadata(
    executor: &mut Executor,
    caller: &[u8],
    args: types::UploadCanisterSnapshotMetadataArgs,
) -> Result<Vec<u8>, Reject> {
    let method = "upload_canister_snapshot_metadata";
    let id = args.canister_id.as_slice().to_vec();
    let canister = controlled(executor, caller, &id, method)?;
    let place = place(&canister, &id, args.replace_snapshot.as_ref())?;
    let invalid = |why: String| super::bad_argument(method, why);
    let memory_size = |size: u64, what: &str| {
        let fits = size <= MAX_MEMORY_BYTES as u64 && size.is_multiple_of(PAGE_BYTES as u64);
        match fits {
            true => Ok(size as usize),
            false => Err(invalid(format!(
                "{what} of {size} bytes: at most {MAX_MEMORY_BYTES}, in pages of {PAGE_BYTES}"
            ))),
        }
    };
    let memory = memory_size(args.wasm_memory_size, "a wasm memory")?;
    let stable = memory_size(args.stable_memory_size, "a stable memory")?;
    if args.wasm_module_size > MAX_MODULE_BYTES as u64 {
        return Err(invalid(format!(
            "a module of {} bytes: at most {MAX_MODULE_BYTES}",
            args.wasm_module_size
        )));
    }
    if args.certified_data.len() > 32 {
        return Err(invalid("certified data of more than 32 bytes".into()));
    }
    if args.globals.len() > MAX_UPLOADED_GLOBALS {
        return Err(invalid(format!("more than {MAX_UPLOADED_GLOBALS} globals")));
    }
    let (kinds, bits): (Vec<_>, Vec<_>) = args
        .globals
        .iter()
        .map(GlobalKind::bits)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| invalid("a v128 global past 128 bits".into()))?
        .into_iter()
        .unzip();
    let global_timer = match args.global_timer {
        Some(types::CanisterTimer::Active(deadline)) => deadline,
        Some(types::CanisterTimer::Inactive) | None => 0,
    };
    let low_wasm_memory = args
        .on_low_wasm_memory_hook_status
        .map_or(HookStatus::default(), HookStatus::from);
    let module_size = args.wasm_module_size as usize;
    executor.reserve_memory((module_size + memory + stable) as u64)?;
    let time_ns = executor.state.time_ns;
    let record = store(executor, &id, place, |local_id, canister| {
        let (mut wasm_memory, mut stable_memory) = (Pages::default(), Pages::default());
        wasm_memory.grow_to(memory);
        stable_memory.grow_to(stable);
        let heap = Heap {
            memory: wasm_memory,
            globals: bits,
            stable: stable_memory,
        };
        Snapshot {
            local_id,
            taken_at_ns: time_ns,
            code: Code {
                module: Arc::new(serde_bytes::ByteBuf::from(vec![0; module_size])),
                // Derived from the module and heap when it is loaded.
                module_hash: [0; 32],
                heap_digest: [0; 32],
                heap: Arc::new(heap),
                metadata: Default::default(),
            },
            certified_data: args.certified_data,
            global_timer,
            version: canister.version,
            source: Source::Uploaded { globals: kinds },
            low_wasm_memory,
            chunks: Chunks::new(),
        }
    });
    Ok(encode(types::UploadCanisterSnapshotMetadataResult {
        snapshot_id: record.id,
    }))
}

/// `upload_canister_snapshot_data`: writes `chunk` into an uploaded
/// snapshot's module or memories, within their declared sizes.
fn upload_data(
    executor: &mut Executor,
    caller: &[u8],
    args: types::UploadCanisterSnapshotDataArgs,
) -> Result<Vec<u8>, Reject> {
    let method = "upload_canister_snapshot_data";
    let id = args.canister_id.as_slice().to_vec();
    let canister = controlled(executor, caller, &id, method)?;
    let at = position(&canister, &id, &args.snapshot_id)?;
    let invalid = |why: &str| super::bad_argument(method, why);
    if canister.snapshots[at].source == Source::Taken {
        return Err(invalid(
            "the snapshot was taken, not uploaded: it cannot be written",
        ));
    }
    if args.chunk.len() as u64 > MAX_READ_BYTES {
        return Err(invalid("a chunk of more than 2,000,000 bytes"));
    }
    if let types::SnapshotDataOffset::WasmChunk = args.kind {
        let store = &canister.snapshots[at].chunks;
        let hash = chunks::admit(executor, store, &args.chunk, method)?;
        let chunk = Arc::new(serde_bytes::ByteBuf::from(args.chunk));
        executor.canister(&id).snapshots[at]
            .chunks
            .insert(hash, chunk);
        return Ok(encode(()));
    }
    let within = |offset: u64, len: usize| {
        let end = offset.checked_add(args.chunk.len() as u64);
        match end.filter(|&end| end <= len as u64) {
            Some(_) => Ok(offset as usize),
            None => Err(invalid("the range is outside the snapshot's declared size")),
        }
    };
    let snapshot = &mut executor.canister(&id).snapshots[at];
    let code = &mut snapshot.code;
    match args.kind {
        types::SnapshotDataOffset::WasmModule { offset } => {
            let at = within(offset, code.module.len())?;
            Arc::make_mut(&mut code.module)[at..at + args.chunk.len()].copy_from_slice(&args.chunk);
        }
        types::SnapshotDataOffset::WasmMemory { offset } => {
            let at = within(offset, code.heap.memory.len())?;
            Arc::make_mut(&mut code.heap).memory.write(at, &args.chunk);
        }
        types::SnapshotDataOffset::StableMemory { offset } => {
            let at = within(offset, code.heap.stable.len())?;
            Arc::make_mut(&mut code.heap).stable.write(at, &args.chunk);
        }
        // Stored above.
        types::SnapshotDataOffset::WasmChunk => {}
    }
    Ok(encode(()))
}

/// The code `snapshot` puts back: an uploaded snapshot's module is
/// checked as an install checks one, and must have the mutable globals
/// the snapshot declared.
fn code_to_load(executor: &Executor, snapshot: &Snapshot) -> Result<Code, Reject> {
    let Source::Uploaded { globals } = &snapshot.source else {
        return Ok(snapshot.code.clone());
    };
    let module = &snapshot.code.module;
    let facts = executor.module_facts(module);
    let metadata = facts.metadata.clone()?;
    let (module_hash, _) = executor
        .runtime
        .compile(module)
        .map_err(super::super::install::module_error)?;
    if facts.mutable_globals.as_ref().map_err(Reject::clone)? != globals {
        return Err(Reject::new(
            reject_code::CANISTER_ERROR,
            "IC0505",
            "The snapshot's globals are not its module's mutable globals",
        ));
    }
    Ok(Code {
        module: Arc::clone(module),
        module_hash,
        heap: Arc::clone(&snapshot.code.heap),
        heap_digest: snapshot.code.heap.digest(),
        metadata,
    })
}

fn load(
    executor: &mut Executor,
    caller: &[u8],
    args: types::LoadCanisterSnapshotArgs,
) -> Result<Vec<u8>, Reject> {
    let method = "load_canister_snapshot";
    let id = args.canister_id.as_slice().to_vec();
    let canister = controlled(executor, caller, &id, method)?;
    let snapshot = &canister.snapshots[position(&canister, &id, &args.snapshot_id)?];
    if canister.status != RunStatus::Stopped {
        return Err(Reject::new(
            reject_code::CANISTER_ERROR,
            "IC0510",
            format!("Canister {} must be stopped to load a snapshot", text(&id)),
        ));
    }
    let code = code_to_load(executor, snapshot)?;
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
        source: snapshot.source(),
    });
    target.code = Some(code);
    target.certified_data = snapshot.certified_data;
    target.global_timer = snapshot.global_timer;
    target.low_wasm_memory = snapshot.low_wasm_memory;
    target.chunks = snapshot.chunks;
    target.version += 1;
    target
        .history
        .record(time_ns, target.version, origin, details);
    Ok(encode(()))
}
