use super::*;

#[test]
fn fhir_dates_of_every_precision() {
    let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
    assert_eq!(fhir_date("2024-05-03"), d(2024, 5, 3));
    assert_eq!(fhir_date("2024-05-03T23:10:00-05:00"), d(2024, 5, 3));
    assert_eq!(fhir_date("2024-05"), d(2024, 5, 1));
    assert_eq!(fhir_date("2024"), d(2024, 1, 1));
    assert_eq!(fhir_date("yesterday"), None);
    assert_eq!(fhir_date("2024-13-01"), None);
}

#[test]
fn decimals_with_exponents() {
    assert_eq!(fhir_decimal("1.5e2"), Some(150.0));
    assert_eq!(fhir_decimal("250.10"), Some(250.1));
    assert_eq!(fhir_decimal("NaN"), None);
    assert_eq!(fhir_decimal("x"), None);
}

use crate::facts::{AllergyFact, ObservedValue, ResultStatus};
use crate::profile::Catalog;
use serde_json::{Value, json};

fn facts_of(resources: Vec<Value>) -> PatientFacts {
    let parsed: Vec<Resource> = resources
        .into_iter()
        .map(|v| fhir_parse::parse_resource(v).expect("a valid R4 resource"))
        .collect();
    patient_facts(&parsed, 0, &Catalog::shipped().systems)
}

fn observation(status: &str, value: Value) -> Value {
    let mut o = json!({"resourceType": "Observation", "id": "o", "status": status,
        "code": {"coding": [{"system": "http://loinc.org", "code": "19113-0"}], "text": "IgE"},
        "subject": {"reference": "Patient/p"}, "effectiveDateTime": "2026-10-01"});
    for (k, v) in value.as_object().unwrap() {
        o[k] = v.clone();
    }
    o
}

#[test]
fn only_results_are_results_and_pending_values_are_marked() {
    let f = facts_of(vec![
        observation("final", json!({"valueQuantity": {"value": 250, "unit": "kU/L"}})),
        observation("amended", json!({"valueQuantity": {"value": 250, "unit": "kU/L"}})),
        observation("preliminary", json!({"valueQuantity": {"value": 900, "unit": "kU/L"}})),
        observation("registered", json!({})),
        observation(
            "entered-in-error",
            json!({"valueQuantity": {"value": 1, "unit": "kU/L"}}),
        ),
        observation("cancelled", json!({})),
    ]);
    let statuses: Vec<ResultStatus> = f.observations.iter().map(|o| o.status).collect();
    assert_eq!(
        statuses,
        [
            ResultStatus::Result,
            ResultStatus::Result,
            ResultStatus::Pending,
            ResultStatus::Pending
        ]
    );
}

#[test]
fn bounds_from_comparators_and_strings_are_bounds_not_absent_values() {
    let f = facts_of(vec![
        observation("final", json!({"valueString": ">2000"})),
        observation("final", json!({"valueString": "<2 kU/L"})),
        observation(
            "final",
            json!({"valueQuantity": {"value": 0.1, "comparator": "<", "unit": "kU/L"}}),
        ),
        observation("final", json!({"valueString": "see report"})),
        observation("final", json!({"valueString": "1,250 IU/mL"})),
    ]);
    let bound = |c, v: f64, u: &str| ObservedValue::Bound {
        comparator: c,
        quantity: Quantity {
            value: v,
            unit: u.into(),
        },
    };
    let values: Vec<ObservedValue> = f.observations.into_iter().map(|o| o.value).collect();
    assert_eq!(
        values,
        [
            bound(Comparator::Above, 2000.0, ""),
            bound(Comparator::Below, 2.0, "kU/L"),
            bound(Comparator::Below, 0.1, "kU/L"),
            ObservedValue::Text("see report".into()),
            ObservedValue::Quantity(Quantity {
                value: 1250.0,
                unit: "IU/mL".into()
            }),
        ]
    );
}

#[test]
fn panel_components_are_read_as_results_of_their_own() {
    let f = facts_of(vec![
        json!({"resourceType": "Observation", "id": "panel", "status": "final",
        "code": {"coding": [{"system": "https://fhir.cerner.com/x/codeSet/72", "code": "1"}], "text": "Allergen panel"},
        "subject": {"reference": "Patient/p"}, "effectiveDateTime": "2026-09-09",
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "6095-4"}]},
             "valueQuantity": {"value": 4.2, "unit": "kU/L"}, "interpretation": [{"coding": [{"code": "H"}]}],
             "referenceRange": [{"high": {"value": 0.35, "unit": "kU/L"}}]}
        ]}),
    ]);
    assert_eq!(f.observations.len(), 2);
    let c = &f.observations[1];
    assert_eq!(c.codes, [Code::new("loinc", "6095-4")]);
    assert_eq!(c.interpretation, ["H"]);
    assert_eq!(c.reference_high.as_ref().map(|q| q.value), Some(0.35));
    assert_eq!(c.date, NaiveDate::from_ymd_opt(2026, 9, 9));
}

#[test]
fn allergies_keep_category_type_and_drop_refuted_or_entered_in_error() {
    let allergy = |id: &str, verification: &str, kind: &str| {
        json!({"resourceType": "AllergyIntolerance", "id": id, "patient": {"reference": "Patient/p"},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": verification}]},
            "type": kind, "category": ["food"],
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "762952008", "display": "Peanut (substance)"}], "text": "Peanut"}})
    };
    let f = facts_of(vec![
        allergy("a1", "confirmed", "allergy"),
        allergy("a2", "refuted", "allergy"),
        allergy("a3", "entered-in-error", "allergy"),
        allergy("a4", "confirmed", "intolerance"),
    ]);
    assert_eq!(
        f.allergies,
        [
            AllergyFact {
                reference: Some("AllergyIntolerance/a1".into()),
                codes: vec![Code::new("snomed", "762952008")],
                text: "Peanut".into(),
                categories: vec!["food".into()],
                kind: Some("allergy".into()),
                active: true,
            },
            AllergyFact {
                reference: Some("AllergyIntolerance/a4".into()),
                codes: vec![Code::new("snomed", "762952008")],
                text: "Peanut".into(),
                categories: vec!["food".into()],
                kind: Some("intolerance".into()),
                active: true,
            },
        ]
    );
}

#[test]
fn a_renewed_request_dates_its_therapy_from_bounds_and_validity_not_authored_on() {
    let f = facts_of(vec![
        json!({"resourceType": "MedicationRequest", "id": "m", "status": "active", "intent": "order",
        "subject": {"reference": "Patient/p"}, "authoredOn": "2024-02-27T16:24:05Z",
        "medicationCodeableConcept": {"text": "OMALIZUMAB 150 MG SC SOLR"},
        "dispenseRequest": {"validityPeriod": {"start": "2023-06-01"}},
        "dosageInstruction": [{"route": {"text": "Subcutaneous"},
            "timing": {"repeat": {"boundsPeriod": {"start": "2023-01-10T05:00:00Z", "end": "2025-10-14T03:59:00Z"}}}}]}),
    ]);
    let m = &f.medications[0];
    assert_eq!(m.date, NaiveDate::from_ymd_opt(2023, 1, 10));
    assert_eq!(m.last_date, NaiveDate::from_ymd_opt(2025, 10, 14));
    assert_eq!(m.form.name, "OMALIZUMAB 150 MG SC SOLR");
    assert_eq!(m.form.text, "subcutaneous");
}
