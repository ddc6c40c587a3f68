//! Medication lines (requests, statements, administrations): what they name, their
//! route and form, and when the therapy they record ran.

use super::*;

/// (first, last) date a period covers; an open end takes the other end.
fn period_span(p: &Period) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let start = date_time(p.start.as_ref());
    let end = date_time(p.end.as_ref());
    (start.or(end), end.or(start))
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

pub(super) fn request_fact(
    m: &MedicationRequest,
    meds: &MedicationIndex<'_>,
    systems: &CodeSystems,
) -> Option<MedicationFact> {
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

pub(super) fn statement_fact(
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

pub(super) fn administration_fact(
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
