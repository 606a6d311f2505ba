//! Commission terms of a program, stored as versioned JSON.
//!
//! The JSON is the public shape of the seeds: a `type`-tagged rate plus an optional
//! multi-level ladder for uplines, e.g.
//! `{"type":"percentage","bps":2000}`,
//! `{"type":"flat","amount_cents":1500}`,
//! `{"type":"recurring","bps":3000,"max_cycles":12}`,
//! `{"type":"tiered","bps":2000,"tiers":[{"min_conversions":10,"bps":2500}]}`,
//! with `"multi_level":[{"level":1,"bps":500}]` allowed beside any of them.
//! The maths that applies them lives with conversions; this module owns the shape and the
//! validity rules.

use crate::domain::values::bps::check_bps;
pub use crate::domain::values::bps::{BPS_MAX, bps_to_percent_input, format_bps};
pub use crate::domain::values::money::{format_amount, format_money, parse_amount};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Largest flat commission: 1,000,000.00 in minor units.
pub const FLAT_MAX_CENTS: i64 = 100_000_000;
// Terms values are money too: they must stay inside the one money range.
const _: () = assert!(FLAT_MAX_CENTS <= crate::domain::values::money::MAX_CENTS);
/// Most tiers or upline levels accepted.
const MAX_STEPS: usize = 20;

/// The rate part of the terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rate {
    /// A share of each payment, in basis points (2000 = 20 %).
    Percentage {
        /// Basis points of the gross amount.
        bps: i64,
    },
    /// A fixed amount per conversion, in the program's currency.
    Flat {
        /// Minor units, 0 ..= [`FLAT_MAX_CENTS`]; any JSON integer is read, so an
        /// out-of-range one is refused as a 422 naming `commission.amount_cents`.
        #[serde(deserialize_with = "crate::domain::values::money::lenient_cents")]
        amount_cents: i64,
    },
    /// A share of each payment of a subscription for its first `max_cycles` billing cycles.
    Recurring {
        /// Basis points of each payment.
        bps: i64,
        /// Billing cycles that earn; later payments of the subscription earn nothing.
        max_cycles: i64,
    },
    /// A base share that rises once the affiliate has enough prior approved conversions.
    Tiered {
        /// Basis points below the first tier.
        bps: i64,
        /// Steps, sorted by `min_conversions` ascending.
        tiers: Vec<Tier>,
    },
}

/// One step of tiered terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Prior approved conversions needed for this rate.
    pub min_conversions: i64,
    /// Basis points from then on.
    pub bps: i64,
}

/// What the n-th upline of the converting affiliate earns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// 1 = the converting affiliate's parent, 2 = its grandparent, ...
    pub level: i64,
    /// Basis points of the payment.
    pub bps: i64,
}

/// Complete commission terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commission {
    /// How the converting affiliate is paid.
    #[serde(flatten)]
    pub rate: Rate,
    /// Seed-002 switch for the ladder; the ladder applies exactly when it is non-empty, so
    /// the flag is only checked for consistency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_level_enabled: Option<bool>,
    /// Optional upline ladder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub multi_level: Vec<Level>,
}

impl Commission {
    /// The terms of a new vendor's default program: 20 %.
    pub fn default_terms() -> Self {
        Self {
            rate: Rate::Percentage { bps: 2000 },
            multi_level_enabled: None,
            multi_level: Vec::new(),
        }
    }

    /// Parses terms from request JSON and validates them; `field` prefixes field names
    /// in errors (e.g. `commission`).
    pub fn from_json(field: &str, value: serde_json::Value) -> Result<Self, AppError> {
        // serde also reads a variant's index (`"type": 0`) as its tag; only names count.
        if let Some(tag) = value.get("type")
            && !tag.is_string()
        {
            return Err(AppError::invalid(
                &format!("{field}.type"),
                "type must be one of: percentage, flat, recurring, tiered",
            ));
        }
        let terms: Self = serde_json::from_value(value)
            .map_err(|e| AppError::invalid(field, format!("invalid commission terms: {e}")))?;
        terms.validate(field)?;
        Ok(terms)
    }

    /// Checks the values, naming the offending field under `field`.
    pub fn validate(&self, field: &str) -> Result<(), AppError> {
        let f = |name: &str| format!("{field}.{name}");
        match &self.rate {
            Rate::Percentage { bps } => check_bps(&f("bps"), *bps)?,
            Rate::Flat { amount_cents } => {
                if !(0..=FLAT_MAX_CENTS).contains(amount_cents) {
                    return Err(AppError::invalid(
                        &f("amount_cents"),
                        "amount_cents must be between 0 and 100000000",
                    ));
                }
            }
            Rate::Recurring { bps, max_cycles } => {
                check_bps(&f("bps"), *bps)?;
                if !(1..=1200).contains(max_cycles) {
                    return Err(AppError::invalid(
                        &f("max_cycles"),
                        "max_cycles must be between 1 and 1200",
                    ));
                }
            }
            Rate::Tiered { bps, tiers } => {
                check_bps(&f("bps"), *bps)?;
                if tiers.is_empty() || tiers.len() > MAX_STEPS {
                    return Err(AppError::invalid(
                        &f("tiers"),
                        "tiers must list 1 to 20 steps",
                    ));
                }
                let mut previous = 0;
                for (i, tier) in tiers.iter().enumerate() {
                    if tier.min_conversions <= previous {
                        return Err(AppError::invalid(
                            &f(&format!("tiers[{i}].min_conversions")),
                            "tiers must be sorted by min_conversions, strictly ascending from 1",
                        ));
                    }
                    check_bps(&f(&format!("tiers[{i}].bps")), tier.bps)?;
                    previous = tier.min_conversions;
                }
            }
        }
        if self.multi_level_enabled == Some(true) && self.multi_level.is_empty() {
            return Err(AppError::invalid(
                &f("multi_level"),
                "multi_level_enabled needs a multi_level ladder",
            ));
        }
        if self.multi_level_enabled == Some(false) && !self.multi_level.is_empty() {
            return Err(AppError::invalid(
                &f("multi_level_enabled"),
                "a ladder is given but multi_level_enabled is false",
            ));
        }
        if self.multi_level.len() > MAX_STEPS {
            return Err(AppError::invalid(&f("multi_level"), "at most 20 levels"));
        }
        for (i, level) in self.multi_level.iter().enumerate() {
            if level.level != i64::try_from(i).unwrap_or(i64::MAX) + 1 {
                return Err(AppError::invalid(
                    &f(&format!("multi_level[{i}].level")),
                    "levels must be numbered 1, 2, 3, ... in order",
                ));
            }
            check_bps(&f(&format!("multi_level[{i}].bps")), level.bps)?;
        }
        Ok(())
    }

    /// A short description for people, e.g. "20% of every payment"; a flat amount is
    /// written in `currency`'s decimals ("15.00 per conversion", "1500 per conversion").
    pub fn describe(&self, currency: &str) -> String {
        let base = match &self.rate {
            Rate::Percentage { bps } => format!("{} of every payment", format_bps(*bps)),
            Rate::Flat { amount_cents } => {
                format!("{} per conversion", format_amount(*amount_cents, currency))
            }
            Rate::Recurring { bps, max_cycles } => {
                format!(
                    "{} of each payment for {max_cycles} billing cycles",
                    format_bps(*bps)
                )
            }
            Rate::Tiered { bps, tiers } => {
                let top = tiers.last().map(|t| t.bps).unwrap_or(*bps);
                format!(
                    "{} rising to {} with volume",
                    format_bps(*bps),
                    format_bps(top)
                )
            }
        };
        if self.multi_level.is_empty() {
            base
        } else {
            format!("{base}, plus {} upline level(s)", self.multi_level.len())
        }
    }

    /// The stored JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Reads stored JSON; stored terms were validated when written.
    pub fn from_stored(json: &str) -> Option<Self> {
        serde_json::from_str(json).ok()
    }
}

/// Parses a decimal with at most `scale` fractional digits into an integer of that scale,
/// exactly (no floating point): `("12.5", 2)` → 1250.
fn parse_scaled(raw: &str, scale: u32) -> Option<i64> {
    let s = raw.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    if !digits(whole)
        || (s.contains('.') && !digits(frac))
        || frac.len() > scale as usize
        || whole.len() > 12
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let mut frac_value: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..scale as usize {
        frac_value *= 10;
    }
    whole
        .checked_mul(10_i64.pow(scale))?
        .checked_add(frac_value)
}

/// A percentage typed by a person ("20", "12.5", "7.25") as basis points.
pub fn parse_percent(field: &str, raw: &str) -> Result<i64, AppError> {
    parse_scaled(raw, 2)
        .filter(|bps| *bps <= BPS_MAX)
        .ok_or_else(|| {
            AppError::invalid(
                field,
                "enter a percentage between 0 and 100, with at most two decimals",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_variant_index_is_not_a_type() {
        let err = Commission::from_json("commission", json!({"type": 0, "bps": 0})).unwrap_err();
        assert!(format!("{err:?}").contains("commission.type"), "{err:?}");
    }

    #[test]
    fn seed_shapes_round_trip() {
        for value in [
            json!({"type":"percentage","bps":2000}),
            json!({"type":"flat","amount_cents":1500}),
            json!({"type":"recurring","bps":3000,"max_cycles":12}),
            json!({"type":"tiered","bps":2000,"tiers":[{"min_conversions":10,"bps":2500},{"min_conversions":50,"bps":3000}]}),
            json!({"type":"percentage","bps":2000,"multi_level":[{"level":1,"bps":500},{"level":2,"bps":200}]}),
            json!({"type":"flat","amount_cents":100,"multi_level_enabled":true,"multi_level":[{"level":1,"bps":500}]}),
        ] {
            let c = Commission::from_json("commission", value.clone()).unwrap();
            assert_eq!(serde_json::to_value(&c).unwrap(), value);
        }
        assert_eq!(
            Commission::default_terms().to_json(),
            r#"{"type":"percentage","bps":2000}"#
        );
    }

    #[test]
    fn invalid_terms_name_the_field() {
        let field = |v: serde_json::Value| {
            Commission::from_json("commission", v)
                .unwrap_err()
                .field()
                .map(str::to_owned)
        };
        assert_eq!(
            field(json!({"type":"percentage","bps":10001})).as_deref(),
            Some("commission.bps")
        );
        assert_eq!(
            field(json!({"type":"flat","amount_cents":-1})).as_deref(),
            Some("commission.amount_cents")
        );
        assert_eq!(
            field(json!({"type":"recurring","bps":100,"max_cycles":0})).as_deref(),
            Some("commission.max_cycles")
        );
        assert_eq!(
            field(json!({"type":"tiered","bps":100,"tiers":[{"min_conversions":10,"bps":200},{"min_conversions":5,"bps":300}]})).as_deref(),
            Some("commission.tiers[1].min_conversions")
        );
        assert_eq!(
            field(json!({"type":"percentage","bps":100,"multi_level":[{"level":2,"bps":10}]}))
                .as_deref(),
            Some("commission.multi_level[0].level")
        );
        assert_eq!(
            field(json!({"type":"bogus"})).as_deref(),
            Some("commission")
        );
        assert_eq!(
            field(json!({"type":"percentage","bps":"20%"})).as_deref(),
            Some("commission")
        );
    }

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(parse_percent("p", "20").unwrap(), 2000);
        assert_eq!(parse_percent("p", "12.5").unwrap(), 1250);
        assert_eq!(parse_percent("p", " 7.25 ").unwrap(), 725);
        assert_eq!(parse_percent("p", "100").unwrap(), 10_000);
        for bad in ["", "100.01", "-1", "1.234", "1e3", "abc", "1.", ".5"] {
            assert!(parse_percent("p", bad).is_err(), "{bad}");
        }
        assert_eq!(bps_to_percent_input(1250), "12.5");
    }

    #[test]
    fn descriptions() {
        assert_eq!(format_bps(2000), "20%");
        assert_eq!(format_bps(1250), "12.5%");
        assert_eq!(format_bps(1205), "12.05%");
        let c = Commission {
            rate: Rate::Flat { amount_cents: 1500 },
            multi_level_enabled: None,
            multi_level: vec![],
        };
        assert_eq!(c.describe("USD"), "15.00 per conversion");
        assert_eq!(c.describe("JPY"), "1500 per conversion");
    }
}
