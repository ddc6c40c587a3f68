//! `<profile>/text.toml`: a text for every code the rules can produce, well-formed
//! override reasons and links. (Summaries and the other card sentences are templates in
//! `card.toml`, checked by `card.rs`.)

use super::Checker;
use super::indications::Loaded as Indications;
use crate::profile::files::{ProfileFile, TextFile};
use crate::rules::MissingInput;
use crate::vocab::{DocumentationGap, OutsideLabel, Reading};

pub(super) fn check(text: &TextFile, pf: &ProfileFile, indications: &Indications, mut c: Checker<'_>) {
    let dose_table = pf
        .dosing
        .as_ref()
        .is_some_and(|d| d.weight.is_some() && d.pretreatment_lab.is_some());
    check_vocabulary(text, indications, dose_table, &mut c);
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
}

/// A text for every code this profile can produce (the dose-table codes only when it is
/// dosed from a lab-and-weight table).
fn check_vocabulary(text: &TextFile, indications: &Indications, dose_table: bool, c: &mut Checker<'_>) {
    for r in OutsideLabel::ALL
        .into_iter()
        .filter(|r| dose_table || !r.needs_dose_table())
    {
        if !text.reasons.contains_key(r.code()) {
            c.error("reasons", format!("no text for reason `{r}`"));
        }
    }
    let built_in = DocumentationGap::BUILT_IN
        .iter()
        .filter(|g| dose_table || !g.needs_dose_table())
        .map(|g| g.code().to_string());
    for g in built_in.chain(indications.requirement_gaps.iter().cloned()) {
        if !text.gaps.contains_key(&g) {
            c.error("gaps", format!("no text for gap `{g}`"));
        }
    }
    for m in MissingInput::ALL
        .into_iter()
        .filter(|m| dose_table || !m.needs_dose_table())
    {
        if !text.inputs.contains_key(m.code()) {
            c.error("inputs", format!("no text for input `{}`", m.code()));
        }
    }
    for r in Reading::ALL.into_iter().filter(|r| dose_table || !r.needs_dose_table()) {
        if !text.readings.contains_key(r.code()) {
            c.error("readings", format!("no text for reading `{r}`"));
        }
    }
}
