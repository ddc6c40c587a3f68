//! Cards and assessments as text for a terminal (`demo`, `check`): what a clinician
//! would read in the EHR, and the patient facts the rules used.

use std::fmt::Write as _;

use crate::engine::HookResult;
use crate::hooks::response::Card;
use crate::profile::Profile;
use crate::rules::Assessment;

/// The facts an assessment rests on, one per line, as charted and as used; the words are
/// the profile's (`card.toml [review] facts`).
pub fn facts_used(profile: &Profile, a: &Assessment) -> String {
    match cds_core::card::review_facts(profile, a) {
        Ok(text) => text.lines().map(|l| format!("  {l}\n")).collect(),
        // Checked at load for every finding; should it still fail, say so, not panic.
        Err(e) => format!("  (the facts could not be shown: {e})\n"),
    }
}

/// One card as the EHR shows it: indicator and summary, the detail's lines, the
/// suggestions, the links.
pub fn card_text(card: &Card) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "  [{}] {}", card.indicator.code().to_uppercase(), card.summary);
    if let Some(detail) = &card.detail {
        for line in detail.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
            let _ = writeln!(out, "      {line}");
        }
    }
    for s in &card.suggestions {
        let star = if s.is_recommended { " (recommended)" } else { "" };
        let _ = writeln!(out, "    > suggestion: {}{star}", s.label);
    }
    for l in &card.links {
        let _ = writeln!(out, "    > link: {} <{}>", l.label, l.url);
    }
    let _ = writeln!(out, "    source: {}", card.source.label);
    out
}

/// A hook's answer as text: per card, the facts used, the card, its assessment.
pub fn hook_result_text(profile: &Profile, result: &HookResult) -> String {
    if result.response.cards.is_empty() {
        return "  no card: the draft orders hold no order for this service's drug\n\n".into();
    }
    let mut out = String::new();
    for (card, assessment) in result.response.cards.iter().zip(&result.assessments) {
        let _ = writeln!(out, "facts used for {}:", assessment.order);
        out.push_str(&facts_used(profile, assessment));
        let _ = writeln!(out, "card:");
        out.push_str(&card_text(card));
        if let Some(extension) = &card.extension {
            let _ = writeln!(out, "assessment: {extension}");
        }
        out.push('\n');
    }
    out
}
