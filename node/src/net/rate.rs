//! Rate limits: a token bucket, for what a peer may send (frames and
//! bytes, in [`super::transport`]) and ask of us (block ranges, in the
//! replica).

use std::time::{Duration, Instant};

/// `rate` tokens per second, holding at most two seconds' worth.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket refilled at `rate` tokens per second.
    pub fn new(rate: f64) -> Self {
        TokenBucket {
            rate,
            tokens: 2.0 * rate,
            last: Instant::now(),
        }
    }

    /// Takes `cost` tokens at `now`: zero if there were enough, else how
    /// long until the debt is repaid (the tokens are taken all the same,
    /// so a caller that waits that long stays within the rate; one that
    /// drops the item instead gives them back).
    pub fn take(&mut self, cost: f64, now: Instant) -> Duration {
        let refill = now.saturating_duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(2.0 * self.rate);
        self.last = now;
        self.tokens -= cost;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }

    /// Takes `cost` tokens only if there are enough at `now`: whether it did.
    pub fn try_take(&mut self, cost: f64, now: Instant) -> bool {
        let admitted = self.take(cost, now).is_zero();
        if !admitted {
            self.tokens += cost; // refused, not owed
        }
        admitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_admits_a_burst_then_its_rate_and_makes_debts_wait() {
        let start = Instant::now();
        let mut frames = TokenBucket::new(10.0);
        let admitted = (0..25).filter(|_| frames.try_take(1.0, start)).count();
        assert_eq!(admitted, 20, "a burst of two seconds' worth");
        let later = start + Duration::from_millis(500);
        let admitted = (0..25).filter(|_| frames.try_take(1.0, later)).count();
        assert_eq!(
            admitted, 5,
            "refused takes are not owed: half a second's worth"
        );

        let mut bytes = TokenBucket::new(1000.0);
        assert_eq!(bytes.take(2000.0, start), Duration::ZERO);
        let wait = bytes.take(500.0, start);
        assert_eq!(
            wait,
            Duration::from_millis(500),
            "half a second to repay 500 bytes"
        );
        let later = start + Duration::from_secs(1);
        assert_eq!(bytes.take(400.0, later), Duration::ZERO, "repaid, 100 left");
    }
}
