use super::*;
use crate::facts::{DoseReading, OrderedDose, OrderedInterval};
use crate::profile::Catalog;
use crate::profile::{Code, Interval};
use serde_json::json;

fn catalog() -> &'static Catalog {
    Catalog::shipped()
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
    recognise_orders(&FhirJson::from_value(b), None, c, p)
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
        assert_eq!(o.interval.interval(), interval, "case {i}");
    }
    let o = &recognise(&bundle(vec![request(
        "r",
        med,
        json!({"value": 1, "unit": "mL"}),
        json!({}),
    )]))[0];
    // A volume with no presentation named: the strength per mL is not known.
    assert_eq!(
        o.dose,
        OrderedDose::Unreadable {
            as_written: "1 mL".into()
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
    let only_b = recognise_orders(&FhirJson::from_value(&b), Some(&selected), c, p);
    assert_eq!(only_b.len(), 1);
    assert_eq!(only_b[0].facts.reference, "MedicationRequest/b");
    let a = &recognise(&b)[0];
    assert_eq!(
        a.reason_codes,
        vec![Code::new("icd10cm", "L50.1"), Code::new("icd10cm", "J45.50")]
    );
    assert_eq!(a.reason_references, vec!["Condition/77".to_string()]);
}

fn epic_dose(kind: &str, value: f64, unit: &str) -> Value {
    json!({"type": {"coding": [{"system": "http://epic.com/CodeSystem/dose-rate-type", "code": kind}], "text": kind},
           "doseQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}})
}

fn order_with_dosage(medication: Value, dosage: Value) -> OrderFacts {
    let mut r = json!({"resourceType": "MedicationRequest", "id": "o", "status": "draft", "intent": "order",
        "subject": {"reference": "Patient/p"}, "authoredOn": "2026-11-23", "dosageInstruction": [dosage]});
    for (k, v) in medication.as_object().unwrap() {
        r[k] = v.clone();
    }
    recognise(&bundle(vec![r])).remove(0)
}

#[test]
fn epic_typed_dose_entries_prefer_ordered_over_an_admin_amount_in_ml_listed_first() {
    let o = order_with_dosage(
        json!({"medicationCodeableConcept": {"text": "OMALIZUMAB 150 MG SC SOLR"}}),
        json!({"doseAndRate": [epic_dose("admin-amount", 2.4, "mL"), epic_dose("calculated", 300.0, "mg"), epic_dose("ordered", 300.0, "mg")],
               "timing": {"repeat": {"frequency": 1, "period": 4, "periodUnit": "wk"}, "code": {"text": "Every 28 days"}}}),
    );
    assert_eq!(
        o.dose,
        OrderedDose::Mg {
            mg: 300.0,
            read_from: DoseReading::Quantity
        }
    );
    // Ordered beats calculated when they differ; an untyped mass dose is still read.
    let o = order_with_dosage(
        json!({"medicationCodeableConcept": {"text": "omalizumab"}}),
        json!({"doseAndRate": [epic_dose("calculated", 150.0, "mg"), epic_dose("ordered", 300.0, "mg")]}),
    );
    assert_eq!(o.dose.mg(), Some(300.0));
}

#[test]
fn oracle_ml_dose_is_read_through_the_strength_and_timing_code_gives_the_interval() {
    let o = order_with_dosage(
        json!({"medicationCodeableConcept": {"text": "omalizumab 150 mg/mL prefilled syringe"}}),
        json!({"text": "300 mg = 2 mL, Subcutaneous, every 4 weeks",
               "timing": {"repeat": {"boundsPeriod": {"start": "2026-11-23"}},
                          "code": {"coding": [{"system": "https://fhir.cerner.com/x/codeSet/4003", "code": "1", "display": "every 4 weeks"}], "text": "every 4 weeks"}},
               "doseAndRate": [{"doseQuantity": {"value": 2, "unit": "mL", "system": "http://unitsofmeasure.org", "code": "mL"}}]}),
    );
    assert_eq!(
        o.dose,
        OrderedDose::Mg {
            mg: 300.0,
            read_from: DoseReading::Volume
        }
    );
    assert_eq!(
        o.interval,
        OrderedInterval::Read {
            interval: Interval::Weeks(4),
            from_sig: false
        }
    );
    // The reconstituted vial is 150 mg in 1.2 mL: 2.4 mL from vials is 300 mg.
    let o = order_with_dosage(
        json!({"medicationCodeableConcept": {"text": "OMALIZUMAB 150 MG SC SOLR"}}),
        json!({"doseAndRate": [{"doseQuantity": {"value": 2.4, "unit": "mL"}}], "timing": {"code": {"text": "every 4 hr"}}}),
    );
    assert_eq!(
        o.dose,
        OrderedDose::Mg {
            mg: 300.0,
            read_from: DoseReading::Volume
        }
    );
    assert_eq!(o.interval, OrderedInterval::Unreadable);
    // A volume that disagrees with the sig's mg is not read at all.
    let o = order_with_dosage(
        json!({"medicationCodeableConcept": {"text": "omalizumab prefilled syringe"}}),
        json!({"text": "150 mg", "doseAndRate": [{"doseQuantity": {"value": 2, "unit": "mL"}}]}),
    );
    assert!(matches!(o.dose, OrderedDose::Unreadable { .. }));
}

#[test]
fn a_sig_only_order_is_read_from_the_sig_and_says_so() {
    let o = order_with_dosage(
        json!({"medicationCodeableConcept": {"text": "Xolair"}}),
        json!({"text": "Inject 300 mg subcutaneously every 4 weeks"}),
    );
    assert_eq!(
        o.dose,
        OrderedDose::Mg {
            mg: 300.0,
            read_from: DoseReading::Sig
        }
    );
    assert_eq!(
        o.interval,
        OrderedInterval::Read {
            interval: Interval::Weeks(4),
            from_sig: true
        }
    );
    let o = order_with_dosage(
        json!({"medicationCodeableConcept": {"text": "Xolair"}}),
        json!({"text": "Inject as directed"}),
    );
    assert_eq!(o.dose, OrderedDose::Missing);
    assert_eq!(o.interval, OrderedInterval::Missing);
    // A megagram is not a milligram: the dose is there but unreadable, never missing.
    let o = order_with_dosage(
        json!({"medicationCodeableConcept": {"text": "Xolair"}}),
        json!({"doseAndRate": [{"doseQuantity": {"value": 300, "unit": "Mg", "system": "http://unitsofmeasure.org", "code": "Mg"}}]}),
    );
    assert_eq!(
        o.dose,
        OrderedDose::Unreadable {
            as_written: "300 Mg".into()
        }
    );
}

#[test]
fn a_renewed_order_carries_the_start_of_its_therapy() {
    let o = order_with_dosage(
        json!({"medicationCodeableConcept": {"text": "Xolair"}}),
        json!({"timing": {"repeat": {"boundsPeriod": {"start": "2023-01-10"}, "frequency": 1, "period": 4, "periodUnit": "wk"}}}),
    );
    assert_eq!(o.therapy_start, chrono::NaiveDate::from_ymd_opt(2023, 1, 10));
    let o = order_with_dosage(
        json!({"medicationCodeableConcept": {"text": "Xolair"}}),
        json!({"timing": {"repeat": {"boundsPeriod": {"start": "2026-12-01"}, "frequency": 1, "period": 4, "periodUnit": "wk"}}}),
    );
    assert_eq!(
        o.therapy_start, None,
        "a start after the order date is a plan, not history"
    );
}
