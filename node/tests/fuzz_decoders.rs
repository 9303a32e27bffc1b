//! Every decoder that takes bytes from a peer, a client or the disk, fed
//! hostile bytes: none may panic, hang or allocate past its input's
//! bounds; bad input is a typed error.
//!
//! Each target is a bolero harness whose input is a list of edits
//! (overwrite, insert, delete, truncate) applied to valid encodings built
//! here — so the decoders are exercised past their first byte — and, as
//! is, to the raw input. Under `cargo test` each target runs for
//! `BOLERO_RANDOM_TEST_TIME_MS` (1 s by default); TESTING.md gives the
//! longer campaign.

use bolero::check;
use candid::{Encode, Principal};
use chainkey_consensus::types::{
    Block, CatchUpPackage, Certificate as BlockCertificate, IngressMessage, Payload, Proposal,
};
use chainkey_consensus::{Artifact, FinalityProof, FinalizedBlock, Hash};
use chainkey_node::chain_key::{ChainKeyItem, Section};
use chainkey_node::execution::management::decode_bounded;
use chainkey_node::execution::ReplicatedState;
use chainkey_node::ic::certificate::Certificate;
use chainkey_node::ic::client::Identity;
use chainkey_node::ic::envelope::Envelope;
use chainkey_node::ic::hash_tree::{fork, labeled, leaf};
use chainkey_node::ingress::UpdateCall;
use chainkey_node::net::wire::Message;
use chainkey_node::registry::governance::SubnetRecord;
use ic_management_canister_types as types;

/// `base` changed by `edits`, three bytes an edit: an operation, a
/// position and a value.
fn mutate(base: &[u8], edits: &[u8]) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for edit in edits.chunks_exact(3) {
        let position = (usize::from(edit[1]) << 4 | usize::from(edit[0] >> 4)) % (bytes.len() + 1);
        match edit[0] % 4 {
            0 if position < bytes.len() => bytes[position] = edit[2],
            1 => bytes.insert(position, edit[2]),
            2 if position < bytes.len() => drop(bytes.remove(position)),
            3 => bytes.truncate(position.max(bytes.len().saturating_sub(usize::from(edit[2])))),
            _ => {}
        }
    }
    bytes
}

/// Runs `decode` on the raw input and on every seed mutated by it.
fn fuzz(seeds: Vec<Vec<u8>>, decode: impl Fn(&[u8]) + std::panic::RefUnwindSafe) {
    check!().for_each(|input| {
        let input = &input[..input.len().min(1 << 16)];
        decode(input);
        for seed in &seeds {
            decode(&mutate(seed, input));
        }
    });
}

fn cbor(value: &impl serde::Serialize) -> Vec<u8> {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).unwrap();
    bytes
}

fn block() -> Block {
    Block {
        height: 7,
        parent: Hash([1; 32]),
        rank: 1,
        maker: 2,
        time_ns: 1_700_000_000_000_000_000,
        beacon: Hash([3; 32]),
        payload: Payload {
            ingress: vec![IngressMessage {
                id: Hash([4; 32]),
                content: b"a call".to_vec(),
            }],
            chain_key: vec![serde_bytes::ByteBuf::from(vec![5; 40])],
            ..Payload::default()
        },
    }
}

fn call() -> Vec<u8> {
    let user = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let session = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    Identity::delegated(&user, session, u64::MAX)
        .call(
            &[0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
            "inc",
            b"DIDL\0\0".to_vec(),
            1 << 62,
            1,
        )
        .envelope
}

/// Peer frames: every artifact, block and request of the wire protocol.
#[test]
fn wire_messages() {
    let proposal = Artifact::Proposal(Proposal {
        block: block(),
        signature: vec![9; 48],
    });
    let seeds = vec![
        Message::Artifact(proposal).to_frame()[4..].to_vec(),
        Message::BlocksRequest { from: 3, to: 9 }.to_frame()[4..].to_vec(),
        Message::Blocks(vec![FinalizedBlock {
            hash: block().hash(),
            block: block(),
        }])
        .to_frame()[4..]
            .to_vec(),
    ];
    fuzz(seeds, |bytes| {
        let _ = Message::from_body(bytes);
    });
}

/// What the store keeps on disk and peers send: blocks, catch-up
/// packages, artifacts.
#[test]
fn store_records() {
    let finalized = FinalizedBlock {
        hash: block().hash(),
        block: block(),
    };
    let certificate = BlockCertificate {
        height: 7,
        block: finalized.hash,
        signers: vec![0, 1, 2],
        signature: vec![9; 48],
    };
    let proof = FinalityProof {
        beacon: vec![3; 48],
        signature: vec![4; 48],
        notarization: Some(certificate.clone()),
        finalization: Some(certificate),
    };
    let seeds = vec![
        cbor(&finalized),
        cbor(&Artifact::CatchUpRequest { height: 4 }),
        cbor(&proof),
    ];
    fuzz(seeds, |bytes| {
        let _ = ciborium::from_reader::<FinalizedBlock, _>(bytes);
        let _ = ciborium::from_reader::<FinalityProof, _>(bytes);
        let _ = ciborium::from_reader::<CatchUpPackage, _>(bytes);
        let _ = ciborium::from_reader::<Artifact, _>(bytes);
    });
}

/// Clients' HTTP requests: envelopes with delegations, request ids,
/// paths, signatures to check, update calls.
#[test]
fn ic_requests() {
    fuzz(vec![call()], |bytes| {
        if let Ok(envelope) = Envelope::from_cbor(bytes) {
            let _ = envelope.request_id();
            let _ = envelope.paths();
            let _ = envelope.expiry_ns();
            let _ = envelope.claims_for([0; 32], &[]);
        }
        let _ = UpdateCall::parse(bytes);
    });
}

/// Certificates (a client of the subnet reads them; delegations nest one).
#[test]
fn certificates() {
    let tree = fork(
        labeled("time", leaf(vec![0x80, 0x01])),
        labeled(
            "request_status",
            labeled(vec![0; 32], labeled("reply", leaf(b"DIDL".to_vec()))),
        ),
    );
    let certificate = Certificate {
        tree,
        signature: vec![1; 48],
        delegation: None,
    };
    fuzz(vec![certificate.to_cbor()], |bytes| {
        if let Ok(certificate) = Certificate::from_cbor(bytes) {
            let _ = certificate.tree.digest();
            let _ = certificate.tree.lookup(&[b"time"]);
            let _ = certificate
                .tree
                .lookup(&[b"request_status", &[0; 32], b"reply"]);
        }
    });
}

/// Chain-key items of block payloads (dealings, complaints, openings,
/// signatures, subnet records, NIDKG reshare dealings).
#[test]
fn chain_key_items() {
    let record = ChainKeyItem::Membership(SubnetRecord::default());
    fuzz(vec![cbor(&record)], |bytes| {
        for section in [Section::ChainKey, Section::Nidkg] {
            let _ = ChainKeyItem::from_entry(section, bytes);
        }
    });
}

/// Candid arguments of the management canister's methods, decoded
/// within their quotas.
#[test]
fn management_arguments() {
    let canister = Principal::from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    let seeds = vec![
        Encode!(&types::CanisterIdRecord {
            canister_id: canister
        })
        .unwrap(),
        Encode!(&types::ProvisionalTopUpCanisterArgs {
            canister_id: canister,
            amount: 5u64.into(),
        })
        .unwrap(),
    ];
    fuzz(seeds, |arg| {
        let _ = decode_bounded::<types::CanisterIdRecord>(arg);
        let _ = decode_bounded::<types::CreateCanisterArgs>(arg);
        let _ = decode_bounded::<types::InstallCodeArgs>(arg);
        let _ = decode_bounded::<types::UpdateSettingsArgs>(arg);
        let _ = decode_bounded::<types::ProvisionalCreateCanisterWithCyclesArgs>(arg);
        let _ = decode_bounded::<types::ProvisionalTopUpCanisterArgs>(arg);
        let _ = decode_bounded::<types::DepositCyclesArgs>(arg);
        let _ = decode_bounded::<types::EcdsaPublicKeyArgs>(arg);
        let _ = decode_bounded::<types::SignWithEcdsaArgs>(arg);
    });
}

/// Checkpoints read from the node's disk (memory images included: an
/// image must be a file of the checkpoint's image directory).
#[test]
fn checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let path = chainkey_node::execution::service::checkpoint_path(dir.path());
    fuzz(vec![cbor(&ReplicatedState::default())], |bytes| {
        std::fs::write(&path, bytes).unwrap();
        let _ = chainkey_node::execution::service::load_checkpoint(dir.path());
    });
}
