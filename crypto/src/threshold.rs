//! Threshold BLS: a key shared among n parties so that any t of them can sign.
//!
//! A dealer picks a secret polynomial f of degree t−1 ([`Polynomial`]) and
//! publishes its [`PublicCommitment`] `Aₖ = aₖ·g` in the public-key group.
//! Party i holds the share f(i); everyone can derive its public key share
//! `Σ Aₖ·iᵏ` from the commitment alone. Signature shares `f(i)·H(m)` verify
//! like ordinary signatures under those key shares, and any t of them combine
//! by Lagrange interpolation at 0 into `f(0)·H(m)`, an ordinary signature
//! under the group public key `A₀`.
//!
//! [`deal`] is a trusted dealer, for tests and as the baseline the
//! non-interactive DKG replaces; the commitment and share types are the same
//! a DKG produces.

use blstrs::Scalar;
use group::prime::PrimeCurveAffine;
use group::{Curve, Group};
use rand_core::{CryptoRng, RngCore};

use crate::backend::msm::BlstGroup;
use crate::ciphersuite::Ciphersuite;
use crate::curve::{Affine, BlsGroup};
use crate::error::Error;
use crate::keys::{PublicKey, SecretKey, Signature};
use crate::polynomial::{check_indices, lagrange_coefficients_at_zero, Polynomial};
use crate::scheme::Scheme;

/// The public polynomial `(A₀, …, A_{t−1})` of a threshold key: `A₀` is the
/// group public key and the length is the threshold t.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PublicCommitment<S: Scheme> {
    coefficients: Vec<Affine<S::PublicKeyGroup>>,
}

/// Party `index`'s share of a threshold secret key. Wiped on drop, never shown by `Debug`.
#[derive(Clone, Debug)]
pub struct SecretKeyShare {
    index: u32,
    key: SecretKey,
}

/// A signature share from party `index`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct SignatureShare<S: Scheme> {
    /// The share index (x-coordinate, ≥ 1) of the signer.
    pub index: u32,
    /// `f(index)·H(m)`: an ordinary signature under the party's public key share.
    pub signature: Signature<S>,
}

impl<S: Scheme> PublicCommitment<S> {
    /// Wraps public coefficients (constant term first), e.g. from a DKG transcript.
    ///
    /// # Errors
    /// [`Error::EmptyInput`] for no coefficients; [`Error::IdentityPublicKey`]
    /// if the group public key `A₀` is the identity.
    pub fn from_coefficients(coefficients: Vec<Affine<S::PublicKeyGroup>>) -> Result<Self, Error> {
        let constant = coefficients.first().ok_or(Error::EmptyInput)?;
        PublicKey::<S>::from_point(*constant)?;
        for coefficient in &coefficients[1..] {
            S::PublicKeyGroup::check_point(coefficient)?;
        }
        Ok(PublicCommitment { coefficients })
    }

    /// Decodes concatenated compressed coefficients (constant term first).
    ///
    /// # Errors
    /// [`Error::InvalidLength`] unless the length is a non-zero multiple of
    /// the point size, any point decoding error, and those of [`Self::from_coefficients`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let size = <S::PublicKeyGroup as BlsGroup>::COMPRESSED_SIZE;
        if bytes.is_empty() || bytes.len() % size != 0 {
            return Err(Error::InvalidLength {
                expected: size * (bytes.len() / size).max(1),
                actual: bytes.len(),
            });
        }
        let coefficients = bytes
            .chunks_exact(size)
            .map(S::PublicKeyGroup::from_compressed_slice)
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_coefficients(coefficients)
    }

    /// Concatenated compressed coefficients, constant term first.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.coefficients
            .iter()
            .flat_map(S::PublicKeyGroup::to_compressed_vec)
            .collect()
    }

    /// The threshold t: how many shares a signature needs.
    pub fn threshold(&self) -> usize {
        self.coefficients.len()
    }

    /// The public coefficients, constant term first.
    pub fn coefficients(&self) -> &[Affine<S::PublicKeyGroup>] {
        &self.coefficients
    }

    /// The group public key `A₀`, under which combined signatures verify.
    pub fn public_key(&self) -> PublicKey<S> {
        PublicKey(self.coefficients[0])
    }

    /// The public key share of party `index`: the commitment evaluated at `index`.
    ///
    /// # Errors
    /// [`Error::ZeroIndex`] for index 0 (that is the group key);
    /// [`Error::IdentityPublicKey`] in the negligible case the share is the identity.
    pub fn public_key_share(&self, index: u32) -> Result<PublicKey<S>, Error> {
        if index == 0 {
            return Err(Error::ZeroIndex);
        }
        let x = Scalar::from(u64::from(index));
        let value = self
            .coefficients
            .iter()
            .rev()
            .fold(S::PublicKeyGroup::identity(), |acc, coefficient| {
                acc * x + coefficient.to_curve()
            });
        PublicKey::from_subgroup_point(value.to_affine())
    }
}

impl SecretKeyShare {
    /// Wraps a share value `f(index)` received from a dealer or a DKG.
    ///
    /// # Errors
    /// [`Error::ZeroIndex`] for index 0.
    pub fn new(index: u32, key: SecretKey) -> Result<Self, Error> {
        if index == 0 {
            return Err(Error::ZeroIndex);
        }
        Ok(SecretKeyShare { index, key })
    }

    /// The share index (x-coordinate) of this party.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The share value as a secret key (signatures with it verify under the public key share).
    pub fn secret_key(&self) -> &SecretKey {
        &self.key
    }
}

/// Deals a fresh random `threshold`-of-`shares` key as a trusted dealer;
/// share i (for i = 1..=shares) is evaluated at x = i.
///
/// # Errors
/// [`Error::InvalidThreshold`] unless `1 ≤ threshold ≤ shares`.
pub fn deal<S: Scheme, R: RngCore + CryptoRng>(
    threshold: usize,
    shares: u32,
    rng: &mut R,
) -> Result<(PublicCommitment<S>, Vec<SecretKeyShare>), Error> {
    let secret = SecretKey::generate(rng);
    deal_secret(&secret, threshold, shares, rng)
}

/// Deals shares of a given secret key (resharing, or tests that need a known key).
///
/// # Errors
/// [`Error::InvalidThreshold`] unless `1 ≤ threshold ≤ shares`.
pub fn deal_secret<S: Scheme, R: RngCore + CryptoRng>(
    secret: &SecretKey,
    threshold: usize,
    shares: u32,
    rng: &mut R,
) -> Result<(PublicCommitment<S>, Vec<SecretKeyShare>), Error> {
    if threshold == 0 || threshold > shares as usize {
        return Err(Error::InvalidThreshold {
            threshold,
            shares: shares as usize,
        });
    }
    let polynomial = Polynomial::random_with_secret(*secret.scalar(), threshold, rng)?;
    let generator = S::PublicKeyGroup::generator();
    let coefficients = polynomial
        .coefficients()
        .iter()
        .map(|coefficient| (generator * coefficient).to_affine())
        .collect();
    let commitment = PublicCommitment { coefficients };
    let key_shares = (1..=shares)
        .map(|index| {
            let value = polynomial.evaluate(Scalar::from(u64::from(index)));
            // A zero share value has probability ~n/2²⁵⁵; rather than hand out a
            // key that `SecretKey` forbids, deal again.
            if bool::from(ff::Field::is_zero(&value)) {
                return None;
            }
            Some(SecretKeyShare {
                index,
                key: SecretKey::from_scalar_unchecked(value),
            })
        })
        .collect::<Option<Vec<_>>>();
    match key_shares {
        Some(key_shares) => Ok((commitment, key_shares)),
        None => deal_secret(secret, threshold, shares, rng),
    }
}

impl<S: Scheme> Ciphersuite<S> {
    /// Signs `message` with a key share.
    pub fn sign_share(&self, share: &SecretKeyShare, message: &[u8]) -> SignatureShare<S> {
        SignatureShare {
            index: share.index,
            signature: self.sign(&share.key, message),
        }
    }

    /// Verifies a signature share against the public key share its index
    /// derives from `commitment`.
    ///
    /// # Errors
    /// [`Error::ZeroIndex`] or [`Error::InvalidSignature`].
    pub fn verify_share(
        &self,
        commitment: &PublicCommitment<S>,
        message: &[u8],
        share: &SignatureShare<S>,
    ) -> Result<(), Error> {
        let public_key_share = commitment.public_key_share(share.index)?;
        self.verify(&public_key_share, message, &share.signature)
    }

    /// Verifies every share, then combines t of them into a signature under
    /// the group public key.
    ///
    /// # Errors
    /// [`Error::ZeroIndex`] or [`Error::DuplicateIndex`] for bad indices,
    /// [`Error::NotEnoughShares`] for fewer than t shares, and
    /// [`Error::InvalidShares`] naming every share that fails verification.
    pub fn combine(
        &self,
        commitment: &PublicCommitment<S>,
        message: &[u8],
        shares: &[SignatureShare<S>],
    ) -> Result<Signature<S>, Error> {
        check_indices(shares.iter().map(|share| share.index))?;
        let threshold = commitment.threshold();
        if shares.len() < threshold {
            return Err(Error::NotEnoughShares {
                threshold,
                actual: shares.len(),
            });
        }
        let mut invalid: Vec<u32> = shares
            .iter()
            .filter(|share| self.verify_share(commitment, message, share).is_err())
            .map(|share| share.index)
            .collect();
        if !invalid.is_empty() {
            invalid.sort_unstable();
            return Err(Error::InvalidShares(invalid));
        }
        combine_unchecked(threshold, shares)
    }
}

/// Combines the first `threshold` shares by Lagrange interpolation at 0
/// without verifying them: for callers that already verified the shares
/// (e.g. in a batch). Invalid shares yield an invalid signature, never a panic.
///
/// # Errors
/// [`Error::InvalidThreshold`] for a threshold of 0, [`Error::NotEnoughShares`],
/// [`Error::ZeroIndex`] or [`Error::DuplicateIndex`].
pub fn combine_unchecked<S: Scheme>(
    threshold: usize,
    shares: &[SignatureShare<S>],
) -> Result<Signature<S>, Error> {
    if threshold == 0 {
        return Err(Error::InvalidThreshold {
            threshold,
            shares: shares.len(),
        });
    }
    if shares.len() < threshold {
        return Err(Error::NotEnoughShares {
            threshold,
            actual: shares.len(),
        });
    }
    check_indices(shares.iter().map(|share| share.index))?;
    let used = &shares[..threshold];
    let indices: Vec<u32> = used.iter().map(|share| share.index).collect();
    let lambdas = lagrange_coefficients_at_zero::<Scalar>(&indices)?;
    let points: Vec<S::SignatureGroup> = used
        .iter()
        .map(|share| share.signature.0.to_curve())
        .collect();
    Ok(Signature(
        <S::SignatureGroup as BlstGroup>::multi_exp(&points, &lambdas).to_affine(),
    ))
}
