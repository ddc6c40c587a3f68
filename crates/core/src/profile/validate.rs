//! Load `cards/` and check it: every reference resolves, every number has a source,
//! tables are contiguous and hold only approved doses. Errors name file and field.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::codes::{CodeSet, CodeSystems, normalize_ndc_product};
use super::dose::{Bands, Cell, Dose, Interval, parse_cell, parse_dose};
use super::files::*;
use super::units::UnitTable;
use super::*;
use crate::vocab::{DocumentationGap, Reading, Reason};

/// One problem in one file, at one field.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileError {
    pub file: PathBuf,
    pub field: String,
    pub message: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.field, self.message)
        }
    }
}

/// Collects errors for one file so that one start-up reports all of them.
struct Checker<'a> {
    file: PathBuf,
    errors: &'a mut Vec<ProfileError>,
}

impl Checker<'_> {
    fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ProfileError {
            file: self.file.clone(),
            field: field.into(),
            message: message.into(),
        });
    }

    fn source(&mut self, field: &str, id: &str, sources: &BTreeMap<String, SourceFile>) {
        match sources.get(id) {
            None => self.error(field, format!("source `{id}` is not defined in profile.toml [sources]")),
            Some(s) if s.confidence == "U" => self.error(
                field,
                format!("source `{id}` is marked U (unverified): its values may not be used as fact"),
            ),
            Some(_) => {}
        }
    }

    fn codes(&mut self, field: &str, lists: &CodeLists, systems: &CodeSystems) -> CodeSet {
        for (system, codes) in lists {
            if !systems.is_known(system) {
                self.error(
                    format!("{field}.{system}"),
                    "unknown code system (see cards/common/code-systems.toml)",
                );
            }
            if codes.iter().any(|c| c.trim().is_empty()) {
                self.error(format!("{field}.{system}"), "empty code");
            }
        }
        CodeSet::from_lists(lists)
    }
}

fn read<T: DeserializeOwned>(path: &Path, errors: &mut Vec<ProfileError>) -> Option<T> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            errors.push(ProfileError {
                file: path.to_path_buf(),
                field: String::new(),
                message: format!("cannot read: {e}"),
            });
            return None;
        }
    };
    match toml::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(ProfileError {
                file: path.to_path_buf(),
                field: String::new(),
                message: e.to_string().trim().replace('\n', " "),
            });
            None
        }
    }
}

/// Load `dir/common` and every `dir/<profile>/profile.toml`.
pub fn load_catalog(dir: &Path) -> Result<Catalog, Vec<ProfileError>> {
    let mut errors = Vec::new();
    let systems_path = dir.join("common/code-systems.toml");
    let units_path = dir.join("common/units.toml");
    let orders_path = dir.join("common/orders.toml");
    let routes_path = dir.join("common/routes.toml");
    let systems_file: Option<CodeSystemsFile> = read(&systems_path, &mut errors);
    let units_file: Option<UnitsFile> = read(&units_path, &mut errors);
    let orders_file: Option<vocabulary::OrdersFile> = read(&orders_path, &mut errors);
    let routes_file: Option<vocabulary::RoutesFile> = read(&routes_path, &mut errors);
    let (Some(systems_file), Some(units_file), Some(orders_file), Some(routes_file)) =
        (systems_file, units_file, orders_file, routes_file)
    else {
        return Err(errors);
    };
    let systems = CodeSystems::new(&systems_file.systems);
    let units = UnitTable::new(&units_file.quantity);
    let orders = OrderVocabulary::new(&orders_file);
    for unit in orders_file.sig.period_units.keys() {
        if Interval::from_period(28.0, unit).is_none() {
            errors.push(ProfileError {
                file: orders_path.clone(),
                field: format!("sig.period_units.{unit}"),
                message: "use a UCUM period unit the intervals are read in: wk, d or mo".into(),
            });
        }
    }
    let mut routes = Vec::new();
    {
        let mut c = Checker {
            file: routes_path.clone(),
            errors: &mut errors,
        };
        for (id, r) in &routes_file.routes {
            let codes = c.codes(&format!("routes.{id}.codes"), &r.codes, &systems);
            if codes.is_empty() && r.words.is_empty() && r.name_abbreviations.is_empty() {
                c.error(format!("routes.{id}"), "needs codes, words or name_abbreviations");
            }
            routes.push(RouteClass {
                id: id.clone(),
                display: r.display.clone(),
                codes,
                words: r.words.iter().map(|w| w.to_lowercase()).collect(),
                name_abbreviations: r.name_abbreviations.clone(),
            });
        }
    }
    let route_ids: BTreeSet<String> = routes.iter().map(|r| r.id.clone()).collect();
    for (id, kind) in &units_file.quantity {
        if !kind.units.contains_key(&kind.canonical) {
            errors.push(ProfileError {
                file: units_path.clone(),
                field: format!("quantity.{id}.canonical"),
                message: format!("`{}` is not among the kind's units", kind.canonical),
            });
        }
        if kind.units.values().any(|f| !f.is_finite() || *f <= 0.0) {
            errors.push(ProfileError {
                file: units_path.clone(),
                field: format!("quantity.{id}.units"),
                message: "every factor must be a positive number".into(),
            });
        }
    }

    let mut profile_dirs: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("profile.toml").is_file())
            .collect(),
        Err(e) => {
            errors.push(ProfileError {
                file: dir.to_path_buf(),
                field: String::new(),
                message: format!("cannot list: {e}"),
            });
            Vec::new()
        }
    };
    profile_dirs.sort();
    if profile_dirs.is_empty() && errors.is_empty() {
        errors.push(ProfileError {
            file: dir.to_path_buf(),
            field: String::new(),
            message: "no profile folder (with a profile.toml) found".into(),
        });
    }

    let mut profiles = Vec::new();
    for pdir in profile_dirs {
        if let Some(p) = load_profile(&pdir, &systems, &systems_file.systems, &units, &route_ids, &mut errors) {
            profiles.push(p);
        }
    }
    let mut seen_services = BTreeSet::new();
    for p in &profiles {
        for s in &p.services {
            if !seen_services.insert(s.id.clone()) {
                errors.push(ProfileError {
                    file: dir.join(&p.id).join("profile.toml"),
                    field: "services.id".into(),
                    message: format!("service id `{}` is used by another profile", s.id),
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(Catalog {
            dir: dir.to_path_buf(),
            systems,
            system_uris: systems_file.systems,
            units,
            orders,
            routes,
            profiles,
        })
    } else {
        Err(errors)
    }
}

const HOOKS: [&str; 2] = ["order-sign", "order-select"];
/// Prefetch tokens of order-sign and order-select (draftOrders and selections are not tokens).
const PREFETCH_TOKENS: [&str; 7] = [
    "context.userId",
    "context.patientId",
    "context.encounterId",
    "userPractitionerId",
    "userPractitionerRoleId",
    "userPatientId",
    "userRelatedPersonId",
];

fn load_profile(
    dir: &Path,
    systems: &CodeSystems,
    system_uris: &BTreeMap<String, Vec<String>>,
    units: &UnitTable,
    route_ids: &BTreeSet<String>,
    errors: &mut Vec<ProfileError>,
) -> Option<Profile> {
    let before = errors.len();
    let pf: Option<ProfileFile> = read(&dir.join("profile.toml"), errors);
    let ind: Option<IndicationsFile> = read(&dir.join("indications.toml"), errors);
    let tables: Option<DoseTablesFile> = read(&dir.join("dose-tables.toml"), errors);
    let lists: Option<CodeListsFile> = read(&dir.join("code-lists.toml"), errors);
    let text: Option<TextFile> = read(&dir.join("text.toml"), errors);
    let (Some(pf), Some(ind), Some(tables), Some(lists), Some(text)) = (pf, ind, tables, lists, text) else {
        return None;
    };
    let sources = pf.sources.clone();

    // code-lists.toml first: the other files refer to its sets.
    let mut c = Checker {
        file: dir.join("code-lists.toml"),
        errors,
    };
    let mut therapies = BTreeMap::new();
    for (id, t) in &lists.therapies {
        let f = format!("therapies.{id}");
        c.source(&format!("{f}.source"), &t.source, &sources);
        let codes = c.codes(&format!("{f}.codes"), &t.codes, systems);
        if codes.is_empty() && t.names.is_empty() {
            c.error(&f, "needs codes or names");
        }
        for r in t.routes.iter().chain(&t.not_routes) {
            if !route_ids.contains(r) {
                c.error(&f, format!("route `{r}` is not in cards/common/routes.toml"));
            }
        }
        therapies.insert(
            id.clone(),
            Therapy {
                display: t.display.clone(),
                codes,
                names: t.names.iter().map(|n| n.to_lowercase()).collect(),
                names_with_any: t.names_with_any.iter().map(|n| n.to_lowercase()).collect(),
                names_without_any: t.names_without_any.iter().map(|n| n.to_lowercase()).collect(),
                routes: t.routes.clone(),
                not_routes: t.not_routes.clone(),
            },
        );
    }
    let mut observations = BTreeMap::new();
    for (id, o) in &lists.observations {
        let f = format!("observations.{id}");
        c.source(&format!("{f}.source"), &o.source, &sources);
        let codes = c.codes(&format!("{f}.codes"), &o.codes, systems);
        if codes.is_empty() {
            c.error(format!("{f}.codes"), "needs at least one code");
        }
        if let Some(q) = &o.quantity
            && !units.has_kind(q)
        {
            c.error(
                format!("{f}.quantity"),
                format!("`{q}` is not a quantity in cards/common/units.toml"),
            );
        }
        if o.positive_at.is_some() && o.quantity.is_none() {
            c.error(format!("{f}.positive_at"), "a cut-off needs the set's quantity kind");
        }
        if let (Some(u), Some(q)) = (&o.unit_when_absent, &o.quantity)
            && units.to_canonical(q, 1.0, u).is_none()
        {
            c.error(format!("{f}.unit_when_absent"), format!("`{u}` is not a unit of `{q}`"));
        }
        observations.insert(
            id.clone(),
            ObservationSet {
                id: id.clone(),
                display: o.display.clone(),
                codes,
                quantity: o.quantity.clone(),
                order_code: o.order_code.clone(),
                positive_at: o.positive_at,
                positive_interpretations: o.positive_interpretations.clone(),
                unit_when_absent: o.unit_when_absent.clone(),
            },
        );
    }

    // profile.toml
    let mut c = Checker {
        file: dir.join("profile.toml"),
        errors: c.errors,
    };
    let folder = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if pf.profile.id != folder {
        c.error(
            "profile.id",
            format!("`{}` must equal the folder name `{folder}`", pf.profile.id),
        );
    }
    for (id, s) in &sources {
        if !["V", "S", "U"].contains(&s.confidence.as_str()) {
            c.error(format!("sources.{id}.confidence"), "must be V, S or U");
        }
    }
    let mut services = Vec::new();
    for (i, s) in pf.services.iter().enumerate() {
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
            match expand_prefetch(template, &observations, systems, system_uris) {
                Ok(t) => {
                    prefetch.insert(key.clone(), t);
                }
                Err(e) => c.error(format!("{f}.prefetch.{key}"), e),
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
    for src in &pf.recognition.sources {
        c.source("recognition.sources", src, &sources);
    }
    let recognition = Recognition {
        names: pf.recognition.names.iter().map(|n| n.to_lowercase()).collect(),
        codes: c.codes("recognition.codes", &pf.recognition.codes, systems),
    };
    if recognition.names.is_empty() {
        c.error("recognition.names", "at least one name is needed to recognise orders");
    }
    let mut products = Vec::new();
    for (i, p) in pf.products.iter().enumerate() {
        let f = format!("products[{i}]");
        c.source(&format!("{f}.source"), &p.source, &sources);
        let presentation = match p.presentation.as_str() {
            "vial" => Presentation::Vial,
            "prefilled-device" => Presentation::PrefilledDevice,
            other => {
                c.error(
                    format!("{f}.presentation"),
                    format!("`{other}`: use vial or prefilled-device"),
                );
                Presentation::Vial
            }
        };
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
    let mut presentations = Vec::new();
    for (i, p) in pf.presentations.iter().enumerate() {
        let f = format!("presentations[{i}]");
        c.source(&format!("{f}.source"), &p.source, &sources);
        let presentation = match p.presentation.as_str() {
            "vial" => Presentation::Vial,
            "prefilled-device" => Presentation::PrefilledDevice,
            other => {
                c.error(
                    format!("{f}.presentation"),
                    format!("`{other}`: use vial or prefilled-device"),
                );
                continue;
            }
        };
        if p.mg_per_ml.is_some_and(|m| !m.is_finite() || m <= 0.0) {
            c.error(format!("{f}.mg_per_ml"), "must be a positive number");
        }
        presentations.push(PresentationDef {
            presentation,
            description: p.description.clone(),
            mg_per_ml: p.mg_per_ml,
            words: p.words.iter().map(|w| w.to_lowercase()).collect(),
            codes: c.codes(&format!("{f}.codes"), &p.codes, systems),
        });
    }
    let device_combinations = match &pf.devices {
        Some(d) => {
            c.source("devices.source", &d.source, &sources);
            let device_strengths: BTreeSet<u32> = products
                .iter()
                .filter(|p| p.presentation != Presentation::Vial)
                .map(|p| p.strength_mg)
                .collect();
            for (i, combo) in d.combinations.iter().enumerate() {
                if combo.is_empty() {
                    c.error(format!("devices.combinations[{i}]"), "empty combination");
                }
                for s in combo {
                    if !device_strengths.contains(s) {
                        c.error(
                            format!("devices.combinations[{i}]"),
                            format!("{s} mg is not the strength of any syringe or autoinjector in [[products]]"),
                        );
                    }
                }
            }
            d.combinations.clone()
        }
        None => Vec::new(),
    };
    let dosing = match &pf.dosing {
        Some(d) => {
            c.source("dosing.source", &d.source, &sources);
            for (field, set, kind) in [
                ("dosing.weight", &d.weight, "mass"),
                ("dosing.baseline_lab", &d.baseline_lab, ""),
            ] {
                if let Some(set) = set {
                    match observations.get(set) {
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
            }
            if d.baseline_lab.is_some() && d.baseline_lab_washout_days.is_none_or(|w| w <= 0) {
                c.error(
                    "dosing.baseline_lab_washout_days",
                    "needed (a positive number of days) with baseline_lab",
                );
            }
            Dosing {
                weight: d.weight.clone(),
                baseline_lab: d.baseline_lab.clone(),
                baseline_lab_washout_days: d.baseline_lab_washout_days,
            }
        }
        None => Dosing::default(),
    };
    let b = &pf.billing;
    c.source("billing.source", &b.source, &sources);
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
    let billing = Billing {
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
    };
    c.source("safety.source", &pf.safety.source, &sources);
    let self_administration = pf.safety.self_administration.as_ref().map(|s| {
        c.source("safety.self_administration.source", &s.source, &sources);
        SelfAdministration {
            keywords: s.keywords.iter().map(|k| k.to_lowercase()).collect(),
            min_supervised_doses: s.min_supervised_doses,
            text: s.text.clone(),
        }
    });
    c.source("policy.source", &pf.policy.source, &sources);
    if pf.policy.weight_max_age_days.is_some_and(|d| d <= 0) {
        c.error("policy.weight_max_age_days", "must be positive");
    }
    if let Some(t) = &pf.policy.concurrent_therapy
        && !therapies.contains_key(t)
    {
        c.error(
            "policy.concurrent_therapy",
            format!("therapy `{t}` is not in code-lists.toml"),
        );
    }
    if dosing.weight.is_some() && pf.policy.weight_max_age_days.is_none() {
        c.error("policy.weight_max_age_days", "needed when dosing uses weight");
    }

    // indications.toml
    let mut c = Checker {
        file: dir.join("indications.toml"),
        errors: c.errors,
    };
    c.source("not_labeled.source", &ind.not_labeled.source, &sources);
    let not_labeled = c.codes("not_labeled.codes", &ind.not_labeled.codes, systems);
    let mut indications = Vec::new();
    let mut requirement_gaps = BTreeSet::new();
    for (i, x) in ind.indications.iter().enumerate() {
        let f = format!("indications[{i}]");
        c.source(&format!("{f}.source"), &x.source, &sources);
        if indications.iter().any(|o: &Indication| o.id == x.id) {
            c.error(format!("{f}.id"), format!("duplicate indication `{}`", x.id));
        }
        let codes = c.codes(&format!("{f}.codes"), &x.codes, systems);
        if codes.is_empty() {
            c.error(format!("{f}.codes"), "an indication needs at least one qualifying code");
        }
        let nonspecific_codes = c.codes(&format!("{f}.nonspecific_codes"), &x.nonspecific_codes, systems);
        if let Some(code) = codes.iter().find(|code| not_labeled.contains(code)) {
            c.error(format!("{f}.codes"), format!("{} is also in not_labeled", code.code));
        }
        let mut intervals = Vec::new();
        for (j, s) in x.intervals.iter().enumerate() {
            match parse_interval(s) {
                Ok(iv) => intervals.push(iv),
                Err(e) => c.error(format!("{f}.intervals[{j}]"), e),
            }
        }
        let mut requirements = Vec::new();
        for (j, r) in x.requirements.iter().enumerate() {
            let rf = format!("{f}.requirements[{j}]");
            c.source(&format!("{rf}.source"), &r.source, &sources);
            if DocumentationGap::BUILT_IN.iter().any(|g| g.code() == r.gap) {
                c.error(
                    format!("{rf}.gap"),
                    format!("`{}` is a built-in gap; requirements name their own", r.gap),
                );
            }
            requirement_gaps.insert(r.gap.clone());
            let check = match (&r.therapy, &r.observation) {
                (Some(t), None) if therapies.contains_key(t) => RequirementCheck::Therapy(t.clone()),
                (None, Some(o)) if observations.contains_key(o) => RequirementCheck::Observation {
                    set: o.clone(),
                    before_first_dose: r.before_first_dose,
                },
                (Some(t), None) => {
                    c.error(
                        format!("{rf}.therapy"),
                        format!("therapy `{t}` is not in code-lists.toml"),
                    );
                    continue;
                }
                (None, Some(o)) => {
                    c.error(
                        format!("{rf}.observation"),
                        format!("observation set `{o}` is not in code-lists.toml"),
                    );
                    continue;
                }
                _ => {
                    c.error(&rf, "name exactly one of therapy or observation");
                    continue;
                }
            };
            requirements.push(Requirement {
                gap: r.gap.clone(),
                check,
            });
        }
        let allergy = x.allergy.as_ref().map(|a| {
            c.source(&format!("{f}.allergy.source"), &a.source, &sources);
            AllergyCriteria {
                categories: a.categories.clone(),
                codes: c.codes(&format!("{f}.allergy.codes"), &a.codes, systems),
                not_types: a.not_types.clone(),
            }
        });
        if let Some(o) = &x.supporting_observation
            && !observations.contains_key(o)
        {
            c.error(
                format!("{f}.supporting_observation"),
                format!("observation set `{o}` is not in code-lists.toml"),
            );
        }
        indications.push(Indication {
            allergy,
            supporting_observation: x.supporting_observation.clone(),
            id: x.id.clone(),
            display: x.display.clone(),
            min_age_years: x.min_age_years,
            precedence: x.precedence,
            approved_doses_mg: x.approved_doses_mg.clone(),
            intervals,
            codes,
            nonspecific_codes,
            limitation: x.limitation.clone(),
            requirements,
        });
    }
    if indications.is_empty() {
        c.error("indications", "a profile needs at least one indication");
    }
    let mut precedences = BTreeSet::new();
    for x in &indications {
        if !precedences.insert(x.precedence) {
            c.error(
                "indications.precedence",
                format!("precedence {} is used twice: the order must be total", x.precedence),
            );
        }
    }
    // Device combinations must make approved doses (and nothing else).
    let all_levels: BTreeSet<u32> = indications
        .iter()
        .flat_map(|i| i.approved_doses_mg.iter().copied())
        .collect();
    for combo in &device_combinations {
        let sum: u32 = combo.iter().sum();
        if !all_levels.contains(&sum) {
            c.errors.push(ProfileError {
                file: dir.join("profile.toml"),
                field: "devices.combinations".into(),
                message: format!("{combo:?} makes {sum} mg, which no indication approves"),
            });
        }
    }

    // dose-tables.toml
    let mut c = Checker {
        file: dir.join("dose-tables.toml"),
        errors: c.errors,
    };
    let mut dose_tables = Vec::new();
    for (i, t) in tables.tables.iter().enumerate() {
        let f = format!("tables[{i}]");
        c.source(&format!("{f}.source"), &t.source, &sources);
        let Some(indication) = indications.iter().find(|x| x.id == t.indication) else {
            c.error(
                format!("{f}.indication"),
                format!("`{}` is not an indication", t.indication),
            );
            continue;
        };
        if t.below_age_years.is_some_and(|b| b <= t.min_age_years) {
            c.error(format!("{f}.below_age_years"), "must be above min_age_years");
        }
        let check_dose = |c: &mut Checker, field: String, d: &Dose| {
            if !indication.approved_doses_mg.contains(&d.mg) {
                c.error(
                    &field,
                    format!("{} mg is not an approved dose level for {}", d.mg, indication.id),
                );
            }
            if !indication.intervals.contains(&d.interval) {
                c.error(
                    &field,
                    format!("{} is not an approved interval for {}", d.interval, indication.id),
                );
            }
        };
        let kind = match t.method.as_str() {
            "ige-weight" => {
                if dosing.weight.is_none() || dosing.baseline_lab.is_none() {
                    c.error(
                        &f,
                        "method ige-weight needs [dosing] weight and baseline_lab in profile.toml",
                    );
                }
                if t.verified {
                    let (Some(lab), Some(weight), Some(cells)) = (&t.lab_bands, &t.weight_bands_kg, &t.cells) else {
                        c.error(&f, "a verified table needs lab_bands, weight_bands_kg and cells");
                        continue;
                    };
                    let lab = Bands::new(lab).map_err(|e| c.error(format!("{f}.lab_bands"), e));
                    let weight = Bands::new(weight).map_err(|e| c.error(format!("{f}.weight_bands_kg"), e));
                    let (Ok(lab), Ok(weight)) = (lab, weight) else { continue };
                    if cells.len() != lab.len() {
                        c.error(
                            format!("{f}.cells"),
                            format!("{} rows for {} lab bands", cells.len(), lab.len()),
                        );
                    }
                    let mut grid = Vec::new();
                    for (r, row) in cells.iter().enumerate() {
                        if row.len() != weight.len() {
                            c.error(
                                format!("{f}.cells[{r}]"),
                                format!("{} cells for {} weight bands", row.len(), weight.len()),
                            );
                        }
                        let mut parsed = Vec::new();
                        for (k, cell) in row.iter().enumerate() {
                            let field = format!("{f}.cells[{r}][{k}]");
                            match parse_cell(cell) {
                                Ok(Cell::Dose(d)) => {
                                    check_dose(&mut c, field, &d);
                                    parsed.push(Cell::Dose(d));
                                }
                                Ok(Cell::NoDose) => parsed.push(Cell::NoDose),
                                Err(e) => c.error(field, e),
                            }
                        }
                        grid.push(parsed);
                    }
                    TableKind::Grid {
                        lab,
                        weight,
                        cells: grid,
                    }
                } else {
                    if t.cells.is_some() || t.lab_bands.is_some() || t.weight_bands_kg.is_some() {
                        c.error(
                            &f,
                            "cells and bands are given but verified = false: never guess a cell; load a grid only when verified",
                        );
                    }
                    let lab = Range {
                        min: t.lab_min,
                        max: t.lab_max,
                    };
                    let weight = Range {
                        min: t.weight_min_kg,
                        max: t.weight_max_kg,
                    };
                    for (name, r) in [("lab", lab), ("weight", weight)] {
                        if let (Some(lo), Some(hi)) = (r.min, r.max)
                            && hi <= lo
                        {
                            c.error(&f, format!("{name} bounds must have min < max"));
                        }
                    }
                    TableKind::Bounds { lab, weight_kg: weight }
                }
            }
            "fixed" => {
                if t.options.is_empty() {
                    c.error(format!("{f}.options"), "a fixed table needs dose options");
                }
                let mut options = Vec::new();
                for (k, o) in t.options.iter().enumerate() {
                    match parse_dose(o) {
                        Ok(d) => {
                            check_dose(&mut c, format!("{f}.options[{k}]"), &d);
                            options.push(d);
                        }
                        Err(e) => c.error(format!("{f}.options[{k}]"), e),
                    }
                }
                TableKind::Fixed { options }
            }
            other => {
                c.error(format!("{f}.method"), format!("`{other}`: use ige-weight or fixed"));
                continue;
            }
        };
        dose_tables.push(DoseTable {
            id: t.id.clone(),
            title: t.title.clone(),
            indication: t.indication.clone(),
            source: t.source.clone(),
            min_age_years: t.min_age_years,
            below_age_years: t.below_age_years,
            kind,
        });
    }
    for (i, a) in dose_tables.iter().enumerate() {
        for b in &dose_tables[i + 1..] {
            let overlap = a.indication == b.indication
                && a.min_age_years < b.below_age_years.unwrap_or(u32::MAX)
                && b.min_age_years < a.below_age_years.unwrap_or(u32::MAX);
            if overlap {
                c.error(
                    "tables",
                    format!("`{}` and `{}` cover the same ages for {}", a.id, b.id, a.indication),
                );
            }
        }
    }

    // text.toml: a text for every code the rules can produce.
    let mut c = Checker {
        file: dir.join("text.toml"),
        errors: c.errors,
    };
    for r in Reason::ALL {
        if !text.reasons.contains_key(r.code()) {
            c.error("reasons", format!("no text for reason `{r}`"));
        }
    }
    for g in DocumentationGap::BUILT_IN
        .iter()
        .map(|g| g.code().to_string())
        .chain(requirement_gaps)
    {
        if !text.gaps.contains_key(&g) {
            c.error("gaps", format!("no text for gap `{g}`"));
        }
    }
    for r in Reading::ALL {
        if !text.readings.contains_key(r.code()) {
            c.error("readings", format!("no text for reading `{r}`"));
        }
    }
    for (i, o) in text.override_reasons.iter().enumerate() {
        if o.system.trim().is_empty() || o.code.trim().is_empty() || o.display.trim().is_empty() {
            c.error(
                format!("override_reasons[{i}]"),
                "system, code and display are all required",
            );
        }
    }
    for (i, l) in text.links.iter().enumerate() {
        if url::Url::parse(&l.url).is_err() {
            c.error(format!("links[{i}].url"), "must be an absolute URL");
        }
    }
    let longest =
        |it: &mut dyn Iterator<Item = &String>| it.max_by_key(|s| s.chars().count()).cloned().unwrap_or_default();
    let samples = super::summary::SummarySamples {
        drug: pf.profile.display.clone(),
        longest_indication: longest(&mut indications.iter().map(|i| &i.display)),
        longest_reason: longest(&mut text.reasons.values()),
    };
    for (field, template) in text.summary.fields() {
        if let Err(e) = super::summary::check_summary_template(template, &samples) {
            c.error(format!("summary.{field}"), e);
        }
    }
    if let Some(url) = &pf.profile.card_source_url
        && url::Url::parse(url).is_err()
    {
        c.errors.push(ProfileError {
            file: dir.join("profile.toml"),
            field: "profile.card_source_url".into(),
            message: "must be an absolute URL".into(),
        });
    }

    if c.errors.len() > before {
        return None;
    }
    Some(Profile {
        id: pf.profile.id.clone(),
        drug: pf.profile.drug.clone(),
        display: pf.profile.display.clone(),
        rules_version: pf.profile.rules_version.clone(),
        card_source: CardSource {
            label: pf.profile.card_source_label.clone(),
            url: pf.profile.card_source_url.clone(),
            topic: pf.profile.card_source_topic.clone(),
        },
        sources,
        services,
        recognition,
        products,
        presentations,
        device_combinations,
        dosing,
        indications,
        not_labeled,
        tables: dose_tables,
        therapies,
        observations,
        billing,
        safety: Safety {
            first_dose: pf.safety.first_dose.clone(),
            self_administration,
        },
        policy: Policy {
            weight_max_age_days: pf.policy.weight_max_age_days,
            concurrent_therapy: pf.policy.concurrent_therapy.clone(),
        },
        text,
    })
}

impl SummaryText {
    fn fields(&self) -> [(&'static str, &str); 9] {
        [
            ("ineligible", &self.ineligible),
            ("no_dose", &self.no_dose),
            ("dose_mismatch", &self.dose_mismatch),
            ("undetermined", &self.undetermined),
            ("gaps", &self.gaps),
            ("unchecked_cell", &self.unchecked_cell),
            ("ok", &self.ok),
            ("ok_read_from_text", &self.ok_read_from_text),
            ("order_unreadable", &self.order_unreadable),
        ]
    }
}

/// `"q2w"` or `"q6mo"`.
fn parse_interval(text: &str) -> Result<Interval, String> {
    parse_dose(&format!("1 {text}")).map(|d| d.interval)
}

/// Check a prefetch template's tokens and expand `{{codes:SET}}` into a token list
/// (`system|code,system|code`) from code-lists.toml, so codes live in one place.
fn expand_prefetch(
    template: &str,
    observations: &BTreeMap<String, ObservationSet>,
    systems: &CodeSystems,
    system_uris: &BTreeMap<String, Vec<String>>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("unclosed {{")?;
        let token = after[..end].trim();
        if let Some(set) = token.strip_prefix("codes:") {
            let o = observations
                .get(set)
                .ok_or(format!("observation set `{set}` is not in code-lists.toml"))?;
            let mut codes: Vec<_> = o.codes.iter().collect();
            codes.sort();
            let list: Vec<String> = codes
                .iter()
                .map(|c| {
                    format!(
                        "{}|{}",
                        systems.uri_for(&c.system, system_uris).unwrap_or(&c.system),
                        c.code
                    )
                })
                .collect();
            out.push_str(&list.join(","));
        } else if PREFETCH_TOKENS.contains(&token) {
            out.push_str("{{");
            out.push_str(token);
            out.push_str("}}");
        } else {
            return Err(format!(
                "`{{{{{token}}}}}` is not a prefetch token of order-sign/order-select"
            ));
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}
