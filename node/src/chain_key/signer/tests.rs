use super::*;

#[test]
fn each_transcript_has_exactly_its_first_dealers_and_all_nodes_take_turns() {
    let (dealers, first) = (4, 3);
    let mut turns = [0; 4];
    for i in 0..400u64 {
        let id = TranscriptRef::KappaTimesLambda(i).id("key_1");
        let chosen: Vec<NodeId> = (0..dealers as NodeId)
            .filter(|&me| is_first_dealer(&id, me, dealers, first))
            .collect();
        assert_eq!(chosen.len(), first, "transcript {i}: {chosen:?}");
        chosen.iter().for_each(|&me| turns[me as usize] += 1);
    }
    // 300 turns each on average; every node deals first often.
    assert!(turns.iter().all(|&n| n > 240), "{turns:?}");
    let id = TranscriptRef::Kappa(0).id("key_1");
    assert!((0..4).all(|me| is_first_dealer(&id, me, 4, 4)));
}
