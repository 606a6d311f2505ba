//! Server-side sign-ins (sessions): one row per signed-in browser, found by the hash of
//! the random token its cookie carries.

use sqlx::{Any, Executor};

use super::{new_id, now_ms};

/// Kind of a staff (dashboard) sign-in; its subject is the `vendor_users` id.
pub const STAFF: &str = "staff";
/// Kind of an affiliate's portal sign-in; its subject is the affiliate id.
pub const AFFILIATE: &str = "affiliate";
/// Kind of an applicant's portal sign-in; its subject is the lower-cased email.
pub const APPLICANT: &str = "applicant";

/// How stale `last_seen_at` may get before a request refreshes it: one write a minute per
/// session at most, not one per page.
const TOUCH_EVERY_MS: i64 = 60_000;

/// Records a sign-in of `subject` (of `kind`) until `expires_at`.
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    kind: &str,
    subject: &str,
    token_hash: &str,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO sign_ins (id, vendor_id, kind, subject, token_hash, created_at, \
         last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
    )
    .bind(new_id("sin"))
    .bind(vendor_id)
    .bind(kind)
    .bind(subject)
    .bind(token_hash)
    .bind(now)
    .bind(expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// Whether the sign-in with this token hash is live for exactly this vendor, kind and
/// subject (not revoked, not expired); a live one has its `last_seen_at` refreshed when
/// stale.
pub async fn check<'e, E: Executor<'e, Database = Any> + Copy>(
    ex: E,
    vendor_id: &str,
    kind: &str,
    subject: &str,
    token_hash: &str,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT last_seen_at FROM sign_ins WHERE token_hash = $1 AND vendor_id = $2 \
         AND kind = $3 AND subject = $4 AND revoked_at IS NULL AND expires_at > $5",
    )
    .bind(token_hash)
    .bind(vendor_id)
    .bind(kind)
    .bind(subject)
    .bind(now)
    .fetch_optional(ex)
    .await?;
    let Some((seen,)) = row else {
        return Ok(false);
    };
    if now - seen > TOUCH_EVERY_MS {
        sqlx::query(
            "UPDATE sign_ins SET last_seen_at = $1 WHERE token_hash = $2 AND vendor_id = $3",
        )
        .bind(now)
        .bind(token_hash)
        .bind(vendor_id)
        .execute(ex)
        .await?;
    }
    Ok(true)
}

/// Revokes one sign-in (this browser's sign-out).
pub async fn revoke<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    token_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sign_ins SET revoked_at = $1 WHERE vendor_id = $2 AND token_hash = $3 \
         AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(vendor_id)
    .bind(token_hash)
    .execute(ex)
    .await?;
    Ok(())
}

/// Revokes every live sign-in of a subject ("sign out everywhere", a new password);
/// returns how many ended.
pub async fn revoke_all<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    kind: &str,
    subject: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sign_ins SET revoked_at = $1 WHERE vendor_id = $2 AND kind = $3 \
         AND subject = $4 AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(vendor_id)
    .bind(kind)
    .bind(subject)
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}

/// Live sign-ins of a subject (for tests and the account page's count).
pub async fn count_live<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    kind: &str,
    subject: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM sign_ins WHERE vendor_id = $1 AND kind = $2 AND subject = $3 \
         AND revoked_at IS NULL AND expires_at > $4",
    )
    .bind(vendor_id)
    .bind(kind)
    .bind(subject)
    .bind(now_ms())
    .fetch_one(ex)
    .await?;
    Ok(n)
}
