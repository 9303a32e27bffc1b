//! Public commitments to sharing polynomials.
//!
//! An unmasked (Feldman) commitment to `a(x) = Σ aₖxᵏ` is `(aₖ·G)ₖ`: it
//! reveals `a(0)·G`, which is what a key or an ECDSA nonce needs. A masked
//! (Pedersen) commitment to `a` with a random mask polynomial `b` is
//! `(aₖ·G + bₖ·H)ₖ`: it reveals nothing about `a` (the paper's "masked" and "unmasked"
//! sharings). Receiver `i` (index from 0) holds the evaluation
//! at `x = i + 1`.

use crate::linear_check::CheckGroup;
use ff::Field;
use group::Group;

use super::curve::IdkgCurve;

/// Whether a sharing's commitment hides its secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Masking {
    /// Feldman commitment `aₖ·G`; the share is one scalar.
    Unmasked,
    /// Pedersen commitment `aₖ·G + bₖ·H`; the share is a value and a mask.
    Masked,
}

/// A commitment to a polynomial of `len()` coefficients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commitment<C: IdkgCurve> {
    /// How the points commit.
    pub masking: Masking,
    /// One point per coefficient, constant term first.
    pub points: Vec<C::Point>,
}

/// The evaluation point of receiver `index`.
pub(crate) fn x_of<C: IdkgCurve>(index: u32) -> C::Scalar {
    C::Scalar::from(u64::from(index) + 1)
}

impl<C: IdkgCurve> Commitment<C> {
    /// The number of shares needed to reconstruct (polynomial degree + 1).
    pub fn threshold(&self) -> usize {
        self.points.len()
    }

    /// The commitment to the secret, `a(0)·G` (+ `b(0)·H` when masked).
    pub fn constant_term(&self) -> C::Point {
        self.points
            .first()
            .copied()
            .unwrap_or_else(C::Point::identity)
    }

    /// The commitment to receiver `index`'s share (Horner's rule).
    pub fn evaluate(&self, index: u32) -> C::Point {
        // The evaluation point is small: each Horner step is a short double-and-add.
        let x = u64::from(index) + 1;
        self.points
            .iter()
            .rev()
            .fold(C::Point::identity(), |acc, point| {
                mul_small::<C>(&acc, x) + point
            })
    }

    /// Whether `share` (value, and mask when masked) opens the commitment at `index`.
    pub fn opens(&self, index: u32, share: &Share<C>) -> bool {
        self.evaluate(index) == share.commit()
    }

    /// `Σ coefficientᵢ · commitmentᵢ`, term by term (all of one masking and length).
    pub(crate) fn combine(
        commitments: &[&Commitment<C>],
        coefficients: &[C::Scalar],
    ) -> Commitment<C> {
        let first = commitments[0];
        let all_one = coefficients
            .iter()
            .all(|coefficient| *coefficient == C::Scalar::ONE);
        let points = (0..first.points.len())
            .map(|k| {
                if all_one {
                    return commitments
                        .iter()
                        .map(|commitment| commitment.points[k])
                        .sum();
                }
                let points: Vec<C::Point> = commitments
                    .iter()
                    .map(|commitment| commitment.points[k])
                    .collect();
                CheckGroup::msm(&points, coefficients)
            })
            .collect();
        Commitment {
            masking: first.masking,
            points,
        }
    }
}

/// `k·point` for a small public `k` by double-and-add.
fn mul_small<C: IdkgCurve>(point: &C::Point, k: u64) -> C::Point {
    (0..u64::BITS - k.leading_zeros())
        .rev()
        .fold(C::Point::identity(), |acc, bit| {
            let doubled = acc.double();
            if (k >> bit) & 1 == 1 {
                doubled + point
            } else {
                doubled
            }
        })
}

/// One receiver's share of a sharing: its value, and its mask when the
/// sharing is masked. Wiped on drop; `Debug` shows no secret.
#[derive(Clone)]
pub struct Share<C: IdkgCurve> {
    /// The receiver index (`x = index + 1`).
    pub index: u32,
    pub(crate) value: C::Scalar,
    pub(crate) mask: Option<C::Scalar>,
}

impl<C: IdkgCurve> Share<C> {
    /// `value·G (+ mask·H)`: what the sharing's commitment evaluates to at `index`.
    pub(crate) fn commit(&self) -> C::Point {
        let mut point = C::mul_g(&self.value);
        if let Some(mask) = self.mask {
            point += C::mul_h(&mask);
        }
        point
    }

    /// The masking of the sharing this share belongs to.
    pub fn masking(&self) -> Masking {
        if self.mask.is_some() {
            Masking::Masked
        } else {
            Masking::Unmasked
        }
    }
}

impl<C: IdkgCurve> Drop for Share<C> {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.value);
        if let Some(mask) = self.mask.as_mut() {
            zeroize::Zeroize::zeroize(mask);
        }
    }
}

impl<C: IdkgCurve> std::fmt::Debug for Share<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Share")
            .field("index", &self.index)
            .field("masking", &self.masking())
            .finish_non_exhaustive()
    }
}
