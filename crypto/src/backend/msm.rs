//! Multi-scalar multiplication with full-width scalars, `Σ sᵢ·Pᵢ`, over
//! public inputs: the kernel of every random-weight check
//! ([`crate::linear_check`]). BLS12-381 groups use blst's Pippenger split
//! across the rayon pool; other curves use [`pippenger`] (or their
//! library's own multi-scalar multiplication where it is faster).

use blstrs::{G1Projective, G2Projective, Scalar};
use ff::PrimeField;
use group::Group;
use rayon::prelude::*;

/// A BLS12-381 source group, whose multi-scalar multiplication blst does.
pub trait BlstGroup: Group<Scalar = Scalar> + Send + Sync {
    /// `Σ scalarsᵢ·pointsᵢ` on one thread (equal lengths; empty: identity).
    fn multi_exp(points: &[Self], scalars: &[Scalar]) -> Self;
}

impl BlstGroup for G1Projective {
    fn multi_exp(points: &[Self], scalars: &[Scalar]) -> Self {
        debug_assert_eq!(points.len(), scalars.len());
        if points.is_empty() {
            return Self::identity();
        }
        G1Projective::multi_exp(points, scalars)
    }
}

impl BlstGroup for G2Projective {
    fn multi_exp(points: &[Self], scalars: &[Scalar]) -> Self {
        debug_assert_eq!(points.len(), scalars.len());
        if points.is_empty() {
            return Self::identity();
        }
        G2Projective::multi_exp(points, scalars)
    }
}

/// Σ scalarᵢ·pointᵢ in a BLS12-381 group, split across the rayon pool.
pub fn bls_msm<G: BlstGroup>(points: &[G], scalars: &[Scalar]) -> G {
    const MIN_PER_TASK: usize = 256;
    let tasks = rayon::current_num_threads()
        .min(points.len().div_ceil(MIN_PER_TASK))
        .max(1);
    let per_task = points.len().div_ceil(tasks).max(1);
    points
        .par_chunks(per_task)
        .zip(scalars.par_chunks(per_task))
        .map(|(points, scalars)| G::multi_exp(points, scalars))
        .reduce(G::identity, |a, b| a + b)
}

/// `Σ sᵢ·Pᵢ` by Pippenger's bucket method (windows over the big-endian
/// scalar encoding); public inputs only.
pub fn pippenger<P>(terms: &[(P, P::Scalar)]) -> P
where
    P: Group,
    P::Scalar: PrimeField,
{
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
    let bits = P::Scalar::NUM_BITS as usize;
    let digit = |repr: &<P::Scalar as PrimeField>::Repr, offset: usize| -> usize {
        let bytes = repr.as_ref();
        (offset..(offset + window).min(bits)).fold(0, |acc, bit| {
            let byte = bytes[bytes.len() - 1 - bit / 8];
            acc | ((((byte >> (bit % 8)) & 1) as usize) << (bit - offset))
        })
    };
    let mut total = P::identity();
    for offset in (0..bits).step_by(window).rev() {
        for _ in 0..window {
            total = total.double();
        }
        let mut buckets = vec![P::identity(); (1 << window) - 1];
        for ((point, _), repr) in terms.iter().zip(&reprs) {
            let d = digit(repr, offset);
            if d != 0 {
                buckets[d - 1] += point;
            }
        }
        let mut running = P::identity();
        let mut window_sum = P::identity();
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
    use ff::Field;
    use k256::{ProjectivePoint, Scalar as K256Scalar};

    #[test]
    fn pippenger_equals_the_sum_of_products() {
        let mut rng = rand::thread_rng();
        for n in [0usize, 1, 3, 4, 5, 31, 32, 100, 600] {
            let mut terms: Vec<(ProjectivePoint, K256Scalar)> = (0..n)
                .map(|_| {
                    (
                        ProjectivePoint::random(&mut rng),
                        K256Scalar::random(&mut rng),
                    )
                })
                .collect();
            if n > 4 {
                terms[0].1 = K256Scalar::ZERO;
                terms[1].0 = ProjectivePoint::IDENTITY;
                terms[2].1 = -K256Scalar::ONE;
                terms[3] = (terms[4].0, -terms[4].1);
            }
            let expected: ProjectivePoint =
                terms.iter().map(|(point, scalar)| *point * scalar).sum();
            assert_eq!(pippenger(&terms), expected, "n = {n}");
        }
    }

    #[test]
    fn bls_msm_equals_the_sum_of_products() {
        let mut rng = rand::thread_rng();
        for n in [0usize, 1, 300, 1000] {
            let points: Vec<blstrs::G1Projective> = (0..n)
                .map(|_| blstrs::G1Projective::random(&mut rng))
                .collect();
            let scalars: Vec<Scalar> = (0..n).map(|_| Scalar::random(&mut rng)).collect();
            let expected: blstrs::G1Projective =
                points.iter().zip(&scalars).map(|(p, s)| p * s).sum();
            assert_eq!(bls_msm(&points, &scalars), expected, "n = {n}");
        }
    }
}
