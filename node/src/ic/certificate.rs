//! Certificates: a hash tree and a BLS signature on its root hash by the
//! subnet's threshold key (IC interface spec, "Certificate"), optionally
//! with a delegation from the root subnet to the signing subnet.
//!
//! The signature is MinSig BLS12-381 (`…_NUL_` ciphersuite) on
//! `"\x0Dic-state-root" ‖ root hash`. A delegation carries the root
//! subnet's certificate of `/subnet/<subnet id>/public_key`; the outer
//! certificate is then checked under that key. Keys are in the IC's DER
//! form (a fixed 37-byte prefix, then the 96-byte G2 point).

use chainkey_crypto::{Ciphersuite, MinSig, PublicKey, Signature};
use ciborium::value::Value;

use super::hash_tree::{HashTree, Lookup, MalformedTree};
use crate::cbor::{decode_described, encode_described, field};

/// The domain of a certified state root.
pub const STATE_ROOT_DOMAIN: &[u8] = b"\x0Dic-state-root";
/// The DER prefix of an IC BLS12-381 public key (algorithm and curve OIDs).
const DER_PREFIX: [u8; 37] = [
    0x30, 0x81, 0x82, 0x30, 0x1d, 0x06, 0x0d, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0xdc, 0x7c, 0x05,
    0x03, 0x01, 0x02, 0x01, 0x06, 0x0c, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0xdc, 0x7c, 0x05, 0x03,
    0x02, 0x01, 0x03, 0x61, 0x00,
];

/// Why a certificate was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// Not a certificate's CBOR.
    #[error("malformed certificate: {0}")]
    Malformed(&'static str),
    /// Its tree is malformed.
    #[error(transparent)]
    Tree(#[from] MalformedTree),
    /// A key that is not an IC BLS key in DER form.
    #[error("malformed public key")]
    MalformedKey,
    /// The signature does not verify.
    #[error("invalid signature")]
    InvalidSignature,
    /// The delegation's certificate does not certify the subnet's key.
    #[error("the delegation does not certify the subnet's public key")]
    DelegationKeyMissing,
    /// A delegation inside a delegation.
    #[error("nested delegation")]
    NestedDelegation,
}

/// A delegation from the root subnet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delegation {
    /// The signing subnet.
    pub subnet_id: Vec<u8>,
    /// The root subnet's certificate (CBOR) of the subnet's key.
    pub certificate: Vec<u8>,
}

/// A certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    /// The (pruned) state tree.
    pub tree: HashTree,
    /// The signature on its root.
    pub signature: Vec<u8>,
    /// Present when a subnet other than the root subnet signed.
    pub delegation: Option<Delegation>,
}

/// The DER form of a subnet's public key.
pub fn key_to_der(key: &PublicKey<MinSig>) -> Vec<u8> {
    [DER_PREFIX.as_slice(), &key.to_bytes()].concat()
}

/// A subnet public key from its DER form.
///
/// # Errors
/// [`CertificateError::MalformedKey`].
pub fn key_from_der(der: &[u8]) -> Result<PublicKey<MinSig>, CertificateError> {
    der.strip_prefix(DER_PREFIX.as_slice())
        .filter(|key| key.len() == 96)
        .and_then(|key| PublicKey::from_bytes(key).ok())
        .ok_or(CertificateError::MalformedKey)
}

/// The bytes a subnet signs to certify a state tree with this root hash.
pub fn signed_root(root: &[u8; 32]) -> Vec<u8> {
    [STATE_ROOT_DOMAIN, root.as_slice()].concat()
}

fn bytes_field(
    entries: &[(Value, Value)],
    name: &'static str,
) -> Result<Vec<u8>, CertificateError> {
    match field(entries, name) {
        Some(Value::Bytes(bytes)) => Ok(bytes.clone()),
        _ => Err(CertificateError::Malformed(name)),
    }
}

impl Certificate {
    /// Reads a certificate from CBOR (with or without the self-describe tag).
    ///
    /// # Errors
    /// [`CertificateError::Malformed`] or [`CertificateError::Tree`].
    pub fn from_cbor(bytes: &[u8]) -> Result<Certificate, CertificateError> {
        let value = decode_described(bytes).ok_or(CertificateError::Malformed("not CBOR"))?;
        let Value::Map(entries) = value else {
            return Err(CertificateError::Malformed("not a map"));
        };
        let tree = HashTree::from_value(
            field(&entries, "tree").ok_or(CertificateError::Malformed("tree"))?,
        )?;
        let delegation = match field(&entries, "delegation") {
            None => None,
            Some(Value::Map(delegation)) => Some(Delegation {
                subnet_id: bytes_field(delegation, "subnet_id")?,
                certificate: bytes_field(delegation, "certificate")?,
            }),
            Some(_) => return Err(CertificateError::Malformed("delegation")),
        };
        Ok(Certificate {
            tree,
            signature: bytes_field(&entries, "signature")?,
            delegation,
        })
    }

    /// The CBOR form, with the self-describe tag.
    pub fn to_cbor(&self) -> Vec<u8> {
        let text = |s: &str| Value::Text(s.to_string());
        let mut entries = vec![
            (text("tree"), self.tree.to_value()),
            (text("signature"), Value::Bytes(self.signature.clone())),
        ];
        if let Some(delegation) = &self.delegation {
            entries.push((
                text("delegation"),
                Value::Map(vec![
                    (
                        text("subnet_id"),
                        Value::Bytes(delegation.subnet_id.clone()),
                    ),
                    (
                        text("certificate"),
                        Value::Bytes(delegation.certificate.clone()),
                    ),
                ]),
            ));
        }
        encode_described(Value::Map(entries))
    }

    /// Checks the signature under `root_key`, through the delegation if any.
    ///
    /// # Errors
    /// [`CertificateError`] naming what failed.
    pub fn verify(&self, root_key: &PublicKey<MinSig>) -> Result<(), CertificateError> {
        let delegated;
        let key = match &self.delegation {
            None => root_key,
            Some(delegation) => {
                let parent = Certificate::from_cbor(&delegation.certificate)?;
                if parent.delegation.is_some() {
                    return Err(CertificateError::NestedDelegation);
                }
                parent.verify(root_key)?;
                let path: [&[u8]; 3] = [b"subnet", &delegation.subnet_id, b"public_key"];
                let Lookup::Found(der) = parent.tree.lookup(&path) else {
                    return Err(CertificateError::DelegationKeyMissing);
                };
                delegated = key_from_der(der)?;
                &delegated
            }
        };
        let signature = Signature::<MinSig>::from_bytes(&self.signature)
            .map_err(|_| CertificateError::InvalidSignature)?;
        Ciphersuite::<MinSig>::basic()
            .verify(key, &signed_root(&self.tree.digest()), &signature)
            .map_err(|_| CertificateError::InvalidSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ic::hash_tree::{labeled, leaf};
    use chainkey_crypto::SecretKey;

    /// The IC mainnet root key.
    const MAINNET_ROOT_KEY: &str = "308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100814c0e6ec71fab583b08bd81373c255c3c371b2e84863c98a4f1e08b74235d14fb5d9c0cd546d9685f913a0c0b2cc5341583bf4b4392e467db96d65b9bb4cb717112f8472e0d5a4d14505ffd7484b01291091c5f87b98883463f98091a0baaae";

    /// A certificate from IC mainnet (a replied call's request status,
    /// signed by an application subnet with a delegation from the root subnet).
    const MAINNET_CERTIFICATE: &str = include_str!("mainnet_certificate.hex");

    fn mainnet() -> Vec<u8> {
        hex::decode(MAINNET_CERTIFICATE.trim()).unwrap()
    }

    #[test]
    fn a_mainnet_certificate_verifies_under_the_mainnet_root_key() {
        let root = key_from_der(&hex::decode(MAINNET_ROOT_KEY).unwrap()).unwrap();
        assert_eq!(hex::encode(key_to_der(&root)), MAINNET_ROOT_KEY);
        let certificate = Certificate::from_cbor(&mainnet()).unwrap();
        assert!(certificate.delegation.is_some());
        assert_eq!(certificate.verify(&root), Ok(()));
        assert!(matches!(
            certificate.tree.lookup(&[b"time"]),
            Lookup::Found(time) if !time.is_empty()
        ));
        // Re-encoding keeps it valid; any change to tree or signature breaks it.
        let reencoded = Certificate::from_cbor(&certificate.to_cbor()).unwrap();
        assert_eq!(reencoded, certificate);
        let mut tampered = certificate.clone();
        tampered.signature[5] ^= 1;
        assert!(tampered.verify(&root).is_err());
        let mut tampered = certificate.clone();
        tampered.tree = HashTree::Pruned([7; 32]);
        assert_eq!(
            tampered.verify(&root),
            Err(CertificateError::InvalidSignature)
        );
        let other_root = SecretKey::generate(&mut rand::thread_rng()).public_key::<MinSig>();
        assert!(certificate.verify(&other_root).is_err());
    }

    #[test]
    fn a_certificate_we_sign_verifies_and_garbage_is_refused() {
        let key = SecretKey::generate(&mut rand::thread_rng());
        let tree = HashTree::from_sorted(vec![(b"time".to_vec(), leaf(vec![1, 2, 3]))]);
        let signature = Ciphersuite::<MinSig>::basic().sign(&key, &signed_root(&tree.digest()));
        let certificate = Certificate {
            tree: labeled("x", HashTree::Empty),
            signature: signature.to_bytes().to_vec(),
            delegation: None,
        };
        assert!(
            certificate.verify(&key.public_key()).is_err(),
            "signed another tree"
        );
        let certificate = Certificate {
            tree,
            ..certificate
        };
        assert_eq!(
            Certificate::from_cbor(&certificate.to_cbor())
                .unwrap()
                .verify(&key.public_key()),
            Ok(())
        );
        assert!(Certificate::from_cbor(b"\xff\x00").is_err());
        assert!(key_from_der(&[0; 133]).is_err());
    }
}
