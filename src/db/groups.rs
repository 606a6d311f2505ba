//! Partner groups of a program, their terms versions, promotion rules and memberships.

use sqlx::{Any, Executor, FromRow};

use super::{Conn, new_id, now_ms};

/// A group as stored, with the commission JSON of its current terms (the program's for the
/// default group).
#[derive(Debug, Clone, FromRow)]
pub struct GroupRow {
    /// `grp_...`
    pub id: String,
    /// Owning vendor.
    pub vendor_id: String,
    /// The program.
    pub program_id: String,
    /// Display name, unique per program (case-insensitive).
    pub name: String,
    /// What the group is for.
    pub description: String,
    /// 1 for the program's default group.
    pub is_default: i64,
    /// Current terms version: the group's own, or the program's for the default group.
    pub terms_version: i64,
    /// Holding period, when the group sets its own.
    pub holding_period_days: Option<i64>,
    /// Minimum payout, when the group sets its own.
    pub min_payout_cents: Option<i64>,
    /// Landing URL, when the group sets its own.
    pub landing_url: Option<String>,
    /// Extra application form questions, a JSON array.
    pub application_fields: String,
    /// The current terms' JSON.
    pub commission: String,
    /// Enrollments in the group.
    pub members: i64,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

macro_rules! select_group {
    () => {
        "SELECT g.id, g.vendor_id, g.program_id, g.name, g.description, g.is_default, \
         CASE WHEN g.is_default = 1 THEN p.current_terms_version ELSE g.current_terms_version END \
         AS terms_version, g.holding_period_days, g.min_payout_cents, g.landing_url, \
         g.application_fields, COALESCE(gt.commission, pt.commission) AS commission, \
         (SELECT COUNT(*) FROM enrollments e WHERE e.group_id = g.id) AS members, \
         g.created_at, g.updated_at \
         FROM partner_groups g JOIN programs p ON p.id = g.program_id \
         LEFT JOIN group_terms gt ON gt.group_id = g.id AND gt.version = g.current_terms_version \
         AND g.is_default = 0 \
         LEFT JOIN program_terms pt ON pt.program_id = g.program_id \
         AND pt.version = p.current_terms_version "
    };
}

/// The settings columns of a group written on insert and update.
#[derive(Debug, Clone)]
pub struct GroupColumns<'a> {
    /// Display name.
    pub name: &'a str,
    /// Description.
    pub description: &'a str,
    /// Own holding period.
    pub holding_period_days: Option<i64>,
    /// Own minimum payout.
    pub min_payout_cents: Option<i64>,
    /// Own landing URL.
    pub landing_url: Option<&'a str>,
    /// Extra application form questions, a JSON array.
    pub application_fields: &'a str,
}

/// The id of the default group of a new program, derived from the program's id as the
/// migration derived those of existing programs.
pub fn default_group_id(program_id: &str) -> String {
    format!("grp_{}", program_id.get(4..).unwrap_or(program_id))
}

/// Inserts the default group of a new program.
pub async fn insert_default(
    conn: &mut Conn,
    vendor_id: &str,
    program_id: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO partner_groups (id, vendor_id, program_id, name, is_default, created_at, \
         updated_at) VALUES ($1, $2, $3, 'Default', 1, $4, $4)",
    )
    .bind(default_group_id(program_id))
    .bind(vendor_id)
    .bind(program_id)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Gives every program of `vendor_id` without a default group its default group, and every
/// enrollment without a group the default group of its program, as migration 0030 did for
/// the rows that existed then. An import of a vendor exported before groups existed brings
/// programs and enrollments without them; without this its affiliates would be in no group.
pub async fn backfill_defaults(conn: &mut Conn, vendor_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO partner_groups (id, vendor_id, program_id, name, is_default, created_at, \
         updated_at) \
         SELECT 'grp_' || SUBSTR(p.id, 5), p.vendor_id, p.id, 'Default', 1, p.created_at, \
         p.created_at FROM programs p WHERE p.vendor_id = $1 AND NOT EXISTS \
         (SELECT 1 FROM partner_groups g WHERE g.program_id = p.id AND g.is_default = 1)",
    )
    .bind(vendor_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE enrollments SET group_id = (SELECT g.id FROM partner_groups g \
         WHERE g.program_id = enrollments.program_id AND g.is_default = 1) \
         WHERE vendor_id = $1 AND group_id IS NULL",
    )
    .bind(vendor_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Inserts a non-default group with version 1 of its terms; returns its id. A taken name is
/// a unique violation on `name`.
pub async fn insert(
    conn: &mut Conn,
    vendor_id: &str,
    program_id: &str,
    c: &GroupColumns<'_>,
    commission: &str,
) -> Result<String, sqlx::Error> {
    let now = now_ms();
    let id = new_id("grp");
    sqlx::query(
        "INSERT INTO partner_groups (id, vendor_id, program_id, name, description, is_default, \
         current_terms_version, holding_period_days, min_payout_cents, landing_url, \
         created_at, updated_at, application_fields) \
         VALUES ($1, $2, $3, $4, $5, 0, 1, $6, $7, $8, $9, $9, $10)",
    )
    .bind(&id)
    .bind(vendor_id)
    .bind(program_id)
    .bind(c.name)
    .bind(c.description)
    .bind(c.holding_period_days)
    .bind(c.min_payout_cents)
    .bind(c.landing_url)
    .bind(now)
    .bind(c.application_fields)
    .execute(&mut *conn)
    .await?;
    insert_terms(conn, vendor_id, program_id, &id, 1, commission).await?;
    Ok(id)
}

async fn insert_terms(
    conn: &mut Conn,
    vendor_id: &str,
    program_id: &str,
    group_id: &str,
    version: i64,
    commission: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO group_terms (group_id, version, vendor_id, program_id, commission, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(group_id)
    .bind(version)
    .bind(vendor_id)
    .bind(program_id)
    .bind(commission)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Adds the next terms version of a non-default group and makes it current; returns the
/// version (the increment happens in the UPDATE, so concurrent edits get distinct ones).
pub async fn add_terms_version(
    conn: &mut Conn,
    vendor_id: &str,
    group_id: &str,
    commission: &str,
) -> Result<i64, sqlx::Error> {
    let (version, program_id): (i64, String) = sqlx::query_as(
        "UPDATE partner_groups SET current_terms_version = current_terms_version + 1, \
         updated_at = $1 WHERE vendor_id = $2 AND id = $3 AND is_default = 0 \
         RETURNING current_terms_version, program_id",
    )
    .bind(now_ms())
    .bind(vendor_id)
    .bind(group_id)
    .fetch_one(&mut *conn)
    .await?;
    insert_terms(conn, vendor_id, &program_id, group_id, version, commission).await?;
    Ok(version)
}

/// Updates a group's settings; `false` when there is no such group of the vendor.
pub async fn update<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    c: &GroupColumns<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE partner_groups SET name = $1, description = $2, holding_period_days = $3, \
         min_payout_cents = $4, landing_url = $5, updated_at = $6, application_fields = $9 \
         WHERE vendor_id = $7 AND id = $8",
    )
    .bind(c.name)
    .bind(c.description)
    .bind(c.holding_period_days)
    .bind(c.min_payout_cents)
    .bind(c.landing_url)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(id)
    .bind(c.application_fields)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Puts a new enrollment of `affiliate_id` in `program_id` into `group_id` (of the same
/// vendor and program) on the group's current terms version; `false` when nothing matched.
pub async fn place_enrollment<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
    program_id: &str,
    group_id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE enrollments SET group_id = $1, terms_version = COALESCE(\
         (SELECT g.current_terms_version FROM partner_groups g WHERE g.id = $1 AND g.is_default = 0), \
         (SELECT p.current_terms_version FROM programs p WHERE p.id = enrollments.program_id)), \
         updated_at = $2 \
         WHERE vendor_id = $3 AND affiliate_id = $4 AND program_id = $5 \
         AND EXISTS (SELECT 1 FROM partner_groups t WHERE t.id = $1 AND t.vendor_id = $3 \
         AND t.program_id = $5)",
    )
    .bind(group_id)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(affiliate_id)
    .bind(program_id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One group of a vendor.
pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<GroupRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select_group!(),
        "WHERE g.vendor_id = $1 AND g.id = $2"
    ))
    .bind(vendor_id)
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// The groups of a program: the default group first, then by name.
pub async fn of_program<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: &str,
) -> Result<Vec<GroupRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select_group!(),
        "WHERE g.vendor_id = $1 AND g.program_id = $2 ORDER BY g.is_default DESC, LOWER(g.name), g.id"
    ))
    .bind(vendor_id)
    .bind(program_id)
    .fetch_all(ex)
    .await
}

/// The group overrides of the enrollments of a program: (affiliate, minimum payout) for
/// the affiliates whose group sets its own minimum.
pub async fn min_payouts_of_program<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.affiliate_id, g.min_payout_cents FROM enrollments e \
         JOIN partner_groups g ON g.id = e.group_id \
         WHERE e.vendor_id = $1 AND e.program_id = $2 AND g.min_payout_cents IS NOT NULL",
    )
    .bind(vendor_id)
    .bind(program_id)
    .fetch_all(ex)
    .await
}

/// Moves an enrollment from `from_group` to `to_group` and onto the target group's current
/// terms version, only if it is still in `from_group`: of several instances evaluating the
/// same rule, exactly one sees a row change. Returns whether this call moved it.
pub async fn move_enrollment<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    enrollment_id: &str,
    from_group: &str,
    to_group: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE enrollments SET group_id = $1, terms_version = COALESCE(\
         (SELECT g.current_terms_version FROM partner_groups g WHERE g.id = $1 AND g.is_default = 0), \
         (SELECT p.current_terms_version FROM programs p WHERE p.id = enrollments.program_id)), \
         updated_at = $2 \
         WHERE vendor_id = $3 AND id = $4 AND group_id = $5 \
         AND EXISTS (SELECT 1 FROM partner_groups t WHERE t.id = $1 AND t.vendor_id = $3 \
         AND t.program_id = enrollments.program_id)",
    )
    .bind(to_group)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(enrollment_id)
    .bind(from_group)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A promotion rule as stored.
#[derive(Debug, Clone, FromRow)]
pub struct RuleRow {
    /// `grr_...`
    pub id: String,
    /// Owning vendor.
    pub vendor_id: String,
    /// The program.
    pub program_id: String,
    /// Affiliates in this group are promoted.
    pub from_group_id: String,
    /// ... into this one.
    pub to_group_id: String,
    /// `approved_conversions` or `approved_revenue`.
    pub metric: String,
    /// Count or minor units reaching which promotes.
    pub threshold: i64,
    /// Days of history that count; `None`: all time.
    pub window_days: Option<i64>,
    /// 1: falling below the threshold moves the affiliate back.
    pub demote: i64,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

/// A rule to insert or the new values of one.
#[derive(Debug, Clone)]
pub struct RuleColumns<'a> {
    /// From group.
    pub from_group_id: &'a str,
    /// To group.
    pub to_group_id: &'a str,
    /// Metric.
    pub metric: &'a str,
    /// Threshold.
    pub threshold: i64,
    /// Window.
    pub window_days: Option<i64>,
    /// Demotion.
    pub demote: bool,
}

/// Inserts a rule; returns its id. A second rule for the same pair of groups is a unique
/// violation on `pair`.
pub async fn insert_rule<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: &str,
    c: &RuleColumns<'_>,
) -> Result<String, sqlx::Error> {
    let id = new_id("grr");
    sqlx::query(
        "INSERT INTO group_rules (id, vendor_id, program_id, from_group_id, to_group_id, metric, \
         threshold, window_days, demote, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(&id)
    .bind(vendor_id)
    .bind(program_id)
    .bind(c.from_group_id)
    .bind(c.to_group_id)
    .bind(c.metric)
    .bind(c.threshold)
    .bind(c.window_days)
    .bind(i64::from(c.demote))
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(id)
}

/// Deletes a rule of a vendor; `false` when there is none.
pub async fn delete_rule<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM group_rules WHERE vendor_id = $1 AND id = $2")
        .bind(vendor_id)
        .bind(id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// One rule of a vendor.
pub async fn rule_by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<RuleRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, vendor_id, program_id, from_group_id, to_group_id, metric, threshold, \
         window_days, demote, created_at, updated_at FROM group_rules \
         WHERE vendor_id = $1 AND id = $2",
    )
    .bind(vendor_id)
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// The rules of a program, oldest first (the order they are tried in).
pub async fn rules_of_program<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: &str,
) -> Result<Vec<RuleRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, vendor_id, program_id, from_group_id, to_group_id, metric, threshold, \
         window_days, demote, created_at, updated_at FROM group_rules \
         WHERE vendor_id = $1 AND program_id = $2 ORDER BY created_at, id",
    )
    .bind(vendor_id)
    .bind(program_id)
    .fetch_all(ex)
    .await
}

/// (vendor, program) of every program with at least one rule: what the worker sweeps.
pub async fn programs_with_rules<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT DISTINCT vendor_id, program_id FROM group_rules ORDER BY vendor_id, program_id",
    )
    .fetch_all(ex)
    .await
}

/// An enrollment as the promotion rules see it.
#[derive(Debug, Clone, FromRow)]
pub struct Member {
    /// `enr_...`
    pub enrollment_id: String,
    /// The affiliate.
    pub affiliate_id: String,
    /// Its group.
    pub group_id: String,
}

/// The enrollments of a program in any of the groups rules move affiliates out of, a page
/// after `after` (enrollment id order).
pub async fn members_page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<Member>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.id AS enrollment_id, e.affiliate_id, e.group_id FROM enrollments e \
         WHERE e.vendor_id = $1 AND e.program_id = $2 AND e.id > $3 AND e.group_id IS NOT NULL \
         ORDER BY e.id LIMIT $4",
    )
    .bind(vendor_id)
    .bind(program_id)
    .bind(after)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// The membership of one enrollment of a vendor.
pub async fn member<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: &str,
    affiliate_id: &str,
) -> Result<Option<Member>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.id AS enrollment_id, e.affiliate_id, e.group_id FROM enrollments e \
         WHERE e.vendor_id = $1 AND e.program_id = $2 AND e.affiliate_id = $3 \
         AND e.group_id IS NOT NULL",
    )
    .bind(vendor_id)
    .bind(program_id)
    .bind(affiliate_id)
    .fetch_optional(ex)
    .await
}

/// An affiliate's approved conversions in a program since `since` (unix ms): how many, and
/// their amount net of refunds in `currency` (other currencies count in the number only).
pub async fn approved_since<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: &str,
    affiliate_id: &str,
    since: i64,
    currency: &str,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT COUNT(*), COALESCE(CAST(SUM(CASE WHEN currency = $5 \
         THEN amount_cents - refunded_cents ELSE 0 END) AS BIGINT), 0) \
         FROM conversions WHERE vendor_id = $1 AND program_id = $2 AND affiliate_id = $3 \
         AND status = 'approved' AND occurred_at >= $4",
    )
    .bind(vendor_id)
    .bind(program_id)
    .bind(affiliate_id)
    .bind(since)
    .bind(currency)
    .fetch_one(ex)
    .await
}

/// The enrollments of a program currently in a group (the backtest of a group change).
pub async fn enrollment_ids<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    group_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM enrollments WHERE vendor_id = $1 AND group_id = $2")
            .bind(vendor_id)
            .bind(group_id)
            .fetch_all(ex)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
