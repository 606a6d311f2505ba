//! Group commit for billing events: one task per process stores and processes every
//! incoming event, taking all the events waiting at that moment into one transaction with a
//! savepoint per event.
//!
//! Why: every event is a write transaction, and SQLite has one writer. With a transaction
//! per request, concurrent requests queue on the database lock (SQLite's busy handler
//! sleeps between tries, leaving the lock idle) and each pays its own commit. One writer
//! that batches what is waiting keeps the lock busy and commits once per batch: throughput
//! grows with load instead of collapsing into lock waits. On PostgreSQL it saves a commit
//! (a WAL flush) per event as well.
//!
//! Each event keeps its own all-or-nothing outcome. A batch runs without savepoints (they
//! would be two more round trips per event); if any event in it fails, the batch rolls back
//! and each of its events is written again in its own transaction, inside a savepoint, so a
//! failing event is stored as `failed` and the others are unaffected. A reply is sent only
//! after the event's transaction committed.

use tokio::sync::{mpsc, oneshot};

use super::{Guard, Ingested, Normalized};
use crate::db::{Db, clicks::ClickRow, programs::ProgramRow};
use crate::domain::values::status::EventStatus;
use crate::error::{AppError, AppResult};

/// Events taken into one transaction at most (bounds the time a batch holds the lock).
const MAX_BATCH: usize = 128;
/// Events waiting at most before senders wait for room.
const QUEUE: usize = 4096;

/// One event to store and process, with everything resolved before the transaction.
#[derive(Debug)]
pub(super) struct Job {
    /// The program it is for.
    pub program: ProgramRow,
    /// `api`, `stripe` or `manual`.
    pub source: String,
    /// The sender's event id.
    pub event_id: String,
    /// The sender's type, as received.
    pub event_type: String,
    /// The exact body.
    pub payload: String,
    /// What it means.
    pub event: Normalized,
    /// The click its metadata names, looked up beforehand.
    pub click: Option<ClickRow>,
}

struct Waiting {
    job: Job,
    reply: oneshot::Sender<AppResult<Ingested>>,
}

/// Handle of the ingest task; cheap to clone.
#[derive(Debug, Clone)]
pub struct IngestWriter {
    tx: mpsc::Sender<Waiting>,
}

impl std::fmt::Debug for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Waiting({}:{})", self.job.source, self.job.event_id)
    }
}

impl IngestWriter {
    /// Spawns the ingest task on the current Tokio runtime.
    pub fn start(db: Db) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(db, rx));
        Self { tx }
    }

    /// Stores and processes `job`; returns once its batch committed.
    pub(super) async fn submit(&self, job: Job) -> AppResult<Ingested> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Waiting { job, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> AppError {
    AppError::Internal(anyhow::anyhow!("the billing event writer has stopped"))
}

async fn run(db: Db, mut rx: mpsc::Receiver<Waiting>) {
    let mut batch: Vec<Waiting> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        // No pause to let a batch grow: under load, events pile up while the previous batch
        // is written, and an idle server answers a lone event at once.
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        write(&db, &mut batch).await;
    }
}

/// Writes `batch` (emptying it) and answers every sender.
async fn write(db: &Db, batch: &mut Vec<Waiting>) {
    let jobs: Vec<&Job> = batch.iter().map(|w| &w.job).collect();
    match in_one_tx(db, &jobs, Guard::None).await {
        Ok(done) => {
            for (w, ingested) in batch.drain(..).zip(done) {
                let _ = w.reply.send(Ok(ingested));
            }
            return;
        }
        // An event that fails processing (or a database error) lands here; each event
        // is then written on its own, a failing one stored as `failed`.
        Err(e) => {
            tracing::debug!(events = batch.len(), error = %e, "billing event batch rolled back; writing its events one by one")
        }
    }
    for w in batch.drain(..) {
        let answer = in_one_tx(db, &[&w.job], Guard::Savepoint)
            .await
            .and_then(|mut done| {
                done.pop()
                    .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no result for an event")))
            });
        let _ = w.reply.send(answer);
    }
}

/// Stores and processes `jobs` in one transaction.
async fn in_one_tx(db: &Db, jobs: &[&Job], guard: Guard) -> AppResult<Vec<Ingested>> {
    let mut tx = db.begin().await?;
    let mut done = Vec::with_capacity(jobs.len());
    for job in jobs {
        done.push(super::store_and_process(&mut tx, job, guard).await?);
    }
    tx.commit().await?;
    for d in &done {
        if EventStatus::Failed.is(&d.status) && !d.duplicate {
            tracing::warn!(event = %d.id, result = %d.result, "billing event failed");
        }
    }
    Ok(done)
}
