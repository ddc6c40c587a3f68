//! `<profile>/profile.toml`: identity, services and their prefetch, order recognition,
//! products and presentations, devices, dosing inputs, billing, safety and policy.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::Checker;
use super::code_lists::Lists;
use super::common::Common;
use super::indications::Loaded as Indications;
use crate::profile::codes::normalize_ndc_product;
use crate::profile::files::{BillingFile, DosingFile, ProfileFile, ServiceFile, SourceFile, TextFile};
use crate::profile::prefetch::PrefetchTemplate;
use crate::profile::{
    Billing, CardSource, DoseTable, Dosing, Indication, Policy, Presentation, PresentationDef, Product, Profile,
    Recognition, Safety, SelfAdministration, Service,
};

const HOOKS: [&str; 2] = ["order-sign", "order-select"];

/// What profile.toml yields, checked.
pub(super) struct Parts {
    services: Vec<Service>,
    recognition: Recognition,
    products: Vec<Product>,
    presentations: Vec<PresentationDef>,
    device_combinations: Vec<Vec<u32>>,
    pub dosing: Dosing,
    billing: Billing,
    safety: Safety,
}

pub(super) fn load(dir: &Path, pf: &ProfileFile, lists: &Lists, common: &Common, mut c: Checker<'_>) -> Parts {
    let sources = &pf.sources;
    check_identity(dir, pf, &mut c);
    let services = services(&pf.services, lists, common, &mut c);
    let recognition = recognition(pf, common, &mut c);
    let products = products(pf, &mut c);
    let presentations = presentations(pf, common, &mut c);
    let device_combinations = devices(pf, &products, &mut c);
    let dosing = pf
        .dosing
        .as_ref()
        .map_or_else(Dosing::default, |d| dosing(d, sources, lists, &mut c));
    let billing = billing(&pf.billing, sources, &mut c);
    let safety = safety(pf, &mut c);
    check_policy(pf, lists, &dosing, &mut c);
    Parts {
        services,
        recognition,
        products,
        presentations,
        device_combinations,
        dosing,
        billing,
        safety,
    }
}

fn check_identity(dir: &Path, pf: &ProfileFile, c: &mut Checker<'_>) {
    let folder = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if pf.profile.id != folder {
        c.error(
            "profile.id",
            format!("`{}` must equal the folder name `{folder}`", pf.profile.id),
        );
    }
    for (id, s) in &pf.sources {
        if !["V", "S", "U"].contains(&s.confidence.as_str()) {
            c.error(format!("sources.{id}.confidence"), "must be V, S or U");
        }
    }
    if let Some(url) = &pf.profile.card_source_url
        && url::Url::parse(url).is_err()
    {
        c.error("profile.card_source_url", "must be an absolute URL");
    }
}

/// Services; a service may share the prefetch of one listed before it (`prefetch_from`),
/// so each template is written once.
fn services(files: &[ServiceFile], lists: &Lists, common: &Common, c: &mut Checker<'_>) -> Vec<Service> {
    let mut services: Vec<Service> = Vec::new();
    for (i, s) in files.iter().enumerate() {
        let f = format!("services[{i}]");
        if !HOOKS.contains(&s.hook.as_str()) {
            c.error(format!("{f}.hook"), format!("`{}` is not one of {HOOKS:?}", s.hook));
        }
        if s.id.is_empty()
            || !s
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            c.error(
                format!("{f}.id"),
                "must be non-empty and URL-safe (letters, digits, - and _)",
            );
        }
        let mut prefetch = BTreeMap::new();
        for (key, template) in &s.prefetch {
            match PrefetchTemplate::parse(template, &lists.observations, &common.systems, &common.system_uris) {
                Ok(t) => {
                    prefetch.insert(key.clone(), t);
                }
                Err(e) => c.error(format!("{f}.prefetch.{key}"), e),
            }
        }
        if let Some(from) = &s.prefetch_from {
            match services.iter().find(|earlier| &earlier.id == from) {
                Some(earlier) => prefetch.extend(earlier.prefetch.clone()),
                None => c.error(
                    format!("{f}.prefetch_from"),
                    format!("no service `{from}` is listed before it"),
                ),
            }
        }
        services.push(Service {
            id: s.id.clone(),
            hook: s.hook.clone(),
            title: s.title.clone(),
            description: s.description.clone(),
            prefetch,
            usage_requirements: s.usage_requirements.clone(),
        });
    }
    services
}

fn recognition(pf: &ProfileFile, common: &Common, c: &mut Checker<'_>) -> Recognition {
    for src in &pf.recognition.sources {
        c.source("recognition.sources", src, &pf.sources);
    }
    let recognition = Recognition {
        names: pf.recognition.names.iter().map(|n| n.to_lowercase()).collect(),
        codes: c.codes("recognition.codes", &pf.recognition.codes, &common.systems),
    };
    if recognition.names.is_empty() {
        c.error("recognition.names", "at least one name is needed to recognise orders");
    }
    recognition
}

fn presentation(field: String, text: &str, c: &mut Checker<'_>) -> Option<Presentation> {
    match text {
        "vial" => Some(Presentation::Vial),
        "prefilled-device" => Some(Presentation::PrefilledDevice),
        other => {
            c.error(field, format!("`{other}`: use vial or prefilled-device"));
            None
        }
    }
}

fn products(pf: &ProfileFile, c: &mut Checker<'_>) -> Vec<Product> {
    let mut products = Vec::new();
    for (i, p) in pf.products.iter().enumerate() {
        let f = format!("products[{i}]");
        c.source(&format!("{f}.source"), &p.source, &pf.sources);
        let presentation = presentation(format!("{f}.presentation"), &p.presentation, c).unwrap_or(Presentation::Vial);
        let Some(ndc_product) = normalize_ndc_product(&p.ndc_product) else {
            c.error(
                format!("{f}.ndc_product"),
                "not an NDC labeler-product code like 50242-040",
            );
            continue;
        };
        products.push(Product {
            ndc_product,
            description: p.description.clone(),
            strength_mg: p.strength_mg,
            presentation,
            min_age_years: p.min_age_years,
        });
    }
    products
}

fn presentations(pf: &ProfileFile, common: &Common, c: &mut Checker<'_>) -> Vec<PresentationDef> {
    let mut out = Vec::new();
    for (i, p) in pf.presentations.iter().enumerate() {
        let f = format!("presentations[{i}]");
        c.source(&format!("{f}.source"), &p.source, &pf.sources);
        let Some(presentation) = presentation(format!("{f}.presentation"), &p.presentation, c) else {
            continue;
        };
        if p.mg_per_ml.is_some_and(|m| !m.is_finite() || m <= 0.0) {
            c.error(format!("{f}.mg_per_ml"), "must be a positive number");
        }
        out.push(PresentationDef {
            presentation,
            description: p.description.clone(),
            mg_per_ml: p.mg_per_ml,
            words: p.words.iter().map(|w| w.to_lowercase()).collect(),
            codes: c.codes(&format!("{f}.codes"), &p.codes, &common.systems),
        });
    }
    out
}

/// Device combinations: each device a syringe or autoinjector of a listed strength.
fn devices(pf: &ProfileFile, products: &[Product], c: &mut Checker<'_>) -> Vec<Vec<u32>> {
    let Some(d) = &pf.devices else { return Vec::new() };
    c.source("devices.source", &d.source, &pf.sources);
    let strengths: BTreeSet<u32> = products
        .iter()
        .filter(|p| p.presentation != Presentation::Vial)
        .map(|p| p.strength_mg)
        .collect();
    for (i, combo) in d.combinations.iter().enumerate() {
        if combo.is_empty() {
            c.error(format!("devices.combinations[{i}]"), "empty combination");
        }
        for s in combo.iter().filter(|s| !strengths.contains(s)) {
            c.error(
                format!("devices.combinations[{i}]"),
                format!("{s} mg is not the strength of any syringe or autoinjector in [[products]]"),
            );
        }
    }
    d.combinations.clone()
}

/// Device combinations must make approved doses (and nothing else).
pub(super) fn check_devices(parts: &Parts, indications: &[Indication], mut c: Checker<'_>) {
    let levels: BTreeSet<u32> = indications
        .iter()
        .flat_map(|i| i.approved_doses_mg.iter().copied())
        .collect();
    for combo in &parts.device_combinations {
        let sum: u32 = combo.iter().sum();
        if !levels.contains(&sum) {
            c.error(
                "devices.combinations",
                format!("{combo:?} makes {sum} mg, which no indication approves"),
            );
        }
    }
}

fn dosing(d: &DosingFile, sources: &BTreeMap<String, SourceFile>, lists: &Lists, c: &mut Checker<'_>) -> Dosing {
    c.source("dosing.source", &d.source, sources);
    for (field, set, kind) in [
        ("dosing.weight", &d.weight, "mass"),
        ("dosing.pretreatment_lab", &d.pretreatment_lab, ""),
    ] {
        let Some(set) = set else { continue };
        match lists.observations.get(set) {
            None => c.error(field, format!("observation set `{set}` is not in code-lists.toml")),
            Some(o) if o.quantity.is_none() => c.error(
                field,
                format!("observation set `{set}` needs a quantity to be read as a number"),
            ),
            Some(o) if !kind.is_empty() && o.quantity.as_deref() != Some(kind) => {
                c.error(field, format!("observation set `{set}` must have quantity `{kind}`"))
            }
            Some(_) => {}
        }
    }
    if d.pretreatment_lab.is_some() && d.pretreatment_lab_washout_days.is_none_or(|w| w <= 0) {
        c.error(
            "dosing.pretreatment_lab_washout_days",
            "needed (a positive number of days) with pretreatment_lab",
        );
    }
    Dosing {
        weight: d.weight.clone(),
        pretreatment_lab: d.pretreatment_lab.clone(),
        pretreatment_lab_washout_days: d.pretreatment_lab_washout_days,
    }
}

fn billing(b: &BillingFile, sources: &BTreeMap<String, SourceFile>, c: &mut Checker<'_>) -> Billing {
    c.source("billing.source", &b.source, sources);
    if b.mg_per_unit == 0 {
        c.error("billing.mg_per_unit", "must be positive");
    }
    if b.hcpcs.trim().is_empty() || b.administration_cpt.trim().is_empty() {
        c.error("billing", "hcpcs and administration_cpt are required");
    }
    if b.other_drug_codes.contains_key(&b.hcpcs) {
        c.error(
            "billing.other_drug_codes",
            format!("lists this drug's own code {}", b.hcpcs),
        );
    }
    Billing {
        hcpcs: b.hcpcs.to_ascii_uppercase(),
        hcpcs_description: b.hcpcs_description.clone(),
        mg_per_unit: b.mg_per_unit,
        administration_cpt: b.administration_cpt.clone(),
        administration_description: b.administration_description.clone(),
        modifier_nothing_discarded: b.modifier_nothing_discarded.clone(),
        modifier_discarded: b.modifier_discarded.clone(),
        prior_authorization: b.prior_authorization.clone(),
        other_drug_codes: b
            .other_drug_codes
            .iter()
            .map(|(k, v)| (k.to_ascii_uppercase(), v.clone()))
            .collect(),
    }
}

fn safety(pf: &ProfileFile, c: &mut Checker<'_>) -> Safety {
    c.source("safety.source", &pf.safety.source, &pf.sources);
    let self_administration = pf.safety.self_administration.as_ref().map(|s| {
        c.source("safety.self_administration.source", &s.source, &pf.sources);
        SelfAdministration {
            keywords: s.keywords.iter().map(|k| k.to_lowercase()).collect(),
            min_supervised_doses: s.min_supervised_doses,
            text: s.text.clone(),
        }
    });
    if pf.safety.long_treatment_days.is_some_and(|d| d <= 0) {
        c.error("safety.long_treatment_days", "must be positive");
    }
    Safety {
        first_dose: pf.safety.first_dose.clone(),
        long_treatment_days: pf.safety.long_treatment_days,
        self_administration,
    }
}

fn check_policy(pf: &ProfileFile, lists: &Lists, dosing: &Dosing, c: &mut Checker<'_>) {
    c.source("policy.source", &pf.policy.source, &pf.sources);
    if pf.policy.weight_max_age_days.is_some_and(|d| d <= 0) {
        c.error("policy.weight_max_age_days", "must be positive");
    }
    if let Some(t) = &pf.policy.concurrent_therapy
        && !lists.therapies.contains_key(t)
    {
        c.error(
            "policy.concurrent_therapy",
            format!("therapy `{t}` is not in code-lists.toml"),
        );
    }
    if dosing.weight.is_some() && pf.policy.weight_max_age_days.is_none() {
        c.error("policy.weight_max_age_days", "needed when dosing uses weight");
    }
}

/// The checked parts, as one Profile.
pub(super) fn assemble(
    pf: ProfileFile,
    text: TextFile,
    card: crate::card::CardTemplates,
    parts: Parts,
    lists: Lists,
    indications: Indications,
    tables: Vec<DoseTable>,
) -> Profile {
    let meta = pf.profile;
    Profile {
        id: meta.id,
        drug: meta.drug,
        display: meta.display,
        rules_version: meta.rules_version,
        card_source: CardSource {
            label: meta.card_source_label,
            url: meta.card_source_url,
            topic: meta.card_source_topic,
        },
        sources: pf.sources,
        services: parts.services,
        recognition: parts.recognition,
        products: parts.products,
        presentations: parts.presentations,
        device_combinations: parts.device_combinations,
        dosing: parts.dosing,
        indications: indications.indications,
        not_labeled: indications.not_labeled,
        tables,
        therapies: lists.therapies,
        observations: lists.observations,
        billing: parts.billing,
        safety: parts.safety,
        policy: Policy {
            weight_max_age_days: pf.policy.weight_max_age_days,
            concurrent_therapy: pf.policy.concurrent_therapy,
        },
        text,
        card,
    }
}
