//! How artifacts travel: small ones (shares, certificates) are pushed
//! whole; large ones (blocks with payloads) are advertised by digest and
//! fetched by the peers that do not have them yet. Copies of one artifact
//! arriving close together (relays from several peers) reach consensus
//! once: its digest is remembered for [`DEDUPE_WINDOW`]. Not longer, since
//! consensus may have dropped the first copy (too far ahead, over a peer's
//! quota) and relies on re-sends. A peer is sent an advertised artifact at
//! most once per [`FETCH_RETRY`] (the pace of an honest peer's retries): a
//! peer fetching it again and again would make this node send the same
//! megabytes for a few bytes each time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chainkey_consensus::{Artifact, Hash, Height, NodeId};

use crate::net::wire::{digest, Message};

/// Artifacts whose encoding is larger than this are advertised, not pushed.
pub const ADVERT_THRESHOLD: usize = 8 << 10;
/// How long a received artifact's digest is remembered.
pub const DEDUPE_WINDOW: Duration = Duration::from_millis(500);
/// A fetch not answered in this long may be asked of another peer.
pub const FETCH_RETRY: Duration = Duration::from_secs(1);

/// An artifact this node advertised.
struct Advertised {
    height: Height,
    /// Its full frame.
    frame: Arc<Vec<u8>>,
    /// When it was last sent to each peer that fetched it.
    sent: HashMap<NodeId, Instant>,
}

/// One node's side of artifact dissemination.
#[derive(Default)]
pub struct Dissemination {
    /// What we advertised, by digest.
    advertised: HashMap<Hash, Advertised>,
    /// When each recently received artifact arrived, by digest.
    seen: HashMap<Hash, Instant>,
    requested: HashMap<Hash, Instant>,
}

impl Dissemination {
    /// The frame to send for `artifact`: the artifact itself, or an advert
    /// for it (kept so peers can fetch it).
    pub fn outgoing(&mut self, artifact: Artifact) -> Arc<Vec<u8>> {
        let height = artifact.height();
        let frame = Message::Artifact(artifact).to_frame();
        if frame.len() <= ADVERT_THRESHOLD {
            return Arc::new(frame);
        }
        let id = digest(&frame[4..]);
        let advertised = Advertised {
            height,
            frame: Arc::new(frame),
            sent: HashMap::new(),
        };
        self.advertised.insert(id, advertised);
        Arc::new(Message::Advert { id, height }.to_frame())
    }

    /// Whether a received artifact with this encoding digest is not a
    /// copy of one received in the last [`DEDUPE_WINDOW`].
    pub fn is_new(&mut self, id: Hash) -> bool {
        self.requested.remove(&id);
        let now = Instant::now();
        if self.recently_seen(&id, now) {
            return false;
        }
        self.seen.insert(id, now);
        true
    }

    fn recently_seen(&self, id: &Hash, now: Instant) -> bool {
        self.seen
            .get(id)
            .is_some_and(|at| now.duration_since(*at) < DEDUPE_WINDOW)
    }

    /// Whether to fetch an advertised artifact (not just received, not being fetched).
    pub fn should_fetch(&mut self, id: Hash) -> bool {
        if self.recently_seen(&id, Instant::now()) {
            return false;
        }
        let now = Instant::now();
        match self.requested.get(&id) {
            Some(asked) if now.duration_since(*asked) < FETCH_RETRY => false,
            _ => {
                self.requested.insert(id, now);
                true
            }
        }
    }

    /// The full frame of an artifact we advertised, for `peer` at `now`,
    /// unless it was sent to `peer` less than [`FETCH_RETRY`] ago.
    pub fn fetch(&mut self, peer: NodeId, id: &Hash, now: Instant) -> Option<Arc<Vec<u8>>> {
        let advertised = self.advertised.get_mut(id)?;
        if advertised
            .sent
            .get(&peer)
            .is_some_and(|at| now.saturating_duration_since(*at) < FETCH_RETRY)
        {
            return None;
        }
        advertised.sent.insert(peer, now);
        Some(Arc::clone(&advertised.frame))
    }

    /// Forgets adverts below `height`, and digests and fetches gone stale.
    pub fn prune(&mut self, height: Height) {
        self.advertised
            .retain(|_, advertised| advertised.height >= height);
        self.seen.retain(|_, at| at.elapsed() < DEDUPE_WINDOW);
        self.requested
            .retain(|_, asked| asked.elapsed() < 10 * FETCH_RETRY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainkey_consensus::types::{IngressMessage, Proposal};
    use chainkey_consensus::Block;

    fn proposal(payload_bytes: usize) -> Artifact {
        Artifact::Proposal(Proposal {
            block: Block {
                height: 7,
                parent: Hash::default(),
                rank: 0,
                maker: 1,
                time_ns: 0,
                beacon: Hash::default(),
                payload: chainkey_consensus::Payload {
                    ingress: vec![IngressMessage {
                        id: Hash([1; 32]),
                        content: vec![0; payload_bytes],
                    }],
                    ..Default::default()
                },
            },
            signature: vec![2; 48],
        })
    }

    #[test]
    fn large_artifacts_are_advertised_fetched_once_and_deduplicated() {
        let mut sender = Dissemination::default();
        let small = sender.outgoing(proposal(10));
        assert!(matches!(
            Message::from_body(&small[4..]).unwrap(),
            Message::Artifact(_)
        ));
        let advert = sender.outgoing(proposal(ADVERT_THRESHOLD));
        let Message::Advert { id, height: 7 } = Message::from_body(&advert[4..]).unwrap() else {
            panic!("a large proposal is advertised");
        };
        let now = Instant::now();
        let full = sender.fetch(2, &id, now).expect("kept for fetching");
        assert_eq!(digest(&full[4..]), id);
        assert!(sender.fetch(2, &id, now).is_none(), "not again at once");
        assert!(sender.fetch(3, &id, now).is_some(), "each peer has its own");
        assert!(
            sender.fetch(2, &id, now + FETCH_RETRY).is_some(),
            "again after an honest peer's retry time"
        );

        let mut receiver = Dissemination::default();
        assert!(receiver.should_fetch(id));
        assert!(!receiver.should_fetch(id), "one fetch at a time");
        assert!(receiver.is_new(id));
        assert!(!receiver.is_new(id), "a copy close behind is dropped");
        assert!(!receiver.should_fetch(id), "nothing to fetch once received");
        std::thread::sleep(DEDUPE_WINDOW);
        assert!(receiver.is_new(id), "a later re-send gets through");
        sender.prune(8);
        assert!(sender.fetch(4, &id, now).is_none());
    }
}
