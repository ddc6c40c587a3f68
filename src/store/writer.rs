//! Hook decisions go to the store from one writer thread, many per transaction.
//!
//! A hook only queues its decision: one SQLite transaction per hook (and a hop to the
//! blocking pool for it) cost about a tenth of the service's throughput
//! (docs/PERFORMANCE.md). The queue is bounded; when the disk cannot keep up, hooks
//! wait for room rather than lose audit records. Pending decisions are written within
//! milliseconds, and `flush` (called at shutdown) waits for all of them.
//!
//! A store that cannot be reached (a database restarting) is tried again, with backoff,
//! until it answers: the batch in hand and the queue behind it wait and are written then.
//! Only decisions the store refuses, or still waiting when the process stops, are lost,
//! and those are counted (`unwritten`, on /metrics) and logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::{AuditStore, DecisionRecord, StoreError};

/// Decisions waiting to be written, at most.
const QUEUE_CAPACITY: usize = 4096;
/// Decisions per transaction, at most.
const BATCH: usize = 256;
/// Waits between tries while the store is unreachable: short at first, so a blip costs
/// little, then no more often than this.
const FIRST_RETRY: Duration = Duration::from_millis(50);
const LAST_RETRY: Duration = Duration::from_secs(2);

/// What the writer has in hand and what it gave up on, for /metrics and the logs.
#[derive(Debug, Default)]
pub struct WriterCounts {
    /// Submitted, not yet written or given up.
    pending: AtomicU64,
    /// Given up: refused by the store.
    unwritten: AtomicU64,
}

enum Message {
    Decision(Box<DecisionRecord>),
    /// Answered once everything queued before it is written.
    Flush(oneshot::Sender<()>),
}

pub struct AuditWriter {
    queue: mpsc::Sender<Message>,
    counts: Arc<WriterCounts>,
}

impl AuditWriter {
    /// Start the writer thread for `store`.
    pub fn start(store: Arc<dyn AuditStore>) -> std::io::Result<Self> {
        let (queue, received) = mpsc::channel(QUEUE_CAPACITY);
        let counts = Arc::new(WriterCounts::default());
        let shared = counts.clone();
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || write_until_closed(store.as_ref(), received, &shared))?;
        Ok(AuditWriter { queue, counts })
    }

    /// Queue a decision; waits only when the queue is full.
    pub async fn submit(&self, decision: DecisionRecord) {
        self.counts.pending.fetch_add(1, Ordering::Relaxed);
        if self.queue.send(Message::Decision(Box::new(decision))).await.is_err() {
            self.counts.pending.fetch_sub(1, Ordering::Relaxed);
            self.counts.unwritten.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("decision not recorded: the audit writer has stopped");
        }
    }

    /// Decisions submitted and not yet written (they wait while the store is unreachable).
    pub fn pending(&self) -> u64 {
        self.counts.pending.load(Ordering::Relaxed)
    }

    /// Decisions that could not be written: refused by the store.
    pub fn unwritten(&self) -> u64 {
        self.counts.unwritten.load(Ordering::Relaxed)
    }

    /// `flush`, for at most `limit`: false if decisions were still waiting then.
    pub async fn flush_within(&self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.flush()).await.is_ok()
    }

    /// Wait until every decision submitted before this call is written (or failed).
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

fn write_until_closed(store: &dyn AuditStore, mut received: mpsc::Receiver<Message>, counts: &WriterCounts) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut flushes = Vec::new();
    while let Some(first) = received.blocking_recv() {
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Decision(d) => batch.push(*d),
                Message::Flush(done) => flushes.push(done),
            }
            next = if batch.len() < BATCH {
                received.try_recv().ok()
            } else {
                None
            };
        }
        if !batch.is_empty() {
            write(store, &batch, counts);
            counts.pending.fetch_sub(batch.len() as u64, Ordering::Relaxed);
            batch.clear();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// One transaction for the batch; if the store refuses it, one by one, so a single bad
/// decision costs only itself. Refusals are logged with the store's reason and counted.
fn write(store: &dyn AuditStore, batch: &[DecisionRecord], counts: &WriterCounts) {
    if until_reachable(counts, || store.record_decisions(batch)).is_ok() {
        return;
    }
    for d in batch {
        if let Err(e) = until_reachable(counts, || store.record_decision(d)) {
            let total = counts.unwritten.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(error = %e, unwritten_total = total, "decision not recorded");
        }
    }
}

/// Call `write` until the store answers; only a refusal (not an outage) comes back.
fn until_reachable(counts: &WriterCounts, mut write: impl FnMut() -> Result<(), StoreError>) -> Result<(), StoreError> {
    let mut wait = FIRST_RETRY;
    let mut announced = false;
    loop {
        match write() {
            Err(e) if e.is_unavailable() => {
                if !announced {
                    tracing::warn!(
                        error = %e,
                        waiting = counts.pending.load(Ordering::Relaxed),
                        "audit store unreachable: decisions wait in the queue until it is back"
                    );
                    announced = true;
                }
                std::thread::sleep(wait);
                wait = (wait * 2).min(LAST_RETRY);
            }
            result => {
                if announced {
                    tracing::info!(
                        waiting = counts.pending.load(Ordering::Relaxed),
                        "audit store reachable again: writing the decisions that waited"
                    );
                }
                return result;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::store::{FeedbackRecord, FeedbackWrite, IssuedCard, KindReport, SqliteStore, StoreError};

    fn decision(uuid: &str) -> DecisionRecord {
        DecisionRecord::example(&[(uuid, "eligible")])
    }

    fn cards_in(store: &dyn AuditStore) -> u64 {
        store.report().unwrap().iter().map(|r| r.cards).sum()
    }

    #[tokio::test]
    async fn every_decision_is_written_by_the_time_flush_returns() {
        let store = Arc::new(SqliteStore::open(std::path::Path::new(":memory:"), Some("salt")).unwrap());
        let writer = AuditWriter::start(store.clone()).unwrap();
        for i in 0..1000 {
            writer.submit(decision(&format!("card-{i}"))).await;
        }
        writer.flush().await;
        assert_eq!(cards_in(store.as_ref()), 1000);
    }

    #[tokio::test]
    async fn one_bad_decision_in_a_batch_costs_only_itself() {
        let store = Arc::new(SqliteStore::open(std::path::Path::new(":memory:"), Some("salt")).unwrap());
        let writer = AuditWriter::start(store.clone()).unwrap();
        // Card uuids are unique in the store: the repeat is refused.
        for uuid in ["a", "b", "a", "c"] {
            writer.submit(decision(uuid)).await;
        }
        writer.flush().await;
        assert_eq!(cards_in(store.as_ref()), 3);
        assert_eq!((writer.unwritten(), writer.pending()), (1, 0));
    }

    /// Unreachable for its first `down_for` calls, as a database restarting is.
    struct Restarting {
        down_for: Mutex<usize>,
        written: Mutex<usize>,
    }

    impl AuditStore for Restarting {
        fn record_decision(&self, d: &DecisionRecord) -> Result<(), StoreError> {
            self.record_decisions(std::slice::from_ref(d))
        }
        fn record_decisions(&self, ds: &[DecisionRecord]) -> Result<(), StoreError> {
            let mut down = self.down_for.lock().unwrap();
            if *down > 0 {
                *down -= 1;
                return Err(StoreError::Unavailable("connection refused".into()));
            }
            *self.written.lock().unwrap() += ds.len();
            Ok(())
        }
        fn issued_card(&self, _: &str) -> Result<Option<IssuedCard>, StoreError> {
            Ok(None)
        }
        fn record_feedback(&self, _: &FeedbackRecord) -> Result<FeedbackWrite, StoreError> {
            Ok(FeedbackWrite::Recorded)
        }
        fn patient_hash(&self, _: &str) -> String {
            String::new()
        }
        fn report(&self) -> Result<Vec<KindReport>, StoreError> {
            Ok(Vec::new())
        }
        fn check_writable(&self) -> Result<(), StoreError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn decisions_wait_while_the_store_is_unreachable_and_are_written_when_it_returns() {
        let store = Arc::new(Restarting {
            down_for: Mutex::new(5),
            written: Mutex::default(),
        });
        let writer = AuditWriter::start(store.clone()).unwrap();
        for i in 0..300 {
            writer.submit(decision(&format!("card-{i}"))).await;
        }
        writer.flush().await;
        assert_eq!(*store.written.lock().unwrap(), 300);
        assert_eq!(*store.down_for.lock().unwrap(), 0, "it was tried until it answered");
        assert_eq!((writer.unwritten(), writer.pending()), (0, 0));
    }

    #[tokio::test]
    async fn a_bounded_flush_says_when_decisions_are_still_waiting() {
        let store = Arc::new(Restarting {
            down_for: Mutex::new(usize::MAX),
            written: Mutex::default(),
        });
        let writer = AuditWriter::start(store.clone()).unwrap();
        writer.submit(decision("card-1")).await;
        assert!(!writer.flush_within(Duration::from_millis(300)).await);
        assert_eq!(writer.pending(), 1);
        assert_eq!(*store.written.lock().unwrap(), 0);
    }

    /// Counts how many calls reach the store, and how many decisions each carries. The
    /// first write waits for the gate to open, as a slow disk would.
    struct Counting {
        calls: Mutex<Vec<usize>>,
        gate: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    }

    impl AuditStore for Counting {
        fn record_decision(&self, _: &DecisionRecord) -> Result<(), StoreError> {
            self.calls.lock().unwrap().push(1);
            Ok(())
        }
        fn record_decisions(&self, ds: &[DecisionRecord]) -> Result<(), StoreError> {
            let gate = self.gate.lock().unwrap().take();
            if let Some(gate) = gate {
                let _ = gate.recv();
            }
            self.calls.lock().unwrap().push(ds.len());
            Ok(())
        }
        fn issued_card(&self, _: &str) -> Result<Option<IssuedCard>, StoreError> {
            Ok(None)
        }
        fn record_feedback(&self, _: &FeedbackRecord) -> Result<FeedbackWrite, StoreError> {
            Ok(FeedbackWrite::Recorded)
        }
        fn patient_hash(&self, _: &str) -> String {
            String::new()
        }
        fn report(&self) -> Result<Vec<KindReport>, StoreError> {
            Ok(Vec::new())
        }
        fn check_writable(&self) -> Result<(), StoreError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn queued_decisions_are_written_together_and_in_bounded_batches() {
        let (open, gate) = std::sync::mpsc::channel();
        let store = Arc::new(Counting {
            calls: Mutex::default(),
            gate: Mutex::new(Some(gate)),
        });
        let writer = AuditWriter::start(store.clone()).unwrap();
        // The first write is held up while the rest queue behind it.
        for i in 0..2000 {
            writer.submit(decision(&format!("card-{i}"))).await;
        }
        open.send(()).unwrap();
        writer.flush().await;
        let calls = store.calls.lock().unwrap().clone();
        assert_eq!(calls.iter().sum::<usize>(), 2000);
        assert!(calls.iter().all(|&n| n <= BATCH), "{calls:?}");
        // Whatever the first write took, the rest needed at most ceil(2000 / BATCH) more.
        assert!(calls.len() <= 1 + 2000usize.div_ceil(BATCH), "{calls:?}");
    }
}
