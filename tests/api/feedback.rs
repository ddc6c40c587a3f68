//! Requirement 19: feedback.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn feedback_is_accepted_idempotently_and_bad_items_are_named() {
    let app = spawn_app().await;
    let item = json!({"card": "9d2b1a55-0b7e-4d0c-9a3e-4b8f3b3b6a10", "outcome": "overridden",
        "overrideReason": {"reason": {"system": "urn:omalizumab-cds:override-reason", "code": "payer-approved", "display": "Dose approved by the payer"}},
        "outcomeTimestamp": "2026-11-23T10:15:00Z"});
    let body = json!({"feedback": [item]});
    for _ in 0..2 {
        let resp = app.post_feedback("omalizumab-order-sign", &body).await;
        assert_eq!(resp.status(), 200);
    }
    let accepted = json!({"feedback": [{"card": "c", "outcome": "accepted", "acceptedSuggestions": [{"id": "s"}], "outcomeTimestamp": "2026-11-23T10:15:00-05:00"}]});
    assert_eq!(
        app.post_feedback("omalizumab-order-select", &accepted).await.status(),
        200
    );

    let bad =
        json!({"feedback": [item, {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-23T10:15:00Z"}]});
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
