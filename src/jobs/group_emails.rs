//! The `group_changed_email` job: the worker's half of a group move. The move only enqueued
//! this job (it may happen in a transaction that has no sender, such as an approval); here
//! the email is rendered with the installation's sender and written to the outbox.

use crate::db::{Db, jobs::ClaimedJob};
use crate::domain::partners::groups::moves::{self, Moved};
use crate::domain::tenancy::mail::Sender;
use crate::error::AppError;
use crate::jobs::{Outcome, settle};

/// The job kind.
pub const KIND: &str = moves::EMAIL_JOB;

/// Writes the email of one move; records the outcome.
pub async fn run(
    db: &Db,
    sender: &Sender,
    worker: &str,
    job: &ClaimedJob,
    now: i64,
) -> anyhow::Result<()> {
    let outcome = match serde_json::from_str::<Moved>(&job.payload) {
        Err(e) => Outcome::Fail(format!("unreadable payload: {e}")),
        Ok(m) => match moves::send_email(db, sender, &m).await {
            Ok(()) => Outcome::Done,
            // The vendor, affiliate or group is gone since: nothing to send.
            Err(AppError::NotFound) => Outcome::Done,
            Err(e) => Outcome::Retry(e.to_string()),
        },
    };
    let mut tx = db.begin().await?;
    settle(&mut tx, worker, job, &outcome, now).await?;
    tx.commit().await?;
    Ok(())
}
