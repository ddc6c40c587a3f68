//! The schema: migrations, applied one replica at a time, and the salt kept in the
//! database when none is configured.

use deadpool_postgres::Pool;

use super::{pg_err, pool_err};
use crate::store::StoreError;

/// Each entry moves the schema one version up; never edit a released one. Version 1 is
/// the SQLite schema 2 (cards bound to issuer and service, one current outcome per card)
/// plus the shared replay memory.
const MIGRATIONS: &[&str] = &["CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE decision (
         id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         at TIMESTAMPTZ NOT NULL,
         hook_instance TEXT NOT NULL,
         service TEXT NOT NULL,
         rules_version TEXT NOT NULL,
         patient_hash TEXT NOT NULL,
         elapsed_ms DOUBLE PRECISION NOT NULL,
         fetched_keys INTEGER NOT NULL);
     CREATE TABLE card (
         uuid TEXT PRIMARY KEY,
         decision_id BIGINT NOT NULL REFERENCES decision(id),
         indicator TEXT NOT NULL,
         kind TEXT NOT NULL,
         issuer TEXT NOT NULL,
         override_reasons TEXT[] NOT NULL);
     CREATE INDEX card_decision ON card (decision_id);
     CREATE TABLE card_feedback (
         card_uuid TEXT PRIMARY KEY REFERENCES card(uuid),
         outcome TEXT NOT NULL,
         accepted_suggestions INTEGER NOT NULL,
         override_reason TEXT,
         outcome_at TIMESTAMPTZ NOT NULL);
     -- One row per token id an issuer used, until the token is unusable (exp + skew,
     -- seconds since the epoch). The primary key is what refuses a replay.
     CREATE TABLE jwt_replay (
         issuer TEXT NOT NULL,
         jti TEXT NOT NULL,
         forget_at BIGINT NOT NULL,
         PRIMARY KEY (issuer, jti));
     CREATE INDEX jwt_replay_forget ON jwt_replay (forget_at);"];

/// The advisory lock replicas take to migrate one at a time ("omaliz" in ASCII).
const MIGRATION_LOCK: i64 = 0x6f6d_616c_697a;

pub(super) async fn migrate(pool: &Pool) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(pool_err)?;
    // A session lock: released when the connection ends, even if this replica dies.
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_err)?;
    let result = async {
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migration (
                     version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )
            .await
            .map_err(pg_err)?;
        let version: i32 = client
            .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migration", &[])
            .await
            .map_err(pg_err)?
            .get(0);
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        if version > MIGRATIONS.len() {
            return Err(StoreError::Failed(format!(
                "the database is at schema {version}, newer than this build ({})",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = client.transaction().await.map_err(pg_err)?;
            tx.batch_execute(sql).await.map_err(pg_err)?;
            tx.execute(
                "INSERT INTO schema_migration (version) VALUES ($1)",
                &[&((i + 1) as i32)],
            )
            .await
            .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
            tracing::info!(version = i + 1, "audit store migrated");
        }
        Ok(())
    }
    .await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_err);
    result.and(unlocked.map(|_| ()))
}

/// The salt kept in the database; the first replica to need one makes it.
pub(super) async fn stored_salt(pool: &Pool) -> Result<String, StoreError> {
    let client = pool.get().await.map_err(pool_err)?;
    let candidate = crate::store::new_salt()?;
    client
        .execute(
            "INSERT INTO meta (key, value) VALUES ('salt', $1) ON CONFLICT (key) DO NOTHING",
            &[&candidate],
        )
        .await
        .map_err(pg_err)?;
    let row = client
        .query_one("SELECT value FROM meta WHERE key = 'salt'", &[])
        .await
        .map_err(pg_err)?;
    Ok(row.get(0))
}
