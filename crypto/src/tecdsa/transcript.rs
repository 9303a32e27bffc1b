//! Transcripts: the public result of enough verified dealings, and each
//! receiver's share of it.
//!
//! Fresh secrets add the dealers' polynomials; reshares and products
//! interpolate them at 0 over the dealers' indices (each dealer shared a
//! point of the source polynomial, or of the product of two). The
//! commitment is combined the same way, so a receiver checks its combined
//! share against it. A receiver whose ciphertext from some dealer does not
//! open the dealer's commitment learns that the dealer cheated and names it
//! ([`TecdsaError::BadCiphertext`]). The combined commitment is computed
//! only when first asked for: a receiver checks its share against the
//! dealings' commitments evaluated at its index, and combines only those.

use crate::linear_check::CheckGroup;
use std::sync::OnceLock;

use ff::Field;

use super::commitment::{Commitment, Masking, Share};
use super::curve::IdkgCurve;
use super::dealing::{verify_dealings, Dealing, TranscriptParams};
use super::mega::MegaSecretKey;
use super::TecdsaError;
use crate::polynomial::lagrange_coefficients_at_zero;

/// A dealing that passed [`Dealing::verify`] for its transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedDealing<C: IdkgCurve>(Dealing<C>);

impl<C: IdkgCurve> VerifiedDealing<C> {
    /// Verifies `dealing` for `params`.
    ///
    /// # Errors
    /// [`TecdsaError::InvalidDealing`].
    pub fn verify(dealing: Dealing<C>, params: &TranscriptParams<C>) -> Result<Self, TecdsaError> {
        dealing.verify(params)?;
        Ok(VerifiedDealing(dealing))
    }

    /// Verifies many dealings in one batch ([`verify_dealings`]); returns
    /// the valid ones and an error naming each invalid one.
    pub fn verify_all(
        dealings: Vec<Dealing<C>>,
        params: &TranscriptParams<C>,
    ) -> (Vec<Self>, Vec<TecdsaError>) {
        let verdicts = verify_dealings(params, &dealings);
        let mut valid = Vec::new();
        let mut invalid = Vec::new();
        for (dealing, verdict) in dealings.into_iter().zip(verdicts) {
            match verdict {
                Ok(()) => valid.push(VerifiedDealing(dealing)),
                Err(error) => invalid.push(error),
            }
        }
        (valid, invalid)
    }

    /// Takes `dealing` as verified without checking it: for dealings taken
    /// from finalized blocks, which every node verified when it validated
    /// the block (re-verifying each on every node again would be wasted
    /// work). Using it on a dealing that was never verified breaks the
    /// transcript's guarantees: a transcript may then combine an invalid
    /// dealing, and its secret is no longer what the operation promises.
    pub fn assume_verified(dealing: Dealing<C>) -> Self {
        VerifiedDealing(dealing)
    }

    /// The dealing.
    pub fn dealing(&self) -> &Dealing<C> {
        &self.0
    }
}

/// A transcript: the dealings it combines, and their combined commitment.
#[derive(Clone, Debug)]
pub struct Transcript<C: IdkgCurve> {
    params: TranscriptParams<C>,
    dealings: Vec<Dealing<C>>,
    weights: Vec<C::Scalar>,
    /// Combined on first use (a product's commitment is rarely needed).
    commitment: OnceLock<Commitment<C>>,
    /// Each dealing's ephemeral key, encoded once for every decryption.
    ephemeral_encodings: Vec<Vec<u8>>,
}

/// Transcripts are equal when made of the same dealings under the same
/// parameters (whether the commitment was combined yet does not matter).
impl<C: IdkgCurve> PartialEq for Transcript<C> {
    fn eq(&self, other: &Self) -> bool {
        self.params == other.params
            && self.dealings == other.dealings
            && self.weights == other.weights
    }
}

impl<C: IdkgCurve> Eq for Transcript<C> {}

impl<C: IdkgCurve> Transcript<C> {
    /// Combines verified dealings of distinct dealers (all are used, in
    /// dealer order, so every node derives the same transcript).
    ///
    /// # Errors
    /// [`TecdsaError::NotEnoughDealings`] below `params.min_dealings()`;
    /// [`TecdsaError::DuplicateDealer`].
    pub fn create(
        params: &TranscriptParams<C>,
        dealings: Vec<VerifiedDealing<C>>,
    ) -> Result<Self, TecdsaError> {
        let mut dealings: Vec<Dealing<C>> =
            dealings.into_iter().map(|verified| verified.0).collect();
        dealings.sort_by_key(|dealing| dealing.dealer);
        if let Some(pair) = dealings
            .windows(2)
            .find(|pair| pair[0].dealer == pair[1].dealer)
        {
            return Err(TecdsaError::DuplicateDealer(pair[0].dealer));
        }
        if dealings.len() < params.min_dealings() {
            return Err(TecdsaError::NotEnoughDealings {
                needed: params.min_dealings(),
                got: dealings.len(),
            });
        }
        let weights = if params.interpolates() {
            let indices: Vec<u32> = dealings.iter().map(|dealing| dealing.dealer + 1).collect();
            lagrange_coefficients_at_zero(&indices).map_err(|_| TecdsaError::DuplicateDealer(0))?
        } else {
            vec![C::Scalar::ONE; dealings.len()]
        };
        let ephemerals: Vec<C::Point> = dealings
            .iter()
            .map(|dealing| dealing.ciphertexts.ephemeral)
            .collect();
        Ok(Transcript {
            params: params.clone(),
            dealings,
            weights,
            commitment: OnceLock::new(),
            ephemeral_encodings: C::encode_all(&ephemerals),
        })
    }

    /// The transcript's identifier.
    pub fn id(&self) -> [u8; 32] {
        self.params.id
    }

    /// The parameters it was made under.
    pub fn params(&self) -> &TranscriptParams<C> {
        &self.params
    }

    /// The combined commitment (for unmasked transcripts its constant term
    /// is the secret times `G`: the public key, or a nonce's `R`).
    pub fn commitment(&self) -> &Commitment<C> {
        self.commitment.get_or_init(|| {
            let commitments: Vec<&Commitment<C>> = self
                .dealings
                .iter()
                .map(|dealing| &dealing.commitment)
                .collect();
            Commitment::combine(&commitments, &self.weights)
        })
    }

    /// Whether `share` opens the combined commitment at `index`: each
    /// dealing's commitment evaluated at the (small) index, combined with
    /// the weights — one point per dealing instead of one per coefficient.
    fn opens(&self, index: u32, share: &Share<C>) -> bool {
        if let Some(commitment) = self.commitment.get() {
            return commitment.opens(index, share);
        }
        let points = self
            .dealings
            .iter()
            .map(|dealing| dealing.commitment.evaluate(index));
        let combined = if self.params.interpolates() {
            CheckGroup::msm(&points.collect::<Vec<_>>(), &self.weights)
        } else {
            points.sum()
        };
        combined == share.commit()
    }

    /// The verified dealings it combines, in dealer order.
    pub(crate) fn dealings(&self) -> &[Dealing<C>] {
        &self.dealings
    }

    /// Each dealing's coefficient in the combination (1, or a Lagrange coefficient).
    pub(crate) fn weights(&self) -> &[C::Scalar] {
        &self.weights
    }

    /// Receiver `index`'s part of the dealing at `position` (not yet checked).
    pub(crate) fn decrypt(&self, position: usize, index: u32, key: &MegaSecretKey<C>) -> Share<C> {
        let dealing = &self.dealings[position];
        dealing.ciphertexts.decrypt(
            &self.params.dealer_context(dealing.dealer),
            index,
            key,
            &self.ephemeral_encodings[position],
        )
    }

    pub(crate) fn check_receiver(
        &self,
        index: u32,
        key: &MegaSecretKey<C>,
    ) -> Result<(), TecdsaError> {
        if self.params.receivers.get(index as usize) == Some(&key.public_key()) {
            Ok(())
        } else {
            Err(TecdsaError::NotAReceiver { index })
        }
    }

    /// The dealers whose dealings it combines.
    pub fn dealers(&self) -> Vec<u32> {
        self.dealings.iter().map(|dealing| dealing.dealer).collect()
    }

    /// Receiver `index`'s share, decrypted with `key` and checked.
    ///
    /// # Errors
    /// [`TecdsaError::NotAReceiver`] for an index or key that is not a
    /// receiver's; [`TecdsaError::BadCiphertext`] naming every dealer whose
    /// ciphertext to this receiver does not match its commitment.
    pub fn open_share(&self, index: u32, key: &MegaSecretKey<C>) -> Result<Share<C>, TecdsaError> {
        self.check_receiver(index, key)?;
        // Decrypt everything, check the combined share against the combined
        // commitment once, and only if that fails, dealing by dealing.
        let parts: Vec<Share<C>> = (0..self.dealings.len())
            .map(|position| self.decrypt(position, index, key))
            .collect();
        let mut share = Share {
            index,
            value: C::Scalar::ZERO,
            mask: None,
        };
        let mut mask = C::Scalar::ZERO;
        for (part, weight) in parts.iter().zip(&self.weights) {
            share.value += part.value * weight;
            mask += part.mask.unwrap_or(C::Scalar::ZERO) * weight;
        }
        share.mask = (self.params.operation().masking() == Masking::Masked).then_some(mask);
        zeroize::Zeroize::zeroize(&mut mask);
        if self.opens(index, &share) {
            return Ok(share);
        }
        let dealers = self
            .dealings
            .iter()
            .zip(&parts)
            .filter(|(dealing, part)| !dealing.commitment.opens(index, part))
            .map(|(dealing, _)| dealing.dealer)
            .collect();
        Err(TecdsaError::BadCiphertext { dealers })
    }
}
