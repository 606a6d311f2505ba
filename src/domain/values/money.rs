//! Money: an amount of minor units in a [`Currency`], inside one documented range.
//!
//! Every amount a client or a provider hands us passes through here before it becomes
//! money: a payment is 1 ..= [`MAX_CENTS`] minor units, an amount where zero means
//! something (a subscription's price, a terms value, a minimum) is 0 ..= [`MAX_CENTS`].
//! 10^11 minor units is a billion in a two-decimal currency, far above any real payment,
//! and small enough that products with basis points (× 10 000) and sums of every row a
//! database can hold stay far inside `i64`: reports can never overflow.
//!
//! Depends on nothing else in the domain but [`Currency`] (a later refactor moves both to
//! `domain/values/`).

use std::fmt;

use serde::Deserializer;

use crate::domain::values::currency::{Currency, minor_unit_exponent};
use crate::error::AppError;

/// Largest amount of one payment, refund, price or terms value: 10^11 minor units.
pub const MAX_CENTS: i64 = 100_000_000_000;

/// An amount in minor units with its currency, always within 0 ..= [`MAX_CENTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    cents: i64,
    currency: Currency,
}

impl Money {
    /// A payment (or a refund): 1 ..= [`MAX_CENTS`]; 422 on `field` otherwise.
    pub fn payment(field: &str, cents: i64, currency: Currency) -> Result<Self, AppError> {
        Ok(Self {
            cents: positive(field, cents)?,
            currency,
        })
    }

    /// An amount where zero is meaningful: 0 ..= [`MAX_CENTS`]; 422 on `field` otherwise.
    pub fn amount(field: &str, cents: i64, currency: Currency) -> Result<Self, AppError> {
        Ok(Self {
            cents: non_negative(field, cents)?,
            currency,
        })
    }

    /// Minor units.
    pub fn cents(&self) -> i64 {
        self.cents
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_money(self.cents, self.currency.as_str()))
    }
}

/// The one place minor units become a decimal for people and files: `cents` minor units of
/// `currency` with as many decimals as its ISO 4217 exponent, no grouping, e.g.
/// (1500, "USD") → "15.00", (1500, "JPY") → "1500", (1500, "BHD") → "1.500".
pub fn format_amount(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    match minor_unit_exponent(currency) {
        0 => format!("{sign}{abs}"),
        exp => {
            let unit = 10_u64.pow(exp);
            let width = exp as usize;
            format!("{sign}{}.{:0width$}", abs / unit, abs % unit)
        }
    }
}

/// An amount with its currency code: (1500, "USD") → "15.00 USD", (1500, "JPY") →
/// "1500 JPY".
pub fn format_money(cents: i64, currency: &str) -> String {
    format!("{} {}", format_amount(cents, currency), currency.trim())
}

/// The one place a decimal typed by a person or read from a file ("15", "15.5", "1500")
/// becomes minor units of `currency`, exactly (no floating point, no rounding): more
/// decimals than the currency has is refused ("JPY has no minor unit"), as is anything
/// that is not a plain non-negative decimal or has more than 12 whole digits.
pub fn parse_amount(field: &str, raw: &str, currency: &str) -> Result<i64, AppError> {
    let exp = minor_unit_exponent(currency);
    let code = currency.trim().to_ascii_uppercase();
    let example = match exp {
        0 => "1500".to_owned(),
        e => format!("15 or 15.{}", "5".to_owned() + &"0".repeat(e as usize - 1)),
    };
    let s = raw.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    if !digits(whole) || (s.contains('.') && !digits(frac)) || whole.len() > 12 {
        return Err(AppError::invalid(
            field,
            format!("enter an amount such as {example}"),
        ));
    }
    if frac.len() > exp as usize {
        let rule = match exp {
            0 => format!("{code} has no minor unit: enter a whole amount such as {example}"),
            e => format!("{code} has at most {e} decimals: enter an amount such as {example}"),
        };
        return Err(AppError::invalid(field, rule));
    }
    let scale = 10_i64.pow(exp);
    let whole: i64 = whole.parse().unwrap_or(i64::MAX);
    let frac_value = if frac.is_empty() {
        0
    } else {
        let padded = format!("{frac:0<width$}", width = exp as usize);
        padded.parse::<i64>().unwrap_or(0)
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_value))
        .ok_or_else(|| AppError::invalid(field, format!("enter an amount such as {example}")))
}

/// Whether `cents` may be stored as money at all (0 ..= [`MAX_CENTS`]). The check the
/// Stripe door and the billing pipeline apply to amounts of authentic provider events.
pub fn in_range(cents: i64) -> bool {
    (0..=MAX_CENTS).contains(&cents)
}

/// `cents` when it is 1 ..= [`MAX_CENTS`]; 422 on `field` otherwise.
pub fn positive(field: &str, cents: i64) -> Result<i64, AppError> {
    if (1..=MAX_CENTS).contains(&cents) {
        Ok(cents)
    } else {
        Err(AppError::invalid(
            field,
            format!("{field} must be a whole number of minor units from 1 to {MAX_CENTS}"),
        ))
    }
}

/// `cents` when it is 0 ..= [`MAX_CENTS`]; 422 on `field` otherwise.
pub fn non_negative(field: &str, cents: i64) -> Result<i64, AppError> {
    if in_range(cents) {
        Ok(cents)
    } else {
        Err(AppError::invalid(
            field,
            format!("{field} must be a whole number of minor units from 0 to {MAX_CENTS}"),
        ))
    }
}

/// Serde helper for `*_cents` request fields: reads any JSON integer, saturating at the
/// bounds of `i64`, so an amount too large for 64 bits is refused by the range check as a
/// 422 naming the field rather than as a 400 type error. Fractions are still a type error.
pub fn lenient_cents<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a whole number of minor units")
        }
        fn visit_i64<E>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E>(self, v: u64) -> Result<i64, E> {
            Ok(i64::try_from(v).unwrap_or(i64::MAX))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
            // serde_json reads integers beyond u64 as f64; an exponent or fraction form of
            // a whole number is as large. A real fraction is not minor units.
            if v.fract() != 0.0 || v.is_nan() {
                return Err(E::invalid_type(serde::de::Unexpected::Float(v), &self));
            }
            Ok(if v >= 0.0 { i64::MAX } else { i64::MIN })
        }
    }
    d.deserialize_any(Visitor)
}

/// [`lenient_cents`] for optional fields (`null` or absent is `None`; pair it with
/// `#[serde(default)]`).
pub fn lenient_cents_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(serde::Deserialize)]
    struct Cents(#[serde(deserialize_with = "lenient_cents")] i64);
    Ok(<Option<Cents> as serde::Deserialize>::deserialize(d)?.map(|c| c.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_follow_the_currency_exponent() {
        assert_eq!(format_amount(1500, "USD"), "15.00");
        assert_eq!(format_amount(-5, "USD"), "-0.05");
        assert_eq!(format_amount(1500, "JPY"), "1500");
        assert_eq!(format_amount(-1500, "KRW"), "-1500");
        assert_eq!(format_amount(1500, "BHD"), "1.500");
        assert_eq!(format_amount(7, "KWD"), "0.007");
        assert_eq!(format_money(1500, "JPY"), "1500 JPY");
        assert_eq!(format_money(1500, "EUR"), "15.00 EUR");
        let jpy = Currency::parse("c", "JPY").unwrap();
        assert_eq!(
            Money::amount("a", 1500, jpy).unwrap().to_string(),
            "1500 JPY"
        );

        assert_eq!(parse_amount("a", "15.5", "USD").unwrap(), 1550);
        assert_eq!(parse_amount("a", "0.07", "EUR").unwrap(), 7);
        assert_eq!(parse_amount("a", "1500", "JPY").unwrap(), 1500);
        assert_eq!(parse_amount("a", "1.5", "BHD").unwrap(), 1500);
        assert_eq!(parse_amount("a", "1.234", "BHD").unwrap(), 1234);
        let msg = |r: Result<i64, AppError>| format!("{:?}", r.unwrap_err());
        assert!(msg(parse_amount("a", "1500.5", "JPY")).contains("JPY has no minor unit"));
        assert!(msg(parse_amount("a", "1500.0", "JPY")).contains("JPY has no minor unit"));
        assert!(msg(parse_amount("a", "1.2345", "BHD")).contains("at most 3 decimals"));
        assert!(msg(parse_amount("a", "1.234", "USD")).contains("at most 2 decimals"));
        for bad in ["", "-1", "1e3", "abc", "1.", ".5", "1234567890123"] {
            assert!(parse_amount("a", bad, "USD").is_err(), "{bad}");
        }
    }

    fn usd() -> Currency {
        Currency::parse("c", "USD").unwrap()
    }

    #[test]
    fn payments_are_one_to_the_maximum() {
        assert!(Money::payment("a", 0, usd()).is_err());
        assert!(Money::payment("a", -1, usd()).is_err());
        assert_eq!(Money::payment("a", 1, usd()).unwrap().cents(), 1);
        assert_eq!(
            Money::payment("a", MAX_CENTS, usd()).unwrap().cents(),
            MAX_CENTS
        );
        let e = Money::payment("amount_cents", MAX_CENTS + 1, usd()).unwrap_err();
        assert_eq!(e.field(), Some("amount_cents"));
        assert!(Money::payment("a", i64::MAX, usd()).is_err());
    }

    #[test]
    fn amounts_allow_zero() {
        assert_eq!(Money::amount("a", 0, usd()).unwrap().cents(), 0);
        assert!(Money::amount("a", -1, usd()).is_err());
        assert!(Money::amount("a", MAX_CENTS + 1, usd()).is_err());
        assert!(in_range(MAX_CENTS) && !in_range(MAX_CENTS + 1) && !in_range(-5));
    }

    #[test]
    fn displays_with_currency() {
        let m = Money::payment("a", 123_456, usd()).unwrap();
        assert_eq!(m.to_string(), "1234.56 USD");
        assert_eq!(m.currency().as_str(), "USD");
    }

    #[test]
    fn sums_of_maxima_stay_in_i64() {
        // A commission is at most the payment (bps ≤ 10 000); a billion such rows still
        // add up inside i64 on both databases.
        assert!(MAX_CENTS.checked_mul(10_000).is_some());
        assert!(MAX_CENTS.checked_mul(90_000_000).is_some());
    }

    #[test]
    fn lenient_reading_saturates_whole_numbers_only() {
        #[derive(serde::Deserialize)]
        struct Cents(#[serde(deserialize_with = "lenient_cents")] i64);
        let read = |s: &str| serde_json::from_str::<Cents>(s).map(|c| c.0);
        assert_eq!(read("42").unwrap(), 42);
        assert_eq!(read("-3").unwrap(), -3);
        assert_eq!(read("18446744073709551615").unwrap(), i64::MAX);
        assert_eq!(read("100000000000000000000000").unwrap(), i64::MAX);
        assert_eq!(read("1e30").unwrap(), i64::MAX);
        assert!(read("12.5").is_err());
        assert!(read("\"12\"").is_err());
    }
}
