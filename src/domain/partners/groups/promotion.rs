//! Promotion rules: "after 10 approved conversions" or "approved revenue ≥ X in the last
//! 90 days" → another group, optionally back again when the affiliate falls below.
//!
//! Rules are evaluated on each approval (in the approving transaction) and by the worker's
//! sweep (windows slide, so a demotion can fall due without any new approval). Every move
//! is a conditional update on the enrollment's current group (see [`super::moves`]): an
//! evaluation repeated, or run by several instances at once, moves an affiliate once.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::{self, Conn, Db, groups::Member, groups::RuleColumns, groups::RuleRow};
use crate::domain::tenancy::audit::{self, Actor};
use crate::error::{AppError, AppResult};

use super::moves::{self, Moved};

/// What a rule counts.
pub const METRICS: [&str; 2] = ["approved_conversions", "approved_revenue"];
/// Largest threshold: a count or minor units inside the money range.
const THRESHOLD_MAX: i64 = 100_000_000_000;
const _: () = assert!(THRESHOLD_MAX <= crate::domain::values::money::MAX_CENTS);
/// Most moves one evaluation makes (Default → Silver → Gold ...).
const MAX_HOPS: usize = 5;
const DAY_MS: i64 = 86_400_000;
/// Enrollments read per page by the sweep.
const PAGE: i64 = 500;

/// A rule as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rule {
    /// `grr_...`
    pub id: String,
    /// The program.
    pub program_id: String,
    /// Affiliates in this group ...
    pub from_group_id: String,
    /// ... move to this one.
    pub to_group_id: String,
    /// `approved_conversions` or `approved_revenue` (minor units of the program's currency,
    /// net of refunds).
    pub metric: String,
    /// Value of the metric that promotes.
    pub threshold: i64,
    /// Days of history that count; `null`: all time.
    pub window_days: Option<i64>,
    /// Falling below the threshold moves the affiliate back to `from_group_id`.
    pub demote: bool,
    /// RFC 3339.
    pub created_at: String,
}

impl From<RuleRow> for Rule {
    fn from(r: RuleRow) -> Self {
        Self {
            id: r.id,
            program_id: r.program_id,
            from_group_id: r.from_group_id,
            to_group_id: r.to_group_id,
            metric: r.metric,
            threshold: r.threshold,
            window_days: r.window_days,
            demote: r.demote == 1,
            created_at: db::rfc3339(r.created_at),
        }
    }
}

/// Body of a new rule.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// The group affiliates are promoted out of.
    #[schema(min_length = 1, max_length = 100)]
    pub from_group_id: String,
    /// The group they are promoted into (another group of the same program).
    #[schema(min_length = 1, max_length = 100)]
    pub to_group_id: String,
    /// `approved_conversions` or `approved_revenue`.
    #[schema(pattern = "^(approved_conversions|approved_revenue)$")]
    pub metric: String,
    /// 1..=100,000,000,000: a number of conversions or minor units.
    #[schema(minimum = 1, maximum = 100_000_000_000_i64)]
    pub threshold: i64,
    /// 1..=3650 days of history that count; absent or `null`: all time.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    pub window_days: Option<i64>,
    /// Move affiliates back when they fall below the threshold (default false).
    #[serde(default)]
    pub demote: Option<bool>,
}

/// The rules of a vendor's program. Another vendor's program → 404.
pub async fn list(db: &Db, vendor_id: &str, program_id: &str) -> AppResult<Vec<Rule>> {
    db::programs::by_id(db.pool(), vendor_id, program_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(
        db::groups::rules_of_program(db.pool(), vendor_id, program_id)
            .await?
            .into_iter()
            .map(Rule::from)
            .collect(),
    )
}

/// Adds a rule to a program; both groups must be the program's, and differ.
pub async fn create(
    db: &Db,
    vendor_id: &str,
    program_id: &str,
    input: &RuleInput,
    actor: &Actor,
) -> AppResult<Rule> {
    db::programs::by_id(db.pool(), vendor_id, program_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let group_of = |field: &'static str, id: String| async move {
        match db::groups::by_id(db.pool(), vendor_id, id.trim()).await? {
            Some(g) if g.program_id == program_id => Ok(g),
            _ => Err(AppError::invalid(field, "no such group in this program")),
        }
    };
    let from = group_of("from_group_id", input.from_group_id.clone()).await?;
    let to = group_of("to_group_id", input.to_group_id.clone()).await?;
    if from.id == to.id {
        return Err(AppError::invalid(
            "to_group_id",
            "a rule moves affiliates to another group",
        ));
    }
    let metric = input.metric.trim();
    if !METRICS.contains(&metric) {
        return Err(AppError::invalid(
            "metric",
            format!("metric must be one of: {}", METRICS.join(", ")),
        ));
    }
    let threshold = input.threshold;
    if !(1..=THRESHOLD_MAX).contains(&threshold) {
        return Err(AppError::invalid(
            "threshold",
            format!("threshold must be between 1 and {THRESHOLD_MAX}"),
        ));
    }
    if let Some(w) = input.window_days
        && !(1..=3650).contains(&w)
    {
        return Err(AppError::invalid(
            "window_days",
            "window_days must be between 1 and 3650 (or null for all time)",
        ));
    }
    let rules = db::groups::rules_of_program(db.pool(), vendor_id, program_id).await?;
    if rules
        .iter()
        .any(|r| r.from_group_id == to.id && r.to_group_id == from.id)
    {
        // Two opposite rules could move an affiliate back and forth; demotion is the way.
        return Err(AppError::duplicate(
            "to_group_id",
            "a rule already moves affiliates between these groups the other way (use demote)",
        ));
    }
    let columns = RuleColumns {
        from_group_id: &from.id,
        to_group_id: &to.id,
        metric,
        threshold,
        window_days: input.window_days,
        demote: input.demote.unwrap_or(false),
    };
    let mut tx = db.begin().await?;
    let id = db::groups::insert_rule(&mut *tx, vendor_id, program_id, &columns)
        .await
        .map_err(|e| match db::unique_violation_field(&e) {
            Some(_) => AppError::duplicate(
                "to_group_id",
                "a rule already moves affiliates from this group to that one",
            ),
            None => e.into(),
        })?;
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "program.group_rule_created",
        ("program", Some(program_id)),
        json!({"rule_id": id, "from_group_id": from.id, "to_group_id": to.id,
               "metric": metric, "threshold": threshold}),
    )
    .await?;
    tx.commit().await?;
    let row = db::groups::rule_by_id(db.pool(), vendor_id, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(row.into())
}

/// Deletes a rule of the vendor (affiliates stay where they are).
pub async fn delete(db: &Db, vendor_id: &str, id: &str, actor: &Actor) -> AppResult<()> {
    let mut tx = db.begin().await?;
    let rule = db::groups::rule_by_id(&mut *tx, vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    db::groups::delete_rule(&mut *tx, vendor_id, id).await?;
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "program.group_rule_deleted",
        ("program", Some(&rule.program_id)),
        json!({"rule_id": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// An affiliate's metric under a rule, at `now`.
async fn metric_of(
    conn: &mut Conn,
    rule: &RuleRow,
    currency: &str,
    affiliate_id: &str,
    now: i64,
) -> AppResult<i64> {
    let since = rule
        .window_days
        .map_or(i64::MIN, |d| now.saturating_sub(d.saturating_mul(DAY_MS)));
    let (count, revenue) = db::groups::approved_since(
        &mut *conn,
        &rule.vendor_id,
        &rule.program_id,
        affiliate_id,
        since,
        currency,
    )
    .await?;
    Ok(if rule.metric == "approved_revenue" {
        revenue
    } else {
        count
    })
}

/// Where the rules send an affiliate now in `group`: the first promotion it qualifies for
/// (oldest rule first), else a demotion it falls under.
async fn next_move(
    conn: &mut Conn,
    rules: &[RuleRow],
    currency: &str,
    affiliate_id: &str,
    group: &str,
    now: i64,
) -> AppResult<Option<(String, &'static str, String)>> {
    for r in rules.iter().filter(|r| r.from_group_id == group) {
        if metric_of(conn, r, currency, affiliate_id, now).await? >= r.threshold {
            return Ok(Some((r.to_group_id.clone(), "promotion", r.id.clone())));
        }
    }
    for r in rules
        .iter()
        .filter(|r| r.to_group_id == group && r.demote == 1)
    {
        if metric_of(conn, r, currency, affiliate_id, now).await? < r.threshold {
            return Ok(Some((r.from_group_id.clone(), "demotion", r.id.clone())));
        }
    }
    Ok(None)
}

/// Applies the program's rules to one member, in the caller's transaction; returns the
/// moves made (none when another instance made them first).
async fn evaluate_member(
    conn: &mut Conn,
    rules: &[RuleRow],
    currency: &str,
    member: &Member,
    now: i64,
) -> AppResult<Vec<Moved>> {
    let Some(first) = rules.first() else {
        return Ok(Vec::new());
    };
    let mut moved = Vec::new();
    let mut group = member.group_id.clone();
    let mut seen = vec![group.clone()];
    for _ in 0..MAX_HOPS {
        let Some((to, reason, rule_id)) =
            next_move(conn, rules, currency, &member.affiliate_id, &group, now).await?
        else {
            break;
        };
        if seen.contains(&to) {
            break;
        }
        let m = Moved {
            vendor_id: first.vendor_id.clone(),
            program_id: first.program_id.clone(),
            affiliate_id: member.affiliate_id.clone(),
            from_group_id: group.clone(),
            to_group_id: to.clone(),
            reason: reason.to_owned(),
            rule_id: Some(rule_id),
        };
        if !moves::apply(conn, &member.enrollment_id, &m, &Actor::System).await? {
            // Another instance moved it first; its evaluation goes on from there.
            break;
        }
        moved.push(m);
        seen.push(to.clone());
        group = to;
    }
    Ok(moved)
}

/// Evaluates the rules of a program for one affiliate inside the caller's transaction (the
/// one approving its conversion, so the approval counts).
pub async fn on_approval(
    conn: &mut Conn,
    vendor_id: &str,
    program_id: &str,
    affiliate_id: &str,
    now: i64,
) -> AppResult<Vec<Moved>> {
    let rules = db::groups::rules_of_program(&mut *conn, vendor_id, program_id).await?;
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let Some(program) = db::programs::by_id(&mut *conn, vendor_id, program_id).await? else {
        return Ok(Vec::new());
    };
    let Some(member) = db::groups::member(&mut *conn, vendor_id, program_id, affiliate_id).await?
    else {
        return Ok(Vec::new());
    };
    evaluate_member(conn, &rules, &program.currency, &member, now).await
}

/// The worker's sweep: every member of every program with rules, each in its own
/// transaction. Returns how many moves were made.
pub async fn sweep(db: &Db, now: i64) -> AppResult<usize> {
    let mut moved = 0;
    for (vendor_id, program_id) in db::groups::programs_with_rules(db.pool()).await? {
        let rules = db::groups::rules_of_program(db.pool(), &vendor_id, &program_id).await?;
        let Some(program) = db::programs::by_id(db.pool(), &vendor_id, &program_id).await? else {
            continue;
        };
        let mut after = String::new();
        loop {
            let page =
                db::groups::members_page(db.pool(), &vendor_id, &program_id, &after, PAGE).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.enrollment_id.clone();
            for member in &page {
                let mut tx = db.begin().await?;
                let made = evaluate_member(&mut tx, &rules, &program.currency, member, now).await?;
                tx.commit().await?;
                moved += made.len();
            }
        }
    }
    Ok(moved)
}

/// What the affiliate needs for the next group, for the portal: "3 more approved
/// conversions to reach Gold".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextStep {
    /// The group the rule leads to.
    pub group_name: String,
    /// `approved_conversions` or `approved_revenue`.
    pub metric: String,
    /// What is still missing: a count, or minor units of `currency`.
    pub missing: i64,
    /// The program's currency (revenue rules).
    pub currency: String,
    /// Days that count; `None`: all time.
    pub window_days: Option<i64>,
}

impl NextStep {
    /// The sentence for people.
    pub fn describe(&self) -> String {
        let window = self
            .window_days
            .map(|d| format!(" in the last {d} days"))
            .unwrap_or_default();
        if self.missing == 0 {
            format!(
                "you qualify for {}: the move happens shortly",
                self.group_name
            )
        } else if self.metric == "approved_revenue" {
            format!(
                "{} more in approved sales{window} to reach {}",
                crate::domain::partners::terms::format_money(self.missing, &self.currency),
                self.group_name
            )
        } else {
            let noun = if self.missing == 1 {
                "conversion"
            } else {
                "conversions"
            };
            format!(
                "{} more approved {noun}{window} to reach {}",
                self.missing, self.group_name
            )
        }
    }
}

/// The closest promotion open to an affiliate in its group: the rule out of its group
/// with the least missing (relative to its threshold). `None` when no rule leads on.
pub async fn next_step(
    db: &Db,
    vendor_id: &str,
    program_id: &str,
    affiliate_id: &str,
    group_id: &str,
    now: i64,
) -> AppResult<Option<NextStep>> {
    let rules = db::groups::rules_of_program(db.pool(), vendor_id, program_id).await?;
    let Some(program) = db::programs::by_id(db.pool(), vendor_id, program_id).await? else {
        return Ok(None);
    };
    let mut conn = db.pool().acquire().await?;
    let mut best: Option<(i128, NextStep)> = None;
    for r in rules.iter().filter(|r| r.from_group_id == group_id) {
        let value = metric_of(&mut conn, r, &program.currency, affiliate_id, now).await?;
        let missing = (r.threshold - value).max(0);
        // The share still missing, in millionths of the threshold (integers, no floats).
        let key = i128::from(missing) * 1_000_000 / i128::from(r.threshold.max(1));
        if best.as_ref().is_some_and(|(k, _)| *k <= key) {
            continue;
        }
        let Some(to) = db::groups::by_id(db.pool(), vendor_id, &r.to_group_id).await? else {
            continue;
        };
        best = Some((
            key,
            NextStep {
                group_name: to.name,
                metric: r.metric.clone(),
                missing,
                currency: program.currency.clone(),
                window_days: r.window_days,
            },
        ));
    }
    Ok(best.map(|(_, s)| s))
}
