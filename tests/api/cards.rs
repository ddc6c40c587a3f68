//! Requirements 13-18: the response and card contract, over every scenario.

use serde_json::Value;

use crate::helpers::{assert_clean, scenario, scenario_names, spawn_app};

#[tokio::test]
async fn every_card_meets_the_spec() {
    let app = spawn_app().await;
    let mut seen = 0;
    let mut topics = std::collections::BTreeSet::new();
    for name in scenario_names() {
        let s = scenario(&name);
        let resp = app
            .post_hook("omalizumab-order-sign", &s.order_sign(Some(s.prefetch()), None))
            .await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_clean(&body);
        // 13: cards, and no systemActions key when there are none.
        assert!(body["cards"].is_array());
        assert!(body.get("systemActions").is_none());
        for card in body["cards"].as_array().unwrap() {
            seen += 1;
            // 14
            let summary = card["summary"].as_str().unwrap();
            assert!(summary.chars().count() <= 139, "{name}: {summary}");
            assert!(["info", "warning", "critical"].contains(&card["indicator"].as_str().unwrap()));
            assert!(!card["source"]["label"].as_str().unwrap().is_empty());
            if let Some(url) = card["source"].get("url") {
                assert!(url::Url::parse(url.as_str().unwrap()).is_ok());
            }
            assert!(uuid::Uuid::parse_str(card["uuid"].as_str().unwrap()).is_ok());
            assert!(card["detail"].is_string());
            // 14: source.topic, a Coding for the card's kind from our code system.
            let topic = &card["source"]["topic"];
            assert_eq!(topic["system"], "urn:omalizumab-cds:card-topic", "{name}");
            assert!(!topic["display"].as_str().unwrap().is_empty(), "{name}");
            let code = topic["code"].as_str().unwrap().to_string();
            if name == "asthma-adult-dose-mismatch" {
                assert_eq!(code, "dose-mismatch");
            }
            if name == "asthma-child-below-minimum-age" {
                assert_eq!(code, "ineligible");
            }
            topics.insert(code);
            // 15
            if let Some(suggestions) = card.get("suggestions") {
                let behavior = card["selectionBehavior"]
                    .as_str()
                    .expect("selectionBehavior with suggestions");
                assert!(["at-most-one", "any"].contains(&behavior));
                let recommended = suggestions
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|s| s["isRecommended"] == true)
                    .count();
                if behavior == "at-most-one" {
                    assert!(recommended <= 1);
                }
                for s in suggestions.as_array().unwrap() {
                    assert!(!s["label"].as_str().unwrap().is_empty());
                    assert!(uuid::Uuid::parse_str(s["uuid"].as_str().unwrap()).is_ok());
                    // 16
                    for a in s["actions"].as_array().unwrap() {
                        let t = a["type"].as_str().unwrap();
                        assert!(!a["description"].as_str().unwrap().is_empty());
                        match t {
                            "create" | "update" => assert!(a["resource"]["resourceType"].is_string()),
                            "delete" => assert!(a["resourceId"].is_string()),
                            other => panic!("action type {other}"),
                        }
                    }
                }
            } else {
                assert!(card.get("selectionBehavior").is_none());
            }
            // 17
            for r in card
                .get("overrideReasons")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for k in ["system", "code", "display"] {
                    assert!(!r[k].as_str().unwrap().is_empty(), "{name}: overrideReason.{k}");
                }
            }
            // 18
            for l in card.get("links").and_then(Value::as_array).into_iter().flatten() {
                assert!(!l["label"].as_str().unwrap().is_empty());
                assert!(url::Url::parse(l["url"].as_str().unwrap()).is_ok());
                assert!(["absolute", "smart"].contains(&l["type"].as_str().unwrap()));
                if l["type"] == "absolute" {
                    assert!(l.get("appContext").is_none());
                }
            }
        }
    }
    assert!(seen >= 7, "{seen} cards checked");
    // The topic follows the card's finding, not the profile.
    assert!(topics.len() >= 4, "{topics:?}");
}

#[tokio::test]
async fn csu_mismatch_offers_both_label_doses_as_alternatives() {
    let app = spawn_app().await;
    let s = scenario("csu-antihistamine-missing");
    let mut body = s.order_sign(Some(s.prefetch()), None);
    body["context"]["draftOrders"]["entry"][0]["resource"]["dosageInstruction"][0]["timing"]["repeat"]["period"] =
        2.into();
    let resp: Value = app
        .post_hook("omalizumab-order-sign", &body)
        .await
        .json()
        .await
        .unwrap();
    let card = &resp["cards"][0];
    assert_eq!(card["selectionBehavior"], "at-most-one");
    let labels: Vec<&str> = card["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels.len(), 2, "{labels:?}");
    assert!(
        labels[0].contains("150 mg every 4 weeks") && labels[1].contains("300 mg every 4 weeks"),
        "{labels:?}"
    );
    assert!(
        card["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["isRecommended"] == false)
    );
}

/// An order that matches the label with a complete chart and nothing else to say (a
/// renewal named by its reason code): one line by default, no card with
/// CDS_QUIET_MATCHES=none, still a 200 with `cards: []`.
#[tokio::test]
async fn an_order_with_nothing_to_do_gets_one_line_or_no_card() {
    let mut s = scenario("oracle-medication-administration-pretreatment-ige-used");
    s.order["reasonCode"] =
        serde_json::json!([{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "J45.50"}]}]);
    let body = s.order_sign(Some(s.prefetch()), None);

    let app = spawn_app().await;
    let resp = app.post_hook("omalizumab-order-sign", &body).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let card = &v["cards"][0];
    assert_eq!(card["indicator"], "info");
    let detail = card["detail"].as_str().unwrap();
    assert_eq!(
        detail,
        "**Dose confirmed:** 300 mg every 2 weeks; bill J2357 x 60 units, CPT 96372, JZ."
    );
    assert_eq!(crate::helpers::extension(card)["doseMatches"], true);

    let app = crate::helpers::spawn_app_with(&[("CDS_QUIET_MATCHES", "none")]).await;
    let resp = app.post_hook("omalizumab-order-sign", &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap(), serde_json::json!({"cards": []}));

    // Anything to say keeps the card: the same order without its reason code has a note.
    let s = scenario("oracle-medication-administration-pretreatment-ige-used");
    let resp = app
        .post_hook("omalizumab-order-sign", &s.order_sign(Some(s.prefetch()), None))
        .await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["cards"].as_array().unwrap().len(), 1);
}
