//! A per-peer limit on failed authentications. A forged token with a real `kid` costs a
//! signature check (about 0.5 ms of CPU for ES384), so a peer could keep both cores busy
//! with a few thousand a second. Each peer may fail `per_minute` times a minute (GCRA,
//! refilling steadily); past that it is refused before any work until a failure slot
//! frees, valid tokens included.
//!
//! Peers are keyed by address (IPv6 by its /64, which one host usually holds whole).
//! Behind a proxy every caller is the proxy: put the limit there too, or raise this one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Peers remembered as throttled at once; past that the expired ones are dropped, and if
/// none has expired, the one that would be freed soonest is forgotten.
const MAX_THROTTLED_PEERS: usize = 100_000;
/// Failure counters are pruned of peers back at full quota this often (in failures).
const PRUNE_EVERY: u64 = 4096;

pub struct FailureLimiter {
    failures: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    /// Peers past their quota, and until when. Only these are refused before work.
    throttled: Mutex<HashMap<IpAddr, Instant>>,
    recorded: std::sync::atomic::AtomicU64,
}

/// The key a peer is counted under.
fn peer_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

impl FailureLimiter {
    /// `None` when `per_minute` is 0 (no limit).
    pub fn new(per_minute: u32) -> Option<Self> {
        let per_minute = NonZeroU32::new(per_minute)?;
        Some(FailureLimiter {
            failures: RateLimiter::keyed(Quota::per_minute(per_minute)),
            clock: DefaultClock::default(),
            throttled: Mutex::new(HashMap::new()),
            recorded: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// How long `peer` must still wait, if it is throttled.
    pub fn throttled(&self, peer: IpAddr) -> Option<Duration> {
        let key = peer_key(peer);
        let mut throttled = self.throttled.lock().ok()?;
        let until = *throttled.get(&key)?;
        let now = Instant::now();
        if until > now {
            Some(until - now)
        } else {
            throttled.remove(&key);
            None
        }
    }

    /// Count one failed authentication of `peer`; `Some(wait)` when that was one too
    /// many and the peer is throttled from now on for `wait`.
    pub fn record_failure(&self, peer: IpAddr) -> Option<Duration> {
        let key = peer_key(peer);
        let n = self.recorded.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.failures.retain_recent();
            self.failures.shrink_to_fit();
        }
        let not_until = self.failures.check_key(&key).err()?;
        let wait = not_until.wait_time_from(self.clock.now()).max(Duration::from_secs(1));
        let now = Instant::now();
        if let Ok(mut throttled) = self.throttled.lock() {
            if throttled.len() >= MAX_THROTTLED_PEERS {
                throttled.retain(|_, until| *until > now);
            }
            if throttled.len() >= MAX_THROTTLED_PEERS
                && let Some(soonest) = throttled.iter().min_by_key(|(_, until)| **until).map(|(k, _)| *k)
            {
                throttled.remove(&soonest);
            }
            throttled.insert(key, now + wait);
        }
        Some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_is_throttled_after_its_quota_of_failures_and_others_are_not() {
        let limiter = FailureLimiter::new(3).unwrap();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limiter.throttled(a), None);
            assert_eq!(limiter.record_failure(a), None);
        }
        let wait = limiter.record_failure(a).expect("fourth failure throttles");
        assert!(
            wait >= Duration::from_secs(1) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(limiter.throttled(a).is_some());
        assert_eq!(limiter.throttled(b), None);
        assert_eq!(limiter.record_failure(b), None);
    }

    #[test]
    fn ipv6_peers_count_by_their_64_prefix_and_mapped_ipv4_as_ipv4() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same_host: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(peer_key(one), peer_key(same_host));
        assert_ne!(peer_key(one), peer_key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(
            peer_key("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn zero_means_no_limit() {
        assert!(FailureLimiter::new(0).is_none());
    }
}
