//! Group commit for billing events: writer tasks ("lanes") store and process every incoming
//! event, each taking all the events waiting for it at that moment into one transaction.
//!
//! Why: every event is a write transaction, and SQLite has one writer. With a transaction
//! per request, concurrent requests queue on the database lock (SQLite's busy handler
//! sleeps between tries, leaving the lock idle) and each pays its own commit. One writer
//! that batches what is waiting keeps the lock busy and commits once per batch: throughput
//! grows with load instead of collapsing into lock waits. On SQLite there is one lane.
//!
//! PostgreSQL has no single writer, and one lane would make every event wait for the round
//! trips of all the events before it: a batch's statements run one after another on one
//! connection, so one lane is capped at one event per (statements × round trip) however
//! idle the server is. There are [`PG_LANES`] lanes, each with its own connection and
//! batches, and they commit in parallel. An event goes to the lane of its customer (a hash
//! of vendor and customer id, else of its payment ids), so the events of one customer
//! still run one after another, in arrival order: rules that read earlier conversions of
//! the customer (first payment only, recurring cycles, binding the referral on the first
//! event) see them exactly as with one writer. Events of different customers share no rows
//! but the enrollment's, which they only read.
//!
//! Each event keeps its own all-or-nothing outcome. A batch runs without savepoints (they
//! would be two more round trips per event); if any event in it fails, the batch rolls back
//! and each of its events is written again in its own transaction, inside a savepoint, so a
//! failing event is stored as `failed` and the others are unaffected. A reply is sent only
//! after the event's transaction committed.

use std::hash::{Hash, Hasher};

use tokio::sync::{mpsc, oneshot};

use super::{Guard, Ingested, Normalized};
use crate::db::{self, Db, DbKind, clicks::ClickRow, deferred, programs::ProgramRow};
use crate::domain::values::status::EventStatus;
use crate::error::{AppError, AppResult};

/// Events taken into one transaction at most (bounds the time a batch holds the lock).
const MAX_BATCH: usize = 128;
/// Events waiting per lane at most before senders wait for room.
const QUEUE: usize = 1024;
/// Writer lanes on PostgreSQL (each holds a pooled connection while it writes a batch; the
/// pool has 16, leaving the rest to the reads around each event and to other requests).
/// Measured in `bench/RESULTS.md`.
pub const PG_LANES: usize = 6;

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

/// Handle of the ingest lanes; cheap to clone.
#[derive(Debug, Clone)]
pub struct IngestWriter {
    lanes: Vec<mpsc::Sender<Waiting>>,
}

impl std::fmt::Debug for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Waiting({}:{})", self.job.source, self.job.event_id)
    }
}

impl IngestWriter {
    /// Spawns the ingest lanes on the current Tokio runtime: one on SQLite (one writer),
    /// `pg_lanes` (default [`PG_LANES`]) on PostgreSQL.
    pub fn start(db: Db, pg_lanes: Option<usize>) -> Self {
        let n = match db.kind() {
            DbKind::Sqlite => 1,
            DbKind::Postgres => pg_lanes.unwrap_or(PG_LANES),
        };
        Self::with_lanes(db, n)
    }

    /// Spawns `n` lanes (at least one).
    pub fn with_lanes(db: Db, n: usize) -> Self {
        let lanes = (0..n.max(1))
            .map(|lane| {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(db::ledger::in_lane(lane, run(db.clone(), rx)));
                tx
            })
            .collect();
        Self { lanes }
    }

    /// Stores and processes `job`; returns once its batch committed.
    pub(super) async fn submit(&self, job: Job) -> AppResult<Ingested> {
        let (reply, answer) = oneshot::channel();
        let lane = &self.lanes[lane_of(&job, self.lanes.len())];
        lane.send(Waiting { job, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The lane of an event: by its customer, so one customer's events keep their order (see
/// the module docs); an event without a customer by its payment ids, else its event id.
fn lane_of(job: &Job, lanes: usize) -> usize {
    if lanes <= 1 {
        return 0;
    }
    let e = &job.event;
    let key = e
        .customer_id
        .as_deref()
        .or(e.invoice_id.as_deref())
        .or(e.payment_intent_id.as_deref())
        .or(e.charge_id.as_deref())
        .or(e.subscription_id.as_deref())
        .unwrap_or(&job.event_id);
    // DefaultHasher with its fixed keys: the same customer maps to the same lane for the
    // life of the process, which is all the ordering needs.
    let mut h = std::hash::DefaultHasher::new();
    job.program.vendor_id.hash(&mut h);
    key.hash(&mut h);
    usize::try_from(h.finish() % lanes as u64).unwrap_or(0)
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

/// Stores and processes `jobs` in one transaction. A batch without savepoints (`Guard::None`)
/// writes its counter moves once, at its end (`db::deferred`: the rows every event of an
/// affiliate shares are then locked only from there to the commit); with a savepoint per
/// event each event writes its own at its end, inside its savepoint.
async fn in_one_tx(db: &Db, jobs: &[&Job], guard: Guard) -> AppResult<Vec<Ingested>> {
    let mut tx = db.begin().await?;
    let done = match guard {
        Guard::None => {
            let (done, moves) = deferred::collect(each(&mut tx, jobs, guard)).await;
            let done = done?;
            moves.write(&mut tx).await?;
            done
        }
        Guard::Savepoint => each(&mut tx, jobs, guard).await?,
    };
    tx.commit().await?;
    for d in &done {
        if EventStatus::Failed.is(&d.status) && !d.duplicate {
            tracing::warn!(event = %d.id, result = %d.result, "billing event failed");
        }
    }
    Ok(done)
}

/// Stores and processes `jobs` one after another on `conn`.
async fn each(conn: &mut db::Conn, jobs: &[&Job], guard: Guard) -> AppResult<Vec<Ingested>> {
    let mut done = Vec::with_capacity(jobs.len());
    for job in jobs {
        done.push(super::store_and_process(conn, job, guard).await?);
    }
    Ok(done)
}
