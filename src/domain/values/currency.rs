//! ISO 4217 currency codes.

use std::fmt;

use crate::error::AppError;

/// Active ISO 4217 codes (minus precious metals, funds and testing codes).
const CODES: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB \
BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR \
FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES \
KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR \
MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR \
SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH \
UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG";

/// Codes whose minor unit is not 1/100 of the major unit, with their exponent; every other
/// code in [`CODES`] has exponent 2. Source: ISO 4217 list one ("Current currency & funds
/// code list", SIX Group, the maintenance agency, column "Minor unit"), amendment of
/// 2024 (ZWG, XCG): exponent 0 for BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV
/// XAF XOF XPF, exponent 3 for BHD IQD JOD KWD LYD OMR TND. (Funds such as CLF, UYW and
/// UYI, with exponent 4 or 0, are not in [`CODES`].)
const NOT_TWO: &[(&str, u32)] = &[
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
];

/// The ISO 4217 minor-unit exponent of `code` (upper or lower case): 0 for JPY (an amount
/// of 1500 minor units is ¥1500), 3 for BHD (1500 is 1.500), 2 for USD and most others.
/// A code outside the list (never stored: every door parses [`Currency`]) reads as 2.
pub fn minor_unit_exponent(code: &str) -> u32 {
    NOT_TWO
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code.trim()))
        .map_or(2, |(_, e)| *e)
}

/// A known ISO 4217 currency code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Every code accepted, upper case (the OpenAPI document lists them).
    pub fn all_codes() -> impl Iterator<Item = &'static str> {
        CODES.split_whitespace()
    }

    /// Parses a code case-insensitively for the request field `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() == 3 && CODES.split_whitespace().any(|c| c == code) {
            let b = code.as_bytes();
            return Ok(Self([b[0], b[1], b[2]]));
        }
        Err(AppError::invalid(
            field,
            format!("{raw:?} is not an ISO 4217 currency code"),
        ))
    }

    /// An optional currency (a list filter, a run's choice): blank is `None`, anything else
    /// must be a code; returns the upper-case code.
    pub fn parse_optional(field: &str, raw: Option<&str>) -> Result<Option<String>, AppError> {
        raw.map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| Self::parse(field, c).map(|c| c.as_str().to_owned()))
            .transpose()
    }

    /// The ISO 4217 minor-unit exponent: 2 for USD, 0 for JPY, 3 for BHD.
    pub fn exponent(&self) -> u32 {
        minor_unit_exponent(self.as_str())
    }

    /// The code, e.g. `USD`.
    pub fn as_str(&self) -> &str {
        // The bytes come from the ASCII list above.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_only() {
        assert_eq!(Currency::parse("c", "eur").unwrap().as_str(), "EUR");
        assert!(Currency::parse("c", "EURO").is_err());
        assert!(Currency::parse("c", "ABC").is_err());
    }

    #[test]
    fn minor_unit_exponents() {
        let e = |c: &str| Currency::parse("c", c).unwrap().exponent();
        for code in [
            "USD", "EUR", "GBP", "CHF", "MGA", "HUF", "IDR", "TWD", "XCG", "ZWG",
        ] {
            assert_eq!(e(code), 2, "{code}");
        }
        for code in [
            "JPY", "KRW", "VND", "CLP", "ISK", "XOF", "XAF", "XPF", "UGX", "PYG",
        ] {
            assert_eq!(e(code), 0, "{code}");
        }
        for code in ["BHD", "KWD", "JOD", "OMR", "TND", "IQD", "LYD"] {
            assert_eq!(e(code), 3, "{code}");
        }
        assert_eq!(minor_unit_exponent("jpy"), 0);
        // Every listed exception is a code we accept (no typo hides a currency).
        for (code, _) in NOT_TWO {
            assert!(Currency::parse("c", code).is_ok(), "{code}");
        }
        assert_eq!(NOT_TWO.len(), 23);
    }
}
