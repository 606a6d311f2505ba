//! Prometheus metrics: off by default, a bearer token on the main listener, a separate
//! listener without one, and the series a scrape shows after real traffic.
//!
//! The facade's counters (requests, ingest, email, webhooks) are process-wide and other
//! tests run beside these, so those assertions use `>=` and labels only this test produces
//! (a route pattern is shared, the raw path is not); the scrape-time figures (clicks, pool,
//! queues) belong to each application and are asserted exactly.

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use serde_json::json;

use affilia::config::Secret;

use crate::helpers::affiliates::affiliate;
use crate::helpers::smtp_sink::SmtpSink;
use crate::helpers::tracking::click;
use crate::helpers::vendors::shop_named;
use crate::helpers::{TestApp, new_client, spawn_app, spawn_app_with};

const TOKEN: &str = "metrics-token-0123456789";

async fn app_with_token() -> TestApp {
    spawn_app_with(|s| s.metrics_token = Some(Secret::new(TOKEN.to_owned()))).await
}

/// `GET /metrics` on the main listener with the token.
async fn scrape(app: &TestApp) -> String {
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

/// The value of the sample of `name` whose labels include every one of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, label_text) = match series.split_once('{') {
                Some((m, rest)) => (m, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let wanted = labels
                .iter()
                .all(|(k, v)| label_text.split(',').any(|l| l == format!("{k}=\"{v}\"")));
            (metric == name && wanted)
                .then(|| value.parse().ok())
                .flatten()
        })
}

#[tokio::test]
async fn metrics_are_off_unless_configured() {
    let app = spawn_app().await;
    assert_eq!(app.get("/metrics").await.status(), 404);
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(app.metrics_addr.is_none());
}

#[tokio::test]
async fn the_main_listener_asks_for_the_token() {
    let app = app_with_token().await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()[WWW_AUTHENTICATE].to_str().unwrap(),
        "Bearer realm=\"metrics\""
    );
    for wrong in [
        "Bearer metrics-token-012345678",
        "Bearer metrics-token-01234567890",
        "Basic metrics-token-0123456789",
        "metrics-token-0123456789",
    ] {
        let res = app
            .client
            .get(app.url("/metrics"))
            .header(AUTHORIZATION, wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{wrong}");
    }
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()[CONTENT_TYPE].to_str().unwrap(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = res.text().await.unwrap();
    assert!(
        text.contains("# TYPE affilia_db_pool_connections gauge"),
        "{text}"
    );
    // Prometheus scrapes by whatever name or address it was given: a host that is no
    // dashboard or portal host still reaches the endpoint (and still needs the token).
    let other_host = app.client_for_host("node-7.internal");
    let url = app.host_url("node-7.internal", "/metrics");
    assert_eq!(other_host.get(&url).send().await.unwrap().status(), 401);
    let res = other_host
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_scrape_shows_requests_clicks_events_and_emails_by_route_pattern() {
    let sink = SmtpSink::start().await;
    let smtp = sink.url();
    let app = spawn_app_with(move |s| {
        s.metrics_token = Some(Secret::new(TOKEN.to_owned()));
        s.smtp_url = Some(Secret::new(smtp));
    })
    .await;
    let shop = shop_named(&app, "Metrix").await;
    let code = format!("mx{}", &ulid::Ulid::generate().to_string()[16..]).to_lowercase();
    let affiliate_id = affiliate(&app, &shop, "partner@metrix.test", &code).await;

    // A redirect, an API read, events (stored, repeated, refused), an unknown path.
    let (status, _) = click(&app, &new_client(), &format!("/r/{code}")).await;
    assert_eq!(status, 302);
    let (status, _) = app
        .call(
            &shop.key,
            Method::GET,
            &format!("/api/v1/affiliates/{affiliate_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let sale = json!({"id": "evt_metrics_1", "type": "charge.succeeded", "customer_id": "cus_m1",
                      "amount_cents": 5000, "currency": "USD",
                      "metadata": {"affiliate_code": code}});
    let events = "/api/v1/events";
    let (status, body) = app
        .call(&shop.key, Method::POST, events, Some(sale.clone()))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = app.call(&shop.key, Method::POST, events, Some(sale)).await;
    assert_eq!(status, 200);
    let bad = json!({"id": "evt_metrics_2", "type": "charge.succeeded", "customer_id": "cus_m1",
                     "amount_cents": -5, "currency": "USD"});
    let (status, _) = app.call(&shop.key, Method::POST, events, Some(bad)).await;
    assert_eq!(status, 422);
    let unknown = format!("/no-such-page-{code}");
    assert_eq!(app.get(&unknown).await.status(), 404);

    // An email waiting in the queue, then sent.
    let res = app
        .post_form_as(
            &new_client(),
            "/login/link",
            "/login",
            &[("email", "owner@metrix.test")],
        )
        .await;
    assert_eq!(res.status(), 200);
    app.deliver_link_requests().await;
    let text = scrape(&app).await;
    let send_email = [("kind", "send_email")];
    assert_eq!(
        sample(&text, "affilia_jobs_pending", &send_email),
        Some(1.0)
    );
    assert_eq!(sample(&text, "affilia_jobs_due", &send_email), Some(1.0));
    let age = sample(&text, "affilia_jobs_oldest_due_age_seconds", &send_email);
    assert!(age.is_some_and(|a| (0.0..60.0).contains(&a)), "{text}");
    let outbox = [("kind", "webhook_delivery")];
    assert_eq!(sample(&text, "affilia_jobs_pending", &outbox), Some(0.0));
    assert_eq!(app.run_jobs().await, 1);
    assert_eq!(sink.wait_for(1, 5).await.len(), 1);
    app.state.tracker.clicks.flush().await;

    let text = scrape(&app).await;
    let redirect = [("route", "/r/{code}"), ("method", "GET"), ("status", "302")];
    assert!(
        sample(&text, "affilia_http_requests_total", &redirect).is_some_and(|n| n >= 1.0),
        "{text}"
    );
    let inf = [("route", "/r/{code}"), ("status", "302"), ("le", "+Inf")];
    assert!(
        sample(&text, "affilia_http_request_duration_seconds_bucket", &inf)
            .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    let api = [
        ("route", "/api/v1/affiliates/{id}"),
        ("method", "GET"),
        ("status", "200"),
    ];
    assert!(sample(&text, "affilia_http_requests_total", &api).is_some_and(|n| n >= 1.0));
    let created = [("route", "/api/v1/events"), ("status", "201")];
    assert!(sample(&text, "affilia_http_requests_total", &created).is_some_and(|n| n >= 1.0));
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert!(sample(&text, "affilia_http_requests_total", &unmatched).is_some_and(|n| n >= 1.0));
    // Route patterns only: neither this test's code nor its ids appear as labels.
    assert!(!text.contains(&code), "{text}");
    assert!(!text.contains(&affiliate_id), "{text}");

    for outcome in ["processed", "duplicate", "rejected"] {
        let labels = [("source", "api"), ("outcome", outcome)];
        assert!(
            sample(&text, "affilia_ingest_events_total", &labels).is_some_and(|n| n >= 1.0),
            "{outcome}: {text}"
        );
    }
    let sent = [("outcome", "sent")];
    assert!(sample(&text, "affilia_email_deliveries_total", &sent).is_some_and(|n| n >= 1.0));

    // This application's own figures, exactly.
    assert_eq!(
        sample(&text, "affilia_clicks_recorded_total", &[]),
        Some(1.0)
    );
    for zero in [
        "affilia_clicks_spilled_total",
        "affilia_clicks_spill_pending",
        "affilia_clicks_drained_total",
        "affilia_clicks_lost_total",
    ] {
        assert_eq!(sample(&text, zero, &[]), Some(0.0), "{zero}");
    }
    assert_eq!(sample(&text, "affilia_clicks_queued", &[]), Some(0.0));
    assert_eq!(
        sample(&text, "affilia_clicks_queue_capacity", &[]),
        Some(affilia::domain::attribution::tracking::writer::QUEUE as f64)
    );
    assert_eq!(
        sample(&text, "affilia_jobs_pending", &send_email),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "affilia_jobs_oldest_due_age_seconds", &send_email),
        Some(0.0)
    );
    let in_use = sample(&text, "affilia_db_pool_connections", &[("state", "in_use")]);
    let idle = sample(&text, "affilia_db_pool_connections", &[("state", "idle")]);
    let max = sample(&text, "affilia_db_pool_max_connections", &[]);
    assert!(
        matches!((in_use, idle, max), (Some(u), Some(i), Some(m)) if u + i >= 1.0 && u + i <= m),
        "{text}"
    );
    assert!(sample(&text, "affilia_build_info", &[]).is_some(), "{text}");
}

#[tokio::test]
async fn a_separate_listener_serves_only_metrics_without_a_token() {
    let app = spawn_app_with(|s| s.metrics_bind = Some("127.0.0.1:0".into())).await;
    let addr = app.metrics_addr.expect("metrics listener");
    let client = new_client();
    let res = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert_eq!(
        sample(&text, "affilia_clicks_recorded_total", &[]),
        Some(0.0)
    );
    assert!(text.contains("# TYPE affilia_jobs_pending gauge"), "{text}");
    // Nothing else is served there, and the main listener has no /metrics without a token.
    let other = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    assert_eq!(app.get("/metrics").await.status(), 404);
    // The main listener's requests are still counted for the metrics listener to show.
    assert_eq!(app.get("/healthz").await.status(), 200);
    let text = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let health = [("route", "/healthz"), ("status", "200")];
    assert!(sample(&text, "affilia_http_requests_total", &health).is_some_and(|n| n >= 1.0));
}

#[tokio::test]
async fn webhook_attempts_and_the_outbox_are_counted() {
    let app = spawn_app_with(|s| {
        s.metrics_token = Some(Secret::new(TOKEN.to_owned()));
        s.allow_private_webhook_urls = true;
    })
    .await;
    let v = crate::helpers::vendors::vendor(&app, "Hooks").await;
    // Nothing listens on the discard port: the attempt fails and is retried later.
    let (status, body) = app
        .call(
            &v.key,
            Method::POST,
            "/api/v1/webhook-endpoints",
            Some(json!({"url": "http://127.0.0.1:9/hook", "description": "down", "events": ["*"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .call(
            &v.key,
            Method::POST,
            "/api/v1/applications",
            Some(json!({"email": "jane@hooks.test", "name": "Jane Smith"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .call(
            &v.key,
            Method::POST,
            &format!("/api/v1/applications/{id}/review"),
            Some(json!({"action": "approve", "code": "HOOKS20"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.run_jobs().await;

    let text = scrape(&app).await;
    let retried = [("outcome", "retried")];
    assert!(
        sample(&text, "affilia_webhook_deliveries_total", &retried).is_some_and(|n| n >= 1.0),
        "{text}"
    );
    let outbox = [("kind", "webhook_delivery")];
    let pending = sample(&text, "affilia_jobs_pending", &outbox);
    assert!(pending.is_some_and(|n| n >= 1.0), "{text}");
    // Waiting for its retry, not due yet.
    assert_eq!(sample(&text, "affilia_jobs_due", &outbox), Some(0.0));
    // Every outcome is there from the start, at zero or more.
    for outcome in ["succeeded", "failed"] {
        let labels = [("outcome", outcome)];
        assert!(sample(&text, "affilia_webhook_deliveries_total", &labels).is_some());
    }
}
