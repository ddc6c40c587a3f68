//! Verify a CDS client's JWT (CDS Hooks "Trusting CDS Clients"; requirements 20-23).
//!
//! The order of checks matters: everything that costs nothing or needs no key comes
//! first, the key set is consulted only for a configured issuer whose `jku` (if any) is
//! the configured one, and a `jti` is remembered only after the signature and claims
//! pass, so forged tokens cannot fill the replay memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use super::JwtSettings;
use super::jwks::IssuerKeys;
use super::replay::{MAX_JTI_BYTES, ReplayError, ReplayGuard};

/// Why a token was refused: for the log only (the caller sees a generic 401). No
/// variant carries text from the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    MissingHeader,
    NotBearer,
    Malformed,
    AlgorithmNone,
    AlgorithmHmac,
    AlgorithmNotAllowed,
    WrongType,
    CriticalHeader,
    MissingKid,
    MissingClaim,
    UnknownIssuer,
    UnlistedJku,
    UnknownKid,
    KeyDoesNotFitAlgorithm,
    BadSignature,
    Expired,
    NotYetValid,
    IssuedInFuture,
    LifetimeTooLong,
    WrongAudience,
    Replayed,
    ReplayMemoryFull,
}

impl Rejection {
    pub fn code(self) -> &'static str {
        match self {
            Rejection::MissingHeader => "missing-authorization",
            Rejection::NotBearer => "not-bearer",
            Rejection::Malformed => "malformed-token",
            Rejection::AlgorithmNone => "alg-none",
            Rejection::AlgorithmHmac => "alg-hmac",
            Rejection::AlgorithmNotAllowed => "alg-not-allowed",
            Rejection::WrongType => "typ-not-jwt",
            Rejection::CriticalHeader => "crit-header",
            Rejection::MissingKid => "missing-kid",
            Rejection::MissingClaim => "missing-claim",
            Rejection::UnknownIssuer => "unknown-issuer",
            Rejection::UnlistedJku => "unlisted-jku",
            Rejection::UnknownKid => "unknown-kid",
            Rejection::KeyDoesNotFitAlgorithm => "key-alg-mismatch",
            Rejection::BadSignature => "bad-signature",
            Rejection::Expired => "expired",
            Rejection::NotYetValid => "not-yet-valid",
            Rejection::IssuedInFuture => "iat-in-future",
            Rejection::LifetimeTooLong => "lifetime-too-long",
            Rejection::WrongAudience => "wrong-audience",
            Rejection::Replayed => "replayed-jti",
            Rejection::ReplayMemoryFull => "replay-memory-full",
        }
    }
}

/// The verified caller, for handlers (the tenant) and logs (issuer, tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub issuer: String,
    pub tenant: Option<String>,
    pub subject: Option<String>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    jku: Option<String>,
}

#[derive(Deserialize)]
struct UnverifiedIssuer {
    iss: Option<String>,
}

/// The claims we read after the signature is checked. Times as f64: some clients send
/// fractional seconds. `aud`, `exp`, `nbf` are also checked by jsonwebtoken.
#[derive(Deserialize)]
struct Claims {
    exp: f64,
    iat: f64,
    jti: String,
    tenant: Option<String>,
    sub: Option<String>,
}

pub struct JwtVerifier {
    issuers: HashMap<String, IssuerKeys>,
    skew: Duration,
    max_lifetime: Duration,
    replay: Mutex<ReplayGuard>,
    client: reqwest::Client,
}

impl JwtVerifier {
    pub fn new(settings: &JwtSettings, client: reqwest::Client) -> Self {
        let issuers = settings
            .issuers
            .iter()
            .map(|i| {
                let keys = IssuerKeys::new(i.jwks.clone(), settings.jwks_min_refresh, settings.jwks_max_age);
                (i.issuer.clone(), keys)
            })
            .collect();
        JwtVerifier {
            issuers,
            skew: settings.skew,
            max_lifetime: settings.max_lifetime,
            replay: Mutex::new(ReplayGuard::new(settings.replay_capacity)),
            client,
        }
    }

    /// Check an `Authorization` header value for a call to `audience` (the exact URL
    /// called).
    pub async fn verify(&self, authorization: Option<&str>, audience: &str) -> Result<Caller, Rejection> {
        let header = authorization.ok_or(Rejection::MissingHeader)?;
        let token = match header.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(Rejection::NotBearer),
        };
        let mut parts = token.split('.');
        let (Some(head), Some(body), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(Rejection::Malformed);
        };
        let head: Map<String, Value> = decode_part(head)?;
        // RFC 7515 4.1.11: a token whose `crit` names extensions the recipient does not
        // understand is invalid; this verifier understands none, and an empty or null
        // `crit` is malformed. `b64` (RFC 7797) changes what is signed: refused as well.
        if head.contains_key("crit") || head.contains_key("b64") {
            return Err(Rejection::CriticalHeader);
        }
        let head: RawHeader = serde_json::from_value(Value::Object(head)).map_err(|_| Rejection::Malformed)?;
        let alg = allowed_algorithm(&head.alg)?;
        if head.typ.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("JWT")) {
            return Err(Rejection::WrongType);
        }
        let kid = head.kid.as_deref().ok_or(Rejection::MissingKid)?;
        let issuer = decode_part::<UnverifiedIssuer>(body)?
            .iss
            .ok_or(Rejection::MissingClaim)?;
        let keys = self.issuers.get(&issuer).ok_or(Rejection::UnknownIssuer)?;
        if let Some(jku) = &head.jku
            && Url::parse(jku).ok().as_ref() != Some(keys.location())
        {
            return Err(Rejection::UnlistedJku);
        }
        let key = keys.key(&self.client, kid).await.ok_or(Rejection::UnknownKid)?;
        if !key.accepts(alg) {
            return Err(Rejection::KeyDoesNotFitAlgorithm);
        }

        let mut validation = Validation::new(alg);
        validation.leeway = self.skew.as_secs();
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[audience]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature | ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) => {
                    Rejection::BadSignature
                }
                ErrorKind::ExpiredSignature => Rejection::Expired,
                ErrorKind::ImmatureSignature => Rejection::NotYetValid,
                ErrorKind::InvalidAudience => Rejection::WrongAudience,
                ErrorKind::InvalidIssuer => Rejection::UnknownIssuer,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidKeyFormat => Rejection::KeyDoesNotFitAlgorithm,
                ErrorKind::MissingRequiredClaim(_) | ErrorKind::Json(_) | ErrorKind::InvalidClaimFormat(_) => {
                    Rejection::MissingClaim
                }
                _ => Rejection::Malformed,
            })?
            .claims;

        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let skew = self.skew.as_secs_f64();
        if claims.iat > now + skew {
            return Err(Rejection::IssuedInFuture);
        }
        if claims.exp - claims.iat > self.max_lifetime.as_secs_f64() {
            return Err(Rejection::LifetimeTooLong);
        }
        if claims.jti.is_empty() || claims.jti.len() > MAX_JTI_BYTES {
            return Err(Rejection::MissingClaim);
        }
        // Remember the id until the token is unusable even with skew.
        let forget_at = (claims.exp + skew).ceil() as u64;
        self.replay
            .lock()
            .map_err(|_| Rejection::ReplayMemoryFull)?
            .remember(&issuer, &claims.jti, forget_at, now as u64)
            .map_err(|e| match e {
                ReplayError::Replayed => Rejection::Replayed,
                ReplayError::Full => Rejection::ReplayMemoryFull,
            })?;
        Ok(Caller {
            issuer,
            tenant: claims.tenant,
            subject: claims.sub,
        })
    }
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, Rejection> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| Rejection::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| Rejection::Malformed)
}

/// Only the asymmetric algorithms CDS Hooks names (requirement 22).
fn allowed_algorithm(alg: &str) -> Result<Algorithm, Rejection> {
    match alg {
        "ES256" => Ok(Algorithm::ES256),
        "ES384" => Ok(Algorithm::ES384),
        "RS256" => Ok(Algorithm::RS256),
        "RS384" => Ok(Algorithm::RS384),
        a if a.eq_ignore_ascii_case("none") => Err(Rejection::AlgorithmNone),
        a if a.starts_with("HS") => Err(Rejection::AlgorithmHmac),
        _ => Err(Rejection::AlgorithmNotAllowed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_four_asymmetric_algorithms_pass() {
        for ok in ["ES256", "ES384", "RS256", "RS384"] {
            assert!(allowed_algorithm(ok).is_ok(), "{ok}");
        }
        assert_eq!(allowed_algorithm("none"), Err(Rejection::AlgorithmNone));
        assert_eq!(allowed_algorithm("NONE"), Err(Rejection::AlgorithmNone));
        for hmac in ["HS256", "HS384", "HS512"] {
            assert_eq!(allowed_algorithm(hmac), Err(Rejection::AlgorithmHmac));
        }
        for other in ["PS256", "RS512", "EdDSA", "es384", ""] {
            assert_eq!(allowed_algorithm(other), Err(Rejection::AlgorithmNotAllowed), "{other}");
        }
    }
}
