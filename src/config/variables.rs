//! What may be set: one field per `CDS_*` variable, named as the variable without its
//! prefix (`hook_deadline_ms` is `CDS_HOOK_DEADLINE_MS`, and the key of the same name in
//! the TOML file), in the variable's own units. The README lists them all; `Default`
//! below holds every default.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use super::{LogFormat, de};
use crate::auth::{JwtSettings, TrustedIssuer};
use crate::hooks::limits::RequestLimits;
use crate::render::QuietMatches;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Variables {
    pub bind: String,
    #[serde(deserialize_with = "de::url")]
    pub public_url: Option<Url>,
    pub auth: AuthMode,
    #[serde(deserialize_with = "de::issuers")]
    pub jwt_issuers: Vec<TrustedIssuer>,
    #[serde(deserialize_with = "de::whole")]
    pub jwt_skew_secs: u64,
    #[serde(deserialize_with = "de::whole")]
    pub jwt_max_lifetime_secs: u64,
    #[serde(deserialize_with = "de::whole")]
    pub jwt_replay_capacity: usize,
    #[serde(deserialize_with = "de::whole")]
    pub auth_failures_per_minute: u32,
    #[serde(deserialize_with = "de::whole")]
    pub jwks_min_refresh_secs: u64,
    #[serde(deserialize_with = "de::whole")]
    pub jwks_max_age_secs: u64,
    #[serde(deserialize_with = "de::origins")]
    pub cors_origins: Vec<String>,
    pub cards_dir: PathBuf,
    #[serde(deserialize_with = "de::list")]
    pub profiles: Vec<String>,
    #[serde(deserialize_with = "de::whole")]
    pub hook_deadline_ms: u64,
    #[serde(deserialize_with = "de::whole")]
    pub max_body_bytes: usize,
    #[serde(deserialize_with = "de::whole")]
    pub body_timeout_ms: u64,
    #[serde(deserialize_with = "de::whole")]
    pub max_bodies_in_flight: usize,
    #[serde(deserialize_with = "de::whole")]
    pub max_json_depth: usize,
    #[serde(deserialize_with = "de::whole")]
    pub max_draft_orders: usize,
    #[serde(deserialize_with = "de::whole")]
    pub max_feedback_items: usize,
    #[serde(deserialize_with = "de::whole")]
    pub max_prefetch_resources: usize,
    #[serde(deserialize_with = "de::fhir_bases")]
    pub fhir_allowed: Vec<Url>,
    #[serde(deserialize_with = "de::flag")]
    pub fhir_allow_http: bool,
    #[serde(deserialize_with = "de::whole")]
    pub fhir_max_pages: usize,
    #[serde(deserialize_with = "de::whole")]
    pub fhir_max_response_bytes: usize,
    pub store_path: PathBuf,
    /// A secret: the URL may carry the database's password.
    pub store_url: Option<SecretString>,
    pub store_password_file: Option<PathBuf>,
    pub store_ca_file: Option<PathBuf>,
    #[serde(deserialize_with = "de::whole")]
    pub store_pool_size: usize,
    #[serde(deserialize_with = "de::whole")]
    pub store_timeout_ms: u64,
    pub audit_salt: Option<SecretString>,
    pub audit_salt_file: Option<PathBuf>,
    #[serde(deserialize_with = "de::url")]
    pub check_fhir_server: Option<Url>,
    pub check_token: Option<SecretString>,
    #[serde(deserialize_with = "de::whole")]
    pub check_timeout_secs: u64,
    /// Unset: on with `CDS_AUTH=none`, else off (`validate::preview`).
    pub preview: Option<Switch>,
    pub demo_fixtures: PathBuf,
    pub quiet_matches: QuietMatches,
    pub log_format: LogFormat,
    pub log: String,
}

/// Every default. The token checks and the request limits keep theirs beside their
/// meaning (`JwtSettings::default`, `RequestLimits::default`); the rest are here.
impl Default for Variables {
    fn default() -> Self {
        let jwt = JwtSettings::default();
        let limits = RequestLimits::default();
        Variables {
            bind: "127.0.0.1:8080".into(),
            public_url: None,
            auth: AuthMode::Jwt,
            jwt_issuers: jwt.issuers,
            jwt_skew_secs: jwt.skew.as_secs(),
            jwt_max_lifetime_secs: jwt.max_lifetime.as_secs(),
            jwt_replay_capacity: jwt.replay_capacity,
            auth_failures_per_minute: jwt.failures_per_minute,
            jwks_min_refresh_secs: jwt.jwks_min_refresh.as_secs(),
            jwks_max_age_secs: jwt.jwks_max_age.as_secs(),
            cors_origins: Vec::new(),
            cards_dir: super::default_cards_dir(),
            profiles: vec!["omalizumab".into()],
            hook_deadline_ms: 2500,
            max_body_bytes: 1024 * 1024,
            body_timeout_ms: limits.body_timeout.as_millis() as u64,
            max_bodies_in_flight: limits.max_bodies_in_flight,
            max_json_depth: limits.max_json_depth,
            max_draft_orders: limits.max_draft_orders,
            max_feedback_items: limits.max_feedback_items,
            max_prefetch_resources: limits.max_prefetch_resources,
            fhir_allowed: Vec::new(),
            fhir_allow_http: false,
            fhir_max_pages: 10,
            fhir_max_response_bytes: 8 * 1024 * 1024,
            store_path: PathBuf::from("omalizumab-cds.sqlite"),
            store_url: None,
            store_password_file: None,
            store_ca_file: None,
            store_pool_size: 16,
            store_timeout_ms: 1000,
            audit_salt: None,
            audit_salt_file: None,
            check_fhir_server: None,
            check_token: None,
            check_timeout_secs: 20,
            preview: None,
            demo_fixtures: crate::demo::default_fixtures_dir(),
            quiet_matches: QuietMatches::Card,
            log_format: LogFormat::Text,
            log: "info".into(),
        }
    }
}

/// CDS_AUTH: `jwt` (every call needs a client JWT) or `none` (development only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum AuthMode {
    Jwt,
    None,
}

impl TryFrom<String> for AuthMode {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        match value.as_str() {
            "jwt" => Ok(AuthMode::Jwt),
            "none" => Ok(AuthMode::None),
            _ => Err(format!("`{value}`: use jwt or none")),
        }
    }
}

/// An `on` or `off` setting (CDS_PREVIEW).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Switch {
    On,
    Off,
}

impl TryFrom<String> for Switch {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        match value.as_str() {
            "on" => Ok(Switch::On),
            "off" => Ok(Switch::Off),
            _ => Err(format!("`{value}`: use on or off")),
        }
    }
}
