//! fhirbolt R4 resources -> `PatientFacts`: one reading of each FHIR shape, whatever the
//! vendor (statuses, bounds, components, route and form, therapy dates). Observations,
//! conditions and allergies, and medications each have their own file; the concepts,
//! dates and numbers every one of them reads are here.

mod conditions;
mod medications;
mod observations;

pub use medications::{MedicationIdentity, MedicationIndex, medication_form, request_medication, request_therapy_span};
pub use observations::{quantity, text_value};

use std::collections::HashMap;

use chrono::NaiveDate;
use fhir_parse::r4::Resource;
use fhir_parse::r4::resources::{
    AllergyIntolerance, Condition, Medication, MedicationAdministration, MedicationAdministrationEffective,
    MedicationAdministrationMedication, MedicationRequest, MedicationRequestMedication, MedicationStatement,
    MedicationStatementEffective, MedicationStatementMedication, Observation, ObservationComponentValue,
    ObservationEffective, ObservationReferenceRange, ObservationValue,
};
use fhir_parse::r4::types::{
    CodeableConcept, DateTime, Dosage, Period, Quantity as FhirQuantity, Reference, TimingRepeatBounds,
};

use super::{
    AllergyFact, Comparator, ConditionFact, MedicationFact, MedicationForm, MedicationRecordKind, ObservationFact,
    ObservedValue, PatientFacts, Quantity, ResultStatus,
};
use crate::profile::{Code, CodeSystems};

/// Codes of a CodeableConcept, system-normalised.
pub fn concept_codes(cc: &CodeableConcept, systems: &CodeSystems) -> Vec<Code> {
    cc.coding
        .iter()
        .filter_map(|c| {
            let code = c.code.as_ref()?.value.as_deref()?;
            let system = c.system.as_ref().and_then(|s| s.value.as_deref()).unwrap_or_default();
            Some(Code::new(&systems.id_for(system), code))
        })
        .collect()
}

/// Text and coding displays of a CodeableConcept, lower-case, for name matching.
pub fn concept_text(cc: &CodeableConcept) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if let Some(t) = cc.text.as_ref().and_then(|t| t.value.as_deref()) {
        parts.push(t);
    }
    for c in &cc.coding {
        if let Some(d) = c.display.as_ref().and_then(|d| d.value.as_deref()) {
            parts.push(d);
        }
    }
    parts.join(" | ").to_lowercase()
}

/// The chart's own words for a concept, case kept: its text, else the first display.
pub fn concept_label(cc: &CodeableConcept) -> String {
    cc.text
        .as_ref()
        .and_then(|t| t.value.clone())
        .or_else(|| cc.coding.iter().find_map(|c| c.display.as_ref()?.value.clone()))
        .unwrap_or_default()
}

/// A FHIR date or dateTime as a calendar date: `2024`, `2024-05`, `2024-05-01`,
/// `2024-05-01T10:00:00-05:00`. Partial dates take the first day they cover.
pub fn fhir_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let date_part = s.get(..10).unwrap_or(s);
    match date_part.len() {
        10 => NaiveDate::parse_from_str(date_part, "%Y-%m-%d").ok(),
        7 => NaiveDate::parse_from_str(&format!("{date_part}-01"), "%Y-%m-%d").ok(),
        4 => NaiveDate::parse_from_str(&format!("{date_part}-01-01"), "%Y-%m-%d").ok(),
        _ => None,
    }
}

pub fn date_time(d: Option<&DateTime>) -> Option<NaiveDate> {
    d.and_then(|d| d.value.as_deref()).and_then(fhir_date)
}

/// A FHIR decimal (kept as text by fhirbolt; may use an exponent) as f64.
pub fn fhir_decimal(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A number as the chart wrote it, without float noise: 2.0 -> "2", 0.5 -> "0.5".
pub fn number_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// `https://ehr/fhir/Condition/7` and `Condition/7` both name `Condition/7`.
pub fn tail_reference(target: &str) -> String {
    let parts: Vec<&str> = target.rsplit('/').take(2).collect();
    match parts.as_slice() {
        [id, kind] => format!("{kind}/{id}"),
        _ => target.to_string(),
    }
}

fn reference_of(resource_type: &str, id: Option<&str>) -> Option<String> {
    id.map(|id| format!("{resource_type}/{id}"))
}
fn status_code(cc: Option<&CodeableConcept>) -> Option<String> {
    cc.and_then(|cc| cc.coding.iter().find_map(|c| c.code.as_ref()?.value.clone()))
}

/// Build the patient's facts from every resource gathered (prefetch and fetched).
pub fn patient_facts(resources: &[Resource], unreadable: usize, systems: &CodeSystems) -> PatientFacts {
    let meds = MedicationIndex::new(resources);
    let mut facts = PatientFacts {
        unreadable_entries: unreadable,
        ..PatientFacts::default()
    };
    for r in resources {
        match r {
            Resource::Patient(p) if facts.birth_date.is_none() => {
                facts.birth_date = p
                    .birth_date
                    .as_ref()
                    .and_then(|d| d.value.as_deref())
                    .and_then(fhir_date);
            }
            Resource::Observation(o) => observations::observation_facts(o, systems, &mut facts.observations),
            Resource::Condition(c) => facts.conditions.extend(conditions::condition_fact(c, systems)),
            Resource::AllergyIntolerance(a) => facts.allergies.extend(conditions::allergy_fact(a, systems)),
            Resource::MedicationRequest(m) => facts.medications.extend(medications::request_fact(m, &meds, systems)),
            Resource::MedicationStatement(m) => {
                facts.medications.extend(medications::statement_fact(m, &meds, systems))
            }
            Resource::MedicationAdministration(m) => facts
                .medications
                .extend(medications::administration_fact(m, &meds, systems)),
            _ => {}
        }
    }
    facts
}

#[cfg(test)]
#[path = "../extract_tests.rs"]
mod tests;
