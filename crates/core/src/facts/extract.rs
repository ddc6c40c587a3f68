//! fhirbolt R4 resources -> `PatientFacts`: one reading of each FHIR shape, whatever the
//! vendor (statuses, bounds, components, route and form, therapy dates).

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

/// A Quantity's value and unit: the UCUM `code` when sent (case-sensitive, exact), else
/// the display `unit`. A quantity without a value is none; one without a unit has "".
pub fn quantity(q: &FhirQuantity) -> Option<(Quantity, Option<Comparator>)> {
    let value = q
        .value
        .as_ref()
        .and_then(|v| v.value.as_deref())
        .and_then(fhir_decimal)?;
    let unit = q
        .code
        .as_ref()
        .and_then(|c| c.value.clone())
        .or_else(|| q.unit.as_ref().and_then(|u| u.value.clone()))
        .unwrap_or_default();
    let comparator = q
        .comparator
        .as_ref()
        .and_then(|c| c.value.as_deref())
        .and_then(Comparator::parse);
    Some((Quantity { value, unit }, comparator))
}

/// A lab's text value: `>2000`, `<2`, `250 kU/L`, `<0.35 kUA/L`; anything else is text.
pub fn text_value(s: &str) -> ObservedValue {
    let t = s.trim();
    let (comparator, rest) = [">=", "<=", ">", "<"]
        .iter()
        .find_map(|op| t.strip_prefix(op).map(|r| (Comparator::parse(op), r.trim_start())))
        .unwrap_or((None, t));
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(rest.len());
    // Thousands separators ("2,000") are common in lab text.
    let number = rest[..number_end].replace(',', "");
    let unit = rest[number_end..].trim();
    match fhir_decimal(&number) {
        Some(value) if !number.is_empty() && !unit.contains(char::is_whitespace) => {
            let quantity = Quantity {
                value,
                unit: unit.to_string(),
            };
            match comparator {
                Some(comparator) => ObservedValue::Bound { comparator, quantity },
                None => ObservedValue::Quantity(quantity),
            }
        }
        _ => ObservedValue::Text(t.to_string()),
    }
}

fn quantity_value(q: &FhirQuantity) -> ObservedValue {
    match quantity(q) {
        Some((quantity, Some(comparator))) => ObservedValue::Bound { comparator, quantity },
        Some((quantity, None)) => ObservedValue::Quantity(quantity),
        None => ObservedValue::Absent,
    }
}

fn interpretation(ccs: &[CodeableConcept]) -> Vec<String> {
    let mut out = Vec::new();
    for cc in ccs {
        out.extend(cc.coding.iter().filter_map(|c| c.code.as_ref()?.value.clone()));
        out.extend(cc.text.as_ref().and_then(|t| t.value.clone()));
    }
    out
}

fn reference_high(ranges: &[ObservationReferenceRange]) -> Option<Quantity> {
    ranges.iter().find_map(|r| quantity(r.high.as_deref()?).map(|(q, _)| q))
}

fn result_status(status: &str) -> Option<ResultStatus> {
    match status {
        "final" | "amended" | "corrected" => Some(ResultStatus::Result),
        "preliminary" | "registered" => Some(ResultStatus::Pending),
        // entered-in-error, cancelled, unknown: not a result at all.
        _ => None,
    }
}

/// An Observation and each of its components (allergen and IgE panels report their
/// values there), as facts of their own with the parent's status and date.
fn observation_facts(o: &Observation, systems: &CodeSystems, out: &mut Vec<ObservationFact>) {
    let Some(status) = result_status(o.status.value.as_deref().unwrap_or_default()) else {
        return;
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
    let value = match &o.value {
        Some(ObservationValue::Quantity(q)) => quantity_value(q),
        Some(ObservationValue::String(s)) => s.value.as_deref().map_or(ObservedValue::Absent, text_value),
        _ => ObservedValue::Absent,
    };
    out.push(ObservationFact {
        codes: concept_codes(&o.code, systems),
        text: concept_label(&o.code),
        status,
        value,
        interpretation: interpretation(&o.interpretation),
        reference_high: reference_high(&o.reference_range),
        date,
    });
    for c in &o.component {
        let value = match &c.value {
            Some(ObservationComponentValue::Quantity(q)) => quantity_value(q),
            Some(ObservationComponentValue::String(s)) => s.value.as_deref().map_or(ObservedValue::Absent, text_value),
            _ => ObservedValue::Absent,
        };
        out.push(ObservationFact {
            codes: concept_codes(&c.code, systems),
            text: concept_label(&c.code),
            status,
            value,
            interpretation: interpretation(&c.interpretation),
            reference_high: reference_high(&c.reference_range),
            date,
        });
    }
}

/// What a medication reference or concept names: codes, lower-case text, and form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MedicationIdentity {
    pub codes: Vec<Code>,
    pub text: String,
    /// `Medication.form` codes and lower-case text.
    pub form_codes: Vec<Code>,
    pub form_text: String,
    /// The name as sent, case kept.
    pub name: String,
}

impl MedicationIdentity {
    fn of_concept(cc: &CodeableConcept, systems: &CodeSystems) -> Self {
        MedicationIdentity {
            codes: concept_codes(cc, systems),
            text: concept_text(cc),
            name: concept_label(cc),
            ..MedicationIdentity::default()
        }
    }
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

    /// What a `medication[x]` names: the concept itself, or the Medication its reference
    /// points to (contained first). The one reading of `medication[x]` for every resource.
    pub fn identify(
        &self,
        concept: Option<&CodeableConcept>,
        reference: Option<&Reference>,
        contained: &[Resource],
        systems: &CodeSystems,
    ) -> MedicationIdentity {
        match (concept, reference) {
            (Some(cc), _) => MedicationIdentity::of_concept(cc, systems),
            (None, Some(r)) => self.resolve(r, contained, systems),
            (None, None) => MedicationIdentity::default(),
        }
    }

    /// What the medication a reference names is, looking first in `contained`.
    fn resolve(&self, reference: &Reference, contained: &[Resource], systems: &CodeSystems) -> MedicationIdentity {
        let display = reference
            .display
            .as_ref()
            .and_then(|d| d.value.clone())
            .unwrap_or_default();
        let mut identity = MedicationIdentity {
            text: display.to_lowercase(),
            name: display,
            ..MedicationIdentity::default()
        };
        let Some(target) = reference.reference.as_ref().and_then(|r| r.value.as_deref()) else {
            return identity;
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
        let Some(m) = medication else { return identity };
        if let Some(cc) = m.code.as_deref() {
            let t = concept_text(cc);
            if !t.is_empty() {
                identity.text = if identity.text.is_empty() {
                    t
                } else {
                    format!("{} | {t}", identity.text)
                };
            }
            identity.codes = concept_codes(cc, systems);
            if identity.name.is_empty() {
                identity.name = concept_label(cc);
            }
        }
        if let Some(form) = m.form.as_deref() {
            identity.form_codes = concept_codes(form, systems);
            identity.form_text = concept_text(form);
        }
        identity
    }
}

/// Route and form of a medication line, from its dosages and its Medication.
pub fn medication_form<'d>(
    identity: &MedicationIdentity,
    routes: impl Iterator<Item = &'d CodeableConcept>,
    systems: &CodeSystems,
) -> MedicationForm {
    let mut codes = identity.form_codes.clone();
    let mut texts = vec![identity.form_text.clone()];
    for r in routes {
        codes.extend(concept_codes(r, systems));
        texts.push(concept_text(r));
    }
    texts.retain(|t| !t.is_empty());
    MedicationForm {
        codes,
        text: texts.join(" | "),
        name: identity.name.clone(),
    }
}

/// The start of a request's therapy as its dosages and dispense request date it:
/// `timing.repeat.boundsPeriod.start` and `dispenseRequest.validityPeriod.start`, earliest.
pub fn request_therapy_span(m: &MedicationRequest) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    for d in &m.dosage_instruction {
        if let Some(TimingRepeatBounds::Period(p)) = d.timing.as_ref().and_then(|t| t.repeat.as_ref()?.bounds.as_ref())
        {
            starts.extend(date_time(p.start.as_ref()));
            ends.extend(date_time(p.end.as_ref()));
        }
    }
    if let Some(p) = m.dispense_request.as_ref().and_then(|d| d.validity_period.as_deref()) {
        starts.extend(date_time(p.start.as_ref()));
        ends.extend(date_time(p.end.as_ref()));
    }
    (starts.into_iter().min(), ends.into_iter().max())
}

fn status_code(cc: Option<&CodeableConcept>) -> Option<String> {
    cc.and_then(|cc| cc.coding.iter().find_map(|c| c.code.as_ref()?.value.clone()))
}

fn condition_fact(c: &Condition, systems: &CodeSystems) -> Option<ConditionFact> {
    let verification = status_code(c.verification_status.as_deref());
    if matches!(verification.as_deref(), Some("entered-in-error" | "refuted")) {
        return None;
    }
    let active = match status_code(c.clinical_status.as_deref()).as_deref() {
        None => true,
        Some(s) => matches!(s, "active" | "recurrence" | "relapse"),
    };
    Some(ConditionFact {
        reference: reference_of("Condition", c.id.as_ref().and_then(|i| i.value.as_deref())),
        codes: c
            .code
            .as_deref()
            .map(|cc| concept_codes(cc, systems))
            .unwrap_or_default(),
        text: c.code.as_deref().map(concept_label).unwrap_or_default(),
        active,
    })
}

fn allergy_fact(a: &AllergyIntolerance, systems: &CodeSystems) -> Option<AllergyFact> {
    let verification = status_code(a.verification_status.as_deref());
    if matches!(verification.as_deref(), Some("entered-in-error" | "refuted")) {
        return None;
    }
    let active = match status_code(a.clinical_status.as_deref()).as_deref() {
        None => true,
        Some(s) => s == "active",
    };
    Some(AllergyFact {
        reference: reference_of("AllergyIntolerance", a.id.as_ref().and_then(|i| i.value.as_deref())),
        codes: a
            .code
            .as_deref()
            .map(|cc| concept_codes(cc, systems))
            .unwrap_or_default(),
        text: a.code.as_deref().map(concept_label).unwrap_or_default(),
        categories: a.category.iter().filter_map(|c| c.value.clone()).collect(),
        kind: a.r#type.as_ref().and_then(|t| t.value.clone()),
        active,
    })
}

fn request_fact(m: &MedicationRequest, meds: &MedicationIndex<'_>, systems: &CodeSystems) -> Option<MedicationFact> {
    let status = m.status.value.as_deref().unwrap_or_default();
    if matches!(status, "entered-in-error" | "draft" | "cancelled") {
        return None;
    }
    let identity = request_medication(m, meds, systems);
    let authored = date_time(m.authored_on.as_ref());
    let (start, end) = request_therapy_span(m);
    let date = [authored, start].into_iter().flatten().min();
    let last_date = [authored, end].into_iter().flatten().max();
    Some(MedicationFact {
        reference: reference_of("MedicationRequest", m.id.as_ref().and_then(|i| i.value.as_deref())),
        kind: MedicationRecordKind::Request,
        form: medication_form(&identity, dosage_routes(&m.dosage_instruction), systems),
        codes: identity.codes,
        text: identity.text,
        date,
        last_date,
        active: matches!(status, "active" | "on-hold"),
        administered: false,
    })
}

/// What a MedicationRequest's `medication[x]` names.
pub fn request_medication(
    m: &MedicationRequest,
    meds: &MedicationIndex<'_>,
    systems: &CodeSystems,
) -> MedicationIdentity {
    let (concept, reference) = match &m.medication {
        MedicationRequestMedication::CodeableConcept(cc) => (Some(cc.as_ref()), None),
        MedicationRequestMedication::Reference(r) => (None, Some(r.as_ref())),
        _ => (None, None),
    };
    meds.identify(concept, reference, &m.contained, systems)
}

fn dosage_routes(dosages: &[Dosage]) -> impl Iterator<Item = &CodeableConcept> {
    dosages.iter().filter_map(|d| d.route.as_deref())
}

fn statement_fact(
    m: &MedicationStatement,
    meds: &MedicationIndex<'_>,
    systems: &CodeSystems,
) -> Option<MedicationFact> {
    let status = m.status.value.as_deref().unwrap_or_default();
    if matches!(status, "entered-in-error" | "not-taken") {
        return None;
    }
    let (concept, reference) = match &m.medication {
        MedicationStatementMedication::CodeableConcept(cc) => (Some(cc.as_ref()), None),
        MedicationStatementMedication::Reference(r) => (None, Some(r.as_ref())),
        _ => (None, None),
    };
    let identity = meds.identify(concept, reference, &m.contained, systems);
    let (date, last_date) = match &m.effective {
        Some(MedicationStatementEffective::DateTime(d)) => (date_time(Some(d)), date_time(Some(d))),
        Some(MedicationStatementEffective::Period(p)) => period_span(p),
        _ => (date_time(m.date_asserted.as_ref()), date_time(m.date_asserted.as_ref())),
    };
    Some(MedicationFact {
        reference: reference_of("MedicationStatement", m.id.as_ref().and_then(|i| i.value.as_deref())),
        kind: MedicationRecordKind::Statement,
        form: medication_form(&identity, dosage_routes(&m.dosage), systems),
        codes: identity.codes,
        text: identity.text,
        date,
        last_date,
        active: matches!(status, "active" | "intended"),
        administered: false,
    })
}

fn administration_fact(
    m: &MedicationAdministration,
    meds: &MedicationIndex<'_>,
    systems: &CodeSystems,
) -> Option<MedicationFact> {
    let status = m.status.value.as_deref().unwrap_or_default();
    if matches!(status, "entered-in-error" | "not-done") {
        return None;
    }
    let (concept, reference) = match &m.medication {
        MedicationAdministrationMedication::CodeableConcept(cc) => (Some(cc.as_ref()), None),
        MedicationAdministrationMedication::Reference(r) => (None, Some(r.as_ref())),
        _ => (None, None),
    };
    let identity = meds.identify(concept, reference, &m.contained, systems);
    let (date, last_date) = match &m.effective {
        MedicationAdministrationEffective::DateTime(d) => (date_time(Some(d)), date_time(Some(d))),
        MedicationAdministrationEffective::Period(p) => period_span(p),
        _ => (None, None),
    };
    let route = m.dosage.as_ref().and_then(|d| d.route.as_deref());
    Some(MedicationFact {
        reference: reference_of(
            "MedicationAdministration",
            m.id.as_ref().and_then(|i| i.value.as_deref()),
        ),
        kind: MedicationRecordKind::Administration,
        form: medication_form(&identity, route.into_iter(), systems),
        codes: identity.codes,
        text: identity.text,
        date,
        last_date,
        active: false,
        administered: status == "completed",
    })
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
            Resource::Observation(o) => observation_facts(o, systems, &mut facts.observations),
            Resource::Condition(c) => facts.conditions.extend(condition_fact(c, systems)),
            Resource::AllergyIntolerance(a) => facts.allergies.extend(allergy_fact(a, systems)),
            Resource::MedicationRequest(m) => facts.medications.extend(request_fact(m, &meds, systems)),
            Resource::MedicationStatement(m) => facts.medications.extend(statement_fact(m, &meds, systems)),
            Resource::MedicationAdministration(m) => facts.medications.extend(administration_fact(m, &meds, systems)),
            _ => {}
        }
    }
    facts
}

#[cfg(test)]
#[path = "extract_tests.rs"]
mod tests;
