//! The accounting export: the ledger as period journal entries an accountant can import,
//! and each affiliate's yearly paid totals with its tax details.
//!
//! **Chart of accounts.** Every ledger account maps to one account of the vendor's books
//! ([`CHART`], [`account_for`]); the ledger's sign gives the side: a positive ledger amount
//! is a credit, a negative one a debit (a commission earned is `pending +x` — the liability
//! grows, a credit — and `commission_expense −x` — the expense grows, a debit).
//!
//! | ledger account | kind of movement | books |
//! |---|---|---|
//! | `commission_expense` | `reversal` (refunds) | 6150 Commission clawbacks |
//! | `commission_expense` | any other | 6100 Affiliate commission expense |
//! | `pending`, `available`, `in_payout` | any | 2100 Accrued affiliate commissions |
//! | `paid` | any | 1090 Affiliate payouts clearing |
//! | `fees` | any | 4100 Platform fee income |
//!
//! **Entries.** One journal entry per period (UTC day or month), currency and kind of
//! movement, its lines summed per books account. Movements between the affiliate accounts
//! (maturation, approval, a payout opened or failed) stay inside 2100 and net to nothing,
//! so they leave no entry. Each entry balances (debits = credits) because every ledger
//! transaction does; so does each period.
//!
//! The journal is summed in the database per day, so an answer holds periods × kinds ×
//! accounts rows whatever the ledger's size; no streaming is needed.

use std::collections::BTreeMap;

use chrono::Datelike;
use serde::Serialize;

use crate::db::{self, Db};
use crate::domain::attribution::clicks::parse_instant;
use crate::domain::earnings::ledger::{AVAILABLE, EXPENSE, FEES, IN_PAYOUT, PAID, PENDING};
use crate::domain::partners::terms::format_amount;
use crate::domain::values::csv::row;
use crate::error::{AppError, AppResult};

/// A day in milliseconds.
const DAY_MS: i64 = 86_400_000;
/// Longest journal period: ten years.
const MAX_DAYS: i64 = 3660;

/// An account of the vendor's books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Account {
    /// Account number.
    pub code: &'static str,
    /// Account name.
    pub name: &'static str,
    /// `asset`, `liability`, `expense`, `contra_expense` or `income`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// What it holds.
    pub description: &'static str,
}

/// 6100: what commissions cost.
pub const COMMISSION_EXPENSE: Account = Account {
    code: "6100",
    name: "Affiliate commission expense",
    kind: "expense",
    description: "Commissions earned by affiliates, less commissions rejected by hand",
};
/// 6150: refunds taking commissions back.
pub const CLAWBACKS: Account = Account {
    code: "6150",
    name: "Commission clawbacks",
    kind: "contra_expense",
    description: "Commissions taken back because the sale was refunded",
};
/// 2100: what is owed to affiliates.
pub const ACCRUED: Account = Account {
    code: "2100",
    name: "Accrued affiliate commissions",
    kind: "liability",
    description: "Commissions owed to affiliates: in the holding period, payable, or in a \
                  payout not yet paid (ledger accounts pending, available, in_payout)",
};
/// 1090: money sent to affiliates.
pub const PAYOUTS_CLEARING: Account = Account {
    code: "1090",
    name: "Affiliate payouts clearing",
    kind: "asset",
    description: "Money paid out to affiliates (net of platform fees); reconcile against \
                  the bank or payout provider",
};
/// 4100: fees kept from payouts.
pub const PLATFORM_FEES: Account = Account {
    code: "4100",
    name: "Platform fee income",
    kind: "income",
    description: "Platform fees deducted from payouts",
};
/// 9990: a ledger account this build does not know (never expected; kept visible).
pub const SUSPENSE: Account = Account {
    code: "9990",
    name: "Unmapped ledger account",
    kind: "suspense",
    description: "A ledger account without a mapping; report it as a bug",
};

/// The chart of accounts the journal uses.
pub const CHART: [Account; 6] = [
    PAYOUTS_CLEARING,
    ACCRUED,
    PLATFORM_FEES,
    COMMISSION_EXPENSE,
    CLAWBACKS,
    SUSPENSE,
];

/// The books account of a ledger line of `kind` on `ledger_account`: the one mapping.
pub fn account_for(kind: &str, ledger_account: &str) -> Account {
    match ledger_account {
        EXPENSE if kind == "reversal" => CLAWBACKS,
        EXPENSE => COMMISSION_EXPENSE,
        PENDING | AVAILABLE | IN_PAYOUT => ACCRUED,
        PAID => PAYOUTS_CLEARING,
        FEES => PLATFORM_FEES,
        _ => SUSPENSE,
    }
}

/// What an entry of a kind of movement says.
fn describe(kind: &str) -> String {
    match kind {
        "commission" => "Commissions earned".into(),
        "reversal" => "Clawbacks: commissions reversed by refunds".into(),
        "rejection" => "Commissions rejected".into(),
        "payout_paid" => "Payouts paid to affiliates (net of platform fees)".into(),
        "payout" => "Payouts opened".into(),
        "payout_failed" => "Payouts failed".into(),
        "maturation" | "approval" => "Commissions became payable".into(),
        "bonus" => "Bonuses granted".into(),
        "opening_balance" => "Opening balances imported from another tool".into(),
        other => other.replace('_', " "),
    }
}

/// Journal period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// One entry set per UTC day.
    Day,
    /// One entry set per calendar month (UTC).
    Month,
}

impl PeriodKind {
    /// `day` or `month` (default).
    pub fn parse(raw: Option<&str>) -> AppResult<Self> {
        Ok(
            match crate::domain::values::text::choice("period", raw, &["day", "month"])? {
                Some("day") => Self::Day,
                _ => Self::Month,
            },
        )
    }

    /// The period of a day: (`2026-11` or `2026-11-21`, its last day as `YYYY-MM-DD`).
    fn of(self, day: i64) -> (String, String) {
        let date = db::from_ms(day * DAY_MS).date_naive();
        match self {
            Self::Day => {
                let d = date.format("%Y-%m-%d").to_string();
                (d.clone(), d)
            }
            Self::Month => {
                let first = date.with_day(1).unwrap_or(date);
                let last = first
                    .checked_add_months(chrono::Months::new(1))
                    .and_then(|d| d.pred_opt())
                    .unwrap_or(date);
                (
                    first.format("%Y-%m").to_string(),
                    last.format("%Y-%m-%d").to_string(),
                )
            }
        }
    }
}

/// One line of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct JournalLine {
    /// Books account number.
    pub account_code: &'static str,
    /// Books account name.
    pub account_name: &'static str,
    /// Debit, minor units (0 when the line is a credit).
    pub debit_cents: i64,
    /// Credit, minor units (0 when the line is a debit).
    pub credit_cents: i64,
}

/// One journal entry: a kind of movement in one period and currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Entry {
    /// Stable reference: `{period}-{currency}-{kind}`.
    pub id: String,
    /// `YYYY-MM` or `YYYY-MM-DD`.
    pub period: String,
    /// Posting date: the period's last day, `YYYY-MM-DD`.
    pub date: String,
    /// ISO 4217.
    pub currency: String,
    /// The ledger's kind of movement.
    pub kind: String,
    /// For people.
    pub description: String,
    /// The lines, by account code.
    pub lines: Vec<JournalLine>,
    /// Sum of the debits.
    pub debit_cents: i64,
    /// Sum of the credits (equal to the debits).
    pub credit_cents: i64,
}

/// One period's totals in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PeriodTotal {
    /// `YYYY-MM` or `YYYY-MM-DD`.
    pub period: String,
    /// ISO 4217.
    pub currency: String,
    /// Sum of the debits.
    pub debit_cents: i64,
    /// Sum of the credits.
    pub credit_cents: i64,
    /// Whether they are equal.
    pub balanced: bool,
}

/// The journal of a period range.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Journal {
    /// Start (inclusive), RFC 3339.
    pub from: String,
    /// End (exclusive), RFC 3339.
    pub to: String,
    /// `[from, to)` in unix ms.
    #[serde(skip)]
    pub range_ms: (i64, i64),
    /// `day` or `month`.
    pub period: PeriodKind,
    /// The currency asked for, if any.
    pub currency: Option<String>,
    /// The chart of accounts used.
    pub accounts: Vec<Account>,
    /// Entries by period, currency and kind.
    pub entries: Vec<Entry>,
    /// Totals per period and currency.
    pub periods: Vec<PeriodTotal>,
}

impl Journal {
    /// The download's file name without extension: `journal-{first day}-{last day}`.
    pub fn file_stem(&self) -> String {
        format!(
            "journal-{}-{}",
            db::from_ms(self.range_ms.0).format("%Y-%m-%d"),
            // `to` is exclusive: the last day is the one before it ends.
            db::from_ms(self.range_ms.1 - 1).format("%Y-%m-%d")
        )
    }
}

/// The query of a journal.
#[derive(Debug, Clone, Default)]
pub struct JournalQuery<'a> {
    /// `YYYY-MM-DD` (inclusive) or RFC 3339; required.
    pub from: Option<&'a str>,
    /// `YYYY-MM-DD` (inclusive) or RFC 3339 (exclusive); required.
    pub to: Option<&'a str>,
    /// One currency only.
    pub currency: Option<&'a str>,
    /// `day` or `month`.
    pub period: Option<&'a str>,
}

/// Parses `from` and `to`: both required, `from` before `to`, at most ten years.
pub fn range(from: Option<&str>, to: Option<&str>) -> AppResult<(i64, i64)> {
    let need = |field: &str, v: Option<&str>| -> AppResult<i64> {
        match v.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => parse_instant(field, s, field == "to"),
            None => Err(AppError::invalid(
                field,
                format!("{field} is required (YYYY-MM-DD or an RFC 3339 time)"),
            )),
        }
    };
    let (from, to) = (need("from", from)?, need("to", to)?);
    if from >= to {
        return Err(AppError::invalid("from", "from must be before to"));
    }
    if to - from > MAX_DAYS * DAY_MS {
        return Err(AppError::invalid(
            "from",
            format!("a journal covers at most {MAX_DAYS} days"),
        ));
    }
    Ok((from, to))
}

/// The journal of a vendor's ledger in a period range.
pub async fn journal(db: &Db, vendor_id: &str, q: &JournalQuery<'_>) -> AppResult<Journal> {
    let (from, to) = range(q.from, q.to)?;
    let period = PeriodKind::parse(q.period)?;
    let currency = crate::domain::values::Currency::parse_optional("currency", q.currency)?;
    let sums =
        db::accounting::day_sums(db.pool(), vendor_id, (from, to), currency.as_deref()).await?;
    // (period, currency, kind) → (date, account code → (account, signed sum)).
    type Lines = BTreeMap<&'static str, (Account, i64)>;
    let mut grouped: BTreeMap<(String, String, String), (String, Lines)> = BTreeMap::new();
    for s in &sums {
        let (label, date) = period.of(s.day);
        let account = account_for(&s.kind, &s.account);
        let slot = grouped
            .entry((label, s.currency.clone(), s.kind.clone()))
            .or_insert_with(|| (date, BTreeMap::new()));
        let line = slot.1.entry(account.code).or_insert((account, 0));
        line.1 += s.amount_cents;
    }
    let mut entries = Vec::new();
    let mut periods: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for ((label, cur, kind), (date, lines)) in grouped {
        let lines: Vec<JournalLine> = lines
            .into_values()
            .filter(|(_, sum)| *sum != 0)
            .map(|(a, sum)| JournalLine {
                account_code: a.code,
                account_name: a.name,
                // Positive ledger amounts are credits, negative ones debits.
                debit_cents: if sum < 0 { -sum } else { 0 },
                credit_cents: sum.max(0),
            })
            .collect();
        if lines.is_empty() {
            continue;
        }
        let debit: i64 = lines.iter().map(|l| l.debit_cents).sum();
        let credit: i64 = lines.iter().map(|l| l.credit_cents).sum();
        let p = periods.entry((label.clone(), cur.clone())).or_default();
        p.0 += debit;
        p.1 += credit;
        entries.push(Entry {
            id: format!("{label}-{cur}-{kind}"),
            description: describe(&kind),
            period: label,
            date,
            currency: cur,
            kind,
            lines,
            debit_cents: debit,
            credit_cents: credit,
        });
    }
    Ok(Journal {
        from: db::rfc3339(from),
        to: db::rfc3339(to),
        range_ms: (from, to),
        period,
        currency,
        accounts: CHART.to_vec(),
        entries,
        periods: periods
            .into_iter()
            .map(|((period, currency), (d, c))| PeriodTotal {
                period,
                currency,
                debit_cents: d,
                credit_cents: c,
                balanced: d == c,
            })
            .collect(),
    })
}

/// The journal as CSV: a header, then one row per line of each entry (amounts with the
/// currency's decimals: "15.00" EUR, "1500" JPY, "1.500" BHD), every cell escaped against formula injection.
pub fn journal_csv(j: &Journal) -> String {
    let mut out = row(&[
        "entry_id",
        "date",
        "period",
        "currency",
        "account_code",
        "account_name",
        "debit",
        "credit",
        "description",
    ]);
    for e in &j.entries {
        for l in &e.lines {
            out.push_str(&row(&[
                &e.id,
                &e.date,
                &e.period,
                &e.currency,
                l.account_code,
                l.account_name,
                &format_amount(l.debit_cents, &e.currency),
                &format_amount(l.credit_cents, &e.currency),
                &e.description,
            ]));
        }
    }
    out
}

/// One affiliate's payouts paid in a year in one currency, with its tax details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PaidTotal {
    /// `aff_...`
    pub affiliate_id: String,
    /// Name.
    pub affiliate_name: String,
    /// Email.
    pub affiliate_email: String,
    /// ISO 4217.
    pub currency: String,
    /// Payouts paid in the year.
    pub payouts: i64,
    /// Their amounts before fees, minor units.
    pub amount_cents: i64,
    /// Platform fees kept.
    pub fee_cents: i64,
    /// What the affiliate received.
    pub net_cents: i64,
    /// Tax details, `null` when not given.
    #[schema(value_type = Option<Object>)]
    pub tax_details: Option<crate::domain::partners::tax_details::TaxDetails>,
}

/// The paid totals of a calendar year (UTC, by the time each payout was marked paid).
pub async fn paid_totals(
    db: &Db,
    vendor_id: &str,
    year: Option<&str>,
) -> AppResult<Vec<PaidTotal>> {
    let year: i32 = year
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AppError::invalid("year", "year is required, e.g. 2026"))?
        .parse()
        .ok()
        .filter(|y| (2000..=2999).contains(y))
        .ok_or_else(|| AppError::invalid("year", "year is a year such as 2026"))?;
    let start = |y: i32| {
        chrono::NaiveDate::from_ymd_opt(y, 1, 1)
            .map(|d| {
                d.and_time(chrono::NaiveTime::MIN)
                    .and_utc()
                    .timestamp_millis()
            })
            .ok_or_else(|| AppError::invalid("year", "year is a year such as 2026"))
    };
    let rows =
        db::accounting::paid_totals(db.pool(), vendor_id, (start(year)?, start(year + 1)?)).await?;
    Ok(rows
        .into_iter()
        .map(|r| PaidTotal {
            tax_details: match (r.legal_name, r.country, r.tax_id) {
                (Some(legal_name), Some(country), Some(tax_id)) => {
                    Some(crate::domain::partners::tax_details::TaxDetails {
                        legal_name,
                        country,
                        tax_id,
                    })
                }
                _ => None,
            },
            affiliate_id: r.affiliate_id,
            affiliate_name: r.name,
            affiliate_email: r.email,
            currency: r.currency,
            payouts: r.payouts,
            amount_cents: r.amount_cents,
            fee_cents: r.fee_cents,
            net_cents: r.net_cents,
        })
        .collect())
}

/// The paid totals as CSV, with a header; every cell escaped against formula injection.
pub fn paid_totals_csv(rows: &[PaidTotal]) -> String {
    let mut out = row(&[
        "affiliate_id",
        "affiliate_name",
        "affiliate_email",
        "legal_name",
        "country",
        "tax_id",
        "currency",
        "payouts",
        "amount",
        "fee",
        "net",
    ]);
    for r in rows {
        let t = r.tax_details.as_ref();
        out.push_str(&row(&[
            &r.affiliate_id,
            &r.affiliate_name,
            &r.affiliate_email,
            t.map_or("", |t| t.legal_name.as_str()),
            t.map_or("", |t| t.country.as_str()),
            t.map_or("", |t| t.tax_id.as_str()),
            &r.currency,
            &r.payouts.to_string(),
            &format_amount(r.amount_cents, &r.currency),
            &format_amount(r.fee_cents, &r.currency),
            &format_amount(r.net_cents, &r.currency),
        ]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ledger_account_has_a_books_account() {
        for a in [PENDING, AVAILABLE, IN_PAYOUT, PAID, FEES, EXPENSE] {
            assert_ne!(account_for("commission", a), SUSPENSE, "{a}");
        }
        assert_eq!(account_for("reversal", EXPENSE), CLAWBACKS);
        assert_eq!(account_for("rejection", EXPENSE), COMMISSION_EXPENSE);
        assert_eq!(account_for("commission", "nonsense"), SUSPENSE);
    }

    #[test]
    fn months_end_on_their_last_day() {
        let day = |s: &str| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .unwrap()
                .and_time(chrono::NaiveTime::MIN)
                .and_utc()
                .timestamp_millis()
                / DAY_MS
        };
        assert_eq!(
            PeriodKind::Month.of(day("2024-02-10")),
            ("2024-02".into(), "2024-02-29".into())
        );
        assert_eq!(
            PeriodKind::Month.of(day("2026-12-31")),
            ("2026-12".into(), "2026-12-31".into())
        );
        assert_eq!(
            PeriodKind::Day.of(day("2026-11-21")),
            ("2026-11-21".into(), "2026-11-21".into())
        );
    }
}
