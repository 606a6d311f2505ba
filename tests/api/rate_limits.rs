//! API rate limits (seed 004): headers on every answer, 429 with Retry-After past the
//! budget (and nothing done), separate read and write budgets, vendor overrides, the
//! installation defaults, and one shared budget across instances on PostgreSQL.

use affilia::config::{DEFAULT_API_RATE_LIMIT_READ, DEFAULT_API_RATE_LIMIT_WRITE};
use affilia::db::DbKind;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::helpers::pages::page;
use crate::helpers::vendors::vendor;
use crate::helpers::{OWNER_PASSWORD, TestApp, second_instance, spawn_app, spawn_app_with};

/// Waits out the last seconds of a minute so a test's requests fall in one window (the
/// counters are fixed one-minute windows).
async fn fresh_window() {
    let secs = affilia::db::now_ms() / 1000;
    if secs % 60 >= 45 {
        let wait = 60 - secs % 60;
        tokio::time::sleep(std::time::Duration::from_secs(wait as u64 + 1)).await;
    }
}

fn header(h: &HeaderMap, name: &str) -> i64 {
    h.get(name)
        .unwrap_or_else(|| panic!("{name} missing from {h:?}"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn send(
    app: &TestApp,
    key: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, HeaderMap, Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_answer_carries_the_headers_and_the_budget_ends_in_429() {
    let app = spawn_app_with(|s| {
        s.api_rate_limit_read = 4;
        s.api_rate_limit_write = 2;
    })
    .await;
    let acme = vendor(&app, "Acme").await;
    fresh_window().await;
    let now = affilia::db::now_ms() / 1000;

    let (status, h, _) = send(&app, Some(&acme.key), Method::GET, "/api/v1/vendor", None).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "x-ratelimit-limit"), 4);
    assert_eq!(header(&h, "x-ratelimit-remaining"), 3);
    let reset = header(&h, "x-ratelimit-reset");
    assert!(reset > now && reset <= now + 60, "{reset} vs {now}");

    let (status, h, _) = send(
        &app,
        Some(&acme.key),
        Method::GET,
        "/api/v1/affiliates/aff_nope",
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(header(&h, "x-ratelimit-remaining"), 2);
    let (status, h, _) = send(
        &app,
        Some(&acme.key),
        Method::GET,
        "/api/v1/no-such-route",
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(header(&h, "x-ratelimit-remaining"), 1);

    // No or a wrong credential: counted per client IP, headers all the same.
    let (status, h, _) = send(&app, None, Method::GET, "/api/v1/vendor", None).await;
    assert_eq!(status, 401);
    assert_eq!(header(&h, "x-ratelimit-limit"), 4);
    assert_eq!(header(&h, "x-ratelimit-remaining"), 3);
    let wrong = format!("afk_{}", "0".repeat(48));
    let (status, h, _) = send(&app, Some(&wrong), Method::GET, "/api/v1/vendor", None).await;
    assert_eq!(status, 401);
    assert_eq!(header(&h, "x-ratelimit-remaining"), 2, "same IP bucket");

    // Writes have their own budget: two affiliates are created, the third call is 429
    // and creates nothing.
    for i in 0..2 {
        let (status, h, body) = send(
            &app,
            Some(&acme.key),
            Method::POST,
            "/api/v1/affiliates",
            Some(
                json!({"email": format!("a{i}@partners.test"), "name": "A", "send_invite": false}),
            ),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(header(&h, "x-ratelimit-limit"), 2);
        assert_eq!(header(&h, "x-ratelimit-remaining"), 1 - i);
    }
    let (status, h, body) = send(
        &app,
        Some(&acme.key),
        Method::POST,
        "/api/v1/affiliates",
        Some(json!({"email": "a2@partners.test", "name": "A", "send_invite": false})),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    let retry = header(&h, "retry-after");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(header(&h, "x-ratelimit-remaining"), 0);
    assert_eq!(header(&h, "x-ratelimit-limit"), 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliates").await, 2);

    // The read budget is separate: one read left, then 429 for reads too.
    let (status, _, _) = send(&app, Some(&acme.key), Method::GET, "/api/v1/vendor", None).await;
    assert_eq!(status, 200);
    let (status, h, body) = send(&app, Some(&acme.key), Method::GET, "/api/v1/vendor", None).await;
    assert_eq!(status, 429, "{body}");
    assert!(h.contains_key("retry-after"));

    // Another key of the same vendor has budgets of its own.
    let other = app
        .api_key(&acme.id, affilia::domain::tenancy::api_keys::Scope::Read)
        .await;
    let (status, _, _) = send(&app, Some(&other), Method::GET, "/api/v1/vendor", None).await;
    assert_eq!(status, 200);

    // SQLite keeps the counters in the process; PostgreSQL in the shared table.
    let stored = app.count("SELECT COUNT(*) FROM rate_limit_counters").await;
    match app.db.kind() {
        DbKind::Postgres => assert!(stored > 0),
        DbKind::Sqlite => assert_eq!(stored, 0),
    }
}

#[tokio::test]
async fn the_defaults_are_120_reads_and_30_writes_a_minute() {
    let app = spawn_app_with(|s| {
        s.api_rate_limit_read = DEFAULT_API_RATE_LIMIT_READ;
        s.api_rate_limit_write = DEFAULT_API_RATE_LIMIT_WRITE;
    })
    .await;
    assert_eq!(
        (DEFAULT_API_RATE_LIMIT_READ, DEFAULT_API_RATE_LIMIT_WRITE),
        (120, 30)
    );
    let acme = vendor(&app, "Acme").await;
    let (_, h, _) = send(&app, Some(&acme.key), Method::GET, "/api/v1/vendor", None).await;
    assert_eq!(header(&h, "x-ratelimit-limit"), 120);
    let (_, h, _) = send(
        &app,
        Some(&acme.key),
        Method::POST,
        "/api/v1/affiliates",
        Some(json!({"email": "a@partners.test", "name": "A", "send_invite": false})),
    )
    .await;
    assert_eq!(header(&h, "x-ratelimit-limit"), 30);
    let (_, h, _) = send(
        &app,
        Some(&acme.key),
        Method::DELETE,
        "/api/v1/api-keys/key_nope",
        None,
    )
    .await;
    assert_eq!(
        header(&h, "x-ratelimit-limit"),
        30,
        "DELETE spends the write budget"
    );
}

#[tokio::test]
async fn a_vendor_sets_its_own_limits_through_the_api_and_the_dashboard() {
    let app = spawn_app().await;
    let acme = vendor(&app, "Acme").await;
    fresh_window().await;

    let (status, _, body) = send(
        &app,
        Some(&acme.key),
        Method::PATCH,
        "/api/v1/vendor",
        Some(json!({"rate_limit_read_per_minute": 3})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rate_limit_read_per_minute"], 3);
    assert_eq!(body["rate_limit_write_per_minute"], Value::Null);
    let (status, h, body) = send(&app, Some(&acme.key), Method::GET, "/api/v1/vendor", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["rate_limit_read_per_minute"], 3);
    assert_eq!(header(&h, "x-ratelimit-limit"), 3);
    assert_eq!(header(&h, "x-ratelimit-remaining"), 2);
    let (_, h, _) = send(
        &app,
        Some(&acme.key),
        Method::POST,
        "/api/v1/affiliates",
        Some(json!({"email": "a@partners.test", "name": "A", "send_invite": false})),
    )
    .await;
    assert_eq!(
        header(&h, "x-ratelimit-limit"),
        1_000_000,
        "writes keep the default"
    );

    // Out of range or the wrong type: refused, nothing changed.
    let (status, _, body) = send(
        &app,
        Some(&acme.key),
        Method::PATCH,
        "/api/v1/vendor",
        Some(json!({"rate_limit_write_per_minute": 0, "primary_color": "#000000"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "rate_limit_write_per_minute");
    let (status, _, body) = send(
        &app,
        Some(&acme.key),
        Method::PATCH,
        "/api/v1/vendor",
        Some(json!({"rate_limit_write_per_minute": "many"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = send(&app, Some(&acme.key), Method::GET, "/api/v1/vendor", None).await;
    assert_eq!(status, 200);
    assert_ne!(body["primary_color"], "#000000");

    // The dashboard form: empty = default.
    let staff = app.signed_in_client(&acme.owner, OWNER_PASSWORD).await;
    let (_, html) = page(&app, &staff, "/dashboard/developers").await;
    assert!(
        html.contains(r#"name="rate_limit_read_per_minute" inputmode="numeric" value="3""#),
        "{html}"
    );
    let res = app
        .post_form_as(
            &staff,
            "/dashboard/developers/rate-limits",
            "/dashboard/developers",
            &[
                ("rate_limit_read_per_minute", ""),
                ("rate_limit_write_per_minute", "7"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let (_, h, _) = send(
        &app,
        Some(&acme.key),
        Method::POST,
        "/api/v1/affiliates",
        Some(json!({"email": "b@partners.test", "name": "B", "send_invite": false})),
    )
    .await;
    assert_eq!(header(&h, "x-ratelimit-limit"), 7);
    let res = app
        .post_form_as(
            &staff,
            "/dashboard/developers/rate-limits",
            "/dashboard/developers",
            &[
                ("rate_limit_read_per_minute", "lots"),
                ("rate_limit_write_per_minute", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'vendor.rate_limits_updated'")
            .await,
        2
    );
}

#[tokio::test]
async fn two_instances_on_postgresql_share_one_budget() {
    let app = spawn_app().await;
    if app.db.kind() != DbKind::Postgres {
        // On SQLite one process owns the database file: there is no second instance to
        // share with (README, "Rate limits").
        return;
    }
    let other = second_instance(&app).await;
    let acme = vendor(&app, "Acme").await;
    fresh_window().await;
    let (status, _, _) = send(
        &app,
        Some(&acme.key),
        Method::PATCH,
        "/api/v1/vendor",
        Some(json!({"rate_limit_read_per_minute": 4})),
    )
    .await;
    assert_eq!(status, 200);
    let mut remaining = Vec::new();
    for (i, instance) in [&app, &other, &app, &other].into_iter().enumerate() {
        let (status, h, _) = send(
            instance,
            Some(&acme.key),
            Method::GET,
            "/api/v1/vendor",
            None,
        )
        .await;
        assert_eq!(status, 200, "request {i}");
        remaining.push(header(&h, "x-ratelimit-remaining"));
    }
    assert_eq!(remaining, vec![3, 2, 1, 0]);
    let (status, h, body) =
        send(&other, Some(&acme.key), Method::GET, "/api/v1/vendor", None).await;
    assert_eq!(status, 429, "{body}");
    assert!(h.contains_key("retry-after"));
    let (status, _, _) = send(&app, Some(&acme.key), Method::GET, "/api/v1/vendor", None).await;
    assert_eq!(status, 429);
}

/// On PostgreSQL the counters live in an UNLOGGED table (their commits wait for no WAL
/// flush: README, "Rate limits"), and concurrent requests on two instances still count
/// exactly: 60 at once against a budget of 50 let exactly 50 through.
#[tokio::test]
async fn postgresql_counters_are_unlogged_and_exact_under_concurrency() {
    let app = spawn_app().await;
    if app.db.kind() != DbKind::Postgres {
        return;
    }
    let (persistence,): (String,) = sqlx::query_as(
        "SELECT CAST(relpersistence AS TEXT) FROM pg_class WHERE relname = 'rate_limit_counters'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(persistence, "u");
    // Migrating again (a restart, another instance) leaves it so.
    app.db.migrate().await.unwrap();

    let other = second_instance(&app).await;
    let acme = vendor(&app, "Acme").await;
    fresh_window().await;
    let (status, _, _) = send(
        &app,
        Some(&acme.key),
        Method::PATCH,
        "/api/v1/vendor",
        Some(json!({"rate_limit_read_per_minute": 50})),
    )
    .await;
    assert_eq!(status, 200);
    let answers = futures_util::future::join_all((0..60).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &other };
        send(
            instance,
            Some(&acme.key),
            Method::GET,
            "/api/v1/vendor",
            None,
        )
    }))
    .await;
    let ok = answers.iter().filter(|(s, _, _)| *s == 200).count();
    let limited = answers.iter().filter(|(s, _, _)| *s == 429).count();
    assert_eq!((ok, limited), (50, 10));
}
