//! Which findings an assessment holds, and how severe its card is. The severity of each
//! finding is data (`cards/<profile>/card.toml [severity]`); a card takes the worst of
//! its findings.

use std::fmt;

use super::{Assessment, DoseFinding, Eligibility};
use crate::profile::Profile;
use crate::vocab::{DocumentationGap, OutsideLabel, Reading};

/// A card's indicator, from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// What a card can be about. The first ten are main findings (one per card: its summary
/// and first line); the last ones come on top of a main finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Finding {
    NoDose,
    Ineligible,
    Undetermined,
    /// The order carries no dose or no interval.
    OrderIncomplete,
    OrderUnreadable,
    DoseMismatch,
    UnverifiedTable,
    Gaps,
    Ok,
    OkReadFromText,
    /// The order line carries another drug's billing code.
    WrongDrugCode,
}

impl Finding {
    pub const MAIN: [Finding; 10] = [
        Finding::NoDose,
        Finding::Ineligible,
        Finding::Undetermined,
        Finding::OrderIncomplete,
        Finding::OrderUnreadable,
        Finding::DoseMismatch,
        Finding::UnverifiedTable,
        Finding::Gaps,
        Finding::Ok,
        Finding::OkReadFromText,
    ];
    pub const ALL: [Finding; 11] = [
        Finding::NoDose,
        Finding::Ineligible,
        Finding::Undetermined,
        Finding::OrderIncomplete,
        Finding::OrderUnreadable,
        Finding::DoseMismatch,
        Finding::UnverifiedTable,
        Finding::Gaps,
        Finding::Ok,
        Finding::OkReadFromText,
        Finding::WrongDrugCode,
    ];

    /// Its key in card.toml.
    pub fn key(self) -> &'static str {
        match self {
            Finding::NoDose => "no_dose",
            Finding::Ineligible => "ineligible",
            Finding::Undetermined => "undetermined",
            Finding::OrderIncomplete => "order_incomplete",
            Finding::OrderUnreadable => "order_unreadable",
            Finding::DoseMismatch => "dose_mismatch",
            Finding::UnverifiedTable => "unverified_table",
            Finding::Gaps => "gaps",
            Finding::Ok => "ok",
            Finding::OkReadFromText => "ok_read_from_text",
            Finding::WrongDrugCode => "wrong_drug_code",
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The one thing the card is about, in order of what matters most.
pub fn main_finding(a: &Assessment) -> Finding {
    if a.dose.has_no_dose() && a.reasons.iter().all(|r| *r == OutsideLabel::NoDoseInTable) {
        Finding::NoDose
    } else if a.eligibility == Eligibility::Ineligible {
        Finding::Ineligible
    } else if a.eligibility == Eligibility::Undetermined {
        Finding::Undetermined
    } else if a.gaps.iter().any(DocumentationGap::is_in_the_order) {
        // An order without a dose or interval is to be completed, not signed.
        Finding::OrderIncomplete
    } else if a
        .readings
        .iter()
        .any(|r| matches!(r, Reading::DoseUnreadable | Reading::IntervalUnreadable))
    {
        // Never a routine card for an order whose dose or schedule could not be read.
        Finding::OrderUnreadable
    } else if a.dose_matches == Some(false) {
        Finding::DoseMismatch
    } else if matches!(a.dose, DoseFinding::UnverifiedTable { .. }) {
        Finding::UnverifiedTable
    } else if has_payer_gaps(a) {
        Finding::Gaps
    } else if a.readings.iter().any(|r| {
        matches!(
            r,
            Reading::DoseFromSig | Reading::DoseFromVolume | Reading::IntervalFromSig
        )
    }) {
        Finding::OkReadFromText
    } else {
        Finding::Ok
    }
}

/// Documentation a payer will ask for: the gaps that are not in the order itself.
fn has_payer_gaps(a: &Assessment) -> bool {
    a.gaps.iter().any(|g| !g.is_in_the_order())
}

/// Every finding of the assessment: the main one, then documentation gaps and wrong drug
/// codes when the main one is something else.
pub fn findings(a: &Assessment) -> Vec<Finding> {
    let mut out = vec![main_finding(a)];
    if has_payer_gaps(a) && out[0] != Finding::Gaps {
        out.push(Finding::Gaps);
    }
    if !a.billing.wrong_drug_codes.is_empty() {
        out.push(Finding::WrongDrugCode);
    }
    out
}

/// The card's indicator: the worst severity its findings have in the profile.
pub fn severity(profile: &Profile, a: &Assessment) -> Severity {
    findings(a)
        .into_iter()
        .map(|f| profile.card.severity(f))
        .max()
        .unwrap_or(Severity::Info)
}

/// An order that matches the label with a complete chart and nothing else to say: no gap,
/// nothing read with less certainty, no note, no safety advice, an info card.
pub fn nothing_to_do(profile: &Profile, a: &Assessment) -> bool {
    findings(a) == [Finding::Ok]
        && severity(profile, a) == Severity::Info
        && a.readings.is_empty()
        && a.notes.is_empty()
        && a.safety.is_empty()
        && !a.acute_use
}
