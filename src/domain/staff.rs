//! Staff sign-in with throttling, and password resets.

use sha2::{Digest, Sha256};

use crate::db::{self, Db, users::UserRow};
use crate::domain::{Email, password};
use crate::error::{AppError, AppResult};

/// Failures allowed per (email, client) within [`THROTTLE_WINDOW_MS`].
pub const MAX_FAILURES: i64 = 10;
/// The sliding window of the throttle: 15 minutes.
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;

/// Checks an email and password. Wrong credentials are recorded; the 11th attempt within
/// 15 minutes for the same email from the same client is refused with 429, right password
/// or not, until the oldest failure leaves the window.
pub async fn sign_in(db: &Db, email: &str, password: &str, client: &str) -> AppResult<UserRow> {
    let key = throttle_key(email, client);
    let now = db::now_ms();
    let (failures, oldest) =
        db::throttle::failures_since(db.pool(), &key, now - THROTTLE_WINDOW_MS).await?;
    if failures >= MAX_FAILURES {
        let until = oldest.unwrap_or(now) + THROTTLE_WINDOW_MS;
        let retry_after_secs = u64::try_from((until - now).max(1000) / 1000).unwrap_or(1);
        return Err(AppError::RateLimited { retry_after_secs });
    }
    let user = match Email::parse("email", email) {
        Ok(e) => db::users::by_email(db.pool(), e.as_str()).await?,
        Err(_) => None,
    };
    let ok = password::verify(
        password.to_owned(),
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    match user {
        Some(user) if ok => {
            db::throttle::clear(db.pool(), &key, now - THROTTLE_WINDOW_MS).await?;
            db::users::touch_login(db.pool(), &user.id).await?;
            Ok(user)
        }
        _ => {
            db::throttle::record_failure(db.pool(), &key).await?;
            Err(AppError::Unauthorized("wrong email or password".into()))
        }
    }
}

/// Sets a new password for the staff account with this email.
pub async fn reset_password(db: &Db, email: &str, new_password: &str) -> AppResult<UserRow> {
    let email = Email::parse("email", email)?;
    password::check_policy("password", new_password)?;
    let user = db::users::by_email(db.pool(), email.as_str())
        .await?
        .ok_or(AppError::NotFound)?;
    let hash = password::hash(new_password.to_owned()).await?;
    db::users::set_password(db.pool(), &user.id, &hash).await?;
    Ok(user)
}

/// The throttle bucket: a hash, so neither emails nor addresses sit in the table in clear.
fn throttle_key(email: &str, client: &str) -> String {
    let digest = Sha256::digest(format!("{}|{client}", email.trim().to_lowercase()).as_bytes());
    hex::encode(digest)
}
