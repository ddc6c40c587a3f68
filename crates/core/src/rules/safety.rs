//! The safety lines an order gets: the first-dose warning when no earlier dose is on
//! record, the long-treatment warning after more treatment than the profile says,
//! self-administration when the order's instructions say so, and a product's minimum age.

use chrono::NaiveDate;

use super::{SafetyAdvice, billing, inputs};
use crate::facts::OrderFacts;
use crate::profile::Profile;

pub(super) fn advice(
    profile: &Profile,
    order: &OrderFacts,
    history: &inputs::DrugHistory,
    age_years: Option<u32>,
    order_date: NaiveDate,
) -> Vec<SafetyAdvice> {
    let mut safety = Vec::new();
    if history.records == 0 {
        safety.push(SafetyAdvice::FirstDose);
    }
    if long_treatment(profile, history, order_date) {
        safety.push(SafetyAdvice::LongTreatment);
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
    safety
}

/// Treated for longer than the profile's `long_treatment_days` and still on treatment: the
/// records span more than that (up to the order's date: a series' planned end is not a dose
/// given), and the latest is no further back than that. A course that stopped long ago is
/// not "more than a year of treatment" now.
fn long_treatment(profile: &Profile, history: &inputs::DrugHistory, order_date: NaiveDate) -> bool {
    let (Some(days), Some(first), Some(last)) = (
        profile.safety.long_treatment_days,
        history.first_dose,
        history.last_dose,
    ) else {
        return false;
    };
    (last.min(order_date) - first).num_days() > days && (order_date - last).num_days() <= days
}
