//! Who may call us: EHRs that sign a JWT with a key of a trusted issuer (CDS Hooks
//! "Trusting CDS Clients"). Nothing here is fetched from a URL the caller chooses: each
//! issuer's key set lives at a URL (or file) this service was configured with.

mod claims;
pub mod jwks;
pub mod replay;
pub mod throttle;
pub mod verify;

use std::time::Duration;

use url::Url;

pub use verify::{Caller, JwtVerifier, Rejection};

/// One trusted issuer: the `iss` it signs with and where its public keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    pub issuer: String,
    /// An https URL (http only to loopback), or a `file:` URL of a JWKS on disk.
    pub jwks: Url,
}

/// How tokens are checked. Defaults follow the CDS Hooks advice of short-lived tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    pub issuers: Vec<TrustedIssuer>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub skew: Duration,
    /// Longest accepted `exp - iat`. It also bounds how long a `jti` is remembered.
    pub max_lifetime: Duration,
    /// Most `jti` values remembered at once; when full, new tokens are refused until
    /// remembered ones expire (refusing is safer than forgetting and allowing a replay).
    pub replay_capacity: usize,
    /// Least time between two fetches of one issuer's key set (on an unknown `kid`).
    pub jwks_min_refresh: Duration,
    /// A key set older than this is fetched again (keys get revoked), in the background.
    pub jwks_max_age: Duration,
    /// Failed authentications one peer may have a minute before it is answered 429
    /// without any check; 0 turns the limit off.
    pub failures_per_minute: u32,
}

impl Default for JwtSettings {
    fn default() -> Self {
        JwtSettings {
            issuers: Vec::new(),
            skew: Duration::from_secs(30),
            max_lifetime: Duration::from_secs(600),
            replay_capacity: 100_000,
            jwks_min_refresh: Duration::from_secs(60),
            jwks_max_age: Duration::from_secs(3600),
            failures_per_minute: 60,
        }
    }
}

/// CDS_AUTH: `jwt` (the default) or `none` (development only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSettings {
    Disabled,
    Jwt(JwtSettings),
}

/// Parse `CDS_JWT_ISSUERS`: comma-separated `issuer=jwks_url` pairs. The first `=`
/// splits, so a JWKS URL may carry a query string.
pub fn parse_issuers(text: &str) -> Result<Vec<TrustedIssuer>, String> {
    let mut issuers = Vec::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (issuer, location) = pair
            .split_once('=')
            .ok_or_else(|| format!("`{pair}` is not issuer=jwks_url"))?;
        let (issuer, location) = (issuer.trim(), location.trim());
        if issuer.is_empty() {
            return Err(format!("`{pair}` names no issuer"));
        }
        let jwks = Url::parse(location).map_err(|e| format!("`{location}`: {e}"))?;
        check_jwks_location(&jwks)?;
        if issuers.iter().any(|i: &TrustedIssuer| i.issuer == issuer) {
            return Err(format!("issuer `{issuer}` is listed twice"));
        }
        issuers.push(TrustedIssuer {
            issuer: issuer.to_string(),
            jwks,
        });
    }
    Ok(issuers)
}

/// Key sets come over https, from disk, or over plain http from this machine only.
fn check_jwks_location(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" if url.has_host() => Ok(()),
        "http" if crate::net::is_loopback(url) => Ok(()),
        "file" => Ok(()),
        _ => Err(format!(
            "`{url}`: a JWKS must be https, a file: path, or http on loopback"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_parse_as_pairs_split_at_the_first_equals() {
        let list =
            parse_issuers("https://ehr.example=https://ehr.example/jwks?tenant=a, local=file:///etc/cds/jwks.json")
                .unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].issuer, "https://ehr.example");
        assert_eq!(list[0].jwks.as_str(), "https://ehr.example/jwks?tenant=a");
        assert_eq!(list[1].jwks.scheme(), "file");
    }

    #[test]
    fn issuers_refuse_plain_http_elsewhere_than_loopback_and_bad_pairs() {
        assert!(parse_issuers("a=http://ehr.example/jwks").is_err());
        assert!(parse_issuers("a=http://127.0.0.1:9/jwks").is_ok());
        assert!(parse_issuers("a=ftp://ehr.example/jwks").is_err());
        assert!(parse_issuers("https://ehr.example/jwks").is_err());
        assert!(parse_issuers("=https://ehr.example/jwks").is_err());
        assert!(parse_issuers("a=https://x.example/1,a=https://x.example/2").is_err());
    }
}
