//! Limits that make an abusive request cheap to refuse: checked before the work they
//! protect (nesting before parsing, counts before gathering or extraction).

use std::collections::BTreeMap;

use crate::fhir::json::FhirJson;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Deepest nesting of JSON objects and arrays in a request body.
    pub max_json_depth: usize,
    /// Most entries in `context.draftOrders`.
    pub max_draft_orders: usize,
    /// Most resources in `prefetch`, counting each Bundle entry.
    pub max_prefetch_resources: usize,
    /// Most items in one feedback request.
    pub max_feedback_items: usize,
    /// Longest time a request body may take to arrive (actix's own timeout covers only
    /// the head).
    pub body_timeout: std::time::Duration,
    /// Most request bodies being read at once, each holding up to the body limit.
    pub max_bodies_in_flight: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_json_depth: 64,
            max_draft_orders: 25,
            max_prefetch_resources: 5_000,
            max_feedback_items: 100,
            body_timeout: std::time::Duration::from_secs(10),
            max_bodies_in_flight: 64,
        }
    }
}

/// True when no object or array in `body` nests deeper than `max`. A byte scan, so a
/// deeply nested body is refused without building any of it; malformed JSON is left
/// for the parser to report. Strings, most of a FHIR body, are skipped with `memchr`.
pub fn json_depth_within(body: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'"' => {
                i += 1;
                // To the closing quote, stepping over each escaped byte.
                loop {
                    let Some(j) = body.get(i..).and_then(|rest| memchr::memchr2(b'"', b'\\', rest)) else {
                        return true;
                    };
                    i += j + 1;
                    if body[i - 1] == b'"' {
                        break;
                    }
                    i += 1;
                }
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    true
}

/// Resources in a prefetch object: one per value, plus one per Bundle entry.
pub fn prefetch_resource_count(prefetch: &BTreeMap<String, FhirJson>) -> usize {
    resource_count(prefetch.values())
}

/// Resources in prefetch values or fetched pages: one per value, plus one per Bundle entry.
pub fn resource_count<'a>(values: impl Iterator<Item = &'a FhirJson>) -> usize {
    values.map(FhirJson::resource_count).sum()
}

/// Entries in a draftOrders Bundle (0 when it has none).
pub fn draft_order_count(draft_orders: &FhirJson) -> usize {
    draft_orders.entry_count().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn depth_counts_objects_and_arrays_but_not_brackets_inside_strings() {
        assert!(json_depth_within(nested(64).as_bytes(), 64));
        assert!(!json_depth_within(nested(65).as_bytes(), 64));
        assert!(json_depth_within(br#"{"a":"[[[[[[[[","b":{"c":[1]}}"#, 3));
        assert!(!json_depth_within(br#"{"a":"x","b":{"c":[[1]]}}"#, 3));
        // An escaped quote does not end the string, so the brackets stay inside it.
        assert!(json_depth_within(br#"{"a":"\"[[[[\\"}"#, 1));
    }

    #[test]
    fn prefetch_counts_bundle_entries_and_skips_nulls() {
        let prefetch = json!({
            "patient": {"resourceType": "Patient"},
            "weights": {"resourceType": "Bundle", "entry": [{}, {}, {}]},
            "conditions": null
        });
        let prefetch = serde_json::from_value(prefetch).unwrap();
        assert_eq!(prefetch_resource_count(&prefetch), 5);
    }

    #[test]
    fn draft_orders_counted_by_entry() {
        let count = |v| draft_order_count(&FhirJson::from_value(&v));
        assert_eq!(count(json!({"entry": [{}, {}]})), 2);
        assert_eq!(count(json!({"resourceType": "Bundle"})), 0);
    }

    /// The scan as it was written first, one byte at a time: the reference for the
    /// faster one.
    fn depth_within_bytewise(body: &[u8], max: usize) -> bool {
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        for &b in body {
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    depth += 1;
                    if depth > max {
                        return false;
                    }
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        true
    }

    proptest::proptest! {
        #[test]
        fn the_depth_scan_agrees_with_the_bytewise_scan(
            body in proptest::collection::vec(proptest::sample::select(b"{}[]\"\\a :".to_vec()), 0..64),
            max in 0usize..6,
        ) {
            proptest::prop_assert_eq!(json_depth_within(&body, max), depth_within_bytewise(&body, max));
        }
    }
}
