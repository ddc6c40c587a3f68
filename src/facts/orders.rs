//! Recognise the profile's drug among draftOrders and read each order's dose.

use fhir_parse::r4::Resource;
use fhir_parse::r4::resources::{MedicationRequest, MedicationRequestMedication};
use fhir_parse::r4::types::{Dosage, DosageDoseAndRateDose};
use serde_json::Value;

use super::extract::{MedicationIndex, concept_codes, concept_text, fhir_date, fhir_decimal};
use super::{OrderFacts, OrderedDose};
use crate::profile::{Code, CodeSystems, Interval, Recognition, UnitTable};

/// A recognised order with the JSON it came in (suggestions send it back, amended).
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
    recognition: &Recognition,
    systems: &CodeSystems,
    units: &UnitTable,
) -> Vec<RecognisedOrder> {
    let parsed = crate::fhir::parse::parse_value(draft_orders);
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
        let (codes, text) = match &mr.medication {
            MedicationRequestMedication::CodeableConcept(cc) => (concept_codes(cc, systems), concept_text(cc)),
            MedicationRequestMedication::Reference(r) => meds.resolve(r, &mr.contained, systems),
            _ => (Vec::new(), String::new()),
        };
        let by_code = recognition.codes.matches_any(&codes);
        let by_name = recognition.names.iter().any(|n| text.contains(n.as_str()));
        if !(by_code || by_name) {
            continue;
        }
        found.push(RecognisedOrder {
            facts: order_facts(mr, reference, codes, text, systems, units),
            raw: raw.clone(),
        });
    }
    found
}

fn order_facts(
    mr: &MedicationRequest,
    reference: String,
    codes: Vec<Code>,
    text: String,
    systems: &CodeSystems,
    units: &UnitTable,
) -> OrderFacts {
    let dosage = mr.dosage_instruction.first();
    let mut reason_codes: Vec<Code> = mr
        .reason_code
        .iter()
        .flat_map(|cc| concept_codes(cc, systems))
        .collect();
    let mut reason_references = Vec::new();
    for r in &mr.reason_reference {
        let Some(target) = r.reference.as_ref().and_then(|v| v.value.as_deref()) else {
            continue;
        };
        if let Some(local) = target.strip_prefix('#') {
            // A contained Condition: its codes are right here.
            for c in &mr.contained {
                if let Resource::Condition(cond) = c
                    && cond.id.as_ref().and_then(|i| i.value.as_deref()) == Some(local)
                    && let Some(cc) = cond.code.as_deref()
                {
                    reason_codes.extend(concept_codes(cc, systems));
                }
            }
        } else {
            reason_references.push(tail_reference(target));
        }
    }
    let mut instructions: Vec<String> = Vec::new();
    for d in &mr.dosage_instruction {
        instructions.extend(d.text.as_ref().and_then(|t| t.value.clone()));
        instructions.extend(d.patient_instruction.as_ref().and_then(|t| t.value.clone()));
    }
    for c in &mr.category {
        instructions.push(concept_text(c));
        instructions.extend(c.coding.iter().filter_map(|c| c.code.as_ref()?.value.clone()));
    }
    for n in &mr.note {
        instructions.extend(n.text.value.clone());
    }
    OrderFacts {
        reference,
        codes,
        text,
        dose: dosage.map(|d| ordered_dose(d, units)).unwrap_or(OrderedDose::Missing),
        interval: dosage.and_then(interval),
        reason_codes,
        reason_references,
        authored_on: mr
            .authored_on
            .as_ref()
            .and_then(|d| d.value.as_deref())
            .and_then(fhir_date),
        instructions: instructions.join(" | ").to_lowercase(),
    }
}

/// `https://ehr/fhir/Condition/7` and `Condition/7` both name `Condition/7`.
fn tail_reference(target: &str) -> String {
    let parts: Vec<&str> = target.rsplit('/').take(2).collect();
    match parts.as_slice() {
        [id, kind] => format!("{kind}/{id}"),
        _ => target.to_string(),
    }
}

fn ordered_dose(d: &Dosage, units: &UnitTable) -> OrderedDose {
    let quantity = d.dose_and_rate.iter().find_map(|dr| match &dr.dose {
        Some(DosageDoseAndRateDose::Quantity(q)) => Some(q),
        _ => None,
    });
    let Some(q) = quantity else { return OrderedDose::Missing };
    let Some(value) = q.value.as_ref().and_then(|v| v.value.as_deref()).and_then(fhir_decimal) else {
        return OrderedDose::Missing;
    };
    let unit = q
        .code
        .as_ref()
        .and_then(|c| c.value.clone())
        .or_else(|| q.unit.as_ref().and_then(|u| u.value.clone()))
        .unwrap_or_default();
    // Convert explicitly to mg: the table's canonical unit is data and may change.
    let mg = units
        .to_canonical("mass", value, &unit)
        .and_then(|c| units.from_canonical("mass", c, "mg"));
    match mg {
        Some(mg) if mg > 0.0 => OrderedDose::Mg(round_mg(mg)),
        _ => OrderedDose::NotMass { value, unit },
    }
}

/// Unit conversion leaves float noise (0.3 g -> 299.99999999999994 mg); doses are
/// whole or tenth milligrams, so round to a thousandth.
fn round_mg(mg: f64) -> f64 {
    (mg * 1000.0).round() / 1000.0
}

/// `timing.repeat` as an interval: frequency 1 per period 2 wk -> every 2 weeks;
/// 14 d -> every 2 weeks; 2 per 4 wk -> every 2 weeks; 6 mo -> every 6 months.
fn interval(d: &Dosage) -> Option<Interval> {
    let repeat = d.timing.as_ref()?.repeat.as_ref()?;
    let frequency = repeat.frequency.as_ref().and_then(|f| f.value).unwrap_or(1);
    let period = repeat
        .period
        .as_ref()
        .and_then(|p| p.value.as_deref())
        .and_then(fhir_decimal)?;
    let unit = repeat.period_unit.as_ref().and_then(|u| u.value.as_deref())?;
    if frequency == 0 || period <= 0.0 {
        return None;
    }
    let per_dose = period / f64::from(frequency);
    let whole = |x: f64| (x.fract().abs() < 1e-9 && x >= 1.0).then_some(x as u32);
    match unit {
        "wk" => whole(per_dose).map(Interval::Weeks),
        "d" => whole(per_dose / 7.0).map(Interval::Weeks),
        "mo" => whole(per_dose).map(Interval::Months),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Catalog;
    use serde_json::json;

    fn catalog() -> Catalog {
        Catalog::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cards")).unwrap()
    }

    fn bundle(resources: Vec<Value>) -> Value {
        json!({"resourceType": "Bundle", "type": "collection",
               "entry": resources.into_iter().map(|r| json!({"resource": r})).collect::<Vec<_>>()})
    }

    fn request(id: &str, medication: Value, dose: Value, repeat: Value) -> Value {
        let mut r = json!({"resourceType": "MedicationRequest", "id": id, "status": "draft", "intent": "order",
            "subject": {"reference": "Patient/p"},
            "dosageInstruction": [{"timing": {"repeat": repeat}, "doseAndRate": [{"doseQuantity": dose}]}]});
        for (k, v) in medication.as_object().unwrap() {
            r[k] = v.clone();
        }
        r
    }

    fn recognise(b: &Value) -> Vec<OrderFacts> {
        let c = catalog();
        let p = c.profile("omalizumab").unwrap();
        recognise_orders(b, None, &p.recognition, &c.systems, &c.units)
            .into_iter()
            .map(|o| o.facts)
            .collect()
    }

    #[test]
    fn orders_are_recognised_by_code_name_contained_and_bundled_medication() {
        let wk2 = json!({"frequency": 1, "period": 2, "periodUnit": "wk"});
        let mg = json!({"value": 150, "unit": "mg"});
        let b = bundle(vec![
            request(
                "by-ndc",
                json!({"medicationCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "50242021501"}]}}),
                mg.clone(),
                wk2.clone(),
            ),
            request(
                "by-rxnorm-oid",
                json!({"medicationCodeableConcept": {"coding": [{"system": "urn:oid:2.16.840.1.113883.6.88", "code": "1657209"}]}}),
                mg.clone(),
                wk2.clone(),
            ),
            request(
                "by-name",
                json!({"medicationCodeableConcept": {"text": "OMLYCLO 75 mg/0.5 mL"}}),
                mg.clone(),
                wk2.clone(),
            ),
            request(
                "by-bundled",
                json!({"medicationReference": {"reference": "Medication/m1"}}),
                mg.clone(),
                wk2.clone(),
            ),
            json!({"resourceType": "Medication", "id": "m1", "code": {"text": "Xolair"}}),
            request(
                "other",
                json!({"medicationCodeableConcept": {"text": "dupilumab"}}),
                mg.clone(),
                wk2.clone(),
            ),
            json!({"resourceType": "ServiceRequest", "id": "s1", "status": "draft", "intent": "order", "subject": {"reference": "Patient/p"}, "code": {"text": "IgE"}}),
        ]);
        let ids: Vec<String> = recognise(&b).into_iter().map(|o| o.reference).collect();
        assert_eq!(
            ids,
            [
                "MedicationRequest/by-ndc",
                "MedicationRequest/by-rxnorm-oid",
                "MedicationRequest/by-name",
                "MedicationRequest/by-bundled"
            ]
        );
    }

    #[test]
    fn doses_in_other_mass_units_and_intervals_in_days_or_per_period() {
        let med = json!({"medicationCodeableConcept": {"text": "omalizumab"}});
        let cases = [
            (
                json!({"value": 0.3, "unit": "g"}),
                json!({"period": 14, "periodUnit": "d"}),
                Some(300.0),
                Some(Interval::Weeks(2)),
            ),
            (
                json!({"value": 225, "code": "mg", "unit": "milligram"}),
                json!({"frequency": 2, "period": 4, "periodUnit": "wk"}),
                Some(225.0),
                Some(Interval::Weeks(2)),
            ),
            (
                json!({"value": 1.5e2, "unit": "mg"}),
                json!({"frequency": 1, "period": 1, "periodUnit": "mo"}),
                Some(150.0),
                Some(Interval::Months(1)),
            ),
            (
                json!({"value": 1, "unit": "mL"}),
                json!({"frequency": 1, "period": 10, "periodUnit": "d"}),
                None,
                None,
            ),
            (
                json!({"value": 150}),
                json!({"frequency": 1, "period": 4, "periodUnit": "h"}),
                None,
                None,
            ),
        ];
        for (i, (dose, repeat, mg, interval)) in cases.into_iter().enumerate() {
            let o = &recognise(&bundle(vec![request("r", med.clone(), dose, repeat)]))[0];
            assert_eq!(o.dose.mg(), mg, "case {i}");
            assert_eq!(o.interval, interval, "case {i}");
        }
        let o = &recognise(&bundle(vec![request(
            "r",
            med,
            json!({"value": 1, "unit": "mL"}),
            json!({}),
        )]))[0];
        assert_eq!(
            o.dose,
            OrderedDose::NotMass {
                value: 1.0,
                unit: "mL".into()
            }
        );
    }

    #[test]
    fn selections_limit_the_orders_and_reasons_are_read() {
        let c = catalog();
        let p = c.profile("omalizumab").unwrap();
        let mut r = request(
            "a",
            json!({"medicationCodeableConcept": {"text": "omalizumab"}}),
            json!({"value": 150, "unit": "mg"}),
            json!({}),
        );
        r["reasonCode"] = json!([{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "L50.1"}]}]);
        r["reasonReference"] = json!([{"reference": "#c1"}, {"reference": "https://ehr.example/fhir/Condition/77"}]);
        r["contained"] = json!([{"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p"}, "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "J45.50"}]}}]);
        let b = bundle(vec![
            r,
            request(
                "b",
                json!({"medicationCodeableConcept": {"text": "omalizumab"}}),
                json!({"value": 150, "unit": "mg"}),
                json!({}),
            ),
        ]);
        let selected = vec!["MedicationRequest/b".to_string()];
        let only_b = recognise_orders(&b, Some(&selected), &p.recognition, &c.systems, &c.units);
        assert_eq!(only_b.len(), 1);
        assert_eq!(only_b[0].facts.reference, "MedicationRequest/b");
        let a = &recognise(&b)[0];
        assert_eq!(
            a.reason_codes,
            vec![Code::new("icd10cm", "L50.1"), Code::new("icd10cm", "J45.50")]
        );
        assert_eq!(a.reason_references, vec!["Condition/77".to_string()]);
    }
}
