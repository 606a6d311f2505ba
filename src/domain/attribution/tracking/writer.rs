//! Clicks are stored off the request path: the redirect hands a finished row to a bounded
//! channel and returns; one task drains the channel and inserts up to
//! [`db::clicks::MAX_BATCH`] rows per statement.
//!
//! Trade-off (documented in the README): when the database cannot keep up and the channel is
//! full, new clicks are dropped and counted ([`ClickWriter::dropped`]) rather than slowing
//! the visitor's redirect; a click still queued when the process is killed without a
//! graceful shutdown is lost. A graceful shutdown ([`ClickWriter::shutdown`]) writes
//! everything queued. A failed batch is retried a few times before it is dropped and counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::db::{self, Db, clicks::ClickRow};

/// Clicks queued at most before new ones are dropped.
pub const QUEUE: usize = 20_000;
/// How long the writer lets clicks accumulate after the first one of a round.
const LINGER: Duration = Duration::from_millis(50);
/// Attempts per batch before it is dropped.
const ATTEMPTS: u32 = 5;

enum Msg {
    Click(Box<ClickRow>),
    Flush(oneshot::Sender<()>),
}

/// Handle of the click-writing task.
#[derive(Debug)]
pub struct ClickWriter {
    tx: mpsc::Sender<Msg>,
    counts: Arc<Counts>,
}

/// What the writer did since start.
#[derive(Debug, Default)]
struct Counts {
    written: AtomicU64,
    dropped: AtomicU64,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Click(c) => write!(f, "Click({})", c.id),
            Msg::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl ClickWriter {
    /// Spawns the writer task on the current Tokio runtime.
    pub fn start(db: Db) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let counts = Arc::new(Counts::default());
        tokio::spawn(run(db, rx, counts.clone()));
        Arc::new(Self { tx, counts })
    }

    /// Queues a click without waiting; `false` (and counted) when the queue is full.
    pub fn record(&self, click: ClickRow) -> bool {
        match self.tx.try_send(Msg::Click(Box::new(click))) {
            Ok(()) => true,
            Err(_) => {
                let n = self.counts.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                // One line per thousand drops: enough to notice, not a log flood.
                if n % 1000 == 1 {
                    tracing::warn!(dropped = n, "click queue full; clicks are being dropped");
                }
                false
            }
        }
    }

    /// Waits until every click queued before this call is stored (or given up on).
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Msg::Flush(ack)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Stores everything queued; called on graceful shutdown after the HTTP server drained.
    pub async fn shutdown(&self) {
        self.flush().await;
        tracing::info!(
            written = self.written(),
            dropped = self.dropped(),
            "click writer flushed"
        );
    }

    /// Clicks dropped because the queue was full or the database kept failing.
    pub fn dropped(&self) -> u64 {
        self.counts.dropped.load(Ordering::Relaxed)
    }

    /// Clicks stored since start.
    pub fn written(&self) -> u64 {
        self.counts.written.load(Ordering::Relaxed)
    }

    /// Everything the writer can tell about itself now (the metrics scrape reads this).
    pub fn stats(&self) -> WriterStats {
        let capacity = self.tx.max_capacity();
        WriterStats {
            written: self.written(),
            dropped: self.dropped(),
            // A pending flush request takes a slot too; close enough for a gauge.
            queued: capacity.saturating_sub(self.tx.capacity()),
            capacity,
        }
    }
}

/// A snapshot of the click writer's counters and queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterStats {
    /// Clicks stored since start.
    pub written: u64,
    /// Clicks dropped since start (queue full, or the database kept failing).
    pub dropped: u64,
    /// Clicks waiting in the queue now.
    pub queued: usize,
    /// Clicks the queue holds at most.
    pub capacity: usize,
}

async fn run(db: Db, mut rx: mpsc::Receiver<Msg>, counts: Arc<Counts>) {
    let mut batch: Vec<ClickRow> = Vec::with_capacity(db::clicks::MAX_BATCH);
    let mut acks: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        take(first, &mut batch, &mut acks);
        // Let clicks accumulate without waiting on the channel: a receiver that waits is
        // woken by every send, and at tens of thousands of clicks per second those
        // cross-thread wake-ups cost more than the inserts. A flush skips the pause.
        if acks.is_empty() {
            tokio::time::sleep(LINGER).await;
        }
        // Everything queued now is part of this round (a flush covers what came before it).
        loop {
            while batch.len() < db::clicks::MAX_BATCH {
                match rx.try_recv() {
                    Ok(m) => take(m, &mut batch, &mut acks),
                    Err(_) => break,
                }
            }
            let full = batch.len() >= db::clicks::MAX_BATCH;
            store(&db, &mut batch, &counts).await;
            if !full {
                break;
            }
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
    }
    store(&db, &mut batch, &counts).await;
}

fn take(m: Msg, batch: &mut Vec<ClickRow>, acks: &mut Vec<oneshot::Sender<()>>) {
    match m {
        Msg::Click(c) => batch.push(*c),
        Msg::Flush(ack) => acks.push(ack),
    }
}

async fn store(db: &Db, batch: &mut Vec<ClickRow>, counts: &Counts) {
    if batch.is_empty() {
        return;
    }
    for attempt in 1..=ATTEMPTS {
        match db::clicks::insert_batch(db.pool(), db.kind(), batch).await {
            Ok(_) => {
                counts
                    .written
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                batch.clear();
                return;
            }
            Err(e) if attempt < ATTEMPTS => {
                tracing::warn!(error = %e, attempt, rows = batch.len(), "storing clicks failed; retrying");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            Err(e) => {
                tracing::error!(error = %e, rows = batch.len(), "storing clicks failed; batch dropped");
                counts
                    .dropped
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
        }
    }
    batch.clear();
}
