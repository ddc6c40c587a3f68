//! Cards and assessments as text for a terminal (`demo`, `check`): what a clinician
//! would read in the EHR, and the patient facts the rules used.

use std::fmt::Write as _;

use crate::engine::HookResult;
use crate::hooks::response::Card;
use crate::render::{date_suffix, diagnosis_text, ige_text, weight_text};
use crate::rules::Assessment;
use crate::rules::IndicationSource;

/// The facts an assessment rests on, one per line, as charted and as used.
pub fn facts_used(a: &Assessment) -> String {
    let mut out = String::new();
    let unknown = "not on the chart";
    let _ = writeln!(
        out,
        "  age:        {}",
        a.age_years.map_or(unknown.to_string(), |y| format!("{y} years"))
    );
    let _ = writeln!(
        out,
        "  weight:     {}",
        a.weight.as_ref().map_or(unknown.to_string(), |w| format!(
            "{}{}",
            weight_text(w),
            date_suffix(w.date)
        ))
    );
    let _ = writeln!(
        out,
        "  total IgE:  {}",
        a.pretreatment_lab
            .as_ref()
            .map_or("no usable pretreatment value".to_string(), |l| format!(
                "{}{}",
                ige_text(l),
                date_suffix(l.date)
            ))
    );
    let indication = match &a.indication {
        None => unknown.to_string(),
        Some(i) => {
            let from = match &i.source {
                IndicationSource::Order => "from the order",
                IndicationSource::Chart { .. } => "assumed from the chart",
            };
            format!("{} ({from}; label indication: {})", diagnosis_text(i), i.display)
        }
    };
    let _ = writeln!(out, "  indication: {indication}");
    let history = &a.history;
    let _ = writeln!(
        out,
        "  history:    {} prior omalizumab record(s){}",
        history.records,
        history
            .first_dose
            .map(|d| format!(", first dose {d}"))
            .unwrap_or_default()
    );
    out
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
pub fn hook_result_text(result: &HookResult) -> String {
    if result.response.cards.is_empty() {
        return "  no card: the draft orders hold no order for this service's drug\n\n".into();
    }
    let mut out = String::new();
    for (card, assessment) in result.response.cards.iter().zip(&result.assessments) {
        let _ = writeln!(out, "facts used for {}:", assessment.order);
        out.push_str(&facts_used(assessment));
        let _ = writeln!(out, "card:");
        out.push_str(&card_text(card));
        if let Some(extension) = &card.extension {
            let _ = writeln!(out, "assessment: {extension}");
        }
        out.push('\n');
    }
    out
}
