//! /preview is served only in development (CDS_AUTH=none), runs the hook's engine, and
//! keeps to its own origin. Its page is tested in a real browser in tests/preview_browser.rs.

use serde_json::{Value, json};

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn the_preview_is_not_served_with_authentication_on() {
    // spawn_app's default is CDS_AUTH=jwt: CDS_PREVIEW defaults to off there.
    let app = spawn_app_with(&[]).await;
    for path in ["/preview", "/preview/api/profile"] {
        let resp = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
    let resp = app
        .client
        .post(format!("{}/preview/api/run", app.address))
        .json(&json!({"scenario": "asthma-adult-dose-mismatch"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn the_preview_runs_a_scenario_with_changes_through_the_engine() {
    let app = spawn_app_with(&[("CDS_AUTH", "none")]).await;
    let page = app.client.get(format!("{}/preview", app.address)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(
        csp.contains("connect-src 'self'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(page.text().await.unwrap().contains("/preview/app.js"));

    let run = |body: Value| {
        let client = app.client.clone();
        let url = format!("{}/preview/api/run", app.address);
        async move { client.post(url).json(&body).send().await.unwrap() }
    };
    let answer: Value = run(json!({"scenario": "asthma-adult-dose-mismatch", "changes": {"weight": 60}}))
        .await
        .json()
        .await
        .unwrap();
    let card = &answer["response"]["cards"][0];
    assert_eq!(card["indicator"], "info");
    assert_eq!(card["source"]["topic"]["code"], "dose-matches");
    let result = &answer["results"][0];
    assert_eq!(
        result["table"],
        json!({"id": "asthma-12-and-older", "finding": "dose", "row": 2, "column": 0})
    );
    assert_eq!(result["inputs"]["weightKg"], 60.0);

    let refused = run(json!({"scenario": "no-such-scenario"})).await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["resourceType"], "OperationOutcome");

    // Another site's form cannot post here: a JSON content type is required (which a
    // cross-origin page can send only after a preflight that nothing grants).
    let form = app
        .client
        .post(format!("{}/preview/api/run", app.address))
        .header("Content-Type", "text/plain")
        .body(r#"{"scenario": "asthma-adult-dose-mismatch"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 400);
}

#[tokio::test]
async fn a_pasted_request_is_not_sent_to_its_fhir_server() {
    let app = spawn_app_with(&[("CDS_AUTH", "none")]).await;
    // The test app allows its mock FHIR server for hooks; the preview allows none.
    let request = json!({
        "hook": "order-sign",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "fhirServer": format!("{}/fhir", app.fhir.uri()),
        "context": {"userId": "Practitioner/x", "patientId": "p", "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "MedicationRequest", "id": "o", "status": "draft", "intent": "order", "subject": {"reference": "Patient/p"},
             "medicationCodeableConcept": {"text": "Xolair 150 mg/mL prefilled syringe"}}}]}}
    });
    let answer: Value = app
        .client
        .post(format!("{}/preview/api/run", app.address))
        .json(&json!({"paste": request.to_string()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], 403, "{answer}");
    assert_eq!(
        answer["outcome"]["issue"][0]["details"]["coding"][0]["code"],
        "fhir-server-not-allowed"
    );
    assert!(app.fhir.received_requests().await.unwrap().is_empty());
}
