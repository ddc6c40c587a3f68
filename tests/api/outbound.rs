//! Requirement 25: the caller chooses `fhirServer`, so only allowlisted servers are ever
//! contacted. Each look-alike below points at a live server that must see no request.

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{scenario, spawn_app_with};

const SIGN: &str = "omalizumab-order-sign";

async fn untouchable() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn look_alike_fhir_servers_are_refused_before_any_connection() {
    let other = untouchable().await;
    // Allow plain http everywhere here, so only the allowlist itself is under test.
    let app = spawn_app_with(&[("CDS_FHIR_ALLOW_HTTP", "true")]).await;
    app.expect_no_fhir_calls().await;
    let allowed = app.fhir_base();
    let allowed_authority = allowed.trim_start_matches("http://").trim_end_matches("/fhir");
    let other_port = other.uri().rsplit(':').next().unwrap().to_string();
    let s = scenario("asthma-adult-dose-mismatch");
    for server in [
        // another server on the same host: other port
        format!("http://127.0.0.1:{other_port}/fhir"),
        // userinfo trick: the allowed authority as user name, the real host after `@`
        format!("http://{allowed_authority}@127.0.0.1:{other_port}/fhir"),
        format!("http://user:pw@{allowed_authority}/fhir"),
        // prefix look-alikes of the path and of the host
        format!("{allowed}-evil"),
        format!("{allowed}/../admin"),
        format!("http://localhost.{}/fhir", "evil.example"),
        // other scheme for the same authority
        format!("https://{allowed_authority}/fhir"),
    ] {
        let resp = app.post_hook(SIGN, &s.order_sign(None, Some(&server))).await;
        let status = resp.status().as_u16();
        assert!(status == 403 || status == 400, "{server} gave {status}");
    }
}

#[tokio::test]
async fn plain_http_to_a_non_loopback_host_is_refused_even_when_listed() {
    let app = spawn_app_with(&[("CDS_FHIR_ALLOWED", "http://fhir.ehr.example/fhir")]).await;
    let s = scenario("asthma-adult-dose-mismatch");
    let resp = app
        .post_hook(SIGN, &s.order_sign(None, Some("http://fhir.ehr.example/fhir")))
        .await;
    assert_eq!(resp.status(), 403);
}

/// Issue 13 item 5: a percent-encoded `/`, `\` or `.` is one path segment to a URL
/// parser but a separator or a dot segment to many servers and proxies, so it could
/// climb out of the allowlisted base with the bearer token. Refused in fhirServer and
/// in paging links alike, before any connection.
#[tokio::test]
async fn encoded_separators_and_dots_never_leave_the_allowed_base() {
    let app = spawn_app_with(&[]).await;
    app.expect_no_fhir_calls().await;
    let allowed = app.fhir_base();
    let s = scenario("asthma-adult-dose-mismatch");
    for tail in [
        "/..%2f..%2fadmin",
        "/..%2F..%2Fadmin",
        "/..%5cadmin",
        "/%2e%2e%2fadmin",
        "/%2E%2E/admin",
        "/.%2e/admin",
        "/x%2fy",
    ] {
        let server = format!("{allowed}{tail}");
        let resp = app.post_hook(SIGN, &s.order_sign(None, Some(&server))).await;
        assert_eq!(resp.status().as_u16(), 403, "{server}");
    }
    // A prefetched page whose next link climbs out of the base by an encoded `/`.
    let mut page1 = crate::helpers::searchset(s.of_type("Observation"));
    page1["link"] = serde_json::json!([
        {"relation": "next", "url": format!("{allowed}/..%2fadmin?page=1")}
    ]);
    let mut prefetch = s.prefetch();
    prefetch["observations"] = page1;
    let resp = app.post_hook(SIGN, &s.order_sign(Some(prefetch), Some(&allowed))).await;
    // Never followed (no call above); that key is unfetched and the card says so.
    assert_eq!(resp.status().as_u16(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        crate::helpers::extension(&body["cards"][0])["unfetched"],
        serde_json::json!(["observations"])
    );
}
