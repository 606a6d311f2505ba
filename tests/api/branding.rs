//! Vendor branding, portal domains, origins and the logo: API, portal, dashboard page,
//! emails and the click API's CORS.

use affilia::domain::tenancy::api_keys::Scope;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::affiliates::affiliate;
use crate::helpers::pages::page;
use crate::helpers::tracking::BROWSER;
use crate::helpers::vendors::{self, vendor};
use crate::helpers::{OWNER_PASSWORD, TestApp, csrf_from, spawn_app};

/// A 1×1 transparent PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

const HOSTILE_SVG: &str = r##"<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY x "boom">]>
<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)" viewBox="0 0 10 10">
  <script>alert(2)</script>
  <foreignObject><body xmlns="http://www.w3.org/1999/xhtml"><iframe src="https://evil.test/"/></body></foreignObject>
  <rect width="10" height="10" fill="#e11d48" onclick="alert(3)" style="fill:url(https://evil.test/a)"/>
  <use href="https://evil.test/sprite.svg#a"/>
  <text>&x;Acme</text>
</svg>"##;

async fn get_vendor(app: &TestApp, key: &str) -> Value {
    let (status, v) = app.call(key, Method::GET, "/api/v1/vendor", None).await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn patch(app: &TestApp, key: &str, body: Value) -> (u16, Value) {
    app.call(key, Method::PATCH, "/api/v1/vendor", Some(body))
        .await
}

async fn put_logo(app: &TestApp, key: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let res = app
        .client
        .put(app.url("/api/v1/vendor/logo"))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The path and query of an absolute URL on the test server.
fn path_of(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    }
}

#[tokio::test]
async fn branding_get_and_patch_round_trip_with_patch_semantics() {
    let app = spawn_app().await;
    let acme = vendor(&app, "Acme").await;

    let v = get_vendor(&app, &acme.key).await;
    assert_eq!(v["id"], acme.id.as_str());
    assert_eq!(v["name"], "Acme");
    assert_eq!(v["slug"], "acme");
    assert_eq!(v["default_currency"], "USD");
    assert_eq!(v["portal_name"], Value::Null);
    assert_eq!(v["display_name"], "Acme");
    assert_eq!(v["primary_color"], "#4f46e5");
    assert_eq!(v["support_email"], Value::Null);
    assert_eq!(v["logo_url"], Value::Null);
    assert_eq!(v["portal_url"], app.url("/p/acme/").as_str());
    assert_eq!(v["portal_domains"], json!([]));
    assert_eq!(v["embed_origins"], json!([]));
    assert_eq!(v["site_origins"], json!([]));
    assert!(v["created_at"].as_str().unwrap().ends_with('Z'));

    let (status, v) = patch(
        &app,
        &acme.key,
        json!({
            "portal_name": "  Acme Partners ",
            "primary_color": "#E11D48",
            "support_email": "partners@acme.test",
            "portal_domains": ["Affiliates.Acme.test"],
            "embed_origins": ["HTTPS://App.Acme.test:443/", "http://localhost:3000"],
            "site_origins": ["https://www.acme.test", "https://www.acme.test"],
        }),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["portal_name"], "Acme Partners");
    assert_eq!(v["display_name"], "Acme Partners");
    assert_eq!(v["name"], "Acme", "the vendor name stays");
    assert_eq!(v["primary_color"], "#e11d48");
    assert_eq!(v["support_email"], "partners@acme.test");
    assert_eq!(v["portal_domains"][0]["host"], "affiliates.acme.test");
    assert_eq!(
        v["embed_origins"],
        json!(["https://app.acme.test", "http://localhost:3000"])
    );
    assert_eq!(v["site_origins"], json!(["https://www.acme.test"]));
    // A pending domain is not the portal's URL yet; once verified it is.
    assert_eq!(v["portal_url"], app.url("/p/acme/").as_str());
    assert_eq!(get_vendor(&app, &acme.key).await, v);
    app.verify_domain(&acme.id, "affiliates.acme.test").await;
    assert_eq!(
        get_vendor(&app, &acme.key).await["portal_url"],
        app.host_url("affiliates.acme.test", "/").as_str()
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'vendor.settings_updated'")
            .await,
        1
    );
    let (details,): (String,) =
        sqlx::query_as("SELECT details FROM audit_log WHERE action = 'vendor.settings_updated'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    let details: Value = serde_json::from_str(&details).unwrap();
    assert_eq!(details["before"]["portal_name"], Value::Null);
    assert_eq!(details["after"]["portal_name"], "Acme Partners");

    // Absent fields stay; null clears the portal name and the support email.
    let (status, v) = patch(&app, &acme.key, json!({"primary_color": "#000000"})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["portal_name"], "Acme Partners");
    assert_eq!(v["portal_domains"][0]["host"], "affiliates.acme.test");
    let (status, v) = patch(
        &app,
        &acme.key,
        json!({"portal_name": null, "support_email": null, "embed_origins": []}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["portal_name"], Value::Null);
    assert_eq!(v["display_name"], "Acme");
    assert_eq!(v["support_email"], Value::Null);
    assert_eq!(v["embed_origins"], json!([]));
    assert_eq!(v["site_origins"], json!(["https://www.acme.test"]));
    assert_eq!(v["primary_color"], "#000000");
    // An empty body changes nothing and records nothing.
    let (status, _) = patch(&app, &acme.key, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'vendor.settings_updated'")
            .await,
        3
    );
}

#[tokio::test]
async fn invalid_settings_are_refused_naming_the_field_and_nothing_changes() {
    let app = spawn_app().await;
    let acme = vendor(&app, "Acme").await;
    let (status, _) = patch(
        &app,
        &acme.key,
        json!({"portal_name": "Acme Partners", "portal_domains": ["partners.acme.test"]}),
    )
    .await;
    assert_eq!(status, 200);
    let before = get_vendor(&app, &acme.key).await;

    let eleven: Vec<String> = (0..11).map(|i| format!("p{i}.acme.test")).collect();
    let twenty_one: Vec<String> = (0..21).map(|i| format!("https://s{i}.acme.test")).collect();
    let cases = [
        (json!({"portal_name": "x".repeat(81)}), "portal_name"),
        (json!({"portal_name": "a\u{7}b"}), "portal_name"),
        (json!({"primary_color": "red"}), "primary_color"),
        (json!({"primary_color": "#fff"}), "primary_color"),
        (json!({"support_email": "not an email"}), "support_email"),
        (json!({"portal_domains": ["not a host"]}), "portal_domains"),
        (
            json!({"portal_domains": ["a.acme.test", "A.acme.test"]}),
            "portal_domains",
        ),
        (json!({"portal_domains": ["127.0.0.1"]}), "portal_domains"),
        (json!({"portal_domains": eleven}), "portal_domains"),
        (json!({"embed_origins": ["*"]}), "embed_origins"),
        (
            json!({"embed_origins": ["https://*.acme.test"]}),
            "embed_origins",
        ),
        (
            json!({"embed_origins": ["https://app.acme.test/path"]}),
            "embed_origins",
        ),
        (json!({"embed_origins": ["app.acme.test"]}), "embed_origins"),
        (
            json!({"site_origins": ["https://u:p@acme.test"]}),
            "site_origins",
        ),
        (
            json!({"site_origins": ["https://acme.test?x=1"]}),
            "site_origins",
        ),
        (
            json!({"site_origins": ["javascript:alert(1)"]}),
            "site_origins",
        ),
        (json!({"site_origins": twenty_one}), "site_origins"),
        (json!({"payout_methods": ["cheque"]}), "payout_methods"),
        (json!({"payout_methods": []}), "payout_methods"),
        (json!({"payout_methods": [""]}), "payout_methods"),
        (json!({"payout_methods": [" paypal"]}), "payout_methods"),
        (
            json!({"payout_methods": ["wise", "paypal", "wise"]}),
            "payout_methods",
        ),
    ];
    for (body, field) in cases {
        // Valid fields beside the invalid one are not applied either.
        let mut body = body;
        if field != "portal_name" {
            body["portal_name"] = json!("Changed");
        }
        let (status, err) = patch(&app, &acme.key, body.clone()).await;
        assert_eq!(status, 422, "{body}: {err}");
        assert_eq!(err["error"]["code"], "invalid", "{err}");
        assert_eq!(err["error"]["field"], field, "{body}: {err}");
        assert_eq!(get_vendor(&app, &acme.key).await, before, "{body}");
    }

    // Unknown fields (the vendor name among them) and wrong types are malformed: 400.
    for body in [
        json!({"name": "Renamed"}),
        json!({"portal_name": "x", "logo": "x"}),
        json!({"portal_domains": "one.acme.test"}),
        json!({"primary_color": 5}),
        json!({"payout_methods": "paypal"}),
    ] {
        let (status, err) = patch(&app, &acme.key, body.clone()).await;
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(err["error"]["code"], "bad_request");
    }
    let res = app
        .client
        .patch(app.url("/api/v1/vendor"))
        .bearer_auth(&acme.key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(get_vendor(&app, &acme.key).await, before);

    // Only full-scope keys change settings; read and write keys may look.
    for scope in [Scope::Read, Scope::Write] {
        let key = app.api_key(&acme.id, scope).await;
        let (status, err) = patch(&app, &key, json!({"portal_name": "Nope"})).await;
        assert_eq!(status, 403, "{err}");
        assert_eq!(err["error"]["code"], "forbidden");
        let (status, _) = put_logo(&app, &key, "image/png", PNG.to_vec()).await;
        assert_eq!(status, 403);
        let (status, _) = app
            .call(&key, Method::DELETE, "/api/v1/vendor/logo", None)
            .await;
        assert_eq!(status, 403);
        assert_eq!(get_vendor(&app, &key).await, before);
    }
    let (status, _) = app
        .call(
            "affk_wrong",
            Method::PATCH,
            "/api/v1/vendor",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn portal_domains_route_the_portal_and_a_taken_domain_is_a_conflict() {
    let app = spawn_app().await;
    let acme = vendor(&app, "Acme").await;
    let beta = vendor(&app, "Beta").await;
    let (status, v) = patch(
        &app,
        &acme.key,
        json!({"portal_domains": ["affiliates.acme.test", "partners.acme.test"]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    // Pending until verified (the operator path here; domain_verification.rs covers DNS).
    assert_eq!(v["portal_domains"][0]["verified"], false);
    app.verify_domain(&acme.id, "affiliates.acme.test").await;
    app.verify_domain(&acme.id, "partners.acme.test").await;

    let on = |host: &'static str, path: &'static str| {
        let client = app.client_for_host(host);
        let url = app.host_url(host, path);
        async move { client.get(url).send().await.unwrap() }
    };
    let res = on("affiliates.acme.test", "/").await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Acme"));
    assert_eq!(on("partners.acme.test", "/").await.status(), 200);

    // Another vendor cannot take it; nothing of Beta's changes.
    let (status, err) = patch(
        &app,
        &beta.key,
        json!({"portal_name": "Beta Partners", "portal_domains": ["beta.test.example", "Partners.Acme.test"]}),
    )
    .await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "duplicate");
    assert_eq!(err["error"]["field"], "portal_domains");
    let b = get_vendor(&app, &beta.key).await;
    assert_eq!(b["portal_domains"], json!([]));
    assert_eq!(b["portal_name"], Value::Null);

    // Seen once, then the list changes: the kept domain keeps its record, the dropped one
    // stops answering at once.
    assert_eq!(on("affiliates.acme.test", "/").await.status(), 200);
    let seen_before = get_vendor(&app, &acme.key).await["portal_domains"][0].clone();
    assert_eq!(seen_before["host"], "affiliates.acme.test");
    assert!(seen_before["last_seen_at"].is_string(), "{seen_before}");
    let (status, v) = patch(
        &app,
        &acme.key,
        json!({"portal_domains": ["affiliates.acme.test", "new.acme.test"]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["portal_domains"][0], seen_before);
    assert_eq!(v["portal_domains"][1]["host"], "new.acme.test");
    assert_eq!(on("partners.acme.test", "/").await.status(), 404);
    assert_eq!(on("new.acme.test", "/").await.status(), 404, "pending");
    app.verify_domain(&acme.id, "new.acme.test").await;
    assert_eq!(on("new.acme.test", "/").await.status(), 200);

    // Now free, Beta may have it.
    let (status, b) = patch(
        &app,
        &beta.key,
        json!({"portal_domains": ["partners.acme.test"]}),
    )
    .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(
        on("partners.acme.test", "/").await.status(),
        404,
        "a new claim is pending"
    );
    app.verify_domain(&beta.id, "partners.acme.test").await;
    let res = on("partners.acme.test", "/").await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("Beta") && !body.contains("Acme"), "{body}");
    // Removing every domain: the portal is back on /p/{slug}/ only.
    let (status, v) = patch(&app, &acme.key, json!({"portal_domains": []})).await;
    assert_eq!(status, 200);
    assert_eq!(v["portal_url"], app.url("/p/acme/").as_str());
    assert_eq!(on("affiliates.acme.test", "/").await.status(), 404);
}

#[tokio::test]
async fn dns_records_and_last_requests_are_shown_in_the_api_and_the_dashboard() {
    let app = spawn_app().await;
    let acme = vendor(&app, "Acme").await;
    let (status, v) = patch(
        &app,
        &acme.key,
        json!({"portal_domains": ["affiliates.acme.test"]}),
    )
    .await;
    assert_eq!(status, 200);
    let d = &v["portal_domains"][0];
    assert_eq!(
        d["dns"],
        json!({"type": "CNAME", "name": "affiliates.acme.test", "value": "127.0.0.1"})
    );
    assert!(d["created_at"].is_string());
    assert_eq!(d["last_seen_at"], Value::Null);
    app.verify_domain(&acme.id, "affiliates.acme.test").await;

    let owner = app.signed_in_client(&acme.owner, OWNER_PASSWORD).await;
    let page = owner
        .get(app.url("/dashboard/settings"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<code>affiliates.acme.test</code>"), "{page}");
    assert!(page.contains("<code>127.0.0.1</code>"));
    assert!(page.contains("no request seen yet"), "{page}");
    assert!(page.contains("check the DNS record"));

    let res = app
        .client_for_host("affiliates.acme.test")
        .get(app.host_url("affiliates.acme.test", "/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v = get_vendor(&app, &acme.key).await;
    let seen = v["portal_domains"][0]["last_seen_at"].as_str().unwrap();
    assert!(seen.ends_with('Z'), "{seen}");
    let page = owner
        .get(app.url("/dashboard/settings"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("last request just now"), "{page}");
    assert!(!page.contains("no request seen yet"));
}

#[tokio::test]
async fn a_png_logo_is_stored_and_served_with_cache_and_safety_headers() {
    let app = spawn_app().await;
    let acme = vendor(&app, "Acme").await;
    let (status, v) = patch(
        &app,
        &acme.key,
        json!({"portal_domains": ["affiliates.acme.test"]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    app.verify_domain(&acme.id, "affiliates.acme.test").await;
    // No logo yet.
    assert_eq!(app.get("/p/acme/logo").await.status(), 404);

    let (status, v) = put_logo(&app, &acme.key, "image/png", PNG.to_vec()).await;
    assert_eq!(status, 200, "{v}");
    let logo_url = v["logo_url"].as_str().unwrap().to_owned();
    assert!(
        logo_url.starts_with(&app.url("/p/acme/logo?v=")),
        "{logo_url}"
    );
    let res = app.get(&path_of(&logo_url)).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);

    // Without (or with an old) version: short caching.
    for path in ["/p/acme/logo", "/p/acme/logo?v=1", "/p/acme/logo?v=x"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "public, max-age=60");
    }
    // On the vendor's own domain at /logo.
    let res = app
        .client_for_host("affiliates.acme.test")
        .get(app.host_url(
            "affiliates.acme.test",
            &path_of(&logo_url).replace("/p/acme", ""),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);

    // A new upload gets a new version.
    let (status, v2) = put_logo(&app, &acme.key, "image/png", PNG.to_vec()).await;
    assert_eq!(status, 200);
    assert_ne!(v2["logo_url"], v["logo_url"]);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'vendor.logo_updated'")
            .await,
        2
    );
}

#[tokio::test]
async fn hostile_and_unusable_logos_are_sanitised_or_refused() {
    let app = spawn_app().await;
    let acme = vendor(&app, "Acme").await;

    let (status, v) = put_logo(
        &app,
        &acme.key,
        "image/svg+xml",
        HOSTILE_SVG.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let res = app.get(&path_of(v["logo_url"].as_str().unwrap())).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "image/svg+xml");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(
        h["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    );
    let svg = res.text().await.unwrap();
    for bad in [
        "script",
        "onload",
        "onclick",
        "foreignObject",
        "iframe",
        "evil",
        "DOCTYPE",
        "ENTITY",
        "boom",
        "alert",
    ] {
        assert!(!svg.contains(bad), "{bad} in {svg}");
    }
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(
        svg.contains(r##"<rect width="10" height="10" fill="#e11d48"/>"##),
        "{svg}"
    );
    assert!(svg.contains("<text>Acme</text>"), "{svg}");
    let stored_url = v["logo_url"].clone();

    // Refused: other formats, a lying content type, HTML, garbage, too large.
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04".to_vec();
    let mut big = PNG.to_vec();
    big.resize(600 * 1024, 0);
    let refusals: Vec<(&str, Vec<u8>)> = vec![
        ("image/gif", gif.clone()),
        ("image/png", gif),
        ("image/jpeg", PNG.to_vec()),
        ("text/html", b"<html><body>hi</body></html>".to_vec()),
        ("image/svg+xml", b"<html><svg/></html>".to_vec()),
        ("image/svg+xml", b"<svg><g></svg>".to_vec()),
        ("application/octet-stream", b"garbage".to_vec()),
        ("image/png", big),
    ];
    for (ct, body) in refusals {
        let (status, err) = put_logo(&app, &acme.key, ct, body).await;
        assert_eq!(status, 422, "{ct}: {err}");
        assert_eq!(err["error"]["field"], "logo", "{ct}: {err}");
        assert_eq!(get_vendor(&app, &acme.key).await["logo_url"], stored_url);
    }
    let (_, err) = put_logo(&app, &acme.key, "image/gif", b"GIF89a....".to_vec()).await;
    assert_eq!(
        err["error"]["message"],
        "the logo must be a PNG, JPEG or SVG image"
    );

    // Delete: 204, then 404 and no logo anywhere.
    let (status, _) = app
        .call(&acme.key, Method::DELETE, "/api/v1/vendor/logo", None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(get_vendor(&app, &acme.key).await["logo_url"], Value::Null);
    assert_eq!(app.get("/p/acme/logo").await.status(), 404);
    let (status, err) = app
        .call(&acme.key, Method::DELETE, "/api/v1/vendor/logo", None)
        .await;
    assert_eq!(status, 404, "{err}");
}

/// A multipart body with the CSRF token first and one file.
fn multipart(token: Option<&str>, file_type: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----affiliaTestBoundary7MA4YWxk";
    let mut body = Vec::new();
    if let Some(token) = token {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"logo\"; filename=\"logo\"\r\nContent-Type: {file_type}\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(
    app: &TestApp,
    client: &reqwest::Client,
    token: Option<&str>,
    file_type: &str,
    file: &[u8],
) -> reqwest::Response {
    let (ct, body) = multipart(token, file_type, file);
    client
        .post(app.url("/dashboard/settings/logo"))
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_dashboard_settings_page_saves_validates_and_uploads_the_logo() {
    let app = spawn_app().await;
    let acme = vendor(&app, "Acme").await;
    let owner = app.signed_in_client(&acme.owner, OWNER_PASSWORD).await;

    let html = page(&app, &owner, "/dashboard/settings").await.1;
    assert!(html.contains("href=\"/dashboard/settings\""), "nav link");
    assert!(
        html.contains("name=\"primary_color\" value=\"#4f46e5\""),
        "{html}"
    );
    assert!(html.contains("No logo yet"));

    let fields = [
        ("portal_name", "Acme Partners"),
        ("primary_color", "#E11D48"),
        ("support_email", "partners@acme.test"),
        (
            "portal_domains",
            "affiliates.acme.test\r\npartners.acme.test\r\n",
        ),
        ("embed_origins", "https://app.acme.test\r\n"),
        ("site_origins", "https://www.acme.test"),
    ];
    let res = app
        .post_form_as(
            &owner,
            "/dashboard/settings",
            "/dashboard/settings",
            &fields,
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/dashboard/settings?saved=settings"
    );
    let v = get_vendor(&app, &acme.key).await;
    assert_eq!(v["portal_name"], "Acme Partners");
    assert_eq!(v["primary_color"], "#e11d48");
    assert_eq!(v["support_email"], "partners@acme.test");
    assert_eq!(v["portal_domains"].as_array().unwrap().len(), 2);
    assert_eq!(v["embed_origins"], json!(["https://app.acme.test"]));
    assert_eq!(v["site_origins"], json!(["https://www.acme.test"]));
    let html = page(&app, &owner, "/dashboard/settings").await.1;
    assert!(html.contains("value=\"Acme Partners\""));
    assert!(
        html.contains("affiliates.acme.test\npartners.acme.test"),
        "{html}"
    );

    // A wrong value: the page says what is wrong, keeps what was typed, changes nothing.
    let res = app
        .post_form_as(
            &owner,
            "/dashboard/settings",
            "/dashboard/settings",
            &[
                ("portal_name", "Renamed"),
                ("primary_color", "#e11d48"),
                ("support_email", ""),
                ("portal_domains", "affiliates.acme.test"),
                ("embed_origins", "https://*.acme.test"),
                ("site_origins", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("alert-error"), "{html}");
    assert!(html.contains("wildcards are not allowed"), "{html}");
    assert!(html.contains("value=\"Renamed\""));
    assert!(
        html.contains(
            "name=\"embed_origins\" rows=\"3\" spellcheck=\"false\" aria-invalid=\"true\""
        )
    );
    assert_eq!(get_vendor(&app, &acme.key).await, v);

    // Logo upload (multipart, CSRF token in the form), preview, removal.
    let token = csrf_from(&page(&app, &owner, "/dashboard/settings").await.1);
    let res = upload(&app, &owner, Some(&token), "image/png", PNG).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/dashboard/settings?saved=logo");
    let v = get_vendor(&app, &acme.key).await;
    let logo_path = path_of(v["logo_url"].as_str().unwrap());
    let html = page(&app, &owner, "/dashboard/settings").await.1;
    assert!(
        html.contains(&format!("<img src=\"{logo_path}\"")),
        "{html}"
    );
    assert!(html.contains("Remove logo"));
    // Without the token, or with a wrong one: refused before anything is read.
    let res = upload(&app, &owner, None, "image/png", PNG).await;
    assert_eq!(res.status(), 403);
    let res = upload(&app, &owner, Some(&"0".repeat(64)), "image/png", PNG).await;
    assert_eq!(res.status(), 403);
    // An unusable file: the page explains, the logo stays.
    let res = upload(&app, &owner, Some(&token), "image/gif", b"GIF89a......").await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("must be a PNG, JPEG or SVG image")
    );
    assert_eq!(get_vendor(&app, &acme.key).await["logo_url"], v["logo_url"]);
    let res = app
        .post_form_as(
            &owner,
            "/dashboard/settings/logo/delete",
            "/dashboard/settings",
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(get_vendor(&app, &acme.key).await["logo_url"], Value::Null);
}

#[tokio::test]
async fn a_viewer_sees_the_settings_but_cannot_change_them() {
    let app = spawn_app().await;
    let acme = vendor(&app, "Acme").await;
    let hash = affilia::domain::tenancy::password::hash(OWNER_PASSWORD.into())
        .await
        .unwrap();
    affilia::db::users::insert(
        app.db.pool(),
        &acme.id,
        "viewer@acme.test",
        "",
        &hash,
        "viewer",
    )
    .await
    .unwrap();
    let viewer = app
        .signed_in_client("viewer@acme.test", OWNER_PASSWORD)
        .await;
    let before = get_vendor(&app, &acme.key).await;

    let html = page(&app, &viewer, "/dashboard/settings").await.1;
    assert!(
        html.contains("can view these settings but not change them"),
        "{html}"
    );
    assert!(!html.contains("Save settings"));
    assert!(!html.contains("Upload logo"));

    let res = app
        .post_form_as(
            &viewer,
            "/dashboard/settings",
            "/dashboard/settings",
            &[("portal_name", "Hijacked"), ("primary_color", "#000000")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let token = csrf_from(&page(&app, &viewer, "/dashboard/settings").await.1);
    let res = upload(&app, &viewer, Some(&token), "image/png", PNG).await;
    assert_eq!(res.status(), 403);
    let res = app
        .post_form_as(
            &viewer,
            "/dashboard/settings/logo/delete",
            "/dashboard/settings",
            &[],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(get_vendor(&app, &acme.key).await, before);
}

#[tokio::test]
async fn emails_carry_the_portal_name_and_logo() {
    let app = spawn_app().await;
    let acme = vendor(&app, "Acme").await;
    let (status, _) = patch(
        &app,
        &acme.key,
        json!({"portal_name": "Acme Partners", "primary_color": "#e11d48"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, v) = put_logo(&app, &acme.key, "image/png", PNG.to_vec()).await;
    assert_eq!(status, 200);
    let logo_url = v["logo_url"].as_str().unwrap().to_owned();

    let (status, a) = app
        .call(
            &acme.key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "jane@partners.test", "name": "Jane"})),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    let (from_name, text, html): (String, String, String) = sqlx::query_as(
        "SELECT from_name, body_text, body_html FROM email_outbox WHERE to_email = 'jane@partners.test'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(from_name, "Acme Partners");
    assert!(text.contains("\nAcme Partners\n"), "{text}");
    assert!(html.contains(&format!("<img src=\"{logo_url}\"")), "{html}");
    assert!(html.contains("alt=\"Acme Partners\""));
    assert!(html.contains("#e11d48"));
    assert!(html.contains("Acme Partners"));
}

#[tokio::test]
async fn the_click_api_allows_the_vendors_site_origins() {
    let app = spawn_app().await;
    let shop = vendors::shop(&app, "Acme", "https://shop.acme.test/").await;
    affiliate(&app, &shop, "jane@partners.test", "jane").await;
    let rival = vendors::shop(&app, "Rival", "https://rival.test/").await;
    let (status, _) = patch(
        &app,
        &rival.key,
        json!({"site_origins": ["https://app.rival.test"]}),
    )
    .await;
    assert_eq!(status, 200);

    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/api/v1/track"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let track = |origin: &'static str, url: &'static str| {
        app.client
            .post(app.url("/api/v1/track"))
            .header("content-type", "text/plain;charset=UTF-8")
            .header("user-agent", BROWSER)
            .header("origin", origin)
            .body(format!(r#"{{"code":"jane","url":"{url}"}}"#))
            .send()
    };
    // Before the vendor lists it, the app origin is refused (and the refusal is cached).
    let res = preflight("https://app.acme.test").await.unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    let res = track("https://app.acme.test", "https://app.acme.test/welcome")
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let (status, _) = patch(
        &app,
        &shop.key,
        json!({"site_origins": ["https://App.Acme.test"]}),
    )
    .await;
    assert_eq!(status, 200);
    let res = preflight("https://app.acme.test").await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.acme.test"
    );
    let res = track(
        "https://app.acme.test",
        "https://app.acme.test/welcome?ref=jane",
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.acme.test"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["attributed"], true);
    // The program's own domain still works.
    let res = track("https://shop.acme.test", "https://shop.acme.test/")
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Another vendor's site origin passes the preflight (it is some vendor's), but never
    // reports clicks for Acme's codes.
    let res = preflight("https://app.rival.test").await.unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.rival.test"
    );
    let res = track("https://app.rival.test", "https://app.rival.test/")
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    let res = preflight("https://evil.test").await.unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn another_vendors_key_never_sees_or_changes_this_vendor() {
    let app = spawn_app().await;
    let acme = vendor(&app, "Acme").await;
    let beta = vendor(&app, "Beta").await;
    let (status, _) = patch(
        &app,
        &acme.key,
        json!({"portal_name": "Acme Partners", "portal_domains": ["affiliates.acme.test"], "site_origins": ["https://app.acme.test"]}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = put_logo(&app, &acme.key, "image/png", PNG.to_vec()).await;
    assert_eq!(status, 200);
    let acme_before = get_vendor(&app, &acme.key).await;

    let b = get_vendor(&app, &beta.key).await;
    assert_eq!(b["id"], beta.id.as_str());
    assert_eq!(b["portal_domains"], json!([]));
    assert_eq!(b["logo_url"], Value::Null);
    let b_text = b.to_string();
    assert!(
        !b_text.contains("acme") && !b_text.contains("Acme"),
        "{b_text}"
    );

    let (status, _) = patch(
        &app,
        &beta.key,
        json!({"portal_name": "Beta Partners", "site_origins": ["https://app.beta.test"]}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .call(&beta.key, Method::DELETE, "/api/v1/vendor/logo", None)
        .await;
    assert_eq!(status, 404, "Beta has no logo; Acme's is not touched");
    let (status, _) = put_logo(&app, &beta.key, "image/png", PNG.to_vec()).await;
    assert_eq!(status, 200);
    assert_eq!(get_vendor(&app, &acme.key).await, acme_before);
    // Each vendor's logo under its own slug.
    assert_eq!(app.get("/p/acme/logo").await.status(), 200);
    assert_eq!(app.get("/p/beta/logo").await.status(), 200);
    // Acme's domain serves Acme's logo, never Beta's (and /p/beta/ is not reachable there).
    let res = app
        .client_for_host("affiliates.acme.test")
        .get(app.host_url("affiliates.acme.test", "/p/beta/logo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn the_payout_methods_offered_are_read_and_set_through_the_api() {
    let app = spawn_app().await;
    let acme = vendors::shop(&app, "Acme", "https://shop.acme.test/").await;
    let all = json!([
        "paypal",
        "wise",
        "bank_transfer",
        "stripe_connect",
        "crypto"
    ]);
    assert_eq!(get_vendor(&app, &acme.key).await["payout_methods"], all);

    // `null` leaves the choice as it is.
    let (status, v) = patch(&app, &acme.key, json!({"payout_methods": null})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["payout_methods"], all);

    // Order does not matter; the answer lists them in the usual order.
    let (status, v) = patch(
        &app,
        &acme.key,
        json!({"payout_methods": ["wise", "paypal"]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["payout_methods"], json!(["paypal", "wise"]));
    assert_eq!(
        get_vendor(&app, &acme.key).await["payout_methods"],
        json!(["paypal", "wise"])
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE vendor_id = '{}' \
             AND action = 'vendor.payout_methods_changed'",
            acme.vendor_id
        ))
        .await,
        1
    );

    // An affiliate can no longer choose a method that is not offered.
    let aff = affiliate(&app, &acme, "jane@example.com", "jane").await;
    let (status, body) = app
        .call(
            &acme.key,
            Method::POST,
            &format!("/api/v1/affiliates/{aff}/token"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let (status, err) = app
        .call(
            &token,
            Method::PUT,
            "/api/v1/me/payout-settings",
            Some(json!({"payout_method": "crypto", "payout_details": "BTC bc1qexampleaddress"})),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["field"], "payout_method");

    // Another vendor's settings are untouched.
    let beta = vendors::shop(&app, "Beta", "https://shop.beta.test/").await;
    assert_eq!(get_vendor(&app, &beta.key).await["payout_methods"], all);
}
