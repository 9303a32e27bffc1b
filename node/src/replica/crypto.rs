//! The consensus crypto of a node: BLS signing and batch verification,
//! with every verification batch timed and counted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chainkey_consensus::crypto::Check;
use chainkey_consensus::types::{Share, SignatureBytes};
use chainkey_consensus::{BlsCrypto, ConsensusCrypto, NodeId};

use super::stats::Stats;
use crate::metrics::Metrics;

/// Delegates to [`BlsCrypto`] and records each verification batch.
pub struct MeteredCrypto {
    /// The crypto it delegates to.
    pub inner: BlsCrypto,
    /// Where it records each batch.
    pub metrics: Metrics,
    /// Where the sizes of the recent batches go (for `/status`).
    pub batches: Arc<Mutex<VecDeque<usize>>>,
}

impl ConsensusCrypto for MeteredCrypto {
    fn sign(&self, message: &[u8]) -> SignatureBytes {
        self.inner.sign(message)
    }
    fn sign_beacon_share(&self, message: &[u8]) -> SignatureBytes {
        self.inner.sign_beacon_share(message)
    }
    fn aggregate(&self, message: &[u8], shares: &[Share]) -> SignatureBytes {
        self.inner.aggregate(message, shares)
    }
    fn combine_beacon(&self, message: &[u8], shares: &[Share]) -> SignatureBytes {
        self.inner.combine_beacon(message, shares)
    }
    fn beacon_threshold(&self) -> usize {
        self.inner.beacon_threshold()
    }
    fn verify_batch(&self, checks: &[(NodeId, Check<'_>)]) -> Vec<bool> {
        let started = Instant::now();
        let verdicts = self.inner.verify_batch(checks);
        self.metrics
            .verification_seconds
            .with_label_values(&["consensus"])
            .observe(started.elapsed().as_secs_f64());
        self.metrics
            .batch_size
            .with_label_values(&["consensus"])
            .observe(checks.len() as f64);
        Stats::record_batch(&self.batches, checks.len());
        verdicts
    }
}
