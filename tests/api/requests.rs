use serde_json::{Value, json};

use crate::helpers::{scenario, spawn_app, spawn_app_with};

async fn error_code(resp: reqwest::Response) -> (u16, String, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("error bodies are JSON");
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    let code = body["issue"][0]["details"]["coding"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let diagnostics = body["issue"][0]["diagnostics"].as_str().unwrap().to_string();
    (status, code, diagnostics)
}

// Requirement 9: malformed bodies and missing fields are 400 with a message naming the problem.
#[tokio::test]
async fn malformed_json_and_missing_fields_are_400_and_named() {
    let app = spawn_app().await;
    let (status, code, msg) = error_code(
        app.post_raw("/cds-services/omalizumab-order-sign", b"{not json".to_vec())
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "invalid-request"));
    assert!(msg.contains("not valid JSON"), "{msg}");

    let s = scenario("asthma-adult-dose-mismatch");
    let mut body = s.order_sign(Some(s.prefetch()), None);
    body.as_object_mut().unwrap().remove("hookInstance");
    let (status, _, msg) = error_code(app.post_hook("omalizumab-order-sign", &body).await).await;
    assert_eq!(status, 400);
    assert!(msg.contains("hookInstance"), "{msg}");

    let mut body = s.order_sign(Some(s.prefetch()), None);
    body["context"].as_object_mut().unwrap().remove("patientId");
    let (status, _, msg) = error_code(app.post_hook("omalizumab-order-sign", &body).await).await;
    assert_eq!(status, 400);
    assert!(msg.contains("context.patientId"), "{msg}");

    let mut body = s.order_sign(Some(s.prefetch()), None);
    body["hookInstance"] = json!("12345");
    let (status, _, msg) = error_code(app.post_hook("omalizumab-order-sign", &body).await).await;
    assert_eq!(status, 400);
    assert!(msg.contains("UUID"), "{msg}");

    // fhirAuthorization without fhirServer.
    let mut body = s.order_sign(Some(s.prefetch()), Some(&app.fhir_base()));
    body.as_object_mut().unwrap().remove("fhirServer");
    let (status, _, msg) = error_code(app.post_hook("omalizumab-order-sign", &body).await).await;
    assert_eq!(status, 400);
    assert!(msg.contains("fhirServer"), "{msg}");
}

#[tokio::test]
async fn wrong_hook_unknown_service_wrong_method_and_oversized_bodies() {
    let app = spawn_app_with(&[("CDS_MAX_BODY_BYTES", "65536")]).await;
    let s = scenario("asthma-adult-dose-mismatch");
    let body = s.order_sign(Some(s.prefetch()), None);

    let (status, code, _) = error_code(app.post_hook("omalizumab-order-select", &body).await).await;
    assert_eq!((status, code.as_str()), (400, "wrong-hook"));

    let (status, code, _) = error_code(app.post_hook("no-such-service", &body).await).await;
    assert_eq!((status, code.as_str()), (404, "unknown-service"));

    // A 405 names what the resource allows (RFC 9110: the server MUST send Allow).
    let resp = app.get("/cds-services/omalizumab-order-sign").await;
    assert_eq!(resp.headers().get("allow").and_then(|v| v.to_str().ok()), Some("POST"));
    let (status, code, _) = error_code(resp).await;
    assert_eq!((status, code.as_str()), (405, "method-not-allowed"));
    let put = app
        .client
        .put(format!("{}/cds-services", app.address))
        .bearer_auth(crate::keys::issuer_keys().es384.token_for("/cds-services"))
        .send()
        .await
        .unwrap();
    // No route takes PUT: answered 501 before routing, like every method outside the
    // closed set (issue 13 item 1).
    assert_eq!(put.status(), 501);
    let resp = app.get("/cds-services/omalizumab-order-sign/feedback").await;
    assert_eq!(resp.headers().get("allow").and_then(|v| v.to_str().ok()), Some("POST"));
    let (status, _, _) = error_code(resp).await;
    assert_eq!(status, 405);
    let head = app
        .client
        .head(format!("{}/cds-services", app.address))
        .bearer_auth(crate::keys::issuer_keys().es384.token_for("/cds-services"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 405);
    assert_eq!(head.headers().get("allow").and_then(|v| v.to_str().ok()), Some("GET"));

    let mut big = body.clone();
    big["extension"] = json!({"padding": "x".repeat(70_000)});
    let (status, code, _) = error_code(app.post_hook("omalizumab-order-sign", &big).await).await;
    assert_eq!((status, code.as_str()), (413, "payload-too-large"));

    let (status, _, _) = error_code(app.get("/nothing-here").await).await;
    assert_eq!(status, 404);
}

// The 1 MiB default applies when nothing is configured.
#[tokio::test]
async fn default_body_limit_is_one_mebibyte() {
    let app = spawn_app().await;
    let s = scenario("asthma-adult-dose-mismatch");
    let mut body = s.order_sign(Some(s.prefetch()), None);
    body["extension"] = json!({"padding": "x".repeat(900_000)});
    assert_eq!(app.post_hook("omalizumab-order-sign", &body).await.status(), 200);
    body["extension"] = json!({"padding": "x".repeat(1_100_000)});
    assert_eq!(app.post_hook("omalizumab-order-sign", &body).await.status(), 413);
}

// A hook whose orders are not omalizumab returns no cards, without any FHIR call.
#[tokio::test]
async fn non_omalizumab_orders_get_no_cards_and_no_fhir_call() {
    let app = spawn_app().await;
    app.expect_no_fhir_calls().await;
    let s = scenario("not-omalizumab");
    let resp = app
        .post_hook("omalizumab-order-sign", &s.order_sign(None, Some(&app.fhir_base())))
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, json!({"cards": []}));
}

// Requirements 10-11: order-select advises on the selected entries only.
#[tokio::test]
async fn order_select_advises_only_on_selected_entries() {
    let app = spawn_app().await;
    let s = scenario("asthma-adult-dose-mismatch");
    let other = json!({"resourceType": "MedicationRequest", "id": "other-1", "status": "draft", "intent": "order",
        "medicationCodeableConcept": {"text": "albuterol inhaler"}, "subject": {"reference": format!("Patient/{}", s.patient_id())}});
    let select = |selected: &str| {
        let mut body = s.order_sign(Some(s.prefetch()), None);
        body["hook"] = json!("order-select");
        body["context"]["draftOrders"]["entry"]
            .as_array_mut()
            .unwrap()
            .push(json!({"resource": other}));
        body["context"]["selections"] = json!([selected]);
        body
    };
    let with = app
        .hook_json("omalizumab-order-select", &select("MedicationRequest/order-1"))
        .await;
    assert_eq!(with["cards"].as_array().unwrap().len(), 1);
    assert_eq!(
        crate::helpers::extension(&with["cards"][0])["order"],
        "MedicationRequest/order-1"
    );

    let without = app
        .hook_json("omalizumab-order-select", &select("MedicationRequest/other-1"))
        .await;
    assert_eq!(without, json!({"cards": []}));

    // selections must name draftOrders entries.
    let resp = app
        .post_hook("omalizumab-order-select", &select("MedicationRequest/ghost"))
        .await;
    assert_eq!(resp.status(), 400);
    // selections is required for order-select.
    let mut body = select("MedicationRequest/order-1");
    body["context"].as_object_mut().unwrap().remove("selections");
    assert_eq!(app.post_hook("omalizumab-order-select", &body).await.status(), 400);
}

// Requirement 9: unknown extension keys are ignored.
#[tokio::test]
async fn unknown_extensions_are_ignored() {
    let app = spawn_app().await;
    let s = scenario("asthma-adult-dose-mismatch");
    let mut body = s.order_sign(Some(s.prefetch()), None);
    body["extension"] = json!({"com.example.whatever": {"deep": [1, 2.5e10, {"x": null}]}});
    body["context"]["com.example.extra"] = json!(true);
    assert_eq!(app.post_hook("omalizumab-order-sign", &body).await.status(), 200);
}
