//! Verification equations of IDKG dealings and openings, as the crate's
//! one random-weight check ([`crate::linear_check`]).
//!
//! Every check of a dealing is an equation `Σ sᵢ·Pᵢ = 0`. A [`LinearCheck`]
//! collects such equations, each multiplied by its own weight: one
//! equation alone is its own check; many equations under independent
//! random 128-bit weights hold together except with probability 2⁻¹²⁸ if
//! any one fails. The scalars on the generators `G` and `H` are summed and
//! multiplied through the curve's fixed-base tables; the other points go
//! to the shared multi-scalar multiplication.

use ff::Field;

use super::curve::IdkgCurve;
use crate::linear_check;

/// A weighted sum of equations that must come to the identity.
pub(crate) struct LinearCheck<C: IdkgCurve> {
    on_g: C::Scalar,
    on_h: C::Scalar,
    terms: linear_check::LinearCheck<C::Point>,
}

impl<C: IdkgCurve> LinearCheck<C> {
    pub(crate) fn new() -> Self {
        LinearCheck {
            on_g: C::Scalar::ZERO,
            on_h: C::Scalar::ZERO,
            terms: linear_check::LinearCheck::new(),
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
        self.terms.add(point, scalar);
    }

    /// Whether the sum is the identity.
    pub(crate) fn holds(&self) -> bool {
        self.terms
            .holds_with(C::mul_g(&self.on_g) + C::mul_h(&self.on_h))
    }
}

/// A random non-zero 128-bit weight.
pub(crate) fn random_weight<C: IdkgCurve>() -> C::Scalar {
    linear_check::random_weight(&mut rand::thread_rng())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Secp256k1;
    use k256::{ProjectivePoint, Scalar};

    #[test]
    fn one_false_equation_among_many_fails_the_check() {
        let mut rng = rand::thread_rng();
        let mut check = LinearCheck::<Secp256k1>::new();
        for _ in 0..20 {
            // s·G − (s·G) + t·H − (t·H) = 0, weighted.
            let (s, t) = (Scalar::random(&mut rng), Scalar::random(&mut rng));
            let weight = random_weight::<Secp256k1>();
            check.g(weight * s);
            check.term(ProjectivePoint::GENERATOR * s, -weight);
            check.h(weight * t);
            check.term(Secp256k1::pedersen_generator() * t, -weight);
        }
        assert!(check.holds());
        check.term(ProjectivePoint::GENERATOR, random_weight::<Secp256k1>());
        assert!(!check.holds());
    }
}
