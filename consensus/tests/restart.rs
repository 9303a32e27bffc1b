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
