//! Hostile canisters against a 4-node subnet of real processes, through
//! the official `ic-agent`: while canisters loop in their heartbeats, burn
//! their instruction limits call after call, grow their memory to the
//! limit, build oversized replies, and a client sends a Candid bomb to the
//! management canister, the subnet keeps most of its block rate, a normal
//! Motoko counter answers within 2 s, the nodes' memory stays bounded, the
//! attackers pay until they freeze, every node computes the same state —
//! also a node killed in the middle of a long message and restarted.
//!
//! Limits are the subnet's configuration: this subnet runs the IC's
//! defaults except shorter per-message limits (so that a heartbeat's
//! whole life fits in the test), and a 64 MiB memory capacity, which the
//! growing canister fills. The same attack with a 1 GiB heap is an
//! ignored test (4 nodes hold 1 GiB each): run it with `-- --ignored`;
//! BENCHMARKS.md has its numbers.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use candid::{Encode, Nat, Principal};
use chainkey_node::config::NodeConfig;
use chainkey_node::local_subnet::{prepare, wait_for_height, LocalSubnet};
use common::*;
use ic_agent::identity::BasicIdentity;
use ic_agent::Agent;

/// A heartbeat that never ends.
const LOOPER: &str = r#"
(module
  (import "ic0" "msg_reply" (func $reply))
  (memory 1)
  (func (export "canister_heartbeat") (loop $forever (br $forever)))
  (func (export "canister_update ping") (call $reply)))
"#;

/// Updates that burn their whole instruction limit, grow memory by 16 MiB
/// and fill it, or reply with as many MiB as the argument's first byte
/// says; a query that answers its memory's size in pages.
const HOG: &str = r#"
(module
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (memory 16)
  (func (export "canister_update burn") (loop $forever (br $forever)))
  (func (export "canister_query pages")
    (i32.store (i32.const 0) (memory.size))
    (call $append (i32.const 0) (i32.const 4))
    (call $reply))
  (func (export "canister_update grow") (local $old i32)
    (local.set $old (memory.grow (i32.const 256)))
    (if (i32.lt_s (local.get $old) (i32.const 0)) (then unreachable))
    (memory.fill (i32.shl (local.get $old) (i32.const 16)) (i32.const 0xAB) (i32.const 0x1000000))
    (call $reply))
  (func (export "canister_update reply_mib") (local $n i32)
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

/// Per-message limits of this subnet: 2·10⁸ instructions (20 rounds of
/// the default budget) instead of 4·10¹⁰.
const UPDATE_INSTRUCTIONS: u64 = 200_000_000;

/// Cycles each paying attacker starts with: enough for some ten heartbeats
/// or burns.
const ATTACKER_CYCLES: u128 = 3_000_000_000;

/// The share of its idle block rate the subnet keeps under attack: the
/// issue's target. Runs measured 91% and 93% (64 MiB) and 94% (1 GiB
/// heap) under attack, 95–100% with the queries (see BENCHMARKS.md).
const HELD_SHARE: f64 = 0.8;

/// What a node may hold beyond its idle footprint with a subnet memory
/// capacity of `capacity_mib`: the canisters' memory twice (its image and
/// the pages a live instance or a heap saved at a height holds of its
/// own), and headroom.
fn memory_bound_mib(capacity_mib: u64) -> u64 {
    2 * capacity_mib + 128
}

/// Cycles of canisters that are not to run short.
const PLENTY: u128 = 100_000_000_000_000;

/// Creates a canister with `cycles` and installs the WebAssembly text `wat`.
async fn install_attacker(agent: &Agent, wat: &str, cycles: u128) -> Principal {
    let management = ic_utils::interfaces::ManagementCanister::create(agent);
    let (canister,) = management
        .create_canister()
        .as_provisional_create_with_amount(Some(cycles))
        .with_effective_canister_id(Principal::management_canister())
        .call_and_wait()
        .await
        .expect("create a canister");
    management
        .install_code(&canister, &wat::parse_str(wat).unwrap())
        .call_and_wait()
        .await
        .expect("install the canister");
    canister
}

async fn balance(agent: &Agent, canister: Principal) -> u128 {
    let management = ic_utils::interfaces::ManagementCanister::create(agent);
    let (status,) = management
        .canister_status(&canister)
        .as_update()
        .call()
        .await
        .expect("canister_status");
    u128::try_from(status.cycles.0).unwrap()
}

/// The reject an update call gets (it must be rejected).
async fn rejection(agent: &Agent, canister: Principal, method: &str, arg: Vec<u8>) -> String {
    let error = agent
        .update(&canister, method)
        .with_arg(arg)
        .call_and_wait()
        .await
        .expect_err("the call is rejected");
    error.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_canisters_neither_stall_nor_exhaust_the_subnet() {
    attack(64).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "4 nodes hold a 1 GiB heap each; run by hand (BENCHMARKS.md)"]
async fn hostile_canisters_with_a_1_gib_heap() {
    attack(1024 + 64).await;
}

/// The attack on a subnet whose memory capacity is `capacity_mib`, which
/// the hog fills.
async fn attack(capacity_mib: u64) {
    let memory_bound = memory_bound_mib(capacity_mib);
    let _serial = ONE_SUBNET_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let counter_wasm = motoko("counter", &dir.path().join("counter.wasm"));
    let configs = prepare(dir.path(), 4, &[], true).unwrap();
    for path in &configs {
        let mut config = NodeConfig::load(path).unwrap();
        config.execution.update_instructions = UPDATE_INSTRUCTIONS;
        config.execution.install_instructions = 1_000_000_000;
        config.execution.subnet_memory_bytes = capacity_mib << 20;
        config.save(path).unwrap();
    }
    let program = PathBuf::from(env!("CARGO_BIN_EXE_chainkey"));
    let mut subnet = LocalSubnet::start(&program, dir.path(), &configs).unwrap();
    wait_for_height(&subnet, 3, Duration::from_secs(120)).unwrap();
    let agent = agent(&url(&subnet, 0), BasicIdentity::from_raw_key(&[7; 32])).await;
    let counter = create_and_install(&agent, &counter_wasm).await;
    update::<Nat>(&agent, counter, "increment", Encode!()).await;
    let idle = block_rate(&subnet, 0..4, Duration::from_secs(8));
    let idle_memory = resident_mib(&subnet);
    eprintln!("idle: {idle:.1} blocks/s, resident {idle_memory:?} MiB");

    // The attack.
    let looper = install_attacker(&agent, LOOPER, ATTACKER_CYCLES).await;
    let burner = install_attacker(&agent, HOG, ATTACKER_CYCLES).await;
    let hog = install_attacker(&agent, HOG, PLENTY).await;
    let looper_start = balance(&agent, looper).await;
    let burner_start = balance(&agent, burner).await;
    // Sent, not awaited: they queue at the burner, one running at a time.
    let mut burns = send_burns(&agent, burner, 50);
    let bomb = candid_bomb(&counter);
    let rejected = rejection(
        &agent,
        Principal::management_canister(),
        "canister_status",
        bomb,
    )
    .await;
    assert!(rejected.contains("IC0504"), "{rejected}");
    let oversized = rejection(&agent, hog, "reply_mib", vec![3]).await;
    assert!(oversized.contains("IC0504"), "{oversized}");
    let mut grown = 0;
    loop {
        match agent
            .update(&hog, "grow")
            .with_arg(Encode!().unwrap())
            .call_and_wait()
            .await
        {
            Ok(_) => grown += 16,
            Err(error) => {
                let error = error.to_string();
                assert!(
                    error.contains("IC0502") || error.contains("IC0507"),
                    "{error}"
                );
                break;
            }
        }
        assert!(
            grown <= capacity_mib,
            "grew {grown} MiB past the subnet's capacity"
        );
    }

    // The subnet under attack: blocks, a normal update's latency, memory.
    let attacked = block_rate(&subnet, 0..4, Duration::from_secs(20));
    let mut latencies = Vec::new();
    for expected in 2u8..7 {
        let start = Instant::now();
        let count: Nat = update(&agent, counter, "increment", Encode!()).await;
        latencies.push(start.elapsed());
        assert_eq!(count, Nat::from(expected));
    }
    let attacked_memory = resident_mib(&subnet);
    eprintln!(
        "attacked: {attacked:.1} blocks/s, counter latencies {latencies:?}, resident \
         {attacked_memory:?} MiB, hog grew {grown} MiB"
    );
    assert!(
        attacked >= HELD_SHARE * idle,
        "{attacked:.1} blocks/s of {idle:.1} idle"
    );
    assert!(
        latencies.iter().all(|l| *l < Duration::from_secs(2)),
        "{latencies:?}"
    );
    for (idle, attacked) in idle_memory.iter().zip(&attacked_memory) {
        assert!(
            *attacked < idle + memory_bound,
            "resident {attacked} MiB (idle {idle})"
        );
    }

    // 50 queries at once to the hog's heap (the subnet's capacity, less the
    // other canisters) are all answered, the block rate holds, and the
    // nodes' memory stays bounded (a query maps the heap's image; a node
    // runs one at a time at a low priority).
    let mut queries = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let agent = agent.clone();
        queries.spawn(async move { agent.query(&hog, "pages").with_arg(Vec::new()).call().await });
    }
    let querying = block_rate(&subnet, 0..4, Duration::from_secs(20));
    let querying_memory = resident_mib(&subnet);
    while let Some(answer) = queries.join_next().await {
        let pages = answer.unwrap().expect("the query is answered");
        assert!(u32::from_le_bytes(pages[..4].try_into().unwrap()) > 16);
    }
    eprintln!("50 queries: {querying:.1} blocks/s, resident {querying_memory:?} MiB");
    assert!(
        querying >= HELD_SHARE * idle,
        "{querying:.1} blocks/s of {idle:.1} idle"
    );
    for (idle, querying) in idle_memory.iter().zip(&querying_memory) {
        assert!(
            *querying < idle + memory_bound,
            "resident {querying} MiB (idle {idle})"
        );
    }

    // The attackers pay until they freeze.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ping = agent
            .update(&looper, "ping")
            .with_arg(Encode!().unwrap())
            .call_and_wait()
            .await;
        match ping {
            Err(error) if error.to_string().contains("IC0207") => break,
            _ => assert!(Instant::now() < deadline, "the looper never froze"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let looper_end = balance(&agent, looper).await;
    let burner_end = balance(&agent, burner).await;
    eprintln!(
        "the looper paid {} cycles, the burner {}",
        looper_start - looper_end,
        burner_start - burner_end
    );
    assert!(looper_start - looper_end > 2_000_000_000);
    assert!(burner_start - burner_end > 2_000_000_000);

    // A node killed in the middle of long messages computes the same state
    // once restarted: ten burns (200 rounds) span at least one checkpoint,
    // so the restarted node replays a paused message from one.
    let long = install_attacker(&agent, HOG, PLENTY).await;
    let more_burns = send_burns(&agent, long, 10);
    tokio::time::sleep(Duration::from_secs(4)).await;
    subnet.kill_node(3);
    tokio::time::sleep(Duration::from_secs(4)).await;
    subnet.start_node(&program, 3).unwrap();
    let digests = common_digests(&subnet);
    assert!(
        digests.iter().all(|d| d == &digests[0]),
        "nodes disagree: {digests:?}"
    );
    burns.abort_all();
    drop(more_burns);
    subnet.stop();
}

/// Sends `count` calls of `burn` to `canister` at once, each waiting for
/// its answer in a task of its own.
fn send_burns(agent: &Agent, canister: Principal, count: usize) -> tokio::task::JoinSet<()> {
    let mut burns = tokio::task::JoinSet::new();
    for _ in 0..count {
        let agent = agent.clone();
        burns.spawn(async move {
            let _ = agent
                .update(&canister, "burn")
                .with_arg(Encode!().unwrap())
                .call_and_wait()
                .await;
        });
    }
    burns
}

/// `record { canister_id = id }` plus an extra `vec null` argument of
/// length 2⁴⁰: 40 bytes that take hours to skip without a quota.
fn candid_bomb(id: &Principal) -> Vec<u8> {
    let leb = |mut value: u64| {
        let mut out = Vec::new();
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    };
    let mut bytes = b"DIDL".to_vec();
    bytes.extend([2, 0x6c, 1]);
    bytes.extend(leb(u64::from(candid::idl_hash("canister_id"))));
    bytes.extend([0x68, 0x6d, 0x7f, 2, 0, 1, 1, id.as_slice().len() as u8]);
    bytes.extend(id.as_slice());
    bytes.extend(leb(1 << 40));
    bytes
}
