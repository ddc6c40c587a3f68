//! The hook request as it arrives, and its validation.
//!
//! No `#[serde(flatten)]` and no untagged enums: fhirbolt turns on serde_json's
//! `arbitrary_precision`, under which those patterns fail on numbers.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::limits::{RequestLimits, draft_order_count, json_depth_within, prefetch_resource_count};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookRequest {
    pub hook: String,
    pub hook_instance: String,
    pub fhir_server: Option<String>,
    pub fhir_authorization: Option<FhirAuthorization>,
    pub context: Value,
    /// Kept as JSON: a key may be absent (not fetched), `null` (no data), a resource,
    /// a Bundle, or an OperationOutcome (the client's fetch failed).
    pub prefetch: Option<Map<String, Value>>,
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
    pub draft_orders: Value,
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
        if let Some(draft_orders) = self.context.get("draftOrders") {
            let orders = draft_order_count(draft_orders);
            if orders > limits.max_draft_orders {
                return Err(RequestError::Limit(format!(
                    "draftOrders has {orders} entries; at most {} are accepted",
                    limits.max_draft_orders
                )));
            }
        }
        if let Some(selections) = self.context.get("selections").and_then(Value::as_array)
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
        let ctx = self
            .context
            .as_object()
            .ok_or_else(|| RequestError::Shape("context must be an object".into()))?;
        let (user_id, patient_id, encounter_id) = context_ids(ctx)?;
        let draft_orders = ctx
            .get("draftOrders")
            .cloned()
            .ok_or(RequestError::MissingContext("draftOrders"))?;
        if draft_orders.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
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
fn context_ids(ctx: &Map<String, Value>) -> Result<(String, String, Option<String>), RequestError> {
    let string = |key: &'static str| -> Result<Option<String>, RequestError> {
        match ctx.get(key) {
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
fn selections(ctx: &Map<String, Value>, draft_orders: &Value) -> Result<Vec<String>, RequestError> {
    let list = ctx
        .get("selections")
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
fn draft_order_references(bundle: &Value) -> impl Iterator<Item = String> + '_ {
    bundle
        .get("entry")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let r = e.get("resource")?;
            Some(format!(
                "{}/{}",
                r.get("resourceType")?.as_str()?,
                r.get("id")?.as_str()?
            ))
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
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_of_dots_only_are_not_fhir_ids() {
        for bad in [".", "..", "...", "", "a/b", "a b"] {
            assert!(!is_fhir_id(bad), "{bad:?}");
        }
        for good in ["p-1", "a.b", "eznE67YHGLl9Kd0LnPrEsp3SFrU1teYzepNzAdfh4Bh83", "1.2"] {
            assert!(is_fhir_id(good), "{good:?}");
        }
    }

    fn body(hook: &str, context: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "hook": hook,
            "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "fhirServer": "https://ehr.example/fhir",
            "fhirAuthorization": {"access_token": "secret-token", "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read", "subject": "cds"},
            "context": context,
            "extension": {"com.example.unknown": {"nested": [1, 2.5e3]}}
        }))
        .unwrap()
    }

    fn parse_default(body: &[u8]) -> Result<HookRequest, RequestError> {
        parse(body, &RequestLimits::default())
    }

    fn draft() -> Value {
        json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "MedicationRequest", "id": "mr1"}}]})
    }

    #[test]
    fn numbers_deserialize_under_arbitrary_precision() {
        // expires_in is a plain number and extension holds an exponent: both must parse
        // with the arbitrary_precision feature fhirbolt enables.
        let req = parse_default(&body(
            "order-sign",
            json!({"userId": "Practitioner/1", "patientId": "p1", "draftOrders": draft()}),
        ))
        .unwrap();
        assert_eq!(req.fhir_authorization.as_ref().unwrap().expires_in, 300);
        assert!(req.validate("order-sign").is_ok());
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let req = parse_default(&body("order-sign", json!({}))).unwrap();
        let shown = format!("{req:?} {:?}", req.fhir_authorization);
        assert!(!shown.contains("secret-token"), "{shown}");
    }

    #[test]
    fn each_request_rule_has_its_error() {
        let ctx = |extra: Value| {
            let mut c = json!({"userId": "Practitioner/1", "patientId": "p1", "draftOrders": draft()});
            for (k, v) in extra.as_object().unwrap() {
                c[k] = v.clone();
            }
            c
        };
        let check = |hook: &str, expected: &str, c: Value| {
            parse_default(&body(hook, c)).unwrap().validate(expected).unwrap_err()
        };
        assert!(matches!(
            check("order-select", "order-sign", ctx(json!({}))),
            RequestError::WrongHook { .. }
        ));
        assert_eq!(
            check(
                "order-sign",
                "order-sign",
                json!({"patientId": "p1", "draftOrders": draft()})
            ),
            RequestError::MissingContext("userId")
        );
        assert!(matches!(
            check("order-sign", "order-sign", ctx(json!({"userId": "Device/1"}))),
            RequestError::InvalidContext("userId", _)
        ));
        assert!(matches!(
            check("order-sign", "order-sign", ctx(json!({"patientId": "../../x"}))),
            RequestError::InvalidContext("patientId", _)
        ));
        assert!(matches!(
            check(
                "order-sign",
                "order-sign",
                ctx(json!({"draftOrders": {"resourceType": "Patient"}}))
            ),
            RequestError::InvalidContext("draftOrders", _)
        ));
        assert_eq!(
            check("order-select", "order-select", ctx(json!({}))),
            RequestError::MissingContext("selections")
        );
        assert!(matches!(
            check(
                "order-select",
                "order-select",
                ctx(json!({"selections": ["MedicationRequest/other"]}))
            ),
            RequestError::InvalidContext("selections", _)
        ));
        let ok = parse_default(&body(
            "order-select",
            ctx(json!({"selections": ["MedicationRequest/mr1"]})),
        ))
        .unwrap();
        assert_eq!(
            ok.validate("order-select").unwrap().selections,
            Some(vec!["MedicationRequest/mr1".to_string()])
        );
    }

    #[test]
    fn instance_and_authorization_rules() {
        let mut v: Value = serde_json::from_slice(&body(
            "order-sign",
            json!({"userId": "Practitioner/1", "patientId": "p1", "draftOrders": draft()}),
        ))
        .unwrap();
        v["hookInstance"] = json!("not-a-uuid");
        let req: HookRequest = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(req.validate("order-sign").unwrap_err(), RequestError::HookInstance);
        v["hookInstance"] = json!("d1577c69-dfbe-44ad-ba6d-3e05e953b2ea");
        v.as_object_mut().unwrap().remove("fhirServer");
        let req: HookRequest = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(
            req.validate("order-sign").unwrap_err(),
            RequestError::AuthorizationWithoutServer
        );
        v["fhirServer"] = json!("https://ehr.example/fhir");
        v["fhirAuthorization"]["token_type"] = json!("MAC");
        let req: HookRequest = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(req.validate("order-sign").unwrap_err(), RequestError::TokenType);
        v["fhirAuthorization"]["token_type"] = json!("Bearer");
        v["fhirServer"] = json!("ftp://ehr.example/fhir");
        let req: HookRequest = serde_json::from_value(v).unwrap();
        assert_eq!(req.validate("order-sign").unwrap_err(), RequestError::FhirServer);
    }

    #[test]
    fn syntax_and_shape_errors_differ() {
        assert!(matches!(parse_default(b"{not json"), Err(RequestError::Json(_))));
        // Cut off midway: still a syntax problem, not a shape one.
        assert!(matches!(
            parse_default(b"{\"hook\": \"order-sign\", \"hookInst"),
            Err(RequestError::Json(_))
        ));
        assert!(matches!(
            parse_default(b"{\"hook\": \"order-sign\"}"),
            Err(RequestError::Shape(_))
        ));
        assert!(matches!(
            parse_default(b"{\"hook\": 5, \"hookInstance\": \"x\", \"context\": {}}"),
            Err(RequestError::Shape(_))
        ));
    }

    #[test]
    fn limits_refuse_deep_nesting_many_orders_and_large_prefetch() {
        let limits = RequestLimits {
            max_json_depth: 8,
            max_draft_orders: 2,
            max_prefetch_resources: 3,
            max_feedback_items: 1,
            ..RequestLimits::default()
        };
        let mut deep = json!(1);
        for _ in 0..8 {
            deep = json!([deep]);
        }
        let too_deep = body("order-sign", json!({"x": deep}));
        assert!(matches!(parse(&too_deep, &limits), Err(RequestError::Limit(_))));

        let entry = json!({"resource": {"resourceType": "MedicationRequest", "id": "mr1"}});
        let context = |n: usize| {
            json!({"userId": "Practitioner/p1", "patientId": "p1",
                   "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": vec![entry.clone(); n]}})
        };
        let two = parse(&body("order-sign", context(2)), &limits).unwrap();
        assert_eq!(two.check_limits(&two.validate("order-sign").unwrap(), &limits), Ok(()));
        let err = parse(&body("order-sign", context(3)), &limits).map(|_| ());
        assert!(matches!(err, Err(RequestError::Limit(m)) if m.contains("draftOrders")));

        let mut big = serde_json::from_slice::<Value>(&body("order-sign", context(1))).unwrap();
        big["prefetch"] = json!({"obs": {"resourceType": "Bundle", "entry": [{}, {}, {}]}});
        let err = parse(&serde_json::to_vec(&big).unwrap(), &limits).map(|_| ());
        assert!(matches!(err, Err(RequestError::Limit(m)) if m.contains("prefetch")));
    }

    /// Issue 13 item 3: selections were compared with every draftOrders reference before
    /// any count was checked (one 1 MB request cost 0.9 s of CPU). Counts come first, in
    /// `parse`, so an oversized list is refused before it is compared with anything.
    #[test]
    fn oversized_draft_orders_and_selections_are_refused_while_parsing() {
        let limits = RequestLimits {
            max_draft_orders: 3,
            ..RequestLimits::default()
        };
        let entries: Vec<Value> = (0..10)
            .map(|i| json!({"resource": {"resourceType": "MedicationRequest", "id": format!("mr{i}")}}))
            .collect();
        let many = json!({"userId": "Practitioner/p1", "patientId": "p1", "selections": ["MedicationRequest/nope"],
                          "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": entries}});
        let err = parse(&body("order-select", many), &limits).map(|_| ()).unwrap_err();
        assert!(
            matches!(&err, RequestError::Limit(m) if m.contains("draftOrders")),
            "{err:?}"
        );
        let selections: Vec<String> = (0..10).map(|_| "MedicationRequest/mr1".to_string()).collect();
        let long =
            json!({"userId": "Practitioner/p1", "patientId": "p1", "selections": selections, "draftOrders": draft()});
        let err = parse(&body("order-select", long), &limits).map(|_| ()).unwrap_err();
        assert!(
            matches!(&err, RequestError::Limit(m) if m.contains("selections")),
            "{err:?}"
        );
    }

    #[test]
    fn selections_are_matched_against_a_set_of_entries() {
        let entries: Vec<Value> = (0..3)
            .map(|i| json!({"resource": {"resourceType": "MedicationRequest", "id": format!("mr{i}")}}))
            .collect();
        let draft = json!({"resourceType": "Bundle", "type": "collection", "entry": entries});
        let ctx = |sel: Value| {
            body(
                "order-select",
                json!({"userId": "Practitioner/p1", "patientId": "p1", "selections": sel, "draftOrders": draft}),
            )
        };
        let ok = parse_default(&ctx(json!(["MedicationRequest/mr2", "MedicationRequest/mr0"]))).unwrap();
        assert_eq!(
            ok.validate("order-select").unwrap().selections.unwrap(),
            vec!["MedicationRequest/mr2", "MedicationRequest/mr0"]
        );
        let bad = parse_default(&ctx(json!(["MedicationRequest/mr3"]))).unwrap();
        assert!(matches!(
            bad.validate("order-select"),
            Err(RequestError::InvalidContext("selections", m)) if m.contains("mr3")
        ));
    }
}
