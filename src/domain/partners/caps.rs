//! A program's caps and goal bonuses: the settings, their validation and stored form. What
//! they do to commissions lives in the earnings context (its `caps` and `bonuses` modules).
//!
//! Amounts are minor units of the program's currency. A program without caps or goals
//! stores `{}`.

use serde::{Deserialize, Serialize};

use crate::domain::values::money::MAX_CENTS;
use crate::error::{AppError, AppResult};

/// Longest per-customer cap in months (ten years).
const MONTHS_MAX: i64 = 120;
/// Most sales a monthly goal may ask for.
const GOAL_COUNT_MAX: i64 = 100_000;

/// Limits on what the converting affiliate earns; `null` (or absent) turns a cap off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Caps {
    /// Most the commissions from one referred customer add up to (program currency).
    #[schema(minimum = 0, maximum = 100_000_000_000_i64)]
    #[serde(default)]
    pub customer_total_cents: Option<i64>,
    /// Months from a customer's first commission after which its sales earn nothing.
    #[schema(minimum = 1, maximum = 120)]
    #[serde(default)]
    pub customer_months: Option<i64>,
    /// Most one affiliate earns in the program per calendar month (UTC).
    #[schema(minimum = 0, maximum = 100_000_000_000_i64)]
    #[serde(default)]
    pub affiliate_month_cents: Option<i64>,
}

/// Bonuses paid when an affiliate reaches a goal; each is awarded once per period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalBonuses {
    /// Paid once, for the affiliate's first commissioned sale in the program.
    #[schema(minimum = 1, maximum = 100_000_000_000_i64)]
    #[serde(default)]
    pub first_sale_cents: Option<i64>,
    /// Sales in one calendar month (UTC) that earn `monthly_sales_cents`, once a month.
    #[schema(minimum = 1, maximum = 100_000)]
    #[serde(default)]
    pub monthly_sales_count: Option<i64>,
    /// The monthly goal's bonus.
    #[schema(minimum = 1, maximum = 100_000_000_000_i64)]
    #[serde(default)]
    pub monthly_sales_cents: Option<i64>,
}

fn ranged(field: &str, v: Option<i64>, lo: i64, hi: i64) -> AppResult<()> {
    match v {
        Some(v) if !(lo..=hi).contains(&v) => Err(AppError::invalid(
            field,
            format!("{field} must be between {lo} and {hi} (or null)"),
        )),
        _ => Ok(()),
    }
}

impl Caps {
    /// 422 on a value out of range.
    pub fn validate(&self) -> AppResult<()> {
        ranged(
            "caps.customer_total_cents",
            self.customer_total_cents,
            0,
            MAX_CENTS,
        )?;
        ranged("caps.customer_months", self.customer_months, 1, MONTHS_MAX)?;
        ranged(
            "caps.affiliate_month_cents",
            self.affiliate_month_cents,
            0,
            MAX_CENTS,
        )
    }

    /// Whether any cap is set.
    pub fn any(&self) -> bool {
        self.customer_total_cents.is_some()
            || self.customer_months.is_some()
            || self.affiliate_month_cents.is_some()
    }

    /// Reads the stored JSON.
    pub fn from_stored(raw: &str) -> AppResult<Self> {
        serde_json::from_str(raw)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("stored caps are unreadable: {e}")))
    }
}

impl GoalBonuses {
    /// 422 on a value out of range, or half a monthly goal.
    pub fn validate(&self) -> AppResult<()> {
        ranged(
            "goal_bonuses.first_sale_cents",
            self.first_sale_cents,
            1,
            MAX_CENTS,
        )?;
        ranged(
            "goal_bonuses.monthly_sales_count",
            self.monthly_sales_count,
            1,
            GOAL_COUNT_MAX,
        )?;
        ranged(
            "goal_bonuses.monthly_sales_cents",
            self.monthly_sales_cents,
            1,
            MAX_CENTS,
        )?;
        if self.monthly_sales_count.is_some() != self.monthly_sales_cents.is_some() {
            return Err(AppError::invalid(
                "goal_bonuses.monthly_sales_count",
                "a monthly goal needs both monthly_sales_count and monthly_sales_cents",
            ));
        }
        Ok(())
    }

    /// Whether any goal is set.
    pub fn any(&self) -> bool {
        self.first_sale_cents.is_some() || self.monthly_sales_count.is_some()
    }

    /// Reads the stored JSON.
    pub fn from_stored(raw: &str) -> AppResult<Self> {
        serde_json::from_str(raw).map_err(|e| {
            AppError::Internal(anyhow::anyhow!("stored goal bonuses are unreadable: {e}"))
        })
    }
}

/// The stored form of a settings object (`{}` when nothing is set).
pub fn to_stored<T: Serialize>(v: &T) -> String {
    let value = serde_json::to_value(v).unwrap_or_default();
    match value {
        serde_json::Value::Object(map) => {
            let set: serde_json::Map<_, _> =
                map.into_iter().filter(|(_, v)| !v.is_null()).collect();
            serde_json::Value::Object(set).to_string()
        }
        _ => "{}".into(),
    }
}

/// Reads an optional JSON object and nothing else: serde reads a struct from an array too
/// (`[null, null]`), which the API's schema does not allow (`null` = unchanged).
pub fn object_or_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::de::Error;
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => Ok(None),
        v @ serde_json::Value::Object(_) => serde_json::from_value(v)
            .map(Some)
            .map_err(D::Error::custom),
        _ => Err(D::Error::custom("must be an object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_and_storage() {
        let caps = Caps {
            customer_total_cents: Some(5000),
            ..Caps::default()
        };
        assert!(caps.validate().is_ok());
        assert_eq!(to_stored(&caps), r#"{"customer_total_cents":5000}"#);
        assert_eq!(Caps::from_stored(&to_stored(&caps)).unwrap(), caps);
        assert_eq!(to_stored(&Caps::default()), "{}");
        let bad = Caps {
            customer_months: Some(0),
            ..Caps::default()
        };
        assert!(bad.validate().is_err());
        let half = GoalBonuses {
            monthly_sales_count: Some(3),
            ..GoalBonuses::default()
        };
        assert!(half.validate().is_err());
    }
}
