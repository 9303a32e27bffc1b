//! Fault identification: which items of a failed batch are invalid.
//!
//! Given any batch check `check(subset) -> bool` that accepts a subset iff
//! all its items are valid (up to the batch's 2⁻⁶⁴ error), [`find_invalid`]
//! names every invalid item:
//!
//! 1. Check the whole batch; if it passes, everything is valid (1 check).
//! 2. Otherwise split by source (the peer an item came from) and check each
//!    source's items on its own. Sources that pass are done, so a peer
//!    flooding invalid signatures only makes the others pay one extra check
//!    of their own items, never a share of its bisection.
//! 3. Bisect inside each failing group. A group known to contain a fault is
//!    halved; if the left half passes the right half must fail and is split
//!    further without being checked.
//!
//! Cost for k invalid items among n (s sources): at most 1 + s + 2k⌈log₂ n⌉
//! checks, and the checked subsets add up to at most n·(⌈log₂ k⌉ + 4) items
//! beyond the first pass, so the work grows with log k, not with n·k.

/// Identifies who submitted an item, e.g. the peer a signature came from.
pub type SourceId = u64;

/// Returns one verdict per item (`true` = valid), using `check` on subsets
/// of item positions.
pub(crate) fn find_invalid(sources: &[SourceId], check: &dyn Fn(&[usize]) -> bool) -> Vec<bool> {
    let mut valid = vec![true; sources.len()];
    let all: Vec<usize> = (0..sources.len()).collect();
    if all.is_empty() || check(&all) {
        return valid;
    }
    let mut groups: std::collections::BTreeMap<SourceId, Vec<usize>> =
        std::collections::BTreeMap::new();
    for (position, source) in sources.iter().enumerate() {
        groups.entry(*source).or_default().push(position);
    }
    if groups.len() == 1 {
        bisect_known_bad(&all, check, &mut valid);
    } else {
        for group in groups.values() {
            if !check(group) {
                bisect_known_bad(group, check, &mut valid);
            }
        }
    }
    valid
}

/// Marks the invalid items of `set`, which is known to contain at least one.
fn bisect_known_bad(set: &[usize], check: &dyn Fn(&[usize]) -> bool, valid: &mut [bool]) {
    if let [only] = set {
        valid[*only] = false;
        return;
    }
    let (left, right) = set.split_at(set.len() / 2);
    if check(left) {
        bisect_known_bad(right, check, valid);
    } else {
        bisect_known_bad(left, check, valid);
        if !check(right) {
            bisect_known_bad(right, check, valid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Runs `find_invalid` with an exact oracle, returning verdicts and the number of checks.
    fn run(bad: &[usize], sources: &[SourceId]) -> (Vec<bool>, usize) {
        let checks = Cell::new(0);
        let check = |subset: &[usize]| {
            checks.set(checks.get() + 1);
            subset.iter().all(|i| !bad.contains(i))
        };
        (find_invalid(sources, &check), checks.get())
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
                let sources = vec![0; n];
                let (verdicts, checks) = run(&bad, &sources);
                for (i, verdict) in verdicts.iter().enumerate() {
                    assert_eq!(*verdict, !bad.contains(&i), "n = {n}, item {i}");
                }
                let log_n = (usize::BITS - (n - 1).leading_zeros()) as usize;
                assert!(
                    checks <= 2 + 2 * bad.len() * log_n.max(1),
                    "n = {n}, k = {}: {checks} checks",
                    bad.len()
                );
            }
        }
    }

    #[test]
    fn a_flooding_source_is_isolated() {
        // 900 honest items from 9 sources, 100 invalid ones from source 99.
        let mut sources: Vec<SourceId> = (0..900).map(|i| (i % 9) as SourceId).collect();
        sources.extend(std::iter::repeat_n(99, 100));
        let bad: Vec<usize> = (900..1000).collect();
        let honest_items_checked = Cell::new(0);
        let check = |subset: &[usize]| {
            honest_items_checked
                .set(honest_items_checked.get() + subset.iter().filter(|&&i| i < 900).count());
            subset.iter().all(|i| !bad.contains(i))
        };
        let verdicts = find_invalid(&sources, &check);
        assert!(verdicts[..900].iter().all(|v| *v) && verdicts[900..].iter().all(|v| !*v));
        // Honest items are checked twice: in the whole batch and in their source's group.
        assert_eq!(honest_items_checked.get(), 1800);
    }
}
