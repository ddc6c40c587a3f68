//! The single place that calls fhirbolt's deserializer.
//!
//! fhirbolt's parser is generic and gets compiled into every crate that calls it;
//! keeping one non-generic function here means the service crate rebuilds quickly.
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
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        fhirbolt::json::from_json_value::<r4::Resource>(value, None).map_err(|e| e.to_string())
    }))
    .unwrap_or_else(|_| Err("the FHIR parser failed on this resource".into()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_parser_panic_becomes_an_error() {
        let v = serde_json::json!({"resourceType": "Patient", "id": "x", "name": []});
        assert!(super::parse_resource(v).is_err());
    }
}
