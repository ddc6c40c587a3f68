//! FHIR JSON (prefetch values, search results, draftOrders) into fhirbolt resources.
//!
//! Each resource and each bundle entry is parsed on its own, in fhirbolt's strict mode,
//! so one odd entry never costs the whole bundle: it is skipped and counted.

use fhir_parse::r4::Resource;
use serde_json::Value;

/// What one JSON value (a resource or a Bundle) yielded.
#[derive(Debug, Default)]
pub struct Parsed {
    pub resources: Vec<Resource>,
    /// The raw JSON of each parsed resource, in the same order; filled only by
    /// `parse_value_keeping_raw` (orders, whose suggestions send the whole resource back).
    pub raw: Vec<Value>,
    pub unreadable: usize,
    /// `link[relation=next]` of a searchset, when there are more pages.
    pub next: Option<String>,
}

/// Whether a value is an OperationOutcome: a prefetch the client failed to fill.
pub fn is_operation_outcome(v: &Value) -> bool {
    v.get("resourceType").and_then(Value::as_str) == Some("OperationOutcome")
}

/// Parse a resource or a Bundle (entries one by one). `OperationOutcome` entries of a
/// searchset (search.mode = outcome) carry warnings, not data, and are dropped.
pub fn parse_value(v: &Value) -> Parsed {
    parse_owned(v.clone(), false, &mut |_| true)
}

/// As `parse_value`, consuming the JSON so no resource is copied (the hook path, where
/// the prefetch and fetched pages are not needed afterwards), and parsing only the
/// resources `wanted` accepts; the others are neither parsed nor counted.
pub fn parse_value_owned(v: Value, mut wanted: impl FnMut(&Value) -> bool) -> Parsed {
    parse_owned(v, false, &mut wanted)
}

/// As `parse_value`, also keeping each parsed resource's JSON in `raw`.
pub fn parse_value_keeping_raw(v: &Value) -> Parsed {
    parse_owned(v.clone(), true, &mut |_| true)
}

fn parse_owned(mut v: Value, keep_raw: bool, wanted: &mut dyn FnMut(&Value) -> bool) -> Parsed {
    let mut out = Parsed::default();
    match v.get("resourceType").and_then(Value::as_str) {
        Some("Bundle") => {
            out.next = next_link_of(&v);
            let entries = match v.get_mut("entry").map(Value::take) {
                Some(Value::Array(entries)) => entries,
                _ => Vec::new(),
            };
            for mut entry in entries {
                let Some(resource) = entry.get_mut("resource").map(Value::take) else {
                    continue;
                };
                if !is_operation_outcome(&resource) && wanted(&resource) {
                    push_one(resource, keep_raw, &mut out);
                }
            }
        }
        Some(_) if wanted(&v) => push_one(v, keep_raw, &mut out),
        Some(_) => {}
        None => out.unreadable += 1,
    }
    out
}

fn push_one(v: Value, keep_raw: bool, out: &mut Parsed) {
    let raw = keep_raw.then(|| v.clone());
    match parse_one_owned(v) {
        Ok(r) => {
            out.resources.push(r);
            out.raw.extend(raw);
        }
        Err(_) => out.unreadable += 1,
    }
}

/// Parse one resource. Before the strict parse, drop what strict mode rejects (or, for
/// empty arrays, what makes fhirbolt 0.4 panic) but real servers send and FHIR JSON does
/// not allow: `null` members, empty arrays and objects as members, `fhir_comments`.
pub fn parse_one(v: &Value) -> Result<Resource, String> {
    parse_one_owned(v.clone())
}

fn parse_one_owned(mut v: Value) -> Result<Resource, String> {
    strip_noise(&mut v);
    fhir_parse::parse_resource(v)
}

/// Bottom up, so a member that only held empty values goes too. Array items are kept
/// as they are (a `null` there aligns a primitive array with its `_name` twin).
fn strip_noise(v: &mut Value) {
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

/// `link[relation=next]` of a searchset page.
pub fn next_link_of(bundle: &Value) -> Option<String> {
    bundle
        .get("link")?
        .as_array()?
        .iter()
        .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))?
        .get("url")?
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
