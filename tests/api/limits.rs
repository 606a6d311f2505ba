//! Limits (issue 21, "Hostile input"): every oversized request is a 4xx with the error
//! envelope and changes nothing — JSON bodies, nesting depth, field lengths, list sizes,
//! uploads, webhook and MCP bodies, dashboard forms, query strings — and the security
//! headers and cookie flags of a plain-http installation.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::vendors::{Vendor, vendor};
use crate::helpers::{TestApp, spawn_app};

async fn affiliates(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM affiliates").await
}

/// Status and envelope of a raw request.
async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn assert_envelope(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], want_code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

async fn setup() -> (TestApp, Vendor) {
    let app = spawn_app().await;
    let v = vendor(&app, "limits").await;
    (app, v)
}

#[tokio::test]
async fn a_json_body_over_one_mib_is_413_and_creates_nothing() {
    let (app, v) = setup().await;
    let before = affiliates(&app).await;
    let c = reqwest::Client::new();
    let big = json!({"email": "big@partners.test", "name": "x".repeat(1024 * 1024)});
    let (s, b) = send(
        c.post(app.url("/api/v1/affiliates"))
            .bearer_auth(&v.key)
            .json(&big),
    )
    .await;
    assert_envelope(s, &b, 413, "payload_too_large");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("1 MiB"),
        "{b}"
    );
    // Just under the limit is read (and then judged on its fields).
    let (s, b) = app
        .call(
            &v.key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "ok@partners.test", "name": "x".repeat(1000 * 1000)})),
        )
        .await;
    assert_envelope(s, &b, 422, "invalid");
    assert_eq!(affiliates(&app).await, before);
}

#[tokio::test]
async fn json_nested_deeper_than_32_levels_is_400() {
    let (app, v) = setup().await;
    let before = affiliates(&app).await;
    let nested = |depth: usize| {
        let mut value = json!(1);
        for _ in 0..depth {
            value = json!({"a": [value]});
        }
        value
    };
    // 16 objects each holding an array: 32 levels inside `metadata`'s own object.
    let (s, b) = app
        .call(
            &v.key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "deep@partners.test", "metadata": nested(20)})),
        )
        .await;
    assert_envelope(s, &b, 400, "bad_request");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("32 levels"),
        "{b}"
    );
    // Deeper than serde_json's own limit: the same answer, not a parser error.
    let raw = format!(
        "{{\"email\":\"d@p.test\",\"metadata\":{}1{}}}",
        "[".repeat(500),
        "]".repeat(500)
    );
    let (s, b) = send(
        reqwest::Client::new()
            .post(app.url("/api/v1/affiliates"))
            .bearer_auth(&v.key)
            .header("content-type", "application/json")
            .body(raw),
    )
    .await;
    assert_envelope(s, &b, 400, "bad_request");
    // Brackets inside strings do not count.
    let (s, b) = app
        .call(&v.key, Method::POST, "/api/v1/affiliates", Some(json!({"email": "flat@partners.test", "metadata": {"note": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}})))
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(affiliates(&app).await, before + 1);
}

#[tokio::test]
async fn over_long_fields_are_422_naming_the_field() {
    let (app, v) = setup().await;
    let before = affiliates(&app).await;
    for (body, field) in [
        (
            json!({"email": "a@partners.test", "name": "n".repeat(121)}),
            "name",
        ),
        (
            json!({"email": format!("{}@partners.test", "e".repeat(300))}),
            "email",
        ),
        (
            json!({"email": "a@partners.test", "website": format!("https://{}.test/", "w".repeat(2000))}),
            "website",
        ),
        (
            json!({"email": "a@partners.test", "company": "c".repeat(201)}),
            "company",
        ),
        (
            json!({"email": "a@partners.test", "metadata": {"k": "m".repeat(17 * 1024)}}),
            "metadata",
        ),
    ] {
        let (s, b) = app
            .call(
                &v.key,
                Method::POST,
                "/api/v1/affiliates",
                Some(body.clone()),
            )
            .await;
        assert_envelope(s, &b, 422, "invalid");
        assert_eq!(b["error"]["field"], field, "{body} → {b}");
    }
    assert_eq!(affiliates(&app).await, before);
    let path = format!("/api/v1/programs/{}", v.program_id);
    for (body, field) in [
        (json!({"name": "p".repeat(121)}), "name"),
        (json!({"terms_text": "t".repeat(20_001)}), "terms_text"),
        (
            json!({"landing_url": format!("https://{}.test/", "l".repeat(2000))}),
            "landing_url",
        ),
    ] {
        let (s, b) = app
            .call(&v.key, Method::PATCH, &path, Some(body.clone()))
            .await;
        assert_envelope(s, &b, 422, "invalid");
        assert_eq!(b["error"]["field"], field, "{body} → {b}");
    }
}

#[tokio::test]
async fn over_long_lists_are_422_naming_the_list() {
    let (app, v) = setup().await;
    let path = format!("/api/v1/programs/{}", v.program_id);
    let domains: Vec<String> = (0..21).map(|i| format!("d{i}.acme.test")).collect();
    let steps = |n: i64| -> Vec<Value> {
        (1..=n)
            .map(|i| json!({"min_conversions": i, "bps": 100}))
            .collect()
    };
    let levels =
        |n: i64| -> Vec<Value> { (1..=n).map(|i| json!({"level": i, "bps": 10})).collect() };
    for (body, field) in [
        (json!({"allowed_domains": domains}), "allowed_domains"),
        (
            json!({"commission": {"type": "tiered", "bps": 100, "tiers": steps(21)}}),
            "commission.tiers",
        ),
        (
            json!({"commission": {"type": "percentage", "bps": 100, "multi_level": levels(21)}}),
            "commission.multi_level",
        ),
    ] {
        let (s, b) = app
            .call(&v.key, Method::PATCH, &path, Some(body.clone()))
            .await;
        assert_envelope(s, &b, 422, "invalid");
        assert_eq!(b["error"]["field"], field, "{body} → {b}");
    }
    let origins: Vec<String> = (0..21)
        .map(|i| format!("https://app{i}.acme.test"))
        .collect();
    let hosts: Vec<String> = (0..11).map(|i| format!("p{i}.acme.test")).collect();
    for (body, field) in [
        (json!({"embed_origins": origins}), "embed_origins"),
        (json!({"portal_domains": hosts}), "portal_domains"),
    ] {
        let (s, b) = app
            .call(&v.key, Method::PATCH, "/api/v1/vendor", Some(body.clone()))
            .await;
        assert_envelope(s, &b, 422, "invalid");
        assert_eq!(b["error"]["field"], field, "{body} → {b}");
    }
    // Pages are capped, not refused: per_page above 100 gives 100.
    let (s, b) = app
        .call(
            &v.key,
            Method::GET,
            "/api/v1/affiliates?per_page=100000",
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["per_page"], 100);
}

#[tokio::test]
async fn query_strings_over_8_kib_are_414_everywhere_but_referral_links() {
    let (app, v) = setup().await;
    let c = reqwest::Client::new();
    let long = "a".repeat(8 * 1024 + 1);
    let (s, b) = send(
        c.get(app.url(&format!("/api/v1/affiliates?x={long}")))
            .bearer_auth(&v.key),
    )
    .await;
    assert_envelope(s, &b, 414, "uri_too_long");
    // At the limit it is read (and the unknown parameter ignored).
    let ok = "a".repeat(8 * 1024 - 2);
    let (s, b) = send(
        c.get(app.url(&format!("/api/v1/affiliates?x={ok}")))
            .bearer_auth(&v.key),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // HTML surfaces answer with an error page.
    let res = c
        .get(app.url(&format!("/login?x={long}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 414);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("That address is too long")
    );
}

#[tokio::test]
async fn uploads_webhooks_mcp_and_forms_over_their_limits_are_refused() {
    let (app, v) = setup().await;
    let c = reqwest::Client::new();
    // Logo: 512 KiB, a 422 on the field (a logo too large is a wrong value of `logo`).
    let (s, b) = send(
        c.put(app.url("/api/v1/vendor/logo"))
            .bearer_auth(&v.key)
            .header("content-type", "image/png")
            .body(vec![0x89u8; 512 * 1024 + 1]),
    )
    .await;
    assert_envelope(s, &b, 422, "invalid");
    assert_eq!(b["error"]["field"], "logo");
    // Stripe webhooks: 1 MiB, nothing stored.
    let events = app.count("SELECT COUNT(*) FROM billing_events").await;
    let (s, b) = send(
        c.post(app.url(&format!("/webhooks/stripe/{}", v.program_id)))
            .header("stripe-signature", "t=1,v1=00")
            .body(vec![b'{'; 1024 * 1024 + 1]),
    )
    .await;
    assert_envelope(s, &b, 413, "payload_too_large");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM billing_events").await,
        events
    );
    // MCP: 1 MiB (after the credential is checked).
    let (s, b) = send(
        c.post(app.url("/mcp"))
            .bearer_auth(&v.key)
            .header("content-type", "application/json")
            .body(vec![b' '; 1024 * 1024 + 1]),
    )
    .await;
    assert_envelope(s, &b, 413, "payload_too_large");
    // Dashboard forms: 256 KiB, an error page.
    let res = c
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email=a&password={}", "x".repeat(256 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 413);
    assert!(res.text().await.unwrap().contains("That is too large"));
}

#[tokio::test]
async fn security_headers_and_cookie_flags_on_plain_http() {
    let app = spawn_app().await;
    let v = vendor(&app, "headers").await;
    let c = reqwest::Client::new();
    let pages = [
        c.get(app.url("/login")).send().await.unwrap(),
        c.get(app.url("/api/v1/affiliates"))
            .bearer_auth(&v.key)
            .send()
            .await
            .unwrap(),
        c.get(app.url("/api/v1/affiliates")).send().await.unwrap(),
    ];
    for res in &pages {
        let h = res.headers();
        let get = |n: &str| {
            h.get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        assert!(
            get("content-security-policy").contains("default-src 'self'"),
            "{h:?}"
        );
        assert!(
            get("content-security-policy").contains("script-src 'self'"),
            "{h:?}"
        );
        assert!(
            get("content-security-policy").contains("frame-ancestors 'none'"),
            "{h:?}"
        );
        assert_eq!(get("x-frame-options"), "DENY");
        assert_eq!(get("x-content-type-options"), "nosniff");
        assert_eq!(get("referrer-policy"), "strict-origin-when-cross-origin");
        assert_eq!(get("cross-origin-opener-policy"), "same-origin");
        // HSTS only for an https base URL; this installation is plain http.
        assert!(h.get("strict-transport-security").is_none(), "{h:?}");
    }
    // The session cookie: HttpOnly, SameSite=Lax, not Secure on plain http (a Secure cookie
    // would never come back over http), scoped to the whole site.
    let cookie = pages[0]
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("affilia_session="))
        .expect("a session cookie on the sign-in page")
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    // The API never sets a cookie.
    assert!(pages[1].headers().get("set-cookie").is_none());
}

/// A write that waits for SQLite's write lock longer than the busy timeout (another writer
/// holds it: a long job, a backup) is a 503 with `Retry-After` and the `busy` envelope on
/// the API, and a page saying to try again on the dashboard — not a 500 — and it changed
/// nothing; once the lock is free the same request succeeds.
#[tokio::test]
async fn a_write_blocked_past_the_busy_timeout_is_a_503_to_retry() {
    let app = spawn_app().await;
    if app.db.kind() != affilia::db::DbKind::Sqlite {
        return; // PostgreSQL writers wait on row locks, not on one database lock.
    }
    let v = vendor(&app, "Busy").await;
    // Another writer holds the database's write lock (the busy timeout is 10 s).
    let mut holder = app.db.pool().acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let body = json!({"email": "late@partners.test", "name": "Late"});
    let res = app
        .client
        .post(app.url("/api/v1/affiliates"))
        .bearer_auth(&v.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 503);
    assert_eq!(
        res.headers()
            .get("retry-after")
            .and_then(|h| h.to_str().ok()),
        Some("5")
    );
    let envelope: Value = res.json().await.unwrap();
    assert_eq!(envelope["error"]["code"], "busy", "{envelope}");
    sqlx::query("ROLLBACK").execute(&mut *holder).await.unwrap();
    drop(holder);
    assert_eq!(
        affiliates(&app).await,
        0,
        "the refused request changed nothing"
    );
    let (status, created) = app
        .call(&v.key, Method::POST, "/api/v1/affiliates", Some(body))
        .await;
    assert_eq!(status, 201, "{created}");
}
