//! Hostile callers and canisters: each test is an attack that stalled or
//! exhausted the subnet before its defence existed.

use super::*;
use crate::execution::system_canisters::{CYCLES_LEDGER, ICP_LEDGER};
use crate::ic::request_id::leb128;

/// A Candid message of two arguments: a `record { canister_id : principal }`
/// holding `id`, then an extra `vec null` of length 2⁴⁰ — zero bytes per
/// element on the wire, which the receiver must skip.
fn candid_bomb(id: &[u8]) -> Vec<u8> {
    let mut bytes = b"DIDL".to_vec();
    bytes.push(2); // two types
    bytes.extend([0x6c, 1]); // type 0: record with one field
    bytes.extend(leb128(u128::from(candid::idl_hash("canister_id"))));
    bytes.push(0x68); // : principal
    bytes.extend([0x6d, 0x7f]); // type 1: vec null
    bytes.extend([2, 0, 1]); // two arguments, of types 0 and 1
    bytes.extend([1, id.len() as u8]);
    bytes.extend(id);
    bytes.extend(leb128(1 << 40));
    bytes
}

#[test]
fn a_candid_bomb_is_refused_by_every_host_canister() {
    let mut replica = Replica::new();
    let id = replica.create();
    let bomb = candid_bomb(&id);
    assert!(bomb.len() <= 48, "the bomb is {} bytes", bomb.len());
    // Without quotas each of these would skip 2⁴⁰ elements: hours of work
    // outside any instruction meter, on every node.
    let statuses = replica.block(&[
        (&[], "canister_status", bomb.clone()),
        (&[], "provisional_create_canister_with_cycles", bomb.clone()),
        (&[], "ecdsa_public_key", bomb.clone()),
        (
            &super::super::governance_canister::id(),
            "get_proposal",
            bomb.clone(),
        ),
        (&CYCLES_LEDGER, "create_canister", bomb.clone()),
        (&CYCLES_LEDGER, "withdraw", bomb.clone()),
        (&ICP_LEDGER, "icrc1_transfer", bomb.clone()),
    ]);
    for status in &statuses {
        let (code, message, error_code) = rejected(status);
        assert_eq!((code, error_code.as_str()), (5, "IC0504"), "{message}");
    }
    let governance = crate::registry::governance::Governance::default();
    assert!(super::super::governance_canister::query(&governance, "get_proposal", &bomb).is_err());
    // The same record without the extra argument still works.
    let status = replica.reply(
        &[],
        "canister_status",
        Encode!(&types::CanisterIdRecord {
            canister_id: CandidPrincipal::from_slice(&id)
        })
        .unwrap(),
    );
    assert!(Decode!(&status, types::CanisterStatusResult).is_ok());
}

#[test]
fn quotas_admit_the_largest_honest_arguments() {
    // A module as large as an ingress message allows decodes within quota.
    let args = types::InstallCodeArgs {
        mode: types::CanisterInstallMode::Install,
        canister_id: CandidPrincipal::from_slice(&[1; 10]),
        wasm_module: vec![0x5a; 2 << 20],
        arg: vec![0xa5; 1 << 20],
        sender_canister_version: Some(3),
    };
    let bytes = Encode!(&args).unwrap();
    let decoded: types::InstallCodeArgs = super::super::management::decode_bounded(&bytes).unwrap();
    assert_eq!(decoded.wasm_module.len(), 2 << 20);
    assert_eq!(decoded.arg.len(), 1 << 20);
}

/// A canister whose heartbeat never ends; it answers `ping`.
const LOOPER: &str = r#"
(module
  (import "ic0" "msg_reply" (func $reply))
  (memory 1)
  (func (export "canister_heartbeat") (loop $forever (br $forever)))
  (func (export "canister_update ping") (call $reply)))
"#;

/// A canister whose updates burn instructions or copy mebibytes.
const HOG: &str = r#"
(module
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (memory 64)
  (global $burned (mut i32) (i32.const 0))
  ;; Counts to 2,000,000 (some 16 million instructions), then replies
  ;; with how many burns completed.
  (func (export "canister_update burn") (local $i i32)
    (loop $count
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $count (i32.lt_u (local.get $i) (i32.const 2000000))))
    (global.set $burned (i32.add (global.get $burned) (i32.const 1)))
    (i32.store (i32.const 0) (global.get $burned))
    (call $append (i32.const 0) (i32.const 4))
    (call $reply))
  ;; Fills the 4 MiB memory as many times as the argument's first byte says.
  (func (export "canister_update fill") (local $n i32)
    (call $arg_copy (i32.const 0) (i32.const 0) (i32.const 1))
    (local.set $n (i32.load8_u (i32.const 0)))
    (block $done
      (loop $more
        (br_if $done (i32.eqz (local.get $n)))
        (memory.fill (i32.const 0) (i32.const 7) (i32.const 4194304))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $more)))
    (call $reply))
  ;; Appends the argument's first byte times 1 MiB to the reply.
  (func (export "canister_update append_mib") (local $n i32)
    (call $arg_copy (i32.const 0) (i32.const 0) (i32.const 1))
    (local.set $n (i32.load8_u (i32.const 0)))
    (block $done
      (loop $more
        (br_if $done (i32.eqz (local.get $n)))
        (call $append (i32.const 0) (i32.const 1048576))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $more)))
    (call $reply)))
"#;

/// Limits small enough for a test to reach them in milliseconds.
fn small_limits() -> ExecutionConfig {
    ExecutionConfig {
        update_instructions: 40_000_000,
        query_instructions: 5_000_000,
        install_instructions: 100_000_000,
        inspect_message_instructions: 1_000_000,
        subnet_memory_bytes: 64 << 20,
        round_instructions: 2_000_000,
        slice_instructions: 1_000_000,
    }
}

fn install_wat(replica: &mut Replica, module: &str) -> Vec<u8> {
    let id = replica.create();
    let wasm = wat::parse_str(module).unwrap();
    let status = replica.install(&id, types::CanisterInstallMode::Install, wasm);
    assert!(matches!(status, RequestStatus::Replied(_)), "{status:?}");
    id
}

#[test]
fn a_heartbeat_that_never_ends_delays_nobody() {
    let limits = small_limits();
    let mut replica = Replica::with_limits(limits.clone());
    let victim = replica.create();
    replica.install(&victim, types::CanisterInstallMode::Install, wasm());
    let hog = install_wat(&mut replica, LOOPER);
    let mut paused_rounds = 0;
    let mut most_slices = 0;
    // 60 rounds of two slices each: the heartbeat reaches its 40-slice
    // limit, traps and starts again, twice; meanwhile every call to the
    // victim is answered in the block that carries it.
    for expected in 1..=60 {
        let status = replica.block(&[(&victim, "inc", vec![])]).remove(0);
        match status {
            RequestStatus::Replied(reply) => assert_eq!(count(&reply), expected),
            other => panic!("round {expected}: {other:?}"),
        }
        let executor = &replica.executor;
        assert!(
            executor.used <= limits.round_instructions + limits.slice_instructions,
            "a round used {} instructions",
            executor.used
        );
        if let Some(paused) = executor.state.paused.get(&hog) {
            paused_rounds += 1;
            most_slices = most_slices.max(paused.slices);
        }
    }
    assert!(paused_rounds >= 50, "paused in {paused_rounds} rounds");
    let limit = limits.update_instructions / limits.slice_instructions;
    assert!(
        most_slices < limit,
        "{most_slices} slices of a {limit}-slice limit"
    );
}

#[test]
fn a_long_message_runs_in_slices_identically_across_restarts() {
    let limits = small_limits();
    let mut a = Replica::with_limits(limits.clone());
    let mut b = Replica::with_limits(limits.clone());
    let mut install = |module| {
        let id = install_wat(&mut a, module);
        assert_eq!(install_wat(&mut b, module), id);
        id
    };
    let looper = install(LOOPER);
    let hog = install(HOG);
    // The two canisters take turns, a slice each per round: the burn
    // (some 16 slices) and the endless heartbeat (40 slices, a trap, and
    // again). b restarts from a checkpoint after every round, so in the
    // middle of both.
    let burn: Vec<(&[u8], &str, Vec<u8>)> = vec![(&hog, "burn", vec![])];
    a.block(&burn);
    b.block(&burn);
    let request = a.last_request_id();
    let mut answered_in = None;
    let mut restarted_mid_burn = false;
    let mut restarted_mid_heartbeat = false;
    for round in 1..60 {
        a.block(&[]);
        b.block(&[]);
        // b restarts from a checkpoint after every round.
        b.restart(&limits);
        restarted_mid_burn |= b.executor.state.paused.contains_key(&hog);
        restarted_mid_heartbeat |= b.executor.state.paused.contains_key(&looper);
        assert_eq!(
            a.executor.state.digest(),
            b.executor.state.digest(),
            "round {round}"
        );
        let status = &a
            .executor
            .state
            .request_status
            .get(&request)
            .unwrap()
            .status;
        if let (None, RequestStatus::Replied(reply)) = (answered_in, status) {
            assert_eq!(reply.as_slice(), 1u32.to_le_bytes(), "one burn completed");
            answered_in = Some(round);
        }
    }
    assert!(restarted_mid_burn && restarted_mid_heartbeat);
    let round = answered_in.expect("the burn was answered");
    assert!((10..25).contains(&round), "answered in round {round}");
}

#[test]
fn copying_bytes_costs_instructions_and_replies_are_capped() {
    let mut replica = Replica::with_limits(small_limits());
    let hog = install_wat(&mut replica, HOG);
    // 3 MiB is over the 2 MiB limit of a replicated reply.
    let (_, message, error_code) = rejected(&replica.block(&[(&hog, "append_mib", vec![3])])[0]);
    assert_eq!(error_code, "IC0504", "{message}");
    assert!(message.contains("limit"), "{message}");
    // 1 MiB copied costs a million instructions: with a limit of 1.5
    // million, two cannot be copied.
    let mut tight = small_limits();
    tight.update_instructions = 1_500_000;
    let mut replica = Replica::with_limits(tight);
    let hog = install_wat(&mut replica, HOG);
    let status = replica.block(&[(&hog, "append_mib", vec![1])]).remove(0);
    assert!(matches!(status, RequestStatus::Replied(ref r) if r.len() == 1 << 20));
    let (_, message, error_code) = rejected(&replica.block(&[(&hog, "append_mib", vec![2])])[0]);
    assert_eq!(error_code, "IC0522", "{message}");
}

/// A module that takes long to compile holds up nobody else: its install
/// waits heights in proportion to its code while the module compiles off
/// the execution thread (its canister busy meanwhile, and installs queue
/// for the compiler one after another), and another canister's calls are
/// answered in every block. A replica restarted from a checkpoint after
/// every block agrees. Before, the module compiled on the execution thread
/// within the block: a module at the limits held every canister up for
/// seconds, on every node.
#[test]
fn installs_wait_for_their_module_to_compile_without_holding_anyone_up() {
    let limits = small_limits();
    let mut a = Replica::with_limits(limits.clone());
    let mut b = Replica::with_limits(limits.clone());
    let counter = a.create();
    assert_eq!(b.create(), counter);
    for replica in [&mut a, &mut b] {
        replica.install(&counter, types::CanisterInstallMode::Install, wasm());
    }
    // Four heights' worth of code each (a no-op is a byte).
    let nops = 4 * install::CODE_BYTES_PER_HEIGHT as usize;
    let large = wat::parse_str(format!(
        "(module (memory 1) (func {}))",
        "nop ".repeat(nops)
    ))
    .unwrap();
    let first = a.create();
    let second = a.create();
    assert_eq!((b.create(), b.create()), (first.clone(), second.clone()));
    let install =
        |id: &[u8]| install_code_arg(types::CanisterInstallMode::Install, id, large.clone());
    let mut answered = [None, None];
    let mut requests = [[0; 32]; 2];
    for (index, id) in [&first, &second].into_iter().enumerate() {
        let calls: Vec<(&[u8], &str, Vec<u8>)> = vec![(&[], "install_code", install(id))];
        for replica in [&mut a, &mut b] {
            assert_eq!(replica.block(&calls)[0], RequestStatus::Processing);
        }
        requests[index] = a.last_request_id();
    }
    let started = a.height;
    for round in 1..=12 {
        let statuses: Vec<_> = [&mut a, &mut b]
            .into_iter()
            .map(|replica| replica.block(&[(&counter, "inc", vec![])]).remove(0))
            .collect();
        assert!(
            matches!(statuses[0], RequestStatus::Replied(_)),
            "round {round}"
        );
        assert_eq!(statuses[0], statuses[1]);
        b.restart(&limits);
        assert_eq!(a.executor.state.digest(), b.executor.state.digest());
        for (index, request) in requests.iter().enumerate() {
            let status = &a.executor.state.request_status.get(request).unwrap().status;
            if answered[index].is_none() && *status != RequestStatus::Processing {
                assert_eq!(*status, RequestStatus::Replied(Encode!(&()).unwrap()));
                answered[index] = Some(a.height - started);
            }
        }
    }
    // The first install waited its four heights after the block that
    // started it; the second queued behind it for four more.
    assert_eq!(answered, [Some(3), Some(7)]);
}

/// A module of little code but much data waits too: validating and
/// loading its 8 MiB (a gzipped install of 100 KB unzips to 100 MiB)
/// runs off the execution thread, two heights' worth.
#[test]
fn an_install_of_a_large_module_with_little_code_waits_too() {
    use wasm_encoder::{ConstExpr, DataSection, MemorySection, MemoryType, Module};
    let mut module = Module::new();
    let mut memory = MemorySection::new();
    memory.memory(MemoryType {
        minimum: 160,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    module.section(&memory);
    let mut data = DataSection::new();
    let bytes = 2 * install::MODULE_BYTES_PER_HEIGHT as usize;
    data.active(0, &ConstExpr::i32_const(0), vec![7u8; bytes]);
    module.section(&data);
    let mut replica = Replica::with_limits(small_limits());
    let id = replica.create();
    let arg = install_code_arg(types::CanisterInstallMode::Install, &id, module.finish());
    let status = replica.block(&[(&[], "install_code", arg)]).remove(0);
    assert_eq!(status, RequestStatus::Processing);
    let request = replica.last_request_id();
    let started = replica.height;
    while replica
        .executor
        .state
        .request_status
        .get(&request)
        .unwrap()
        .status
        == RequestStatus::Processing
    {
        replica.block(&[]);
        assert!(replica.height < started + 10, "never answered");
    }
    assert_eq!(replica.height - started, 2);
    let answered = &replica
        .executor
        .state
        .request_status
        .get(&request)
        .unwrap()
        .status;
    assert_eq!(*answered, RequestStatus::Replied(Encode!(&()).unwrap()));
}

/// A reject message is bounded like a reply and must be UTF-8, as on the
/// IC: before, one could hold the canister's whole memory (lossily
/// decoded, up to three times that), kept in the request's status.
#[test]
fn reject_messages_are_capped_like_replies_and_must_be_utf8() {
    const REJECTER: &str = r#"
(module
  (import "ic0" "msg_reject" (func $reject (param i32 i32)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (memory 64)
  (data (i32.const 0) "\ff")
  ;; Rejects with the argument's first byte times 1 MiB of memory from
  ;; offset 1 (zeros: UTF-8).
  (func (export "canister_update reject_mib")
    (call $arg_copy (i32.const 0) (i32.const 0) (i32.const 1))
    (call $reject (i32.const 1)
      (i32.mul (i32.load8_u (i32.const 0)) (i32.const 1048576))))
  (func (export "canister_update reject_invalid")
    (i32.store8 (i32.const 0) (i32.const 255))
    (call $reject (i32.const 0) (i32.const 1))))
"#;
    let mut replica = Replica::with_limits(small_limits());
    let rejecter = install_wat(&mut replica, REJECTER);
    let (code, message, _) = rejected(&replica.block(&[(&rejecter, "reject_mib", vec![1])])[0]);
    assert_eq!(code, u64::from(reject_code::CANISTER_REJECT));
    assert_eq!(message.len(), 1 << 20);
    for (method, arg) in [("reject_mib", vec![3]), ("reject_invalid", vec![])] {
        let (_, message, error_code) = rejected(&replica.block(&[(&rejecter, method, arg)])[0]);
        assert_eq!(error_code, "IC0504", "{method}: {message}");
        assert!(message.len() < 1_000, "{method}: the trap names why");
    }
}

/// wasmtime charges bulk memory instructions a unit of fuel per byte
/// (`memory.fill`, `memory.copy`, `memory.init`): this pins that down, as
/// a loop of 4 GiB fills would otherwise cost a few instructions each.
#[test]
fn bulk_memory_instructions_pay_by_the_byte() {
    let mut replica = Replica::with_limits(small_limits());
    let hog = install_wat(&mut replica, HOG);
    // Five fills of 4 MiB are 21 million bytes: within 40 million
    // instructions. Twenty are 84 million: over, however few instructions
    // the loop itself runs.
    let status = replica.call_until_answered(&hog, "fill", vec![5]);
    assert!(matches!(status, RequestStatus::Replied(_)), "{status:?}");
    let (_, message, error_code) = rejected(&replica.call_until_answered(&hog, "fill", vec![20]));
    assert_eq!(error_code, "IC0522", "{message}");
}

fn balance(replica: &Replica, id: &[u8]) -> u128 {
    replica.executor.state.canisters[id].cycles
}

/// Sets a canister's balance (test set-up: there is no call that takes
/// cycles away from a canister).
fn set_balance(replica: &mut Replica, id: &[u8], cycles: u128) {
    Arc::make_mut(replica.executor.state.canisters.get_mut(id).unwrap()).cycles = cycles;
}

#[test]
fn an_endless_heartbeat_pays_until_it_freezes_and_runs_again_once_topped_up() {
    let limits = small_limits();
    let mut replica = Replica::with_limits(limits.clone());
    let fees = cycles::Fees::default();
    // Each heartbeat prepays its 40-million-instruction limit and uses it all.
    let heartbeat = fees.execution(limits.update_instructions);
    let looper = install_wat(&mut replica, LOOPER);
    set_balance(&mut replica, &looper, 10 * heartbeat);
    let threshold = fees.freezing_threshold(&replica.executor.state.canisters[&looper]);
    assert!(threshold > 0, "a canister with memory keeps a reserve");
    let start = balance(&replica, &looper);
    let mut last = start;
    for round in 0..400 {
        replica.block(&[]);
        let now = balance(&replica, &looper);
        assert!(now <= last, "round {round}: the balance grew");
        last = now;
    }
    // It paid for several heartbeats and is frozen: it runs nothing and
    // its balance stays above its freezing threshold.
    assert!(start - last >= 8 * heartbeat, "paid only {}", start - last);
    assert!(last >= threshold);
    assert!(last < threshold + heartbeat, "{last} left: not frozen");
    assert!(!replica.executor.state.paused.contains_key(&looper));
    replica.block(&[]);
    assert_eq!(balance(&replica, &looper), last);
    // A call to it is refused: it cannot prepay its execution.
    let status = replica.block(&[(&looper, "ping", vec![])]).remove(0);
    let (code, message, error_code) = rejected(&status);
    assert_eq!((code, error_code.as_str()), (2, "IC0207"), "{message}");
    // Topped up, it runs again.
    let top_up = Encode!(&types::ProvisionalTopUpCanisterArgs {
        canister_id: CandidPrincipal::from_slice(&looper),
        amount: candid::Nat::from(heartbeat),
    })
    .unwrap();
    replica.reply(&[], "provisional_top_up_canister", top_up);
    replica.block(&[]);
    assert!(replica.executor.state.paused.contains_key(&looper));
}

#[test]
fn a_canister_that_cannot_pay_for_its_storage_is_uninstalled() {
    let mut replica = Replica::new();
    replica.block_interval_ns = 24 * 3600 * 1_000_000_000; // a day a block
    let fees = cycles::Fees::default();
    let hog = install_wat(&mut replica, HOG);
    // Installing prepays 300·10⁹ instructions; then the canister is left
    // with 2·10⁹ cycles.
    set_balance(&mut replica, &hog, 2_000_000_000);
    let canister = &replica.executor.state.canisters[&hog];
    let per_day = fees.idle_per_day(canister);
    // 4 MiB of heap: some 43 million cycles a day; 30 days are kept back.
    assert!((40_000_000..50_000_000).contains(&per_day), "{per_day}");
    assert_eq!(
        fees.freezing_threshold(canister),
        fees.storage(canister.memory_bytes(), 30 * 24 * 3600 * 1_000_000_000)
    );
    let mut uninstalled_at = None;
    for day in 0..100 {
        replica.block(&[]);
        let canister = &replica.executor.state.canisters[&hog];
        if canister.code.is_none() {
            uninstalled_at = Some(day);
            assert_eq!(canister.cycles, 0);
            break;
        }
    }
    // 2·10⁹ cycles pay for some 46 days of storage.
    let day = uninstalled_at.expect("uninstalled");
    assert!((30..70).contains(&day), "uninstalled on day {day}");
    let (_, message, error_code) = rejected(&replica.block(&[(&hog, "burn", vec![])])[0]);
    assert_eq!(error_code, "IC0207", "{message}");
}

#[test]
fn the_ingress_filter_refuses_calls_that_cannot_run() {
    let limits = small_limits();
    let mut replica = Replica::with_limits(limits.clone());
    let fees = cycles::Fees::default();
    let check = |replica: &Replica, id: &[u8]| {
        ingress_filter::check(
            &replica.executor.state,
            &fees,
            limits.update_instructions,
            id,
            "inc",
            8,
        )
        .map_err(|reject| reject.error_code)
    };
    let counter = replica.create();
    replica.install(&counter, types::CanisterInstallMode::Install, wasm());
    assert_eq!(check(&replica, &counter), Ok(()));
    // Ids outside the subnet's range never exist; one past the canisters
    // created may exist in a block this node has not executed yet.
    assert_eq!(check(&replica, &[9; 29]), Err("IC0301".into()));
    let next = management::canister_id(replica.executor.state.canisters_created);
    assert_eq!(check(&replica, &next), Ok(()));
    assert_eq!(check(&replica, &[]), Ok(()), "the management canister");
    let record = Encode!(&types::CanisterIdRecord {
        canister_id: CandidPrincipal::from_slice(&counter)
    })
    .unwrap();
    replica.reply(&[], "stop_canister", record.clone());
    assert_eq!(check(&replica, &counter), Err("IC0508".into()));
    // A deleted canister does not come back.
    replica.reply(&[], "delete_canister", record);
    assert_eq!(check(&replica, &counter), Err("IC0301".into()));
    // A canister that cannot pay for a call at its instruction limit.
    let poor = replica.create();
    replica.install(&poor, types::CanisterInstallMode::Install, wasm());
    set_balance(
        &mut replica,
        &poor,
        fees.execution(limits.update_instructions),
    );
    assert_eq!(check(&replica, &poor), Err("IC0207".into()));
}

/// A module whose `canister_init` never ends.
const ENDLESS_INIT: &str = r#"
(module
  (memory 1)
  (func (export "canister_init") (loop $forever (br $forever))))
"#;

#[test]
fn an_endless_install_runs_in_slices_and_fails_identically_across_restarts() {
    let limits = small_limits();
    let mut a = Replica::with_limits(limits.clone());
    let mut b = Replica::with_limits(limits.clone());
    let mut victims = Vec::new();
    let mut targets = Vec::new();
    for replica in [&mut a, &mut b] {
        victims.push(install_wat(replica, CANISTER));
        targets.push(replica.create());
    }
    let (victim, target) = (victims.pop().unwrap(), targets.pop().unwrap());
    let install = install_code_arg(
        types::CanisterInstallMode::Install,
        &target,
        wat::parse_str(ENDLESS_INIT).unwrap(),
    );
    let calls: Vec<(&[u8], &str, Vec<u8>)> = vec![(&[], "install_code", install)];
    a.block(&calls);
    b.block(&calls);
    let request = a.last_request_id();
    let mut ended_in = None;
    for round in 1..=100u64 {
        // The victim is answered in every block while the install runs.
        for replica in [&mut a, &mut b] {
            let status = replica.block(&[(&victim, "inc", vec![])]).remove(0);
            assert_eq!(
                status,
                RequestStatus::Replied((round).to_le_bytes().to_vec())
            );
        }
        // b restarts from a checkpoint after every round.
        b.restart(&limits);
        assert_eq!(
            a.executor.state.digest(),
            b.executor.state.digest(),
            "round {round}"
        );
        let status = &a
            .executor
            .state
            .request_status
            .get(&request)
            .unwrap()
            .status;
        if ended_in.is_none() && *status != RequestStatus::Processing {
            let (_, message, error_code) = rejected(status);
            assert_eq!(error_code, "IC0522", "{message}");
            ended_in = Some(round);
        }
    }
    // The install's limit is 100 slices; a round runs at most two of them.
    let round = ended_in.expect("the install ended");
    assert!((40..=100).contains(&round), "ended in round {round}");
    assert!(a.executor.state.canisters[&target].code.is_none());
}

/// A canister whose `canister_inspect_message` accepts methods whose name
/// starts with `o`, and loops forever on `loop`.
const INSPECTOR: &str = r#"
(module
  (import "ic0" "accept_message" (func $accept))
  (import "ic0" "msg_method_name_size" (func $name_size (result i32)))
  (import "ic0" "msg_method_name_copy" (func $name_copy (param i32 i32 i32)))
  (memory 1)
  (func (export "canister_inspect_message")
    (call $name_copy (i32.const 0) (i32.const 0) (call $name_size))
    (if (i32.eq (i32.load8_u (i32.const 0)) (i32.const 108)) ;; l
      (then (loop $forever (br $forever))))
    (if (i32.eq (i32.load8_u (i32.const 0)) (i32.const 111)) ;; o
      (then (call $accept))))
  (func (export "canister_update ok"))
  (func (export "canister_update no"))
  (func (export "canister_update loop")))
"#;

#[test]
fn inspect_message_accepts_refuses_and_is_bounded() {
    let mut replica = Replica::new();
    let id = install_wat(&mut replica, INSPECTOR);
    let canister = Arc::clone(&replica.executor.state.canisters[&id]);
    let inspect = |method: &str| {
        inspect_message(
            &replica.executor.runtime,
            &id,
            &canister,
            method,
            USER,
            Vec::new(),
            0,
            1_000_000,
        )
        .map_err(|reject| reject.error_code)
    };
    assert_eq!(inspect("ok"), Ok(()));
    assert_eq!(inspect("no"), Err("IC0406".into()));
    assert_eq!(inspect("loop"), Err("IC0522".into()));
    // A canister without the export accepts everything.
    let counter = install_wat(&mut replica, CANISTER);
    let canister = &replica.executor.state.canisters[&counter];
    let runtime = &replica.executor.runtime;
    assert!(inspect_message(runtime, &counter, canister, "inc", USER, Vec::new(), 0, 1).is_ok());
}

/// A canister that grows its memory by the pages its argument's first
/// byte names and replies with `memory.grow`'s answer (an i32).
const GROWER: &str = r#"
(module
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (memory 1)
  (func (export "canister_update grow")
    (call $arg_copy (i32.const 0) (i32.const 0) (i32.const 1))
    (i32.store (i32.const 0) (memory.grow (i32.load8_u (i32.const 0))))
    (call $append (i32.const 0) (i32.const 4))
    (call $reply)))
"#;

fn grow(replica: &mut Replica, id: &[u8], pages: u8) -> RequestStatus {
    replica.call_until_answered(id, "grow", vec![pages])
}

fn grown(status: &RequestStatus) -> i32 {
    match status {
        RequestStatus::Replied(reply) => i32::from_le_bytes(reply[..4].try_into().unwrap()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn memory_grows_within_the_canisters_limit_and_the_subnets_capacity() {
    let mut replica = Replica::with_limits(small_limits()); // 64 MiB for the subnet
    let a = install_wat(&mut replica, GROWER);
    let settings = Encode!(&types::UpdateSettingsArgs {
        canister_id: CandidPrincipal::from_slice(&a),
        settings: types::CanisterSettings {
            wasm_memory_limit: Some(candid::Nat::from(8u64 << 20)),
            ..Default::default()
        },
        sender_canister_version: None,
    })
    .unwrap();
    replica.reply(&[], "update_settings", settings);
    // 200 pages (12.5 MiB) are past its 8 MiB limit: memory.grow fails.
    assert_eq!(grown(&grow(&mut replica, &a, 200)), -1);
    assert_eq!(
        grown(&grow(&mut replica, &a, 100)),
        1,
        "the old size in pages"
    );
    // Another canister may grow by three times 16 MiB (255 pages), which
    // with the first one's 6 MiB leaves less than 16 MiB of the subnet's 64.
    let b = install_wat(&mut replica, GROWER);
    let c = install_wat(&mut replica, GROWER);
    for old_pages in [1, 256, 511] {
        assert_eq!(grown(&grow(&mut replica, &b, 255)), old_pages);
    }
    let (_, message, error_code) = rejected(&grow(&mut replica, &c, 255));
    assert_eq!(error_code, "IC0507", "{message}");
    // The failed message changed nothing: c still has its one page.
    assert_eq!(grown(&grow(&mut replica, &c, 0)), 1);
}

#[test]
fn an_install_in_progress_is_answered_when_its_canister_is_uninstalled() {
    let limits = small_limits();
    let mut replica = Replica::with_limits(limits);
    let hog = install_wat(&mut replica, HOG);
    let reinstall = install_code_arg(
        types::CanisterInstallMode::Reinstall,
        &hog,
        wat::parse_str(ENDLESS_INIT).unwrap(),
    );
    let status = replica.block(&[(&[], "install_code", reinstall)]).remove(0);
    assert_eq!(status, RequestStatus::Processing, "the install pauses");
    let request = replica.last_request_id();
    // Its balance can no longer pay for its 4 MiB: a day a block.
    set_balance(&mut replica, &hog, 1);
    replica.block_interval_ns = 24 * 3600 * 1_000_000_000;
    for _ in 0..STORAGE_CHARGE_EVERY {
        replica.block(&[]);
    }
    assert!(replica.executor.state.canisters[&hog].code.is_none());
    let status = &replica
        .executor
        .state
        .request_status
        .get(&request)
        .unwrap()
        .status;
    let (_, message, error_code) = rejected(status);
    assert_eq!(error_code, "IC0537", "{message}");
}

/// Compiling a module is paid for like running it: installing a module
/// with 100,000 more instructions costs at least what running 6·10⁸ more
/// instructions costs (the IC's 6,000 per compiled instruction). Before,
/// any module compiled for the flat install fee.
#[test]
fn installing_pays_for_compiling_the_module() {
    let mut replica = Replica::new();
    let consumed = |replica: &mut Replica, wat: String| {
        let id = replica.create();
        let before = replica.executor.state.canisters[&id].cycles;
        let wasm = wat::parse_str(wat).unwrap();
        let arg = install_code_arg(types::CanisterInstallMode::Install, &id, wasm);
        let installed = replica.call_until_answered(&[], "install_code", arg);
        assert_eq!(installed, RequestStatus::Replied(Encode!(&()).unwrap()));
        before - replica.executor.state.canisters[&id].cycles
    };
    let small = consumed(&mut replica, "(module (memory 1))".into());
    let nops = 100_000;
    let large = consumed(
        &mut replica,
        format!("(module (memory 1) (func {}))", "nop ".repeat(nops)),
    );
    let fees = &replica.executor.fees;
    // The function's no-ops and its `end`.
    let compiling = fees.execution(6_000 * (nops as u64 + 1)) - fees.execution(0);
    let extra = large - small;
    assert!(
        (compiling..2 * compiling).contains(&extra),
        "{extra} more cycles for {compiling} of compiling"
    );
}
