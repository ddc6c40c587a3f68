//! What the preview page draws, as JSON: the profile's indications and dose tables, and
//! for each card the facts used, the assessment and where in the dose table it fell.
//! Everything is read off the profile and the engine's own findings: the page computes
//! nothing clinical.

use serde_json::{Value, json};

use crate::engine::HookResult;
use crate::present::facts_used;
use crate::profile::{Cell, DoseTable, Interval, Profile, TableKind};
use crate::render::assessment_extension;
use crate::rules::{Assessment, DoseFinding};

/// A table cell in the profile's words (`phrases.dose`, `phrases.empty_cell`).
fn cell_text(profile: &Profile, c: &Cell) -> String {
    let words = match c {
        Cell::Dose(d) => cds_core::card::values::dose_words(profile, d),
        Cell::NoDose => cds_core::card::values::empty_cell_words(profile),
    };
    // Checked at load; should it still fail, the page shows the template's name.
    words.unwrap_or_else(|e| e.template)
}

fn table_json(profile: &Profile, t: &DoseTable) -> Value {
    let mut v = json!({
        "id": t.id,
        "title": t.title,
        "indication": t.indication,
        "source": t.source,
        "minAgeYears": t.min_age_years,
    });
    if let Some(b) = t.below_age_years {
        v["belowAgeYears"] = json!(b);
    }
    match &t.kind {
        TableKind::Grid { lab, weight, cells } => {
            v["kind"] = json!("grid");
            v["verified"] = json!(true);
            v["rows"] = json!((0..lab.len()).map(|i| lab.label(i)).collect::<Vec<_>>());
            v["columns"] = json!((0..weight.len()).map(|i| weight.label(i)).collect::<Vec<_>>());
            v["cells"] = json!(
                cells
                    .iter()
                    .map(|row| row.iter().map(|c| cell_text(profile, c)).collect::<Vec<_>>())
                    .collect::<Vec<_>>()
            );
        }
        TableKind::UnverifiedBounds { lab, weight_kg } => {
            v["kind"] = json!("bounds");
            v["verified"] = json!(false);
            v["bounds"] = json!({
                "igeMin": lab.min, "igeMax": lab.max,
                "weightMinKg": weight_kg.min, "weightMaxKg": weight_kg.max,
            });
        }
        TableKind::Fixed { options } => {
            v["kind"] = json!("fixed");
            v["verified"] = json!(true);
            v["options"] = json!(options.iter().map(ToString::to_string).collect::<Vec<_>>());
        }
    }
    v
}

/// The profile as the page's form and grids need it.
pub fn profile_json(profile: &Profile, scenarios: &[String]) -> Value {
    json!({
        "profile": profile.id,
        "drug": profile.display,
        "rulesVersion": profile.rules_version,
        "indications": profile.indications.iter().map(|i| json!({
            "id": i.id,
            "display": i.display,
            "minAgeYears": i.min_age_years,
            "doseLevelsMg": i.approved_doses_mg,
            "intervals": i.intervals.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "tables": profile.tables.iter().map(|t| table_json(profile, t)).collect::<Vec<_>>(),
        "scenarios": scenarios,
    })
}

/// Where the engine's dose finding sits in the profile's tables: the table, and for a
/// verified grid the row and column of the cell it read (matched by the band labels the
/// finding names, so the highlight is the engine's cell, not a second lookup).
fn table_position(profile: &Profile, a: &Assessment) -> Value {
    let (title, cell, finding) = match &a.dose {
        DoseFinding::NoTable => return Value::Null,
        DoseFinding::TableDose { cell, .. } => (&cell.table, Some(cell), "dose"),
        DoseFinding::NoDoseInCell { cell } => (&cell.table, Some(cell), "no-dose"),
        DoseFinding::InputsMissing { table } => (table, None, "inputs-missing"),
        DoseFinding::OutOfRange { table, .. } => (table, None, "out-of-range"),
        DoseFinding::UnverifiedTable { table } => (table, None, "unverified"),
        DoseFinding::LabBoundInRange { table } => (table, None, "lab-bound"),
        DoseFinding::Options { table, .. } => (table, None, "options"),
    };
    let Some(table) = profile.tables.iter().find(|t| &t.title == title) else {
        return Value::Null;
    };
    let mut v = json!({"id": table.id, "finding": finding});
    if let (Some(cell), TableKind::Grid { lab, weight, .. }) = (cell, &table.kind) {
        v["row"] = json!((0..lab.len()).position(|i| lab.label(i) == cell.lab_band));
        v["column"] = json!((0..weight.len()).position(|i| weight.label(i) == cell.weight_band));
    }
    v
}

/// The values the form starts from: the inputs the rules used.
fn inputs(a: &Assessment) -> Value {
    json!({
        "ageYears": a.age_years,
        "weightKg": a.weight.as_ref().map(|w| (w.kg * 10.0).round() / 10.0),
        "ige": a.pretreatment_lab.as_ref().map(|l| l.value.round()),
        "indication": a.indication.as_ref().map(|i| i.id.clone()),
        "doseMg": a.ordered_dose,
        "everyWeeks": match a.ordered_interval { Some(Interval::Weeks(n)) => Some(n), _ => None },
    })
}

/// A hook's answer for the page: the cards as sent, and per card what lies behind it.
pub fn result_json(profile: &Profile, request: &Value, result: &HookResult) -> Value {
    json!({
        "request": request,
        "response": result.response,
        "results": result.assessments.iter().zip(&result.response.cards).map(|(a, c)| json!({
            "card": c.uuid,
            "kind": a.kind(),
            "factsUsed": facts_used(profile, a),
            "assessment": assessment_extension(a),
            "inputs": inputs(a),
            "table": table_position(profile, a),
        })).collect::<Vec<_>>(),
    })
}
