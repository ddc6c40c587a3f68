//! A card's suggestions: change the order to the label's dose (the whole draft order sent
//! back with its first dosage replaced), or order a lab the dose needs.

use serde_json::{Value, json};

use super::CardInput;
use crate::hooks::response::{Action, ActionType, SelectionBehavior, Suggestion};
use crate::profile::{Catalog, Dose, Interval, Profile};
use crate::rules::DoseFinding;

pub(super) fn suggestions(
    catalog: &Catalog,
    profile: &Profile,
    input: &CardInput<'_>,
) -> (Vec<Suggestion>, Option<SelectionBehavior>) {
    let (mut list, alternatives) = dose_suggestions(catalog, profile, input);
    list.extend(lab_suggestions(profile, input));
    if list.is_empty() {
        return (list, None);
    }
    // Dose options exclude each other; a dose fix and a lab order do not.
    let behavior = if alternatives
        && list
            .iter()
            .all(|s| !s.actions.iter().any(|a| a.action_type == ActionType::Create))
    {
        SelectionBehavior::AtMostOne
    } else {
        SelectionBehavior::Any
    };
    (list, Some(behavior))
}

/// The whole draft MedicationRequest with the first dosage set to `dose`.
fn update_order(catalog: &Catalog, order: &Value, dose: &Dose, description: String, profile: &Profile) -> Action {
    let mut resource = order.clone();
    let ucum = catalog.system_uri("ucum").to_string();
    let (period, unit) = match dose.interval {
        Interval::Weeks(n) => (n, "wk"),
        Interval::Months(n) => (n, "mo"),
    };
    let obj = resource
        .as_object_mut()
        .expect("a parsed MedicationRequest is an object");
    let dosages = obj.entry("dosageInstruction").or_insert_with(|| json!([{}]));
    if !dosages.is_array() || dosages.as_array().is_some_and(Vec::is_empty) {
        *dosages = json!([{}]);
    }
    let first = &mut dosages[0];
    if !first.is_object() {
        *first = json!({});
    }
    first["doseAndRate"] =
        json!([{ "doseQuantity": { "value": dose.mg, "unit": "mg", "system": ucum, "code": "mg" } }]);
    let timing = first
        .as_object_mut()
        .expect("object")
        .entry("timing")
        .or_insert_with(|| json!({}));
    if !timing.is_object() {
        *timing = json!({});
    }
    timing["repeat"] = json!({ "frequency": 1, "period": period, "periodUnit": unit });
    if let Some(t) = first.get_mut("text") {
        // Free text that contradicts the coded dose would confuse the next reader.
        match cds_core::card::values::dose_words(profile, dose) {
            Ok(words) => *t = json!(words),
            Err(e) => {
                tracing::error!(template = %e.template, error = %e.message, "dose phrase failed");
                // Better no free text than one that contradicts the coded dose.
                if let Some(d) = first.as_object_mut() {
                    d.remove("text");
                }
            }
        }
    }
    Action {
        action_type: ActionType::Update,
        description,
        resource: Some(resource),
        resource_id: None,
    }
}

fn words(r: Result<(String, String), cds_core::card::TemplateError>) -> Option<(String, String)> {
    r.map_err(|e| tracing::error!(template = %e.template, error = %e.message, "suggestion template failed"))
        .ok()
}

/// The label's dose when the order differs from it, or each labeled option (which then
/// exclude each other: the second value says so).
fn dose_suggestions(catalog: &Catalog, profile: &Profile, input: &CardInput<'_>) -> (Vec<Suggestion>, bool) {
    let a = input.assessment;
    let dose_suggestion = |d: &Dose, recommended: bool| {
        words(cds_core::card::dose_suggestion(profile, a, d)).map(|(label, description)| Suggestion {
            label,
            uuid: uuid::Uuid::new_v4().to_string(),
            is_recommended: recommended,
            actions: vec![update_order(catalog, input.order_json, d, description, profile)],
        })
    };
    if a.dose_matches != Some(false) {
        return (Vec::new(), false);
    }
    match &a.dose {
        DoseFinding::TableDose { dose, .. } => (dose_suggestion(dose, true).into_iter().collect(), false),
        DoseFinding::Options { options, .. } => {
            (options.iter().filter_map(|d| dose_suggestion(d, false)).collect(), true)
        }
        _ => (Vec::new(), false),
    }
}

/// A draft ServiceRequest for each lab the dose needs and the chart lacks.
fn lab_suggestions(profile: &Profile, input: &CardInput<'_>) -> Vec<Suggestion> {
    let a = input.assessment;
    let mut list = Vec::new();
    for set in &a.labs_to_order {
        let obs = profile.observation_set(set);
        let Some(code) = &obs.order_code else { continue };
        let Some((label, description)) = words(cds_core::card::lab_suggestion(profile, a, &code.display)) else {
            continue;
        };
        list.push(Suggestion {
            label,
            uuid: uuid::Uuid::new_v4().to_string(),
            is_recommended: false,
            actions: vec![Action {
                action_type: ActionType::Create,
                description,
                resource: Some(json!({
                    "resourceType": "ServiceRequest",
                    "status": "draft",
                    "intent": "order",
                    "code": {"coding": [{"system": code.system, "code": code.code, "display": code.display}]},
                    "subject": {"reference": format!("Patient/{}", input.patient_id)}
                })),
                resource_id: None,
            }],
        });
    }
    list
}
