//! The random-weight batch check every protocol of this crate uses.
//!
//! A verification equation is a claim `Σ sᵢ·Pᵢ = 0` over public points.
//! Many claims are checked at once by multiplying each by its own secret
//! random weight and adding them up: if any one claim is false, the sum is
//! non-zero except with probability 2⁻ᵇ over `b`-bit weights. The sum is
//! one multi-scalar multiplication through the kernels of
//! [`crate::backend`], so a faster kernel speeds every check up:
//!
//! - [`crate::batch`] checks BLS signatures with [`short_weights`] (64
//!   bits: each failed pairing product is examined further) through a
//!   [`Backend`]'s MSMs;
//! - [`crate::nidkg`] checks dealings' proofs as [`LinearCheck`]s over G1
//!   and G2 with [`random_weight`] (128 bits), on a backend's kernels
//!   when given one ([`crate::nidkg::verify_dealings_on`]);
//! - [`crate::tecdsa`] checks IDKG dealings and openings as
//!   [`LinearCheck`]s over secp256k1, likewise (on the CPU: the backends'
//!   kernels are BLS12-381's).

use blstrs::{G1Projective, G2Projective};
use ff::PrimeField;
use group::Group;
use rand::Rng;
use rand_core::RngCore;

use crate::backend::msm::{bls_msm, pippenger};
use crate::backend::Backend;

/// A group whose multi-scalar multiplication the backend provides.
pub trait CheckGroup: Group + Send + Sync {
    /// `Σ scalarsᵢ·pointsᵢ` over public inputs (equal lengths), with the
    /// fastest CPU kernel for the group.
    fn msm(points: &[Self], scalars: &[Self::Scalar]) -> Self;

    /// The same sum on `backend`'s kernels, where it has them for this
    /// group (BLS12-381's G1 and G2); on the CPU otherwise.
    fn msm_on(backend: &dyn Backend, points: &[Self], scalars: &[Self::Scalar]) -> Self {
        let _ = backend;
        Self::msm(points, scalars)
    }
}

impl CheckGroup for G1Projective {
    fn msm(points: &[Self], scalars: &[Self::Scalar]) -> Self {
        bls_msm(points, scalars)
    }

    fn msm_on(backend: &dyn Backend, points: &[Self], scalars: &[Self::Scalar]) -> Self {
        backend.msm_g1_full(points, scalars)
    }
}

impl CheckGroup for G2Projective {
    fn msm(points: &[Self], scalars: &[Self::Scalar]) -> Self {
        bls_msm(points, scalars)
    }

    fn msm_on(backend: &dyn Backend, points: &[Self], scalars: &[Self::Scalar]) -> Self {
        backend.msm_g2_full(points, scalars)
    }
}

impl CheckGroup for k256::ProjectivePoint {
    /// k256's Straus multiplication with the GLV endomorphism (halved
    /// doublings) beats Pippenger up to a few hundred terms.
    fn msm(points: &[Self], scalars: &[Self::Scalar]) -> Self {
        use k256::elliptic_curve::ops::LinearCombinationExt;
        let terms: Vec<(Self, Self::Scalar)> = points
            .iter()
            .copied()
            .zip(scalars.iter().copied())
            .collect();
        let terms = terms.as_slice();
        if terms.len() > 256 {
            return pippenger(terms);
        }
        k256::ProjectivePoint::lincomb_ext(terms)
    }
}

/// A random non-zero 128-bit weight, as a scalar of any prime field
/// larger than 2¹²⁸.
pub fn random_weight<S: PrimeField>(rng: &mut impl RngCore) -> S {
    let value = (u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())) | 1;
    S::from_u128(value)
}

/// `count` random non-zero 64-bit weights (as the `u128` scalars of a
/// [`Backend`] MSM, which processes only the
/// bits the largest has).
pub fn short_weights(count: usize, rng: &mut impl Rng) -> Vec<u128> {
    (0..count)
        .map(|_| u128::from(rng.gen_range(1..=u64::MAX)))
        .collect()
}

/// Weighted claims that must sum to the identity.
#[derive(Clone, Debug)]
pub struct LinearCheck<G: CheckGroup> {
    points: Vec<G>,
    scalars: Vec<G::Scalar>,
}

impl<G: CheckGroup> Default for LinearCheck<G> {
    fn default() -> Self {
        LinearCheck {
            points: Vec::new(),
            scalars: Vec::new(),
        }
    }
}

impl<G: CheckGroup> LinearCheck<G> {
    /// No claims yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `scalar·point` (a term of an already weighted claim).
    pub fn add(&mut self, point: G, scalar: G::Scalar) {
        self.points.push(point);
        self.scalars.push(scalar);
    }

    /// Adds every `(point, scalar)` term.
    pub fn extend(&mut self, terms: impl IntoIterator<Item = (G, G::Scalar)>) {
        for (point, scalar) in terms {
            self.add(point, scalar);
        }
    }

    /// Whether the weighted claims, plus `fixed` (terms the caller summed
    /// itself, e.g. with a fixed-base table), sum to the identity.
    pub fn holds_with(&self, fixed: G) -> bool {
        bool::from((G::msm(&self.points, &self.scalars) + fixed).is_identity())
    }

    /// Whether the weighted claims sum to the identity.
    pub fn holds(&self) -> bool {
        self.holds_with(G::identity())
    }

    /// Whether the weighted claims sum to the identity, summed on
    /// `backend`'s kernels (see [`CheckGroup::msm_on`]).
    pub fn holds_on(&self, backend: &dyn Backend) -> bool {
        bool::from(G::msm_on(backend, &self.points, &self.scalars).is_identity())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ff::Field;

    /// 20 true claims `s·G − (s·G) = 0`, weighted, and one false one.
    fn claims<G: CheckGroup>() -> (LinearCheck<G>, G)
    where
        G::Scalar: PrimeField,
    {
        let mut rng = rand::thread_rng();
        let mut check = LinearCheck::<G>::new();
        for _ in 0..20 {
            let s = G::Scalar::random(&mut rng);
            let weight: G::Scalar = random_weight(&mut rng);
            check.add(G::generator(), weight * s);
            check.add(G::generator() * s, -weight);
        }
        (check, G::generator() * random_weight::<G::Scalar>(&mut rng))
    }

    fn one_false_claim_fails<G: CheckGroup>()
    where
        G::Scalar: PrimeField,
    {
        let (mut check, false_term) = claims::<G>();
        assert!(check.holds());
        assert!(!check.holds_with(false_term));
        check.add(false_term, G::Scalar::ONE);
        assert!(!check.holds());
    }

    #[test]
    fn one_false_claim_among_many_fails_the_check_in_every_group() {
        one_false_claim_fails::<G1Projective>();
        one_false_claim_fails::<G2Projective>();
        one_false_claim_fails::<k256::ProjectivePoint>();
    }

    #[test]
    fn weights_are_non_zero_and_of_the_promised_width() {
        let mut rng = rand::thread_rng();
        let short = short_weights(1000, &mut rng);
        assert!(short.iter().all(|&w| w != 0 && w <= u128::from(u64::MAX)));
        let weight: blstrs::Scalar = random_weight(&mut rng);
        assert!(!bool::from(weight.is_zero()));
        // Below 2¹²⁸: the top 16 bytes of the little-endian encoding are zero.
        assert!(weight.to_repr().as_ref()[16..].iter().all(|&b| b == 0));
    }
}
