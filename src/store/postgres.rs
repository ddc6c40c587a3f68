//! The server store for several replicas (`CDS_STORE_URL=postgres://...`): decisions,
//! cards, feedback and the `jti` replay memory in one PostgreSQL database, so any
//! replica checks feedback against cards another issued and refuses a token another
//! accepted.
//!
//! tokio-postgres with a deadpool pool, TLS through rustls. The pool and its connection
//! tasks live on a small runtime of their own: the trait is synchronous (called from the
//! audit writer thread, the blocking pool and the `report` command), and actix runs one
//! single-threaded runtime per worker, which would otherwise each own some connections.
//! Every call is bounded by `timeout`, so a database that stops answering turns into
//! `StoreError::Unavailable` in about that time, never a hung request.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod};
use tokio_postgres::error::SqlState;

use super::{AuditStore, DecisionRecord, FeedbackRecord, FeedbackWrite, IssuedCard, KindReport, StoreError};
use crate::auth::replay::{ReplayError, ReplayFuture, SharedReplay};

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

/// How often expired replay rows are deleted and each issuer's ids counted again.
const REPLAY_CLEAN_INTERVAL: Duration = Duration::from_secs(10);

/// How to reach the database (`CDS_STORE_URL` and the `CDS_STORE_*` settings).
#[derive(Clone, PartialEq)]
pub struct PgOptions {
    /// A libpq-style URL, `postgres://user@host:port/db?sslmode=require`.
    pub url: String,
    /// From `CDS_STORE_PASSWORD_FILE`, so the URL itself need hold no secret.
    pub password: Option<String>,
    pub pool_size: usize,
    /// Bound on each call, and on connecting.
    pub timeout: Duration,
    /// PEM roots for the database's certificate; the system's roots without it.
    pub ca_file: Option<PathBuf>,
}

/// Never the URL or password: either may hold the database's secret.
impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("pool_size", &self.pool_size)
            .field("timeout", &self.timeout)
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

impl PgOptions {
    /// The driver's reading of the URL, password applied; errors name no secret.
    pub fn config(&self) -> Result<tokio_postgres::Config, String> {
        let mut config: tokio_postgres::Config = self.url.parse().map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
        if let Some(password) = &self.password {
            config.password(password);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(self.timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("omalizumab-cds");
        }
        Ok(config)
    }
}

pub struct PgStore {
    pool: Pool,
    /// `Some` until drop, which lets it go without blocking (it may be dropped inside
    /// another runtime, where blocking is not allowed).
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    salt: hmac::Key,
    timeout: Duration,
    /// Unexpired ids per issuer: counted by the cleaner, raised by each insert here.
    replay_counts: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A PostgreSQL error as the writer needs it: worth retrying (the server is gone,
/// restarting, out of connections) or not (a constraint, bad SQL).
fn pg_err(e: tokio_postgres::Error) -> StoreError {
    match e.code() {
        Some(code) if !transient(code) => StoreError::Failed(e.to_string()),
        _ => StoreError::Unavailable(e.to_string()),
    }
}

/// SQLSTATE classes 08 (connection), 53 (resources), 57 (operator intervention: shutdown,
/// cannot connect now) and 40 (serialization, deadlock) are about the moment, not the call.
fn transient(code: &SqlState) -> bool {
    ["08", "53", "57", "40"]
        .iter()
        .any(|class| code.code().starts_with(class))
}

fn pool_err(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => pg_err(e),
        other => StoreError::Unavailable(other.to_string()),
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// TLS through rustls on aws-lc-rs: the roots from `ca_file`, else the system's.
/// `sslmode` in the URL decides whether TLS is used; when it is, the certificate is
/// always checked against these roots and the host name.
fn tls(ca_file: Option<&Path>) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| StoreError::Failed(format!("CDS_STORE_CA_FILE {}: {e}", path.display())))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(StoreError::Failed(format!(
                    "CDS_STORE_CA_FILE {}: no certificate in it",
                    path.display()
                )));
            }
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Failed(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

impl PgStore {
    /// Connect, migrate (one replica at a time) and start the replay cleaner. Without a
    /// configured salt one is made and kept in the database (development only).
    pub fn connect(options: &PgOptions, salt: Option<&str>) -> Result<Arc<Self>, StoreError> {
        let config = options.config().map_err(StoreError::Failed)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Failed(format!("runtime: {e}")))?;
        let manager = Manager::from_config(
            config,
            tls(options.ca_file.as_deref())?,
            ManagerConfig {
                // A connection the server closed is noticed without a query.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let timeout = Some(options.timeout);
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(timeout)
            .create_timeout(timeout)
            .recycle_timeout(timeout)
            .build()
            .map_err(|e| StoreError::Failed(e.to_string()))?;
        let handle = runtime.handle().clone();
        // Start-up may take longer than one call: several replicas may wait on the lock.
        // On a thread of its own, as start-up is called from async code (Application::build),
        // where blocking on another runtime is not allowed.
        let prepare = async {
            tokio::time::timeout(options.timeout * 30, async {
                migrate(&pool).await?;
                match salt {
                    Some(s) => Ok(s.to_string()),
                    None => stored_salt(&pool).await,
                }
            })
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("no answer from the database".into())))
        };
        let salt = std::thread::scope(|s| s.spawn(|| handle.block_on(prepare)).join())
            .map_err(|_| StoreError::Failed("start-up of the store panicked".into()))??;
        let store = Arc::new(PgStore {
            pool: pool.clone(),
            runtime: Some(runtime),
            handle,
            salt: hmac::Key::new(hmac::HMAC_SHA256, salt.as_bytes()),
            timeout: options.timeout,
            replay_counts: Arc::default(),
        });
        store
            .handle
            .spawn(clean_replay_memory(pool, store.replay_counts.clone(), options.timeout));
        Ok(store)
    }

    /// Run `job` on the store's runtime and wait for it, at most `timeout`.
    fn block<T: Send + 'static>(
        &self,
        job: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let timeout = self.timeout;
        self.handle.block_on(async move {
            tokio::time::timeout(timeout, job)
                .await
                .unwrap_or_else(|_| Err(StoreError::Unavailable(format!("no answer within {timeout:?}"))))
        })
    }
}

async fn migrate(pool: &Pool) -> Result<(), StoreError> {
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
async fn stored_salt(pool: &Pool) -> Result<String, StoreError> {
    let client = pool.get().await.map_err(pool_err)?;
    let candidate = super::new_salt()?;
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

async fn insert_decisions(pool: Pool, decisions: Vec<DecisionRecord>) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(pool_err)?;
    let tx = client.transaction().await.map_err(pg_err)?;
    let decision = tx
        .prepare_cached(
            "INSERT INTO decision (at, hook_instance, service, rules_version, patient_hash, elapsed_ms, fetched_keys)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .await
        .map_err(pg_err)?;
    let card = tx
        .prepare_cached(
            "INSERT INTO card (uuid, decision_id, indicator, kind, issuer, override_reasons)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await
        .map_err(pg_err)?;
    for d in &decisions {
        let fetched = i32::try_from(d.fetched_keys).unwrap_or(i32::MAX);
        let id: i64 = tx
            .query_one(
                &decision,
                &[
                    &d.at,
                    &d.hook_instance,
                    &d.service,
                    &d.rules_version,
                    &d.patient_hash,
                    &d.elapsed_ms,
                    &fetched,
                ],
            )
            .await
            .map_err(pg_err)?
            .get(0);
        for c in &d.cards {
            tx.execute(
                &card,
                &[&c.uuid, &id, &c.indicator, &c.kind, &d.issuer, &c.override_reasons],
            )
            .await
            .map_err(pg_err)?;
        }
    }
    tx.commit().await.map_err(pg_err)
}

impl AuditStore for PgStore {
    fn record_decision(&self, d: &DecisionRecord) -> Result<(), StoreError> {
        self.record_decisions(std::slice::from_ref(d))
    }

    fn record_decisions(&self, decisions: &[DecisionRecord]) -> Result<(), StoreError> {
        self.block(insert_decisions(self.pool.clone(), decisions.to_vec()))
    }

    fn issued_card(&self, uuid: &str) -> Result<Option<IssuedCard>, StoreError> {
        let (pool, uuid) = (self.pool.clone(), uuid.to_string());
        self.block(async move {
            let client = pool.get().await.map_err(pool_err)?;
            let select = client
                .prepare_cached(
                    "SELECT d.service, c.issuer, c.override_reasons
                     FROM card c JOIN decision d ON d.id = c.decision_id WHERE c.uuid = $1",
                )
                .await
                .map_err(pg_err)?;
            let row = client.query_opt(&select, &[&uuid]).await.map_err(pg_err)?;
            Ok(row.map(|r| IssuedCard {
                service: r.get(0),
                issuer: r.get(1),
                override_reasons: r.get(2),
            }))
        })
    }

    /// One statement, so two replicas given the same item (an EHR retrying through the
    /// balancer) or two items for one card settle on one outcome: the row is replaced only
    /// by a later outcome, or by a different one at the same time (as SQLite does).
    fn record_feedback(&self, f: &FeedbackRecord) -> Result<FeedbackWrite, StoreError> {
        let (pool, f) = (self.pool.clone(), f.clone());
        self.block(async move {
            let client = pool.get().await.map_err(pool_err)?;
            let accepted = i32::try_from(f.accepted_suggestions).unwrap_or(i32::MAX);
            let changed = client
                .execute(
                    "INSERT INTO card_feedback AS f (card_uuid, outcome, accepted_suggestions, override_reason, outcome_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (card_uuid) DO UPDATE SET outcome = excluded.outcome,
                         accepted_suggestions = excluded.accepted_suggestions,
                         override_reason = excluded.override_reason, outcome_at = excluded.outcome_at
                     WHERE f.outcome_at < excluded.outcome_at
                        OR (f.outcome_at = excluded.outcome_at
                            AND (f.outcome, f.accepted_suggestions, f.override_reason)
                                IS DISTINCT FROM (excluded.outcome, excluded.accepted_suggestions, excluded.override_reason))",
                    &[&f.card, &f.outcome, &accepted, &f.override_reason, &f.outcome_at],
                )
                .await
                .map_err(pg_err)?;
            Ok(if changed == 0 {
                FeedbackWrite::Unchanged
            } else {
                FeedbackWrite::Recorded
            })
        })
    }

    fn patient_hash(&self, patient_id: &str) -> String {
        super::hmac_hex(&self.salt, patient_id)
    }

    fn report(&self) -> Result<Vec<KindReport>, StoreError> {
        let pool = self.pool.clone();
        self.block(async move {
            let client = pool.get().await.map_err(pool_err)?;
            // Byte order of kinds, as SQLite sorts them, whatever the database's collation.
            let rows = client
                .query(
                    "SELECT c.kind, COUNT(*),
                            COUNT(*) FILTER (WHERE f.outcome = 'accepted'),
                            COUNT(*) FILTER (WHERE f.outcome = 'overridden')
                     FROM card c LEFT JOIN card_feedback f ON f.card_uuid = c.uuid
                     GROUP BY c.kind ORDER BY c.kind COLLATE \"C\"",
                    &[],
                )
                .await
                .map_err(pg_err)?;
            Ok(rows
                .iter()
                .map(|r| KindReport {
                    kind: r.get(0),
                    cards: r.get::<_, i64>(1) as u64,
                    accepted: r.get::<_, i64>(2) as u64,
                    overridden: r.get::<_, i64>(3) as u64,
                })
                .collect())
        })
    }

    /// Reachable, and a primary: a standby answers but refuses every write.
    fn check_writable(&self) -> Result<(), StoreError> {
        let pool = self.pool.clone();
        self.block(async move {
            let client = pool.get().await.map_err(pool_err)?;
            let standby: bool = client
                .query_one("SELECT pg_is_in_recovery()", &[])
                .await
                .map_err(pg_err)?
                .get(0);
            if standby {
                return Err(StoreError::Failed("the database is a read-only standby".into()));
            }
            Ok(())
        })
    }

    fn shared(&self) -> bool {
        true
    }
}

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
async fn clean_replay_memory(pool: Pool, counts: Arc<Mutex<HashMap<String, usize>>>, timeout: Duration) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_debug_shows_no_url_or_password() {
        let options = PgOptions {
            url: "postgres://cds:hunter2@db.example/cds".into(),
            password: Some("s3cret".into()),
            pool_size: 4,
            timeout: Duration::from_secs(1),
            ca_file: None,
        };
        let shown = format!("{options:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("s3cret"), "{shown}");
        let config = options.config().unwrap();
        assert_eq!(config.get_password(), Some(&b"s3cret"[..]));
        assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(1)));
    }

    #[test]
    fn only_connection_and_resource_errors_are_worth_a_retry() {
        assert!(transient(&SqlState::ADMIN_SHUTDOWN));
        assert!(transient(&SqlState::CANNOT_CONNECT_NOW));
        assert!(transient(&SqlState::CONNECTION_FAILURE));
        assert!(transient(&SqlState::TOO_MANY_CONNECTIONS));
        assert!(!transient(&SqlState::UNIQUE_VIOLATION));
        assert!(!transient(&SqlState::UNDEFINED_TABLE));
    }
}
