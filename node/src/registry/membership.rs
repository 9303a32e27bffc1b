//! A subnet record with its members' keys decoded: what the chain-key
//! state, consensus and the transport work with once a record is carried
//! in a block.
//!
//! A [`SubnetRecord`] is the registry's form (hex, as proposed and
//! certified); [`Membership::decode`] turns it into keys once, checking
//! every proof of possession on the way, so nothing downstream decodes
//! hex or meets a key that does not decode.

use std::collections::BTreeMap;

use chainkey_consensus::NodeId;
use chainkey_crypto::batch::Secp256k1;
use chainkey_crypto::nidkg::EncryptionPublicKey;
use chainkey_crypto::tecdsa::MegaPublicKey;
use chainkey_crypto::{MinSig, PublicKey};

use super::governance::SubnetRecord;
use super::RecordError;

/// One member of the subnet with its keys decoded ([`NodeRecord::decode`](super::NodeRecord::decode)).
#[derive(Clone, Debug)]
pub struct Member {
    /// Where it accepts peer connections (`host:port`).
    pub address: String,
    /// Its TLS certificate (DER), which authenticates its connections.
    pub certificate: Vec<u8>,
    /// Its BLS key, whose possession it proved (consensus signatures).
    pub bls_key: PublicKey<MinSig>,
    /// Its Ed25519 key (query responses and chain-key dealings).
    pub signing_key: ed25519_dalek::VerifyingKey,
    /// Its MEGa key (receives chain-key ECDSA dealings).
    pub mega_key: MegaPublicKey<Secp256k1>,
    /// Its NIDKG key, whose possession it proved (receives shares of the
    /// subnet's threshold BLS keys).
    pub dkg_key: EncryptionPublicKey,
}

/// A subnet record at a registry version, its members' keys decoded.
#[derive(Clone, Debug)]
pub struct Membership {
    /// The registry version (1: genesis).
    pub version: u64,
    /// The members by node id (ids are positions: committee order).
    pub members: BTreeMap<NodeId, Member>,
}

impl Membership {
    /// Decodes every member of `record`.
    ///
    /// # Errors
    /// [`RecordError`] for the first member whose record is wrong.
    pub fn decode(record: &SubnetRecord) -> Result<Membership, RecordError> {
        let members = record
            .members
            .iter()
            .map(|(id, member)| Ok((*id, member.decode()?)))
            .collect::<Result<_, RecordError>>()?;
        Ok(Membership {
            version: record.version,
            members,
        })
    }

    /// The members' BLS keys in id order: the consensus committee.
    pub fn committee(&self) -> Vec<PublicKey<MinSig>> {
        self.members.values().map(|m| m.bls_key).collect()
    }

    /// The members' MEGa keys in id order: the receivers of ECDSA dealings.
    pub fn mega_keys(&self) -> Vec<MegaPublicKey<Secp256k1>> {
        self.members.values().map(|m| m.mega_key).collect()
    }

    /// The members' NIDKG keys in id order: the receivers of BLS reshares.
    pub fn dkg_keys(&self) -> Vec<EncryptionPublicKey> {
        self.members.values().map(|m| m.dkg_key).collect()
    }

    /// This node's position among the members (its share index − 1), if
    /// it is one.
    pub fn position(&self, node: NodeId) -> Option<usize> {
        self.members.keys().position(|id| *id == node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::node_record::{test_peer, Field, Problem};

    #[test]
    fn a_record_decodes_once_into_its_members_keys_in_id_order() {
        let record = SubnetRecord {
            version: 3,
            members: (0..3).map(|id| (id, test_peer(id))).collect(),
        };
        let membership = Membership::decode(&record).unwrap();
        assert_eq!(membership.version, 3);
        assert_eq!(membership.position(2), Some(2));
        assert_eq!(membership.position(7), None);
        // The decoded keys are the record's, in id order.
        let committee: Vec<_> = membership
            .committee()
            .iter()
            .map(|k| k.to_bytes())
            .collect();
        let expected: Vec<_> = (0..3)
            .map(|id| hex::decode(&test_peer(id).public_key).unwrap())
            .collect();
        assert_eq!(
            committee.iter().map(|k| k.to_vec()).collect::<Vec<_>>(),
            expected
        );
        let signing = membership.members[&1].signing_key.as_bytes().to_vec();
        assert_eq!(signing, hex::decode(&test_peer(1).query_key).unwrap());
    }

    #[test]
    fn a_record_with_a_wrong_member_does_not_decode() {
        let mut bad = test_peer(1);
        bad.mega_key = "00".into();
        let record = SubnetRecord {
            version: 2,
            members: [(0, test_peer(0)), (1, bad)].into(),
        };
        let error = Membership::decode(&record).unwrap_err();
        assert_eq!(
            (error.node, error.field, error.problem),
            (1, Field::MegaKey, Problem::Malformed)
        );
    }
}
