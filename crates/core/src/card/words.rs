//! The phrases other templates and the preview use: a dose, an interval, a diagnosis, an
//! empty table cell, each in the profile's words (`card.toml [phrases]`); and how numbers
//! and codes are shown (rounded, ICD-10-CM with its dot).

use minijinja::context;

use super::TemplateError;
use crate::profile::{Dose, Interval, Profile};
use crate::rules::IndicationChoice;

/// A dosing interval in the profile's words (`phrases.interval`: "every 2 weeks").
pub fn interval_words(profile: &Profile, i: Interval) -> Result<String, TemplateError> {
    let (every, unit) = match i {
        Interval::Weeks(n) => (n, "week"),
        Interval::Months(n) => (n, "month"),
    };
    profile.card.render("phrases.interval", &context! { every, unit })
}

/// A dose in the profile's words (`phrases.dose`: "225 mg every 2 weeks").
pub fn dose_words(profile: &Profile, d: &Dose) -> Result<String, TemplateError> {
    let interval = interval_words(profile, d.interval)?;
    profile.card.render("phrases.dose", &context! { mg => d.mg, interval })
}

/// A dose-table cell without a dose, in the profile's words (`phrases.empty_cell`).
pub fn empty_cell_words(profile: &Profile) -> Result<String, TemplateError> {
    profile.card.render("phrases.empty_cell", &context! {})
}

/// Round to `places` decimals for display.
pub fn round_to(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

/// The diagnosis as the chart words and codes it, in the profile's words
/// (`phrases.diagnosis`: "Mild intermittent asthma (SNOMED CT 427679007)", or "J33.9, read
/// as chronic rhinosinusitis with nasal polyps" for a code without words); the
/// indication's own label alone only when the chart gave no diagnosis.
pub fn diagnosis_text(profile: &Profile, i: &IndicationChoice) -> Result<String, TemplateError> {
    match &i.diagnosis {
        Some(d) => {
            let code = if d.code.system == "icd10cm" {
                display_icd(&d.code.code)
            } else {
                d.code.code.clone()
            };
            // A code the chart sent without words is shown as the code, and what it was read
            // as: the indication's name is not the code's meaning (J33.9 is "nasal polyp,
            // unspecified", read as CRSwNP).
            profile.card.render(
                "phrases.diagnosis",
                &context! { text => &d.text, indication => &i.display, system => d.code.system, code },
            )
        }
        None => Ok(i.display.clone()),
    }
}

/// Codes are compared without the dot; shown with it (`J4550` -> `J45.50`).
pub fn display_icd(code: &str) -> String {
    if code.len() > 3 && !code.contains('.') {
        format!("{}.{}", &code[..3], &code[3..])
    } else {
        code.to_string()
    }
}
