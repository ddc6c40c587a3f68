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
