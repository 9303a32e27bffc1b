//! Execution against a small hand-written canister: replies, queries that
//! change nothing, traps that roll back, inter-canister calls, upgrades
//! through stable memory, checkpoints, and identical state on replicas.

use std::sync::Arc;

use candid::{Decode, Encode, Principal as CandidPrincipal};
use ic_management_canister_types as types;

use super::*;

const CANISTER: &str = r#"
(module
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_arg_data_size" (func $arg_size (result i32)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (import "ic0" "msg_reject_code" (func $reject_code (result i32)))
  (import "ic0" "trap" (func $trap (param i32 i32)))
  (import "ic0" "call_new" (func $call_new (param i32 i32 i32 i32 i32 i32 i32 i32)))
  (import "ic0" "call_perform" (func $call_perform (result i32)))
  (import "ic0" "stable64_grow" (func $stable_grow (param i64) (result i64)))
  (import "ic0" "stable64_write" (func $stable_write (param i64 i64 i64)))
  (import "ic0" "stable64_read" (func $stable_read (param i64 i64 i64)))
  (import "ic0" "certified_data_set" (func $certify (param i32 i32)))
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 0) $on_reply $on_reject)
  (global $count (mut i64) (i64.const 0))
  (data (i32.const 200) "boom")
  (data (i32.const 400) "inc")
  (func $reply_count
    (i64.store (i32.const 0) (global.get $count))
    (call $append (i32.const 0) (i32.const 8))
    (call $reply))
  (func (export "canister_update inc")
    (global.set $count (i64.add (global.get $count) (i64.const 1)))
    (call $reply_count))
  (func (export "canister_query get") (call $reply_count))
  (func (export "canister_query inc_in_query")
    (global.set $count (i64.add (global.get $count) (i64.const 100)))
    (call $reply_count))
  (func (export "canister_query peek") ;; the byte a trapped message wrote
    (call $append (i32.const 100) (i32.const 1))
    (call $reply))
  (func (export "canister_update inc_then_trap")
    (global.set $count (i64.add (global.get $count) (i64.const 1)))
    (i32.store8 (i32.const 100) (i32.const 77))
    (call $trap (i32.const 200) (i32.const 4)))
  (func (export "canister_update no_reply"))
  (func (export "canister_update certify")
    (call $certify (i32.const 200) (i32.const 4))
    (call $reply_count))
  (func (export "canister_update call_inc") ;; arg: the callee's id
    (call $arg_copy (i32.const 300) (i32.const 0) (call $arg_size))
    (call $call_new (i32.const 300) (call $arg_size) (i32.const 400) (i32.const 3)
      (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0))
    (drop (call $call_perform)))
  (func $on_reply (param i32)
    (call $arg_copy (i32.const 500) (i32.const 0) (call $arg_size))
    (call $append (i32.const 500) (call $arg_size))
    (call $reply))
  (func $on_reject (param i32)
    (i32.store8 (i32.const 0) (call $reject_code))
    (call $append (i32.const 0) (i32.const 1))
    (call $reply))
  (func (export "canister_pre_upgrade")
    (drop (call $stable_grow (i64.const 1)))
    (i64.store (i32.const 0) (global.get $count))
    (call $stable_write (i64.const 0) (i64.const 0) (i64.const 8)))
  (func (export "canister_post_upgrade")
    (call $stable_read (i64.const 0) (i64.const 0) (i64.const 8))
    (global.set $count (i64.load (i32.const 0)))))
"#;

const USER: &[u8] = &[7; 29];

struct Replica {
    executor: Executor,
    height: u64,
    nonce: u64,
    /// Block time.
    time_ns: u64,
    /// Block time between heights.
    block_interval_ns: u64,
    /// Query counts the next block reports.
    query_stats: Vec<(Vec<u8>, QueryCounts)>,
}

impl Replica {
    fn new() -> Replica {
        Replica::with_limits(ExecutionConfig::default())
    }

    fn with_limits(limits: ExecutionConfig) -> Replica {
        Replica {
            executor: Executor::new(Arc::new(Runtime::new()), ReplicatedState::default())
                .with_limits(limits)
                .with_cycles(&development()),
            height: 0,
            nonce: 0,
            time_ns: 1_700_000_000_000_000_000,
            block_interval_ns: 1_000_000,
            query_stats: Vec::new(),
        }
    }

    /// Executes one block of `calls` (canister, method, arg) from `USER`
    /// and returns their statuses.
    fn block(&mut self, calls: &[(&[u8], &str, Vec<u8>)]) -> Vec<RequestStatus> {
        self.block_as(USER, calls)
    }

    /// [`Replica::block`] with calls from `sender`.
    fn block_as(&mut self, sender: &[u8], calls: &[(&[u8], &str, Vec<u8>)]) -> Vec<RequestStatus> {
        self.height += 1;
        let ids: Vec<[u8; 32]> = calls
            .iter()
            .map(|_| {
                self.nonce += 1;
                Sha256::digest(self.nonce.to_le_bytes()).into()
            })
            .collect();
        let ingress = calls
            .iter()
            .zip(&ids)
            .map(|((canister, method, arg), id)| IngressCall {
                request_id: *id,
                sender: sender.to_vec(),
                canister_id: canister.to_vec(),
                method: method.to_string(),
                arg: arg.clone(),
                expiry_ns: u64::MAX / 2,
            })
            .collect();
        self.time_ns += self.block_interval_ns;
        self.executor.execute_block(super::service::Block {
            height: self.height,
            time_ns: self.time_ns,
            hash: [self.height as u8; 32],
            next_beacon: [0; 32],
            calls: ingress,
            chain_key: Vec::new(),
            query_stats: std::mem::take(&mut self.query_stats),
        });
        ids.iter()
            .map(|id| {
                self.executor
                    .state
                    .request_status
                    .get(id)
                    .unwrap()
                    .status
                    .clone()
            })
            .collect()
    }

    /// Restarts from a checkpoint of the current state, written and read
    /// as a node does (memory images as files), with a new executor (no
    /// live instances, no running messages).
    fn restart(&mut self, limits: &ExecutionConfig) {
        let dir = tempfile::tempdir().unwrap();
        service::write_checkpoint(dir.path(), &self.executor.state).unwrap();
        let state = service::load_checkpoint(dir.path()).unwrap().unwrap();
        self.executor = Executor::new(Arc::new(Runtime::new()), state)
            .with_limits(limits.clone())
            .with_cycles(&development());
    }

    /// The request id of the last call sent.
    fn last_request_id(&self) -> [u8; 32] {
        Sha256::digest(self.nonce.to_le_bytes()).into()
    }

    /// Sends one call and executes blocks until it is answered (at most
    /// 100): its status.
    fn call_until_answered(
        &mut self,
        canister: &[u8],
        method: &str,
        arg: Vec<u8>,
    ) -> RequestStatus {
        let mut status = self.block(&[(canister, method, arg)]).remove(0);
        let id = self.last_request_id();
        for _ in 0..100 {
            if status != RequestStatus::Processing {
                break;
            }
            self.block(&[]);
            status = self
                .executor
                .state
                .request_status
                .get(&id)
                .unwrap()
                .status
                .clone();
        }
        status
    }

    fn reply(&mut self, canister: &[u8], method: &str, arg: Vec<u8>) -> Vec<u8> {
        match self.block(&[(canister, method, arg)]).remove(0) {
            RequestStatus::Replied(reply) => reply,
            other => panic!("{method}: {other:?}"),
        }
    }

    fn create(&mut self) -> Vec<u8> {
        let arg = Encode!(&types::ProvisionalCreateCanisterWithCyclesArgs {
            amount: None,
            settings: None,
            specified_id: None,
            sender_canister_version: None,
        })
        .unwrap();
        let reply = self.reply(&[], "provisional_create_canister_with_cycles", arg);
        Decode!(&reply, types::CanisterIdRecord)
            .unwrap()
            .canister_id
            .as_slice()
            .to_vec()
    }

    fn install(
        &mut self,
        id: &[u8],
        mode: types::CanisterInstallMode,
        wasm: Vec<u8>,
    ) -> RequestStatus {
        self.block(&[(&[], "install_code", install_code_arg(mode, id, wasm))])
            .remove(0)
    }

    fn query(&self, id: &[u8], method: &str) -> Result<Vec<u8>, Reject> {
        self.query_run(id, method).result
    }

    /// A query of `method` of canister `id`, with what it counts.
    fn query_run(&self, id: &[u8], method: &str) -> QueryRun {
        let canister = &self.executor.state.canisters[id];
        query(
            &self.executor.runtime,
            id,
            canister,
            &format!("canister_query {method}"),
            USER,
            Encode!().unwrap(),
            0,
            None,
            5_000_000_000,
        )
    }
}

/// The Candid argument of `install_code` for `wasm` in `canister`.
fn install_code_arg(mode: types::CanisterInstallMode, canister: &[u8], wasm: Vec<u8>) -> Vec<u8> {
    Encode!(&types::InstallCodeArgs {
        mode,
        canister_id: CandidPrincipal::from_slice(canister),
        wasm_module: wasm,
        arg: Vec::new(),
        sender_canister_version: None,
    })
    .unwrap()
}

/// A development subnet's cycles: anyone mints.
fn development() -> CyclesConfig {
    CyclesConfig {
        provisional: true,
        ..CyclesConfig::default()
    }
}

fn count(reply: &[u8]) -> u64 {
    u64::from_le_bytes(reply.try_into().unwrap())
}

fn wasm() -> Vec<u8> {
    wat::parse_str(CANISTER).unwrap()
}

fn rejected(status: &RequestStatus) -> (u64, String, String) {
    match status {
        RequestStatus::Rejected {
            code,
            message,
            error_code,
        } => (*code, message.clone(), error_code.clone()),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn updates_persist_and_queries_change_nothing() {
    let mut replica = Replica::new();
    let id = replica.create();
    assert_eq!(id, super::management::canister_id(0));
    assert_eq!(
        replica.install(&id, types::CanisterInstallMode::Install, wasm()),
        RequestStatus::Replied(Encode!(&()).unwrap())
    );
    let statuses = replica.block(&[
        (&id, "inc", vec![]),
        (&id, "inc", vec![]),
        (&id, "inc", vec![]),
    ]);
    assert_eq!(
        count(&match &statuses[2] {
            RequestStatus::Replied(reply) => reply.clone(),
            other => panic!("{other:?}"),
        }),
        3
    );
    assert_eq!(count(&replica.query(&id, "inc_in_query").unwrap()), 103);
    assert_eq!(count(&replica.query(&id, "get").unwrap()), 3);
    // A query method called as an update is answered, its changes discarded.
    assert_eq!(count(&replica.reply(&id, "inc_in_query", vec![])), 103);
    assert_eq!(count(&replica.reply(&id, "inc", vec![])), 4);
}

#[test]
fn a_trap_rolls_back_the_message_and_rejects_it() {
    let mut replica = Replica::new();
    let id = replica.create();
    replica.install(&id, types::CanisterInstallMode::Install, wasm());
    replica.reply(&id, "inc", vec![]);
    let statuses = replica.block(&[
        (&id, "inc_then_trap", vec![]),
        (&id, "inc", vec![]),
        (&id, "no_reply", vec![]),
        (&id, "missing", vec![]),
        (&[9; 10], "inc", vec![]),
    ]);
    let (code, message, error) = rejected(&statuses[0]);
    assert_eq!((code, error.as_str()), (5, "IC0503"));
    assert!(message.contains("boom"), "{message}");
    // Neither the global nor the memory write survived the trap.
    assert_eq!(
        statuses[1],
        RequestStatus::Replied(2u64.to_le_bytes().to_vec())
    );
    assert_eq!(replica.query(&id, "peek").unwrap(), vec![0]);
    assert_eq!(rejected(&statuses[2]).2, "IC0506");
    assert_eq!(rejected(&statuses[3]).2, "IC0536");
    assert_eq!(rejected(&statuses[4]).0, 3);
}

#[test]
fn canisters_call_each_other() {
    let mut replica = Replica::new();
    let caller = replica.create();
    let callee = replica.create();
    for id in [&caller, &callee] {
        replica.install(id, types::CanisterInstallMode::Install, wasm());
    }
    replica.reply(&callee, "inc", vec![]);
    // The callee's reply comes back through the caller's reply callback.
    assert_eq!(
        count(&replica.reply(&caller, "call_inc", callee.clone())),
        2
    );
    assert_eq!(count(&replica.query(&callee, "get").unwrap()), 2);
    assert_eq!(count(&replica.query(&caller, "get").unwrap()), 0);
    // A call to nowhere comes back through the reject callback, code 3.
    assert_eq!(replica.reply(&caller, "call_inc", vec![9; 10]), vec![3]);
    assert!(replica.executor.state.canisters[&caller]
        .call_contexts
        .is_empty());
    assert!(replica.executor.state.canisters[&caller]
        .callbacks
        .is_empty());
}

#[test]
fn upgrades_keep_stable_memory_and_only_controllers_manage() {
    let mut replica = Replica::new();
    let id = replica.create();
    replica.install(&id, types::CanisterInstallMode::Install, wasm());
    for _ in 0..5 {
        replica.reply(&id, "inc", vec![]);
    }
    replica.reply(&id, "certify", vec![]);
    assert_eq!(
        replica.executor.state.canisters[&id].certified_data,
        b"boom"
    );
    let status = replica.install(&id, types::CanisterInstallMode::Upgrade(None), wasm());
    assert!(matches!(status, RequestStatus::Replied(_)), "{status:?}");
    assert_eq!(count(&replica.query(&id, "get").unwrap()), 5);
    assert_eq!(replica.executor.state.canisters[&id].version, 2);
    let status = replica.install(&id, types::CanisterInstallMode::Reinstall, wasm());
    assert!(matches!(status, RequestStatus::Replied(_)), "{status:?}");
    assert_eq!(count(&replica.query(&id, "get").unwrap()), 0);
    // Install on an installed canister, and a module importing an unknown function.
    assert_eq!(
        rejected(&replica.install(&id, types::CanisterInstallMode::Install, wasm())).2,
        "IC0538"
    );
    let unknown =
        wat::parse_str(r#"(module (import "ic0" "teleport" (func)) (memory 1))"#).unwrap();
    let (_, message, _) =
        rejected(&replica.install(&id, types::CanisterInstallMode::Reinstall, unknown));
    assert!(message.contains("ic0.teleport"), "{message}");
    // Somebody else may not install.
    let arg = Encode!(&types::CanisterIdRecord {
        canister_id: CandidPrincipal::from_slice(&id)
    })
    .unwrap();
    replica.executor.canister(&id).controllers = vec![vec![1]];
    assert_eq!(
        rejected(&replica.block(&[(&[], "stop_canister", arg)])[0]).2,
        "IC0512"
    );
}

#[test]
fn replicas_agree_and_checkpoints_restore() {
    let mut a = Replica::new();
    let mut b = Replica::new();
    for replica in [&mut a, &mut b] {
        let id = replica.create();
        replica.install(&id, types::CanisterInstallMode::Install, wasm());
        replica.block(&[(&id, "inc", vec![]), (&id, "inc_then_trap", vec![])]);
    }
    assert_eq!(a.executor.state.digest(), b.executor.state.digest());
    let id = super::management::canister_id(0);
    a.reply(&id, "inc", vec![]);
    assert_ne!(a.executor.state.digest(), b.executor.state.digest());
    // A checkpoint: the state through CBOR, then a fresh executor on it.
    let bytes = crate::cbor::to_cbor(&a.executor.state);
    let state: ReplicatedState = ciborium::from_reader(bytes.as_slice()).unwrap();
    assert_eq!(state.digest(), a.executor.state.digest());
    let mut c = Replica {
        executor: Executor::new(Arc::new(Runtime::new()), state).with_cycles(&development()),
        height: a.height,
        nonce: a.nonce,
        time_ns: a.time_ns,
        block_interval_ns: a.block_interval_ns,
        query_stats: Vec::new(),
    };
    assert_eq!(count(&c.reply(&id, "inc", vec![])), 3);
    assert_eq!(count(&a.reply(&id, "inc", vec![])), 3);
    assert_eq!(a.executor.state.digest(), c.executor.state.digest());
}

/// A canister with a 32 MiB heap of ones: `poke` adds its argument's
/// first byte to the byte at 20 MiB and replies with it; the query `peek`
/// (and the trapping `poke_then_trap`) too.
const BIG_HEAP: &str = r#"
(module
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (import "ic0" "trap" (func $trap (param i32 i32)))
  (memory 512)
  (func (export "canister_init")
    (memory.fill (i32.const 0) (i32.const 1) (i32.const 0x2000000)))
  (func $poke
    (call $arg_copy (i32.const 0) (i32.const 0) (i32.const 1))
    (i32.store8 (i32.const 0x1400000)
      (i32.add (i32.load8_u (i32.const 0x1400000)) (i32.load8_u (i32.const 0)))))
  (func $reply_byte
    (call $append (i32.const 0x1400000) (i32.const 1))
    (call $reply))
  (func (export "canister_update poke") (call $poke) (call $reply_byte))
  (func (export "canister_update poke_then_trap") (call $poke) (call $trap (i32.const 0) (i32.const 0)))
  (func (export "canister_query peek") (call $reply_byte)))
"#;

#[test]
fn a_large_heap_is_shared_copy_on_write_and_survives_restarts_unchanged() {
    let mut a = Replica::new();
    let mut b = Replica::new();
    let id = a.create();
    assert_eq!(b.create(), id);
    for replica in [&mut a, &mut b] {
        let status = replica.install(
            &id,
            types::CanisterInstallMode::Install,
            wat::parse_str(BIG_HEAP).unwrap(),
        );
        assert!(matches!(status, RequestStatus::Replied(_)), "{status:?}");
    }
    let heap = |replica: &Replica| {
        let code = replica.executor.state.canisters[&id].code.clone().unwrap();
        code.heap.memory.clone()
    };
    // The installed heap is an image with nothing of its own, the same on
    // both; a message that writes two bytes (its argument at 0 and the
    // counter at 20 MiB) adds two pages.
    assert_eq!(heap(&a).own_bytes(), 0);
    assert_eq!(
        heap(&a).image().unwrap().name(),
        heap(&b).image().unwrap().name()
    );
    for replica in [&mut a, &mut b] {
        assert_eq!(replica.reply(&id, "poke", vec![2]), [3]);
        assert_eq!(heap(replica).own_bytes(), 2 * pages::PAGE_BYTES);
        // A trapped message leaves nothing behind, and a query sees the
        // saved heap.
        replica.block(&[(&id, "poke_then_trap", vec![50])]);
        assert_eq!(replica.query(&id, "peek").unwrap(), [3]);
    }
    assert_eq!(a.executor.state.digest(), b.executor.state.digest());
    // b restarts from a checkpoint (the image as a file) between messages.
    for round in 0..3u8 {
        b.restart(&ExecutionConfig::default());
        assert_eq!(b.query(&id, "peek").unwrap(), [3 + round]);
        assert_eq!(a.reply(&id, "poke", vec![1]), [4 + round]);
        assert_eq!(b.reply(&id, "poke", vec![1]), [4 + round]);
        assert_eq!(a.executor.state.digest(), b.executor.state.digest());
    }
    assert_eq!(heap(&b).to_vec(), heap(&a).to_vec());
    // Page 0 holds its image's ones again (the last argument was 1): only
    // the counter's page is the heap's own.
    assert_eq!(heap(&b).own_bytes(), pages::PAGE_BYTES);
}

#[test]
fn a_checkpoint_that_is_damaged_or_misses_its_image_is_refused_with_a_typed_error() {
    let mut replica = Replica::new();
    let id = replica.create();
    let status = replica.install(
        &id,
        types::CanisterInstallMode::Install,
        wat::parse_str(BIG_HEAP).unwrap(),
    );
    assert!(matches!(status, RequestStatus::Replied(_)), "{status:?}");
    let dir = tempfile::tempdir().unwrap();
    assert!(service::load_checkpoint(dir.path()).unwrap().is_none());
    service::write_checkpoint(dir.path(), &replica.executor.state).unwrap();
    let loaded = service::load_checkpoint(dir.path()).unwrap().unwrap();
    assert_eq!(loaded.digest(), replica.executor.state.digest());
    // The heap's image file gone: the checkpoint names what it lacks.
    let images: Vec<_> = std::fs::read_dir(dir.path().join("images"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(images.len(), 1, "one image: the 32 MiB heap");
    std::fs::remove_file(&images[0]).unwrap();
    assert!(matches!(
        service::load_checkpoint(dir.path()),
        Err(service::CheckpointError::Decode { .. })
    ));
    // A damaged file.
    std::fs::write(service::checkpoint_path(dir.path()), b"\xa1\x00").unwrap();
    assert!(matches!(
        service::load_checkpoint(dir.path()),
        Err(service::CheckpointError::Decode { .. })
    ));
}

/// Canisters and callers that try to stall the subnet.
mod cycles_minting;
mod hostile;
mod management_methods;
