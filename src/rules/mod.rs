//! Pure clinical rules: facts + profile -> Assessment. No I/O, no HTTP, no JSON.
//!
//! Every number used here comes from the profile (cards/); the only constants in
//! this module are the vocabulary codes of `crate::vocab`.

mod billing;
mod dose;
mod indication;
mod inputs;

use chrono::NaiveDate;

use crate::facts::{OrderFacts, OrderedDose, PatientFacts};
use crate::profile::{Catalog, Dose, Interval, Profile, Specificity};
use crate::vocab::{DocumentationGap, Reason};

pub use billing::{BillingAssessment, PresentationBasis};
pub use dose::{DoseFinding, TableCell};
pub use indication::{IndicationChoice, IndicationSource};
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

/// An input the decision needs but the chart does not give.
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
}

impl Note {
    pub fn key(self) -> &'static str {
        match self {
            Note::UncheckedCell => "unchecked-cell",
            Note::IndicationAssumed => "indication-assumed",
            Note::BaselineLabRetest => "ige-retest",
            Note::Unreadable => "unreadable",
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

/// The outcome of the rules for one order.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub order: String,
    pub indication: Option<IndicationChoice>,
    pub eligibility: Eligibility,
    pub reasons: Vec<Reason>,
    pub missing: Vec<MissingInput>,
    pub age_years: Option<u32>,
    pub weight: Option<WeightValue>,
    pub baseline_lab: Option<LabValue>,
    pub history: DrugHistory,
    pub dose: DoseFinding,
    pub ordered_dose: Option<f64>,
    pub ordered_interval: Option<Interval>,
    /// The order's dose when its unit is not a mass: shown, not compared.
    pub ordered_dose_other_unit: Option<(f64, String)>,
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
            .any(|m| m.active && biologics.matches(&m.codes, &m.text))
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
    let weight = profile
        .dosing
        .weight
        .as_deref()
        .and_then(|set| inputs::latest_weight(catalog, profile, facts, set, order_date));
    let lab = profile
        .dosing
        .baseline_lab
        .as_deref()
        .map(|set| inputs::baseline_lab(catalog, profile, facts, set, &history, order_date));
    if needs_lab_and_weight {
        match &weight {
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
        match &lab {
            Some(inputs::BaselineLab::Found(_)) => {}
            Some(inputs::BaselineLab::OnlyDuringTreatment { retest }) => {
                missing.push(MissingInput::BaselineLab);
                gaps.push(DocumentationGap::IgeNotPretreatment);
                if *retest {
                    notes.push(Note::BaselineLabRetest);
                }
                labs_to_order.extend(profile.dosing.baseline_lab.clone());
            }
            Some(inputs::BaselineLab::None) | None => {
                missing.push(MissingInput::BaselineLab);
                gaps.push(DocumentationGap::IgeMissing);
                labs_to_order.extend(profile.dosing.baseline_lab.clone());
            }
        }
    }
    let baseline_lab = match lab {
        Some(inputs::BaselineLab::Found(v)) => Some(v),
        _ => None,
    };
    let dose_finding = match table {
        Some(t) => dose::look_up(t, baseline_lab.as_ref().map(|l| l.value), weight.as_ref().map(|w| w.kg)),
        None => DoseFinding::NoTable,
    };
    reasons.extend(dose_finding.reasons());
    if matches!(dose_finding, DoseFinding::Unverified { .. }) {
        notes.push(Note::UncheckedCell);
    }

    // The order
    let ordered_dose = order.dose.mg();
    let ordered_dose_other_unit = match &order.dose {
        OrderedDose::NotMass { value, unit } => Some((*value, unit.clone())),
        _ => None,
    };
    if ordered_dose.is_none() {
        gaps.push(DocumentationGap::DoseMissing);
    }
    if order.interval.is_none() {
        gaps.push(DocumentationGap::IntervalMissing);
    }
    let dose_matches = dose::matches(&dose_finding, indication_def, ordered_dose, order.interval);

    // Documentation the indication asks for
    if let Some(ind) = indication_def {
        for req in &ind.requirements {
            if !inputs::requirement_met(profile, facts, req, &history, order_date) {
                gaps.push(DocumentationGap::Requirement(req.gap.clone()));
                if let crate::profile::RequirementCheck::Observation { set, .. } = &req.check
                    && profile.observation_set(set).order_code.is_some()
                {
                    labs_to_order.push(set.clone());
                }
            }
        }
    }

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

    reasons.sort();
    reasons.dedup();
    gaps.dedup();
    labs_to_order.dedup();
    let eligibility = if !reasons.is_empty() {
        Eligibility::Ineligible
    } else if !missing.is_empty() {
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
        age_years,
        weight,
        baseline_lab,
        history,
        dose: dose_finding,
        ordered_dose,
        ordered_interval: order.interval,
        ordered_dose_other_unit,
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
