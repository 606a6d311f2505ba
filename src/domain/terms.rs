//! Commission terms of a program (stored as versioned JSON).
//!
//! The default program of a new vendor pays 20 % of each sale. The programs issue extends
//! this union with flat, recurring, tiered and multi-level terms; the JSON shape
//! (`{"type":"percentage","bps":2000}`) is the public one from the seeds.

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Basis points in 100 %.
pub const BPS_MAX: i64 = 10_000;

/// How an affiliate is paid for a conversion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Commission {
    /// A share of the sale, in basis points (2000 = 20 %).
    Percentage {
        /// Basis points of the gross amount.
        bps: i64,
    },
}

impl Commission {
    /// The terms of a new vendor's default program: 20 %.
    pub fn default_terms() -> Self {
        Self::Percentage { bps: 2000 }
    }

    /// Checks the values, naming the offending field.
    pub fn validate(&self) -> Result<(), AppError> {
        match self {
            Self::Percentage { bps } if !(0..=BPS_MAX).contains(bps) => Err(AppError::invalid(
                "commission.bps",
                "bps must be between 0 and 10000",
            )),
            Self::Percentage { .. } => Ok(()),
        }
    }

    /// A short description for people, e.g. "20% of every payment".
    pub fn describe(&self) -> String {
        match self {
            Self::Percentage { bps } => format!("{} of every payment", format_bps(*bps)),
        }
    }

    /// The stored JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// Basis points as a percentage without trailing zeros: 2000 → "20%", 1250 → "12.5%".
pub fn format_bps(bps: i64) -> String {
    let whole = bps / 100;
    let frac = (bps % 100).abs();
    if frac == 0 {
        format!("{whole}%")
    } else if frac % 10 == 0 {
        format!("{whole}.{}%", frac / 10)
    } else {
        format!("{whole}.{frac:02}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_shape_round_trips() {
        let c: Commission = serde_json::from_str(r#"{"type":"percentage","bps":2000}"#).unwrap();
        assert_eq!(c, Commission::default_terms());
        assert_eq!(c.to_json(), r#"{"type":"percentage","bps":2000}"#);
        assert!(Commission::Percentage { bps: 10_001 }.validate().is_err());
        assert_eq!(format_bps(2000), "20%");
        assert_eq!(format_bps(1250), "12.5%");
        assert_eq!(format_bps(1205), "12.05%");
    }
}
