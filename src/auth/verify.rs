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
use super::claims::{ClaimRules, Claims, check_claims};
use super::jwks::IssuerKeys;
use super::replay::{ReplayError, ReplayGuard, SharedReplay};
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
    /// called). The steps, in the order the module's comment gives.
    pub async fn verify(&self, authorization: Option<&str>, audience: &str) -> Result<Caller, Rejection> {
        let token = Token::split(bearer_token(authorization)?)?;
        let header = read_header(token.head)?;
        let (issuer, trusted) = self.trusted_issuer(token.body, header.jku.as_deref())?;
        let key = trusted
            .keys
            .key(&self.client, &header.kid)
            .await
            .ok_or(Rejection::UnknownKid)?;
        if !key.accepts(header.alg) {
            return Err(Rejection::KeyDoesNotFitAlgorithm);
        }
        check_signature(&token, &key.key, header.alg)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let claims = check_claims(
            &decode_part(token.body)?,
            &ClaimRules {
                issuer: &issuer,
                audience,
                now,
                skew: self.skew.as_secs_f64(),
                max_lifetime: self.max_lifetime.as_secs_f64(),
            },
        )?;
        self.remember(&issuer, trusted, &claims, now).await?;
        Ok(Caller {
            issuer,
            tenant: claims.tenant,
            subject: claims.sub,
        })
    }

    /// The configured issuer the (still unverified) token names, when its `jku`, if
    /// any, is the one configured for it: no key is fetched from elsewhere.
    fn trusted_issuer(&self, body: &str, jku: Option<&str>) -> Result<(String, &Issuer), Rejection> {
        let issuer = decode_part::<UnverifiedIssuer>(body)?
            .iss
            .ok_or(Rejection::MissingClaim)?;
        let trusted = self.issuers.get(&issuer).ok_or(Rejection::UnknownIssuer)?;
        if let Some(jku) = jku
            && Url::parse(jku).ok().as_ref() != Some(trusted.keys.location())
        {
            return Err(Rejection::UnlistedJku);
        }
        Ok((issuer, trusted))
    }

    /// Remember the token's id (signature and claims have passed) until the token is
    /// unusable even with skew: in the replicas' shared memory, else the issuer's own.
    async fn remember(&self, issuer: &str, trusted: &Issuer, claims: &Claims, now: f64) -> Result<(), Rejection> {
        let forget_at = (claims.exp + self.skew.as_secs_f64()).ceil() as u64;
        let remembered = match &self.shared_replay {
            Some(shared) => {
                shared
                    .remember(issuer, &claims.jti, forget_at, now as u64, self.replay_capacity)
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
        })
    }
}

/// The token of a `Bearer` authorization.
fn bearer_token(authorization: Option<&str>) -> Result<&str, Rejection> {
    let header = authorization.ok_or(Rejection::MissingHeader)?;
    match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(token.trim()),
        _ => Err(Rejection::NotBearer),
    }
}

/// A compact JWS in its three parts, still encoded.
struct Token<'a> {
    head: &'a str,
    body: &'a str,
    signature: &'a str,
    /// `head.body`, what the signature covers.
    signing_input: &'a str,
}

impl<'a> Token<'a> {
    fn split(token: &'a str) -> Result<Self, Rejection> {
        let mut parts = token.split('.');
        let (Some(head), Some(body), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Rejection::Malformed);
        };
        Ok(Token {
            head,
            body,
            signature,
            signing_input: &token[..head.len() + 1 + body.len()],
        })
    }
}

/// What the header says, once accepted.
struct Header {
    alg: Algorithm,
    kid: String,
    jku: Option<String>,
}

fn read_header(head: &str) -> Result<Header, Rejection> {
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
    Ok(Header {
        alg,
        kid: head.kid.ok_or(Rejection::MissingKid)?,
        jku: head.jku,
    })
}

fn check_signature(token: &Token<'_>, key: &jsonwebtoken::DecodingKey, alg: Algorithm) -> Result<(), Rejection> {
    match jsonwebtoken::crypto::verify(token.signature, token.signing_input.as_bytes(), key, alg) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Rejection::BadSignature),
        Err(e) => Err(match e.kind() {
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidKeyFormat => Rejection::KeyDoesNotFitAlgorithm,
            ErrorKind::Base64(_) => Rejection::Malformed,
            _ => Rejection::BadSignature,
        }),
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
