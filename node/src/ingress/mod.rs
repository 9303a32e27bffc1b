//! Signed ingress messages: what users submit, how a node checks them
//! (signatures in one batch), deduplicates and expires them. Block
//! payloads carrying them are built and judged in [`crate::payload`].
//!
//! A message is signed by its sender with Ed25519 or ECDSA over secp256k1
//! (low-s, as the Internet Computer). Its id commits to everything but the
//! signature; the Ed25519 signature is on the id, the ECDSA one on the id
//! as the prehash. A message is accepted until its expiry, at most
//! [`MAX_EXPIRY_MS`] ahead, and only once: ids are remembered until they expire.

mod decoded;

pub use decoded::{DecodedCalls, MAX_DECODED_BYTES};

use std::collections::HashMap;

use chainkey_consensus::types::IngressMessage;
use chainkey_consensus::{Hash, Payload};
use chainkey_crypto::batch::{
    Claim, EcdsaClaim, Ed25519Claim, Job, Malleability, Secp256k1, VerifyService,
};
use serde::{Deserialize, Serialize};

use crate::ic::envelope::{Envelope, RequestError};

/// How far ahead a message may expire (the IC's limit is 5 minutes).
pub const MAX_EXPIRY_MS: u64 = 5 * 60 * 1000;
/// The largest content accepted.
pub const MAX_CONTENT: usize = 64 << 10;
/// Nodes' clocks may differ: a block's messages may have expired this long
/// ago by the validating node's clock.
pub const VALIDATION_SLACK_MS: u64 = 30_000;
/// A block maker only includes messages valid at least this much longer.
pub(crate) const BUILD_MARGIN_MS: u64 = 5_000;
/// Messages a node holds for its blocks at most (more are refused as
/// [`IngressError::QueueFull`] until blocks take some).
pub const MAX_PENDING: usize = 100_000;

/// Who signed a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sender {
    /// An Ed25519 public key (32 bytes).
    Ed25519(#[serde(with = "serde_bytes")] Vec<u8>),
    /// A secp256k1 public key (SEC1, compressed or not).
    Secp256k1(#[serde(with = "serde_bytes")] Vec<u8>),
}

/// A user's signed message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIngress {
    /// The signer.
    pub sender: Sender,
    /// Makes otherwise equal messages distinct.
    pub nonce: u64,
    /// Unix time (ms) after which the message is void.
    pub expiry_ms: u64,
    /// The message itself (opaque until execution).
    #[serde(with = "serde_bytes")]
    pub content: Vec<u8>,
    /// The sender's signature on [`SignedIngress::id`].
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

/// What a block orders: one of chainkey's own signed messages, or an
/// IC update call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ingress {
    /// A message of `POST /api/v1/ingress`.
    Signed(SignedIngress),
    /// An IC update call: its CBOR envelope, as the user sent it (the
    /// signatures cover it, so every node checks them again), and its
    /// expiry, which validation checks against the envelope's so that
    /// later readers need not decode the envelope.
    Call {
        /// The envelope's `ingress_expiry`, in Unix ms.
        expiry_ms: u64,
        /// The envelope.
        #[serde(with = "serde_bytes")]
        envelope: Vec<u8>,
    },
}

/// An IC update call, read from its envelope.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateCall {
    /// The envelope.
    pub envelope: Envelope,
    /// Its request id.
    pub request_id: [u8; 32],
    /// The called canister (empty: the management canister).
    pub canister_id: Vec<u8>,
    /// The method.
    pub method: String,
    /// The argument.
    pub arg: Vec<u8>,
    /// When it expires (Unix nanoseconds).
    pub expiry_ns: u64,
}

impl UpdateCall {
    /// Reads an update call's envelope.
    ///
    /// # Errors
    /// [`RequestError::Malformed`] if it is not one.
    pub fn parse(bytes: &[u8]) -> Result<UpdateCall, RequestError> {
        let envelope = Envelope::from_cbor(bytes)?;
        if envelope.text("request_type")? != "call" {
            return Err(RequestError::Malformed("request_type"));
        }
        let request_id = envelope.request_id()?;
        Ok(UpdateCall {
            request_id,
            canister_id: envelope.blob("canister_id")?.to_vec(),
            method: envelope.text("method_name")?.to_string(),
            arg: envelope.blob("arg")?.to_vec(),
            expiry_ns: envelope.expiry_ns()?,
            envelope,
        })
    }

    /// What execution needs of it, with its sender.
    pub fn into_execution(self) -> Result<crate::execution::IngressCall, RequestError> {
        Ok(crate::execution::IngressCall {
            request_id: self.request_id,
            sender: self.envelope.blob("sender")?.to_vec(),
            canister_id: self.canister_id,
            method: self.method,
            arg: self.arg,
            expiry_ns: self.expiry_ns,
        })
    }
}

impl Ingress {
    /// When it expires, Unix ms.
    pub fn expiry_ms(&self) -> u64 {
        match self {
            Ingress::Signed(message) => message.expiry_ms,
            Ingress::Call { expiry_ms, .. } => *expiry_ms,
        }
    }

    /// What validating it takes: its signature checks, and what a node
    /// may remember once they verified ([`Admission`]) — for an update
    /// call also what execution takes of it, read from the envelope the
    /// checks decode anyway. Nothing here depends on time;
    /// [`Admission::valid_at`] is checked at every use.
    pub(crate) fn checks(
        &self,
    ) -> Option<(Admission, Vec<Claim>, Option<crate::execution::IngressCall>)> {
        match self {
            Ingress::Signed(message) => {
                let id = message.id();
                let claim = message.claim(&id).ok()?;
                let admission = Admission {
                    id,
                    expiry_ms: message.expiry_ms,
                    delegation_expiry_ns: None,
                };
                Some((admission, vec![claim], None))
            }
            Ingress::Call {
                expiry_ms,
                envelope,
            } => {
                let call = UpdateCall::parse(envelope).ok()?;
                if call.expiry_ns / 1_000_000 != *expiry_ms {
                    return None;
                }
                let (authenticated, checks) = call
                    .envelope
                    .claims_for(call.request_id, &call.canister_id)
                    .ok()?;
                let admission = Admission {
                    id: Hash(call.request_id),
                    expiry_ms: *expiry_ms,
                    delegation_expiry_ns: authenticated.delegation_expiry.map(|(_, at)| at),
                };
                let claims = checks.into_iter().map(|(_, claim)| claim).collect();
                Some((admission, claims, call.into_execution().ok()))
            }
        }
    }
}

/// A message the node's HTTP interface accepted, on its way to the block
/// maker's queue: what the node remembers of it, the message, and for an
/// update call what execution takes of it (decoded once, here, not again
/// when a block of this node's executes it).
#[derive(Debug)]
pub struct Submission {
    /// Its id and expiries.
    pub admission: Admission,
    /// The message.
    pub message: Ingress,
    /// The update call it carries, as execution takes it.
    pub call: Option<crate::execution::IngressCall>,
}

/// Why a block's ingress section is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IngressBlockError {
    /// Over the ingress limits, a message twice, or one an ancestor ordered.
    #[error("over the limits or ordered before")]
    Limits,
    /// A message that does not decode or whose checks fail.
    #[error("a malformed message")]
    Malformed,
    /// A message whose id is not its content's.
    #[error("a message under another id")]
    WrongId,
    /// A message finalized before.
    #[error("a message finalized before")]
    Finalized,
    /// A message expired, or expiring too far ahead, at the block's time.
    #[error("a message expired or too far ahead")]
    Expiry,
    /// A signature that does not verify.
    #[error("an invalid signature")]
    Signature,
    /// A call whose sender's delegation expired at the block's time.
    #[error("a call whose delegation expired")]
    DelegationExpired,
}

/// What a node remembers of a message whose signatures it verified: its
/// id and the times after which it is void.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admission {
    /// The message id.
    pub id: Hash,
    /// Its expiry, Unix ms.
    pub expiry_ms: u64,
    /// When its first delegation expires, Unix ns (none: no delegation).
    pub delegation_expiry_ns: Option<u64>,
}

impl Admission {
    /// Whether it may be in a block of time `time_ns`: not expired, not
    /// too far ahead, no delegation expired. Judged by the block's time,
    /// so every node decides alike, whether it verified the message
    /// before or not.
    pub fn valid_at(&self, time_ns: u64) -> Result<(), IngressBlockError> {
        let time_ms = time_ns / 1_000_000;
        let latest = time_ms + MAX_EXPIRY_MS + VALIDATION_SLACK_MS;
        if self.expiry_ms < time_ms || self.expiry_ms > latest {
            return Err(IngressBlockError::Expiry);
        }
        if self.delegation_expiry_ns.is_some_and(|at| at < time_ns) {
            return Err(IngressBlockError::DelegationExpired);
        }
        Ok(())
    }
}

/// The update call a finalized message carries, as execution takes it
/// (`None` for chainkey's own signed messages).
pub fn update_call(message: &IngressMessage) -> Option<crate::execution::IngressCall> {
    match decode(&message.content)? {
        Ingress::Call { envelope, .. } => UpdateCall::parse(&envelope).ok()?.into_execution().ok(),
        Ingress::Signed(_) => None,
    }
}

/// Why a message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
pub enum IngressError {
    /// The sender's key does not decode.
    #[error("malformed sender key")]
    MalformedKey,
    /// The signature does not decode.
    #[error("malformed signature")]
    MalformedSignature,
    /// The signature does not verify.
    #[error("invalid signature")]
    InvalidSignature,
    /// Its expiry has passed.
    #[error("expired")]
    Expired,
    /// Its expiry is more than 5 minutes ahead.
    #[error("expiry too far in the future")]
    ExpiryTooFar,
    /// Already accepted or finalized.
    #[error("duplicate")]
    Duplicate,
    /// Content over the size limit.
    #[error("content too large")]
    TooLarge,
    /// The node holds as many messages as it will queue; try again later.
    #[error("ingress queue full")]
    QueueFull,
    /// The bytes are not a signed message.
    #[error("malformed message")]
    Malformed,
}

impl IngressError {
    /// A stable identifier for metrics (`Display` is for people).
    pub fn label(&self) -> &'static str {
        match self {
            IngressError::MalformedKey => "malformed_key",
            IngressError::MalformedSignature => "malformed_signature",
            IngressError::InvalidSignature => "invalid_signature",
            IngressError::Expired => "expired",
            IngressError::ExpiryTooFar => "expiry_too_far",
            IngressError::Duplicate => "duplicate",
            IngressError::TooLarge => "too_large",
            IngressError::QueueFull => "queue_full",
            IngressError::Malformed => "malformed",
        }
    }
}

fn sender_bytes(sender: &Sender) -> (&'static [u8], &[u8]) {
    match sender {
        Sender::Ed25519(key) => (b"ed25519", key),
        Sender::Secp256k1(key) => (b"secp256k1", key),
    }
}

impl SignedIngress {
    /// The message id: a hash of everything but the signature.
    pub fn id(&self) -> Hash {
        let (kind, key) = sender_bytes(&self.sender);
        Hash::of(&[
            b"chainkey-ingress",
            kind,
            key,
            &self.nonce.to_be_bytes(),
            &self.expiry_ms.to_be_bytes(),
            &self.content,
        ])
    }

    /// A message signed with an Ed25519 key.
    pub fn sign_ed25519(
        key: &ed25519_dalek::SigningKey,
        nonce: u64,
        expiry_ms: u64,
        content: Vec<u8>,
    ) -> Self {
        use ed25519_dalek::Signer;
        let mut message = SignedIngress {
            sender: Sender::Ed25519(key.verifying_key().to_bytes().to_vec()),
            nonce,
            expiry_ms,
            content,
            signature: Vec::new(),
        };
        message.signature = key.sign(&message.id().0).to_bytes().to_vec();
        message
    }

    /// A message signed with a secp256k1 ECDSA key (low-s).
    pub fn sign_secp256k1(
        key: &k256::ecdsa::SigningKey,
        nonce: u64,
        expiry_ms: u64,
        content: Vec<u8>,
    ) -> Self {
        use k256::ecdsa::signature::hazmat::PrehashSigner;
        let mut message = SignedIngress {
            sender: Sender::Secp256k1(
                key.verifying_key()
                    .to_encoded_point(true)
                    .as_bytes()
                    .to_vec(),
            ),
            nonce,
            expiry_ms,
            content,
            signature: Vec::new(),
        };
        let signature: k256::ecdsa::Signature = key
            .sign_prehash(&message.id().0)
            .expect("a 32-byte prehash is accepted");
        message.signature = signature.to_bytes().to_vec();
        message
    }

    /// The signature check, or why it cannot even be stated.
    fn claim(&self, id: &Hash) -> Result<Claim, IngressError> {
        Ok(match &self.sender {
            Sender::Ed25519(key) => {
                let key: [u8; 32] = key
                    .as_slice()
                    .try_into()
                    .map_err(|_| IngressError::MalformedKey)?;
                let signature: [u8; 64] = self
                    .signature
                    .as_slice()
                    .try_into()
                    .map_err(|_| IngressError::MalformedSignature)?;
                Claim::Ed25519(Ed25519Claim {
                    key,
                    message: id.0.to_vec(),
                    signature: ed25519_dalek::Signature::from_bytes(&signature),
                })
            }
            Sender::Secp256k1(key) => Claim::Secp256k1(EcdsaClaim::<Secp256k1> {
                key: k256::ecdsa::VerifyingKey::from_sec1_bytes(key)
                    .map_err(|_| IngressError::MalformedKey)?,
                message_hash: id.0,
                signature: k256::ecdsa::Signature::from_slice(&self.signature)
                    .map_err(|_| IngressError::MalformedSignature)?,
                malleability: Malleability::LowSOnly,
            }),
        })
    }
}

/// Checks `messages` at Unix time `now_ms`: size, expiry and encoding one
/// by one, then the signatures through the node's [`VerifyService`], which
/// batches them with those of concurrent submissions. One verdict each
/// (the id when valid); duplicates are the caller's business ([`Seen`]).
pub async fn check(
    service: &VerifyService,
    messages: &[SignedIngress],
    now_ms: u64,
) -> Vec<Result<Hash, IngressError>> {
    let mut verdicts = Vec::with_capacity(messages.len());
    let mut jobs = Vec::new();
    let mut positions = Vec::new();
    for (position, message) in messages.iter().enumerate() {
        let id = message.id();
        let verdict = if message.content.len() > MAX_CONTENT {
            Err(IngressError::TooLarge)
        } else if message.expiry_ms < now_ms {
            Err(IngressError::Expired)
        } else if message.expiry_ms > now_ms + MAX_EXPIRY_MS {
            Err(IngressError::ExpiryTooFar)
        } else {
            message.claim(&id).map(|claim| {
                jobs.push(Job::new(claim));
                positions.push(position);
                id
            })
        };
        verdicts.push(verdict);
    }
    for (verdict, position) in service.verify_all(jobs).await.into_iter().zip(positions) {
        match verdict {
            Some(true) => {}
            Some(false) => verdicts[position] = Err(IngressError::InvalidSignature),
            None => verdicts[position] = Err(IngressError::QueueFull),
        }
    }
    verdicts
}

/// Message ids seen (accepted or finalized), each until it expires.
#[derive(Debug, Default)]
pub struct Seen {
    expiries: HashMap<Hash, u64>,
}

impl Seen {
    /// Records `id` until `expiry_ms`; false if it was already there.
    pub fn insert(&mut self, id: Hash, expiry_ms: u64) -> bool {
        self.expiries.insert(id, expiry_ms).is_none()
    }

    /// Forgets `id` (it was not queued after all).
    pub fn remove(&mut self, id: &Hash) {
        self.expiries.remove(id);
    }

    /// Whether `id` was seen.
    pub fn contains(&self, id: &Hash) -> bool {
        self.expiries.contains_key(id)
    }

    /// Forgets ids that expired more than the clock slack (30 s) before
    /// `now_ms`: no node accepts them any more.
    pub fn prune(&mut self, now_ms: u64) {
        self.expiries
            .retain(|_, expiry| *expiry + VALIDATION_SLACK_MS >= now_ms);
    }
}

/// The current Unix time in milliseconds.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// Identifies a message's whole encoding (a verified signature covers exactly it).
pub(crate) fn content_key(content: &[u8]) -> Hash {
    Hash::of(&[content])
}

/// The ids and expiries of the messages of a finalized payload (for the store).
pub fn expiries(payload: &Payload) -> Vec<(Hash, u64)> {
    payload
        .ingress
        .iter()
        .map(|message| {
            let expiry = decode(&message.content).map_or(0, |m| m.expiry_ms());
            (message.id, expiry)
        })
        .collect()
}

pub(crate) fn decode(bytes: &[u8]) -> Option<Ingress> {
    ciborium::from_reader(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainkey_crypto::batch::BatchVerifier;
    use std::sync::Arc;

    fn ed25519(seed: u8) -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
    }

    #[tokio::test]
    async fn batches_name_each_bad_message_and_accept_both_schemes() {
        let now = unix_ms();
        let secp = k256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
        let good_ed = SignedIngress::sign_ed25519(&ed25519(1), 1, now + 60_000, b"a".to_vec());
        let good_secp = SignedIngress::sign_secp256k1(&secp, 2, now + 60_000, b"b".to_vec());
        let mut forged = good_ed.clone();
        forged.content = b"changed".to_vec();
        let expired = SignedIngress::sign_ed25519(&ed25519(2), 3, now - 1, b"c".to_vec());
        let far = SignedIngress::sign_ed25519(&ed25519(3), 4, now + MAX_EXPIRY_MS + 60_000, vec![]);
        let mut bad_key = good_ed.clone();
        bad_key.sender = Sender::Ed25519(vec![1, 2, 3]);
        let mut high_s = good_secp.clone();
        let signature = k256::ecdsa::Signature::from_slice(&good_secp.signature).unwrap();
        let (r, s) = signature.split_scalars();
        high_s.signature = k256::ecdsa::Signature::from_scalars(r, -*s)
            .unwrap()
            .to_bytes()
            .to_vec();
        let (service, _task) = VerifyService::spawn(
            Arc::new(BatchVerifier::default()),
            chainkey_crypto::batch::ServiceConfig::default(),
        );
        let verdicts = check(
            &service,
            &[
                good_ed.clone(),
                good_secp.clone(),
                forged,
                expired,
                far,
                bad_key,
                high_s,
            ],
            now,
        )
        .await;
        assert_eq!(
            verdicts,
            vec![
                Ok(good_ed.id()),
                Ok(good_secp.id()),
                Err(IngressError::InvalidSignature),
                Err(IngressError::Expired),
                Err(IngressError::ExpiryTooFar),
                Err(IngressError::MalformedKey),
                Err(IngressError::InvalidSignature),
            ]
        );
    }
}
