//! Claim coding: HCPCS units, administration CPT, JW/JZ, the claim's diagnosis.

use crate::facts::OrderFacts;
use crate::profile::{Code, Presentation, Product, Profile};

/// What the order says about the product it is given from.
enum Named<'a> {
    Product(&'a Product),
    /// Only the presentation, from the order's dose form or name (`SOLR`, `prefilled syringe`).
    Presentation(Presentation, &'a str),
    Nothing,
}

use super::IndicationChoice;

#[derive(Debug, Clone, PartialEq)]
pub struct BillingAssessment {
    pub hcpcs: String,
    /// Units of the drug code for the administered dose (None without a dose in mg).
    pub units: Option<u32>,
    pub administration_cpt: String,
    /// JZ (nothing discarded) or JW (discarded amount on its own line); None when it
    /// depends on a presentation the order does not name and no device makes the dose.
    pub modifier: Option<String>,
    pub discarded_units: Option<u32>,
    pub presentation: PresentationBasis,
    pub claim_diagnosis: Option<Code>,
    /// Drug codes on the order line that are not this drug: (code, what it is).
    pub wrong_drug_codes: Vec<(String, String)>,
}

/// What the JW/JZ decision rests on.
#[derive(Debug, Clone, PartialEq)]
pub enum PresentationBasis {
    /// The order's NDC names the product.
    Product(String),
    /// The order's dose form or medication name names the presentation.
    Form(String),
    /// No NDC: assumed single-dose prefilled devices (every labeled dose can be made
    /// from them with nothing discarded).
    AssumedPrefilled,
    Unknown,
}

pub fn ordered_product<'a>(profile: &'a Profile, order: &OrderFacts) -> Option<&'a Product> {
    order
        .codes
        .iter()
        .filter(|c| c.system == "ndc")
        .find_map(|c| profile.product(&c.code))
}

pub fn assess(
    profile: &Profile,
    order: &OrderFacts,
    ordered_mg: Option<f64>,
    indication: Option<&IndicationChoice>,
) -> BillingAssessment {
    let b = &profile.billing;
    let named = named_presentation(profile, order);
    let (modifier, discarded_units, presentation) = match ordered_mg {
        Some(mg) => waste(profile, &named, mg),
        None => (None, None, PresentationBasis::Unknown),
    };
    BillingAssessment {
        hcpcs: b.hcpcs.clone(),
        units: ordered_mg.map(|mg| (mg / f64::from(b.mg_per_unit)).ceil() as u32),
        administration_cpt: b.administration_cpt.clone(),
        modifier,
        discarded_units,
        presentation,
        claim_diagnosis: indication.and_then(|i| i.claim_code.clone()),
        wrong_drug_codes: wrong_drug_codes(profile, order),
    }
}

/// The product the order's NDC names, else the presentation its dose form or name names.
fn named_presentation<'a>(profile: &'a Profile, order: &OrderFacts) -> Named<'a> {
    match ordered_product(profile, order) {
        Some(p) => Named::Product(p),
        None => match profile.presentation_of(&order.codes, &[&order.form.text, &order.text]) {
            Some(def) => Named::Presentation(def.presentation, &def.description),
            None => Named::Nothing,
        },
    }
}

/// JW with the discarded units from a vial, JZ when single-dose devices make the dose.
fn waste(profile: &Profile, named: &Named<'_>, mg: f64) -> (Option<String>, Option<u32>, PresentationBasis) {
    let b = &profile.billing;
    // A vial of the product's strength; a vial named only by its form is the one vial
    // the profile lists.
    let vial_strength = match named {
        Named::Product(p) if p.presentation == Presentation::Vial => Some(p.strength_mg),
        Named::Presentation(Presentation::Vial, _) => profile
            .products
            .iter()
            .find(|p| p.presentation == Presentation::Vial)
            .map(|p| p.strength_mg),
        _ => None,
    };
    let basis = match named {
        Named::Product(p) => PresentationBasis::Product(p.description.clone()),
        Named::Presentation(_, d) => PresentationBasis::Form(d.to_string()),
        Named::Nothing => PresentationBasis::AssumedPrefilled,
    };
    let device_makes = profile
        .device_combinations
        .iter()
        .any(|combo| (f64::from(combo.iter().sum::<u32>()) - mg).abs() < 1e-6);
    match vial_strength {
        Some(strength) => {
            let strength = f64::from(strength);
            let discarded_mg = (mg / strength).ceil() * strength - mg;
            let discarded = (discarded_mg / f64::from(b.mg_per_unit)).round() as u32;
            let modifier = if discarded > 0 {
                &b.modifier_discarded
            } else {
                &b.modifier_nothing_discarded
            };
            (Some(modifier.clone()), Some(discarded), basis)
        }
        None if device_makes => (Some(b.modifier_nothing_discarded.clone()), Some(0), basis),
        None if !matches!(named, Named::Nothing) => (None, None, basis),
        None => (None, None, PresentationBasis::Unknown),
    }
}

/// Drug codes on the order line that are not this drug's, with what each is.
fn wrong_drug_codes(profile: &Profile, order: &OrderFacts) -> Vec<(String, String)> {
    let b = &profile.billing;
    order
        .codes
        .iter()
        .filter(|c| c.system == "hcpcs" && c.code != b.hcpcs)
        .map(|c| {
            let meaning = b
                .other_drug_codes
                .get(&c.code)
                .cloned()
                .unwrap_or_else(|| format!("not {}", profile.drug));
            (c.code.clone(), meaning)
        })
        .collect()
}
