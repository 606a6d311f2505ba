//! Vendor staff accounts.

use sqlx::{Any, Executor, FromRow};

use super::{new_id, now_ms};

/// A staff account as stored.
#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    /// `usr_...`
    pub id: String,
    /// The vendor this account belongs to.
    pub vendor_id: String,
    /// Sign-in email, unique across the installation (case-insensitive).
    pub email: String,
    /// Display name.
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// `owner`, `admin` or `viewer`.
    pub role: String,
}

macro_rules! cols {
    () => {
        "id, vendor_id, email, name, password_hash, role"
    };
}

/// Inserts a staff account; a taken email is a unique violation on `email`.
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    email: &str,
    name: &str,
    password_hash: &str,
    role: &str,
) -> Result<UserRow, sqlx::Error> {
    let now = now_ms();
    sqlx::query_as(concat!(
        "INSERT INTO vendor_users (id, vendor_id, email, name, password_hash, role, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING ",
        cols!()
    ))
    .bind(new_id("usr"))
    .bind(vendor_id)
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .bind(role)
    .bind(now)
    .fetch_one(ex)
    .await
}

/// The account with this email, compared case-insensitively.
pub async fn by_email<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    email: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM vendor_users WHERE LOWER(email) = LOWER($1)"
    ))
    .bind(email)
    .fetch_optional(ex)
    .await
}

/// The account with this id within a vendor.
pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM vendor_users WHERE vendor_id = $1 AND id = $2"
    ))
    .bind(vendor_id)
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// Replaces the password hash; returns whether the account exists.
pub async fn set_password<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    password_hash: &str,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE vendor_users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(now_ms())
            .bind(id)
            .execute(ex)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a successful sign-in.
pub async fn touch_login<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE vendor_users SET last_login_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}
