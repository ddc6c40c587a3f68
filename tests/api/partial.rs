//! Partial answers: when one key's search is slower than the hook's fetch budget, the hook
//! still answers with what it has. The card says which data could not be fetched, no gap
//! is reported for it (not fetched is not missing), and the other findings are there.
//! A missing Patient is still a 412: without it no useful card can be given.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{Scenario, TestApp, extension, scenario, searchset, spawn_app_with};

const SIGN: &str = "omalizumab-order-sign";

/// Serve `s` from the mock FHIR server, but answer every search of `resource_type` only
/// after 5 s: far past the fetch budget of a 1 s deadline (800 ms).
async fn app_with_slow(s: &Scenario, resource_type: &str) -> TestApp {
    let app = spawn_app_with(&[("CDS_HOOK_DEADLINE_MS", "1000")]).await;
    let slow = match resource_type {
        "Patient" => json!(s.of_type("Patient")[0]),
        t => searchset(s.of_type(t)),
    };
    let p = if resource_type == "Patient" {
        format!("/fhir/Patient/{}", s.patient_id())
    } else {
        format!("/fhir/{resource_type}")
    };
    Mock::given(method("GET"))
        .and(path(p))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(slow)
                .set_delay(Duration::from_secs(5)),
        )
        .with_priority(1)
        .mount(&app.fhir)
        .await;
    s.mount(&app.fhir).await;
    app
}

fn codes(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_slow_observation_search_gives_a_partial_card_that_says_so() {
    let s = scenario("asthma-stale-weight-nonspecific-code");
    let app = app_with_slow(&s, "Observation").await;
    let started = Instant::now();
    let resp = app.post_hook(SIGN, &s.order_sign(None, Some(&app.fhir_base()))).await;
    let elapsed = started.elapsed();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    crate::helpers::assert_clean(&body);
    let card = &body["cards"][0];
    let ext = extension(card);

    // Which data could not be fetched, in the extension and in words on the card.
    assert_eq!(
        ext["unfetched"],
        json!(["observationPanels", "observations"]),
        "{ext:#}"
    );
    assert!(codes(&ext["readings"]).contains(&"not-fetched"), "{ext:#}");
    let detail = card["detail"].as_str().unwrap();
    assert!(
        detail.contains("observations: the FHIR server did not answer within 800 ms"),
        "{detail}"
    );
    // Not fetched is not missing: no weight or IgE gap, no lab suggested to order.
    let gaps = codes(&ext["gaps"]);
    for absent in ["weight-missing", "weight-stale", "ige-missing", "ige-not-pretreatment"] {
        assert!(!gaps.contains(&absent), "{absent} in {gaps:?}");
    }
    let labels: Vec<&str> = card["suggestions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["label"].as_str())
        .collect();
    assert!(labels.iter().all(|l| !l.starts_with("Order ")), "{labels:?}");
    assert_eq!(ext["eligibility"], "undetermined");
    // The other findings are there: the diagnosis (from the Condition search), its gap,
    // the ordered dose and the billing, as in the full answer.
    assert_eq!(gaps, vec!["diagnosis-nonspecific"]);
    for field in ["order", "indication", "orderedDose", "billing"] {
        assert_eq!(ext[field], s.expected[field], "{field}");
    }
    // Answered within the deadline, not after the slow server.
    assert!(elapsed < Duration::from_millis(2500), "{elapsed:?}");
}

#[tokio::test]
async fn a_slow_condition_search_is_no_diagnosis_gap() {
    let s = scenario("asthma-adult-dose-mismatch");
    let app = app_with_slow(&s, "Condition").await;
    let resp = app.post_hook(SIGN, &s.order_sign(None, Some(&app.fhir_base()))).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let ext = extension(&body["cards"][0]);
    assert_eq!(ext["unfetched"], json!(["conditions"]));
    assert!(!codes(&ext["gaps"]).contains(&"diagnosis-missing"), "{ext:#}");
    assert_eq!(ext["eligibility"], "undetermined");
    // Weight and IgE arrived: the dose table was read as in the full answer.
    assert_eq!(ext["orderedDose"], s.expected["orderedDose"]);
}

#[tokio::test]
async fn a_complete_answer_has_no_unfetched_field() {
    let s = scenario("asthma-adult-dose-mismatch");
    let app = spawn_app_with(&[("CDS_HOOK_DEADLINE_MS", "1000")]).await;
    s.mount(&app.fhir).await;
    let body = app.hook_json(SIGN, &s.order_sign(None, Some(&app.fhir_base()))).await;
    assert_eq!(extension(&body["cards"][0]), &s.expected);
}

#[tokio::test]
async fn a_slow_patient_read_is_still_a_412() {
    let s = scenario("asthma-adult-dose-mismatch");
    let app = app_with_slow(&s, "Patient").await;
    let resp = app.post_hook(SIGN, &s.order_sign(None, Some(&app.fhir_base()))).await;
    assert_eq!(resp.status(), 412);
    let body: Value = resp.json().await.unwrap();
    let msg = body["issue"][0]["diagnostics"].as_str().unwrap_or_default();
    assert!(
        msg.contains("patient (the FHIR server did not answer within 800 ms)"),
        "{msg}"
    );
}

/// A prefetch value that is JSON but not FHIR of its key's kind (a client bug) is data
/// that could not be read, not "no data": the card says so and raises no gap for it. Only
/// `null` means no data. Without a readable Patient there is no useful card.
#[tokio::test]
async fn a_prefetch_value_that_is_not_fhir_is_unread_not_missing() {
    let s = scenario("asthma-adult-dose-mismatch");
    let app = spawn_app_with(&[]).await;
    let patient = json!(s.of_type("Patient")[0]);
    for odd in [json!("x"), json!(5), json!({"foo": 1}), patient] {
        let mut prefetch = s.prefetch();
        prefetch["observations"] = odd.clone();
        let body = app.hook_json(SIGN, &s.order_sign(Some(prefetch), None)).await;
        crate::helpers::assert_clean(&body);
        let card = &body["cards"][0];
        let ext = extension(card);
        assert_eq!(ext["unfetched"], json!(["observations"]), "{odd}: {ext:#}");
        let gaps = codes(&ext["gaps"]);
        for absent in ["weight-missing", "ige-missing", "aeroallergen-test-missing"] {
            assert!(!gaps.contains(&absent), "{odd}: {absent} in {gaps:?}");
        }
        let detail = card["detail"].as_str().unwrap();
        assert!(
            detail.contains("observations: what the EHR sent for it is not FHIR data of that kind"),
            "{odd}: {detail}"
        );
        assert_eq!(ext["indication"], s.expected["indication"], "{odd}");
    }
    // A read's value is the resource itself: another type, or a Bundle, is not a Patient.
    for odd in [
        json!({"resourceType": "Observation", "id": "x"}),
        json!({"resourceType": "Bundle", "type": "searchset", "entry": []}),
    ] {
        let mut prefetch = s.prefetch();
        prefetch["patient"] = odd.clone();
        let resp = app.post_hook(SIGN, &s.order_sign(Some(prefetch), None)).await;
        assert_eq!(resp.status(), 412, "{odd}");
    }
}
