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
}
