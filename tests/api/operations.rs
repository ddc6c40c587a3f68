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

/// Issue 13 item 1: a method is a caller-chosen token of any length; labelling the
/// request counter with it let 2,000 unauthenticated requests grow memory by 265 MB.
/// Unknown methods are answered 501 and counted as `other`; nothing of them is kept.
#[tokio::test]
async fn unknown_methods_are_refused_and_never_become_a_metric_label() {
    let app = spawn_app().await;
    for i in 0..3 {
        let name = format!("ZZWEIRDMETHOD{i}{}", "X".repeat(2000));
        let m = reqwest::Method::from_bytes(name.as_bytes()).unwrap();
        for path in ["/healthz", "/cds-services", "/nowhere"] {
            let resp = app
                .client
                .request(m.clone(), format!("{}{path}", app.address))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 501, "{path}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(
                body["issue"][0]["details"]["coding"][0]["code"],
                "method-not-implemented"
            );
        }
    }
    // DELETE is a real method, but nothing here takes it: answered and counted the same way.
    let resp = app
        .client
        .delete(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 501);
    let text = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("ZZWEIRDMETHOD"), "{text}");
    let other: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("omalizumab_cds_http_requests_total{") && l.contains(r#"method="other""#))
        .collect();
    // One series per route pattern, whatever the number of distinct methods.
    assert_eq!(other.len(), 3, "{text}");
    let total: u64 = other
        .iter()
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, 10, "{other:?}");
}
