//! `cards/common/`: code systems, units, how orders are written, route classes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{Checker, ProfileError, read};
use crate::profile::codes::CodeSystems;
use crate::profile::dose::Interval;
use crate::profile::files::{CodeSystemsFile, UnitsFile};
use crate::profile::units::UnitTable;
use crate::profile::vocabulary::{OrderVocabulary, OrdersFile, RouteClass, RoutesFile};

/// What every profile shares.
pub(super) struct Common {
    pub systems: CodeSystems,
    pub system_uris: BTreeMap<String, Vec<String>>,
    pub units: UnitTable,
    pub orders: OrderVocabulary,
    pub routes: Vec<RouteClass>,
    pub route_ids: BTreeSet<String>,
}

pub(super) fn load(dir: &Path, errors: &mut Vec<ProfileError>) -> Option<Common> {
    let systems_file: Option<CodeSystemsFile> = read(&dir.join("code-systems.toml"), errors);
    let units_file: Option<UnitsFile> = read(&dir.join("units.toml"), errors);
    let orders_file: Option<OrdersFile> = read(&dir.join("orders.toml"), errors);
    let routes_file: Option<RoutesFile> = read(&dir.join("routes.toml"), errors);
    let (systems_file, units_file, orders_file, routes_file) = (systems_file?, units_file?, orders_file?, routes_file?);
    let systems = CodeSystems::new(&systems_file.systems);
    check_units(&units_file, Checker::new(dir.join("units.toml"), errors));
    check_orders(&orders_file, Checker::new(dir.join("orders.toml"), errors));
    let routes = routes(&routes_file, &systems, Checker::new(dir.join("routes.toml"), errors));
    Some(Common {
        units: UnitTable::new(&units_file.quantity),
        orders: OrderVocabulary::new(&orders_file),
        route_ids: routes.iter().map(|r| r.id.clone()).collect(),
        routes,
        systems,
        system_uris: systems_file.systems,
    })
}

fn check_units(file: &UnitsFile, mut c: Checker<'_>) {
    for (id, kind) in &file.quantity {
        if !kind.units.contains_key(&kind.canonical) {
            c.error(
                format!("quantity.{id}.canonical"),
                format!("`{}` is not among the kind's units", kind.canonical),
            );
        }
        if kind.units.values().any(|f| !f.is_finite() || *f <= 0.0) {
            c.error(format!("quantity.{id}.units"), "every factor must be a positive number");
        }
    }
}

fn check_orders(file: &OrdersFile, mut c: Checker<'_>) {
    for unit in file.sig.period_units.keys() {
        if Interval::from_period(28.0, unit).is_none() {
            c.error(
                format!("sig.period_units.{unit}"),
                "use a UCUM period unit the intervals are read in: wk, d or mo",
            );
        }
    }
}

fn routes(file: &RoutesFile, systems: &CodeSystems, mut c: Checker<'_>) -> Vec<RouteClass> {
    let mut routes = Vec::new();
    for (id, r) in &file.routes {
        let codes = c.codes(&format!("routes.{id}.codes"), &r.codes, systems);
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
    routes
}
