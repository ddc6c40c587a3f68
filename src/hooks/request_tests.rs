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
    let check =
        |hook: &str, expected: &str, c: Value| parse_default(&body(hook, c)).unwrap().validate(expected).unwrap_err();
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
