//! One trusted issuer's public keys: read from its configured JWKS (a URL or a file),
//! prepared once per fetch, and fetched again only when a token names an unknown `kid`
//! (at most once per `min_refresh`) or the set is older than `max_age` (then in the
//! background, while the keys in hand go on serving).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use url::Url;

/// A key set is a few kilobytes; anything much larger is not one.
const MAX_JWKS_BYTES: usize = 256 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// RSA keys shorter than 2048 bits are refused (NIST SP 800-131A).
const MIN_RSA_MODULUS_BYTES: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    P256,
    P384,
    Rsa,
}

/// A public key ready to verify with, and what it may verify.
pub struct VerificationKey {
    pub key: DecodingKey,
    kind: KeyKind,
    /// The JWK's own `alg`, when it names one.
    alg: Option<Algorithm>,
}

impl VerificationKey {
    /// Whether a token signed with `alg` may be checked with this key: the family and
    /// curve must fit, and the JWK's `alg` (if any) must be the token's.
    pub fn accepts(&self, alg: Algorithm) -> bool {
        let fits = matches!(
            (alg, self.kind),
            (Algorithm::ES256, KeyKind::P256)
                | (Algorithm::ES384, KeyKind::P384)
                | (Algorithm::RS256, KeyKind::Rsa)
                | (Algorithm::RS384, KeyKind::Rsa)
        );
        fits && self.alg.is_none_or(|a| a == alg)
    }
}

/// Prepare every usable signing key of a JWKS document, by `kid`. Keys without a
/// `kid`, for encryption, of other types, or too weak are left out; the count of
/// those is returned for the log.
pub fn prepare(document: &Value) -> Result<(HashMap<String, Arc<VerificationKey>>, usize), String> {
    let keys = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("not a JWKS: no `keys` array")?;
    let mut prepared = HashMap::new();
    let mut skipped = 0;
    for raw in keys {
        match prepare_one(raw) {
            Some((kid, key)) => {
                prepared.insert(kid, Arc::new(key));
            }
            None => skipped += 1,
        }
    }
    Ok((prepared, skipped))
}

fn prepare_one(raw: &Value) -> Option<(String, VerificationKey)> {
    let jwk: Jwk = serde_json::from_value(raw.clone()).ok()?;
    let kid = jwk.common.key_id.clone()?;
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let kind = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => KeyKind::P256,
            EllipticCurve::P384 => KeyKind::P384,
            _ => return None,
        },
        AlgorithmParameters::RSA(rsa) => {
            let modulus = URL_SAFE_NO_PAD.decode(rsa.n.trim_end_matches('=')).ok()?;
            let significant = modulus.iter().skip_while(|b| **b == 0).count();
            if significant < MIN_RSA_MODULUS_BYTES {
                return None;
            }
            KeyKind::Rsa
        }
        _ => return None,
    };
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(a) => Some(a.to_string().parse::<Algorithm>().ok()?),
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some((kid, VerificationKey { key, kind, alg }))
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, Arc<VerificationKey>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    /// Bumped on every attempt, so a waiter can tell someone else just fetched.
    attempts: u64,
}

pub struct IssuerKeys {
    inner: Arc<Inner>,
}

struct Inner {
    location: Url,
    min_refresh: Duration,
    max_age: Duration,
    cached: RwLock<Cached>,
    /// One fetch at a time per issuer; concurrent callers wait for it and reuse it.
    fetching: tokio::sync::Mutex<()>,
    /// A background refresh is under way: later callers need not start another.
    refreshing: AtomicBool,
}

impl IssuerKeys {
    pub fn new(location: Url, min_refresh: Duration, max_age: Duration) -> Self {
        IssuerKeys {
            inner: Arc::new(Inner {
                location,
                min_refresh,
                max_age,
                cached: RwLock::new(Cached::default()),
                fetching: tokio::sync::Mutex::new(()),
                refreshing: AtomicBool::new(false),
            }),
        }
    }

    pub fn location(&self) -> &Url {
        &self.inner.location
    }

    /// The key named `kid`. A known key is returned at once; if the set is older than
    /// `max_age` it is fetched again in the background, so a slow or failing key host
    /// does not hold the issuer's valid requests (revoked keys go at the next successful
    /// fetch). An unknown `kid` waits for a fetch, within the refresh limits. `None`
    /// when the issuer has no such key.
    pub async fn key(&self, client: &reqwest::Client, kid: &str) -> Option<Arc<VerificationKey>> {
        let inner = &self.inner;
        let now = Instant::now();
        let (found, attempts, fresh, recently_tried) = {
            let c = inner.cached.read().ok()?;
            let fresh = c.fetched_at.is_some_and(|t| now.duration_since(t) < inner.max_age);
            let recently_tried = c
                .last_attempt
                .is_some_and(|t| now.duration_since(t) < inner.min_refresh);
            (c.keys.get(kid).cloned(), c.attempts, fresh, recently_tried)
        };
        if let Some(key) = found {
            if !fresh
                && !recently_tried
                && inner
                    .refreshing
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                let (inner, client) = (inner.clone(), client.clone());
                tokio::spawn(async move {
                    inner.refresh(&client, attempts).await;
                    inner.refreshing.store(false, Ordering::Release);
                });
            }
            return Some(key);
        }
        if recently_tried {
            return None;
        }
        inner.refresh(client, attempts).await;
        inner.cached.read().ok()?.keys.get(kid).cloned()
    }
}

impl Inner {
    /// Fetch the set again unless someone else did since `seen_attempts`.
    async fn refresh(&self, client: &reqwest::Client, seen_attempts: u64) {
        let _one_at_a_time = self.fetching.lock().await;
        let already_fetched = self.cached.read().map_or(true, |c| c.attempts != seen_attempts);
        if already_fetched {
            return;
        }
        let loaded = load(client, &self.location).await;
        let Ok(mut c) = self.cached.write() else {
            return;
        };
        c.attempts += 1;
        c.last_attempt = Some(Instant::now());
        match loaded {
            Ok((keys, skipped)) => {
                tracing::info!(jwks = %self.location, keys = keys.len(), skipped, "key set loaded");
                c.keys = keys;
                c.fetched_at = c.last_attempt;
            }
            // Keep the keys we had: a key server outage should not lock out every EHR.
            Err(e) => tracing::warn!(jwks = %self.location, error = %e, "key set could not be loaded"),
        }
    }
}

async fn load(
    client: &reqwest::Client,
    location: &Url,
) -> Result<(HashMap<String, Arc<VerificationKey>>, usize), String> {
    let bytes = if location.scheme() == "file" {
        let path = location
            .to_file_path()
            .map_err(|_| format!("{location} is not a file path"))?;
        // A small local file, read at most once per refresh interval: no need for async I/O.
        let size = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
        if size > MAX_JWKS_BYTES as u64 {
            return Err(format!("larger than {MAX_JWKS_BYTES} bytes"));
        }
        std::fs::read(&path).map_err(|e| e.to_string())?
    } else {
        fetch(client, location).await?
    };
    let document: Value = serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))?;
    prepare(&document)
}

async fn fetch(client: &reqwest::Client, location: &Url) -> Result<Vec<u8>, String> {
    let response = client
        .get(location.clone())
        .header("Accept", "application/json")
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("request failed: {}", e.without_url()))?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status().as_u16()));
    }
    let mut response = response;
    let mut body = crate::net::BoundedBody::new(MAX_JWKS_BYTES, None);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("read failed: {}", e.without_url()))?
    {
        body.push(&chunk)
            .map_err(|_| format!("larger than {MAX_JWKS_BYTES} bytes"))?;
    }
    Ok(body.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // A P-256 public key from RFC 7515 appendix A.3.
    fn p256() -> Value {
        json!({"kty": "EC", "crv": "P-256", "kid": "ec1",
               "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
               "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})
    }

    #[test]
    fn keys_are_prepared_by_kid_and_unusable_ones_skipped() {
        let doc = json!({"keys": [
            p256(),
            {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "short", "n": "sXch", "e": "AQAB"},
            {"kty": "EC", "crv": "P-256", "kid": "enc", "use": "enc",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
        ]});
        let (keys, skipped) = prepare(&doc).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["ec1"]);
        assert_eq!(skipped, 4);
        assert!(prepare(&json!({"nokeys": []})).is_err());
    }

    #[test]
    fn a_key_accepts_only_algorithms_of_its_family_curve_and_alg() {
        let (keys, _) = prepare(&json!({"keys": [p256()]})).unwrap();
        let ec = &keys["ec1"];
        assert!(ec.accepts(Algorithm::ES256));
        assert!(!ec.accepts(Algorithm::ES384));
        assert!(!ec.accepts(Algorithm::RS256));
        assert!(!ec.accepts(Algorithm::HS256));
        let mut pinned = p256();
        pinned["alg"] = json!("ES384");
        let (keys, _) = prepare(&json!({"keys": [pinned]})).unwrap();
        // The JWK says ES384 but the curve is P-256: nothing fits.
        assert!(!keys["ec1"].accepts(Algorithm::ES256));
        assert!(!keys["ec1"].accepts(Algorithm::ES384));
    }
}
