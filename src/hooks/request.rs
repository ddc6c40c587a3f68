//! The hook request as it arrives, and its validation.
//!
//! No `#[serde(flatten)]` and no untagged enums: fhirbolt turns on serde_json's
//! `arbitrary_precision`, under which those patterns fail on numbers.
//!
//! The FHIR in it (prefetch values, draftOrders) is kept as text (`FhirJson`), never
//! built as a tree here: each resource is looked at and parsed from its own text when
//! the chart is read, and one no rule reads is never built at all.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use super::context::Context;
use super::limits::{RequestLimits, draft_order_count, json_depth_within, prefetch_resource_count};
use crate::fhir::json::FhirJson;
use crate::fhir::look::Look;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookRequest {
    pub hook: String,
    pub hook_instance: String,
    pub fhir_server: Option<String>,
    pub fhir_authorization: Option<FhirAuthorization>,
    pub context: Context,
    /// Kept as JSON text: a key may be absent (not fetched), `null` (no data), a
    /// resource, a Bundle, or an OperationOutcome (the client's fetch failed).
    pub prefetch: Option<BTreeMap<String, FhirJson>>,
    /// Unknown extension keys are ignored, as the spec asks.
    #[serde(default)]
    pub extension: Option<Value>,
}

#[derive(Deserialize)]
pub struct FhirAuthorization {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    pub scope: String,
    pub subject: String,
    pub patient: Option<String>,
}

// The access token must never reach a log line, even through a stray `{:?}`.
impl fmt::Debug for FhirAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FhirAuthorization")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for HookRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookRequest")
            .field("hook", &self.hook)
            .field("hook_instance", &self.hook_instance)
            .finish_non_exhaustive()
    }
}

/// order-sign / order-select context, validated.
#[derive(Debug, Clone)]
pub struct OrderContext {
    pub user_id: String,
    pub patient_id: String,
    pub encounter_id: Option<String>,
    pub draft_orders: FhirJson,
    /// order-select only: the `Type/id` entries the user selected.
    pub selections: Option<Vec<String>>,
}

/// A request problem, phrased for the integrator who sent it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    #[error("body is not valid JSON: {0}")]
    Json(String),
    #[error("request does not match the CDS Hooks request shape: {0}")]
    Shape(String),
    #[error("hookInstance must be a UUID")]
    HookInstance,
    #[error("fhirAuthorization requires fhirServer")]
    AuthorizationWithoutServer,
    #[error("fhirAuthorization.token_type must be Bearer")]
    TokenType,
    #[error("fhirServer must be an absolute http(s) URL")]
    FhirServer,
    #[error("context.{0} is required")]
    MissingContext(&'static str),
    #[error("context.{0} is not valid: {1}")]
    InvalidContext(&'static str, String),
    #[error("hook `{got}` sent to a service for `{expected}`")]
    WrongHook { got: String, expected: String },
    #[error("{0}")]
    Limit(String),
}

/// Parse the body into a request; a JSON syntax error and a shape error read differently
/// to the integrator. Nesting is checked first, before anything is built.
pub fn parse(body: &[u8], limits: &RequestLimits) -> Result<HookRequest, RequestError> {
    if !json_depth_within(body, limits.max_json_depth) {
        return Err(RequestError::Limit(format!(
            "JSON nested deeper than {} levels",
            limits.max_json_depth
        )));
    }
    // One pass straight into the request (building a `Value` first and converting it
    // rebuilt the whole prefetch a second time); serde_json's error category still
    // tells a syntax error from a shape error.
    let request: HookRequest = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => RequestError::Shape(e.to_string()),
        _ => RequestError::Json(e.to_string()),
    })?;
    // Counts before validation: `validate` compares selections with draft orders, work
    // an oversized request must not get.
    request.check_counts(limits)?;
    Ok(request)
}

impl HookRequest {
    /// Refuse requests whose size in orders or prefetched resources exceeds the limits,
    /// before any data is gathered or read.
    pub fn check_limits(&self, ctx: &OrderContext, limits: &RequestLimits) -> Result<(), RequestError> {
        let orders = draft_order_count(&ctx.draft_orders);
        if orders > limits.max_draft_orders {
            return Err(RequestError::Limit(format!(
                "draftOrders has {orders} entries; at most {} are accepted",
                limits.max_draft_orders
            )));
        }
        self.check_counts(limits)
    }

    /// The counts that bound later work, read from the raw context: draftOrders entries,
    /// selections (each names a draft order, so no more of them than orders are allowed)
    /// and prefetch resources.
    fn check_counts(&self, limits: &RequestLimits) -> Result<(), RequestError> {
        if let Some(draft_orders) = &self.context.draft_orders {
            let orders = draft_order_count(draft_orders);
            if orders > limits.max_draft_orders {
                return Err(RequestError::Limit(format!(
                    "draftOrders has {orders} entries; at most {} are accepted",
                    limits.max_draft_orders
                )));
            }
        }
        if let Some(selections) = self.context.selections.as_ref().and_then(Value::as_array)
            && selections.len() > limits.max_draft_orders
        {
            return Err(RequestError::Limit(format!(
                "selections has {} items; at most {} are accepted",
                selections.len(),
                limits.max_draft_orders
            )));
        }
        let resources = self.prefetch.as_ref().map_or(0, prefetch_resource_count);
        if resources > limits.max_prefetch_resources {
            return Err(RequestError::Limit(format!(
                "prefetch holds {resources} resources; at most {} are accepted",
                limits.max_prefetch_resources
            )));
        }
        Ok(())
    }

    /// Check the request for a service of hook `expected`.
    pub fn validate(&self, expected: &str) -> Result<OrderContext, RequestError> {
        if self.hook != expected {
            return Err(RequestError::WrongHook {
                got: self.hook.clone(),
                expected: expected.to_string(),
            });
        }
        if uuid::Uuid::parse_str(&self.hook_instance).is_err() {
            return Err(RequestError::HookInstance);
        }
        self.validate_fhir_access()?;
        let ctx = &self.context;
        if !ctx.is_object {
            return Err(RequestError::Shape("context must be an object".into()));
        }
        let (user_id, patient_id, encounter_id) = context_ids(ctx)?;
        let draft_orders = ctx
            .draft_orders
            .clone()
            .ok_or(RequestError::MissingContext("draftOrders"))?;
        if draft_orders.resource_type() != Some("Bundle") {
            return Err(RequestError::InvalidContext(
                "draftOrders",
                "must be a FHIR Bundle".into(),
            ));
        }
        let selections = if expected == "order-select" {
            Some(selections(ctx, &draft_orders)?)
        } else {
            None
        };
        Ok(OrderContext {
            user_id,
            patient_id,
            encounter_id,
            draft_orders,
            selections,
        })
    }

    /// `fhirAuthorization` needs `fhirServer` and a Bearer token; the server is an http(s) URL.
    fn validate_fhir_access(&self) -> Result<(), RequestError> {
        if let Some(auth) = &self.fhir_authorization {
            if self.fhir_server.is_none() {
                return Err(RequestError::AuthorizationWithoutServer);
            }
            if !auth.token_type.eq_ignore_ascii_case("bearer") {
                return Err(RequestError::TokenType);
            }
        }
        if let Some(server) = &self.fhir_server {
            let ok = url::Url::parse(server).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
            if !ok {
                return Err(RequestError::FhirServer);
            }
        }
        Ok(())
    }
}

/// userId, patientId and encounterId of the context, checked.
fn context_ids(ctx: &Context) -> Result<(String, String, Option<String>), RequestError> {
    let string = |key: &'static str| -> Result<Option<String>, RequestError> {
        let value = match key {
            "userId" => &ctx.user_id,
            "patientId" => &ctx.patient_id,
            _ => &ctx.encounter_id,
        };
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(RequestError::InvalidContext(key, "must be a string".into())),
        }
    };
    let user_id = string("userId")?.ok_or(RequestError::MissingContext("userId"))?;
    if !is_reference(
        &user_id,
        &["Practitioner", "PractitionerRole", "Patient", "RelatedPerson"],
    ) {
        return Err(RequestError::InvalidContext(
            "userId",
            "must be like Practitioner/123".into(),
        ));
    }
    let patient_id = string("patientId")?.ok_or(RequestError::MissingContext("patientId"))?;
    if !is_fhir_id(&patient_id) {
        return Err(RequestError::InvalidContext("patientId", "must be a FHIR id".into()));
    }
    let encounter_id = string("encounterId")?;
    if encounter_id.as_deref().is_some_and(|e| !is_fhir_id(e)) {
        return Err(RequestError::InvalidContext("encounterId", "must be a FHIR id".into()));
    }
    Ok((user_id, patient_id, encounter_id))
}

/// order-select's `selections`: each names an entry of draftOrders.
fn selections(ctx: &Context, draft_orders: &FhirJson) -> Result<Vec<String>, RequestError> {
    let list = ctx
        .selections
        .as_ref()
        .ok_or(RequestError::MissingContext("selections"))?;
    let list: Vec<String> = list
        .as_array()
        .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect())
        .ok_or_else(|| RequestError::InvalidContext("selections", "must be a list of Type/id strings".into()))?;
    // A set: with the counts already bounded this is cheap either way, but it keeps
    // the check linear if a limit is ever raised.
    let entries: HashSet<String> = draft_order_references(draft_orders).collect();
    if let Some(missing) = list.iter().find(|s| !entries.contains(s.as_str())) {
        return Err(RequestError::InvalidContext(
            "selections",
            format!("`{missing}` names no entry of draftOrders"),
        ));
    }
    Ok(list)
}

/// `Type/id` of every resource in a Bundle.
fn draft_order_references(bundle: &FhirJson) -> impl Iterator<Item = String> + '_ {
    bundle.entry_resources().filter_map(|text| {
        let r = Look::parse(text).ok()?;
        Some(format!("{}/{}", r.resource_type()?, r.id.as_deref()?))
    })
}

/// FHIR id: 1-64 of A-Z a-z 0-9 - .
/// A FHIR id: 1-64 of `[A-Za-z0-9-.]`. Ids of dots only are refused: `.` and `..` are
/// path steps, and `Patient/..` would read another resource than the patient.
pub fn is_fhir_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !s.bytes().all(|b| b == b'.')
}

fn is_reference(s: &str, types: &[&str]) -> bool {
    s.split_once('/')
        .is_some_and(|(t, id)| types.contains(&t) && is_fhir_id(id))
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
