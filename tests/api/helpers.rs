//! Start the real application on port 0 beside a wiremock FHIR server; load scenarios.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::keys::{ISSUER, PUBLIC_URL, issuer_keys, jwks};
use omalizumab_cds::config::Settings;
use omalizumab_cds::startup::Application;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const TOKEN: &str = "test-access-token-7f3a";
pub const HOOK_INSTANCE: &str = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea";
/// The patient-hash salt every test app is given (CDS_AUTH=jwt requires one).
pub const AUDIT_SALT: &str = "test-salt-0123456789abcdef0123456789";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub fhir: MockServer,
    /// Holds the issuer's JWKS file and the audit database for as long as the app runs.
    pub dir: tempfile::TempDir,
}

impl TestApp {
    /// The FHIR base URL the hooks name (on the allowlist).
    pub fn fhir_base(&self) -> String {
        format!("{}/fhir", self.fhir.uri())
    }

    /// A GET signed as the trusted EHR would sign it.
    pub async fn get(&self, p: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{p}", self.address))
            .bearer_auth(issuer_keys().es384.token_for(p))
            .send()
            .await
            .expect("request")
    }

    pub async fn get_discovery(&self) -> reqwest::Response {
        self.get("/cds-services").await
    }

    pub async fn post_hook(&self, service: &str, body: &Value) -> reqwest::Response {
        self.post_raw(&format!("/cds-services/{service}"), serde_json::to_vec(body).unwrap())
            .await
    }

    /// Fail the test (when the mock server drops) if the service calls the FHIR server.
    pub async fn expect_no_fhir_calls(&self) {
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(&self.fhir)
            .await;
    }

    /// Post a hook and read the JSON answer, whatever the status.
    pub async fn hook_json(&self, service: &str, body: &Value) -> Value {
        self.post_hook(service, body).await.json().await.expect("JSON body")
    }

    pub async fn post_feedback(&self, service: &str, body: &Value) -> reqwest::Response {
        self.post_raw(
            &format!("/cds-services/{service}/feedback"),
            serde_json::to_vec(body).unwrap(),
        )
        .await
    }

    /// A POST signed as the trusted EHR would sign it.
    pub async fn post_raw(&self, p: &str, body: Vec<u8>) -> reqwest::Response {
        self.post_with(p, Some(&issuer_keys().es384.token_for(p)), body).await
    }

    /// A POST with the given client JWT, or none.
    pub async fn post_with(&self, p: &str, jwt: Option<&str>, body: Vec<u8>) -> reqwest::Response {
        let mut request = self.client.post(format!("{}{p}", self.address));
        if let Some(jwt) = jwt {
            request = request.bearer_auth(jwt);
        }
        request
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request")
    }
}

pub fn cards_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cards")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Start the app; `extra` settings override the test defaults. By default it trusts
/// one issuer (ISSUER, keys from a JWKS file) and is reached at PUBLIC_URL.
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let fhir = MockServer::start().await;
    let keys_dir = tempfile::tempdir().expect("temp dir");
    let jwks_path = keys_dir.path().join("jwks.json");
    let keys = issuer_keys();
    std::fs::write(&jwks_path, jwks(&[&keys.es384, &keys.rs384]).to_string()).expect("write JWKS");
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    vars.insert("CDS_PUBLIC_URL".into(), PUBLIC_URL.into());
    vars.insert(
        "CDS_STORE_PATH".into(),
        keys_dir.path().join("audit.sqlite").display().to_string(),
    );
    vars.insert(
        "CDS_JWT_ISSUERS".into(),
        format!("{ISSUER}={}", url::Url::from_file_path(&jwks_path).unwrap()),
    );
    vars.insert("CDS_BIND".into(), "127.0.0.1:0".into());
    vars.insert("CDS_CARDS_DIR".into(), cards_dir().display().to_string());
    vars.insert("CDS_FHIR_ALLOWED".into(), format!("{}/fhir", fhir.uri()));
    vars.insert("CDS_HOOK_DEADLINE_MS".into(), "2000".into());
    // CDS_AUTH=jwt (the default) will not start without a salt from outside the store.
    vars.insert("CDS_AUDIT_SALT".into(), AUDIT_SALT.into());
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    let settings = Settings::from_map(&vars).expect("settings");
    let app = Application::build(&settings).expect("app builds");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
        fhir,
        dir: keys_dir,
    }
}

/// A scenario from fixtures/scenarios/<name>.
pub struct Scenario {
    pub resources: Vec<Value>,
    pub order: Value,
    pub expected: Value,
}

pub fn scenario(name: &str) -> Scenario {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/scenarios")
        .join(name);
    let read = |f: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{name}/{f}: {e}")))
            .unwrap_or_else(|e| panic!("{name}/{f}: {e}"))
    };
    let chart = read("chart.json");
    let resources = chart["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"].clone())
        .collect();
    Scenario {
        resources,
        order: read("order.json"),
        expected: read("expected.json"),
    }
}

pub fn scenario_names() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

pub fn searchset(resources: Vec<Value>) -> Value {
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": resources.len(),
        "entry": resources.into_iter().map(|r| json!({
            "fullUrl": format!("https://ehr.example/fhir/{}/{}", r["resourceType"].as_str().unwrap(), r["id"].as_str().unwrap()),
            "resource": r,
            "search": {"mode": "match"}
        })).collect::<Vec<_>>()
    })
}

impl Scenario {
    pub fn patient_id(&self) -> String {
        self.of_type("Patient")[0]["id"].as_str().unwrap().to_string()
    }

    pub fn of_type(&self, t: &str) -> Vec<Value> {
        self.resources
            .iter()
            .filter(|r| r["resourceType"] == t)
            .cloned()
            .collect()
    }

    /// What an EHR fills from our discovery templates, key by key.
    pub fn prefetch(&self) -> Value {
        json!({
            "patient": self.of_type("Patient")[0],
            "observations": searchset(self.of_type("Observation")),
            "conditions": searchset(self.of_type("Condition")),
            "medicationRequests": searchset(self.of_type("MedicationRequest")),
            "medicationStatements": searchset(self.of_type("MedicationStatement")),
            "medicationAdministrations": searchset(self.of_type("MedicationAdministration")),
            "allergyIntolerances": searchset(self.of_type("AllergyIntolerance")),
            "observationPanels": searchset(self.of_type("Observation").into_iter().filter(|o| o.get("component").is_some()).collect()),
        })
    }

    pub fn draft_orders(&self) -> Value {
        json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": self.order}]})
    }

    /// An order-sign request; `prefetch` None leaves the key out, `fhir` None leaves
    /// out fhirServer and fhirAuthorization.
    pub fn order_sign(&self, prefetch: Option<Value>, fhir: Option<&str>) -> Value {
        let mut body = json!({
            "hook": "order-sign",
            "hookInstance": HOOK_INSTANCE,
            "context": {
                "userId": "Practitioner/dr-1",
                "patientId": self.patient_id(),
                "encounterId": "enc-1",
                "draftOrders": self.draft_orders()
            }
        });
        if let Some(p) = prefetch {
            body["prefetch"] = p;
        }
        if let Some(server) = fhir {
            body["fhirServer"] = json!(server);
            body["fhirAuthorization"] = json!({
                "access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                "scope": "patient/*.read", "subject": "omalizumab-cds"
            });
        }
        body
    }

    /// Serve this chart from the mock FHIR server, requiring the bearer token.
    pub async fn mount(&self, server: &MockServer) {
        let pid = self.patient_id();
        Mock::given(method("GET"))
            .and(path(format!("/fhir/Patient/{pid}")))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(self.of_type("Patient")[0].clone()))
            .mount(server)
            .await;
        for t in [
            "Observation",
            "Condition",
            "MedicationRequest",
            "MedicationStatement",
            "MedicationAdministration",
            "AllergyIntolerance",
        ] {
            Mock::given(method("GET"))
                .and(path(format!("/fhir/{t}")))
                .and(query_param("patient", pid.as_str()))
                .and(query_param_is_missing("page"))
                .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
                .respond_with(ResponseTemplate::new(200).set_body_json(searchset(self.of_type(t))))
                .mount(server)
                .await;
        }
    }
}

/// Find any `null`, `""`, `[]` or `{}` in a response (the spec omits empty optionals;
/// `cards: []` is the one empty value allowed, checked by the caller).
pub fn empty_values(v: &Value, at: &str, found: &mut Vec<String>) {
    match v {
        Value::Null => found.push(at.to_string()),
        Value::String(s) if s.is_empty() => found.push(at.to_string()),
        Value::Array(a) => {
            if a.is_empty() && !at.ends_with(".cards") {
                found.push(at.to_string());
            }
            for (i, x) in a.iter().enumerate() {
                empty_values(x, &format!("{at}[{i}]"), found);
            }
        }
        Value::Object(o) => {
            if o.is_empty() {
                found.push(at.to_string());
            }
            for (k, x) in o {
                // Resources inside suggestions are the EHR's own: not ours to judge.
                if k == "resource" {
                    continue;
                }
                empty_values(x, &format!("{at}.{k}"), found);
            }
        }
        _ => {}
    }
}

pub fn assert_clean(v: &Value) {
    let mut found = Vec::new();
    empty_values(v, "$", &mut found);
    assert!(found.is_empty(), "empty optional values at {found:?} in {v:#}");
}

pub fn extension(card: &Value) -> &Value {
    &card["extension"]["omalizumab-cds.assessment"]
}
