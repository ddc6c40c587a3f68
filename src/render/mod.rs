//! Assessment -> CDS card. One card per order. The words come from the profile's
//! templates (`cards/<profile>/card.toml`, rendered by `cds_core::card`), the indicator
//! from the rules (`rules::severity`, data beside each finding); this module passes values
//! and builds the wire types: suggestions, links, override reasons and the assessment
//! extension, which EHRs read and which does not change with the wording.

mod extension;
mod suggestions;
pub mod topic;

pub use extension::assessment_extension;
use suggestions::suggestions;

use serde_json::{Value, json};

use crate::config::SettingsError;
use crate::hooks::response::{Card, Coding, Indicator, Link, LinkType, Source};
use crate::profile::summary::SUMMARY_MAX_CHARS;
use crate::profile::{Catalog, CodingFile, Profile};
use crate::rules::{self, Assessment, Severity};

pub use cds_core::card::values::display_icd;

/// CDS_QUIET_MATCHES: what an order that matches the label with a complete chart, and
/// nothing else to say, gets (`rules::nothing_to_do`): a one-line info card (`card`, the
/// default) or no card at all (`none`; `{"cards": []}` is still a 200).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum QuietMatches {
    #[default]
    Card,
    None,
}

impl QuietMatches {
    pub fn parse(value: Option<&str>) -> Result<QuietMatches, SettingsError> {
        match value {
            None | Some("card") => Ok(QuietMatches::Card),
            Some("none") => Ok(QuietMatches::None),
            Some(other) => Err(SettingsError {
                name: "CDS_QUIET_MATCHES".into(),
                message: format!("`{other}`: use card or none"),
            }),
        }
    }
}

impl TryFrom<String> for QuietMatches {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        QuietMatches::parse(Some(&value)).map_err(|e| e.message)
    }
}

/// Cut at a character boundary: a safety net behind the load-time check.
fn fit_summary(s: String) -> String {
    if s.chars().count() <= SUMMARY_MAX_CHARS {
        return s;
    }
    let mut cut: String = s.chars().take(SUMMARY_MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Inputs the card needs beyond the assessment.
pub struct CardInput<'a> {
    pub assessment: &'a Assessment,
    /// The order as it arrived in draftOrders.
    pub order_json: &'a Value,
    pub patient_id: &'a str,
}

fn indicator(s: Severity) -> Indicator {
    match s {
        Severity::Info => Indicator::Info,
        Severity::Warning => Indicator::Warning,
        Severity::Critical => Indicator::Critical,
    }
}

/// The card for one assessed order; none when the order has nothing to do and
/// `quiet` is `QuietMatches::None`.
pub fn card(catalog: &Catalog, profile: &Profile, input: &CardInput<'_>, quiet: QuietMatches) -> Option<Card> {
    let a = input.assessment;
    let nothing_to_do = rules::nothing_to_do(profile, a);
    if nothing_to_do && quiet == QuietMatches::None {
        return None;
    }
    let severity = rules::severity(profile, a);
    let (summary, detail) = match cds_core::card::card_text(profile, a, nothing_to_do) {
        Ok(t) => (t.summary, Some(t.detail)),
        Err(e) => {
            // The load-time check renders every template for every finding; should a
            // combination it did not foresee fail, the card still goes out, named only.
            tracing::error!(template = %e.template, error = %e.message, "card template failed");
            (profile.display.clone(), None)
        }
    };
    let indicator = indicator(severity);
    let (suggestions, selection_behavior) = suggestions(catalog, profile, input);
    let text = &profile.text;
    let override_reasons = if indicator == Indicator::Info {
        Vec::new()
    } else {
        text.override_reasons.iter().map(coding).collect()
    };
    Some(Card {
        uuid: uuid::Uuid::new_v4().to_string(),
        summary: fit_summary(summary),
        detail: detail.filter(|d| !d.is_empty()),
        indicator,
        source: Source {
            label: profile.card_source.label.clone(),
            url: profile.card_source.url.clone(),
            icon: None,
            // What the card is about, from the project's code system (its kind); a
            // profile-wide topic would say nothing a client could sort cards by.
            topic: Some(topic::topic(a.kind())),
        },
        suggestions,
        selection_behavior,
        override_reasons,
        links: text
            .links
            .iter()
            .map(|l| Link {
                label: l.label.clone(),
                url: l.url.clone(),
                link_type: LinkType::Absolute,
                app_context: None,
            })
            .collect(),
        extension: Some(json!({ "omalizumab-cds.assessment": assessment_extension(a) })),
    })
}

fn coding(c: &CodingFile) -> Coding {
    Coding {
        system: c.system.clone(),
        code: c.code.clone(),
        display: c.display.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_matches_is_card_or_none() {
        assert_eq!(QuietMatches::parse(None).unwrap(), QuietMatches::Card);
        assert_eq!(QuietMatches::parse(Some("card")).unwrap(), QuietMatches::Card);
        assert_eq!(QuietMatches::parse(Some("none")).unwrap(), QuietMatches::None);
        assert_eq!(QuietMatches::parse(Some("off")).unwrap_err().name, "CDS_QUIET_MATCHES");
    }

    #[test]
    fn summaries_are_cut_below_140_characters() {
        let long = "x".repeat(300);
        let s = fit_summary(long);
        assert_eq!(s.chars().count(), SUMMARY_MAX_CHARS);
        assert!(s.ends_with('…'));
        assert_eq!(fit_summary("short".into()), "short");
    }

    #[test]
    fn icd_codes_show_with_their_dot() {
        assert_eq!(display_icd("J4550"), "J45.50");
        assert_eq!(display_icd("Z910110"), "Z91.0110");
        assert_eq!(display_icd("L501"), "L50.1");
        assert_eq!(display_icd("J45.50"), "J45.50");
    }
}
