//! Every scenario in fixtures/: the expected assessment (from the reference sheet),
//! the same in prefetch mode and in fetch mode.

use serde_json::{Value, json};

use crate::helpers::{assert_clean, extension, scenario, scenario_names, spawn_app};

async fn cards(app: &crate::helpers::TestApp, body: &Value) -> Value {
    let resp = app.post_hook("omalizumab-order-sign", body).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_clean(&v);
    v
}

#[tokio::test]
async fn every_scenario_in_prefetch_mode_and_fetch_mode() {
    let names = scenario_names();
    assert!(names.len() >= 8, "{names:?}");
    // Every scenario is checked and every mismatch reported, so one run shows them all.
    let mut failures = Vec::new();
    for name in names {
        let app = spawn_app().await;
        let s = scenario(&name);
        s.mount(&app.fhir).await;

        let prefetched = cards(&app, &s.order_sign(Some(s.prefetch()), None)).await;
        let fetched = cards(&app, &s.order_sign(None, Some(&app.fhir_base()))).await;
        match &s.expected {
            Value::Null => {
                if prefetched != json!({"cards": []}) || fetched != json!({"cards": []}) {
                    failures.push(format!("{name}: expected no card"));
                }
            }
            expected => {
                for (mode, got) in [("prefetch", &prefetched), ("fetch", &fetched)] {
                    if extension(&got["cards"][0]) != expected {
                        failures.push(format!(
                            "{name} ({mode}):\n  expected {expected}\n  got      {}",
                            extension(&got["cards"][0])
                        ));
                    }
                }
                assert_eq!(
                    prefetched["cards"][0]["summary"], fetched["cards"][0]["summary"],
                    "{name}"
                );
                assert_eq!(
                    prefetched["cards"][0]["indicator"], fetched["cards"][0]["indicator"],
                    "{name}"
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn the_acceptance_card_reads_right() {
    let app = spawn_app().await;
    let s = scenario("asthma-adult-dose-mismatch");
    let body = cards(&app, &s.order_sign(Some(s.prefetch()), None)).await;
    let card = &body["cards"][0];
    assert_eq!(card["indicator"], "warning");
    assert_eq!(
        card["summary"],
        "Omalizumab: label table dose is 225 mg every 2 weeks; order is 300 mg every 4 weeks"
    );
    let detail = card["detail"].as_str().unwrap();
    for needle in [
        "225 mg every 2 weeks",
        ">200-300",
        ">70-90",
        "J2357 x 60",
        "96372",
        "J45.50",
        "JZ",
        "Boxed warning",
    ] {
        assert!(detail.contains(needle), "{needle} not in detail:\n{detail}");
    }
    // A suggestion rewrites the whole order to 225 mg every 2 weeks.
    let suggestion = &card["suggestions"][0];
    assert_eq!(suggestion["isRecommended"], true);
    let action = &suggestion["actions"][0];
    assert_eq!(action["type"], "update");
    let resource = &action["resource"];
    assert_eq!(resource["resourceType"], "MedicationRequest");
    assert_eq!(resource["id"], "order-1");
    assert_eq!(resource["subject"], s.order["subject"]);
    assert_eq!(
        resource["medicationCodeableConcept"],
        s.order["medicationCodeableConcept"]
    );
    let dosage = &resource["dosageInstruction"][0];
    assert_eq!(dosage["doseAndRate"][0]["doseQuantity"]["value"], 225);
    assert_eq!(dosage["doseAndRate"][0]["doseQuantity"]["code"], "mg");
    assert_eq!(
        dosage["timing"]["repeat"],
        json!({"frequency": 1, "period": 2, "periodUnit": "wk"})
    );
    assert_eq!(dosage["route"], s.order["dosageInstruction"][0]["route"]);
}

#[tokio::test]
async fn no_dose_in_table_is_critical_and_a_new_ige_is_suggested_only_before_treatment() {
    let app = spawn_app().await;
    let s = scenario("asthma-no-dose-in-table");
    let body = cards(&app, &s.order_sign(Some(s.prefetch()), None)).await;
    assert_eq!(body["cards"][0]["indicator"], "critical");
    assert!(body["cards"][0]["summary"].as_str().unwrap().contains("no dose"));

    let creates = |card: &Value| -> Vec<Value> {
        card["suggestions"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["actions"].as_array().unwrap().clone())
            .filter(|a| a["type"] == "create")
            .collect()
    };
    // On treatment, an IgE drawn now is raised by the drug: the original pretreatment
    // value is what the card asks for, and no new test is offered.
    let s = scenario("asthma-ige-not-pretreatment");
    let body = cards(&app, &s.order_sign(Some(s.prefetch()), None)).await;
    let card = &body["cards"][0];
    assert_eq!(card["indicator"], "warning");
    assert_eq!(creates(card), Vec::<Value>::new());

    // Never treated and no IgE on the chart: the test is offered.
    let s = scenario("asthma-weight-and-ige-missing");
    let body = cards(&app, &s.order_sign(Some(s.prefetch()), None)).await;
    let created = creates(&body["cards"][0]);
    let create = created.first().expect("a create action");
    assert_eq!(create["resource"]["resourceType"], "ServiceRequest");
    assert_eq!(create["resource"]["code"]["coding"][0]["code"], "19113-0");
    assert_eq!(
        create["resource"]["subject"]["reference"],
        format!("Patient/{}", s.patient_id())
    );
}

#[tokio::test]
async fn unverified_tables_say_the_cell_was_not_checked() {
    let app = spawn_app().await;
    let s = scenario("food-allergy-child-unverified-table");
    let body = cards(&app, &s.order_sign(Some(s.prefetch()), None)).await;
    let card = &body["cards"][0];
    assert!(card["detail"].as_str().unwrap().contains("could not be checked"));
    assert!(extension(card).get("doseMatches").is_none());
    assert!(extension(card).get("recommendedDose").is_none());
}

/// An EHR-like client: reads discovery, renders each prefetch template with the hook's
/// context, runs it against the FHIR server, and sends the results as prefetch. It must get
/// the same assessment as a client that sends no prefetch at all.
#[tokio::test]
async fn a_client_filling_prefetch_from_discovery_gets_the_same_assessment() {
    let app = spawn_app().await;
    let discovery: Value = app.get_discovery().await.json().await.unwrap();
    let service = discovery["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "omalizumab-order-sign")
        .unwrap()
        .clone();
    for name in [
        "asthma-adult-dose-mismatch",
        "asthma-adult-epic-shaped-match",
        "asthma-ige-not-pretreatment",
    ] {
        let s = scenario(name);
        s.mount(&app.fhir).await;
        let mut prefetch = serde_json::Map::new();
        for (key, template) in service["prefetch"].as_object().unwrap() {
            let query = template
                .as_str()
                .unwrap()
                .replace("{{context.patientId}}", &s.patient_id())
                .replace("{{context.userId}}", "Practitioner/dr-1");
            let value: Value = app
                .client
                .get(format!("{}/{query}", app.fhir_base()))
                .bearer_auth(crate::helpers::TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            prefetch.insert(key.clone(), value);
        }
        let with = cards(&app, &s.order_sign(Some(Value::Object(prefetch)), None)).await;
        let without = cards(&app, &s.order_sign(None, Some(&app.fhir_base()))).await;
        assert_eq!(extension(&with["cards"][0]), &s.expected, "{name}");
        assert_eq!(extension(&with["cards"][0]), extension(&without["cards"][0]), "{name}");
    }
}

/// What was read with less certainty, or could not be read, is said on the card in plain
/// words; an unreadable dose never leaves a routine card, and could-not-read is never a gap.
#[tokio::test]
async fn uncertain_and_unreadable_readings_are_said_on_the_card() {
    let app = spawn_app().await;
    let card_of = |name: &str| {
        let s = scenario(name);
        let body = s.order_sign(Some(s.prefetch()), None);
        (s, body)
    };
    let (_, body) = card_of("epic-dose-unit-unknown-dose-unreadable");
    let card = &cards(&app, &body).await["cards"][0];
    assert_eq!(card["indicator"], "warning");
    assert!(
        card["summary"].as_str().unwrap().contains("could not be read"),
        "{card}"
    );
    let detail = card["detail"].as_str().unwrap();
    assert!(detail.contains("could not be read as mg"), "{detail}");
    assert!(!detail.contains("dose-missing"), "{detail}");

    let (_, body) = card_of("epic-sig-text-only-300mg-q4w");
    let card = &cards(&app, &body).await["cards"][0];
    assert!(
        card["summary"].as_str().unwrap().contains("read from the order text"),
        "{card}"
    );
    assert!(
        card["detail"].as_str().unwrap().contains("read from the sig text"),
        "{card}"
    );

    // The chart's own diagnosis, never the indication's label in its place.
    let (_, body) = card_of("epic-renewal-mild-intermittent-ige-on-treatment");
    let detail = cards(&app, &body).await["cards"][0]["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("mild intermittent"), "{detail}");
    assert!(
        !detail.contains("moderate-to-severe persistent asthma (J45.21)"),
        "{detail}"
    );

    let (_, body) = card_of("hl7-weight-185-lb-av-four-codings");
    let detail = cards(&app, &body).await["cards"][0]["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("185 lb = 83.9 kg"), "{detail}");
}

/// Epic sends the schedule twice, coded (`timing.code` "Every 28 days") and structured,
/// with the first dose's date in `repeat.boundsPeriod`. The suggested update keeps that date
/// and drops the coded schedule it would contradict.
#[tokio::test]
async fn the_suggested_update_keeps_the_start_date_and_drops_the_old_coded_schedule() {
    let app = spawn_app().await;
    let s = scenario("epic-ordered-600mg-twice-table-dose");
    let request = s.order_sign(Some(s.prefetch()), None);
    let timing = &request["context"]["draftOrders"]["entry"][0]["resource"]["dosageInstruction"][0]["timing"];
    assert!(
        timing["code"].is_object() && timing["repeat"]["boundsPeriod"].is_object(),
        "{timing}"
    );
    let body = cards(&app, &request).await;
    let updates: Vec<&Value> = body["cards"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["suggestions"].as_array().into_iter().flatten())
        .flat_map(|s| s["actions"].as_array().unwrap())
        .filter(|a| a["type"] == "update")
        .collect();
    assert!(!updates.is_empty(), "{body}");
    for update in updates {
        let new = &update["resource"]["dosageInstruction"][0]["timing"];
        assert_eq!(new["repeat"]["boundsPeriod"], timing["repeat"]["boundsPeriod"], "{new}");
        assert!(new.get("code").is_none(), "{new}");
        assert_eq!(new["repeat"]["frequency"], 1, "{new}");
    }
}

/// An order without a dose or interval is an order to complete, not paperwork for a payer:
/// the card says so first and offers the label's dose; the extension still lists both.
#[tokio::test]
async fn an_order_without_a_dose_is_to_be_completed_with_the_label_dose_offered() {
    let app = spawn_app().await;
    let s = scenario("asthma-order-without-dose");
    let body = cards(&app, &s.order_sign(Some(s.prefetch()), None)).await;
    let card = &body["cards"][0];
    let summary = card["summary"].as_str().unwrap();
    assert_eq!(
        summary,
        "Omalizumab: the order has no dose or interval; the label's dose is 225 mg every 2 weeks"
    );
    let detail = card["detail"].as_str().unwrap();
    assert!(detail.starts_with("**Complete the order before signing:**"), "{detail}");
    assert!(!detail.contains("dose-missing"), "{detail}");
    assert!(!detail.contains("Missing for prior authorization"), "{detail}");
    assert_eq!(extension(card)["gaps"], json!(["dose-missing", "interval-missing"]));
    let update = &card["suggestions"][0]["actions"][0];
    assert_eq!(update["type"], "update");
    let dosage = &update["resource"]["dosageInstruction"][0];
    assert_eq!(dosage["doseAndRate"][0]["doseQuantity"]["value"], 225);
    assert_eq!(dosage["timing"]["repeat"]["period"], 2);
}
