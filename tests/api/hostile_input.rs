//! Hostile input (issue 21): cross-site form posts, session fixation, open redirects, SSRF
//! through webhook URLs, and script or markup written into every field a vendor or an
//! affiliate can set, checked in the dashboard, the portal, the embeds, emails and CSV
//! exports.

use reqwest::{Client, Method};
use serde_json::json;

use crate::helpers::vendors::shop;
use crate::helpers::{OWNER_PASSWORD, csrf_from, new_client, spawn_app, spawn_app_with};

/// Markup that runs if it ever reaches a page unescaped.
const XSS: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'><svg onload=alert(3)>";

/// Fails when `html` holds any active part of [`XSS`] as markup.
fn assert_inert(what: &str, html: &str) {
    for raw in [
        "<script>alert(1)",
        "<img src=x onerror",
        "<svg onload",
        "\"'><",
    ] {
        assert!(!html.contains(raw), "{what} holds {raw:?} unescaped");
    }
}

/// How often the payload appears as text (askama writes `<` as `&#60;`).
fn shown_escaped(html: &str) -> usize {
    html.matches("&#60;script&#62;alert(1)").count()
        + html.matches("&lt;script&gt;alert(1)").count()
}

async fn get(client: &Client, url: &str) -> (u16, String) {
    let res = client.get(url).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn cross_site_posts_without_the_sessions_token_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://shop.acme.test/").await;
    let staff = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    let before = app.count("SELECT COUNT(*) FROM affiliates").await;
    let form = [("email", "mallory@partners.test"), ("name", "Mallory")];
    // No token (a form on another site), a token of another session, a forged header.
    let other = new_client();
    let foreign = csrf_from(&get(&other, &app.url("/login")).await.1);
    for token in [None, Some(foreign.as_str()), Some("0".repeat(64).as_str())] {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        if let Some(t) = token {
            fields.push(("csrf_token", t));
        }
        let res = staff
            .post(app.url("/dashboard/affiliates"))
            .header("origin", "https://evil.test")
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "token {token:?}");
        let res = staff
            .post(app.url("/dashboard/affiliates"))
            .header("x-csrf-token", token.unwrap_or(""))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "header {token:?}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliates").await, before);
    // The portal: a signed-in affiliate's profile cannot be changed cross-site either.
    let jane = crate::helpers::affiliates::affiliate(&app, &s, "jane@partners.test", "jane").await;
    let (_, link) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/affiliates/{jane}/portal-link"),
            None,
        )
        .await;
    let browser = new_client();
    assert_eq!(
        browser
            .get(link["url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
    let res = browser
        .post(app.url("/p/acme/payout-settings"))
        .form(&[
            ("payout_method", "paypal"),
            ("payout_email", "mallory@evil.test"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM affiliates WHERE payout_email = 'mallory@evil.test'")
            .await,
        0
    );
}

#[tokio::test]
async fn signing_in_issues_a_new_session_so_a_planted_cookie_stays_anonymous() {
    let app = spawn_app().await;
    let _s = shop(&app, "Acme", "https://shop.acme.test/").await;
    // The attacker fetches the sign-in page and plants its cookie in the victim's browser.
    let res = new_client().get(app.url("/login")).send().await.unwrap();
    let planted = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("affilia_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .expect("a session cookie");
    let token = csrf_from(&res.text().await.unwrap());
    let victim = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = victim
        .post(app.url("/login"))
        .header("cookie", format!("affilia_session={planted}"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "owner@acme.test"),
            ("password", OWNER_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/dashboard");
    let issued = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("affilia_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .expect("sign-in sets a new session cookie");
    assert_ne!(issued, planted);
    // The victim is signed in with the new cookie; the attacker's copy is not.
    let with = |cookie: &str| {
        victim
            .get(app.url("/dashboard"))
            .header("cookie", format!("affilia_session={cookie}"))
            .send()
    };
    assert_eq!(with(&issued).await.unwrap().status(), 200);
    let res = with(&planted).await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/login"), "{}", location(&res));
}

#[tokio::test]
async fn redirects_stay_on_the_site_or_the_programs_hosts() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://shop.acme.test/").await;
    crate::helpers::affiliates::affiliate(&app, &s, "jane@partners.test", "jane").await;
    // Sign-in `next`: only same-site paths.
    for (next, want) in [
        ("https://evil.test/", "/dashboard"),
        ("//evil.test/x", "/dashboard"),
        ("/\\evil.test", "/dashboard"),
        ("/%5Cevil.test", "/%5Cevil.test"),
        ("javascript:alert(1)", "/dashboard"),
        ("/ /evil.test", "/dashboard"),
        ("/\t/evil.test", "/dashboard"),
        ("/dashboard/affiliates", "/dashboard/affiliates"),
    ] {
        let browser = new_client();
        let res = app
            .post_form_as(
                &browser,
                "/login",
                "/login",
                &[
                    ("email", "owner@acme.test"),
                    ("password", OWNER_PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{next}");
        assert_eq!(location(&res), want, "next={next}");
    }
    // `/r/{code}`: whatever the visitor appends, only to the program's landing host.
    let browser = new_client();
    for query in [
        "url=https://evil.test/",
        "redirect=//evil.test&next=https://evil.test",
        "destination=https%3A%2F%2Fevil.test",
        "@evil.test",
    ] {
        let res = browser
            .get(app.url(&format!("/r/jane?{query}")))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_redirection(), "{query}");
        let to = url::Url::parse(&location(&res)).unwrap();
        assert_eq!(to.host_str(), Some("shop.acme.test"), "{query} → {to}");
    }
    // A code that is itself a URL names no link.
    let res = browser
        .get(app.url("/r/https:%2F%2Fevil.test"))
        .send()
        .await
        .unwrap();
    assert!(!location(&res).contains("evil.test"));
}

#[tokio::test]
async fn webhook_urls_to_private_addresses_are_refused_unless_allowed() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://shop.acme.test/").await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "http://0.0.0.0/hook",
        "http://2130706433/hook",
        "http://0x7f.1/hook",
        "file:///etc/passwd",
        "gopher://127.0.0.1:25/",
    ] {
        let (status, body) = app
            .call(
                &s.key,
                Method::POST,
                "/api/v1/webhook-endpoints",
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(body["error"]["field"], "url", "{url}: {body}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM webhook_endpoints").await, 0);
    // The explicit development setting lets a local receiver in.
    let dev = spawn_app_with(|s| s.allow_private_webhook_urls = true).await;
    let d = shop(&dev, "Acme", "https://shop.acme.test/").await;
    let (status, body) = dev
        .call(
            &d.key,
            Method::POST,
            "/api/v1/webhook-endpoints",
            Some(json!({"url": "http://127.0.0.1:9/hook"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// Writes [`XSS`] into every field the vendor and the affiliate can set, then reads every
/// surface that shows them.
#[tokio::test]
async fn script_and_markup_in_every_field_are_shown_only_escaped() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://shop.acme.test/").await;
    let formula = "=HYPERLINK(\"http://evil.test\",\"click\")";
    // Vendor side: vendor and portal names, program name and description, terms text.
    // The vendor's name is chosen at setup (no API field changes it): written directly.
    sqlx::query("UPDATE vendors SET name = $1 WHERE id = $2")
        .bind(format!("Acme {XSS}"))
        .bind(&s.vendor_id)
        .execute(app.db.pool())
        .await
        .unwrap();
    let (st, b) = app
        .call(
            &s.key,
            Method::PATCH,
            "/api/v1/vendor",
            Some(json!({"portal_name": format!("P {XSS}")})),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = app
        .call(
            &s.key,
            Method::PATCH,
            &format!("/api/v1/programs/{}", s.program_id),
            Some(json!({"name": format!("Program {XSS}"), "terms_text": format!("Terms {XSS}")})),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    // An affiliate with hostile name, company, website and metadata (invited: an email).
    let (st, a) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({
                "email": "jane@partners.test",
                "name": format!("{formula}{XSS}"),
                "company": format!("Co {XSS}"),
                "website": "https://jane.test/?q=<script>alert(1)</script>",
                "metadata": {"note": XSS},
                "code": "jane",
            })),
        )
        .await;
    assert_eq!(st, 201, "{a}");
    let jane = a["id"].as_str().unwrap().to_owned();
    crate::helpers::affiliates::set_status(&app, &s, &jane, "active").await;
    // Affiliate side: a link and a deal with hostile text, through the self-service API.
    let (_, t) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/affiliates/{jane}/token"),
            None,
        )
        .await;
    let token = t["token"].as_str().unwrap().to_owned();
    let (st, b) = app
        .call(
            &token,
            Method::POST,
            "/api/v1/me/links",
            Some(json!({"name": format!("Link {XSS}"), "sub_id": "s<b>1"})),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let (st, b) = app
        .call(
            &token,
            Method::POST,
            "/api/v1/me/deals",
            Some(json!({"lead_email": "lead@corp.test", "lead_name": format!("Lead {XSS}"), "company": format!("Corp {XSS}"), "notes": format!("Notes {XSS}")})),
        )
        .await;
    assert_eq!(st, 201, "{b}");

    // The dashboard.
    let staff = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    let mut escaped_seen = 0;
    for path in [
        "/dashboard".to_owned(),
        "/dashboard/affiliates".to_owned(),
        format!("/dashboard/affiliates/{jane}"),
        "/dashboard/deals".to_owned(),
        "/dashboard/programs".to_owned(),
        format!("/dashboard/programs/{}", s.program_id),
        "/dashboard/settings".to_owned(),
        "/dashboard/audit".to_owned(),
    ] {
        let (status, html) = get(&staff, &app.url(&path)).await;
        if status == 404 {
            continue;
        }
        assert_eq!(status, 200, "{path}");
        assert_inert(&path, &html);
        escaped_seen += shown_escaped(&html);
    }
    assert!(
        escaped_seen >= 8,
        "the payloads are shown (escaped) on the dashboard"
    );

    // The portal, signed in through a portal link, and its public pages.
    let (_, link) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/affiliates/{jane}/portal-link"),
            None,
        )
        .await;
    let browser = new_client();
    assert_eq!(
        browser
            .get(link["url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
    let mut portal_seen = 0;
    let visitor = new_client();
    for (path, who) in [
        ("/p/acme/", &browser),
        ("/p/acme/links", &browser),
        ("/p/acme/deals", &browser),
        ("/p/acme/profile", &browser),
        ("/p/acme/payouts", &browser),
        ("/p/acme/apply", &visitor),
        ("/p/acme/login", &visitor),
    ] {
        let (status, html) = get(who, &app.url(path)).await;
        assert_eq!(status, 200, "{path}");
        assert_inert(path, &html);
        portal_seen += shown_escaped(&html);
    }
    assert!(
        portal_seen >= 3,
        "the payloads are shown (escaped) in the portal"
    );
    // The embeds.
    for surface in ["dashboard", "links", "payouts"] {
        let (status, html) = get(
            &new_client(),
            &app.url(&format!("/embed/{surface}?token={token}")),
        )
        .await;
        assert_eq!(status, 200, "{surface}");
        assert_inert(surface, &html);
    }
    // The API answers JSON (the text as written, never rendered as HTML).
    let res = app
        .client
        .get(app.url(&format!("/api/v1/affiliates/{jane}")))
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");

    // Emails: every HTML body escaped (the invitation names the vendor and the affiliate).
    let bodies: Vec<(String, String)> = sqlx::query_as("SELECT kind, body_html FROM email_outbox")
        .fetch_all(app.db.pool())
        .await
        .unwrap();
    assert!(!bodies.is_empty());
    for (kind, html) in &bodies {
        assert_inert(&format!("email {kind}"), html);
    }

    // CSV exports: a cell never starts a formula.
    let (status, csv) = get(&staff, &app.url("/dashboard/affiliates?format=csv")).await;
    assert_eq!(status, 200);
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    for line in csv.lines() {
        for cell in line.split(',') {
            let cell = cell.trim_start_matches('"');
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{line}"
            );
        }
    }
}
