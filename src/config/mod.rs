//! Settings: an optional TOML file (`CDS_CONFIG`), then `CDS_*` environment variables
//! on top. Every setting is listed in the README.
//!
//! Three steps, one file each: `variables` (what may be set, one field per variable, and
//! every default), `sources` (figment reads the file and the variables into it) and
//! `validate` (the rules between settings, and the files they name, giving `Settings`).

mod de;
mod sources;
mod validate;
mod variables;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::auth::AuthSettings;
use crate::hooks::limits::RequestLimits;

pub use variables::{AuthMode, Switch, Variables};

/// CDS_LOG_FORMAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum LogFormat {
    Text,
    Json,
}

impl TryFrom<String> for LogFormat {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        match value.as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("`{value}`: use text or json")),
        }
    }
}

/// The settings the service runs with: `Variables` once validated, in the service's own
/// types (durations, the authentication mode with its issuers, the request limits).
#[derive(Debug, Clone)]
pub struct Settings {
    /// CDS_BIND: address to listen on.
    pub bind: String,
    /// CDS_PUBLIC_URL: the base URL EHRs call (used for the JWT audience).
    pub public_url: Option<Url>,
    /// CDS_CARDS_DIR: the clinical knowledge.
    pub cards_dir: PathBuf,
    /// CDS_PROFILES: which profiles' services to offer.
    pub profiles: Vec<String>,
    /// CDS_HOOK_DEADLINE_MS: all FHIR calls of one hook finish within this.
    pub hook_deadline: Duration,
    /// CDS_MAX_BODY_BYTES: largest request body accepted.
    pub max_body_bytes: usize,
    /// CDS_FHIR_ALLOWED: FHIR base URLs the service may call.
    pub fhir_allowed: Vec<Url>,
    /// CDS_FHIR_ALLOW_HTTP: allow plain http to non-loopback FHIR servers.
    pub fhir_allow_http: bool,
    /// CDS_FHIR_MAX_PAGES: searchset pages followed per prefetch key.
    pub fhir_max_pages: usize,
    /// CDS_FHIR_MAX_RESPONSE_BYTES: largest FHIR response read.
    pub fhir_max_response_bytes: usize,
    /// CDS_AUTH (jwt|none) and the CDS_JWT_* settings.
    pub auth: AuthSettings,
    /// CDS_CORS_ORIGINS: browser origins allowed to call the CDS endpoints.
    pub cors_origins: Vec<String>,
    /// CDS_MAX_JSON_DEPTH, CDS_MAX_DRAFT_ORDERS, CDS_MAX_PREFETCH_RESOURCES,
    /// CDS_MAX_FEEDBACK_ITEMS, CDS_BODY_TIMEOUT_MS, CDS_MAX_BODIES_IN_FLIGHT.
    pub limits: RequestLimits,
    /// CDS_STORE_PATH: the SQLite audit and feedback database (`:memory:` keeps none).
    pub store_path: PathBuf,
    /// CDS_STORE_URL (postgres://...) and CDS_STORE_PASSWORD_FILE, CDS_STORE_POOL_SIZE,
    /// CDS_STORE_TIMEOUT_MS, CDS_STORE_CA_FILE: the PostgreSQL store replicas share,
    /// replay memory included. When set, CDS_STORE_PATH is not used.
    pub postgres: Option<crate::store::PgOptions>,
    /// CDS_AUDIT_SALT or CDS_AUDIT_SALT_FILE: salt for patient-id hashes. Required with
    /// CDS_AUTH=jwt; in development, one is made and kept in the store. A secret: `Debug`
    /// never shows it.
    pub audit_salt: Option<SecretString>,
    /// CDS_CHECK_FHIR_SERVER, CDS_CHECK_TOKEN, CDS_CHECK_TIMEOUT_SECS: what `check` uses
    /// when its command line does not say (the token is a secret).
    pub check: CheckSettings,
    /// CDS_LOG_FORMAT: text or json.
    pub log_format: LogFormat,
    /// CDS_LOG: tracing filter, e.g. `info` or `omalizumab_cds=debug`.
    pub log_filter: String,
    /// CDS_PREVIEW (on|off): the reviewers' page at /preview. On by default only with
    /// CDS_AUTH=none; refused with CDS_AUTH=jwt (see `validate::preview`).
    pub preview: bool,
    /// CDS_DEMO_FIXTURES: the built-in scenarios the preview lists (and `demo` runs).
    pub scenarios_dir: PathBuf,
    /// CDS_QUIET_MATCHES (card|none), see README.
    pub quiet_matches: crate::render::QuietMatches,
}

/// `check`'s settings from the environment; its command line overrides them.
#[derive(Debug, Clone)]
pub struct CheckSettings {
    pub fhir_server: Option<Url>,
    pub token: Option<SecretString>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("setting {name}: {message}")]
pub struct SettingsError {
    pub name: String,
    pub message: String,
}

impl SettingsError {
    pub(crate) fn new(name: &str, message: impl Into<String>) -> Self {
        SettingsError {
            name: name.into(),
            message: message.into(),
        }
    }
}

/// Where the cards ship: next to the working directory, else the source tree.
pub fn default_cards_dir() -> PathBuf {
    let local = PathBuf::from("cards");
    if local.join("common").is_dir() {
        local
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cards")
    }
}

impl Settings {
    /// From the process environment (and the file `CDS_CONFIG` names, if set).
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_map(&environment())
    }

    /// For the commands that serve nobody (`demo`, `check`, `report`): as `from_env`,
    /// with client authentication off, since it does not apply to them.
    pub fn from_env_offline() -> Result<Self, SettingsError> {
        let mut vars = environment();
        vars.insert("CDS_AUTH".into(), "none".into());
        Self::from_map(&vars)
    }

    /// From a map of `CDS_*` names to values, as the environment holds them (with the
    /// file a `CDS_CONFIG` entry names beneath them).
    pub fn from_map(vars: &BTreeMap<String, String>) -> Result<Self, SettingsError> {
        validate::validate(sources::load(vars)?)
    }
}

fn environment() -> BTreeMap<String, String> {
    std::env::vars().filter(|(k, _)| k.starts_with("CDS_")).collect()
}

#[cfg(test)]
mod tests;
