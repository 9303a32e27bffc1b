//! Test hook: what a Byzantine node sends its peers, each housekeeping
//! tick while the hook is on (`/debug/byzantine/on`, only with
//! `test_hooks`). Every behaviour costs the honest nodes something before
//! they can tell it is bad: the tests measure that it stays small.

use std::sync::Arc;

use chainkey_consensus::types::{IngressMessage, Proposal, Share};
use chainkey_consensus::{Artifact, Block, Hash, Height, NodeId, Payload};

use crate::chain_key::{ChainKeyMessage, SignedDealing, TranscriptRef};
use crate::net::wire::{Message, MAX_FRAME};

/// Invalid shares of each kind sent per tick.
const INVALID_SHARES: usize = 40;
/// Ingress messages, and bytes each, in a forged proposal (4 MiB).
const FORGED_INGRESS: (usize, usize) = (1000, 4 << 10);
/// Dealings for transcripts not open yet sent per tick, and their bytes.
const EARLY_DEALINGS: (usize, usize) = (2, 1 << 20);
/// Block-range requests sent per tick.
const BLOCK_REQUESTS: usize = 40;
/// An oversized frame (which costs the sender its connection) every so many ticks.
const OVERSIZED_EVERY: u64 = 40;

/// The frames node `me` sends every peer at tick `tick`, when consensus is
/// at `height`:
/// - invalid notarization and chain-key signature shares;
/// - a proposal whose 4 MiB payload comes with a signature that does not
///   verify (a fresh time each tick, so never a copy);
/// - dealings of 1 MiB for transcripts far from open;
/// - requests for every finalized block;
/// - now and then a frame claiming to be larger than the largest allowed.
pub fn frames(me: NodeId, height: Height, tick: u64, time_ns: u64) -> Vec<Arc<Vec<u8>>> {
    // Bytes that differ from tick to tick and item to item, cheaply (the
    // attacker's own cost is not what is measured).
    let noise = |len: usize, salt: u64| -> Vec<u8> {
        let mut bytes = vec![0x5a; len];
        let salt = salt.to_be_bytes();
        let n = len.min(salt.len());
        bytes[..n].copy_from_slice(&salt[..n]);
        bytes
    };
    let mut messages = Vec::new();
    for i in 0..INVALID_SHARES as u64 {
        messages.push(Message::Artifact(Artifact::NotarizationShare {
            height,
            block: Hash(rand::random()),
            share: Share {
                signer: me,
                signature: noise(48, tick << 16 | i),
            },
        }));
        messages.push(Message::ChainKey(ChainKeyMessage::SignatureShare {
            presignature: i,
            share: noise(100, tick << 16 | i),
        }));
    }
    let (count, bytes) = FORGED_INGRESS;
    let ingress = (0..count as u64)
        .map(|i| IngressMessage {
            id: Hash(rand::random()),
            content: noise(bytes, tick << 16 | i),
        })
        .collect();
    messages.push(Message::Artifact(Artifact::Proposal(Proposal {
        block: Block {
            height: height + 1,
            parent: Hash(rand::random()),
            rank: 0,
            maker: me,
            time_ns,
            beacon: Hash(rand::random()),
            payload: Payload {
                ingress,
                ..Payload::default()
            },
        },
        signature: noise(64, tick),
    })));
    let (count, bytes) = EARLY_DEALINGS;
    for i in 0..count as u64 {
        messages.push(Message::ChainKey(ChainKeyMessage::Dealing(SignedDealing {
            transcript: TranscriptRef::Kappa((1 << 40) + tick * count as u64 + i),
            dealing: noise(bytes, tick << 16 | i),
            signature: noise(64, tick << 16 | i),
        })));
    }
    for _ in 0..BLOCK_REQUESTS {
        messages.push(Message::BlocksRequest {
            from: 0,
            to: Height::MAX,
        });
    }
    let mut frames: Vec<_> = messages
        .iter()
        .map(|message| Arc::new(message.to_frame()))
        .collect();
    if tick.is_multiple_of(OVERSIZED_EVERY) {
        let mut oversized = ((MAX_FRAME + 1) as u32).to_be_bytes().to_vec();
        oversized.extend(noise(1 << 10, tick));
        frames.push(Arc::new(oversized));
    }
    frames
}
