//! Dose tables: look up the label's dose and compare the order with it.

use super::inputs::LabValue;
use crate::facts::Comparator;
use crate::profile::{BandPosition, Bands, Cell, Dose, DoseTable, Indication, Interval, Range, TableKind};
use crate::vocab::OutsideLabel;

/// Where in a verified table the dose came from, as the label prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableCell {
    pub table: String,
    pub lab_band: String,
    pub weight_band: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DoseFinding {
    /// No dose table applies (no indication, no age, or the profile has none).
    NoTable,
    /// The table needs inputs the chart lacks.
    InputsMissing {
        table: String,
    },
    TableDose {
        dose: Dose,
        cell: TableCell,
    },
    /// The verified table has "insufficient data to recommend a dose" here.
    NoDoseInCell {
        cell: TableCell,
    },
    OutOfRange {
        table: String,
        reasons: Vec<OutsideLabel>,
    },
    /// Within an unverified table's bounds: the cell could not be checked.
    UnverifiedTable {
        table: String,
    },
    /// The lab reported only a bound (">500") that does not tell the table's row.
    LabBoundInRange {
        table: String,
    },
    /// Fixed dosing: any of these.
    Options {
        table: String,
        options: Vec<Dose>,
    },
}

impl DoseFinding {
    pub fn reasons(&self) -> Vec<OutsideLabel> {
        match self {
            DoseFinding::NoDoseInCell { .. } => vec![OutsideLabel::NoDoseInTable],
            DoseFinding::OutOfRange { reasons, .. } => reasons.clone(),
            _ => Vec::new(),
        }
    }

    /// The label gives no dose for this patient: any order is a mismatch.
    pub fn has_no_dose(&self) -> bool {
        matches!(self, DoseFinding::NoDoseInCell { .. } | DoseFinding::OutOfRange { .. })
    }
}

/// Where a bound ("<2", ">2000") puts the true value against a range: below it, above
/// it, or None when the true value may lie inside.
fn bound_side(lower: Option<f64>, upper: Option<f64>, value: f64, comparator: Comparator) -> Option<OutsideLabel> {
    match comparator {
        Comparator::Above if upper.is_some_and(|u| value >= u) => Some(OutsideLabel::LabAboveRange),
        Comparator::AtLeast if upper.is_some_and(|u| value > u) => Some(OutsideLabel::LabAboveRange),
        Comparator::Below if lower.is_some_and(|l| value <= l) => Some(OutsideLabel::LabBelowRange),
        Comparator::AtMost if lower.is_some_and(|l| value < l) => Some(OutsideLabel::LabBelowRange),
        _ => None,
    }
}

/// Look the patient up in a table. `lab` in the lab's canonical unit, `weight_kg` in kg.
pub fn look_up(table: &DoseTable, lab: Option<&LabValue>, weight_kg: Option<f64>) -> DoseFinding {
    let title = table.title.clone();
    if let Some(finding) = bound_finding(table, lab) {
        return finding;
    }
    let inputs = lab.map(|l| l.value).zip(weight_kg);
    match (&table.kind, inputs) {
        (TableKind::Fixed { options }, _) => DoseFinding::Options {
            table: title,
            options: options.clone(),
        },
        (_, None) => DoseFinding::InputsMissing { table: title },
        (
            TableKind::Grid {
                lab: rows,
                weight: columns,
                cells,
            },
            Some((lab, kg)),
        ) => grid_cell(title, rows, columns, cells, lab, kg),
        (
            TableKind::UnverifiedBounds {
                lab: lab_range,
                weight_kg,
            },
            Some((lab, kg)),
        ) => {
            let mut reasons = Vec::new();
            reasons.extend(outside(
                lab_range,
                lab,
                OutsideLabel::LabBelowRange,
                OutsideLabel::LabAboveRange,
            ));
            reasons.extend(outside(
                weight_kg,
                kg,
                OutsideLabel::WeightBelowRange,
                OutsideLabel::WeightAboveRange,
            ));
            if reasons.is_empty() {
                DoseFinding::UnverifiedTable { table: title }
            } else {
                DoseFinding::OutOfRange { table: title, reasons }
            }
        }
    }
}

/// A lab reported only as a bound decides only when it lies wholly outside the table's
/// lab range; inside it, the row cannot be told.
fn bound_finding(table: &DoseTable, lab: Option<&LabValue>) -> Option<DoseFinding> {
    let LabValue {
        value,
        bound: Some(comparator),
        ..
    } = lab?
    else {
        return None;
    };
    let (lower, upper) = match &table.kind {
        TableKind::Grid { lab, .. } => (Some(lab.lower()), Some(lab.upper())),
        TableKind::UnverifiedBounds { lab, .. } => (lab.min, lab.max),
        TableKind::Fixed { .. } => return None,
    };
    let table = table.title.clone();
    Some(match bound_side(lower, upper, *value, *comparator) {
        Some(reason) => DoseFinding::OutOfRange {
            table,
            reasons: vec![reason],
        },
        None => DoseFinding::LabBoundInRange { table },
    })
}

/// The verified grid's cell for a lab value and a weight, or why there is none.
fn grid_cell(table: String, rows: &Bands, columns: &Bands, cells: &[Vec<Cell>], lab: f64, kg: f64) -> DoseFinding {
    let (row, col) = (rows.locate(lab), columns.locate(kg));
    let mut reasons = Vec::new();
    match row {
        BandPosition::Below => reasons.push(OutsideLabel::LabBelowRange),
        BandPosition::Above => reasons.push(OutsideLabel::LabAboveRange),
        BandPosition::In(_) => {}
    }
    match col {
        BandPosition::Below => reasons.push(OutsideLabel::WeightBelowRange),
        BandPosition::Above => reasons.push(OutsideLabel::WeightAboveRange),
        BandPosition::In(_) => {}
    }
    let (BandPosition::In(r), BandPosition::In(c)) = (row, col) else {
        return DoseFinding::OutOfRange { table, reasons };
    };
    let cell = TableCell {
        table,
        lab_band: rows.label(r),
        weight_band: columns.label(c),
    };
    match cells[r][c] {
        Cell::Dose(dose) => DoseFinding::TableDose { dose, cell },
        Cell::NoDose => DoseFinding::NoDoseInCell { cell },
    }
}

/// Bounds are inclusive at both ends (the tables' outer edges).
fn outside(range: &Range, value: f64, below: OutsideLabel, above: OutsideLabel) -> Option<OutsideLabel> {
    if range.min.is_some_and(|m| value < m) {
        Some(below)
    } else if range.max.is_some_and(|m| value > m) {
        Some(above)
    } else {
        None
    }
}

/// Does the ordered dose and interval agree with the label?
/// None when it cannot be told (no table, an unverified cell, or the order lacks a dose).
pub fn matches(
    finding: &DoseFinding,
    indication: Option<&Indication>,
    ordered_mg: Option<f64>,
    interval: Option<Interval>,
) -> Option<bool> {
    if finding.has_no_dose() {
        return Some(false);
    }
    let same =
        |d: &Dose| ordered_mg.is_some_and(|mg| (mg - f64::from(d.mg)).abs() < 1e-6) && interval == Some(d.interval);
    match finding {
        DoseFinding::TableDose { dose, .. } => {
            ordered_mg.zip(interval)?;
            Some(same(dose))
        }
        DoseFinding::Options { options, .. } => {
            ordered_mg.zip(interval)?;
            Some(options.iter().any(same))
        }
        _ => {
            // Unverified or no table: an order outside the approved levels or
            // intervals is still a mismatch.
            let ind = indication?;
            let level_bad = ordered_mg.is_some_and(|mg| {
                !ind.approved_doses_mg.is_empty()
                    && !ind.approved_doses_mg.iter().any(|l| (mg - f64::from(*l)).abs() < 1e-6)
            });
            let interval_bad = interval.is_some_and(|i| !ind.intervals.is_empty() && !ind.intervals.contains(&i));
            (level_bad || interval_bad).then_some(false)
        }
    }
}
