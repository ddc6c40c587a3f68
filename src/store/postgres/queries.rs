//! The audit trail: decisions and their cards, feedback, the report, and whether the
//! database takes writes.

use deadpool_postgres::Pool;

use super::{PgStore, pg_err, pool_err};
use crate::store::{AuditStore, DecisionRecord, FeedbackRecord, FeedbackWrite, IssuedCard, KindReport, StoreError};

async fn insert_decisions(pool: Pool, decisions: Vec<DecisionRecord>) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(pool_err)?;
    let tx = client.transaction().await.map_err(pg_err)?;
    let decision = tx
        .prepare_cached(
            "INSERT INTO decision (at, hook_instance, service, rules_version, patient_hash, elapsed_ms, fetched_keys)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .await
        .map_err(pg_err)?;
    let card = tx
        .prepare_cached(
            "INSERT INTO card (uuid, decision_id, indicator, kind, issuer, override_reasons)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await
        .map_err(pg_err)?;
    for d in &decisions {
        let fetched = i32::try_from(d.fetched_keys).unwrap_or(i32::MAX);
        let id: i64 = tx
            .query_one(
                &decision,
                &[
                    &d.at,
                    &d.hook_instance,
                    &d.service,
                    &d.rules_version,
                    &d.patient_hash,
                    &d.elapsed_ms,
                    &fetched,
                ],
            )
            .await
            .map_err(pg_err)?
            .get(0);
        for c in &d.cards {
            tx.execute(
                &card,
                &[&c.uuid, &id, &c.indicator, &c.kind, &d.issuer, &c.override_reasons],
            )
            .await
            .map_err(pg_err)?;
        }
    }
    tx.commit().await.map_err(pg_err)
}

impl AuditStore for PgStore {
    fn record_decision(&self, d: &DecisionRecord) -> Result<(), StoreError> {
        self.record_decisions(std::slice::from_ref(d))
    }

    fn record_decisions(&self, decisions: &[DecisionRecord]) -> Result<(), StoreError> {
        self.block(insert_decisions(self.pool.clone(), decisions.to_vec()))
    }

    fn issued_card(&self, uuid: &str) -> Result<Option<IssuedCard>, StoreError> {
        let (pool, uuid) = (self.pool.clone(), uuid.to_string());
        self.block(async move {
            let client = pool.get().await.map_err(pool_err)?;
            let select = client
                .prepare_cached(
                    "SELECT d.service, c.issuer, c.override_reasons
                     FROM card c JOIN decision d ON d.id = c.decision_id WHERE c.uuid = $1",
                )
                .await
                .map_err(pg_err)?;
            let row = client.query_opt(&select, &[&uuid]).await.map_err(pg_err)?;
            Ok(row.map(|r| IssuedCard {
                service: r.get(0),
                issuer: r.get(1),
                override_reasons: r.get(2),
            }))
        })
    }

    /// One statement, so two replicas given the same item (an EHR retrying through the
    /// balancer) or two items for one card settle on one outcome: the row is replaced only
    /// by a later outcome, or by a different one at the same time (as SQLite does).
    fn record_feedback(&self, f: &FeedbackRecord) -> Result<FeedbackWrite, StoreError> {
        let (pool, f) = (self.pool.clone(), f.clone());
        self.block(async move {
            let client = pool.get().await.map_err(pool_err)?;
            let accepted = i32::try_from(f.accepted_suggestions).unwrap_or(i32::MAX);
            let changed = client
                .execute(
                    "INSERT INTO card_feedback AS f (card_uuid, outcome, accepted_suggestions, override_reason, outcome_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (card_uuid) DO UPDATE SET outcome = excluded.outcome,
                         accepted_suggestions = excluded.accepted_suggestions,
                         override_reason = excluded.override_reason, outcome_at = excluded.outcome_at
                     WHERE f.outcome_at < excluded.outcome_at
                        OR (f.outcome_at = excluded.outcome_at
                            AND (f.outcome, f.accepted_suggestions, f.override_reason)
                                IS DISTINCT FROM (excluded.outcome, excluded.accepted_suggestions, excluded.override_reason))",
                    &[&f.card, &f.outcome, &accepted, &f.override_reason, &f.outcome_at],
                )
                .await
                .map_err(pg_err)?;
            Ok(if changed == 0 {
                FeedbackWrite::Unchanged
            } else {
                FeedbackWrite::Recorded
            })
        })
    }

    fn patient_hash(&self, patient_id: &str) -> String {
        crate::store::hmac_hex(&self.salt, patient_id)
    }

    fn report(&self) -> Result<Vec<KindReport>, StoreError> {
        let pool = self.pool.clone();
        self.block(async move {
            let client = pool.get().await.map_err(pool_err)?;
            // Byte order of kinds, as SQLite sorts them, whatever the database's collation.
            let rows = client
                .query(
                    "SELECT c.kind, COUNT(*),
                            COUNT(*) FILTER (WHERE f.outcome = 'accepted'),
                            COUNT(*) FILTER (WHERE f.outcome = 'overridden')
                     FROM card c LEFT JOIN card_feedback f ON f.card_uuid = c.uuid
                     GROUP BY c.kind ORDER BY c.kind COLLATE \"C\"",
                    &[],
                )
                .await
                .map_err(pg_err)?;
            Ok(rows
                .iter()
                .map(|r| KindReport {
                    kind: r.get(0),
                    cards: r.get::<_, i64>(1) as u64,
                    accepted: r.get::<_, i64>(2) as u64,
                    overridden: r.get::<_, i64>(3) as u64,
                })
                .collect())
        })
    }

    /// Reachable, and a primary: a standby answers but refuses every write.
    fn check_writable(&self) -> Result<(), StoreError> {
        let pool = self.pool.clone();
        self.block(async move {
            let client = pool.get().await.map_err(pool_err)?;
            let standby: bool = client
                .query_one("SELECT pg_is_in_recovery()", &[])
                .await
                .map_err(pg_err)?
                .get(0);
            if standby {
                return Err(StoreError::Failed("the database is a read-only standby".into()));
            }
            Ok(())
        })
    }

    fn shared(&self) -> bool {
        true
    }
}
