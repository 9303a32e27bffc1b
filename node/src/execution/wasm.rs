//! Running canister code with wasmtime, deterministically: NaN
//! canonicalisation, no threads, deterministic relaxed SIMD, bounded
//! memory, tables and stack, and fuel as the instruction meter.
//!
//! A canister's persistent state between messages is its [`Heap`]: the
//! memory's bytes, the values of its mutable globals (exported by
//! [`super::instrument`]) and its stable memory. A live
//! [`Instance`] keeps that state in wasmtime between messages; a fresh
//! one is made from a saved heap after a restart, a trap or for a query,
//! by mapping the heap's memory image copy-on-write (see
//! [`super::pages`]).
//!
//! Every call runs on a wasmtime fiber. A long message runs as a
//! [`Sliced`] execution: it stops each time it has used a slice of
//! instructions (fuel), at the same point on every node, and continues
//! when the executor polls it again — in the next round if the round's
//! budget is spent (deterministic time slicing).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmtime::{Config, Engine, ExternType, Memory, Module, Store, Val};

use super::instrument::{self, ModuleError};
use super::memory_image::Image;
use super::pages::{self, Pages};
use super::system_api::{Api, Linkers, PROVIDED};

/// Largest heap (wasm memory) of a canister.
pub const MAX_HEAP_BYTES: usize = pages::MAX_MEMORY_BYTES;
/// Largest stable memory of a canister.
pub const MAX_STABLE_BYTES: u64 = pages::MAX_MEMORY_BYTES as u64;
/// Largest wasm stack a message may use (messages run on wasmtime fibers,
/// whose 2 MiB stacks must be larger).
pub const MAX_WASM_STACK: usize = 1 << 20;
/// Stack size of every thread that runs canister code.
pub const THREAD_STACK: usize = 8 << 20;
/// Instructions (fuel) a module's instantiation may use (it runs no
/// code of the module: its start function is run as an export).
const INSTANTIATION_FUEL: u64 = 1_000_000_000;

/// Where a message enters the module.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryPoint {
    /// A `() -> ()` export (`canister_update m`, `canister_heartbeat`, …).
    Export(String),
    /// A callback of the function table, called with its environment.
    Callback {
        /// Index in the table.
        index: u64,
        /// The environment argument.
        env: u64,
    },
}

/// Polls `future` to completion on this thread: fuel yields come straight
/// back here.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

/// A canister's persistent execution state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heap {
    /// The wasm memory's bytes, as pages shared with earlier heaps.
    pub memory: Pages,
    /// The mutable globals' values (as raw bits), in index order.
    pub globals: Vec<u128>,
    /// Stable memory.
    pub stable: Pages,
}

impl Heap {
    /// SHA-256 of the heap, for comparing state across nodes.
    pub fn digest(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        self.memory.digest_into(&mut hasher);
        for global in &self.globals {
            hasher.update(global.to_le_bytes());
        }
        self.stable.digest_into(&mut hasher);
        hasher.finalize().into()
    }
}

/// A compiled, instrumented module.
pub struct Compiled {
    module: Module,
    mutable_globals: Vec<u32>,
    memory64: bool,
    has_start: bool,
    compile_instructions: u64,
}

impl Compiled {
    /// What installing it is charged for compiling it, in instructions
    /// (whether this node compiled it or had it already: every node
    /// charges alike).
    pub fn compile_instructions(&self) -> u64 {
        self.compile_instructions
    }

    /// Whether the module exports `name` as a function.
    pub fn exports_function(&self, name: &str) -> bool {
        matches!(self.module.get_export(name), Some(ExternType::Func(_)))
    }
}

/// The engine, the linkers and the compiled modules.
pub struct Runtime {
    engine: Engine,
    linkers: Linkers,
    modules: Mutex<HashMap<[u8; 32], Arc<Compiled>>>,
    /// Compilations under way in the background, by module hash: a load
    /// of one waits for it.
    compiling: Mutex<HashMap<[u8; 32], Arc<Compilation>>>,
    /// The background compiler's queue (started with its first module).
    compiler: Mutex<Option<std::sync::mpsc::Sender<BackgroundJob>>>,
}

/// A compilation's outcome, once there is one.
type Compilation = std::sync::OnceLock<Result<Arc<Compiled>, ModuleError>>;

/// A module for the background compiler.
struct BackgroundJob {
    module: Vec<u8>,
    hash: [u8; 32],
    done: Arc<Compilation>,
}

/// How running an export went.
#[derive(Debug)]
pub enum Ran {
    /// It returned.
    Returned,
    /// It trapped (the instance must be discarded).
    Trapped(Trap),
}

/// Why a message trapped, with the reject code's error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap {
    /// The spec's error code (`IC0502`, `IC0503`, `IC0522`, …).
    pub error_code: &'static str,
    /// What happened.
    pub message: String,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new()
    }
}

impl Runtime {
    /// An engine configured for deterministic execution.
    pub fn new() -> Runtime {
        let mut config = Config::new();
        config
            .consume_fuel(true)
            .cranelift_nan_canonicalization(true)
            .wasm_memory64(true)
            .relaxed_simd_deterministic(true)
            .max_wasm_stack(MAX_WASM_STACK);
        let engine = Engine::new(&config).expect("a valid wasmtime configuration");
        Runtime {
            linkers: Linkers::new(&engine),
            engine,
            modules: Mutex::default(),
            compiling: Mutex::default(),
            compiler: Mutex::default(),
        }
    }

    /// Queues `module` for compiling on the background compiler's thread,
    /// unless it is compiled or queued already: an install whose module
    /// takes long to compile waits some rounds for it instead of holding
    /// up the execution thread. Modules compile one at a time, in the
    /// order they came.
    pub fn compile_in_background(self: &Arc<Self>, module: Vec<u8>) {
        let hash: [u8; 32] = Sha256::digest(&module).into();
        if self.cached(&hash).is_some() {
            return;
        }
        let done = Arc::new(Compilation::new());
        {
            let mut compiling = self.compiling.lock().expect("compilations");
            if compiling.contains_key(&hash) {
                return;
            }
            compiling.insert(hash, Arc::clone(&done));
        }
        let job = BackgroundJob { module, hash, done };
        let mut compiler = self.compiler.lock().expect("compiler");
        let sender = compiler.get_or_insert_with(|| {
            let (sender, jobs) = std::sync::mpsc::channel::<BackgroundJob>();
            // The thread holds the runtime weakly: it ends with it.
            let runtime = Arc::downgrade(self);
            let spawned = std::thread::Builder::new()
                .name("compile".into())
                .spawn(move || {
                    for job in jobs {
                        let Some(runtime) = runtime.upgrade() else {
                            return;
                        };
                        runtime.run_background_job(job);
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "no background compiler: modules compile when loaded");
            }
            sender
        });
        if let Err(unsent) = sender.send(job) {
            // No compiler thread: the module compiles when it is loaded.
            self.compiling
                .lock()
                .expect("compilations")
                .remove(&unsent.0.hash);
        }
    }

    fn run_background_job(&self, job: BackgroundJob) {
        let compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.compile_now(&job.module, &job.hash)
        }))
        .unwrap_or_else(|_| Err(ModuleError::Invalid("the compiler failed".into())));
        let _ = job.done.set(compiled);
        self.compiling
            .lock()
            .expect("compilations")
            .remove(&job.hash);
    }

    /// Compiles `module` (possibly gzipped), reusing an earlier compilation
    /// of the same bytes. Returns it with its hash (the module hash).
    pub fn compile(&self, module: &[u8]) -> Result<([u8; 32], Arc<Compiled>), ModuleError> {
        let hash: [u8; 32] = Sha256::digest(module).into();
        Ok((hash, self.load(module, &hash)?))
    }

    /// The compilation of the module whose SHA-256 is `hash`, if it was
    /// compiled already.
    pub fn cached(&self, hash: &[u8; 32]) -> Option<Arc<Compiled>> {
        self.modules
            .lock()
            .expect("module cache")
            .get(hash)
            .cloned()
    }

    /// The compilation of `module`, whose SHA-256 is `hash`: cached, being
    /// compiled in the background (waited for), or compiled now.
    pub fn load(&self, module: &[u8], hash: &[u8; 32]) -> Result<Arc<Compiled>, ModuleError> {
        if let Some(compiled) = self.cached(hash) {
            return Ok(compiled);
        }
        let background = self
            .compiling
            .lock()
            .expect("compilations")
            .get(hash)
            .cloned();
        match background {
            Some(compilation) => compilation.wait().clone(),
            None => self.compile_now(module, hash),
        }
    }

    /// Compiles `module`, whose SHA-256 is `hash`, and caches it.
    fn compile_now(&self, module: &[u8], hash: &[u8; 32]) -> Result<Arc<Compiled>, ModuleError> {
        let wasm = instrument::decompress(module)?;
        let prepared = instrument::prepare(&wasm, |name| PROVIDED.contains(&name))?;
        let module = Module::new(&self.engine, &prepared.wasm)
            .map_err(|error| ModuleError::Invalid(error.to_string()))?;
        let memory64 = match module.get_export(instrument::MEMORY_EXPORT) {
            Some(ExternType::Memory(ty)) => ty.is_64(),
            _ => return Err(ModuleError::Memories(0)),
        };
        let compiled = Arc::new(Compiled {
            module,
            mutable_globals: prepared.mutable_globals,
            memory64,
            has_start: prepared.has_start,
            compile_instructions: prepared.compile_instructions,
        });
        self.modules
            .lock()
            .expect("module cache")
            .insert(*hash, Arc::clone(&compiled));
        Ok(compiled)
    }

    /// A new instance of `compiled` that continues where `heap` left off.
    pub fn resume(
        &self,
        compiled: &Arc<Compiled>,
        canister_id: &[u8],
        heap: &Heap,
    ) -> Result<Instance, Trap> {
        let mut instance = self.instantiate(compiled, canister_id)?;
        instance.restore(heap)?;
        Ok(instance)
    }

    /// A new instance of `compiled` for an install or upgrade: its memory
    /// replaced by `kept_memory` if given (an upgrade that keeps the heap,
    /// as Motoko's enhanced persistence asks), then its start function run
    /// with `fuel` (in slices of `slice`). Returns the instructions the
    /// start function used.
    pub async fn fresh(
        &self,
        compiled: &Arc<Compiled>,
        canister_id: &[u8],
        kept_memory: Option<&Pages>,
        fuel: u64,
        slice: Option<u64>,
    ) -> Result<(Instance, u64), Trap> {
        let mut instance = self.instantiate(compiled, canister_id)?;
        if let Some(memory) = kept_memory {
            instance.restore_memory(memory)?;
        }
        if !compiled.has_start {
            return Ok((instance, 0));
        }
        let api = Api::new(super::system_api::Entry::Init, canister_id.to_vec());
        let start = EntryPoint::Export(instrument::START_EXPORT.into());
        match instance.call(&start, api, fuel, slice).await {
            (_, Ran::Trapped(trap)) => Err(trap),
            (api, Ran::Returned) => Ok((instance, api.instructions)),
        }
    }

    fn instantiate(&self, compiled: &Arc<Compiled>, canister_id: &[u8]) -> Result<Instance, Trap> {
        let api = Api::new(super::system_api::Entry::Init, canister_id.to_vec());
        let mut store = Store::new(&self.engine, api);
        store.limiter(|api| api);
        // Every call is asynchronous, so that any may be sliced.
        store
            .fuel_async_yield_interval(None)
            .expect("fuel is enabled");
        store.set_fuel(INSTANTIATION_FUEL).expect("fuel is enabled");
        let linker = if compiled.memory64 {
            &self.linkers.memory64
        } else {
            &self.linkers.memory32
        };
        let instance = block_on(linker.instantiate_async(&mut store, &compiled.module))
            .map_err(|error| classify(&store, error))?;
        let memory = instance
            .get_memory(&mut store, instrument::MEMORY_EXPORT)
            .expect("the module exports its memory");
        store.data_mut().memory = Some(memory);
        Ok(Instance {
            store,
            instance,
            memory,
            image: None,
            compiled: Arc::clone(compiled),
        })
    }
}

/// Turns a wasmtime error into a [`Trap`] with the matching error code.
fn classify(store: &Store<Api>, error: wasmtime::Error) -> Trap {
    if let Some(message) = &store.data().trap_message {
        return Trap {
            error_code: "IC0503",
            message: format!("Canister called `ic0.trap` with message: '{message}'"),
        };
    }
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => Trap {
            error_code: "IC0522",
            message: "Canister exceeded the instruction limit for a single message execution"
                .into(),
        },
        Some(trap) => Trap {
            error_code: "IC0502",
            message: format!("Canister trapped: {trap}"),
        },
        None => Trap {
            error_code: "IC0504",
            message: format!("Canister violated the System API: {error:#}"),
        },
    }
}

/// A live canister instance.
pub struct Instance {
    store: Store<Api>,
    instance: wasmtime::Instance,
    memory: Memory,
    /// The image mapped into `memory` (see [`Pages::map_into`]).
    image: Option<Arc<Image>>,
    compiled: Arc<Compiled>,
}

impl Instance {
    /// Bytes of its wasm memory.
    pub fn memory_bytes(&self) -> u64 {
        self.memory.data_size(&self.store) as u64
    }

    /// The module this instance runs.
    pub fn compiled(&self) -> &Arc<Compiled> {
        &self.compiled
    }

    /// Runs the export `name` (a `() -> ()` entry point) to its end with
    /// `api` and `fuel`, and gives `api` back with what the message did.
    pub fn run(&mut self, name: &str, api: Api, fuel: u64) -> (Api, Ran) {
        block_on(self.call(&EntryPoint::Export(name.into()), api, fuel, None))
    }

    /// Runs callback `index` of the function table with `env` to its end.
    pub fn run_callback(&mut self, index: u64, env: u64, api: Api, fuel: u64) -> (Api, Ran) {
        let entry = EntryPoint::Callback { index, env };
        block_on(self.call(&entry, api, fuel, None))
    }

    /// The function `entry` names, with its arguments.
    fn function(&mut self, entry: &EntryPoint) -> Result<(wasmtime::Func, Vec<Val>), Trap> {
        match entry {
            EntryPoint::Export(name) => self
                .instance
                .get_func(&mut self.store, name)
                .map(|function| (function, Vec::new()))
                .ok_or_else(|| Trap {
                    error_code: "IC0536",
                    message: format!("Canister has no entry point `{name}`"),
                }),
            &EntryPoint::Callback { index, env } => {
                let table = self
                    .instance
                    .get_table(&mut self.store, instrument::TABLE_EXPORT);
                let function = table
                    .and_then(|table| table.get(&mut self.store, index))
                    .and_then(|entry| entry.as_func().flatten().copied())
                    .ok_or_else(|| Trap {
                        error_code: "IC0502",
                        message: format!("Canister trapped: no callback at table index {index}"),
                    })?;
                let env = if self.compiled.memory64 {
                    Val::I64(env as i64)
                } else {
                    Val::I32(env as i32)
                };
                Ok((function, vec![env]))
            }
        }
    }

    /// Calls `entry` with `api` and `fuel`, yielding after every `slice`
    /// instructions if given; records the instructions used in the `Api`
    /// it gives back.
    pub async fn call(
        &mut self,
        entry: &EntryPoint,
        mut api: Api,
        fuel: u64,
        slice: Option<u64>,
    ) -> (Api, Ran) {
        let (function, params) = match self.function(entry) {
            Ok(found) => found,
            Err(trap) => return (api, Ran::Trapped(trap)),
        };
        api.memory = Some(self.memory);
        api.fuel_at_start = fuel;
        *self.store.data_mut() = api;
        self.store
            .fuel_async_yield_interval(slice.filter(|&slice| slice > 0))
            .expect("fuel is enabled");
        self.store.set_fuel(fuel).expect("fuel is enabled");
        let result = function.call_async(&mut self.store, &params, &mut []).await;
        let left = self.store.get_fuel().expect("fuel is enabled");
        let ran = match result {
            Ok(()) => Ran::Returned,
            Err(error) => Ran::Trapped(classify(&self.store, error)),
        };
        let placeholder = Api::new(super::system_api::Entry::Init, Vec::new());
        let mut api = std::mem::replace(self.store.data_mut(), placeholder);
        self.store.data_mut().memory = Some(self.memory);
        api.instructions = fuel.saturating_sub(left);
        (api, ran)
    }

    /// The instance's memory and globals (stable memory lives in the
    /// [`Api`] while a message runs, so `stable` is passed in), sharing
    /// what did not change with `previous` (the heap saved before). When the
    /// pages of its own grow large, the memory is remapped onto a new image
    /// of itself.
    pub fn save(&mut self, previous: &Pages, stable: Pages) -> Heap {
        let globals = self
            .compiled
            .mutable_globals
            .clone()
            .into_iter()
            .map(|index| {
                let global = self
                    .instance
                    .get_global(&mut self.store, &instrument::global_export(index))
                    .expect("instrumented globals are exported");
                value_bits(&global.get(&mut self.store))
            })
            .collect();
        let memory = Pages::save(self.memory.data(&self.store), self.image.as_ref(), previous);
        // SAFETY: a wasm memory is a private read-write mapping this
        // instance owns, and holds `memory`'s contents.
        let memory =
            unsafe { memory.with_image_mapped_if_large(self.memory.data_mut(&mut self.store)) };
        self.image = memory.image().cloned();
        Heap {
            memory,
            globals,
            stable: stable.with_image_if_large(),
        }
    }

    /// Copies `heap`'s memory and globals into the instance.
    fn restore(&mut self, heap: &Heap) -> Result<(), Trap> {
        self.restore_memory(&heap.memory)?;
        for (index, bits) in self
            .compiled
            .mutable_globals
            .clone()
            .into_iter()
            .zip(&heap.globals)
        {
            let global = self
                .instance
                .get_global(&mut self.store, &instrument::global_export(index))
                .expect("instrumented globals are exported");
            let value = bits_value(&global.get(&mut self.store), *bits);
            global.set(&mut self.store, value).map_err(|error| Trap {
                error_code: "IC0502",
                message: format!("cannot restore a global: {error}"),
            })?;
        }
        Ok(())
    }

    /// Replaces the memory's content by `bytes` (growing it as needed):
    /// the heap of an upgrade that keeps the main memory.
    pub fn restore_memory(&mut self, bytes: &Pages) -> Result<(), Trap> {
        let page = self.memory.page_size(&self.store) as usize;
        let current = self.memory.data_size(&self.store);
        if bytes.len() > current {
            let pages = (bytes.len() - current).div_ceil(page) as u64;
            self.memory
                .grow(&mut self.store, pages)
                .map_err(|error| Trap {
                    error_code: "IC0502",
                    message: format!("cannot restore the heap: {error}"),
                })?;
        }
        // SAFETY: a wasm memory is a private read-write mapping this
        // instance owns, now at least as long as `bytes`.
        unsafe { bytes.map_into(self.memory.data_mut(&mut self.store)) }.map_err(|error| Trap {
            error_code: "IC0502",
            message: format!("cannot restore the heap: {error}"),
        })?;
        self.image = bytes.image().cloned();
        Ok(())
    }
}

fn value_bits(value: &Val) -> u128 {
    match value {
        Val::I32(v) => *v as u32 as u128,
        Val::I64(v) => *v as u64 as u128,
        Val::F32(bits) => u128::from(*bits),
        Val::F64(bits) => u128::from(*bits),
        Val::V128(v) => v.as_u128(),
        _ => 0,
    }
}

fn bits_value(like: &Val, bits: u128) -> Val {
    match like {
        Val::I32(_) => Val::I32(bits as u32 as i32),
        Val::I64(_) => Val::I64(bits as u64 as i64),
        Val::F32(_) => Val::F32(bits as u32),
        Val::F64(_) => Val::F64(bits as u64),
        Val::V128(_) => Val::V128(bits.into()),
        other => *other,
    }
}

/// How a message ended: its instance, what it did, and whether it trapped.
pub type Ended = (Instance, Api, Ran);

/// An execution that runs in slices: each [`step`](Sliced::step) runs it
/// until it has used another slice of instructions or ends, with its
/// outcome `T` (by default a message's [`Ended`]). It owns its instances
/// meanwhile; where it stops depends only on the instructions it ran, so
/// every node pauses it at the same point.
pub struct Sliced<T = Ended> {
    future: Pin<Box<dyn Future<Output = T> + Send>>,
}

impl<T> Sliced<T> {
    /// Wraps an execution whose calls yield after each slice; nothing runs
    /// before the first step.
    pub fn new(execution: impl Future<Output = T> + Send + 'static) -> Sliced<T> {
        Sliced {
            future: Box::pin(execution),
        }
    }

    /// Runs one more slice: the outcome once it ended.
    pub fn step(&mut self) -> Option<T> {
        let mut context = Context::from_waker(Waker::noop());
        match self.future.as_mut().poll(&mut context) {
            Poll::Ready(outcome) => Some(outcome),
            Poll::Pending => None,
        }
    }
}

impl Sliced {
    /// Starts `entry` of `instance` with `api` and `fuel` in total, paused
    /// after every `slice` instructions.
    pub fn start(
        mut instance: Instance,
        entry: EntryPoint,
        api: Api,
        fuel: u64,
        slice: u64,
    ) -> Sliced {
        Sliced::new(async move {
            let (api, ran) = instance.call(&entry, api, fuel, Some(slice)).await;
            (instance, api, ran)
        })
    }
}
