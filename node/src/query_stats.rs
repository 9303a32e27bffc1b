//! Query statistics: queries run on one node, outside blocks, so the
//! subnet learns of them from the nodes. Each node counts the queries it
//! answers ([`Collector::record`]); when it makes a block, it reports what
//! it counted since its last report in the block's `query_stats` section
//! ([`Collector::report`]); execution adds every finalized report to its
//! canisters' totals, which `canister_status` shows.
//!
//! The totals are sums, not the IC's median of the nodes' reports times
//! the number of nodes: on a local subnet one node often serves every
//! query (a tool talks to one URL), and a median would then report none.
//! A report speaks only for its maker's node (validation checks that the
//! reporter made the block), and every count must be one its queries
//! could have reached ([`Bounds`]): a Byzantine node can overstate the
//! queries it says it ran, not those of another node, and the section is
//! bounded in entries and bytes like every other.

use std::collections::BTreeMap;

use chainkey_consensus::{Height, NodeId, Payload};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::cbor::to_cbor;
use crate::config::ExecutionConfig;
use crate::execution::system_api::MAX_QUERY_REPLY_BYTES;
use crate::execution::QueryCounts;

/// Canisters one report names, at most.
pub const MAX_CANISTERS_PER_REPORT: usize = 500;
/// Canisters a node counts between two reports, at most (queries to
/// others are not counted until the next report makes room).
pub const MAX_COUNTED_CANISTERS: usize = 100_000;
/// The longest canister id.
const MAX_ID_BYTES: usize = 29;
/// A report's encoding holds at most this many bytes (500 canisters of
/// 29-byte ids with four full counts each fit).
pub const MAX_REPORT_BYTES: usize = 64 << 10;

/// What one query can count, at most: the limits the node runs queries
/// under. A report whose counts exceed them times its calls is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Instructions one query may use.
    pub instructions: u64,
    /// Bytes of one query's argument (the HTTP body limit).
    pub request_bytes: u64,
    /// Bytes of one query's reply.
    pub response_bytes: u64,
}

impl Bounds {
    /// The bounds of nodes whose queries run under `limits`, with
    /// requests of at most `request_bytes` (their HTTP body limit), and
    /// replies within the System API's limit for queries.
    pub fn of(limits: &ExecutionConfig, request_bytes: usize) -> Bounds {
        Bounds {
            instructions: limits.query_instructions,
            request_bytes: request_bytes as u64,
            response_bytes: MAX_QUERY_REPLY_BYTES as u64,
        }
    }
}

/// One node's counts since its previous report: the entry of a block's
/// `query_stats` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The node that ran the queries: the block's maker.
    pub reporter: NodeId,
    /// Counts by canister id, in ascending id order.
    pub canisters: Vec<(ByteBuf, QueryCounts)>,
}

/// Why a block's query-stats section is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryStatsError {
    /// More than one report, or one over [`MAX_REPORT_BYTES`].
    #[error("more than one report, or one over {MAX_REPORT_BYTES} bytes")]
    TooLarge,
    /// The report does not decode.
    #[error("the report does not decode")]
    Malformed,
    /// The report speaks for a node that did not make the block.
    #[error("node {reporter} reports in a block made by node {maker}")]
    NotTheMaker {
        /// Who the report names.
        reporter: NodeId,
        /// Who made the block.
        maker: NodeId,
    },
    /// The maker reported already in a block not yet finalized.
    #[error("the maker has a report in an unfinalized ancestor")]
    Repeated,
    /// No canisters, more than [`MAX_CANISTERS_PER_REPORT`], ids out of
    /// order, repeated or too long.
    #[error("the report's canisters are empty, too many, out of order or malformed")]
    Canisters,
    /// Counts no queries could reach (none, or more than their calls
    /// allow under [`Bounds`]).
    #[error("the report's counts are out of bounds")]
    Implausible,
}

/// The reports of a block's `query_stats` section, checked: at most one,
/// by the block's maker, who has none in `past` (the unfinalized blocks
/// below it), naming each canister once, in order, with counts its calls
/// could reach. Cheap checks (size, count) come before decoding.
///
/// # Errors
/// The first rule the section breaks.
pub fn check(
    section: &[ByteBuf],
    maker: NodeId,
    past: &[&Payload],
    bounds: &Bounds,
) -> Result<Option<Report>, QueryStatsError> {
    let entry = match section {
        [] => return Ok(None),
        [entry] if entry.len() <= MAX_REPORT_BYTES => entry,
        _ => return Err(QueryStatsError::TooLarge),
    };
    let report = decode(entry).ok_or(QueryStatsError::Malformed)?;
    if report.reporter != maker {
        return Err(QueryStatsError::NotTheMaker {
            reporter: report.reporter,
            maker,
        });
    }
    if reported_in(past, maker) {
        return Err(QueryStatsError::Repeated);
    }
    let ids_in_order = report
        .canisters
        .windows(2)
        .all(|pair| pair[0].0 < pair[1].0);
    let ids_fit = report
        .canisters
        .iter()
        .all(|(id, _)| !id.is_empty() && id.len() <= MAX_ID_BYTES);
    if report.canisters.is_empty()
        || report.canisters.len() > MAX_CANISTERS_PER_REPORT
        || !ids_in_order
        || !ids_fit
    {
        return Err(QueryStatsError::Canisters);
    }
    if !report
        .canisters
        .iter()
        .all(|(_, counts)| plausible(counts, bounds))
    {
        return Err(QueryStatsError::Implausible);
    }
    Ok(Some(report))
}

/// Whether one of the blocks of `past` carries a report by `node`.
fn reported_in(past: &[&Payload], node: NodeId) -> bool {
    past.iter()
        .flat_map(|payload| &payload.query_stats)
        .filter_map(|entry| decode(entry))
        .any(|report| report.reporter == node)
}

/// Whether `calls` queries could have counted `counts`.
fn plausible(counts: &QueryCounts, bounds: &Bounds) -> bool {
    let most = |each: u64| counts.calls.saturating_mul(each);
    counts.calls > 0
        && counts.instructions <= most(bounds.instructions)
        && counts.request_bytes <= most(bounds.request_bytes)
        && counts.response_bytes <= most(bounds.response_bytes)
}

/// A report's entry, decoded (its size is bounded before).
fn decode(entry: &[u8]) -> Option<Report> {
    ciborium::from_reader(entry).ok()
}

/// The counts a finalized block reports, by canister (for execution).
/// Validation let in only well-formed sections.
pub fn reported(payload: &Payload) -> Vec<(Vec<u8>, QueryCounts)> {
    payload
        .query_stats
        .iter()
        .filter_map(|entry| decode(entry))
        .flat_map(|report| report.canisters)
        .map(|(id, counts)| (id.into_vec(), counts))
        .collect()
}

/// This node's counts of the queries it answered, not yet reported, and
/// its report in flight: a node has one report in flight at most, until
/// the height of the block carrying it is finalized — with that block (the
/// counts are reported), or with another (they are counted again).
#[derive(Debug, Default)]
pub struct Collector {
    counting: BTreeMap<Vec<u8>, QueryCounts>,
    in_flight: Option<InFlight>,
}

/// A report in a block this node made, not yet finalized.
#[derive(Debug)]
struct InFlight {
    height: Height,
    entry: ByteBuf,
    report: Report,
}

impl Collector {
    /// Counts a query this node answered for canister `id`.
    pub fn record(&mut self, id: &[u8], counts: &QueryCounts) {
        if let Some(counted) = self.counting.get_mut(id) {
            counted.add(counts);
        } else if self.counting.len() < MAX_COUNTED_CANISTERS {
            self.counting.insert(id.to_vec(), *counts);
        }
    }

    /// The `query_stats` section of the block this node (`me`) makes at
    /// `height` on the unfinalized blocks `past`: a report of up to
    /// [`MAX_CANISTERS_PER_REPORT`] canisters it counted, unless it has one
    /// in flight or in `past` (a report made before a restart), or nothing
    /// to report.
    pub fn report(&mut self, me: NodeId, height: Height, past: &[&Payload]) -> Vec<ByteBuf> {
        if self.in_flight.is_some() || self.counting.is_empty() || reported_in(past, me) {
            return Vec::new();
        }
        let rest = match self.counting.iter().nth(MAX_CANISTERS_PER_REPORT) {
            Some((first_left, _)) => {
                let first_left = first_left.clone();
                self.counting.split_off(&first_left)
            }
            None => BTreeMap::new(),
        };
        let canisters = std::mem::replace(&mut self.counting, rest)
            .into_iter()
            .map(|(id, counts)| (ByteBuf::from(id), counts))
            .collect();
        let report = Report {
            reporter: me,
            canisters,
        };
        let entry = ByteBuf::from(to_cbor(&report));
        self.in_flight = Some(InFlight {
            height,
            entry: entry.clone(),
            report,
        });
        vec![entry]
    }

    /// Settles the report in flight when its height is finalized: done if
    /// the finalized block carries it, counted again if it does not.
    pub fn on_finalized(&mut self, height: Height, payload: &Payload) {
        let Some(flight) = self.in_flight.take_if(|flight| flight.height == height) else {
            return;
        };
        if !payload.query_stats.contains(&flight.entry) {
            for (id, counts) in &flight.report.canisters {
                self.record(id, counts);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        instructions: 1_000,
        request_bytes: 100,
        response_bytes: 200,
    };

    fn one_query(instructions: u64) -> QueryCounts {
        QueryCounts {
            calls: 1,
            instructions,
            request_bytes: 10,
            response_bytes: 20,
        }
    }

    fn carrying(section: Vec<ByteBuf>) -> Payload {
        Payload {
            query_stats: section,
            ..Payload::default()
        }
    }

    fn entry(report: &Report) -> ByteBuf {
        ByteBuf::from(to_cbor(report))
    }

    #[test]
    fn a_report_is_settled_once_with_its_block_or_counted_again_without_it() {
        let mut node = Collector::default();
        assert!(
            node.report(2, 5, &[]).is_empty(),
            "nothing counted, nothing reported"
        );
        node.record(b"b", &one_query(7));
        node.record(b"a", &one_query(3));
        node.record(b"b", &one_query(1));
        let section = node.report(2, 5, &[]);
        let report = check(&section, 2, &[], &BOUNDS).unwrap().unwrap();
        let mut twice = one_query(7);
        twice.add(&one_query(1));
        assert_eq!(
            report.canisters,
            vec![
                (ByteBuf::from(b"a".to_vec()), one_query(3)),
                (ByteBuf::from(b"b".to_vec()), twice),
            ]
        );
        // Queries answered meanwhile wait for the next report; one report
        // is in flight at a time.
        node.record(b"a", &one_query(4));
        assert!(node.report(2, 6, &[]).is_empty());
        // Another node's block is finalized at height 5: counted again.
        node.on_finalized(5, &Payload::default());
        let again = check(&node.report(2, 9, &[]), 2, &[], &BOUNDS)
            .unwrap()
            .unwrap();
        let mut a = one_query(3);
        a.add(&one_query(4));
        assert_eq!(
            again.canisters,
            vec![
                (ByteBuf::from(b"a".to_vec()), a),
                (ByteBuf::from(b"b".to_vec()), twice),
            ]
        );
        // Finalized with its block: reported, never again.
        node.on_finalized(9, &carrying(vec![entry(&again)]));
        assert!(node.report(2, 10, &[]).is_empty());
        // A report of this node's in an unfinalized block (made before a
        // restart) holds the next back: it would be refused.
        node.record(b"a", &one_query(1));
        let before_restart = carrying(vec![entry(&again)]);
        assert!(node.report(2, 11, &[&before_restart]).is_empty());
        assert_eq!(node.report(2, 12, &[]).len(), 1);
    }

    #[test]
    fn a_large_count_is_reported_over_several_blocks() {
        let mut node = Collector::default();
        let canisters = MAX_CANISTERS_PER_REPORT + 3;
        for index in 0..canisters as u32 {
            node.record(
                &[&[7u8; 25][..], &index.to_be_bytes()].concat(),
                &one_query(1),
            );
        }
        let first = node.report(0, 1, &[]);
        assert!(first[0].len() <= MAX_REPORT_BYTES);
        let first = check(&first, 0, &[], &BOUNDS).unwrap().unwrap();
        node.on_finalized(1, &carrying(vec![entry(&first)]));
        let second = check(&node.report(0, 2, &[]), 0, &[], &BOUNDS)
            .unwrap()
            .unwrap();
        assert_eq!(first.canisters.len(), MAX_CANISTERS_PER_REPORT);
        assert_eq!(second.canisters.len(), 3);
        assert!(first.canisters.last().unwrap().0 < second.canisters[0].0);
    }

    /// A node's own reports are never refused for their counts: the
    /// largest query a node runs (all its instructions, the largest
    /// request, the largest query reply) is within the bounds.
    #[test]
    fn the_largest_query_a_node_runs_is_within_the_bounds() {
        let limits = ExecutionConfig::default();
        let largest = QueryCounts {
            calls: 1,
            instructions: limits.query_instructions,
            request_bytes: 3 << 20,
            response_bytes: 3 << 20,
        };
        assert!(plausible(&largest, &Bounds::of(&limits, 3 << 20)));
    }

    #[test]
    fn a_section_breaking_a_rule_is_refused_with_the_rule() {
        let good = Report {
            reporter: 1,
            canisters: vec![(ByteBuf::from(vec![1]), one_query(5))],
        };
        let refused = |section: Vec<ByteBuf>, past: &[&Payload]| check(&section, 1, past, &BOUNDS);
        assert_eq!(refused(vec![entry(&good)], &[]), Ok(Some(good.clone())));
        assert_eq!(refused(Vec::new(), &[]), Ok(None));
        assert_eq!(
            refused(vec![entry(&good), entry(&good)], &[]),
            Err(QueryStatsError::TooLarge)
        );
        assert_eq!(
            refused(vec![ByteBuf::from(vec![0; MAX_REPORT_BYTES + 1])], &[]),
            Err(QueryStatsError::TooLarge)
        );
        assert_eq!(
            refused(vec![ByteBuf::from(vec![0xff, 0])], &[]),
            Err(QueryStatsError::Malformed)
        );
        let someone_else = Report {
            reporter: 3,
            ..good.clone()
        };
        assert_eq!(
            refused(vec![entry(&someone_else)], &[]),
            Err(QueryStatsError::NotTheMaker {
                reporter: 3,
                maker: 1
            })
        );
        let earlier = carrying(vec![entry(&good)]);
        assert_eq!(
            refused(vec![entry(&good)], &[&earlier]),
            Err(QueryStatsError::Repeated)
        );
        let by_another = carrying(vec![entry(&someone_else)]);
        assert!(refused(vec![entry(&good)], &[&by_another]).is_ok());
        let with = |canisters: Vec<(ByteBuf, QueryCounts)>| {
            vec![entry(&Report {
                reporter: 1,
                canisters,
            })]
        };
        let id = |byte: u8| ByteBuf::from(vec![byte]);
        for canisters in [
            Vec::new(),
            vec![(id(2), one_query(1)), (id(1), one_query(1))],
            vec![(id(1), one_query(1)), (id(1), one_query(1))],
            vec![(ByteBuf::from(vec![1; 30]), one_query(1))],
            (0..=MAX_CANISTERS_PER_REPORT as u16)
                .map(|index| (ByteBuf::from(index.to_be_bytes().to_vec()), one_query(1)))
                .collect(),
        ] {
            assert_eq!(
                refused(with(canisters), &[]),
                Err(QueryStatsError::Canisters)
            );
        }
        let no_calls = QueryCounts::default();
        let two_calls = QueryCounts {
            calls: 2,
            instructions: 2_001,
            ..QueryCounts::default()
        };
        let huge_reply = QueryCounts {
            response_bytes: 201,
            ..one_query(1)
        };
        let huge_argument = QueryCounts {
            request_bytes: 101,
            ..one_query(1)
        };
        for counts in [no_calls, two_calls, huge_reply, huge_argument] {
            assert_eq!(
                refused(with(vec![(id(1), counts)]), &[]),
                Err(QueryStatsError::Implausible)
            );
        }
    }
}
