//! A block's payload, section by section: ingress (the IC's limits, every
//! message's signature checked in one batch), chain-key work and NIDKG
//! reshares (the chain-key pool's rules, each section within its own
//! limits), the maker's query statistics ([`crate::query_stats`]), and
//! streams from other subnets (reserved: refused until cross-subnet
//! messaging exists). [`NodePayloads`] builds this node's
//! payloads and judges everyone's, cheap checks first; every refusal is a
//! [`PayloadError`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chainkey_consensus::types::IngressMessage;
use chainkey_consensus::{Hash, Height, IngressQueue, NodeId, Payload, PayloadBuilder};
use chainkey_crypto::batch::{BatchVerifier, Job};

use crate::cbor::to_cbor;
use crate::chain_key::pool::{
    ChainKeyPool, MAX_BLS_DEALINGS_PER_BLOCK, MAX_DEALINGS_PER_BLOCK, MAX_SIGNATURES_PER_BLOCK,
};
use crate::ingress::{
    content_key, decode, expiries, unix_ms, Admission, DecodedCalls, IngressBlockError, Seen,
    Submission, BUILD_MARGIN_MS, MAX_PENDING, VALIDATION_SLACK_MS,
};
use crate::query_stats::{self, Collector, QueryStatsError};

/// The node's block payloads: its queue of accepted messages, and the
/// validation of other makers' payloads (every message decodes, matches
/// its id, is not expired or already finalized, and is signed — checked
/// in one batch, skipping messages this node already verified).
pub struct NodePayloads {
    queue: IngressQueue,
    /// Expiry of each queued message.
    expiries: HashMap<Hash, u64>,
    verifier: Arc<BatchVerifier>,
    /// Messages this node verified (accepted itself or validated in a
    /// block), by a digest of their whole encoding (signature included):
    /// a block repeating one is not decoded or verified again, but its
    /// times are checked against the block's like any other's.
    verified: RefCell<HashMap<Hash, Admission>>,
    /// Update calls decoded while validating blocks, for execution.
    decoded: RefCell<DecodedCalls>,
    finalized: Seen,
    /// Messages delivered in finalized blocks so far.
    pub finalized_messages: u64,
    /// Chain-key work: the finalized chain-key state and what waits for blocks.
    pub chain_key: ChainKeyPool,
    /// This node's query statistics, and how to judge others' reports.
    query_stats: QueryStatsSection,
}

/// The query-stats section as this node sees it: who it is, what it
/// counted (shared with the HTTP endpoint, which records every query),
/// and the bounds reports are judged by.
pub struct QueryStatsSection {
    /// This node.
    pub me: NodeId,
    /// Its counts.
    pub collector: Arc<Mutex<Collector>>,
    /// What one query can count.
    pub bounds: query_stats::Bounds,
}

impl NodePayloads {
    /// Payloads verified with `verifier`, chain-key work from `chain_key`,
    /// this node's query statistics from `query_stats`.
    pub fn new(
        queue: IngressQueue,
        verifier: Arc<BatchVerifier>,
        chain_key: ChainKeyPool,
        query_stats: QueryStatsSection,
    ) -> Self {
        NodePayloads {
            chain_key,
            query_stats,
            queue,
            expiries: HashMap::new(),
            verifier,
            verified: RefCell::new(HashMap::new()),
            decoded: RefCell::default(),
            finalized: Seen::default(),
            finalized_messages: 0,
        }
    }

    /// Queues a message this node verified for a future block (and keeps
    /// its update call for execution); false if the queue is full
    /// ([`MAX_PENDING`]).
    pub fn submit(&mut self, submission: Submission) -> bool {
        let Submission {
            admission,
            message,
            call,
        } = submission;
        let id = admission.id;
        if self.finalized.contains(&id) || self.expiries.contains_key(&id) {
            return true;
        }
        if self.queue.len() >= MAX_PENDING {
            return false;
        }
        let content = to_cbor(&message);
        self.expiries.insert(id, admission.expiry_ms);
        if let Some(call) = call {
            self.decoded.get_mut().keep(id, admission.expiry_ms, call);
        }
        self.verified
            .borrow_mut()
            .insert(content_key(&content), admission);
        self.queue.submit(IngressMessage { id, content });
        true
    }

    /// Remembers ingress finalized before a restart (from the store), so
    /// it is never ordered again.
    pub fn restore_finalized(&mut self, ids: impl IntoIterator<Item = (Hash, u64)>) {
        for (id, expiry) in ids {
            self.finalized.insert(id, expiry);
        }
    }

    /// This node's query counts (a poisoned lock still holds whole counts:
    /// every update to them is one call that cannot panic midway).
    fn collector(&self) -> std::sync::MutexGuard<'_, Collector> {
        self.query_stats
            .collector
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Messages waiting for a block.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Drops expired messages from the queue and from memory.
    pub fn prune(&mut self, now_ms: u64) {
        self.finalized.prune(now_ms);
        self.expiries.retain(|_, expiry| *expiry >= now_ms);
        let expiries = &self.expiries;
        self.queue
            .retain(|message| expiries.contains_key(&message.id));
        self.verified.borrow_mut().retain(|_, admission| {
            admission.expiry_ms.saturating_add(VALIDATION_SLACK_MS) >= now_ms
        });
        self.decoded.borrow_mut().prune(now_ms);
    }

    /// The update calls of a finalized payload, in order, as execution
    /// takes them (decoded again only if validation did not keep them).
    pub fn take_calls(&mut self, payload: &Payload) -> Vec<crate::execution::IngressCall> {
        self.decoded.get_mut().take(&payload.ingress)
    }
}

impl NodePayloads {
    /// Why a proposed payload is refused, if it is: each section checked
    /// against its own limits and rules, the cheap checks first.
    fn refusal(
        &self,
        height: Height,
        maker: NodeId,
        payload: &Payload,
        past: &[&Payload],
        time_ns: u64,
    ) -> Result<(), PayloadError> {
        if !payload.xnet.is_empty() {
            return Err(PayloadError::XNet);
        }
        SectionLimit::CHAIN_KEY.check(&payload.chain_key)?;
        SectionLimit::NIDKG.check(&payload.nidkg)?;
        let bounds = &self.query_stats.bounds;
        query_stats::check(&payload.query_stats, maker, past, bounds)
            .map_err(PayloadError::QueryStats)?;
        if !self.queue.validate(height, maker, payload, past, time_ns) {
            return Err(PayloadError::Ingress(IngressBlockError::Limits));
        }
        self.validate_ingress(&payload.ingress, time_ns)?;
        self.chain_key
            .validate(height, payload, past)
            .map_err(PayloadError::ChainKey)
    }

    /// Checks a payload's ingress: every message decodes, matches its id,
    /// is not expired or already finalized, and is signed — checked in one
    /// batch, skipping messages this node already verified.
    fn validate_ingress(
        &self,
        ingress: &[IngressMessage],
        time_ns: u64,
    ) -> Result<(), PayloadError> {
        let refuse = |error| Err(PayloadError::Ingress(error));
        let mut unverified = Vec::new();
        let mut calls = Vec::new();
        let mut jobs = Vec::new();
        for message in ingress {
            let key = content_key(&message.content);
            let known = self.verified.borrow().get(&key).copied();
            let admission = match known {
                Some(known) => known,
                None => {
                    let Some((admission, claims, call)) =
                        decode(&message.content).and_then(|item| item.checks())
                    else {
                        return refuse(IngressBlockError::Malformed);
                    };
                    unverified.push((key, admission));
                    calls.extend(call.map(|call| (admission, call)));
                    jobs.extend(claims.into_iter().map(Job::new));
                    admission
                }
            };
            if admission.id != message.id {
                return refuse(IngressBlockError::WrongId);
            }
            if self.finalized.contains(&message.id) {
                return refuse(IngressBlockError::Finalized);
            }
            if let Err(error) = admission.valid_at(time_ns) {
                return refuse(error);
            }
        }
        if !self.verifier.verify(&jobs).into_iter().all(|valid| valid) {
            return refuse(IngressBlockError::Signature);
        }
        self.verified.borrow_mut().extend(unverified);
        let mut decoded = self.decoded.borrow_mut();
        for (admission, call) in calls {
            decoded.keep(admission.id, admission.expiry_ms, call);
        }
        Ok(())
    }
}

impl PayloadBuilder for NodePayloads {
    fn build(
        &mut self,
        height: Height,
        _parent: &Hash,
        past: &[&Payload],
        time_ns: u64,
    ) -> Payload {
        let time_ms = time_ns / 1_000_000;
        let expiries = &self.expiries;
        let ingress = self
            .queue
            .build_within(past, self.queue.limits())
            .into_iter()
            .filter(|message| {
                expiries
                    .get(&message.id)
                    .is_some_and(|expiry| *expiry >= time_ms + BUILD_MARGIN_MS)
            })
            .collect();
        let mut payload = Payload {
            ingress,
            ..Payload::default()
        };
        let items = self.chain_key.build(height, past);
        crate::chain_key::place(&items, &mut payload);
        // The pool's counts keep its sections within their byte limits; a
        // block over them would be refused by every node, so it goes empty.
        if SectionLimit::CHAIN_KEY.check(&payload.chain_key).is_err()
            || SectionLimit::NIDKG.check(&payload.nidkg).is_err()
        {
            tracing::error!(
                height,
                "chain-key items over their section's limit: left out"
            );
            payload.chain_key.clear();
            payload.nidkg.clear();
        }
        payload.query_stats = self.collector().report(self.query_stats.me, height, past);
        payload
    }

    fn now_ns(&self) -> u64 {
        unix_ms().saturating_mul(1_000_000)
    }

    fn validate(
        &self,
        height: Height,
        maker: NodeId,
        payload: &Payload,
        past: &[&Payload],
        time_ns: u64,
    ) -> bool {
        match self.refusal(height, maker, payload, past, time_ns) {
            Ok(()) => true,
            Err(error) => {
                tracing::debug!(height, %error, "block refused");
                false
            }
        }
    }

    fn on_finalized(&mut self, height: Height, payload: &Payload) {
        self.queue.on_finalized(height, payload);
        let ingress = expiries(payload);
        self.finalized_messages += ingress.len() as u64;
        for (id, expiry) in ingress {
            self.expiries.remove(&id);
            self.finalized.insert(id, expiry);
        }
        self.chain_key.on_finalized(height, payload);
        self.collector().on_finalized(height, payload);
    }

    fn can_validate(&self, finalized_height: Height, payload: &Payload) -> bool {
        // A section over its limits is refused by `validate` at once: it
        // must not wait, nor be decoded here first.
        if SectionLimit::CHAIN_KEY.check(&payload.chain_key).is_err()
            || SectionLimit::NIDKG.check(&payload.nidkg).is_err()
        {
            return true;
        }
        self.chain_key.can_validate(finalized_height, payload)
    }
}

/// The byte and entry limits of a payload section besides ingress (whose
/// limits are the IC's, in [`chainkey_consensus::PayloadLimits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionLimit {
    /// The section.
    pub section: &'static str,
    /// Entries, at most.
    pub max_entries: usize,
    /// Bytes of all entries together, at most.
    pub max_bytes: usize,
}

impl SectionLimit {
    /// Chain-key work: the IDKG dealings and signatures the pool puts in
    /// one block at most, and a subnet record.
    pub const CHAIN_KEY: SectionLimit = SectionLimit {
        section: "chain_key",
        max_entries: MAX_DEALINGS_PER_BLOCK + MAX_SIGNATURES_PER_BLOCK + 1,
        max_bytes: 4 << 20,
    };
    /// BLS key reshares: the NIDKG dealings the pool puts in one block at most.
    pub const NIDKG: SectionLimit = SectionLimit {
        section: "nidkg",
        max_entries: MAX_BLS_DEALINGS_PER_BLOCK,
        max_bytes: 4 << 20,
    };

    /// Whether `entries` are within the limit.
    ///
    /// # Errors
    /// [`PayloadError::SectionTooLarge`].
    pub fn check(&self, entries: &[serde_bytes::ByteBuf]) -> Result<(), PayloadError> {
        let bytes: usize = entries.iter().map(|entry| entry.len()).sum();
        if entries.len() > self.max_entries || bytes > self.max_bytes {
            return Err(PayloadError::SectionTooLarge {
                section: self.section,
                entries: entries.len(),
                bytes,
            });
        }
        Ok(())
    }
}

/// Why a proposed block payload is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Its ingress section.
    #[error("ingress: {0}")]
    Ingress(IngressBlockError),
    /// Its chain-key or NIDKG section.
    #[error("chain-key: {0}")]
    ChainKey(crate::chain_key::state::ItemError),
    /// A section over its limit.
    #[error("the {section} section holds {entries} entries, {bytes} bytes: over its limit")]
    SectionTooLarge {
        /// The section.
        section: &'static str,
        /// Its entries.
        entries: usize,
        /// Its bytes.
        bytes: usize,
    },
    /// Its query statistics.
    #[error("query stats: {0}")]
    QueryStats(QueryStatsError),
    /// Streams from other subnets, which this subnet does not take yet.
    #[error("the xnet section is not empty")]
    XNet,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingress::{Ingress, SignedIngress, MAX_EXPIRY_MS};

    fn ed25519(seed: u8) -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
    }

    fn ingress(entries: &[IngressMessage]) -> Payload {
        Payload {
            ingress: entries.to_vec(),
            ..Payload::default()
        }
    }

    /// Node 0's payloads.
    fn payloads() -> NodePayloads {
        NodePayloads::new(
            IngressQueue::default(),
            Arc::new(BatchVerifier::default()),
            ChainKeyPool::new(crate::chain_key::state::tests::genesis(1)),
            QueryStatsSection {
                me: 0,
                collector: Arc::default(),
                bounds: query_stats::Bounds {
                    instructions: 1_000,
                    request_bytes: 1_000,
                    response_bytes: 1_000,
                },
            },
        )
    }

    /// A call whose sender's delegation expires between two blocks is
    /// judged alike by the node that accepted it over HTTP (and so knows
    /// its signatures) and by a node that verifies it in the block: valid
    /// in the first block, refused in the second.
    #[test]
    fn a_delegation_that_expired_at_the_block_time_is_refused_by_every_node() {
        let now_ns = unix_ms() * 1_000_000;
        let delegation_expiry = now_ns + 1_000_000_000;
        let user = ed25519(7);
        let identity = crate::ic::client::Identity::delegated(&user, ed25519(8), delegation_expiry);
        let expiry_ns = now_ns + 120_000_000_000;
        let call = identity.call(&[1; 10], "inc", Vec::new(), expiry_ns, 1);
        let item = Ingress::Call {
            expiry_ms: expiry_ns / 1_000_000,
            envelope: call.envelope,
        };
        let entry = IngressMessage {
            id: Hash(call.request_id),
            content: to_cbor(&item),
        };
        let block = ingress(std::slice::from_ref(&entry));
        let (admission, _, call) = item.checks().unwrap();
        assert_eq!(admission.delegation_expiry_ns, Some(delegation_expiry));
        let mut accepted_here = payloads();
        assert!(accepted_here.submit(Submission {
            admission,
            message: item,
            call
        }));
        let verifies_in_the_block = payloads();
        let after_expiry = delegation_expiry + 1;
        for node in [&accepted_here, &verifies_in_the_block] {
            assert_eq!(node.refusal(1, 0, &block, &[], now_ns), Ok(()));
            assert_eq!(
                node.refusal(1, 0, &block, &[], after_expiry),
                Err(PayloadError::Ingress(IngressBlockError::DelegationExpired))
            );
        }
    }

    /// Execution gets the same calls from a node that decoded them while
    /// validating the block as from one that decodes them afresh.
    #[test]
    fn execution_gets_the_calls_validation_decoded_and_the_others_decoded_again() {
        let now_ns = unix_ms() * 1_000_000;
        let identity = crate::ic::client::Identity::new(ed25519(3));
        let expiry_ns = now_ns + 120_000_000_000;
        let entries: Vec<IngressMessage> = (0..3u8)
            .map(|nonce| {
                let call = identity.call(&[1; 10], "inc", vec![nonce], expiry_ns, nonce.into());
                let item = Ingress::Call {
                    expiry_ms: expiry_ns / 1_000_000,
                    envelope: call.envelope,
                };
                IngressMessage {
                    id: Hash(call.request_id),
                    content: to_cbor(&item),
                }
            })
            .collect();
        let block = ingress(&entries);
        let mut validated = payloads();
        assert_eq!(validated.refusal(1, 0, &block, &[], now_ns), Ok(()));
        let expected: Vec<_> = entries
            .iter()
            .map(|entry| crate::ingress::update_call(entry).unwrap())
            .collect();
        assert_eq!(expected[2].arg, vec![2]);
        assert_eq!(validated.take_calls(&block), expected);
        assert_eq!(payloads().take_calls(&block), expected);
        // Taken once: a second take decodes again, the same.
        assert_eq!(validated.take_calls(&block), expected);
    }

    /// The node that accepted a call keeps what its HTTP interface decoded
    /// of it: its own block's execution does not decode the call again
    /// (the kept call is marked here, to tell it from a second decoding).
    #[test]
    fn the_accepting_node_executes_the_call_it_decoded_on_admission() {
        let now_ns = unix_ms() * 1_000_000;
        let identity = crate::ic::client::Identity::new(ed25519(3));
        let expiry_ns = now_ns + 120_000_000_000;
        let call = identity.call(&[1; 10], "inc", vec![1], expiry_ns, 1);
        let message = Ingress::Call {
            expiry_ms: expiry_ns / 1_000_000,
            envelope: call.envelope,
        };
        let (admission, _, decoded) = message.checks().unwrap();
        let mut marked = decoded.unwrap();
        marked.arg = b"kept".to_vec();
        let mut maker = payloads();
        assert!(maker.submit(Submission {
            admission,
            message,
            call: Some(marked.clone()),
        }));
        let block = maker.build(1, &Hash([0; 32]), &[], now_ns);
        assert_eq!(block.ingress.len(), 1);
        assert_eq!(maker.take_calls(&block), vec![marked]);
    }

    #[test]
    fn payloads_with_forged_or_finalized_messages_are_refused() {
        let now = unix_ms();
        let at_now = now * 1_000_000;
        let maker = ed25519(5);
        let message = SignedIngress::sign_ed25519(&maker, 1, now + 60_000, b"pay".to_vec());
        let entry = IngressMessage {
            id: message.id(),
            content: to_cbor(&Ingress::Signed(message.clone())),
        };
        let refused = |error| Err(PayloadError::Ingress(error));
        // A node that never saw the message verifies it in the block.
        let mut other = payloads();
        assert_eq!(
            other.refusal(1, 0, &ingress(std::slice::from_ref(&entry)), &[], at_now),
            Ok(())
        );
        // Expiry is judged by the block's time, not the validator's clock.
        let later = (now + 120_000) * 1_000_000;
        assert_eq!(
            other.refusal(1, 0, &ingress(std::slice::from_ref(&entry)), &[], later),
            refused(IngressBlockError::Expiry)
        );
        let unfinalized_parent = ingress(std::slice::from_ref(&entry));
        assert_eq!(
            other.refusal(
                1,
                0,
                &ingress(std::slice::from_ref(&entry)),
                &[&unfinalized_parent],
                at_now
            ),
            refused(IngressBlockError::Limits),
            "a message in an unfinalized ancestor is not ordered twice"
        );
        let mut forged = message.clone();
        forged.content = b"steal".to_vec();
        let forged_entry = IngressMessage {
            id: forged.id(),
            content: to_cbor(&Ingress::Signed(forged.clone())),
        };
        assert_eq!(
            other.refusal(1, 0, &ingress(&[forged_entry]), &[], at_now),
            refused(IngressBlockError::Signature)
        );
        let mismatched = IngressMessage {
            id: Hash([3; 32]),
            content: to_cbor(&Ingress::Signed(message.clone())),
        };
        assert_eq!(
            other.refusal(1, 0, &ingress(&[mismatched]), &[], at_now),
            refused(IngressBlockError::WrongId)
        );
        // A message this node verified, re-included with another signature,
        // is checked again (the verified set covers the whole encoding).
        let mut resigned = message.clone();
        resigned.signature[0] ^= 1;
        let resigned_entry = IngressMessage {
            id: resigned.id(),
            content: to_cbor(&Ingress::Signed(resigned.clone())),
        };
        assert_eq!(resigned_entry.id, entry.id);
        assert_eq!(
            other.refusal(1, 0, &ingress(&[resigned_entry]), &[], at_now),
            refused(IngressBlockError::Signature)
        );
        let far = SignedIngress::sign_ed25519(&maker, 2, now + 2 * MAX_EXPIRY_MS, vec![]);
        let far_entry = IngressMessage {
            id: far.id(),
            content: to_cbor(&Ingress::Signed(far.clone())),
        };
        assert_eq!(
            other.refusal(1, 0, &ingress(&[far_entry]), &[], at_now),
            refused(IngressBlockError::Expiry),
            "expiry too far ahead"
        );
        other.on_finalized(1, &ingress(std::slice::from_ref(&entry)));
        assert_eq!(
            other.refusal(2, 0, &ingress(&[entry]), &[], at_now),
            refused(IngressBlockError::Finalized),
            "finalized once, never again"
        );
    }

    /// Blocks stored before the query-stats section existed (their
    /// payloads' encoding has no such field) still decode.
    #[test]
    fn a_payload_stored_before_query_stats_existed_decodes() {
        let mut stored = ciborium::Value::serialized(&payload_with_entry()).unwrap();
        let ciborium::Value::Map(fields) = &mut stored else {
            panic!("a payload encodes as a map");
        };
        fields.retain(|(key, _)| key.as_text() != Some("query_stats"));
        assert_eq!(fields.len(), 4, "the four older sections");
        let decoded: Payload = ciborium::from_reader(to_cbor(&stored).as_slice()).unwrap();
        assert_eq!(decoded, payload_with_entry());
    }

    /// A payload with one (malformed) chain-key entry.
    fn payload_with_entry() -> Payload {
        Payload {
            chain_key: vec![vec![0xff, 0].into()],
            ..Payload::default()
        }
    }

    #[test]
    fn each_section_has_its_own_limits() {
        let now = unix_ms();
        let at_now = now * 1_000_000;
        let nodes = payloads();
        let full_ingress: Vec<IngressMessage> = (0..chainkey_consensus::PayloadLimits::default()
            .max_messages as u64)
            .map(|nonce| {
                let message = SignedIngress::sign_ed25519(&ed25519(9), nonce, now + 60_000, vec![]);
                IngressMessage {
                    id: message.id(),
                    content: to_cbor(&Ingress::Signed(message)),
                }
            })
            .collect();
        // A block full of ingress is valid; chain-key entries beside it do
        // not count against the ingress limits (this one is judged by the
        // chain-key rules: garbage, refused as malformed, not as too many).
        let mut payload = ingress(&full_ingress);
        assert_eq!(nodes.refusal(1, 0, &payload, &[], at_now), Ok(()));
        payload.chain_key.push(vec![0xff, 0].into());
        assert_eq!(
            nodes.refusal(1, 0, &payload, &[], at_now),
            Err(PayloadError::ChainKey(
                crate::chain_key::state::ItemError::Malformed
            ))
        );
        // Over a section's own limits.
        let crowded = Payload {
            nidkg: vec![vec![0].into(); MAX_BLS_DEALINGS_PER_BLOCK + 1],
            ..Payload::default()
        };
        assert!(matches!(
            nodes.refusal(1, 0, &crowded, &[], at_now),
            Err(PayloadError::SectionTooLarge {
                section: "nidkg",
                ..
            })
        ));
        let heavy = Payload {
            chain_key: vec![vec![0; 5 << 20].into()],
            ..Payload::default()
        };
        assert!(matches!(
            nodes.refusal(1, 0, &heavy, &[], at_now),
            Err(PayloadError::SectionTooLarge {
                section: "chain_key",
                ..
            })
        ));
        // While the chain-key state lags, a block with chain-key items
        // waits; one whose sections are over their limits does not (it is
        // refused without its entries being decoded).
        let lagging = payload_with_entry();
        assert!(!nodes.can_validate(5, &lagging));
        assert!(nodes.can_validate(5, &heavy));
        // A node reports its own query counts in the blocks it makes, and
        // only its own.
        let mut maker = payloads();
        let counts = crate::execution::QueryCounts {
            calls: 1,
            instructions: 10,
            request_bytes: 10,
            response_bytes: 10,
        };
        maker.collector().record(b"canister", &counts);
        let reporting = maker.build(1, &Hash::default(), &[], at_now);
        assert_eq!(reporting.query_stats.len(), 1);
        assert_eq!(nodes.refusal(1, 0, &reporting, &[], at_now), Ok(()));
        assert_eq!(
            nodes.refusal(1, 3, &reporting, &[], at_now),
            Err(PayloadError::QueryStats(QueryStatsError::NotTheMaker {
                reporter: 0,
                maker: 3
            }))
        );
        // Streams from other subnets are not taken yet.
        let xnet = Payload {
            xnet: vec![vec![1].into()],
            ..Payload::default()
        };
        assert_eq!(
            nodes.refusal(1, 0, &xnet, &[], at_now),
            Err(PayloadError::XNet)
        );
    }
}
