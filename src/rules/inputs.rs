//! The decision's inputs, derived from facts: age, weight, pretreatment lab, history.

use chrono::{Datelike, NaiveDate};

use crate::facts::{MedicationRecordKind, OrderFacts, PatientFacts};
use crate::profile::{Catalog, Profile, Requirement, RequirementCheck};

/// Whole years of age on a date.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> Option<u32> {
    if on < birth {
        return None;
    }
    let mut years = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

/// The patient's history of the profile's drug (not counting the order being signed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DrugHistory {
    pub records: usize,
    pub first_dose: Option<NaiveDate>,
    pub last_dose: Option<NaiveDate>,
    /// Completed administrations recorded by a provider.
    pub supervised_doses: usize,
}

pub fn drug_history(profile: &Profile, facts: &PatientFacts, order: &OrderFacts) -> DrugHistory {
    let mut h = DrugHistory::default();
    for m in &facts.medications {
        if m.reference.as_deref() == Some(order.reference.as_str()) {
            continue;
        }
        let is_drug = profile.recognition.codes.matches_any(&m.codes)
            || profile.recognition.names.iter().any(|n| m.text.contains(n.as_str()));
        if !is_drug {
            continue;
        }
        h.records += 1;
        if m.kind == MedicationRecordKind::Administration && m.administered {
            h.supervised_doses += 1;
        }
        if let Some(d) = m.date {
            h.first_dose = Some(h.first_dose.map_or(d, |f| f.min(d)));
        }
        if let Some(d) = m.last_date.or(m.date) {
            h.last_dose = Some(h.last_dose.map_or(d, |l| l.max(d)));
        }
    }
    h
}

#[derive(Debug, Clone, PartialEq)]
pub struct WeightValue {
    pub kg: f64,
    pub date: Option<NaiveDate>,
    /// As charted, e.g. "176 [lb_av]".
    pub as_charted: String,
}

/// The most recent body weight on or before the order date, converted to kg.
pub fn latest_weight(
    catalog: &Catalog,
    profile: &Profile,
    facts: &PatientFacts,
    set: &str,
    order_date: NaiveDate,
) -> Option<WeightValue> {
    let codes = &profile.observation_set(set).codes;
    let kind = profile.observation_set(set).quantity.as_deref()?;
    facts
        .observations
        .iter()
        .filter(|o| codes.matches_any(&o.codes))
        .filter(|o| o.date.is_none_or(|d| d <= order_date))
        .filter_map(|o| {
            let q = o.quantity.as_ref()?;
            let canonical = catalog.units.to_canonical(kind, q.value, &q.unit)?;
            let kg = catalog.units.from_canonical(kind, canonical, "kg")?;
            Some(WeightValue {
                kg,
                date: o.date,
                as_charted: format!("{} {}", trim_number(q.value), q.unit),
            })
        })
        // Latest first; an undated weight counts as oldest.
        .max_by_key(|w| w.date)
}

#[derive(Debug, Clone, PartialEq)]
pub struct LabValue {
    /// In the quantity kind's canonical unit (IU/mL for IgE).
    pub value: f64,
    pub date: Option<NaiveDate>,
    pub as_charted: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BaselineLab {
    Found(LabValue),
    /// Values exist, but all were drawn on treatment or inside the washout.
    OnlyDuringTreatment {
        retest: bool,
    },
    None,
}

/// The pretreatment value of the dosing lab (total IgE).
///
/// No history of the drug: the latest value. With history: the latest value drawn
/// before the first dose; unless treatment stopped at least `washout` days ago, when
/// only a value drawn after the washout counts (the label's "retest after a year").
pub fn baseline_lab(
    catalog: &Catalog,
    profile: &Profile,
    facts: &PatientFacts,
    set: &str,
    history: &DrugHistory,
    order_date: NaiveDate,
) -> BaselineLab {
    let obs_set = profile.observation_set(set);
    let Some(kind) = obs_set.quantity.as_deref() else {
        return BaselineLab::None;
    };
    let values: Vec<LabValue> = facts
        .observations
        .iter()
        .filter(|o| obs_set.codes.matches_any(&o.codes))
        .filter_map(|o| {
            let q = o.quantity.as_ref()?;
            Some(LabValue {
                value: catalog.units.to_canonical(kind, q.value, &q.unit)?,
                date: o.date,
                as_charted: format!("{} {}", trim_number(q.value), q.unit),
            })
        })
        .filter(|v| v.date.is_none_or(|d| d <= order_date))
        .collect();
    if values.is_empty() {
        return BaselineLab::None;
    }
    let latest = |vs: Vec<LabValue>| vs.into_iter().max_by_key(|v| v.date);
    let (Some(first), Some(last)) = (history.first_dose, history.last_dose) else {
        if history.records > 0 {
            // Treated before, on dates we cannot see: no value can be shown to predate it.
            return BaselineLab::OnlyDuringTreatment { retest: false };
        }
        return latest(values).map_or(BaselineLab::None, BaselineLab::Found);
    };
    let washout = profile.dosing.baseline_lab_washout_days.unwrap_or(i64::MAX);
    let interrupted = (order_date - last).num_days() >= washout;
    let usable: Vec<LabValue> = values
        .into_iter()
        .filter(|v| match v.date {
            None => false,
            Some(d) if interrupted => (d - last).num_days() >= washout,
            Some(d) => d < first,
        })
        .collect();
    match latest(usable) {
        Some(v) => BaselineLab::Found(v),
        None => BaselineLab::OnlyDuringTreatment { retest: interrupted },
    }
}

/// Whether the chart satisfies one documentation requirement.
pub fn requirement_met(
    profile: &Profile,
    facts: &PatientFacts,
    req: &Requirement,
    history: &DrugHistory,
    order_date: NaiveDate,
) -> bool {
    match &req.check {
        RequirementCheck::Therapy(id) => {
            let therapy = profile.therapy(id);
            facts.medications.iter().any(|m| therapy.matches(&m.codes, &m.text))
        }
        RequirementCheck::Observation { set, before_first_dose } => {
            let codes = &profile.observation_set(set).codes;
            // Before the first dose, when there was one; else on or before the order.
            let first_dose = history.first_dose.filter(|_| *before_first_dose);
            facts
                .observations
                .iter()
                .filter(|o| codes.matches_any(&o.codes))
                .any(|o| match (o.date, first_dose) {
                    (Some(d), Some(first)) => d < first,
                    (Some(d), None) => d <= order_date,
                    // An undated result cannot be shown to predate the first dose.
                    (None, first) => first.is_none(),
                })
        }
    }
}

/// 80.0 -> "80", 72.5 -> "72.5".
pub fn trim_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_counts_whole_years_to_the_birthday() {
        let b = NaiveDate::from_ymd_opt(2014, 6, 15).unwrap();
        assert_eq!(age_on(b, NaiveDate::from_ymd_opt(2026, 6, 14).unwrap()), Some(11));
        assert_eq!(age_on(b, NaiveDate::from_ymd_opt(2026, 6, 15).unwrap()), Some(12));
        assert_eq!(age_on(b, NaiveDate::from_ymd_opt(2014, 6, 14).unwrap()), None);
        // Born on 29 February: a year older on 1 March of a common year.
        let leap = NaiveDate::from_ymd_opt(2012, 2, 29).unwrap();
        assert_eq!(age_on(leap, NaiveDate::from_ymd_opt(2024, 2, 28).unwrap()), Some(11));
        assert_eq!(age_on(leap, NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()), Some(12));
    }

    #[test]
    fn numbers_print_without_float_noise() {
        assert_eq!(trim_number(80.0), "80");
        assert_eq!(trim_number(72.5), "72.5");
        assert_eq!(trim_number(79.99999999), "80");
    }
}
