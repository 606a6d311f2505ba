//! The email outbox.

use sqlx::{Any, Executor, FromRow};

use super::now_ms;

/// An email to store, fully rendered.
#[derive(Debug, Clone)]
pub struct NewEmail<'a> {
    /// `eml_...`, chosen by the caller (it also makes the Message-ID).
    pub id: &'a str,
    /// Tenant whose branding and outbox it belongs to.
    pub vendor_id: &'a str,
    /// What the email is, e.g. `staff_sign_in`.
    pub kind: &'a str,
    /// Recipient address.
    pub to_email: &'a str,
    /// Recipient display name.
    pub to_name: Option<&'a str>,
    /// Sender display name (the vendor's name).
    pub from_name: &'a str,
    /// Sender address.
    pub from_email: &'a str,
    /// Reply-To address (the vendor's support email).
    pub reply_to: Option<&'a str>,
    /// Subject line.
    pub subject: &'a str,
    /// Plain-text part.
    pub body_text: &'a str,
    /// HTML part.
    pub body_html: &'a str,
    /// `<id@domain>`.
    pub message_id: &'a str,
    /// List-Unsubscribe header value, for notification emails.
    pub list_unsubscribe: Option<&'a str>,
}

/// A stored email.
#[derive(Debug, Clone, FromRow)]
pub struct EmailRow {
    /// `eml_...`
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// What the email is.
    pub kind: String,
    /// Recipient address.
    pub to_email: String,
    /// Recipient name.
    pub to_name: Option<String>,
    /// Sender name.
    pub from_name: String,
    /// Sender address.
    pub from_email: String,
    /// Reply-To address.
    pub reply_to: Option<String>,
    /// Subject.
    pub subject: String,
    /// Plain-text part.
    pub body_text: String,
    /// HTML part.
    pub body_html: String,
    /// Message-ID header.
    pub message_id: String,
    /// List-Unsubscribe header.
    pub list_unsubscribe: Option<String>,
    /// `pending`, `sent`, `mailbox` (kept in the dev mailbox, no SMTP) or `failed`.
    pub status: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// The last delivery error.
    pub last_error: Option<String>,
    /// When the next attempt is due, unix ms.
    pub next_attempt_at: Option<i64>,
    /// When it was handed to the SMTP server, unix ms.
    pub sent_at: Option<i64>,
    /// When it was written, unix ms.
    pub created_at: i64,
}

macro_rules! cols {
    () => {
        "id, vendor_id, kind, to_email, to_name, from_name, from_email, reply_to, subject, \
         body_text, body_html, message_id, list_unsubscribe, status, attempts, last_error, \
         next_attempt_at, sent_at, created_at"
    };
}

/// Stores an email as pending.
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    e: &NewEmail<'_>,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO email_outbox (id, vendor_id, kind, to_email, to_name, from_name, from_email, \
         reply_to, subject, body_text, body_html, message_id, list_unsubscribe, status, \
         next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'pending', $14, $14, $14)",
    )
    .bind(e.id)
    .bind(e.vendor_id)
    .bind(e.kind)
    .bind(e.to_email)
    .bind(e.to_name)
    .bind(e.from_name)
    .bind(e.from_email)
    .bind(e.reply_to)
    .bind(e.subject)
    .bind(e.body_text)
    .bind(e.body_html)
    .bind(e.message_id)
    .bind(e.list_unsubscribe)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// One email by id (no tenant filter: for the worker, which serves every vendor).
pub async fn by_id_any_vendor<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<Option<EmailRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM email_outbox WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// One email of a vendor.
pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<EmailRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM email_outbox WHERE vendor_id = $1 AND id = $2"
    ))
    .bind(vendor_id)
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// One page of a vendor's emails, newest first.
pub async fn page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<EmailRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM email_outbox WHERE vendor_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
    ))
    .bind(vendor_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(ex)
    .await
}

/// How many emails a vendor has.
pub async fn count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM email_outbox WHERE vendor_id = $1")
        .bind(vendor_id)
        .fetch_one(ex)
        .await?;
    Ok(n)
}

/// Records the outcome of one delivery attempt. `status` is the new status; `next_attempt_at`
/// is set while retries remain.
pub async fn record_attempt<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    status: &str,
    error: Option<&str>,
    next_attempt_at: Option<i64>,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let sent_at = (status == "sent").then_some(now);
    sqlx::query(
        "UPDATE email_outbox SET status = $1, attempts = attempts + 1, last_error = $2, \
         next_attempt_at = $3, sent_at = COALESCE($4, sent_at), updated_at = $5 WHERE id = $6",
    )
    .bind(status)
    .bind(error)
    .bind(next_attempt_at)
    .bind(sent_at)
    .bind(now)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Puts a failed email back in the queue; `false` if it was not failed.
pub async fn requeue_failed<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE email_outbox SET status = 'pending', next_attempt_at = $1, updated_at = $1 \
         WHERE vendor_id = $2 AND id = $3 AND status = 'failed'",
    )
    .bind(now)
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}
