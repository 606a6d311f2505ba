//! Bonuses: one-off amounts to an affiliate in a program, by hand or for a goal.

use super::sql::Sql;
use sqlx::{Any, Executor, FromRow};

use super::{new_id, now_ms};

/// A stored bonus.
#[derive(Debug, Clone, FromRow)]
pub struct BonusRow {
    /// `bon_...`
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// Program.
    pub program_id: String,
    /// Who receives it.
    pub affiliate_id: String,
    /// `manual`, `first_sale` or `monthly_sales`.
    pub kind: String,
    /// Once-per-goal key (`first_sale`, `monthly_sales:YYYY-MM`; a manual bonus's id).
    pub goal_key: String,
    /// The conversion that reached the goal.
    pub conversion_id: Option<String>,
    /// ISO 4217.
    pub currency: String,
    /// Minor units.
    pub amount_cents: i64,
    /// Why (manual), or the goal reached.
    pub note: String,
    /// `pending` or `available`.
    pub status: String,
    /// End of the holding period.
    pub available_at: i64,
    /// Who granted it (manual).
    pub created_by: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

macro_rules! select {
    () => {
        "SELECT id, vendor_id, program_id, affiliate_id, kind, goal_key, conversion_id, currency, \
         amount_cents, note, status, available_at, created_by, created_at, updated_at FROM bonuses "
    };
}

/// A bonus to insert.
#[derive(Debug, Clone)]
pub struct NewBonus<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Program.
    pub program_id: &'a str,
    /// Receiver.
    pub affiliate_id: &'a str,
    /// Kind.
    pub kind: &'a str,
    /// Once-per-goal key; `None` for a manual bonus (its id is used).
    pub goal_key: Option<&'a str>,
    /// Triggering conversion.
    pub conversion_id: Option<&'a str>,
    /// Currency.
    pub currency: &'a str,
    /// Amount.
    pub amount_cents: i64,
    /// Note.
    pub note: &'a str,
    /// End of the holding period.
    pub available_at: i64,
    /// Granting actor.
    pub created_by: Option<&'a str>,
}

/// Inserts a pending bonus; `None` when its goal was awarded already (the unique key makes a
/// second award impossible, whichever instance or transaction tries).
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    b: &NewBonus<'_>,
) -> Result<Option<BonusRow>, sqlx::Error> {
    let id = new_id("bon");
    let key = b.goal_key.unwrap_or(&id).to_owned();
    sqlx::query_as(
        "INSERT INTO bonuses (id, vendor_id, program_id, affiliate_id, kind, goal_key, \
         conversion_id, currency, amount_cents, note, status, available_at, created_by, \
         created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12, $13, $13) \
         ON CONFLICT (program_id, affiliate_id, goal_key) DO NOTHING RETURNING \
         id, vendor_id, program_id, affiliate_id, kind, goal_key, conversion_id, currency, \
         amount_cents, note, status, available_at, created_by, created_at, updated_at",
    )
    .bind(&id)
    .bind(b.vendor_id)
    .bind(b.program_id)
    .bind(b.affiliate_id)
    .bind(b.kind)
    .bind(key)
    .bind(b.conversion_id)
    .bind(b.currency)
    .bind(b.amount_cents)
    .bind(b.note)
    .bind(b.available_at)
    .bind(b.created_by)
    .bind(now_ms())
    .fetch_optional(ex)
    .await
}

/// Pending bonuses whose holding period ended, oldest first, at most `limit`.
pub async fn due<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    now: i64,
    limit: i64,
) -> Result<Vec<BonusRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE status = 'pending' AND available_at <= $1 ORDER BY available_at, id LIMIT $2"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// Makes a pending bonus available; `false` when another worker did it first.
pub async fn make_available<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE bonuses SET status = 'available', updated_at = $1 \
         WHERE id = $2 AND status = 'pending'",
    )
    .bind(now_ms())
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Every bonus of a vendor (ledger verification).
pub async fn all_for_vendor<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<BonusRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE vendor_id = $1 ORDER BY created_at, id"
    ))
    .bind(vendor_id)
    .fetch_all(ex)
    .await
}

/// List filters.
#[derive(Debug, Clone, Copy)]
pub struct Filter<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Only this affiliate's.
    pub affiliate_id: Option<&'a str>,
    /// Only this program's.
    pub program_id: Option<&'a str>,
}

fn filtered<'a>(head: &'static str, f: &Filter<'a>) -> Sql<'a> {
    Sql::new(head)
        .push(" WHERE vendor_id = ")
        .bind(f.vendor_id)
        .and_eq("affiliate_id", f.affiliate_id)
        .and_eq("program_id", f.program_id)
}

/// One page of bonuses, newest first.
pub async fn page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
    limit: i64,
    offset: i64,
) -> Result<Vec<BonusRow>, sqlx::Error> {
    filtered(select!(), f)
        .push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset)
        .fetch_all(ex)
        .await
}

/// How many bonuses match.
pub async fn count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
) -> Result<i64, sqlx::Error> {
    filtered("SELECT COUNT(*) FROM bonuses", f)
        .fetch_count(ex)
        .await
}
