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
    /// `active`, or `invited` until the invitation is accepted (no sign-in before).
    pub status: String,
    /// Sessions signed in under an older epoch are void ("sign out everywhere").
    pub session_epoch: i64,
    /// Last successful sign-in, unix ms.
    pub last_login_at: Option<i64>,
    /// Who sent the invitation (`usr_...`), for invited accounts.
    pub invited_by: Option<String>,
    /// When the (latest) invitation was sent, unix ms.
    pub invited_at: Option<i64>,
}

impl UserRow {
    /// Whether the account may sign in (an invitation not yet accepted may not).
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }
}

macro_rules! cols {
    () => {
        "id, vendor_id, email, name, password_hash, role, status, session_epoch, last_login_at, \
         invited_by, invited_at"
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

/// A vendor's accounts, active and invited, owners first then by email.
pub async fn for_vendor<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM vendor_users WHERE vendor_id = $1 ORDER BY CASE role WHEN 'owner' THEN 0 \
         WHEN 'admin' THEN 1 ELSE 2 END, LOWER(email)"
    ))
    .bind(vendor_id)
    .fetch_all(ex)
    .await
}

/// Inserts an invited account (no usable password until accepted); a taken email is a
/// unique violation on `email`.
pub async fn insert_invited<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    email: &str,
    role: &str,
    invited_by: &str,
) -> Result<UserRow, sqlx::Error> {
    let now = now_ms();
    sqlx::query_as(concat!(
        "INSERT INTO vendor_users (id, vendor_id, email, name, password_hash, role, status, \
         invited_by, invited_at, created_at, updated_at) \
         VALUES ($1, $2, $3, '', '', $4, 'invited', $5, $6, $6, $6) RETURNING ",
        cols!()
    ))
    .bind(new_id("usr"))
    .bind(vendor_id)
    .bind(email)
    .bind(role)
    .bind(invited_by)
    .bind(now)
    .fetch_one(ex)
    .await
}

/// Stamps a re-sent invitation.
pub async fn touch_invite<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE vendor_users SET invited_at = $1 WHERE vendor_id = $2 AND id = $3 \
         AND status = 'invited'",
    )
    .bind(now_ms())
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Turns an invited account active with its name and password; false when it is no longer
/// an invitation (accepted or cancelled meanwhile).
pub async fn activate<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    name: &str,
    password_hash: &str,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE vendor_users SET status = 'active', name = $1, password_hash = $2, \
         updated_at = $3, last_login_at = $3 WHERE vendor_id = $4 AND id = $5 \
         AND status = 'invited'",
    )
    .bind(name)
    .bind(password_hash)
    .bind(now)
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes the vendor's team lock for the caller's transaction, so two changes to the owners
/// (two owners demoting each other on two instances) run one after the other and the second
/// sees the first. SQLite's write transaction is exclusive already.
pub async fn lock_team<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE vendors SET updated_at = updated_at WHERE id = $1")
        .bind(vendor_id)
        .execute(ex)
        .await?;
    Ok(())
}

/// How many active owners a vendor has.
pub async fn active_owners<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM vendor_users WHERE vendor_id = $1 AND role = 'owner' \
         AND status = 'active'",
    )
    .bind(vendor_id)
    .fetch_one(ex)
    .await?;
    Ok(n)
}

/// Changes an account's role.
pub async fn set_role<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    role: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE vendor_users SET role = $1, updated_at = $2 WHERE vendor_id = $3 AND id = $4",
    )
    .bind(role)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Changes an account's display name.
pub async fn set_name<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    name: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE vendor_users SET name = $1, updated_at = $2 WHERE vendor_id = $3 AND id = $4",
    )
    .bind(name)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes an account (a removed member); its audit entries keep
/// its id.
pub async fn delete<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM vendor_users WHERE vendor_id = $1 AND id = $2")
        .bind(vendor_id)
        .bind(id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes an invitation only while it is still one (an invitation accepted meanwhile is a
/// member now); whether it was deleted.
pub async fn delete_invited<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM vendor_users WHERE vendor_id = $1 AND id = $2 AND status = 'invited'",
    )
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Voids every session of the account: moves its epoch on (sessions carry the old one) and
/// revokes its server-side sign-ins; returns the new epoch.
pub async fn bump_epoch(
    conn: &mut super::Conn,
    vendor_id: &str,
    id: &str,
) -> Result<i64, sqlx::Error> {
    let (epoch,): (i64,) = sqlx::query_as(
        "UPDATE vendor_users SET session_epoch = session_epoch + 1, updated_at = $1 \
         WHERE id = $2 AND vendor_id = $3 RETURNING session_epoch",
    )
    .bind(now_ms())
    .bind(id)
    .bind(vendor_id)
    .fetch_one(&mut *conn)
    .await?;
    super::sign_ins::revoke_all(&mut *conn, vendor_id, super::sign_ins::STAFF, id).await?;
    Ok(epoch)
}

/// Display names of a vendor's accounts by id (for the audit log's words).
pub async fn names<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, email FROM vendor_users WHERE vendor_id = $1")
        .bind(vendor_id)
        .fetch_all(ex)
        .await
}
