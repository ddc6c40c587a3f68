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
pub fn parse_resource(value: serde_json::Value) -> Result<r4::Resource, String> {
    fhirbolt::json::from_json_value::<r4::Resource>(value, None).map_err(|e| e.to_string())
}
