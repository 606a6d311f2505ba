//! `GET /metrics` (Prometheus text format) and the middleware that counts and times every
//! request by route pattern.
//!
//! Off unless configured (README, "Metrics"): with `--metrics-token` the main listener serves
//! `/metrics` to `Authorization: Bearer <token>`; with `--metrics-bind` a separate listener
//! serves only `/metrics`, without a token. Without either, `/metrics` is an unknown path
//! (404) and the middleware is not installed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{App, Error, HttpRequest, HttpResponse, HttpServer, web};
use metrics::{Counter, Histogram};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::{self, Db};
use crate::domain::attribution::tracking::ClickWriter;
use crate::http::AppState;
use crate::monitoring::{self, Exposition};

/// The path, on the main listener and the metrics listener alike.
pub const PATH: &str = "/metrics";
/// Content type of the Prometheus text format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Route label of requests that matched no route.
const UNMATCHED: &str = "unmatched";

/// The middleware function (`middleware::from_fn(record)`), installed only when metrics are
/// on. Latency runs from the request entering the application to the response head.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let res = next.call(req).await;
    let seconds = started.elapsed().as_secs_f64();
    match &res {
        // The pattern comes from the resource the router chose (an index walk, no
        // re-matching); it allocates one short string.
        Ok(r) => observe(
            r.request().match_pattern().as_deref(),
            method,
            r.status(),
            seconds,
        ),
        // An error raised by a middleware before routing: no pattern to report.
        Err(e) => observe(None, method, e.as_response_error().status_code(), seconds),
    }
    res
}

/// Methods as labels; anything unusual is `other` so a client cannot add series.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The handles of one (route, method, status) series.
struct Series {
    method: &'static str,
    status: u16,
    requests: Counter,
    duration: Histogram,
}

thread_local! {
    /// Each HTTP worker thread keeps the handles it has used, keyed by route pattern: after
    /// the first request of a series, counting is a lookup and two atomic updates, with no
    /// lock shared between workers and no label strings built.
    static SERIES: RefCell<HashMap<String, Vec<Series>>> = RefCell::new(HashMap::new());
}

fn observe(route: Option<&str>, method: &'static str, status: StatusCode, seconds: f64) {
    let route = route.unwrap_or(UNMATCHED);
    let status = status.as_u16();
    SERIES.with(|cell| {
        let mut routes = cell.borrow_mut();
        if let Some(s) = routes
            .get(route)
            .and_then(|v| v.iter().find(|s| s.method == method && s.status == status))
        {
            s.requests.increment(1);
            s.duration.record(seconds);
            return;
        }
        let labels = [
            ("route", route.to_owned()),
            ("method", method.to_owned()),
            ("status", status.to_string()),
        ];
        let series = Series {
            method,
            status,
            requests: metrics::counter!(monitoring::HTTP_REQUESTS, &labels),
            duration: metrics::histogram!(monitoring::HTTP_DURATION, &labels),
        };
        series.requests.increment(1);
        series.duration.record(seconds);
        routes.entry(route.to_owned()).or_default().push(series);
    });
}

/// `GET /metrics` on the main listener (registered only when a token is configured).
pub async fn scrape_with_token(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(token) = &state.settings.metrics_token else {
        return HttpResponse::NotFound().finish();
    };
    if !bearer_matches(&req, token.expose()) {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\""))
            .content_type("text/plain; charset=utf-8")
            .body("metrics need Authorization: Bearer <the metrics token>\n");
    }
    answer(&state.db, Some(&state.tracker.clicks)).await
}

/// Whether the request carries `Authorization: Bearer <expected>`. Both sides are hashed
/// before a constant-time comparison, so neither the token's bytes nor its length leak
/// through timing.
fn bearer_matches(req: &HttpRequest, expected: &str) -> bool {
    let Some(given) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
    else {
        return false;
    };
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    bool::from(given.as_slice().ct_eq(expected.as_slice()))
}

/// What the metrics listener reads at scrape time.
#[derive(Debug, Clone)]
pub struct Source {
    /// The database (pool gauges, job queues).
    pub db: Db,
    /// The click writer of this process, when it serves redirects.
    pub clicks: Option<Arc<ClickWriter>>,
}

/// `GET /metrics` on the metrics listener: no token, the address is the protection.
async fn scrape_open(source: web::Data<Source>) -> HttpResponse {
    answer(&source.db, source.clicks.as_deref()).await
}

/// A server on `listener` that serves only `GET /metrics` (one worker, no signal handling:
/// the caller stops it after the main server).
pub fn metrics_server(listener: TcpListener, source: Source) -> std::io::Result<Server> {
    let source = web::Data::new(source);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(source.clone())
            .route(PATH, web::get().to(scrape_open))
            .default_service(web::to(|| async {
                HttpResponse::NotFound()
                    .content_type("text/plain; charset=utf-8")
                    .body("only /metrics is served here\n")
            }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}

async fn answer(db: &Db, clicks: Option<&ClickWriter>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(render(db, clicks).await)
}

/// The whole scrape: the recorder's counters and histograms, then this process's values
/// read now.
pub async fn render(db: &Db, clicks: Option<&ClickWriter>) -> String {
    let mut text = monitoring::handle().map(|h| h.render()).unwrap_or_default();
    let mut e = Exposition::default();
    if let Some(clicks) = clicks {
        click_families(&mut e, clicks);
    }
    // Read the pool before the queue queries borrow a connection from it.
    pool_families(&mut e, db);
    queue_families(&mut e, db).await;
    text.push_str(&e.into_text());
    text
}

/// The click writer's counters and its spill buffer's.
fn click_families(e: &mut Exposition, clicks: &ClickWriter) {
    let s = clicks.stats();
    e.single(
        monitoring::CLICKS_RECORDED,
        "counter",
        "Clicks stored by this process's click writer.",
        s.recorded,
    );
    e.single(
        monitoring::CLICKS_SPILLED,
        "counter",
        "Clicks spilled to the durable local buffer because the queue was full.",
        s.spilled,
    );
    e.single(
        monitoring::CLICKS_SPILL_PENDING,
        "gauge",
        "Spilled clicks not yet in the database.",
        s.spill_pending,
    );
    e.single(
        monitoring::CLICKS_DRAINED,
        "counter",
        "Clicks written to the database from the spill buffer.",
        s.drained,
    );
    e.single(
        monitoring::CLICKS_LOST,
        "counter",
        "Clicks neither queued nor spilled (spill unwritable).",
        s.lost,
    );
    e.single(
        monitoring::CLICKS_QUEUED,
        "gauge",
        "Clicks waiting in the click writer's queue.",
        s.buffered,
    );
    e.single(
        monitoring::CLICKS_QUEUE_CAPACITY,
        "gauge",
        "Clicks the queue holds before redirects wait, then spill.",
        clicks.capacity(),
    );
}

fn pool_families(e: &mut Exposition, db: &Db) {
    let pool = db.pool();
    let size = pool.size();
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(size);
    e.family(
        monitoring::DB_POOL_CONNECTIONS,
        "gauge",
        "Database pool connections by state.",
    );
    e.sample(
        monitoring::DB_POOL_CONNECTIONS,
        &[("state", "in_use")],
        size - idle,
    );
    e.sample(monitoring::DB_POOL_CONNECTIONS, &[("state", "idle")], idle);
    e.single(
        monitoring::DB_POOL_MAX,
        "gauge",
        "Connections the pool opens at most.",
        pool.options().get_max_connections(),
    );
}

/// Job queue and webhook outbox gauges; left out (and logged) when the database does not
/// answer, so the rest of the scrape still arrives.
async fn queue_families(e: &mut Exposition, db: &Db) {
    let now = db::now_ms();
    let jobs = db::jobs::backlog(db.pool(), now).await;
    let outbox = db::webhooks::backlog(db.pool(), now).await;
    let (mut rows, outbox) = match (jobs, outbox) {
        (Ok(rows), Ok(outbox)) => (rows, outbox),
        (Err(err), _) | (_, Err(err)) => {
            tracing::warn!(error = %err, "metrics: job queue figures unavailable");
            return;
        }
    };
    rows.push(outbox);
    for kind in crate::jobs::KINDS {
        if !rows.iter().any(|r| r.kind == kind) {
            rows.push(db::jobs::Backlog {
                kind: kind.to_owned(),
                pending: 0,
                due: 0,
                oldest_due_at: None,
            });
        }
    }
    rows.sort_by(|a, b| a.kind.cmp(&b.kind));
    e.family(
        monitoring::JOBS_PENDING,
        "gauge",
        "Pending background work by kind, retries not yet due included.",
    );
    for r in &rows {
        e.sample(monitoring::JOBS_PENDING, &[("kind", &r.kind)], r.pending);
    }
    e.family(
        monitoring::JOBS_DUE,
        "gauge",
        "Pending background work by kind that is due now.",
    );
    for r in &rows {
        e.sample(monitoring::JOBS_DUE, &[("kind", &r.kind)], r.due);
    }
    e.family(
        monitoring::JOBS_OLDEST_DUE_AGE,
        "gauge",
        "Seconds the longest-waiting due item of each kind has been due.",
    );
    for r in &rows {
        let age_ms = r.oldest_due_at.map_or(0, |at| (now - at).max(0));
        // Milliseconds → seconds with three decimals, exactly (no float rounding noise).
        let age = format!("{}.{:03}", age_ms / 1000, age_ms % 1000);
        e.sample(monitoring::JOBS_OLDEST_DUE_AGE, &[("kind", &r.kind)], age);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn bearer_tokens_are_compared_whole() {
        let with = |v: &str| {
            TestRequest::default()
                .insert_header((header::AUTHORIZATION, v))
                .to_http_request()
        };
        let token = "0123456789abcdef";
        assert!(bearer_matches(&with("Bearer 0123456789abcdef"), token));
        assert!(bearer_matches(&with("bearer 0123456789abcdef"), token));
        assert!(!bearer_matches(&with("Bearer 0123456789abcde"), token));
        assert!(!bearer_matches(&with("Bearer 0123456789abcdefg"), token));
        assert!(!bearer_matches(&with("Basic 0123456789abcdef"), token));
        assert!(!bearer_matches(&with("0123456789abcdef"), token));
        assert!(!bearer_matches(
            &TestRequest::default().to_http_request(),
            token
        ));
    }

    #[test]
    fn unusual_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(
            method_label(&Method::from_bytes(b"BREW").unwrap_or(Method::GET)),
            "other"
        );
    }
}
