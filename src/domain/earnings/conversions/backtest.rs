//! Terms backtest: what a program would have paid in a period under draft terms, next to
//! what it recorded.
//!
//! The conversions recorded in the period (each made from the billing-event log by live
//! ingest) are replayed through the draft terms with the code path live ingest uses: the
//! same facts (which payment of its subscription, prior approved conversions — read as they
//! stood when each conversion was recorded), the same upline walk and the same
//! [`commission_rules::conversion_lines`]. Nothing is written: every read runs in one
//! transaction that is rolled back, for a consistent snapshot.
//!
//! "Now" is what was recorded for those conversions: the commissions' amounts (`current`)
//! and what they are still worth after refunds and rejections (`current_net`). The
//! backtest gives the same two figures for the draft: refunds taken back proportionally,
//! rejected and reversed conversions worth nothing.
//!
//! The program's caps apply to the draft as they do live: the one cap rule
//! ([`crate::domain::earnings::caps::rule`]) cuts each converting affiliate's draft commission, with the caps' totals
//! kept in memory as the period is replayed in event order ([`Replay`]), starting
//! from what was recorded before the period. `capped_cents` is what the caps took off the
//! draft, `current_capped_cents` what they took off the recorded commissions.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::db::{self, Db, affiliates::AffiliateRow, affiliates::EnrollmentRow};
use crate::domain::earnings::caps::{Replay, Sale};
use crate::domain::earnings::commission_rules::{self, Line};
use crate::domain::partners::caps::Caps;
use crate::domain::partners::terms::Commission;
use crate::domain::values::status::CommissionStatus;
use crate::error::{AppError, AppResult};

use super::attribution::REFUSALS;
use super::recording::{AsOf, facts, uplines};

/// Conversions one backtest replays at most (a longer history: a shorter period).
pub const MAX_CONVERSIONS: i64 = 50_000;

/// Figures of one affiliate in one currency, or of the whole program in one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// ISO 4217.
    pub currency: String,
    /// Conversions whose commissions count here (recorded or under the draft).
    pub conversions: i64,
    /// Commissions recorded, minor units.
    pub current_cents: i64,
    /// Commissions under the draft terms.
    pub backtest_cents: i64,
    /// `backtest_cents - current_cents`.
    pub difference_cents: i64,
    /// What the recorded commissions are still worth (after refunds and rejections).
    pub current_net_cents: i64,
    /// What the draft's commissions would still be worth.
    pub backtest_net_cents: i64,
    /// `backtest_net_cents - current_net_cents`.
    pub difference_net_cents: i64,
    /// What the program's caps took off the recorded commissions, minor units.
    pub current_capped_cents: i64,
    /// What the program's caps took off the draft's commissions (`backtest_cents` is
    /// after them).
    pub capped_cents: i64,
}

impl Figures {
    fn add(&mut self, current: (i64, i64), backtest: (i64, i64)) {
        self.current_cents += current.0;
        self.current_net_cents += current.1;
        self.backtest_cents += backtest.0;
        self.backtest_net_cents += backtest.1;
        self.difference_cents = self.backtest_cents - self.current_cents;
        self.difference_net_cents = self.backtest_net_cents - self.current_net_cents;
    }
}

/// One affiliate's figures in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AffiliateFigures {
    /// `aff_...`
    pub affiliate_id: String,
    /// Name for people.
    pub affiliate_name: String,
    /// Email.
    pub affiliate_email: String,
    /// The figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// The outcome of a backtest.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Backtest {
    /// The program.
    pub program_id: String,
    /// The partner group whose affiliates were replayed; `null`: the whole program.
    pub group_id: Option<String>,
    /// Start of the period (inclusive), RFC 3339.
    pub from: String,
    /// End of the period (exclusive), RFC 3339.
    pub to: String,
    /// `[from, to)` in unix ms.
    #[serde(skip)]
    pub range_ms: (i64, i64),
    /// The draft terms replayed.
    #[schema(value_type = Object)]
    pub terms: serde_json::Value,
    /// Conversions replayed.
    pub conversions: i64,
    /// Per affiliate and currency, by currency then name.
    pub affiliates: Vec<AffiliateFigures>,
    /// The program's totals per currency.
    pub totals: Vec<Figures>,
}

/// The figures being summed: per (affiliate, currency), and which conversions counted where.
#[derive(Default)]
struct Tally {
    per: BTreeMap<(String, String), Figures>,
    /// (affiliate, currency, conversion) already counted in `per`.
    counted: HashSet<(String, String, String)>,
    /// (currency, conversion) for the totals.
    in_currency: HashSet<(String, String)>,
}

impl Tally {
    /// Adds a commission line: recorded `(amount, net)` and the draft's `(amount, net)`.
    fn add(
        &mut self,
        affiliate: &str,
        currency: &str,
        conversion: &str,
        current: (i64, i64),
        backtest: (i64, i64),
    ) {
        let f = self
            .per
            .entry((affiliate.to_owned(), currency.to_owned()))
            .or_insert_with(|| Figures {
                currency: currency.to_owned(),
                ..Figures::default()
            });
        if self.counted.insert((
            affiliate.to_owned(),
            currency.to_owned(),
            conversion.to_owned(),
        )) {
            f.conversions += 1;
        }
        f.add(current, backtest);
        self.in_currency
            .insert((currency.to_owned(), conversion.to_owned()));
    }

    /// Adds what the caps took: off the recorded commission and off the draft's.
    fn capped(&mut self, affiliate: &str, currency: &str, current: i64, backtest: i64) {
        let f = self
            .per
            .entry((affiliate.to_owned(), currency.to_owned()))
            .or_insert_with(|| Figures {
                currency: currency.to_owned(),
                ..Figures::default()
            });
        f.current_capped_cents += current;
        f.capped_cents += backtest;
    }
}

/// What a commission line is still worth after the conversion's refunds, or nothing when
/// the conversion was rejected or reversed (the rule refunds use, see
/// [`commission_rules::reversed_total`]).
fn net_of(amount: i64, c: &db::conversions::ConversionRow) -> i64 {
    if c.status == "rejected" || c.status == "reversed" {
        return 0;
    }
    amount - commission_rules::reversed_total(amount, c.refunded_cents, c.amount_cents)
}

/// Replays the conversions of `program_id` that happened in `[from, to)` through `terms`.
/// Another vendor's program → 404; more than [`MAX_CONVERSIONS`] → 422 on `from`.
pub async fn run(
    db: &Db,
    vendor_id: &str,
    program_id: &str,
    terms: &Commission,
    range: (i64, i64),
) -> AppResult<Backtest> {
    run_for_group(db, vendor_id, program_id, None, terms, range).await
}

/// [`run`] for the affiliates now in one partner group of the program (a group change:
/// draft terms for that group); `None`: everybody. A group that is not the program's →
/// 422 on `group_id`.
pub async fn run_for_group(
    db: &Db,
    vendor_id: &str,
    program_id: &str,
    group_id: Option<&str>,
    terms: &Commission,
    (from, to): (i64, i64),
) -> AppResult<Backtest> {
    // Reads only, in a transaction rolled back at the end: one snapshot, nothing kept.
    let mut tx = db.begin().await?;
    let program = db::programs::by_id(&mut *tx, vendor_id, program_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let members: Option<HashSet<String>> = match group_id {
        None => None,
        Some(g) => {
            match db::groups::by_id(&mut *tx, vendor_id, g).await? {
                Some(group) if group.program_id == program.id => {}
                _ => {
                    return Err(AppError::invalid(
                        "group_id",
                        "no such group in this program",
                    ));
                }
            }
            Some(
                db::groups::enrollment_ids(&mut *tx, vendor_id, g)
                    .await?
                    .into_iter()
                    .collect(),
            )
        }
    };
    let mut conversions = db::conversions::of_program_in_period(
        &mut *tx,
        vendor_id,
        program_id,
        from,
        to,
        MAX_CONVERSIONS + 1,
    )
    .await?;
    if let Some(members) = &members {
        conversions.retain(|c| members.contains(&c.enrollment_id));
    }
    if conversions.len() as i64 > MAX_CONVERSIONS {
        return Err(AppError::invalid(
            "from",
            format!("more than {MAX_CONVERSIONS} conversions in the period: choose a shorter one"),
        ));
    }
    // The caps as live ingest applies them now, with their totals as of `from`.
    let program_caps = Caps::from_stored(&program.caps)?;
    let mut replay = Replay::start(&mut tx, &program, &program_caps, from).await?;
    let mut recorded: HashMap<String, Vec<db::commissions::CommissionRow>> = HashMap::new();
    for m in db::backtest::commissions_in(&mut *tx, vendor_id, program_id, from, to).await? {
        recorded.entry(m.conversion_id.clone()).or_default().push(m);
    }
    let mut affiliates: HashMap<String, Option<AffiliateRow>> = HashMap::new();
    let mut enrollments: HashMap<String, Option<EnrollmentRow>> = HashMap::new();
    let mut ancestors: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    let mut tally = Tally::default();
    for c in &conversions {
        for m in recorded.get(&c.id).map(Vec::as_slice).unwrap_or_default() {
            let net = if CommissionStatus::Rejected.is(&m.status) {
                0
            } else {
                m.amount_cents - m.reversed_cents
            };
            tally.add(
                &m.affiliate_id,
                &m.currency,
                &c.id,
                (m.amount_cents, net),
                (0, 0),
            );
        }
        if c.capped_cents > 0 {
            // Caps count and cut only the program's currency.
            tally.capped(&c.affiliate_id, &program.currency, c.capped_cents, 0);
        }
        let refused_at_ingest =
            c.status == "rejected" && c.reason.as_deref().is_some_and(|r| REFUSALS.contains(&r));
        if refused_at_ingest {
            continue;
        }
        if !affiliates.contains_key(&c.affiliate_id) {
            let a = db::affiliates::by_id(&mut *tx, vendor_id, &c.affiliate_id).await?;
            affiliates.insert(c.affiliate_id.clone(), a);
        }
        if !enrollments.contains_key(&c.affiliate_id) {
            let e = db::affiliates::enrollment_in(&mut *tx, vendor_id, &c.affiliate_id, program_id)
                .await?;
            enrollments.insert(c.affiliate_id.clone(), e);
        }
        // The converter's own override still applies, as it would live; everyone else
        // earns under the draft.
        let own = enrollments
            .get(&c.affiliate_id)
            .and_then(Option::as_ref)
            .and_then(|e| e.commission_override.as_deref())
            .and_then(Commission::from_stored)
            .map_or_else(|| terms.rate.clone(), |o| o.rate);
        if !ancestors.contains_key(&c.affiliate_id) {
            let up = match affiliates.get(&c.affiliate_id).and_then(Option::as_ref) {
                Some(a) if !terms.multi_level.is_empty() => {
                    uplines(&mut tx, vendor_id, program_id, a, terms).await?
                }
                _ => Vec::new(),
            };
            ancestors.insert(c.affiliate_id.clone(), up);
        }
        let at = AsOf {
            created_at: c.created_at,
            id: &c.id,
        };
        let f = facts(
            &mut tx,
            program_id,
            &own,
            &c.affiliate_id,
            c.subscription_id.as_deref(),
            c.amount_cents,
            Some(at),
        )
        .await?;
        let up = ancestors
            .get(&c.affiliate_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let (lines, _) =
            commission_rules::conversion_lines(&own, terms, &f, &c.affiliate_id, up, None);
        for Line {
            affiliate_id,
            earned,
            level,
        } in lines
        {
            let currency = if earned.in_program_currency {
                program.currency.as_str()
            } else {
                c.currency.as_str()
            };
            let mut amount = earned.amount_cents;
            if level == 0 {
                // The converting affiliate's line, capped as live ingest caps it.
                let sale = Sale {
                    affiliate_id: &affiliate_id,
                    customer_id: c.customer_id.as_deref(),
                    occurred_at: c.occurred_at,
                    currency,
                };
                let (left, cut) = replay.cap(&program.currency, &program_caps, &sale, amount);
                if let Some(cut) = cut {
                    tally.capped(&affiliate_id, currency, 0, cut.cut_cents);
                }
                amount = left;
                if amount > 0 && c.status != "rejected" {
                    replay.count(&program.currency, &sale, net_of(amount, c));
                }
                if amount == 0 && earned.amount_cents > 0 {
                    // Live ingest leaves a line cut to nothing out.
                    continue;
                }
            }
            tally.add(
                &affiliate_id,
                currency,
                &c.id,
                (0, 0),
                (amount, net_of(amount, c)),
            );
        }
    }
    // Names of everyone listed (uplines may not have converted themselves).
    for (affiliate, _) in tally.per.keys() {
        if !affiliates.contains_key(affiliate) {
            let a = db::affiliates::by_id(&mut *tx, vendor_id, affiliate).await?;
            affiliates.insert(affiliate.clone(), a);
        }
    }
    tx.rollback().await?;
    let mut totals: BTreeMap<String, Figures> = BTreeMap::new();
    let mut rows = Vec::new();
    for ((affiliate_id, currency), f) in tally.per {
        let t = totals.entry(currency.clone()).or_insert_with(|| Figures {
            currency: currency.clone(),
            ..Figures::default()
        });
        t.add(
            (f.current_cents, f.current_net_cents),
            (f.backtest_cents, f.backtest_net_cents),
        );
        t.current_capped_cents += f.current_capped_cents;
        t.capped_cents += f.capped_cents;
        let a = affiliates.get(&affiliate_id).and_then(Option::as_ref);
        rows.push(AffiliateFigures {
            affiliate_name: a.map(|a| a.name.clone()).unwrap_or_default(),
            affiliate_email: a.map(|a| a.email.clone()).unwrap_or_default(),
            affiliate_id,
            figures: f,
        });
    }
    for t in totals.values_mut() {
        t.conversions = tally
            .in_currency
            .iter()
            .filter(|(currency, _)| *currency == t.currency)
            .count() as i64;
    }
    rows.sort_by(|a, b| {
        (&a.figures.currency, &a.affiliate_name, &a.affiliate_id).cmp(&(
            &b.figures.currency,
            &b.affiliate_name,
            &b.affiliate_id,
        ))
    });
    Ok(Backtest {
        program_id: program.id,
        group_id: group_id.map(str::to_owned),
        from: db::rfc3339(from),
        to: db::rfc3339(to),
        range_ms: (from, to),
        terms: serde_json::to_value(terms).unwrap_or_default(),
        conversions: conversions.len() as i64,
        affiliates: rows,
        totals: totals.into_values().collect(),
    })
}
