//! A program's fraud rules: what each fraud signal does to a conversion it fires on. The
//! signals themselves and the review queue live in the earnings context (`earnings::fraud`).
//!
//! Stored as a JSON object of rule → action; a rule left out is `off`, so `{}` (the default)
//! screens nothing.

use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

/// What a rule does when its signal fires, from the mildest.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[schema(as = FraudAction)]
pub enum Action {
    /// Nothing.
    #[default]
    Off,
    /// A review item; the conversion is paid as usual.
    Flag,
    /// A review item; the conversion is not payable (does not mature) until approved.
    Hold,
    /// The conversion is rejected at once (its commissions reversed); the item records why.
    Reject,
}

impl Action {
    /// The stored and JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Off => "off",
            Action::Flag => "flag",
            Action::Hold => "hold",
            Action::Reject => "reject",
        }
    }

    /// Reads a stored or submitted name.
    pub fn parse(field: &str, raw: &str) -> AppResult<Self> {
        match raw.trim() {
            "off" | "" => Ok(Action::Off),
            "flag" => Ok(Action::Flag),
            "hold" => Ok(Action::Hold),
            "reject" => Ok(Action::Reject),
            _ => Err(AppError::invalid(
                field,
                format!("{field} must be one of: off, flag, hold, reject"),
            )),
        }
    }
}

/// The rules of a program, one action per signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FraudRules {
    /// The sale comes from the same (hashed) IP address as its click, within
    /// [`SAME_IP_WINDOW_SECS`] seconds of it.
    #[serde(default)]
    pub same_ip: Action,
    /// The customer's email domain is the affiliate's own (a company domain), or the
    /// customer's email names the affiliate.
    #[serde(default)]
    pub email_match: Action,
    /// The customer's email is at a disposable (throwaway) email provider.
    #[serde(default)]
    pub disposable_email: Action,
    /// One address (hashed) clicked the affiliate's links at least [`FLOOD_CLICKS`] times
    /// in the hour before the sale.
    #[serde(default)]
    pub click_flood: Action,
    /// The affiliate's sales of the last 24 hours are at least [`SPIKE_MIN`] and more than
    /// [`SPIKE_FACTOR`] times its daily average of the 30 days before.
    #[serde(default)]
    pub spike: Action,
    /// The customer is the affiliate itself: its customer id, its email or its payout email
    /// (when the program allows self-referrals; otherwise they earn nothing anyway).
    #[serde(default)]
    pub self_referral: Action,
}

/// How close a click and its sale from the same address are suspicious, seconds.
pub const SAME_IP_WINDOW_SECS: i64 = 60;
/// Clicks from one address in an hour that make a flood.
pub const FLOOD_CLICKS: i64 = 20;
/// Fewest sales in 24 hours that can be a spike.
pub const SPIKE_MIN: i64 = 5;
/// How many times the daily average a spike is.
pub const SPIKE_FACTOR: i64 = 3;

/// The rule names, in the order they are shown, with their description in words.
pub const RULES: [(&str, &str); 6] = [
    (
        "same_ip",
        "Sale from the same IP address as its click, within a minute",
    ),
    (
        "email_match",
        "Customer's email domain or name matches the affiliate's",
    ),
    (
        "disposable_email",
        "Customer uses a disposable email address",
    ),
    (
        "click_flood",
        "Click flood: 20 or more clicks from one address in an hour",
    ),
    ("spike", "Sales spike against the affiliate's own history"),
    (
        "self_referral",
        "Self-referral: the customer is the affiliate (email, payout email or customer id)",
    ),
];

impl FraudRules {
    /// The action of a rule by name (`off` for an unknown name).
    pub fn action(&self, rule: &str) -> Action {
        match rule {
            "same_ip" => self.same_ip,
            "email_match" => self.email_match,
            "disposable_email" => self.disposable_email,
            "click_flood" => self.click_flood,
            "spike" => self.spike,
            "self_referral" => self.self_referral,
            _ => Action::Off,
        }
    }

    /// Sets a rule by name; `false` for an unknown name.
    pub fn set(&mut self, rule: &str, action: Action) -> bool {
        let slot = match rule {
            "same_ip" => &mut self.same_ip,
            "email_match" => &mut self.email_match,
            "disposable_email" => &mut self.disposable_email,
            "click_flood" => &mut self.click_flood,
            "spike" => &mut self.spike,
            "self_referral" => &mut self.self_referral,
            _ => return false,
        };
        *slot = action;
        true
    }

    /// Whether any rule is on (screening reads nothing otherwise).
    pub fn any(&self) -> bool {
        RULES.iter().any(|(r, _)| self.action(r) != Action::Off)
    }

    /// Reads the stored JSON.
    pub fn from_stored(raw: &str) -> AppResult<Self> {
        serde_json::from_str(raw).map_err(|e| {
            AppError::Internal(anyhow::anyhow!("stored fraud rules are unreadable: {e}"))
        })
    }

    /// The stored JSON: only the rules that are on.
    pub fn to_stored(&self) -> String {
        let on: serde_json::Map<String, serde_json::Value> = RULES
            .iter()
            .filter(|(r, _)| self.action(r) != Action::Off)
            .map(|(r, _)| ((*r).to_owned(), self.action(r).as_str().into()))
            .collect();
        serde_json::Value::Object(on).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_form_keeps_only_rules_that_are_on() {
        let mut r = FraudRules::default();
        assert_eq!(r.to_stored(), "{}");
        assert!(!r.any());
        assert!(r.set("same_ip", Action::Hold));
        assert!(!r.set("nope", Action::Hold));
        assert_eq!(r.to_stored(), r#"{"same_ip":"hold"}"#);
        assert_eq!(FraudRules::from_stored(&r.to_stored()).unwrap(), r);
        assert!(Action::Reject > Action::Hold && Action::Hold > Action::Flag);
        assert!(Action::parse("x", "maybe").is_err());
    }
}
