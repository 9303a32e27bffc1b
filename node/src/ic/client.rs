//! Signed requests as `ic-agent` makes them, for the load generator of
//! `chainkey subnet --bench --calls`: an Ed25519 identity signs the
//! request id of each call's content, and the answer of a synchronous
//! (v3) call is read from its certificate.

use ciborium::value::Value;
use ed25519_dalek::Signer as _;

use super::envelope::{ed25519_der, DELEGATION_DOMAIN};
use super::principal::Principal;
use crate::cbor::encode_described;
use crate::ic::certificate::Certificate;
use crate::ic::hash_tree::Lookup;
use crate::ic::request_id::{hash_of_map, REQUEST_DOMAIN};

/// An Ed25519 identity that signs update calls, itself or through a
/// session key it delegated to.
pub struct Identity {
    /// Signs the requests: the identity's key, or the session key.
    key: ed25519_dalek::SigningKey,
    /// The identity's own key (DER): the sender is its principal.
    der: Vec<u8>,
    sender: Principal,
    /// The signed delegation to the session key, if any.
    delegation: Option<Value>,
}

/// A signed call: its request id and CBOR envelope.
pub struct SignedCall {
    /// The request id.
    pub request_id: [u8; 32],
    /// The envelope to POST.
    pub envelope: Vec<u8>,
}

impl Identity {
    /// The identity of `key`.
    pub fn new(key: ed25519_dalek::SigningKey) -> Identity {
        let der = ed25519_der(key.verifying_key().as_bytes());
        let sender = Principal::self_authenticating(&der);
        Identity {
            key,
            der,
            sender,
            delegation: None,
        }
    }

    /// The identity of `key` signing through `session`, a key it
    /// delegated to until `expiration_ns` (as Internet Identity does).
    pub fn delegated(
        key: &ed25519_dalek::SigningKey,
        session: ed25519_dalek::SigningKey,
        expiration_ns: u64,
    ) -> Identity {
        let text = |s: &str| Value::Text(s.into());
        let session_der = ed25519_der(session.verifying_key().as_bytes());
        let delegation = vec![
            (text("pubkey"), Value::Bytes(session_der)),
            (text("expiration"), Value::Integer(expiration_ns.into())),
        ];
        let hash = hash_of_map(&delegation).expect("blobs and numbers hash");
        let signature = key.sign(&[DELEGATION_DOMAIN, hash.as_slice()].concat());
        let signed = Value::Map(vec![
            (text("delegation"), Value::Map(delegation)),
            (
                text("signature"),
                Value::Bytes(signature.to_bytes().to_vec()),
            ),
        ]);
        Identity {
            delegation: Some(signed),
            key: session,
            ..Identity::new(key.clone())
        }
    }

    /// A call of `method` on `canister` (empty: the management canister),
    /// valid until `expiry_ns`; `nonce` makes equal calls distinct.
    pub fn call(
        &self,
        canister: &[u8],
        method: &str,
        arg: Vec<u8>,
        expiry_ns: u64,
        nonce: u64,
    ) -> SignedCall {
        let text = |s: &str| Value::Text(s.into());
        let content = vec![
            (text("request_type"), text("call")),
            (
                text("sender"),
                Value::Bytes(self.sender.as_bytes().to_vec()),
            ),
            (text("canister_id"), Value::Bytes(canister.to_vec())),
            (text("method_name"), text(method)),
            (text("arg"), Value::Bytes(arg)),
            (text("ingress_expiry"), Value::Integer(expiry_ns.into())),
            (text("nonce"), Value::Bytes(nonce.to_be_bytes().to_vec())),
        ];
        let request_id = hash_of_map(&content).expect("blobs, texts and numbers hash");
        let signature = self
            .key
            .sign(&[REQUEST_DOMAIN, request_id.as_slice()].concat());
        let mut envelope = vec![
            (text("content"), Value::Map(content)),
            (text("sender_pubkey"), Value::Bytes(self.der.clone())),
            (
                text("sender_sig"),
                Value::Bytes(signature.to_bytes().to_vec()),
            ),
        ];
        if let Some(delegation) = &self.delegation {
            envelope.push((
                text("sender_delegation"),
                Value::Array(vec![delegation.clone()]),
            ));
        }
        let envelope = encode_described(Value::Map(envelope));
        SignedCall {
            request_id,
            envelope,
        }
    }
}

/// The reply in the answer to a synchronous call, read from its
/// certificate (not verified: the load generator trusts its own subnet).
///
/// # Errors
/// The reject message, or why the answer has no reply.
pub fn reply(answer: &[u8], request_id: &[u8; 32]) -> Result<Vec<u8>, String> {
    let value = crate::cbor::decode_described(answer).ok_or("the answer is not CBOR")?;
    let Value::Map(entries) = value else {
        return Err("the answer is not a map".into());
    };
    let Some(Value::Bytes(certificate)) = crate::cbor::field(&entries, "certificate") else {
        return Err("the call was not answered in time".into());
    };
    let certificate = Certificate::from_cbor(certificate).map_err(|e| e.to_string())?;
    let tree = &certificate.tree;
    match tree.lookup(&[b"request_status", request_id, b"reply"]) {
        Lookup::Found(reply) => Ok(reply.to_vec()),
        _ => match tree.lookup(&[b"request_status", request_id, b"reject_message"]) {
            Lookup::Found(message) => Err(String::from_utf8_lossy(message).into_owned()),
            _ => Err("the certificate holds no answer".into()),
        },
    }
}
