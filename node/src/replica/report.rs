//! The node's metrics and `/status`, from consensus, the chain-key state,
//! the network's counters and [`Stats`](super::stats::Stats).

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::Node;
use crate::api::Status;
use crate::chain_key::bls::BlsKey;
use crate::chain_key::state::master_public_key;

impl Node {
    /// Publishes the node's metrics and `/status`.
    pub(super) fn report(&mut self) {
        let metrics = &self.shared.metrics;
        let rates = self.stats.rates(Instant::now());
        let mut dropped = 0;
        for (peer, stats) in self.peers.transport.stats().iter().enumerate() {
            let label = peer.to_string();
            for (reason, value) in [
                ("rate_limited", &stats.rate_limited),
                ("malformed", &stats.malformed),
                ("queue_full", &stats.queue_full),
                ("throttled", &stats.throttled),
                ("cut_off", &stats.cut_off),
            ] {
                let value = value.load(Ordering::Relaxed);
                metrics
                    .dropped_frames
                    .with_label_values(&[label.as_str(), reason])
                    .set(value as i64);
                if reason == "rate_limited" || reason == "malformed" {
                    dropped += value;
                }
            }
            metrics
                .queue_depth
                .with_label_values(&[format!("peer-{peer}").as_str()])
                .set(stats.queued.load(Ordering::Relaxed) as i64);
        }
        for (&peer, &count) in self.consensus.invalid_artifacts() {
            let new = self.stats.new_invalid(peer, count);
            metrics
                .invalid_artifacts
                .with_label_values(&[peer.to_string().as_str()])
                .inc_by(new);
            dropped += count;
            if let Some(cut_off) = self.peers.penalties.judge(peer, new, self.peers.nodes) {
                tracing::warn!(
                    node = self.me,
                    peer,
                    new,
                    ?cut_off,
                    "cutting off a peer sending invalid artifacts"
                );
                self.peers.transport.cut_off(peer, cut_off);
            }
        }
        for (&peer, &count) in self.consensus.over_budget() {
            metrics
                .dropped_frames
                .with_label_values(&[peer.to_string().as_str(), "over_budget"])
                .set(count as i64);
        }
        metrics
            .queue_depth
            .with_label_values(&["unvalidated"])
            .set(self.consensus.unvalidated_len() as i64);
        let pending = self.consensus.payloads_mut().pending();
        // Blocks drain the queue: let the HTTP endpoint accept again.
        self.shared.pending.store(pending, Ordering::Relaxed);
        metrics
            .queue_depth
            .with_label_values(&["ingress"])
            .set(pending as i64);
        metrics.round.set(self.consensus.height() as i64);
        let finalized_height = self.consensus.finalized_height();
        let chain_key = self.consensus.payloads().chain_key.state();
        let status = Status {
            node: self.me,
            round: self.consensus.height(),
            finalized_height,
            finalized_hash: self
                .consensus
                .finalized_chain()
                .get(&finalized_height)
                .map(|hash| hex::encode(hash.0))
                .unwrap_or_default(),
            stored_height: self.durable.store.top_finalized().unwrap_or_default(),
            blocks_per_second: rates.blocks_per_second,
            latency_p50_ms: rates.latency_p50_ms,
            latency_p99_ms: rates.latency_p99_ms,
            ingress_finalized: self.consensus.payloads().finalized_messages,
            ingress_per_second: rates.ingress_per_second,
            ingress_pending: pending,
            mean_batch: rates.mean_batch,
            backend: "cpu".into(),
            peers_connected: self
                .peers
                .transport
                .stats()
                .iter()
                .filter(|stats| stats.connected.load(Ordering::Relaxed))
                .count(),
            dropped_from_peers: dropped + self.certifier.invalid_shares,
            executed_height: self.stats.executed_height(),
            certified_height: self.stats.certified_height,
            calls_executed: self.stats.calls_executed,
            state_digests: self.stats.state_digests.iter().cloned().collect(),
            ecdsa_key_ready: chain_key.key().is_some(),
            ecdsa_public_key: chain_key
                .key()
                .map(|key| hex::encode(master_public_key(key))),
            registry_version: chain_key.membership_version(),
            key_epoch: chain_key.epoch().version,
            consensus_epoch: self.committee.epoch,
            committee_size: self.committee.config.nodes,
            bls_reshared: chain_key
                .bls()
                .and_then(|bls| bls.reshared())
                .map(|reshared| {
                    let key = |key| hex::encode(reshared.keys.get(key).public_key().to_bytes());
                    (
                        reshared.version,
                        key(BlsKey::Beacon),
                        key(BlsKey::Certification),
                    )
                }),
            bls_next_shares: self.bls.next_version(),
            bls_shares_epoch: self.bls.epoch(),
            ecdsa_reshared: chain_key
                .reshared()
                .map(|(version, key)| (*version, hex::encode(master_public_key(key)))),
            presignatures_ready: chain_key.ready().len(),
            signatures_finalized: self.stats.signatures_finalized,
            chain_key_invalid: self.stats.chain_key_invalid.clone(),
            shares_rebuilt: self.stats.shares_rebuilt,
        };
        *self.shared.status.lock().expect("status") = status;
    }
}
