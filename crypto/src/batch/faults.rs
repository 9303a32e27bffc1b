//! Fault identification: which items of a failed batch are invalid.
//!
//! Given a batch check that accepts a subset iff all its items are valid
//! (up to the batch's 2⁻⁶⁴ error), [`find_invalid`] names every invalid item:
//!
//! 1. Items are ordered by source (the peer that sent them). Sources that
//!    sent invalid items recently (*suspects*) are checked apart from the
//!    rest, so a peer that keeps flooding invalid signatures only ever
//!    fails its own checks and honest batches pass in one check.
//! 2. A failed set is first given to the checker's single-fault locator:
//!    for BLS it names the one invalid item of a set with two more pairing
//!    evaluations whatever the set's size (see `bls`).
//! 3. If that cannot settle it (several faults), the set is split in two —
//!    at a source boundary when one lies in its middle half, so sources
//!    separate early — and each half is resolved the same way.
//!
//! Cost for k invalid items among n: one check when k = 0; three
//! evaluations for k = 1 (BLS); in general at most k(⌈log₂ n⌉ + 1) failing
//! sets, each costing at most three evaluations, plus as many passing
//! sibling checks. The work grows with k·log n, never with n·k.

use std::collections::HashSet;

/// Identifies who submitted an item, e.g. the peer a signature came from.
pub type SourceId = u64;

/// A batch check over subsets of item positions.
pub(crate) trait BatchCheck {
    /// What a failed check leaves behind for [`BatchCheck::locate_single`].
    type Failure;

    /// Checks that every item in `subset` is valid.
    fn check(&self, subset: &[usize]) -> Result<(), Self::Failure>;

    /// After `check(subset)` failed with `failure`: names the invalid item
    /// if it is provably the only one, or `None` when it cannot tell.
    fn locate_single(&self, subset: &[usize], failure: Self::Failure) -> Option<usize>;
}

/// Returns one verdict per item (`true` = valid).
pub(crate) fn find_invalid<C: BatchCheck>(
    sources: &[SourceId],
    suspects: &HashSet<SourceId>,
    checker: &C,
) -> Vec<bool> {
    let mut order: Vec<usize> = (0..sources.len()).collect();
    order.sort_by_key(|&position| (suspects.contains(&sources[position]), sources[position]));
    let first_suspect = order.partition_point(|&position| !suspects.contains(&sources[position]));
    let (trusted, suspected) = order.split_at(first_suspect);
    let mut valid = vec![true; sources.len()];
    let resolver = Resolver { sources, checker };
    for part in [trusted, suspected] {
        if !part.is_empty() {
            resolver.resolve(part, &mut valid);
        }
    }
    valid
}

struct Resolver<'a, C> {
    sources: &'a [SourceId],
    checker: &'a C,
}

impl<C: BatchCheck> Resolver<'_, C> {
    /// Marks the invalid items of `set`.
    fn resolve(&self, set: &[usize], valid: &mut [bool]) {
        if let Err(failure) = self.checker.check(set) {
            self.resolve_failed(set, failure, valid);
        }
    }

    /// Marks the invalid items of `set`, whose check just failed.
    fn resolve_failed(&self, set: &[usize], failure: C::Failure, valid: &mut [bool]) {
        if let [only] = set {
            valid[*only] = false;
            return;
        }
        if let Some(invalid) = self.checker.locate_single(set, failure) {
            valid[invalid] = false;
            return;
        }
        let (left, right) = set.split_at(self.split_point(set));
        self.resolve(left, valid);
        self.resolve(right, valid);
    }

    /// Where to halve `set`: the source boundary nearest the middle if it
    /// lies in the middle half, else the middle.
    fn split_point(&self, set: &[usize]) -> usize {
        let middle = set.len() / 2;
        let boundary = (1..set.len())
            .filter(|&i| self.sources[set[i - 1]] != self.sources[set[i]])
            .min_by_key(|&i| i.abs_diff(middle));
        match boundary {
            Some(i) if i >= set.len() / 4 && i <= set.len() - set.len() / 4 => i,
            _ => middle,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// An exact oracle that counts the items it is asked about.
    struct Oracle<'a> {
        bad: &'a [usize],
        honest_limit: usize,
        checks: Cell<usize>,
        honest_items_checked: Cell<usize>,
    }

    impl BatchCheck for Oracle<'_> {
        type Failure = ();
        fn check(&self, subset: &[usize]) -> Result<(), ()> {
            self.checks.set(self.checks.get() + 1);
            let honest = subset.iter().filter(|&&i| i < self.honest_limit).count();
            self.honest_items_checked
                .set(self.honest_items_checked.get() + honest);
            if subset.iter().any(|i| self.bad.contains(i)) {
                Err(())
            } else {
                Ok(())
            }
        }
        fn locate_single(&self, _: &[usize], (): ()) -> Option<usize> {
            None
        }
    }

    fn oracle(bad: &[usize], honest_limit: usize) -> Oracle<'_> {
        Oracle {
            bad,
            honest_limit,
            checks: Cell::new(0),
            honest_items_checked: Cell::new(0),
        }
    }

    #[test]
    fn names_exactly_the_bad_items_within_the_cost_bound() {
        for n in [1usize, 2, 7, 64, 1000] {
            for bad in [
                vec![],
                vec![0],
                vec![n - 1],
                (0..n).step_by(7).collect::<Vec<_>>(),
            ] {
                let sources: Vec<SourceId> = (0..n as u64).map(|i| i % 5).collect();
                let checker = oracle(&bad, n);
                let verdicts = find_invalid(&sources, &HashSet::new(), &checker);
                for (i, verdict) in verdicts.iter().enumerate() {
                    assert_eq!(*verdict, !bad.contains(&i), "n = {n}, item {i}");
                }
                let depth = (usize::BITS - n.leading_zeros()) as usize + 1;
                let bound = 1 + 2 * bad.len() * depth;
                assert!(
                    checker.checks.get() <= bound,
                    "n = {n}, k = {}: {} checks > {bound}",
                    bad.len(),
                    checker.checks.get()
                );
            }
        }
    }

    #[test]
    fn a_suspected_flooding_source_costs_honest_items_nothing() {
        // 900 honest items from 9 sources, then 100 invalid ones from source 99.
        let mut sources: Vec<SourceId> = (0..900).map(|i| (i % 9) as SourceId).collect();
        sources.extend(std::iter::repeat_n(99, 100));
        let bad: Vec<usize> = (900..1000).collect();
        let checker = oracle(&bad, 900);
        let verdicts = find_invalid(&sources, &HashSet::from([99]), &checker);
        assert!(verdicts[..900].iter().all(|v| *v) && verdicts[900..].iter().all(|v| !*v));
        // Honest items are checked exactly once, in their own passing check.
        assert_eq!(checker.honest_items_checked.get(), 900);
    }

    #[test]
    fn sources_are_separated_before_items_are() {
        // A source whose items are all bad, among honest sources of equal size:
        // after the first split no honest item meets a bad one again.
        let sources: Vec<SourceId> = (0..64).map(|i| i / 16).collect();
        let bad: Vec<usize> = (16..32).collect();
        let checker = oracle(&bad, 0);
        let verdicts = find_invalid(&sources, &HashSet::new(), &checker);
        assert_eq!((0..64).filter(|&i| !verdicts[i]).collect::<Vec<_>>(), bad);
        // whole batch, halves [0,32) and [32,64), quarters [0,16) and [16,32), then bisection of source 1.
        assert!(
            checker.checks.get() <= 5 + 2 * 16,
            "{} checks",
            checker.checks.get()
        );
    }
}
