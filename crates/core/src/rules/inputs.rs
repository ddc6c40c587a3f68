//! The decision's inputs, derived from facts: age, drug history, weight, pretreatment
//! lab. Only results are used (final, amended, corrected); a value that cannot be read is
//! said to be unreadable, never taken as absent. Documentation checks are in
//! `documentation.rs`.

use chrono::{Datelike, NaiveDate};

use crate::facts::{
    Comparator, MedicationRecordKind, ObservationFact, ObservedValue, OrderFacts, PatientFacts, ResultStatus,
};
use crate::profile::{Catalog, ObservationSet, Profile};

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

/// The patient's history of the profile's drug (not counting the order being signed,
/// except for the therapy start a renewed order carries).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DrugHistory {
    pub records: usize,
    pub first_dose: Option<NaiveDate>,
    pub last_dose: Option<NaiveDate>,
    /// Completed administrations recorded by a provider.
    pub supervised_doses: usize,
    /// The latest record reaches past the order's date (an active series' planned end):
    /// treatment is ongoing, and `last_dose` is not a dose given.
    pub ongoing: bool,
}

pub fn drug_history(profile: &Profile, facts: &PatientFacts, order: &OrderFacts) -> DrugHistory {
    let mut h = DrugHistory::default();
    let dated = |h: &mut DrugHistory, first: Option<NaiveDate>, last: Option<NaiveDate>| {
        if let Some(d) = first {
            h.first_dose = Some(h.first_dose.map_or(d, |f| f.min(d)));
        }
        if let Some(d) = last.or(first) {
            h.last_dose = Some(h.last_dose.map_or(d, |l| l.max(d)));
        }
    };
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
        dated(&mut h, m.date, m.last_date);
    }
    // A renewed order dates its therapy from before it was written: that is history.
    if let Some(start) = order.therapy_start {
        h.records += 1;
        dated(&mut h, Some(start), order.authored_on);
    }
    h
}

#[derive(Debug, Clone, PartialEq)]
pub struct WeightValue {
    pub kg: f64,
    pub date: Option<NaiveDate>,
    /// As charted when its unit is not kg, e.g. (185, "[lb_av]"): shown beside the kg.
    pub charted: Option<(f64, String)>,
}

/// The body weight used, and whether a weight the service could not read was passed over.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WeightReading {
    pub value: Option<WeightValue>,
    /// A weight at least as recent as the one used (or the only ones) had a unit that
    /// is not a mass unit the service knows (UCUM `Mg` is a megagram).
    pub unreadable: bool,
}

pub(super) fn in_set<'a>(
    facts: &'a PatientFacts,
    set: &'a ObservationSet,
    order_date: NaiveDate,
) -> impl Iterator<Item = &'a ObservationFact> {
    facts
        .observations
        .iter()
        .filter(move |o| set.codes.matches_any(&o.codes))
        .filter(move |o| o.date.is_none_or(|d| d <= order_date))
}

/// The most recent body weight on or before the order date, converted to kg.
pub fn latest_weight(
    catalog: &Catalog,
    profile: &Profile,
    facts: &PatientFacts,
    set: &str,
    order_date: NaiveDate,
) -> WeightReading {
    let obs_set = profile.observation_set(set);
    let Some(kind) = obs_set.quantity.as_deref() else {
        return WeightReading::default();
    };
    let mut best: Option<WeightValue> = None;
    let mut newest_unreadable: Option<Option<NaiveDate>> = None;
    for o in in_set(facts, obs_set, order_date).filter(|o| o.status == ResultStatus::Result) {
        let kg = match &o.value {
            ObservedValue::Quantity(q) => catalog
                .units
                .to_canonical(kind, q.value, &q.unit)
                .and_then(|c| catalog.units.from_canonical(kind, c, "kg"))
                .map(|kg| (kg, q)),
            ObservedValue::Absent => continue,
            _ => None,
        };
        match kg {
            Some((kg, q)) => {
                // Latest first; an undated weight counts as oldest.
                if best.as_ref().is_none_or(|b| o.date > b.date) {
                    best = Some(WeightValue {
                        kg,
                        date: o.date,
                        charted: (q.unit != "kg").then(|| (q.value, q.unit.clone())),
                    });
                }
            }
            None => {
                if newest_unreadable.is_none_or(|d| o.date > d) {
                    newest_unreadable = Some(o.date);
                }
            }
        }
    }
    let unreadable = match (&best, newest_unreadable) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(b), Some(d)) => d >= b.date,
    };
    WeightReading {
        value: best,
        unreadable,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LabValue {
    /// In the quantity kind's canonical unit (IU/mL for IgE).
    pub value: f64,
    /// Set when the lab reported only a bound (">2000"): the true value lies beyond it.
    pub bound: Option<Comparator>,
    pub date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PretreatmentLab {
    Found(LabValue),
    /// Values exist, but all were drawn on treatment or inside the washout.
    OnlyDuringTreatment {
        retest: bool,
    },
    /// Results exist whose value or unit cannot be read.
    Unreadable,
    None,
}

/// The pretreatment lab and what else the chart holds about it.
#[derive(Debug, Clone, PartialEq)]
pub struct PretreatmentReading {
    pub lab: PretreatmentLab,
    /// A preliminary (not yet final) value newer than the one used, or with none used.
    pub pending_newer: bool,
    /// Whether a lab drawn now could set the dose: never treated, or off treatment for at
    /// least the washout. On treatment, or stopped more recently, a new draw is raised by
    /// the drug itself and the original pretreatment value is the one to find (reference
    /// §3: "Interruption < 1 year: use the original pretreatment IgE").
    pub new_draw_can_set_dose: bool,
}

/// A lab value in the set's canonical unit: a measurement, or a bound. None when its
/// unit is not one the set's quantity kind knows.
pub(super) fn lab_value(catalog: &Catalog, set: &ObservationSet, kind: &str, o: &ObservationFact) -> Option<LabValue> {
    let (q, bound) = match &o.value {
        ObservedValue::Quantity(q) => (q, None),
        ObservedValue::Bound { comparator, quantity } => (quantity, Some(*comparator)),
        _ => return None,
    };
    let unit = if q.unit.is_empty() {
        set.unit_when_absent.as_deref()?
    } else {
        q.unit.as_str()
    };
    Some(LabValue {
        value: catalog.units.to_canonical(kind, q.value, unit)?,
        bound,
        date: o.date,
    })
}

/// The pretreatment value of the dosing lab (total IgE).
///
/// Only results count: a preliminary value is reported, never used. No history of the
/// drug: the latest result. With history: the latest result drawn before the first dose;
/// unless treatment stopped at least `washout` days ago, when only a value drawn after
/// the washout counts (the label's "retest after a year").
pub fn pretreatment_lab(
    catalog: &Catalog,
    profile: &Profile,
    facts: &PatientFacts,
    set: &str,
    history: &DrugHistory,
    order_date: NaiveDate,
) -> PretreatmentReading {
    let obs_set = profile.observation_set(set);
    let washout = profile.dosing.pretreatment_lab_washout_days.unwrap_or(i64::MAX);
    let new_draw_can_set_dose = history.records == 0
        || history
            .last_dose
            .is_some_and(|last| (order_date - last).num_days() >= washout);
    let Some(kind) = obs_set.quantity.as_deref() else {
        return PretreatmentReading {
            lab: PretreatmentLab::None,
            pending_newer: false,
            new_draw_can_set_dose,
        };
    };
    let mut values: Vec<LabValue> = Vec::new();
    let mut unreadable = false;
    let mut newest_pending: Option<Option<NaiveDate>> = None;
    for o in in_set(facts, obs_set, order_date) {
        if o.value == ObservedValue::Absent {
            continue;
        }
        if o.status == ResultStatus::Pending {
            newest_pending = Some(newest_pending.map_or(o.date, |d| d.max(o.date)));
            continue;
        }
        match lab_value(catalog, obs_set, kind, o) {
            Some(v) => values.push(v),
            None => unreadable = true,
        }
    }
    let lab = choose_pretreatment(profile, values, unreadable, history, order_date);
    let pending_newer = match (&lab, newest_pending) {
        (_, None) => false,
        (PretreatmentLab::Found(v), Some(d)) => d > v.date,
        (_, Some(_)) => true,
    };
    PretreatmentReading {
        lab,
        pending_newer,
        new_draw_can_set_dose,
    }
}

fn choose_pretreatment(
    profile: &Profile,
    values: Vec<LabValue>,
    unreadable: bool,
    history: &DrugHistory,
    order_date: NaiveDate,
) -> PretreatmentLab {
    if values.is_empty() {
        return if unreadable {
            PretreatmentLab::Unreadable
        } else {
            PretreatmentLab::None
        };
    }
    let latest = |vs: Vec<LabValue>| vs.into_iter().max_by_key(|v| v.date);
    let (Some(first), Some(last)) = (history.first_dose, history.last_dose) else {
        if history.records > 0 {
            // Treated before, on dates we cannot see: no value can be shown to predate it.
            return PretreatmentLab::OnlyDuringTreatment { retest: false };
        }
        return latest(values).map_or(PretreatmentLab::None, PretreatmentLab::Found);
    };
    let washout = profile.dosing.pretreatment_lab_washout_days.unwrap_or(i64::MAX);
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
        Some(v) => PretreatmentLab::Found(v),
        None => PretreatmentLab::OnlyDuringTreatment { retest: interrupted },
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
