//! `<profile>/text.toml`: a text for every code the rules can produce, well-formed
//! override reasons and links, and summaries that stay under the spec's limit.

use super::Checker;
use super::indications::Loaded as Indications;
use crate::profile::files::{ProfileFile, SummaryText, TextFile};
use crate::profile::summary::{SummarySamples, check_summary_template};
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
    let longest =
        |it: &mut dyn Iterator<Item = &String>| it.max_by_key(|s| s.chars().count()).cloned().unwrap_or_default();
    let samples = SummarySamples {
        drug: pf.profile.display.clone(),
        longest_indication: longest(&mut indications.indications.iter().map(|i| &i.display)),
        longest_reason: longest(&mut text.reasons.values()),
    };
    for (field, template) in summary_fields(&text.summary) {
        if let Err(e) = check_summary_template(template, &samples) {
            c.error(format!("summary.{field}"), e);
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
    for r in Reading::ALL.into_iter().filter(|r| dose_table || !r.needs_dose_table()) {
        if !text.readings.contains_key(r.code()) {
            c.error("readings", format!("no text for reading `{r}`"));
        }
    }
}

fn summary_fields(s: &SummaryText) -> [(&'static str, &str); 9] {
    [
        ("ineligible", &s.ineligible),
        ("no_dose", &s.no_dose),
        ("dose_mismatch", &s.dose_mismatch),
        ("undetermined", &s.undetermined),
        ("gaps", &s.gaps),
        ("unverified_table", &s.unverified_table),
        ("ok", &s.ok),
        ("ok_read_from_text", &s.ok_read_from_text),
        ("order_unreadable", &s.order_unreadable),
    ]
}
