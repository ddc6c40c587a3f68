//! Verify a CDS client's JWT (CDS Hooks "Trusting CDS Clients"; requirements 20-23).
//!
//! The order of checks matters: everything that costs nothing or needs no key comes
//! first, the key set is consulted only for a configured issuer whose `jku` (if any) is
//! the configured one, and a `jti` is remembered only after the signature and claims
//! pass, so forged tokens cannot fill the replay memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use jsonwebtoken::errors::ErrorKind;
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use super::JwtSettings;
use super::jwks::IssuerKeys;
use super::replay::{MAX_JTI_BYTES, ReplayError, ReplayGuard, SharedReplay};
use super::throttle::FailureLimiter;

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
    /// The shared replay memory is unreachable: not the caller's fault (503, not 401).
    ReplayMemoryUnreachable,
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
            Rejection::ReplayMemoryUnreachable => "replay-memory-unreachable",
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

/// The claims read after the signature is checked, parsed here rather than by
/// jsonwebtoken: fhirbolt turns on serde_json's `arbitrary_precision`, under which
/// jsonwebtoken's own claim parsing refuses fractional times (NumericDate allows them,
/// RFC 7519 section 2) and `nbf: null`.
#[derive(Debug, Clone, PartialEq)]
struct Claims {
    exp: f64,
    iat: f64,
    jti: String,
    tenant: Option<String>,
    sub: Option<String>,
}

/// What the claims are checked against, and when.
struct ClaimRules<'a> {
    issuer: &'a str,
    audience: &'a str,
    now: f64,
    skew: f64,
    max_lifetime: f64,
}

/// A NumericDate: a finite JSON number, fractions and exponents allowed.
fn numeric_date(v: &Value) -> Option<f64> {
    v.as_f64().filter(|n| n.is_finite())
}

/// Check the claims of a token whose signature has been verified.
fn check_claims(payload: &Value, rules: &ClaimRules<'_>) -> Result<Claims, Rejection> {
    let claims = payload.as_object().ok_or(Rejection::Malformed)?;
    let string = |name: &str| -> Result<Option<String>, Rejection> {
        match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Rejection::MissingClaim),
        }
    };
    let time = |name: &str| -> Result<Option<f64>, Rejection> {
        match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => numeric_date(v).map(Some).ok_or(Rejection::MissingClaim),
        }
    };
    if string("iss")?.as_deref() != Some(rules.issuer) {
        return Err(Rejection::UnknownIssuer);
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == rules.audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(rules.audience)),
        None | Some(Value::Null) => return Err(Rejection::MissingClaim),
        Some(_) => false,
    };
    let exp = time("exp")?.ok_or(Rejection::MissingClaim)?;
    let iat = time("iat")?.ok_or(Rejection::MissingClaim)?;
    let nbf = time("nbf")?;
    let jti = string("jti")?.ok_or(Rejection::MissingClaim)?;
    let tenant = string("tenant")?;
    let sub = string("sub")?;
    if exp + rules.skew < rules.now {
        return Err(Rejection::Expired);
    }
    if nbf.is_some_and(|nbf| nbf > rules.now + rules.skew) {
        return Err(Rejection::NotYetValid);
    }
    if !audience_ok {
        return Err(Rejection::WrongAudience);
    }
    if iat > rules.now + rules.skew {
        return Err(Rejection::IssuedInFuture);
    }
    if exp - iat > rules.max_lifetime {
        return Err(Rejection::LifetimeTooLong);
    }
    if jti.is_empty() || jti.len() > MAX_JTI_BYTES {
        return Err(Rejection::MissingClaim);
    }
    Ok(Claims {
        exp,
        iat,
        jti,
        tenant,
        sub,
    })
}

/// One trusted issuer: its keys and its own replay memory (a quota of its own, so one
/// issuer cannot fill the memory and lock the others out).
struct Issuer {
    keys: IssuerKeys,
    replay: Mutex<ReplayGuard>,
}

pub struct JwtVerifier {
    issuers: HashMap<String, Issuer>,
    // Boxed: the limiter is large, and the verifier sits in an enum beside a unit variant.
    throttle: Option<Box<FailureLimiter>>,
    skew: Duration,
    max_lifetime: Duration,
    client: reqwest::Client,
    replay_capacity: usize,
    /// Set when replicas share the store: it replaces each issuer's local guard.
    shared_replay: Option<Arc<dyn SharedReplay>>,
}

impl JwtVerifier {
    pub fn new(settings: &JwtSettings, client: reqwest::Client) -> Self {
        let issuers = settings
            .issuers
            .iter()
            .map(|i| {
                let keys = IssuerKeys::new(i.jwks.clone(), settings.jwks_min_refresh, settings.jwks_max_age);
                let replay = Mutex::new(ReplayGuard::new(settings.replay_capacity));
                (i.issuer.clone(), Issuer { keys, replay })
            })
            .collect();
        JwtVerifier {
            issuers,
            throttle: FailureLimiter::new(settings.failures_per_minute).map(Box::new),
            skew: settings.skew,
            max_lifetime: settings.max_lifetime,
            client,
            replay_capacity: settings.replay_capacity,
            shared_replay: None,
        }
    }

    /// Remember `jti`s in `shared` (the replicas' common store) instead of this process.
    pub fn with_shared_replay(mut self, shared: Arc<dyn SharedReplay>) -> Self {
        self.shared_replay = Some(shared);
        self
    }

    /// How long `peer` must still wait before its tokens are looked at again, when it
    /// failed too often.
    pub fn throttled(&self, peer: Option<IpAddr>) -> Option<Duration> {
        self.throttle.as_ref()?.throttled(peer?)
    }

    /// Count a failed authentication of `peer`; `Some(wait)` when it is now throttled.
    pub fn record_failure(&self, peer: Option<IpAddr>) -> Option<Duration> {
        self.throttle.as_ref()?.record_failure(peer?)
    }

    /// Each configured issuer with the `jti`s it has in memory and its quota, for the
    /// fill-level metric.
    pub fn replay_fill(&self) -> Vec<(&str, usize, usize)> {
        self.issuers
            .iter()
            .filter_map(|(name, i)| {
                if let Some(shared) = &self.shared_replay {
                    return Some((name.as_str(), shared.fill(name), self.replay_capacity));
                }
                let g = i.replay.lock().ok()?;
                Some((name.as_str(), g.len(), g.capacity()))
            })
            .collect()
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
        let (Some(head), Some(body), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Rejection::Malformed);
        };
        let signing_input = &token[..head.len() + 1 + body.len()];
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
        let trusted = self.issuers.get(&issuer).ok_or(Rejection::UnknownIssuer)?;
        let keys = &trusted.keys;
        if let Some(jku) = &head.jku
            && Url::parse(jku).ok().as_ref() != Some(keys.location())
        {
            return Err(Rejection::UnlistedJku);
        }
        let key = keys.key(&self.client, kid).await.ok_or(Rejection::UnknownKid)?;
        if !key.accepts(alg) {
            return Err(Rejection::KeyDoesNotFitAlgorithm);
        }

        match jsonwebtoken::crypto::verify(signature, signing_input.as_bytes(), &key.key, alg) {
            Ok(true) => {}
            Ok(false) => return Err(Rejection::BadSignature),
            Err(e) => {
                return Err(match e.kind() {
                    ErrorKind::InvalidAlgorithm | ErrorKind::InvalidKeyFormat => Rejection::KeyDoesNotFitAlgorithm,
                    ErrorKind::Base64(_) => Rejection::Malformed,
                    _ => Rejection::BadSignature,
                });
            }
        }
        let payload: Value = decode_part(body)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let skew = self.skew.as_secs_f64();
        let claims = check_claims(
            &payload,
            &ClaimRules {
                issuer: &issuer,
                audience,
                now,
                skew,
                max_lifetime: self.max_lifetime.as_secs_f64(),
            },
        )?;
        // Remember the id until the token is unusable even with skew.
        let forget_at = (claims.exp + skew).ceil() as u64;
        let remembered = match &self.shared_replay {
            Some(shared) => {
                shared
                    .remember(&issuer, &claims.jti, forget_at, now as u64, self.replay_capacity)
                    .await
            }
            None => trusted
                .replay
                .lock()
                .map_err(|_| ReplayError::Full)
                .and_then(|mut g| g.remember(&claims.jti, forget_at, now as u64)),
        };
        remembered.map_err(|e| match e {
            ReplayError::Replayed => Rejection::Replayed,
            ReplayError::Full => Rejection::ReplayMemoryFull,
            ReplayError::Unavailable => Rejection::ReplayMemoryUnreachable,
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

    fn rules() -> ClaimRules<'static> {
        ClaimRules {
            issuer: "iss-a",
            audience: "https://cds.example/cds-services",
            now: 1_000_000.0,
            skew: 30.0,
            max_lifetime: 600.0,
        }
    }

    fn claims(extra: Value) -> Value {
        let mut c = serde_json::json!({"iss": "iss-a", "aud": "https://cds.example/cds-services",
            "iat": 1_000_000, "exp": 1_000_300, "jti": "j1"});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    #[test]
    fn fractional_times_exponents_and_null_nbf_are_numeric_dates() {
        let c = check_claims(
            &claims(serde_json::json!({"exp": 1_000_300.5, "iat": 999_999.75, "nbf": null})),
            &rules(),
        )
        .unwrap();
        assert_eq!((c.exp, c.iat), (1_000_300.5, 999_999.75));
        let exponent: Value = serde_json::from_str(r#"{"exp": 1.0003e6, "nbf": 9.9e5}"#).unwrap();
        assert!(check_claims(&claims(exponent), &rules()).is_ok());
    }

    #[test]
    fn each_claim_rule_has_its_rejection() {
        let r = rules();
        let check = |extra: Value| check_claims(&claims(extra), &r).map(|_| ());
        use serde_json::json;
        assert_eq!(check(json!({})), Ok(()));
        assert_eq!(check(json!({"aud": ["x", "https://cds.example/cds-services"]})), Ok(()));
        assert_eq!(check(json!({"exp": "1000300"})), Err(Rejection::MissingClaim));
        assert_eq!(check(json!({"exp": null})), Err(Rejection::MissingClaim));
        assert_eq!(check(json!({"iat": null})), Err(Rejection::MissingClaim));
        assert_eq!(check(json!({"jti": 5})), Err(Rejection::MissingClaim));
        assert_eq!(check(json!({"jti": ""})), Err(Rejection::MissingClaim));
        assert_eq!(check(json!({"aud": null})), Err(Rejection::MissingClaim));
        assert_eq!(check(json!({"iss": "iss-b"})), Err(Rejection::UnknownIssuer));
        assert_eq!(check(json!({"iss": ["iss-a"]})), Err(Rejection::MissingClaim));
        assert_eq!(
            check(json!({"aud": "https://cds.example/x"})),
            Err(Rejection::WrongAudience)
        );
        assert_eq!(check(json!({"aud": 7})), Err(Rejection::WrongAudience));
        assert_eq!(
            check(json!({"exp": 999_969.5, "iat": 999_900})),
            Err(Rejection::Expired)
        );
        // Within the skew is still valid.
        assert_eq!(check(json!({"exp": 999_970.5, "iat": 999_900})), Ok(()));
        assert_eq!(check(json!({"nbf": 1_000_030.5})), Err(Rejection::NotYetValid));
        assert_eq!(check(json!({"nbf": "soon"})), Err(Rejection::MissingClaim));
        assert_eq!(
            check(json!({"iat": 1_000_031, "exp": 1_000_100})),
            Err(Rejection::IssuedInFuture)
        );
        assert_eq!(check(json!({"exp": 1_000_600.5})), Err(Rejection::LifetimeTooLong));
        assert_eq!(check_claims(&json!([1]), &r).map(|_| ()), Err(Rejection::Malformed));
    }
}
