//! `omalizumab-cds check`: build the order-sign hook an EHR would send for a patient on
//! any FHIR R4 server (no prefetch, so every key is fetched with the given token), run
//! it through the engine in-process, and print the cards. Before that, one read of the
//! Patient turns the usual failures (unreachable, refused token, unknown patient) into
//! plain sentences.

use std::time::Duration;

use serde_json::{Value, json};
use url::Url;

use crate::config::Settings;
use crate::engine::{Engine, HookResult, run_hook};
use crate::gather::FhirAllowlist;

/// What to check: the server, the patient and the order as the clinician wrote it.
#[derive(Debug, Clone)]
pub struct CheckOrder {
    pub fhir_server: Url,
    pub patient: String,
    pub token: Option<String>,
    pub dose_mg: f64,
    pub every_weeks: u32,
    /// An ICD-10-CM code the order gives as its reason (`J45.50`), if any.
    pub indication: Option<String>,
    pub timeout: Duration,
    /// The day to judge the chart as of (the order's date): today when None, so that a
    /// historical chart can be checked as it stood.
    pub as_of: Option<chrono::NaiveDate>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot reach the FHIR server at {0}: {1}")]
    Unreachable(String, String),
    #[error("the FHIR server refused the request (HTTP {0}): pass a valid access token with --token")]
    Refused(u16),
    #[error("the FHIR server has no Patient/{0}")]
    NoPatient(String),
    #[error("the FHIR server answered HTTP {0} for Patient/{1}")]
    Server(u16, String),
    #[error("{0}")]
    Setup(String),
    #[error("the service answered {0}: {1}")]
    Hook(u16, String),
}

/// The draft order and hook request an EHR would send.
pub fn hook_request(order: &CheckOrder, drug_name: &str, today: chrono::NaiveDate) -> Value {
    let mut medication_request = json!({
        "resourceType": "MedicationRequest", "id": "check-order", "status": "draft", "intent": "order",
        "medicationCodeableConcept": {"text": drug_name},
        "subject": {"reference": format!("Patient/{}", order.patient)},
        "authoredOn": today.to_string(),
        "dosageInstruction": [{
            "timing": {"repeat": {"frequency": 1, "period": order.every_weeks, "periodUnit": "wk"}},
            "doseAndRate": [{"doseQuantity": {"value": order.dose_mg, "unit": "mg",
                                              "system": "http://unitsofmeasure.org", "code": "mg"}}]
        }]
    });
    if let Some(code) = &order.indication {
        medication_request["reasonCode"] =
            json!([{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}]}]);
    }
    let mut request = json!({
        "hook": "order-sign",
        "hookInstance": uuid::Uuid::new_v4().to_string(),
        "fhirServer": order.fhir_server.as_str().trim_end_matches('/'),
        "context": {
            "userId": "Practitioner/omalizumab-cds-check",
            "patientId": order.patient,
            "draftOrders": {"resourceType": "Bundle", "type": "collection",
                            "entry": [{"resource": medication_request}]}
        }
    });
    if let Some(token) = &order.token {
        request["fhirAuthorization"] = json!({
            "access_token": token, "token_type": "Bearer", "expires_in": 300,
            "scope": "patient/*.read", "subject": "omalizumab-cds-check"
        });
    }
    request
}

/// Read the Patient once, to say plainly what is wrong before running the hook.
async fn probe(order: &CheckOrder) -> Result<(), CheckError> {
    let base = order.fhir_server.as_str().trim_end_matches('/');
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(order.timeout)
        .build()
        .map_err(|e| CheckError::Setup(e.to_string()))?;
    let mut request = client
        .get(format!("{base}/Patient/{}", order.patient))
        .header("Accept", "application/fhir+json");
    if let Some(token) = &order.token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| CheckError::Unreachable(base.to_string(), causes(&e.without_url())))?;
    match response.status().as_u16() {
        200..=299 => Ok(()),
        status @ (401 | 403) => Err(CheckError::Refused(status)),
        404 | 410 => Err(CheckError::NoPatient(order.patient.clone())),
        status => Err(CheckError::Server(status, order.patient.clone())),
    }
}

/// An error and its causes in one line ("error sending request: connection refused").
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Run the check and return the hook's result.
pub async fn run(settings: &Settings, order: &CheckOrder) -> Result<HookResult, CheckError> {
    Ok(run_described(settings, order).await?.0)
}

/// As `run`, with the answer as the terminal shows it (`present::hook_result_text`).
pub async fn run_described(settings: &Settings, order: &CheckOrder) -> Result<(HookResult, String), CheckError> {
    probe(order).await?;
    // The operator named this server on the command line: it is the allowlist.
    let allowlist = FhirAllowlist {
        bases: vec![order.fhir_server.clone()],
        allow_plain_http: true,
    };
    let built = Engine::build(settings, allowlist, order.timeout, None).map_err(CheckError::Setup)?;
    let (service_id, drug_name) = built
        .order_sign_service()
        .and_then(|(profile, s)| Some((s.id.clone(), profile.recognition.names.first()?.clone())))
        .ok_or_else(|| CheckError::Setup("no order-sign service is offered".into()))?;
    let engine = built.context();
    let today = order.as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let body =
        serde_json::to_vec(&hook_request(order, &drug_name, today)).map_err(|e| CheckError::Setup(e.to_string()))?;
    let result = run_hook(&engine, &service_id, &body, today)
        .await
        .map_err(|e| CheckError::Hook(e.status(), e.to_string()))?;
    let profile = built.order_sign_service().map(|(p, _)| p).expect("found above");
    let text = crate::present::hook_result_text(profile, &result);
    Ok((result, text))
}
