//! The management canister's methods for a developer's tools: logs,
//! snapshots, the chunk store, settings and their enforcement, metadata,
//! and the canister id range.

use super::*;
use crate::execution::management::{
    self as host, canister_id, canister_ranges, chunks, MAX_CANISTERS,
};
use crate::execution::system_canisters;

/// A canister that prints, traps, and carries metadata sections.
const LOGGER: &str = r#"
(module
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "debug_print" (func $print (param i32 i32)))
  (import "ic0" "trap" (func $trap (param i32 i32)))
  (memory 1)
  (data (i32.const 0) "hello")
  (data (i32.const 16) "boom")
  (func (export "canister_update say") (call $print (i32.const 0) (i32.const 5)) (call $reply))
  (func (export "canister_update fail") (call $print (i32.const 0) (i32.const 5))
    (call $trap (i32.const 16) (i32.const 4)))
  (func (export "canister_query say_in_query") (call $print (i32.const 0) (i32.const 5))
    (call $reply))
  (@custom "icp:public candid:service" "service : { say : () -> () }")
  (@custom "icp:private secret" "for controllers")
  (@custom "other section" "not metadata"))
"#;

const STRANGER: &[u8] = &[9; 29];

fn record(id: &[u8]) -> Vec<u8> {
    Encode!(&types::CanisterIdRecord {
        canister_id: CandidPrincipal::from_slice(id)
    })
    .unwrap()
}

fn installed(replica: &mut Replica, wat: &str) -> Vec<u8> {
    let id = replica.create();
    let wasm = wat::parse_str(wat).unwrap();
    let status = replica.install(&id, types::CanisterInstallMode::Install, wasm);
    assert_eq!(status, RequestStatus::Replied(Encode!(&()).unwrap()));
    id
}

fn logs(replica: &Replica, caller: &[u8], id: &[u8]) -> Result<Vec<String>, Reject> {
    let arg = Encode!(&types::FetchCanisterLogsArgs {
        canister_id: CandidPrincipal::from_slice(id),
        filter: None,
    })
    .unwrap();
    let state = &replica.executor.state;
    let reply = host::query(state, caller, "fetch_canister_logs", &arg)?;
    let result = Decode!(&reply, types::FetchCanisterLogsResult).unwrap();
    Ok(result
        .canister_log_records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.content).into_owned())
        .collect())
}

fn update_settings(replica: &mut Replica, id: &[u8], settings: types::CanisterSettings) {
    let arg = Encode!(&types::UpdateSettingsArgs {
        canister_id: CandidPrincipal::from_slice(id),
        settings,
        sender_canister_version: None,
    })
    .unwrap();
    replica.reply(&[], "update_settings", arg);
}

#[test]
fn prints_and_traps_are_logged_for_those_the_log_visibility_allows() {
    let mut replica = Replica::new();
    let id = installed(&mut replica, LOGGER);
    replica.block(&[(&id, "say", vec![]), (&id, "fail", vec![])]);
    // A query's print is not replicated, so not logged.
    replica.query(&id, "say_in_query").unwrap();
    let log = logs(&replica, USER, &id).unwrap();
    assert_eq!(log.len(), 3, "{log:?}");
    assert_eq!(log[0], "hello");
    // The trapped message's print stays, then the trap.
    assert_eq!(log[1], "hello");
    assert!(
        log[2].starts_with("[TRAP]") && log[2].contains("boom"),
        "{log:?}"
    );

    assert!(logs(&replica, STRANGER, &id).is_err());
    let public = types::CanisterSettings {
        log_visibility: Some(types::LogVisibility::Public),
        ..Default::default()
    };
    update_settings(&mut replica, &id, public);
    assert_eq!(logs(&replica, STRANGER, &id).unwrap().len(), 3);

    // A smaller log memory limit drops the oldest records at once, and
    // keeps no more than fits (a record takes its bytes and 16 more).
    let small = types::CanisterSettings {
        log_memory_limit: Some(candid::Nat::from(40u8)),
        ..Default::default()
    };
    update_settings(&mut replica, &id, small);
    assert!(logs(&replica, USER, &id).unwrap().is_empty());
    replica.block(&[(&id, "say", vec![]), (&id, "say", vec![])]);
    assert_eq!(logs(&replica, USER, &id).unwrap(), ["hello"]);
}

#[test]
fn a_snapshot_restores_a_stopped_canister_and_snapshots_are_bounded() {
    let mut replica = Replica::new();
    let id = replica.create();
    replica.install(&id, types::CanisterInstallMode::Install, wasm());
    replica.block(&[(&id, "inc", vec![]), (&id, "inc", vec![])]);
    let take = |replace: Option<Vec<u8>>| {
        Encode!(&types::TakeCanisterSnapshotArgs {
            canister_id: CandidPrincipal::from_slice(&id),
            replace_snapshot: replace,
            uninstall_code: None,
            sender_canister_version: None,
        })
        .unwrap()
    };
    let snapshot = replica.reply(&[], "take_canister_snapshot", take(None));
    let snapshot = Decode!(&snapshot, types::Snapshot).unwrap();
    assert_eq!(
        snapshot.id[..id.len()],
        id[..],
        "a snapshot id starts with its canister's"
    );

    // Downloaded: its metadata and its bytes are the canister's when taken.
    let read = |method: &str, arg: Vec<u8>, sender: &[u8], replica: &mut Replica| {
        replica.block_as(sender, &[(&[], method, arg)]).remove(0)
    };
    let metadata_arg = Encode!(&types::ReadCanisterSnapshotMetadataArgs {
        canister_id: CandidPrincipal::from_slice(&id),
        snapshot_id: snapshot.id.clone(),
    })
    .unwrap();
    let RequestStatus::Replied(metadata) = read(
        "read_canister_snapshot_metadata",
        metadata_arg.clone(),
        USER,
        &mut replica,
    ) else {
        panic!("metadata refused");
    };
    let metadata = Decode!(&metadata, host::snapshots::SnapshotMetadata).unwrap();
    assert_eq!(metadata.wasm_module_size, wasm().len() as u64);
    assert_eq!(metadata.wasm_memory_size, 65536, "one page");
    assert!(matches!(
        metadata.globals[..],
        [types::SnapshotMetadataGlobal::I64(2)]
    ));
    let data = |kind| {
        Encode!(&types::ReadCanisterSnapshotDataArgs {
            canister_id: CandidPrincipal::from_slice(&id),
            snapshot_id: snapshot.id.clone(),
            kind,
        })
        .unwrap()
    };
    let module = data(types::SnapshotDataKind::WasmModule {
        offset: 0,
        size: wasm().len() as u64,
    });
    let RequestStatus::Replied(module) =
        read("read_canister_snapshot_data", module, USER, &mut replica)
    else {
        panic!("module refused");
    };
    assert_eq!(
        Decode!(&module, types::ReadCanisterSnapshotDataResult)
            .unwrap()
            .chunk,
        wasm()
    );
    // The canister's last reply wrote the count at address 0.
    let memory = data(types::SnapshotDataKind::WasmMemory { offset: 0, size: 8 });
    let RequestStatus::Replied(memory) =
        read("read_canister_snapshot_data", memory, USER, &mut replica)
    else {
        panic!("memory refused");
    };
    let memory = Decode!(&memory, types::ReadCanisterSnapshotDataResult)
        .unwrap()
        .chunk;
    assert_eq!(memory, 2u64.to_le_bytes());
    let beyond = data(types::SnapshotDataKind::WasmMemory {
        offset: 65530,
        size: 8,
    });
    rejected(&read(
        "read_canister_snapshot_data",
        beyond,
        USER,
        &mut replica,
    ));
    rejected(&read(
        "read_canister_snapshot_metadata",
        metadata_arg,
        STRANGER,
        &mut replica,
    ));

    replica.block(&[(&id, "inc", vec![])]);
    assert_eq!(count(&replica.query(&id, "get").unwrap()), 3);
    let load = Encode!(&types::LoadCanisterSnapshotArgs {
        canister_id: CandidPrincipal::from_slice(&id),
        snapshot_id: snapshot.id.clone(),
        sender_canister_version: None,
    })
    .unwrap();
    // Only a stopped canister loads one.
    let (_, message, _) =
        rejected(&replica.block(&[(&[], "load_canister_snapshot", load.clone())])[0]);
    assert!(message.contains("stopped"), "{message}");
    replica.reply(&[], "stop_canister", record(&id));
    replica.reply(&[], "load_canister_snapshot", load);
    replica.reply(&[], "start_canister", record(&id));
    assert_eq!(count(&replica.query(&id, "get").unwrap()), 2);

    // Ten at most: the eleventh must replace one.
    for _ in 1..host::snapshots::MAX_SNAPSHOTS {
        replica.reply(&[], "take_canister_snapshot", take(None));
    }
    rejected(&replica.block(&[(&[], "take_canister_snapshot", take(None))])[0]);
    replica.reply(
        &[],
        "take_canister_snapshot",
        take(Some(snapshot.id.clone())),
    );
    let list = replica.reply(&[], "list_canister_snapshots", record(&id));
    let list = Decode!(&list, Vec<types::Snapshot>).unwrap();
    assert_eq!(list.len(), host::snapshots::MAX_SNAPSHOTS);
    assert!(
        !list.iter().any(|s| s.id == snapshot.id),
        "the replaced one is gone"
    );
    // Snapshots count as the canister's memory, which it pays for.
    let canister = &replica.executor.state.canisters[&id];
    assert!(canister.memory_bytes() > 10 * canister.code.as_ref().unwrap().module.len() as u64);

    let delete = Encode!(&types::DeleteCanisterSnapshotArgs {
        canister_id: CandidPrincipal::from_slice(&id),
        snapshot_id: list[0].id.clone(),
    })
    .unwrap();
    replica.reply(&[], "delete_canister_snapshot", delete);
    let list = replica.reply(&[], "list_canister_snapshots", record(&id));
    assert_eq!(Decode!(&list, Vec<types::Snapshot>).unwrap().len(), 9);
    // Others may not list them.
    rejected(&replica.block_as(STRANGER, &[(&[], "list_canister_snapshots", record(&id))])[0]);
}

#[test]
fn a_module_installs_from_chunks_checked_against_its_hash() {
    let mut replica = Replica::new();
    let id = replica.create();
    let module = wasm();
    let (first, second) = module.split_at(module.len() / 2);
    let mut hashes = Vec::new();
    for chunk in [first, second] {
        let arg = Encode!(&types::UploadChunkArgs {
            canister_id: CandidPrincipal::from_slice(&id),
            chunk: chunk.to_vec(),
        })
        .unwrap();
        let hash = replica.reply(&[], "upload_chunk", arg);
        hashes.push(Decode!(&hash, types::ChunkHash).unwrap());
    }
    let stored = replica.reply(&[], "stored_chunks", record(&id));
    assert_eq!(Decode!(&stored, Vec<types::ChunkHash>).unwrap().len(), 2);

    let install = |module_hash: Vec<u8>| {
        Encode!(&types::InstallChunkedCodeArgs {
            mode: types::CanisterInstallMode::Install,
            target_canister: CandidPrincipal::from_slice(&id),
            store_canister: None,
            chunk_hashes_list: hashes.clone(),
            wasm_module_hash: module_hash,
            arg: Vec::new(),
            sender_canister_version: None,
        })
        .unwrap()
    };
    let wrong = install(vec![0; 32]);
    rejected(&replica.block(&[(&[], "install_chunked_code", wrong)])[0]);
    let right = install(Sha256::digest(&module).to_vec());
    replica.reply(&[], "install_chunked_code", right);
    replica.block(&[(&id, "inc", vec![])]);
    assert_eq!(count(&replica.query(&id, "get").unwrap()), 1);

    replica.reply(&[], "clear_chunk_store", record(&id));
    let stored = replica.reply(&[], "stored_chunks", record(&id));
    assert!(Decode!(&stored, Vec<types::ChunkHash>).unwrap().is_empty());
    // Only controllers use a canister's chunk store.
    let upload = Encode!(&types::UploadChunkArgs {
        canister_id: CandidPrincipal::from_slice(&id),
        chunk: vec![1],
    })
    .unwrap();
    rejected(&replica.block_as(STRANGER, &[(&[], "upload_chunk", upload)])[0]);
}

#[test]
fn status_visibility_and_the_minimum_for_incoming_calls_are_enforced() {
    let mut replica = Replica::new();
    let caller = replica.create();
    replica.install(&caller, types::CanisterInstallMode::Install, wasm());
    let callee = replica.create();
    replica.install(&callee, types::CanisterInstallMode::Install, wasm());

    rejected(&replica.block_as(STRANGER, &[(&[], "canister_status", record(&callee))])[0]);
    let minimum = types::CanisterSettings {
        status_visibility: Some(types::StatusVisibility::AllowedViewers(vec![
            CandidPrincipal::from_slice(STRANGER),
        ])),
        minimum_incoming_canister_call_cycles: Some(candid::Nat::from(1u8)),
        ..Default::default()
    };
    update_settings(&mut replica, &callee, minimum);
    let status = &replica.block_as(STRANGER, &[(&[], "canister_status", record(&callee))])[0];
    let RequestStatus::Replied(status) = status else {
        panic!("{status:?}");
    };
    let status = Decode!(status, types::CanisterStatusResult).unwrap();
    assert_eq!(
        status.settings.minimum_incoming_canister_call_cycles,
        candid::Nat::from(1u8)
    );

    // A call from another canister without cycles is rejected
    // (CANISTER_ERROR, 5), and the callee runs nothing.
    let reply = replica.call_until_answered(&caller, "call_inc", callee.clone());
    assert_eq!(reply, RequestStatus::Replied(vec![5]));
    assert_eq!(count(&replica.query(&callee, "get").unwrap()), 0);
    // Users' calls are not affected.
    replica.block(&[(&callee, "inc", vec![])]);
    assert_eq!(count(&replica.query(&callee, "get").unwrap()), 1);
}

#[test]
fn settings_out_of_bounds_are_refused_whole() {
    let mut replica = Replica::new();
    let id = replica.create();
    let arg = Encode!(&types::UpdateSettingsArgs {
        canister_id: CandidPrincipal::from_slice(&id),
        settings: types::CanisterSettings {
            freezing_threshold: Some(candid::Nat::from(5u8)),
            compute_allocation: Some(candid::Nat::from(150u8)),
            ..Default::default()
        },
        sender_canister_version: None,
    })
    .unwrap();
    rejected(&replica.block(&[(&[], "update_settings", arg)])[0]);
    let settings = &replica.executor.state.canisters[&id].settings;
    assert_eq!(
        settings.freezing_threshold,
        cycles::DEFAULT_FREEZING_THRESHOLD_SECONDS
    );
}

#[test]
fn metadata_sections_are_kept_by_name_and_visibility() {
    let mut replica = Replica::new();
    let id = installed(&mut replica, LOGGER);
    let code = replica.executor.state.canisters[&id].code.clone().unwrap();
    let names: Vec<&str> = code.metadata.keys().map(String::as_str).collect();
    assert_eq!(names, ["candid:service", "secret"]);
    assert!(code.metadata["candid:service"].public);
    assert!(!code.metadata["secret"].public);
    assert_eq!(
        code.metadata["secret"].content.as_slice(),
        b"for controllers"
    );
    // The state tree carries them, each as its leaf.
    let leaf = crate::ic::hash_tree::leaf(b"for controllers".to_vec()).digest();
    assert_eq!(code.metadata["secret"].digest, leaf);

    // read_state reveals a private section to controllers only.
    use crate::api::read_state::{check_metadata, PathError};
    let path = |name: &str| {
        vec![vec![
            b"canister".to_vec(),
            id.clone(),
            b"metadata".to_vec(),
            name.into(),
        ]]
    };
    let state = &replica.executor.state;
    assert_eq!(check_metadata(&path("secret"), USER, state), Ok(()));
    assert_eq!(
        check_metadata(&path("secret"), STRANGER, state),
        Err(PathError::PrivateMetadata)
    );
    assert_eq!(
        check_metadata(&path("candid:service"), STRANGER, state),
        Ok(())
    );

    // canister_metadata: to canisters only, a private section only to a
    // canister that controls it.
    let reader = replica.create();
    let ask = |name: &str| {
        let arg = Encode!(&types::CanisterMetadataArgs {
            canister_id: CandidPrincipal::from_slice(&id),
            name: name.into(),
        })
        .unwrap();
        (&[][..], "canister_metadata", arg)
    };
    let value = |status: &RequestStatus| match status {
        RequestStatus::Replied(reply) => {
            Decode!(reply, types::CanisterMetadataResult).unwrap().value
        }
        other => panic!("{other:?}"),
    };
    let statuses = replica.block_as(
        &reader,
        &[ask("candid:service"), ask("secret"), ask("none")],
    );
    assert_eq!(value(&statuses[0]), b"service : { say : () -> () }");
    rejected(&statuses[1]);
    rejected(&statuses[2]);
    rejected(&replica.block_as(USER, &[ask("candid:service")])[0]);
    let controllers = types::CanisterSettings {
        controllers: Some(vec![
            CandidPrincipal::from_slice(USER),
            CandidPrincipal::from_slice(&reader),
        ]),
        ..Default::default()
    };
    update_settings(&mut replica, &id, controllers);
    let statuses = replica.block_as(&reader, &[ask("secret")]);
    assert_eq!(value(&statuses[0]), b"for controllers");
}

#[test]
fn canister_ids_come_from_a_local_replicas_range_clear_of_system_canisters() {
    // The first canister id a dfx local replica handed out for years.
    let well_known = crate::ic::principal::Principal::from_text("bkyz2-fmaaa-aaaaa-qaaaq-cai");
    assert_eq!(canister_id(1), well_known.unwrap().as_bytes());
    let (low, high) = (canister_id(0), canister_id(MAX_CANISTERS - 1));
    for system in system_canisters::ids() {
        assert!(system < low || system > high, "{system:?} is in the range");
        assert!(canister_ranges()
            .iter()
            .any(|(l, h)| *l <= system && system <= *h));
    }
    assert_eq!(host::canister_index(&canister_id(5)), Some(5));
    assert_eq!(host::canister_index(&system_canisters::CMC), None);
}

/// A canister that reads its environment variables.
const ENVIRONMENT: &str = r#"
(module
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "env_var_count" (func $count (result i32)))
  (import "ic0" "env_var_value_size" (func $size (param i32 i32) (result i32)))
  (import "ic0" "env_var_value_copy" (func $copy (param i32 i32 i32 i32 i32)))
  (memory 1)
  (data (i32.const 0) "GREETING")
  (func (export "canister_query greeting")
    (call $copy (i32.const 0) (i32.const 8) (i32.const 100) (i32.const 0)
      (call $size (i32.const 0) (i32.const 8)))
    (call $append (i32.const 100) (call $size (i32.const 0) (i32.const 8)))
    (call $reply))
  (func (export "canister_query count")
    (i32.store8 (i32.const 200) (call $count))
    (call $append (i32.const 200) (i32.const 1))
    (call $reply)))
"#;

#[test]
fn a_canister_reads_the_environment_variables_its_settings_give() {
    let mut replica = Replica::new();
    let id = installed(&mut replica, ENVIRONMENT);
    assert_eq!(replica.query(&id, "count").unwrap(), [0]);
    assert!(
        replica.query(&id, "greeting").is_err(),
        "no such variable: a trap"
    );
    let variables = types::CanisterSettings {
        environment_variables: Some(vec![
            types::EnvironmentVariable {
                name: "GREETING".into(),
                value: "hello".into(),
            },
            types::EnvironmentVariable {
                name: "OTHER".into(),
                value: "x".into(),
            },
        ]),
        ..Default::default()
    };
    update_settings(&mut replica, &id, variables);
    assert_eq!(replica.query(&id, "count").unwrap(), [2]);
    assert_eq!(replica.query(&id, "greeting").unwrap(), b"hello");
}

/// The reply of a management method called by the default sender.
fn host_reply<T: candid::CandidType + for<'de> serde::Deserialize<'de>>(
    replica: &mut Replica,
    method: &str,
    arg: Vec<u8>,
) -> T {
    Decode!(&replica.reply(&[], method, arg), T).unwrap()
}

/// A new snapshot of canister `id`.
fn take_snapshot(replica: &mut Replica, id: &[u8]) -> types::Snapshot {
    let arg = Encode!(&types::TakeCanisterSnapshotArgs {
        canister_id: CandidPrincipal::from_slice(id),
        replace_snapshot: None,
        uninstall_code: None,
        sender_canister_version: None,
    })
    .unwrap();
    host_reply(replica, "take_canister_snapshot", arg)
}

#[test]
fn a_snapshot_downloaded_from_one_canister_uploads_into_another_and_runs_there() {
    let mut replica = Replica::new();
    let source = replica.create();
    replica.install(&source, types::CanisterInstallMode::Install, wasm());
    let inc: (&[u8], &str, Vec<u8>) = (&source, "inc", vec![]);
    replica.block(&[inc.clone(), inc.clone(), inc]);
    let piece = b"a piece of a module".to_vec();
    let upload_chunk = Encode!(&types::UploadChunkArgs {
        canister_id: CandidPrincipal::from_slice(&source),
        chunk: piece.clone(),
    })
    .unwrap();
    let stored: types::ChunkHash = host_reply(&mut replica, "upload_chunk", upload_chunk);
    let taken = take_snapshot(&mut replica, &source);
    // Download it, as icp-cli's `snapshot download` does.
    let metadata: host::snapshots::SnapshotMetadata = host_reply(
        &mut replica,
        "read_canister_snapshot_metadata",
        Encode!(&types::ReadCanisterSnapshotMetadataArgs {
            canister_id: CandidPrincipal::from_slice(&source),
            snapshot_id: taken.id.clone(),
        })
        .unwrap(),
    );
    let mut read = |kind| {
        let arg = Encode!(&types::ReadCanisterSnapshotDataArgs {
            canister_id: CandidPrincipal::from_slice(&source),
            snapshot_id: taken.id.clone(),
            kind,
        })
        .unwrap();
        host_reply::<types::ReadCanisterSnapshotDataResult>(
            &mut replica,
            "read_canister_snapshot_data",
            arg,
        )
        .chunk
    };
    let module = read(types::SnapshotDataKind::WasmModule {
        offset: 0,
        size: metadata.wasm_module_size,
    });
    let memory = read(types::SnapshotDataKind::WasmMemory {
        offset: 0,
        size: metadata.wasm_memory_size,
    });
    // The chunk store went with it.
    assert_eq!(metadata.wasm_chunk_store, std::slice::from_ref(&stored));
    let chunk = read(types::SnapshotDataKind::WasmChunk {
        hash: stored.hash.clone(),
    });
    assert_eq!(chunk, piece);

    // Upload it into another canister, which has never had code.
    let target = replica.create();
    let upload_metadata = |globals: Vec<types::SnapshotMetadataGlobal>| {
        Encode!(&types::UploadCanisterSnapshotMetadataArgs {
            canister_id: CandidPrincipal::from_slice(&target),
            replace_snapshot: None,
            wasm_module_size: metadata.wasm_module_size,
            globals,
            wasm_memory_size: metadata.wasm_memory_size,
            stable_memory_size: metadata.stable_memory_size,
            certified_data: metadata.certified_data.clone(),
            global_timer: None,
            on_low_wasm_memory_hook_status: None,
        })
        .unwrap()
    };
    rejected(
        &replica.block_as(
            STRANGER,
            &[(
                &[],
                "upload_canister_snapshot_metadata",
                upload_metadata(metadata.globals.clone()),
            )],
        )[0],
    );
    let uploaded: types::UploadCanisterSnapshotMetadataResult = host_reply(
        &mut replica,
        "upload_canister_snapshot_metadata",
        upload_metadata(metadata.globals.clone()),
    );
    let upload = |canister: &[u8], snapshot: &[u8], kind, chunk: &[u8]| {
        Encode!(&types::UploadCanisterSnapshotDataArgs {
            canister_id: CandidPrincipal::from_slice(canister),
            snapshot_id: snapshot.to_vec(),
            kind,
            chunk: chunk.to_vec(),
        })
        .unwrap()
    };
    let id = uploaded.snapshot_id.clone();
    let module_at = |offset| types::SnapshotDataOffset::WasmModule { offset };
    let half = module.len() / 2;
    for (offset, chunk) in [(0, &module[..half]), (half, &module[half..])] {
        let arg = upload(&target, &id, module_at(offset as u64), chunk);
        replica.reply(&[], "upload_canister_snapshot_data", arg);
    }
    let memory_at = types::SnapshotDataOffset::WasmMemory { offset: 0 };
    let chunk_store = types::SnapshotDataOffset::WasmChunk;
    for (kind, bytes) in [(memory_at, &memory), (chunk_store.clone(), &chunk)] {
        let arg = upload(&target, &id, kind, bytes);
        replica.reply(&[], "upload_canister_snapshot_data", arg);
    }
    // Nothing past the declared sizes, no chunk past the chunk size, and a
    // taken snapshot cannot be written.
    let oversized = vec![0; chunks::MAX_CHUNK_BYTES + 1];
    for refused in [
        upload(&target, &id, module_at(module.len() as u64 - 1), &[0, 0]),
        upload(&target, &id, chunk_store, &oversized),
        upload(&source, &taken.id, module_at(0), &[0]),
    ] {
        rejected(&replica.block(&[(&[], "upload_canister_snapshot_data", refused)])[0]);
    }
    let listed: host::snapshots::SnapshotMetadata = host_reply(
        &mut replica,
        "read_canister_snapshot_metadata",
        Encode!(&types::ReadCanisterSnapshotMetadataArgs {
            canister_id: CandidPrincipal::from_slice(&target),
            snapshot_id: id.clone(),
        })
        .unwrap(),
    );
    assert!(matches!(
        listed.source,
        types::SnapshotSource::MetadataUpload(_)
    ));

    // Loaded, the other canister runs the source's code from its count.
    replica.reply(&[], "stop_canister", record(&target));
    let load = |snapshot: &[u8]| {
        Encode!(&types::LoadCanisterSnapshotArgs {
            canister_id: CandidPrincipal::from_slice(&target),
            snapshot_id: snapshot.to_vec(),
            sender_canister_version: None,
        })
        .unwrap()
    };
    replica.reply(&[], "load_canister_snapshot", load(&id));
    // Its memory is the uploaded one (the last reply left the count at 0).
    assert_eq!(memory[..8], 3u64.to_le_bytes());
    let retaken = take_snapshot(&mut replica, &target);
    let reread: types::ReadCanisterSnapshotDataResult = host_reply(
        &mut replica,
        "read_canister_snapshot_data",
        Encode!(&types::ReadCanisterSnapshotDataArgs {
            canister_id: CandidPrincipal::from_slice(&target),
            snapshot_id: retaken.id,
            kind: types::SnapshotDataKind::WasmMemory {
                offset: 0,
                size: memory.len() as u64,
            },
        })
        .unwrap(),
    );
    assert!(reread.chunk == memory);
    let stored_chunks = Encode!(&types::StoredChunksArgs {
        canister_id: CandidPrincipal::from_slice(&target),
    })
    .unwrap();
    let chunks: Vec<types::ChunkHash> = host_reply(&mut replica, "stored_chunks", stored_chunks);
    assert_eq!(chunks, [stored]);
    replica.reply(&[], "start_canister", record(&target));
    assert_eq!(count(&replica.query(&target, "get").unwrap()), 3);
    replica.block(&[(&target, "inc", vec![])]);
    assert_eq!(count(&replica.query(&target, "get").unwrap()), 4);

    // An upload whose globals are not its module's, or whose module is not
    // wasm, is refused when loaded, and the canister keeps its code.
    replica.reply(&[], "stop_canister", record(&target));
    let no_globals: types::UploadCanisterSnapshotMetadataResult = host_reply(
        &mut replica,
        "upload_canister_snapshot_metadata",
        upload_metadata(vec![]),
    );
    let arg = upload(&target, &no_globals.snapshot_id, module_at(0), &module);
    replica.reply(&[], "upload_canister_snapshot_data", arg);
    let zeroed: types::UploadCanisterSnapshotMetadataResult = host_reply(
        &mut replica,
        "upload_canister_snapshot_metadata",
        upload_metadata(metadata.globals.clone()),
    );
    for snapshot in [&no_globals.snapshot_id, &zeroed.snapshot_id] {
        let status = &replica.block(&[(&[], "load_canister_snapshot", load(snapshot))])[0];
        assert_eq!(rejected(status).2, "IC0505");
    }
    replica.reply(&[], "start_canister", record(&target));
    assert_eq!(count(&replica.query(&target, "get").unwrap()), 4);
}

#[test]
fn chunks_and_snapshots_take_the_subnets_memory_capacity() {
    let module = wasm();
    let limits = ExecutionConfig {
        subnet_memory_bytes: 3 * module.len() as u64 + 2 * 65536 + 4096,
        ..ExecutionConfig::default()
    };
    let mut replica = Replica::with_limits(limits);
    let id = replica.create();
    replica.install(&id, types::CanisterInstallMode::Install, module.clone());
    let upload = |bytes: usize| {
        Encode!(&types::UploadChunkArgs {
            canister_id: CandidPrincipal::from_slice(&id),
            chunk: vec![7; bytes],
        })
        .unwrap()
    };
    // A chunk past what the subnet has left is refused, a small one fits.
    let (_, _, code) = rejected(&replica.block(&[(&[], "upload_chunk", upload(1 << 20))])[0]);
    assert_eq!(code, "IC0507");
    replica.reply(&[], "upload_chunk", upload(1000));
    let take = Encode!(&types::TakeCanisterSnapshotArgs {
        canister_id: CandidPrincipal::from_slice(&id),
        replace_snapshot: None,
        uninstall_code: None,
        sender_canister_version: None,
    })
    .unwrap();
    // Snapshots count whole: the subnet holds one, not several.
    let statuses = replica.block(&[
        (&[], "take_canister_snapshot", take.clone()),
        (&[], "take_canister_snapshot", take.clone()),
        (&[], "take_canister_snapshot", take),
    ]);
    let taken = statuses
        .iter()
        .filter(|status| matches!(status, RequestStatus::Replied(_)))
        .count();
    assert!((1..3).contains(&taken), "{statuses:?}");
    let (_, _, code) = rejected(statuses.last().unwrap());
    assert_eq!(code, "IC0507");
}

/// A canister that grows its memory by the number of pages in its
/// argument's first byte, and counts the runs of its low-memory hook.
const LOW_MEMORY: &str = r#"
(module
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (memory 1)
  (global $hooks (mut i64) (i64.const 0))
  (func (export "canister_update grow")
    (call $arg_copy (i32.const 0) (i32.const 0) (i32.const 1))
    (drop (memory.grow (i32.load8_u (i32.const 0))))
    (call $reply))
  (func (export "canister_on_low_wasm_memory")
    (global.set $hooks (i64.add (global.get $hooks) (i64.const 1))))
  (func (export "canister_query hooks")
    (i64.store (i32.const 8) (global.get $hooks))
    (call $append (i32.const 8) (i32.const 8))
    (call $reply)))
"#;

#[test]
fn the_low_memory_hook_runs_once_each_time_free_memory_falls_below_the_threshold() {
    const PAGE: u64 = 65536;
    let mut replica = Replica::new();
    let id = installed(&mut replica, LOW_MEMORY);
    let limits = |pages: u64| types::CanisterSettings {
        wasm_memory_limit: Some(candid::Nat::from(pages * PAGE)),
        wasm_memory_threshold: Some(candid::Nat::from(3 * PAGE)),
        ..Default::default()
    };
    update_settings(&mut replica, &id, limits(10));
    let hooks = |replica: &Replica| count(&replica.query(&id, "hooks").unwrap());
    let grow = |replica: &mut Replica, pages: u8| {
        replica.block(&[(&id, "grow", vec![pages])]);
        // Two more rounds: the hook is queued and runs.
        replica.block(&[]);
        replica.block(&[]);
    };
    // 1 + 6 pages of 10: 3 pages free, not fewer than the threshold.
    grow(&mut replica, 6);
    assert_eq!(hooks(&replica), 0);
    // 8 pages: 2 free. The hook runs once, however long memory stays low.
    grow(&mut replica, 1);
    assert_eq!(hooks(&replica), 1);
    grow(&mut replica, 0);
    assert_eq!(hooks(&replica), 1);
    // A higher limit ends the condition; growing near it again brings the
    // hook back.
    update_settings(&mut replica, &id, limits(20));
    grow(&mut replica, 0);
    assert_eq!(hooks(&replica), 1);
    grow(&mut replica, 10);
    assert_eq!(hooks(&replica), 2);
}

#[test]
fn subnet_info_tells_canisters_this_subnets_registry_version() {
    let mut replica = Replica::new();
    replica.executor.subnet_id = vec![1; 29];
    // A governance at registry version 1, as genesis makes it.
    replica.executor.state.governance =
        crate::registry::governance::Governance::new(vec![], vec![]);
    let reader = replica.create();
    let ask = |subnet: &[u8]| {
        let arg = Encode!(&types::SubnetInfoArgs {
            subnet_id: CandidPrincipal::from_slice(subnet),
        })
        .unwrap();
        (&[][..], "subnet_info", arg)
    };
    let statuses = replica.block_as(&reader, &[ask(&[1; 29]), ask(&[2; 29])]);
    let RequestStatus::Replied(reply) = &statuses[0] else {
        panic!("{:?}", statuses[0]);
    };
    let info = Decode!(reply, types::SubnetInfoResult).unwrap();
    assert_eq!(info.registry_version, 1);
    assert!(info.replica_version.starts_with("chainkey "), "{info:?}");
    rejected(&statuses[1]);
    // Canisters only.
    rejected(&replica.block_as(USER, &[ask(&[1; 29])])[0]);
}

/// `canister_status` reports the queries the nodes reported running: the
/// sum over every report, whichever node made it; counts for a canister
/// that does not exist change nothing.
#[test]
fn canister_status_sums_the_query_counts_nodes_report() {
    let mut replica = Replica::new();
    let id = replica.create();
    replica.install(&id, types::CanisterInstallMode::Install, wasm());
    let status = |replica: &mut Replica| {
        let RequestStatus::Replied(reply) =
            &replica.block(&[(&[], "canister_status", record(&id))])[0]
        else {
            panic!("canister_status is answered");
        };
        Decode!(reply, types::CanisterStatusResult)
            .unwrap()
            .query_stats
    };
    assert_eq!(status(&mut replica).num_calls_total, 0u8);

    let runs: Vec<QueryRun> = (0..3).map(|_| replica.query_run(&id, "get")).collect();
    let empty_arg = Encode!().unwrap().len() as u64;
    for run in &runs {
        assert_eq!(run.counts.calls, 1);
        assert_eq!(run.counts.request_bytes, empty_arg);
        assert_eq!(
            run.counts.response_bytes,
            run.result.as_ref().unwrap().len() as u64
        );
        assert!(run.counts.instructions > 0, "the query ran code");
    }
    // One node ran two of them, another the third.
    let mut first_node = runs[0].counts;
    first_node.add(&runs[1].counts);
    replica.query_stats = vec![
        (id.clone(), first_node),
        (id.clone(), runs[2].counts),
        (canister_id(99), runs[2].counts),
    ];
    let reported = status(&mut replica);
    let instructions: u64 = runs.iter().map(|run| run.counts.instructions).sum();
    let replies: u64 = runs
        .iter()
        .map(|run| run.result.as_ref().unwrap().len() as u64)
        .sum();
    assert_eq!(reported.num_calls_total, 3u8);
    assert_eq!(reported.num_instructions_total, instructions);
    assert_eq!(reported.request_payload_bytes_total, 3 * empty_arg);
    assert_eq!(reported.response_payload_bytes_total, replies);
    assert!(!replica
        .executor
        .state
        .canisters
        .contains_key(&canister_id(99)));
}
