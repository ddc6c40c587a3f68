//! Build the application from settings: load and validate cards/, bind the listener.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{App, HttpServer, dev::Server, web};
use secrecy::ExposeSecret;

use crate::auth::replay::SharedReplay;
use crate::auth::{AuthSettings, JwtVerifier};
use crate::config::Settings;
use crate::engine::Engine;
use crate::gather::FhirAllowlist;
use crate::http::{AppState, Authenticator, access_log, routes};
use crate::profile::Catalog;
use crate::store::{AuditStore, AuditWriter, PgStore, SqliteStore};

/// How long shutdown waits for queued decisions while the store is unreachable.
const SHUTDOWN_FLUSH: std::time::Duration = std::time::Duration::from_secs(10);

pub struct Application {
    port: u16,
    server: Server,
    audit: Arc<AuditWriter>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cards/ is not valid:\n{0}")]
    Cards(String),
    #[error("{0}")]
    Profiles(String),
    #[error("cannot bind {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("HTTP client: {0}")]
    Client(String),
    #[error("{0}")]
    Store(String),
}

pub fn load_catalog(settings: &Settings) -> Result<Arc<Catalog>, StartupError> {
    Catalog::load(&settings.cards_dir)
        .map(Arc::new)
        .map_err(|errors| StartupError::Cards(errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")))
}

pub fn open_store(settings: &Settings) -> Result<Arc<dyn AuditStore>, StartupError> {
    open_stores(settings).map(|(store, _)| store)
}

/// The audit store, and with PostgreSQL the replay memory the replicas share (the
/// SQLite default keeps replay memory in the process).
type Stores = (Arc<dyn AuditStore>, Option<Arc<dyn SharedReplay>>);

fn open_stores(settings: &Settings) -> Result<Stores, StartupError> {
    let salt = settings.audit_salt.as_ref().map(|s| s.expose_secret());
    match &settings.postgres {
        Some(options) => {
            let store = PgStore::connect(options, salt).map_err(|e| StartupError::Store(e.to_string()))?;
            Ok((store.clone(), Some(store)))
        }
        None => SqliteStore::open(&settings.store_path, salt)
            .map(|s| (Arc::new(s) as Arc<dyn AuditStore>, None))
            .map_err(|e| StartupError::Store(e.to_string())),
    }
}

fn authenticator(settings: &Settings, replay: Option<Arc<dyn SharedReplay>>) -> Result<Authenticator, StartupError> {
    match &settings.auth {
        AuthSettings::Disabled => {
            tracing::warn!(
                "CDS_AUTH=none: AUTHENTICATION IS OFF. Any caller can use this service. Development only; \
                 never expose it to a network."
            );
            Ok(Authenticator::Disabled)
        }
        AuthSettings::Jwt(jwt) => {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| StartupError::Client(e.to_string()))?;
            let public_base = settings
                .public_url
                .as_ref()
                .map(|u| u.as_str().trim_end_matches('/').to_string())
                .ok_or_else(|| StartupError::Client("CDS_PUBLIC_URL is required with CDS_AUTH=jwt".into()))?;
            let verifier = JwtVerifier::new(jwt, client);
            Ok(Authenticator::Jwt {
                verifier: match replay {
                    Some(shared) => verifier.with_shared_replay(shared),
                    None => verifier,
                },
                public_base,
            })
        }
    }
}

impl Application {
    pub fn build(settings: &Settings) -> Result<Self, StartupError> {
        // Loaded first on its own: a bad cards/ is a Cards error naming every problem.
        load_catalog(settings)?;
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let allowlist = FhirAllowlist {
            bases: settings.fhir_allowed.clone(),
            allow_plain_http: settings.fhir_allow_http,
        };
        let engine = Engine::build(settings, allowlist, settings.hook_deadline, Some(metrics.clone()))
            .map_err(StartupError::Profiles)?;
        let (store, replay) = open_stores(settings)?;
        let audit = Arc::new(AuditWriter::start(store.clone()).map_err(|e| StartupError::Store(e.to_string()))?);
        let state = web::Data::new(AppState {
            engine,
            max_body_bytes: settings.max_body_bytes,
            metrics,
            store,
            audit: audit.clone(),
            bodies: Arc::new(tokio::sync::Semaphore::new(settings.limits.max_bodies_in_flight)),
        });
        let authenticator = web::Data::new(authenticator(settings, replay)?);
        let cors_origins = settings.cors_origins.clone();
        // The reviewers' page, only when settings allowed it (never with CDS_AUTH=jwt).
        let preview = settings
            .preview
            .then(|| web::Data::new(crate::http::preview::PreviewState::load(&settings.scenarios_dir)));
        let preview_routes = crate::http::preview::routes(settings.max_body_bytes);
        let listener = TcpListener::bind(&settings.bind).map_err(|e| StartupError::Bind(settings.bind.clone(), e))?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError::Bind(settings.bind.clone(), e))?
            .port();
        let server = HttpServer::new(move || {
            let mut app = App::new().app_data(state.clone()).app_data(authenticator.clone());
            if let Some(preview) = &preview {
                app = app.app_data(preview.clone()).configure(preview_routes.clone());
            }
            app.configure(routes(&cors_origins))
                .wrap(actix_web::middleware::from_fn(access_log))
        })
        .listen(listener)
        .map_err(|e| StartupError::Bind(settings.bind.clone(), e))?
        .run();
        Ok(Application { port, server, audit })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serve until stopped (SIGINT or SIGTERM), then write the decisions still queued,
    /// waiting a bounded time if the store is unreachable.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        if !self.audit.flush_within(SHUTDOWN_FLUSH).await {
            tracing::error!(
                unwritten = self.audit.pending(),
                "stopping with decisions not written: the audit store did not come back in time"
            );
        }
        served
    }
}
