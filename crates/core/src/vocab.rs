//! The assessment's vocabulary: the exact codes EHR analytics key on.
//!
//! These are contract strings (they appear in the card extension), not clinical
//! numbers; the card text for each lives in `cards/<profile>/text.toml`, and the
//! profile loader refuses a profile that lacks a text for any of them.

use std::fmt;

/// Why an order is not (or not certainly) within the label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    AgeBelowMinimum,
    IgeBelowRange,
    IgeAboveRange,
    WeightBelowRange,
    WeightAboveRange,
    NoDoseInTable,
    IndicationNotLabeled,
    ConcurrentBiologic,
}

impl Reason {
    pub const ALL: [Reason; 8] = [
        Reason::AgeBelowMinimum,
        Reason::IgeBelowRange,
        Reason::IgeAboveRange,
        Reason::WeightBelowRange,
        Reason::WeightAboveRange,
        Reason::NoDoseInTable,
        Reason::IndicationNotLabeled,
        Reason::ConcurrentBiologic,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Reason::AgeBelowMinimum => "age-below-minimum",
            Reason::IgeBelowRange => "ige-below-range",
            Reason::IgeAboveRange => "ige-above-range",
            Reason::WeightBelowRange => "weight-below-range",
            Reason::WeightAboveRange => "weight-above-range",
            Reason::NoDoseInTable => "no-dose-in-table",
            Reason::IndicationNotLabeled => "indication-not-labeled",
            Reason::ConcurrentBiologic => "concurrent-biologic",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What the chart lacks that a payer (or the dose table) will ask for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocumentationGap {
    WeightMissing,
    WeightStale,
    IgeMissing,
    IgeNotPretreatment,
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
        DocumentationGap::IgeMissing,
        DocumentationGap::IgeNotPretreatment,
        DocumentationGap::DiagnosisMissing,
        DocumentationGap::DiagnosisNonspecific,
        DocumentationGap::DoseMissing,
        DocumentationGap::IntervalMissing,
    ];

    pub fn code(&self) -> &str {
        match self {
            DocumentationGap::WeightMissing => "weight-missing",
            DocumentationGap::WeightStale => "weight-stale",
            DocumentationGap::IgeMissing => "ige-missing",
            DocumentationGap::IgeNotPretreatment => "ige-not-pretreatment",
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
    IgeBound,
    IgePreliminaryNewer,
    WeightUnreadable,
    IgeUnreadable,
    AllergenTestUnreadable,
}

impl Reading {
    pub const ALL: [Reading; 10] = [
        Reading::DoseFromSig,
        Reading::DoseFromVolume,
        Reading::DoseUnreadable,
        Reading::IntervalFromSig,
        Reading::IntervalUnreadable,
        Reading::IgeBound,
        Reading::IgePreliminaryNewer,
        Reading::WeightUnreadable,
        Reading::IgeUnreadable,
        Reading::AllergenTestUnreadable,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Reading::DoseFromSig => "dose-from-sig",
            Reading::DoseFromVolume => "dose-from-volume",
            Reading::DoseUnreadable => "dose-unreadable",
            Reading::IntervalFromSig => "interval-from-sig",
            Reading::IntervalUnreadable => "interval-unreadable",
            Reading::IgeBound => "ige-bound",
            Reading::IgePreliminaryNewer => "ige-preliminary-newer",
            Reading::WeightUnreadable => "weight-unreadable",
            Reading::IgeUnreadable => "ige-unreadable",
            Reading::AllergenTestUnreadable => "allergen-test-unreadable",
        }
    }
}

impl fmt::Display for Reading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
