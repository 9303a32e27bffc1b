//! `install_code`: installing, reinstalling and upgrading a canister's
//! module. An install may run up to
//! [`install_instructions`](crate::config::ExecutionConfig::install_instructions)
//! in all — the old module's `canister_pre_upgrade`, the new module's
//! start function, then `canister_init` or `canister_post_upgrade` — so it
//! runs in slices like any long message ([`round`](super::round)): the
//! canister is busy meanwhile (its queue, the install's own included,
//! waits), and a node restarted in the middle starts the install again
//! from the saved state up to where the others paused it. Nothing changes
//! until the install ends; if any stage traps, nothing changes at all.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::Arc;

use ic_management_canister_types as types;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::management::snapshots::{mutable_globals, GlobalKind};
use super::management::{controlled, decode, encode};
use super::pages::Pages;
use super::round::{Paused, Task};
use super::system_api::Entry;
use super::wasm::{EntryPoint, Heap, Instance, Ran, Sliced};
use super::{reject_code, Api, Code, Executor, Metadata, Origin, Reject, ReplicatedState, Running};
use crate::ic::principal::Principal;

const METHOD: &str = "install_code";

/// An `install_code` call as it started: enough to start it again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Install {
    /// Where the answer goes.
    pub origin: Origin,
    /// Who called (a controller).
    pub caller: Vec<u8>,
    /// The call's argument (`InstallCodeArgs`, Candid).
    #[serde(with = "serde_bytes")]
    pub arg: Vec<u8>,
    /// Cycles the call carried (returned with the answer).
    pub cycles: u128,
    /// The block time it started at.
    pub time_ns: u64,
    /// Cycles the canister prepaid for the install's instruction limit.
    pub prepaid: u128,
    /// The canister's balance when it started (after prepaying).
    pub balance: u128,
    /// The height it waits for, while its module compiles in the
    /// background (0: none).
    #[serde(default)]
    pub ready_at: u64,
}

/// Bytes of code one height leaves for compiling them. Compiling runs at
/// about 1.2–1.75 MiB of code a second with a machine's two cores to
/// itself, a quarter of that with four nodes on them, and a local subnet
/// makes some 14 heights a second: an install waits about as long as its
/// module takes to compile, so its compiling holds up nobody else's
/// messages. A module under this size starts at once.
pub const CODE_BYTES_PER_HEIGHT: u64 = 32 << 10;
/// Bytes of a whole module (unzipped: its data too) one height leaves for
/// validating, rewriting and loading them, which runs at some hundreds
/// of MiB a second (an estimate, with room for four nodes on two cores).
pub const MODULE_BYTES_PER_HEIGHT: u64 = 4 << 20;

/// Queues for compiling the modules of the installs in `state` that wait
/// for theirs (a node restarted from a checkpoint taken meanwhile).
pub(super) fn compile_waiting_modules(
    runtime: &Arc<super::wasm::Runtime>,
    state: &ReplicatedState,
) {
    for paused in state.paused.values() {
        let Task::Install(install) = &paused.task else {
            continue;
        };
        if install.ready_at <= state.height {
            continue;
        }
        if let Ok(args) = decode::<types::InstallCodeArgs>(METHOD, &install.arg) {
            runtime.compile_in_background(args.wasm_module);
        }
    }
}

/// How an install's code ran: the new instance and its init's System API
/// state, or why it failed; and the instructions all its stages used.
pub struct Installed {
    result: Result<(Instance, Api), Reject>,
    instructions: u64,
    /// The new module's hash and metadata (read once, when it started).
    module: ([u8; 32], BTreeMap<String, Metadata>),
}

impl Installed {
    /// An install that failed before any code ran.
    fn refused(reject: Reject) -> Installed {
        Installed {
            result: Err(reject),
            instructions: 0,
            module: Default::default(),
        }
    }
}

/// An install in progress.
pub type Installing = Sliced<Installed>;

pub(super) fn module_error(error: super::instrument::ModuleError) -> Reject {
    Reject::new(reject_code::CANISTER_ERROR, "IC0505", error.to_string())
}

/// What installs and snapshots read of a module, from one unzipping of
/// it. A module unzips to up to 100 MiB, which takes a good part of a
/// second: the execution thread unzips each module once
/// ([`Executor::module_facts`]), not at every stage of its install or at
/// every read of a snapshot's metadata.
#[derive(Debug)]
pub(super) struct ModuleFacts {
    /// The heights an install waits for it to compile: none if it does
    /// not unzip or parse (the install refuses it when it starts).
    pub compile_wait: u64,
    /// Whether it asks for Motoko's enhanced orthogonal persistence (its
    /// heap must be kept across upgrades).
    pub kept_memory: bool,
    /// Its metadata, or why it is refused.
    pub metadata: Result<BTreeMap<String, Metadata>, Reject>,
    /// The kinds of its mutable globals (what a snapshot of it holds), or
    /// why they cannot be read.
    pub mutable_globals: Result<Vec<GlobalKind>, Reject>,
}

impl ModuleFacts {
    /// Reads them from `module` (possibly gzipped).
    pub(super) fn read(module: &[u8]) -> ModuleFacts {
        let wasm = match super::instrument::decompress(module) {
            Ok(wasm) => wasm,
            Err(error) => {
                let refused = module_error(error);
                return ModuleFacts {
                    compile_wait: 0,
                    kept_memory: false,
                    metadata: Err(refused.clone()),
                    mutable_globals: Err(refused),
                };
            }
        };
        let code = super::instrument::code_bytes(&wasm).map_or(0, u64::from);
        let kept_memory = wasmparser::Parser::new(0).parse_all(&wasm).any(|payload| {
            matches!(payload, Ok(wasmparser::Payload::CustomSection(section))
                if section.name().ends_with(" enhanced-orthogonal-persistence"))
        });
        ModuleFacts {
            compile_wait: code / CODE_BYTES_PER_HEIGHT
                + wasm.len() as u64 / MODULE_BYTES_PER_HEIGHT,
            kept_memory,
            metadata: module_metadata(&wasm),
            mutable_globals: mutable_globals(&wasm),
        }
    }
}

/// Modules whose facts the execution thread keeps (a module's metadata
/// is at most [`MAX_METADATA_BYTES`]).
pub(super) const KEPT_MODULE_FACTS: NonZeroUsize = NonZeroUsize::new(16).expect("not zero");

impl Executor {
    /// The facts of `module`: kept from an earlier stage, or read now.
    pub(super) fn module_facts(&self, module: &[u8]) -> Arc<ModuleFacts> {
        self.hashed_module_facts(module, Sha256::digest(module).into())
    }

    /// The facts of `module`, whose SHA-256 (the module hash) is `hash`:
    /// a stored module's, known already, is not computed again.
    pub(super) fn hashed_module_facts(&self, module: &[u8], hash: [u8; 32]) -> Arc<ModuleFacts> {
        if let Some(facts) = self.facts.borrow_mut().get(&hash) {
            return Arc::clone(facts);
        }
        let facts = Arc::new(ModuleFacts::read(module));
        self.facts.borrow_mut().put(hash, Arc::clone(&facts));
        facts
    }
}

/// Most metadata sections a module may carry, and their largest total
/// size (as on the IC).
pub const MAX_METADATA_SECTIONS: usize = 16;
/// The largest total size of a module's metadata sections, bytes.
pub const MAX_METADATA_BYTES: usize = 1 << 20;

/// An unzipped module's metadata: its `icp:public <name>` and
/// `icp:private <name>` custom sections, by name; refused if they are too
/// many or too large, or name one section twice.
fn module_metadata(wasm: &[u8]) -> Result<BTreeMap<String, Metadata>, Reject> {
    let refuse = |why: String| Reject::new(reject_code::CANISTER_ERROR, "IC0505", why);
    let mut metadata = BTreeMap::new();
    let mut bytes = 0;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Ok(wasmparser::Payload::CustomSection(section)) = payload else {
            continue;
        };
        let (public, name) = match section.name().split_once(' ') {
            Some(("icp:public", name)) => (true, name),
            Some(("icp:private", name)) => (false, name),
            _ => continue,
        };
        bytes += name.len() + section.data().len();
        if metadata.len() == MAX_METADATA_SECTIONS || bytes > MAX_METADATA_BYTES {
            return Err(refuse(format!(
                "Module metadata exceeds {MAX_METADATA_SECTIONS} sections or \
                 {MAX_METADATA_BYTES} bytes"
            )));
        }
        let section = Metadata::new(public, section.data());
        if metadata.insert(name.to_string(), section).is_some() {
            return Err(refuse(format!(
                "Module has two metadata sections named {name}"
            )));
        }
    }
    Ok(metadata)
}

/// The old module's side of an upgrade.
struct Upgrade {
    compiled: Arc<super::wasm::Compiled>,
    heap: Arc<Heap>,
    /// Run `canister_pre_upgrade` (exported, and not skipped).
    pre_upgrade: bool,
    /// Keep the main memory (enhanced orthogonal persistence).
    keep_memory: bool,
}

impl Executor {
    /// `install_code` from `caller`: checked, prepaid and started; it is
    /// answered when it ends.
    pub(super) fn start_install(
        &mut self,
        origin: Origin,
        caller: Vec<u8>,
        arg: Vec<u8>,
        cycles: u128,
    ) {
        let prepaid = self.fees.execution(self.limits.install_instructions);
        let started = decode::<types::InstallCodeArgs>(METHOD, &arg).and_then(|args| {
            let id = args.canister_id.as_slice().to_vec();
            controlled(self, &caller, &id, METHOD)?;
            let canister = self.state.canisters.get_mut(&id).expect("controlled");
            self.fees.charge(&id, Arc::make_mut(canister), prepaid)?;
            Ok((id, args.wasm_module))
        });
        let (id, module) = match started {
            Ok(started) => started,
            Err(reject) => return self.respond(origin, Err(reject), cycles),
        };
        self.save_heap(&id);
        let mut install = Install {
            origin,
            caller,
            arg,
            cycles,
            time_ns: self.state.time_ns,
            prepaid,
            balance: self.state.canisters[&id].cycles,
            ready_at: 0,
        };
        let wait = self.module_facts(&module).compile_wait;
        if wait > 0 {
            // The canister is busy while its module compiles, off this
            // thread; then the install starts like a paused one.
            let start = self.state.compiling_until.max(self.state.height);
            install.ready_at = start + wait;
            self.state.compiling_until = install.ready_at;
            self.runtime.compile_in_background(module);
            let task = Task::Install(install);
            self.state.paused.insert(id, Paused { task, slices: 0 });
            return;
        }
        match self.installation(&id, &install) {
            Ok(installing) => self.step_install(&id, install, installing, 0),
            Err(reject) => self.end_install(&id, install, Installed::refused(reject)),
        }
    }

    /// Runs one more slice of `installing`, which has run `slices`
    /// slices: it ends, or it pauses until the next round.
    fn step_install(
        &mut self,
        id: &[u8],
        install: Install,
        mut installing: Installing,
        slices: u64,
    ) {
        let slice = self.limits.slice_instructions;
        match installing.step() {
            Some(installed) => {
                self.used += installed
                    .instructions
                    .saturating_sub(slices.saturating_mul(slice))
                    .min(slice);
                self.state.paused.remove(id);
                self.running.remove(id);
                self.end_install(id, install, installed);
            }
            None => {
                self.used += slice;
                let task = Task::Install(install);
                let paused = Paused {
                    task,
                    slices: slices + 1,
                };
                self.state.paused.insert(id.to_vec(), paused);
                self.running
                    .insert(id.to_vec(), Running::Install(installing));
            }
        }
    }

    /// Continues the paused `install` of canister `id`, which ran `slices`
    /// slices (started again from the saved state after a restart).
    pub(super) fn continue_install(&mut self, id: &[u8], install: Install, slices: u64) {
        let installing = match self.running.remove(id) {
            Some(Running::Install(installing)) => installing,
            _ => match self.installation(id, &install) {
                Ok(mut installing) => {
                    for _ in 0..slices {
                        if let Some(installed) = installing.step() {
                            // Cannot happen: slices are deterministic.
                            tracing::error!("a paused install ended early while catching up");
                            self.state.paused.remove(id);
                            return self.end_install(id, install, installed);
                        }
                    }
                    installing
                }
                Err(reject) => {
                    self.state.paused.remove(id);
                    return self.end_install(id, install, Installed::refused(reject));
                }
            },
        };
        self.step_install(id, install, installing, slices);
    }

    /// Checks `install` against canister `id`'s state and makes the
    /// execution that runs its stages; nothing runs yet.
    fn installation(&self, id: &[u8], install: &Install) -> Result<Installing, Reject> {
        let args: types::InstallCodeArgs = decode(METHOD, &install.arg)?;
        let name = Principal::from_bytes(id)
            .map(|p| p.to_text())
            .unwrap_or_default();
        let canister = Arc::clone(&self.state.canisters[id]);
        let metadata = self.module_facts(&args.wasm_module).metadata.clone()?;
        let (module_hash, compiled) = self
            .runtime
            .compile(&args.wasm_module)
            .map_err(module_error)?;
        let old = canister.code.as_ref();
        let upgrade = match args.mode {
            types::CanisterInstallMode::Install if old.is_some() => {
                return Err(Reject::new(
                    reject_code::CANISTER_ERROR,
                    "IC0538",
                    format!("Canister {name} already has a module: use reinstall or upgrade"),
                ));
            }
            types::CanisterInstallMode::Install | types::CanisterInstallMode::Reinstall => None,
            types::CanisterInstallMode::Upgrade(flags) => {
                let Some(old) = old else {
                    return Err(Reject::new(
                        reject_code::CANISTER_ERROR,
                        "IC0537",
                        format!("Canister {name} has no module to upgrade"),
                    ));
                };
                let flags = flags.unwrap_or_default();
                let keep_memory =
                    flags.wasm_memory_persistence == Some(types::WasmMemoryPersistence::Keep);
                let old_facts = self.hashed_module_facts(&old.module, old.module_hash);
                if old_facts.kept_memory && !keep_memory {
                    return Err(Reject::new(
                        reject_code::CANISTER_ERROR,
                        "IC0504",
                        "Missing upgrade option: enhanced orthogonal persistence requires the \
                         `wasm_memory_persistence` upgrade option set to `keep`",
                    ));
                }
                let compiled = self
                    .runtime
                    .load(&old.module, &old.module_hash)
                    .map_err(module_error)?;
                Some(Upgrade {
                    pre_upgrade: flags.skip_pre_upgrade != Some(true)
                        && compiled.exports_function("canister_pre_upgrade"),
                    compiled,
                    heap: Arc::clone(&old.heap),
                    keep_memory,
                })
            }
        };
        let entry_point = if upgrade.is_some() {
            "canister_post_upgrade"
        } else {
            "canister_init"
        };
        let runs_entry_point = compiled.exports_function(entry_point);
        let api = |entry| {
            let mut api = canister.api(entry, id, install.time_ns, Pages::default());
            api.caller = install.caller.clone();
            api.balance = install.balance;
            api
        };
        let pre_upgrade_api = api(Entry::PreUpgrade);
        let mut init_api = api(Entry::Init);
        init_api.arg = args.arg;
        init_api.global_timer = 0;
        let runtime = Arc::clone(&self.runtime);
        let limit = self.limits.install_instructions;
        let slice = Some(self.limits.slice_instructions);
        let id = id.to_vec();
        Ok(Sliced::new(async move {
            // Compiling is paid like running, from the same allowance.
            let mut used = compiled.compile_instructions();
            let result = async {
                let (stable, kept_memory) = match upgrade {
                    None => (Pages::default(), None),
                    Some(upgrade) => {
                        let heap = if upgrade.pre_upgrade {
                            let mut old = runtime.resume(&upgrade.compiled, &id, &upgrade.heap)?;
                            let mut api = pre_upgrade_api;
                            api.stable = upgrade.heap.stable.clone();
                            let entry = EntryPoint::Export("canister_pre_upgrade".into());
                            let (mut api, ran) = old.call(&entry, api, limit, slice).await;
                            used += api.instructions;
                            if let Ran::Trapped(trap) = ran {
                                let mut reject = Reject::from(trap);
                                reject.message = format!("Pre-upgrade failed: {}", reject.message);
                                return Err(reject);
                            }
                            old.save(&upgrade.heap.memory, std::mem::take(&mut api.stable))
                        } else {
                            Heap::clone(&upgrade.heap)
                        };
                        let memory = upgrade.keep_memory.then_some(heap.memory);
                        (heap.stable, memory)
                    }
                };
                let fuel = limit.saturating_sub(used);
                let (mut instance, start) = runtime
                    .fresh(&compiled, &id, kept_memory.as_ref(), fuel, slice)
                    .await?;
                used += start;
                let mut api = init_api;
                api.stable = stable;
                if !runs_entry_point {
                    return Ok((instance, api));
                }
                let entry = EntryPoint::Export(entry_point.into());
                let fuel = limit.saturating_sub(used);
                let (api, ran) = instance.call(&entry, api, fuel, slice).await;
                used += api.instructions;
                match ran {
                    Ran::Trapped(trap) => Err(trap.into()),
                    Ran::Returned => Ok((instance, api)),
                }
            }
            .await;
            Installed {
                result,
                instructions: used,
                module: (module_hash, metadata),
            }
        }))
    }

    /// Whether installing would grow the subnet's memory past its capacity.
    fn install_overflows(
        &self,
        id: &[u8],
        install: &Install,
        instance: &Instance,
        api: &Api,
    ) -> bool {
        let old = self.state.canisters[id].memory_bytes();
        let new = instance.memory_bytes() + api.stable.len() as u64 + install.arg.len() as u64;
        new > old && (self.memory_used + new).saturating_sub(old) > self.limits.subnet_memory_bytes
    }

    /// Applies an ended install — the new module and the heap its code
    /// left, or nothing if it failed — answers its caller and settles its
    /// cycles.
    fn end_install(&mut self, id: &[u8], install: Install, installed: Installed) {
        let answer = match installed.result {
            Err(reject) => Err(reject),
            Ok((instance, api)) if self.install_overflows(id, &install, &instance, &api) => {
                drop(instance);
                Err(Reject::new(
                    reject_code::CANISTER_ERROR,
                    "IC0507",
                    format!(
                        "Canister cannot be installed: the subnet's memory capacity of {} bytes \
                         is exhausted",
                        self.limits.subnet_memory_bytes
                    ),
                ))
            }
            Ok((mut instance, mut api)) => {
                let args: types::InstallCodeArgs =
                    decode(METHOD, &install.arg).expect("decoded when it started");
                let old = self.state.canisters[id]
                    .code
                    .as_ref()
                    .map(|c| Arc::clone(&c.heap));
                let previous = old.as_ref().map(|heap| &heap.memory);
                let heap = instance.save(
                    previous.unwrap_or(&Default::default()),
                    std::mem::take(&mut api.stable),
                );
                let heap = Arc::new(heap);
                self.drop_instance(id);
                let origin = super::management::status::origin(self, &install.caller);
                let time_ns = self.state.time_ns;
                let (module_hash, metadata) = installed.module;
                let target = self.canister(id);
                target.code = Some(Code {
                    module_hash,
                    metadata,
                    module: Arc::new(serde_bytes::ByteBuf::from(args.wasm_module)),
                    heap_digest: heap.digest(),
                    heap,
                });
                target.certified_data = api.certified_data;
                target.cycles = (target.cycles + api.balance).saturating_sub(install.balance);
                target.global_timer = api.global_timer;
                target.version += 1;
                let mode = match args.mode {
                    types::CanisterInstallMode::Install => types::CodeDeploymentMode::Install,
                    types::CanisterInstallMode::Reinstall => types::CodeDeploymentMode::Reinstall,
                    types::CanisterInstallMode::Upgrade(_) => types::CodeDeploymentMode::Upgrade,
                };
                let details = types::ChangeDetails::CodeDeployment(types::CodeDeploymentRecord {
                    mode,
                    module_hash: module_hash.to_vec(),
                });
                target
                    .history
                    .record(time_ns, target.version, origin, details);
                target.call_contexts.clear();
                target.callbacks.clear();
                Ok(encode(()))
            }
        };
        self.settle(id, install.prepaid, installed.instructions);
        self.respond(install.origin, answer, install.cycles);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execution::wasm::Runtime;
    use std::io::Write;

    /// `wasm` with a custom section `name` holding `data` appended.
    fn with_custom_section(mut wasm: Vec<u8>, name: &str, data: &[u8]) -> Vec<u8> {
        let leb = |n: usize| crate::ic::request_id::leb128(n as u128);
        let body = [&leb(name.len())[..], name.as_bytes(), data].concat();
        wasm.push(0);
        wasm.extend(leb(body.len()));
        wasm.extend(body);
        wasm
    }

    fn gzipped(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// One unzipping tells an install all it reads of a module — how long
    /// it waits to compile, whether it keeps its memory, its metadata, its
    /// mutable globals — and the execution thread keeps the answer for the
    /// install's next stages instead of unzipping the module again.
    #[test]
    fn a_module_is_unzipped_once_for_everything_an_install_reads_of_it() {
        let wasm = wat::parse_str(
            "(module (memory 1) (global (mut i64) (i64.const 0)) (global i32 (i32.const 1)) \
             (global (mut f32) (f32.const 0)))",
        )
        .unwrap();
        let wasm = with_custom_section(wasm, "icp:public candid:service", b"service : {}");
        let wasm = with_custom_section(wasm, "icp:private enhanced-orthogonal-persistence", b"");
        // Five MiB of padding: one height of waiting (one per 4 MiB).
        let module = gzipped(&with_custom_section(wasm, "padding", &vec![0; 5 << 20]));
        assert!(module.len() < 64 << 10, "the padding zips away");

        let facts = ModuleFacts::read(&module);
        assert_eq!(facts.compile_wait, 1);
        assert!(facts.kept_memory);
        let metadata = facts.metadata.as_ref().unwrap();
        assert_eq!(
            metadata.keys().collect::<Vec<_>>(),
            ["candid:service", "enhanced-orthogonal-persistence"]
        );
        assert!(metadata["candid:service"].public);
        assert_eq!(
            metadata["candid:service"].content.as_slice(),
            b"service : {}"
        );
        assert_eq!(
            facts.mutable_globals.as_ref().unwrap(),
            &[GlobalKind::I64, GlobalKind::F32]
        );

        let broken = ModuleFacts::read(&[0x1f, 0x8b, 0x08, 0, 1]);
        assert_eq!(broken.compile_wait, 0);
        assert_eq!(broken.metadata.unwrap_err().error_code, "IC0505");
        assert_eq!(broken.mutable_globals.unwrap_err().error_code, "IC0505");

        let executor = Executor::new(Arc::new(Runtime::new()), ReplicatedState::default());
        let first = executor.module_facts(&module);
        assert!(Arc::ptr_eq(&first, &executor.module_facts(&module)));
    }
}
