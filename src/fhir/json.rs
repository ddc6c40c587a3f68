//! FHIR JSON as it arrived (a prefetch value, a fetched page, draftOrders), kept as text.
//!
//! Only what decides how it is read is looked at, once (`Look`): its resourceType, its
//! next page, and where each Bundle entry's resource is in the text. No tree is built
//! for it: each resource is looked at and parsed from its own text when the chart is
//! read (`fhir::parse`), and a resource no rule reads is never built at all.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::look::Look;

#[derive(Clone)]
pub struct FhirJson {
    text: Box<str>,
    resource_type: Option<String>,
    next: Option<String>,
    /// `entry`, when it is an array: where each entry's resource is in `text`.
    entries: Option<Vec<Option<Range<usize>>>>,
}

impl FhirJson {
    /// JSON text; an error when it is not JSON.
    pub fn from_text(text: String) -> Result<FhirJson, serde_json::Error> {
        let text = text.into_boxed_str();
        let look = Look::parse(&text)?;
        let base = text.as_ptr() as usize;
        let resource_type = look.resource_type.as_deref().map(str::to_string);
        let next = look.next_link().map(str::to_string);
        // Each entry's resource is a slice of `text`: kept as its place in it.
        let entries = look.entries.as_ref().map(|entries| {
            entries
                .iter()
                .map(|e| {
                    e.map(|raw| {
                        let start = raw.get().as_ptr() as usize - base;
                        start..start + raw.get().len()
                    })
                })
                .collect()
        });
        drop(look);
        Ok(FhirJson {
            text,
            resource_type,
            next,
            entries,
        })
    }

    /// A response body; an error when it is not UTF-8 JSON.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<FhirJson, String> {
        let text = String::from_utf8(bytes).map_err(|e| e.to_string())?;
        FhirJson::from_text(text).map_err(|e| e.to_string())
    }

    /// A tree's JSON (tests, and values built in code).
    pub fn from_value(v: &serde_json::Value) -> FhirJson {
        FhirJson::from_text(v.to_string()).expect("a Value serializes to JSON")
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The JSON `null`: a prefetch key the client found no data for.
    pub fn is_null(&self) -> bool {
        self.text.trim() == "null"
    }

    pub fn resource_type(&self) -> Option<&str> {
        self.resource_type.as_deref()
    }

    /// An OperationOutcome in place of data: the client's fetch failed.
    pub fn is_operation_outcome(&self) -> bool {
        self.resource_type() == Some("OperationOutcome")
    }

    /// `link[relation=next].url` of a searchset page.
    pub fn next_link(&self) -> Option<&str> {
        self.next.as_deref()
    }

    /// Entries of `entry`, when it is an array.
    pub fn entry_count(&self) -> Option<usize> {
        self.entries.as_ref().map(Vec::len)
    }

    /// Resources it holds for the limits: one, plus one per entry; none for `null`.
    pub fn resource_count(&self) -> usize {
        match self.entry_count() {
            Some(entries) => 1 + entries,
            None => usize::from(!self.is_null()),
        }
    }

    /// The text of each entry's resource, skipping entries without one.
    pub fn entry_resources(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().flatten().flatten().map(|r| &self.text[r.clone()])
    }
}

impl<'de> Deserialize<'de> for FhirJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        FhirJson::from_text(Box::<str>::from(raw).into_string()).map_err(serde::de::Error::custom)
    }
}

// Patient data: a stray `{:?}` shows its size and kind, never its content.
impl fmt::Debug for FhirJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FhirJson")
            .field("bytes", &self.text.len())
            .field("resource_type", &self.resource_type)
            .field("entries", &self.entry_count())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_bundle_keeps_where_its_entries_are() {
        let text = r#" {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient", "id": "p"}}, {"x": 1}],
            "link": [{"relation": "next", "url": "http://x/2"}]} "#;
        let j = FhirJson::from_text(text.to_string()).unwrap();
        assert_eq!(j.resource_type(), Some("Bundle"));
        assert_eq!(j.next_link(), Some("http://x/2"));
        assert_eq!(j.entry_count(), Some(2));
        assert_eq!(j.resource_count(), 3);
        assert_eq!(
            j.entry_resources().collect::<Vec<_>>(),
            vec![r#"{"resourceType": "Patient", "id": "p"}"#]
        );
        assert!(!j.is_null());
    }

    #[test]
    fn counts_follow_the_tree_reading() {
        // As `hooks::limits` counted on the tree: an `entry` array counts whatever the type.
        assert_eq!(FhirJson::from_value(&json!(null)).resource_count(), 0);
        assert_eq!(
            FhirJson::from_value(&json!({"resourceType": "Patient"})).resource_count(),
            1
        );
        assert_eq!(FhirJson::from_value(&json!({"entry": [1, 2]})).resource_count(), 3);
        assert_eq!(FhirJson::from_value(&json!({"entry": {"a": 1}})).resource_count(), 1);
        assert_eq!(FhirJson::from_value(&json!([1])).resource_count(), 1);
        assert!(FhirJson::from_text("{\"a\":".into()).is_err());
        assert!(FhirJson::from_bytes(vec![b'"', 0xff, b'"']).is_err());
    }

    #[test]
    fn deserialized_from_a_request_and_from_a_tree() {
        #[derive(Deserialize)]
        struct Holder {
            value: FhirJson,
        }
        let text = r#"{"value": {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient", "id": "p", "n": 1.50}}]}}"#;
        let h: Holder = serde_json::from_str(text).unwrap();
        assert_eq!(
            h.value.entry_resources().next(),
            Some(r#"{"resourceType": "Patient", "id": "p", "n": 1.50}"#)
        );
        let tree: serde_json::Value = serde_json::from_str(text).unwrap();
        let h: Holder = serde_json::from_value(tree).unwrap();
        assert_eq!(h.value.entry_count(), Some(1));
        assert!(!format!("{:?}", h.value).contains("Patient\""));
    }
}
