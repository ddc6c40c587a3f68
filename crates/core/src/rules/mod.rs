//! Pure clinical rules: facts + profile -> Assessment. No I/O, no HTTP, no JSON.
//!
//! Every number used here comes from the profile (cards/); the only constants in
//! this module are the vocabulary codes of `crate::vocab`.

mod assess;
mod billing;
mod documentation;
mod dose;
mod indication;
mod inputs;
mod safety;
mod severity;

use chrono::NaiveDate;

use crate::profile::{Dose, Interval};
use crate::vocab::{DocumentationGap, OutsideLabel, Reading};

pub use assess::assess;
pub use billing::{BillingAssessment, PresentationBasis};
pub use dose::{DoseFinding, TableCell};
pub use indication::{Diagnosis, IndicationChoice, IndicationSource};
pub use inputs::{DrugHistory, LabValue, WeightValue, trim_number};
pub use severity::{Finding, Severity, findings, main_finding, nothing_to_do, severity};

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
    PretreatmentLab,
}

impl MissingInput {
    pub const ALL: [MissingInput; 4] = [
        MissingInput::Diagnosis,
        MissingInput::Age,
        MissingInput::Weight,
        MissingInput::PretreatmentLab,
    ];

    /// Its key in text.toml `[inputs]`, where the card's word for it is.
    pub fn code(self) -> &'static str {
        match self {
            MissingInput::Diagnosis => "diagnosis",
            MissingInput::Age => "birth-date",
            MissingInput::Weight => "weight",
            MissingInput::PretreatmentLab => "pretreatment-lab",
        }
    }

    /// Only a profile dosed from a lab-and-weight table needs these inputs.
    pub fn needs_dose_table(self) -> bool {
        matches!(self, MissingInput::Weight | MissingInput::PretreatmentLab)
    }
}

/// Notes the card adds, keyed into text.toml `[notes]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    UnverifiedTable,
    IndicationAssumed,
    PretreatmentLabRetest,
    /// No pretreatment IgE on the chart, and a draw now (on treatment) would not set the
    /// dose: it is to be found in earlier records.
    PretreatmentLabFromRecords,
    Unreadable,
    OtherPatient,
}

impl Note {
    pub fn key(self) -> &'static str {
        match self {
            Note::UnverifiedTable => "unverified-table",
            Note::IndicationAssumed => "indication-assumed",
            Note::PretreatmentLabRetest => "ige-retest",
            Note::PretreatmentLabFromRecords => "ige-from-records",
            Note::Unreadable => "unreadable",
            Note::OtherPatient => "other-patient",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SafetyAdvice {
    /// No history of the drug: the boxed-warning advice for a first dose.
    FirstDose,
    /// Treated for longer than the profile's `long_treatment_days`, and still on treatment.
    LongTreatment,
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
    pub reasons: Vec<OutsideLabel>,
    /// Inputs the chart does not have.
    pub missing: Vec<MissingInput>,
    /// Inputs the chart has but the service could not read, or that were in a part of the
    /// chart it could not fetch: never reported as missing.
    pub unreadable: Vec<MissingInput>,
    /// How inputs were read with less certainty, or could not be read.
    pub readings: Vec<Reading>,
    pub age_years: Option<u32>,
    pub weight: Option<WeightValue>,
    pub pretreatment_lab: Option<LabValue>,
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
    /// The prefetch keys that could not be fetched, and why (from the facts).
    pub unfetched: Vec<crate::facts::Unfetched>,
    /// The order suggests acute use (`courseOfTherapyType` acute): the card then states
    /// the indication's limitation of use. Not in the extension.
    pub acute_use: bool,
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

#[cfg(test)]
mod tests;
