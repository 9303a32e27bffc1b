//! The validated artifact pool of one node, indexed by height.
//!
//! Only verified artifacts enter it (see `protocol`). It is bounded: shares
//! and losing proposals go once their height is finalized, everything else
//! once a catch-up package covers it, and a signer's notarization shares per
//! height are capped.

use std::collections::{BTreeMap, HashMap};

use crate::types::{
    Artifact, CatchUpContent, CatchUpPackage, Certificate, Hash, Height, NodeId, Proposal,
    SignatureBytes,
};

/// Signatures by signer.
pub(crate) type Shares = BTreeMap<NodeId, SignatureBytes>;

/// Validated artifacts, by height.
#[derive(Default)]
pub(crate) struct Pool {
    pub(crate) proposals: BTreeMap<Height, HashMap<Hash, Proposal>>,
    pub(crate) notarization_shares: BTreeMap<(Height, Hash), Shares>,
    pub(crate) finalization_shares: BTreeMap<(Height, Hash), Shares>,
    pub(crate) beacon_shares: BTreeMap<Height, Shares>,
    pub(crate) notarizations: BTreeMap<Height, BTreeMap<Hash, Certificate>>,
    pub(crate) finalizations: BTreeMap<Height, Certificate>,
    /// Beacon signature and its value (the hash that ranks makers).
    pub(crate) beacons: BTreeMap<Height, (SignatureBytes, Hash)>,
    pub(crate) catch_up_shares: BTreeMap<Height, HashMap<CatchUpContent, Shares>>,
    /// The latest catch-up package.
    pub(crate) catch_up: Option<CatchUpPackage>,
}

impl Pool {
    /// Adds a verified artifact; returns whether it was new.
    pub(crate) fn insert(&mut self, artifact: Artifact) -> bool {
        match artifact {
            Artifact::Proposal(proposal) => {
                let hash = proposal.block.hash();
                self.proposals
                    .entry(proposal.block.height)
                    .or_default()
                    .insert(hash, proposal)
                    .is_none()
            }
            Artifact::NotarizationShare {
                height,
                block,
                share,
            } => self
                .notarization_shares
                .entry((height, block))
                .or_default()
                .insert(share.signer, share.signature)
                .is_none(),
            Artifact::FinalizationShare {
                height,
                block,
                share,
            } => self
                .finalization_shares
                .entry((height, block))
                .or_default()
                .insert(share.signer, share.signature)
                .is_none(),
            Artifact::Notarization(certificate) => self
                .notarizations
                .entry(certificate.height)
                .or_default()
                .insert(certificate.block, certificate)
                .is_none(),
            Artifact::Finalization(certificate) => self
                .finalizations
                .insert(certificate.height, certificate)
                .is_none(),
            Artifact::BeaconShare { height, share } => self
                .beacon_shares
                .entry(height)
                .or_default()
                .insert(share.signer, share.signature)
                .is_none(),
            Artifact::Beacon { height, signature } => {
                let value = Hash::of(&[&signature]);
                self.beacons.insert(height, (signature, value)).is_none()
            }
            Artifact::CatchUpShare { content, share } => self
                .catch_up_shares
                .entry(content.height())
                .or_default()
                .entry(content)
                .or_default()
                .insert(share.signer, share.signature)
                .is_none(),
            Artifact::CatchUpPackage(package) => {
                let newer = package.content.height() > self.catch_up_height();
                if newer {
                    self.catch_up = Some(package);
                }
                newer
            }
            Artifact::CatchUpRequest { .. } => false,
        }
    }

    /// Height of the latest catch-up package (0 before the first).
    pub(crate) fn catch_up_height(&self) -> Height {
        self.catch_up
            .as_ref()
            .map_or(0, |package| package.content.height())
    }

    /// How many blocks at `height` a signer has finalization-shared (one, if honest).
    pub(crate) fn finalization_shares_by(&self, signer: NodeId, height: Height) -> usize {
        shares_by(&self.finalization_shares, signer, height)
    }

    /// Drops shares and losing proposals below the finalized height
    /// (`finalized` maps each finalized height to its block), and everything
    /// below the latest catch-up package.
    pub(crate) fn purge(&mut self, finalized_height: Height, finalized: &BTreeMap<Height, Hash>) {
        let cut = self.catch_up_height();
        if cut > 0 {
            self.notarizations = self.notarizations.split_off(&cut);
            self.finalizations = self.finalizations.split_off(&cut);
            self.beacons = self.beacons.split_off(&cut);
            self.proposals = self.proposals.split_off(&cut);
            self.catch_up_shares = self.catch_up_shares.split_off(&(cut + 1));
        }
        self.notarization_shares
            .retain(|(height, _), _| *height >= finalized_height);
        self.finalization_shares
            .retain(|(height, _), _| *height >= finalized_height);
        self.beacon_shares
            .retain(|height, _| *height >= finalized_height);
        for (height, proposals) in self.proposals.range_mut(..finalized_height) {
            proposals.retain(|hash, _| finalized.get(height) == Some(hash));
        }
    }

    /// Number of artifacts held.
    pub(crate) fn len(&self) -> usize {
        let shares =
            |map: &BTreeMap<(Height, Hash), Shares>| map.values().map(BTreeMap::len).sum::<usize>();
        self.proposals.values().map(HashMap::len).sum::<usize>()
            + shares(&self.notarization_shares)
            + shares(&self.finalization_shares)
            + self
                .beacon_shares
                .values()
                .map(BTreeMap::len)
                .sum::<usize>()
            + self
                .notarizations
                .values()
                .map(BTreeMap::len)
                .sum::<usize>()
            + self.finalizations.len()
            + self.beacons.len()
            + self
                .catch_up_shares
                .values()
                .flat_map(HashMap::values)
                .map(BTreeMap::len)
                .sum::<usize>()
    }
}

/// How many blocks at `height` have a share by `signer` in `map`.
fn shares_by(map: &BTreeMap<(Height, Hash), Shares>, signer: NodeId, height: Height) -> usize {
    let range = (height, Hash([0; 32]))..=(height, Hash([0xff; 32]));
    map.range(range)
        .filter(|(_, shares)| shares.contains_key(&signer))
        .count()
}
