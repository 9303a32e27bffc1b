//! A proposal's payload is judged only after its maker's signature
//! verified: a peer forging proposals cannot make a node validate
//! payloads (the expensive part) in another node's name.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use chainkey_consensus::types::{Artifact, Hash, NodeId, Payload, Proposal};
use chainkey_consensus::{
    Action, BlsCrypto, Config, Consensus, ConsensusCrypto, Event, Height, IngressQueue,
    PayloadBuilder, SubnetKeys,
};
use chainkey_crypto::batch::BatchVerifier;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// An ingress queue that counts the payloads it is asked to validate.
struct Counting {
    inner: IngressQueue,
    validated: Rc<Cell<usize>>,
}

impl PayloadBuilder for Counting {
    fn build(&mut self, height: Height, parent: &Hash, past: &[&Payload], time_ns: u64) -> Payload {
        self.inner.build(height, parent, past, time_ns)
    }

    fn validate(
        &self,
        height: Height,
        maker: NodeId,
        payload: &Payload,
        past: &[&Payload],
        time_ns: u64,
    ) -> bool {
        self.validated.set(self.validated.get() + 1);
        self.inner.validate(height, maker, payload, past, time_ns)
    }
}

#[test]
fn a_proposal_with_a_forged_signature_is_refused_before_its_payload_is_judged() {
    let nodes = 4;
    let (subnet, secrets) = SubnetKeys::generate(nodes, &mut StdRng::seed_from_u64(7));
    let subnet = Arc::new(subnet);
    let verifier = Arc::new(BatchVerifier::default());
    let crypto = |id: usize| {
        let (key, share) = secrets[id].clone();
        BlsCrypto::new(key, share, Arc::clone(&subnet), Arc::clone(&verifier))
    };
    let config = Config::new(nodes);
    let node = |id: usize, validated: &Rc<Cell<usize>>| {
        let payloads = Counting {
            inner: IngressQueue::default(),
            validated: Rc::clone(validated),
        };
        Consensus::new(id as u32, config.clone(), crypto(id), payloads)
    };

    // Nodes 1–3 run consensus among themselves (three of four are a
    // quorum); node 0 hears everything but their proposals, so it knows
    // the beacon and can judge a height-1 proposal when it gets one.
    let validated = Rc::new(Cell::new(0));
    let mut nodes: Vec<_> = (0..nodes)
        .map(|id| match id {
            0 => node(id, &validated),
            _ => node(id, &Rc::new(Cell::new(0))),
        })
        .collect();
    let mut proposals = Vec::new();
    let mut queue: Vec<(usize, Artifact)> = Vec::new();
    for node in &mut nodes {
        for action in node.on_event(Event::Start, 0) {
            if let Action::Broadcast(artifact) = action {
                queue.push((0, artifact));
            }
        }
    }
    let mut now = 0;
    while now < 3_000 {
        now += 10;
        let mut outputs = Vec::new();
        for (from, artifact) in std::mem::take(&mut queue) {
            if from == 0 {
                continue; // node 0 is cut off from its peers
            }
            if let Artifact::Proposal(proposal) = &artifact {
                let new = proposals
                    .iter()
                    .all(|(_, p): &(u32, Proposal)| p != proposal);
                if proposal.block.height == 1 && new {
                    proposals.push((from as u32, proposal.clone()));
                }
            }
            for to in (0..nodes.len()).filter(|to| *to != from) {
                if to == 0 && matches!(artifact, Artifact::Proposal(_)) {
                    continue;
                }
                let event = Event::Artifact {
                    from: from as u32,
                    artifact: artifact.clone(),
                };
                outputs.push((to, nodes[to].on_event(event, now)));
            }
        }
        for (id, node) in nodes.iter_mut().enumerate() {
            outputs.push((id, node.on_event(Event::Tick, now)));
        }
        for (id, actions) in outputs {
            for action in actions {
                if let Action::Broadcast(artifact) = action {
                    queue.push((id, artifact));
                }
            }
        }
    }
    assert!(!proposals.is_empty(), "some peer proposed at height 1");
    assert_eq!(validated.get(), 0, "node 0 saw no proposal yet");
    let judge = &mut nodes[0];
    let blamed_before: u64 = judge.invalid_artifacts().values().sum();
    let mut now = 1;
    for (maker, proposal) in &proposals {
        // The same block, signed by node 0's key instead of its maker's.
        let mut forged = proposal.clone();
        forged.signature = crypto(0).sign(b"not the proposal");
        judge.on_event(
            Event::Artifact {
                from: *maker,
                artifact: Artifact::Proposal(forged),
            },
            now,
        );
        now += 1;
    }
    judge.on_event(Event::Tick, now + 1_000);
    assert_eq!(validated.get(), 0, "no forged payload was judged");
    let blamed: u64 = judge.invalid_artifacts().values().sum();
    assert_eq!(
        (blamed - blamed_before) as usize,
        proposals.len(),
        "{:?}",
        judge.invalid_artifacts()
    );

    // The genuine proposals are judged, once each.
    for (maker, proposal) in proposals.iter().cloned() {
        judge.on_event(
            Event::Artifact {
                from: maker,
                artifact: Artifact::Proposal(proposal),
            },
            now,
        );
    }
    judge.on_event(Event::Tick, now + 2_000);
    assert_eq!(validated.get(), proposals.len());
}

/// A peer sending large blocks ahead of the node fills only its own
/// share of the unvalidated pool, counted in bytes; other peers' artifacts
/// still get in.
#[test]
fn a_peer_sending_large_blocks_fills_only_its_own_share_in_bytes() {
    use chainkey_consensus::types::{Block, IngressMessage};
    let nodes = 4;
    let (subnet, secrets) = SubnetKeys::generate(nodes, &mut StdRng::seed_from_u64(8));
    let (key, share) = secrets[0].clone();
    let crypto = BlsCrypto::new(
        key,
        share,
        Arc::new(subnet),
        Arc::new(BatchVerifier::default()),
    );
    let mut config = Config::new(nodes);
    config.max_unvalidated_bytes_per_peer = 1 << 20;
    let mut node = Consensus::new(0, config, crypto, IngressQueue::default());
    node.on_event(Event::Start, 0);
    // Blocks of 300 kB at heights the node cannot judge yet (no beacon):
    // they wait in the pool.
    let large = |height| {
        Artifact::Proposal(Proposal {
            block: Block {
                height,
                parent: Hash([1; 32]),
                rank: 0,
                maker: 1,
                time_ns: height,
                beacon: Hash([2; 32]),
                payload: Payload {
                    ingress: vec![IngressMessage {
                        id: Hash([height as u8; 32]),
                        content: vec![0; 300_000],
                    }],
                    ..Payload::default()
                },
            },
            signature: vec![0; 48],
        })
    };
    for height in 2..12 {
        node.on_event(
            Event::Artifact {
                from: 1,
                artifact: large(height),
            },
            1,
        );
    }
    assert_eq!(node.unvalidated_len(), 3, "three blocks fit in 1 MiB");
    assert_eq!(node.over_budget().get(&1), Some(&7));
    // Another peer's share is untouched.
    node.on_event(
        Event::Artifact {
            from: 2,
            artifact: large(5),
        },
        1,
    );
    assert_eq!(node.unvalidated_len(), 4);
    assert_eq!(node.over_budget().get(&2), None);
}
