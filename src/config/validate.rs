//! The rules between settings, and the files settings name: `Variables` -> `Settings`.
//! Each value already parsed on its own (`de`); what is checked here needs more than one.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::{AuthMode, CheckSettings, Settings, SettingsError, Switch, Variables};
use crate::auth::{AuthSettings, JwtSettings};
use crate::hooks::limits::RequestLimits;
use crate::store::PgOptions;

pub(super) fn validate(v: Variables) -> Result<Settings, SettingsError> {
    for (name, value) in [
        ("CDS_HOOK_DEADLINE_MS", v.hook_deadline_ms),
        ("CDS_BODY_TIMEOUT_MS", v.body_timeout_ms),
        ("CDS_MAX_BODIES_IN_FLIGHT", v.max_bodies_in_flight as u64),
    ] {
        if value == 0 {
            return Err(SettingsError::new(name, "must be positive"));
        }
    }
    let auth = auth(&v)?;
    let audit_salt = audit_salt(&v, matches!(auth, AuthSettings::Jwt(_)))?;
    let preview = preview(v.preview, &auth)?;
    let postgres = postgres(&v)?;
    Ok(Settings {
        limits: limits(&v),
        check: CheckSettings {
            fhir_server: v.check_fhir_server,
            token: v.check_token,
            timeout: Duration::from_secs(v.check_timeout_secs),
        },
        // An empty list is no list: the default profile, as when unset.
        profiles: if v.profiles.is_empty() {
            Variables::default().profiles
        } else {
            v.profiles
        },
        bind: v.bind,
        public_url: v.public_url,
        cards_dir: v.cards_dir,
        hook_deadline: Duration::from_millis(v.hook_deadline_ms),
        max_body_bytes: v.max_body_bytes,
        fhir_allowed: v.fhir_allowed,
        fhir_allow_http: v.fhir_allow_http,
        fhir_max_pages: v.fhir_max_pages,
        fhir_max_response_bytes: v.fhir_max_response_bytes,
        auth,
        cors_origins: v.cors_origins,
        store_path: v.store_path,
        postgres,
        audit_salt,
        log_format: v.log_format,
        log_filter: v.log,
        preview,
        scenarios_dir: v.demo_fixtures,
        quiet_matches: v.quiet_matches,
    })
}

fn limits(v: &Variables) -> RequestLimits {
    RequestLimits {
        max_json_depth: v.max_json_depth,
        max_draft_orders: v.max_draft_orders,
        max_prefetch_resources: v.max_prefetch_resources,
        max_feedback_items: v.max_feedback_items,
        body_timeout: Duration::from_millis(v.body_timeout_ms),
        max_bodies_in_flight: v.max_bodies_in_flight,
    }
}

/// With `CDS_AUTH=jwt` (the default): trusted issuers, and the https URL EHRs call,
/// which each token's audience must name.
fn auth(v: &Variables) -> Result<AuthSettings, SettingsError> {
    if v.auth == AuthMode::None {
        return Ok(AuthSettings::Disabled);
    }
    if v.jwt_issuers.is_empty() {
        return Err(SettingsError::new(
            "CDS_JWT_ISSUERS",
            "CDS_AUTH=jwt (the default) needs at least one issuer=jwks_url; \
             for local development only, set CDS_AUTH=none",
        ));
    }
    match &v.public_url {
        None => {
            return Err(SettingsError::new(
                "CDS_PUBLIC_URL",
                "CDS_AUTH=jwt needs the public URL EHRs call, to check each token's audience",
            ));
        }
        // Requirement 20: EHRs reach the service over TLS (terminated here or at
        // a proxy); a bearer JWT over plain http could be replayed by anyone on the path.
        Some(u) if u.scheme() != "https" && !crate::net::is_loopback(u) => {
            return Err(SettingsError::new(
                "CDS_PUBLIC_URL",
                format!("`{u}`: EHRs must call this service over https (http only on loopback)"),
            ));
        }
        Some(_) => {}
    }
    if v.jwt_replay_capacity == 0 {
        return Err(SettingsError::new("CDS_JWT_REPLAY_CAPACITY", "must be positive"));
    }
    Ok(AuthSettings::Jwt(JwtSettings {
        issuers: v.jwt_issuers.clone(),
        skew: Duration::from_secs(v.jwt_skew_secs),
        max_lifetime: Duration::from_secs(v.jwt_max_lifetime_secs),
        replay_capacity: v.jwt_replay_capacity,
        jwks_min_refresh: Duration::from_secs(v.jwks_min_refresh_secs),
        jwks_max_age: Duration::from_secs(v.jwks_max_age_secs),
        failures_per_minute: v.auth_failures_per_minute,
    }))
}

/// The preview page runs hooks for anyone who reaches it, outside the client-JWT check
/// the CDS endpoints have (a reviewer's browser holds no EHR's key). So it is never
/// served with authentication on: asking for it with CDS_AUTH=jwt stops start-up rather
/// than open an unauthenticated way into the engine on a production instance.
fn preview(value: Option<Switch>, auth: &AuthSettings) -> Result<bool, SettingsError> {
    let development = matches!(auth, AuthSettings::Disabled);
    match value {
        None => Ok(development),
        Some(Switch::Off) => Ok(false),
        Some(Switch::On) if development => Ok(true),
        Some(Switch::On) => Err(SettingsError::new(
            "CDS_PREVIEW",
            "the preview page has no client authentication, so it is not served with CDS_AUTH=jwt; \
             run a separate CDS_AUTH=none instance on a reviewer's own machine",
        )),
    }
}

/// The PostgreSQL store's settings, when CDS_STORE_URL names one.
fn postgres(v: &Variables) -> Result<Option<PgOptions>, SettingsError> {
    let Some(url) = &v.store_url else {
        return Ok(None);
    };
    let url = url.expose_secret().to_string();
    // The URL is never echoed: it may carry a password.
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(SettingsError::new("CDS_STORE_URL", "must be a postgres:// URL"));
    }
    let password = match &v.store_password_file {
        None => None,
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| {
                    SettingsError::new(
                        "CDS_STORE_PASSWORD_FILE",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        ),
    };
    for (name, value) in [
        ("CDS_STORE_POOL_SIZE", v.store_pool_size as u64),
        ("CDS_STORE_TIMEOUT_MS", v.store_timeout_ms),
    ] {
        if value == 0 {
            return Err(SettingsError::new(name, "must be positive"));
        }
    }
    let options = PgOptions {
        url,
        password,
        pool_size: v.store_pool_size,
        timeout: Duration::from_millis(v.store_timeout_ms),
        ca_file: v.store_ca_file.clone(),
    };
    options.config().map_err(|m| SettingsError::new("CDS_STORE_URL", m))?;
    Ok(Some(options))
}

/// The shortest salt accepted: 32 characters, e.g. 16 random bytes in hex.
const MIN_SALT_CHARS: usize = 32;

const MAKE_A_SALT: &str = "make one with `openssl rand -hex 32 > /etc/omalizumab-cds/audit-salt` (readable by the \
                           service only) and set CDS_AUDIT_SALT_FILE to that file; keep it as secret as a key and \
                           never change it, or new hashes no longer match old ones";

/// The patient-hash salt, from the environment or a file. A salt kept in the same
/// database as the hashes lets anyone with the file test every patient id (a numeric id
/// was recovered in seconds), so with authentication on (anything but development) one
/// from outside the store is required.
fn audit_salt(v: &Variables, required: bool) -> Result<Option<SecretString>, SettingsError> {
    let (name, salt) = match (&v.audit_salt, &v.audit_salt_file) {
        (Some(_), Some(_)) => {
            return Err(SettingsError::new(
                "CDS_AUDIT_SALT_FILE",
                "set CDS_AUDIT_SALT or CDS_AUDIT_SALT_FILE, not both",
            ));
        }
        (Some(salt), None) => ("CDS_AUDIT_SALT", salt.clone()),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                SettingsError::new("CDS_AUDIT_SALT_FILE", format!("cannot read {}: {e}", path.display()))
            })?;
            ("CDS_AUDIT_SALT_FILE", SecretString::from(text.trim()))
        }
        (None, None) if required => {
            return Err(SettingsError::new(
                "CDS_AUDIT_SALT",
                format!(
                    "CDS_AUTH=jwt needs the salt for patient-id hashes from outside the database \
                     (CDS_AUDIT_SALT or CDS_AUDIT_SALT_FILE); {MAKE_A_SALT}"
                ),
            ));
        }
        (None, None) => return Ok(None),
    };
    if salt.expose_secret().chars().count() < MIN_SALT_CHARS {
        return Err(SettingsError::new(
            name,
            format!("the salt must be at least {MIN_SALT_CHARS} characters; {MAKE_A_SALT}"),
        ));
    }
    Ok(Some(salt))
}
