//! Bounded discrete logarithms in G1, for decrypting chunks.
//!
//! A decrypted chunk is `m·g₁` for a small m. A table of the
//! [`CHUNK_SIZE`] baby steps `a·g₁`, `a ∈ [0, 2¹⁶)`, built once per process
//! (~3 MiB), answers an honest chunk with one lookup. Larger |m| (only a
//! cheating dealer produces them, see the module docs of `nidkg`) are found
//! by giant steps `m = q·2¹⁶ + a`, trying `q = 0, 1, −1, 2, −2, …`, so the
//! work grows with |m|/2¹⁶ and is charged against a caller-given budget.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use blstrs::{G1Affine, G1Projective};
use group::Group;

use super::CHUNK_SIZE;

/// The baby-step table: `points[a] = a·g₁` and an index by fingerprint.
struct BabySteps {
    points: Vec<G1Affine>,
    index: HashMap<u64, u32>,
}

/// Giant-step candidates normalised together (one inversion per block).
const BLOCK: usize = 256;

fn baby_steps() -> &'static BabySteps {
    static TABLE: OnceLock<BabySteps> = OnceLock::new();
    TABLE.get_or_init(|| {
        let generator = G1Projective::generator();
        let mut projective = Vec::with_capacity(CHUNK_SIZE as usize);
        let mut current = G1Projective::identity();
        for _ in 0..CHUNK_SIZE {
            projective.push(current);
            current += generator;
        }
        // One shared inversion (blstrs' batch_normalize inverts per point:
        // 2¹⁶ inversions made this table the slowest step of a node's start).
        let points = crate::backend::cpu::normalize_g1(&projective);
        let index = points
            .iter()
            .enumerate()
            .map(|(a, point)| (fingerprint(point), a as u32))
            .collect();
        BabySteps { points, index }
    })
}

/// 64 bits of a point's compressed encoding (low bytes of x), as a hash key.
fn fingerprint(point: &G1Affine) -> u64 {
    let bytes = point.to_compressed();
    u64::from_le_bytes(bytes[40..48].try_into().expect("8 bytes"))
}

/// The a in `[0, 2¹⁶)` with `point = a·g₁`, if there is one.
pub(crate) fn small_dlog(point: &G1Affine) -> Option<u64> {
    let table = baby_steps();
    let a = *table.index.get(&fingerprint(point))?;
    (table.points[a as usize] == *point).then_some(u64::from(a))
}

/// Work left for [`bounded_dlog`], in group operations; shared by the
/// threads decrypting one transcript.
#[derive(Debug)]
pub(crate) struct Budget(AtomicU64);

impl Budget {
    /// A budget of `operations` group operations.
    pub(crate) fn new(operations: u64) -> Self {
        Budget(AtomicU64::new(operations))
    }

    /// Takes `cost` from the budget, or returns false if not that much is left.
    fn try_spend(&self, cost: u64) -> bool {
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(cost)
            })
            .is_ok()
    }
}

/// Finds m with `point = m·g₁` and `|m| < bound`, trying small |m| first.
///
/// Returns `Ok(None)` when no such m exists and `Err(())` when the budget
/// runs out first.
pub(crate) fn bounded_dlog(
    point: G1Projective,
    bound: u64,
    budget: &Budget,
) -> Result<Option<i64>, ()> {
    let giant = G1Projective::generator() * blstrs::Scalar::from(CHUNK_SIZE);
    let max_q = bound / CHUNK_SIZE + 1;
    // Candidates `point − q·giant` for q = 0, 1, −1, 2, −2, …
    let mut below = point; // point − q·giant for q ≥ 0
    let mut above = point + giant; // point + q·giant, for −q < 0
    let mut q: u64 = 0;
    while q <= max_q {
        let mut candidates = Vec::with_capacity(BLOCK);
        let mut offsets = Vec::with_capacity(BLOCK);
        while candidates.len() < BLOCK && q <= max_q {
            candidates.push(below);
            offsets.push(q as i64);
            below -= giant;
            if q > 0 {
                candidates.push(above);
                offsets.push(-(q as i64));
                above += giant;
            }
            q += 1;
        }
        if !budget.try_spend(candidates.len() as u64) {
            return Err(());
        }
        let affine = crate::backend::cpu::normalize_g1(&candidates);
        for (candidate, q) in affine.iter().zip(offsets) {
            if let Some(a) = small_dlog(candidate) {
                let m = q * CHUNK_SIZE as i64 + a as i64;
                if m.unsigned_abs() < bound {
                    return Ok(Some(m));
                }
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use blstrs::Scalar;
    use group::Curve;

    fn times_g1(m: i64) -> G1Projective {
        let magnitude = G1Projective::generator() * Scalar::from(m.unsigned_abs());
        if m < 0 {
            -magnitude
        } else {
            magnitude
        }
    }

    #[test]
    fn small_dlog_inverts_every_edge_of_the_table() {
        for a in [0u64, 1, 2, 255, 256, CHUNK_SIZE - 2, CHUNK_SIZE - 1] {
            assert_eq!(small_dlog(&times_g1(a as i64).to_affine()), Some(a));
        }
        assert_eq!(small_dlog(&times_g1(CHUNK_SIZE as i64).to_affine()), None);
        assert_eq!(small_dlog(&times_g1(-1).to_affine()), None);
    }

    #[test]
    fn bounded_dlog_finds_values_outside_the_table_and_respects_bound_and_budget() {
        let bound = 50 * CHUNK_SIZE;
        for m in [
            0i64,
            7,
            -7,
            CHUNK_SIZE as i64 + 5,
            -(3 * CHUNK_SIZE as i64) - 1,
            49 * CHUNK_SIZE as i64,
        ] {
            let budget = Budget::new(1 << 20);
            assert_eq!(
                bounded_dlog(times_g1(m), bound, &budget),
                Ok(Some(m)),
                "m = {m}"
            );
        }
        let budget = Budget::new(1 << 20);
        assert_eq!(
            bounded_dlog(times_g1(bound as i64 + 3), bound, &budget),
            Ok(None)
        );
        let tiny = Budget::new(10);
        assert_eq!(
            bounded_dlog(times_g1(40 * CHUNK_SIZE as i64), bound, &tiny),
            Err(())
        );
    }
}
