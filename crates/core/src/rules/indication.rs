//! Which labeled indication an order is for.
//!
//! The order's own reason (reasonCode, reasonReference) comes first. Without one, the
//! patient's active Conditions and AllergyIntolerances are used; with several candidates
//! the profile's precedence decides (lower first) and the card says the indication was
//! assumed. The chart's own words and code for the diagnosis are kept for the card: an
//! indication's label is never printed in place of what the chart says.

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

/// The diagnosis as the chart or order records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    /// The chart's words ("Severe persistent asthma", "Allergy to peanuts").
    pub text: String,
    /// The code that identified the indication.
    pub code: Code,
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
    /// What the chart says, shown on the card.
    pub diagnosis: Option<Diagnosis>,
}

/// One code with the words it came with.
#[derive(Debug, Clone, Copy)]
struct Evidence<'a> {
    code: &'a Code,
    text: &'a str,
}

/// Codes the order names as its reason: reasonCode, contained Conditions, and
/// chart Conditions that reasonReference points to.
fn order_reason_codes<'a>(facts: &'a PatientFacts, order: &'a OrderFacts) -> Vec<Evidence<'a>> {
    let mut codes: Vec<Evidence<'a>> = order
        .reason_codes
        .iter()
        .map(|code| Evidence {
            code,
            text: &order.reason_text,
        })
        .collect();
    for r in &order.reason_references {
        for c in facts
            .conditions
            .iter()
            .filter(|c| c.reference.as_deref() == Some(r.as_str()))
        {
            codes.extend(c.codes.iter().map(|code| Evidence { code, text: &c.text }));
        }
    }
    codes
}

fn chart_codes(facts: &PatientFacts) -> Vec<Evidence<'_>> {
    facts
        .conditions
        .iter()
        .filter(|c| c.active)
        .flat_map(|c| c.codes.iter().map(|code| Evidence { code, text: &c.text }))
        .collect()
}

/// Active food allergies (and other AllergyIntolerances an indication names) that
/// identify an indication: (indication id, evidence).
fn allergy_candidates<'a>(profile: &'a Profile, facts: &'a PatientFacts) -> Vec<(&'a str, Option<Diagnosis>)> {
    let mut out = Vec::new();
    for ind in &profile.indications {
        let Some(criteria) = &ind.allergy else { continue };
        if let Some(a) = facts
            .allergies
            .iter()
            .find(|a| a.active && criteria.matches(&a.codes, &a.categories, a.kind.as_deref()))
        {
            let diagnosis = a.codes.first().map(|code| Diagnosis {
                text: a.text.clone(),
                code: code.clone(),
            });
            out.push((ind.id.as_str(), diagnosis));
        }
    }
    out
}

pub fn choose(profile: &Profile, facts: &PatientFacts, order: &OrderFacts) -> Option<IndicationChoice> {
    let reason = order_reason_codes(facts, order);
    if let Some(choice) = best(profile, &reason, &[], IndicationSource::Order) {
        return Some(choice);
    }
    // An order that names a reason outside the label is not re-routed to the chart.
    if reason.iter().any(|c| profile.not_labeled.contains(c.code)) {
        return None;
    }
    let chart = chart_codes(facts);
    let allergies = allergy_candidates(profile, facts);
    let mut choice = best(
        profile,
        &chart,
        &allergies,
        IndicationSource::Chart { others: Vec::new() },
    )?;
    let others: Vec<String> = candidates(profile, &chart, &allergies)
        .into_iter()
        .filter(|c| c.id != choice.id)
        .map(|c| c.id)
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
        .any(|c| profile.not_labeled.contains(c.code))
}

struct Candidate {
    precedence: u32,
    id: String,
    specificity: Specificity,
    diagnosis: Option<Diagnosis>,
}

/// Indications matched by codes or allergies, best specificity each, in precedence order.
fn candidates(profile: &Profile, codes: &[Evidence<'_>], allergies: &[(&str, Option<Diagnosis>)]) -> Vec<Candidate> {
    let mut found: Vec<Candidate> = Vec::new();
    for ind in &profile.indications {
        let best = codes
            .iter()
            .filter_map(|e| ind.classify(e.code).map(|s| (s, e)))
            .min_by_key(|(s, e)| (*s, e.code.system != "icd10cm"));
        if let Some((specificity, e)) = best {
            found.push(Candidate {
                precedence: ind.precedence,
                id: ind.id.clone(),
                specificity,
                diagnosis: Some(Diagnosis {
                    text: e.text.to_string(),
                    code: e.code.clone(),
                }),
            });
        } else if let Some((_, diagnosis)) = allergies.iter().find(|(id, _)| *id == ind.id) {
            found.push(Candidate {
                precedence: ind.precedence,
                id: ind.id.clone(),
                specificity: Specificity::Specific,
                diagnosis: diagnosis.clone(),
            });
        }
    }
    found.sort_by(|a, b| (a.precedence, &a.id).cmp(&(b.precedence, &b.id)));
    found
}

fn best(
    profile: &Profile,
    codes: &[Evidence<'_>],
    allergies: &[(&str, Option<Diagnosis>)],
    source: IndicationSource,
) -> Option<IndicationChoice> {
    let chosen = candidates(profile, codes, allergies).into_iter().next()?;
    let ind = profile.indication(&chosen.id)?;
    // Claim code: a specific ICD-10-CM code if any, else a nonspecific one.
    let mut matching: Vec<&Code> = codes
        .iter()
        .map(|e| e.code)
        .filter(|c| c.system == "icd10cm" && ind.classify(c).is_some())
        .collect();
    matching.sort_by_key(|c| (ind.classify(c), c.code.clone()));
    Some(IndicationChoice {
        id: ind.id.clone(),
        display: ind.display.clone(),
        source,
        specificity: chosen.specificity,
        claim_code: matching.first().map(|c| (*c).clone()),
        diagnosis: chosen.diagnosis,
    })
}
