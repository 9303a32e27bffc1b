//! A node restarted after a crash neither proposes nor finalization-shares
//! at the heights it may already have signed at, and the subnet goes on.

use chainkey_consensus::{Action, Artifact, Config, Consensus, Event, IngressQueue, SimCrypto};

#[test]
fn a_restarted_node_neither_proposes_nor_finalizes_where_it_may_have_signed() {
    let nodes = 4;
    let config = Config::new(nodes);
    let mut subnet: Vec<_> = (0..nodes as u32)
        .map(|me| {
            Consensus::new(
                me,
                config.clone(),
                SimCrypto::new(me, config.faults() + 1),
                IngressQueue::default(),
            )
        })
        .collect();
    let abstaining = 3;
    subnet[abstaining].abstain_through(5);
    let mut in_flight: Vec<(u32, Artifact)> = Vec::new();
    let mut signed_by_abstaining = Vec::new();
    let mut delivered_times = Vec::new();
    for now in (0..20_000).step_by(10) {
        let deliveries = std::mem::take(&mut in_flight);
        for (id, node) in subnet.iter_mut().enumerate() {
            let id = id as u32;
            let mut events = vec![Event::Tick];
            if now == 0 {
                events = vec![Event::Start];
            }
            events.extend(deliveries.iter().filter(|(from, _)| *from != id).map(
                |(from, artifact)| Event::Artifact {
                    from: *from,
                    artifact: artifact.clone(),
                },
            ));
            for event in events {
                for action in node.on_event(event, now) {
                    if let Action::Deliver(finalized) = &action {
                        if id == 0 {
                            delivered_times.push(finalized.block.time_ns);
                        }
                    }
                    if let Action::Broadcast(artifact) = action {
                        let binding = matches!(
                            artifact,
                            Artifact::Proposal(_) | Artifact::FinalizationShare { .. }
                        );
                        if id == abstaining as u32 && binding {
                            signed_by_abstaining.extend(artifact.signed_height(id));
                        }
                        in_flight.push((id, artifact));
                    }
                }
            }
        }
        if subnet.iter().all(|node| node.finalized_height() >= 12) {
            break;
        }
    }
    assert!(
        subnet.iter().all(|node| node.finalized_height() >= 12),
        "the subnet finalizes with one node abstaining at heights 1..=5"
    );
    assert!(
        !signed_by_abstaining.is_empty(),
        "it proposes or finalization-shares again above 5"
    );
    assert!(
        delivered_times.windows(2).all(|pair| pair[0] < pair[1]),
        "block times increase along the chain: {delivered_times:?}"
    );
    assert!(
        signed_by_abstaining.iter().all(|&height| height > 5),
        "signed at {signed_by_abstaining:?}"
    );
}

/// Four in-memory nodes stepped together, 10 ms at a time: what a node
/// broadcasts reaches the others at the next step, unless held back.
struct Subnet {
    nodes: Vec<Consensus<SimCrypto, IngressQueue>>,
    in_flight: Vec<(u32, Artifact)>,
    now: u64,
    /// What each node signed (its own broadcasts).
    signed: Vec<Vec<Artifact>>,
    /// Each node's finalized blocks.
    finalized: Vec<std::collections::BTreeMap<u64, chainkey_consensus::Block>>,
}

impl Subnet {
    fn new(nodes: usize) -> Subnet {
        let config = Config::new(nodes);
        Subnet {
            nodes: (0..nodes as u32)
                .map(|me| {
                    let crypto = SimCrypto::new(me, config.faults() + 1);
                    Consensus::new(me, config.clone(), crypto, IngressQueue::default())
                })
                .collect(),
            in_flight: Vec::new(),
            now: 0,
            signed: vec![Vec::new(); nodes],
            finalized: vec![Default::default(); nodes],
        }
    }

    /// One step; `held(to, artifact)` keeps an artifact from a node.
    fn step(&mut self, held: impl Fn(u32, &Artifact) -> bool) {
        let deliveries = std::mem::take(&mut self.in_flight);
        for (id, node) in self.nodes.iter_mut().enumerate() {
            let id = id as u32;
            let mut events = vec![if self.now == 0 {
                Event::Start
            } else {
                Event::Tick
            }];
            events.extend(
                deliveries
                    .iter()
                    .filter(|(from, artifact)| *from != id && !held(id, artifact))
                    .map(|(from, artifact)| Event::Artifact {
                        from: *from,
                        artifact: artifact.clone(),
                    }),
            );
            for event in events {
                for action in node.on_event(event, self.now) {
                    match action {
                        Action::Broadcast(artifact) | Action::Send { artifact, .. } => {
                            if artifact.signed_height(id).is_some() {
                                self.signed[id as usize].push(artifact.clone());
                            }
                            self.in_flight.push((id, artifact));
                        }
                        Action::Deliver(block) => {
                            self.finalized[id as usize].insert(block.block.height, block.block);
                        }
                        _ => {}
                    }
                }
            }
        }
        self.now += 10;
    }

    fn heights(&self) -> Vec<u64> {
        self.nodes.iter().map(Consensus::finalized_height).collect()
    }

    /// Every node stops and starts again from what it would have stored:
    /// its last finalized block and beacon, with (if `proofs`) the proofs
    /// of its last blocks; it abstains where it signed and replays what it
    /// signed above its last block.
    fn restart(&mut self, proofs: bool) {
        let old = Subnet::new(self.nodes.len());
        let old = std::mem::replace(&mut self.nodes, old.nodes);
        self.in_flight.clear();
        for (id, node) in self.nodes.iter_mut().enumerate() {
            let top = old[id].finalized_height();
            let block = self.finalized[id][&top].clone();
            node.resume_from(block, old[id].beacon(top).unwrap().clone());
            if proofs {
                for (height, block) in self.finalized[id].range(top.saturating_sub(15)..=top) {
                    if let Some(proof) = old[id].finality_proof(*height) {
                        node.restore_finalized(block.clone(), proof);
                    }
                }
            }
            let signed_through = self.signed[id]
                .iter()
                .filter_map(|artifact| artifact.signed_height(id as u32))
                .max()
                .unwrap_or(0);
            node.abstain_through(signed_through);
            for artifact in &self.signed[id] {
                if artifact.height() > top {
                    self.in_flight.push((id as u32, artifact.clone()));
                    node.on_event(
                        Event::Artifact {
                            from: id as u32,
                            artifact: artifact.clone(),
                        },
                        self.now,
                    );
                }
            }
        }
    }
}

/// Runs a subnet whose nodes 0 and 1 miss the finalizations (but sign
/// on) until they are `lag` heights behind, then restarts every node.
fn restarted_with_lag(lag: u64, proofs: bool) -> Subnet {
    let mut subnet = Subnet::new(4);
    while subnet.heights().iter().any(|&height| height < 6) {
        subnet.step(|_, _| false);
    }
    let finalizations = |artifact: &Artifact| {
        matches!(
            artifact,
            Artifact::Finalization(_) | Artifact::FinalizationShare { .. }
        )
    };
    while subnet.heights()[2] < subnet.heights()[0] + lag {
        subnet.step(|to, artifact| to < 2 && finalizations(artifact));
        assert!(subnet.now < 60_000, "no lag: {:?}", subnet.heights());
    }
    subnet.restart(proofs);
    subnet
}

#[test]
fn a_subnet_restarted_at_once_with_nodes_a_few_heights_apart_goes_on() {
    for lag in [1, 2, 4] {
        let mut subnet = restarted_with_lag(lag, true);
        let target = subnet.heights()[2] + 3;
        let deadline = subnet.now + 20_000;
        while subnet.heights().iter().any(|&height| height < target) {
            subnet.step(|_, _| false);
            assert!(
                subnet.now < deadline,
                "lag {lag}: stuck at {:?} (target {target})",
                subnet.heights()
            );
        }
    }
}
