//! The arithmetic of commissions: which rate applies to a conversion, the amount, and how
//! much a refund takes back. Pure functions, no storage; one place for rounding.
//!
//! Rounding is half-up, once, at the commission: `amount × bps / 10 000` computed exactly in
//! 128-bit integers, then rounded to the nearest cent with halves going up (4 900 × 1 250 bps
//! = 612.5 → 613). Refund reversals are proportional and computed on the cumulative refunded
//! amount, so several partial refunds that add up to the whole sale take back exactly the
//! whole commission, never a cent more or less.

use crate::domain::partners::terms::{Commission, Level, Rate};
use crate::domain::values::bps::{BPS_MAX, format_bps};

/// `amount × bps / 10 000`, rounded half-up to a whole minor unit. Amounts are non-negative.
pub fn apply_bps(amount_cents: i64, bps: i64) -> i64 {
    ratio(amount_cents, bps, BPS_MAX)
}

/// `amount × num / den` rounded half-up; 0 when `den` is 0. Used for proportional refunds.
pub fn ratio(amount_cents: i64, num: i64, den: i64) -> i64 {
    if den <= 0 {
        return 0;
    }
    let scaled = i128::from(amount_cents) * i128::from(num);
    let den = i128::from(den);
    // Half-up for non-negative values: floor((2x + d) / 2d).
    let rounded = (2 * scaled + den).div_euclid(2 * den);
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// What the facts of one conversion are, as far as the rate is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// Gross sale amount, minor units of the sale's currency.
    pub gross_cents: i64,
    /// Which payment of its subscription this is (1 = first); 1 for one-off payments.
    pub cycle: i64,
    /// Approved conversions of this affiliate in the program before this one.
    pub prior_approved: i64,
}

/// A computed commission line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Earned {
    /// Minor units; the currency is the sale's, except for flat rates (the program's).
    pub amount_cents: i64,
    /// The rate applied; `None` for flat amounts.
    pub bps: Option<i64>,
    /// Whether the amount is in the program's currency (flat) rather than the sale's.
    pub in_program_currency: bool,
    /// How it was computed, for people.
    pub rule: String,
}

/// What the converting affiliate earns under `rate`. `None` when the terms give nothing for
/// this conversion (a recurring rate past its cycles); the reason is returned instead.
pub fn direct(rate: &Rate, facts: &Facts) -> Result<Earned, String> {
    let pct = |bps: i64, rule: String| Earned {
        amount_cents: apply_bps(facts.gross_cents, bps),
        bps: Some(bps),
        in_program_currency: false,
        rule,
    };
    match rate {
        Rate::Percentage { bps } => Ok(pct(*bps, format!("{} of the sale", format_bps(*bps)))),
        Rate::Flat { amount_cents } => Ok(Earned {
            amount_cents: *amount_cents,
            bps: None,
            in_program_currency: true,
            rule: "flat amount per conversion".into(),
        }),
        Rate::Recurring { bps, max_cycles } => {
            if facts.cycle > *max_cycles {
                Err(format!(
                    "recurring_limit: payment {} of the subscription, terms pay {max_cycles}",
                    facts.cycle
                ))
            } else {
                Ok(pct(
                    *bps,
                    format!(
                        "{} of payment {} of {max_cycles}",
                        format_bps(*bps),
                        facts.cycle
                    ),
                ))
            }
        }
        Rate::Tiered { bps, tiers } => {
            // The highest tier whose threshold the prior approved conversions reach.
            let reached = tiers
                .iter()
                .enumerate()
                .rev()
                .find(|(_, t)| facts.prior_approved >= t.min_conversions);
            Ok(match reached {
                Some((i, t)) => pct(
                    t.bps,
                    format!(
                        "tier {}: {} after {} approved conversions",
                        i + 1,
                        format_bps(t.bps),
                        t.min_conversions
                    ),
                ),
                None => pct(*bps, format!("base tier: {}", format_bps(*bps))),
            })
        }
    }
}

/// What the ancestor at `level` earns: the ladder's bps of the gross sale.
pub fn upline(level: &Level, gross_cents: i64) -> Earned {
    Earned {
        amount_cents: apply_bps(gross_cents, level.bps),
        bps: Some(level.bps),
        in_program_currency: false,
        rule: format!("level {} upline: {}", level.level, format_bps(level.bps)),
    }
}

/// The upline ladder of terms (empty when the program has none).
pub fn ladder(terms: &Commission) -> &[Level] {
    &terms.multi_level
}

/// One commission a conversion gives: the ladder level (0 = the converting affiliate), who
/// earns it and how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 0 = direct, n = the n-th upline.
    pub level: i64,
    /// The earning affiliate.
    pub affiliate_id: String,
    /// What it earns.
    pub earned: Earned,
}

/// What one conversion earns: its commission lines and, when the converter earns nothing,
/// why. The one place that turns terms and facts into commissions: live ingest records
/// these lines and the terms backtest sums them, so a backtest under the terms in force
/// gives exactly what was recorded.
///
/// `own` is the converting affiliate's rate (its override or its terms version), `ladder`
/// the terms whose upline levels apply, `uplines` the ancestors that may earn (level,
/// affiliate), `refused` the reason the conversion is refused at all (then nothing is
/// earned). Lines of zero or less are left out.
pub fn conversion_lines(
    own: &Rate,
    ladder: &Commission,
    facts: &Facts,
    converter_id: &str,
    uplines: &[(i64, String)],
    refused: Option<&str>,
) -> (Vec<Line>, Option<String>) {
    if let Some(why) = refused {
        return (Vec::new(), Some(why.to_owned()));
    }
    let mut lines = Vec::new();
    let direct = direct(own, facts);
    let reason = direct.as_ref().err().cloned();
    if let Ok(d) = direct {
        lines.push(Line {
            level: 0,
            affiliate_id: converter_id.to_owned(),
            earned: d,
        });
    }
    for (level, ancestor) in uplines {
        if let Some(l) = ladder.multi_level.iter().find(|l| l.level == *level) {
            lines.push(Line {
                level: *level,
                affiliate_id: ancestor.clone(),
                earned: upline(l, facts.gross_cents),
            });
        }
    }
    lines.retain(|l| l.earned.amount_cents > 0);
    (lines, reason)
}

/// How much of a commission a refund takes back in total once `refunded_cents` of the
/// `gross_cents` sale are refunded (capped at the whole commission).
pub fn reversed_total(commission_cents: i64, refunded_cents: i64, gross_cents: i64) -> i64 {
    if refunded_cents >= gross_cents {
        return commission_cents;
    }
    ratio(commission_cents, refunded_cents.max(0), gross_cents).min(commission_cents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::partners::terms::Tier;

    fn facts(gross: i64) -> Facts {
        Facts {
            gross_cents: gross,
            cycle: 1,
            prior_approved: 0,
        }
    }

    #[test]
    fn half_up_once() {
        assert_eq!(apply_bps(4900, 2000), 980);
        assert_eq!(apply_bps(4900, 1250), 613); // 612.5 → 613
        assert_eq!(apply_bps(999, 3333), 333); // 332.9667 → 333
        assert_eq!(apply_bps(1, 4999), 0); // 0.4999 → 0
        assert_eq!(apply_bps(1, 5000), 1); // 0.5 → 1
        assert_eq!(apply_bps(0, 2000), 0);
        assert_eq!(apply_bps(i64::MAX, 10_000), i64::MAX);
    }

    #[test]
    fn rates() {
        let pct = direct(&Rate::Percentage { bps: 2000 }, &facts(4900)).unwrap();
        assert_eq!((pct.amount_cents, pct.bps), (980, Some(2000)));
        let flat = direct(&Rate::Flat { amount_cents: 1500 }, &facts(4900)).unwrap();
        assert_eq!(flat.amount_cents, 1500);
        assert!(flat.in_program_currency);
        let rec = Rate::Recurring {
            bps: 3000,
            max_cycles: 2,
        };
        let mut f = facts(1000);
        assert_eq!(direct(&rec, &f).unwrap().amount_cents, 300);
        f.cycle = 2;
        assert_eq!(direct(&rec, &f).unwrap().amount_cents, 300);
        f.cycle = 3;
        assert!(direct(&rec, &f).unwrap_err().starts_with("recurring_limit"));
        let tiered = Rate::Tiered {
            bps: 1000,
            tiers: vec![
                Tier {
                    min_conversions: 2,
                    bps: 2000,
                },
                Tier {
                    min_conversions: 5,
                    bps: 3000,
                },
            ],
        };
        let at = |n| {
            direct(
                &tiered,
                &Facts {
                    gross_cents: 10_000,
                    cycle: 1,
                    prior_approved: n,
                },
            )
            .unwrap()
            .amount_cents
        };
        assert_eq!(
            (at(0), at(1), at(2), at(4), at(5), at(50)),
            (1000, 1000, 2000, 2000, 3000, 3000)
        );
    }

    #[test]
    fn partial_refunds_add_up_to_the_whole_commission() {
        // 49.00 sale, 9.80 commission, refunded in three parts.
        let (gross, commission) = (4900, 980);
        let mut taken = 0;
        for refunded in [1000, 2333, 4900] {
            let total = reversed_total(commission, refunded, gross);
            assert!(total >= taken);
            taken = total;
        }
        assert_eq!(taken, commission);
        assert_eq!(reversed_total(980, 2450, 4900), 490);
        assert_eq!(reversed_total(980, 9999, 4900), 980);
        assert_eq!(reversed_total(980, 0, 4900), 0);
    }
}
