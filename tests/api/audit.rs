//! Every hook decision and feedback item goes to the audit store; the report gives
//! acceptance and override rates per card kind; no patient identifier is stored.

use omalizumab_cds::store::{AuditStore, SqliteStore};
use serde_json::{Value, json};

use crate::helpers::{AUDIT_SALT, scenario, spawn_app};

#[tokio::test]
async fn decisions_and_feedback_are_stored_and_reported_without_patient_ids() {
    let app = spawn_app().await;
    let mismatch = scenario("asthma-adult-dose-mismatch");
    let nodose = scenario("asthma-no-dose-in-table");
    let mut cards = Vec::new();
    let mut reasons = Vec::new();
    for s in [&mismatch, &mismatch, &nodose] {
        let body = app
            .hook_json("omalizumab-order-sign", &s.order_sign(Some(s.prefetch()), None))
            .await;
        cards.push(body["cards"][0]["uuid"].as_str().unwrap().to_string());
        reasons.push(body["cards"][0]["overrideReasons"][0].clone());
    }
    let feedback = json!({"feedback": [
        {"card": cards[0], "outcome": "accepted", "outcomeTimestamp": "2026-11-23T10:00:00Z",
         "acceptedSuggestions": [{"id": "s1"}]},
        {"card": cards[2], "outcome": "overridden", "outcomeTimestamp": "2026-11-23T10:01:00Z",
         "overrideReason": {"reason": reasons[2], "userComment": "known patient"}}
    ]});
    let resp = app.post_feedback("omalizumab-order-sign", &feedback).await;
    assert_eq!(resp.status(), 200);
    // Delivered twice: recorded once.
    let resp = app.post_feedback("omalizumab-order-sign", &feedback).await;
    assert_eq!(resp.status(), 200);

    let path = app.dir.path().join("audit.sqlite");
    let store = SqliteStore::open(&path, Some(AUDIT_SALT)).unwrap();
    // Decisions are written by the audit writer thread, within milliseconds of the answer.
    let mut report = store.report().unwrap();
    for _ in 0..100 {
        if report.iter().map(|r| r.cards).sum::<u64>() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        report = store.report().unwrap();
    }
    let row = |kind: &str| {
        report
            .iter()
            .find(|r| r.kind == kind)
            .unwrap_or_else(|| panic!("{kind}: {report:?}"))
    };
    assert_eq!((row("dose-mismatch").cards, row("dose-mismatch").accepted), (2, 1));
    assert_eq!((row("ineligible").cards, row("ineligible").overridden), (1, 1));
    assert_eq!(row("dose-mismatch").acceptance_rate(), 50.0);

    let bytes = std::fs::read(&path).unwrap();
    let wal = std::fs::read(path.with_extension("sqlite-wal")).unwrap_or_default();
    let everything = String::from_utf8_lossy(&[bytes, wal].concat()).into_owned();
    for secret in [
        mismatch.patient_id(),
        nodose.patient_id(),
        "known patient".into(),
        "Testpatient".into(),
    ] {
        assert!(!everything.contains(&secret), "`{secret}` is stored");
    }
    assert!(
        everything.contains(&store.patient_hash(&mismatch.patient_id())),
        "the salted hash is stored"
    );
}

#[tokio::test]
async fn readiness_fails_when_the_store_cannot_be_written() {
    let app = spawn_app().await;
    let path = app.dir.path().join("audit.sqlite");
    // Another connection holds the write lock, as a stuck writer or a read-only disk would.
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE;").unwrap();
    let resp = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "store not writable");
    blocker.execute_batch("ROLLBACK;").unwrap();
    let resp = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}
