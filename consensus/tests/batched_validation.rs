//! A node that receives a height's 40 shares verifies them as one batch
//! through the batch verifier and names the bad one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chainkey_consensus::crypto::Check;
use chainkey_consensus::types::{signed, Artifact, Hash, Share, SignatureBytes};
use chainkey_consensus::{
    BlsCrypto, Config, Consensus, ConsensusCrypto, Event, IngressQueue, NodeId, SubnetKeys,
};
use chainkey_crypto::batch::BatchVerifier;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Delegates to real crypto and records the size of every verification batch.
struct Counting {
    inner: BlsCrypto,
    batches: Arc<Mutex<Vec<usize>>>,
}

impl ConsensusCrypto for Counting {
    fn sign(&self, message: &[u8]) -> SignatureBytes {
        self.inner.sign(message)
    }
    fn sign_beacon_share(&self, message: &[u8]) -> SignatureBytes {
        self.inner.sign_beacon_share(message)
    }
    fn aggregate(&self, message: &[u8], shares: &[Share]) -> SignatureBytes {
        self.inner.aggregate(message, shares)
    }
    fn combine_beacon(&self, message: &[u8], shares: &[Share]) -> SignatureBytes {
        self.inner.combine_beacon(message, shares)
    }
    fn beacon_threshold(&self) -> usize {
        self.inner.beacon_threshold()
    }
    fn verify_batch(&self, checks: &[(NodeId, Check<'_>)]) -> Vec<bool> {
        self.batches.lock().unwrap().push(checks.len());
        self.inner.verify_batch(checks)
    }
}

#[test]
fn forty_shares_one_batch_bad_one_named() {
    let nodes = 40;
    let (subnet, secrets) = SubnetKeys::generate(nodes, &mut StdRng::seed_from_u64(3));
    let subnet = Arc::new(subnet);
    let verifier = Arc::new(BatchVerifier::default());
    let crypto = |id: usize| {
        let (key, share) = secrets[id].clone();
        BlsCrypto::new(key, share, Arc::clone(&subnet), Arc::clone(&verifier))
    };
    let batches = Arc::new(Mutex::new(Vec::new()));
    let mut config = Config::new(nodes);
    config.batch_delay = 5;
    let mut node = Consensus::new(
        0,
        config,
        Counting {
            inner: crypto(0),
            batches: Arc::clone(&batches),
        },
        IngressQueue::default(),
    );
    node.on_event(Event::Start, 0);
    batches.lock().unwrap().clear();

    // Beacon shares for height 1 from nodes 1..40; node 17's is signed
    // with another node's key share.
    let genesis_beacon = node.beacon_value(0).unwrap();
    let message = signed::beacon(1, &genesis_beacon);
    for signer in 1..nodes as NodeId {
        let key_holder = if signer == 17 { 18 } else { signer as usize };
        let share = Share {
            signer,
            signature: crypto(key_holder).sign_beacon_share(&message),
        };
        node.on_event(
            Event::Artifact {
                from: signer,
                artifact: Artifact::BeaconShare { height: 1, share },
            },
            1,
        );
    }
    assert!(
        batches.lock().unwrap().is_empty(),
        "nothing is verified before the batch delay"
    );
    node.on_event(Event::Tick, 6);

    assert_eq!(
        *batches.lock().unwrap(),
        vec![nodes - 1],
        "one batch of all shares"
    );
    assert_eq!(*node.invalid_artifacts(), BTreeMap::from([(17, 1)]));
}

/// A 4-node subnet's node 0 whose verification batches are recorded.
fn recorded_node() -> (Consensus<Counting, IngressQueue>, Arc<Mutex<Vec<usize>>>) {
    let nodes = 4;
    let (subnet, secrets) = SubnetKeys::generate(nodes, &mut StdRng::seed_from_u64(5));
    let (key, share) = secrets[0].clone();
    let verifier = Arc::new(BatchVerifier::default());
    let batches = Arc::new(Mutex::new(Vec::new()));
    let mut config = Config::new(nodes);
    config.batch_delay = 5;
    let crypto = Counting {
        inner: BlsCrypto::new(key, share, Arc::new(subnet), verifier),
        batches: Arc::clone(&batches),
    };
    let mut node = Consensus::new(0, config, crypto, IngressQueue::default());
    node.on_event(Event::Start, 0);
    batches.lock().unwrap().clear();
    (node, batches)
}

#[test]
fn shares_of_blocks_that_do_not_exist_cost_no_pairing() {
    let (mut node, batches) = recorded_node();
    let mut now = 1;
    for i in 0..100u8 {
        let share = Share {
            signer: 3,
            signature: vec![i; 48],
        };
        let artifact = if i % 2 == 0 {
            Artifact::NotarizationShare {
                height: 1,
                block: Hash([i; 32]),
                share,
            }
        } else {
            Artifact::FinalizationShare {
                height: 1,
                block: Hash([i; 32]),
                share,
            }
        };
        node.on_event(Event::Artifact { from: 3, artifact }, now);
        now += 10;
        node.on_event(Event::Tick, now);
    }
    assert!(
        batches.lock().unwrap().is_empty(),
        "shares wait for their block: {:?}",
        batches.lock().unwrap()
    );
}

#[test]
fn a_sender_whose_checks_failed_twice_at_a_height_is_not_checked_again_there() {
    let (mut node, batches) = recorded_node();
    let mut now = 1;
    for i in 0..10u8 {
        let share = Share {
            signer: 3,
            signature: vec![i; 48],
        };
        let artifact = Artifact::BeaconShare { height: 1, share };
        node.on_event(Event::Artifact { from: 3, artifact }, now);
        now += 10;
        node.on_event(Event::Tick, now);
    }
    assert_eq!(
        *batches.lock().unwrap(),
        vec![1, 1],
        "two checks, then none"
    );
    assert_eq!(*node.invalid_artifacts(), BTreeMap::from([(3, 10)]));
}
