//! Referral links, clicks, the tracking snippet and the public click API.

use affilia::db::clicks::ClickRow;
use reqwest::Method;
use reqwest::header::{HeaderValue, LOCATION, REFERER, USER_AGENT};
use serde_json::{Value, json};

use crate::helpers::affiliates::{affiliate, set_status};
use crate::helpers::tracking::{BROWSER, aff_sess, click};
use crate::helpers::vendors::{self, patch_program, shop};
use crate::helpers::{TestApp, spawn_app};

#[tokio::test]
async fn a_click_lands_on_the_program_site_with_ref_and_aff_sess() {
    let app = spawn_app().await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/welcome?lang=en").await;
    let jane = affiliate(&app, &shop, "jane@partners.test", "jane").await;

    let res = app
        .client
        .get(app.url("/r/JANE?utm_source=news&utm_medium=email&ref=evil&aff_sess=forged"))
        .header(USER_AGENT, BROWSER)
        .header(REFERER, "https://blog.example.test/post?id=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let location = res.headers()[LOCATION].to_str().unwrap().to_owned();
    let sess = aff_sess(&location);
    assert!(sess.starts_with("clk_") && sess.len() == 30, "{location}");
    assert_eq!(
        location,
        format!(
            "https://shop.acme.test/welcome?lang=en&utm_source=news&utm_medium=email&ref=jane&aff_sess={sess}"
        )
    );
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with(&format!("affilia_ref=jane~{sess};")),
        "{cookie}"
    );
    assert!(cookie.contains("Max-Age=2592000"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");

    app.flush_clicks().await;
    let c: ClickRow = sqlx::query_as("SELECT * FROM clicks")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(c.id, sess);
    assert_eq!(c.affiliate_id, jane);
    assert_eq!(c.code, "jane");
    assert_eq!(c.landing_url, "https://shop.acme.test/welcome?lang=en");
    assert_eq!(
        c.referrer.as_deref(),
        Some("https://blog.example.test/post?id=1")
    );
    assert_eq!(c.user_agent.as_deref(), Some(BROWSER));
    assert_eq!(c.ip_hash.len(), 64);
    assert!(!c.ip_hash.contains("127.0.0.1"));
    assert_eq!(
        (c.is_bot, c.is_duplicate, c.source.as_str()),
        (0, 0, "redirect")
    );

    // A change of the landing page shows at once.
    patch_program(
        &app,
        &shop,
        json!({"landing_url": "https://www.acme.test/"}),
    )
    .await;
    let (status, location) = click(&app, &app.client, "/r/jane").await;
    assert_eq!(status, 302);
    assert!(
        location.starts_with("https://www.acme.test/?ref=jane&aff_sess=clk_"),
        "{location}"
    );
}

#[tokio::test]
async fn bots_and_repeat_clicks_are_recorded_but_not_counted() {
    let app = spawn_app().await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/").await;
    let jane = affiliate(&app, &shop, "jane@partners.test", "jane").await;
    let other = affiliate(&app, &shop, "john@partners.test", "john").await;

    for ua in ["curl/8.5.0", "Mozilla/5.0 (compatible; Googlebot/2.1)"] {
        let res = app
            .client
            .get(app.url("/r/jane"))
            .header(USER_AGENT, ua)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302, "bots are redirected too");
    }
    assert_eq!(click(&app, &app.client, "/r/jane").await.0, 302);
    assert_eq!(click(&app, &app.client, "/r/jane").await.0, 302);
    assert_eq!(click(&app, &app.client, "/r/john").await.0, 302);
    // HEAD (link unfurlers) is answered like GET.
    let head = app.client.head(app.url("/r/jane")).send().await.unwrap();
    assert_eq!(head.status(), 302);

    let res = app
        .api_get(&shop.key, &format!("/api/v1/clicks?affiliate_id={jane}"))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["total"], 5, "{body}");
    let s = &body["summary"];
    assert_eq!(
        (&s["clicks"], &s["bots"], &s["duplicates"], &s["recorded"]),
        (&json!(1), &json!(3), &json!(1), &json!(5)),
        "{s}"
    );
    let days = s["by_day"].as_array().unwrap();
    assert!(days.len() >= 30, "{s}");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let last = days.last().unwrap();
    assert_eq!(last["date"], today);
    assert_eq!(last["clicks"], 1);
    let counted: Vec<&Value> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["counted"] == true)
        .collect();
    assert_eq!(counted.len(), 1);
    assert!(
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["affiliate_id"] == jane.as_str())
    );

    // Periods: explicit dates, bad ones refused.
    let all: Value = app
        .api_get(
            &shop.key,
            &format!("/api/v1/clicks?from={today}&to={today}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["summary"]["clicks"], 2, "{all}");
    assert_eq!(all["summary"]["by_day"].as_array().unwrap().len(), 1);
    let other_clicks: Value = app
        .api_get(&shop.key, &format!("/api/v1/clicks?affiliate_id={other}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(other_clicks["total"], 1);
    for bad in [
        "from=yesterday",
        "from=2026-01-10&to=2026-01-01",
        "from=2020-01-01&to=2026-01-01",
        "page=0",
    ] {
        let res = app
            .api_get(&shop.key, &format!("/api/v1/clicks?{bad}"))
            .await;
        assert_eq!(res.status(), 422, "{bad}");
    }
    let res = app.api_get(&shop.key, "/api/v1/clicks?bogus=1").await;
    assert_eq!(res.status(), 400);

    // Another vendor sees none of them.
    let rival = vendors::shop(&app, "Rival", "https://rival.test/").await;
    let theirs: Value = app
        .api_get(&rival.key, &format!("/api/v1/clicks?affiliate_id={jane}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["total"], 0);
}

#[tokio::test]
async fn inactive_unknown_and_malformed_codes_never_attribute_or_fail() {
    let app = spawn_app().await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/").await;
    let jane = affiliate(&app, &shop, "jane@partners.test", "jane").await;
    set_status(&app, &shop, &jane, "deactivated").await;

    let (status, location) = click(&app, &app.client, "/r/jane?utm_source=x").await;
    assert_eq!(status, 302);
    assert_eq!(location, "https://shop.acme.test/?utm_source=x");

    // A paused program does not attribute either.
    let john = affiliate(&app, &shop, "john@partners.test", "john").await;
    patch_program(&app, &shop, json!({"status": "paused"})).await;
    let (_, location) = click(&app, &app.client, "/r/john").await;
    assert_eq!(location, "https://shop.acme.test/");
    patch_program(&app, &shop, json!({"status": "active"})).await;
    let (_, location) = click(&app, &app.client, "/r/john").await;
    assert!(location.contains("ref=john"), "{location}");
    set_status(&app, &shop, &john, "banned").await;
    let (_, location) = click(&app, &app.client, "/r/john").await;
    assert_eq!(location, "https://shop.acme.test/");

    let long = "a".repeat(500);
    for path in [
        "/r/nobody",
        "/r/ab",
        "/r/%3Cscript%3E",
        "/r/..%2F..%2Fetc",
        "/r/jane%00",
        &format!("/r/{long}"),
        "/r/nobody/some-link",
    ] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        let body = res.text().await.unwrap();
        assert!(body.contains("Link not found"), "{path}: {body}");
    }
    app.flush_clicks().await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM clicks WHERE code = 'jane'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM clicks WHERE code = 'john'")
            .await,
        1
    );
}

#[tokio::test]
async fn on_a_portal_domain_unknown_codes_land_on_the_vendors_site() {
    let app = spawn_app().await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/").await;
    affiliate(&app, &shop, "jane@partners.test", "jane").await;
    affilia::domain::tenancy::vendors::add_portal_domain(
        &app.db,
        &["127.0.0.1".to_owned()],
        &shop.vendor_id,
        "affiliates.acme.test",
        true,
        &affilia::domain::tenancy::audit::Actor::Cli,
    )
    .await
    .unwrap();
    let portal = app.client_for_host("affiliates.acme.test");
    let res = portal
        .get(app.host_url("affiliates.acme.test", "/r/nobody?utm_campaign=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(
        res.headers()[LOCATION],
        "https://shop.acme.test/?utm_campaign=x"
    );
    // Known codes resolve on the portal domain as on the main host.
    let res = portal
        .get(app.host_url("affiliates.acme.test", "/r/jane"))
        .header(USER_AGENT, BROWSER)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let location = res.headers()[LOCATION].to_str().unwrap();
    assert!(
        location.starts_with("https://shop.acme.test/?ref=jane&aff_sess=clk_"),
        "{location}"
    );

    // Without a landing URL the visitor goes to the portal, never elsewhere.
    patch_program(&app, &shop, json!({"landing_url": null})).await;
    let res = portal
        .get(app.host_url("affiliates.acme.test", "/r/nobody"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[LOCATION], "/");
    let (status, location) = click(&app, &app.client, "/r/jane").await;
    assert_eq!(status, 302);
    assert_eq!(location, format!("{}/p/acme/", app.url("")));
}

#[tokio::test]
async fn huge_query_strings_and_hostile_referrers_are_harmless() {
    let app = spawn_app().await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/").await;
    affiliate(&app, &shop, "jane@partners.test", "jane").await;

    let junk = format!("utm_source={}", "x".repeat(6000));
    let (status, location) = click(&app, &app.client, &format!("/r/jane?{junk}")).await;
    assert_eq!(status, 302);
    assert!(
        location.starts_with("https://shop.acme.test/?ref=jane&aff_sess=clk_"),
        "{location}"
    );
    assert!(location.len() < 200);

    // Open-redirect attempts in the query or path go nowhere else.
    for path in [
        "/r/jane?url=https://evil.test/",
        "/r/jane?next=//evil.test",
        "/r/jane/%2F%2Fevil.test",
    ] {
        let (status, location) = click(&app, &app.client, path).await;
        assert_eq!(status, 302, "{path}");
        assert!(
            location.starts_with("https://shop.acme.test/"),
            "{path}: {location}"
        );
    }

    let hostile = format!(
        "https://evil.test/\"><script>alert(1)</script>{}",
        "y".repeat(5000)
    );
    let res = app
        .client
        .get(app.url("/r/jane"))
        .header(USER_AGENT, format!("{BROWSER} {}", "z".repeat(3000)))
        .header(REFERER, &hostile)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let res = app
        .client
        .get(app.url("/r/jane"))
        .header(USER_AGENT, BROWSER)
        .header(
            REFERER,
            HeaderValue::from_bytes(b"https://x.test/\xff\xfe").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    app.flush_clicks().await;
    let lengths: Vec<(Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT CAST(LENGTH(referrer) AS BIGINT), CAST(LENGTH(user_agent) AS BIGINT) FROM clicks \
         ORDER BY created_at, id",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert!(lengths.contains(&(Some(1000), Some(500))), "{lengths:?}");
    assert!(lengths.iter().any(|(r, _)| r.is_none()), "{lengths:?}");
}

#[tokio::test]
async fn first_touch_keeps_the_first_affiliates_session_last_touch_the_latest() {
    let app = spawn_app().await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/").await;
    affiliate(&app, &shop, "jane@partners.test", "jane").await;
    affiliate(&app, &shop, "john@partners.test", "john").await;

    let visitor = crate::helpers::new_client();
    click(&app, &visitor, "/r/jane").await;
    let (_, second) = click(&app, &visitor, "/r/john").await;
    assert!(
        second.contains("ref=john"),
        "last touch by default: {second}"
    );

    patch_program(&app, &shop, json!({"attribution_model": "first_touch"})).await;
    let visitor = crate::helpers::new_client();
    let (_, first) = click(&app, &visitor, "/r/jane").await;
    let (_, second) = click(&app, &visitor, "/r/john").await;
    assert_eq!(
        second,
        format!(
            "https://shop.acme.test/?ref=jane&aff_sess={}",
            aff_sess(&first)
        )
    );
    app.flush_clicks().await;
    // John's click still counts as a click of his.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM clicks WHERE code = 'john'")
            .await,
        2
    );
}

#[tokio::test]
async fn the_snippet_is_served_small_and_cacheable() {
    let app = spawn_app().await;
    let res = app.get("/t.js").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(res.headers()["cache-control"], "public, max-age=3600");
    let body = res.text().await.unwrap();
    assert!(body.contains("getReferral"));
    assert!(body.contains("/api/v1/track"));
    assert!(body.len() < 6000, "{} bytes", body.len());
}

async fn track(
    app: &TestApp,
    origin: Option<&str>,
    body: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = app
        .client
        .post(app.url("/api/v1/track"))
        .header("content-type", "text/plain;charset=UTF-8")
        .header(USER_AGENT, BROWSER)
        .body(body.to_owned());
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_public_click_api_accepts_the_programs_own_pages_only() {
    let app = spawn_app().await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/").await;
    patch_program(&app, &shop, json!({"allowed_domains": ["*.acme.test"]})).await;
    affiliate(&app, &shop, "jane@partners.test", "jane").await;

    let body = r#"{"code":"JANE","url":"https://www.acme.test/pricing?ref=jane","referrer":"https://news.test/"}"#;
    let (status, headers, tracked) = track(&app, Some("https://www.acme.test"), body).await;
    assert_eq!(status, 200, "{tracked}");
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://www.acme.test"
    );
    let click_id = tracked["click_id"].as_str().unwrap().to_owned();
    assert_eq!(tracked["attributed"], true);
    app.flush_clicks().await;
    let (source, landing, referrer): (String, String, Option<String>) =
        sqlx::query_as("SELECT source, landing_url, referrer FROM clicks WHERE id = $1")
            .bind(&click_id)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(source, "snippet");
    assert_eq!(landing, "https://www.acme.test/pricing?ref=jane");
    assert_eq!(referrer.as_deref(), Some("https://news.test/"));

    // A known click id is confirmed rather than duplicated.
    let again =
        format!(r#"{{"code":"jane","url":"https://www.acme.test/","aff_sess":"{click_id}"}}"#);
    let (status, _, tracked) = track(&app, Some("https://www.acme.test"), &again).await;
    assert_eq!(status, 200);
    assert_eq!(tracked["click_id"], click_id.as_str());

    let refusals: [(Option<&str>, &str, u16); 7] = [
        (Some("https://evil.test"), body, 403),
        (None, r#"{"code":"jane","url":"https://evil.test/"}"#, 422),
        (None, r#"{"code":"jane","url":"javascript:alert(1)"}"#, 422),
        (
            None,
            r#"{"code":"<b>","url":"https://www.acme.test/"}"#,
            422,
        ),
        (
            None,
            r#"{"code":"nobody","url":"https://www.acme.test/"}"#,
            404,
        ),
        (
            None,
            r#"{"code":"jane","url":"https://www.acme.test/","aff_sess":"x"}"#,
            422,
        ),
        (None, "{not json", 400),
    ];
    for (origin, body, expected) in refusals {
        let (status, headers, err) = track(&app, origin, body).await;
        assert_eq!(status, expected, "{body}: {err}");
        assert!(err["error"]["code"].is_string(), "{err}");
        assert!(!headers.contains_key("access-control-allow-origin"));
    }
    let (status, _, _) = track(
        &app,
        None,
        &format!(
            r#"{{"code":"jane","url":"https://{}.acme.test/"}}"#,
            "a".repeat(3000)
        ),
    )
    .await;
    assert_eq!(status, 422);

    // Throttled per visitor and code.
    let mut last = 200;
    for _ in 0..25 {
        let (status, headers, _) = track(
            &app,
            None,
            r#"{"code":"jane","url":"https://shop.acme.test/"}"#,
        )
        .await;
        last = status;
        if status == 429 {
            assert!(headers.contains_key("retry-after"));
            break;
        }
    }
    assert_eq!(last, 429);

    // With an API key: the vendor's own codes only; others' are 404.
    let (status, tracked) = app
        .call(
            &shop.key,
            Method::POST,
            "/api/v1/track",
            Some(json!({"code": "jane", "url": "https://anywhere.example/"})),
        )
        .await;
    assert_eq!(status, 200, "{tracked}");
    let rival = vendors::shop(&app, "Rival", "https://rival.test/").await;
    let (status, _) = app
        .call(
            &rival.key,
            Method::POST,
            "/api/v1/track",
            Some(json!({"code": "jane", "url": "https://rival.test/"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .call(
            "affk_wrong",
            Method::POST,
            "/api/v1/track",
            Some(json!({"code": "jane", "url": "https://shop.acme.test/"})),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn cors_preflight_is_answered_for_program_origins_only() {
    let app = spawn_app().await;
    shop(&app, "Acme", "https://shop.acme.test/").await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/api/v1/track"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let res = preflight("https://shop.acme.test").await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://shop.acme.test"
    );
    assert_eq!(res.headers()["access-control-allow-methods"], "POST");
    let res = preflight("https://evil.test").await.unwrap();
    assert_eq!(res.status(), 204);
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn clicks_queued_at_a_graceful_shutdown_are_written() {
    let app = spawn_app().await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/").await;
    affiliate(&app, &shop, "jane@partners.test", "jane").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_affilia"))
        .args(["serve", "--no-worker"])
        .env("DATABASE_URL", &app.database_url)
        .env("AFFILIA_SECRET_KEY", &app.secret_hex)
        .env("AFFILIA_BIND", format!("127.0.0.1:{port}"))
        .env("AFFILIA_BASE_URL", &base)
        .env("AFFILIA_DATA_DIR", std::env::temp_dir())
        .env("AFFILIA_HTTP_WORKERS", "1")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = crate::helpers::new_client();
    let mut ready = false;
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "affilia serve did not start");
    for _ in 0..50 {
        let res = client
            .get(format!("{base}/r/jane"))
            .header(USER_AGENT, BROWSER)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302);
    }
    let pid = child.id().unwrap().to_string();
    let status = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM clicks").await, 50);
}
