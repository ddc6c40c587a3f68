//! Requirements 20-23: every call carries a client JWT that is checked in full. Each row
//! of the matrix is a token an attacker or a misconfigured EHR could send; every one
//! gets the same generic 401, and only the valid token gets through (once).

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, scenario, spawn_app, spawn_app_with};
use crate::keys::{ISSUER, PUBLIC_URL, SigningKey, claims_for, hs256, issuer_keys, jwks, now, unsigned};

pub const HOOK: &str = "/cds-services/omalizumab-order-sign";

fn hook_body() -> Vec<u8> {
    let s = scenario("asthma-adult-dose-mismatch");
    serde_json::to_vec(&s.order_sign(Some(s.prefetch()), None)).unwrap()
}

/// Post the hook with `jwt` and return the status, checking that a 401 says nothing
/// about why.
async fn status_with(app: &TestApp, jwt: Option<&str>) -> u16 {
    let resp = app.post_with(HOOK, jwt, hook_body()).await;
    let status = resp.status().as_u16();
    if status == 401 {
        assert_eq!(
            resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["issue"][0]["diagnostics"], "authentication required", "{body}");
        assert_eq!(body["issue"][0]["details"]["coding"][0]["code"], "unauthorized");
    }
    status
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

#[tokio::test]
async fn valid_es384_and_rs384_tokens_are_accepted_with_extra_claims() {
    let app = spawn_app().await;
    let keys = issuer_keys();
    let es = keys.es384.token_for(HOOK);
    assert_eq!(status_with(&app, Some(&es)).await, 200);
    let rs = keys.rs384.token_for(HOOK);
    assert_eq!(status_with(&app, Some(&rs)).await, 200);
    // aud as an array; sub, nbf (past) and tenant are tolerated.
    let mut claims = claims_for(HOOK);
    claims["aud"] = json!([format!("{PUBLIC_URL}{HOOK}"), "https://other.example"]);
    claims["sub"] = json!("client-123");
    claims["nbf"] = json!(now() - 10);
    claims["tenant"] = json!("hospital-a");
    let token = keys.es384.token(&keys.es384.header(), &claims);
    assert_eq!(status_with(&app, Some(&token)).await, 200);
}

/// Issue 13 item 10: NumericDate may be fractional (RFC 7519 section 2), and `nbf: null`
/// is an absent `nbf`; both were refused as `missing-claim`.
#[tokio::test]
async fn fractional_times_and_a_null_nbf_are_accepted() {
    let app = spawn_app().await;
    let es = &issuer_keys().es384;
    let t = now() as f64;
    let fractional = with(with(claims_for(HOOK), "exp", json!(t + 300.5)), "iat", json!(t - 0.25));
    assert_eq!(status_with(&app, Some(&es.token(&es.header(), &fractional))).await, 200);
    let null_nbf = with(claims_for(HOOK), "nbf", Value::Null);
    assert_eq!(status_with(&app, Some(&es.token(&es.header(), &null_nbf))).await, 200);
    let fractional_nbf = with(claims_for(HOOK), "nbf", json!(t - 1.5));
    assert_eq!(
        status_with(&app, Some(&es.token(&es.header(), &fractional_nbf))).await,
        200
    );
    // An exponent is a number too (parsed from text, so the exponent is what is sent).
    let exp: Value = serde_json::from_str(&format!("{}e0", now() + 300)).unwrap();
    let exponent = with(claims_for(HOOK), "exp", exp);
    assert_eq!(status_with(&app, Some(&es.token(&es.header(), &exponent))).await, 200);
}

#[tokio::test]
async fn a_token_is_accepted_exactly_once_per_jti() {
    let app = spawn_app().await;
    let token = issuer_keys().es384.token_for(HOOK);
    assert_eq!(status_with(&app, Some(&token)).await, 200);
    assert_eq!(status_with(&app, Some(&token)).await, 401);
    // The same jti in a freshly signed token is still a replay.
    let claims = claims_for(HOOK);
    let first = issuer_keys().rs384.token(&issuer_keys().rs384.header(), &claims);
    let again = issuer_keys().es384.token(&issuer_keys().es384.header(), &claims);
    assert_eq!(status_with(&app, Some(&first)).await, 200);
    assert_eq!(status_with(&app, Some(&again)).await, 401);
}

/// Every token that must be refused, by name: requirement 21-23's matrix and the
/// tricks around it. All are for a call to HOOK.
pub fn rejection_matrix() -> Vec<(&'static str, Option<String>)> {
    let keys = issuer_keys();
    let es = &keys.es384;
    let good = || claims_for(HOOK);
    let stranger = SigningKey::es384(&es.kid);
    let other_curve = SigningKey::es256(&es.kid);
    vec![
        ("no header", None),
        ("malformed", Some("not-a-jwt".into())),
        ("two parts", Some("eyJhbGciOiJFUzM4NCJ9.e30".into())),
        (
            "alg none",
            Some(unsigned(&json!({"alg": "none", "typ": "JWT", "kid": es.kid}), &good())),
        ),
        (
            "HS256 keyed with the public key",
            Some(hs256(
                &json!({"alg": "HS256", "typ": "JWT", "kid": es.kid}),
                &good(),
                &es.public_bytes(),
            )),
        ),
        (
            "HS256 keyed with the JWK x coordinate",
            Some(hs256(
                &json!({"alg": "HS256", "typ": "JWT", "kid": es.kid}),
                &good(),
                es.jwk()["x"].as_str().unwrap().as_bytes(),
            )),
        ),
        ("unknown key, known kid", Some(stranger.token(&es.header(), &good()))),
        (
            "unknown kid",
            Some(es.token(&json!({"alg": "ES384", "typ": "JWT", "kid": "nobody"}), &good())),
        ),
        (
            "no kid",
            Some(es.token(&json!({"alg": "ES384", "typ": "JWT"}), &good())),
        ),
        (
            "ES256 signature under a P-384 kid",
            Some(other_curve.token(&json!({"alg": "ES256", "typ": "JWT", "kid": es.kid}), &good())),
        ),
        (
            "RS384 header naming an EC key",
            Some(
                keys.rs384
                    .token(&json!({"alg": "RS384", "typ": "JWT", "kid": es.kid}), &good()),
            ),
        ),
        (
            "RS256 with a key whose JWK pins RS384",
            Some(
                keys.rs384
                    .token(&json!({"alg": "RS256", "typ": "JWT", "kid": keys.rs384.kid}), &good()),
            ),
        ),
        (
            "typ not JWT",
            Some(es.token(&json!({"alg": "ES384", "typ": "JWE", "kid": es.kid}), &good())),
        ),
        (
            "expired",
            Some(es.token(
                &es.header(),
                &with(with(good(), "exp", json!(now() - 120)), "iat", json!(now() - 300)),
            )),
        ),
        (
            "iat in the future",
            Some(es.token(
                &es.header(),
                &with(with(good(), "iat", json!(now() + 120)), "exp", json!(now() + 300)),
            )),
        ),
        (
            "nbf in the future",
            Some(es.token(&es.header(), &with(good(), "nbf", json!(now() + 120)))),
        ),
        (
            "lifetime longer than allowed",
            Some(es.token(&es.header(), &with(good(), "exp", json!(now() + 86_400)))),
        ),
        (
            "aud of another service",
            Some(es.token(
                &es.header(),
                &with(good(), "aud", json!(format!("{PUBLIC_URL}/cds-services/other"))),
            )),
        ),
        (
            "aud of another host",
            Some(es.token(
                &es.header(),
                &with(good(), "aud", json!(format!("https://evil.example{HOOK}"))),
            )),
        ),
        (
            "aud array without us",
            Some(es.token(&es.header(), &with(good(), "aud", json!(["https://a.example"])))),
        ),
        (
            "unknown iss",
            Some(es.token(&es.header(), &with(good(), "iss", json!("https://evil.example")))),
        ),
        (
            "no jti",
            Some(es.token(&es.header(), &{
                let mut c = good();
                c.as_object_mut().unwrap().remove("jti");
                c
            })),
        ),
        (
            "no iat",
            Some(es.token(&es.header(), &{
                let mut c = good();
                c.as_object_mut().unwrap().remove("iat");
                c
            })),
        ),
        (
            "no aud",
            Some(es.token(&es.header(), &{
                let mut c = good();
                c.as_object_mut().unwrap().remove("aud");
                c
            })),
        ),
        // Issue 13 item 9: RFC 7515 4.1.11, a `crit` header this verifier does not
        // understand (and it understands none) makes the token invalid.
        (
            "crit naming a registered claim",
            Some(es.token(&with(es.header(), "crit", json!(["exp"])), &good())),
        ),
        (
            "crit naming an unknown extension",
            Some(es.token(
                &with(with(es.header(), "crit", json!(["urn:x:ext"])), "urn:x:ext", json!(1)),
                &good(),
            )),
        ),
        (
            "crit empty",
            Some(es.token(&with(es.header(), "crit", json!([])), &good())),
        ),
        (
            "crit null",
            Some(es.token(&with(es.header(), "crit", Value::Null), &good())),
        ),
        (
            "b64 false",
            Some(es.token(
                &with(with(es.header(), "crit", json!(["b64"])), "b64", json!(false)),
                &good(),
            )),
        ),
        (
            "b64 false without crit",
            Some(es.token(&with(es.header(), "b64", json!(false)), &good())),
        ),
        (
            "exp as a string",
            Some(es.token(&es.header(), &with(good(), "exp", json!((now() + 300).to_string())))),
        ),
        (
            "iss as an array",
            Some(es.token(&es.header(), &with(good(), "iss", json!([ISSUER])))),
        ),
        (
            "no exp",
            Some(es.token(&es.header(), &{
                let mut c = good();
                c.as_object_mut().unwrap().remove("exp");
                c
            })),
        ),
        (
            "fractional exp already past",
            Some(es.token(
                &es.header(),
                &with(
                    with(good(), "exp", json!(now() as f64 - 60.5)),
                    "iat",
                    json!(now() as f64 - 200.25),
                ),
            )),
        ),
        ("signature of another token", {
            let a = es.token_for(HOOK);
            let b = es.token_for(HOOK);
            let (a_input, _) = a.rsplit_once('.').unwrap();
            let (_, b_sig) = b.rsplit_once('.').unwrap();
            Some(format!("{a_input}.{b_sig}"))
        }),
    ]
}

#[tokio::test]
async fn every_row_of_the_rejection_matrix_is_401() {
    let app = spawn_app().await;
    let es = &issuer_keys().es384;
    let rows = rejection_matrix();
    for (row, token) in rows {
        assert_eq!(status_with(&app, token.as_deref()).await, 401, "row: {row}");
    }
    // The app still takes a good token after all that.
    assert_eq!(status_with(&app, Some(&es.token_for(HOOK))).await, 200);
}

#[tokio::test]
async fn a_jku_off_the_allowlist_is_never_fetched() {
    let evil = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks(&[&issuer_keys().es384])))
        .expect(0)
        .mount(&evil)
        .await;
    let app = spawn_app().await;
    let es = &issuer_keys().es384;
    let mut header = es.header();
    header["jku"] = json!(format!("{}/jwks.json", evil.uri()));
    assert_eq!(
        status_with(&app, Some(&es.token(&header, &claims_for(HOOK)))).await,
        401
    );
}

#[tokio::test]
async fn every_endpoint_needs_a_token_for_its_own_url() {
    let app = spawn_app().await;
    let es = &issuer_keys().es384;
    let discovery = format!("{}/cds-services", app.address);
    assert_eq!(app.client.get(&discovery).send().await.unwrap().status(), 401);
    let ok = app
        .client
        .get(&discovery)
        .bearer_auth(es.token_for("/cds-services"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // A token minted for the hook does not open discovery.
    let wrong = app
        .client
        .get(&discovery)
        .bearer_auth(es.token_for(HOOK))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let feedback = format!("{HOOK}/feedback");
    let body = serde_json::to_vec(&json!({"feedback": [{"card": "c1", "outcome": "accepted",
        "outcomeTimestamp": "2026-11-23T10:00:00Z", "acceptedSuggestions": [{"id": "s1"}]}]}))
    .unwrap();
    assert_eq!(app.post_with(&feedback, None, body.clone()).await.status(), 401);
    // Past authentication: refused only because no such card was issued.
    let token = es.token_for(&feedback);
    assert_eq!(app.post_with(&feedback, Some(&token), body).await.status(), 400);
}

/// The JWKS over https is modelled by a loopback http server (allowed for loopback).
async fn jwks_server(keys: &[&SigningKey]) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwks.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks(keys)))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn unknown_kids_cannot_trigger_a_flood_of_key_set_fetches() {
    let server = jwks_server(&[&issuer_keys().es384]).await;
    let issuers = format!("{ISSUER}={}/jwks.json", server.uri());
    let app = spawn_app_with(&[("CDS_JWT_ISSUERS", &issuers), ("CDS_JWKS_MIN_REFRESH_SECS", "3600")]).await;
    assert_eq!(status_with(&app, Some(&issuer_keys().es384.token_for(HOOK))).await, 200);
    let es = &issuer_keys().es384;
    for i in 0..25 {
        let header = json!({"alg": "ES384", "typ": "JWT", "kid": format!("random-{i}")});
        assert_eq!(
            status_with(&app, Some(&es.token(&header, &claims_for(HOOK)))).await,
            401
        );
    }
    // One fetch for the first token; the unknown kids came within the refresh interval.
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    // A jku equal to the configured URL is accepted.
    let mut header = es.header();
    header["jku"] = json!(format!("{}/jwks.json", server.uri()));
    assert_eq!(
        status_with(&app, Some(&es.token(&header, &claims_for(HOOK)))).await,
        200
    );
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_on_its_first_use() {
    let old = SigningKey::es384("2026-old");
    let new = SigningKey::es384("2026-new");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwks.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks(&[&old])))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jwks.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks(&[&old, &new])))
        .mount(&server)
        .await;
    let issuers = format!("{ISSUER}={}/jwks.json", server.uri());
    let app = spawn_app_with(&[("CDS_JWT_ISSUERS", &issuers), ("CDS_JWKS_MIN_REFRESH_SECS", "0")]).await;
    assert_eq!(status_with(&app, Some(&old.token_for(HOOK))).await, 200);
    assert_eq!(status_with(&app, Some(&new.token_for(HOOK))).await, 200);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_full_replay_memory_refuses_rather_than_forgets() {
    let app = spawn_app_with(&[("CDS_JWT_REPLAY_CAPACITY", "2")]).await;
    let es = &issuer_keys().es384;
    assert_eq!(status_with(&app, Some(&es.token_for(HOOK))).await, 200);
    assert_eq!(status_with(&app, Some(&es.token_for(HOOK))).await, 200);
    assert_eq!(status_with(&app, Some(&es.token_for(HOOK))).await, 401);
}

#[tokio::test]
async fn with_authentication_off_no_token_is_needed() {
    let app = spawn_app_with(&[("CDS_AUTH", "none")]).await;
    assert_eq!(status_with(&app, None).await, 200);
}

/// Issue 13 item 6: one issuer (or one stolen key) filling the replay memory locked
/// every other issuer out. Each issuer has its own quota, and the fill level of each is
/// on /metrics.
#[tokio::test]
async fn each_issuer_has_its_own_replay_quota_shown_in_metrics() {
    let other = SigningKey::es384("other-ehr-1");
    let dir = tempfile::tempdir().unwrap();
    let other_jwks = dir.path().join("other.json");
    std::fs::write(&other_jwks, jwks(&[&other]).to_string()).unwrap();
    let main_jwks = dir.path().join("main.json");
    std::fs::write(&main_jwks, jwks(&[&issuer_keys().es384]).to_string()).unwrap();
    let other_iss = "https://other-ehr.example";
    let issuers = format!(
        "{ISSUER}={},{other_iss}={}",
        url::Url::from_file_path(&main_jwks).unwrap(),
        url::Url::from_file_path(&other_jwks).unwrap()
    );
    let app = spawn_app_with(&[("CDS_JWT_ISSUERS", &issuers), ("CDS_JWT_REPLAY_CAPACITY", "2")]).await;
    let es = &issuer_keys().es384;
    assert_eq!(status_with(&app, Some(&es.token_for(HOOK))).await, 200);
    assert_eq!(status_with(&app, Some(&es.token_for(HOOK))).await, 200);
    assert_eq!(
        status_with(&app, Some(&es.token_for(HOOK))).await,
        401,
        "first issuer full"
    );
    let from_other = || other.token(&other.header(), &with(claims_for(HOOK), "iss", json!(other_iss)));
    assert_eq!(
        status_with(&app, Some(&from_other())).await,
        200,
        "second issuer unaffected"
    );
    let text = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(&format!(r#"omalizumab_cds_jwt_replay_ids{{issuer="{ISSUER}"}} 2"#)),
        "{text}"
    );
    assert!(
        text.contains(&format!(r#"omalizumab_cds_jwt_replay_ids{{issuer="{other_iss}"}} 1"#)),
        "{text}"
    );
    assert!(text.contains("omalizumab_cds_jwt_replay_capacity 2"), "{text}");
}

/// Issue 13 item 12: a key set past CDS_JWKS_MAX_AGE_SECS was fetched again before the
/// request that found it old could go on, so a slow JWKS host held every valid request
/// of that issuer. Known keys are served while the set is refreshed in the background.
#[tokio::test]
async fn an_old_key_set_is_refreshed_in_the_background_while_its_keys_serve() {
    let es = &issuer_keys().es384;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwks.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks(&[es])))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jwks.json"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(jwks(&[es]))
                .set_delay(std::time::Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let issuers = format!("{ISSUER}={}/jwks.json", server.uri());
    let app = spawn_app_with(&[
        ("CDS_JWT_ISSUERS", &issuers),
        ("CDS_JWKS_MAX_AGE_SECS", "0"),
        ("CDS_JWKS_MIN_REFRESH_SECS", "0"),
    ])
    .await;
    assert_eq!(status_with(&app, Some(&es.token_for(HOOK))).await, 200);
    for _ in 0..3 {
        let started = std::time::Instant::now();
        assert_eq!(status_with(&app, Some(&es.token_for(HOOK))).await, 200);
        assert!(
            started.elapsed() < std::time::Duration::from_millis(1500),
            "waited {:?} for the key set",
            started.elapsed()
        );
    }
    // The refresh did start (one at a time, however many requests found the set old).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

/// Issue 13 item 13: every forged token with a real kid costs a signature check, so a
/// peer that keeps failing is answered 429 (an OperationOutcome, with Retry-After)
/// before any further work, valid tokens included, until its quota refills.
#[tokio::test]
async fn a_peer_that_keeps_failing_authentication_is_throttled_before_any_check() {
    let app = spawn_app_with(&[("CDS_AUTH_FAILURES_PER_MINUTE", "5")]).await;
    let es = &issuer_keys().es384;
    let forged = SigningKey::es384(&es.kid);
    for i in 0..5 {
        assert_eq!(
            status_with(&app, Some(&forged.token(&es.header(), &claims_for(HOOK)))).await,
            401,
            "failure {i}"
        );
    }
    let resp = app
        .post_with(HOOK, Some(&forged.token(&es.header(), &claims_for(HOOK))), hook_body())
        .await;
    assert_eq!(resp.status().as_u16(), 429);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["resourceType"], "OperationOutcome");
    assert_eq!(body["issue"][0]["details"]["coding"][0]["code"], "too-many-failures");
    // While throttled, even a valid token is not looked at.
    assert_eq!(status_with(&app, Some(&es.token_for(HOOK))).await, 429);
}
