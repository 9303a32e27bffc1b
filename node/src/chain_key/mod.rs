//! Chain-key ECDSA as a subnet service: the master key and presignatures
//! are made by IDKG transcripts agreed in blocks, and canisters sign
//! through the management canister's `sign_with_ecdsa`.
//!
//! How the pieces meet:
//! - [`state`]: what the finalized chain says — which transcripts are open,
//!   which dealings completed them, which presignatures are ready or used.
//!   Every node derives it alike from block payloads, so everyone agrees
//!   on each transcript's dealings without another protocol.
//! - [`pool`]: the dealings and combined signatures waiting for a block,
//!   and how a block's chain-key items are built and validated.
//! - [`signer`]: the node's secret side, on its own thread — it opens its
//!   shares of completed transcripts, deals into open ones, verifies peers'
//!   dealings in batches, signs matched requests and combines shares.
//! - Execution ([`crate::execution`]) pairs each signing request with a
//!   ready presignature and beacon randomness, deterministically, and
//!   answers the canister when the combined signature is finalized.
//!
#![doc = include_str!("../../docs/chain_key.md")]

pub mod bls;
pub mod pool;
pub mod signer;
pub mod state;

use chainkey_consensus::{Hash, Payload};
use serde::{Deserialize, Serialize};
use sha2::Digest;

pub use state::ChainKeyState;

/// The curve of the subnet's ECDSA key.
pub type Curve = chainkey_crypto::batch::Secp256k1;

/// Names every transcript the subnet runs (its id is a hash of this).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TranscriptRef {
    /// The master key's masked random secret.
    KeyRandom,
    /// The master key: `KeyRandom` reshared unmasked.
    Key,
    /// Presignature `i`'s nonce `κ` (random, unmasked).
    Kappa(u64),
    /// Presignature `i`'s mask `λ` (random, masked).
    Lambda(u64),
    /// `κ·λ` of presignature `i`.
    KappaTimesLambda(u64),
    /// `x·λ` of presignature `i`.
    KeyTimesLambda(u64),
    /// The master key reshared (unmasked, same public key) to the members
    /// of the subnet record at this registry version.
    KeyReshare(u64),
}

impl TranscriptRef {
    /// The transcript id bound into every dealing (distinct per key name).
    pub fn id(&self, key_name: &str) -> [u8; 32] {
        Hash::of(&[
            b"chainkey ECDSA transcript",
            key_name.as_bytes(),
            &crate::cbor::to_cbor(self),
        ])
        .0
    }

    /// The presignature it belongs to, if any.
    pub fn presignature(&self) -> Option<u64> {
        match *self {
            TranscriptRef::KeyRandom | TranscriptRef::Key | TranscriptRef::KeyReshare(_) => None,
            TranscriptRef::Kappa(i)
            | TranscriptRef::Lambda(i)
            | TranscriptRef::KappaTimesLambda(i)
            | TranscriptRef::KeyTimesLambda(i) => Some(i),
        }
    }
}

/// A combined signature for a request paired with a presignature: what a
/// block carries so execution can answer the canister.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureItem {
    /// The request and the presignature it was paired with.
    pub job: SignJob,
    /// `r ‖ s`, low `s`.
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

/// A dealing signed by its dealer (with the node's Ed25519 key), so a block
/// maker cannot pass off dealings it made as other nodes' — `Random`
/// dealings carry no proof tying them to a dealer, and a maker dealing
/// for `threshold` nodes would know the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedDealing {
    /// The transcript.
    pub transcript: TranscriptRef,
    /// The encoded dealing.
    #[serde(with = "serde_bytes")]
    pub dealing: Vec<u8>,
    /// The dealer's Ed25519 signature over the transcript id and the dealing.
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

impl SignedDealing {
    fn message(transcript_id: &[u8; 32], dealing: &[u8]) -> Vec<u8> {
        [
            &b"\x10chainkey-dealing"[..],
            transcript_id,
            &sha2::Sha256::digest(dealing)[..],
        ]
        .concat()
    }

    /// `dealing` for `transcript`, signed by `key`.
    pub fn sign(
        transcript: TranscriptRef,
        key_name: &str,
        dealing: Vec<u8>,
        key: &ed25519_dalek::SigningKey,
    ) -> SignedDealing {
        use ed25519_dalek::Signer;
        let message = Self::message(&transcript.id(key_name), &dealing);
        SignedDealing {
            transcript,
            signature: key.sign(&message).to_bytes().to_vec(),
            dealing,
        }
    }

    /// Whether the dealer with key `dealer` signed it.
    pub fn signed_by(&self, key_name: &str, dealer: &ed25519_dalek::VerifyingKey) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(&self.signature) else {
            return false;
        };
        let message = Self::message(&self.transcript.id(key_name), &self.dealing);
        dealer.verify_strict(&message, &signature).is_ok()
    }
}

/// Chain-key work a block payload carries next to ingress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChainKeyItem {
    /// A dealer's signed dealing for an open transcript.
    Dealing(SignedDealing),
    /// A combined signature.
    Signature(SignatureItem),
    /// A subnet record governance adopted (a new registry version): the
    /// master key is reshared to its members. Valid only if the judging
    /// node's own execution adopted the same record.
    Membership(crate::registry::governance::SubnetRecord),
    /// A member's dealing resharing a threshold BLS key to a new membership.
    BlsDealing(bls::BlsDealing),
}

/// The payload section a chain-key item rides in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// [`Payload::chain_key`]: IDKG dealings, signatures, subnet records.
    ChainKey,
    /// [`Payload::nidkg`]: threshold BLS key reshares.
    Nidkg,
}

impl ChainKeyItem {
    /// The section this item rides in.
    pub fn section(&self) -> Section {
        match self {
            ChainKeyItem::BlsDealing(_) => Section::Nidkg,
            _ => Section::ChainKey,
        }
    }

    /// The item's entry in its section (CBOR).
    pub fn to_entry(&self) -> serde_bytes::ByteBuf {
        serde_bytes::ByteBuf::from(crate::cbor::to_cbor(self))
    }

    /// The item an entry of `section` holds: `None` if it does not decode
    /// or belongs in another section.
    pub fn from_entry(section: Section, entry: &[u8]) -> Option<ChainKeyItem> {
        let item: ChainKeyItem = ciborium::from_reader(entry).ok()?;
        (item.section() == section).then_some(item)
    }
}

/// The chain-key entries of `payload` in the order they apply (BLS
/// reshares first, then the rest), each decoded (`None`: malformed or in
/// the wrong section).
pub fn entries(payload: &Payload) -> impl Iterator<Item = Option<ChainKeyItem>> + '_ {
    let nidkg = payload.nidkg.iter().map(|entry| (Section::Nidkg, entry));
    let chain_key = payload
        .chain_key
        .iter()
        .map(|entry| (Section::ChainKey, entry));
    nidkg
        .chain(chain_key)
        .map(|(section, entry)| ChainKeyItem::from_entry(section, entry))
}

/// Whether `payload` carries chain-key entries.
pub fn carries_items(payload: &Payload) -> bool {
    !payload.chain_key.is_empty() || !payload.nidkg.is_empty()
}

/// Puts `items` into their sections of `payload`.
pub fn place(items: &[ChainKeyItem], payload: &mut Payload) {
    for item in items {
        match item.section() {
            Section::ChainKey => payload.chain_key.push(item.to_entry()),
            Section::Nidkg => payload.nidkg.push(item.to_entry()),
        }
    }
}

/// What execution learns from a finalized block's chain-key items.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChainKeyEvent {
    /// The master public key (SEC1 compressed) is ready.
    KeyReady(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Presignature `i` can be paired with a request.
    PresignatureReady(u64),
    /// A request's signature.
    Signed(SignatureItem),
    /// These presignatures were retired with the members that made them:
    /// requests paired with them wait for new ones.
    PresignaturesRetired(Vec<u64>),
}

/// A signing request paired with a presignature: every node signs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignJob {
    /// The presignature.
    pub presignature: u64,
    /// The calling canister.
    #[serde(with = "serde_bytes")]
    pub caller: Vec<u8>,
    /// Its derivation path.
    pub path: Vec<serde_bytes::ByteBuf>,
    /// The hash to sign.
    pub message_hash: [u8; 32],
    /// Beacon randomness fixed at pairing.
    pub randomness: [u8; 32],
}

impl SignJob {
    /// The threshold protocol's view of the request.
    pub fn request(&self) -> chainkey_crypto::tecdsa::SigningRequest {
        chainkey_crypto::tecdsa::SigningRequest {
            message_hash: self.message_hash,
            path: chainkey_crypto::tecdsa::DerivationPath::for_caller(
                &self.caller,
                &self
                    .path
                    .iter()
                    .map(|element| element.to_vec())
                    .collect::<Vec<_>>(),
            ),
            randomness: self.randomness,
        }
    }
}

/// Chain-key artifacts nodes gossip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChainKeyMessage {
    /// The sender's signed dealing for an open transcript.
    Dealing(SignedDealing),
    /// The sender's complaint: a dealing's ciphertext to it does not open.
    Complaint {
        /// The transcript.
        transcript: TranscriptRef,
        /// The encoded complaint.
        #[serde(with = "serde_bytes")]
        complaint: Vec<u8>,
    },
    /// The sender's opening of a faulty dealing, for the complainer.
    Opening {
        /// The transcript.
        transcript: TranscriptRef,
        /// The encoded opening.
        #[serde(with = "serde_bytes")]
        opening: Vec<u8>,
    },
    /// The sender's signature share for a paired request.
    SignatureShare {
        /// The presignature the request was paired with.
        presignature: u64,
        /// The encoded share.
        #[serde(with = "serde_bytes")]
        share: Vec<u8>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip_through_their_own_section_only() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let dealing = ChainKeyItem::Dealing(SignedDealing::sign(
            TranscriptRef::Kappa(7),
            "key_1",
            vec![1, 2, 3],
            &key,
        ));
        let reshare = ChainKeyItem::BlsDealing(bls::BlsDealing {
            key: bls::BlsKey::Beacon,
            version: 2,
            dealer: 1,
            dealing: vec![4, 5],
        });
        let mut payload = Payload::default();
        place(&[dealing.clone(), reshare.clone()], &mut payload);
        assert_eq!((payload.chain_key.len(), payload.nidkg.len()), (1, 1));
        assert!(payload.ingress.is_empty());
        // BLS reshares apply first.
        let decoded: Vec<_> = entries(&payload).collect();
        assert_eq!(decoded, [Some(reshare.clone()), Some(dealing.clone())]);
        // An item in the other section, or bytes that are not an item, are refused.
        assert_eq!(
            ChainKeyItem::from_entry(Section::ChainKey, &reshare.to_entry()),
            None
        );
        assert_eq!(
            ChainKeyItem::from_entry(Section::Nidkg, &dealing.to_entry()),
            None
        );
        assert_eq!(
            ChainKeyItem::from_entry(Section::ChainKey, &[0xff, 1]),
            None
        );
    }

    #[test]
    fn a_dealing_is_signed_by_its_dealer_for_its_transcript() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let other = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
        let signed = SignedDealing::sign(TranscriptRef::Lambda(1), "key_1", vec![5; 40], &key);
        assert!(signed.signed_by("key_1", &key.verifying_key()));
        assert!(!signed.signed_by("key_1", &other.verifying_key()));
        assert!(!signed.signed_by("key_2", &key.verifying_key()));
        let mut moved = signed.clone();
        moved.transcript = TranscriptRef::Lambda(2);
        assert!(!moved.signed_by("key_1", &key.verifying_key()));
        let mut altered = signed;
        altered.dealing[0] ^= 1;
        assert!(!altered.signed_by("key_1", &key.verifying_key()));
    }

    #[test]
    fn transcript_ids_differ_by_transcript_and_key_name() {
        let ids = [
            TranscriptRef::Key.id("key_1"),
            TranscriptRef::Key.id("key_2"),
            TranscriptRef::Kappa(1).id("key_1"),
            TranscriptRef::Lambda(1).id("key_1"),
            TranscriptRef::Kappa(2).id("key_1"),
        ];
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }
}
