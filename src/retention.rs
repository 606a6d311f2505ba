//! Retention: how long finished jobs, sent emails and raw clicks are kept, and the
//! worker's pruning round.
//!
//! The ledger and the billing event log are never pruned: the ledger is the record of
//! money and the event log is what billing replays from (no setting reaches them).
//! Clicks are pruned by whole UTC days behind a per-vendor horizon so the click rollups,
//! which keep the pruned days' counts, stay consistent with what is left (see
//! `db::rollups`).

use anyhow::bail;

use crate::db::{self, Db};

/// Default days a finished job is kept.
pub const DEFAULT_JOBS_DAYS: u32 = 30;
/// Default days a sent or failed email is kept.
pub const DEFAULT_EMAILS_DAYS: u32 = 90;
/// Default days raw clicks are kept (0: forever).
pub const DEFAULT_CLICKS_DAYS: u32 = 0;
/// Shortest click retention accepted: the longest cookie a program may set, so a referral
/// reported with its click id (`aff_sess`) still finds its click.
pub const MIN_CLICKS_DAYS: u32 = 730;
/// Rows deleted per statement.
pub const BATCH: i64 = 1_000;
/// Statements per kind per round: a round deletes at most `BATCH * ROUND_BATCHES` rows of
/// each kind; the next round goes on.
const ROUND_BATCHES: u32 = 20;
const DAY_MS: i64 = 86_400_000;

/// Days each kind of row is kept; 0 keeps it forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Finished jobs.
    pub jobs_days: u32,
    /// Sent or failed emails.
    pub emails_days: u32,
    /// Raw clicks (0 or at least [`MIN_CLICKS_DAYS`]).
    pub clicks_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            jobs_days: DEFAULT_JOBS_DAYS,
            emails_days: DEFAULT_EMAILS_DAYS,
            clicks_days: DEFAULT_CLICKS_DAYS,
        }
    }
}

impl Retention {
    /// The settings given (defaults for the others), checked.
    pub fn new(
        jobs: Option<u32>,
        emails: Option<u32>,
        clicks: Option<u32>,
    ) -> anyhow::Result<Self> {
        let clicks_days = clicks.unwrap_or(DEFAULT_CLICKS_DAYS);
        if clicks_days != 0 && clicks_days < MIN_CLICKS_DAYS {
            bail!(
                "retain_clicks_days must be 0 (keep forever) or at least {MIN_CLICKS_DAYS}, \
                 the longest cookie a program may set; got {clicks_days}"
            );
        }
        Ok(Self {
            jobs_days: jobs.unwrap_or(DEFAULT_JOBS_DAYS),
            emails_days: emails.unwrap_or(DEFAULT_EMAILS_DAYS),
            clicks_days,
        })
    }
}

/// Rows one pruning round deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Finished jobs.
    pub jobs: u64,
    /// Emails.
    pub emails: u64,
    /// Clicks.
    pub clicks: u64,
}

/// The instant `days` before `now`; `None` when `days` is 0 (keep forever).
fn cutoff(now: i64, days: u32) -> Option<i64> {
    (days > 0).then(|| now.saturating_sub(i64::from(days).saturating_mul(DAY_MS)))
}

/// One bounded pruning round at `now` (unix ms): at most `BATCH * 20` rows of each kind,
/// each batch its own short statement or transaction.
pub async fn prune(db: &Db, retention: &Retention, now: i64) -> anyhow::Result<Pruned> {
    let mut out = Pruned::default();
    if let Some(before) = cutoff(now, retention.jobs_days) {
        for _ in 0..ROUND_BATCHES {
            let n = db::retention::prune_jobs(db.pool(), before, BATCH).await?;
            out.jobs += n;
            if n < BATCH as u64 {
                break;
            }
        }
    }
    if let Some(before) = cutoff(now, retention.emails_days) {
        for _ in 0..ROUND_BATCHES {
            let n = db::retention::prune_emails(db.pool(), before, BATCH).await?;
            out.emails += n;
            if n < BATCH as u64 {
                break;
            }
        }
    }
    if let Some(before) = cutoff(now, retention.clicks_days) {
        // Whole UTC days only: a rollup bucket is either entirely before the horizon (its
        // clicks gone) or entirely after it (its clicks all kept).
        let before = before.div_euclid(DAY_MS) * DAY_MS;
        let mut budget = ROUND_BATCHES;
        for vendor in db::vendors::all_ids(db.pool()).await? {
            if budget == 0 {
                break;
            }
            if !db::retention::has_clicks_before(db.pool(), &vendor, before).await? {
                continue;
            }
            while budget > 0 {
                budget -= 1;
                let mut tx = db.begin().await?;
                let n = db::retention::prune_clicks(&mut tx, &vendor, before, BATCH).await?;
                tx.commit().await?;
                out.clicks += n;
                if n < BATCH as u64 {
                    break;
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_click_retention_is_refused() {
        assert!(Retention::new(None, None, Some(30)).is_err());
        assert_eq!(Retention::new(None, None, Some(0)).unwrap().clicks_days, 0);
        assert_eq!(
            Retention::new(Some(0), None, Some(800)).unwrap(),
            Retention {
                jobs_days: 0,
                emails_days: DEFAULT_EMAILS_DAYS,
                clicks_days: 800
            }
        );
    }

    #[test]
    fn zero_days_keeps_forever() {
        assert_eq!(cutoff(10 * DAY_MS, 0), None);
        assert_eq!(cutoff(10 * DAY_MS, 3), Some(7 * DAY_MS));
    }
}
