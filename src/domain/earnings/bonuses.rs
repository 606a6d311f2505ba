//! Bonuses: one-off amounts to an affiliate in a program, granted by hand (with a note) or
//! when the affiliate reaches one of the program's goals (its first sale; N sales in a
//! calendar month). A bonus is an earning like a commission: it is posted to the ledger as
//! pending, becomes available when the program's holding period ends, and payout runs pay it
//! from the available balance. A goal is awarded once per affiliate, program and period:
//! the unique `(program, affiliate, goal_key)` key makes a second award impossible whichever
//! transaction or instance reaches the goal.

use crate::domain::partners::groups::settings;
use chrono::{Datelike, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::db::{
    self, Conn, Db,
    bonuses::{BonusRow, NewBonus},
    conversions::ConversionRow,
    programs::ProgramRow,
};
use crate::domain::earnings::ledger;
use crate::domain::partners::caps::GoalBonuses;
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::values::{Currency, money::Money, text};
use crate::error::{AppError, AppResult};

const DAY_MS: i64 = 86_400_000;
/// Longest note.
const NOTE_MAX: usize = 500;

/// Bonus kinds.
pub const KINDS: [&str; 3] = ["manual", "first_sale", "monthly_sales"];

/// A bonus granted by hand (`POST /api/v1/affiliates/{id}/bonuses`, the dashboard form).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BonusInput {
    /// The program; may be left out when the affiliate is in exactly one program.
    pub program_id: Option<String>,
    /// 1 ..= 100,000,000,000 minor units.
    #[serde(deserialize_with = "crate::domain::values::money::lenient_cents")]
    #[schema(minimum = 1, maximum = 100_000_000_000_i64)]
    pub amount_cents: i64,
    /// ISO 4217; the program's currency when absent.
    pub currency: Option<String>,
    /// Why (shown to the affiliate); 1-500 characters.
    pub note: String,
}

/// Grants a bonus by hand: stored, posted to the ledger as pending and audited, in one
/// transaction. Another vendor's affiliate or program is a 404.
pub async fn grant(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
    input: &BonusInput,
    actor: &Actor,
) -> AppResult<BonusRow> {
    let (affiliate, enrollment, program) =
        enrollment_for(db, vendor_id, affiliate_id, input.program_id.as_deref()).await?;
    let currency = match input.currency.as_deref() {
        Some(c) => Currency::parse("currency", c)?,
        None => Currency::parse("currency", &program.currency)?,
    };
    let amount = Money::payment("amount_cents", input.amount_cents, currency)?;
    let note = text::required("note", &input.note, NOTE_MAX)?;
    let mut tx = db.begin().await?;
    let row = db::bonuses::insert(
        &mut *tx,
        &NewBonus {
            vendor_id,
            program_id: &program.id,
            affiliate_id: &affiliate.id,
            kind: "manual",
            goal_key: None,
            conversion_id: None,
            currency: amount.currency().as_str(),
            amount_cents: amount.cents(),
            note: &note,
            available_at: db::now_ms()
                + settings::holding_period_days(
                    &program,
                    &settings::GroupOverrides::of_enrollment(&enrollment),
                ) * DAY_MS,
            created_by: actor.id(),
        },
    )
    .await?
    .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a new bonus id collided")))?;
    ledger::bonus_granted(&mut tx, vendor_id, &row).await?;
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "affiliate.bonus_granted",
        ("affiliate", Some(&affiliate.id)),
        json!({"bonus_id": row.id, "amount_cents": row.amount_cents, "currency": row.currency, "note": row.note}),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// The affiliate and the program a bonus is for: `program_id` when given (the affiliate
/// must be in it), else the affiliate's only program. Its currency is the bonus's unless the
/// request names another, so a form parses the typed amount in it.
pub async fn program_for(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
    program_id: Option<&str>,
) -> AppResult<(db::affiliates::AffiliateRow, db::programs::ProgramRow)> {
    let (affiliate, _, program) = enrollment_for(db, vendor_id, affiliate_id, program_id).await?;
    Ok((affiliate, program))
}

/// [`program_for`] with the enrollment itself (its group sets the bonus's holding period).
async fn enrollment_for(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
    program_id: Option<&str>,
) -> AppResult<(
    db::affiliates::AffiliateRow,
    db::affiliates::EnrollmentRow,
    db::programs::ProgramRow,
)> {
    let affiliate = db::affiliates::by_id(db.pool(), vendor_id, affiliate_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let enrollments = db::affiliates::enrollments(db.pool(), vendor_id, &affiliate.id).await?;
    let enrollment = match program_id.map(str::trim) {
        Some(p) => enrollments
            .into_iter()
            .find(|e| e.program_id == p)
            .ok_or_else(|| {
                AppError::invalid("program_id", "the affiliate is not in this program")
            })?,
        None => {
            let mut all = enrollments.into_iter();
            match (all.next(), all.next()) {
                (Some(e), None) => e,
                (None, _) => {
                    return Err(AppError::invalid(
                        "program_id",
                        "the affiliate is in no program",
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(AppError::invalid(
                        "program_id",
                        "program_id is required: the affiliate is in several programs",
                    ));
                }
            }
        }
    };
    let program = db::programs::by_id(db.pool(), vendor_id, &enrollment.program_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((affiliate, enrollment, program))
}

/// First and one-past-last unix ms of the calendar month (UTC) holding `at`, and its
/// `YYYY-MM` name.
pub fn month_of(at: i64) -> (i64, i64, String) {
    let t = Utc
        .timestamp_millis_opt(at)
        .single()
        .unwrap_or_else(Utc::now);
    let (y, m) = (t.year(), t.month());
    let start = |y: i32, m: u32| {
        Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0)
            .single()
            .map_or(0, |d| d.timestamp_millis())
    };
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (start(y, m), start(ny, nm), format!("{y:04}-{m:02}"))
}

/// Awards the goals `conversion` reaches (inside its recording transaction, after it was
/// stored; the caller holds the enrollment lock so counts include every earlier sale).
/// Returns the bonuses awarded now.
pub async fn award_goals(
    conn: &mut Conn,
    program: &ProgramRow,
    goals: &GoalBonuses,
    conversion: &ConversionRow,
) -> AppResult<Vec<BonusRow>> {
    let mut awarded = Vec::new();
    if !goals.any() || conversion.status == "rejected" {
        return Ok(awarded);
    }
    // The conversion's own date already carries the holding period of the affiliate's
    // group (`groups::settings`).
    let available_at = conversion.available_at;
    let mut candidates: Vec<(&str, String, i64, String)> = Vec::new();
    if let Some(cents) = goals.first_sale_cents {
        candidates.push((
            "first_sale",
            "first_sale".into(),
            cents,
            "first sale".into(),
        ));
    }
    if let (Some(n), Some(cents)) = (goals.monthly_sales_count, goals.monthly_sales_cents) {
        let (from, to, month) = month_of(conversion.occurred_at);
        let sales = db::caps::affiliate_sales_between(
            &mut *conn,
            &program.id,
            &conversion.affiliate_id,
            from,
            to,
        )
        .await?;
        if sales >= n {
            candidates.push((
                "monthly_sales",
                format!("monthly_sales:{month}"),
                cents,
                format!("{n} sales in {month}"),
            ));
        }
    }
    for (kind, key, cents, note) in candidates {
        let new = NewBonus {
            vendor_id: &program.vendor_id,
            program_id: &program.id,
            affiliate_id: &conversion.affiliate_id,
            kind,
            goal_key: Some(&key),
            conversion_id: Some(&conversion.id),
            currency: &program.currency,
            amount_cents: cents,
            note: &note,
            available_at,
            created_by: None,
        };
        if let Some(row) = db::bonuses::insert(&mut *conn, &new).await? {
            ledger::bonus_granted(conn, &program.vendor_id, &row).await?;
            awarded.push(row);
        }
    }
    Ok(awarded)
}

/// Makes every bonus whose holding period ended by `now` available, each in its own
/// transaction; one another worker took first is skipped. Returns how many matured.
pub async fn mature_due(db: &Db, now: i64) -> AppResult<usize> {
    let mut matured = 0;
    loop {
        let due = db::bonuses::due(db.pool(), now, 200).await?;
        let mut progressed = false;
        for b in due {
            let mut tx = db.begin().await?;
            if !db::bonuses::make_available(&mut *tx, &b.id).await? {
                continue;
            }
            ledger::bonus_matured(&mut tx, &b.vendor_id, &b).await?;
            tx.commit().await?;
            matured += 1;
            progressed = true;
        }
        if !progressed {
            return Ok(matured);
        }
    }
}

/// One page of a vendor's bonuses (optionally one affiliate's or program's) and the total.
pub async fn page(
    db: &Db,
    filter: &db::bonuses::Filter<'_>,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<BonusRow>, i64)> {
    let rows = db::bonuses::page(db.pool(), filter, limit, offset).await?;
    let total = db::bonuses::count(db.pool(), filter).await?;
    Ok((rows, total))
}

/// A bonus as API JSON.
pub fn bonus_json(b: &BonusRow) -> Value {
    json!({
        "id": b.id,
        "program_id": b.program_id,
        "affiliate_id": b.affiliate_id,
        "kind": b.kind,
        "goal": (b.kind != "manual").then_some(&b.goal_key),
        "conversion_id": b.conversion_id,
        "amount_cents": b.amount_cents,
        "currency": b.currency,
        "note": b.note,
        "status": b.status,
        "available_at": db::rfc3339(b.available_at),
        "created_at": db::rfc3339(b.created_at),
    })
}

#[cfg(test)]
mod tests {
    use super::month_of;

    #[test]
    fn calendar_months() {
        // 2026-12-04T15:00:00Z
        let (from, to, name) = month_of(1_796_396_400_000);
        assert_eq!(name, "2026-12");
        assert_eq!(from, 1_796_083_200_000); // 2026-12-01
        assert_eq!(to, 1_798_761_600_000); // 2027-01-01
    }
}
