//! Which draftOrders entries are orders for the profile's drug, read from their JSON (the
//! suggestions send the order back amended, so its JSON is kept beside its facts).

use fhir_parse::r4::Resource;
use serde_json::Value;

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
    draft_orders: &Value,
    selections: Option<&[String]>,
    catalog: &Catalog,
    profile: &Profile,
) -> Vec<RecognisedOrder> {
    let parsed = crate::fhir::parse::parse_value_keeping_raw(draft_orders);
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
        found.push(RecognisedOrder {
            facts: order_facts(mr, reference, identity, catalog, profile),
            raw: raw.clone(),
        });
    }
    found
}

#[cfg(test)]
#[path = "orders_tests.rs"]
mod tests;
