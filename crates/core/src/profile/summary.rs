//! Card summary templates: their placeholders, and the check that no summary can reach
//! the spec's limit, run when the profile loads.

/// The spec's limit is "<140 characters".
pub const SUMMARY_MAX_CHARS: usize = 139;

/// Values a summary template may use, with their longest realistic length, to check
/// templates at load time.
pub struct SummarySamples {
    pub drug: String,
    pub longest_indication: String,
    pub longest_reason: String,
}

const PLACEHOLDERS: [&str; 7] = [
    "drug",
    "indication",
    "ordered",
    "recommended",
    "reason",
    "count",
    "missing",
];

pub fn check_summary_template(template: &str, samples: &SummarySamples) -> Result<(), String> {
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let end = after.find('}').ok_or("unclosed {")?;
        let name = &after[..end];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!("unknown placeholder {{{name}}}; use {PLACEHOLDERS:?}"));
        }
        rest = &after[end + 1..];
    }
    let longest_dose = "(dose not readable) every 12 weeks";
    let rendered = fill(
        template,
        &[
            ("drug", samples.drug.clone()),
            ("indication", samples.longest_indication.clone()),
            ("ordered", longest_dose.into()),
            ("recommended", longest_dose.into()),
            ("reason", samples.longest_reason.clone()),
            ("count", "12".into()),
            (
                "missing",
                "missing diagnosis, birth date; body weight, pretreatment IgE could not be read".into(),
            ),
        ],
    );
    let n = rendered.chars().count();
    if n > SUMMARY_MAX_CHARS {
        return Err(format!(
            "with the longest values it is {n} characters; the limit is {SUMMARY_MAX_CHARS}"
        ));
    }
    Ok(())
}

pub fn fill(template: &str, vars: &[(&str, String)]) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_with_unknown_placeholders_or_too_long_are_refused() {
        let samples = SummarySamples {
            drug: "Omalizumab".into(),
            longest_indication: "moderate-to-severe persistent asthma".into(),
            longest_reason: "no dose in the table for this IgE and weight".into(),
        };
        assert!(check_summary_template("{drug}: {ordered}", &samples).is_ok());
        assert!(
            check_summary_template("{drug}: {dose}", &samples)
                .unwrap_err()
                .contains("unknown placeholder")
        );
        let long = format!("{{drug}} {}", "y".repeat(130));
        assert!(check_summary_template(&long, &samples).unwrap_err().contains("limit"));
    }
}
