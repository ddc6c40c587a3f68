//! The embedded store: one SQLite file (WAL), schema migrated at open by
//! `PRAGMA user_version`. Calls are short and synchronous; the HTTP layer runs them on
//! the blocking pool.

use std::path::Path;
use std::sync::Mutex;

use aws_lc_rs::hmac;
use rusqlite::{Connection, OptionalExtension, params};

use chrono::{DateTime, Utc};

use super::{AuditStore, DecisionRecord, FeedbackRecord, FeedbackWrite, IssuedCard, KindReport, StoreError};

/// Each entry moves the schema one version up; never edit a released one.
const MIGRATIONS: &[&str] = &[
    // 1: decisions, their cards, feedback, and the salt for patient hashes.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE decision (
         id INTEGER PRIMARY KEY,
         at TEXT NOT NULL,
         hook_instance TEXT NOT NULL,
         service TEXT NOT NULL,
         rules_version TEXT NOT NULL,
         patient_hash TEXT NOT NULL,
         elapsed_ms REAL NOT NULL,
         fetched_keys INTEGER NOT NULL);
     CREATE TABLE card (
         uuid TEXT PRIMARY KEY,
         decision_id INTEGER NOT NULL REFERENCES decision(id),
         indicator TEXT NOT NULL,
         kind TEXT NOT NULL);
     CREATE TABLE feedback (
         id INTEGER PRIMARY KEY,
         service TEXT NOT NULL,
         card_uuid TEXT NOT NULL,
         outcome TEXT NOT NULL,
         accepted_suggestions INTEGER NOT NULL,
         override_reason TEXT,
         outcome_at TEXT NOT NULL,
         UNIQUE (card_uuid, outcome, outcome_at));
     CREATE INDEX feedback_card ON feedback (card_uuid);",
    // 2: feedback bound to cards (issue 13). Each card records the issuer it was issued
    // to and the override reasons it offered; one current outcome per card replaces the
    // log of every item. Cards from before keep an empty issuer, so no authenticated
    // caller can post feedback for them. Their latest outcome is kept; stored override
    // codes are dropped, as they were caller text never checked against the card, and so
    // is feedback for uuids this service never issued.
    "ALTER TABLE card ADD COLUMN issuer TEXT NOT NULL DEFAULT '';
     ALTER TABLE card ADD COLUMN override_reasons TEXT NOT NULL DEFAULT '';
     CREATE TABLE card_feedback (
         card_uuid TEXT PRIMARY KEY REFERENCES card(uuid),
         outcome TEXT NOT NULL,
         accepted_suggestions INTEGER NOT NULL,
         override_reason TEXT,
         outcome_at TEXT NOT NULL);
     INSERT INTO card_feedback (card_uuid, outcome, accepted_suggestions, override_reason, outcome_at)
         SELECT f.card_uuid, f.outcome, f.accepted_suggestions, NULL, f.outcome_at
         FROM feedback f JOIN card c ON c.uuid = f.card_uuid
         WHERE f.id = (SELECT f2.id FROM feedback f2 WHERE f2.card_uuid = f.card_uuid
                       ORDER BY f2.outcome_at DESC, f2.id DESC LIMIT 1);
     DROP TABLE feedback;",
];

pub struct SqliteStore {
    conn: Mutex<Connection>,
    salt: hmac::Key,
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Failed(e.to_string())
}

impl SqliteStore {
    /// Open (creating if needed) and migrate. `path` `:memory:` keeps nothing on disk.
    /// Without a configured salt, one is made at creation and kept in the database.
    pub fn open(path: &Path, salt: Option<&str>) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path).map_err(|e| StoreError::Failed(format!("{}: {e}", path.display())))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
        migrate(&mut conn)?;
        let salt = match salt {
            Some(s) => s.to_string(),
            None => stored_salt(&conn)?,
        };
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            salt: hmac::Key::new(hmac::HMAC_SHA256, salt.as_bytes()),
        })
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Failed("connection lock poisoned".into()))
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(err)?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(StoreError::Failed(format!(
            "the database is at schema {version}, newer than this build ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction().map_err(err)?;
        tx.execute_batch(sql).map_err(err)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(err)?;
        tx.commit().map_err(err)?;
    }
    Ok(())
}

fn insert_decision(tx: &rusqlite::Transaction<'_>, d: &DecisionRecord) -> rusqlite::Result<()> {
    // Cached statements: parsing the SQL again for every decision cost more than the insert.
    tx.prepare_cached(
        "INSERT INTO decision (at, hook_instance, service, rules_version, patient_hash, elapsed_ms, fetched_keys)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        d.at.to_rfc3339(),
        d.hook_instance,
        d.service,
        d.rules_version,
        d.patient_hash,
        d.elapsed_ms,
        d.fetched_keys as i64
    ])?;
    let id = tx.last_insert_rowid();
    let mut insert = tx.prepare_cached(
        "INSERT INTO card (uuid, decision_id, indicator, kind, issuer, override_reasons)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for c in &d.cards {
        insert.execute(params![
            c.uuid,
            id,
            c.indicator,
            c.kind,
            d.issuer,
            c.override_reasons.join("\n")
        ])?;
    }
    Ok(())
}

fn stored_salt(conn: &Connection) -> Result<String, StoreError> {
    let existing: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'salt'", [], |r| r.get(0))
        .optional()
        .map_err(err)?;
    if let Some(salt) = existing {
        return Ok(salt);
    }
    let salt = super::new_salt()?;
    conn.execute("INSERT INTO meta (key, value) VALUES ('salt', ?1)", [&salt])
        .map_err(err)?;
    Ok(salt)
}

impl AuditStore for SqliteStore {
    fn record_decision(&self, d: &DecisionRecord) -> Result<(), StoreError> {
        self.record_decisions(std::slice::from_ref(d))
    }

    /// One transaction for the lot: the writer thread hands over up to a few hundred.
    fn record_decisions(&self, decisions: &[DecisionRecord]) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(err)?;
        for d in decisions {
            insert_decision(&tx, d).map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    fn issued_card(&self, uuid: &str) -> Result<Option<IssuedCard>, StoreError> {
        let conn = self.conn()?;
        conn.prepare_cached(
            "SELECT d.service, c.issuer, c.override_reasons
             FROM card c JOIN decision d ON d.id = c.decision_id WHERE c.uuid = ?1",
        )
        .and_then(|mut select| {
            select
                .query_row([uuid], |r| {
                    let reasons: String = r.get(2)?;
                    Ok(IssuedCard {
                        service: r.get(0)?,
                        issuer: r.get(1)?,
                        override_reasons: reasons
                            .split('\n')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect(),
                    })
                })
                .optional()
        })
        .map_err(err)
    }

    fn record_feedback(&self, f: &FeedbackRecord) -> Result<FeedbackWrite, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(err)?;
        let current: Option<(String, i64, Option<String>, String)> = tx
            .query_row(
                "SELECT outcome, accepted_suggestions, override_reason, outcome_at
                 FROM card_feedback WHERE card_uuid = ?1",
                [&f.card],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(err)?;
        if let Some((outcome, accepted, reason, at)) = current {
            let at = DateTime::parse_from_rfc3339(&at).map_err(err)?.with_timezone(&Utc);
            let same = outcome == f.outcome
                && accepted == f.accepted_suggestions as i64
                && reason == f.override_reason
                && at == f.outcome_at;
            // Last wins by the clinician's time, not by arrival: EHRs retry and reorder.
            if same || at > f.outcome_at {
                return Ok(FeedbackWrite::Unchanged);
            }
        }
        tx.execute(
            "INSERT INTO card_feedback (card_uuid, outcome, accepted_suggestions, override_reason, outcome_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (card_uuid) DO UPDATE SET outcome = excluded.outcome,
                 accepted_suggestions = excluded.accepted_suggestions,
                 override_reason = excluded.override_reason, outcome_at = excluded.outcome_at",
            params![
                f.card,
                f.outcome,
                f.accepted_suggestions as i64,
                f.override_reason,
                f.outcome_at.to_rfc3339()
            ],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(FeedbackWrite::Recorded)
    }

    fn patient_hash(&self, patient_id: &str) -> String {
        super::hmac_hex(&self.salt, patient_id)
    }

    fn report(&self) -> Result<Vec<KindReport>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(
                "SELECT c.kind, COUNT(*),
                        COALESCE(SUM(f.outcome = 'accepted'), 0),
                        COALESCE(SUM(f.outcome = 'overridden'), 0)
                 FROM card c LEFT JOIN card_feedback f ON f.card_uuid = c.uuid
                 GROUP BY c.kind ORDER BY c.kind",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(KindReport {
                    kind: r.get(0)?,
                    cards: r.get::<_, i64>(1)? as u64,
                    accepted: r.get::<_, i64>(2)? as u64,
                    overridden: r.get::<_, i64>(3)? as u64,
                })
            })
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        let conn = self.conn()?;
        // Take the write lock and let it go: fails if the file is read-only or locked.
        conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;").map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(cards: &[(&str, &str)]) -> DecisionRecord {
        DecisionRecord::example(cards)
    }

    fn feedback(card: &str, outcome: &str) -> FeedbackRecord {
        FeedbackRecord {
            card: card.into(),
            outcome: outcome.into(),
            accepted_suggestions: 0,
            override_reason: None,
            outcome_at: "2026-11-23T10:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn the_report_counts_acceptance_and_overrides_per_kind() {
        let store = SqliteStore::open(Path::new(":memory:"), Some("salt")).unwrap();
        store
            .record_decision(&decision(&[("a", "dose-mismatch"), ("b", "dose-mismatch")]))
            .unwrap();
        store.record_decision(&decision(&[("c", "ineligible")])).unwrap();
        assert_eq!(
            store.record_feedback(&feedback("a", "accepted")).unwrap(),
            FeedbackWrite::Recorded
        );
        assert_eq!(
            store.record_feedback(&feedback("a", "accepted")).unwrap(),
            FeedbackWrite::Unchanged,
            "a duplicate"
        );
        assert_eq!(
            store.record_feedback(&feedback("c", "overridden")).unwrap(),
            FeedbackWrite::Recorded
        );
        let report = store.report().unwrap();
        assert_eq!(
            report,
            vec![
                KindReport {
                    kind: "dose-mismatch".into(),
                    cards: 2,
                    accepted: 1,
                    overridden: 0
                },
                KindReport {
                    kind: "ineligible".into(),
                    cards: 1,
                    accepted: 0,
                    overridden: 1
                },
            ]
        );
        assert_eq!(report[0].acceptance_rate(), 50.0);
        assert_eq!(report[1].override_rate(), 100.0);
        store.check_writable().unwrap();
    }

    #[test]
    fn the_salt_is_made_once_and_kept_and_hashes_hide_the_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.sqlite");
        let first = SqliteStore::open(&path, None).unwrap().patient_hash("pat-1");
        let again = SqliteStore::open(&path, None).unwrap().patient_hash("pat-1");
        assert_eq!(first, again);
        assert_eq!(first.len(), 64);
        assert!(!first.contains("pat-1"));
        let other = tempfile::tempdir().unwrap();
        let elsewhere = SqliteStore::open(&other.path().join("a.sqlite"), None)
            .unwrap()
            .patient_hash("pat-1");
        assert_ne!(first, elsewhere, "each database has its own salt");
        let configured = SqliteStore::open(&other.path().join("b.sqlite"), Some("s")).unwrap();
        assert_eq!(
            configured.patient_hash("pat-1"),
            SqliteStore::open(Path::new(":memory:"), Some("s"))
                .unwrap()
                .patient_hash("pat-1")
        );
    }

    #[test]
    fn the_patient_hash_is_hmac_sha256_in_lower_case_hex() {
        // RFC 4231, test case 2.
        let store = SqliteStore::open(Path::new(":memory:"), Some("Jefe")).unwrap();
        assert_eq!(
            store.patient_hash("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn migration_refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.sqlite");
        drop(SqliteStore::open(&path, None).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(SqliteStore::open(&path, None).is_err());
    }

    fn at(record: FeedbackRecord, when: &str) -> FeedbackRecord {
        FeedbackRecord {
            outcome_at: when.parse().unwrap(),
            ..record
        }
    }

    #[test]
    fn a_card_has_one_current_outcome_the_latest() {
        let store = SqliteStore::open(Path::new(":memory:"), Some("salt")).unwrap();
        store.record_decision(&decision(&[("a", "dose-mismatch")])).unwrap();
        let first = at(feedback("a", "overridden"), "2026-11-23T10:00:00Z");
        assert_eq!(store.record_feedback(&first).unwrap(), FeedbackWrite::Recorded);
        let later = at(feedback("a", "accepted"), "2026-11-23T10:05:00Z");
        assert_eq!(store.record_feedback(&later).unwrap(), FeedbackWrite::Recorded);
        // An older item arriving late does not replace the newer outcome.
        let late = at(feedback("a", "overridden"), "2026-11-23T10:01:00Z");
        assert_eq!(store.record_feedback(&late).unwrap(), FeedbackWrite::Unchanged);
        let report = store.report().unwrap();
        assert_eq!((report[0].cards, report[0].accepted, report[0].overridden), (1, 1, 0));
    }

    #[test]
    fn an_issued_card_knows_its_service_issuer_and_offered_reasons() {
        let store = SqliteStore::open(Path::new(":memory:"), Some("salt")).unwrap();
        store.record_decision(&decision(&[("a", "dose-mismatch")])).unwrap();
        assert_eq!(
            store.issued_card("a").unwrap(),
            Some(IssuedCard {
                service: "omalizumab-order-sign".into(),
                issuer: "https://ehr.example".into(),
                override_reasons: vec!["urn:x|payer-approved".into()],
            })
        );
        assert_eq!(store.issued_card("b").unwrap(), None);
    }

    /// A version-1 database: feedback for unknown uuids and unchecked override text go,
    /// each issued card keeps its latest outcome, and old cards bind to no issuer.
    #[test]
    fn migration_2_keeps_one_outcome_per_issued_card_and_drops_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.sqlite");
        {
            let mut conn = Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            tx.execute_batch(MIGRATIONS[0]).unwrap();
            tx.pragma_update(None, "user_version", 1).unwrap();
            tx.execute_batch(
                "INSERT INTO decision VALUES (1, '2026-11-23T09:00:00+00:00', 'h', 'omalizumab-order-sign', 'v', 'p', 1.0, 0);
                 INSERT INTO card VALUES ('a', 1, 'warning', 'dose-mismatch');
                 INSERT INTO feedback (service, card_uuid, outcome, accepted_suggestions, override_reason, outcome_at) VALUES
                   ('s', 'a', 'accepted', 1, NULL, '2026-11-23T10:00:00+00:00'),
                   ('s', 'a', 'overridden', 0, 'Jane Doe 1980-01-01', '2026-11-23T10:09:00+00:00'),
                   ('s', 'never-issued', 'accepted', 1, NULL, '2026-11-23T10:00:00+00:00');",
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let store = SqliteStore::open(&path, Some("salt")).unwrap();
        let report = store.report().unwrap();
        assert_eq!((report[0].cards, report[0].accepted, report[0].overridden), (1, 0, 1));
        assert_eq!(store.issued_card("a").unwrap().unwrap().issuer, "");
        drop(store);
        let conn = Connection::open(&path).unwrap();
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM card_feedback", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);
        let reason: Option<String> = conn
            .query_row("SELECT override_reason FROM card_feedback", [], |r| r.get(0))
            .unwrap();
        assert_eq!(reason, None);
    }
}
