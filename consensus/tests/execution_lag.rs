//! A node holding its proposals (its execution lags) adds no blocks but
//! still helps finalize the others'; a subnet where every node holds stops
//! adding blocks until they let go.

use chainkey_consensus::{Action, Artifact, Config, Consensus, Event, IngressQueue, SimCrypto};

type Node = Consensus<SimCrypto, IngressQueue>;

/// Runs `subnet` from time `from` to `to` (ms) on a lossless network
/// with one tick of delay; records the heights of the blocks each node
/// made.
fn run(subnet: &mut [Node], from: u64, to: u64, proposed: &mut [Vec<u64>]) {
    let mut in_flight: Vec<(u32, Artifact)> = Vec::new();
    for now in (from..to).step_by(10) {
        let deliveries = std::mem::take(&mut in_flight);
        for (id, node) in subnet.iter_mut().enumerate() {
            let id = id as u32;
            let mut events = vec![if now == 0 { Event::Start } else { Event::Tick }];
            events.extend(deliveries.iter().filter(|(from, _)| *from != id).map(
                |(from, artifact)| Event::Artifact {
                    from: *from,
                    artifact: artifact.clone(),
                },
            ));
            for event in events {
                for action in node.on_event(event, now) {
                    if let Action::Broadcast(artifact) = action {
                        match &artifact {
                            Artifact::Proposal(p) if p.block.maker == id => {
                                proposed[id as usize].push(p.block.height);
                            }
                            _ => {}
                        }
                        in_flight.push((id, artifact));
                    }
                }
            }
        }
    }
}

fn subnet(nodes: usize) -> Vec<Node> {
    let config = Config::new(nodes);
    (0..nodes as u32)
        .map(|me| {
            Consensus::new(
                me,
                config.clone(),
                SimCrypto::new(me, config.faults() + 1),
                IngressQueue::default(),
            )
        })
        .collect()
}

#[test]
fn a_node_holding_its_proposals_adds_no_blocks_but_the_subnet_goes_on() {
    let mut subnet = subnet(4);
    let mut proposed = vec![Vec::new(); 4];
    subnet[2].hold_proposals(true);
    run(&mut subnet, 0, 10_000, &mut proposed);
    assert!(subnet.iter().all(|node| node.finalized_height() >= 10));
    assert!(proposed[2].is_empty(), "proposed at {:?}", proposed[2]);
    assert!(proposed.iter().flatten().count() >= 10);
}

#[test]
fn a_subnet_whose_nodes_all_hold_stops_until_they_let_go() {
    let mut subnet = subnet(4);
    let mut proposed = vec![Vec::new(); 4];
    run(&mut subnet, 0, 2_000, &mut proposed);
    let reached = subnet[0].finalized_height();
    assert!(reached >= 2, "finalized {reached} before holding");
    for node in &mut subnet {
        node.hold_proposals(true);
    }
    run(&mut subnet, 2_000, 6_000, &mut proposed);
    // At most the round under way when they started holding completes.
    let held = subnet.iter().map(Node::finalized_height).max().unwrap();
    assert!(
        held <= reached + 1,
        "finalized {held} while holding (from {reached})"
    );
    for node in &mut subnet {
        node.hold_proposals(false);
    }
    run(&mut subnet, 6_000, 10_000, &mut proposed);
    assert!(subnet
        .iter()
        .all(|node| node.finalized_height() >= held + 5));
}
