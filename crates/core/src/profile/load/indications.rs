//! `<profile>/indications.toml`: indications, their codes, dose levels, intervals and the
//! documentation each needs.

use std::collections::{BTreeMap, BTreeSet};

use super::Checker;
use super::code_lists::Lists;
use crate::profile::codes::{CodeSet, CodeSystems};
use crate::profile::dose::Interval;
use crate::profile::files::{IndicationFile, IndicationsFile, RequirementFile, SourceFile};
use crate::profile::{AllergyCriteria, Indication, Requirement, RequirementCheck};
use crate::vocab::DocumentationGap;

pub(super) struct Loaded {
    pub indications: Vec<Indication>,
    pub not_labeled: CodeSet,
    /// Gap codes the requirements name: each needs a text.
    pub requirement_gaps: BTreeSet<String>,
}

pub(super) fn load(
    file: &IndicationsFile,
    sources: &BTreeMap<String, SourceFile>,
    lists: &Lists,
    systems: &CodeSystems,
    mut c: Checker<'_>,
) -> Loaded {
    c.source("not_labeled.source", &file.not_labeled.source, sources);
    let not_labeled = c.codes("not_labeled.codes", &file.not_labeled.codes, systems);
    let mut loaded = Loaded {
        indications: Vec::new(),
        not_labeled,
        requirement_gaps: BTreeSet::new(),
    };
    for (i, x) in file.indications.iter().enumerate() {
        let f = format!("indications[{i}]");
        if loaded.indications.iter().any(|o| o.id == x.id) {
            c.error(format!("{f}.id"), format!("duplicate indication `{}`", x.id));
        }
        let ind = indication(&f, x, sources, lists, systems, &loaded.not_labeled, &mut c);
        loaded.requirement_gaps.extend(
            ind.requirements
                .iter()
                .flat_map(|r| [Some(&r.gap), r.negative_gap.as_ref()])
                .flatten()
                .cloned(),
        );
        loaded.indications.push(ind);
    }
    check_precedence(&loaded.indications, &mut c);
    loaded
}

fn indication(
    f: &str,
    x: &IndicationFile,
    sources: &BTreeMap<String, SourceFile>,
    lists: &Lists,
    systems: &CodeSystems,
    not_labeled: &CodeSet,
    c: &mut Checker<'_>,
) -> Indication {
    c.source(&format!("{f}.source"), &x.source, sources);
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
        match s.parse::<Interval>() {
            Ok(iv) => intervals.push(iv),
            Err(e) => c.error(format!("{f}.intervals[{j}]"), e),
        }
    }
    let requirements = x
        .requirements
        .iter()
        .enumerate()
        .filter_map(|(j, r)| requirement(&format!("{f}.requirements[{j}]"), r, sources, lists, c))
        .collect();
    let allergy = x.allergy.as_ref().map(|a| {
        c.source(&format!("{f}.allergy.source"), &a.source, sources);
        AllergyCriteria {
            categories: a.categories.clone(),
            codes: c.codes(&format!("{f}.allergy.codes"), &a.codes, systems),
            not_types: a.not_types.clone(),
        }
    });
    if let Some(o) = &x.supporting_observation
        && !lists.observations.contains_key(o)
    {
        c.error(
            format!("{f}.supporting_observation"),
            format!("observation set `{o}` is not in code-lists.toml"),
        );
    }
    Indication {
        id: x.id.clone(),
        display: x.display.clone(),
        min_age_years: x.min_age_years,
        precedence: x.precedence,
        approved_doses_mg: x.approved_doses_mg.clone(),
        intervals,
        codes,
        nonspecific_codes,
        limitation: x.limitation.clone(),
        allergy,
        supporting_observation: x.supporting_observation.clone(),
        requirements,
    }
}

fn requirement(
    rf: &str,
    r: &RequirementFile,
    sources: &BTreeMap<String, SourceFile>,
    lists: &Lists,
    c: &mut Checker<'_>,
) -> Option<Requirement> {
    c.source(&format!("{rf}.source"), &r.source, sources);
    for (field, gap) in [("gap", Some(&r.gap)), ("negative_gap", r.negative_gap.as_ref())] {
        if let Some(gap) = gap
            && DocumentationGap::BUILT_IN.iter().any(|g| g.code() == gap)
        {
            c.error(
                format!("{rf}.{field}"),
                format!("`{gap}` is a built-in gap; requirements name their own"),
            );
        }
    }
    let positive_only = r
        .observation
        .as_ref()
        .and_then(|o| lists.observations.get(o))
        .is_some_and(|set| set.needs_positive());
    if r.negative_gap.is_some() && !positive_only {
        c.error(
            format!("{rf}.negative_gap"),
            "only an observation set whose results count when positive can be negative",
        );
    }
    let check = match (&r.therapy, &r.observation) {
        (Some(t), None) if lists.therapies.contains_key(t) => RequirementCheck::Therapy(t.clone()),
        (None, Some(o)) if lists.observations.contains_key(o) => RequirementCheck::Observation {
            set: o.clone(),
            before_first_dose: r.before_first_dose,
        },
        (Some(t), None) => {
            c.error(
                format!("{rf}.therapy"),
                format!("therapy `{t}` is not in code-lists.toml"),
            );
            return None;
        }
        (None, Some(o)) => {
            c.error(
                format!("{rf}.observation"),
                format!("observation set `{o}` is not in code-lists.toml"),
            );
            return None;
        }
        _ => {
            c.error(rf, "name exactly one of therapy or observation");
            return None;
        }
    };
    Some(Requirement {
        gap: r.gap.clone(),
        negative_gap: r.negative_gap.clone(),
        check,
    })
}

fn check_precedence(indications: &[Indication], c: &mut Checker<'_>) {
    if indications.is_empty() {
        c.error("indications", "a profile needs at least one indication");
    }
    let mut precedences = BTreeSet::new();
    for x in indications {
        if !precedences.insert(x.precedence) {
            c.error(
                "indications.precedence",
                format!("precedence {} is used twice: the order must be total", x.precedence),
            );
        }
    }
}
