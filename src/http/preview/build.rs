//! What the preview page sends, turned into an ordinary hook request: a built-in
//! scenario with the reviewer's changes, a pasted hook request, or a pasted FHIR Bundle
//! of a chart plus a draft order. The result goes through `engine::run_hook` like any
//! hook; nothing here decides anything clinical.

use chrono::{Months, NaiveDate};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::fhir::orders::recognise_orders;
use crate::profile::{Catalog, Code, CodeSet, Indication, Profile, Service};
use crate::render::display_icd;

/// The case changes a reviewer can make; each absent field leaves the chart as it is.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Changes {
    pub age_years: Option<u32>,
    pub weight: Option<f64>,
    #[serde(default)]
    pub weight_unit: WeightUnit,
    pub ige: Option<f64>,
    /// An indication id of the profile: written on the order as its reason.
    pub indication: Option<String>,
    pub dose_mg: Option<f64>,
    pub every_weeks: Option<u32>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WeightUnit {
    #[default]
    Kg,
    Lb,
}

fn positive(name: &str, v: Option<f64>) -> Result<(), String> {
    match v {
        Some(x) if !(x.is_finite() && x > 0.0 && x < 100_000.0) => Err(format!("{name} must be a positive number")),
        _ => Ok(()),
    }
}

/// Apply `changes` to a scenario's hook request, in place.
pub fn apply_changes(
    request: &mut Value,
    changes: &Changes,
    catalog: &Catalog,
    profile: &Profile,
    today: NaiveDate,
) -> Result<(), String> {
    let indication = checked_indication(changes, profile)?;
    let order_date = change_orders(request, changes, indication, catalog, profile);
    // Ages are counted to the order's date, as the rules count them.
    let on = order_date.unwrap_or(today);
    let patient_id = request["context"]["patientId"]
        .as_str()
        .unwrap_or("preview")
        .to_string();
    let prefetch = request
        .as_object_mut()
        .ok_or("a hook request is a JSON object")?
        .entry("prefetch")
        .or_insert_with(|| json!({}));
    if let Some(age) = changes.age_years {
        set_age(prefetch, age, on, &patient_id)?;
    }
    set_measurements(prefetch, changes, catalog, profile, &patient_id, on);
    Ok(())
}

/// The changes are plausible; the indication, if named, is the profile's.
fn checked_indication<'p>(changes: &Changes, profile: &'p Profile) -> Result<Option<&'p Indication>, String> {
    positive("weight", changes.weight)?;
    positive("IgE", changes.ige)?;
    positive("dose", changes.dose_mg)?;
    if changes.every_weeks == Some(0) || changes.age_years.is_some_and(|a| a > 130) {
        return Err("the interval must be at least one week and the age at most 130 years".into());
    }
    match changes.indication.as_deref().filter(|i| !i.is_empty()) {
        None => Ok(None),
        Some(id) => profile
            .indication(id)
            .map(Some)
            .ok_or_else(|| format!("no indication `{id}` in the profile")),
    }
}

/// The reason and dose of each of this service's draft orders; the first order's date.
fn change_orders(
    request: &mut Value,
    changes: &Changes,
    indication: Option<&Indication>,
    catalog: &Catalog,
    profile: &Profile,
) -> Option<NaiveDate> {
    let draft = crate::fhir::json::FhirJson::from_value(&request["context"]["draftOrders"]);
    let ours: Vec<String> = recognise_orders(&draft, None, catalog, profile)
        .into_iter()
        .map(|o| o.facts.reference)
        .collect();
    let mut order_date = None;
    let entries = request["context"]["draftOrders"]["entry"].as_array_mut()?;
    for resource in entries.iter_mut().filter_map(|e| e.get_mut("resource")) {
        let reference = format!("MedicationRequest/{}", resource["id"].as_str().unwrap_or_default());
        if resource["resourceType"] != "MedicationRequest" || !ours.contains(&reference) {
            continue;
        }
        order_date = order_date.or_else(|| date_of(&resource["authoredOn"]));
        if let Some(ind) = indication {
            resource["reasonCode"] = json!([reason_code(catalog, &ind.codes, &ind.display)]);
        }
        if changes.dose_mg.is_some() || changes.every_weeks.is_some() {
            set_dosage(resource, catalog, changes.dose_mg, changes.every_weeks);
        }
    }
    order_date
}

/// A birth date that makes the patient `age` whole years old on `on`.
fn set_age(prefetch: &mut Value, age: u32, on: NaiveDate, patient_id: &str) -> Result<(), String> {
    // A day short of a birthday: the patient is `age` whole years old on `on`.
    let birth = on
        .checked_sub_months(Months::new(age * 12))
        .and_then(|d| d.pred_opt())
        .ok_or("that age cannot be dated")?;
    if !prefetch["patient"].is_object() {
        prefetch["patient"] = json!({"resourceType": "Patient", "id": patient_id});
    }
    prefetch["patient"]["birthDate"] = json!(birth.to_string());
    Ok(())
}

/// The weight and pretreatment lab the reviewer typed, as the chart's newest results.
fn set_measurements(
    prefetch: &mut Value,
    changes: &Changes,
    catalog: &Catalog,
    profile: &Profile,
    patient_id: &str,
    on: NaiveDate,
) {
    let ucum = catalog.system_uri("ucum").to_string();
    if let (Some(w), Some(set)) = (changes.weight, profile.dosing.weight.as_deref()) {
        let (unit, code) = match changes.weight_unit {
            WeightUnit::Kg => ("kg", "kg"),
            WeightUnit::Lb => ("lb", "[lb_av]"),
        };
        let quantity = json!({"value": w, "unit": unit, "system": ucum, "code": code});
        set_observations(prefetch, catalog, profile, set, quantity, patient_id, on);
    }
    if let (Some(ige), Some(set)) = (changes.ige, profile.dosing.pretreatment_lab.as_deref()) {
        let quantity = json!({"value": ige, "unit": "IU/mL", "system": ucum, "code": "[IU]/mL"});
        // A new result is dated a month before the order, so a first order reads it as
        // pretreatment; an existing one keeps its date (its place in the history).
        let dated = on.checked_sub_months(Months::new(1)).unwrap_or(on);
        set_observations(prefetch, catalog, profile, set, quantity, patient_id, dated);
    }
}

fn date_of(v: &Value) -> Option<NaiveDate> {
    v.as_str()
        .and_then(|s| s.get(..10))
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
}

/// The code an EHR would put on the order for an indication: its first ICD-10-CM code
/// (else its first code), written with the system's URI.
fn reason_code(catalog: &Catalog, codes: &CodeSet, display: &str) -> Value {
    let mut all: Vec<&Code> = codes.iter().collect();
    all.sort_by(|a, b| (a.system != "icd10cm", &a.system, &a.code).cmp(&(b.system != "icd10cm", &b.system, &b.code)));
    match all.first() {
        Some(c) => {
            let code = if c.system == "icd10cm" {
                display_icd(&c.code)
            } else {
                c.code.clone()
            };
            json!({"coding": [{"system": catalog.system_uri(&c.system), "code": code, "display": display}], "text": display})
        }
        None => json!({"text": display}),
    }
}

/// Set the first dosage's typed dose and schedule. Its free text is dropped: text that
/// says another dose would make the order read as uncertain.
fn set_dosage(order: &mut Value, catalog: &Catalog, dose_mg: Option<f64>, every_weeks: Option<u32>) {
    let ucum = catalog.system_uri("ucum").to_string();
    if !order["dosageInstruction"]
        .as_array()
        .is_some_and(|a| !a.is_empty() && a[0].is_object())
    {
        order["dosageInstruction"] = json!([{}]);
    }
    let first = &mut order["dosageInstruction"][0];
    if let Some(first) = first.as_object_mut() {
        first.remove("text");
        first.remove("patientInstruction");
    }
    if let Some(mg) = dose_mg {
        first["doseAndRate"] = json!([{"doseQuantity": {"value": mg, "unit": "mg", "system": ucum, "code": "mg"}}]);
    }
    if let Some(n) = every_weeks {
        first["timing"] = json!({"repeat": {"frequency": 1, "period": n, "periodUnit": "wk"}});
    }
}

fn observation_codes(o: &Value, catalog: &Catalog) -> Vec<Code> {
    o["code"]["coding"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let system = catalog.systems.id_for(c["system"].as_str()?);
            Some(Code::new(&system, c["code"].as_str()?))
        })
        .collect()
}

/// Give every result of an observation set in the prefetch this value (entered-in-error
/// results stay as they are, as the chart has them), or add one result when there is none.
fn set_observations(
    prefetch: &mut Value,
    catalog: &Catalog,
    profile: &Profile,
    set: &str,
    quantity: Value,
    patient_id: &str,
    dated: NaiveDate,
) {
    let codes = &profile.observation_set(set).codes;
    let mut changed = 0;
    if let Some(keys) = prefetch.as_object_mut() {
        for value in keys.values_mut() {
            for entry in value["entry"].as_array_mut().into_iter().flatten() {
                let o = &mut entry["resource"];
                if o["resourceType"] != "Observation"
                    || o["status"] == "entered-in-error"
                    || !codes.matches_any(&observation_codes(o, catalog))
                {
                    continue;
                }
                if let Some(obj) = o.as_object_mut() {
                    for k in ["valueString", "valueCodeableConcept", "dataAbsentReason", "component"] {
                        obj.remove(k);
                    }
                    obj.insert("status".into(), json!("final"));
                    obj.insert("valueQuantity".into(), quantity.clone());
                }
                changed += 1;
            }
        }
    }
    if changed > 0 {
        return;
    }
    let mut all: Vec<&Code> = codes.iter().collect();
    all.sort_by(|a, b| (&a.system, &a.code).cmp(&(&b.system, &b.code)));
    let Some(code) = all.first() else { return };
    let observation = json!({
        "resourceType": "Observation",
        "id": format!("preview-{set}"),
        "status": "final",
        "code": {"coding": [{"system": catalog.system_uri(&code.system), "code": code.code}]},
        "subject": {"reference": format!("Patient/{patient_id}")},
        "effectiveDateTime": dated.to_string(),
        "valueQuantity": quantity,
    });
    // Under the prefetch key whose search names this code, as an EHR would send it.
    let key = profile
        .services
        .first()
        .and_then(|s| {
            s.prefetch.iter().find(|(_, t)| {
                t.as_str().starts_with("Observation?") && t.as_str().contains(&format!("|{}", code.code))
            })
        })
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| "observations".into());
    if !prefetch[&key]["entry"].is_array() {
        prefetch[&key] = json!({"resourceType": "Bundle", "type": "searchset", "entry": []});
    }
    if let Some(entries) = prefetch[&key]["entry"].as_array_mut() {
        entries.push(json!({"resource": observation}));
    }
}

/// A hook request for `service` from a Bundle holding a chart (a Patient and what the
/// service's prefetch would find) and one or more draft MedicationRequests (the order).
/// Every prefetch key is filled, so the engine never asks a FHIR server.
pub fn request_from_bundle(bundle: &Value, service: &Service) -> Result<Value, String> {
    if bundle["resourceType"] != "Bundle" {
        return Err("a pasted FHIR resource must be a Bundle".into());
    }
    let resources: Vec<&Value> = bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("resource"))
        .collect();
    let is_order = |r: &Value| r["resourceType"] == "MedicationRequest" && r["status"] == "draft";
    let orders: Vec<&Value> = resources.iter().copied().filter(|r| is_order(r)).collect();
    if orders.is_empty() {
        return Err("the Bundle holds no draft MedicationRequest (status `draft`) to be the order".into());
    }
    let patient = resources
        .iter()
        .find(|r| r["resourceType"] == "Patient")
        .ok_or("the Bundle holds no Patient")?;
    let patient_id = patient["id"].as_str().ok_or("the Patient has no id")?;
    let prefetch = prefetch_from(&resources, patient, service, is_order);
    let mut context = json!({
        "userId": "Practitioner/preview",
        "patientId": patient_id,
        "draftOrders": {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": orders.iter().map(|o| json!({"resource": o})).collect::<Vec<_>>(),
        },
    });
    if service.hook == "order-select" {
        context["selections"] = orders
            .iter()
            .filter_map(|o| o["id"].as_str())
            .map(|id| json!(format!("MedicationRequest/{id}")))
            .collect();
    }
    Ok(json!({
        "hook": service.hook,
        "hookInstance": uuid::Uuid::new_v4().to_string(),
        "context": context,
        "prefetch": prefetch,
    }))
}

/// Each prefetch key filled from the Bundle's resources of the template's type (and the
/// types its `_include`s bring), as a searchset; the Patient as itself.
fn prefetch_from(
    resources: &[&Value],
    patient: &Value,
    service: &Service,
    is_order: impl Fn(&Value) -> bool,
) -> Map<String, Value> {
    let mut prefetch = Map::new();
    for (key, template) in &service.prefetch {
        let wanted = template.as_str().split(['?', '/']).next().unwrap_or_default();
        if wanted == "Patient" {
            prefetch.insert(key.clone(), patient.clone());
            continue;
        }
        // `_include=MedicationRequest:medication` brings the Medications too.
        let included = included_types(template.as_str());
        let entries: Vec<Value> = resources
            .iter()
            .filter(|r| !is_order(r))
            .filter(|r| {
                let t = r["resourceType"].as_str().unwrap_or_default();
                t == wanted || included.iter().any(|i| i == t)
            })
            .map(|r| json!({"resource": r}))
            .collect();
        prefetch.insert(
            key.clone(),
            json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries}),
        );
    }
    prefetch
}

/// `_include=MedicationRequest:medication` -> `Medication`.
fn included_types(template: &str) -> Vec<String> {
    template
        .split('&')
        .filter_map(|p| p.strip_prefix("_include="))
        .filter_map(|p| p.split(':').nth(1))
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cards");
        Catalog::load(&dir).expect("cards load")
    }

    fn scenario(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/scenarios")
            .join(name)
            .join("hook-request.json");
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    #[test]
    fn changes_land_on_the_order_and_the_chart() {
        let c = catalog();
        let p = c.profile("omalizumab").unwrap();
        let mut r = scenario("asthma-adult-dose-mismatch");
        let changes = Changes {
            age_years: Some(40),
            weight: Some(185.0),
            weight_unit: WeightUnit::Lb,
            ige: Some(450.0),
            indication: Some("csu".into()),
            dose_mg: Some(150.0),
            every_weeks: Some(2),
        };
        apply_changes(&mut r, &changes, &c, p, today()).unwrap();
        // The order is dated 2026-11-23: a day short of the 41st birthday.
        assert_eq!(r["prefetch"]["patient"]["birthDate"], "1986-11-22");
        let order = &r["context"]["draftOrders"]["entry"][0]["resource"];
        assert_eq!(order["reasonCode"][0]["coding"][0]["code"], "L50.1");
        let dosage = &order["dosageInstruction"][0];
        assert_eq!(dosage["doseAndRate"][0]["doseQuantity"]["value"], 150.0);
        assert_eq!(dosage["timing"]["repeat"]["period"], 2);
        assert!(dosage.get("text").is_none());
        let obs: Vec<&Value> = r["prefetch"]["observations"]["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"]["valueQuantity"])
            .collect();
        assert!(
            obs.iter().any(|q| q["code"] == "[lb_av]" && q["value"] == 185.0),
            "{obs:?}"
        );
        assert!(
            obs.iter().any(|q| q["code"] == "[IU]/mL" && q["value"] == 450.0),
            "{obs:?}"
        );
    }

    #[test]
    fn a_missing_result_is_added_and_bad_values_are_refused() {
        let c = catalog();
        let p = c.profile("omalizumab").unwrap();
        let mut r = scenario("asthma-weight-and-ige-missing");
        let before = r["prefetch"]["observations"]["entry"].as_array().map_or(0, Vec::len);
        let changes = Changes {
            weight: Some(70.0),
            ige: Some(150.0),
            ..Changes::default()
        };
        apply_changes(&mut r, &changes, &c, p, today()).unwrap();
        let after = r["prefetch"]["observations"]["entry"].as_array().unwrap();
        assert_eq!(after.len(), before + 2);
        let bad = Changes {
            weight: Some(-3.0),
            ..Changes::default()
        };
        assert!(
            apply_changes(&mut r, &bad, &c, p, today())
                .unwrap_err()
                .contains("weight")
        );
        let unknown = Changes {
            indication: Some("migraine".into()),
            ..Changes::default()
        };
        assert!(
            apply_changes(&mut r, &unknown, &c, p, today())
                .unwrap_err()
                .contains("migraine")
        );
    }

    #[test]
    fn a_bundle_becomes_a_request_with_every_prefetch_key() {
        let c = catalog();
        let p = c.profile("omalizumab").unwrap();
        let service = p.services.iter().find(|s| s.hook == "order-sign").unwrap();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/scenarios/asthma-adult-dose-mismatch/chart.json");
        let mut chart: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let order: Value = serde_json::from_slice(
            &std::fs::read(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("fixtures/scenarios/asthma-adult-dose-mismatch/order.json"),
            )
            .unwrap(),
        )
        .unwrap();
        chart["entry"].as_array_mut().unwrap().push(json!({"resource": order}));
        let r = request_from_bundle(&chart, service).unwrap();
        assert_eq!(r["hook"], "order-sign");
        assert_eq!(r["context"]["patientId"], "asthma-mismatch");
        assert_eq!(r["context"]["draftOrders"]["entry"].as_array().unwrap().len(), 1);
        for key in service.prefetch.keys() {
            assert!(r["prefetch"][key].is_object(), "{key}");
        }
        assert_eq!(r["prefetch"]["patient"]["resourceType"], "Patient");
        let no_order =
            json!({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient", "id": "p"}}]});
        assert!(request_from_bundle(&no_order, service).unwrap_err().contains("draft"));
        assert!(request_from_bundle(&json!({"resourceType": "Patient"}), service).is_err());
    }
}
