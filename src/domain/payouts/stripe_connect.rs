//! Money out through Stripe Connect: a payout to an affiliate whose method is
//! `stripe_connect` becomes a transfer from the program's Stripe account to the affiliate's
//! connected account (`POST /v1/transfers`).
//!
//! Off unless the installation turns it on (`AFFILIA_STRIPE_CONNECT_PAYOUTS=true`), like
//! seed 002's gated money-out. Each payout has one idempotency key, so sending again after a
//! timeout can never transfer twice. A refusal from Stripe (4xx) fails the payout and makes
//! the money available again; an answer that leaves the outcome unknown (network error,
//! 5xx, 429) keeps the payout `processing` with the error, to be sent again.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::{failed_in, paid_in, processing_in};
use crate::db::{self, Db, payouts::PayoutRow};
use crate::domain::tenancy::audit::Actor;
use crate::domain::tenancy::mail::Sender;
use crate::error::{AppError, AppResult};

/// The provider: whether it is on, where Stripe is, and an HTTP client.
#[derive(Debug, Clone)]
pub struct StripeConnect {
    enabled: bool,
    base: Url,
    client: reqwest::Client,
}

impl StripeConnect {
    /// The provider for these settings.
    pub fn new(enabled: bool, base: Url) -> anyhow::Result<Self> {
        // reqwest is built without a default crypto provider; use ring, as sqlx and lettre
        // do. Installing twice (tests start many servers) is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("affilia/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            enabled,
            base,
            client,
        })
    }

    /// Whether payouts may be sent through Stripe.
    pub fn enabled(&self) -> bool {
        self.enabled
    }
}

/// The idempotency key of a payout's transfer.
pub fn idempotency_key(payout_id: &str) -> String {
    format!("affilia-payout-{payout_id}")
}

#[derive(Debug, Deserialize)]
struct Transfer {
    id: String,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    message: Option<String>,
    code: Option<String>,
}

/// What Stripe said.
enum Answer {
    Sent(String),
    Refused(String),
    Unknown(String),
}

async fn transfer(provider: &StripeConnect, key: &str, p: &PayoutRow) -> Answer {
    let url = match provider.base.join("/v1/transfers") {
        Ok(u) => u,
        Err(e) => return Answer::Unknown(format!("bad Stripe API base: {e}")),
    };
    let form = [
        // Stripe's API unit, which is the ISO minor unit but for ISK and MGA.
        (
            "amount",
            crate::domain::earnings::billing::stripe::to_stripe_units(p.net_cents, &p.currency)
                .to_string(),
        ),
        ("currency", p.currency.to_ascii_lowercase()),
        ("destination", p.destination.clone()),
        ("transfer_group", p.id.clone()),
        ("description", format!("Affiliate payout {}", p.id)),
        ("metadata[payout_id]", p.id.clone()),
        ("metadata[affiliate_id]", p.affiliate_id.clone()),
    ];
    let sent = provider
        .client
        .post(url)
        .bearer_auth(key)
        .header("Idempotency-Key", idempotency_key(&p.id))
        .form(&form)
        .send()
        .await;
    let res = match sent {
        Ok(r) => r,
        Err(e) => return Answer::Unknown(format!("Stripe could not be reached: {e}")),
    };
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    if status.is_success() {
        return match serde_json::from_str::<Transfer>(&body) {
            Ok(t) => Answer::Sent(t.id),
            Err(e) => Answer::Unknown(format!("unreadable answer from Stripe: {e}")),
        };
    }
    let detail = serde_json::from_str::<ErrorBody>(&body)
        .map(|b| {
            let message = b.error.message.unwrap_or_else(|| "no message".into());
            match b.error.code {
                Some(code) => format!("{message} ({code})"),
                None => message,
            }
        })
        .unwrap_or_else(|_| format!("HTTP {status}"));
    if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 409 {
        Answer::Unknown(format!("Stripe answered {status}: {detail}"))
    } else {
        Answer::Refused(format!("Stripe refused the transfer: {detail}"))
    }
}

/// Sends one payout through Stripe Connect; see the module docs. Returns the payout as it
/// is afterwards (`paid`, `failed`, or `processing` with `provider_error`).
pub async fn send(
    db: &Db,
    sender: &Sender,
    provider: &StripeConnect,
    vendor_id: &str,
    payout_id: &str,
    actor: &Actor,
) -> AppResult<PayoutRow> {
    // The payout first: another vendor's (or no) payout is a 404 whatever the
    // installation's settings, so the refusal below never tells ids apart.
    let p = super::get(db, vendor_id, payout_id).await?;
    if !provider.enabled {
        return Err(AppError::Forbidden(
            "Stripe Connect payouts are off on this installation \
             (set AFFILIA_STRIPE_CONNECT_PAYOUTS=true to turn them on)"
                .into(),
        ));
    }
    let vendor = db::vendors::by_id(db.pool(), vendor_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if p.method != "stripe_connect" {
        return Err(AppError::wrong_state(format!(
            "this payout goes by {}, not Stripe Connect",
            p.method
        )));
    }
    let key = db::programs::by_id(db.pool(), vendor_id, &p.program_id)
        .await?
        .and_then(|program| program.stripe_secret_key)
        .ok_or_else(|| {
            AppError::invalid(
                "stripe_secret_key",
                "the program has no Stripe secret key; set stripe_secret_key on the program",
            )
        })?;
    // Recorded as processing before the call, so a crash mid-call leaves it visible (and
    // the idempotency key makes sending again safe).
    let p = match p.status.as_str() {
        "pending" => {
            let mut tx = db.begin().await?;
            let p = processing_in(&mut tx, vendor_id, payout_id, actor).await?;
            tx.commit().await?;
            p
        }
        "processing" => p,
        other => {
            return Err(AppError::wrong_state(format!(
                "this payout is {other}; it cannot be sent"
            )));
        }
    };
    match transfer(provider, &key, &p).await {
        Answer::Sent(transfer_id) => {
            let mut tx = db.begin().await?;
            let p = paid_in(
                &mut tx,
                sender,
                &vendor,
                payout_id,
                Some(&transfer_id),
                actor,
            )
            .await?;
            tx.commit().await?;
            Ok(p)
        }
        Answer::Refused(reason) => {
            let mut tx = db.begin().await?;
            let p = failed_in(&mut tx, sender, &vendor, payout_id, &reason, actor).await?;
            tx.commit().await?;
            Ok(p)
        }
        Answer::Unknown(error) => {
            tracing::warn!(payout = %payout_id, %error, "Stripe transfer outcome unknown; the payout stays processing");
            db::payouts::set_provider_error(db.pool(), payout_id, &error).await?;
            super::get(db, vendor_id, payout_id).await
        }
    }
}

/// Sends every Stripe Connect payout of a run that is pending or processing; returns the
/// payouts after the attempt.
pub async fn send_run(
    db: &Db,
    sender: &Sender,
    provider: &StripeConnect,
    vendor_id: &str,
    run_id: &str,
    actor: &Actor,
) -> AppResult<Vec<PayoutRow>> {
    let (_, payouts) = super::run_detail(db, vendor_id, run_id).await?;
    let mut out = Vec::new();
    for p in payouts {
        if p.method == "stripe_connect" && super::is_open(&p) {
            out.push(send(db, sender, provider, vendor_id, &p.id, actor).await?);
        }
    }
    Ok(out)
}
