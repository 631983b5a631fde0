//! Per-author gossip rate limits.
//!
//! One token bucket per author (members only, so the map is bounded by the
//! allowed set; former members are forgotten). A message over its author's
//! rate is ignored: neither delivered nor forwarded, and not held against the
//! relay, since other nodes may have let it through before their own buckets
//! emptied. This keeps one flooding member from filling the node's event queue
//! and from using us to amplify the flood.
//!
//! Integer arithmetic only: tokens are counted in thousandths.

use libp2p::PeerId;
use std::collections::BTreeMap;
use tokio::time::Instant;

const MILLI: u64 = 1000;

#[derive(Debug)]
struct Bucket {
    /// Thousandths of a token.
    tokens: u64,
    updated: Instant,
}

/// Token buckets keyed by author.
#[derive(Debug)]
pub(crate) struct AuthorLimiter {
    /// Tokens added per second; 0 disables the limit.
    per_second: u64,
    /// Bucket size, in thousandths of a token.
    capacity: u64,
    buckets: BTreeMap<PeerId, Bucket>,
}

impl AuthorLimiter {
    pub(crate) fn new(per_second: u32, burst: u32) -> AuthorLimiter {
        AuthorLimiter {
            per_second: u64::from(per_second),
            capacity: u64::from(burst.max(1)) * MILLI,
            buckets: BTreeMap::new(),
        }
    }

    /// Whether `author` may send one more message at `now`; takes its token.
    pub(crate) fn allow(&mut self, author: PeerId, now: Instant) -> bool {
        if self.per_second == 0 {
            return true;
        }
        let capacity = self.capacity;
        let bucket = self.buckets.entry(author).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed_ms = now.saturating_duration_since(bucket.updated).as_millis();
        let elapsed_ms = u64::try_from(elapsed_ms).unwrap_or(u64::MAX);
        // per_second tokens per 1000 ms = per_second thousandths per ms.
        let refill = elapsed_ms.saturating_mul(self.per_second);
        bucket.tokens = bucket.tokens.saturating_add(refill).min(capacity);
        bucket.updated = now;
        if bucket.tokens < MILLI {
            return false;
        }
        bucket.tokens -= MILLI;
        true
    }

    pub(crate) fn forget(&mut self, is_member: impl Fn(&PeerId) -> bool) {
        self.buckets.retain(|peer, _| is_member(peer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_rate() {
        let start = Instant::now();
        let author = PeerId::random();
        let mut limiter = AuthorLimiter::new(10, 5);
        let allowed = (0..20).filter(|_| limiter.allow(author, start)).count();
        assert_eq!(allowed, 5);
        // 10 per second: one more every 100 ms.
        assert!(!limiter.allow(author, start + Duration::from_millis(99)));
        assert!(limiter.allow(author, start + Duration::from_millis(100)));
        assert!(!limiter.allow(author, start + Duration::from_millis(150)));
        // A long pause refills only up to the burst.
        let later = start + Duration::from_secs(60);
        let allowed = (0..20).filter(|_| limiter.allow(author, later)).count();
        assert_eq!(allowed, 5);
    }

    #[test]
    fn authors_have_separate_buckets() {
        let now = Instant::now();
        let (a, b) = (PeerId::random(), PeerId::random());
        let mut limiter = AuthorLimiter::new(1, 1);
        assert!(limiter.allow(a, now));
        assert!(!limiter.allow(a, now));
        assert!(limiter.allow(b, now));
    }

    #[test]
    fn zero_rate_means_unlimited() {
        let now = Instant::now();
        let author = PeerId::random();
        let mut limiter = AuthorLimiter::new(0, 1);
        assert!((0..10_000).all(|_| limiter.allow(author, now)));
    }

    #[test]
    fn forgotten_authors_start_full() {
        let now = Instant::now();
        let author = PeerId::random();
        let mut limiter = AuthorLimiter::new(1, 1);
        assert!(limiter.allow(author, now));
        assert!(!limiter.allow(author, now));
        limiter.forget(|_| false);
        assert!(limiter.allow(author, now));
    }
}
