//! The audit and feedback store: every hook decision and every feedback item, for the
//! acceptance and override report. Behind a trait with two implementations: the embedded
//! SQLite one (the default, one machine) and PostgreSQL (`CDS_STORE_URL`), which several
//! replicas share, together with their `jti` replay memory (docs/DEPLOY.md).
//!
//! What is stored: hookInstance, service, rules version, timings, counts, each card's
//! uuid, indicator, main finding, the issuer it was issued to and the override reasons
//! it offered, and each card's current feedback outcome with an override code it
//! offered. The patient appears only as a salted HMAC, to count distinct patients; never
//! a name, value, token or any text a caller wrote.

pub mod postgres;
pub mod sqlite;
pub mod writer;

use chrono::{DateTime, Utc};

pub use postgres::{PgOptions, PgStore};
pub use sqlite::SqliteStore;
pub use writer::AuditWriter;

#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRecord {
    pub at: DateTime<Utc>,
    pub hook_instance: String,
    pub service: String,
    pub rules_version: String,
    /// The verified `iss` of the caller the cards were issued to; empty without
    /// authentication (development).
    pub issuer: String,
    /// HMAC-SHA256 of the patient id under the store's salt, hex.
    pub patient_hash: String,
    pub elapsed_ms: f64,
    pub fetched_keys: usize,
    pub cards: Vec<StoredCard>,
}

#[cfg(test)]
impl DecisionRecord {
    /// A decision for the store's tests: cards given as (uuid, kind).
    pub(crate) fn example(cards: &[(&str, &str)]) -> Self {
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
                    override_reasons: vec!["urn:x|payer-approved".into()],
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredCard {
    pub uuid: String,
    pub indicator: String,
    pub kind: String,
    /// The override reasons the card offered, as `system|code`.
    pub override_reasons: Vec<String>,
}

/// A card as issued, for checking feedback about it.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedCard {
    pub service: String,
    pub issuer: String,
    pub override_reasons: Vec<String>,
}

/// The outcome of a card this service issued, already checked against it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackRecord {
    pub card: String,
    /// `accepted` or `overridden`.
    pub outcome: String,
    pub accepted_suggestions: usize,
    /// One of the codes the card offered.
    pub override_reason: Option<String>,
    pub outcome_at: DateTime<Utc>,
}

/// What recording a feedback item did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackWrite {
    /// The card's first outcome, or a later one that replaced it.
    Recorded,
    /// The same outcome again, or one older than the card's current one: kept as it was.
    Unchanged,
}

/// Acceptance for one kind of card (`dose-mismatch`, `ineligible`...).
#[derive(Debug, Clone, PartialEq)]
pub struct KindReport {
    pub kind: String,
    pub cards: u64,
    pub accepted: u64,
    pub overridden: u64,
}

impl KindReport {
    /// Shares of the cards shown, in percent; cards with no feedback count as neither.
    pub fn acceptance_rate(&self) -> f64 {
        percent(self.accepted, self.cards)
    }

    pub fn override_rate(&self) -> f64 {
        percent(self.overridden, self.cards)
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The store refused the call (a constraint, a row it cannot read): trying the same
    /// again will fail again.
    #[error("audit store: {0}")]
    Failed(String),
    /// The store cannot be reached now (database down, no connection in time): the same
    /// call may succeed later, so decisions wait rather than being dropped.
    #[error("audit store unreachable: {0}")]
    Unavailable(String),
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

pub trait AuditStore: Send + Sync {
    fn record_decision(&self, decision: &DecisionRecord) -> Result<(), StoreError>;
    /// Record several decisions; a store that can should do it in one transaction.
    fn record_decisions(&self, decisions: &[DecisionRecord]) -> Result<(), StoreError> {
        decisions.iter().try_for_each(|d| self.record_decision(d))
    }
    /// The card with this uuid, if this service issued it.
    fn issued_card(&self, uuid: &str) -> Result<Option<IssuedCard>, StoreError>;
    /// Make this the card's current outcome unless it has a later (or the same) one:
    /// one outcome per card, the latest by `outcome_at`.
    fn record_feedback(&self, feedback: &FeedbackRecord) -> Result<FeedbackWrite, StoreError>;
    /// The salted hash the store uses for patient ids.
    fn patient_hash(&self, patient_id: &str) -> String;
    fn report(&self) -> Result<Vec<KindReport>, StoreError>;
    /// Whether a write would succeed now (for readiness).
    fn check_writable(&self) -> Result<(), StoreError>;
    /// Whether other processes write to this store too, so a card issued by another
    /// replica may still be on its way to it.
    fn shared(&self) -> bool {
        false
    }
}

/// HMAC-SHA256 of `id` under `key`, lower-case hex: the patient hash of every store.
pub(crate) fn hmac_hex(key: &aws_lc_rs::hmac::Key, id: &str) -> String {
    // Hex by table: a `format!` per byte was 2% of a hook's instructions.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let tag = aws_lc_rs::hmac::sign(key, id.as_bytes());
    let mut out = String::with_capacity(2 * tag.as_ref().len());
    for b in tag.as_ref() {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0x0f)] as char);
    }
    out
}

/// A salt for a store made without one (development only: config requires one from
/// outside the store with authentication on).
pub(crate) fn new_salt() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| StoreError::Failed("no randomness for the salt".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The report as a table for a terminal.
pub fn report_text(rows: &[KindReport]) -> String {
    let mut out = format!(
        "{:<20} {:>7} {:>9} {:>11} {:>11} {:>11}\n",
        "card kind", "cards", "accepted", "overridden", "accept %", "override %"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<20} {:>7} {:>9} {:>11} {:>10.1}% {:>10.1}%\n",
            r.kind,
            r.cards,
            r.accepted,
            r.overridden,
            r.acceptance_rate(),
            r.override_rate()
        ));
    }
    if rows.is_empty() {
        out.push_str("(no decisions recorded yet)\n");
    }
    out
}
