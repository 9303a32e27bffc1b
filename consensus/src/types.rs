//! The artifacts nodes exchange, with the bytes each signature covers.
//!
//! Every signed message starts with a domain tag naming the artifact kind,
//! so a signature on one kind can never be replayed as another.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A node's position in the subnet (0-based).
pub type NodeId = u32;
/// A block height (round number); genesis is height 0.
pub type Height = u64;
/// A block maker's rank at a height: 0 is the leader.
pub type Rank = u32;
/// Simulated or real time in milliseconds.
pub type Time = u64;

/// A SHA-256 hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Hash(#[serde(with = "serde_bytes")] pub [u8; 32]);

impl Hash {
    /// Hashes the concatenation of `parts`.
    pub fn of(parts: &[&[u8]]) -> Hash {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        Hash(hasher.finalize().into())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0[..4] {
            write!(f, "{byte:02x}")?;
        }
        f.write_str("…")
    }
}

/// An ingress message carried in a block payload: an id and opaque bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IngressMessage {
    /// Unique id of the message (e.g. the IC request id).
    pub id: Hash,
    /// The message content, opaque to consensus.
    #[serde(with = "serde_bytes")]
    pub content: Vec<u8>,
}

/// What a block carries, in sections the protocol orders without reading
/// them. Each section has its own builder, validator and limits (the
/// node's; [`crate::IngressQueue`] for ingress alone), so one kind of
/// content never crowds out another.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Payload {
    /// Ingress messages (user calls), under the ingress limits.
    pub ingress: Vec<IngressMessage>,
    /// Chain-key signing work the node encodes: IDKG dealings, combined
    /// signatures, the subnet records keys are reshared to.
    pub chain_key: Vec<serde_bytes::ByteBuf>,
    /// Resharing of the subnet's threshold BLS keys (NIDKG dealings).
    pub nidkg: Vec<serde_bytes::ByteBuf>,
    /// Streams from other subnets (reserved for cross-subnet messaging:
    /// nodes refuse a block that carries any yet).
    pub xnet: Vec<serde_bytes::ByteBuf>,
    /// What the maker's node counted of the queries it served (queries
    /// run on one node, outside blocks: this is how the subnet learns of
    /// them). Absent from blocks made before the section existed.
    #[serde(default)]
    pub query_stats: Vec<serde_bytes::ByteBuf>,
}

impl Payload {
    /// The bytes its sections hold (what it costs to keep; the encoding
    /// adds a few per item).
    pub fn byte_len(&self) -> usize {
        let ingress = self
            .ingress
            .iter()
            .map(|message| message.id.0.len() + message.content.len());
        let entries = [&self.chain_key, &self.nidkg, &self.xnet, &self.query_stats]
            .into_iter()
            .flatten()
            .map(|entry| entry.len());
        ingress.chain(entries).sum()
    }

    /// A hash committing to every section: each section is its label,
    /// its number of items and the items, each length-prefixed, so no two
    /// payloads share an encoding. The query-stats section, added later,
    /// is hashed only when it holds something, so blocks made before it
    /// existed keep their hashes.
    pub fn hash(&self) -> Hash {
        let ingress = self
            .ingress
            .iter()
            .flat_map(|message| [message.id.0.as_slice(), message.content.as_slice()]);
        fn entries(section: &[serde_bytes::ByteBuf]) -> Vec<&[u8]> {
            section.iter().map(|entry| entry.as_slice()).collect()
        }
        let mut sections: Vec<(&[u8], Vec<&[u8]>)> = vec![
            (b"ingress", ingress.collect()),
            (b"chain_key", entries(&self.chain_key)),
            (b"nidkg", entries(&self.nidkg)),
            (b"xnet", entries(&self.xnet)),
        ];
        if !self.query_stats.is_empty() {
            sections.push((b"query_stats", entries(&self.query_stats)));
        }
        let lengths: Vec<Vec<[u8; 8]>> = sections
            .iter()
            .map(|(_, items)| {
                let count = (items.len() as u64).to_be_bytes();
                let each = items.iter().map(|item| (item.len() as u64).to_be_bytes());
                std::iter::once(count).chain(each).collect()
            })
            .collect();
        let mut parts: Vec<&[u8]> = Vec::new();
        for ((label, items), lengths) in sections.iter().zip(&lengths) {
            parts.push(label);
            parts.push(&lengths[0]);
            for (item, length) in items.iter().zip(&lengths[1..]) {
                parts.push(length);
                parts.push(item);
            }
        }
        Hash::of(&parts)
    }
}

/// A block: a payload appended to a notarized parent by a ranked maker.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Block {
    /// Height of the block (parent height + 1).
    pub height: Height,
    /// Hash of the parent block.
    pub parent: Hash,
    /// The maker's rank at this height.
    pub rank: Rank,
    /// The maker.
    pub maker: NodeId,
    /// The block's time, Unix nanoseconds by the maker's clock: strictly
    /// increasing along the chain, so every node judges time-dependent
    /// things (ingress expiry, certified `/time`) the same way.
    pub time_ns: u64,
    /// The random beacon's value at this height (the one the maker's rank
    /// was drawn from): unpredictable before the previous height ended, so
    /// execution draws per-block randomness from it.
    pub beacon: Hash,
    /// What the block orders: ingress and the node's other sections.
    pub payload: Payload,
}

impl Block {
    /// The genesis block every node starts from.
    pub fn genesis() -> Block {
        Block {
            height: 0,
            parent: Hash::default(),
            rank: 0,
            maker: 0,
            time_ns: 0,
            beacon: Hash::default(),
            payload: Payload::default(),
        }
    }

    /// The block's hash, which commits to every field.
    pub fn hash(&self) -> Hash {
        let payload = self.payload.hash();
        Hash::of(&[
            b"block",
            &self.height.to_be_bytes(),
            &self.parent.0,
            &self.rank.to_be_bytes(),
            &self.maker.to_be_bytes(),
            &self.time_ns.to_be_bytes(),
            &self.beacon.0,
            &payload.0,
        ])
    }
}

/// What a signature signs: domain-separated bytes for each artifact kind.
pub mod signed {
    use super::{Hash, Height};

    /// A block proposal signs the block hash.
    pub fn proposal(block: &Hash) -> Vec<u8> {
        [b"chainkey-proposal".as_slice(), &block.0].concat()
    }
    /// A notarization (share) signs the height and block hash.
    pub fn notarization(height: Height, block: &Hash) -> Vec<u8> {
        [
            b"chainkey-notarization".as_slice(),
            &height.to_be_bytes(),
            &block.0,
        ]
        .concat()
    }
    /// A finalization (share) signs the height and block hash.
    pub fn finalization(height: Height, block: &Hash) -> Vec<u8> {
        [
            b"chainkey-finalization".as_slice(),
            &height.to_be_bytes(),
            &block.0,
        ]
        .concat()
    }
    /// A random-beacon (share) signs the height and the previous beacon.
    pub fn beacon(height: Height, previous: &Hash) -> Vec<u8> {
        [
            b"chainkey-beacon".as_slice(),
            &height.to_be_bytes(),
            &previous.0,
        ]
        .concat()
    }
}

/// Signature bytes, opaque to the protocol (their scheme is the crypto's business).
pub type SignatureBytes = Vec<u8>;

/// A block signed by its maker.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Proposal {
    /// The proposed block.
    pub block: Block,
    /// The maker's signature on the block hash.
    #[serde(with = "serde_bytes")]
    pub signature: SignatureBytes,
}

/// One node's share of a multi-signature or threshold signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Share {
    /// The signer.
    pub signer: NodeId,
    /// The signature share.
    #[serde(with = "serde_bytes")]
    pub signature: SignatureBytes,
}

/// An aggregate of n − f shares on one block: a notarization or a finalization.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Certificate {
    /// Height of the block.
    pub height: Height,
    /// Hash of the block.
    pub block: Hash,
    /// Who signed, ascending.
    pub signers: Vec<NodeId>,
    /// The aggregate multi-signature.
    #[serde(with = "serde_bytes")]
    pub signature: SignatureBytes,
}

/// Everything consensus nodes send each other.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Artifact {
    /// A block proposal.
    Proposal(Proposal),
    /// A notarization share on (height, block).
    NotarizationShare {
        /// Height of the block.
        height: Height,
        /// Hash of the block.
        block: Hash,
        /// The signer's share.
        share: Share,
    },
    /// A notarization: n − f notarization shares aggregated.
    Notarization(Certificate),
    /// A finalization share on (height, block).
    FinalizationShare {
        /// Height of the block.
        height: Height,
        /// Hash of the block.
        block: Hash,
        /// The signer's share.
        share: Share,
    },
    /// A finalization: n − f finalization shares aggregated.
    Finalization(Certificate),
    /// A random-beacon share for a height.
    BeaconShare {
        /// The height whose beacon this is a share of.
        height: Height,
        /// The signer's threshold share.
        share: Share,
    },
    /// The random beacon of a height: the threshold signature on the previous beacon.
    Beacon {
        /// The beacon's height.
        height: Height,
        /// The threshold signature.
        #[serde(with = "serde_bytes")]
        signature: SignatureBytes,
    },
    /// A lagging node asks for the beacons, blocks and certificates from `height` on.
    CatchUpRequest {
        /// The first height the node is missing.
        height: Height,
    },
    /// A share of a catch-up package on a finalized block.
    CatchUpShare {
        /// What the package will attest.
        content: CatchUpContent,
        /// The signer's threshold share.
        share: Share,
    },
    /// A catch-up package: a threshold-signed finalized state to restart from.
    CatchUpPackage(CatchUpPackage),
}

/// What a catch-up package attests: a finalized block and the random beacon at its height.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CatchUpContent {
    /// The finalized block (its height is the package's height).
    pub block: Block,
    /// The random beacon at that height (its threshold signature).
    #[serde(with = "serde_bytes")]
    pub beacon: SignatureBytes,
}

impl CatchUpContent {
    /// The package's height.
    pub fn height(&self) -> Height {
        self.block.height
    }

    /// The bytes the threshold signature covers.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let beacon = Hash::of(&[&self.beacon]);
        [
            b"chainkey-catch-up".as_slice(),
            &self.block.height.to_be_bytes(),
            &self.block.hash().0,
            &beacon.0,
        ]
        .concat()
    }
}

/// A catch-up package: content plus an (f + 1)-threshold signature on it, so
/// at least one honest node attests that the block is finalized.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CatchUpPackage {
    /// What is attested.
    pub content: CatchUpContent,
    /// The threshold signature on [`CatchUpContent::signed_bytes`].
    #[serde(with = "serde_bytes")]
    pub signature: SignatureBytes,
}

impl Artifact {
    /// About the bytes it takes to keep: its payload's, if it carries a
    /// block, plus a fixed allowance for signatures and fields.
    pub fn byte_len(&self) -> usize {
        const FIXED: usize = 256;
        FIXED
            + match self {
                Artifact::Proposal(proposal) => proposal.block.payload.byte_len(),
                Artifact::CatchUpShare { content, .. } => content.block.payload.byte_len(),
                Artifact::CatchUpPackage(package) => package.content.block.payload.byte_len(),
                _ => 0,
            }
    }

    /// The height of a proposal, notarization share or finalization share
    /// that `node` signed: a node signs at most one of each kind per height
    /// and after a crash must not sign again there (see
    /// [`Consensus::abstain_through`](crate::Consensus::abstain_through)).
    /// `None` for other artifacts, and for ones `node` only relays.
    pub fn signed_height(&self, node: NodeId) -> Option<Height> {
        match self {
            Artifact::Proposal(proposal) if proposal.block.maker == node => {
                Some(proposal.block.height)
            }
            Artifact::NotarizationShare { height, share, .. }
            | Artifact::FinalizationShare { height, share, .. }
                if share.signer == node =>
            {
                Some(*height)
            }
            _ => None,
        }
    }

    /// The height the artifact belongs to.
    pub fn height(&self) -> Height {
        match self {
            Artifact::Proposal(proposal) => proposal.block.height,
            Artifact::NotarizationShare { height, .. }
            | Artifact::FinalizationShare { height, .. }
            | Artifact::BeaconShare { height, .. }
            | Artifact::Beacon { height, .. }
            | Artifact::CatchUpRequest { height } => *height,
            Artifact::CatchUpShare { content, .. } => content.height(),
            Artifact::CatchUpPackage(package) => package.content.height(),
            Artifact::Notarization(certificate) | Artifact::Finalization(certificate) => {
                certificate.height
            }
        }
    }
}

/// What a node keeps with each of its last finalized blocks so that,
/// after a restart, it can still show them to peers that stopped a few
/// heights lower: the maker's signature and the certificates it held.
/// Without them a subnet whose nodes all stopped at slightly different
/// heights could not finish the rounds between (the lower nodes no longer
/// sign there, and the higher ones kept only the blocks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalityProof {
    /// The random beacon at the block's height (the block's rank and
    /// the check of its proposal rest on it).
    #[serde(with = "serde_bytes")]
    pub beacon: SignatureBytes,
    /// The maker's signature on the block hash (the proposal's).
    #[serde(with = "serde_bytes")]
    pub signature: SignatureBytes,
    /// The block's notarization, if this node held it.
    pub notarization: Option<Certificate>,
    /// The block's finalization, if this node held one for it (only the
    /// top block of a finalized chain has its own).
    pub finalization: Option<Certificate>,
}

/// A finalized block handed to execution, in height order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalizedBlock {
    /// The block.
    pub block: Block,
    /// Its hash.
    pub hash: Hash,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(hash: Hash) -> String {
        hash.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    fn block(query_stats: Vec<serde_bytes::ByteBuf>) -> Block {
        let payload = Payload {
            ingress: vec![IngressMessage {
                id: Hash([7; 32]),
                content: b"call".to_vec(),
            }],
            chain_key: vec![vec![1, 2, 3].into()],
            query_stats,
            ..Payload::default()
        };
        Block {
            payload,
            ..Block::genesis()
        }
    }

    /// Blocks made before the query-stats section existed keep their
    /// hashes (the values are those the code before it computed), so a
    /// node's stored chain stays valid; a report changes the hash.
    #[test]
    fn the_query_stats_section_is_hashed_only_when_it_holds_something() {
        let before = block(Vec::new());
        assert_eq!(
            hex(before.payload.hash()),
            "61a0ade17263d12eb5f69a0fac5c9e3d8e0f8e933ee1e8d6753c7d276f1df82e"
        );
        assert_eq!(
            hex(before.hash()),
            "e2e84203d485406d965d795be1793d34601df23bd423c565553101f8bc5823df"
        );
        let reporting = block(vec![vec![9].into()]);
        assert_ne!(reporting.hash(), before.hash());
        let other_report = block(vec![vec![8].into()]);
        assert_ne!(reporting.hash(), other_report.hash());
    }
}
