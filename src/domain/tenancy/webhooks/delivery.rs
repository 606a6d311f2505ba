//! Delivery rules: fan-out of events into deliveries, the request body, the retry
//! schedule, and what an attempt's outcome does to the delivery and its endpoint
//! (including disabling a failing endpoint and telling the vendor's owners by email).
//!
//! The HTTP request itself is made by the job worker (`jobs::webhooks`).

use serde_json::{Value, json};

use crate::db::{self, Db, webhooks::DeliveryRow, webhooks::EndpointRow};
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::tenancy::mail::{self, Recipient, Sender};
use crate::error::AppResult;

/// Delay before each retry after a failed attempt: 1 min, 5 min, 30 min, 2 h, 5 h, 10 h,
/// 24 h, 30 h. The last attempt (the 9th) comes about 3 days (71 h 36 min) after the first.
pub const RETRY_DELAYS_MS: [i64; 8] = [
    60_000,
    5 * 60_000,
    30 * 60_000,
    2 * 3_600_000,
    5 * 3_600_000,
    10 * 3_600_000,
    24 * 3_600_000,
    30 * 3_600_000,
];

/// Attempts a delivery gets before it fails for good.
pub const MAX_ATTEMPTS: i64 = RETRY_DELAYS_MS.len() as i64 + 1;

/// An endpoint whose every attempt failed for this long is disabled.
pub const DISABLE_AFTER_MS: i64 = 3 * 24 * 3_600_000;

/// How long a claimed delivery is held; longer than the 10 s request timeout.
pub const LEASE_MS: i64 = 60_000;

/// Events fanned out per claim.
const FANOUT_BATCH: i64 = 100;

/// What one HTTP attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    /// Status code, when an answer came.
    pub status_code: Option<u16>,
    /// Milliseconds until the answer or failure.
    pub latency_ms: i64,
    /// Up to 1 KiB of the answer body.
    pub response_excerpt: Option<String>,
    /// Why it failed (no answer, refused address, non-2xx ...).
    pub error: Option<String>,
}

impl AttemptResult {
    /// 2xx.
    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|c| (200..300).contains(&c))
    }

    /// 410 Gone: the receiver says the endpoint no longer exists.
    pub fn gone(&self) -> bool {
        self.status_code == Some(410)
    }
}

/// Where an attempt leaves a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Delivered.
    Succeeded,
    /// Retry at this time (unix ms).
    RetryAt(i64),
    /// No more attempts.
    Failed,
}

/// The step after attempt number `attempts` (1-based) of a delivery.
pub fn next_step(attempts: i64, manual: bool, succeeded: bool, now: i64) -> Next {
    if succeeded {
        return Next::Succeeded;
    }
    if manual {
        return Next::Failed;
    }
    let index = usize::try_from(attempts.max(1) - 1).unwrap_or(usize::MAX);
    match RETRY_DELAYS_MS.get(index) {
        Some(delay) => Next::RetryAt(now + delay),
        None => Next::Failed,
    }
}

/// Why an endpoint is disabled after a failed attempt, if it is: a 410 answer, three
/// days without a successful attempt, or a delivery that ran out of retries while the
/// endpoint was failing.
pub fn disable_reason(
    result: &AttemptResult,
    next: Next,
    manual: bool,
    failing_since: Option<i64>,
    now: i64,
) -> Option<String> {
    if result.succeeded() {
        return None;
    }
    if result.gone() {
        return Some("the endpoint answered 410 Gone".into());
    }
    let since = failing_since?;
    if now - since >= DISABLE_AFTER_MS {
        return Some("every delivery attempt failed for 3 days".into());
    }
    if next == Next::Failed && !manual {
        return Some(format!(
            "a delivery failed {MAX_ATTEMPTS} times over about 3 days"
        ));
    }
    None
}

/// The JSON body of a delivery: `{id, event, created_at, data}`; the same bytes on every
/// retry except for nothing (the signature timestamp is in the headers).
pub fn body(d: &DeliveryRow) -> String {
    let data: Value =
        serde_json::from_str(&d.payload).unwrap_or_else(|_| Value::String(d.payload.clone()));
    json!({
        "id": d.event_id,
        "event": d.event_type,
        "created_at": db::rfc3339(d.event_created_at),
        "data": data,
    })
    .to_string()
}

/// Fans every event not yet fanned out into deliveries to the enabled endpoints of its
/// vendor whose filter matches and that existed when the event happened. Returns the
/// deliveries created.
///
/// Events are claimed by lease, and each event's deliveries and its `fanned_out` flag are
/// written in one transaction; the unique (endpoint, event) index keeps a second worker
/// that re-claims an event after an expired lease from doubling a delivery.
pub async fn fan_out(db: &Db, now: i64) -> AppResult<usize> {
    // Events of vendors without endpoints are settled in bulk. As on the per-event path, an
    // endpoint receives the events that happen after it is saved (committed).
    db::webhooks::skip_events_without_endpoints(db.pool()).await?;
    let mut created = 0;
    loop {
        let mut tx = db.begin().await?;
        let events =
            db::webhooks::claim_events(&mut *tx, now, lease_until(now), FANOUT_BATCH).await?;
        tx.commit().await?;
        if events.is_empty() {
            return Ok(created);
        }
        for event in events {
            let mut tx = db.begin().await?;
            let endpoints = db::webhooks::enabled_endpoints(&mut *tx, &event.vendor_id).await?;
            for endpoint in endpoints
                .iter()
                .filter(|e| e.created_at <= event.created_at && super::wants(e, &event.kind))
            {
                let inserted = db::webhooks::insert_delivery(
                    &mut *tx,
                    &db::webhooks::NewDelivery {
                        vendor_id: &event.vendor_id,
                        endpoint_id: &endpoint.id,
                        event_id: &event.id,
                        event_type: &event.kind,
                        payload: &event.payload,
                        event_created_at: event.created_at,
                        due_at: now,
                    },
                )
                .await?;
                if inserted.is_some() {
                    created += 1;
                }
            }
            db::webhooks::mark_fanned_out(&mut *tx, &event.id).await?;
            tx.commit().await?;
        }
    }
}

/// The end of a fan-out lease taken now, in a round that started at `now`: from the clock at
/// claim time (a long round must not take leases that have already run out, which another
/// instance could take over at once), or from `now` when that is ahead (tests).
fn lease_until(now: i64) -> i64 {
    now.max(db::now_ms()).saturating_add(LEASE_MS)
}

/// Records an attempt of a delivery `worker` holds: the log row, the delivery's next step,
/// the endpoint's health, and a disabled endpoint with its email, all in one transaction.
/// Returns the step (or `None` when the lease was lost and nothing was recorded).
pub async fn record(
    db: &Db,
    sender: &Sender,
    worker: &str,
    d: &DeliveryRow,
    endpoint: &EndpointRow,
    result: &AttemptResult,
    now: i64,
) -> AppResult<Option<Next>> {
    let manual = d.manual == 1;
    let next = next_step(d.attempts, manual, result.succeeded(), now);
    let code = result.status_code.map(i64::from);
    let mut tx = db.begin().await?;
    let (status, due) = match next {
        Next::Succeeded => ("succeeded", d.next_attempt_at),
        Next::RetryAt(at) => ("pending", at),
        Next::Failed => ("failed", d.next_attempt_at),
    };
    if !db::webhooks::settle_delivery(
        &mut *tx,
        &d.id,
        worker,
        status,
        due,
        code,
        result.error.as_deref(),
    )
    .await?
    {
        return Ok(None);
    }
    db::webhooks::insert_attempt(
        &mut *tx,
        &db::webhooks::NewAttempt {
            delivery_id: &d.id,
            status_code: code,
            latency_ms: result.latency_ms,
            response_excerpt: result.response_excerpt.as_deref(),
            error: result.error.as_deref(),
            at: now,
        },
    )
    .await?;
    if result.succeeded() {
        db::webhooks::endpoint_succeeded(&mut *tx, &endpoint.id).await?;
    } else {
        let since = db::webhooks::endpoint_failed(&mut *tx, &endpoint.id, now).await?;
        if let Some(reason) = disable_reason(result, next, manual, since, now) {
            disable(&mut tx, sender, endpoint, &reason).await?;
        }
    }
    tx.commit().await?;
    Ok(Some(next))
}

/// The `webhook_endpoint_disabled` email (copy in
/// `templates/emails/webhook_endpoint_disabled.*`).
#[derive(Debug, Clone)]
struct EndpointDisabledEmail {
    vendor_name: String,
    url: String,
    reason: String,
    dashboard_url: String,
}
mail::email_kind!(
    EndpointDisabledEmail,
    "webhook_endpoint_disabled",
    "emails/webhook_endpoint_disabled.txt",
    "emails/webhook_endpoint_disabled.html"
);

/// Disables an endpoint and tells the vendor's owners, once.
async fn disable(
    conn: &mut db::Conn,
    sender: &Sender,
    endpoint: &EndpointRow,
    reason: &str,
) -> AppResult<()> {
    if !db::webhooks::disable_endpoint(&mut *conn, &endpoint.id, reason).await? {
        return Ok(());
    }
    audit::record(
        &mut *conn,
        &endpoint.vendor_id,
        &Actor::System,
        "webhook_endpoint.disabled",
        ("webhook_endpoint", Some(&endpoint.id)),
        json!({"reason": reason, "url": endpoint.url}),
    )
    .await?;
    let Some(vendor) = db::vendors::by_id(&mut *conn, &endpoint.vendor_id).await? else {
        return Ok(());
    };
    let owners = db::webhooks::owner_emails(&mut *conn, &endpoint.vendor_id).await?;
    let message = EndpointDisabledEmail {
        vendor_name: vendor.name.clone(),
        url: endpoint.url.clone(),
        reason: reason.to_owned(),
        dashboard_url: format!("{}/dashboard/developers/webhooks", sender.base_url),
    };
    for (email,) in owners {
        mail::enqueue(
            conn,
            sender,
            &vendor,
            Recipient {
                email: &email,
                name: None,
            },
            &message,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(code: Option<u16>) -> AttemptResult {
        AttemptResult {
            status_code: code,
            latency_ms: 1,
            response_excerpt: None,
            error: Some("x".into()),
        }
    }

    #[test]
    fn the_schedule_spans_about_three_days() {
        let total: i64 = RETRY_DELAYS_MS.iter().sum();
        assert_eq!(total, 71 * 3_600_000 + 36 * 60_000);
        assert_eq!(next_step(1, false, false, 0), Next::RetryAt(60_000));
        assert_eq!(next_step(2, false, false, 0), Next::RetryAt(300_000));
        assert_eq!(next_step(8, false, false, 0), Next::RetryAt(30 * 3_600_000));
        assert_eq!(next_step(9, false, false, 0), Next::Failed);
        assert_eq!(next_step(1, true, false, 0), Next::Failed);
        assert_eq!(next_step(3, false, true, 0), Next::Succeeded);
    }

    #[test]
    fn endpoints_are_disabled_on_gone_or_long_failure() {
        let ok = AttemptResult {
            status_code: Some(204),
            ..failed(None)
        };
        assert_eq!(disable_reason(&ok, Next::Succeeded, false, None, 0), None);
        assert!(disable_reason(&failed(Some(410)), Next::RetryAt(1), false, Some(0), 0).is_some());
        assert_eq!(
            disable_reason(&failed(Some(500)), Next::RetryAt(1), false, Some(0), 1000),
            None
        );
        assert!(
            disable_reason(
                &failed(None),
                Next::RetryAt(1),
                false,
                Some(0),
                DISABLE_AFTER_MS
            )
            .is_some()
        );
        assert!(disable_reason(&failed(Some(500)), Next::Failed, false, Some(5), 10).is_some());
        assert_eq!(
            disable_reason(&failed(Some(500)), Next::Failed, true, Some(5), 10),
            None
        );
    }
}
