//! Limits that make abuse cheap: nesting depth, draftOrders entries, prefetch size.
//! Each is refused with 413 and a stable code, before any work is done for it.

use serde_json::{Value, json};

use crate::helpers::{scenario, spawn_app_with};

const SIGN: &str = "omalizumab-order-sign";

async fn code_of(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    (
        status,
        body["issue"][0]["details"]["coding"][0]["code"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

#[tokio::test]
async fn deep_nesting_many_orders_and_huge_prefetch_are_refused() {
    let app = spawn_app_with(&[
        ("CDS_MAX_JSON_DEPTH", "40"),
        ("CDS_MAX_DRAFT_ORDERS", "3"),
        ("CDS_MAX_PREFETCH_RESOURCES", "50"),
    ])
    .await;
    app.expect_no_fhir_calls().await;
    let s = scenario("asthma-adult-dose-mismatch");
    let ok = s.order_sign(Some(s.prefetch()), None);
    assert_eq!(app.post_hook(SIGN, &ok).await.status(), 200);

    let mut deep = ok.clone();
    let mut nested = json!("x");
    for _ in 0..45 {
        nested = json!({ "a": nested });
    }
    deep["extension"] = json!({ "example": nested });
    assert_eq!(
        code_of(app.post_hook(SIGN, &deep).await).await,
        (413, "limit-exceeded".into())
    );
    // Far deeper than serde_json's own recursion limit: still a clean 413, no crash.
    let bomb = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let resp = app.post_raw(&format!("/cds-services/{SIGN}"), bomb.into_bytes()).await;
    assert_eq!(code_of(resp).await, (413, "limit-exceeded".into()));

    let mut many = ok.clone();
    let entry = many["context"]["draftOrders"]["entry"][0].clone();
    many["context"]["draftOrders"]["entry"] = json!(vec![entry; 4]);
    assert_eq!(
        code_of(app.post_hook(SIGN, &many).await).await,
        (413, "limit-exceeded".into())
    );

    let mut big = ok.clone();
    let weight = s.of_type("Observation")[0].clone();
    big["prefetch"]["observations"]["entry"] = json!(vec![json!({ "resource": weight }); 60]);
    assert_eq!(
        code_of(app.post_hook(SIGN, &big).await).await,
        (413, "limit-exceeded".into())
    );

    let deep_feedback = format!("{{\"feedback\": {}{}}}", "[".repeat(50), "]".repeat(50));
    let resp = app
        .post_raw(&format!("/cds-services/{SIGN}/feedback"), deep_feedback.into_bytes())
        .await;
    assert_eq!(code_of(resp).await, (413, "limit-exceeded".into()));
}

/// Issue 13 item 3: an order-select request is counted before its selections are
/// compared with its draft orders, so an oversized one is a 413 however it is built.
#[tokio::test]
async fn oversized_order_select_is_refused_by_count_before_selections_are_checked() {
    let app = spawn_app_with(&[("CDS_MAX_DRAFT_ORDERS", "5")]).await;
    app.expect_no_fhir_calls().await;
    let s = scenario("asthma-adult-dose-mismatch");
    let mut req = s.order_sign(Some(s.prefetch()), None);
    req["hook"] = json!("order-select");
    let entries: Vec<Value> = (0..2000)
        .map(|i| json!({"resource": {"resourceType": "MedicationRequest", "id": format!("mr{i}")}}))
        .collect();
    let selections: Vec<String> = (0..2000).map(|i| format!("MedicationRequest/x{i}")).collect();
    req["context"]["draftOrders"]["entry"] = json!(entries);
    req["context"]["selections"] = json!(selections);
    assert_eq!(
        code_of(app.post_hook("omalizumab-order-select", &req).await).await,
        (413, "limit-exceeded".into())
    );
    // Within the order count, more selections than orders are refused the same way.
    req["context"]["draftOrders"]["entry"] = json!([{"resource": s.order}]);
    assert_eq!(
        code_of(app.post_hook("omalizumab-order-select", &req).await).await,
        (413, "limit-exceeded".into())
    );
}

/// Open a connection, send the head of an authenticated hook POST declaring `length`
/// bytes, and `sent` bytes of the body; the caller decides what to do next.
async fn slow_post(app: &crate::helpers::TestApp, length: usize, sent: usize) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let path = format!("/cds-services/{SIGN}");
    let token = crate::keys::issuer_keys().es384.token_for(&path);
    let mut stream = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b' '; sent]).await.unwrap();
    stream
}

/// Issue 13 item 4: a body sent a byte at a time held its connection (and a buffer of
/// the declared length) for as long as the client liked. The body read has a deadline
/// (408), and only so many bodies are read at once (503 past that).
#[tokio::test]
async fn slow_bodies_time_out_and_bodies_in_flight_are_bounded() {
    use tokio::io::AsyncReadExt;
    let app = spawn_app_with(&[("CDS_BODY_TIMEOUT_MS", "400"), ("CDS_MAX_BODIES_IN_FLIGHT", "2")]).await;
    app.expect_no_fhir_calls().await;
    let started = std::time::Instant::now();
    let mut slow = slow_post(&app, 100_000, 10).await;
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), slow.read(&mut answer))
        .await
        .expect("the service answers a stalled body by its deadline")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body-timeout"), "{answer}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));

    // Two stalled bodies fill the slots; a third request is refused at once.
    let _a = slow_post(&app, 100_000, 10).await;
    let _b = slow_post(&app, 100_000, 10).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let s = scenario("asthma-adult-dose-mismatch");
    let resp = app.post_hook(SIGN, &s.order_sign(Some(s.prefetch()), None)).await;
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(code_of(resp).await.1, "busy");
    // Once they time out, the slots are free again.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let resp = app.post_hook(SIGN, &s.order_sign(Some(s.prefetch()), None)).await;
    assert_eq!(resp.status().as_u16(), 200);
}
