//! Clicks are stored off the request path: the redirect hands a finished row to a bounded
//! channel and returns; one task drains the channel and inserts up to
//! [`db::clicks::MAX_BATCH`] rows per statement.
//!
//! No click is dropped. When the channel is full the redirect waits for room for a bounded
//! time ([`WriterConfig::wait`], back-pressure), and past it appends the click to the
//! durable [`Spill`] under the data dir. The writer puts spilled clicks into the database
//! in the order they were written, one segment at a time, whenever its channel is less than
//! half full, and at start it drains what an earlier process left behind (after a crash, or
//! a shutdown that ran out of time). A batch the database keeps refusing is spilled too.
//! Inserts skip ids already stored (`ON CONFLICT DO NOTHING`), so a segment drained twice
//! (a crash between the insert and the file's removal) stores each click once.
//!
//! A click is appended to the write-ahead [`Journal`] before it enters the channel, so the
//! clicks in the channel when the process is killed without a graceful shutdown are replayed
//! by the next start. What can still be lost: a click whose spill append itself fails (a full
//! or broken disk): the redirect then answers without a click id (see
//! [`super::Tracker::record_click`]) and the loss is counted ([`ClickStats::lost`]); and, on
//! a power loss, what the kernel had not written to disk yet.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::error::{SendTimeoutError, TryRecvError, TrySendError};
use tokio::sync::{mpsc, oneshot};

use super::journal::Journal;
use super::spill::{self, Spill};
use crate::db::{self, Db, clicks::ClickRow};

/// Default capacity of the click channel.
pub const QUEUE: usize = 20_000;
/// Default time a redirect waits for room in a full channel before spilling.
pub const WAIT: Duration = Duration::from_millis(5);
/// How long the writer lets clicks accumulate after the first one of a round.
const LINGER: Duration = Duration::from_millis(50);
/// Attempts per batch before it is spilled instead.
const ATTEMPTS: u32 = 5;
/// Pause before draining again after the database refused a spilled segment.
const DRAIN_BACKOFF: Duration = Duration::from_secs(2);
/// Longest a graceful shutdown spends draining the spill; the rest stays on disk and is
/// drained at the next start.
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(20);

/// How the click writer is sized.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Clicks the channel holds.
    pub capacity: usize,
    /// How long a redirect waits for room before it spills its click (0: spill at once).
    pub wait: Duration,
    /// This database's spill directory ([`spill::root`]).
    pub spill_root: PathBuf,
}

enum Msg {
    /// A click and the journal segment it was appended to (`None`: the journal could not be
    /// written, the click is only in memory).
    Click(Box<ClickRow>, Option<u64>),
    Flush(oneshot::Sender<()>),
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Click(c, _) => write!(f, "Click({})", c.id),
            Msg::Flush(_) => f.write_str("Flush"),
        }
    }
}

/// A click could be neither queued nor spilled.
#[derive(Debug, thiserror::Error)]
#[error("click could not be stored or spilled: {0}")]
pub struct Lost(#[from] std::io::Error);

/// Handle of the click-writing task.
#[derive(Debug)]
pub struct ClickWriter {
    tx: mpsc::Sender<Msg>,
    wait: Duration,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    spill: Spill,
    journal: Journal,
    counts: Counts,
}

/// Plain counters; read through [`ClickWriter::stats`].
#[derive(Debug, Default)]
struct Counts {
    recorded: AtomicU64,
    spilled: AtomicU64,
    spill_pending: AtomicU64,
    drained: AtomicU64,
    lost: AtomicU64,
    unjournaled: AtomicU64,
}

/// What the writer did since the process started (for logs and metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClickStats {
    /// Clicks written to the database (from the channel or the spill; a click already
    /// stored and skipped on a repeated drain counts again).
    pub recorded: u64,
    /// Clicks in the channel now.
    pub buffered: u64,
    /// Clicks appended to the spill.
    pub spilled: u64,
    /// Spilled clicks not yet in the database (a gauge; leftovers of an earlier process
    /// are not included until they are read).
    pub spill_pending: u64,
    /// Clicks written to the database from the spill (this process's and leftovers).
    pub drained: u64,
    /// Clicks that could be neither queued nor spilled (disk full or unwritable).
    pub lost: u64,
}

impl ClickWriter {
    /// Spawns the writer task on the current Tokio runtime.
    pub fn start(db: Db, config: WriterConfig) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(config.capacity.max(1));
        let shared = Arc::new(Shared {
            journal: Journal::new(config.spill_root.clone()),
            spill: Spill::new(config.spill_root),
            counts: Counts::default(),
        });
        tokio::spawn(run(db, rx, shared.clone()));
        Arc::new(Self {
            tx,
            wait: config.wait,
            shared,
        })
    }

    /// Hands a click to the writer: into the journal and the channel, waiting up to the
    /// configured time for room, else into the spill. `Err` only when the spill cannot be
    /// written either.
    pub async fn record(&self, click: ClickRow) -> Result<(), Lost> {
        let seq = match spill::encode(&click).and_then(|rec| self.shared.journal.append(&rec)) {
            Ok(seq) => Some(seq),
            Err(e) => {
                // Still queued: only a kill before it is stored would lose it.
                let n = self
                    .shared
                    .counts
                    .unjournaled
                    .fetch_add(1, Ordering::Relaxed)
                    + 1;
                if n % 1000 == 1 {
                    tracing::error!(error = %e, unjournaled = n, "click journal append failed");
                }
                None
            }
        };
        let msg = match self.tx.try_send(Msg::Click(Box::new(click), seq)) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(m)) if !self.wait.is_zero() => {
                match self.tx.send_timeout(m, self.wait).await {
                    Ok(()) => return Ok(()),
                    Err(SendTimeoutError::Timeout(m) | SendTimeoutError::Closed(m)) => m,
                }
            }
            Err(TrySendError::Full(m) | TrySendError::Closed(m)) => m,
        };
        let Msg::Click(click, seq) = msg else {
            return Ok(());
        };
        let spilled = self.spill(&click);
        // In the spill now (or lost either way): the journal need not keep it.
        self.shared.journal.stored(seq.as_slice());
        spilled
    }

    fn spill(&self, click: &ClickRow) -> Result<(), Lost> {
        let c = &self.shared.counts;
        match spill::encode(click).and_then(|rec| self.shared.spill.append(&rec)) {
            Ok(()) => {
                let n = c.spilled.fetch_add(1, Ordering::Relaxed) + 1;
                c.spill_pending.fetch_add(1, Ordering::Relaxed);
                // One line per 10,000: enough to notice, not a log flood.
                if n % 10_000 == 1 {
                    tracing::warn!(
                        spilled = n,
                        dir = %self.shared.spill.root().display(),
                        "click writer behind; clicks are spilled to disk"
                    );
                }
                Ok(())
            }
            Err(e) => {
                let n = c.lost.fetch_add(1, Ordering::Relaxed) + 1;
                if n % 1000 == 1 {
                    tracing::error!(error = %e, lost = n, "click spill failed; click lost");
                }
                Err(Lost(e))
            }
        }
    }

    /// Waits until every click handed over before this call is in the database: the
    /// channel's and the spill's (or, if the database refuses them, on disk).
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Msg::Flush(ack)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Stores everything queued and drains the spill for up to 20 s; called on graceful
    /// shutdown after the HTTP server drained. What is left stays on disk for the next
    /// start.
    pub async fn shutdown(&self) {
        if tokio::time::timeout(SHUTDOWN_BUDGET, self.flush())
            .await
            .is_err()
        {
            tracing::warn!("click spill not fully drained at shutdown; the next start drains it");
        }
        let spill = self.shared.clone();
        let _ = tokio::task::spawn_blocking(move || spill.spill.sync()).await;
        let s = self.stats();
        tracing::info!(
            written = s.recorded,
            spilled = s.spilled,
            drained = s.drained,
            spill_pending = s.spill_pending,
            lost = s.lost,
            dropped = s.lost,
            "click writer flushed"
        );
    }

    /// The writer's counters now.
    pub fn stats(&self) -> ClickStats {
        let c = &self.shared.counts;
        ClickStats {
            recorded: c.recorded.load(Ordering::Relaxed),
            buffered: (self.tx.max_capacity() - self.tx.capacity()) as u64,
            spilled: c.spilled.load(Ordering::Relaxed),
            spill_pending: c.spill_pending.load(Ordering::Relaxed),
            drained: c.drained.load(Ordering::Relaxed),
            lost: c.lost.load(Ordering::Relaxed),
        }
    }

    /// Clicks lost (neither queued nor spilled); kept for callers of the old counter.
    pub fn dropped(&self) -> u64 {
        self.shared.counts.lost.load(Ordering::Relaxed)
    }

    /// Clicks stored since start.
    pub fn written(&self) -> u64 {
        self.shared.counts.recorded.load(Ordering::Relaxed)
    }

    /// Clicks the queue holds at most (past it a redirect waits, then spills).
    pub fn capacity(&self) -> usize {
        self.tx.max_capacity()
    }
}

async fn run(db: Db, mut rx: mpsc::Receiver<Msg>, shared: Arc<Shared>) {
    drain_leftovers(&db, &shared).await;
    let mut batch = Batch::default();
    let mut acks: Vec<oneshot::Sender<()>> = Vec::new();
    let mut backoff_until: Option<Instant> = None;
    loop {
        // Drain the spill one segment at a time while the channel has room to spare, so a
        // backlog on disk never starves the clicks arriving now.
        let drain_now = backoff_until.is_none_or(|t| Instant::now() >= t)
            && rx.len() < rx.max_capacity() / 2
            && shared.spill.has_pending();
        let first = if drain_now {
            if drain_one(&db, &shared).await.is_err() {
                backoff_until = Some(Instant::now() + DRAIN_BACKOFF);
            }
            match rx.try_recv() {
                Ok(m) => m,
                Err(TryRecvError::Empty) => continue,
                Err(TryRecvError::Disconnected) => break,
            }
        } else {
            let next = match backoff_until {
                // With a spill to retry, wake up when the back-off ends.
                Some(t) if shared.spill.has_pending() => {
                    let wait = t.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(wait, rx.recv()).await {
                        Ok(m) => m,
                        Err(_) => {
                            backoff_until = None;
                            continue;
                        }
                    }
                }
                _ => rx.recv().await,
            };
            match next {
                Some(m) => m,
                None => break,
            }
        };
        batch.take(first, &mut acks);
        // Let clicks accumulate without waiting on the channel: a receiver that waits is
        // woken by every send, and at tens of thousands of clicks per second those
        // cross-thread wake-ups cost more than the inserts. A flush skips the pause.
        if acks.is_empty() {
            tokio::time::sleep(LINGER).await;
        }
        // Everything queued now is part of this round (a flush covers what came before it).
        loop {
            while batch.rows.len() < db::clicks::MAX_BATCH {
                match rx.try_recv() {
                    Ok(m) => batch.take(m, &mut acks),
                    Err(_) => break,
                }
            }
            let full = batch.rows.len() >= db::clicks::MAX_BATCH;
            store(&db, &mut batch, &shared).await;
            if !full {
                break;
            }
        }
        // Before any flush is acknowledged: a flushed, idle writer keeps no journal file.
        shared.journal.settle();
        if !acks.is_empty() {
            // A flush covers the spill too: drain all of it (a refusing database leaves
            // the rest on disk; the flush then ends without it).
            while shared.spill.has_pending() {
                if drain_one(&db, &shared).await.is_err() {
                    backoff_until = Some(Instant::now() + DRAIN_BACKOFF);
                    break;
                }
            }
            for ack in acks.drain(..) {
                let _ = ack.send(());
            }
        }
        sync(&shared).await;
    }
    store(&db, &mut batch, &shared).await;
    shared.journal.settle();
    sync(&shared).await;
}

/// The clicks of one insert and the journal segments they came through.
#[derive(Default)]
struct Batch {
    rows: Vec<ClickRow>,
    journaled: Vec<u64>,
}

impl Batch {
    fn take(&mut self, m: Msg, acks: &mut Vec<oneshot::Sender<()>>) {
        match m {
            Msg::Click(c, seq) => {
                self.rows.push(*c);
                self.journaled.extend(seq);
            }
            Msg::Flush(ack) => acks.push(ack),
        }
    }
}

/// Fsyncs what was spilled since the last round, off the async threads.
async fn sync(shared: &Arc<Shared>) {
    let s = shared.clone();
    match tokio::task::spawn_blocking(move || s.spill.sync()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "click spill fsync failed"),
        Err(e) => tracing::error!(error = %e, "click spill fsync task failed"),
    }
}

/// Inserts with retries; a batch the database keeps refusing goes to the spill. Either way
/// the journal lets go of the batch's clicks.
async fn store(db: &Db, batch: &mut Batch, shared: &Shared) {
    if batch.rows.is_empty() {
        return;
    }
    let Batch {
        rows: batch,
        journaled,
    } = batch;
    if insert(db, batch).await.is_ok() {
        shared
            .counts
            .recorded
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
    } else {
        let c = &shared.counts;
        for click in batch.iter() {
            match spill::encode(click).and_then(|rec| shared.spill.append(&rec)) {
                Ok(()) => {
                    c.spilled.fetch_add(1, Ordering::Relaxed);
                    c.spill_pending.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    c.lost.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %e, click = %click.id, "click spill failed; click lost");
                }
            }
        }
        tracing::warn!(
            rows = batch.len(),
            "database refused a click batch; spilled it"
        );
    }
    batch.clear();
    shared.journal.stored(journaled);
    journaled.clear();
}

/// One multi-row insert, retried with growing pauses.
async fn insert(db: &Db, rows: &[ClickRow]) -> Result<(), sqlx::Error> {
    let mut attempt = 1;
    loop {
        match db::clicks::insert_batch(db.pool(), db.kind(), rows).await {
            Ok(_) => return Ok(()),
            Err(e) if attempt < ATTEMPTS => {
                tracing::warn!(error = %e, attempt, rows = rows.len(), "storing clicks failed; retrying");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(e) => {
                tracing::error!(error = %e, rows = rows.len(), "storing clicks failed");
                return Err(e);
            }
        }
    }
}

/// Drains this process's oldest spill segment.
async fn drain_one(db: &Db, shared: &Arc<Shared>) -> Result<(), ()> {
    let Some(path) = shared.spill.oldest() else {
        return Ok(());
    };
    drain_segment(db, shared, &path, true).await?;
    if let Err(e) = shared.spill.remove(&path) {
        tracing::error!(error = %e, path = %path.display(), "cannot remove a drained click spill segment");
        return Err(());
    }
    Ok(())
}

/// Inserts every complete record of a segment, in order; `Err` (file kept) when the file
/// cannot be read or the database refuses a batch. `own`: a segment this process spilled
/// (counted in `spill_pending`), not an earlier process's leftover.
async fn drain_segment(
    db: &Db,
    shared: &Shared,
    path: &std::path::Path,
    own: bool,
) -> Result<(), ()> {
    let p = path.to_owned();
    let bytes = match tokio::task::spawn_blocking(move || std::fs::read(p)).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            tracing::error!(error = %e, path = %path.display(), "cannot read a click spill segment");
            return Err(());
        }
        Err(_) => return Err(()),
    };
    let (rows, torn) = spill::decode(&bytes);
    if torn > 0 {
        tracing::warn!(
            path = %path.display(),
            bytes = torn,
            clicks = rows.len(),
            "click spill segment ends in an incomplete record (torn write); skipped it"
        );
    }
    for chunk in rows.chunks(db::clicks::MAX_BATCH) {
        insert(db, chunk).await.map_err(|_| ())?;
        let n = chunk.len() as u64;
        let c = &shared.counts;
        c.recorded.fetch_add(n, Ordering::Relaxed);
        c.drained.fetch_add(n, Ordering::Relaxed);
        if !own {
            continue;
        }
        let _ = c
            .spill_pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                Some(p.saturating_sub(n))
            });
    }
    Ok(())
}

/// At start: drains every slot of this database that no running process holds (what a
/// crashed or stopped process left), oldest segment first.
async fn drain_leftovers(db: &Db, shared: &Arc<Shared>) {
    let root = shared.spill.root().to_owned();
    let slots = match spill::slots(&root) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, dir = %root.display(), "cannot list the click spill");
            return;
        }
    };
    for dir in slots {
        let lock = match spill::lock_slot(&dir) {
            Ok(Some(lock)) => lock,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!(error = %e, dir = %dir.display(), "cannot lock a click spill slot");
                continue;
            }
        };
        let segments = spill::segments(&dir).unwrap_or_default();
        if !segments.is_empty() {
            tracing::info!(dir = %dir.display(), segments = segments.len(), "draining clicks spilled by an earlier process");
        }
        for (_, path) in segments {
            if drain_segment(db, shared, &path, false).await.is_err() {
                // Kept on disk; the next start tries again.
                break;
            }
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::error!(error = %e, path = %path.display(), "cannot remove a drained click spill segment");
                break;
            }
        }
        drop(lock);
    }
}
