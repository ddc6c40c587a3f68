//! Only the context patient's data is used: a lenient FHIR server that ignores `patient=`,
//! or one that answers with another patient's resources, must not change the card; a
//! patient id made of dots must not turn `Patient/{{context.patientId}}` into a search.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{extension, scenario, searchset, spawn_app};

const SIGN: &str = "omalizumab-order-sign";

#[tokio::test]
async fn another_patients_resources_are_dropped_and_the_card_says_so() {
    let app = spawn_app().await;
    let s = scenario("asthma-adult-dose-mismatch");
    let own: Value = app.hook_json(SIGN, &s.order_sign(Some(s.prefetch()), None)).await;

    // The same chart, plus a heavier weight and a different Patient of someone else,
    // as a server that ignored `patient=` would return them.
    let mut prefetch = s.prefetch();
    let mut stranger_weight = s.of_type("Observation")[0].clone();
    stranger_weight["id"] = json!("stranger-w");
    stranger_weight["subject"] = json!({"reference": "Patient/stranger"});
    stranger_weight["valueQuantity"]["value"] = json!(140);
    stranger_weight["effectiveDateTime"] = json!("2026-11-20");
    let mut observations = s.of_type("Observation");
    observations.push(stranger_weight);
    prefetch["observations"] = searchset(observations);
    let with_stranger = app.hook_json(SIGN, &s.order_sign(Some(prefetch), None)).await;
    assert_eq!(extension(&with_stranger["cards"][0]), extension(&own["cards"][0]));
    let detail = with_stranger["cards"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("name another patient"), "{detail}");
    assert!(!detail.contains("140 kg"), "{detail}");
}

#[tokio::test]
async fn a_patient_read_that_answers_with_another_patient_is_not_used() {
    let app = spawn_app().await;
    let s = scenario("asthma-adult-dose-mismatch");
    s.mount(&app.fhir).await;
    let mut someone_else = s.of_type("Patient")[0].clone();
    someone_else["id"] = json!("someone-else");
    Mock::given(method("GET"))
        .and(path(format!("/fhir/Patient/{}", s.patient_id())))
        .respond_with(ResponseTemplate::new(200).set_body_json(someone_else))
        .with_priority(1)
        .mount(&app.fhir)
        .await;
    let body = app.hook_json(SIGN, &s.order_sign(None, Some(&app.fhir_base()))).await;
    let ext = extension(&body["cards"][0]);
    // Without the patient's own Patient resource there is no birth date: undetermined.
    assert_eq!(ext["eligibility"], "undetermined", "{ext}");
    assert!(body["cards"][0]["detail"].as_str().unwrap().contains("birth date"));
}

#[tokio::test]
async fn patient_ids_of_dots_are_refused_before_any_fetch() {
    let app = spawn_app().await;
    app.expect_no_fhir_calls().await;
    let s = scenario("asthma-adult-dose-mismatch");
    for id in [".", ".."] {
        let mut body = s.order_sign(None, Some(&app.fhir_base()));
        body["context"]["patientId"] = json!(id);
        let resp = app.post_hook(SIGN, &body).await;
        assert_eq!(resp.status(), 400, "{id}");
    }
}
