//! Requirement 19: feedback.

use serde_json::{Value, json};

use omalizumab_cds::store::{AuditStore, SqliteStore};

use crate::helpers::spawn_app;

#[tokio::test]
async fn feedback_is_accepted_idempotently_and_bad_items_are_named() {
    let app = spawn_app().await;
    let s = crate::helpers::scenario("asthma-adult-dose-mismatch");
    let answer = app
        .hook_json("omalizumab-order-sign", &s.order_sign(Some(s.prefetch()), None))
        .await;
    let card = &answer["cards"][0];
    let item = json!({"card": card["uuid"], "outcome": "overridden",
        "overrideReason": {"reason": card["overrideReasons"][0]},
        "outcomeTimestamp": "2026-11-23T10:15:00Z"});
    let body = json!({"feedback": [item]});
    for _ in 0..2 {
        let resp = app.post_feedback("omalizumab-order-sign", &body).await;
        assert_eq!(resp.status(), 200);
    }

    let bad = json!({"feedback": [item, {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-11-23T10:15:00Z"}]});
    let resp = app.post_feedback("omalizumab-order-sign", &bad).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    let msg = v["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        msg.contains("feedback[1]") && msg.contains("acceptedSuggestions"),
        "{msg}"
    );

    assert_eq!(app.post_feedback("nope", &body).await.status(), 404);
}

/// Issue 13 item 8: feedback was stored for any uuid from any caller, several outcomes
/// per card were all counted, and caller text was stored. Now only cards this service
/// issued, to this caller and service, with override codes the card offered, one current
/// outcome per card (the latest), and a bounded number of items per request.
#[tokio::test]
async fn feedback_is_bound_to_cards_issued_and_keeps_one_outcome_per_card() {
    let app = spawn_app().await;
    let s = crate::helpers::scenario("asthma-adult-dose-mismatch");
    let body = app
        .hook_json("omalizumab-order-sign", &s.order_sign(Some(s.prefetch()), None))
        .await;
    let card = &body["cards"][0];
    let uuid = card["uuid"].as_str().unwrap().to_string();
    let offered = card["overrideReasons"][0].clone();
    let item = |card: &str, reason: Value, at: &str| {
        json!({"card": card, "outcome": "overridden", "outcomeTimestamp": at,
               "overrideReason": {"reason": reason, "userComment": "patient Zebulonsky 1991-05-14"}})
    };
    let status = |resp: reqwest::Response| async move {
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        (
            status,
            body["issue"][0]["diagnostics"].as_str().unwrap_or("").to_string(),
        )
    };

    // A uuid this service never issued, and one that is not a uuid at all.
    for never in ["0b6a4c1e-3f1d-4d6e-9a55-1f2e3d4c5b6a", "Jane Doe 1980-01-01"] {
        let (code, msg) = status(
            app.post_feedback(
                "omalizumab-order-sign",
                &json!({"feedback": [item(never, offered.clone(), "2026-11-23T10:00:00Z")]}),
            )
            .await,
        )
        .await;
        assert_eq!(code, 400, "{never}: {msg}");
        assert!(msg.contains("feedback[0]"), "{msg}");
    }
    // The right card, the wrong service.
    let (code, _) = status(
        app.post_feedback(
            "omalizumab-order-select",
            &json!({"feedback": [item(&uuid, offered.clone(), "2026-11-23T10:00:00Z")]}),
        )
        .await,
    )
    .await;
    assert_eq!(code, 400);
    // An override code the card did not offer.
    let invented = json!({"system": offered["system"], "code": "Jane-Doe-1980-01-01"});
    let (code, msg) = status(
        app.post_feedback(
            "omalizumab-order-sign",
            &json!({"feedback": [item(&uuid, invented, "2026-11-23T10:00:00Z")]}),
        )
        .await,
    )
    .await;
    assert_eq!(code, 400, "{msg}");
    assert!(msg.contains("overrideReason"), "{msg}");
    // Too many items in one request.
    let many: Vec<Value> = (0..101)
        .map(|_| item(&uuid, offered.clone(), "2026-11-23T10:00:00Z"))
        .collect();
    let (code, _) = status(
        app.post_feedback("omalizumab-order-sign", &json!({"feedback": many}))
            .await,
    )
    .await;
    assert_eq!(code, 413);

    // Overridden, then accepted later, then a late-arriving older override: the latest
    // outcome is the one counted, once.
    let ok = |v: Value| {
        let app = &app;
        async move {
            app.post_feedback("omalizumab-order-sign", &json!({"feedback": [v]}))
                .await
                .status()
                .as_u16()
        }
    };
    assert_eq!(ok(item(&uuid, offered.clone(), "2026-11-23T10:00:00Z")).await, 200);
    let accepted = json!({"card": uuid, "outcome": "accepted", "outcomeTimestamp": "2026-11-23T10:05:00Z",
                          "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}]});
    assert_eq!(ok(accepted.clone()).await, 200);
    assert_eq!(ok(accepted).await, 200, "a duplicate is fine");
    assert_eq!(ok(item(&uuid, offered.clone(), "2026-11-23T10:01:00Z")).await, 200);

    let path = app.dir.path().join("audit.sqlite");
    let store = SqliteStore::open(&path, Some("x")).unwrap();
    let report = store.report().unwrap();
    let row = report
        .iter()
        .find(|r| r.kind == "dose-mismatch")
        .expect("dose-mismatch row");
    assert_eq!((row.cards, row.accepted, row.overridden), (1, 1, 0), "{report:?}");
    let bytes = std::fs::read(&path).unwrap();
    let wal = std::fs::read(path.with_extension("sqlite-wal")).unwrap_or_default();
    let everything = String::from_utf8_lossy(&[bytes, wal].concat()).into_owned();
    for secret in ["Zebulonsky", "1991-05-14", "Jane", "0b6a4c1e-3f1d"] {
        assert!(!everything.contains(secret), "`{secret}` is stored");
    }
}
