//! Settings: an optional TOML file (`CDS_CONFIG`), then `CDS_*` environment variables
//! on top. Every setting is listed in the README.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::auth::{AuthSettings, JwtSettings, parse_issuers};
use crate::hooks::limits::RequestLimits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

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
    /// CDS_AUTH=none; refused with CDS_AUTH=jwt (see `preview_setting`).
    pub preview: bool,
    /// CDS_DEMO_FIXTURES: the built-in scenarios the preview lists (and `demo` runs).
    pub scenarios_dir: PathBuf,
    pub quiet_matches: crate::render::QuietMatches, // CDS_QUIET_MATCHES (card|none), see README
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
    /// From the process environment (and `CDS_CONFIG` if set).
    pub fn from_env() -> Result<Self, SettingsError> {
        let env: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| k.starts_with("CDS_")).collect();
        let file = match env.get("CDS_CONFIG") {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| SettingsError {
                    name: "CDS_CONFIG".into(),
                    message: format!("cannot read {path}: {e}"),
                })?;
                let table: toml::Table = toml::from_str(&text).map_err(|e| SettingsError {
                    name: "CDS_CONFIG".into(),
                    message: format!("{path}: {e}"),
                })?;
                table
                    .into_iter()
                    .map(|(k, v)| {
                        let v = match v {
                            toml::Value::String(s) => s,
                            toml::Value::Array(a) => a
                                .iter()
                                .map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string()))
                                .collect::<Vec<_>>()
                                .join(","),
                            other => other.to_string(),
                        };
                        (format!("CDS_{}", k.to_ascii_uppercase()), v)
                    })
                    .collect()
            }
            None => BTreeMap::new(),
        };
        Self::from_map(&file.into_iter().chain(env).collect())
    }

    /// From a map of `CDS_*` names to values (later sources already merged in).
    pub fn from_map(vars: &BTreeMap<String, String>) -> Result<Self, SettingsError> {
        let get = |name: &str| vars.get(name).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let err = |name: &str, message: String| SettingsError {
            name: name.into(),
            message,
        };
        let number = |name: &str, default: u64| -> Result<u64, SettingsError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v.parse().map_err(|_| err(name, format!("`{v}` is not a whole number"))),
            }
        };
        let flag = |name: &str| -> Result<bool, SettingsError> {
            match get(name).as_deref() {
                None | Some("false") | Some("0") => Ok(false),
                Some("true") | Some("1") => Ok(true),
                Some(v) => Err(err(name, format!("`{v}` is not true or false"))),
            }
        };
        let list = |name: &str| -> Vec<String> {
            get(name)
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };

        let public_url = match get("CDS_PUBLIC_URL") {
            None => None,
            Some(v) => Some(Url::parse(&v).map_err(|e| err("CDS_PUBLIC_URL", format!("`{v}`: {e}")))?),
        };
        let mut fhir_allowed = Vec::new();
        for v in list("CDS_FHIR_ALLOWED") {
            let u = Url::parse(&v).map_err(|e| err("CDS_FHIR_ALLOWED", format!("`{v}`: {e}")))?;
            if !matches!(u.scheme(), "http" | "https") || !u.has_host() {
                return Err(err("CDS_FHIR_ALLOWED", format!("`{v}` is not an http(s) base URL")));
            }
            // Such a base would match nothing (see fhir::client::within): say so now.
            if crate::fhir::client::has_encoded_separator(u.path()) {
                return Err(err(
                    "CDS_FHIR_ALLOWED",
                    format!("`{v}`: no percent-encoded `/`, `\\` or `.` in a base path"),
                ));
            }
            fhir_allowed.push(u);
        }
        let deadline_ms = number("CDS_HOOK_DEADLINE_MS", 2500)?;
        if deadline_ms == 0 {
            return Err(err("CDS_HOOK_DEADLINE_MS", "must be positive".into()));
        }
        let log_format = match get("CDS_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(v) => return Err(err("CDS_LOG_FORMAT", format!("`{v}`: use text or json"))),
        };
        let profiles = list("CDS_PROFILES");
        let auth = match get("CDS_AUTH").as_deref() {
            None | Some("jwt") => {
                let defaults = JwtSettings::default();
                let seconds = |name: &str, default: Duration| -> Result<Duration, SettingsError> {
                    number(name, default.as_secs()).map(Duration::from_secs)
                };
                let issuers = parse_issuers(&get("CDS_JWT_ISSUERS").unwrap_or_default())
                    .map_err(|m| err("CDS_JWT_ISSUERS", m))?;
                if issuers.is_empty() {
                    return Err(err(
                        "CDS_JWT_ISSUERS",
                        "CDS_AUTH=jwt (the default) needs at least one issuer=jwks_url; \
                         for local development only, set CDS_AUTH=none"
                            .into(),
                    ));
                }
                match &public_url {
                    None => {
                        return Err(err(
                            "CDS_PUBLIC_URL",
                            "CDS_AUTH=jwt needs the public URL EHRs call, to check each token's audience".into(),
                        ));
                    }
                    // Requirement 20: EHRs reach the service over TLS (terminated here or at
                    // a proxy); a bearer JWT over plain http could be replayed by anyone on the path.
                    Some(u) if u.scheme() != "https" && !crate::net::is_loopback(u) => {
                        return Err(err(
                            "CDS_PUBLIC_URL",
                            format!("`{u}`: EHRs must call this service over https (http only on loopback)"),
                        ));
                    }
                    Some(_) => {}
                }
                let replay_capacity = number("CDS_JWT_REPLAY_CAPACITY", defaults.replay_capacity as u64)? as usize;
                if replay_capacity == 0 {
                    return Err(err("CDS_JWT_REPLAY_CAPACITY", "must be positive".into()));
                }
                AuthSettings::Jwt(JwtSettings {
                    issuers,
                    skew: seconds("CDS_JWT_SKEW_SECS", defaults.skew)?,
                    max_lifetime: seconds("CDS_JWT_MAX_LIFETIME_SECS", defaults.max_lifetime)?,
                    replay_capacity,
                    jwks_min_refresh: seconds("CDS_JWKS_MIN_REFRESH_SECS", defaults.jwks_min_refresh)?,
                    jwks_max_age: seconds("CDS_JWKS_MAX_AGE_SECS", defaults.jwks_max_age)?,
                    failures_per_minute: u32::try_from(number(
                        "CDS_AUTH_FAILURES_PER_MINUTE",
                        defaults.failures_per_minute.into(),
                    )?)
                    .map_err(|_| err("CDS_AUTH_FAILURES_PER_MINUTE", "too large".into()))?,
                })
            }
            Some("none") => AuthSettings::Disabled,
            Some(v) => return Err(err("CDS_AUTH", format!("`{v}`: use jwt or none"))),
        };
        let audit_salt = audit_salt(&get, matches!(auth, AuthSettings::Jwt(_)))?;
        let preview = preview_setting(get("CDS_PREVIEW").as_deref(), &auth)?;
        let cors_origins = list("CDS_CORS_ORIGINS");
        for origin in &cors_origins {
            let parsed = Url::parse(origin).ok().filter(|u| {
                matches!(u.scheme(), "http" | "https") && u.has_host() && u.path() == "/" && u.query().is_none()
            });
            if origin == "*" || parsed.is_none() || origin.ends_with('/') {
                return Err(err(
                    "CDS_CORS_ORIGINS",
                    format!("`{origin}` is not an origin like https://sandbox.example (no `*`, no path)"),
                ));
            }
        }
        let default_limits = RequestLimits::default();
        let limits = RequestLimits {
            max_json_depth: number("CDS_MAX_JSON_DEPTH", default_limits.max_json_depth as u64)? as usize,
            max_draft_orders: number("CDS_MAX_DRAFT_ORDERS", default_limits.max_draft_orders as u64)? as usize,
            max_prefetch_resources: number(
                "CDS_MAX_PREFETCH_RESOURCES",
                default_limits.max_prefetch_resources as u64,
            )? as usize,
            max_feedback_items: number("CDS_MAX_FEEDBACK_ITEMS", default_limits.max_feedback_items as u64)? as usize,
            body_timeout: Duration::from_millis(number(
                "CDS_BODY_TIMEOUT_MS",
                default_limits.body_timeout.as_millis() as u64,
            )?),
            max_bodies_in_flight: number("CDS_MAX_BODIES_IN_FLIGHT", default_limits.max_bodies_in_flight as u64)?
                as usize,
        };
        if limits.body_timeout.is_zero() {
            return Err(err("CDS_BODY_TIMEOUT_MS", "must be positive".into()));
        }
        if limits.max_bodies_in_flight == 0 {
            return Err(err("CDS_MAX_BODIES_IN_FLIGHT", "must be positive".into()));
        }
        let postgres = postgres(&get, &number)?;
        let check = CheckSettings {
            fhir_server: match get("CDS_CHECK_FHIR_SERVER") {
                None => None,
                Some(v) => Some(Url::parse(&v).map_err(|e| err("CDS_CHECK_FHIR_SERVER", format!("`{v}`: {e}")))?),
            },
            token: get("CDS_CHECK_TOKEN").map(SecretString::from),
            timeout: Duration::from_secs(number("CDS_CHECK_TIMEOUT_SECS", 20)?),
        };
        Ok(Settings {
            bind: get("CDS_BIND").unwrap_or_else(|| "127.0.0.1:8080".into()),
            public_url,
            cards_dir: get("CDS_CARDS_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(default_cards_dir),
            profiles: if profiles.is_empty() {
                vec!["omalizumab".into()]
            } else {
                profiles
            },
            hook_deadline: Duration::from_millis(deadline_ms),
            max_body_bytes: number("CDS_MAX_BODY_BYTES", 1024 * 1024)? as usize,
            fhir_allowed,
            fhir_allow_http: flag("CDS_FHIR_ALLOW_HTTP")?,
            fhir_max_pages: number("CDS_FHIR_MAX_PAGES", 10)? as usize,
            fhir_max_response_bytes: number("CDS_FHIR_MAX_RESPONSE_BYTES", 8 * 1024 * 1024)? as usize,
            auth,
            cors_origins,
            limits,
            store_path: get("CDS_STORE_PATH")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("omalizumab-cds.sqlite")),
            postgres,
            audit_salt: audit_salt.map(SecretString::from),
            check,
            log_format,
            log_filter: get("CDS_LOG").unwrap_or_else(|| "info".into()),
            preview,
            scenarios_dir: get("CDS_DEMO_FIXTURES")
                .map(PathBuf::from)
                .unwrap_or_else(crate::demo::default_fixtures_dir),
            quiet_matches: crate::render::QuietMatches::parse(get("CDS_QUIET_MATCHES").as_deref())?,
        })
    }
}

/// The preview page runs hooks for anyone who reaches it, outside the client-JWT check
/// the CDS endpoints have (a reviewer's browser holds no EHR's key). So it is never
/// served with authentication on: asking for it with CDS_AUTH=jwt stops start-up rather
/// than open an unauthenticated way into the engine on a production instance.
fn preview_setting(value: Option<&str>, auth: &AuthSettings) -> Result<bool, SettingsError> {
    let err = |message: String| SettingsError {
        name: "CDS_PREVIEW".into(),
        message,
    };
    let development = matches!(auth, AuthSettings::Disabled);
    match value {
        None => Ok(development),
        Some("off") => Ok(false),
        Some("on") if development => Ok(true),
        Some("on") => Err(err(
            "the preview page has no client authentication, so it is not served with CDS_AUTH=jwt; \
             run a separate CDS_AUTH=none instance on a reviewer's own machine"
                .into(),
        )),
        Some(v) => Err(err(format!("`{v}`: use on or off"))),
    }
}

/// The PostgreSQL store's settings, when CDS_STORE_URL names one.
fn postgres(
    get: &dyn Fn(&str) -> Option<String>,
    number: &dyn Fn(&str, u64) -> Result<u64, SettingsError>,
) -> Result<Option<crate::store::PgOptions>, SettingsError> {
    let err = |name: &str, message: String| SettingsError {
        name: name.into(),
        message,
    };
    let Some(url) = get("CDS_STORE_URL") else {
        return Ok(None);
    };
    // The URL is never echoed: it may carry a password.
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(err("CDS_STORE_URL", "must be a postgres:// URL".into()));
    }
    let password = match get("CDS_STORE_PASSWORD_FILE") {
        None => None,
        Some(path) => Some(
            std::fs::read_to_string(&path)
                .map_err(|e| err("CDS_STORE_PASSWORD_FILE", format!("cannot read {path}: {e}")))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        ),
    };
    let options = crate::store::PgOptions {
        url,
        password,
        pool_size: number("CDS_STORE_POOL_SIZE", 16)? as usize,
        timeout: Duration::from_millis(number("CDS_STORE_TIMEOUT_MS", 1000)?),
        ca_file: get("CDS_STORE_CA_FILE").map(PathBuf::from),
    };
    if options.pool_size == 0 {
        return Err(err("CDS_STORE_POOL_SIZE", "must be positive".into()));
    }
    if options.timeout.is_zero() {
        return Err(err("CDS_STORE_TIMEOUT_MS", "must be positive".into()));
    }
    options.config().map_err(|m| err("CDS_STORE_URL", m))?;
    Ok(Some(options))
}

/// The shortest salt accepted: 32 characters, e.g. 16 random bytes in hex.
const MIN_SALT_CHARS: usize = 32;

/// The patient-hash salt, from the environment or a file. A salt kept in the same
/// database as the hashes lets anyone with the file test every patient id (a numeric id
/// was recovered in seconds), so with authentication on (anything but development) one
/// from outside the store is required.
fn audit_salt(get: &dyn Fn(&str) -> Option<String>, required: bool) -> Result<Option<String>, SettingsError> {
    let err = |name: &str, message: String| SettingsError {
        name: name.into(),
        message,
    };
    const HOW: &str = "make one with `openssl rand -hex 32 > /etc/omalizumab-cds/audit-salt` (readable by the \
                       service only) and set CDS_AUDIT_SALT_FILE to that file; keep it as secret as a key and \
                       never change it, or new hashes no longer match old ones";
    let (name, salt) = match (get("CDS_AUDIT_SALT"), get("CDS_AUDIT_SALT_FILE")) {
        (Some(_), Some(_)) => {
            return Err(err(
                "CDS_AUDIT_SALT_FILE",
                "set CDS_AUDIT_SALT or CDS_AUDIT_SALT_FILE, not both".into(),
            ));
        }
        (Some(salt), None) => ("CDS_AUDIT_SALT", salt),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| err("CDS_AUDIT_SALT_FILE", format!("cannot read {path}: {e}")))?;
            ("CDS_AUDIT_SALT_FILE", text.trim().to_string())
        }
        (None, None) if required => {
            return Err(err(
                "CDS_AUDIT_SALT",
                format!(
                    "CDS_AUTH=jwt needs the salt for patient-id hashes from outside the database \
                     (CDS_AUDIT_SALT or CDS_AUDIT_SALT_FILE); {HOW}"
                ),
            ));
        }
        (None, None) => return Ok(None),
    };
    if salt.chars().count() < MIN_SALT_CHARS {
        return Err(err(
            name,
            format!("the salt must be at least {MIN_SALT_CHARS} characters; {HOW}"),
        ));
    }
    Ok(Some(salt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults() {
        let s = Settings::from_map(&vars(&[("CDS_AUTH", "none")])).unwrap();
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert_eq!(s.max_body_bytes, 1024 * 1024);
        assert_eq!(s.hook_deadline, Duration::from_millis(2500));
        assert_eq!(s.profiles, vec!["omalizumab"]);
        assert!(s.fhir_allowed.is_empty());
        assert!(!s.fhir_allow_http);
        assert_eq!(s.auth, AuthSettings::Disabled);
        assert!(s.cors_origins.is_empty());
        assert_eq!(s.limits, RequestLimits::default());
        assert!(s.preview, "the preview is on by default in development");
    }

    #[test]
    fn the_preview_is_never_served_with_authentication_on() {
        let none = |extra: &[(&str, &str)]| {
            let mut all = vec![("CDS_AUTH", "none")];
            all.extend_from_slice(extra);
            Settings::from_map(&vars(&all))
        };
        assert!(!none(&[("CDS_PREVIEW", "off")]).unwrap().preview);
        assert!(none(&[("CDS_PREVIEW", "on")]).unwrap().preview);
        assert_eq!(none(&[("CDS_PREVIEW", "yes")]).unwrap_err().name, "CDS_PREVIEW");
        let jwt = |extra: &[(&str, &str)]| {
            let mut all = vec![
                ("CDS_JWT_ISSUERS", "ehr=https://ehr.example/jwks"),
                ("CDS_PUBLIC_URL", "https://cds.example"),
                ("CDS_AUDIT_SALT", "0123456789abcdef0123456789abcdef"),
            ];
            all.extend_from_slice(extra);
            Settings::from_map(&vars(&all))
        };
        assert!(!jwt(&[]).unwrap().preview, "off by default in production mode");
        assert!(!jwt(&[("CDS_PREVIEW", "off")]).unwrap().preview);
        let e = jwt(&[("CDS_PREVIEW", "on")]).unwrap_err();
        assert_eq!(e.name, "CDS_PREVIEW");
        assert!(e.message.contains("CDS_AUTH=jwt"), "{}", e.message);
    }

    #[test]
    fn authentication_is_on_unless_turned_off_and_needs_issuers_and_public_url() {
        let e = Settings::from_map(&BTreeMap::new()).unwrap_err();
        assert_eq!(e.name, "CDS_JWT_ISSUERS");
        let e = Settings::from_map(&vars(&[("CDS_JWT_ISSUERS", "ehr=https://ehr.example/jwks")])).unwrap_err();
        assert_eq!(e.name, "CDS_PUBLIC_URL");
        let s = Settings::from_map(&vars(&[
            ("CDS_JWT_ISSUERS", "ehr=https://ehr.example/jwks"),
            ("CDS_PUBLIC_URL", "https://cds.example"),
            ("CDS_JWT_SKEW_SECS", "10"),
            ("CDS_AUDIT_SALT", "0123456789abcdef0123456789abcdef"),
        ]))
        .unwrap();
        let AuthSettings::Jwt(jwt) = s.auth else {
            panic!("jwt expected")
        };
        assert_eq!(jwt.issuers[0].issuer, "ehr");
        assert_eq!(jwt.skew, Duration::from_secs(10));
        assert_eq!(jwt.max_lifetime, JwtSettings::default().max_lifetime);
        assert_eq!(jwt.failures_per_minute, 60);
        let e = Settings::from_map(&vars(&[
            ("CDS_JWT_ISSUERS", "ehr=https://ehr.example/jwks"),
            ("CDS_PUBLIC_URL", "http://cds.example"),
        ]))
        .unwrap_err();
        assert_eq!(e.name, "CDS_PUBLIC_URL");
        let e = Settings::from_map(&vars(&[("CDS_AUTH", "off")])).unwrap_err();
        assert_eq!(e.name, "CDS_AUTH");
    }

    #[test]
    fn cors_origins_must_be_explicit_origins() {
        let ok = |v: &str| Settings::from_map(&vars(&[("CDS_AUTH", "none"), ("CDS_CORS_ORIGINS", v)]));
        assert_eq!(
            ok("https://sandbox.cds-hooks.org, http://localhost:3000")
                .unwrap()
                .cors_origins,
            vec!["https://sandbox.cds-hooks.org", "http://localhost:3000"]
        );
        for bad in ["*", "https://a.example/", "https://a.example/app", "sandbox.example"] {
            assert_eq!(ok(bad).unwrap_err().name, "CDS_CORS_ORIGINS", "{bad}");
        }
    }

    #[test]
    fn values_parse_and_bad_values_name_the_setting() {
        let s = Settings::from_map(&vars(&[
            ("CDS_BIND", "0.0.0.0:9000"),
            ("CDS_FHIR_ALLOWED", "https://a.example/fhir, http://127.0.0.1:8081/"),
            ("CDS_HOOK_DEADLINE_MS", "300"),
            ("CDS_LOG_FORMAT", "json"),
            ("CDS_AUTH", "none"),
        ]))
        .unwrap();
        assert_eq!(s.bind, "0.0.0.0:9000");
        assert_eq!(s.fhir_allowed.len(), 2);
        assert_eq!(s.log_format, LogFormat::Json);
        let e = Settings::from_map(&vars(&[("CDS_AUTH", "none"), ("CDS_MAX_BODY_BYTES", "lots")])).unwrap_err();
        assert_eq!(e.name, "CDS_MAX_BODY_BYTES");
        let e = Settings::from_map(&vars(&[("CDS_AUTH", "none"), ("CDS_FHIR_ALLOWED", "ftp://x/")])).unwrap_err();
        assert_eq!(e.name, "CDS_FHIR_ALLOWED");
        let e = Settings::from_map(&vars(&[
            ("CDS_AUTH", "none"),
            ("CDS_FHIR_ALLOWED", "https://x.example/a%2fb"),
        ]))
        .unwrap_err();
        assert_eq!(e.name, "CDS_FHIR_ALLOWED");
        let e = Settings::from_map(&vars(&[("CDS_AUTH", "none"), ("CDS_FHIR_ALLOW_HTTP", "yes")])).unwrap_err();
        assert_eq!(e.name, "CDS_FHIR_ALLOW_HTTP");
    }

    #[test]
    fn a_postgres_url_chooses_the_shared_store_and_is_checked() {
        let s = Settings::from_map(&vars(&[("CDS_AUTH", "none")])).unwrap();
        assert!(s.postgres.is_none(), "SQLite stays the default");
        let s = Settings::from_map(&vars(&[
            ("CDS_AUTH", "none"),
            ("CDS_STORE_URL", "postgres://cds@db.example:5433/cds?sslmode=require"),
            ("CDS_STORE_POOL_SIZE", "4"),
        ]))
        .unwrap();
        let pg = s.postgres.unwrap();
        assert_eq!((pg.pool_size, pg.timeout), (4, Duration::from_millis(1000)));
        for (name, value) in [
            ("CDS_STORE_URL", "mysql://db.example/cds"),
            ("CDS_STORE_URL", "postgres://db.example/cds?sslmode=sometimes"),
            ("CDS_STORE_POOL_SIZE", "0"),
            ("CDS_STORE_TIMEOUT_MS", "0"),
            ("CDS_STORE_PASSWORD_FILE", "/nonexistent/password"),
        ] {
            let mut all = vec![("CDS_AUTH", "none"), ("CDS_STORE_URL", "postgres://db.example/cds")];
            all.push((name, value));
            let e = Settings::from_map(&vars(&all)).unwrap_err();
            assert_eq!(e.name, name, "{value}");
        }
        let e = Settings::from_map(&vars(&[
            ("CDS_AUTH", "none"),
            (
                "CDS_STORE_URL",
                "postgres://cds:hunter2@db.example/cds?sslmode=sometimes",
            ),
        ]))
        .unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    /// Issue 13 item 7: with the salt kept in the store, a patient id was recovered from
    /// its hash with the database alone. Outside development a salt from elsewhere is
    /// required, long enough not to be guessed.
    #[test]
    fn jwt_mode_needs_an_audit_salt_from_outside_the_store() {
        let jwt = [
            ("CDS_JWT_ISSUERS", "ehr=https://ehr.example/jwks"),
            ("CDS_PUBLIC_URL", "https://cds.example"),
        ];
        let e = Settings::from_map(&vars(&jwt)).unwrap_err();
        assert_eq!(e.name, "CDS_AUDIT_SALT");
        assert!(e.message.contains("openssl rand -hex 32"), "{}", e.message);
        let with = |extra: &[(&str, &str)]| {
            let mut all = jwt.to_vec();
            all.extend_from_slice(extra);
            Settings::from_map(&vars(&all))
        };
        assert_eq!(with(&[("CDS_AUDIT_SALT", "short")]).unwrap_err().name, "CDS_AUDIT_SALT");
        let salt = "4f9c2b7e1d3a5c8e0f6b2d4a7c9e1b3d";
        let exposed = |s: Settings| s.audit_salt.map(|v| v.expose_secret().to_string());
        assert_eq!(
            exposed(with(&[("CDS_AUDIT_SALT", salt)]).unwrap()).as_deref(),
            Some(salt)
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("salt");
        std::fs::write(&file, format!("{salt}\n")).unwrap();
        let from_file = with(&[("CDS_AUDIT_SALT_FILE", file.to_str().unwrap())]).unwrap();
        // A secret: Debug never shows it.
        assert!(!format!("{from_file:?}").contains(salt));
        assert_eq!(exposed(from_file).as_deref(), Some(salt));
        let missing = with(&[("CDS_AUDIT_SALT_FILE", "/nonexistent/salt")]).unwrap_err();
        assert_eq!(missing.name, "CDS_AUDIT_SALT_FILE");
        let both = with(&[
            ("CDS_AUDIT_SALT", salt),
            ("CDS_AUDIT_SALT_FILE", file.to_str().unwrap()),
        ]);
        assert_eq!(both.unwrap_err().name, "CDS_AUDIT_SALT_FILE");
        // Development keeps the salt made in the store.
        assert!(
            Settings::from_map(&vars(&[("CDS_AUTH", "none")]))
                .unwrap()
                .audit_salt
                .is_none()
        );
    }
}
