//! The `send_email` job: deliver one outbox email.

use anyhow::Context;
use serde::Deserialize;

use crate::db::{self, Db, jobs::ClaimedJob};
use crate::domain::tenancy::mail;
use crate::domain::values::status::EmailStatus;
use crate::jobs::mailer::{Mailer, SendError};
use crate::jobs::{Outcome, Settled, settle};

/// The job kind.
pub const KIND: &str = mail::SEND_EMAIL_JOB;

/// The `outcome` of an attempt that gave up.
const EMAIL_FAILED: &str = "failed";

/// Counts an attempt's outcome (`affilia_email_deliveries_total`).
fn count(outcome: &'static str) {
    metrics::counter!(crate::monitoring::EMAIL_DELIVERIES, "outcome" => outcome).increment(1);
}

#[derive(Deserialize)]
struct Payload {
    email_id: String,
}

/// Sends the email (or keeps it in the dev mailbox) and records the attempt on the email and
/// the job in one transaction.
pub async fn run(
    db: &Db,
    mailer: &Mailer,
    worker: &str,
    job: &ClaimedJob,
    now: i64,
) -> anyhow::Result<()> {
    let payload: Option<Payload> = serde_json::from_str(&job.payload).ok();
    let email = match &payload {
        Some(p) => db::emails::by_id_any_vendor(db.pool(), &p.email_id).await?,
        None => None,
    };
    let Some(email) = email else {
        count(EMAIL_FAILED);
        let mut tx = db.begin().await?;
        settle(
            &mut tx,
            worker,
            job,
            &Outcome::Fail("email not found".into()),
            now,
        )
        .await?;
        tx.commit().await?;
        return Ok(());
    };
    if EmailStatus::of(&email.status).is_some_and(EmailStatus::is_done) {
        // Delivered by an earlier attempt whose job update was lost; do not send twice.
        let mut tx = db.begin().await?;
        settle(&mut tx, worker, job, &Outcome::Done, now).await?;
        tx.commit().await?;
        return Ok(());
    }

    let outcome = if mailer.is_dev_mailbox() {
        let links = mail::links(&email.body_text).join(" ");
        tracing::info!(
            email_id = %email.id, to = %email.to_email, subject = %email.subject, links = %links,
            "no SMTP server configured (AFFILIA_SMTP_URL): email kept in the dev mailbox at /dashboard/emails"
        );
        Outcome::Done
    } else {
        match mailer.send(&email).await {
            Ok(()) => Outcome::Done,
            Err(SendError::Transient(e)) => Outcome::Retry(e),
            Err(SendError::Permanent(e)) => Outcome::Fail(e),
        }
    };

    let mut tx = db.begin().await?;
    let settled = settle(&mut tx, worker, job, &outcome, now).await?;
    let error = match &outcome {
        Outcome::Done => None,
        Outcome::Retry(e) | Outcome::Fail(e) => Some(e.as_str()),
    };
    let (status, next) = match settled {
        Settled::Done if mailer.is_dev_mailbox() => (EmailStatus::Mailbox.as_str(), None),
        Settled::Done => (EmailStatus::Sent.as_str(), None),
        Settled::RetryAt(at) => ("pending", Some(at)),
        Settled::Failed => ("failed", None),
    };
    db::emails::record_attempt(&mut *tx, &email.id, status, error, next).await?;
    tx.commit().await.context("recording the email attempt")?;
    count(match settled {
        Settled::Done if mailer.is_dev_mailbox() => "mailbox",
        Settled::Done => "sent",
        Settled::RetryAt(_) => "retried",
        Settled::Failed => EMAIL_FAILED,
    });
    match settled {
        Settled::Done => tracing::info!(email_id = %email.id, status, "email handled"),
        Settled::RetryAt(at) => {
            tracing::warn!(email_id = %email.id, error = ?error, retry_at = %db::rfc3339(at), "email delivery failed; will retry")
        }
        Settled::Failed => {
            tracing::error!(email_id = %email.id, error = ?error, "email delivery failed for good")
        }
    }
    Ok(())
}
