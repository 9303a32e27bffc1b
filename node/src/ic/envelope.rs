//! Authenticating an IC HTTP request: the CBOR envelope
//! `{content, sender_pubkey?, sender_sig?, sender_delegation?}`, its
//! request id, and the signature chain from the sender's key (IC interface
//! spec, "Authentication").
//!
//! The sender must be the self-authenticating principal of
//! `sender_pubkey` (or anonymous, with no key or signature). Each
//! delegation is signed by the key before it over
//! `"\x1Aic-request-auth-delegation" ‖ hash_of_map(delegation)`; the last
//! key signs `"\x0Aic-request" ‖ request_id`. Delegations must not have
//! expired and, when they name targets, must include the called canister.
//! Every signature of a request is checked in one batch, and a bad one is
//! named. Keys: Ed25519, ECDSA P-256 and secp256k1 (DER SubjectPublicKeyInfo;
//! ECDSA signatures as `r ‖ s`, either `s` accepted as the IC does).

use chainkey_crypto::batch::{
    BatchVerifier, Claim, EcdsaClaim, Ed25519Claim, Job, Malleability, Secp256k1, P256,
};
use ciborium::value::Value;
use sha2::{Digest, Sha256};

use super::principal::Principal;
use crate::cbor::{decode_described, field};
use crate::ic::request_id::{hash_of_map, REQUEST_DOMAIN};

/// The domain a delegation is signed under.
pub const DELEGATION_DOMAIN: &[u8] = b"\x1Aic-request-auth-delegation";
/// The most delegations a request may carry.
pub const MAX_DELEGATIONS: usize = 20;

const ED25519_DER_PREFIX: &[u8] = &[
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
const P256_DER_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const SECP256K1_DER_PREFIX: &[u8] = &[
    0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
    0x81, 0x04, 0x00, 0x0a, 0x03, 0x42, 0x00,
];

/// Which signature of a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signer {
    /// Delegation number `n` (from 0), signed by the key before it.
    Delegation(usize),
    /// The request itself, signed by the last key of the chain.
    Request,
}

/// Why a request is refused (all are HTTP 400 with this message).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Not an envelope.
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    /// A key of a kind not supported.
    #[error("unsupported public key (Ed25519, ECDSA P-256 and secp256k1 DER keys are)")]
    UnsupportedKey,
    /// The sender is not the principal of the key.
    #[error("the sender is not the principal of the sender's public key")]
    SenderMismatch,
    /// A signature does not verify.
    #[error("invalid signature: {0:?}")]
    InvalidSignature(Signer),
    /// A delegation has expired.
    #[error("delegation {0} has expired")]
    DelegationExpired(usize),
    /// A delegation does not allow the called canister.
    #[error("delegation {0} does not allow this canister")]
    TargetNotAllowed(usize),
    /// More than [`MAX_DELEGATIONS`].
    #[error("more than 20 delegations")]
    TooManyDelegations,
}

/// One link of a delegation chain.
#[derive(Clone, Debug, PartialEq)]
pub struct SignedDelegation {
    /// The delegation map as sent (what its signature covers).
    pub delegation: Vec<(Value, Value)>,
    /// The key delegated to (DER).
    pub pubkey: Vec<u8>,
    /// Nanoseconds since the epoch after which it is void.
    pub expiration: u64,
    /// Canisters it is limited to, if any.
    pub targets: Option<Vec<Vec<u8>>>,
    /// The previous key's signature on it.
    pub signature: Vec<u8>,
}

/// A request as sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// The content map (its hash is the request id).
    pub content: Vec<(Value, Value)>,
    /// The sender's key (DER), absent for anonymous requests.
    pub sender_pubkey: Option<Vec<u8>>,
    /// The signature of the last key of the chain.
    pub sender_sig: Option<Vec<u8>>,
    /// The delegation chain, first link first.
    pub sender_delegation: Vec<SignedDelegation>,
}

/// An authenticated request's id and sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    /// The request id.
    pub request_id: [u8; 32],
    /// Who sent it.
    pub sender: Principal,
    /// The delegation that expires first, if any: its index and
    /// expiration (ns). The request is void after it (see
    /// [`Authenticated::check_time`]).
    pub delegation_expiry: Option<(usize, u64)>,
}

impl Authenticated {
    /// Checks that no delegation has expired at `now_ns`. The one check of
    /// a request's authentication that depends on time: a node may cache
    /// the rest, never this.
    ///
    /// # Errors
    /// [`RequestError::DelegationExpired`].
    pub fn check_time(&self, now_ns: u64) -> Result<(), RequestError> {
        match self.delegation_expiry {
            Some((index, expiration)) if expiration < now_ns => {
                Err(RequestError::DelegationExpired(index))
            }
            _ => Ok(()),
        }
    }
}

fn bytes(value: Option<&Value>, what: &'static str) -> Result<Option<Vec<u8>>, RequestError> {
    match value {
        None => Ok(None),
        Some(Value::Bytes(bytes)) => Ok(Some(bytes.clone())),
        Some(_) => Err(RequestError::Malformed(what)),
    }
}

/// A map's entries, taken out of `value` (an envelope's maps are taken
/// apart, never copied: they are most of its bytes).
fn into_map(value: Value, what: &'static str) -> Result<Vec<(Value, Value)>, RequestError> {
    match value {
        Value::Map(entries) => Ok(entries),
        _ => Err(RequestError::Malformed(what)),
    }
}

/// Takes the value of the text key `name` out of a map's entries.
fn take_field(entries: &mut Vec<(Value, Value)>, name: &str) -> Option<Value> {
    let position = entries
        .iter()
        .position(|(key, _)| matches!(key, Value::Text(text) if text == name))?;
    Some(entries.swap_remove(position).1)
}

/// Takes the blob of the text key `name` out of a map's entries.
fn take_bytes(
    entries: &mut Vec<(Value, Value)>,
    name: &'static str,
) -> Result<Option<Vec<u8>>, RequestError> {
    match take_field(entries, name) {
        None => Ok(None),
        Some(Value::Bytes(bytes)) => Ok(Some(bytes)),
        Some(_) => Err(RequestError::Malformed(name)),
    }
}

impl SignedDelegation {
    fn from_value(value: Value) -> Result<SignedDelegation, RequestError> {
        let mut outer = into_map(value, "signed delegation")?;
        let delegation = into_map(
            take_field(&mut outer, "delegation").ok_or(RequestError::Malformed("delegation"))?,
            "delegation",
        )?;
        let expiration = match field(&delegation, "expiration") {
            Some(Value::Integer(n)) => {
                u64::try_from(*n).map_err(|_| RequestError::Malformed("expiration"))?
            }
            _ => return Err(RequestError::Malformed("expiration")),
        };
        let targets = match field(&delegation, "targets") {
            None => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|item| bytes(Some(item), "target").map(Option::unwrap_or_default))
                    .collect::<Result<_, _>>()?,
            ),
            Some(_) => return Err(RequestError::Malformed("targets")),
        };
        Ok(SignedDelegation {
            pubkey: bytes(field(&delegation, "pubkey"), "pubkey")?
                .ok_or(RequestError::Malformed("pubkey"))?,
            expiration,
            targets,
            signature: take_bytes(&mut outer, "signature")?
                .ok_or(RequestError::Malformed("signature"))?,
            delegation,
        })
    }
}

/// The DER (SubjectPublicKeyInfo) form of a raw 32-byte Ed25519 key.
pub fn ed25519_der(raw: &[u8]) -> Vec<u8> {
    [ED25519_DER_PREFIX, raw].concat()
}

/// The check that `signature` by the DER key `key` is on `message`.
fn claim(key: &[u8], message: &[u8], signature: &[u8]) -> Result<Claim, RequestError> {
    let bad = || RequestError::UnsupportedKey;
    if let Some(raw) = key.strip_prefix(ED25519_DER_PREFIX) {
        let raw: [u8; 32] = raw.try_into().map_err(|_| bad())?;
        let signature: [u8; 64] = signature
            .try_into()
            .map_err(|_| RequestError::Malformed("signature"))?;
        return Ok(Claim::Ed25519(Ed25519Claim {
            key: raw,
            message: message.to_vec(),
            signature: ed25519_dalek::Signature::from_bytes(&signature),
        }));
    }
    let message_hash: [u8; 32] = Sha256::digest(message).into();
    if let Some(point) = key.strip_prefix(P256_DER_PREFIX) {
        return Ok(Claim::P256(EcdsaClaim::<P256> {
            key: p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| bad())?,
            message_hash,
            signature: p256::ecdsa::Signature::from_slice(signature)
                .map_err(|_| RequestError::Malformed("signature"))?,
            malleability: Malleability::EitherS,
        }));
    }
    if let Some(point) = key.strip_prefix(SECP256K1_DER_PREFIX) {
        return Ok(Claim::Secp256k1(EcdsaClaim::<Secp256k1> {
            key: k256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| bad())?,
            message_hash,
            signature: k256::ecdsa::Signature::from_slice(signature)
                .map_err(|_| RequestError::Malformed("signature"))?,
            malleability: Malleability::EitherS,
        }));
    }
    Err(bad())
}

impl Envelope {
    /// Reads an envelope (with or without the self-describe tag).
    ///
    /// # Errors
    /// [`RequestError::Malformed`] naming the field.
    pub fn from_cbor(bytes_in: &[u8]) -> Result<Envelope, RequestError> {
        let value = decode_described(bytes_in).ok_or(RequestError::Malformed("not CBOR"))?;
        let mut envelope = into_map(value, "envelope")?;
        let delegations = match take_field(&mut envelope, "sender_delegation") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(SignedDelegation::from_value)
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(RequestError::Malformed("sender_delegation")),
        };
        Ok(Envelope {
            content: into_map(
                take_field(&mut envelope, "content").ok_or(RequestError::Malformed("content"))?,
                "content",
            )?,
            sender_pubkey: take_bytes(&mut envelope, "sender_pubkey")?,
            sender_sig: take_bytes(&mut envelope, "sender_sig")?,
            sender_delegation: delegations,
        })
    }

    /// Checks who sent the request, a request for canister `target`, at
    /// time `now_ns` (nanoseconds since the epoch), verifying every
    /// signature in one batch.
    ///
    /// # Errors
    /// [`RequestError`] naming what is wrong.
    pub fn authenticate(
        &self,
        verifier: &BatchVerifier,
        target: &[u8],
        now_ns: u64,
    ) -> Result<Authenticated, RequestError> {
        let (authenticated, checks) = self.claims_for(self.request_id()?, target)?;
        authenticated.check_time(now_ns)?;
        let (signers, jobs): (Vec<Signer>, Vec<Job>) = checks
            .into_iter()
            .map(|(signer, claim)| (signer, Job::new(claim)))
            .unzip();
        let verdicts = verifier.verify(&jobs);
        if let Some((signer, _)) = signers.iter().zip(verdicts).find(|(_, valid)| !valid) {
            return Err(RequestError::InvalidSignature(*signer));
        }
        Ok(authenticated)
    }

    /// The request id: the representation-independent hash of the content.
    ///
    /// # Errors
    /// [`RequestError::Malformed`] if the content does not hash.
    pub fn request_id(&self) -> Result<[u8; 32], RequestError> {
        hash_of_map(&self.content).map_err(|_| RequestError::Malformed("content"))
    }

    /// The sender of request `request_id`, a request for canister
    /// `target` (a call's or query's `canister_id`, a read_state's
    /// effective canister id), if its signatures verify: every check but
    /// the signature verification itself, which the caller batches, and
    /// the delegations' expiry, which depends on time
    /// ([`Authenticated::check_time`]).
    ///
    /// # Errors
    /// [`RequestError`] naming what is wrong.
    pub fn claims_for(
        &self,
        request_id: [u8; 32],
        target: &[u8],
    ) -> Result<(Authenticated, Vec<(Signer, Claim)>), RequestError> {
        let sender = bytes(field(&self.content, "sender"), "sender")?
            .ok_or(RequestError::Malformed("sender"))?;
        let Some(first_key) = &self.sender_pubkey else {
            // Anonymous: no key, no signature, no delegation.
            if self.sender_sig.is_some() || !self.sender_delegation.is_empty() {
                return Err(RequestError::Malformed("signature without a key"));
            }
            if sender != Principal::anonymous().as_bytes() {
                return Err(RequestError::SenderMismatch);
            }
            let anonymous = Authenticated {
                request_id,
                sender: Principal::anonymous(),
                delegation_expiry: None,
            };
            return Ok((anonymous, Vec::new()));
        };
        let principal = Principal::self_authenticating(first_key);
        if sender != principal.as_bytes() {
            return Err(RequestError::SenderMismatch);
        }
        if self.sender_delegation.len() > MAX_DELEGATIONS {
            return Err(RequestError::TooManyDelegations);
        }
        let mut checks = Vec::new();
        let mut key = first_key;
        let mut delegation_expiry: Option<(usize, u64)> = None;
        for (index, link) in self.sender_delegation.iter().enumerate() {
            if delegation_expiry.is_none_or(|(_, earliest)| link.expiration < earliest) {
                delegation_expiry = Some((index, link.expiration));
            }
            if link
                .targets
                .as_ref()
                .is_some_and(|targets| !targets.iter().any(|t| t == target))
            {
                return Err(RequestError::TargetNotAllowed(index));
            }
            let hash =
                hash_of_map(&link.delegation).map_err(|_| RequestError::Malformed("delegation"))?;
            let message = [DELEGATION_DOMAIN, hash.as_slice()].concat();
            checks.push((
                Signer::Delegation(index),
                claim(key, &message, &link.signature)?,
            ));
            key = &link.pubkey;
        }
        let signature = self
            .sender_sig
            .as_ref()
            .ok_or(RequestError::Malformed("sender_sig"))?;
        let message = [REQUEST_DOMAIN, request_id.as_slice()].concat();
        checks.push((Signer::Request, claim(key, &message, signature)?));
        let authenticated = Authenticated {
            request_id,
            sender: principal,
            delegation_expiry,
        };
        Ok((authenticated, checks))
    }

    /// The content's text field `name`.
    ///
    /// # Errors
    /// [`RequestError::Malformed`] if it is missing or not text.
    pub fn text(&self, name: &'static str) -> Result<&str, RequestError> {
        match field(&self.content, name) {
            Some(Value::Text(text)) => Ok(text),
            _ => Err(RequestError::Malformed(name)),
        }
    }

    /// The content's blob field `name`.
    ///
    /// # Errors
    /// [`RequestError::Malformed`] if it is missing or not a blob.
    pub fn blob(&self, name: &'static str) -> Result<&[u8], RequestError> {
        match field(&self.content, name) {
            Some(Value::Bytes(bytes)) => Ok(bytes),
            _ => Err(RequestError::Malformed(name)),
        }
    }

    /// The content's `ingress_expiry` (nanoseconds since the epoch).
    ///
    /// # Errors
    /// [`RequestError::Malformed`] if it is missing or not a `u64`.
    pub fn expiry_ns(&self) -> Result<u64, RequestError> {
        match field(&self.content, "ingress_expiry") {
            Some(Value::Integer(n)) => {
                u64::try_from(*n).map_err(|_| RequestError::Malformed("ingress_expiry"))
            }
            _ => Err(RequestError::Malformed("ingress_expiry")),
        }
    }

    /// The content's `paths` (of a `read_state` request).
    ///
    /// # Errors
    /// [`RequestError::Malformed`] if they are missing or not arrays of blobs.
    pub fn paths(&self) -> Result<Vec<Vec<Vec<u8>>>, RequestError> {
        let malformed = || RequestError::Malformed("paths");
        let Some(Value::Array(paths)) = field(&self.content, "paths") else {
            return Err(malformed());
        };
        paths
            .iter()
            .map(|path| match path {
                Value::Array(labels) => labels
                    .iter()
                    .map(|label| match label {
                        Value::Bytes(bytes) => Ok(bytes.clone()),
                        _ => Err(malformed()),
                    })
                    .collect(),
                _ => Err(malformed()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Signer as _;

    const NOW: u64 = 1_700_000_000_000_000_000;
    const CANISTER: [u8; 10] = [0, 0, 0, 0, 0, 0, 0, 7, 1, 1];

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    fn ed25519_der(key: &ed25519_dalek::SigningKey) -> Vec<u8> {
        [ED25519_DER_PREFIX, key.verifying_key().as_bytes()].concat()
    }

    fn content(sender: &Principal) -> Vec<(Value, Value)> {
        vec![
            (text("request_type"), text("call")),
            (text("sender"), Value::Bytes(sender.as_bytes().to_vec())),
            (text("canister_id"), Value::Bytes(CANISTER.to_vec())),
            (text("method_name"), text("greet")),
            (text("arg"), Value::Bytes(b"DIDL\x00\x00".to_vec())),
            (
                text("ingress_expiry"),
                Value::Integer((NOW + 60_000_000_000).into()),
            ),
        ]
    }

    fn signed(
        key: &ed25519_dalek::SigningKey,
        delegations: Vec<SignedDelegation>,
        signer: &ed25519_dalek::SigningKey,
    ) -> Envelope {
        let der = ed25519_der(key);
        let content = content(&Principal::self_authenticating(&der));
        let id = hash_of_map(&content).unwrap();
        let signature = signer.sign(&[REQUEST_DOMAIN, id.as_slice()].concat());
        Envelope {
            content,
            sender_pubkey: Some(der),
            sender_sig: Some(signature.to_bytes().to_vec()),
            sender_delegation: delegations,
        }
    }

    fn delegate(
        from: &ed25519_dalek::SigningKey,
        to: &[u8],
        expiration: u64,
        targets: Option<Vec<Vec<u8>>>,
    ) -> SignedDelegation {
        let mut delegation = vec![
            (text("pubkey"), Value::Bytes(to.to_vec())),
            (text("expiration"), Value::Integer(expiration.into())),
        ];
        if let Some(targets) = &targets {
            delegation.push((
                text("targets"),
                Value::Array(targets.iter().cloned().map(Value::Bytes).collect()),
            ));
        }
        let hash = hash_of_map(&delegation).unwrap();
        SignedDelegation {
            signature: from
                .sign(&[DELEGATION_DOMAIN, hash.as_slice()].concat())
                .to_bytes()
                .to_vec(),
            delegation,
            pubkey: to.to_vec(),
            expiration,
            targets,
        }
    }

    #[test]
    fn signed_anonymous_and_delegated_requests_authenticate_and_forgeries_are_named() {
        let verifier = BatchVerifier::default();
        let alice = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let session = ed25519_dalek::SigningKey::from_bytes(&[2; 32]);

        let direct = signed(&alice, Vec::new(), &alice);
        let authenticated = direct.authenticate(&verifier, &CANISTER, NOW).unwrap();
        assert_eq!(
            authenticated.sender,
            Principal::self_authenticating(&ed25519_der(&alice))
        );
        assert_eq!(
            authenticated.request_id,
            hash_of_map(&direct.content).unwrap()
        );

        let mut forged = direct.clone();
        forged.content[3].1 = text("steal");
        assert_eq!(
            forged.authenticate(&verifier, &CANISTER, NOW),
            Err(RequestError::InvalidSignature(Signer::Request))
        );
        let mut impostor = direct.clone();
        impostor.content[1].1 = Value::Bytes(Principal::anonymous().as_bytes().to_vec());
        assert_eq!(
            impostor.authenticate(&verifier, &CANISTER, NOW),
            Err(RequestError::SenderMismatch)
        );

        let anonymous = Envelope {
            content: content(&Principal::anonymous()),
            sender_pubkey: None,
            sender_sig: None,
            sender_delegation: Vec::new(),
        };
        assert_eq!(
            anonymous
                .authenticate(&verifier, &CANISTER, NOW)
                .unwrap()
                .sender,
            Principal::anonymous()
        );

        // Alice delegates to a session key limited to the canister.
        let link = delegate(
            &alice,
            &ed25519_der(&session),
            NOW + 1,
            Some(vec![CANISTER.to_vec()]),
        );
        let delegated = signed(&alice, vec![link.clone()], &session);
        assert_eq!(
            delegated
                .authenticate(&verifier, &CANISTER, NOW)
                .unwrap()
                .sender,
            authenticated.sender
        );
        assert_eq!(
            delegated.authenticate(&verifier, &CANISTER, NOW + 2),
            Err(RequestError::DelegationExpired(0))
        );
        // A request for another canister (say a read_state, whose content
        // names none: the target is its effective canister id) is refused.
        assert_eq!(
            delegated.authenticate(&verifier, &[9], NOW),
            Err(RequestError::TargetNotAllowed(0))
        );
        let elsewhere = delegate(&alice, &ed25519_der(&session), NOW + 1, Some(vec![vec![9]]));
        assert_eq!(
            signed(&alice, vec![elsewhere], &session).authenticate(&verifier, &CANISTER, NOW),
            Err(RequestError::TargetNotAllowed(0))
        );
        let mut stretched = link;
        stretched.expiration += 1_000;
        stretched.delegation[1].1 = Value::Integer(stretched.expiration.into());
        assert_eq!(
            signed(&alice, vec![stretched], &session).authenticate(&verifier, &CANISTER, NOW),
            Err(RequestError::InvalidSignature(Signer::Delegation(0)))
        );
        // Signed by the delegator instead of the session key.
        let link = delegate(&alice, &ed25519_der(&session), NOW + 1, None);
        assert_eq!(
            signed(&alice, vec![link], &alice).authenticate(&verifier, &CANISTER, NOW),
            Err(RequestError::InvalidSignature(Signer::Request))
        );
    }

    #[test]
    fn ecdsa_keys_of_both_curves_sign_requests() {
        use k256::ecdsa::signature::Signer as _;
        let verifier = BatchVerifier::default();
        let secp = k256::ecdsa::SigningKey::from_slice(&[5; 32]).unwrap();
        let nist = p256::ecdsa::SigningKey::from_slice(&[6; 32]).unwrap();
        let secp_der = [
            SECP256K1_DER_PREFIX,
            secp.verifying_key().to_encoded_point(false).as_bytes(),
        ]
        .concat();
        let nist_der = [
            P256_DER_PREFIX,
            nist.verifying_key().to_encoded_point(false).as_bytes(),
        ]
        .concat();
        for (der, sign) in [
            (
                secp_der,
                Box::new(|m: &[u8]| {
                    let s: k256::ecdsa::Signature = secp.sign(m);
                    s.to_bytes().to_vec()
                }) as Box<dyn Fn(&[u8]) -> Vec<u8>>,
            ),
            (
                nist_der,
                Box::new(|m: &[u8]| {
                    let s: p256::ecdsa::Signature = nist.sign(m);
                    s.to_bytes().to_vec()
                }),
            ),
        ] {
            let content = content(&Principal::self_authenticating(&der));
            let id = hash_of_map(&content).unwrap();
            let mut envelope = Envelope {
                content,
                sender_pubkey: Some(der),
                sender_sig: Some(sign(&[REQUEST_DOMAIN, id.as_slice()].concat())),
                sender_delegation: Vec::new(),
            };
            assert!(envelope.authenticate(&verifier, &CANISTER, NOW).is_ok());
            envelope.sender_sig = Some(sign(b"something else"));
            assert_eq!(
                envelope.authenticate(&verifier, &CANISTER, NOW),
                Err(RequestError::InvalidSignature(Signer::Request))
            );
        }
    }

    #[test]
    fn envelopes_round_trip_through_cbor_and_garbage_is_malformed() {
        let alice = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let envelope = signed(&alice, Vec::new(), &alice);
        let bytes = crate::cbor::encode_described(Value::Map(vec![
            (text("content"), Value::Map(envelope.content.clone())),
            (
                text("sender_pubkey"),
                Value::Bytes(envelope.sender_pubkey.clone().unwrap()),
            ),
            (
                text("sender_sig"),
                Value::Bytes(envelope.sender_sig.clone().unwrap()),
            ),
        ]));
        assert_eq!(Envelope::from_cbor(&bytes).unwrap(), envelope);
        assert!(matches!(
            Envelope::from_cbor(b"\x01"),
            Err(RequestError::Malformed(_))
        ));
        assert_eq!(
            claim(b"not a key", b"m", b"s").unwrap_err(),
            RequestError::UnsupportedKey
        );
    }
}
