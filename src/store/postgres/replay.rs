//! The `jti` replay memory the replicas share: remembered within each issuer's quota,
//! and cleaned of expired ids in the background.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;

use super::{PgStore, pg_err, pool_err, unix_now};
use crate::auth::replay::{ReplayError, ReplayFuture, SharedReplay};
use crate::store::StoreError;

/// How often expired replay rows are deleted and each issuer's ids counted again.
const REPLAY_CLEAN_INTERVAL: Duration = Duration::from_secs(10);

/// Remember `jti` for `issuer` unless it is there and unexpired, within the quota.
///
/// The quota is checked against a per-issuer count kept by this replica (recounted
/// every `REPLAY_CLEAN_INTERVAL`, raised by its own inserts) and confirmed by an exact
/// count before refusing: a `count(*)` on every hook would cost more than the insert.
/// So an issuer may overshoot by what other replicas inserted since the last recount.
async fn remember_jti(
    pool: Pool,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    issuer: String,
    jti: String,
    forget_at: i64,
    now: i64,
    capacity: usize,
) -> Result<(), ReplayError> {
    let client = pool.get().await.map_err(|_| ReplayError::Unavailable)?;
    let counted = counts.lock().map(|c| c.get(&issuer).copied().unwrap_or(0)).unwrap_or(0);
    if counted >= capacity {
        let exact: i64 = client
            .query_one(
                "SELECT count(*) FROM jwt_replay WHERE issuer = $1 AND forget_at > $2",
                &[&issuer, &now],
            )
            .await
            .map_err(|_| ReplayError::Unavailable)?
            .get(0);
        let exact = exact as usize;
        if let Ok(mut c) = counts.lock() {
            c.insert(issuer.clone(), exact);
        }
        if exact >= capacity {
            return Err(ReplayError::Full);
        }
    }
    // The primary key refuses a second insert of the pair; a row whose time is past
    // (not yet cleaned) is taken over instead, as the in-process memory forgets it.
    let insert = client
        .prepare_cached(
            "INSERT INTO jwt_replay AS r (issuer, jti, forget_at) VALUES ($1, $2, $3)
             ON CONFLICT (issuer, jti) DO UPDATE SET forget_at = excluded.forget_at
             WHERE r.forget_at <= $4",
        )
        .await
        .map_err(|_| ReplayError::Unavailable)?;
    let inserted = client
        .execute(&insert, &[&issuer, &jti, &forget_at, &now])
        .await
        .map_err(|_| ReplayError::Unavailable)?;
    if inserted == 0 {
        return Err(ReplayError::Replayed);
    }
    if let Ok(mut c) = counts.lock() {
        *c.entry(issuer).or_default() += 1;
    }
    Ok(())
}

impl SharedReplay for PgStore {
    fn remember<'a>(
        &'a self,
        issuer: &'a str,
        jti: &'a str,
        forget_at: u64,
        now: u64,
        capacity: usize,
    ) -> ReplayFuture<'a> {
        let job = remember_jti(
            self.pool.clone(),
            self.replay_counts.clone(),
            issuer.to_string(),
            jti.to_string(),
            i64::try_from(forget_at).unwrap_or(i64::MAX),
            i64::try_from(now).unwrap_or(i64::MAX),
            capacity,
        );
        let timeout = self.timeout;
        // On the store's runtime, where the pool's connections are driven.
        let task = self.handle.spawn(async move {
            tokio::time::timeout(timeout, job)
                .await
                .unwrap_or(Err(ReplayError::Unavailable))
        });
        Box::pin(async move { task.await.unwrap_or(Err(ReplayError::Unavailable)) })
    }

    fn fill(&self, issuer: &str) -> usize {
        self.replay_counts
            .lock()
            .map(|c| c.get(issuer).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

/// Delete the ids no token can use any more and count what each issuer has left, for
/// as long as the store lives (its runtime ends the loop).
pub(super) async fn clean_replay_memory(pool: Pool, counts: Arc<Mutex<HashMap<String, usize>>>, timeout: Duration) {
    let mut tick = tokio::time::interval(REPLAY_CLEAN_INTERVAL);
    loop {
        tick.tick().await;
        match tokio::time::timeout(timeout, clean_and_count(&pool, &counts)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "replay memory not cleaned"),
            Err(_) => tracing::warn!("replay memory not cleaned: the database did not answer in time"),
        }
    }
}

async fn clean_and_count(pool: &Pool, counts: &Mutex<HashMap<String, usize>>) -> Result<(), StoreError> {
    let client = pool.get().await.map_err(pool_err)?;
    client
        .execute("DELETE FROM jwt_replay WHERE forget_at <= $1", &[&unix_now()])
        .await
        .map_err(pg_err)?;
    let rows = client
        .query("SELECT issuer, count(*) FROM jwt_replay GROUP BY issuer", &[])
        .await
        .map_err(pg_err)?;
    let fresh = rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as usize))
        .collect();
    if let Ok(mut c) = counts.lock() {
        *c = fresh;
    }
    Ok(())
}

impl PgStore {
    /// What the cleaner does every `REPLAY_CLEAN_INTERVAL`, now: forget expired ids and
    /// count each issuer's again, other replicas' inserts included.
    pub async fn clean_replay_memory(&self) -> Result<(), StoreError> {
        let (pool, counts) = (self.pool.clone(), self.replay_counts.clone());
        self.handle
            .spawn(async move { clean_and_count(&pool, &counts).await })
            .await
            .unwrap_or_else(|e| Err(StoreError::Failed(e.to_string())))
    }
}
