//! Scheduled payouts: a program with a `payout_day` (1-28) runs its payouts once a month,
//! on that day (UTC) or at the first worker round after it. The run of a month is unique per
//! program in the database, so several instances never run it twice.

use chrono::Datelike;
use serde::Serialize;

use super::{Trigger, run_program};
use crate::db::{self, Db};
use crate::domain::tenancy::audit::Actor;
use crate::domain::values::status;
use crate::error::AppResult;

/// The month key of a scheduled run due at `now` for `payout_day`, if one is due.
pub fn due_key(payout_day: i64, now: i64) -> Option<String> {
    let today = db::from_ms(now);
    (i64::from(today.day()) >= payout_day)
        .then(|| format!("{:04}-{:02}", today.year(), today.month()))
}

/// The UTC day of a program's next scheduled run for `payout_day`, seen at `now`: this
/// month's payout day while it is ahead; today while this month's run is due but has not
/// run yet (the next worker round makes it); otherwise next month's.
pub fn next_run(payout_day: i64, now: i64, ran_this_month: bool) -> chrono::NaiveDate {
    let today = db::from_ms(now).date_naive();
    let day = u32::try_from(payout_day.clamp(1, 28)).unwrap_or(1);
    if today.day() < day {
        return today.with_day(day).unwrap_or(today);
    }
    if !ran_this_month {
        return today;
    }
    let (year, month) = if today.month() == 12 {
        (today.year() + 1, 1)
    } else {
        (today.year(), today.month() + 1)
    };
    chrono::NaiveDate::from_ymd_opt(year, month, day).unwrap_or(today)
}

/// Runs every scheduled payout due at `now`; returns how many runs were made.
pub async fn run_due(db: &Db, now: i64) -> AppResult<usize> {
    let mut made = 0;
    for (vendor_id, program_id, day) in db::programs::scheduled_programs(db.pool()).await? {
        let Some(key) = due_key(day, now) else {
            continue;
        };
        // A cheap read first: the run of the month usually exists already.
        if db::payouts::schedule_done(db.pool(), &program_id, &key).await? {
            continue;
        }
        let Some(program) = db::programs::by_id(db.pool(), &vendor_id, &program_id).await? else {
            continue;
        };
        let done = run_program(
            db,
            program,
            None,
            Trigger::Schedule,
            Some(&key),
            &Actor::System,
        )
        .await?;
        if let Some(run) = done.run {
            tracing::info!(run = %run.id, program = %program_id, payouts = run.payouts, "scheduled payout run");
            made += 1;
        }
    }
    Ok(made)
}

/// Where one program's next payout stands for the affiliate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextPayout {
    /// The program.
    pub program_id: String,
    /// Its name.
    pub program_name: String,
    /// Its currency.
    pub currency: String,
    /// The affiliate's available balance in the program (negative after a clawback).
    pub available_cents: i64,
    /// The smallest payout the program makes.
    pub min_payout_cents: i64,
    /// Whether the available balance reaches the minimum.
    pub reaches_minimum: bool,
    /// Day of the next scheduled run (`YYYY-MM-DD`, UTC) when the program pays on a
    /// schedule; `None` when the vendor pays by hand.
    pub next_run: Option<String>,
}

/// The next payout of each program the affiliate is actively enrolled in: the available
/// balance against the program's minimum, and the next scheduled run (see
/// [`next_run`]).
pub async fn next_payouts(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
    now: i64,
) -> AppResult<Vec<NextPayout>> {
    let pool = db.pool();
    let mut out = Vec::new();
    for e in db::affiliates::enrollments(pool, vendor_id, affiliate_id).await? {
        if !status::is_active(&e.status) {
            continue;
        }
        let Some(program) = db::programs::by_id(pool, vendor_id, &e.program_id).await? else {
            continue;
        };
        let available = db::ledger::available_of(
            pool,
            vendor_id,
            &program.id,
            affiliate_id,
            &program.currency,
        )
        .await?;
        let next_run = match program
            .payout_day
            .filter(|_| status::program_is_open(&program.status))
        {
            Some(day) => {
                let ran = match due_key(day, now) {
                    Some(key) => db::payouts::schedule_done(pool, &program.id, &key).await?,
                    None => false,
                };
                Some(next_run(day, now, ran).format("%Y-%m-%d").to_string())
            }
            None => None,
        };
        let minimum = crate::domain::partners::groups::settings::min_payout_cents(
            &program,
            &crate::domain::partners::groups::settings::GroupOverrides::of_enrollment(&e),
        );
        out.push(NextPayout {
            program_id: program.id,
            program_name: program.name,
            currency: program.currency,
            available_cents: available,
            min_payout_cents: minimum,
            reaches_minimum: available >= minimum && available > 0,
            next_run,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_due_from_its_payout_day_on() {
        let nov_14 = chrono::DateTime::parse_from_rfc3339("2026-11-14T08:00:00Z")
            .map(|t| t.timestamp_millis())
            .unwrap_or_default();
        assert_eq!(due_key(15, nov_14), None);
        assert_eq!(due_key(14, nov_14).as_deref(), Some("2026-11"));
        assert_eq!(due_key(1, nov_14).as_deref(), Some("2026-11"));
    }

    #[test]
    fn the_next_run_is_this_months_payout_day_today_or_next_months() {
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.timestamp_millis())
                .unwrap_or_default()
        };
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let nov_14 = at("2026-11-14T08:00:00Z");
        assert_eq!(next_run(15, nov_14, false), day("2026-11-15"));
        assert_eq!(next_run(14, nov_14, false), day("2026-11-14"));
        assert_eq!(next_run(14, nov_14, true), day("2026-12-14"));
        assert_eq!(
            next_run(1, at("2026-12-20T00:00:00Z"), true),
            day("2027-01-01")
        );
    }
}
