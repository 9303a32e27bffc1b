//! Prometheus metrics of a node, served at `/metrics`.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Every metric the node exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Highest finalized height.
    pub finalized_height: IntGauge,
    /// Current consensus round.
    pub round: IntGauge,
    /// From a block's proposal reaching this node to its finalization.
    pub finalization_latency: Histogram,
    /// Checks per verification batch, by kind (`consensus`, or `ingress
    /// submission`: messages per submission).
    pub batch_size: HistogramVec,
    /// Seconds per verification batch, by kind.
    pub verification_seconds: HistogramVec,
    /// Invalid artifacts dropped, by peer.
    pub invalid_artifacts: IntCounterVec,
    /// Frames dropped or delayed, by peer and reason (`rate_limited`,
    /// `malformed`, `queue_full`, `over_budget`: the peer's share of the
    /// unvalidated pool was full; `signer_over_budget`: its share of the
    /// queue to the chain-key signer was; `throttled`: reading waited for
    /// the peer's byte budget).
    pub dropped_frames: IntGaugeVec,
    /// Queue depths (`unvalidated`, `ingress`, `peer-<id>`).
    pub queue_depth: IntGaugeVec,
    /// Ingress submissions, by result (`accepted` or the reason refused).
    pub ingress: IntCounterVec,
    /// Ingress messages in finalized blocks.
    pub ingress_finalized: IntCounter,
    /// Invalid chain-key dealings, ciphertexts and signature shares, by
    /// the node that made them and kind.
    pub chain_key_invalid: IntCounterVec,
    /// HTTP connections closed at once, by reason.
    pub http_refused: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh metrics in their own registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        let latency_buckets = vec![0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
        let metrics = Metrics {
            finalized_height: IntGauge::new(
                "chainkey_finalized_height",
                "Highest finalized height",
            )
            .expect("valid metric"),
            round: IntGauge::new("chainkey_round", "Current consensus round")
                .expect("valid metric"),
            finalization_latency: Histogram::with_opts(
                HistogramOpts::new(
                    "chainkey_finalization_latency_seconds",
                    "From a block's proposal reaching the node to its finalization",
                )
                .buckets(latency_buckets),
            )
            .expect("valid metric"),
            batch_size: HistogramVec::new(
                HistogramOpts::new(
                    "chainkey_verification_batch_size",
                    "Checks per verification batch",
                )
                .buckets(prometheus::exponential_buckets(1.0, 2.0, 14).expect("valid buckets")),
                &["kind"],
            )
            .expect("valid metric"),
            verification_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "chainkey_verification_seconds",
                    "Seconds per verification batch",
                )
                .buckets(prometheus::exponential_buckets(0.0001, 2.0, 16).expect("valid buckets")),
                &["kind"],
            )
            .expect("valid metric"),
            invalid_artifacts: IntCounterVec::new(
                Opts::new(
                    "chainkey_invalid_artifacts_total",
                    "Invalid artifacts dropped, by peer",
                ),
                &["peer"],
            )
            .expect("valid metric"),
            dropped_frames: IntGaugeVec::new(
                Opts::new(
                    "chainkey_dropped_frames",
                    "Frames dropped (or delayed: throttled) so far, by peer and reason",
                ),
                &["peer", "reason"],
            )
            .expect("valid metric"),
            queue_depth: IntGaugeVec::new(
                Opts::new("chainkey_queue_depth", "Items waiting, by queue"),
                &["queue"],
            )
            .expect("valid metric"),
            ingress: IntCounterVec::new(
                Opts::new("chainkey_ingress_total", "Ingress submissions, by result"),
                &["result"],
            )
            .expect("valid metric"),
            ingress_finalized: IntCounter::new(
                "chainkey_ingress_finalized_total",
                "Ingress messages in finalized blocks",
            )
            .expect("valid metric"),
            chain_key_invalid: IntCounterVec::new(
                Opts::new(
                    "chainkey_chain_key_invalid_total",
                    "Invalid chain-key dealings, ciphertexts and signature shares, by maker",
                ),
                &["node", "kind"],
            )
            .expect("valid metric"),
            http_refused: IntCounterVec::new(
                Opts::new(
                    "chainkey_http_refused_total",
                    "HTTP connections closed at once, by reason",
                ),
                &["reason"],
            )
            .expect("valid metric"),
            registry,
        };
        let registry = &metrics.registry;
        for collector in [
            Box::new(metrics.finalized_height.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.round.clone()),
            Box::new(metrics.finalization_latency.clone()),
            Box::new(metrics.batch_size.clone()),
            Box::new(metrics.verification_seconds.clone()),
            Box::new(metrics.invalid_artifacts.clone()),
            Box::new(metrics.dropped_frames.clone()),
            Box::new(metrics.queue_depth.clone()),
            Box::new(metrics.ingress.clone()),
            Box::new(metrics.ingress_finalized.clone()),
            Box::new(metrics.chain_key_invalid.clone()),
            Box::new(metrics.http_refused.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        metrics
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("encoding to a Vec cannot fail");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_metrics_carry_values_and_labels() {
        let metrics = Metrics::new();
        metrics.finalized_height.set(42);
        metrics
            .invalid_artifacts
            .with_label_values(&["3"])
            .inc_by(5);
        let text = metrics.render();
        assert!(text.contains("chainkey_finalized_height 42"), "{text}");
        assert!(
            text.contains("chainkey_invalid_artifacts_total{peer=\"3\"} 5"),
            "{text}"
        );
    }
}
