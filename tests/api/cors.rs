//! Requirement 24: CORS for browser clients from an explicit allowlist, never `*`, never
//! with credentials.

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::keys::issuer_keys;

const SANDBOX: &str = "https://sandbox.cds-hooks.test";

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/cds-services/omalizumab-order-sign", app.address),
        )
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization, content-type")
        .send()
        .await
        .unwrap()
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_listed_origin_gets_its_preflight_answered_without_credentials() {
    let app = spawn_app_with(&[("CDS_CORS_ORIGINS", SANDBOX)]).await;
    let resp = preflight(&app, SANDBOX).await;
    assert!(resp.status().is_success(), "{}", resp.status());
    assert_eq!(header(&resp, "access-control-allow-origin"), Some(SANDBOX));
    assert_eq!(header(&resp, "access-control-allow-credentials"), None);
    let allowed = header(&resp, "access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    let methods = header(&resp, "access-control-allow-methods").unwrap();
    assert!(methods.contains("POST"), "{methods}");

    // The actual call from that origin carries the origin back, and Vary: Origin.
    let discovery = app
        .client
        .get(format!("{}/cds-services", app.address))
        .header("Origin", SANDBOX)
        .bearer_auth(issuer_keys().es384.token_for("/cds-services"))
        .send()
        .await
        .unwrap();
    assert_eq!(discovery.status(), 200);
    assert_eq!(header(&discovery, "access-control-allow-origin"), Some(SANDBOX));
    assert!(header(&discovery, "vary").is_some_and(|v| v.to_ascii_lowercase().contains("origin")));
}

#[tokio::test]
async fn other_origins_and_an_empty_list_get_no_cors_grant() {
    let app = spawn_app_with(&[("CDS_CORS_ORIGINS", SANDBOX)]).await;
    for origin in [
        "https://evil.example",
        "https://sandbox.cds-hooks.test.evil.example",
        "null",
    ] {
        let resp = preflight(&app, origin).await;
        assert_eq!(header(&resp, "access-control-allow-origin"), None, "{origin}");
    }
    let closed = spawn_app().await;
    let resp = preflight(&closed, SANDBOX).await;
    assert_eq!(header(&resp, "access-control-allow-origin"), None);
    for resp in [preflight(&app, SANDBOX).await, preflight(&closed, SANDBOX).await] {
        assert_ne!(header(&resp, "access-control-allow-origin"), Some("*"));
    }
}

/// A refused preflight is an error like every other: an OperationOutcome with the
/// stable code, not actix-cors's plain text.
#[tokio::test]
async fn a_refused_preflight_answers_with_an_operation_outcome() {
    let app = spawn_app_with(&[("CDS_CORS_ORIGINS", SANDBOX)]).await;
    let closed = spawn_app().await;
    for (app, origin) in [(&app, "https://evil.example"), (&closed, SANDBOX)] {
        let resp = preflight(app, origin).await;
        assert_eq!(resp.status(), 400, "{origin}");
        assert_eq!(header(&resp, "content-type"), Some("application/fhir+json"));
        assert_eq!(header(&resp, "access-control-allow-origin"), None);
        assert!(header(&resp, "vary").is_some_and(|v| v.to_ascii_lowercase().contains("origin")));
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["resourceType"], "OperationOutcome");
        assert_eq!(body["issue"][0]["details"]["coding"][0]["code"], "invalid-request");
        let why = body["issue"][0]["diagnostics"].as_str().unwrap();
        assert!(why.contains("CORS") && why.contains("CDS_CORS_ORIGINS"), "{why}");
    }
    // A method the list does not allow is refused the same way.
    let resp = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/cds-services", app.address))
        .header("Origin", SANDBOX)
        .header("Access-Control-Request-Method", "DELETE")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["resourceType"], "OperationOutcome");
}
