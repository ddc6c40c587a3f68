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
    set_schedule(timing, period, unit);
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
    // The EHR's own empty members are not echoed back (CDS Hooks: empty fields are omitted;
    // FHIR JSON allows no empty string either). Strings first: an object that held only
    // them is then empty and goes too.
    drop_empty_strings(&mut resource);
    crate::fhir::parse::strip_noise(&mut resource);
    Action {
        action_type: ActionType::Update,
        description,
        resource: Some(resource),
        resource_id: None,
    }
}

/// Give a Timing the new interval, keeping when the course starts and ends (`repeat`'s
/// `bounds[x]`, e.g. Epic's first-dose date) and how many doses it authorizes (`count`,
/// `countMax`), and dropping all that names the old schedule: a coded schedule (`code`,
/// e.g. Q4W), set dates (`event`) and the other members of `repeat` (frequency, day of
/// week...). An order that said both "every 2 weeks" and Q4W would be read either way.
fn set_schedule(timing: &mut Value, period: u32, unit: &str) {
    let bounds: serde_json::Map<String, Value> = timing["repeat"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.starts_with("bounds") || *k == "count" || *k == "countMax")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let t = timing.as_object_mut().expect("an object");
    t.remove("code");
    t.remove("event");
    let mut repeat = json!({ "frequency": 1, "period": period, "periodUnit": unit });
    repeat.as_object_mut().expect("an object").extend(bounds);
    t.insert("repeat".into(), repeat);
}

/// Members whose value is `""`, at any depth (array items are kept, as in `strip_noise`).
fn drop_empty_strings(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, val| val.as_str() != Some(""));
            map.values_mut().for_each(drop_empty_strings);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_empty_strings),
        _ => {}
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
    // A dose that differs from the label's, or none at all: offer the label's.
    let incomplete = a.gaps.iter().any(|g| g.is_in_the_order());
    if a.dose_matches != Some(false) && !incomplete {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_schedule_keeps_the_course_bounds_and_nothing_of_the_old_schedule() {
        let mut timing = json!({
            "event": ["2026-11-23"],
            "repeat": {"boundsPeriod": {"start": "2026-11-23"}, "frequency": 2, "period": 4,
                       "periodUnit": "wk", "dayOfWeek": ["mon"], "count": 13},
            "code": {"coding": [{"code": "Q4W"}], "text": "Every 28 days"},
            "id": "t1"
        });
        set_schedule(&mut timing, 2, "wk");
        assert_eq!(
            timing,
            json!({"id": "t1", "repeat": {"frequency": 1, "period": 2, "periodUnit": "wk",
                                          "boundsPeriod": {"start": "2026-11-23"}, "count": 13}})
        );
        let mut bare = json!({});
        set_schedule(&mut bare, 4, "wk");
        assert_eq!(
            bare,
            json!({"repeat": {"frequency": 1, "period": 4, "periodUnit": "wk"}})
        );
    }

    #[test]
    fn the_updated_order_sends_back_no_empty_member() {
        let catalog = crate::profile::Catalog::shipped();
        let profile = catalog.profile("omalizumab").unwrap();
        let order = json!({"resourceType": "MedicationRequest", "id": "o", "status": "draft",
            "intent": "order", "note": [], "dispenseRequest": {}, "reasonCode": null, "priority": "",
            "dosageInstruction": [{"timing": {"repeat": {"boundsPeriod": {}}}}]});
        let dose = Dose {
            mg: 150,
            interval: Interval::Weeks(4),
        };
        let action = update_order(catalog, &order, &dose, "d".into(), profile);
        let r = action.resource.unwrap();
        for member in ["note", "dispenseRequest", "reasonCode", "priority"] {
            assert!(r.get(member).is_none(), "{member}: {r}");
        }
        assert_eq!(
            r["dosageInstruction"][0]["timing"],
            json!({"repeat": {"frequency": 1, "period": 4, "periodUnit": "wk"}})
        );
    }
}
