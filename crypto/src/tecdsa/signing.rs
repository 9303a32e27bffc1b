//! Presignatures and online signing (the paper's presignature and signing phases, with the nonce
//! re-randomisation of Groth–Shoup 2021/1330 that the Internet Computer uses).
//!
//! A presignature is four transcripts made ahead of time: `κ` unmasked
//! (so `K = κ·G` is public), `λ` masked, and the masked products `κ·λ` and
//! `x·λ` with the key `x`. To sign hash `e` for derivation tweak `t` with
//! public randomness `ρ` (from the random beacon), everyone computes
//! `δ = Hash(ρ, e, K, t)`, `R = K + δ·G`, `r = x(R) mod n` and
//! `θ = e + r·t`; node `i` publishes openings of
//!
//! - `νᵢ = θ·λᵢ + r·(xλ)ᵢ` (value and mask), a share of `λ·(e + r·(x + t))`,
//! - `μᵢ = δ·λᵢ + (κλ)ᵢ` (value and mask), a share of `λ·(κ + δ)`,
//!
//! each checkable against the transcripts' commitments. Any `threshold`
//! valid shares interpolate to `ν` and `μ`, and `s = ν/μ = (e + r·(x + t)) /
//! (κ + δ)` — an ordinary ECDSA signature under `X + t·G` with nonce
//! `κ + δ`. `ν` and `μ` are blinded by the random `λ`, so nothing about the
//! key leaks. A node's presignature shares are consumed by signing: the API
//! cannot sign twice with one nonce.

use ff::{Field, PrimeField};

use super::check::{random_weight, LinearCheck};
use super::commitment::{x_of, Masking, Share};
use super::curve::IdkgCurve;
use super::dealing::Operation;
use super::derivation::{derive, DerivationPath, MASTER_CHAIN_CODE};
use super::mega::MegaSecretKey;
use super::oracle::Oracle;
use super::transcript::Transcript;
use super::TecdsaError;
use crate::polynomial::lagrange_coefficients_at_zero;

/// The public half of a presignature: the commitments of its four transcripts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presignature<C: IdkgCurve> {
    key_id: [u8; 32],
    key: C::Point,
    kappa: Transcript<C>,
    lambda: Transcript<C>,
    kappa_times_lambda: Transcript<C>,
    key_times_lambda: Transcript<C>,
}

impl<C: IdkgCurve> Presignature<C> {
    /// Assembles a presignature for the unmasked `key` transcript.
    ///
    /// # Errors
    /// [`TecdsaError::InvalidPresignature`] when the transcripts were not
    /// made from each other as the quadruple requires.
    pub fn new(
        key: &Transcript<C>,
        kappa: Transcript<C>,
        lambda: Transcript<C>,
        kappa_times_lambda: Transcript<C>,
        key_times_lambda: Transcript<C>,
    ) -> Result<Self, TecdsaError> {
        let product_of = |product: &Transcript<C>, a: &Transcript<C>| match product
            .params()
            .operation()
        {
            Operation::UnmaskedTimesMasked(x, y) => x == a.commitment() && y == lambda.commitment(),
            _ => false,
        };
        let fits = key.commitment().masking == Masking::Unmasked
            && kappa.commitment().masking == Masking::Unmasked
            && lambda.commitment().masking == Masking::Masked
            && product_of(&kappa_times_lambda, &kappa)
            && product_of(&key_times_lambda, key)
            && kappa_times_lambda.params().receivers == key.params().receivers
            && key_times_lambda.params().receivers == key.params().receivers
            && lambda.params().receivers == key.params().receivers
            && kappa_times_lambda.params().threshold() == lambda.params().threshold()
            && key_times_lambda.params().threshold() == lambda.params().threshold();
        if !fits {
            return Err(TecdsaError::InvalidPresignature);
        }
        Ok(Presignature {
            key_id: key.id(),
            key: key.commitment().constant_term(),
            kappa,
            lambda,
            kappa_times_lambda,
            key_times_lambda,
        })
    }

    /// The id of the key transcript it signs for.
    pub fn key_id(&self) -> [u8; 32] {
        self.key_id
    }

    /// Shares needed to sign.
    pub fn threshold(&self) -> usize {
        self.lambda.params().threshold()
    }

    /// The master public key `X`.
    pub fn master_public_key(&self) -> C::Point {
        self.key
    }

    /// Its transcripts `λ`, `κ·λ` and `x·λ`: a receiver opens its
    /// [`PresignatureShares`] from them (again, after a restart).
    pub fn masked_transcripts(&self) -> [&Transcript<C>; 3] {
        [
            &self.lambda,
            &self.kappa_times_lambda,
            &self.key_times_lambda,
        ]
    }
}

/// A node's secret shares of one presignature. Not `Clone`: signing
/// consumes it, so a nonce is never used twice.
pub struct PresignatureShares<C: IdkgCurve> {
    key_id: [u8; 32],
    lambda: Share<C>,
    kappa_times_lambda: Share<C>,
    key_times_lambda: Share<C>,
}

impl<C: IdkgCurve> PresignatureShares<C> {
    /// A node's presignature shares from its already opened shares of
    /// `λ`, `κ·λ` and `x·λ` (a node opens `λ` to deal the products).
    ///
    /// # Errors
    /// [`TecdsaError::InvalidPresignature`] when the shares are not one
    /// receiver's masked shares.
    pub fn new(
        presignature: &Presignature<C>,
        lambda: Share<C>,
        kappa_times_lambda: Share<C>,
        key_times_lambda: Share<C>,
    ) -> Result<Self, TecdsaError> {
        let shares = [&lambda, &kappa_times_lambda, &key_times_lambda];
        let fits = shares
            .iter()
            .all(|share| share.index == lambda.index && share.masking() == Masking::Masked);
        if !fits {
            return Err(TecdsaError::InvalidPresignature);
        }
        Ok(PresignatureShares {
            key_id: presignature.key_id,
            lambda,
            kappa_times_lambda,
            key_times_lambda,
        })
    }

    /// Receiver `index`'s shares of `presignature`.
    ///
    /// # Errors
    /// Those of [`Transcript::open_share`].
    pub fn open(
        presignature: &Presignature<C>,
        index: u32,
        key: &MegaSecretKey<C>,
    ) -> Result<Self, TecdsaError> {
        Ok(PresignatureShares {
            key_id: presignature.key_id,
            lambda: presignature.lambda.open_share(index, key)?,
            kappa_times_lambda: presignature.kappa_times_lambda.open_share(index, key)?,
            key_times_lambda: presignature.key_times_lambda.open_share(index, key)?,
        })
    }

    /// The node's receiver index.
    pub fn index(&self) -> u32 {
        self.lambda.index
    }
}

/// What to sign: the caller's message hash and derivation path, and the
/// public randomness agreed for this request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningRequest {
    /// The 32-byte hash to sign.
    pub message_hash: [u8; 32],
    /// The caller's principal followed by its derivation path.
    pub path: DerivationPath,
    /// Randomness from the random beacon, fixed when the request was paired
    /// with the presignature.
    pub randomness: [u8; 32],
}

/// The public values of one signing session.
struct Session<C: IdkgCurve> {
    e: C::Scalar,
    r: C::Scalar,
    delta: C::Scalar,
    theta: C::Scalar,
    nonce_point: C::Point,
    derived_key: C::Point,
}

impl<C: IdkgCurve> Session<C> {
    /// The session for `request`, if `presignature` was made for the current `key`.
    fn new(
        presignature: &Presignature<C>,
        key: &Transcript<C>,
        request: &SigningRequest,
    ) -> Result<Self, TecdsaError> {
        if presignature.key_id != key.id() || presignature.key != key.commitment().constant_term() {
            return Err(TecdsaError::PresignatureForOtherKey);
        }
        let derived = derive::<C>(&presignature.key, &MASTER_CHAIN_CODE, &request.path)?;
        let mut wide = [0u8; 64];
        wide[32..].copy_from_slice(&request.message_hash);
        let e = C::scalar_from_wide(&wide);
        let kappa_point = presignature.kappa.commitment().constant_term();
        let mut oracle = Oracle::new::<C>("chainkey tECDSA presignature re-randomisation v1");
        oracle
            .bytes(b"randomness", &request.randomness)
            .bytes(b"message hash", &request.message_hash)
            .point::<C>(b"presignature", &kappa_point)
            .scalar::<C>(b"key tweak", &derived.tweak);
        let delta = oracle.output::<C>();
        let nonce_point = kappa_point + C::mul_g(&delta);
        let r = C::x_coordinate(&nonce_point);
        if bool::from(r.is_zero()) {
            return Err(TecdsaError::DegenerateSignature);
        }
        Ok(Session {
            e,
            r,
            delta,
            theta: e + r * derived.tweak,
            nonce_point,
            derived_key: derived.public_key,
        })
    }
}

/// One node's signature share: openings of `ν` and `μ`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureShare<C: IdkgCurve> {
    /// The signer's receiver index.
    pub signer: u32,
    pub(super) nu: [C::Scalar; 2],
    pub(super) mu: [C::Scalar; 2],
}

impl<C: IdkgCurve> SignatureShare<C> {
    /// Signs `request` with (and consuming) the node's presignature shares,
    /// under the subnet's current `key` transcript.
    ///
    /// # Errors
    /// [`TecdsaError::PresignatureForOtherKey`] when the presignature or the
    /// shares belong to another key transcript (e.g. from before a
    /// resharing); derivation errors.
    pub fn create(
        shares: PresignatureShares<C>,
        presignature: &Presignature<C>,
        key: &Transcript<C>,
        request: &SigningRequest,
    ) -> Result<Self, TecdsaError> {
        if shares.key_id != presignature.key_id {
            return Err(TecdsaError::PresignatureForOtherKey);
        }
        let session = Session::new(presignature, key, request)?;
        let opening = |share: &Share<C>| [share.value, share.mask.unwrap_or(C::Scalar::ZERO)];
        let (lambda, kl, xl) = (
            opening(&shares.lambda),
            opening(&shares.kappa_times_lambda),
            opening(&shares.key_times_lambda),
        );
        let nu = [0, 1].map(|k| session.theta * lambda[k] + session.r * xl[k]);
        let mu = [0, 1].map(|k| session.delta * lambda[k] + kl[k]);
        Ok(SignatureShare {
            signer: shares.index(),
            nu,
            mu,
        })
    }
}

/// A standard ECDSA signature `(r, s)` with low `s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EcdsaSignature<C: IdkgCurve> {
    /// `x(R) mod n`.
    pub r: C::Scalar,
    /// `s ≤ n/2`.
    pub s: C::Scalar,
}

impl<C: IdkgCurve> EcdsaSignature<C> {
    /// `r ‖ s`, big-endian (the management canister's `signature` blob).
    pub fn to_bytes(&self) -> Vec<u8> {
        [self.r.to_repr().as_ref(), self.s.to_repr().as_ref()].concat()
    }
}

/// A combined signature and the signers whose shares were invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Combined<C: IdkgCurve> {
    /// The signature.
    pub signature: EcdsaSignature<C>,
    /// The derived public key it verifies under.
    pub public_key: C::Point,
    /// Signers whose shares failed verification (excluded). Shares are
    /// verified only when the first `threshold` do not combine, or another
    /// disagrees with them.
    pub invalid_signers: Vec<u32>,
}

/// Which shares open the commitments; one multi-scalar check for all of
/// them, share by share only if that fails.
///
/// # Errors
/// [`TecdsaError::PresignatureForOtherKey`]; derivation errors.
pub fn verify_shares<C: IdkgCurve>(
    presignature: &Presignature<C>,
    key: &Transcript<C>,
    request: &SigningRequest,
    shares: &[SignatureShare<C>],
) -> Result<Vec<bool>, TecdsaError> {
    let session = Session::new(presignature, key, request)?;
    Ok(verify_in_session(presignature, &session, shares))
}

fn verify_in_session<C: IdkgCurve>(
    presignature: &Presignature<C>,
    session: &Session<C>,
    shares: &[SignatureShare<C>],
) -> Vec<bool> {
    let receivers = presignature.lambda.params().receivers.len();
    let in_range = |share: &SignatureShare<C>| (share.signer as usize) < receivers;
    let weights: Vec<[C::Scalar; 2]> = shares
        .iter()
        .map(|_| [random_weight::<C>(), random_weight::<C>()])
        .collect();
    let all_at_once: Vec<(&SignatureShare<C>, &[C::Scalar; 2])> =
        shares.iter().zip(&weights).collect();
    if shares.iter().all(in_range) && holds(presignature, session, &all_at_once) {
        return vec![true; shares.len()];
    }
    shares
        .iter()
        .zip(&weights)
        .map(|(share, weight)| in_range(share) && holds(presignature, session, &[(share, weight)]))
        .collect()
}

/// Whether `Σ wᵢ·(νᵢ-check) + w'ᵢ·(μᵢ-check) = 0` for the weighted shares:
/// the commitments' points each enter once, with the shares' evaluation
/// points folded into their coefficients.
fn holds<C: IdkgCurve>(
    presignature: &Presignature<C>,
    session: &Session<C>,
    weighted: &[(&SignatureShare<C>, &[C::Scalar; 2])],
) -> bool {
    let lambda = presignature.lambda.commitment();
    let kl = presignature.kappa_times_lambda.commitment();
    let xl = presignature.key_times_lambda.commitment();
    let terms = lambda.threshold();
    let mut check = LinearCheck::<C>::new();
    let mut on_lambda = vec![C::Scalar::ZERO; terms];
    let mut on_kl = vec![C::Scalar::ZERO; terms];
    let mut on_xl = vec![C::Scalar::ZERO; terms];
    for (share, [w_nu, w_mu]) in weighted {
        check.g(*w_nu * share.nu[0] + *w_mu * share.mu[0]);
        check.h(*w_nu * share.nu[1] + *w_mu * share.mu[1]);
        let x = x_of::<C>(share.signer);
        let mut power = C::Scalar::ONE;
        for k in 0..terms {
            on_lambda[k] += (*w_nu * session.theta + *w_mu * session.delta) * power;
            on_xl[k] += *w_nu * session.r * power;
            on_kl[k] += *w_mu * power;
            power *= x;
        }
    }
    for (commitment, coefficients) in [(lambda, &on_lambda), (kl, &on_kl), (xl, &on_xl)] {
        for (point, coefficient) in commitment.points.iter().zip(coefficients) {
            check.term(*point, -*coefficient);
        }
    }
    check.holds()
}

/// Whether `signature` is the signature of `request` made with
/// `presignature`: its `r` is this session's nonce (so it cannot have been
/// made with another presignature, or for another request's randomness),
/// and it verifies under the request's derived key. For checking a
/// combined signature someone else presents.
///
/// # Errors
/// [`TecdsaError::PresignatureForOtherKey`]; derivation errors.
pub fn verify_signature<C: IdkgCurve>(
    presignature: &Presignature<C>,
    key: &Transcript<C>,
    request: &SigningRequest,
    signature: &EcdsaSignature<C>,
) -> Result<bool, TecdsaError> {
    let session = Session::new(presignature, key, request)?;
    let s = signature.s;
    if signature.r != session.r || bool::from(s.is_zero()) || C::is_high(&s) {
        return Ok(false);
    }
    let lhs = session.nonce_point * s;
    let rhs = C::mul_g(&session.e) + session.derived_key * session.r;
    Ok(lhs == rhs || lhs == -rhs)
}

/// Combines signature shares into a low-s signature checked against the
/// derived key. The first `threshold` shares are tried as they are (one
/// equation), the others checked to lie on the same polynomials; only if
/// either fails are all shares verified, and invalid ones named (and, if
/// the first signature failed, excluded before `threshold` valid ones are
/// interpolated).
///
/// # Errors
/// [`TecdsaError::NotEnoughShares`] (naming the invalid signers) when
/// fewer than `threshold` shares are valid; [`TecdsaError::DuplicateSigner`];
/// [`TecdsaError::PresignatureForOtherKey`].
pub fn combine<C: IdkgCurve>(
    presignature: &Presignature<C>,
    key: &Transcript<C>,
    request: &SigningRequest,
    shares: &[SignatureShare<C>],
) -> Result<Combined<C>, TecdsaError> {
    let mut signers: Vec<u32> = shares.iter().map(|share| share.signer).collect();
    signers.sort_unstable();
    if let Some(pair) = signers.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(TecdsaError::DuplicateSigner(pair[0]));
    }
    let session = Session::new(presignature, key, request)?;
    let threshold = presignature.threshold();
    // Optimistically: honest shares give a signature that verifies, and
    // checking it is one equation instead of a multi-scalar check per share.
    // The other shares must then lie on the same polynomials (scalar
    // arithmetic only); only if one does not are all shares verified, to
    // name the bad ones.
    if threshold > 0 && shares.len() >= threshold {
        let (first, others) = shares.split_at(threshold);
        let first: Vec<&SignatureShare<C>> = first.iter().collect();
        let at_zero = values_at_zero(&first);
        if let Some(signature) = at_zero.and_then(|values| signature_from(&session, values)) {
            let on_the_polynomials = |share: &SignatureShare<C>| {
                let mut swapped = first.clone();
                swapped[threshold - 1] = share;
                values_at_zero(&swapped) == at_zero
            };
            let invalid_signers = if others.iter().all(on_the_polynomials) {
                Vec::new()
            } else {
                let verdicts = verify_in_session(presignature, &session, shares);
                shares
                    .iter()
                    .zip(&verdicts)
                    .filter(|(_, valid)| !**valid)
                    .map(|(share, _)| share.signer)
                    .collect()
            };
            return Ok(Combined {
                signature,
                public_key: session.derived_key,
                invalid_signers,
            });
        }
    }
    let verdicts = verify_in_session(presignature, &session, shares);
    let invalid_signers: Vec<u32> = shares
        .iter()
        .zip(&verdicts)
        .filter(|(_, valid)| !**valid)
        .map(|(share, _)| share.signer)
        .collect();
    let valid: Vec<&SignatureShare<C>> = shares
        .iter()
        .zip(&verdicts)
        .filter(|(_, valid)| **valid)
        .map(|(share, _)| share)
        .take(threshold)
        .collect();
    if valid.len() < threshold {
        return Err(TecdsaError::NotEnoughShares {
            needed: threshold,
            valid: valid.len(),
            invalid_signers,
        });
    }
    let signature = values_at_zero(&valid)
        .and_then(|values| signature_from(&session, values))
        .ok_or(TecdsaError::DegenerateSignature)?;
    Ok(Combined {
        signature,
        public_key: session.derived_key,
        invalid_signers,
    })
}

/// `(ν, μ)` at zero of the polynomials through `shares` (of distinct
/// signers); `None` for an index that cannot be a receiver's.
fn values_at_zero<C: IdkgCurve>(shares: &[&SignatureShare<C>]) -> Option<(C::Scalar, C::Scalar)> {
    let indices: Option<Vec<u32>> = shares
        .iter()
        .map(|share| share.signer.checked_add(1))
        .collect();
    let lagrange: Vec<C::Scalar> = lagrange_coefficients_at_zero(&indices?).ok()?;
    let weighted = |value: fn(&SignatureShare<C>) -> C::Scalar| {
        shares
            .iter()
            .zip(&lagrange)
            .map(|(share, l)| value(share) * l)
            .sum()
    };
    Some((weighted(|share| share.nu[0]), weighted(|share| share.mu[0])))
}

/// The low-s signature `s = ν/μ`, if it verifies: `s·R = ±(e·G + r·P)`,
/// the standard verification equation, is checked before any signature
/// is released.
fn signature_from<C: IdkgCurve>(
    session: &Session<C>,
    (nu, mu): (C::Scalar, C::Scalar),
) -> Option<EcdsaSignature<C>> {
    let s = Option::<C::Scalar>::from(mu.invert())? * nu;
    let s = if C::is_high(&s) { -s } else { s };
    let lhs = session.nonce_point * s;
    let rhs = C::mul_g(&session.e) + session.derived_key * session.r;
    (!bool::from(s.is_zero()) && (lhs == rhs || lhs == -rhs))
        .then_some(EcdsaSignature { r: session.r, s })
}
