//! A deterministic simulator: many [`Consensus`] nodes, a seeded network, faults.
//!
//! Everything — latencies, drops, duplicates, partitions, Byzantine moves —
//! comes from one seed, so any run is reproduced exactly from its seed.
//! Nodes use [`SimCrypto`] (hash tags, no security) so thousands of seeds
//! run in seconds; the protocol code is the same as with real BLS.
//!
//! The simulator checks **safety** (honest nodes never finalize different
//! blocks at a height) and reports how far each honest node finalized, from
//! which tests judge **liveness**.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::crypto::{ConsensusCrypto, SimCrypto};
use crate::payload::{IngressQueue, PayloadLimits};
use crate::protocol::{Action, Config, Consensus, Event};
use crate::types::{
    signed, Artifact, Block, Hash, Height, IngressMessage, NodeId, Payload, Proposal, Share, Time,
};

/// How the simulated network delivers messages.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// Smallest one-way latency in ms.
    pub min_latency: Time,
    /// Largest one-way latency in ms (uniform in between; reordering follows).
    pub max_latency: Time,
    /// Probability that a message is lost.
    pub drop_probability: f64,
    /// Probability that a message is delivered twice.
    pub duplicate_probability: f64,
    /// Periods during which the listed nodes are cut off from the others.
    pub partitions: Vec<Partition>,
    /// From this time on the network is synchronous: no loss, no partition
    /// (the "global stabilisation time" of partial synchrony).
    pub stable_after: Time,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            min_latency: 5,
            max_latency: 60,
            drop_probability: 0.0,
            duplicate_probability: 0.0,
            partitions: Vec::new(),
            stable_after: 0,
        }
    }
}

/// The nodes in `group` can only talk among themselves between `from` and `until`.
#[derive(Clone, Debug)]
pub struct Partition {
    /// Start of the partition (ms).
    pub from: Time,
    /// When it heals (ms).
    pub until: Time,
    /// The isolated side.
    pub group: Vec<NodeId>,
}

/// What a faulty node does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Follows the protocol.
    Honest,
    /// Stops at `at` (and, with `restart`, comes back with an empty state at
    /// that time and catches up through catch-up packages and peers).
    Crash {
        /// When it stops.
        at: Time,
        /// When it restarts from genesis, if ever.
        restart: Option<Time>,
    },
    /// Receives but never sends.
    Withhold,
    /// Sends nothing but its proposals, and those only to the nodes with
    /// even ids.
    ProposeToSome,
    /// Sends every share with a corrupted signature.
    InvalidShares,
    /// As block maker, sends different blocks to different halves of the subnet.
    Equivocate,
    /// Also sends notarization shares (validly signed) for blocks that do not exist.
    SharesForMissingBlocks,
    /// Also floods malformed and duplicate artifacts.
    Spam,
    /// With each of its proposals, also sends forgeries of it: the most
    /// messages a block may hold, a new time each, and a signature that
    /// does not verify — expensive payloads it never signed.
    ForgedProposals,
    /// Its clock runs behind by this many ms.
    LaggingClock(Time),
}

/// One simulation run.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The seed everything random derives from.
    pub seed: u64,
    /// Protocol parameters (including the number of nodes).
    pub consensus: Config,
    /// The network.
    pub network: NetworkConfig,
    /// Faulty nodes and what they do; the rest are honest.
    pub faulty: BTreeMap<NodeId, Behaviour>,
    /// Simulated duration in ms.
    pub duration: Time,
    /// Ingress messages submitted to every node per simulated second.
    pub ingress_per_second: u32,
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Each honest node's finalized height at the end.
    pub finalized_heights: BTreeMap<NodeId, Height>,
    /// Every node's finalized height at the end, faulty ones included.
    pub all_finalized_heights: BTreeMap<NodeId, Height>,
    /// Each honest node's finalized height when the network became stable.
    pub finalized_when_stable: BTreeMap<NodeId, Height>,
    /// A description of the first safety violation, if any.
    pub safety_violation: Option<String>,
    /// Finalization latency samples (ms from a block's proposal to its finalization at a node).
    pub finalization_latencies: Vec<Time>,
    /// Invalid artifacts honest nodes dropped, per sender.
    pub invalid_artifacts: BTreeMap<NodeId, u64>,
    /// The largest unvalidated pool any honest node held.
    pub max_unvalidated: usize,
    /// The most artifacts and blocks any honest node held at once.
    pub max_pool: usize,
    /// How often each node (honest or restarted) jumped to a catch-up package.
    pub catch_up_jumps: BTreeMap<NodeId, u64>,
    /// Messages the network carried.
    pub messages: u64,
    /// Each honest node's round (the height it is trying to notarize) at the end.
    pub rounds: BTreeMap<NodeId, Height>,
    /// Each honest node's state at the end, for diagnosing a failed run.
    pub final_states: BTreeMap<NodeId, String>,
}

impl Outcome {
    /// The lowest finalized height among honest nodes.
    pub fn min_finalized(&self) -> Height {
        self.finalized_heights.values().copied().min().unwrap_or(0)
    }

    /// The fewest heights any honest node finalized after the network became stable.
    pub fn min_progress_after_stable(&self) -> Height {
        self.finalized_heights
            .iter()
            .map(|(node, end)| end - self.finalized_when_stable.get(node).copied().unwrap_or(0))
            .min()
            .unwrap_or(0)
    }
}

type Node<C> = Consensus<C, IngressQueue>;

struct Simulation<C> {
    config: SimConfig,
    rng: StdRng,
    nodes: Vec<Node<C>>,
    /// A second crypto handle per node, with which faulty nodes sign what they forge.
    signers: Vec<C>,
    make_crypto: Box<dyn Fn(NodeId) -> C>,
    queue: BinaryHeap<Reverse<(Time, u64, NodeId, Delivery)>>,
    sequence: u64,
    wake: Vec<Option<Time>>,
    /// Per node, the highest height it signed a binding artifact at (what
    /// a real node persists before sending).
    signed_through: Vec<Height>,
    proposed_at: BTreeMap<Hash, Time>,
    finalized: BTreeMap<Height, (Hash, NodeId)>,
    outcome: Outcome,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Delivery {
    Tick,
    Restart,
    Artifact(NodeId, ArtifactKey),
}

/// Artifacts are kept in a side table so the heap orders by time, sequence only.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ArtifactKey(u64);

/// Runs one simulation to completion with [`SimCrypto`].
pub fn run(config: SimConfig) -> Outcome {
    let beacon_threshold = config.consensus.faults() + 1;
    run_with(config, move |id| SimCrypto::new(id, beacon_threshold))
}

/// Runs one simulation with the crypto `make_crypto` gives each node (e.g. real BLS).
pub fn run_with<C: ConsensusCrypto + 'static>(
    config: SimConfig,
    make_crypto: impl Fn(NodeId) -> C + 'static,
) -> Outcome {
    let mut simulation = Simulation::new(config, Box::new(make_crypto));
    simulation.run();
    simulation.outcome
}

impl<C: ConsensusCrypto> Simulation<C> {
    fn new(config: SimConfig, make_crypto: Box<dyn Fn(NodeId) -> C>) -> Self {
        let n = config.consensus.nodes;
        let nodes = (0..n as NodeId)
            .map(|id| new_node(id, &config.consensus, make_crypto(id)))
            .collect();
        let signers = (0..n as NodeId).map(&make_crypto).collect();
        Simulation {
            rng: StdRng::seed_from_u64(config.seed),
            nodes,
            signers,
            make_crypto,
            queue: BinaryHeap::new(),
            sequence: 0,
            wake: vec![None; n],
            signed_through: vec![0; n],
            proposed_at: BTreeMap::new(),
            finalized: BTreeMap::new(),
            outcome: Outcome {
                finalized_heights: BTreeMap::new(),
                all_finalized_heights: BTreeMap::new(),
                finalized_when_stable: BTreeMap::new(),
                safety_violation: None,
                finalization_latencies: Vec::new(),
                invalid_artifacts: BTreeMap::new(),
                max_unvalidated: 0,
                max_pool: 0,
                catch_up_jumps: BTreeMap::new(),
                messages: 0,
                rounds: BTreeMap::new(),
                final_states: BTreeMap::new(),
            },
            config,
        }
    }

    fn behaviour(&self, node: NodeId) -> &Behaviour {
        self.config.faulty.get(&node).unwrap_or(&Behaviour::Honest)
    }

    fn is_honest(&self, node: NodeId) -> bool {
        matches!(
            self.behaviour(node),
            Behaviour::Honest | Behaviour::LaggingClock(_)
        )
    }

    fn is_down(&self, node: NodeId, now: Time) -> bool {
        match self.behaviour(node) {
            Behaviour::Crash { at, restart } => {
                now >= *at && restart.is_none_or(|restart| now < restart)
            }
            _ => false,
        }
    }

    fn run(&mut self) {
        let mut artifacts: BTreeMap<u64, Artifact> = BTreeMap::new();
        for node in 0..self.nodes.len() as NodeId {
            self.handle(node, Event::Start, 0, &mut artifacts);
            if let Behaviour::Crash {
                restart: Some(at), ..
            } = self.behaviour(node)
            {
                let at = *at;
                self.schedule(at, node, Delivery::Restart);
            }
        }
        let mut next_ingress = 0;
        while let Some(Reverse((now, _, node, delivery))) = self.queue.pop() {
            if now > self.config.duration {
                break;
            }
            if now >= self.config.network.stable_after
                && self.outcome.finalized_when_stable.is_empty()
            {
                self.snapshot_stable();
            }
            while self.config.ingress_per_second > 0 && next_ingress <= now {
                self.submit_ingress(next_ingress);
                next_ingress += 1000 / Time::from(self.config.ingress_per_second.max(1));
            }
            if self.is_down(node, now) {
                continue;
            }
            match delivery {
                Delivery::Tick => {
                    if self.wake[node as usize] != Some(now) {
                        continue; // superseded by an earlier wake-up
                    }
                    self.wake[node as usize] = None;
                    self.handle(node, Event::Tick, now, &mut artifacts);
                }
                Delivery::Restart => {
                    self.nodes[node as usize] =
                        new_node(node, &self.config.consensus, (self.make_crypto)(node));
                    self.nodes[node as usize].abstain_through(self.signed_through[node as usize]);
                    self.wake[node as usize] = None;
                    self.handle(node, Event::Start, now, &mut artifacts);
                }
                Delivery::Artifact(from, ArtifactKey(key)) => {
                    let Some(artifact) = artifacts.remove(&key) else {
                        continue;
                    };
                    self.handle(
                        node,
                        Event::Artifact { from, artifact },
                        now,
                        &mut artifacts,
                    );
                }
            }
        }
        for (id, node) in self.nodes.iter().enumerate() {
            let id = id as NodeId;
            self.outcome
                .all_finalized_heights
                .insert(id, node.finalized_height());
            if self.is_honest(id) {
                self.outcome
                    .finalized_heights
                    .insert(id, node.finalized_height());
                self.outcome.rounds.insert(id, node.height());
                self.outcome.final_states.insert(id, node.describe());
                for (sender, count) in node.invalid_artifacts() {
                    *self.outcome.invalid_artifacts.entry(*sender).or_default() += count;
                }
            }
        }
    }

    fn snapshot_stable(&mut self) {
        for (id, node) in self.nodes.iter().enumerate() {
            if self.is_honest(id as NodeId) {
                self.outcome
                    .finalized_when_stable
                    .insert(id as NodeId, node.finalized_height());
            }
        }
    }

    fn submit_ingress(&mut self, at: Time) {
        for node in &mut self.nodes {
            let id = Hash::of(&[b"ingress", &at.to_be_bytes()]);
            node.payloads_mut().submit(IngressMessage {
                id,
                content: at.to_be_bytes().to_vec(),
            });
        }
    }

    /// Feeds one event to a node (at its local clock) and carries out its actions.
    fn handle(
        &mut self,
        node: NodeId,
        event: Event,
        now: Time,
        artifacts: &mut BTreeMap<u64, Artifact>,
    ) {
        let skew = match self.behaviour(node) {
            Behaviour::LaggingClock(lag) => *lag,
            _ => 0,
        };
        let local_now = now.saturating_sub(skew);
        let actions = self.nodes[node as usize].on_event(event, local_now);
        if self.is_honest(node) {
            self.outcome.max_unvalidated = self
                .outcome
                .max_unvalidated
                .max(self.nodes[node as usize].unvalidated_len());
        }
        for action in actions {
            match action {
                Action::WakeAt(local_at) => {
                    let at = local_at + skew;
                    if self.wake[node as usize].is_none_or(|current| at < current) {
                        self.wake[node as usize] = Some(at);
                        self.schedule(at, node, Delivery::Tick);
                    }
                }
                Action::Deliver(finalized) => {
                    self.record_finalized(node, finalized.block.height, finalized.hash, now)
                }
                Action::JumpedTo(package) => {
                    *self.outcome.catch_up_jumps.entry(node).or_default() += 1;
                    self.record_finalized(
                        node,
                        package.content.height(),
                        package.content.block.hash(),
                        now,
                    )
                }
                Action::Broadcast(artifact) => {
                    if let Some(height) = artifact.signed_height(node) {
                        let signed = &mut self.signed_through[node as usize];
                        *signed = (*signed).max(height);
                    }
                    if let Artifact::Proposal(proposal) = &artifact {
                        self.proposed_at.entry(proposal.block.hash()).or_insert(now);
                    }
                    for (to, artifact) in self.outgoing(node, artifact, now) {
                        self.send(node, to, artifact, now, artifacts);
                    }
                }
                Action::Send { to, artifact } => {
                    if self.is_honest(node) {
                        self.send(node, to, artifact, now, artifacts);
                    }
                }
            }
        }
    }

    /// What a node actually sends for one broadcast, given its behaviour.
    fn outgoing(&mut self, node: NodeId, artifact: Artifact, now: Time) -> Vec<(NodeId, Artifact)> {
        let everyone: Vec<NodeId> = (0..self.nodes.len() as NodeId)
            .filter(|&to| to != node)
            .collect();
        let all = |artifact: Artifact| {
            everyone
                .iter()
                .map(|&to| (to, artifact.clone()))
                .collect::<Vec<_>>()
        };
        let crypto = &self.signers[node as usize];
        match self.behaviour(node).clone() {
            Behaviour::Honest | Behaviour::LaggingClock(_) | Behaviour::Crash { .. } => {
                all(artifact)
            }
            Behaviour::Withhold => Vec::new(),
            Behaviour::ProposeToSome => match artifact {
                Artifact::Proposal(_) => everyone
                    .iter()
                    .filter(|&&to| to % 2 == 0)
                    .map(|&to| (to, artifact.clone()))
                    .collect(),
                _ => Vec::new(),
            },
            Behaviour::InvalidShares => all(corrupt_shares(artifact, &mut self.rng)),
            Behaviour::Equivocate => match artifact {
                Artifact::Proposal(proposal) => {
                    let mut other = proposal.block.clone();
                    other.payload.ingress.push(IngressMessage {
                        id: Hash::of(&[b"equivocation", &now.to_be_bytes()]),
                        content: Vec::new(),
                    });
                    let twin = Proposal {
                        signature: crypto.sign(&signed::proposal(&other.hash())),
                        block: other,
                    };
                    everyone
                        .iter()
                        .map(|&to| {
                            (
                                to,
                                Artifact::Proposal(if to % 2 == 0 {
                                    proposal.clone()
                                } else {
                                    twin.clone()
                                }),
                            )
                        })
                        .collect()
                }
                other => all(other),
            },
            Behaviour::SharesForMissingBlocks => {
                let mut out = all(artifact.clone());
                if let Artifact::NotarizationShare { height, .. } = artifact {
                    let block = Hash::of(&[b"missing", &self.rng.gen::<u64>().to_be_bytes()]);
                    let share = Share {
                        signer: node,
                        signature: crypto.sign(&signed::notarization(height, &block)),
                    };
                    out.extend(all(Artifact::NotarizationShare {
                        height,
                        block,
                        share,
                    }));
                }
                out
            }
            Behaviour::ForgedProposals => {
                let mut out = all(artifact.clone());
                if let Artifact::Proposal(proposal) = artifact {
                    for forgery in 1..=FORGERIES {
                        let mut block = proposal.block.clone();
                        block.time_ns += forgery;
                        block.payload.ingress = (0..PayloadLimits::default().max_messages)
                            .map(|message| IngressMessage {
                                id: Hash::of(&[
                                    b"forged",
                                    &now.to_be_bytes(),
                                    &message.to_be_bytes(),
                                ]),
                                content: vec![0; 64],
                            })
                            .collect();
                        let mut signature = proposal.signature.clone();
                        signature[0] ^= 1;
                        out.extend(all(Artifact::Proposal(Proposal { block, signature })));
                    }
                }
                out
            }
            Behaviour::Spam => {
                let mut out = all(artifact.clone());
                out.extend(all(artifact.clone())); // duplicates
                let height = artifact.height() + self.rng.gen_range(0..3);
                let junk = Block {
                    height,
                    parent: Hash::default(),
                    rank: 0,
                    maker: node,
                    time_ns: 0,
                    beacon: Hash::default(),
                    payload: Payload::default(),
                };
                out.extend(all(Artifact::Proposal(Proposal {
                    block: junk,
                    signature: vec![0; 32],
                })));
                out.extend(all(Artifact::Notarization(crate::types::Certificate {
                    height,
                    block: Hash::default(),
                    signers: vec![node; 3],
                    signature: vec![1; 32],
                })));
                out
            }
        }
    }

    /// Puts one message on the network: latency, loss, duplication, partitions.
    fn send(
        &mut self,
        from: NodeId,
        to: NodeId,
        artifact: Artifact,
        now: Time,
        artifacts: &mut BTreeMap<u64, Artifact>,
    ) {
        let network = &self.config.network;
        let stable = now >= network.stable_after;
        let cut = network.partitions.iter().any(|partition| {
            now >= partition.from
                && now < partition.until
                && (partition.group.contains(&from) != partition.group.contains(&to))
        });
        let dropped = self.rng.gen_bool(network.drop_probability);
        if !stable && (cut || dropped) {
            return;
        }
        let copies = if self.rng.gen_bool(network.duplicate_probability) {
            2
        } else {
            1
        };
        let latencies = network.min_latency..=network.max_latency;
        for _ in 0..copies {
            let latency = self.rng.gen_range(latencies.clone());
            self.sequence += 1;
            artifacts.insert(self.sequence, artifact.clone());
            let key = ArtifactKey(self.sequence);
            self.schedule(now + latency, to, Delivery::Artifact(from, key));
            self.outcome.messages += 1;
        }
    }

    fn schedule(&mut self, at: Time, node: NodeId, delivery: Delivery) {
        self.sequence += 1;
        self.queue
            .push(Reverse((at, self.sequence, node, delivery)));
    }

    /// Checks safety against every block any honest node finalized so far.
    fn record_finalized(&mut self, node: NodeId, height: Height, hash: Hash, now: Time) {
        if !self.is_honest(node) {
            return;
        }
        if let Some(proposed) = self.proposed_at.get(&hash) {
            self.outcome.finalization_latencies.push(now - proposed);
        }
        match self.finalized.get(&height) {
            Some((other, by)) if *other != hash && self.outcome.safety_violation.is_none() => {
                self.outcome.safety_violation =
                    Some(format!("height {height}: node {by} finalized {other:?}, node {node} finalized {hash:?}"));
            }
            Some(_) => {}
            None => {
                self.finalized.insert(height, (hash, node));
            }
        }
    }
}

fn new_node<C: ConsensusCrypto>(id: NodeId, config: &Config, crypto: C) -> Node<C> {
    Consensus::new(
        id,
        config.clone(),
        crypto,
        IngressQueue::new(PayloadLimits {
            max_messages: 100,
            max_bytes: 1 << 20,
        }),
    )
}

/// Forgeries a [`Behaviour::ForgedProposals`] node sends with each proposal.
const FORGERIES: u64 = 4;

/// Replaces the signature of every share with random bytes.
fn corrupt_shares(artifact: Artifact, rng: &mut StdRng) -> Artifact {
    let mut corrupt = |share: Share| Share {
        signer: share.signer,
        signature: (0..share.signature.len()).map(|_| rng.gen()).collect(),
    };
    match artifact {
        Artifact::NotarizationShare {
            height,
            block,
            share,
        } => Artifact::NotarizationShare {
            height,
            block,
            share: corrupt(share),
        },
        Artifact::FinalizationShare {
            height,
            block,
            share,
        } => Artifact::FinalizationShare {
            height,
            block,
            share: corrupt(share),
        },
        Artifact::BeaconShare { height, share } => Artifact::BeaconShare {
            height,
            share: corrupt(share),
        },
        other => other,
    }
}
