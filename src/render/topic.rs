//! Each card's `source.topic`: a Coding for the card's main finding
//! (`Assessment::kind`) from the code system this project publishes,
//! `cards/common/card-topics.json` (a FHIR CodeSystem; Da Vinci CRD clients require a topic).
//!
//! The codes are the assessment's vocabulary, like `crate::vocab`, not clinical data: the
//! code system is compiled in, so a deployment's cards directory cannot rename a code
//! EHR analytics already key on.

use std::sync::LazyLock;

use serde::Deserialize;

use crate::hooks::response::Coding;

const CODE_SYSTEM_JSON: &str = include_str!("../../cards/common/card-topics.json");

#[derive(Debug, Deserialize)]
struct CodeSystem {
    url: String,
    concept: Vec<Concept>,
}

#[derive(Debug, Deserialize)]
struct Concept {
    code: String,
    display: String,
}

static TOPICS: LazyLock<CodeSystem> =
    LazyLock::new(|| serde_json::from_str(CODE_SYSTEM_JSON).expect("cards/common/card-topics.json is a CodeSystem"));

/// The code system's URI.
pub fn system() -> &'static str {
    &TOPICS.url
}

/// The topic of a card whose assessment has this kind. A kind missing from the code
/// system is a build that shipped without it; the unit test below stops that.
pub fn topic(kind: &str) -> Coding {
    let display = TOPICS
        .concept
        .iter()
        .find(|c| c.code == kind)
        .map(|c| c.display.clone())
        .unwrap_or_else(|| kind.to_string());
    Coding {
        system: TOPICS.url.clone(),
        code: kind.to_string(),
        display,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind `Assessment::kind` can return; a new kind must be added here and to the
    /// code system.
    const KINDS: [&str; 6] = [
        "ineligible",
        "undetermined",
        "dose-mismatch",
        "documentation-gaps",
        "dose-matches",
        "dose-unchecked",
    ];

    #[test]
    fn every_kind_has_a_code_with_a_display_and_nothing_else_is_published() {
        assert_eq!(system(), "urn:omalizumab-cds:card-topic");
        for kind in KINDS {
            let c = topic(kind);
            assert_eq!(c.code, kind);
            assert!(c.display != kind && !c.display.is_empty(), "{kind} has no display");
        }
        let mut published: Vec<&str> = TOPICS.concept.iter().map(|c| c.code.as_str()).collect();
        published.sort();
        let mut kinds = KINDS.to_vec();
        kinds.sort();
        assert_eq!(published, kinds);
    }
}
