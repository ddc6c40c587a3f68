//! Pure clinical rules: facts + profile -> Assessment. No I/O, no HTTP, no JSON.
//!
//! Every number used here comes from the profile (cards/); the only constants in
//! this module are the vocabulary codes of `crate::vocab`.

mod billing;
mod dose;
mod indication;
mod inputs;

use chrono::NaiveDate;

use crate::facts::{DoseReading, ObservationFact, OrderFacts, OrderedDose, OrderedInterval, PatientFacts};
use crate::profile::{Catalog, Dose, Interval, Profile, Specificity};
use crate::vocab::{DocumentationGap, Reading, Reason};

pub use billing::{BillingAssessment, PresentationBasis};
pub use dose::{DoseFinding, TableCell};
pub use indication::{Diagnosis, IndicationChoice, IndicationSource};
pub use inputs::{DrugHistory, LabValue, WeightValue, trim_number};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eligibility {
    Eligible,
    Ineligible,
    Undetermined,
}

impl Eligibility {
    pub fn code(self) -> &'static str {
        match self {
            Eligibility::Eligible => "eligible",
            Eligibility::Ineligible => "ineligible",
            Eligibility::Undetermined => "undetermined",
        }
    }
}

/// An input the decision needs but the chart does not give (or gives unreadably:
/// `Assessment::unreadable` says which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingInput {
    Diagnosis,
    Age,
    Weight,
    BaselineLab,
}

impl MissingInput {
    pub fn label(self) -> &'static str {
        match self {
            MissingInput::Diagnosis => "diagnosis",
            MissingInput::Age => "birth date",
            MissingInput::Weight => "body weight",
            MissingInput::BaselineLab => "pretreatment IgE",
        }
    }
}

/// Notes the card adds, keyed into text.toml `[notes]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    UncheckedCell,
    IndicationAssumed,
    BaselineLabRetest,
    Unreadable,
    OtherPatient,
}

impl Note {
    pub fn key(self) -> &'static str {
        match self {
            Note::UncheckedCell => "unchecked-cell",
            Note::IndicationAssumed => "indication-assumed",
            Note::BaselineLabRetest => "ige-retest",
            Note::Unreadable => "unreadable",
            Note::OtherPatient => "other-patient",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SafetyAdvice {
    /// No history of the drug: the boxed-warning advice for a first dose.
    FirstDose,
    /// The order reads as self-administration: criteria, with supervised doses so far.
    SelfAdministration { supervised_doses: usize, needed: u32 },
    /// The product's minimum age is above the patient's.
    ProductAge { product: String, min_age_years: u32 },
}

/// A result shown as evidence: the chart's name for it, its value as reported, its date.
#[derive(Debug, Clone, PartialEq)]
pub struct SupportingResult {
    pub name: String,
    pub value: Option<LabValue>,
    pub unit: String,
    pub date: Option<NaiveDate>,
}

/// The outcome of the rules for one order.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub order: String,
    pub indication: Option<IndicationChoice>,
    pub eligibility: Eligibility,
    pub reasons: Vec<Reason>,
    /// Inputs the chart does not have.
    pub missing: Vec<MissingInput>,
    /// Inputs the chart has but the service could not read: never reported as missing.
    pub unreadable: Vec<MissingInput>,
    /// How inputs were read with less certainty, or could not be read.
    pub readings: Vec<Reading>,
    pub age_years: Option<u32>,
    pub weight: Option<WeightValue>,
    pub baseline_lab: Option<LabValue>,
    pub history: DrugHistory,
    pub dose: DoseFinding,
    pub ordered_dose: Option<f64>,
    pub ordered_interval: Option<Interval>,
    /// The order's dose as written when it could not be read as mg: shown, not compared.
    pub ordered_dose_as_written: Option<String>,
    /// Results of the indication's supporting observation set (allergen-specific IgE).
    pub supporting: Vec<SupportingResult>,
    pub dose_matches: Option<bool>,
    pub billing: BillingAssessment,
    pub gaps: Vec<DocumentationGap>,
    /// Observation sets to suggest ordering (missing lab, missing screening).
    pub labs_to_order: Vec<String>,
    pub notes: Vec<Note>,
    pub safety: Vec<SafetyAdvice>,
}

impl Assessment {
    /// The card's main finding, one stable word, for audit and acceptance reports:
    /// what a clinician accepted or overrode.
    pub fn kind(&self) -> &'static str {
        match (self.eligibility, self.dose_matches, self.gaps.is_empty()) {
            (Eligibility::Ineligible, _, _) => "ineligible",
            (Eligibility::Undetermined, _, _) => "undetermined",
            (Eligibility::Eligible, Some(false), _) => "dose-mismatch",
            (Eligibility::Eligible, _, false) => "documentation-gaps",
            (Eligibility::Eligible, Some(true), true) => "dose-matches",
            (Eligibility::Eligible, None, true) => "dose-unchecked",
        }
    }

    /// The recommended dose when the label gives exactly one.
    pub fn recommended_dose(&self) -> Option<Dose> {
        match &self.dose {
            DoseFinding::TableDose { dose, .. } => Some(*dose),
            _ => None,
        }
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
    let mut reasons = Vec::new();
    let mut missing = Vec::new();
    let mut unreadable = Vec::new();
    let mut readings = Vec::new();
    let mut gaps = Vec::new();
    let mut notes = Vec::new();
    let mut labs_to_order = Vec::new();

    let history = inputs::drug_history(profile, facts, order);

    // Indication
    let indication = indication::choose(profile, facts, order);
    match &indication {
        None => {
            if indication::names_unlabeled_condition(profile, facts, order) {
                reasons.push(Reason::IndicationNotLabeled);
            } else {
                missing.push(MissingInput::Diagnosis);
                gaps.push(DocumentationGap::DiagnosisMissing);
            }
        }
        Some(choice) => {
            if choice.specificity == Specificity::Nonspecific {
                gaps.push(DocumentationGap::DiagnosisNonspecific);
            }
            if matches!(choice.source, IndicationSource::Chart { .. }) {
                notes.push(Note::IndicationAssumed);
            }
        }
    }
    let indication_def = indication.as_ref().and_then(|c| profile.indication(&c.id));

    // Age
    let age_years = facts.birth_date.and_then(|b| inputs::age_on(b, order_date));
    if age_years.is_none() {
        missing.push(MissingInput::Age);
    }
    if let (Some(age), Some(ind)) = (age_years, indication_def)
        && ind.min_age_years.is_some_and(|min| age < min)
    {
        reasons.push(Reason::AgeBelowMinimum);
    }

    // Concurrent biologic
    if let Some(biologics) = profile.concurrent_therapy()
        && facts
            .medications
            .iter()
            .any(|m| m.active && inputs::is_therapy(catalog, biologics, m))
    {
        reasons.push(Reason::ConcurrentBiologic);
    }

    // Dose inputs and the table
    let table = indication_def.and_then(|ind| {
        // With no age, a single table for the indication still applies.
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
    });
    let needs_lab_and_weight = table.is_some_and(|t| !matches!(t.kind, crate::profile::TableKind::Fixed { .. }));
    let weight_reading = profile
        .dosing
        .weight
        .as_deref()
        .map(|set| inputs::latest_weight(catalog, profile, facts, set, order_date))
        .unwrap_or_default();
    let weight = weight_reading.value.clone();
    let lab = profile
        .dosing
        .baseline_lab
        .as_deref()
        .map(|set| inputs::baseline_lab(catalog, profile, facts, set, &history, order_date));
    if needs_lab_and_weight {
        if weight_reading.unreadable {
            readings.push(Reading::WeightUnreadable);
        }
        match &weight {
            None if weight_reading.unreadable => unreadable.push(MissingInput::Weight),
            None => {
                missing.push(MissingInput::Weight);
                gaps.push(DocumentationGap::WeightMissing);
            }
            Some(w) => {
                if let (Some(max_age), Some(date)) = (profile.policy.weight_max_age_days, w.date)
                    && (order_date - date).num_days() > max_age
                {
                    gaps.push(DocumentationGap::WeightStale);
                }
            }
        }
        if lab.as_ref().is_some_and(|l| l.pending_newer) {
            readings.push(Reading::IgePreliminaryNewer);
        }
        let pending = lab.as_ref().is_some_and(|l| l.pending_newer);
        match lab.as_ref().map(|l| &l.lab) {
            Some(inputs::BaselineLab::Found(v)) => {
                if v.bound.is_some() {
                    readings.push(Reading::IgeBound);
                }
            }
            Some(inputs::BaselineLab::OnlyDuringTreatment { retest }) => {
                missing.push(MissingInput::BaselineLab);
                gaps.push(DocumentationGap::IgeNotPretreatment);
                if *retest {
                    notes.push(Note::BaselineLabRetest);
                }
                labs_to_order.extend(profile.dosing.baseline_lab.clone());
            }
            Some(inputs::BaselineLab::Unreadable) => {
                unreadable.push(MissingInput::BaselineLab);
                readings.push(Reading::IgeUnreadable);
            }
            Some(inputs::BaselineLab::None) | None => {
                missing.push(MissingInput::BaselineLab);
                gaps.push(DocumentationGap::IgeMissing);
                // A test already drawn and awaiting its result is not ordered again.
                if !pending {
                    labs_to_order.extend(profile.dosing.baseline_lab.clone());
                }
            }
        }
    }
    let baseline_lab = match lab.map(|l| l.lab) {
        Some(inputs::BaselineLab::Found(v)) => Some(v),
        _ => None,
    };
    let dose_finding = match table {
        Some(t) => dose::look_up(t, baseline_lab.as_ref(), weight.as_ref().map(|w| w.kg)),
        None => DoseFinding::NoTable,
    };
    reasons.extend(dose_finding.reasons());
    if matches!(dose_finding, DoseFinding::Unverified { .. }) {
        notes.push(Note::UncheckedCell);
    }
    if matches!(dose_finding, DoseFinding::LabBoundInRange { .. }) {
        unreadable.push(MissingInput::BaselineLab);
    }

    // The order
    let ordered_dose = order.dose.mg();
    let ordered_dose_as_written = match &order.dose {
        OrderedDose::Unreadable { as_written } => Some(as_written.clone()),
        _ => None,
    };
    match &order.dose {
        OrderedDose::Missing => gaps.push(DocumentationGap::DoseMissing),
        OrderedDose::Unreadable { .. } => readings.push(Reading::DoseUnreadable),
        OrderedDose::Mg { read_from, .. } => match read_from {
            DoseReading::Quantity => {}
            DoseReading::Volume => readings.push(Reading::DoseFromVolume),
            DoseReading::Sig => readings.push(Reading::DoseFromSig),
        },
    }
    match order.interval {
        OrderedInterval::Missing => gaps.push(DocumentationGap::IntervalMissing),
        OrderedInterval::Unreadable => readings.push(Reading::IntervalUnreadable),
        OrderedInterval::Read { from_sig: true, .. } => readings.push(Reading::IntervalFromSig),
        OrderedInterval::Read { .. } => {}
    }
    let ordered_interval = order.interval.interval();
    let dose_matches = dose::matches(&dose_finding, indication_def, ordered_dose, ordered_interval);

    // Documentation the indication asks for
    if let Some(ind) = indication_def {
        for req in &ind.requirements {
            match inputs::requirement_status(catalog, profile, facts, req, &history, order_date) {
                inputs::RequirementStatus::Met => {}
                inputs::RequirementStatus::Unreadable => readings.push(Reading::AllergenTestUnreadable),
                inputs::RequirementStatus::NotMet => {
                    gaps.push(DocumentationGap::Requirement(req.gap.clone()));
                    if let crate::profile::RequirementCheck::Observation { set, .. } = &req.check
                        && profile.observation_set(set).order_code.is_some()
                    {
                        labs_to_order.push(set.clone());
                    }
                }
            }
        }
    }
    let supporting = indication_def
        .and_then(|ind| ind.supporting_observation.as_deref())
        .map(|set| {
            inputs::supporting_results(catalog, profile, facts, set, order_date)
                .into_iter()
                .map(|(o, value): (&ObservationFact, _)| SupportingResult {
                    name: o.text.clone(),
                    unit: profile.observation_set(set).quantity.clone().unwrap_or_default(),
                    value,
                    date: o.date,
                })
                .collect()
        })
        .unwrap_or_default();

    let billing = billing::assess(profile, order, ordered_dose, indication.as_ref());

    // Safety
    let mut safety = Vec::new();
    if history.records == 0 {
        safety.push(SafetyAdvice::FirstDose);
    }
    if let Some(sa) = &profile.safety.self_administration
        && sa.keywords.iter().any(|k| order.instructions.contains(k.as_str()))
    {
        safety.push(SafetyAdvice::SelfAdministration {
            supervised_doses: history.supervised_doses,
            needed: sa.min_supervised_doses,
        });
    }
    if let (Some(age), Some(product)) = (age_years, billing::ordered_product(profile, order))
        && let Some(min) = product.min_age_years
        && age < min
    {
        safety.push(SafetyAdvice::ProductAge {
            product: product.description.clone(),
            min_age_years: min,
        });
    }

    if facts.unreadable_entries > 0 {
        notes.push(Note::Unreadable);
    }
    if facts.other_patient_entries > 0 {
        notes.push(Note::OtherPatient);
    }

    reasons.sort();
    reasons.dedup();
    gaps.dedup();
    labs_to_order.dedup();
    readings.sort();
    readings.dedup();
    unreadable.dedup();
    let eligibility = if !reasons.is_empty() {
        Eligibility::Ineligible
    } else if !missing.is_empty() || !unreadable.is_empty() {
        Eligibility::Undetermined
    } else {
        Eligibility::Eligible
    };

    Assessment {
        order: order.reference.clone(),
        indication,
        eligibility,
        reasons,
        missing,
        unreadable,
        readings,
        age_years,
        weight,
        baseline_lab,
        history,
        dose: dose_finding,
        ordered_dose,
        ordered_interval,
        ordered_dose_as_written,
        supporting,
        dose_matches,
        billing,
        gaps,
        labs_to_order,
        notes,
        safety,
    }
}

#[cfg(test)]
mod tests;
