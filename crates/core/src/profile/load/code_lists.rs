//! `<profile>/code-lists.toml`: therapy lists and observation sets.

use std::collections::BTreeMap;

use super::Checker;
use super::common::Common;
use crate::profile::files::{CodeListsFile, ObservationSetFile, SourceFile, TherapyFile};
use crate::profile::{ObservationSet, Therapy};

pub(super) struct Lists {
    pub therapies: BTreeMap<String, Therapy>,
    pub observations: BTreeMap<String, ObservationSet>,
}

pub(super) fn load(
    file: &CodeListsFile,
    sources: &BTreeMap<String, SourceFile>,
    common: &Common,
    mut c: Checker<'_>,
) -> Lists {
    let therapies = file
        .therapies
        .iter()
        .map(|(id, t)| (id.clone(), therapy(id, t, sources, common, &mut c)))
        .collect();
    let observations = file
        .observations
        .iter()
        .map(|(id, o)| (id.clone(), observation_set(id, o, sources, common, &mut c)))
        .collect();
    Lists {
        therapies,
        observations,
    }
}

fn therapy(
    id: &str,
    t: &TherapyFile,
    sources: &BTreeMap<String, SourceFile>,
    common: &Common,
    c: &mut Checker<'_>,
) -> Therapy {
    let f = format!("therapies.{id}");
    c.source(&format!("{f}.source"), &t.source, sources);
    let codes = c.codes(&format!("{f}.codes"), &t.codes, &common.systems);
    if codes.is_empty() && t.names.is_empty() {
        c.error(&f, "needs codes or names");
    }
    for r in t.routes.iter().chain(&t.not_routes) {
        if !common.route_ids.contains(r) {
            c.error(&f, format!("route `{r}` is not in cards/common/routes.toml"));
        }
    }
    let lower = |v: &[String]| v.iter().map(|n| n.to_lowercase()).collect();
    Therapy {
        display: t.display.clone(),
        codes,
        names: lower(&t.names),
        names_with_any: lower(&t.names_with_any),
        names_without_any: lower(&t.names_without_any),
        routes: t.routes.clone(),
        not_routes: t.not_routes.clone(),
    }
}

fn observation_set(
    id: &str,
    o: &ObservationSetFile,
    sources: &BTreeMap<String, SourceFile>,
    common: &Common,
    c: &mut Checker<'_>,
) -> ObservationSet {
    let f = format!("observations.{id}");
    c.source(&format!("{f}.source"), &o.source, sources);
    let codes = c.codes(&format!("{f}.codes"), &o.codes, &common.systems);
    if codes.is_empty() {
        c.error(format!("{f}.codes"), "needs at least one code");
    }
    if let Some(q) = &o.quantity
        && !common.units.has_kind(q)
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
        && common.units.to_canonical(q, 1.0, u).is_none()
    {
        c.error(format!("{f}.unit_when_absent"), format!("`{u}` is not a unit of `{q}`"));
    }
    ObservationSet {
        id: id.to_string(),
        display: o.display.clone(),
        codes,
        quantity: o.quantity.clone(),
        order_code: o.order_code.clone(),
        positive_at: o.positive_at,
        positive_interpretations: o.positive_interpretations.clone(),
        unit_when_absent: o.unit_when_absent.clone(),
    }
}
