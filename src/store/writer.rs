//! Hook decisions go to the store from one writer thread, many per transaction.
//!
//! A hook only queues its decision: one SQLite transaction per hook (and a hop to the
//! blocking pool for it) cost about a tenth of the service's throughput
//! (docs/PERFORMANCE.md). The queue is bounded; when the disk cannot keep up, hooks
//! wait for room rather than lose audit records. Pending decisions are written within
//! milliseconds, and `flush` (called at shutdown) waits for all of them.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{AuditStore, DecisionRecord};

/// Decisions waiting to be written, at most.
const QUEUE_CAPACITY: usize = 4096;
/// Decisions per transaction, at most.
const BATCH: usize = 256;

enum Message {
    Decision(Box<DecisionRecord>),
    /// Answered once everything queued before it is written.
    Flush(oneshot::Sender<()>),
}

pub struct AuditWriter {
    queue: mpsc::Sender<Message>,
}

impl AuditWriter {
    /// Start the writer thread for `store`.
    pub fn start(store: Arc<dyn AuditStore>) -> std::io::Result<Self> {
        let (queue, received) = mpsc::channel(QUEUE_CAPACITY);
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || write_until_closed(store.as_ref(), received))?;
        Ok(AuditWriter { queue })
    }

    /// Queue a decision; waits only when the queue is full.
    pub async fn submit(&self, decision: DecisionRecord) {
        if self.queue.send(Message::Decision(Box::new(decision))).await.is_err() {
            tracing::warn!("decision not recorded: the audit writer has stopped");
        }
    }

    /// Wait until every decision submitted before this call is written (or failed).
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

fn write_until_closed(store: &dyn AuditStore, mut received: mpsc::Receiver<Message>) {
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
            write(store, &batch);
            batch.clear();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// One transaction for the batch; if it fails, one by one, so a single bad decision
/// costs only itself. Failures are logged with the store's reason.
fn write(store: &dyn AuditStore, batch: &[DecisionRecord]) {
    if store.record_decisions(batch).is_ok() {
        return;
    }
    for d in batch {
        if let Err(e) = store.record_decision(d) {
            tracing::warn!(error = %e, "decision not recorded");
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
