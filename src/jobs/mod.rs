//! The background worker: claims due jobs by lease and runs them.
//!
//! Jobs are rows (`db::jobs`). A worker claims a batch by setting a lease; several workers
//! (threads or instances on one PostgreSQL) never hold the same job, and a crashed worker's
//! lease expires so the job runs again. Failed attempts are retried with exponential backoff
//! (1 min doubling to 6 h) until the job's attempts run out. On shutdown the job in flight
//! finishes and the rest of the batch is handed back.
//!
//! Kinds: `send_email`, `sign_in_link`, `group_changed_email`. Each round also matures conversions whose holding period ended (a
//! sweep rather than one job per conversion: conditional updates make it safe on several
//! instances), runs scheduled payouts, sweeps the partner groups' promotion rules, re-checks a few pending portal domains' TXT records
//! (spaced and bounded, see `domain_verification`), and delivers webhooks from their own outbox
//! ([`webhooks`]).

pub mod group_emails;
pub mod mailer;
pub mod send_email;
pub mod sign_in_links;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::db::{self, Db, jobs::ClaimedJob};
use mailer::Mailer;

/// Every job kind the worker runs (the metrics report each, at zero when none is pending).
pub const KINDS: [&str; 1] = [send_email::KIND];

/// How long a claim lasts; longer than any job may take (SMTP times out after 30 s).
const LEASE_MS: i64 = 5 * 60 * 1000;
/// Jobs claimed at once.
const BATCH: i64 = 10;
/// Pause between polls when the queue is empty.
const POLL: Duration = Duration::from_millis(500);
/// First retry delay.
const BACKOFF_BASE_MS: i64 = 60 * 1000;
/// Longest retry delay.
const BACKOFF_MAX_MS: i64 = 6 * 3600 * 1000;
/// Pause between sweeps of the promotion rules (windows slide slowly; approvals evaluate
/// their affiliate at once anyway).
const PROMOTE_EVERY_MS: i64 = 5 * 60 * 1000;
/// Pause between pruning rounds (retention): old rows do not need deleting twice a second.
const PRUNE_EVERY_MS: i64 = 10 * 60 * 1000;

/// The end of a lease taken now, for a round that started at `now` (unix ms).
///
/// A round can outlast a lease (ten slow SMTP servers, a backlog of webhooks), so the lease
/// runs from the clock at claim time, not from the round's start: a lease computed from a
/// stale `now` could already have expired when taken, and another instance would then claim
/// and run the same job again. `now` still counts when it is ahead of the clock (tests run
/// rounds in the future).
pub fn lease_until(now: i64, lease_ms: i64) -> i64 {
    now.max(db::now_ms()).saturating_add(lease_ms)
}

/// What an attempt at a job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Finished.
    Done,
    /// Failed in a way that may pass later (network, 4xx/5xx answers).
    Retry(String),
    /// Failed for good (bad data); no retry.
    Fail(String),
}

/// How the job stands after an attempt was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Finished.
    Done,
    /// Due again at this time (unix ms).
    RetryAt(i64),
    /// Given up.
    Failed,
}

/// Delay before the attempt after `attempts` failed ones: 1 min, 2 min, 4 min … capped at 6 h.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    BACKOFF_BASE_MS
        .saturating_mul(1_i64 << exp)
        .min(BACKOFF_MAX_MS)
}

/// Where an outcome leaves a job, given its attempts so far.
pub fn plan(job: &ClaimedJob, outcome: &Outcome, now: i64) -> Settled {
    match outcome {
        Outcome::Done => Settled::Done,
        Outcome::Retry(_) if job.attempts < job.max_attempts => {
            Settled::RetryAt(now + backoff_ms(job.attempts))
        }
        Outcome::Retry(_) | Outcome::Fail(_) => Settled::Failed,
    }
}

/// Records an attempt's outcome on the job row, in the caller's transaction so a job's own
/// state changes commit together with it.
pub async fn settle(
    conn: &mut db::Conn,
    worker: &str,
    job: &ClaimedJob,
    outcome: &Outcome,
    now: i64,
) -> Result<Settled, sqlx::Error> {
    let settled = plan(job, outcome, now);
    let error = match outcome {
        Outcome::Done => "",
        Outcome::Retry(e) | Outcome::Fail(e) => e.as_str(),
    };
    match settled {
        Settled::Done => db::jobs::complete(&mut *conn, &job.id, worker).await?,
        Settled::RetryAt(at) => db::jobs::retry_at(&mut *conn, &job.id, worker, at, error).await?,
        Settled::Failed => db::jobs::fail(&mut *conn, &job.id, worker, error).await?,
    };
    Ok(settled)
}

/// One worker; run several against one database and each job still runs once.
#[derive(Debug, Clone)]
pub struct Worker {
    db: Db,
    mailer: Arc<Mailer>,
    /// Sender and base URL of the emails jobs write (sign-in links).
    sender: crate::domain::tenancy::mail::Sender,
    id: String,
    webhooks: Option<Arc<webhooks::Outbound>>,
    /// Re-checks pending portal domains; `None` until [`Worker::with_settings`] says which
    /// DNS server to ask (a bare worker makes no DNS queries).
    dns: Option<crate::domain::tenancy::domain_verification::DnsChecker>,
    retention: crate::retention::Retention,
    /// When this worker last pruned (unix ms of the round); `None`: not yet.
    last_prune: Arc<std::sync::Mutex<Option<i64>>>,
    /// When this worker last swept the promotion rules; `None`: not yet.
    last_promotion: Arc<std::sync::Mutex<Option<i64>>>,
}

impl Worker {
    /// A worker with a unique id. Webhooks go only to public addresses until
    /// [`Worker::with_settings`] says otherwise.
    pub fn new(db: Db, mailer: Mailer) -> Self {
        let sender = crate::domain::tenancy::mail::Sender {
            address: "no-reply@localhost".into(),
            base_url: "http://localhost".into(),
        };
        Self {
            db,
            mailer: Arc::new(mailer),
            id: db::new_id("wrk"),
            webhooks: outbound(false, sender.clone()),
            sender,
            dns: None,
            retention: crate::retention::Retention::default(),
            last_prune: Arc::new(std::sync::Mutex::new(None)),
            last_promotion: Arc::new(std::sync::Mutex::new(None)),
        }
    }

    /// Takes the installation's settings for webhook delivery (private addresses, the
    /// sender and links of the endpoint-disabled email).
    pub fn with_settings(mut self, settings: &crate::config::Settings) -> Self {
        self.sender = crate::domain::tenancy::mail::Sender::from_settings(settings);
        self.webhooks = outbound(settings.allow_private_webhook_urls, self.sender.clone());
        self.dns = Some(
            crate::domain::tenancy::domain_verification::DnsChecker::new(settings.dns_resolver),
        );
        self.retention = settings.retention;
        self
    }

    /// Prunes old jobs, emails and clicks (see [`crate::retention`]) when the last pruning
    /// round of this worker is older than `PRUNE_EVERY_MS`.
    async fn prune_if_due(&self, now: i64) {
        let due = match self.last_prune.lock() {
            Ok(mut last) => {
                let due = last.is_none_or(|at| now - at >= PRUNE_EVERY_MS || now < at);
                if due {
                    *last = Some(now);
                }
                due
            }
            Err(_) => false,
        };
        if !due {
            return;
        }
        match crate::retention::prune(&self.db, &self.retention, now).await {
            Ok(p) if p == crate::retention::Pruned::default() => {}
            Ok(p) => tracing::info!(
                jobs = p.jobs,
                emails = p.emails,
                clicks = p.clicks,
                "pruned rows past their retention"
            ),
            Err(e) => tracing::error!(error = ?e, "pruning failed"),
        }
    }

    /// Sweeps the partner groups' promotion rules when this worker's last sweep is older
    /// than `PROMOTE_EVERY_MS` (each move is a conditional update, so several instances
    /// sweeping at once still move an affiliate once).
    async fn promote_if_due(&self, now: i64) {
        let due = match self.last_promotion.lock() {
            Ok(mut last) => {
                let due = last.is_none_or(|at| now - at >= PROMOTE_EVERY_MS || now < at);
                if due {
                    *last = Some(now);
                }
                due
            }
            Err(_) => false,
        };
        if !due {
            return;
        }
        match crate::domain::partners::groups::promotion::sweep(&self.db, now).await {
            Ok(0) => {}
            Ok(moved) => tracing::info!(moved, "promotion rules moved affiliates between groups"),
            Err(e) => tracing::error!(error = ?e, "sweeping promotion rules failed"),
        }
    }

    /// This worker's id (recorded on the jobs it claims).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs every job due at `now` (unix ms), batch after batch, until none is due or
    /// `stop` turns true. Returns how many jobs ran.
    pub async fn run_due(&self, now: i64, stop: &watch::Receiver<bool>) -> anyhow::Result<usize> {
        // Each kind of work is independent: a failure in one (a database hiccup, a
        // serialisation error while another instance works on the same rows) is logged and
        // must not hold up the others; the next round picks it up again.
        match crate::domain::earnings::conversions::mature_due(&self.db, now).await {
            Ok(0) => {}
            Ok(matured) => {
                tracing::info!(matured, "conversions matured after their holding period")
            }
            Err(e) => tracing::error!(error = ?e, "maturing conversions failed"),
        }
        match crate::domain::earnings::bonuses::mature_due(&self.db, now).await {
            Ok(0) => {}
            Ok(matured) => tracing::info!(matured, "bonuses matured after their holding period"),
            Err(e) => tracing::error!(error = ?e, "maturing bonuses failed"),
        }
        if let Err(e) = crate::domain::payouts::schedule::run_due(&self.db, now).await {
            tracing::error!(error = ?e, "scheduled payouts failed");
        }
        if let Some(dns) = &self.dns {
            use crate::domain::tenancy::domain_verification::recheck_pending;
            match recheck_pending(&self.db, dns, now).await {
                Ok(0) => {}
                Ok(verified) => tracing::info!(verified, "portal domains verified by DNS"),
                Err(e) => tracing::error!(error = ?e, "re-checking portal domains failed"),
            }
        }
        self.promote_if_due(now).await;
        self.prune_if_due(now).await;
        let mut ran = 0;
        if let Some(webhooks) = &self.webhooks {
            match webhooks.run_due(&self.db, &self.id, now).await {
                Ok(n) => ran += n,
                Err(e) => tracing::error!(error = ?e, "webhook delivery round failed"),
            }
        }
        loop {
            let mut conn = self.db.begin().await?;
            let batch =
                db::jobs::claim(&mut *conn, &self.id, now, lease_until(now, LEASE_MS), BATCH)
                    .await?;
            conn.commit().await?;
            if batch.is_empty() {
                return Ok(ran);
            }
            let mut jobs = batch.into_iter();
            while let Some(job) = jobs.next() {
                if *stop.borrow() {
                    self.release(std::iter::once(job).chain(jobs)).await;
                    return Ok(ran);
                }
                self.run_one(&job, now).await;
                ran += 1;
            }
        }
    }

    /// Runs the due jobs of one kind only (draining one queue, e.g. the sign-in link
    /// requests, without sending the emails they write). Returns how many ran.
    pub async fn run_due_kind(&self, kind: &str, now: i64) -> anyhow::Result<usize> {
        let mut ran = 0;
        loop {
            let mut conn = self.db.begin().await?;
            let batch = db::jobs::claim_kind(
                &mut *conn,
                &self.id,
                kind,
                now,
                lease_until(now, LEASE_MS),
                BATCH,
            )
            .await?;
            conn.commit().await?;
            if batch.is_empty() {
                return Ok(ran);
            }
            for job in &batch {
                self.run_one(job, now).await;
                ran += 1;
            }
        }
    }

    async fn run_one(&self, job: &ClaimedJob, now: i64) {
        let result = match job.kind.as_str() {
            send_email::KIND => send_email::run(&self.db, &self.mailer, &self.id, job, now).await,
            sign_in_links::KIND => {
                sign_in_links::run(&self.db, &self.sender, &self.id, job, now).await
            }
            group_emails::KIND => {
                group_emails::run(&self.db, &self.sender, &self.id, job, now).await
            }
            other => {
                self.settle_alone(
                    job,
                    &Outcome::Fail(format!("unknown job kind {other:?}")),
                    now,
                )
                .await
            }
        };
        if let Err(e) = result {
            // The lease expires and another attempt follows; nothing is lost.
            tracing::error!(job_id = %job.id, kind = %job.kind, error = ?e, "job crashed");
        }
    }

    async fn settle_alone(
        &self,
        job: &ClaimedJob,
        outcome: &Outcome,
        now: i64,
    ) -> anyhow::Result<()> {
        let mut tx = self.db.begin().await?;
        settle(&mut tx, &self.id, job, outcome, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn release(&self, jobs: impl Iterator<Item = ClaimedJob>) {
        for job in jobs {
            if let Err(e) = db::jobs::release(self.db.pool(), &job.id, &self.id).await {
                tracing::warn!(job_id = %job.id, error = %e, "could not release job; its lease will expire");
            }
        }
    }

    /// Polls for due jobs until `shutdown` turns true, then returns after the job in flight.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(worker = %self.id, dev_mailbox = self.mailer.is_dev_mailbox(), "job worker started");
        loop {
            if *shutdown.borrow() {
                break;
            }
            if let Err(e) = self.run_due(db::now_ms(), &shutdown).await {
                tracing::error!(error = ?e, "job polling failed");
            }
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
        tracing::info!(worker = %self.id, "job worker stopped");
    }
}

/// The webhook client; without one (TLS set-up failed), deliveries wait in their outbox.
fn outbound(
    allow_private: bool,
    sender: crate::domain::tenancy::mail::Sender,
) -> Option<Arc<webhooks::Outbound>> {
    match webhooks::Outbound::new(allow_private, sender) {
        Ok(o) => Some(Arc::new(o)),
        Err(e) => {
            tracing::error!(error = ?e, "webhook client could not be built; deliveries wait");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_minute_to_six_hours() {
        assert_eq!(backoff_ms(1), 60_000);
        assert_eq!(backoff_ms(2), 120_000);
        assert_eq!(backoff_ms(4), 480_000);
        assert_eq!(backoff_ms(9), 256 * 60_000);
        assert_eq!(backoff_ms(10), 6 * 3600 * 1000);
        assert_eq!(backoff_ms(50), 6 * 3600 * 1000);
    }

    #[test]
    fn a_lease_runs_from_the_clock_even_in_a_late_round() {
        let clock = db::now_ms();
        // A round that started ten minutes ago takes leases that are still live.
        assert!(lease_until(clock - 600_000, LEASE_MS) >= clock + LEASE_MS);
        // A round in the future (tests) leases from its own time.
        let later = clock + 86_400_000;
        assert_eq!(lease_until(later, LEASE_MS), later + LEASE_MS);
    }

    #[test]
    fn retries_stop_at_max_attempts() {
        let job = |attempts| ClaimedJob {
            id: "j".into(),
            kind: "k".into(),
            payload: "{}".into(),
            attempts,
            max_attempts: 3,
        };
        let retry = Outcome::Retry("x".into());
        assert_eq!(plan(&job(1), &retry, 0), Settled::RetryAt(60_000));
        assert_eq!(plan(&job(3), &retry, 0), Settled::Failed);
        assert_eq!(
            plan(&job(1), &Outcome::Fail("x".into()), 0),
            Settled::Failed
        );
        assert_eq!(plan(&job(1), &Outcome::Done, 0), Settled::Done);
    }
}
