//! The built-in scenarios: `demo` shows each one's expected assessment, and each ready
//! hook request, posted to the service as an EHR would, gets the same.

use std::collections::BTreeMap;

use omalizumab_cds::config::Settings;
use serde_json::Value;

use crate::helpers::{cards_dir, scenario, scenario_names, spawn_app};

fn fixtures() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios")
}

#[tokio::test]
async fn the_demo_prints_every_scenarios_expected_assessment() {
    let vars: BTreeMap<String, String> = [
        ("CDS_AUTH".to_string(), "none".to_string()),
        ("CDS_CARDS_DIR".to_string(), cards_dir().display().to_string()),
    ]
    .into();
    let settings = Settings::from_map(&vars).unwrap();
    let text = omalizumab_cds::demo::run(&settings, &fixtures()).await.unwrap();
    for name in scenario_names() {
        let section = text
            .split("== ")
            .find(|s| s.starts_with(&format!("{name} ==")))
            .unwrap_or_else(|| panic!("{name} missing from the demo:\n{text}"));
        let expected = scenario(&name).expected;
        let shown: Vec<Value> = section
            .lines()
            .filter_map(|l| l.strip_prefix("assessment: "))
            .map(|j| serde_json::from_str::<Value>(j).unwrap()["omalizumab-cds.assessment"].clone())
            .collect();
        if expected.is_null() {
            assert!(shown.is_empty() && section.contains("no card"), "{section}");
        } else {
            assert_eq!(shown, vec![expected], "{name}");
            assert!(
                section.contains("facts used for") && section.contains("card:"),
                "{section}"
            );
        }
    }
}

#[tokio::test]
async fn each_ready_hook_request_gets_the_expected_assessment_from_the_service() {
    let app = spawn_app().await;
    app.expect_no_fhir_calls().await;
    for name in scenario_names() {
        let request: Value =
            serde_json::from_slice(&std::fs::read(fixtures().join(&name).join("hook-request.json")).unwrap()).unwrap();
        let body = app.hook_json("omalizumab-order-sign", &request).await;
        let expected = scenario(&name).expected;
        let cards = body["cards"].as_array().unwrap_or_else(|| panic!("{name}: {body}"));
        if expected.is_null() {
            assert!(cards.is_empty(), "{name}");
        } else {
            assert_eq!(crate::helpers::extension(&cards[0]), &expected, "{name}");
        }
    }
}
