//! The official `ic-agent` crate, unmodified and with query-signature
//! verification on, against a 4-node chainkey subnet of real processes:
//! create a canister, install a Motoko canister compiled here from source
//! by the npm `motoko` compiler, call, query, upgrade keeping its state,
//! read its certified data through a verified certificate — then check
//! that every node computed the same state and that a killed and
//! restarted node still has the canister's state.
//!
//! The same flow runs through `@dfinity/agent` (`tests/js/agent-flow.js`).
//!
//! A Motoko canister also signs through the subnet's chain-key ECDSA
//! service (`sign_with_ecdsa`), with one node sending invalid dealings and
//! signature shares part of the time.
//!
//! Neurons adopt a proposal adding a node through the governance canister.
//!
//! Needs Node.js with `tests/js` installed (`npm ci --prefix tests/js`,
//! as `.ci/run` does).

use std::path::PathBuf;
use std::time::{Duration, Instant};

mod common;

use candid::{Decode, Encode, Nat};
use chainkey_node::local_subnet::{prepare, test_hook, wait_for_height, LocalSubnet};
use common::*;
use ic_agent::identity::BasicIdentity;
use ic_agent::{Agent, Identity};
use ic_utils::interfaces::management_canister::builders::{
    CanisterInstallMode, UpgradeFlags, WasmMemoryPersistence,
};
use ic_utils::interfaces::ManagementCanister;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dfinity_agent_js_deploys_calls_queries_and_upgrades_a_motoko_canister() {
    let _serial = ONE_SUBNET_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let wasm_path = dir.path().join("counter.wasm");
    motoko("counter", &wasm_path);
    let configs = prepare(dir.path(), 4, &[], true).unwrap();
    let program = PathBuf::from(env!("CARGO_BIN_EXE_chainkey"));
    let mut subnet = LocalSubnet::start(&program, dir.path(), &configs).unwrap();
    wait_for_height(&subnet, 3, Duration::from_secs(120)).unwrap();
    let output = tokio::process::Command::new("node")
        .arg(workspace().join("tests/js/agent-flow.js"))
        .arg(url(&subnet, 1))
        .arg(&wasm_path)
        .output()
        .await
        .expect("Node.js runs");
    subnet.stop();
    assert!(
        output.status.success(),
        "the @dfinity/agent flow failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ic_agent_deploys_calls_queries_and_upgrades_a_motoko_canister() {
    let _serial = ONE_SUBNET_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let wasm = motoko("counter", &dir.path().join("counter.wasm"));
    let configs = prepare(dir.path(), 4, &[], true).unwrap();
    let program = PathBuf::from(env!("CARGO_BIN_EXE_chainkey"));
    let mut subnet = LocalSubnet::start(&program, dir.path(), &configs).unwrap();
    wait_for_height(&subnet, 3, Duration::from_secs(120)).unwrap();

    let identity = BasicIdentity::from_raw_key(&[42; 32]);
    let agent = agent(&url(&subnet, 0), identity).await;
    let management = ManagementCanister::create(&agent);
    let canister = create_and_install(&agent, &wasm).await;

    let count = |n: u8| Nat::from(n);
    assert_eq!(
        update::<Nat>(&agent, canister, "increment", Encode!()).await,
        count(1)
    );
    assert_eq!(
        update::<Nat>(&agent, canister, "increment", Encode!()).await,
        count(2)
    );
    assert_eq!(
        query::<Nat>(&agent, canister, "get").await.unwrap(),
        count(2)
    );

    // Queries run on one node each; the nodes report them in blocks and
    // `canister_status` shows their sum: 1 above, 4 more here, 3 on node 1.
    let node_1 = agent_for_node(&subnet, 1).await;
    for node in [&agent; 4].into_iter().chain([&node_1; 3]) {
        assert_eq!(query::<Nat>(node, canister, "get").await.unwrap(), count(2));
    }
    let stats = wait_for_query_calls(&agent, canister, 8).await;
    let (argument, reply) = (Encode!().unwrap(), Encode!(&count(2)).unwrap());
    assert_eq!(stats.request_payload_bytes_total, 8 * argument.len());
    assert_eq!(stats.response_payload_bytes_total, 8 * reply.len());
    assert!(stats.num_instructions_total > 0u8);

    update::<()>(&agent, canister, "set_label", Encode!(&"chainkey")).await;
    let certified = agent
        .read_state_canister_info(canister, "certified_data")
        .await
        .expect("certified data through a verified certificate");
    assert_eq!(certified, b"chainkey");

    // An upgrade keeps the heap (Motoko's enhanced orthogonal persistence).
    management
        .install_code(&canister, &wasm)
        .with_mode(CanisterInstallMode::Upgrade(Some(UpgradeFlags {
            skip_pre_upgrade: None,
            wasm_memory_persistence: Some(WasmMemoryPersistence::Keep),
        })))
        .call_and_wait()
        .await
        .expect("upgrade the canister");
    assert_eq!(
        query::<Nat>(&agent, canister, "get").await.unwrap(),
        count(2)
    );
    let label = query::<String>(&agent, canister, "get_label").await;
    assert_eq!(label.unwrap(), "chainkey");
    assert_eq!(
        update::<Nat>(&agent, canister, "increment", Encode!()).await,
        count(3)
    );

    // A wrong method is rejected with the spec's code, not a transport error.
    let error = agent
        .update(&canister, "no_such_method")
        .with_arg(Encode!().unwrap())
        .call_and_wait()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no_such_method"), "{error}");

    let digests = common_digests(&subnet);
    assert!(
        digests.iter().all(|d| d == &digests[0]),
        "nodes disagree: {digests:?}"
    );

    // A killed node restarts with the canister's state.
    subnet.kill_node(3);
    assert_eq!(
        update::<Nat>(&agent, canister, "increment", Encode!()).await,
        count(4)
    );
    subnet.start_node(&program, 3).unwrap();
    let restarted = agent_for_node(&subnet, 3).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if query::<Nat>(&restarted, canister, "get")
            .await
            .is_ok_and(|n| n == 4u8)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted node lacks the state"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    subnet.stop();
}

/// The query statistics `canister_status` reports for `canister` once they
/// count `calls` calls (panics if they never do, or count more).
async fn wait_for_query_calls(
    agent: &Agent,
    canister: candid::Principal,
    calls: u8,
) -> ic_management_canister_types::QueryStats {
    let management = candid::Principal::management_canister();
    let arg = ic_management_canister_types::CanisterIdRecord {
        canister_id: canister,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = agent
            .update(&management, "canister_status")
            .with_effective_canister_id(canister)
            .with_arg(Encode!(&arg).unwrap())
            .call_and_wait()
            .await
            .expect("canister_status");
        let stats = Decode!(&reply, ic_management_canister_types::CanisterStatusResult)
            .unwrap()
            .query_stats;
        assert!(stats.num_calls_total <= calls, "{stats:?}");
        if stats.num_calls_total == calls {
            return stats;
        }
        assert!(Instant::now() < deadline, "query stats stay at {stats:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until every node has the chain-key ECDSA key.
fn wait_for_ecdsa_key(subnet: &LocalSubnet) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !subnet
        .statuses()
        .iter()
        .all(|s| s.as_ref().is_some_and(|s| s.ecdsa_key_ready))
    {
        assert!(
            Instant::now() < deadline,
            "no ECDSA key: {:#?}",
            subnet.statuses()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Signs `count` distinct hashes concurrently through `canister` and
/// checks each signature with k256 under `public_key`.
async fn sign_concurrently(
    agent: &Agent,
    canister: candid::Principal,
    path: &[Vec<u8>],
    public_key: &k256::ecdsa::VerifyingKey,
    count: u8,
) {
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..count {
        let (agent, path) = (agent.clone(), path.to_vec());
        let hash = [i; 32];
        requests.spawn(async move {
            let signature: Vec<u8> =
                update(&agent, canister, "sign", Encode!(&hash.to_vec(), &path)).await;
            (hash, signature)
        });
    }
    let mut signed = 0;
    while let Some(result) = requests.join_next().await {
        let (hash, signature) = result.unwrap();
        let signature = k256::ecdsa::Signature::from_slice(&signature).expect("r ‖ s");
        assert!(signature.normalize_s().is_none(), "s is low");
        public_key
            .verify_prehash(&hash, &signature)
            .expect("the signature verifies under ecdsa_public_key");
        signed += 1;
    }
    assert_eq!(signed, count);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canister_signs_with_chain_key_ecdsa_despite_a_faulty_node() {
    let _serial = ONE_SUBNET_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let wasm = motoko("signer", &dir.path().join("signer.wasm"));
    let configs = prepare(dir.path(), 4, &[], true).unwrap();
    let program = PathBuf::from(env!("CARGO_BIN_EXE_chainkey"));
    let mut subnet = LocalSubnet::start(&program, dir.path(), &configs).unwrap();
    wait_for_ecdsa_key(&subnet);

    let agent = agent(&url(&subnet, 0), BasicIdentity::from_raw_key(&[44; 32])).await;
    let canister = create_and_install(&agent, &wasm).await;

    let path = vec![b"account".to_vec(), vec![0, 0, 0, 1]];
    let public_key: Vec<u8> = update(&agent, canister, "public_key", Encode!(&path)).await;
    let verifying_key = k256::ecdsa::VerifyingKey::from_sec1_bytes(&public_key).unwrap();
    let other_key: Vec<u8> = update(
        &agent,
        canister,
        "public_key",
        Encode!(&vec![b"x".to_vec()]),
    )
    .await;
    assert_ne!(public_key, other_key, "paths derive distinct keys");

    sign_concurrently(&agent, canister, &path, &verifying_key, 100).await;

    // Node 3 turns faulty: dealings that fail verification, dealings whose
    // ciphertext to node 0 is garbage (node 0 complains and rebuilds its
    // shares from the others' openings), invalid signature shares. Signing
    // goes on (past the presignatures made before), and it is named.
    test_hook(subnet.http[3], "corrupt_chain_key", true).unwrap();
    sign_concurrently(&agent, canister, &path, &verifying_key, 100).await;
    // A garbled dealing is used only when it is among the first a block
    // carries: sign on until node 0 had to rebuild a share.
    let deadline = Instant::now() + Duration::from_secs(120);
    while subnet.statuses()[0]
        .as_ref()
        .is_none_or(|status| status.shares_rebuilt == 0)
    {
        assert!(
            Instant::now() < deadline,
            "node 0 never rebuilt a share: {:?}",
            subnet.statuses()[0]
        );
        sign_concurrently(&agent, canister, &path, &verifying_key, 20).await;
    }
    let statuses = subnet.statuses();
    for status in statuses[..3].iter().flatten() {
        assert!(
            status.chain_key_invalid.keys().eq([&3]),
            "node {} names node 3 alone: {:?}",
            status.node,
            status.chain_key_invalid
        );
    }
    let metrics = metrics(&subnet, 0);
    let named = |kind: &str| {
        metrics.lines().any(|line| {
            line.starts_with("chainkey_chain_key_invalid_total{")
                && line.contains(&format!("kind=\"{kind}\""))
                && line.contains("node=\"3\"")
        })
    };
    assert!(
        named("dealing") && named("ciphertext") && named("signature share"),
        "{metrics}"
    );

    // After a restart of every node, the presignatures made before it
    // still sign: each node reopens its shares from the stored blocks.
    subnet.stop();
    let mut subnet = LocalSubnet::start(&program, dir.path(), &configs).unwrap();
    wait_for_ecdsa_key(&subnet);
    sign_concurrently(&agent, canister, &path, &verifying_key, 20).await;
    subnet.stop();
}

/// The acceptance test of membership change: neurons adopt a proposal
/// adding a fifth node; the subnet reshares its ECDSA key and both
/// threshold BLS keys to the five (same public keys); the five take over;
/// the new node joins from the chain, and with one old node down the
/// subnet goes on only because the new one signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neurons_add_a_fifth_node_which_takes_its_share_of_every_key() {
    use chainkey_node::config::NeuronConfig;
    use chainkey_node::genesis::{write_joining_node, NodeKeys};
    use chainkey_node::registry::governance::{Action, Proposal, Status, SubnetRecord, Vote};

    let _serial = ONE_SUBNET_AT_A_TIME.lock().await;
    let identities: Vec<BasicIdentity> = (50..53)
        .map(|seed| BasicIdentity::from_raw_key(&[seed; 32]))
        .collect();
    let neurons: Vec<NeuronConfig> = identities
        .iter()
        .zip([30, 30, 40])
        .map(|(identity, stake)| NeuronConfig {
            controller: identity.sender().unwrap().to_text(),
            stake,
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let wasm = motoko("signer", &dir.path().join("signer.wasm"));
    let configs = prepare(dir.path(), 4, &neurons, true).unwrap();
    let program = PathBuf::from(env!("CARGO_BIN_EXE_chainkey"));
    let mut subnet = LocalSubnet::start(&program, dir.path(), &configs).unwrap();
    wait_for_height(&subnet, 3, Duration::from_secs(120)).unwrap();
    let mut agents = Vec::new();
    for (id, identity) in identities.into_iter().enumerate() {
        agents.push(agent(&url(&subnet, id), identity).await);
    }
    let governance =
        candid::Principal::from_slice(&chainkey_node::execution::governance_canister::id());

    // The new node's own keys and addresses; its record is what the
    // proposal carries.
    let mut rng = rand::thread_rng();
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    };
    let (p2p, http) = (free(), free());
    let new_keys = NodeKeys::generate(4, &mut rng).unwrap();
    let record = new_keys.record(4, &p2p.to_string(), &mut rng);
    let propose = |neuron: u64, action: Action| {
        Encode!(&chainkey_node::execution::governance_canister::MakeProposal { neuron, action })
    };
    let vote = |neuron: u64, proposal: u64, vote: Vote| {
        Encode!(
            &chainkey_node::execution::governance_canister::RegisterVote {
                neuron,
                proposal,
                vote
            }
        )
    };

    // Neuron 1's controller cannot use neuron 0.
    let refused = agents[1]
        .update(&governance, "make_proposal")
        .with_arg(propose(0, Action::RemoveNode(0)).unwrap())
        .call_and_wait()
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("does not control neuron 0"),
        "{refused}"
    );

    let proposal: u64 = update(
        &agents[0],
        governance,
        "make_proposal",
        propose(0, Action::AddNode(record.clone())),
    )
    .await;
    // 30 for, then 30 against: open; then 40 for: 70 of 100 adopt it.
    let status: Status = update(
        &agents[1],
        governance,
        "register_vote",
        vote(1, proposal, Vote::No),
    )
    .await;
    assert_eq!(status, Status::Open);
    let status: Status = update(
        &agents[2],
        governance,
        "register_vote",
        vote(2, proposal, Vote::Yes),
    )
    .await;
    assert_eq!(status, Status::Executed { version: 2 });

    // Every node answers the same through (signed, verified) queries, once
    // its certified state is past the vote.
    for agent in &agents {
        let deadline = Instant::now() + Duration::from_secs(30);
        let subnet_record = loop {
            let reply = agent
                .query(&governance, "get_subnet_record")
                .with_arg(Encode!().unwrap())
                .call()
                .await
                .unwrap();
            let subnet_record = Decode!(&reply, SubnetRecord).unwrap();
            if subnet_record.version == 2 || Instant::now() > deadline {
                break subnet_record;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(subnet_record.version, 2);
        assert_eq!(subnet_record.members.len(), 5);
        assert_eq!(subnet_record.members[&4], record);
        let reply = agent
            .query(&governance, "get_proposal")
            .with_arg(Encode!(&proposal).unwrap())
            .call()
            .await
            .unwrap();
        let found = Decode!(&reply, Option<Proposal>).unwrap().unwrap();
        assert_eq!(found.status, Status::Executed { version: 2 });
        assert_eq!(found.ballots.len(), 3);
    }
    let digests = common_digests(&subnet);
    assert!(
        digests.windows(2).all(|pair| pair[0] == pair[1]),
        "{digests:?}"
    );

    // A block carries the adopted record, and the subnet reshares its ECDSA
    // master key and both threshold BLS keys to the five members: the same
    // public keys, and every member decrypts its new BLS shares.
    wait_for_ecdsa_key(&subnet);
    let deadline = Instant::now() + Duration::from_secs(120);
    let statuses = loop {
        let statuses = subnet.statuses();
        let reshared = |status: &Option<chainkey_node::api::Status>| {
            status.as_ref().is_some_and(|status| {
                matches!(status.ecdsa_reshared, Some((2, _)))
                    && matches!(status.bls_reshared, Some((2, _, _)))
                    && status.bls_next_shares == Some(2)
            })
        };
        if statuses.iter().all(reshared) {
            break statuses;
        }
        assert!(Instant::now() < deadline, "no reshare: {statuses:#?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let master = statuses[0].as_ref().unwrap().ecdsa_public_key.clone();
    assert!(master.is_some());
    let config = chainkey_node::config::NodeConfig::load(&configs[0]).unwrap();
    let beacon = hex::encode(config.subnet_keys().unwrap().beacon.public_key().to_bytes());
    let root_key = agents[0].read_root_key();
    let root = hex::encode(&root_key[root_key.len() - 96..]);
    for status in statuses.into_iter().flatten() {
        assert_eq!(status.registry_version, 2);
        assert_eq!(status.ecdsa_public_key, master);
        assert_eq!(status.ecdsa_reshared, master.clone().map(|key| (2, key)));
        assert_eq!(
            status.bls_reshared,
            Some((2, beacon.clone(), root.clone())),
            "the beacon key and the root key agents trust are unchanged"
        );
    }

    // The five members take over the chain keys and consensus a few
    // heights later (node 4 is not running: four of five suffice); blocks
    // are still finalized and certified under the same root key, and
    // canisters still sign, with new presignatures, under the same key.
    let canister = create_and_install(&agents[0], &wasm).await;
    let path = vec![b"account".to_vec()];
    let public_key: Vec<u8> = update(&agents[0], canister, "public_key", Encode!(&path)).await;
    let verifying_key = k256::ecdsa::VerifyingKey::from_sec1_bytes(&public_key).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !subnet.statuses().iter().all(|status| {
        status.as_ref().is_some_and(|status| {
            status.key_epoch == 2 && status.consensus_epoch == 2 && status.committee_size == 5
        })
    }) {
        assert!(
            Instant::now() < deadline,
            "the new members never took over: {:#?}",
            subnet.statuses()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let switched_at = subnet.statuses()[0].as_ref().unwrap().finalized_height;
    sign_concurrently(&agents[0], canister, &path, &verifying_key, 20).await;
    wait_for_height(&subnet, switched_at + 20, Duration::from_secs(60)).unwrap();
    let digests = common_digests(&subnet);
    assert!(
        digests.windows(2).all(|pair| pair[0] == pair[1]),
        "{digests:?}"
    );

    // The new node starts from its own keys and the genesis configuration:
    // it fetches the chain, replays it, decrypts its shares of the
    // reshared keys and joins the committee.
    let member = chainkey_node::config::NodeConfig::load(&configs[0]).unwrap();
    let joining = write_joining_node(dir.path(), &member, &new_keys, &record, http).unwrap();
    assert_eq!(subnet.add_node(&program, &joining).unwrap(), 4);
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let statuses = subnet.statuses();
        let top = statuses[0]
            .as_ref()
            .map_or(0, |status| status.finalized_height);
        let joined = statuses[4].as_ref().is_some_and(|status| {
            status.consensus_epoch == 2
                && status.key_epoch == 2
                && status.bls_shares_epoch == Some(2)
                && status.finalized_height + 5 >= top
                && status.executed_height + 10 >= top
        });
        if joined {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node 4 did not join (top {top}): {:?}",
            statuses[4].as_ref().map(|s| (
                s.finalized_height,
                s.executed_height,
                s.registry_version,
                s.key_epoch,
                s.consensus_epoch,
                s.committee_size,
                s.bls_shares_epoch,
                s.ecdsa_key_ready
            ))
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let digests = common_digests_of(&subnet, 5);
    assert!(
        digests.windows(2).all(|pair| pair[0] == pair[1]),
        "the new node computed the same state: {digests:?}"
    );

    // Node 3 goes down: n − f = 4 of 5 notarize, finalize and certify, so
    // the subnet goes on only with the new node's signatures; canisters
    // still sign, and certificates verify under the original root key.
    subnet.kill_node(3);
    let before = subnet.statuses()[0].as_ref().unwrap().finalized_height;
    sign_concurrently(&agents[0], canister, &path, &verifying_key, 10).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while subnet.statuses()[4]
        .as_ref()
        .is_none_or(|status| status.finalized_height < before + 20)
    {
        assert!(Instant::now() < deadline, "no progress without node 3");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let digests = common_digests_of(&subnet, 4);
    assert!(
        digests.windows(2).all(|pair| pair[0] == pair[1]),
        "{digests:?}"
    );
    subnet.stop();
}
