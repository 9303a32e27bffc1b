//! Verification equations as one linear combination of points.
//!
//! Every check of a dealing is an equation `Σ sᵢ·Pᵢ = 0`. A [`LinearCheck`]
//! collects such equations, each multiplied by its own weight, with the
//! scalars on `G` and `H` summed: one equation alone is its own check; many
//! equations under independent random 128-bit weights hold together except
//! with probability 2⁻¹²⁸ if any one fails. The sum is evaluated with one
//! fixed-base multiplication per generator and a Pippenger multi-scalar
//! multiplication over the other points.

use ff::{Field, PrimeField};
use group::Group;

use super::curve::IdkgCurve;

/// A weighted sum of equations that must come to the identity.
pub(crate) struct LinearCheck<C: IdkgCurve> {
    on_g: C::Scalar,
    on_h: C::Scalar,
    terms: Vec<(C::Point, C::Scalar)>,
}

impl<C: IdkgCurve> LinearCheck<C> {
    pub(crate) fn new() -> Self {
        LinearCheck {
            on_g: C::Scalar::ZERO,
            on_h: C::Scalar::ZERO,
            terms: Vec::new(),
        }
    }

    /// Adds `scalar·G`.
    pub(crate) fn g(&mut self, scalar: C::Scalar) {
        self.on_g += scalar;
    }

    /// Adds `scalar·H`.
    pub(crate) fn h(&mut self, scalar: C::Scalar) {
        self.on_h += scalar;
    }

    /// Adds `scalar·point`.
    pub(crate) fn term(&mut self, point: C::Point, scalar: C::Scalar) {
        self.terms.push((point, scalar));
    }

    /// Whether the sum is the identity.
    pub(crate) fn holds(&self) -> bool {
        let sum = C::mul_g(&self.on_g) + C::mul_h(&self.on_h) + C::msm(&self.terms);
        bool::from(sum.is_identity())
    }
}

/// A random non-zero 128-bit weight.
pub(crate) fn random_weight<C: IdkgCurve>() -> C::Scalar {
    let value: u128 = rand::random::<u128>() | 1;
    C::Scalar::from_u128(value)
}

/// `Σ sᵢ·Pᵢ` by Pippenger's bucket method (windows over the big-endian
/// scalar encoding); public inputs only.
pub(crate) fn pippenger<C: IdkgCurve>(terms: &[(C::Point, C::Scalar)]) -> C::Point {
    if terms.len() < 4 {
        return terms.iter().map(|(point, scalar)| *point * scalar).sum();
    }
    let window = match terms.len() {
        0..=31 => 4,
        32..=127 => 5,
        128..=511 => 6,
        _ => 8,
    };
    let reprs: Vec<_> = terms.iter().map(|(_, scalar)| scalar.to_repr()).collect();
    let bits = C::Scalar::NUM_BITS as usize;
    let digit = |repr: &<C::Scalar as PrimeField>::Repr, offset: usize| -> usize {
        let bytes = repr.as_ref();
        (offset..(offset + window).min(bits)).fold(0, |acc, bit| {
            let byte = bytes[bytes.len() - 1 - bit / 8];
            acc | ((((byte >> (bit % 8)) & 1) as usize) << (bit - offset))
        })
    };
    let mut total = C::Point::identity();
    for offset in (0..bits).step_by(window).rev() {
        for _ in 0..window {
            total = total.double();
        }
        let mut buckets = vec![C::Point::identity(); (1 << window) - 1];
        for ((point, _), repr) in terms.iter().zip(&reprs) {
            let d = digit(repr, offset);
            if d != 0 {
                buckets[d - 1] += point;
            }
        }
        let mut running = C::Point::identity();
        let mut window_sum = C::Point::identity();
        for bucket in buckets.iter().rev() {
            running += bucket;
            window_sum += running;
        }
        total += window_sum;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Secp256k1;
    use crate::tecdsa::IdkgCurve;
    use k256::{ProjectivePoint, Scalar};

    #[test]
    fn multi_scalar_multiplications_equal_the_sum_of_products() {
        let mut rng = rand::thread_rng();
        for n in [0usize, 1, 3, 4, 5, 31, 32, 100, 600] {
            let mut terms: Vec<(ProjectivePoint, Scalar)> = (0..n)
                .map(|_| (ProjectivePoint::random(&mut rng), Scalar::random(&mut rng)))
                .collect();
            if n > 4 {
                terms[0].1 = Scalar::ZERO;
                terms[1].0 = ProjectivePoint::IDENTITY;
                terms[2].1 = -Scalar::ONE;
                terms[3] = (terms[4].0, -terms[4].1);
            }
            let expected: ProjectivePoint =
                terms.iter().map(|(point, scalar)| *point * scalar).sum();
            assert_eq!(pippenger::<Secp256k1>(&terms), expected, "n = {n}");
            assert_eq!(Secp256k1::msm(&terms), expected, "n = {n}");
        }
    }

    #[test]
    fn one_false_equation_among_many_fails_the_check() {
        let mut rng = rand::thread_rng();
        let mut check = LinearCheck::<Secp256k1>::new();
        for _ in 0..20 {
            // s·G − (s·G) = 0, weighted.
            let s = Scalar::random(&mut rng);
            let weight = random_weight::<Secp256k1>();
            check.g(weight * s);
            check.term(ProjectivePoint::GENERATOR * s, -weight);
        }
        assert!(check.holds());
        check.term(ProjectivePoint::GENERATOR, random_weight::<Secp256k1>());
        assert!(!check.holds());
    }
}
