//! The load-time check of a profile's card templates.

use super::samples;
use super::{card_text, dose_suggestion, lab_suggestion, review_facts, values};
use crate::facts::NotFetchedReason;
use crate::profile::summary::check_summary_length;
use crate::profile::{Dose, Profile};
use crate::rules;

/// Render every template for every finding with the sample assessments; a summary that
/// reaches the limit is an error. Returns (template, message) pairs.
pub fn check(profile: &Profile) -> Vec<(String, String)> {
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut push = |template: String, message: String| {
        if !errors.iter().any(|(t, _)| *t == template) {
            errors.push((template, message));
        }
    };
    for (sample, a) in samples::assessments(profile) {
        let finding = rules::main_finding(&a);
        for quiet in [false, true] {
            match card_text(profile, &a, quiet) {
                Err(e) => push(e.template, format!("{} (sample `{sample}`)", e.message)),
                Ok(text) => {
                    if let Err(e) = check_summary_length(&text.summary) {
                        push(format!("summary.{finding}"), format!("{e} (sample `{sample}`)"));
                    }
                    if text.summary.is_empty() {
                        push(
                            format!("summary.{finding}"),
                            format!("renders empty (sample `{sample}`)"),
                        );
                    }
                }
            }
        }
        let dose = Dose {
            mg: 600,
            interval: crate::profile::Interval::Weeks(12),
        };
        if let Err(e) = dose_suggestion(profile, &a, &dose) {
            push(e.template, e.message);
        }
        // Any lab's name: the label is only checked to render.
        if let Err(e) = lab_suggestion(profile, &a, "a sample laboratory test") {
            push(e.template, e.message);
        }
        if let Err(e) = values::empty_cell_words(profile) {
            push(e.template, e.message);
        }
        if let Err(e) = review_facts(profile, &a) {
            push(e.template, format!("{} (sample `{sample}`)", e.message));
        }
        for reason in NotFetchedReason::ALL {
            let mut one = a.clone();
            one.unfetched = vec![crate::facts::Unfetched {
                key: "observations".into(),
                part: crate::facts::ChartPart::Observations,
                why: crate::facts::NotFetched {
                    reason,
                    value: reason.has_value().then(|| "2500 ms".into()),
                },
            }];
            if let Err(e) = card_text(profile, &one, false) {
                push(e.template, format!("{} (sample `{sample}`)", e.message));
            }
        }
    }
    errors
}
