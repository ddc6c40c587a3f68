//! fhirbolt R4 resources -> `PatientFacts`.

use std::collections::HashMap;

use chrono::NaiveDate;
use fhir_parse::r4::Resource;
use fhir_parse::r4::resources::{
    Medication, MedicationAdministrationEffective, MedicationAdministrationMedication, MedicationRequestMedication,
    MedicationStatementEffective, MedicationStatementMedication, ObservationEffective, ObservationValue,
};
use fhir_parse::r4::types::{CodeableConcept, DateTime, Period, Reference};

use super::{ConditionFact, MedicationFact, MedicationRecordKind, ObservationFact, PatientFacts, Quantity};
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

fn date_time(d: Option<&DateTime>) -> Option<NaiveDate> {
    d.and_then(|d| d.value.as_deref()).and_then(fhir_date)
}

/// (first, last) date a period covers; an open end takes the other end.
fn period_span(p: &Period) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let start = date_time(p.start.as_ref());
    let end = date_time(p.end.as_ref());
    (start.or(end), end.or(start))
}

/// A FHIR decimal (kept as text by fhirbolt; may use an exponent) as f64.
pub fn fhir_decimal(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
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

/// The medications a reference may point to: bundled `Medication/<id>` resources and
/// each resource's contained `#<id>` ones.
#[derive(Default)]
pub struct MedicationIndex<'a> {
    by_reference: HashMap<String, &'a Medication>,
}

impl<'a> MedicationIndex<'a> {
    pub fn new(resources: &'a [Resource]) -> Self {
        let mut by_reference = HashMap::new();
        for r in resources {
            if let Resource::Medication(m) = r
                && let Some(id) = m.id.as_ref().and_then(|i| i.value.as_deref())
            {
                by_reference.insert(format!("Medication/{id}"), m.as_ref());
            }
        }
        MedicationIndex { by_reference }
    }

    /// Codes and text of the medication a reference names, looking first in `contained`.
    pub fn resolve(&self, reference: &Reference, contained: &[Resource], systems: &CodeSystems) -> (Vec<Code>, String) {
        let mut text = reference
            .display
            .as_ref()
            .and_then(|d| d.value.clone())
            .unwrap_or_default()
            .to_lowercase();
        let Some(target) = reference.reference.as_ref().and_then(|r| r.value.as_deref()) else {
            return (Vec::new(), text);
        };
        let medication = if let Some(local) = target.strip_prefix('#') {
            contained.iter().find_map(|c| match c {
                Resource::Medication(m) if m.id.as_ref().and_then(|i| i.value.as_deref()) == Some(local) => {
                    Some(m.as_ref())
                }
                _ => None,
            })
        } else {
            self.by_reference.get(&tail_reference(target)).copied()
        };
        match medication.and_then(|m| m.code.as_deref()) {
            Some(cc) => {
                let t = concept_text(cc);
                if !t.is_empty() {
                    text = if text.is_empty() { t } else { format!("{text} | {t}") };
                }
                (concept_codes(cc, systems), text)
            }
            None => (Vec::new(), text),
        }
    }
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
            Resource::Observation(o) => {
                let status = o.status.value.as_deref().unwrap_or_default();
                if matches!(status, "entered-in-error" | "cancelled" | "registered") {
                    continue;
                }
                let quantity = match &o.value {
                    Some(ObservationValue::Quantity(q)) => {
                        let value = q.value.as_ref().and_then(|v| v.value.as_deref()).and_then(fhir_decimal);
                        let unit = q
                            .code
                            .as_ref()
                            .and_then(|c| c.value.clone())
                            .or_else(|| q.unit.as_ref().and_then(|u| u.value.clone()));
                        // A comparator (<, >) means the value is not the measurement itself.
                        match (value, unit, &q.comparator) {
                            (Some(value), Some(unit), None) => Some(Quantity { value, unit }),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                let date = match &o.effective {
                    Some(ObservationEffective::DateTime(d)) => d.value.as_deref().and_then(fhir_date),
                    Some(ObservationEffective::Instant(d)) => d.value.as_deref().and_then(fhir_date),
                    Some(ObservationEffective::Period(p)) => p
                        .start
                        .as_ref()
                        .or(p.end.as_ref())
                        .and_then(|d| d.value.as_deref())
                        .and_then(fhir_date),
                    _ => None,
                }
                .or_else(|| o.issued.as_ref().and_then(|i| i.value.as_deref()).and_then(fhir_date));
                facts.observations.push(ObservationFact {
                    codes: concept_codes(&o.code, systems),
                    quantity,
                    date,
                });
            }
            Resource::Condition(c) => {
                let status_code = |cc: Option<&CodeableConcept>| {
                    cc.and_then(|cc| cc.coding.iter().find_map(|c| c.code.as_ref()?.value.clone()))
                };
                let verification = status_code(c.verification_status.as_deref());
                if matches!(verification.as_deref(), Some("entered-in-error" | "refuted")) {
                    continue;
                }
                let active = match status_code(c.clinical_status.as_deref()).as_deref() {
                    None => true,
                    Some(s) => matches!(s, "active" | "recurrence" | "relapse"),
                };
                facts.conditions.push(ConditionFact {
                    reference: reference_of("Condition", c.id.as_ref().and_then(|i| i.value.as_deref())),
                    codes: c
                        .code
                        .as_deref()
                        .map(|cc| concept_codes(cc, systems))
                        .unwrap_or_default(),
                    active,
                });
            }
            Resource::MedicationRequest(m) => {
                let status = m.status.value.as_deref().unwrap_or_default();
                if matches!(status, "entered-in-error" | "draft" | "cancelled") {
                    continue;
                }
                let (codes, text) = match &m.medication {
                    MedicationRequestMedication::CodeableConcept(cc) => (concept_codes(cc, systems), concept_text(cc)),
                    MedicationRequestMedication::Reference(r) => meds.resolve(r, &m.contained, systems),
                    _ => (Vec::new(), String::new()),
                };
                let date = date_time(m.authored_on.as_ref());
                facts.medications.push(MedicationFact {
                    reference: reference_of("MedicationRequest", m.id.as_ref().and_then(|i| i.value.as_deref())),
                    kind: MedicationRecordKind::Request,
                    codes,
                    text,
                    date,
                    last_date: date,
                    active: matches!(status, "active" | "on-hold"),
                    administered: false,
                });
            }
            Resource::MedicationStatement(m) => {
                let status = m.status.value.as_deref().unwrap_or_default();
                if matches!(status, "entered-in-error" | "not-taken") {
                    continue;
                }
                let (codes, text) = match &m.medication {
                    MedicationStatementMedication::CodeableConcept(cc) => {
                        (concept_codes(cc, systems), concept_text(cc))
                    }
                    MedicationStatementMedication::Reference(r) => meds.resolve(r, &m.contained, systems),
                    _ => (Vec::new(), String::new()),
                };
                let (date, last_date) = match &m.effective {
                    Some(MedicationStatementEffective::DateTime(d)) => (date_time(Some(d)), date_time(Some(d))),
                    Some(MedicationStatementEffective::Period(p)) => period_span(p),
                    _ => (date_time(m.date_asserted.as_ref()), date_time(m.date_asserted.as_ref())),
                };
                facts.medications.push(MedicationFact {
                    reference: reference_of("MedicationStatement", m.id.as_ref().and_then(|i| i.value.as_deref())),
                    kind: MedicationRecordKind::Statement,
                    codes,
                    text,
                    date,
                    last_date,
                    active: matches!(status, "active" | "intended"),
                    administered: false,
                });
            }
            Resource::MedicationAdministration(m) => {
                let status = m.status.value.as_deref().unwrap_or_default();
                if matches!(status, "entered-in-error" | "not-done") {
                    continue;
                }
                let (codes, text) = match &m.medication {
                    MedicationAdministrationMedication::CodeableConcept(cc) => {
                        (concept_codes(cc, systems), concept_text(cc))
                    }
                    MedicationAdministrationMedication::Reference(r) => meds.resolve(r, &m.contained, systems),
                    _ => (Vec::new(), String::new()),
                };
                let (date, last_date) = match &m.effective {
                    MedicationAdministrationEffective::DateTime(d) => (date_time(Some(d)), date_time(Some(d))),
                    MedicationAdministrationEffective::Period(p) => period_span(p),
                    _ => (None, None),
                };
                facts.medications.push(MedicationFact {
                    reference: reference_of(
                        "MedicationAdministration",
                        m.id.as_ref().and_then(|i| i.value.as_deref()),
                    ),
                    kind: MedicationRecordKind::Administration,
                    codes,
                    text,
                    date,
                    last_date,
                    active: false,
                    administered: status == "completed",
                });
            }
            _ => {}
        }
    }
    facts
}

#[cfg(test)]
mod tests {
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
}
