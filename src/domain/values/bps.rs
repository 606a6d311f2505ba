//! Basis points: rates as whole hundredths of a percent (2000 = 20 %), the one unit of every
//! percentage (commission rates, tiers, upline levels, platform fees).

use crate::error::AppError;

/// Basis points in 100 %.
pub const BPS_MAX: i64 = 10_000;

/// `Ok` when `bps` is 0 ..= [`BPS_MAX`]; 422 on `field` otherwise.
pub fn check_bps(field: &str, bps: i64) -> Result<(), AppError> {
    if (0..=BPS_MAX).contains(&bps) {
        Ok(())
    } else {
        Err(AppError::invalid(field, "bps must be between 0 and 10000"))
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

/// Basis points as a plain percentage number for form fields: 1250 → "12.5".
pub fn bps_to_percent_input(bps: i64) -> String {
    format_bps(bps).trim_end_matches('%').to_owned()
}
