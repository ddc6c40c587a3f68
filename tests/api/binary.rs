//! The real binary as an operator starts it: authentication on, JSON logs at debug
//! level. `OMALIZUMAB_CDS_BIN=target/release/omalizumab-cds cargo test --test api binary::`
//! runs these against the release build.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::auth::{HOOK, rejection_matrix};
use crate::keys::{ISSUER, PUBLIC_URL, issuer_keys, jwks};

/// A running service process and everything it has logged so far.
struct Service {
    child: std::process::Child,
    stdout: BufReader<std::process::ChildStdout>,
    log: String,
    base: String,
    _keys_dir: tempfile::TempDir,
}

impl Service {
    /// Start the binary trusting ISSUER's keys (from a JWKS file) with `fhir_allowed`.
    fn start(fhir_allowed: &str) -> Service {
        let keys_dir = tempfile::tempdir().unwrap();
        let jwks_path = keys_dir.path().join("jwks.json");
        let keys = issuer_keys();
        std::fs::write(&jwks_path, jwks(&[&keys.es384, &keys.rs384]).to_string()).unwrap();
        let binary =
            std::env::var("OMALIZUMAB_CDS_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_omalizumab-cds").into());
        let mut child = Command::new(binary)
            .arg("serve")
            .env("CDS_AUTH", "jwt")
            .env("CDS_PUBLIC_URL", PUBLIC_URL)
            .env(
                "CDS_JWT_ISSUERS",
                format!("{ISSUER}={}", url::Url::from_file_path(&jwks_path).unwrap()),
            )
            .env("CDS_BIND", "127.0.0.1:0")
            .env("CDS_STORE_PATH", keys_dir.path().join("audit.sqlite"))
            .env("CDS_AUDIT_SALT", "test-salt-0123456789abcdef0123456789")
            .env("CDS_LOG_FORMAT", "json")
            .env("CDS_LOG", "debug")
            .env("CDS_FHIR_ALLOWED", fhir_allowed)
            .env("CDS_CARDS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/cards"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut log = String::new();
        let port = loop {
            let mut line = String::new();
            assert!(stdout.read_line(&mut line).unwrap() > 0, "service exited: {log}");
            log.push_str(&line);
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["message"] == "omalizumab-cds listening"
            {
                break v["port"].as_u64().unwrap();
            }
        };
        Service {
            child,
            stdout,
            log,
            base: format!("http://127.0.0.1:{port}"),
            _keys_dir: keys_dir,
        }
    }

    /// Stop the process and return all it logged, stdout and stderr.
    fn stop(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.stdout.read_to_string(&mut self.log).unwrap();
        let mut stderr = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        self.log.push_str(&stderr);
        self.log
    }
}

const TOKEN: &str = "tok-4c1d9e-never-log-me";
const PATIENT: &str = "pat-secret-889";

#[tokio::test]
async fn logs_carry_no_token_and_no_patient_data() {
    let fhir = MockServer::start().await;
    let patient = json!({"resourceType": "Patient", "id": PATIENT, "birthDate": "1991-05-14", "name": [{"family": "Zebulonsky"}]});
    let weight = json!({"resourceType": "Observation", "id": "w", "status": "final", "subject": {"reference": format!("Patient/{PATIENT}")},
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}, "effectiveDateTime": "2026-11-01",
        "valueQuantity": {"value": 81.37, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}});
    Mock::given(method("GET"))
        .and(path(format!("/fhir/Patient/{PATIENT}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(&patient))
        .mount(&fhir)
        .await;
    Mock::given(method("GET"))
        .and(path("/fhir/Observation"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": weight}]})),
        )
        .mount(&fhir)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"resourceType": "Bundle", "type": "searchset"})))
        .mount(&fhir)
        .await;

    let service = Service::start(&format!("{}/fhir", fhir.uri()));

    let client = reqwest::Client::new();
    let order = json!({"resourceType": "MedicationRequest", "id": "o1", "status": "draft", "intent": "order",
        "medicationCodeableConcept": {"text": "Xolair"}, "subject": {"reference": format!("Patient/{PATIENT}")},
        "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 300, "unit": "mg"}}]}]});
    let hook = json!({"hook": "order-sign", "hookInstance": "0b0c2a1e-8d3f-4f6e-9b1a-2c3d4e5f6a7b",
        "fhirServer": format!("{}/fhir", fhir.uri()),
        "fhirAuthorization": {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read", "subject": "cds"},
        "context": {"userId": "Practitioner/1", "patientId": PATIENT, "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]}}});
    let base = format!("{}/cds-services", service.base);
    let es = &issuer_keys().es384;
    let sign_path = "/cds-services/omalizumab-order-sign";
    let jwt = es.token_for(sign_path);
    let resp = client
        .post(format!("{base}/omalizumab-order-sign"))
        .bearer_auth(&jwt)
        .json(&hook)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().await.unwrap();
    let card = answer["cards"][0]["uuid"].as_str().unwrap().to_string();
    // A refused hook is logged too.
    let mut bad = hook.clone();
    bad["fhirServer"] = json!("https://elsewhere.example/fhir");
    assert_eq!(
        client
            .post(format!("{base}/omalizumab-order-sign"))
            .bearer_auth(es.token_for(sign_path))
            .json(&bad)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    // Caller text in a refused item (raw newline, ANSI escape) is never logged.
    let forged = json!({"feedback": [{"card": "c1\n\u{1b}[31mFAKE LOG LINE", "outcome": "overridden",
        "outcomeTimestamp": "2026-11-23T10:00:00Z", "overrideReason": {"userComment": "x"}}]});
    assert_eq!(
        client
            .post(format!("{base}/omalizumab-order-sign/feedback"))
            .bearer_auth(es.token_for("/cds-services/omalizumab-order-sign/feedback"))
            .json(&forged)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let feedback = json!({"feedback": [{"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-23T10:00:00Z",
        "overrideReason": {"userComment": format!("patient {PATIENT} Zebulonsky prefers")}}]});
    // A replayed client JWT is refused, and the refusal is logged without the token.
    let replay = client
        .post(format!("{base}/omalizumab-order-sign"))
        .bearer_auth(&jwt)
        .json(&hook)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);
    assert_eq!(
        client
            .post(format!("{base}/omalizumab-order-sign/feedback"))
            .bearer_auth(es.token_for("/cds-services/omalizumab-order-sign/feedback"))
            .json(&feedback)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let log = service.stop();
    assert!(
        log.contains(r#""decision":"answered""#) && log.contains("feedback"),
        "{log}"
    );
    assert!(log.contains("replayed-jti"), "the refusal reason is logged: {log}");
    let (jwt_input, jwt_signature) = jwt.rsplit_once('.').unwrap();
    for secret in [
        TOKEN,
        PATIENT,
        "Zebulonsky",
        "1991-05-14",
        "81.37",
        jwt_input,
        jwt_signature,
        "FAKE LOG LINE",
    ] {
        assert!(!log.contains(secret), "`{secret}` appears in the logs:\n{log}");
    }
}

/// Issue 4's acceptance: a valid ES384 token from the configured issuer works exactly
/// once per jti, every other row of the matrix is 401, and a hook naming a fhirServer
/// off the allowlist makes no outbound connection.
#[tokio::test]
async fn the_binary_accepts_a_token_once_and_refuses_the_matrix_and_foreign_servers() {
    let allowed = MockServer::start().await;
    let foreign = MockServer::start().await;
    for server in [&allowed, &foreign] {
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(server)
            .await;
    }
    let service = Service::start(&format!("{}/fhir", allowed.uri()));
    let client = reqwest::Client::new();
    let url = format!("{}{HOOK}", service.base);
    let s = crate::helpers::scenario("asthma-adult-dose-mismatch");
    let body = s.order_sign(Some(s.prefetch()), None);
    let post = |jwt: Option<String>, body: Value| {
        let mut request = client.post(&url).json(&body);
        if let Some(jwt) = jwt {
            request = request.bearer_auth(jwt);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };

    let token = issuer_keys().es384.token_for(HOOK);
    assert_eq!(post(Some(token.clone()), body.clone()).await, 200);
    assert_eq!(post(Some(token), body.clone()).await, 401, "replayed jti");
    for (row, jwt) in rejection_matrix() {
        assert_eq!(post(jwt, body.clone()).await, 401, "row: {row}");
    }
    let mut away = s.order_sign(None, Some(&format!("{}/fhir", foreign.uri())));
    away["prefetch"] = json!({});
    assert_eq!(post(Some(issuer_keys().es384.token_for(HOOK)), away).await, 403);
    let log = service.stop();
    assert!(log.contains("authentication failed"), "{log}");
}

/// Issue 13 item 7: with authentication on (production), the binary will not start
/// with the patient-hash salt kept only in its own database, and says how to make one.
#[test]
fn the_binary_refuses_to_start_with_jwt_and_no_salt_from_outside_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let jwks_path = dir.path().join("jwks.json");
    std::fs::write(&jwks_path, jwks(&[&issuer_keys().es384]).to_string()).unwrap();
    let binary = std::env::var("OMALIZUMAB_CDS_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_omalizumab-cds").into());
    let mut child = Command::new(binary)
        .arg("serve")
        .env_remove("CDS_AUDIT_SALT")
        .env_remove("CDS_AUDIT_SALT_FILE")
        .env("CDS_AUTH", "jwt")
        .env("CDS_PUBLIC_URL", PUBLIC_URL)
        .env(
            "CDS_JWT_ISSUERS",
            format!("{ISSUER}={}", url::Url::from_file_path(&jwks_path).unwrap()),
        )
        .env("CDS_BIND", "127.0.0.1:0")
        .env("CDS_STORE_PATH", dir.path().join("audit.sqlite"))
        .env("CDS_CARDS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/cards"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(10) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the service started without an audit salt");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(
        stderr.contains("CDS_AUDIT_SALT") && stderr.contains("openssl rand"),
        "{stderr}"
    );
    assert!(!dir.path().join("audit.sqlite").exists(), "no store is made");
}
