//! Whether the documentation a payer asks for is on the chart: a therapy of a class (by
//! code, name and route), or an observation (allergen tests count only when positive).

use chrono::NaiveDate;

use super::SupportingResult;
use super::inputs::{DrugHistory, LabValue, in_set, lab_value};
use crate::facts::{MedicationFact, MedicationForm, ObservationFact, ObservedValue, PatientFacts, ResultStatus};
use crate::profile::vocabulary::route_classes;
use crate::profile::{Catalog, Indication, ObservationSet, Profile, Requirement, RequirementCheck, Therapy};

/// Whether the chart satisfies one documentation requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequirementStatus {
    Met,
    NotMet,
    /// Readable results exist and every one is negative: tested, not untested.
    Negative,
    /// Results exist whose positivity cannot be read (an unknown unit, no interpretation).
    Unreadable,
}

/// The route classes of a medication line.
pub fn routes_of<'a>(catalog: &'a Catalog, form: &MedicationForm) -> Vec<&'a str> {
    route_classes(&catalog.routes, &form.codes, &form.text, &form.name)
}

/// Whether a medication line is of a therapy class, by code, name and route.
pub fn is_therapy(catalog: &Catalog, therapy: &Therapy, m: &MedicationFact) -> bool {
    therapy.matches(&m.codes, &m.text, &routes_of(catalog, &m.form))
}

/// Positive, negative, or unreadable: a specific IgE at or above the lab's cut-off
/// (its reference range's upper limit), else the set's `positive_at`; or an
/// interpretation the set lists as positive.
fn positivity(catalog: &Catalog, set: &ObservationSet, o: &ObservationFact) -> Option<bool> {
    let by_interpretation = o.interpretation.iter().any(|i| {
        set.positive_interpretations
            .iter()
            .any(|p| p.eq_ignore_ascii_case(i.trim()))
    });
    if by_interpretation {
        return Some(true);
    }
    let kind = set.quantity.as_deref()?;
    let value = lab_value(catalog, set, kind, o)?;
    let lab_cutoff = o
        .reference_high
        .as_ref()
        .and_then(|q| catalog.units.to_canonical(kind, q.value, &q.unit));
    let cutoff = lab_cutoff.or(set.positive_at)?;
    Some(match value.bound {
        None => value.value >= cutoff,
        // ">0.7" is positive at a 0.35 cut-off; "<0.35" or "<0.1" is negative.
        Some(c) if c.is_lower_bound() => value.value >= cutoff,
        Some(_) => false,
    })
}

pub fn requirement_status(
    catalog: &Catalog,
    profile: &Profile,
    facts: &PatientFacts,
    req: &Requirement,
    history: &DrugHistory,
    order_date: NaiveDate,
) -> RequirementStatus {
    match &req.check {
        RequirementCheck::Therapy(id) => {
            let therapy = profile.therapy(id);
            if facts.medications.iter().any(|m| is_therapy(catalog, therapy, m)) {
                RequirementStatus::Met
            } else {
                RequirementStatus::NotMet
            }
        }
        RequirementCheck::Observation { set, before_first_dose } => {
            let obs_set = profile.observation_set(set);
            // Before the first dose, when there was one; else on or before the order.
            let first_dose = history.first_dose.filter(|_| *before_first_dose);
            let mut unreadable = false;
            let mut negative = false;
            for o in facts
                .observations
                .iter()
                .filter(|o| o.status == ResultStatus::Result && obs_set.codes.matches_any(&o.codes))
                .filter(|o| match (o.date, first_dose) {
                    (Some(d), Some(first)) => d < first,
                    (Some(d), None) => d <= order_date,
                    // An undated result cannot be shown to predate the first dose.
                    (None, first) => first.is_none(),
                })
            {
                if !obs_set.needs_positive() {
                    return RequirementStatus::Met;
                }
                match positivity(catalog, obs_set, o) {
                    Some(true) => return RequirementStatus::Met,
                    Some(false) => negative = true,
                    None => unreadable |= o.value != ObservedValue::Absent || !o.interpretation.is_empty(),
                }
            }
            if unreadable {
                RequirementStatus::Unreadable
            } else if negative {
                RequirementStatus::Negative
            } else {
                RequirementStatus::NotMet
            }
        }
    }
}

/// The latest results of a set, for evidence on the card (allergen-specific IgE).
fn latest_results<'a>(
    catalog: &Catalog,
    profile: &'a Profile,
    facts: &'a PatientFacts,
    set: &str,
    order_date: NaiveDate,
) -> Vec<(&'a ObservationFact, Option<LabValue>)> {
    let obs_set = profile.observation_set(set);
    let mut out: Vec<(&ObservationFact, Option<LabValue>)> = in_set(facts, obs_set, order_date)
        .filter(|o| o.status == ResultStatus::Result && o.value != ObservedValue::Absent)
        .map(|o| {
            let v = obs_set
                .quantity
                .as_deref()
                .and_then(|k| lab_value(catalog, obs_set, k, o));
            (o, v)
        })
        .collect();
    out.sort_by_key(|(o, _)| std::cmp::Reverse(o.date));
    out
}

/// The indication's supporting results (allergen-specific IgE), newest first.
pub fn supporting_results(
    catalog: &Catalog,
    profile: &Profile,
    facts: &PatientFacts,
    ind: Option<&Indication>,
    order_date: NaiveDate,
) -> Vec<SupportingResult> {
    let Some(set) = ind.and_then(|i| i.supporting_observation.as_deref()) else {
        return Vec::new();
    };
    // Values are converted to the quantity's canonical unit (`lab_value`), so that is the
    // unit shown beside them.
    let unit = profile
        .observation_set(set)
        .quantity
        .as_deref()
        .and_then(|kind| catalog.units.canonical(kind))
        .unwrap_or_default()
        .to_string();
    latest_results(catalog, profile, facts, set, order_date)
        .into_iter()
        .map(|(o, value)| SupportingResult {
            name: o.text.clone(),
            unit: unit.clone(),
            value,
            date: o.date,
        })
        .collect()
}
