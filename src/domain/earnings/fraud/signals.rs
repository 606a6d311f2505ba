//! The fraud signals: what is suspicious about a sale, each with its evidence in words.
//! Only the rules a program turned on are read, so a program without rules pays nothing
//! for them.

use std::collections::HashSet;
use std::sync::LazyLock;

use crate::db::{self, Conn, affiliates::AffiliateRow, clicks::ClickRow, programs::ProgramRow};
use crate::domain::earnings::billing::Normalized;
use crate::domain::partners::affiliates;
use crate::domain::partners::fraud_rules::{
    Action, FLOOD_CLICKS, FraudRules, SAME_IP_WINDOW_SECS, SPIKE_FACTOR, SPIKE_MIN,
};
use crate::error::AppResult;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Days of history a spike is measured against.
const SPIKE_HISTORY_DAYS: i64 = 30;

/// Mailbox providers shared by millions of people: two people at one of these are not one
/// company, so a shared domain there is no evidence (`email_match`).
const SHARED_MAILBOXES: [&str; 20] = [
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.de",
    "web.de",
    "mail.com",
    "yandex.ru",
    "zoho.com",
    "qq.com",
    "163.com",
];

/// The disposable email domains of the `mailchecker` crate (FGRibreau/mailchecker's
/// maintained list), read once.
static DISPOSABLE: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| mailchecker::blacklist().into_iter().collect());

/// One signal that fired on a sale.
#[derive(Debug, Clone)]
pub struct Signal {
    /// The rule's name (`same_ip`, ...).
    pub rule: &'static str,
    /// What the program's rule does.
    pub action: Action,
    /// Why, in words, for the reviewer.
    pub evidence: String,
}

/// What the signals read about a sale.
pub struct Sale<'a> {
    /// Its program.
    pub program: &'a ProgramRow,
    /// The converting affiliate.
    pub affiliate: &'a AffiliateRow,
    /// The billing event.
    pub event: &'a Normalized,
    /// The click the event named, if any.
    pub click: Option<&'a ClickRow>,
}

/// The signals that fire on `sale` under `rules` (rules that are off are not evaluated).
pub async fn detect(
    conn: &mut Conn,
    rules: &FraudRules,
    sale: &Sale<'_>,
) -> AppResult<Vec<Signal>> {
    let mut out = Vec::new();
    let mut fire = |rule: &'static str, evidence: Option<String>| {
        if let Some(evidence) = evidence {
            out.push(Signal {
                rule,
                action: rules.action(rule),
                evidence,
            });
        }
    };
    let on = |rule: &str| rules.action(rule) != Action::Off;
    let email = sale.event.email.as_deref();
    if on("same_ip") {
        fire("same_ip", same_ip(sale));
    }
    if on("email_match") {
        fire(
            "email_match",
            email.and_then(|e| email_match(sale.affiliate, e)),
        );
    }
    if on("disposable_email") {
        fire(
            "disposable_email",
            email
                .and_then(disposable_domain)
                .map(|d| format!("The customer's email is at {d}, a disposable email provider.")),
        );
    }
    if on("self_referral") {
        fire(
            "self_referral",
            affiliates::self_referral_evidence(
                sale.affiliate,
                sale.event.customer_id.as_deref(),
                email,
            )
            .map(|why| format!("Self-referral: {why}.")),
        );
    }
    if on("click_flood") {
        let flood = click_flood(conn, sale).await?;
        fire("click_flood", flood);
    }
    if on("spike") {
        let spike = spike(conn, sale).await?;
        fire("spike", spike);
    }
    Ok(out)
}

fn same_ip(sale: &Sale<'_>) -> Option<String> {
    let (click, sale_ip) = (sale.click?, sale.event.hints.ip_hash.as_deref()?);
    let secs = (sale.event.occurred_at - click.created_at).abs() / 1000;
    (click.ip_hash == sale_ip && secs <= SAME_IP_WINDOW_SECS).then(|| {
        format!(
            "The sale came from the same IP address as its click, {secs} second{} apart.",
            if secs == 1 { "" } else { "s" }
        )
    })
}

/// The domain of an email address, lower case.
fn domain_of(email: &str) -> Option<String> {
    let (_, d) = email.trim().rsplit_once('@')?;
    let d = d.trim_end_matches('.').to_ascii_lowercase();
    (!d.is_empty()).then_some(d)
}

/// Letters and digits only, lower case: `Jane Doe` and `jane.doe` read alike.
fn squashed(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn email_match(a: &AffiliateRow, customer_email: &str) -> Option<String> {
    let customer_domain = domain_of(customer_email)?;
    let website_host = a
        .website
        .as_deref()
        .and_then(|w| url::Url::parse(w).ok())
        .and_then(|u| {
            u.host_str()
                .map(|h| h.trim_start_matches("www.").to_ascii_lowercase())
        });
    let affiliate_domain = domain_of(&a.email).filter(|d| !SHARED_MAILBOXES.contains(&d.as_str()));
    for own in [affiliate_domain, website_host].into_iter().flatten() {
        if customer_domain == own || customer_domain.ends_with(&format!(".{own}")) {
            return Some(format!(
                "The customer's email domain {customer_domain} is the affiliate's own."
            ));
        }
    }
    let local = squashed(customer_email.rsplit_once('@')?.0);
    let names = [
        squashed(&a.name),
        squashed(a.email.rsplit_once('@').map_or("", |(l, _)| l)),
    ];
    (local.chars().count() >= 4 && names.contains(&local))
        .then(|| "The customer's email address carries the affiliate's name.".to_owned())
}

/// The disposable domain an email is at, if it is (the domain or a parent of it is listed).
pub fn disposable_domain(email: &str) -> Option<String> {
    let domain = domain_of(email)?;
    let mut rest = domain.as_str();
    loop {
        if DISPOSABLE.contains(rest) {
            return Some(domain.clone());
        }
        rest = rest.split_once('.')?.1;
    }
}

async fn click_flood(conn: &mut Conn, sale: &Sale<'_>) -> AppResult<Option<String>> {
    let since = sale.event.occurred_at - HOUR_MS;
    let busiest = db::fraud_reviews::busiest_source(
        &mut *conn,
        &sale.program.vendor_id,
        &sale.affiliate.id,
        &sale.program.id,
        since,
    )
    .await?
    .unwrap_or(0);
    Ok((busiest >= FLOOD_CLICKS).then(|| {
        format!(
            "One IP address clicked the affiliate's links {busiest} times in the hour before \
             the sale."
        )
    }))
}

async fn spike(conn: &mut Conn, sale: &Sale<'_>) -> AppResult<Option<String>> {
    let t = sale.event.occurred_at;
    let (program, affiliate) = (&sale.program.id, &sale.affiliate.id);
    // The sale itself is recorded already, so it is counted in the last day.
    let recent =
        db::fraud_reviews::conversions_between(&mut *conn, program, affiliate, t - DAY_MS, t + 1)
            .await?;
    let before = db::fraud_reviews::conversions_between(
        &mut *conn,
        program,
        affiliate,
        t - (SPIKE_HISTORY_DAYS + 1) * DAY_MS,
        t - DAY_MS,
    )
    .await?;
    // recent > factor × (before / days), in integers.
    let spiking = recent >= SPIKE_MIN && recent * SPIKE_HISTORY_DAYS > SPIKE_FACTOR * before;
    Ok(spiking.then(|| {
        let tenths = before * 10 / SPIKE_HISTORY_DAYS;
        format!(
            "{recent} sales in the last 24 hours, against {}.{} a day on average over the 30 \
             days before.",
            tenths / 10,
            tenths % 10
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposable_domains_come_from_the_package_list() {
        assert!(DISPOSABLE.len() > 2000);
        assert_eq!(
            disposable_domain("x@mailinator.com").as_deref(),
            Some("mailinator.com")
        );
        assert!(disposable_domain("x@sub.mailinator.com").is_some());
        assert_eq!(disposable_domain("x@example.com"), None);
        assert_eq!(disposable_domain("not an email"), None);
    }

    #[test]
    fn names_compare_by_letters() {
        assert_eq!(squashed("Jane Doe"), squashed("jane.doe"));
        assert_eq!(domain_of("A@Example.COM").as_deref(), Some("example.com"));
    }
}
