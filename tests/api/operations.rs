//! /healthz, /readyz and /metrics: open to the operator without a client JWT, and the
//! metrics count what happened (requests by route, FHIR calls, cards by indicator).

use serde_json::Value;

use crate::helpers::{scenario, spawn_app};

#[tokio::test]
async fn health_and_readiness_answer_without_a_token() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let resp = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["status"] == "ok" || body["status"] == "ready", "{body}");
    }
}

#[tokio::test]
async fn metrics_count_requests_fhir_calls_and_cards() {
    let app = spawn_app().await;
    let s = scenario("asthma-adult-dose-mismatch");
    s.mount(&app.fhir).await;
    let resp = app
        .post_hook("omalizumab-order-sign", &s.order_sign(None, Some(&app.fhir_base())))
        .await;
    assert_eq!(resp.status(), 200);
    let unauthenticated = app
        .client
        .get(format!("{}/cds-services", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);

    let resp = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in\n{text}"))
            .to_string()
    };
    assert!(
        line(r#"omalizumab_cds_http_requests_total{method="POST",route="/cds-services/{id}",status="200"}"#)
            .ends_with(" 1")
    );
    assert!(
        line(r#"omalizumab_cds_http_requests_total{method="GET",route="/cds-services",status="401"}"#).ends_with(" 1")
    );
    assert!(line(r#"omalizumab_cds_cards_total{indicator="warning"}"#).ends_with(" 1"));
    // Eight prefetch keys fetched, each one call.
    assert!(
        line(r#"omalizumab_cds_fhir_calls_total{outcome="ok"}"#).ends_with(" 8"),
        "{text}"
    );
    assert!(text.contains("omalizumab_cds_fhir_call_seconds_bucket"));
    for secret in [crate::helpers::TOKEN, s.patient_id().as_str()] {
        assert!(!text.contains(secret), "{secret} in metrics");
    }
}
