//! Applications to join a program.

use sqlx::{Any, Executor, FromRow};

use super::{new_id, now_ms};

/// An application as stored.
#[derive(Debug, Clone, FromRow)]
pub struct ApplicationRow {
    /// `app_...`
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// The program applied to.
    pub program_id: String,
    /// Applicant email.
    pub email: String,
    /// Applicant name.
    pub name: String,
    /// Company.
    pub company: Option<String>,
    /// Website.
    pub website: Option<String>,
    /// Why they want to join.
    pub reason: Option<String>,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Why it was rejected.
    pub rejection_reason: Option<String>,
    /// The affiliate created or reused on approval.
    pub affiliate_id: Option<String>,
    /// `api` or `portal`.
    pub source: String,
    /// Review time, unix ms.
    pub reviewed_at: Option<i64>,
    /// Submission time, unix ms.
    pub created_at: i64,
    /// Answers to the group's questions, a JSON object `{key: answer}`.
    pub answers: String,
    /// The group applied to (NULL: the default group).
    pub group_id: Option<String>,
}

/// A new application's fields.
#[derive(Debug, Clone)]
pub struct NewApplication<'a> {
    /// Program.
    pub program_id: &'a str,
    /// Email.
    pub email: &'a str,
    /// Name.
    pub name: &'a str,
    /// Company.
    pub company: Option<&'a str>,
    /// Website.
    pub website: Option<&'a str>,
    /// Reason.
    pub reason: Option<&'a str>,
    /// `api` or `portal`.
    pub source: &'a str,
    /// Answers JSON.
    pub answers: &'a str,
    /// The group applied to.
    pub group_id: Option<&'a str>,
}

macro_rules! cols {
    () => {
        "id, vendor_id, program_id, email, name, company, website, reason, status, \
         rejection_reason, affiliate_id, source, reviewed_at, created_at, answers, group_id"
    };
}

/// Inserts a pending application; an open one for the same program and email is a unique
/// violation on `email`.
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    a: &NewApplication<'_>,
) -> Result<ApplicationRow, sqlx::Error> {
    let now = now_ms();
    sqlx::query_as(concat!(
        "INSERT INTO applications (id, vendor_id, program_id, email, name, company, website, reason, \
         status, source, created_at, updated_at, answers, group_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10, $10, $11, $12) RETURNING ",
        cols!()
    ))
    .bind(new_id("app"))
    .bind(vendor_id)
    .bind(a.program_id)
    .bind(a.email)
    .bind(a.name)
    .bind(a.company)
    .bind(a.website)
    .bind(a.reason)
    .bind(a.source)
    .bind(now)
    .bind(a.answers)
    .bind(a.group_id)
    .fetch_one(ex)
    .await
}

/// One application of a vendor.
pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<ApplicationRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM applications WHERE vendor_id = $1 AND id = $2"
    ))
    .bind(vendor_id)
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// The newest application of an email at a vendor, optionally for one program.
pub async fn latest_by_email<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    email: &str,
    program_id: Option<&str>,
) -> Result<Option<ApplicationRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM applications WHERE vendor_id = $1 AND LOWER(email) = LOWER($2) \
          AND ($3 IS NULL OR program_id = $3) ORDER BY created_at DESC, id DESC LIMIT 1"
    ))
    .bind(vendor_id)
    .bind(email)
    .bind(program_id)
    .fetch_optional(ex)
    .await
}

/// One page of a vendor's applications, optionally of one status; pending ones oldest
/// first (a queue), others newest first.
pub async fn page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<ApplicationRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM applications WHERE vendor_id = $1 AND ($2 IS NULL OR status = $2) \
          ORDER BY CASE WHEN status = 'pending' THEN 0 ELSE 1 END, \
          CASE WHEN status = 'pending' THEN created_at ELSE -created_at END, id \
          LIMIT $3 OFFSET $4"
    ))
    .bind(vendor_id)
    .bind(status)
    .bind(limit)
    .bind(offset)
    .fetch_all(ex)
    .await
}

/// How many of a vendor's applications have `status` (all when `None`).
pub async fn count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    status: Option<&str>,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM applications WHERE vendor_id = $1 AND ($2 IS NULL OR status = $2)",
    )
    .bind(vendor_id)
    .bind(status)
    .fetch_one(ex)
    .await?;
    Ok(n)
}

/// Decides a pending application; `false` if it was not pending (already reviewed).
#[allow(clippy::too_many_arguments)]
pub async fn decide<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    status: &str,
    rejection_reason: Option<&str>,
    affiliate_id: Option<&str>,
    reviewed_by: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE applications SET status = $1, rejection_reason = $2, affiliate_id = $3, \
         reviewed_by = $4, reviewed_at = $5, updated_at = $5 \
         WHERE vendor_id = $6 AND id = $7 AND status = 'pending'",
    )
    .bind(status)
    .bind(rejection_reason)
    .bind(affiliate_id)
    .bind(reviewed_by)
    .bind(now)
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Every application of an email at a vendor, newest first.
pub async fn by_email<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    email: &str,
) -> Result<Vec<ApplicationRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM applications WHERE vendor_id = $1 AND LOWER(email) = LOWER($2) \
          ORDER BY created_at DESC, id DESC"
    ))
    .bind(vendor_id)
    .bind(email)
    .fetch_all(ex)
    .await
}
