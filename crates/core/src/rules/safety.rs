//! The safety lines an order gets: the first-dose warning when no earlier dose is on
//! record, the long-treatment warning when the first recorded dose is longer ago than
//! the profile says, self-administration when the order's instructions say so, and a
//! product's minimum age.

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
    if let (Some(days), Some(first)) = (profile.safety.long_treatment_days, history.first_dose)
        && (order_date - first).num_days() > days
    {
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
