//! Token ids one issuer has used, remembered until the token could no longer be used.
//!
//! Each issuer has its own guard, so one issuer (or one stolen key) filling its quota
//! locks out only itself. Memory is bounded by `capacity` per issuer: each entry holds its
//! `jti` (at most `MAX_JTI_BYTES`) twice, so about `capacity x (2 x jti + 64)` bytes, some
//! 60 MB at the default 100,000 with the longest ids, about 13 MB with UUIDs.
//!
//! That memory is one process's. Replicas behind a balancer share theirs through the
//! PostgreSQL store instead ([`SharedReplay`], `store::postgres`): a token accepted by
//! one replica is then refused by every other.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Longer ids are refused rather than stored.
pub const MAX_JTI_BYTES: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayError {
    /// The issuer already used this `jti`.
    Replayed,
    /// Every slot holds an unexpired id; refuse rather than forget one.
    Full,
    /// The shared memory cannot be reached, so whether the id was used is unknown: the
    /// token is refused (fail closed) rather than risk accepting a replay.
    Unavailable,
}

pub type ReplayFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ReplayError>> + Send + 'a>>;

/// A replay memory several replicas share. Same contract as [`ReplayGuard::remember`],
/// per issuer, each issuer with at most `capacity` unexpired ids.
pub trait SharedReplay: Send + Sync {
    fn remember<'a>(
        &'a self,
        issuer: &'a str,
        jti: &'a str,
        forget_at: u64,
        now: u64,
        capacity: usize,
    ) -> ReplayFuture<'a>;
    /// The unexpired ids `issuer` has, as last counted (for the fill-level metric).
    fn fill(&self, issuer: &str) -> usize;
}

pub struct ReplayGuard {
    capacity: usize,
    seen: HashSet<Arc<str>>,
    /// (forget at, key), earliest first.
    expiries: BinaryHeap<Reverse<(u64, Arc<str>)>>,
}

impl ReplayGuard {
    pub fn new(capacity: usize) -> Self {
        ReplayGuard {
            capacity,
            seen: HashSet::new(),
            expiries: BinaryHeap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Record `jti`, to be remembered until `forget_at` (seconds since the epoch). Fails
    /// if it was seen before or no slot is free.
    pub fn remember(&mut self, jti: &str, forget_at: u64, now: u64) -> Result<(), ReplayError> {
        while let Some(Reverse((at, _))) = self.expiries.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((_, key))) = self.expiries.pop() {
                self.seen.remove(&key);
            }
        }
        if self.seen.contains(jti) {
            return Err(ReplayError::Replayed);
        }
        if self.seen.len() >= self.capacity {
            return Err(ReplayError::Full);
        }
        let key: Arc<str> = jti.into();
        self.seen.insert(key.clone());
        self.expiries.push(Reverse((forget_at, key)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_refused_the_second_time_until_it_is_forgotten() {
        let mut g = ReplayGuard::new(10);
        assert_eq!(g.remember("a", 100, 0), Ok(()));
        assert_eq!(g.remember("a", 100, 50), Err(ReplayError::Replayed));
        assert_eq!(g.remember("b", 100, 50), Ok(()));
        assert_eq!(g.remember("a", 200, 100), Ok(()));
    }

    #[test]
    fn a_full_guard_refuses_until_entries_expire() {
        let mut g = ReplayGuard::new(2);
        g.remember("a", 10, 0).unwrap();
        g.remember("b", 20, 0).unwrap();
        assert_eq!(g.remember("c", 30, 5), Err(ReplayError::Full));
        assert_eq!(g.remember("c", 30, 10), Ok(()));
        assert_eq!(g.len(), 2);
        assert_eq!(g.remember("b", 30, 10), Err(ReplayError::Replayed));
    }
}
