//! Webhook deliveries: fan events out, then POST each due delivery, signed, and record the
//! outcome (`domain::tenancy::webhooks::delivery` holds the rules).
//!
//! Deliveries are their own outbox with a lease (like `jobs`), so several workers never send
//! the same delivery at once. The request goes through a client whose DNS resolver drops
//! non-public addresses and that follows no redirects, so the SSRF guard holds at delivery
//! time too.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::db::{self, Db, webhooks::DeliveryRow};
use crate::domain::tenancy::mail::Sender;
use crate::domain::tenancy::webhooks::delivery::AttemptResult;
use crate::domain::tenancy::webhooks::{address, delivery, signing};

/// Request timeout, connection included.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries claimed (and sent concurrently) at once.
const BATCH: i64 = 10;
/// Largest part of an answer kept in the log.
const EXCERPT_BYTES: usize = 1024;

/// The outbound side: an HTTP client with the SSRF guard, and what the disable email needs.
#[derive(Debug, Clone)]
pub struct Outbound {
    client: reqwest::Client,
    allow_private: bool,
    sender: Sender,
}

impl Outbound {
    /// A client that connects only to public addresses unless `allow_private`.
    pub fn new(allow_private: bool, sender: Sender) -> anyhow::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(address::GuardedResolver { allow_private })
            .user_agent(concat!("Affilia-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            allow_private,
            sender,
        })
    }

    /// Fans out new events, then sends every delivery due at `now`; returns how many
    /// attempts were made.
    pub async fn run_due(&self, db: &Db, worker: &str, now: i64) -> anyhow::Result<usize> {
        let fanned = delivery::fan_out(db, now)
            .await
            .map_err(|e| anyhow::anyhow!("webhook fan-out: {e}"))?;
        if fanned > 0 {
            tracing::debug!(fanned, "webhook deliveries created");
        }
        let mut sent = 0;
        loop {
            let mut tx = db.begin().await?;
            let batch = db::webhooks::claim_deliveries(
                &mut *tx,
                worker,
                now,
                super::lease_until(now, delivery::LEASE_MS),
                BATCH,
            )
            .await?;
            tx.commit().await?;
            if batch.is_empty() {
                return Ok(sent);
            }
            sent += batch.len();
            for (d, outcome) in batch
                .iter()
                .zip(join_all(batch.iter().map(|d| self.deliver(db, worker, d, now))).await)
            {
                if let Err(e) = outcome {
                    // The lease expires and another attempt follows; nothing is lost.
                    tracing::error!(delivery_id = %d.id, error = ?e, "webhook delivery crashed");
                }
            }
        }
    }

    async fn deliver(
        &self,
        db: &Db,
        worker: &str,
        d: &DeliveryRow,
        now: i64,
    ) -> anyhow::Result<()> {
        let Some(endpoint) =
            db::webhooks::endpoint_by_id(db.pool(), &d.vendor_id, &d.endpoint_id).await?
        else {
            return Ok(());
        };
        let result = self.attempt(&endpoint.url, &endpoint.secret, d, now).await;
        match delivery::record(db, &self.sender, worker, d, &endpoint, &result, now).await {
            Ok(next) => {
                let outcome = match next {
                    Some(delivery::Next::Succeeded) => Some("succeeded"),
                    Some(delivery::Next::RetryAt(_)) => Some("retried"),
                    Some(delivery::Next::Failed) => Some("failed"),
                    // Another worker took the delivery over; it counts its own attempt.
                    None => None,
                };
                if let Some(outcome) = outcome {
                    metrics::counter!(crate::monitoring::WEBHOOK_DELIVERIES, "outcome" => outcome)
                        .increment(1);
                }
                tracing::info!(delivery_id = %d.id, status = ?result.status_code, next = ?next, "webhook attempt");
                Ok(())
            }
            Err(e) => Err(anyhow::anyhow!("recording webhook attempt: {e}")),
        }
    }

    /// One signed POST.
    async fn attempt(&self, url: &str, secret: &str, d: &DeliveryRow, now: i64) -> AttemptResult {
        let started = Instant::now();
        let failed = |error: String, started: Instant| AttemptResult {
            status_code: None,
            latency_ms: elapsed_ms(started),
            response_excerpt: None,
            error: Some(error),
        };
        // The URL was checked when saved; check again (settings and rules may have changed),
        // then the resolver checks every address the name resolves to now.
        let url = match address::check_url_shape(url, self.allow_private) {
            Ok(u) => u,
            Err(e) => return failed(e, started),
        };
        let body = delivery::body(d);
        let sig = signing::sign(secret, &d.event_id, now.div_euclid(1000), &body);
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("affilia-signature", &sig.affilia)
            .header("webhook-id", &sig.webhook_id)
            .header("webhook-timestamp", &sig.webhook_timestamp)
            .header("webhook-signature", &sig.webhook_signature)
            .body(body)
            .send()
            .await;
        let mut res = match sent {
            Ok(r) => r,
            Err(e) => return failed(describe(&e), started),
        };
        let status = res.status().as_u16();
        let mut excerpt: Vec<u8> = Vec::new();
        while excerpt.len() < EXCERPT_BYTES {
            match res.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                _ => break,
            }
        }
        excerpt.truncate(EXCERPT_BYTES);
        let text = String::from_utf8_lossy(&excerpt)
            .trim_end_matches('\u{fffd}')
            .replace('\0', "");
        AttemptResult {
            status_code: Some(status),
            latency_ms: elapsed_ms(started),
            response_excerpt: (!text.is_empty()).then_some(text),
            error: (!(200..300).contains(&status))
                .then(|| format!("the endpoint answered {status}")),
        }
    }
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// A transport error in words, with its cause (the SSRF refusal is in the source chain).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out after 10 s"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut out = kind.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
