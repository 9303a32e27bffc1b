//! What a node counts for `/status`: finalization rate and latency over
//! rolling windows, verification batch sizes, and running totals.
//!
//! Pure bookkeeping: the caller passes the time, so every window is
//! tested without waiting.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chainkey_consensus::{Height, NodeId};

/// Finalizations counted in the rates (blocks/s, ingress/s).
const RATE_WINDOW: Duration = Duration::from_secs(10);
/// Finalization latencies kept for the percentiles.
const LATENCIES: usize = 256;
/// Verification batch sizes kept for their mean.
const BATCHES: usize = 256;
/// Executed heights whose state digests `/status` shows.
const STATE_DIGESTS: usize = 32;

/// The node's counters and rolling windows.
#[derive(Default)]
pub struct Stats {
    /// When each height's first proposal reached this node.
    proposed_at: BTreeMap<Height, Instant>,
    /// Finalization latencies (ms), oldest first.
    latencies: VecDeque<f64>,
    /// Recent finalizations: when, which height, how many ingress messages.
    finalized: VecDeque<(Instant, Height, u64)>,
    /// Sizes of the recent consensus verification batches (the crypto
    /// wrapper records them from the verifier's threads).
    batches: Arc<Mutex<VecDeque<usize>>>,
    /// Invalid artifacts per peer already added to the metric.
    invalid_reported: HashMap<NodeId, u64>,
    /// Whole-state digests of the last executed heights (hex).
    pub state_digests: VecDeque<(Height, String)>,
    /// Update calls executed since start.
    pub calls_executed: u64,
    /// Chain-key signatures finalized since start.
    pub signatures_finalized: u64,
    /// Invalid chain-key artifacts, by the node that made them.
    pub chain_key_invalid: BTreeMap<NodeId, u64>,
    /// Chain-key transcript shares rebuilt from openings.
    pub shares_rebuilt: u64,
    /// The last certified height.
    pub certified_height: Height,
}

/// The rates and percentiles of one report.
#[derive(Clone, Debug, PartialEq)]
pub struct Rates {
    /// Finalized blocks per second over the window.
    pub blocks_per_second: f64,
    /// Finalized ingress messages per second over the window.
    pub ingress_per_second: f64,
    /// Median finalization latency (ms).
    pub latency_p50_ms: f64,
    /// 99th percentile finalization latency (ms).
    pub latency_p99_ms: f64,
    /// Mean consensus verification batch.
    pub mean_batch: f64,
}

impl Stats {
    /// Where the crypto wrapper records its batch sizes.
    pub fn batch_log(&self) -> Arc<Mutex<VecDeque<usize>>> {
        Arc::clone(&self.batches)
    }

    /// Records one verification batch of `checks` (at most [`BATCHES`] kept).
    pub fn record_batch(log: &Mutex<VecDeque<usize>>, checks: usize) {
        let mut recent = log.lock().expect("batch log");
        if recent.len() == BATCHES {
            recent.pop_front();
        }
        recent.push_back(checks);
    }

    /// A proposal for `height` reached this node at `now` (the first one counts).
    pub fn proposal_seen(&mut self, height: Height, now: Instant) {
        self.proposed_at.entry(height).or_insert(now);
    }

    /// `height` was finalized at `now` with `messages` ingress messages;
    /// its latency from first proposal (seconds), if one was seen.
    pub fn finalized(&mut self, height: Height, messages: u64, now: Instant) -> Option<f64> {
        let latency = self
            .proposed_at
            .remove(&height)
            .map(|proposed| now.saturating_duration_since(proposed).as_secs_f64());
        if let Some(latency) = latency {
            if self.latencies.len() == LATENCIES {
                self.latencies.pop_front();
            }
            self.latencies.push_back(latency * 1e3);
        }
        self.proposed_at = self.proposed_at.split_off(&(height + 1));
        self.finalized.push_back((now, height, messages));
        latency
    }

    /// `height` was executed: its state digest and how many calls ran.
    pub fn executed(&mut self, height: Height, digest: &[u8], calls: usize) {
        self.calls_executed += calls as u64;
        if self.state_digests.len() == STATE_DIGESTS {
            self.state_digests.pop_front();
        }
        self.state_digests.push_back((height, hex::encode(digest)));
    }

    /// The highest executed height seen.
    pub fn executed_height(&self) -> Height {
        self.state_digests.back().map_or(0, |(height, _)| *height)
    }

    /// How many invalid artifacts of `peer` are new since the last call,
    /// given consensus's running total `count`.
    pub fn new_invalid(&mut self, peer: NodeId, count: u64) -> u64 {
        let reported = self.invalid_reported.entry(peer).or_default();
        let new = count - *reported;
        *reported = count;
        new
    }

    /// The rates and percentiles at `now` (forgets finalizations older
    /// than the window).
    pub fn rates(&mut self, now: Instant) -> Rates {
        while self
            .finalized
            .front()
            .is_some_and(|(at, _, _)| now.saturating_duration_since(*at) > RATE_WINDOW)
        {
            self.finalized.pop_front();
        }
        let span = self
            .finalized
            .front()
            .map_or(0.0, |(at, _, _)| {
                now.saturating_duration_since(*at).as_secs_f64()
            })
            .max(1.0);
        let messages: u64 = self.finalized.iter().map(|(_, _, m)| m).sum();
        let mut sorted: Vec<f64> = self.latencies.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let batches = self.batches.lock().expect("batch log");
        let mean_batch = if batches.is_empty() {
            0.0
        } else {
            batches.iter().sum::<usize>() as f64 / batches.len() as f64
        };
        Rates {
            blocks_per_second: self.finalized.len() as f64 / span,
            ingress_per_second: messages as f64 / span,
            latency_p50_ms: percentile(&sorted, 0.5),
            latency_p99_ms: percentile(&sorted, 0.99),
            mean_batch,
        }
    }
}

/// The `p`-th quantile of `sorted` (nearest rank; 0 when empty).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_count_the_last_ten_seconds_only() {
        let mut stats = Stats::default();
        let start = Instant::now();
        // 5 blocks of 100 messages at 0..4 s, then 20 blocks of 10 at 20..24 s.
        for i in 0..5 {
            stats.finalized(i, 100, start + Duration::from_secs(i));
        }
        for i in 0..20u64 {
            stats.finalized(
                10 + i,
                10,
                start + Duration::from_secs(20) + Duration::from_millis(200 * i),
            );
        }
        let rates = stats.rates(start + Duration::from_secs(24));
        // The window holds the last 20 blocks, spread over 4 s from the first.
        assert_eq!(rates.blocks_per_second, 20.0 / 4.0);
        assert_eq!(rates.ingress_per_second, 200.0 / 4.0);
        // Long after, nothing is left; a window under a second counts as one.
        let later = stats.rates(start + Duration::from_secs(60));
        assert_eq!(later.blocks_per_second, 0.0);
    }

    #[test]
    fn latency_runs_from_the_first_proposal_to_finalization() {
        let mut stats = Stats::default();
        let start = Instant::now();
        stats.proposal_seen(7, start);
        stats.proposal_seen(7, start + Duration::from_millis(300)); // not the first
        stats.proposal_seen(8, start + Duration::from_millis(100));
        let latency = stats.finalized(7, 0, start + Duration::from_millis(500));
        assert_eq!(latency, Some(0.5));
        // A height never proposed here has no latency; lower heights are forgotten.
        assert_eq!(
            stats.finalized(9, 0, start + Duration::from_millis(600)),
            None
        );
        assert_eq!(
            stats.finalized(8, 0, start + Duration::from_millis(700)),
            None
        );
        let rates = stats.rates(start + Duration::from_secs(1));
        assert_eq!(rates.latency_p50_ms, 500.0);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 0.5), 51.0);
        assert_eq!(percentile(&sorted, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn batches_and_digests_keep_the_latest_only() {
        let mut stats = Stats::default();
        let log = stats.batch_log();
        for size in 0..BATCHES + 10 {
            Stats::record_batch(&log, size);
        }
        let expected = (10..BATCHES + 10).sum::<usize>() as f64 / BATCHES as f64;
        assert_eq!(stats.rates(Instant::now()).mean_batch, expected);
        for height in 1..=40 {
            stats.executed(height, &[height as u8], 2);
        }
        assert_eq!(stats.state_digests.len(), STATE_DIGESTS);
        assert_eq!(stats.executed_height(), 40);
        assert_eq!(stats.calls_executed, 80);
    }

    #[test]
    fn invalid_artifacts_are_reported_once() {
        let mut stats = Stats::default();
        assert_eq!(stats.new_invalid(3, 5), 5);
        assert_eq!(stats.new_invalid(3, 7), 2);
        assert_eq!(stats.new_invalid(3, 7), 0);
    }
}
