//! Where an affiliate is paid: a method and the one destination it needs (PayPal or Wise
//! email, bank transfer details or crypto wallet as free text, a Stripe Connect account).
//!
//! Affiliates set these in the portal; the vendor sees them and may change them through the
//! API, but never silently: every change is audited and emailed to the affiliate (seed 003's
//! `payout_method` / `payout_email`, with the destination fields the other methods need).

use serde::Deserialize;
use serde_json::json;

use crate::db::{
    self, Conn, Db,
    affiliates::{AffiliateRow, PayoutColumns},
    vendors::VendorRow,
};
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::tenancy::mail::{self, Recipient, Sender};
use crate::domain::{values::Email, values::text};
use crate::error::{AppError, AppResult};

/// Payout methods.
pub const METHODS: [&str; 5] = [
    "paypal",
    "wise",
    "bank_transfer",
    "stripe_connect",
    "crypto",
];
/// Longest bank details / wallet text.
const DETAILS_MAX: usize = 1000;

/// A change of payout settings; absent fields keep their value, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutInput {
    /// One of [`METHODS`]; `null` removes the payout settings.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub payout_method: Option<Option<String>>,
    /// PayPal or Wise email.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub payout_email: Option<Option<String>>,
    /// Bank transfer details (account holder, IBAN/account number, bank) or crypto wallet.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub payout_details: Option<Option<String>>,
    /// Stripe Connect account id (`acct_...`).
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub stripe_account_id: Option<Option<String>>,
}

impl PayoutInput {
    /// Whether the input touches payout settings at all.
    pub fn is_empty(&self) -> bool {
        self.payout_method.is_none()
            && self.payout_email.is_none()
            && self.payout_details.is_none()
            && self.stripe_account_id.is_none()
    }
}

/// Validated payout settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayoutSettings {
    /// Method, if set.
    pub method: Option<String>,
    /// PayPal / Wise email.
    pub email: Option<String>,
    /// Bank details / wallet.
    pub details: Option<String>,
    /// Stripe Connect account.
    pub stripe_account_id: Option<String>,
}

impl PayoutSettings {
    /// The settings stored on an affiliate.
    pub fn of(a: &AffiliateRow) -> Self {
        Self {
            method: a.payout_method.clone(),
            email: a.payout_email.clone(),
            details: a.payout_details.clone(),
            stripe_account_id: a.stripe_account_id.clone(),
        }
    }

    /// `current` changed by `input`, validated: the method's destination is required, and
    /// only that destination is kept.
    pub fn merged(current: &Self, input: &PayoutInput) -> AppResult<Self> {
        let pick = |field: &Option<Option<String>>, now: &Option<String>| match field {
            None => now.clone(),
            Some(v) => v.clone().filter(|s| !s.trim().is_empty()),
        };
        // A destination sent is checked even where the method does not use it, so a bad
        // value is refused rather than silently dropped.
        let sent = |field: &Option<Option<String>>| {
            field
                .as_ref()
                .and_then(|v| v.as_deref())
                .filter(|s| !s.trim().is_empty())
                .map(str::to_owned)
        };
        if let Some(raw) = sent(&input.payout_email) {
            Email::parse("payout_email", &raw)?;
        }
        if let Some(raw) = sent(&input.stripe_account_id) {
            parse_account(&raw)?;
        }
        if let Some(raw) = sent(&input.payout_details) {
            parse_details(&raw)?;
        }
        let method = pick(&input.payout_method, &current.method);
        let email = pick(&input.payout_email, &current.email);
        let details = pick(&input.payout_details, &current.details);
        let stripe = pick(&input.stripe_account_id, &current.stripe_account_id);
        let Some(method) = method else {
            return Ok(Self::default());
        };
        let method = METHODS
            .iter()
            .find(|m| **m == method.trim())
            .ok_or_else(|| {
                AppError::invalid(
                    "payout_method",
                    format!("payout_method must be one of: {}", METHODS.join(", ")),
                )
            })?;
        let mut out = Self {
            method: Some((*method).to_owned()),
            ..Self::default()
        };
        match *method {
            "paypal" | "wise" => {
                let raw = email.ok_or_else(|| {
                    AppError::invalid(
                        "payout_email",
                        format!("payout_email is required for {method}"),
                    )
                })?;
                out.email = Some(Email::parse("payout_email", &raw)?.as_str().to_owned());
            }
            "stripe_connect" => {
                let raw = stripe.ok_or_else(|| {
                    AppError::invalid(
                        "stripe_account_id",
                        "stripe_account_id is required for stripe_connect",
                    )
                })?;
                out.stripe_account_id = Some(parse_account(&raw)?);
            }
            _ => {
                let raw = details.ok_or_else(|| {
                    AppError::invalid(
                        "payout_details",
                        format!("payout_details is required for {method}"),
                    )
                })?;
                out.details = Some(parse_details(&raw)?);
            }
        }
        Ok(out)
    }

    /// Where the money goes under the method: email, account or details.
    pub fn destination(&self) -> Option<&str> {
        match self.method.as_deref()? {
            "paypal" | "wise" => self.email.as_deref(),
            "stripe_connect" => self.stripe_account_id.as_deref(),
            _ => self.details.as_deref(),
        }
    }

    /// For people: "PayPal (j•••@example.com)", with the destination partly hidden (emails
    /// travel through mail servers).
    pub fn describe_masked(&self) -> String {
        match (&self.method, self.destination()) {
            (Some(m), Some(d)) => format!("{} ({})", method_label(m), mask(d)),
            _ => "not set".into(),
        }
    }

    /// The columns that store these settings.
    pub fn columns(&self) -> PayoutColumns<'_> {
        PayoutColumns {
            method: self.method.as_deref(),
            email: self.email.as_deref(),
            details: self.details.as_deref(),
            stripe_account_id: self.stripe_account_id.as_deref(),
        }
    }
}

/// A method's name for people.
pub fn method_label(method: &str) -> &'static str {
    match method {
        "paypal" => "PayPal",
        "wise" => "Wise",
        "bank_transfer" => "Bank transfer",
        "stripe_connect" => "Stripe",
        "crypto" => "Crypto",
        _ => "Other",
    }
}

fn parse_account(raw: &str) -> AppResult<String> {
    let s = raw.trim();
    let ok = s.len() <= 64
        && s.strip_prefix("acct_").is_some_and(|rest| {
            !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric())
        });
    if ok {
        Ok(s.to_owned())
    } else {
        Err(AppError::invalid(
            "stripe_account_id",
            "stripe_account_id is a Stripe Connect account id such as acct_1Nv0FGQ9RKHgCVdK",
        ))
    }
}

fn parse_details(raw: &str) -> AppResult<String> {
    let s = raw.trim().replace("\r\n", "\n");
    if s.chars().count() > DETAILS_MAX {
        return Err(AppError::invalid(
            "payout_details",
            format!("payout_details is longer than {DETAILS_MAX} characters"),
        ));
    }
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(AppError::invalid(
            "payout_details",
            "payout_details must be plain text",
        ));
    }
    text::required("payout_details", &s.replace('\n', " "), DETAILS_MAX)?;
    Ok(s)
}

/// The first character and the domain of an email, or the ends of anything else.
fn mask(d: &str) -> String {
    if let Some((local, domain)) = d.split_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}•••@{domain}");
    }
    let chars: Vec<char> = d.chars().filter(|c| !c.is_whitespace()).collect();
    if chars.len() <= 6 {
        return "•••".into();
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}•••{tail}")
}

/// Writes new settings in the caller's transaction when they differ from the affiliate's:
/// audited, and (with `sender`) emailed to the affiliate, who learns of any change made for
/// them. Returns whether anything changed.
pub async fn write(
    conn: &mut Conn,
    notify: Option<(&Sender, &VendorRow)>,
    affiliate: &AffiliateRow,
    new: &PayoutSettings,
    actor: &Actor,
) -> AppResult<bool> {
    let before = PayoutSettings::of(affiliate);
    if &before == new {
        return Ok(false);
    }
    db::affiliates::set_payout(
        &mut *conn,
        &affiliate.vendor_id,
        &affiliate.id,
        &new.columns(),
    )
    .await?;
    audit::record(
        &mut *conn,
        &affiliate.vendor_id,
        actor,
        "affiliate.payout_settings_changed",
        ("affiliate", Some(&affiliate.id)),
        json!({
            "from": {"method": before.method, "destination": before.destination()},
            "to": {"method": new.method, "destination": new.destination()},
        }),
    )
    .await?;
    if let Some((sender, vendor)) = notify {
        let message = PayoutSettingsChangedEmail {
            vendor_name: vendor.name.clone(),
            by_affiliate: matches!(actor, Actor::Affiliate(id) if *id == affiliate.id),
            before: before.describe_masked(),
            now: new.describe_masked(),
            support_email: vendor.support_email.clone(),
        };
        mail::enqueue(
            conn,
            sender,
            vendor,
            Recipient {
                email: &affiliate.email,
                name: Some(&affiliate.name)
                    .filter(|n| !n.is_empty())
                    .map(String::as_str),
            },
            &message,
        )
        .await?;
    }
    Ok(true)
}

/// The `payout_settings_changed` email (copy in `templates/emails/payout_settings_changed.*`).
#[derive(Debug, Clone)]
struct PayoutSettingsChangedEmail {
    vendor_name: String,
    /// Whether the affiliate made the change itself.
    by_affiliate: bool,
    before: String,
    now: String,
    support_email: Option<String>,
}
mail::email_kind!(
    PayoutSettingsChangedEmail,
    "payout_settings_changed",
    "emails/payout_settings_changed.txt",
    "emails/payout_settings_changed.html"
);

/// The payout methods a vendor offers its affiliates, in [`METHODS`] order: the ones it
/// chose in Settings, or every method when it never chose.
pub async fn offered(db: &Db, vendor_id: &str) -> AppResult<Vec<&'static str>> {
    let chosen = db::payout_methods::of(db.pool(), vendor_id).await?;
    Ok(METHODS
        .iter()
        .copied()
        .filter(|m| chosen.is_empty() || chosen.iter().any(|c| c == m))
        .collect())
}

/// Sets the payout methods a vendor offers (at least one of [`METHODS`]); audited.
///
/// Affiliates already set up with a method no longer offered keep it, and runs keep paying
/// them there (the money is owed; the vendor stops offering the method for new choices).
/// They see a notice in the portal, and their next change must pick an offered method.
pub async fn set_offered(
    db: &Db,
    vendor_id: &str,
    methods: &[String],
    actor: &Actor,
) -> AppResult<Vec<&'static str>> {
    let chosen = parse_offered(methods)?;
    let before = offered(db, vendor_id).await?;
    let mut tx = db.begin().await?;
    db::payout_methods::replace(&mut tx, vendor_id, &chosen).await?;
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "vendor.payout_methods_changed",
        ("vendor", Some(vendor_id)),
        json!({"from": before, "to": chosen}),
    )
    .await?;
    tx.commit().await?;
    Ok(chosen)
}

/// Checks a choice of offered methods without storing it: each one of [`METHODS`], exactly
/// as written, each once, at least one; returned in [`METHODS`] order. Strict so that the
/// API accepts exactly what [`offered_schema`] documents. Callers that change several
/// settings at once check this before storing anything.
pub fn parse_offered(methods: &[String]) -> AppResult<Vec<&'static str>> {
    let mut chosen: Vec<&'static str> = Vec::new();
    for raw in methods {
        let m = METHODS
            .iter()
            .find(|m| **m == raw.as_str())
            .ok_or_else(|| {
                AppError::invalid(
                    "payout_methods",
                    format!("payout_methods must be among: {}", METHODS.join(", ")),
                )
            })?;
        if chosen.contains(m) {
            return Err(AppError::invalid(
                "payout_methods",
                format!("{m} is listed twice; name each payout method once"),
            ));
        }
        chosen.push(m);
    }
    if chosen.is_empty() {
        return Err(AppError::invalid(
            "payout_methods",
            "offer at least one payout method, or affiliates cannot be paid",
        ));
    }
    chosen.sort_by_key(|m| METHODS.iter().position(|x| x == m));
    Ok(chosen)
}

/// The OpenAPI schema of a list of offered methods: one to five of [`METHODS`], each once.
/// utoipa's field attributes cannot give the items an enum, hence a function.
pub fn offered_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(METHODS)),
        )
        .min_items(Some(1))
        .max_items(Some(METHODS.len()))
        .unique_items(true)
        .description(Some(
            "The payout methods affiliates may choose: one or more of `paypal`, `wise`, \
             `bank_transfer`, `stripe_connect`, `crypto`, each once. Affiliates already set \
             up with a method no longer offered keep it.",
        ))
        .build()
}

/// Refuses settings whose method the vendor does not offer (an affiliate's own change);
/// clearing the settings is always allowed.
pub fn check_offered(offered: &[&str], new: &PayoutSettings) -> AppResult<()> {
    match new.method.as_deref() {
        Some(m) if !offered.contains(&m) => {
            let labels: Vec<&str> = offered.iter().map(|m| method_label(m)).collect();
            Err(AppError::invalid(
                "payout_method",
                format!(
                    "{} is not offered; choose one of: {}",
                    method_label(m),
                    labels.join(", ")
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// Changes an affiliate's payout settings (portal, self-service API) and emails the
/// affiliate; the method must be one the vendor offers ([`offered`]). Another vendor's
/// affiliate is a 404. (The vendor's own API changes go through [`write`] and may set any
/// method.)
pub async fn update(
    db: &Db,
    sender: &Sender,
    vendor: &VendorRow,
    affiliate_id: &str,
    input: &PayoutInput,
    actor: &Actor,
) -> AppResult<AffiliateRow> {
    let mut tx = db.begin().await?;
    let current = db::affiliates::by_id(&mut *tx, &vendor.id, affiliate_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let new = PayoutSettings::merged(&PayoutSettings::of(&current), input)?;
    let methods = db::payout_methods::of(&mut *tx, &vendor.id).await?;
    let offered: Vec<&str> = METHODS
        .iter()
        .copied()
        .filter(|m| methods.is_empty() || methods.iter().any(|c| c == m))
        .collect();
    // Unchanged settings are no change, even on a method no longer offered.
    if new != PayoutSettings::of(&current) {
        check_offered(&offered, &new)?;
    }
    write(&mut tx, Some((sender, vendor)), &current, &new, actor).await?;
    let row = db::affiliates::by_id(&mut *tx, &vendor.id, affiliate_id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenancy::mail::testing::render;

    #[test]
    fn the_change_email_renders_its_copy() {
        for (by_affiliate, support) in [(true, Some("help@acme.test")), (false, None)] {
            let r = render(
                &PayoutSettingsChangedEmail {
                    vendor_name: "Acme & Co".into(),
                    by_affiliate,
                    before: "PayPal (a***@x.test)".into(),
                    now: "bank transfer (…1234)".into(),
                    support_email: support.map(str::to_owned),
                },
                by_affiliate,
            );
            assert_eq!(r.subject, "Your Acme & Co payout details were changed");
            let who = if by_affiliate { "You" } else { "Acme & Co" };
            assert!(r.text.contains(&format!("\n\n{who} changed where your Acme & Co commissions are paid.\n\nBefore: PayPal (a***@x.test).\n\nNow: bank transfer (…1234).\n\n")));
            let tail = if by_affiliate {
                " or write to help@acme.test."
            } else {
                "."
            };
            assert!(r.text.contains(&format!(
                "If you did not expect this change, reply to this email{tail}\n\n"
            )));
        }
    }

    fn input(method: &str, field: &str, value: &str) -> PayoutInput {
        let mut i = PayoutInput {
            payout_method: Some(Some(method.into())),
            ..PayoutInput::default()
        };
        let v = Some(Some(value.to_owned()));
        match field {
            "email" => i.payout_email = v,
            "details" => i.payout_details = v,
            _ => i.stripe_account_id = v,
        }
        i
    }

    #[test]
    fn each_method_needs_its_destination_and_keeps_only_it() {
        let none = PayoutSettings::default();
        let p =
            PayoutSettings::merged(&none, &input("paypal", "email", " Jane@PayPal.test ")).unwrap();
        assert_eq!(p.destination(), Some("Jane@PayPal.test"));
        assert!(PayoutSettings::merged(&none, &input("paypal", "details", "x")).is_err());
        let s =
            PayoutSettings::merged(&p, &input("stripe_connect", "stripe", "acct_1AbC")).unwrap();
        assert_eq!(
            (s.email.as_deref(), s.destination()),
            (None, Some("acct_1AbC"))
        );
        assert!(
            PayoutSettings::merged(&none, &input("stripe_connect", "stripe", "acct_")).is_err()
        );
        let b = PayoutSettings::merged(
            &none,
            &input("bank_transfer", "details", "IBAN DE89 3704\nJane"),
        )
        .unwrap();
        assert_eq!(b.destination(), Some("IBAN DE89 3704\nJane"));
        assert!(PayoutSettings::merged(&none, &input("cheque", "email", "a@b.test")).is_err());
        let cleared = PayoutSettings::merged(
            &b,
            &PayoutInput {
                payout_method: Some(None),
                ..PayoutInput::default()
            },
        )
        .unwrap();
        assert_eq!(cleared, PayoutSettings::default());
    }

    #[test]
    fn destinations_are_masked_for_email() {
        assert_eq!(mask("jane@paypal.test"), "j•••@paypal.test");
        assert_eq!(mask("acct_1Nv0FGQ9RKHgCVdK"), "ac•••CVdK");
        assert_eq!(mask("short"), "•••");
    }
}
