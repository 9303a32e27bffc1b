//! Transcripts: the key made from enough verified dealings (paper §6,
//! "Combining dealings"), and each receiver's share of it.
//!
//! Fresh DKG: the key polynomial is the sum of the dealers' polynomials, so
//! `Aₖ = Σ_d A_{d,k}` and receiver i's share is `Σ_d s_{d,i}`; one honest
//! dealer makes the key uniformly random. Resharing: dealer d dealt its old
//! share f(d), so with Lagrange coefficients λ_d at 0 over the dealers,
//! `Aₖ = Σ_d λ_d·A_{d,k}` and `sᵢ = Σ_d λ_d·s_{d,i}`; the constant term is
//! `Σ_d λ_d·f(d)·g₂ = f(0)·g₂`, the old group public key.

use blstrs::{G2Affine, G2Projective, Scalar};
use ff::Field;
use group::{Curve, Group};
use rayon::prelude::*;

use super::chunking_proof::range_bounds;
use super::config::DkgConfig;
use super::dealing::Dealing;
use super::dlog::Budget;
use super::encryption::{EncryptionPublicKey, EncryptionSecretKey};
use super::verification::VerifiedDealing;
use super::DkgError;
use crate::backend::msm::bls_msm;
use crate::polynomial::{lagrange_coefficients_at_zero, SecretValues};
use crate::threshold::{PublicCommitment, SecretKeyShare};
use crate::{MinSig, PublicKey, SecretKey};

/// Group operations a receiver spends at most on decrypting one transcript
/// before giving up ([`DkgError::DecryptionBudgetExceeded`]). Shares from
/// honest dealers cost none of it (one table lookup per chunk); only chunks
/// a cheating dealer pushed out of `[0, 2¹⁶)` are searched for. 2³⁰
/// operations take roughly ten minutes on one core.
pub const DEFAULT_DECRYPTION_BUDGET: u64 = 1 << 30;

/// The outcome of a DKG: the public polynomial of the new key, and the
/// dealings each receiver decrypts its share from.
#[derive(Clone, Debug)]
pub struct Transcript {
    commitment: PublicCommitment<MinSig>,
    dealers: Vec<u32>,
    dealings: Vec<Dealing>,
    /// 1 for a fresh DKG; the dealers' Lagrange coefficients for a resharing.
    weights: Vec<Scalar>,
    receivers: Vec<EncryptionPublicKey>,
}

impl Transcript {
    /// Combines verified dealings of distinct dealers (all of them are used).
    ///
    /// # Errors
    /// [`DkgError::ConfigMismatch`] for a dealing verified under another
    /// config; [`DkgError::DuplicateDealer`]; [`DkgError::NotEnoughDealings`]
    /// below the config's minimum.
    pub fn create(
        config: &DkgConfig,
        mut dealings: Vec<VerifiedDealing>,
    ) -> Result<Self, DkgError> {
        if dealings
            .iter()
            .any(|dealing| dealing.config_digest != config.digest)
        {
            return Err(DkgError::ConfigMismatch);
        }
        dealings.sort_by_key(|dealing| dealing.dealer);
        if let Some(pair) = dealings
            .windows(2)
            .find(|pair| pair[0].dealer == pair[1].dealer)
        {
            return Err(DkgError::DuplicateDealer(pair[0].dealer));
        }
        if dealings.len() < config.min_dealings {
            return Err(DkgError::NotEnoughDealings {
                needed: config.min_dealings,
                valid: dealings.len(),
            });
        }
        let dealers: Vec<u32> = dealings.iter().map(|dealing| dealing.dealer).collect();
        let weights = if config.is_resharing() {
            lagrange_coefficients_at_zero(&dealers)
                .map_err(|_| DkgError::InvalidConfig("dealer indices"))?
        } else {
            vec![Scalar::ONE; dealers.len()]
        };
        let coefficients: Vec<G2Affine> = (0..config.threshold)
            .map(|k| {
                let points: Vec<G2Projective> = dealings
                    .iter()
                    .map(|dealing| dealing.dealing.commitment[k].into())
                    .collect();
                bls_msm(&points, &weights).to_affine()
            })
            .collect();
        let commitment = PublicCommitment::from_coefficients(coefficients)
            .map_err(|_| DkgError::DegenerateKey)?;
        Ok(Transcript {
            commitment,
            dealers,
            dealings: dealings
                .into_iter()
                .map(|dealing| dealing.dealing)
                .collect(),
            weights,
            receivers: config.receivers.clone(),
        })
    }

    /// The group public key, under which combined threshold signatures verify.
    pub fn public_key(&self) -> PublicKey<MinSig> {
        self.commitment.public_key()
    }

    /// The public polynomial; `public_key_share(p + 1)` is receiver p's key share.
    pub fn commitment(&self) -> &PublicCommitment<MinSig> {
        &self.commitment
    }

    /// The dealers whose dealings make up the key, ascending.
    pub fn dealers(&self) -> &[u32] {
        &self.dealers
    }

    /// Receiver `position` decrypts and combines its share (index
    /// `position + 1`) and checks it against its public key share, within
    /// [`DEFAULT_DECRYPTION_BUDGET`].
    ///
    /// # Errors
    /// As [`Transcript::decrypt_share_with_budget`].
    pub fn decrypt_share(
        &self,
        position: usize,
        key: &EncryptionSecretKey,
    ) -> Result<SecretKeyShare, DkgError> {
        self.decrypt_share_with_budget(position, key, DEFAULT_DECRYPTION_BUDGET)
    }

    /// [`Transcript::decrypt_share`] with an explicit budget of group operations.
    ///
    /// # Errors
    /// [`DkgError::UnknownReceiver`]; [`DkgError::WrongDecryptionKey`] if
    /// `key` is not that receiver's; [`DkgError::DecryptionBudgetExceeded`];
    /// [`DkgError::ShareMismatch`] if the result does not match the public
    /// key share (a dealing that should not have verified), naming the first dealer whose share does not match.
    pub fn decrypt_share_with_budget(
        &self,
        position: usize,
        key: &EncryptionSecretKey,
        budget: u64,
    ) -> Result<SecretKeyShare, DkgError> {
        let receiver = self
            .receivers
            .get(position)
            .ok_or(DkgError::UnknownReceiver(position))?;
        if key.public_key() != *receiver {
            return Err(DkgError::WrongDecryptionKey(position));
        }
        let (_, range_bound) = range_bounds(self.receivers.len());
        let budget = Budget::new(budget);
        let index = position as u32 + 1;
        let parts = self
            .dealings
            .par_iter()
            .map(|dealing| key.decrypt(&dealing.ciphertexts, position, range_bound, &budget))
            .collect::<Result<Vec<Scalar>, DkgError>>()
            .map(SecretValues)?;
        let share: Scalar = parts
            .0
            .iter()
            .zip(&self.weights)
            .map(|(part, weight)| part * weight)
            .sum();
        let expected = self
            .commitment
            .public_key_share(index)
            .map_err(|_| DkgError::DegenerateKey)?;
        if G2Projective::generator() * share != G2Projective::from(*expected.as_point()) {
            let dealer = self
                .dealings
                .iter()
                .zip(&parts.0)
                .zip(&self.dealers)
                .find(|((dealing, part), _)| !share_matches(dealing, index, part))
                .map(|(_, &dealer)| dealer);
            return Err(DkgError::ShareMismatch { dealer });
        }
        if bool::from(share.is_zero()) {
            return Err(DkgError::DegenerateKey);
        }
        let share = SecretKeyShare::new(index, SecretKey::from_scalar_unchecked(share))
            .map_err(|_| DkgError::UnknownReceiver(position))?;
        Ok(share)
    }
}

/// Whether `part·g₂` is the dealing's commitment evaluated at `index`.
fn share_matches(dealing: &Dealing, index: u32, part: &Scalar) -> bool {
    PublicCommitment::<MinSig>::from_coefficients(dealing.commitment.clone())
        .and_then(|commitment| commitment.public_key_share(index))
        .is_ok_and(|key| *key.as_point() == (G2Projective::generator() * part).to_affine())
}
