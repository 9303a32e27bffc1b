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

    // Shares on a block at height 1 from nodes 1..40; node 17's is signed with another node's key.
    let block = Hash::of(&[b"some block"]);
    let message = signed::notarization(1, &block);
    for signer in 1..nodes as NodeId {
        let key_holder = if signer == 17 { 18 } else { signer as usize };
        let share = Share {
            signer,
            signature: crypto(key_holder).sign(&message),
        };
        node.on_event(
            Event::Artifact {
                from: signer,
                artifact: Artifact::NotarizationShare {
                    height: 1,
                    block,
                    share,
                },
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
