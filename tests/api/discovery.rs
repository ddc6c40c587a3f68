use serde_json::Value;

use crate::helpers::{assert_clean, spawn_app};

// Requirements 1, 2, 4.
#[tokio::test]
async fn discovery_lists_order_sign_and_order_select_services() {
    let app = spawn_app().await;
    let resp = app.get_discovery().await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_clean(&body);
    let services = body["services"].as_array().unwrap();
    let by_id = |id: &str| {
        services
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("{id} missing"))
    };
    let sign = by_id("omalizumab-order-sign");
    let select = by_id("omalizumab-order-select");
    assert_eq!(sign["hook"], "order-sign");
    assert_eq!(select["hook"], "order-select");
    for s in [sign, select] {
        assert!(s["description"].as_str().is_some_and(|d| !d.is_empty()));
        assert!(s["title"].is_string());
        assert_eq!(s["hookVersion"], "1.0");
        // [3.0] `version` is the CDS Hooks version implemented, not the service's own:
        // the rules version is an extension (and is on every card).
        assert_eq!(s["version"], "3.0.0");
        let rules = s["extension"]["omalizumab-cds.rulesVersion"].as_str().unwrap();
        assert!(rules.starts_with("omalizumab-"), "{rules}");
        let prefetch = s["prefetch"].as_object().unwrap();
        for key in [
            "patient",
            "observations",
            "conditions",
            "medicationRequests",
            "medicationStatements",
            "medicationAdministrations",
            "allergyIntolerances",
        ] {
            assert!(prefetch.contains_key(key), "{key}");
        }
    }
    // Only the configured profile is offered (ocrelizumab is loaded, not served).
    assert_eq!(services.len(), 2);
}

// Requirement 5/6: templates use only the hook's prefetch tokens, and the code lists
// come from cards/ (LOINC body weight and total IgE).
#[tokio::test]
async fn prefetch_templates_use_only_prefetch_tokens_and_coded_searches() {
    let app = spawn_app().await;
    let body: Value = app.get_discovery().await.json().await.unwrap();
    for s in body["services"].as_array().unwrap() {
        for (key, template) in s["prefetch"].as_object().unwrap() {
            let t = template.as_str().unwrap();
            let mut rest = t;
            while let Some(i) = rest.find("{{") {
                let end = rest[i..].find("}}").unwrap();
                let token = &rest[i + 2..i + end];
                assert!(
                    [
                        "context.patientId",
                        "context.userId",
                        "context.encounterId",
                        "userPractitionerId"
                    ]
                    .contains(&token),
                    "{key}: {token}"
                );
                rest = &rest[i + end + 2..];
            }
            assert!(!t.contains("draftOrders") && !t.contains("selections"), "{key}: {t}");
        }
        let obs = s["prefetch"]["observations"].as_str().unwrap();
        assert!(
            obs.contains("http://loinc.org|29463-7") && obs.contains("http://loinc.org|19113-0"),
            "{obs}"
        );
        assert!(obs.starts_with("Observation?patient={{context.patientId}}"));
    }
}

#[tokio::test]
async fn discovery_can_offer_the_second_profile_from_data_alone() {
    let app = crate::helpers::spawn_app_with(&[("CDS_PROFILES", "omalizumab,ocrelizumab")]).await;
    let body: Value = app.get_discovery().await.json().await.unwrap();
    let ids: Vec<&str> = body["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert!(ids.contains(&"ocrelizumab-order-sign"));
}
