//! The embedded store: one SQLite file (WAL), schema migrated at open by
//! `PRAGMA user_version`. Calls are short and synchronous; the HTTP layer runs them on
//! the blocking pool.

use std::path::Path;
use std::sync::Mutex;

use aws_lc_rs::hmac;
use rusqlite::{Connection, OptionalExtension, params};

use super::{AuditStore, DecisionRecord, FeedbackRecord, KindReport, StoreError};

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
];

pub struct SqliteStore {
    conn: Mutex<Connection>,
    salt: hmac::Key,
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

impl SqliteStore {
    /// Open (creating if needed) and migrate. `path` `:memory:` keeps nothing on disk.
    /// Without a configured salt, one is made at creation and kept in the database.
    pub fn open(path: &Path, salt: Option<&str>) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path).map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
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
            .map_err(|_| StoreError("connection lock poisoned".into()))
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(err)?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(StoreError(format!(
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
    let mut insert =
        tx.prepare_cached("INSERT INTO card (uuid, decision_id, indicator, kind) VALUES (?1, ?2, ?3, ?4)")?;
    for c in &d.cards {
        insert.execute(params![c.uuid, id, c.indicator, c.kind])?;
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
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| StoreError("no randomness for the salt".into()))?;
    let salt: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
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

    fn record_feedback(&self, f: &FeedbackRecord) -> Result<bool, StoreError> {
        let conn = self.conn()?;
        let inserted = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO feedback
                 (service, card_uuid, outcome, accepted_suggestions, override_reason, outcome_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut insert| {
                insert.execute(params![
                    f.service,
                    f.card,
                    f.outcome,
                    f.accepted_suggestions as i64,
                    f.override_reason,
                    f.outcome_at.to_rfc3339()
                ])
            })
            .map_err(err)?;
        Ok(inserted == 1)
    }

    fn patient_hash(&self, patient_id: &str) -> String {
        // Hex by table: a `format!` per byte was 2% of a hook's instructions.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let tag = hmac::sign(&self.salt, patient_id.as_bytes());
        let mut out = String::with_capacity(2 * tag.as_ref().len());
        for b in tag.as_ref() {
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0x0f)] as char);
        }
        out
    }

    fn report(&self) -> Result<Vec<KindReport>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(
                "SELECT c.kind, COUNT(*),
                        SUM(EXISTS (SELECT 1 FROM feedback f WHERE f.card_uuid = c.uuid AND f.outcome = 'accepted')),
                        SUM(EXISTS (SELECT 1 FROM feedback f WHERE f.card_uuid = c.uuid AND f.outcome = 'overridden'))
                 FROM card c GROUP BY c.kind ORDER BY c.kind",
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
            service: "omalizumab-order-sign".into(),
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
        assert!(store.record_feedback(&feedback("a", "accepted")).unwrap());
        assert!(
            !store.record_feedback(&feedback("a", "accepted")).unwrap(),
            "a duplicate"
        );
        assert!(store.record_feedback(&feedback("c", "overridden")).unwrap());
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
}
