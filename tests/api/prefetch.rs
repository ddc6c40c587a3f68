use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{any, header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{TOKEN, extension, scenario, searchset, spawn_app, spawn_app_with};

const SIGN: &str = "omalizumab-order-sign";

// Requirement 7 and 12: a missing key is fetched from fhirServer with the bearer token.
#[tokio::test]
async fn missing_prefetch_keys_are_fetched_with_the_bearer_token() {
    let app = spawn_app().await;
    let s = scenario("asthma-adult-dose-mismatch");
    let mut prefetch = s.prefetch();
    prefetch.as_object_mut().unwrap().remove("observations");
    Mock::given(method("GET"))
        .and(path("/fhir/Observation"))
        .and(query_param("patient", s.patient_id().as_str()))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(searchset(s.of_type("Observation"))))
        .expect(1)
        .mount(&app.fhir)
        .await;
    let resp = app
        .post_hook(SIGN, &s.order_sign(Some(prefetch), Some(&app.fhir_base())))
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(extension(&body["cards"][0]), &s.expected);
}

// Requirement 7: null means "no data": never refetched.
#[tokio::test]
async fn null_prefetch_means_no_data_and_is_not_refetched() {
    let app = spawn_app().await;
    app.expect_no_fhir_calls().await;
    let s = scenario("asthma-adult-dose-mismatch");
    let mut prefetch = s.prefetch();
    prefetch["observations"] = Value::Null;
    let body = app
        .hook_json(SIGN, &s.order_sign(Some(prefetch), Some(&app.fhir_base())))
        .await;
    let ext = extension(&body["cards"][0]);
    assert_eq!(ext["eligibility"], "undetermined");
    let gaps = ext["gaps"].as_array().unwrap();
    for g in ["weight-missing", "ige-missing", "aeroallergen-test-missing"] {
        assert!(gaps.contains(&json!(g)), "{g} in {gaps:?}");
    }
}

// Requirement 7: an OperationOutcome in prefetch means the client failed: fetch it.
#[tokio::test]
async fn operation_outcome_prefetch_is_refetched() {
    let app = spawn_app().await;
    let s = scenario("asthma-adult-dose-mismatch");
    let mut prefetch = s.prefetch();
    prefetch["conditions"] =
        json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]});
    Mock::given(method("GET"))
        .and(path("/fhir/Condition"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(searchset(s.of_type("Condition"))))
        .expect(1)
        .mount(&app.fhir)
        .await;
    let body = app
        .hook_json(SIGN, &s.order_sign(Some(prefetch), Some(&app.fhir_base())))
        .await;
    assert_eq!(extension(&body["cards"][0]), &s.expected);
}

// Requirement 7: searchsets are followed through next links, with the same token,
// whether the page came from prefetch or from our own fetch.
#[tokio::test]
async fn paged_searchsets_are_followed() {
    let app = spawn_app().await;
    let s = scenario("asthma-adult-dose-mismatch");
    let observations = s.of_type("Observation");
    let (first, second) = observations.split_at(1);
    let mut page1 = searchset(first.to_vec());
    page1["link"] = json!([
        {"relation": "self", "url": format!("{}/Observation?patient={}", app.fhir_base(), s.patient_id())},
        // A server's next link may echo the search's raw `|`.
        {"relation": "next", "url": format!("{}/Observation?patient={}&code=http://loinc.org|29463-7&page=2", app.fhir_base(), s.patient_id())}
    ]);
    // The second page also carries an OperationOutcome entry, as servers send warnings.
    let mut page2 = searchset(second.to_vec());
    page2["entry"].as_array_mut().unwrap().push(json!({
        "resource": {"resourceType": "OperationOutcome", "issue": [{"severity": "information", "code": "informational"}]},
        "search": {"mode": "outcome"}
    }));
    Mock::given(method("GET"))
        .and(path("/fhir/Observation"))
        .and(query_param("page", "2"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(page2))
        .expect(2)
        .mount(&app.fhir)
        .await;

    // Page 1 in prefetch.
    let mut prefetch = s.prefetch();
    prefetch["observations"] = page1.clone();
    let body = app
        .hook_json(SIGN, &s.order_sign(Some(prefetch), Some(&app.fhir_base())))
        .await;
    assert_eq!(extension(&body["cards"][0]), &s.expected);

    // Page 1 fetched by us.
    Mock::given(method("GET"))
        .and(path("/fhir/Observation"))
        .and(wiremock::matchers::query_param_is_missing("page"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page1))
        .expect(1)
        .mount(&app.fhir)
        .await;
    let mut prefetch = s.prefetch();
    prefetch.as_object_mut().unwrap().remove("observations");
    let body = app
        .hook_json(SIGN, &s.order_sign(Some(prefetch), Some(&app.fhir_base())))
        .await;
    assert_eq!(extension(&body["cards"][0]), &s.expected);
    // Every request went out with only what RFC 3986 allows in a query: `|` as `%7C`.
    for r in app.fhir.received_requests().await.unwrap() {
        assert!(!r.url.query().unwrap_or_default().contains('|'), "{}", r.url);
    }
}

async fn diagnostics(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    (
        status,
        body["issue"][0]["diagnostics"].as_str().unwrap_or_default().to_string(),
    )
}

// Requirement 8: data that cannot be had -> 412 naming what is missing.
#[tokio::test]
async fn no_prefetch_and_no_fhir_server_is_412() {
    let app = spawn_app().await;
    let s = scenario("asthma-adult-dose-mismatch");
    let (status, msg) = diagnostics(app.post_hook(SIGN, &s.order_sign(None, None)).await).await;
    assert_eq!(status, 412);
    assert!(msg.contains("observations") && msg.contains("no fhirServer"), "{msg}");
}

#[tokio::test]
async fn fhir_server_errors_are_412() {
    let app = spawn_app().await;
    let s = scenario("asthma-adult-dose-mismatch");
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .mount(&app.fhir)
        .await;
    let (status, msg) = diagnostics(app.post_hook(SIGN, &s.order_sign(None, Some(&app.fhir_base()))).await).await;
    assert_eq!(status, 412);
    assert!(msg.contains("HTTP 500"), "{msg}");
}

#[tokio::test]
async fn a_slow_fhir_server_is_412_by_the_deadline() {
    let app = spawn_app_with(&[("CDS_HOOK_DEADLINE_MS", "300")]).await;
    let s = scenario("asthma-adult-dose-mismatch");
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({}))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&app.fhir)
        .await;
    let started = std::time::Instant::now();
    let (status, msg) = diagnostics(app.post_hook(SIGN, &s.order_sign(None, Some(&app.fhir_base()))).await).await;
    assert_eq!(status, 412);
    assert!(msg.contains("did not answer within 240 ms"), "{msg}");
    // Functional bound, not a benchmark: it must not wait for the 5 s server.
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn garbage_from_the_fhir_server_is_412() {
    let app = spawn_app().await;
    let s = scenario("asthma-adult-dose-mismatch");
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"resourceType\": \"Bund"))
        .mount(&app.fhir)
        .await;
    let (status, _) = diagnostics(app.post_hook(SIGN, &s.order_sign(None, Some(&app.fhir_base()))).await).await;
    assert_eq!(status, 412);
}

// Requirement 25: a fhirServer outside the allowlist is refused before any connection.
#[tokio::test]
async fn a_fhir_server_outside_the_allowlist_is_refused_without_contact() {
    let app = spawn_app().await;
    app.expect_no_fhir_calls().await;
    let s = scenario("asthma-adult-dose-mismatch");
    // Same host and port, other path; and a look-alike host.
    for server in [
        format!("{}/other", app.fhir.uri()),
        "https://ehr.example.evil/fhir".to_string(),
    ] {
        let (status, _) = diagnostics(app.post_hook(SIGN, &s.order_sign(None, Some(&server))).await).await;
        assert_eq!(status, 403, "{server}");
    }
}

// An EHR that ignores the template's code filter sends the whole record: observations
// the rules never read are dropped before the strict parse, so they cost nothing and a
// malformed one among them is not reported as a skipped chart entry.
#[tokio::test]
async fn observations_the_rules_never_read_change_nothing() {
    let app = spawn_app().await;
    app.expect_no_fhir_calls().await;
    let s = scenario("asthma-adult-dose-mismatch");
    let plain = app.hook_json(SIGN, &s.order_sign(Some(s.prefetch()), None)).await;

    let mut observations = s.of_type("Observation");
    for i in 0..200 {
        observations.push(json!({
            "resourceType": "Observation", "id": format!("hr-{i}"), "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
            "subject": {"reference": format!("Patient/{}", s.patient_id())},
            "effectiveDateTime": "2026-10-01T09:00:00Z",
            "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}
        }));
    }
    // Not valid FHIR: the strict parser would refuse it and the card would say so.
    observations[5]["notAnElement"] = json!([1]);
    let mut prefetch = s.prefetch();
    prefetch["observations"] = searchset(observations);
    let padded = app.hook_json(SIGN, &s.order_sign(Some(prefetch), None)).await;

    // Card and suggestion uuids are new on every answer; everything else must match.
    let without_uuids = |body: &Value| {
        let mut card = body["cards"][0].clone();
        card.as_object_mut().unwrap().remove("uuid");
        for s in card["suggestions"].as_array_mut().unwrap() {
            s.as_object_mut().unwrap().remove("uuid");
        }
        card
    };
    assert_eq!(without_uuids(&padded), without_uuids(&plain));
    assert_eq!(extension(&padded["cards"][0]), &s.expected);
}

// Issue 16 item 3: a resource no rule reads is skipped on a look at its text and never
// built. Even one whose JSON cannot be built as a serde_json tree at all (an object
// holding the key that serde_json's `arbitrary_precision` reserves for numbers, which
// made the whole request a 400 when the request was read into a tree) costs nothing:
// the answer is the one without it, and nothing counts as unreadable.
#[tokio::test]
async fn a_resource_no_rule_reads_is_never_built() {
    let app = spawn_app().await;
    let s = scenario("asthma-adult-dose-mismatch");
    let plain = app.hook_json(SIGN, &s.order_sign(Some(s.prefetch()), None)).await;
    let mut prefetch = s.prefetch();
    let heart_rate = json!({"resourceType": "Observation", "id": "hr-odd", "status": "final",
        "subject": {"reference": format!("Patient/{}", s.patient_id())},
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "valueQuantity": "NO-TREE", "notAFhirField": [{"fhir_comments": null}]});
    prefetch["observations"]["entry"]
        .as_array_mut()
        .unwrap()
        .push(json!({"resource": heart_rate}));
    let body = serde_json::to_string(&s.order_sign(Some(prefetch), None))
        .unwrap()
        .replace(r#""NO-TREE""#, r#"{"$serde_json::private::Number": "not a number"}"#);
    let resp = app.post_raw(&format!("/cds-services/{SIGN}"), body.into_bytes()).await;
    assert_eq!(resp.status(), 200);
    let answered: Value = resp.json().await.unwrap();
    assert_eq!(extension(&answered["cards"][0]), extension(&plain["cards"][0]));
}
