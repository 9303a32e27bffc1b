//! Shamir sharing arithmetic over any prime field: polynomials with secret
//! coefficients, evaluation at share indices, and Lagrange interpolation at 0.
//!
//! Generic over [`ff::PrimeField`] so threshold BLS (BLS12-381's scalar
//! field) and threshold ECDSA (secp256k1's) share one implementation.
//! A share index is the x-coordinate a share is evaluated at; it starts at 1
//! because x = 0 is the secret itself.

use std::collections::HashSet;

use ff::{BatchInvert, PrimeField};
use rand_core::{CryptoRng, RngCore};

use crate::error::Error;

/// A polynomial with secret coefficients `a₀ + a₁x + … + a_{t−1}x^{t−1}`;
/// `a₀` is the shared secret and `t` the threshold. Wiped on drop.
pub struct Polynomial<F: PrimeField> {
    coefficients: Vec<F>,
}

impl<F: PrimeField> Polynomial<F> {
    /// A random polynomial of `threshold` coefficients whose constant term is `secret`.
    ///
    /// # Errors
    /// [`Error::InvalidThreshold`] when `threshold` is 0.
    pub fn random_with_secret<R: RngCore + CryptoRng>(
        secret: F,
        threshold: usize,
        rng: &mut R,
    ) -> Result<Self, Error> {
        if threshold == 0 {
            return Err(Error::InvalidThreshold {
                threshold,
                shares: 0,
            });
        }
        let mut coefficients = Vec::with_capacity(threshold);
        coefficients.push(secret);
        coefficients.extend((1..threshold).map(|_| F::random(&mut *rng)));
        Ok(Polynomial { coefficients })
    }

    /// The coefficients, constant term first.
    pub fn coefficients(&self) -> &[F] {
        &self.coefficients
    }

    /// Evaluates the polynomial at `x` with Horner's rule.
    pub fn evaluate(&self, x: F) -> F {
        self.coefficients
            .iter()
            .rev()
            .fold(F::ZERO, |acc, coefficient| acc * x + coefficient)
    }
}

impl<F: PrimeField> Drop for Polynomial<F> {
    fn drop(&mut self) {
        wipe(&mut self.coefficients);
    }
}

/// Overwrites secret field elements with zero. `F` need not implement
/// `Zeroize` (blstrs' scalar does not), so this does what `zeroize` does:
/// volatile writes the optimiser may not elide, then a fence against reordering.
pub(crate) fn wipe<F: PrimeField>(values: &mut [F]) {
    for value in values {
        // SAFETY: `value` is a valid, aligned, exclusive reference.
        unsafe { std::ptr::write_volatile(value, F::ZERO) };
    }
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

/// Secret field elements that are wiped when dropped, on every path.
pub(crate) struct SecretValues<F: PrimeField>(pub(crate) Vec<F>);

impl<F: PrimeField> Drop for SecretValues<F> {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Checks that share indices are non-zero and pairwise distinct.
///
/// # Errors
/// [`Error::ZeroIndex`] or [`Error::DuplicateIndex`].
pub fn check_indices(indices: impl IntoIterator<Item = u32>) -> Result<(), Error> {
    let mut seen = HashSet::new();
    for index in indices {
        if index == 0 {
            return Err(Error::ZeroIndex);
        }
        if !seen.insert(index) {
            return Err(Error::DuplicateIndex(index));
        }
    }
    Ok(())
}

/// Lagrange coefficients λᵢ for interpolating at x = 0 from values at
/// `indices`: f(0) = Σ λᵢ·f(xᵢ), with λᵢ = Π_{j≠i} xⱼ / (xⱼ − xᵢ).
///
/// Uses one field inversion for all denominators (Montgomery's trick).
///
/// # Errors
/// [`Error::EmptyInput`], [`Error::ZeroIndex`] or [`Error::DuplicateIndex`].
pub fn lagrange_coefficients_at_zero<F: PrimeField>(indices: &[u32]) -> Result<Vec<F>, Error> {
    if indices.is_empty() {
        return Err(Error::EmptyInput);
    }
    check_indices(indices.iter().copied())?;
    let xs: Vec<F> = indices
        .iter()
        .map(|&index| F::from(u64::from(index)))
        .collect();
    let product_of_all: F = xs.iter().product();
    // λᵢ = (Π xⱼ) / (xᵢ · Π_{j≠i} (xⱼ − xᵢ)).
    let mut denominators: Vec<F> = xs
        .iter()
        .enumerate()
        .map(|(i, xi)| {
            xs.iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .fold(*xi, |acc, (_, xj)| acc * (*xj - xi))
        })
        .collect();
    denominators.iter_mut().batch_invert();
    Ok(denominators
        .into_iter()
        .map(|inverse| product_of_all * inverse)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use blstrs::Scalar;
    use ff::Field;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn interpolation_recovers_the_secret_from_any_threshold_subset() {
        let mut rng = StdRng::seed_from_u64(1);
        let secret = Scalar::random(&mut rng);
        let polynomial = Polynomial::random_with_secret(secret, 3, &mut rng).unwrap();
        for indices in [[1u32, 2, 3], [5, 2, 9], [4_000_000_000, 7, 1]] {
            let lambdas = lagrange_coefficients_at_zero::<Scalar>(&indices).unwrap();
            let recovered: Scalar = indices
                .iter()
                .zip(&lambdas)
                .map(|(&x, lambda)| polynomial.evaluate(Scalar::from(u64::from(x))) * lambda)
                .sum();
            assert_eq!(recovered, secret);
        }
    }

    #[test]
    fn bad_index_sets_are_rejected() {
        assert_eq!(
            lagrange_coefficients_at_zero::<Scalar>(&[]),
            Err(Error::EmptyInput)
        );
        assert_eq!(
            lagrange_coefficients_at_zero::<Scalar>(&[1, 0]),
            Err(Error::ZeroIndex)
        );
        assert_eq!(
            lagrange_coefficients_at_zero::<Scalar>(&[3, 1, 3]),
            Err(Error::DuplicateIndex(3))
        );
    }
}
