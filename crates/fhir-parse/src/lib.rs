//! The single place that calls fhirbolt's deserializer.
//!
//! fhirbolt's parser is generic and gets compiled into every crate that calls it;
//! keeping non-generic functions here means the service crate rebuilds quickly.
//! Strict mode only: fhirbolt's Compatibility and Lax modes loop forever on an
//! unknown field whose value is an array (measured; see docs/ARCHITECTURE.md).

pub use fhirbolt::model::r4;

/// Parse one FHIR R4 resource (any type) from a JSON value, in strict mode.
///
/// Always parse into `Resource` and match the variant: parsing straight into a
/// concrete type such as `Bundle` fails on ordinary bundles.
///
/// fhirbolt 0.4 panics on some invalid input (an empty array anywhere, found by
/// fuzzing); a panic here is turned into an error so one bad resource cannot take a
/// request down. Callers should still drop empty arrays first.
pub fn parse_resource(value: serde_json::Value) -> Result<r4::Resource, String> {
    guarded(|| fhirbolt::json::from_json_value::<r4::Resource>(value, None).map_err(|e| e.to_string()))
}

/// As `parse_resource`, straight from the resource's JSON text: no `serde_json::Value`
/// is built first (fhirbolt builds its own element tree either way). Strict mode, and a
/// parser panic is an error, as there.
pub fn parse_resource_str(text: &str) -> Result<r4::Resource, String> {
    guarded(|| fhirbolt::json::from_str::<r4::Resource>(text, None).map_err(|e| e.to_string()))
}

fn guarded(parse: impl FnOnce() -> Result<r4::Resource, String>) -> Result<r4::Resource, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse))
        .unwrap_or_else(|_| Err("the FHIR parser failed on this resource".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parser_panic_becomes_an_error() {
        let v = serde_json::json!({"resourceType": "Patient", "id": "x", "name": []});
        assert!(super::parse_resource(v).is_err());
    }

    #[test]
    fn a_parser_panic_on_text_becomes_an_error() {
        assert!(parse_resource_str(r#"{"resourceType": "Patient", "id": "x", "name": []}"#).is_err());
    }

    #[test]
    fn text_is_parsed_strictly() {
        // Strict mode rejects at once what the lax modes loop forever on.
        let unknown_array =
            r#"{"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "fooBar": []}"#;
        assert!(parse_resource_str(unknown_array).is_err());
        assert!(parse_resource_str(r#"{"resourceType": "Patient", "gender": null}"#).is_err());
        assert!(parse_resource_str(r#"{"resourceType": "Patient", "fhir_comments": ["x"]}"#).is_err());
        assert!(parse_resource_str(r#"{"resourceType": "NotAThing"}"#).is_err());
    }

    /// The same resource read from its text and from a tree of it is the same model:
    /// decimals keep their digits (`arbitrary_precision`), primitives their extensions,
    /// contained resources and fields after them are read.
    #[test]
    fn text_and_tree_give_the_same_resource() {
        let text = r##"{"resourceType": "MedicationRequest", "id": "mr1",
            "contained": [{"resourceType": "Medication", "id": "m", "code": {"text": "Xolair"}}],
            "status": "draft", "intent": "order", "medicationReference": {"reference": "#m"},
            "subject": {"reference": "Patient/p"}, "authoredOn": "2026-01-02", "_authoredOn": {"extension": [{"url": "http://x", "valueString": "y"}]},
            "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 150.10, "unit": "mg"}}],
                                   "timing": {"repeat": {"frequency": 1, "period": 2.0e0, "periodUnit": "wk"}}}]}"##;
        let from_text = parse_resource_str(text).unwrap();
        let from_tree = parse_resource(serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(format!("{from_text:?}"), format!("{from_tree:?}"));
        assert!(format!("{from_text:?}").contains("150.10"));
    }
}
