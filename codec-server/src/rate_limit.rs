//! Per-principal token buckets: `burst` requests at once, then `rate` per second (429 beyond).
//!
//! Only authenticated principals reach the limiter, so its map is bounded by the number of real
//! identities; full buckets are dropped when it grows, since a full bucket is the default.

use std::{collections::HashMap, sync::Mutex, time::Instant};

/// Principals tracked before full buckets are swept out.
const SWEEP_ABOVE: usize = 10_000;

/// The token buckets of every principal.
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// `rate` requests per second with bursts of `burst`.
    pub(crate) fn new(rate: f64, burst: u32) -> Self {
        Self {
            rate,
            burst: f64::from(burst),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from `principal`'s bucket at `now`; false when it is empty.
    pub(crate) fn try_acquire(&self, principal: &str, now: Instant) -> bool {
        // A poisoned lock only means another request panicked mid-update; the numbers are
        // still usable.
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > SWEEP_ABOVE {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| refilled(b, rate, burst, now) < burst);
        }
        let bucket = buckets.entry(principal.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        bucket.tokens = refilled(bucket, self.rate, self.burst, now);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn refilled(bucket: &Bucket, rate: f64, burst: f64, now: Instant) -> f64 {
    let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
    (bucket.tokens + elapsed * rate).min(burst)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bursts_then_refills_per_principal() {
        let limiter = RateLimiter::new(2.0, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.try_acquire("a", t0));
        }
        assert!(!limiter.try_acquire("a", t0));
        assert!(limiter.try_acquire("b", t0), "buckets are per principal");
        assert!(limiter.try_acquire("a", t0 + Duration::from_millis(500)));
        assert!(!limiter.try_acquire("a", t0 + Duration::from_millis(500)));
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(limiter.try_acquire("a", later));
        }
        assert!(
            !limiter.try_acquire("a", later),
            "never more than the burst"
        );
    }
}
