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

use crate::domain::values::currency::Currency;
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
        let abs = self.cents.unsigned_abs();
        write!(f, "{}.{:02} {}", abs / 100, abs % 100, self.currency)
    }
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
