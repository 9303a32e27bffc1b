//! A bounded LRU cache of prepared G2 points (Miller-loop line coefficients).
//!
//! Preparing a G2 point costs about as much as a third of a Miller loop
//! (~73 µs here). A subnet's public keys recur in every batch, so in
//! min-sig, where keys are in G2, the engine prepares each key once and
//! reuses the lines until the key falls out of the cache.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use blstrs::G2Affine;
use lru::LruCache;

use crate::backend::miller::PreparedG2;

/// Bounded cache from a G2 point (by its compressed encoding) to its prepared form.
pub struct PreparedKeyCache {
    entries: Mutex<LruCache<[u8; 96], Arc<PreparedG2>>>,
}

impl PreparedKeyCache {
    /// A cache holding at most `capacity` prepared points (about 19.5 KiB each).
    pub fn new(capacity: NonZeroUsize) -> Self {
        PreparedKeyCache {
            entries: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// The prepared form of `point`, computed on a miss.
    pub fn get_or_prepare(&self, point: &G2Affine) -> Arc<PreparedG2> {
        let key = point.to_compressed();
        if let Some(hit) = self.lock().get(&key) {
            return Arc::clone(hit);
        }
        // Prepare outside the lock so concurrent misses do not serialise.
        let prepared = Arc::new(PreparedG2::new(point));
        self.lock().put(key, Arc::clone(&prepared));
        prepared
    }

    /// Number of cached points.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<[u8; 96], Arc<PreparedG2>>> {
        // A panic while holding the lock cannot leave the LRU inconsistent
        // for our use (entries are immutable), so recover from poisoning.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl std::fmt::Debug for PreparedKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedKeyCache")
            .field("len", &self.len())
            .finish()
    }
}
