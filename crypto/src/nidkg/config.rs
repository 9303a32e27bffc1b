//! The public parameters of one DKG instance, agreed before anyone deals.

use blstrs::G2Affine;

use super::encryption::EncryptionPublicKey;
use super::fiat_shamir::FiatShamir;
use super::{DkgError, MAX_RECEIVERS};
use crate::threshold::PublicCommitment;
use crate::MinSig;

/// Who receives shares, with which threshold, and (for a resharing) which
/// key is being reshared. Every proof of every dealing is bound to the
/// config's digest, so a dealing made for one config never verifies under
/// another.
#[derive(Clone, Debug)]
pub struct DkgConfig {
    pub(crate) receivers: Vec<EncryptionPublicKey>,
    pub(crate) threshold: usize,
    pub(crate) min_dealings: usize,
    pub(crate) resharing: Option<Resharing>,
    pub(crate) digest: [u8; 32],
}

/// The key a resharing DKG carries over.
#[derive(Clone, Debug)]
pub(crate) struct Resharing {
    /// The previous transcript's public polynomial: dealer d's dealing must
    /// have constant term equal to its public key share `Σₖ dᵏ·Aₖ`.
    pub(crate) previous: PublicCommitment<MinSig>,
    /// How many receivers the previous transcript had (valid dealer indices are 1..=this).
    pub(crate) previous_receivers: usize,
}

impl DkgConfig {
    /// A fresh DKG: a new random key shared `threshold`-of-`receivers.len()`,
    /// formed from at least `min_dealings` valid dealings of distinct
    /// dealers (the IC takes f + 1, so at least one dealer is honest).
    ///
    /// `dkg_id` must be unique per instance (e.g. subnet id, height, purpose).
    ///
    /// # Errors
    /// [`DkgError::InvalidConfig`] for no receivers, more than
    /// [`MAX_RECEIVERS`], a repeated receiver key, a threshold outside
    /// `1..=receivers` or `min_dealings` = 0.
    pub fn new(
        dkg_id: &[u8],
        receivers: Vec<EncryptionPublicKey>,
        threshold: usize,
        min_dealings: usize,
    ) -> Result<Self, DkgError> {
        if min_dealings == 0 {
            return Err(DkgError::InvalidConfig("at least one dealing is needed"));
        }
        Self::build(dkg_id, receivers, threshold, min_dealings, None)
    }

    /// A resharing DKG: the key of the `previous` public polynomial (held
    /// by `previous_receivers` parties) is reshared `threshold`-of-
    /// `receivers.len()`. Dealers are previous receivers, identified by their
    /// share index; `previous.threshold()` dealings are needed.
    ///
    /// # Errors
    /// As [`DkgConfig::new`].
    pub fn resharing(
        dkg_id: &[u8],
        receivers: Vec<EncryptionPublicKey>,
        threshold: usize,
        previous: &PublicCommitment<MinSig>,
        previous_receivers: usize,
    ) -> Result<Self, DkgError> {
        if previous_receivers < previous.threshold() {
            return Err(DkgError::InvalidConfig(
                "fewer previous receivers than the previous threshold",
            ));
        }
        let resharing = Resharing {
            previous: previous.clone(),
            previous_receivers,
        };
        Self::build(
            dkg_id,
            receivers,
            threshold,
            previous.threshold(),
            Some(resharing),
        )
    }

    fn build(
        dkg_id: &[u8],
        receivers: Vec<EncryptionPublicKey>,
        threshold: usize,
        min_dealings: usize,
        resharing: Option<Resharing>,
    ) -> Result<Self, DkgError> {
        if receivers.is_empty() || receivers.len() > MAX_RECEIVERS {
            return Err(DkgError::InvalidConfig(
                "receiver count must be in 1..=1024",
            ));
        }
        if threshold == 0 || threshold > receivers.len() {
            return Err(DkgError::InvalidConfig(
                "threshold must be in 1..=receivers",
            ));
        }
        let distinct: std::collections::HashSet<_> = receivers.iter().collect();
        if distinct.len() != receivers.len() {
            return Err(DkgError::InvalidConfig("receiver keys must be distinct"));
        }
        let mut transcript = FiatShamir::new("chainkey-nidkg-v1 config");
        transcript.append(b"dkg id", dkg_id);
        transcript.append_u64(b"threshold", threshold as u64);
        transcript.append_u64(b"min dealings", min_dealings as u64);
        let keys: Vec<_> = receivers.iter().map(|key| key.0).collect();
        transcript.append_g1(b"receivers", &keys);
        if let Some(resharing) = &resharing {
            let coefficients: Vec<G2Affine> = resharing.previous.coefficients().to_vec();
            transcript.append_g2(b"previous commitment", &coefficients);
            transcript.append_u64(b"previous receivers", resharing.previous_receivers as u64);
        }
        Ok(DkgConfig {
            receivers,
            threshold,
            min_dealings,
            resharing,
            digest: transcript.digest(),
        })
    }

    /// The receivers' keys; receiver at position p gets share index p + 1.
    pub fn receivers(&self) -> &[EncryptionPublicKey] {
        &self.receivers
    }

    /// The threshold t of the new key (its polynomial has degree t − 1).
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// How many valid dealings a transcript needs.
    pub fn min_dealings(&self) -> usize {
        self.min_dealings
    }

    /// Whether this config reshares an existing key.
    pub fn is_resharing(&self) -> bool {
        self.resharing.is_some()
    }
}
