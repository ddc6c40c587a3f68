//! The one table of errors a client can see: variant -> HTTP status -> stable code.
//!
//! Every non-2xx body is a FHIR OperationOutcome (as CDS Hooks 3.0 asks) whose
//! `issue[0].details.coding[0].code` is the stable code below and whose
//! `diagnostics` is a human sentence. The table is listed in the README.

use serde_json::{Value, json};

pub const ERROR_CODE_SYSTEM: &str = "urn:omalizumab-cds:error";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    WrongHook(String),
    #[error("no CDS service with id `{0}`")]
    UnknownService(String),
    /// With the methods the resource allows, for the `Allow` header (RFC 9110 §15.5.6).
    #[error("method not allowed here; allowed: {0}")]
    MethodNotAllowed(&'static str),
    #[error("this service does not implement that method")]
    MethodNotImplemented,
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("the fhirServer named by the request is not on this service's allowlist")]
    FhirServerNotAllowed,
    #[error("{0}")]
    DataUnavailable(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("too many failed authentications from this address; retry after {0} s")]
    TooManyFailures(u64),
    #[error("not found")]
    NotFound,
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    #[error("too many requests are being received at once; retry shortly")]
    Busy,
    #[error(
        "the service's database is unreachable, so replay protection and feedback cannot be checked; retry shortly"
    )]
    StoreUnavailable,
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// (HTTP status, stable code, FHIR issue type)
    pub fn parts(&self) -> (u16, &'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => (400, "invalid-request", "invalid"),
            ApiError::WrongHook(_) => (400, "wrong-hook", "invalid"),
            ApiError::UnknownService(_) => (404, "unknown-service", "not-found"),
            ApiError::NotFound => (404, "not-found", "not-found"),
            ApiError::MethodNotAllowed(_) => (405, "method-not-allowed", "not-supported"),
            ApiError::MethodNotImplemented => (501, "method-not-implemented", "not-supported"),
            ApiError::PayloadTooLarge(_) => (413, "payload-too-large", "too-costly"),
            ApiError::LimitExceeded(_) => (413, "limit-exceeded", "too-costly"),
            ApiError::FhirServerNotAllowed => (403, "fhir-server-not-allowed", "forbidden"),
            ApiError::DataUnavailable(_) => (412, "data-unavailable", "incomplete"),
            ApiError::Unauthorized => (401, "unauthorized", "login"),
            ApiError::TooManyFailures(_) => (429, "too-many-failures", "throttled"),
            ApiError::BodyTimeout => (408, "body-timeout", "timeout"),
            ApiError::Busy => (503, "busy", "transient"),
            ApiError::StoreUnavailable => (503, "store-unavailable", "transient"),
            ApiError::Internal => (500, "internal", "exception"),
        }
    }

    pub fn status(&self) -> u16 {
        self.parts().0
    }

    pub fn code(&self) -> &'static str {
        self.parts().1
    }

    pub fn body(&self) -> Value {
        let (_, code, issue_type) = self.parts();
        json!({
            "resourceType": "OperationOutcome",
            "issue": [{
                "severity": "error",
                "code": issue_type,
                "details": {"coding": [{"system": ERROR_CODE_SYSTEM, "code": code}]},
                "diagnostics": self.to_string()
            }]
        })
    }
}
