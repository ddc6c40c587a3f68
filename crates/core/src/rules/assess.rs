//! One order assessed, step by step, in the order a clinician checks it: the indication,
//! the patient's age, other biologics, the dose table's inputs (weight and pretreatment
//! IgE), the table, the order itself, the documentation a payer asks for, billing and
//! safety. Each step adds its findings; eligibility is decided from them at the end.

use chrono::NaiveDate;

use super::inputs::{self, PretreatmentLab, PretreatmentReading, WeightReading};
use super::{
    Assessment, DoseFinding, Eligibility, IndicationChoice, IndicationSource, LabValue, MissingInput, Note,
    WeightValue, dose, indication, safety,
};
use super::{billing, documentation};
use crate::facts::{ChartPart, DoseReading, OrderFacts, OrderedDose, OrderedInterval, PatientFacts};
use crate::profile::{Catalog, DoseTable, Indication, Profile, RequirementCheck, Specificity, TableKind};
use crate::vocab::{DocumentationGap, OutsideLabel, Reading};

/// What the steps find, in the order they find it.
#[derive(Default)]
struct Findings {
    reasons: Vec<OutsideLabel>,
    missing: Vec<MissingInput>,
    unreadable: Vec<MissingInput>,
    readings: Vec<Reading>,
    gaps: Vec<DocumentationGap>,
    notes: Vec<Note>,
    labs_to_order: Vec<String>,
}

impl Findings {
    fn eligibility(&self) -> Eligibility {
        if !self.reasons.is_empty() {
            Eligibility::Ineligible
        } else if !self.missing.is_empty() || !self.unreadable.is_empty() {
            Eligibility::Undetermined
        } else {
            Eligibility::Eligible
        }
    }

    fn tidy(&mut self) {
        self.reasons.sort();
        self.reasons.dedup();
        self.gaps.dedup();
        self.labs_to_order.dedup();
        self.readings.sort();
        self.readings.dedup();
        self.unreadable.dedup();
    }
}

/// Assess one order. `today` is used when the order carries no authoredOn date.
pub fn assess(
    catalog: &Catalog,
    profile: &Profile,
    facts: &PatientFacts,
    order: &OrderFacts,
    today: NaiveDate,
) -> Assessment {
    let order_date = order.authored_on.unwrap_or(today);
    let mut found = Findings::default();
    let mut history = inputs::drug_history(profile, facts, order);
    history.ongoing = history.last_dose.is_some_and(|last| last > order_date);
    let indication = check_indication(&mut found, profile, facts, order);
    let indication_def = indication.as_ref().and_then(|c| profile.indication(&c.id));
    let age_years = check_age(&mut found, facts, indication_def, order_date);
    check_concurrent_biologic(&mut found, catalog, profile, facts);
    let table = indication_def.and_then(|ind| dose_table(profile, ind, age_years));
    let (weight, pretreatment_lab) = read_dose_inputs(&mut found, catalog, profile, facts, table, &history, order_date);
    let dose_finding = look_up_dose(&mut found, table, pretreatment_lab.as_ref(), weight.as_ref());
    check_order(&mut found, order);
    let ordered_interval = order.interval.interval();
    let dose_matches = dose::matches(&dose_finding, indication_def, order.dose.mg(), ordered_interval);
    if let Some(ind) = indication_def {
        check_documentation(&mut found, catalog, profile, facts, ind, &history, order_date);
    }
    let supporting = documentation::supporting_results(catalog, profile, facts, indication_def, order_date);
    let billing = billing::assess(profile, order, order.dose.mg(), indication.as_ref());
    let safety = safety::advice(profile, order, &history, age_years, order_date);
    note_what_was_not_read(&mut found, facts);
    found.tidy();
    Assessment {
        order: order.reference.clone(),
        eligibility: found.eligibility(),
        indication,
        reasons: found.reasons,
        missing: found.missing,
        unreadable: found.unreadable,
        readings: found.readings,
        age_years,
        weight,
        pretreatment_lab,
        history,
        dose: dose_finding,
        ordered_dose: order.dose.mg(),
        ordered_interval,
        ordered_dose_as_written: match &order.dose {
            OrderedDose::Unreadable { as_written } => Some(as_written.clone()),
            _ => None,
        },
        supporting,
        dose_matches,
        billing,
        gaps: found.gaps,
        labs_to_order: found.labs_to_order,
        notes: found.notes,
        safety,
        unfetched: facts.unfetched.clone(),
        acute_use: order.course_of_therapy.iter().any(|c| c == "acute"),
    }
}

/// The dose table's inputs, body weight and pretreatment lab, read from the chart; checked
/// (missing, stale, unreadable) only when the table needs them.
fn read_dose_inputs(
    found: &mut Findings,
    catalog: &Catalog,
    profile: &Profile,
    facts: &PatientFacts,
    table: Option<&DoseTable>,
    history: &super::DrugHistory,
    order_date: NaiveDate,
) -> (Option<WeightValue>, Option<LabValue>) {
    let weight = profile
        .dosing
        .weight
        .as_deref()
        .map(|set| inputs::latest_weight(catalog, profile, facts, set, order_date))
        .unwrap_or_default();
    let lab = profile
        .dosing
        .pretreatment_lab
        .as_deref()
        .map(|set| inputs::pretreatment_lab(catalog, profile, facts, set, history, order_date));
    let needs_lab_and_weight = table.is_some_and(|t| !matches!(t.kind, TableKind::Fixed { .. }));
    if needs_lab_and_weight {
        let observations = facts.fetched(ChartPart::Observations);
        check_weight(found, profile, &weight, order_date, observations);
        check_pretreatment_lab(found, profile, lab.as_ref(), observations);
    }
    let pretreatment_lab = match lab.map(|l| l.lab) {
        Some(PretreatmentLab::Found(v)) => Some(v),
        _ => None,
    };
    (weight.value, pretreatment_lab)
}

/// What the chart had that could not be read, belonged to another patient, or was not
/// fetched: said on the card, never counted as missing.
fn note_what_was_not_read(found: &mut Findings, facts: &PatientFacts) {
    if facts.unreadable_entries > 0 {
        found.notes.push(Note::Unreadable);
    }
    if facts.other_patient_entries > 0 {
        found.notes.push(Note::OtherPatient);
    }
    if !facts.unfetched.is_empty() {
        found.readings.push(Reading::NotFetched);
    }
}

/// The labeled indication, from the order's reason or the chart; outside the label when
/// the chart or order names a condition the label excludes.
fn check_indication(
    found: &mut Findings,
    profile: &Profile,
    facts: &PatientFacts,
    order: &OrderFacts,
) -> Option<IndicationChoice> {
    let choice = indication::choose(profile, facts, order);
    match &choice {
        None if indication::names_unlabeled_condition(profile, facts, order) => {
            found.reasons.push(OutsideLabel::IndicationNotLabeled)
        }
        // Not fetched is not missing: the diagnosis is unknown, and no gap.
        None if !facts.fetched(ChartPart::Conditions) => found.unreadable.push(MissingInput::Diagnosis),
        None => {
            found.missing.push(MissingInput::Diagnosis);
            found.gaps.push(DocumentationGap::DiagnosisMissing);
        }
        Some(c) => {
            if c.specificity == Specificity::Nonspecific {
                found.gaps.push(DocumentationGap::DiagnosisNonspecific);
            }
            if matches!(c.source, IndicationSource::Chart { .. }) {
                found.notes.push(Note::IndicationAssumed);
            }
        }
    }
    choice
}

fn check_age(
    found: &mut Findings,
    facts: &PatientFacts,
    indication: Option<&Indication>,
    order_date: NaiveDate,
) -> Option<u32> {
    let age = facts.birth_date.and_then(|b| inputs::age_on(b, order_date));
    match (age, indication) {
        (None, _) => found.missing.push(MissingInput::Age),
        (Some(age), Some(ind)) if ind.min_age_years.is_some_and(|min| age < min) => {
            found.reasons.push(OutsideLabel::AgeBelowMinimum)
        }
        _ => {}
    }
    age
}

fn check_concurrent_biologic(found: &mut Findings, catalog: &Catalog, profile: &Profile, facts: &PatientFacts) {
    if let Some(biologics) = profile.concurrent_therapy()
        && facts
            .medications
            .iter()
            .any(|m| m.active && documentation::is_therapy(catalog, biologics, m))
    {
        found.reasons.push(OutsideLabel::ConcurrentBiologic);
    }
}

/// The indication's dose table for the patient's age; with no age, its only table.
fn dose_table<'a>(profile: &'a Profile, ind: &Indication, age_years: Option<u32>) -> Option<&'a DoseTable> {
    match age_years {
        Some(age) => profile.table_for(&ind.id, age),
        None => {
            let mut tables = profile.tables.iter().filter(|t| t.indication == ind.id);
            match (tables.next(), tables.next()) {
                (Some(t), None) => Some(t),
                _ => None,
            }
        }
    }
}

/// A current body weight: absent is a gap, unreadable is said so, old is stale. When the
/// Observation searches did not all arrive, absent or old says nothing (`fetched` false).
fn check_weight(found: &mut Findings, profile: &Profile, weight: &WeightReading, order_date: NaiveDate, fetched: bool) {
    if weight.unreadable {
        found.readings.push(Reading::WeightUnreadable);
    }
    match &weight.value {
        None if weight.unreadable || !fetched => found.unreadable.push(MissingInput::Weight),
        Some(_) if !fetched => {}
        None => {
            found.missing.push(MissingInput::Weight);
            found.gaps.push(DocumentationGap::WeightMissing);
        }
        Some(w) => {
            if let (Some(max_age), Some(date)) = (profile.policy.weight_max_age_days, w.date)
                && (order_date - date).num_days() > max_age
            {
                found.gaps.push(DocumentationGap::WeightStale);
            }
        }
    }
}

/// The pretreatment IgE: drawn before treatment (or after a year off it), a final result,
/// readable. A test already drawn and awaiting its result is not ordered again.
fn check_pretreatment_lab(found: &mut Findings, profile: &Profile, lab: Option<&PretreatmentReading>, fetched: bool) {
    let pending = lab.is_some_and(|l| l.pending_newer);
    let found_one = matches!(lab.map(|l| &l.lab), Some(PretreatmentLab::Found(_)));
    if !fetched && !found_one {
        // The Observation searches did not all arrive: unknown, not missing.
        found.unreadable.push(MissingInput::PretreatmentLab);
        return;
    }
    if pending {
        found.readings.push(Reading::LabPreliminaryNewer);
    }
    // A lab is suggested only when a new draw could set the dose.
    let order_lab = profile
        .dosing
        .pretreatment_lab
        .clone()
        .filter(|_| lab.is_some_and(|l| l.new_draw_can_set_dose));
    match lab.map(|l| &l.lab) {
        Some(PretreatmentLab::Found(v)) => {
            if v.bound.is_some() {
                found.readings.push(Reading::LabBound);
            }
        }
        Some(PretreatmentLab::OnlyDuringTreatment { retest }) => {
            found.missing.push(MissingInput::PretreatmentLab);
            found.gaps.push(DocumentationGap::LabNotPretreatment);
            if *retest {
                found.notes.push(Note::PretreatmentLabRetest);
            }
            found.labs_to_order.extend(order_lab);
        }
        Some(PretreatmentLab::Unreadable) => {
            found.unreadable.push(MissingInput::PretreatmentLab);
            found.readings.push(Reading::LabUnreadable);
        }
        Some(PretreatmentLab::None) | None => {
            found.missing.push(MissingInput::PretreatmentLab);
            found.gaps.push(DocumentationGap::PretreatmentLabMissing);
            if lab.is_some_and(|l| !l.new_draw_can_set_dose) {
                found.notes.push(Note::PretreatmentLabFromRecords);
            }
            if !pending {
                found.labs_to_order.extend(order_lab);
            }
        }
    }
}

fn look_up_dose(
    found: &mut Findings,
    table: Option<&DoseTable>,
    lab: Option<&LabValue>,
    weight: Option<&WeightValue>,
) -> DoseFinding {
    let finding = match table {
        Some(t) => dose::look_up(t, lab, weight.map(|w| w.kg)),
        None => DoseFinding::NoTable,
    };
    found.reasons.extend(finding.reasons());
    match finding {
        DoseFinding::UnverifiedTable { .. } => found.notes.push(Note::UnverifiedTable),
        DoseFinding::LabBoundInRange { .. } => found.unreadable.push(MissingInput::PretreatmentLab),
        _ => {}
    }
    finding
}

/// The order's dose and interval: missing is a gap; read from text, or unreadable, is said so.
fn check_order(found: &mut Findings, order: &OrderFacts) {
    match &order.dose {
        OrderedDose::Missing => found.gaps.push(DocumentationGap::DoseMissing),
        OrderedDose::Unreadable { .. } => found.readings.push(Reading::DoseUnreadable),
        OrderedDose::Mg { read_from, .. } => match read_from {
            DoseReading::Quantity => {}
            DoseReading::Volume => found.readings.push(Reading::DoseFromVolume),
            DoseReading::Sig => found.readings.push(Reading::DoseFromSig),
        },
    }
    match order.interval {
        OrderedInterval::Missing => found.gaps.push(DocumentationGap::IntervalMissing),
        OrderedInterval::Unreadable => found.readings.push(Reading::IntervalUnreadable),
        OrderedInterval::Read { from_sig: true, .. } => found.readings.push(Reading::IntervalFromSig),
        OrderedInterval::Read { .. } => {}
    }
}

/// The documentation the indication asks for (aeroallergen test, controller therapy...).
fn check_documentation(
    found: &mut Findings,
    catalog: &Catalog,
    profile: &Profile,
    facts: &PatientFacts,
    ind: &Indication,
    history: &inputs::DrugHistory,
    order_date: NaiveDate,
) {
    for req in &ind.requirements {
        match documentation::requirement_status(catalog, profile, facts, req, history, order_date) {
            documentation::RequirementStatus::Met => {}
            documentation::RequirementStatus::Unreadable => found.readings.push(Reading::AllergenTestUnreadable),
            documentation::RequirementStatus::Negative => {
                let gap = req.negative_gap.as_ref().unwrap_or(&req.gap);
                found.gaps.push(DocumentationGap::Requirement(gap.clone()));
            }
            documentation::RequirementStatus::NotMet if !facts.fetched(requirement_part(&req.check)) => {}
            documentation::RequirementStatus::NotMet => {
                found.gaps.push(DocumentationGap::Requirement(req.gap.clone()));
                if let RequirementCheck::Observation { set, .. } = &req.check
                    && profile.observation_set(set).order_code.is_some()
                {
                    found.labs_to_order.push(set.clone());
                }
            }
        }
    }
}

/// The part of the chart a documentation requirement is checked against.
fn requirement_part(check: &RequirementCheck) -> ChartPart {
    match check {
        RequirementCheck::Therapy(_) => ChartPart::Medications,
        RequirementCheck::Observation { .. } => ChartPart::Observations,
    }
}
