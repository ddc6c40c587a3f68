//! The assessment's vocabulary: the exact codes EHR analytics key on.
//!
//! These are contract strings (they appear in the card extension), not clinical
//! numbers; the card text for each lives in `cards/<profile>/text.toml`, and the
//! profile loader refuses a profile that lacks a text for any of them.

use std::fmt;

/// Why an order is not (or not certainly) within the label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutsideLabel {
    AgeBelowMinimum,
    LabBelowRange,
    LabAboveRange,
    WeightBelowRange,
    WeightAboveRange,
    NoDoseInTable,
    IndicationNotLabeled,
    ConcurrentBiologic,
}

impl OutsideLabel {
    pub const ALL: [OutsideLabel; 8] = [
        OutsideLabel::AgeBelowMinimum,
        OutsideLabel::LabBelowRange,
        OutsideLabel::LabAboveRange,
        OutsideLabel::WeightBelowRange,
        OutsideLabel::WeightAboveRange,
        OutsideLabel::NoDoseInTable,
        OutsideLabel::IndicationNotLabeled,
        OutsideLabel::ConcurrentBiologic,
    ];

    /// Only a profile dosed from a lab-and-weight table can produce it: a profile without
    /// one (ocrelizumab) needs no text for it and borrows no IgE words.
    pub fn needs_dose_table(self) -> bool {
        matches!(
            self,
            OutsideLabel::LabBelowRange
                | OutsideLabel::LabAboveRange
                | OutsideLabel::WeightBelowRange
                | OutsideLabel::WeightAboveRange
                | OutsideLabel::NoDoseInTable
        )
    }

    pub fn code(self) -> &'static str {
        match self {
            OutsideLabel::AgeBelowMinimum => "age-below-minimum",
            OutsideLabel::LabBelowRange => "ige-below-range",
            OutsideLabel::LabAboveRange => "ige-above-range",
            OutsideLabel::WeightBelowRange => "weight-below-range",
            OutsideLabel::WeightAboveRange => "weight-above-range",
            OutsideLabel::NoDoseInTable => "no-dose-in-table",
            OutsideLabel::IndicationNotLabeled => "indication-not-labeled",
            OutsideLabel::ConcurrentBiologic => "concurrent-biologic",
        }
    }
}

impl fmt::Display for OutsideLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What the chart lacks that a payer (or the dose table) will ask for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocumentationGap {
    WeightMissing,
    WeightStale,
    PretreatmentLabMissing,
    LabNotPretreatment,
    DiagnosisMissing,
    DiagnosisNonspecific,
    DoseMissing,
    IntervalMissing,
    /// A gap named by a profile's documentation requirement, e.g.
    /// `aeroallergen-test-missing` or `hbv-screening-missing`.
    Requirement(String),
}

impl DocumentationGap {
    pub const BUILT_IN: [DocumentationGap; 8] = [
        DocumentationGap::WeightMissing,
        DocumentationGap::WeightStale,
        DocumentationGap::PretreatmentLabMissing,
        DocumentationGap::LabNotPretreatment,
        DocumentationGap::DiagnosisMissing,
        DocumentationGap::DiagnosisNonspecific,
        DocumentationGap::DoseMissing,
        DocumentationGap::IntervalMissing,
    ];

    /// The order itself lacks what it needs (a dose, an interval): an order to complete,
    /// not documentation a payer asks for.
    pub fn is_in_the_order(&self) -> bool {
        matches!(self, DocumentationGap::DoseMissing | DocumentationGap::IntervalMissing)
    }

    /// Only a profile dosed from a lab-and-weight table can produce it.
    pub fn needs_dose_table(&self) -> bool {
        matches!(
            self,
            DocumentationGap::WeightMissing
                | DocumentationGap::WeightStale
                | DocumentationGap::PretreatmentLabMissing
                | DocumentationGap::LabNotPretreatment
        )
    }

    pub fn code(&self) -> &str {
        match self {
            DocumentationGap::WeightMissing => "weight-missing",
            DocumentationGap::WeightStale => "weight-stale",
            DocumentationGap::PretreatmentLabMissing => "ige-missing",
            DocumentationGap::LabNotPretreatment => "ige-not-pretreatment",
            DocumentationGap::DiagnosisMissing => "diagnosis-missing",
            DocumentationGap::DiagnosisNonspecific => "diagnosis-nonspecific",
            DocumentationGap::DoseMissing => "dose-missing",
            DocumentationGap::IntervalMissing => "interval-missing",
            DocumentationGap::Requirement(code) => code,
        }
    }
}

impl fmt::Display for DocumentationGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// How an input was read with less certainty than a coded value, or could not be read
/// at all. The card says so in plain words; "could not read" is never a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reading {
    DoseFromSig,
    DoseFromVolume,
    DoseUnreadable,
    IntervalFromSig,
    IntervalUnreadable,
    LabBound,
    LabPreliminaryNewer,
    WeightUnreadable,
    LabUnreadable,
    AllergenTestUnreadable,
    /// Part of the chart could not be fetched from the FHIR server in time.
    NotFetched,
}

impl Reading {
    pub const ALL: [Reading; 11] = [
        Reading::DoseFromSig,
        Reading::DoseFromVolume,
        Reading::DoseUnreadable,
        Reading::IntervalFromSig,
        Reading::IntervalUnreadable,
        Reading::LabBound,
        Reading::LabPreliminaryNewer,
        Reading::WeightUnreadable,
        Reading::LabUnreadable,
        Reading::AllergenTestUnreadable,
        Reading::NotFetched,
    ];

    /// Only a profile dosed from a lab-and-weight table can produce it.
    pub fn needs_dose_table(self) -> bool {
        matches!(
            self,
            Reading::LabBound | Reading::LabPreliminaryNewer | Reading::WeightUnreadable | Reading::LabUnreadable
        )
    }

    pub fn code(self) -> &'static str {
        match self {
            Reading::DoseFromSig => "dose-from-sig",
            Reading::DoseFromVolume => "dose-from-volume",
            Reading::DoseUnreadable => "dose-unreadable",
            Reading::IntervalFromSig => "interval-from-sig",
            Reading::IntervalUnreadable => "interval-unreadable",
            Reading::LabBound => "ige-bound",
            Reading::LabPreliminaryNewer => "ige-preliminary-newer",
            Reading::WeightUnreadable => "weight-unreadable",
            Reading::LabUnreadable => "ige-unreadable",
            Reading::AllergenTestUnreadable => "allergen-test-unreadable",
            Reading::NotFetched => "not-fetched",
        }
    }
}

impl fmt::Display for Reading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
