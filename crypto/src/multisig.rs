//! Multi-signatures as the Internet Computer's notarization and finalization
//! use them: a fixed committee of n keys (each with a verified proof of
//! possession), every member signs the same message, and any subset's
//! signatures aggregate into one signature plus the set of who signed.
//!
//! Unlike a threshold signature, a multi-signature shows which members
//! signed; the verifier decides whether that set is large enough (n − f for
//! notarization).

use std::collections::BTreeSet;

use crate::ciphersuite::Ciphersuite;
use crate::error::Error;
use crate::keys::{PublicKey, Signature};
use crate::scheme::Scheme;

/// One committee member's signature on the common message.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct MultiSignatureShare<S: Scheme> {
    /// The signer's position in the committee (0-based).
    pub signer: u32,
    /// The signer's ordinary signature on the message.
    pub signature: Signature<S>,
}

/// An aggregate signature of several committee members on one message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MultiSignature<S: Scheme> {
    signers: BTreeSet<u32>,
    signature: Signature<S>,
}

impl<S: Scheme> MultiSignature<S> {
    /// Aggregates shares from distinct signers (verify them first, or verify
    /// the result: an invalid share makes the aggregate invalid).
    ///
    /// # Errors
    /// [`Error::EmptyInput`] or [`Error::DuplicateIndex`] if a signer appears twice.
    pub fn aggregate(shares: &[MultiSignatureShare<S>]) -> Result<Self, Error> {
        let mut signers = BTreeSet::new();
        for share in shares {
            if !signers.insert(share.signer) {
                return Err(Error::DuplicateIndex(share.signer));
            }
        }
        let signature = Signature::aggregate(shares.iter().map(|share| &share.signature))?;
        Ok(MultiSignature { signers, signature })
    }

    /// Committee positions of the signers, ascending.
    pub fn signers(&self) -> impl ExactSizeIterator<Item = u32> + '_ {
        self.signers.iter().copied()
    }

    /// The aggregated signature.
    pub fn signature(&self) -> &Signature<S> {
        &self.signature
    }
}

impl<S: Scheme> Ciphersuite<S> {
    /// Verifies one member's share against its committee key.
    ///
    /// # Errors
    /// [`Error::UnknownSigner`] or [`Error::InvalidSignature`].
    pub fn verify_multi_signature_share(
        &self,
        committee: &[PublicKey<S>],
        message: &[u8],
        share: &MultiSignatureShare<S>,
    ) -> Result<(), Error> {
        self.verify(
            committee_key(committee, share.signer)?,
            message,
            &share.signature,
        )
    }

    /// Verifies a multi-signature against the committee it claims to come from.
    ///
    /// # Errors
    /// [`Error::UnknownSigner`] for a signer outside the committee, or [`Error::InvalidSignature`].
    pub fn verify_multi_signature(
        &self,
        committee: &[PublicKey<S>],
        message: &[u8],
        multi_signature: &MultiSignature<S>,
    ) -> Result<(), Error> {
        let key = self.multi_signature_key(committee, multi_signature)?;
        self.verify(&key, message, &multi_signature.signature)
    }

    /// The sum of the signers' committee keys, which a multi-signature verifies under.
    pub(crate) fn multi_signature_key(
        &self,
        committee: &[PublicKey<S>],
        multi_signature: &MultiSignature<S>,
    ) -> Result<PublicKey<S>, Error> {
        let keys = multi_signature
            .signers()
            .map(|signer| committee_key(committee, signer))
            .collect::<Result<Vec<_>, _>>()?;
        PublicKey::aggregate(keys)
    }
}

/// The committee member at `signer`, or a typed error.
pub(crate) fn committee_key<S: Scheme>(
    committee: &[PublicKey<S>],
    signer: u32,
) -> Result<&PublicKey<S>, Error> {
    committee.get(signer as usize).ok_or(Error::UnknownSigner {
        index: signer,
        committee_size: committee.len(),
    })
}
