//! A node as the subnet's registry knows it: its addresses, its TLS
//! certificate and its public keys, with the proofs that it holds them.
//!
//! The same record is in every node's configuration, in the subnet
//! records governance adopts, and in the chain-key state that deals keys
//! to the members.

use candid::CandidType;
use chainkey_consensus::NodeId;
use chainkey_crypto::batch::Secp256k1;
use chainkey_crypto::nidkg::{EncryptionPublicKey, ProofOfPossession};
use chainkey_crypto::tecdsa::MegaPublicKey;
use chainkey_crypto::{MinSig, PublicKey, Signature};
use serde::{Deserialize, Serialize};

use super::Member;

/// A field of a [`NodeRecord`] that is wrong.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, CandidType,
)]
pub enum Field {
    /// [`NodeRecord::address`].
    #[error("address")]
    Address,
    /// [`NodeRecord::certificate`].
    #[error("TLS certificate")]
    Certificate,
    /// [`NodeRecord::public_key`].
    #[error("BLS public key")]
    PublicKey,
    /// [`NodeRecord::key_possession`].
    #[error("proof of possession of the BLS key")]
    KeyPossession,
    /// [`NodeRecord::query_key`].
    #[error("query key")]
    QueryKey,
    /// [`NodeRecord::mega_key`].
    #[error("MEGa key")]
    MegaKey,
    /// [`NodeRecord::dkg_key`].
    #[error("NIDKG key")]
    DkgKey,
    /// [`NodeRecord::dkg_possession`].
    #[error("proof of possession of the NIDKG key")]
    DkgPossession,
}

/// What is wrong with a [`Field`].
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, CandidType,
)]
pub enum Problem {
    /// It is not hex.
    #[error("is not hex")]
    NotHex,
    /// Its bytes are not what the field holds.
    #[error("does not decode")]
    Malformed,
    /// A proof of possession that does not verify.
    #[error("does not verify")]
    Unproven,
    /// It is empty.
    #[error("is empty")]
    Empty,
    /// An address that is not `host:port`.
    #[error("is not host:port")]
    NotHostPort,
}

/// Why a [`NodeRecord`] cannot be used: which node, which field, what.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, CandidType,
)]
#[error("node {node}: its {field} {problem}")]
pub struct RecordError {
    /// The node the record describes.
    pub node: NodeId,
    /// The field.
    pub field: Field,
    /// What is wrong with it.
    pub problem: Problem,
}

/// One node of the subnet, as every other node knows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, CandidType)]
pub struct NodeRecord {
    /// Its id (its position in the committee).
    pub id: NodeId,
    /// Where it accepts peer connections.
    pub address: String,
    /// Its self-signed TLS certificate (DER, hex): connections are
    /// authenticated by exactly this certificate.
    pub certificate: String,
    /// Its BLS public key (hex).
    pub public_key: String,
    /// Its proof of possession of the BLS key (hex; IETF `PopProve` under
    /// the min-sig proof-of-possession suite): notarizations and
    /// finalizations aggregate member keys, which is safe only for keys
    /// whose possession was proven (no rogue keys).
    pub key_possession: String,
    /// Its Ed25519 key signing query responses (hex); the node's
    /// principal is the self-authenticating one of this key.
    pub query_key: String,
    /// Its MEGa encryption key for chain-key ECDSA dealings (hex, its
    /// `MegaPublicKey::to_bytes` encoding).
    pub mega_key: String,
    /// Its NIDKG encryption key, receiving shares of the subnet's
    /// threshold BLS keys when they are dealt or reshared (hex, 48 bytes).
    pub dkg_key: String,
    /// Its proof of possession of `dkg_key`, bound to its BLS public key
    /// (hex, 80 bytes).
    pub dkg_possession: String,
}

impl NodeRecord {
    fn error(&self, field: Field, problem: Problem) -> RecordError {
        RecordError {
            node: self.id,
            field,
            problem,
        }
    }

    /// The bytes of a hex field.
    fn hex(&self, field: Field, text: &str) -> Result<Vec<u8>, RecordError> {
        hex::decode(text).map_err(|_| self.error(field, Problem::NotHex))
    }

    /// Its BLS public key.
    ///
    /// # Errors
    /// [`RecordError`] if it does not decode.
    pub fn bls_public_key(&self) -> Result<PublicKey<MinSig>, RecordError> {
        let bytes = self.hex(Field::PublicKey, &self.public_key)?;
        PublicKey::from_bytes(&bytes).map_err(|_| self.error(Field::PublicKey, Problem::Malformed))
    }

    /// Its Ed25519 key (signing query responses and chain-key dealings).
    ///
    /// # Errors
    /// [`RecordError`] if it does not decode.
    pub fn ed25519_key(&self) -> Result<ed25519_dalek::VerifyingKey, RecordError> {
        let malformed = || self.error(Field::QueryKey, Problem::Malformed);
        let raw: [u8; 32] = self
            .hex(Field::QueryKey, &self.query_key)?
            .try_into()
            .map_err(|_| malformed())?;
        ed25519_dalek::VerifyingKey::from_bytes(&raw).map_err(|_| malformed())
    }

    /// Its MEGa encryption key.
    ///
    /// # Errors
    /// [`RecordError`] if it does not decode.
    pub fn mega_public_key(&self) -> Result<MegaPublicKey<Secp256k1>, RecordError> {
        let bytes = self.hex(Field::MegaKey, &self.mega_key)?;
        MegaPublicKey::from_bytes(&bytes)
            .map_err(|_| self.error(Field::MegaKey, Problem::Malformed))
    }

    /// Its NIDKG encryption key, once its proof of possession verifies.
    ///
    /// # Errors
    /// [`RecordError`] if either does not decode or the proof fails.
    pub fn dkg_public_key(&self) -> Result<EncryptionPublicKey, RecordError> {
        let key = EncryptionPublicKey::from_bytes(&self.hex(Field::DkgKey, &self.dkg_key)?)
            .map_err(|_| self.error(Field::DkgKey, Problem::Malformed))?;
        let proof = self.hex(Field::DkgPossession, &self.dkg_possession)?;
        let proof = ProofOfPossession::from_bytes(&proof)
            .map_err(|_| self.error(Field::DkgPossession, Problem::Malformed))?;
        key.verify_possession(&dkg_possession_context(&self.public_key), &proof)
            .map_err(|_| self.error(Field::DkgPossession, Problem::Unproven))?;
        Ok(key)
    }

    /// Its TLS certificate (DER).
    ///
    /// # Errors
    /// [`RecordError`] if it is not hex.
    pub fn certificate_der(&self) -> Result<Vec<u8>, RecordError> {
        self.hex(Field::Certificate, &self.certificate)
    }

    /// Checks that every key decodes and the address is `host:port`, as
    /// a node record must before it joins a subnet.
    ///
    /// # Errors
    /// [`RecordError`] naming the first field that does not.
    pub fn check(&self) -> Result<(), RecordError> {
        self.decode().map(drop)
    }

    /// Its keys decoded, once [`Self::check`] holds: what the subnet works
    /// with once the record is in force.
    ///
    /// # Errors
    /// [`RecordError`] naming the first field that is wrong.
    pub fn decode(&self) -> Result<Member, RecordError> {
        let port = self
            .address
            .rsplit_once(':')
            .map(|(_, port)| port.parse::<u16>());
        if !matches!(port, Some(Ok(_))) {
            return Err(self.error(Field::Address, Problem::NotHostPort));
        }
        let certificate = self.certificate_der()?;
        if certificate.is_empty() {
            return Err(self.error(Field::Certificate, Problem::Empty));
        }
        let bls_key = self.bls_public_key()?;
        let proof = self.hex(Field::KeyPossession, &self.key_possession)?;
        let proof = Signature::<MinSig>::from_bytes(&proof)
            .map_err(|_| self.error(Field::KeyPossession, Problem::Malformed))?;
        chainkey_crypto::Ciphersuite::<MinSig>::proof_of_possession()
            .verify_possession(&bls_key, &proof)
            .map_err(|_| self.error(Field::KeyPossession, Problem::Unproven))?;
        Ok(Member {
            address: self.address.clone(),
            certificate,
            bls_key,
            signing_key: self.ed25519_key()?,
            mega_key: self.mega_public_key()?,
            dkg_key: self.dkg_public_key()?,
        })
    }
}

/// What a node's proof of possession of its NIDKG key is bound to: its
/// BLS public key (hex, as in its record), so a proof cannot be replayed
/// for another node.
pub fn dkg_possession_context(public_key: &str) -> Vec<u8> {
    [b"chainkey node ".as_slice(), public_key.as_bytes()].concat()
}

/// A node record with valid keys derived from `id`, for tests.
#[cfg(test)]
pub(crate) fn test_peer(id: NodeId) -> NodeRecord {
    use chainkey_crypto::nidkg::EncryptionSecretKey;
    use chainkey_crypto::tecdsa::MegaSecretKey;
    use chainkey_crypto::SecretKey;
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(u64::from(id));
    let query_key = ed25519_dalek::SigningKey::generate(&mut rng);
    let node_key = SecretKey::generate(&mut rng);
    let public_key = hex::encode(node_key.public_key::<MinSig>().to_bytes());
    let key_possession = chainkey_crypto::Ciphersuite::<MinSig>::proof_of_possession()
        .prove_possession(&node_key)
        .to_bytes();
    let mega_key = MegaSecretKey::<Secp256k1>::generate(&mut rng).public_key();
    let dkg_key = EncryptionSecretKey::generate(&mut rng);
    let possession = dkg_key.prove_possession(&dkg_possession_context(&public_key), &mut rng);
    NodeRecord {
        id,
        address: format!("127.0.0.1:{}", 9000 + id),
        certificate: format!("3082{id:04x}"),
        public_key,
        key_possession: hex::encode(key_possession),
        query_key: hex::encode(query_key.verifying_key().as_bytes()),
        mega_key: hex::encode(mega_key.to_bytes()),
        dkg_key: hex::encode(dkg_key.public_key().to_bytes()),
        dkg_possession: hex::encode(possession.to_bytes()),
    }
}
