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

//!
//! `schema` migrates, `queries` holds the audit trail's statements, `replay` the shared
//! `jti` memory; this file connects and bounds every call.

mod queries;
mod replay;
mod schema;

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod};
use tokio_postgres::error::SqlState;

use super::StoreError;

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

/// The pool, every wait on it bounded by `timeout`; it connects when first used.
fn pool(options: &PgOptions) -> Result<Pool, StoreError> {
    let config = options.config().map_err(StoreError::Failed)?;
    let manager = Manager::from_config(
        config,
        tls(options.ca_file.as_deref())?,
        ManagerConfig {
            // A connection the server closed is noticed without a query.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let timeout = Some(options.timeout);
    Pool::builder(manager)
        .max_size(options.pool_size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(timeout)
        .create_timeout(timeout)
        .recycle_timeout(timeout)
        .build()
        .map_err(|e| StoreError::Failed(e.to_string()))
}

impl PgStore {
    /// Connect, migrate (one replica at a time) and start the replay cleaner. Without a
    /// configured salt one is made and kept in the database (development only).
    pub fn connect(options: &PgOptions, salt: Option<&str>) -> Result<Arc<Self>, StoreError> {
        let pool = pool(options)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Failed(format!("runtime: {e}")))?;
        let handle = runtime.handle().clone();
        // Start-up may take longer than one call: several replicas may wait on the lock.
        // On a thread of its own, as start-up is called from async code (Application::build),
        // where blocking on another runtime is not allowed.
        let prepare = async {
            tokio::time::timeout(options.timeout * 30, async {
                schema::migrate(&pool).await?;
                match salt {
                    Some(s) => Ok(s.to_string()),
                    None => schema::stored_salt(&pool).await,
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
        store.handle.spawn(replay::clean_replay_memory(
            pool,
            store.replay_counts.clone(),
            options.timeout,
        ));
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
