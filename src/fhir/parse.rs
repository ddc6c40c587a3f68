//! FHIR JSON (prefetch values, search results, draftOrders) into fhirbolt resources.
//!
//! Each resource and each bundle entry is parsed on its own, in fhirbolt's strict mode,
//! so one odd entry never costs the whole bundle: it is skipped and counted. Each is
//! first looked at (`Look`): one the caller does not want is skipped unbuilt, and one it
//! wants is parsed straight from its text. Only a resource holding what strict mode
//! rejects but real servers send (`null` members, empty arrays or objects,
//! `fhir_comments`), or one the text parse refuses, is built as a tree, cleaned, and
//! parsed from the tree, as every resource was before.

use std::cell::Cell;

use fhir_parse::r4::Resource;
use serde_json::Value;

use super::json::FhirJson;
use super::look::Look;

/// What one JSON value (a resource or a Bundle) yielded.
#[derive(Debug, Default)]
pub struct Parsed {
    pub resources: Vec<Resource>,
    /// The JSON text of each parsed resource, in the same order; filled only by
    /// `read_keeping_raw` (orders, whose suggestions send the whole resource back).
    pub raw: Vec<String>,
    pub unreadable: usize,
    /// `link[relation=next]` of a searchset, when there are more pages.
    pub next: Option<String>,
}

/// Parse a resource or a Bundle (entries one by one), only the resources `wanted`
/// accepts; the others are neither built nor counted. `OperationOutcome` entries of a
/// searchset (search.mode = outcome) carry warnings, not data, and are dropped.
pub fn read(json: &FhirJson, wanted: &mut dyn FnMut(&Look) -> bool) -> Parsed {
    read_into(json, false, wanted)
}

/// Every resource, each with its JSON text in `raw`.
pub fn read_keeping_raw(json: &FhirJson) -> Parsed {
    read_into(json, true, &mut |_| true)
}

fn read_into(json: &FhirJson, keep_raw: bool, wanted: &mut dyn FnMut(&Look) -> bool) -> Parsed {
    let mut out = Parsed::default();
    match json.resource_type() {
        Some("Bundle") => {
            out.next = json.next_link().map(str::to_string);
            for text in json.entry_resources() {
                read_one(text, true, keep_raw, wanted, &mut out);
            }
        }
        Some(_) => read_one(json.text(), false, keep_raw, wanted, &mut out),
        None => out.unreadable += 1,
    }
    out
}

fn read_one(text: &str, entry: bool, keep_raw: bool, wanted: &mut dyn FnMut(&Look) -> bool, out: &mut Parsed) {
    let Ok(look) = Look::parse(text) else {
        out.unreadable += 1;
        return;
    };
    if (entry && look.is_operation_outcome()) || !wanted(&look) {
        return;
    }
    match parse_text(text) {
        Ok(r) => {
            out.resources.push(r);
            if keep_raw {
                out.raw.push(text.to_string());
            }
        }
        Err(_) => out.unreadable += 1,
    }
}

thread_local! {
    static TREES_BUILT: Cell<usize> = const { Cell::new(0) };
}

/// Resources this thread has built as a JSON tree to parse them (the clean-up path):
/// tests and profiles read it to see which resources took that path.
pub fn trees_built_on_this_thread() -> usize {
    TREES_BUILT.with(Cell::get)
}

/// Parse one resource from its JSON text. Straight from the text when it holds nothing
/// to clean up; otherwise, or when that fails, as before: built as a tree, cleaned of
/// what strict mode rejects (or, for empty arrays, what makes fhirbolt 0.4 panic) but
/// real servers send and FHIR JSON does not allow (`null` members, empty arrays and
/// objects as members, `fhir_comments`), and parsed from the tree. Without anything to
/// clean, both give the same resource (`fhir-parse`'s tests and `fixtures_parse_the_same`).
pub fn parse_text(text: &str) -> Result<Resource, String> {
    if !may_need_cleanup(text.as_bytes())
        && let Ok(r) = fhir_parse::parse_resource_str(text)
    {
        return Ok(r);
    }
    TREES_BUILT.with(|n| n.set(n.get() + 1));
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    parse_tree(v)
}

/// Whether the clean-up could change this text: a `null` member (`: null`), an empty
/// array or object, or `fhir_comments`. Read on the bytes, strings included, so it errs
/// only towards the tree (a string holding `: null` costs the clean-up, nothing else).
fn may_need_cleanup(text: &[u8]) -> bool {
    let after_space = |mut i: usize| {
        while i < text.len() && matches!(text[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        &text[i..]
    };
    memchr::memchr3_iter(b':', b'[', b'{', text).any(|i| match text[i] {
        b':' => after_space(i + 1).starts_with(b"null"),
        b'[' => after_space(i + 1).starts_with(b"]"),
        _ => after_space(i + 1).starts_with(b"}"),
    }) || memchr::memmem::find(text, b"fhir_comments").is_some()
}

fn parse_tree(mut v: Value) -> Result<Resource, String> {
    strip_noise(&mut v);
    fhir_parse::parse_resource(v)
}

/// Drop what FHIR JSON does not allow but real servers send: `null` members, empty arrays
/// and objects as members, `fhir_comments`. Bottom up, so a member that only held empty
/// values goes too. Array items are kept as they are (a `null` there aligns a primitive
/// array with its `_name` twin). Also used on a draft order sent back as a suggestion.
pub(crate) fn strip_noise(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.values_mut().for_each(strip_noise);
            map.retain(|k, val| {
                let empty = match val {
                    Value::Null => true,
                    Value::Array(a) => a.is_empty(),
                    Value::Object(o) => o.is_empty(),
                    _ => false,
                };
                !empty && k != "fhir_comments"
            });
        }
        Value::Array(items) => items.iter_mut().for_each(strip_noise),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The reading of a tree, through its text: what these tests were written against.
    fn parse_value(v: &Value) -> Parsed {
        read(&FhirJson::from_value(v), &mut |_| true)
    }

    fn parse_one(v: &Value) -> Result<Resource, String> {
        parse_text(&v.to_string())
    }

    #[test]
    fn a_bad_entry_is_skipped_and_counted_not_fatal() {
        let bundle = json!({
            "resourceType": "Bundle", "type": "searchset",
            "link": [{"relation": "self", "url": "http://x/Observation"}, {"relation": "next", "url": "http://x/Observation?page=2"}],
            "entry": [
                {"fullUrl": "http://x/Patient/1", "resource": {"resourceType": "Patient", "id": "1", "birthDate": "1990-01-01"}, "search": {"mode": "match"}},
                {"resource": {"resourceType": "Patient", "id": "2", "notAFhirField": [1]}},
                {"resource": {"resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "informational"}]}, "search": {"mode": "outcome"}},
                {"fullUrl": "http://x/Patient/3", "resource": {"resourceType": "Patient", "id": "3", "gender": null, "fhir_comments": ["x"]}}
            ]
        });
        let parsed = parse_value(&bundle);
        assert_eq!(parsed.resources.len(), 2);
        assert_eq!(parsed.unreadable, 1);
        assert_eq!(parsed.next.as_deref(), Some("http://x/Observation?page=2"));
    }

    #[test]
    fn an_unknown_field_holding_an_array_does_not_hang_the_parser() {
        // fhirbolt's lax modes loop forever on this; strict mode rejects it at once.
        let v = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "fooBar": [1]});
        assert!(parse_one(&v).is_err());
    }

    #[test]
    fn empty_arrays_and_objects_are_dropped_before_parsing() {
        // fhirbolt 0.4 panics on any empty array; EHRs send them although FHIR forbids them.
        let v = json!({"resourceType": "Patient", "id": "p", "birthDate": "1990-01-01", "name": [],
                       "extension": [], "gender": {}, "telecom": [{"system": "phone", "period": {}}],
                       "contact": [{"name": {"given": []}}], "_birthDate": {"extension": []}});
        let r = parse_one(&v).expect("parses once the empty values are gone");
        assert!(matches!(r, Resource::Patient(_)));
    }

    #[test]
    fn non_resources_count_as_unreadable() {
        assert_eq!(parse_value(&json!({"hello": 1})).unreadable, 1);
        assert_eq!(parse_value(&json!({"resourceType": "NotAThing"})).unreadable, 1);
    }

    #[test]
    fn only_a_resource_with_something_to_clean_is_built_as_a_tree() {
        let before = trees_built_on_this_thread();
        let clean = r#"{"resourceType": "Patient", "id": "p", "birthDate": "1990-01-01", "name": [{"given": ["A"]}]}"#;
        assert!(parse_text(clean).is_ok());
        assert_eq!(trees_built_on_this_thread(), before);
        let noisy =
            r#"{"resourceType": "Patient", "id": "p", "name": [ ], "gender": null, "telecom": [{"period": {}}]}"#;
        assert!(matches!(parse_text(noisy), Ok(Resource::Patient(_))));
        assert_eq!(trees_built_on_this_thread(), before + 1);
        // Refused as text for a reason the clean-up cannot know from the bytes (an
        // escaped `fhir_comments`): the tree decides, as it always did.
        let escaped = r#"{"resourceType": "Patient", "id": "p", "fhir\u005fcomments": ["x"]}"#;
        assert!(parse_text(escaped).is_ok());
        assert_eq!(trees_built_on_this_thread(), before + 2);
    }

    #[test]
    fn the_clean_up_is_needed_for_null_members_empty_values_and_comments() {
        for text in [
            r#"{"a": null}"#,
            r#"{"a" :	null}"#,
            r#"{"a": []}"#,
            r#"{"a": [ ]}"#,
            r#"{"a": {}}"#,
            r#"{"a": {
            }}"#,
            r#"{"fhir_comments": ["x"]}"#,
            // Inside a string it costs a tree, nothing else.
            r#"{"text": "x: null"}"#,
        ] {
            assert!(may_need_cleanup(text.as_bytes()), "{text}");
        }
        for text in [r#"{"a": [null, 1]}"#, r#"{"a": "null"}"#, r#"{"a": [{"b": 1}]}"#] {
            assert!(!may_need_cleanup(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn resources_not_wanted_are_neither_built_nor_parsed_nor_counted() {
        // Not valid FHIR, and holding what only the tree's clean-up could rescue: skipped
        // on the look, never built.
        let bundle = FhirJson::from_value(&json!({"resourceType": "Bundle", "type": "searchset", "entry": [
            {"resource": {"resourceType": "Observation", "id": "hr", "status": "final",
                          "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                          "valueQuantity": [], "notAField": {"a": null}}},
            {"resource": {"resourceType": "Observation", "id": "odd", "code": 5, "subject": []}},
            {"resource": {"resourceType": "Patient", "id": "p"}}
        ]}));
        let before = trees_built_on_this_thread();
        let mut looked = Vec::new();
        let parsed = read(&bundle, &mut |l| {
            looked.push(l.id.as_deref().unwrap_or_default().to_string());
            l.resource_type() == Some("Patient")
        });
        assert_eq!(looked, ["hr", "odd", "p"]);
        assert_eq!(parsed.resources.len(), 1);
        assert_eq!(parsed.unreadable, 0);
        assert_eq!(trees_built_on_this_thread(), before);
    }

    #[test]
    fn orders_keep_their_text() {
        let text = r#"{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "MedicationRequest", "id": "mr1", "status": "draft", "intent": "order", "subject": {"reference": "Patient/p"}, "medicationCodeableConcept": {"text": "Xolair"}, "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 150.0, "unit": "mg"}}]}]}}]}"#;
        let parsed = read_keeping_raw(&FhirJson::from_text(text.to_string()).unwrap());
        assert_eq!(parsed.resources.len(), 1);
        assert!(parsed.raw[0].starts_with(r#"{"resourceType": "MedicationRequest""#));
        assert!(parsed.raw[0].contains("150.0"));
    }
}
