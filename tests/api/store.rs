//! The store contract, run against both stores: SQLite and a real PostgreSQL. Then what
//! only the shared store does: replicas migrating together, one replay memory, outages.

use std::time::Duration;

use chrono::Utc;
use omalizumab_cds::auth::replay::{ReplayError, SharedReplay};
use omalizumab_cds::store::{
    AuditStore, DecisionRecord, FeedbackRecord, FeedbackWrite, IssuedCard, KindReport, PgOptions, PgStore, SqliteStore,
    StoreError, StoredCard,
};

use crate::pg::Cluster;

fn decision(cards: &[(&str, &str)]) -> DecisionRecord {
    DecisionRecord {
        at: Utc::now(),
        hook_instance: "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea".into(),
        service: "omalizumab-order-sign".into(),
        rules_version: "test".into(),
        issuer: "https://ehr.example".into(),
        patient_hash: "h".into(),
        elapsed_ms: 1.5,
        fetched_keys: 0,
        cards: cards
            .iter()
            .map(|(uuid, kind)| StoredCard {
                uuid: uuid.to_string(),
                indicator: "warning".into(),
                kind: kind.to_string(),
                override_reasons: vec!["urn:x|payer-approved".into(), "urn:x|other".into()],
            })
            .collect(),
    }
}

fn feedback(card: &str, outcome: &str, at: &str) -> FeedbackRecord {
    FeedbackRecord {
        card: card.into(),
        outcome: outcome.into(),
        accepted_suggestions: 0,
        override_reason: None,
        outcome_at: at.parse().unwrap(),
    }
}

fn counts(store: &dyn AuditStore) -> Vec<(String, u64, u64, u64)> {
    store
        .report()
        .unwrap()
        .into_iter()
        .map(|r| (r.kind, r.cards, r.accepted, r.overridden))
        .collect()
}

/// What every store must do, on a new, empty store whose salt is "Jefe".
fn contract(store: &dyn AuditStore) {
    assert_eq!(store.report().unwrap(), vec![], "a new store is empty");
    store.check_writable().unwrap();
    store
        .record_decision(&decision(&[("a", "ineligible"), ("b", "dose-mismatch")]))
        .unwrap();
    store
        .record_decisions(&[decision(&[("c", "dose-mismatch")]), decision(&[("d", "dose-mismatch")])])
        .unwrap();
    // A card uuid is issued once: the store refuses a second, and says it is no outage.
    let again = store.record_decision(&decision(&[("a", "ineligible")])).unwrap_err();
    assert!(matches!(again, StoreError::Failed(_)), "{again:?}");

    assert_eq!(
        store.issued_card("b").unwrap(),
        Some(IssuedCard {
            service: "omalizumab-order-sign".into(),
            issuer: "https://ehr.example".into(),
            override_reasons: vec!["urn:x|payer-approved".into(), "urn:x|other".into()],
        })
    );
    assert_eq!(store.issued_card("never-issued").unwrap(), None);

    let write = |f: FeedbackRecord| store.record_feedback(&f).unwrap();
    assert_eq!(
        write(feedback("b", "overridden", "2026-11-23T10:00:00Z")),
        FeedbackWrite::Recorded
    );
    assert_eq!(
        write(feedback("b", "overridden", "2026-11-23T10:00:00Z")),
        FeedbackWrite::Unchanged,
        "the same item again"
    );
    assert_eq!(
        write(feedback("b", "accepted", "2026-11-23T10:05:00Z")),
        FeedbackWrite::Recorded,
        "a later outcome replaces it"
    );
    assert_eq!(
        write(feedback("b", "overridden", "2026-11-23T10:01:00Z")),
        FeedbackWrite::Unchanged,
        "an older one arriving late does not"
    );
    let with_reason = FeedbackRecord {
        override_reason: Some("urn:x|payer-approved".into()),
        ..feedback("c", "overridden", "2026-11-23T10:00:00Z")
    };
    assert_eq!(write(with_reason.clone()), FeedbackWrite::Recorded);
    assert_eq!(write(with_reason), FeedbackWrite::Unchanged);

    let report = store.report().unwrap();
    assert_eq!(
        report,
        vec![
            KindReport {
                kind: "dose-mismatch".into(),
                cards: 3,
                accepted: 1,
                overridden: 1
            },
            KindReport {
                kind: "ineligible".into(),
                cards: 1,
                accepted: 0,
                overridden: 0
            },
        ]
    );
    // RFC 4231, test case 2: HMAC-SHA256 under the store's salt, lower-case hex.
    assert_eq!(
        store.patient_hash("what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn the_sqlite_store_keeps_the_contract() {
    contract(&SqliteStore::open(std::path::Path::new(":memory:"), Some("Jefe")).unwrap());
}

fn options(cluster: &Cluster) -> PgOptions {
    PgOptions {
        url: cluster.url(),
        password: None,
        pool_size: 4,
        timeout: Duration::from_millis(1500),
        ca_file: None,
    }
}

#[test]
fn the_postgres_store_keeps_the_contract() {
    let Some(cluster) = Cluster::start("the_postgres_store_keeps_the_contract") else {
        return;
    };
    contract(PgStore::connect(&options(&cluster), Some("Jefe")).unwrap().as_ref());
}

/// Replicas starting together: each migrates under the advisory lock, so the schema is
/// made once and every replica starts. Without the lock, replicas failed creating the
/// same tables at once.
#[test]
fn replicas_starting_together_migrate_once() {
    let Some(cluster) = Cluster::start("replicas_starting_together_migrate_once") else {
        return;
    };
    let options = options(&cluster);
    let started: Vec<_> = (0..4)
        .map(|_| {
            let options = options.clone();
            std::thread::spawn(move || PgStore::connect(&options, Some("Jefe")).map(|_| ()))
        })
        .collect();
    for replica in started {
        replica.join().unwrap().unwrap();
    }
    // Development (no configured salt): every replica reads the one salt made first.
    let a = PgStore::connect(&options, None).unwrap();
    let b = PgStore::connect(&options, None).unwrap();
    assert_eq!(a.patient_hash("pat-1"), b.patient_hash("pat-1"));
    assert_ne!(a.patient_hash("pat-1"), "pat-1");
}

#[test]
fn a_database_at_a_newer_schema_is_refused() {
    let Some(cluster) = Cluster::start("a_database_at_a_newer_schema_is_refused") else {
        return;
    };
    let options = options(&cluster);
    drop(PgStore::connect(&options, Some("Jefe")).unwrap());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&cluster.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .execute("INSERT INTO schema_migration (version) VALUES (99)", &[])
            .await
            .unwrap();
    });
    let refused = PgStore::connect(&options, Some("Jefe")).map(|_| ()).unwrap_err();
    assert!(refused.to_string().contains("newer than this build"), "{refused}");
}

/// Two stores on one database are two replicas: an id one remembered is a replay to the
/// other; each issuer has its own quota; an expired id is free again.
#[tokio::test]
async fn replicas_share_one_replay_memory_with_a_quota_per_issuer() {
    let Some(cluster) = Cluster::start("replicas_share_one_replay_memory_with_a_quota_per_issuer") else {
        return;
    };
    let options = options(&cluster);
    let (a, b) = tokio::task::spawn_blocking(move || {
        (
            PgStore::connect(&options, Some("Jefe")).unwrap(),
            PgStore::connect(&options, Some("Jefe")).unwrap(),
        )
    })
    .await
    .unwrap();
    // Real times: the replicas' cleaners delete what is past by their clocks.
    let now = crate::keys::now();
    let until = now + 330;
    assert_eq!(a.remember("ehr-1", "j1", until, now, 2).await, Ok(()));
    assert_eq!(
        b.remember("ehr-1", "j1", until, now, 2).await,
        Err(ReplayError::Replayed)
    );
    assert_eq!(
        a.remember("ehr-1", "j1", until, now, 2).await,
        Err(ReplayError::Replayed)
    );
    assert_eq!(
        b.remember("ehr-2", "j1", until, now, 2).await,
        Ok(()),
        "another issuer's id space"
    );
    assert_eq!(a.remember("ehr-1", "j2", until, now, 2).await, Ok(()));
    // ehr-1 has two unexpired ids: its quota is full, exactly, for the replica that took them...
    assert_eq!(a.remember("ehr-1", "j3", until, now, 2).await, Err(ReplayError::Full));
    // ...and for the others from their next count (every 10 s, or now).
    b.clean_replay_memory().await.unwrap();
    assert_eq!(b.fill("ehr-1"), 2);
    assert_eq!(b.remember("ehr-1", "j3", until, now, 2).await, Err(ReplayError::Full));
    assert_eq!(
        b.remember("ehr-2", "j3", until, now, 2).await,
        Ok(()),
        "ehr-2 is not locked out"
    );
    // Once the tokens are past exp + skew, their ids are forgotten and the quota frees.
    // (As a clock past `until` sees it; the rows are not cleaned yet by the real clock.)
    let later = until + 1;
    assert_eq!(a.remember("ehr-1", "j1", later + 300, later, 2).await, Ok(()));
    assert_eq!(b.remember("ehr-1", "j3", later + 300, later, 2).await, Ok(()));
    assert_eq!(
        a.remember("ehr-1", "j1", later + 300, later, 2).await,
        Err(ReplayError::Replayed)
    );
}

/// The database stops: every call says the store is unreachable (not refused), in about
/// the configured time; it comes back: the same stores work again, no restart needed.
#[tokio::test]
async fn an_outage_is_reported_as_unreachable_and_the_store_recovers() {
    let Some(cluster) = Cluster::start("an_outage_is_reported_as_unreachable_and_the_store_recovers") else {
        return;
    };
    let options = options(&cluster);
    let store = tokio::task::spawn_blocking(move || PgStore::connect(&options, Some("Jefe")).unwrap())
        .await
        .unwrap();
    assert_eq!(
        store
            .remember("ehr-1", "j1", crate::keys::now() + 300, crate::keys::now(), 10)
            .await,
        Ok(())
    );
    cluster.stop();
    let started = std::time::Instant::now();
    assert_eq!(
        store
            .remember("ehr-1", "j2", crate::keys::now() + 300, crate::keys::now(), 10)
            .await,
        Err(ReplayError::Unavailable)
    );
    let s = store.clone();
    let (write, ready) =
        tokio::task::spawn_blocking(move || (s.record_decision(&decision(&[("a", "ineligible")])), s.check_writable()))
            .await
            .unwrap();
    assert!(write.unwrap_err().is_unavailable());
    assert!(ready.unwrap_err().is_unavailable());
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    cluster.resume();
    let s = store.clone();
    let after = tokio::task::spawn_blocking(move || {
        s.record_decision(&decision(&[("a", "ineligible")])).unwrap();
        s.check_writable().unwrap();
        counts(s.as_ref())
    })
    .await
    .unwrap();
    assert_eq!(after, vec![("ineligible".into(), 1, 0, 0)]);
    assert_eq!(
        store
            .remember("ehr-1", "j1", crate::keys::now() + 300, crate::keys::now(), 10)
            .await,
        Err(ReplayError::Replayed)
    );
}
