//! Which draftOrders entries are orders for the profile's drug, read from their JSON text
//! (the suggestions send the order back amended, so a recognised order's JSON is kept
//! beside its facts, as a tree; the other entries are never built as one).

use fhir_parse::r4::Resource;
use serde_json::Value;

use super::json::FhirJson;
use crate::facts::OrderFacts;
use crate::facts::extract::{MedicationIndex, request_medication};
use crate::facts::orders::{is_recognised, order_facts};
use crate::profile::{Catalog, Profile};

/// A recognised order with the JSON it came in.
#[derive(Debug, Clone)]
pub struct RecognisedOrder {
    pub facts: OrderFacts,
    pub raw: Value,
}

/// The MedicationRequests of `draft_orders` that are this profile's drug. With
/// `selections` (order-select), only the selected entries are considered.
pub fn recognise_orders(
    draft_orders: &FhirJson,
    selections: Option<&[String]>,
    catalog: &Catalog,
    profile: &Profile,
) -> Vec<RecognisedOrder> {
    let parsed = crate::fhir::parse::read_keeping_raw(draft_orders);
    let meds = MedicationIndex::new(&parsed.resources);
    let mut found = Vec::new();
    for (resource, raw) in parsed.resources.iter().zip(&parsed.raw) {
        let Resource::MedicationRequest(mr) = resource else {
            continue;
        };
        let Some(id) = mr.id.as_ref().and_then(|i| i.value.as_deref()) else {
            continue;
        };
        let reference = format!("MedicationRequest/{id}");
        if let Some(selected) = selections
            && !selected.iter().any(|s| s == &reference)
        {
            continue;
        }
        let identity = request_medication(mr, &meds, &catalog.systems);
        if !is_recognised(&identity, &profile.recognition) {
            continue;
        }
        // It parsed as FHIR, so it is JSON.
        let Ok(raw) = serde_json::from_str(raw) else {
            continue;
        };
        found.push(RecognisedOrder {
            facts: order_facts(mr, reference, identity, catalog, profile),
            raw,
        });
    }
    found
}

#[cfg(test)]
#[path = "orders_tests.rs"]
mod tests;
