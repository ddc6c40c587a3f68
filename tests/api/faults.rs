//! A FHIR server that misbehaves in every way we could think of: each ends in a defined
//! answer (412 naming what could not be had when the Patient could not be had, else a
//! partial card naming the keys that could not), never a hang, a panic or a 500. Elapsed
//! times below are hang guards, not benchmarks.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{scenario, spawn_app_with};

const SIGN: &str = "omalizumab-order-sign";

async fn answer(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    let text = body["issue"][0]["diagnostics"].as_str().unwrap_or_default().to_string();
    (status, text)
}

#[tokio::test]
async fn every_kind_of_bad_fhir_answer_is_a_412_that_names_it() {
    let cases: Vec<(&str, ResponseTemplate, &str)> = vec![
        ("server error", ResponseTemplate::new(500), "HTTP 500"),
        ("token refused", ResponseTemplate::new(401), "HTTP 401"),
        (
            "not JSON",
            ResponseTemplate::new(200).set_body_string("<html>oops</html>"),
            "not JSON",
        ),
        (
            "truncated JSON",
            ResponseTemplate::new(200).set_body_string(r#"{"resourceType": "Bundle", "entry": [{"resource": {"#),
            "not JSON",
        ),
        (
            "a bundle far beyond the size limit",
            ResponseTemplate::new(200).set_body_json(json!({
                "resourceType": "Bundle", "type": "searchset",
                "entry": vec![json!({"resource": {"resourceType": "Observation", "id": "x", "status": "final",
                                                  "code": {"text": "x".repeat(1000)}}}); 200]
            })),
            "larger than",
        ),
    ];
    for (case, response, named) in cases {
        let app = spawn_app_with(&[("CDS_FHIR_MAX_RESPONSE_BYTES", "65536")]).await;
        Mock::given(any()).respond_with(response).mount(&app.fhir).await;
        let s = scenario("asthma-adult-dose-mismatch");
        let (status, text) = answer(app.post_hook(SIGN, &s.order_sign(None, Some(&app.fhir_base()))).await).await;
        assert_eq!(status, 412, "{case}: {text}");
        assert!(text.contains(named), "{case}: {text}");
    }
}

#[tokio::test]
async fn endless_next_links_stop_at_the_page_limit() {
    let app = spawn_app_with(&[("CDS_FHIR_MAX_PAGES", "5")]).await;
    let s = scenario("asthma-adult-dose-mismatch");
    s.mount(&app.fhir).await;
    // Every Observation page says there is another one.
    let page = json!({"resourceType": "Bundle", "type": "searchset",
        "link": [{"relation": "next", "url": format!("{}/Observation?patient=x&page=2", app.fhir_base())}],
        "entry": []});
    Mock::given(wiremock::matchers::path("/fhir/Observation"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .with_priority(1)
        .mount(&app.fhir)
        .await;
    let started = Instant::now();
    // The other keys arrived: a partial card that names the two Observation keys.
    let resp = app.post_hook(SIGN, &s.order_sign(None, Some(&app.fhir_base()))).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let card = &body["cards"][0];
    assert_eq!(
        crate::helpers::extension(card)["unfetched"],
        json!(["observationPanels", "observations"])
    );
    let detail = card["detail"].as_str().unwrap();
    assert!(detail.contains("observations: more than 5 pages"), "{detail}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let observation_calls = app
        .fhir
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/fhir/Observation")
        .count();
    // Two keys search Observation (observations and observationPanels): 5 pages each.
    assert_eq!(observation_calls, 10);
}

#[tokio::test]
async fn a_connection_that_never_answers_ends_at_the_deadline() {
    // Accepts connections and never writes a byte.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/fhir", silent.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming() {
            held.push(stream);
        }
    });
    let app = spawn_app_with(&[("CDS_FHIR_ALLOWED", &base), ("CDS_HOOK_DEADLINE_MS", "300")]).await;
    let s = scenario("asthma-adult-dose-mismatch");
    let started = Instant::now();
    let (status, text) = answer(app.post_hook(SIGN, &s.order_sign(None, Some(&base))).await).await;
    // Not even the Patient: no useful card. 300 ms deadline, 240 ms for the FHIR calls.
    assert_eq!(status, 412, "{text}");
    assert!(
        text.contains("patient (the FHIR server did not answer within 240 ms)"),
        "{text}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_server_that_is_down_is_a_412_at_once() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let base = format!("http://{closed}/fhir");
    let app = spawn_app_with(&[("CDS_FHIR_ALLOWED", &base)]).await;
    let s = scenario("asthma-adult-dose-mismatch");
    let (status, text) = answer(app.post_hook(SIGN, &s.order_sign(None, Some(&base))).await).await;
    assert_eq!(status, 412, "{text}");
    assert!(text.contains("could not reach"), "{text}");
}

/// Fetched resources are bounded as prefetch is: a server that answers with more entries
/// than `CDS_MAX_PREFETCH_RESOURCES` gets a 412 before any of them is parsed.
#[tokio::test]
async fn a_server_that_sends_more_resources_than_the_limit_is_a_412_before_parsing() {
    let app = spawn_app_with(&[("CDS_MAX_PREFETCH_RESOURCES", "50")]).await;
    let s = scenario("asthma-adult-dose-mismatch");
    s.mount(&app.fhir).await;
    let weight = s.of_type("Observation")[0].clone();
    let many: Vec<Value> = (0..100)
        .map(|i| {
            let mut w = weight.clone();
            w["id"] = json!(format!("w{i}"));
            w
        })
        .collect();
    Mock::given(wiremock::matchers::path("/fhir/Observation"))
        .respond_with(ResponseTemplate::new(200).set_body_json(crate::helpers::searchset(many)))
        .with_priority(1)
        .mount(&app.fhir)
        .await;
    let (status, text) = answer(app.post_hook(SIGN, &s.order_sign(None, Some(&app.fhir_base()))).await).await;
    assert_eq!(status, 412, "{text}");
    assert!(text.contains("at most 50 are read"), "{text}");
}
