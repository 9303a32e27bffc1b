//! Complaints and openings: how a receiver gets its share of a dealing
//! whose ciphertext to it was wrong (the paper's complaint and opening steps).
//!
//! Ciphertexts carry no proof of correct content, so a dealer may send one
//! receiver garbage while the dealing verifies. That receiver publishes a
//! [`Complaint`]: its Diffie–Hellman value with the dealing's ephemeral key
//! and a proof that the value is right. Anyone can then decrypt that one
//! ciphertext and see that it does not open the dealer's commitment — the
//! dealer is proven faulty. The other receivers answer with [`Opening`]s:
//! their own (checked) shares of that dealing. Any `threshold` valid
//! openings interpolate to the complainer's share of the dealing, so the
//! complainer still obtains its share of the transcript.

use ff::Field;

use super::commitment::{Masking, Share};
use super::curve::IdkgCurve;
use super::mega::MegaSecretKey;
use super::proofs::DleqProof;
use super::transcript::Transcript;
use super::TecdsaError;
use rand_core::{CryptoRng, RngCore};

/// Evidence that `dealer` sent receiver `complainer` a share that does not
/// open its commitment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Complaint<C: IdkgCurve> {
    /// The accused dealer.
    pub dealer: u32,
    /// The receiver complaining.
    pub complainer: u32,
    pub(super) shared: C::Point,
    pub(super) proof: DleqProof<C>,
}

/// A receiver's share of one dealing, revealed to answer a complaint.
#[derive(Clone, Debug)]
pub struct Opening<C: IdkgCurve> {
    /// The dealer whose dealing is opened.
    pub dealer: u32,
    /// The receiver's share of that dealing.
    pub share: Share<C>,
}

impl<C: IdkgCurve> Transcript<C> {
    /// Complaints against every dealer whose ciphertext to receiver `index`
    /// does not open its commitment (empty when all are fine).
    ///
    /// # Errors
    /// [`TecdsaError::NotAReceiver`].
    pub fn complain(
        &self,
        index: u32,
        key: &MegaSecretKey<C>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Vec<Complaint<C>>, TecdsaError> {
        self.check_receiver(index, key)?;
        Ok(self
            .dealings()
            .iter()
            .enumerate()
            .filter_map(|(position, dealing)| {
                let context = self.params().dealer_context(dealing.dealer);
                let share = self.decrypt(position, index, key);
                if dealing.commitment.opens(index, &share) {
                    return None;
                }
                let shared = dealing.ciphertexts.shared_secret(key);
                let proof = DleqProof::prove(
                    &complaint_context(&context, index),
                    &dealing.ciphertexts.ephemeral,
                    key.scalar(),
                    rng,
                );
                Some(Complaint {
                    dealer: dealing.dealer,
                    complainer: index,
                    shared,
                    proof,
                })
            })
            .collect())
    }

    /// Checks a complaint: the revealed value is the complainer's, and the
    /// ciphertext it decrypts does not open the dealer's commitment.
    ///
    /// # Errors
    /// [`TecdsaError::InvalidComplaint`] for a false or malformed complaint.
    pub fn verify_complaint(&self, complaint: &Complaint<C>) -> Result<(), TecdsaError> {
        let invalid = || TecdsaError::InvalidComplaint {
            complainer: complaint.complainer,
            dealer: complaint.dealer,
        };
        let dealing = self
            .dealings()
            .iter()
            .find(|dealing| dealing.dealer == complaint.dealer)
            .ok_or_else(invalid)?;
        let key = self
            .params()
            .receivers
            .get(complaint.complainer as usize)
            .ok_or_else(invalid)?;
        let context = self.params().dealer_context(dealing.dealer);
        let honest_value = complaint.proof.verify(
            &complaint_context(&context, complaint.complainer),
            &key.0,
            &dealing.ciphertexts.ephemeral,
            &complaint.shared,
        );
        let share = dealing.ciphertexts.decrypt_with_shared(
            &context,
            complaint.complainer,
            key,
            &complaint.shared,
        );
        if honest_value && !dealing.commitment.opens(complaint.complainer, &share) {
            Ok(())
        } else {
            Err(invalid())
        }
    }

    /// Receiver `index`'s opening of the dealing a valid `complaint` accuses.
    ///
    /// # Errors
    /// [`TecdsaError::InvalidComplaint`]; [`TecdsaError::BadCiphertext`]
    /// when this receiver's own ciphertext of that dealing is bad too.
    pub fn open_for(
        &self,
        complaint: &Complaint<C>,
        index: u32,
        key: &MegaSecretKey<C>,
    ) -> Result<Opening<C>, TecdsaError> {
        self.verify_complaint(complaint)?;
        self.check_receiver(index, key)?;
        let position = self
            .dealings()
            .iter()
            .position(|dealing| dealing.dealer == complaint.dealer)
            .expect("verified complaint");
        let dealing = &self.dealings()[position];
        let share = self.decrypt(position, index, key);
        if !dealing.commitment.opens(index, &share) {
            return Err(TecdsaError::BadCiphertext {
                dealers: vec![dealing.dealer],
            });
        }
        Ok(Opening {
            dealer: dealing.dealer,
            share,
        })
    }

    /// Whether `opening` is a true share of its dealing.
    pub fn verify_opening(&self, opening: &Opening<C>) -> bool {
        self.dealings()
            .iter()
            .find(|dealing| dealing.dealer == opening.dealer)
            .is_some_and(|dealing| {
                dealing
                    .commitment
                    .opens(opening.share.index, &opening.share)
            })
    }

    /// Receiver `index`'s share of the transcript, with the dealings whose
    /// ciphertexts to it are bad reconstructed from `openings` by others.
    ///
    /// # Errors
    /// [`TecdsaError::BadCiphertext`] naming the dealers for which fewer
    /// than `threshold` valid openings were given.
    pub fn open_share_with_openings(
        &self,
        index: u32,
        key: &MegaSecretKey<C>,
        openings: &[Opening<C>],
    ) -> Result<Share<C>, TecdsaError> {
        self.check_receiver(index, key)?;
        let threshold = self.params().threshold;
        let mut value = C::Scalar::ZERO;
        let mut mask = C::Scalar::ZERO;
        let mut missing = Vec::new();
        for (position, (dealing, weight)) in self.dealings().iter().zip(self.weights()).enumerate()
        {
            let own = self.decrypt(position, index, key);
            let part = if dealing.commitment.opens(index, &own) {
                Some(own)
            } else {
                let mut valid: Vec<&Opening<C>> = openings
                    .iter()
                    .filter(|opening| {
                        opening.dealer == dealing.dealer && opening.share.index != index
                    })
                    .filter(|opening| {
                        dealing
                            .commitment
                            .opens(opening.share.index, &opening.share)
                    })
                    .collect();
                valid.sort_by_key(|opening| opening.share.index);
                valid.dedup_by_key(|opening| opening.share.index);
                (valid.len() >= threshold).then(|| interpolate(&valid[..threshold], index))
            };
            match part {
                Some(part) => {
                    value += part.value * weight;
                    mask += part.mask.unwrap_or(C::Scalar::ZERO) * weight;
                }
                None => missing.push(dealing.dealer),
            }
        }
        if !missing.is_empty() {
            return Err(TecdsaError::BadCiphertext { dealers: missing });
        }
        let share = Share {
            index,
            value,
            mask: (self.params().operation().masking() == Masking::Masked).then_some(mask),
        };
        zeroize::Zeroize::zeroize(&mut value);
        zeroize::Zeroize::zeroize(&mut mask);
        Ok(share)
    }
}

fn complaint_context(context: &super::oracle::Oracle, complainer: u32) -> super::oracle::Oracle {
    let mut oracle = context.clone();
    oracle
        .bytes(b"use", b"complaint")
        .u64(b"complainer", u64::from(complainer));
    oracle
}

/// The share at receiver `index` of the polynomial through `openings`
/// (Lagrange interpolation at `x = index + 1`).
fn interpolate<C: IdkgCurve>(openings: &[&Opening<C>], index: u32) -> Share<C> {
    let x = |i: u32| C::Scalar::from(u64::from(i) + 1);
    let target = x(index);
    let mut value = C::Scalar::ZERO;
    let mut mask = C::Scalar::ZERO;
    for (j, opening) in openings.iter().enumerate() {
        let xj = x(opening.share.index);
        let (numerator, denominator) = openings.iter().enumerate().filter(|(m, _)| *m != j).fold(
            (C::Scalar::ONE, C::Scalar::ONE),
            |(numerator, denominator), (_, other)| {
                let xm = x(other.share.index);
                (numerator * (target - xm), denominator * (xj - xm))
            },
        );
        let coefficient =
            numerator * Option::<C::Scalar>::from(denominator.invert()).expect("distinct indices");
        value += opening.share.value * coefficient;
        mask += opening.share.mask.unwrap_or(C::Scalar::ZERO) * coefficient;
    }
    Share {
        index,
        value,
        mask: openings[0].share.mask.map(|_| mask),
    }
}
