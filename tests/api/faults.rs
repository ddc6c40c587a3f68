//! A FHIR server that misbehaves in every way we could think of: each ends in a defined
//! answer (412 naming what could not be had when the Patient could not be had, else a
//! partial card naming the keys that could not), never a hang, a panic or a 500. Elapsed
//! times below are hang guards, not benchmarks.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{scenario, spawn_app, spawn_app_with};

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

/// Fetched resources are bounded as prefetch is: a page holding more entries than
/// `CDS_MAX_PREFETCH_RESOURCES` is refused before any of them is read. Since partial
/// answers, the key it answered is "not fetched" (the card says why and raises no gap for
/// it) rather than the whole hook a 412.
#[tokio::test]
async fn a_server_that_sends_more_resources_than_the_limit_is_refused_before_parsing() {
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
    let resp = app.post_hook(SIGN, &s.order_sign(None, Some(&app.fhir_base()))).await;
    assert_eq!(resp.status(), 200);
    let card = resp.json::<Value>().await.unwrap()["cards"][0].clone();
    let ext = crate::helpers::extension(&card);
    assert!(
        ext["unfetched"]
            .as_array()
            .is_some_and(|k| k.contains(&json!("observations"))),
        "{ext}"
    );
    assert!(
        card["detail"].as_str().unwrap().contains("at most 50 are read"),
        "{card}"
    );
    assert!(
        !ext.to_string().contains("weight-missing"),
        "not fetched is not missing: {ext}"
    );
}

/// A GET is idempotent: a 503 (a proxy, a server restarting) is tried once more while the
/// deadline leaves time, and the hook gives the full answer.
#[tokio::test]
async fn a_503_is_retried_once_and_the_answer_is_complete() {
    let app = spawn_app().await;
    let s = scenario("asthma-adult-dose-mismatch");
    Mock::given(wiremock::matchers::path("/fhir/Observation"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&app.fhir)
        .await;
    s.mount(&app.fhir).await;
    let body = app.hook_json(SIGN, &s.order_sign(None, Some(&app.fhir_base()))).await;
    assert_eq!(crate::helpers::extension(&body["cards"][0]), &s.expected);
    let observation_calls = app
        .fhir
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/fhir/Observation")
        .count();
    // Two keys search Observation; each failed once and was tried again.
    assert_eq!(observation_calls, 4);
}

/// A 500 is the server's answer, not a hiccup: not retried, the key is unfetched.
#[tokio::test]
async fn a_500_is_not_retried() {
    let app = spawn_app().await;
    let s = scenario("asthma-adult-dose-mismatch");
    Mock::given(wiremock::matchers::path("/fhir/Condition"))
        .respond_with(ResponseTemplate::new(500))
        .with_priority(1)
        .mount(&app.fhir)
        .await;
    s.mount(&app.fhir).await;
    let body = app.hook_json(SIGN, &s.order_sign(None, Some(&app.fhir_base()))).await;
    assert_eq!(
        crate::helpers::extension(&body["cards"][0])["unfetched"],
        json!(["conditions"])
    );
    let condition_calls = app
        .fhir
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/fhir/Condition")
        .count();
    assert_eq!(condition_calls, 1);
}

/// A connection the server resets before answering is tried once more.
#[tokio::test]
async fn a_reset_connection_is_retried_once() {
    use std::io::{Read, Write};
    // First connection: read the request, then close without a byte. Second: a Patient.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    let s = scenario("asthma-adult-dose-mismatch");
    let mut prefetch = s.prefetch();
    prefetch.as_object_mut().unwrap().remove("patient");
    let patient = serde_json::to_vec(&s.of_type("Patient")[0]).unwrap();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            if counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                drop(stream);
                continue;
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                patient.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&patient);
        }
    });
    let app = spawn_app_with(&[("CDS_FHIR_ALLOWED", &base)]).await;
    let body = app.hook_json(SIGN, &s.order_sign(Some(prefetch), Some(&base))).await;
    assert_eq!(crate::helpers::extension(&body["cards"][0]), &s.expected, "{body:#}");
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// Each key's fetch time is in /metrics, labelled by the profile's key names only.
#[tokio::test]
async fn per_key_fetch_times_are_in_the_metrics() {
    let app = spawn_app().await;
    let s = scenario("asthma-adult-dose-mismatch");
    s.mount(&app.fhir).await;
    let resp = app.post_hook(SIGN, &s.order_sign(None, Some(&app.fhir_base()))).await;
    assert_eq!(resp.status(), 200);
    let text = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for key in ["patient", "observations", "conditions", "medicationRequests"] {
        let series = format!(r#"omalizumab_cds_fhir_key_seconds_count{{key="{key}",outcome="fetched"}} 1"#);
        assert!(text.contains(&series), "{series} not in\n{text}");
    }
}
