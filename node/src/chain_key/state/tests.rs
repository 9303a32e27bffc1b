use super::*;

/// A 4-node subnet's genesis state with fresh keys.
pub(crate) fn genesis(pool_size: usize) -> ChainKeyState {
    let keys: Vec<MegaSecretKey<Curve>> = (0..4)
        .map(|_| MegaSecretKey::generate(&mut rand::thread_rng()))
        .collect();
    ChainKeyState::genesis(Setup {
        key_name: "key_1".into(),
        receivers: keys.iter().map(MegaSecretKey::public_key).collect(),
        threshold: 2,
        pool_size,
        first_pool_size: pool_size,
        dealer_keys: Vec::new(),
    })
}
use chainkey_crypto::tecdsa::{DealerInput, MegaSecretKey, Share};
use std::collections::HashMap;

/// Every node of a 4-node subnet, dealing into whatever the state opens.
struct Nodes {
    keys: Vec<MegaSecretKey<Curve>>,
    shares: HashMap<(TranscriptRef, u32), Share<Curve>>,
}

impl Nodes {
    fn deal(&self, change: &Change, dealer: u32) -> Option<(TranscriptRef, Dealing<Curve>)> {
        let Change::Opened {
            transcript,
            params,
            sources,
        } = change
        else {
            return None;
        };
        let share = |r: &TranscriptRef| &self.shares[&(*r, dealer)];
        let input = match sources.as_slice() {
            [] => DealerInput::Fresh,
            [source] => DealerInput::Reshare(share(source)),
            [a, b] => DealerInput::Product(share(a), share(b)),
            _ => unreachable!(),
        };
        let mut rng = rand::thread_rng();
        Some((
            *transcript,
            Dealing::create(params, dealer, input, &mut rng).unwrap(),
        ))
    }

    fn open(&mut self, change: &Change) {
        if let Change::Completed(r, transcript) = change {
            for (i, key) in self.keys.iter().enumerate() {
                let share = transcript.open_share(i as u32, key).unwrap();
                self.shares.insert((*r, i as u32), share);
            }
        }
    }
}

/// Runs the schedule: dealers 0..`dealers` deal into everything opened.
fn run(pool_size: usize, dealers: u32) -> (ChainKeyState, Vec<Change>) {
    let (state, changes, _) = run_nodes(pool_size, pool_size, dealers);
    (state, changes)
}

/// [`run`] with a pool that starts at `first_pool_size`, also returning
/// the nodes and their shares.
fn run_nodes(
    first_pool_size: usize,
    pool_size: usize,
    dealers: u32,
) -> (ChainKeyState, Vec<Change>, Nodes) {
    let mut rng = rand::thread_rng();
    let keys: Vec<MegaSecretKey<Curve>> =
        (0..4).map(|_| MegaSecretKey::generate(&mut rng)).collect();
    let mut state = ChainKeyState::genesis(Setup {
        key_name: "key_1".into(),
        receivers: keys.iter().map(MegaSecretKey::public_key).collect(),
        threshold: 2,
        pool_size,
        first_pool_size,
        dealer_keys: Vec::new(),
    });
    let mut nodes = Nodes {
        keys,
        shares: HashMap::new(),
    };
    let pending: Vec<Change> = state
        .slots()
        .iter()
        .map(|(r, slot)| Change::Opened {
            transcript: *r,
            params: slot.params.clone(),
            sources: vec![],
        })
        .collect();
    let all = drive(&mut state, &mut nodes, pending, dealers);
    (state, all, nodes)
}

/// Dealers 0..`dealers` deal into what `pending` opened, and into what
/// that opens in turn; every change made.
fn drive(
    state: &mut ChainKeyState,
    nodes: &mut Nodes,
    mut pending: Vec<Change>,
    dealers: u32,
) -> Vec<Change> {
    let mut all = Vec::new();
    while let Some(change) = pending.pop() {
        nodes.open(&change);
        for dealer in 0..dealers {
            if let Some((r, dealing)) = nodes.deal(&change, dealer) {
                let id = Hash::of(&[&dealing.to_bytes()]);
                let changes = state.apply_dealing(r, Arc::new(dealing), id);
                for change in &changes {
                    nodes.open(change);
                }
                pending.extend(changes.iter().cloned());
                all.extend(changes);
            }
        }
    }
    all
}

#[test]
fn the_schedule_makes_the_key_and_fills_the_pool() {
    let (state, changes) = run(3, 4);
    assert!(state.key().is_some());
    assert_eq!(state.ready().len(), 3);
    assert!(state.slots().is_empty(), "nothing left in the making");
    let keys = changes
        .iter()
        .filter(|c| matches!(c, Change::KeyReady(_)))
        .count();
    assert_eq!(keys, 1);
    // Every presignature is for the key that was made.
    let key = state.key().unwrap();
    for presignature in state.ready().values() {
        assert_eq!(presignature.key_id(), key.id());
    }
}

/// A signature item using the first ready presignature of `state` (its
/// signature bytes are not a valid signature).
fn signature_with_first_ready(state: &ChainKeyState) -> SignatureItem {
    SignatureItem {
        job: super::super::SignJob {
            presignature: *state.ready().keys().next().unwrap(),
            caller: vec![1],
            path: vec![],
            message_hash: [0; 32],
            randomness: [0; 32],
        },
        signature: vec![0; 64],
    }
}

#[test]
fn three_honest_dealers_suffice_and_used_presignatures_are_replaced() {
    // Products need 2t − 1 = 3 dealings: the fourth dealer may be absent.
    let (mut state, _) = run(2, 3);
    assert_eq!(state.ready().len(), 2);
    let item = signature_with_first_ready(&state);
    assert_eq!(
        state.check_signature(&item),
        Err(ItemError::InvalidSignature)
    );
    let changes = state.apply_signature(item.clone());
    assert!(matches!(changes[0], Change::Signed(_)));
    // Used: a second signature with it is refused, and a new one is started.
    assert_eq!(state.check_signature(&item), Err(ItemError::Presignature));
    assert_eq!(state.ready().len(), 1);
    assert!(changes.iter().any(|c| matches!(
        c,
        Change::Opened {
            transcript: TranscriptRef::Kappa(2),
            ..
        }
    )));
}

#[test]
fn the_pool_starts_small_and_grows_by_one_per_presignature_used_up_to_its_most() {
    let (mut state, _, mut nodes) = run_nodes(1, 3, 4);
    assert_eq!(state.ready().len(), 1, "the first pool");
    for expected in [2, 3, 3] {
        let changes = state.apply_signature(signature_with_first_ready(&state));
        for change in &changes {
            nodes.open(change);
        }
        drive(&mut state, &mut nodes, changes, 4);
        assert_eq!(state.ready().len(), expected);
        assert!(state.slots().is_empty(), "nothing left in the making");
    }
}

#[test]
fn dealings_for_closed_transcripts_or_twice_from_a_dealer_are_refused() {
    let (state, _) = run(1, 4);
    assert_eq!(
        state.check_dealing(&TranscriptRef::Kappa(0), 0).err(),
        Some(ItemError::NotOpen)
    );
    let genesis = ChainKeyState::genesis(state.setup().clone());
    assert!(genesis.check_dealing(&TranscriptRef::KeyRandom, 3).is_ok());
    assert_eq!(
        genesis.check_dealing(&TranscriptRef::KeyRandom, 4).err(),
        Some(ItemError::Dealer)
    );
    assert_eq!(
        genesis.check_dealing(&TranscriptRef::Key, 0).err(),
        Some(ItemError::NotOpen)
    );
}

#[test]
fn a_new_subnet_record_reshares_the_key_to_its_members_keeping_its_public_key() {
    let (mut state, _, mut nodes) = run_nodes(1, 1, 4);
    let key = Arc::clone(state.key().unwrap());
    // The old members and a fifth node, with MEGa keys whose secrets we hold.
    let mut rng = rand::thread_rng();
    nodes.keys.push(MegaSecretKey::generate(&mut rng));
    let members = (0..5)
        .map(|id| {
            let mut peer = crate::registry::node_record::test_peer(id);
            peer.mega_key = hex::encode(nodes.keys[id as usize].public_key().to_bytes());
            (id, peer)
        })
        .collect();
    let record = SubnetRecord {
        version: 2,
        members,
    };
    let stale = SubnetRecord {
        version: 1,
        ..record.clone()
    };
    assert!(state.apply_membership(stale).is_empty(), "not newer");
    let opened = state.apply_membership(record.clone());
    let Some(Change::Opened { params, .. }) = opened.first() else {
        panic!("{opened:?}");
    };
    assert_eq!(params.receivers().len(), 5);
    assert_eq!(params.threshold(), 2, "f + 1 of 5");
    assert_eq!(state.membership_version(), 2);
    // The old members deal from their shares of the key; the reshare
    // completes with the same public key, and the new member's share
    // (opened with its own key) is on the reshared polynomial.
    let changes = drive(&mut state, &mut nodes, opened, 4);
    let (version, reshared) = state.reshared().unwrap();
    assert_eq!(*version, 2);
    assert_eq!(master_public_key(reshared), master_public_key(&key));
    assert!(changes
        .iter()
        .any(|change| matches!(change, Change::KeyReshared(2, _))));
    assert!(nodes
        .shares
        .contains_key(&(TranscriptRef::KeyReshare(2), 4)));
    assert!(state.slots().is_empty(), "nothing left in the making");
    // The same record again changes nothing.
    assert!(state.apply_membership(record).is_empty());

    // The new members take over EPOCH_SWITCH_DELAY heights later: the
    // old presignatures are retired, the reshared key is the key.
    let old_ready: Vec<u64> = state.ready().keys().copied().collect();
    assert_eq!(old_ready.len(), 1);
    assert!(state.finish_height(10).is_empty());
    assert_eq!(state.switch_at(), Some(10 + EPOCH_SWITCH_DELAY));
    assert!(state.finish_height(11).is_empty());
    assert_eq!(state.epoch().version, 1);
    let changes = state.finish_height(10 + EPOCH_SWITCH_DELAY);
    assert!(matches!(
        &changes[0],
        Change::EpochStarted { version: 2, retired } if *retired == old_ready
    ));
    assert_eq!(state.epoch().version, 2);
    assert_eq!(state.switch_at(), None);
    assert!(state.ready().is_empty());
    assert_eq!(state.setup().receivers.len(), 5);
    assert_eq!(state.setup().threshold, 2);
    let new_key = Arc::clone(state.key().unwrap());
    assert_eq!(master_public_key(&new_key), master_public_key(&key));
    // New presignatures are made by and for the five members, with
    // their shares of the reshared key.
    for i in 0..5 {
        let share = nodes.shares[&(TranscriptRef::KeyReshare(2), i)].clone();
        nodes.shares.insert((TranscriptRef::Key, i), share);
    }
    let opened: Vec<Change> = changes[1..].to_vec();
    assert!(opened.iter().all(|change| matches!(
        change,
        Change::Opened { params, .. } if params.receivers().len() == 5
    )));
    drive(&mut state, &mut nodes, opened, 5);
    let (_, presignature) = state.ready().iter().next().expect("a new presignature");
    assert_eq!(presignature.key_id(), new_key.id());
    assert!(!old_ready.contains(&state.ready().keys().next().copied().unwrap()));
}
