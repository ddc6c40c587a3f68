//! Which labeled indication an order is for.
//!
//! The order's own reason (reasonCode, reasonReference) comes first. Without one, the
//! patient's active Conditions are used; with several candidates the profile's
//! precedence decides (lower first) and the card says the indication was assumed.

use crate::facts::{OrderFacts, PatientFacts};
use crate::profile::{Code, Profile, Specificity};

#[derive(Debug, Clone, PartialEq)]
pub enum IndicationSource {
    Order,
    /// From the chart; `others` are further labeled indications found there.
    Chart {
        others: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndicationChoice {
    pub id: String,
    pub display: String,
    pub source: IndicationSource,
    pub specificity: Specificity,
    /// The ICD-10-CM code for the claim (the most specific found); None when the
    /// indication is known only from other systems (e.g. SNOMED CT).
    pub claim_code: Option<Code>,
}

/// Codes the order names as its reason: reasonCode, contained Conditions, and
/// chart Conditions that reasonReference points to.
fn order_reason_codes<'a>(facts: &'a PatientFacts, order: &'a OrderFacts) -> Vec<&'a Code> {
    let mut codes: Vec<&Code> = order.reason_codes.iter().collect();
    for r in &order.reason_references {
        for c in facts
            .conditions
            .iter()
            .filter(|c| c.reference.as_deref() == Some(r.as_str()))
        {
            codes.extend(c.codes.iter());
        }
    }
    codes
}

fn chart_codes(facts: &PatientFacts) -> Vec<&Code> {
    facts
        .conditions
        .iter()
        .filter(|c| c.active)
        .flat_map(|c| c.codes.iter())
        .collect()
}

pub fn choose(profile: &Profile, facts: &PatientFacts, order: &OrderFacts) -> Option<IndicationChoice> {
    let reason = order_reason_codes(facts, order);
    if let Some(choice) = best(profile, &reason, IndicationSource::Order) {
        return Some(choice);
    }
    // An order that names a reason outside the label is not re-routed to the chart.
    if reason.iter().any(|c| profile.not_labeled.contains(c)) {
        return None;
    }
    let chart = chart_codes(facts);
    let mut choice = best(profile, &chart, IndicationSource::Chart { others: Vec::new() })?;
    let others: Vec<String> = candidates(profile, &chart)
        .into_iter()
        .filter(|(id, _)| *id != choice.id)
        .map(|(id, _)| id)
        .collect();
    choice.source = IndicationSource::Chart { others };
    Some(choice)
}

/// True when no labeled indication was found but the order or chart names a condition
/// the profile lists as outside the label.
pub fn names_unlabeled_condition(profile: &Profile, facts: &PatientFacts, order: &OrderFacts) -> bool {
    let reason = order_reason_codes(facts, order);
    let chart = chart_codes(facts);
    reason
        .iter()
        .chain(chart.iter())
        .any(|c| profile.not_labeled.contains(c))
}

/// Indications matched by codes, best specificity each, in precedence order.
fn candidates(profile: &Profile, codes: &[&Code]) -> Vec<(String, Specificity)> {
    let mut found: Vec<(u32, String, Specificity)> = Vec::new();
    for ind in &profile.indications {
        let best = codes.iter().filter_map(|c| ind.classify(c)).min();
        if let Some(spec) = best {
            found.push((ind.precedence, ind.id.clone(), spec));
        }
    }
    found.sort();
    found.into_iter().map(|(_, id, spec)| (id, spec)).collect()
}

fn best(profile: &Profile, codes: &[&Code], source: IndicationSource) -> Option<IndicationChoice> {
    let (id, specificity) = candidates(profile, codes).into_iter().next()?;
    let ind = profile.indication(&id)?;
    // Claim code: a specific ICD-10-CM code if any, else a nonspecific one.
    let mut matching: Vec<&Code> = codes
        .iter()
        .copied()
        .filter(|c| c.system == "icd10cm" && ind.classify(c).is_some())
        .collect();
    matching.sort_by_key(|c| (ind.classify(c), c.code.clone()));
    Some(IndicationChoice {
        id: ind.id.clone(),
        display: ind.display.clone(),
        source,
        specificity,
        claim_code: matching.first().map(|c| (*c).clone()),
    })
}
