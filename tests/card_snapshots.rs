//! The card's words for every fixture scenario, as snapshots (insta): any change of
//! wording, of which lines a card has, or of its indicator shows in review as a diff of
//! `tests/snapshots/`. Run with `INSTA_UPDATE=always` (or `cargo insta review`) after a
//! wording change on purpose.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use omalizumab_cds::config::Settings;
use omalizumab_cds::engine::{Engine, run_hook};
use omalizumab_cds::gather::FhirAllowlist;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn the_card_text_of_every_scenario() {
    let vars: BTreeMap<String, String> = [
        ("CDS_AUTH".to_string(), "none".to_string()),
        ("CDS_CARDS_DIR".to_string(), root().join("cards").display().to_string()),
    ]
    .into();
    let settings = Settings::from_map(&vars).unwrap();
    let built = Engine::build(&settings, FhirAllowlist::default(), settings.hook_deadline, None).unwrap();
    let service_id = built.order_sign_service().map(|(_, s)| s.id.clone()).unwrap();
    let engine = built.context();
    // The fixtures' own date: ages and the age of a weight do not move with the clock.
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let scenarios = omalizumab_cds::demo::scenarios(&root().join("fixtures/scenarios")).unwrap();
    assert!(scenarios.len() >= 40, "{} scenarios", scenarios.len());
    for (name, path) in scenarios {
        let body = std::fs::read(&path).unwrap();
        let result = run_hook(&engine, &service_id, &body, today)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut text = String::new();
        if result.response.cards.is_empty() {
            text.push_str("(no card)\n");
        }
        for card in &result.response.cards {
            let _ = writeln!(text, "[{}] {}\n", card.indicator.code(), card.summary);
            if let Some(detail) = &card.detail {
                let _ = writeln!(text, "{detail}\n");
            }
            for s in &card.suggestions {
                let star = if s.is_recommended { " (recommended)" } else { "" };
                let _ = writeln!(text, "> suggestion: {}{star}", s.label);
                for a in &s.actions {
                    let _ = writeln!(text, ">   action: {}", a.description);
                }
            }
        }
        insta::assert_snapshot!(name, text);
    }
}
