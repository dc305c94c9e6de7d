//! Token buckets: how often something a level can trigger may happen (log lines, requests,
//! refusal records, notifications), with what did not pass counted so it can be said once.

use std::time::Instant;

/// A token bucket: `rate` events a second on average, `burst` at once after a quiet period.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    /// Events refused since the last one admitted.
    pub refused: u64,
}

impl Bucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: f64, now: Instant) -> Bucket {
        Bucket {
            rate,
            burst,
            tokens: burst,
            last: now,
            refused: 0,
        }
    }

    /// Whether an event may happen now. When it may, `Some(n)`: `n` were refused before it
    /// (say so once); when it may not, `None` (it is counted).
    pub fn admit(&mut self, now: Instant) -> Option<u64> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Some(std::mem::take(&mut self.refused))
        } else {
            self.refused += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_flood_passes_its_burst_then_its_rate_and_is_counted() {
        let start = Instant::now();
        let mut bucket = Bucket::new(100.0, 200.0, start);
        let admitted = (0..10_000)
            .filter(|_| bucket.admit(start).is_some())
            .count();
        assert_eq!(admitted, 200);
        assert_eq!(bucket.refused, 10_000 - 200);
        // A second later: a hundred more, the first of which reports what was refused.
        let later = start + Duration::from_secs(1);
        assert_eq!(bucket.admit(later), Some(10_000 - 200));
        let admitted = (0..10_000)
            .filter(|_| bucket.admit(later).is_some())
            .count();
        assert_eq!(admitted, 99);
    }
}
