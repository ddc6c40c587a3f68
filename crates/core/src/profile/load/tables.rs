//! `<profile>/dose-tables.toml`: verified grids, bounds of unverified tables, fixed doses.

use std::collections::BTreeMap;

use super::Checker;
use crate::profile::dose::{Bands, Cell, Dose};
use crate::profile::files::{DoseTableFile, DoseTablesFile, SourceFile};
use crate::profile::{DoseTable, Dosing, Indication, Range, TableKind};

pub(super) fn load(
    file: &DoseTablesFile,
    sources: &BTreeMap<String, SourceFile>,
    indications: &[Indication],
    dosing: &Dosing,
    mut c: Checker<'_>,
) -> Vec<DoseTable> {
    let mut tables = Vec::new();
    for (i, t) in file.tables.iter().enumerate() {
        let f = format!("tables[{i}]");
        c.source(&format!("{f}.source"), &t.source, sources);
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
        let kind = match t.method.as_str() {
            "ige-weight" => lab_weight_table(&f, t, indication, dosing, &mut c),
            "fixed" => Some(fixed_table(&f, t, indication, &mut c)),
            other => {
                c.error(format!("{f}.method"), format!("`{other}`: use ige-weight or fixed"));
                None
            }
        };
        let Some(kind) = kind else { continue };
        tables.push(DoseTable {
            id: t.id.clone(),
            title: t.title.clone(),
            indication: t.indication.clone(),
            source: t.source.clone(),
            min_age_years: t.min_age_years,
            below_age_years: t.below_age_years,
            kind,
        });
    }
    check_overlaps(&tables, &mut c);
    tables
}

/// A dose must be one of the indication's approved levels and intervals.
fn check_dose(c: &mut Checker<'_>, field: &str, indication: &Indication, d: &Dose) {
    if !indication.approved_doses_mg.contains(&d.mg) {
        c.error(
            field,
            format!("{} mg is not an approved dose level for {}", d.mg, indication.id),
        );
    }
    if !indication.intervals.contains(&d.interval) {
        c.error(
            field,
            format!("{} is not an approved interval for {}", d.interval, indication.id),
        );
    }
}

fn lab_weight_table(
    f: &str,
    t: &DoseTableFile,
    indication: &Indication,
    dosing: &Dosing,
    c: &mut Checker<'_>,
) -> Option<TableKind> {
    if dosing.weight.is_none() || dosing.pretreatment_lab.is_none() {
        c.error(
            f,
            "method ige-weight needs [dosing] weight and pretreatment_lab in profile.toml",
        );
    }
    if t.verified {
        grid(f, t, indication, c)
    } else {
        Some(bounds(f, t, c))
    }
}

/// A verified grid: contiguous bands, one approved dose (or "none") per cell.
fn grid(f: &str, t: &DoseTableFile, indication: &Indication, c: &mut Checker<'_>) -> Option<TableKind> {
    let (Some(lab), Some(weight), Some(cells)) = (&t.lab_bands, &t.weight_bands_kg, &t.cells) else {
        c.error(f, "a verified table needs lab_bands, weight_bands_kg and cells");
        return None;
    };
    let lab = Bands::new(lab).map_err(|e| c.error(format!("{f}.lab_bands"), e));
    let weight = Bands::new(weight).map_err(|e| c.error(format!("{f}.weight_bands_kg"), e));
    let (Ok(lab), Ok(weight)) = (lab, weight) else {
        return None;
    };
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
            match cell.parse::<Cell>() {
                Ok(Cell::Dose(d)) => {
                    check_dose(c, &field, indication, &d);
                    parsed.push(Cell::Dose(d));
                }
                Ok(Cell::NoDose) => parsed.push(Cell::NoDose),
                Err(e) => c.error(field, e),
            }
        }
        grid.push(parsed);
    }
    Some(TableKind::Grid {
        lab,
        weight,
        cells: grid,
    })
}

/// An unverified table: only its outer bounds, and never a cell.
fn bounds(f: &str, t: &DoseTableFile, c: &mut Checker<'_>) -> TableKind {
    if t.cells.is_some() || t.lab_bands.is_some() || t.weight_bands_kg.is_some() {
        c.error(
            f,
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
            c.error(f, format!("{name} bounds must have min < max"));
        }
    }
    TableKind::UnverifiedBounds { lab, weight_kg: weight }
}

fn fixed_table(f: &str, t: &DoseTableFile, indication: &Indication, c: &mut Checker<'_>) -> TableKind {
    if t.options.is_empty() {
        c.error(format!("{f}.options"), "a fixed table needs dose options");
    }
    let mut options = Vec::new();
    for (k, o) in t.options.iter().enumerate() {
        let field = format!("{f}.options[{k}]");
        match o.parse::<Dose>() {
            Ok(d) => {
                check_dose(c, &field, indication, &d);
                options.push(d);
            }
            Err(e) => c.error(field, e),
        }
    }
    TableKind::Fixed { options }
}

/// Tables of one indication must not cover the same ages.
fn check_overlaps(tables: &[DoseTable], c: &mut Checker<'_>) {
    for (i, a) in tables.iter().enumerate() {
        for b in &tables[i + 1..] {
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
}
