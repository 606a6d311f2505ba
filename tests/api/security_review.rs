//! The security review's findings (issue 21), each with its test: server-side session
//! revocation (dashboard and portal), the apply form and magic-link forms answering alike,
//! security headers and cookie flags, `affiliate_id` on `/me` routes, slow request bodies,
//! website URL rules and JPEG logo headers.

use std::sync::Arc;

use reqwest::Client;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{COOKIE, HeaderMap, HeaderValue};
use reqwest::redirect::Policy;

use crate::cli::{affilia, stderr};
use crate::helpers::affiliates::affiliate;
use crate::helpers::pages::one;
use crate::helpers::vendors::{shop, vendor};
use crate::helpers::{OWNER_PASSWORD, TestApp, csrf_from, spawn_app};

/// A browser whose cookie can be copied, as an attacker who read it would.
struct Browser {
    client: Client,
    jar: Arc<Jar>,
}

impl Browser {
    fn new() -> Self {
        let jar = Arc::new(Jar::default());
        let client = Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .unwrap();
        Self { client, jar }
    }

    /// A second client that sends this browser's cookie as it is now, and never updates it.
    fn copy(&self, app: &TestApp) -> Client {
        let url = url::Url::parse(&app.url("/")).unwrap();
        let cookie = self.jar.cookies(&url).expect("a session cookie");
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_bytes(cookie.as_bytes()).unwrap());
        Client::builder()
            .default_headers(headers)
            .redirect(Policy::none())
            .build()
            .unwrap()
    }
}

/// GETs a page with `client` and returns its CSRF token.
async fn csrf_of(app: &TestApp, client: &Client, path: &str) -> String {
    let res = client.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), 200, "GET {path}");
    csrf_from(&res.text().await.unwrap())
}

/// POSTs a form: (status, Location).
async fn post(
    app: &TestApp,
    client: &Client,
    path: &str,
    csrf: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let mut form = vec![("csrf_token", csrf)];
    form.extend_from_slice(fields);
    let res = client.post(app.url(path)).form(&form).send().await.unwrap();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (res.status().as_u16(), location)
}

/// Signs a browser in to the dashboard with the owner's password.
async fn staff_browser(app: &TestApp, email: &str, password: &str) -> Browser {
    let b = Browser::new();
    let csrf = csrf_of(app, &b.client, "/login").await;
    let (status, _) = post(
        app,
        &b.client,
        "/login",
        &csrf,
        &[("email", email), ("password", password)],
    )
    .await;
    assert_eq!(status, 303, "sign-in of {email}");
    b
}

async fn dashboard_status(app: &TestApp, client: &Client) -> u16 {
    client
        .get(app.url("/dashboard"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn portal_name(app: &TestApp, vendor_id: &str) -> String {
    one(
        app,
        "SELECT COALESCE(portal_name, '') FROM vendors WHERE id = $1",
        vendor_id,
    )
    .await
}

/// Changes the vendor's portal name with `client` through the settings form.
async fn rename_portal(app: &TestApp, client: &Client, csrf: &str, name: &str) -> (u16, String) {
    post(
        app,
        client,
        "/dashboard/settings",
        csrf,
        &[("portal_name", name), ("primary_color", "#112233")],
    )
    .await
}

#[tokio::test]
async fn a_copied_dashboard_cookie_dies_with_sign_out_but_other_devices_stay() {
    let app = spawn_app().await;
    let v = vendor(&app, "Acme").await;
    let laptop = staff_browser(&app, &v.owner, OWNER_PASSWORD).await;
    let phone = staff_browser(&app, &v.owner, OWNER_PASSWORD).await;
    let csrf = csrf_of(&app, &laptop.client, "/dashboard/settings").await;
    let stolen = laptop.copy(&app);

    // The copy works while the laptop is signed in (so the refusal below is the sign-out).
    let (status, _) = rename_portal(&app, &stolen, &csrf, "Before").await;
    assert_eq!(status, 303);
    assert_eq!(portal_name(&app, &v.id).await, "Before");

    let (status, location) = post(&app, &laptop.client, "/logout", &csrf, &[]).await;
    assert_eq!((status, location.as_str()), (303, "/login"));
    let (status, location) = rename_portal(&app, &stolen, &csrf, "Hijacked").await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/login"), "{location}");
    assert_eq!(portal_name(&app, &v.id).await, "Before");
    assert_eq!(dashboard_status(&app, &stolen).await, 303);
    // Only that browser signed out: the phone is still in.
    assert_eq!(dashboard_status(&app, &phone.client).await, 200);
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_and_keeps_this_one() {
    let app = spawn_app().await;
    let v = vendor(&app, "Acme").await;
    let laptop = staff_browser(&app, &v.owner, OWNER_PASSWORD).await;
    let phone = staff_browser(&app, &v.owner, OWNER_PASSWORD).await;
    let csrf_phone = csrf_of(&app, &phone.client, "/dashboard/settings").await;
    let stolen_laptop = laptop.copy(&app);

    let csrf = csrf_of(&app, &laptop.client, "/dashboard/account").await;
    let (status, _) = post(
        &app,
        &laptop.client,
        "/dashboard/account/password",
        &csrf,
        &[
            ("current_password", OWNER_PASSWORD),
            ("new_password", "a brand new passphrase"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(dashboard_status(&app, &laptop.client).await, 200);
    assert_eq!(dashboard_status(&app, &stolen_laptop).await, 303);
    let (status, location) = rename_portal(&app, &phone.client, &csrf_phone, "Hijacked").await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/login"), "{location}");
    assert_eq!(portal_name(&app, &v.id).await, "");
}

#[tokio::test]
async fn admin_reset_password_and_sign_out_everywhere_end_every_dashboard_session() {
    let app = spawn_app().await;
    let v = vendor(&app, "Acme").await;
    let laptop = staff_browser(&app, &v.owner, OWNER_PASSWORD).await;
    let csrf = csrf_of(&app, &laptop.client, "/dashboard/settings").await;
    let stolen = laptop.copy(&app);
    let out = affilia(
        &app,
        &[
            "admin",
            "reset-password",
            "--email",
            &v.owner,
            "--password",
            "reset from the shell",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let (status, location) = rename_portal(&app, &stolen, &csrf, "Hijacked").await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/login"), "{location}");
    assert_eq!(dashboard_status(&app, &laptop.client).await, 303);
    assert_eq!(portal_name(&app, &v.id).await, "");

    // "Sign out everywhere" from one device ends the others, through the same table.
    let one_device = staff_browser(&app, &v.owner, "reset from the shell").await;
    let other = staff_browser(&app, &v.owner, "reset from the shell").await;
    let stolen = other.copy(&app);
    let csrf = csrf_of(&app, &one_device.client, "/dashboard/account").await;
    let (status, _) = post(
        &app,
        &one_device.client,
        "/dashboard/account/sign-out-everywhere",
        &csrf,
        &[],
    )
    .await;
    assert_eq!(status, 303);
    for client in [&one_device.client, &other.client, &stolen] {
        assert_eq!(dashboard_status(&app, client).await, 303);
    }
    let live = app
        .count("SELECT COUNT(*) FROM sign_ins WHERE kind = 'staff' AND revoked_at IS NULL")
        .await;
    assert_eq!(live, 0);
}

/// Signs a browser in to Acme's portal as `email` by magic link.
async fn portal_browser(app: &TestApp, email: &str) -> Browser {
    let b = Browser::new();
    let csrf = csrf_of(app, &b.client, "/p/acme/login").await;
    let (status, _) = post(app, &b.client, "/p/acme/login", &csrf, &[("email", email)]).await;
    assert_eq!(status, 200);
    app.run_jobs().await;
    let body = one(
        app,
        "SELECT body_text FROM email_outbox WHERE kind = 'portal_sign_in' AND to_email = $1 \
         ORDER BY created_at DESC, id DESC LIMIT 1",
        email,
    )
    .await;
    let start = body.find("http://").expect("a link");
    let link = body[start..].split_whitespace().next().unwrap().to_owned();
    let path = link.split_once(&app.addr.to_string()).unwrap().1.to_owned();
    let csrf = csrf_of(app, &b.client, &path).await;
    let (status, _) = post(app, &b.client, &path, &csrf, &[]).await;
    assert_eq!(status, 303, "portal sign-in of {email}");
    b
}

async fn portal_status(app: &TestApp, client: &Client) -> u16 {
    client
        .get(app.url("/p/acme/payouts"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn set_payout_email(
    app: &TestApp,
    client: &Client,
    csrf: &str,
    email: &str,
) -> (u16, String) {
    post(
        app,
        client,
        "/p/acme/payout-settings",
        csrf,
        &[("payout_method", "paypal"), ("payout_email", email)],
    )
    .await
}

async fn payout_email(app: &TestApp, id: &str) -> String {
    one(
        app,
        "SELECT COALESCE(payout_email, '') FROM affiliates WHERE id = $1",
        id,
    )
    .await
}

#[tokio::test]
async fn a_copied_portal_cookie_dies_with_portal_sign_out_and_sign_out_everywhere() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://acme.test/").await;
    let jane = affiliate(&app, &s, "jane@partners.test", "jane").await;
    let laptop = portal_browser(&app, "jane@partners.test").await;
    let phone = portal_browser(&app, "jane@partners.test").await;
    let csrf = csrf_of(&app, &laptop.client, "/p/acme/payout-settings").await;
    let stolen = laptop.copy(&app);

    let (status, _) = set_payout_email(&app, &stolen, &csrf, "jane@paypal.test").await;
    assert!(status < 400, "{status}");
    assert_eq!(payout_email(&app, &jane).await, "jane@paypal.test");

    let (status, location) = post(&app, &laptop.client, "/p/acme/logout", &csrf, &[]).await;
    assert_eq!((status, location.as_str()), (303, "/p/acme/login"));
    let (status, location) = set_payout_email(&app, &stolen, &csrf, "thief@paypal.test").await;
    assert_eq!((status, location.as_str()), (303, "/p/acme/login"));
    assert_eq!(payout_email(&app, &jane).await, "jane@paypal.test");
    assert_eq!(portal_status(&app, &phone.client).await, 200);

    // "Sign out everywhere" on the portal ends the phone and every copy of its cookie.
    let tablet = portal_browser(&app, "jane@partners.test").await;
    let stolen_phone = phone.copy(&app);
    let csrf = csrf_of(&app, &tablet.client, "/p/acme/profile").await;
    let (status, location) = post(
        &app,
        &tablet.client,
        "/p/acme/logout-everywhere",
        &csrf,
        &[],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/p/acme/login"));
    for client in [&tablet.client, &phone.client, &stolen_phone] {
        assert_ne!(portal_status(&app, client).await, 200);
    }
    let live = app
        .count("SELECT COUNT(*) FROM sign_ins WHERE kind = 'affiliate' AND revoked_at IS NULL")
        .await;
    assert_eq!(live, 0);
}

async fn affiliate_token(app: &TestApp, key: &str, affiliate_id: &str) -> String {
    let (status, body) = app
        .call(
            key,
            reqwest::Method::POST,
            &format!("/api/v1/affiliates/{affiliate_id}/token"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn affiliate_id_is_a_400_on_every_me_route() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://acme.test/").await;
    let jane = affiliate(&app, &s, "jane@partners.test", "jane").await;
    let bob = affiliate(&app, &s, "bob@partners.test", "bob").await;
    let token = affiliate_token(&app, &s.key, &jane).await;
    for route in [
        "/api/v1/me",
        "/api/v1/me/programs",
        "/api/v1/me/balance",
        "/api/v1/me/payout-settings",
        "/api/v1/me/links",
        "/api/v1/me/deals",
        "/api/v1/me/stats",
    ] {
        let (status, body) = app.call(&token, reqwest::Method::GET, route, None).await;
        assert_eq!(status, 200, "{route} without the parameter: {body}");
        // Any spelling, beside other parameters.
        let query = if route.ends_with("deals") {
            format!("page=1&Affiliate_ID={jane}")
        } else {
            format!("affiliate_id={bob}")
        };
        {
            let path = format!("{route}?{query}");
            let (status, body) = app.call(&token, reqwest::Method::GET, &path, None).await;
            assert_eq!(status, 400, "{path}: {body}");
            assert_eq!(body["error"]["code"], "bad_request", "{path}");
            assert_eq!(body["error"]["field"], "affiliate_id", "{path}");
        }
    }
    // A write with the parameter changes nothing.
    let (status, _) = app
        .call(
            &token,
            reqwest::Method::PUT,
            &format!("/api/v1/me/payout-settings?affiliate_id={bob}"),
            Some(serde_json::json!({"payout_method": "paypal", "payout_email": "x@y.test"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM affiliates WHERE payout_email IS NOT NULL")
            .await,
        0
    );
}

fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn https_installations_send_hsts_and_secure_cookies_and_secrets_are_not_cached() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.base_url = url::Url::parse("https://affiliates.example").unwrap();
    })
    .await;
    let s = shop(&app, "Acme", "https://acme.test/").await;
    let jane = affiliate(&app, &s, "jane@partners.test", "jane").await;
    let res = app.get("/login").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "strict-transport-security").as_deref(),
        Some("max-age=31536000")
    );
    let cookie = header(&res, "set-cookie").expect("a session cookie");
    assert!(cookie.to_ascii_lowercase().contains("; secure"), "{cookie}");
    assert!(cookie.to_ascii_lowercase().contains("httponly"), "{cookie}");
    assert_eq!(header(&res, "cache-control").as_deref(), Some("no-store"));

    // Secrets and payout details: a new API key, payout settings, link pages.
    let token = affiliate_token(&app, &s.key, &jane).await;
    for path in [
        "/api/v1/me/payout-settings",
        "/api/v1/me/links",
        "/api/v1/me",
    ] {
        let res = app
            .client
            .get(app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(
            header(&res, "cache-control").as_deref(),
            Some("no-store"),
            "{path}"
        );
    }
    let res = app
        .client
        .post(app.url("/api/v1/api-keys"))
        .bearer_auth(&s.key)
        .json(&serde_json::json!({"name": "ci", "scope": "read"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(header(&res, "cache-control").as_deref(), Some("no-store"));
    // Versioned static assets stay cacheable.
    let res = app.get("/static/app.css").await;
    assert_eq!(res.status(), 200);
    assert_ne!(header(&res, "cache-control").as_deref(), Some("no-store"));

    // Plain http: no HSTS, no Secure flag (the cookie would never come back).
    let plain = spawn_app().await;
    vendor(&plain, "Acme").await;
    let res = plain.get("/login").await;
    assert_eq!(header(&res, "strict-transport-security"), None);
    let cookie = header(&res, "set-cookie").expect("a session cookie");
    assert!(
        !cookie.to_ascii_lowercase().contains("; secure"),
        "{cookie}"
    );
}

/// A page with its 64-hex-digit tokens (CSRF) blanked, to compare two answers.
fn without_tokens(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    let mut run = String::new();
    for c in page.chars() {
        if c.is_ascii_hexdigit() {
            run.push(c);
            continue;
        }
        out.push_str(if run.len() == 64 { "TOKEN" } else { &run });
        run.clear();
        out.push(c);
    }
    out.push_str(&run);
    out
}

/// Asks for a magic link from a fresh browser: (status, page with the typed address and
/// tokens blanked, jobs waiting afterwards).
async fn ask(app: &TestApp, form: &str, action: &str, email: &str) -> (u16, String, i64) {
    let b = Browser::new();
    let csrf = csrf_of(app, &b.client, form).await;
    let res = b
        .client
        .post(app.url(action))
        .form(&[("csrf_token", csrf.as_str()), ("email", email)])
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let page = without_tokens(&res.text().await.unwrap()).replace(email, "EMAIL");
    let jobs = app
        .count("SELECT COUNT(*) FROM jobs WHERE kind = 'sign_in_link' AND status = 'pending'")
        .await;
    (status, page, jobs)
}

#[tokio::test]
async fn magic_link_forms_enqueue_the_same_work_for_every_address_and_the_email_arrives() {
    let sink = crate::helpers::smtp_sink::SmtpSink::start().await;
    let url = sink.url();
    let app = crate::helpers::spawn_app_with(move |s| {
        s.smtp_url = Some(affilia::config::Secret::new(url));
    })
    .await;
    let s = shop(&app, "Acme", "https://acme.test/").await;
    affiliate(&app, &s, "jane@partners.test", "jane").await;

    for (sent, (form, action, known)) in [
        ("/login", "/login/link", "owner@acme.test"),
        ("/p/acme/login", "/p/acme/login", "jane@partners.test"),
    ]
    .into_iter()
    .enumerate()
    {
        let before = app
            .count("SELECT COUNT(*) FROM jobs WHERE kind = 'sign_in_link' AND status = 'pending'")
            .await;
        let (s1, known_page, j1) = ask(&app, form, action, known).await;
        let (s2, unknown_page, j2) = ask(&app, form, action, "nobody@nowhere.test").await;
        assert_eq!((s1, s2), (200, 200), "{action}");
        assert_eq!(known_page, unknown_page, "{action}: the answers differ");
        // One job each, known or not, and no email yet: the worker decides.
        assert_eq!((j1 - before, j2 - before), (1, 2), "{action}");
        let outbox = i64::try_from(sent).unwrap();
        assert_eq!(
            app.count("SELECT COUNT(*) FROM email_outbox").await,
            outbox,
            "{action}"
        );
        app.deliver_link_requests().await;
        app.run_jobs().await;
        let messages = sink.wait_for(sent + 1, 5).await;
        assert_eq!(
            messages.len(),
            sent + 1,
            "{action}: only the known address gets a link"
        );
        assert!(
            messages[sent].rcpt_to.contains(&format!("<{known}>")),
            "{action}"
        );
        let text = messages[sent].part("text/plain").unwrap();
        assert!(text.contains("/login/link/"), "{text}");
        assert_eq!(
            app.count("SELECT COUNT(*) FROM jobs WHERE kind = 'sign_in_link' AND status <> 'done'")
                .await,
            0
        );
    }
}

fn apply_form(email: &str, website: &str) -> Vec<(&'static str, String)> {
    vec![
        ("email", email.to_owned()),
        ("name", "Jane Smith".to_owned()),
        ("company", String::new()),
        ("website", website.to_owned()),
        ("reason", "Blog".to_owned()),
        ("nickname", String::new()),
    ]
}

/// Applies on Acme's portal from a fresh browser: (status, page with tokens blanked).
async fn apply(app: &TestApp, email: &str, website: &str) -> (u16, String) {
    let b = Browser::new();
    let csrf = csrf_of(app, &b.client, "/p/acme/apply").await;
    let mut form = vec![("csrf_token", csrf)];
    form.extend(apply_form(email, website));
    let res = b
        .client
        .post(app.url("/p/acme/apply"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, without_tokens(&res.text().await.unwrap()))
}

async fn publishable_key(app: &TestApp, key: &str) -> String {
    let (status, _) = app
        .call(
            key,
            reqwest::Method::PATCH,
            "/api/v1/vendor",
            Some(serde_json::json!({"site_origins": ["https://www.acme.test"]})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, created) = app
        .call(
            key,
            reqwest::Method::POST,
            "/api/v1/api-keys",
            Some(serde_json::json!({"name": "Website", "scope": "publishable"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    created["key"].as_str().unwrap().to_owned()
}

async fn apply_from_site(app: &TestApp, pk: &str, email: &str) -> (u16, serde_json::Value) {
    let res = app
        .client
        .post(app.url("/api/v1/applications"))
        .bearer_auth(pk)
        .header("origin", "https://www.acme.test")
        .json(&serde_json::json!({"email": email, "name": "Jane Smith"}))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn public_apply_doors_answer_known_addresses_like_new_ones_and_email_them() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://acme.test/").await;
    affiliate(&app, &s, "jane@partners.test", "jane").await;
    let (status, _) = app
        .call(
            &s.key,
            reqwest::Method::POST,
            "/api/v1/applications",
            Some(serde_json::json!({"email": "pending@x.test", "name": "Pat"})),
        )
        .await;
    assert_eq!(status, 201);

    let (new_status, new_page) = apply(&app, "new@x.test", "").await;
    assert_eq!(new_status, 200);
    for known in ["pending@x.test", "PENDING@x.test", "jane@partners.test"] {
        let (status, page) = apply(&app, known, "").await;
        assert_eq!(status, 200, "{known}");
        assert_eq!(
            page, new_page,
            "{known}: the answer differs from a new address's"
        );
    }
    // One new application; the known addresses got an email instead.
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 2);
    let told = |to: &'static str| {
        let app = &app;
        async move {
            one(
                app,
                "SELECT body_text FROM email_outbox WHERE kind = 'already_applied' \
                 AND to_email = $1 ORDER BY created_at DESC LIMIT 1",
                to,
            )
            .await
        }
    };
    assert!(
        told("jane@partners.test")
            .await
            .contains("already a partner")
    );
    let pending = told("pending@x.test").await;
    assert!(pending.contains("applied to"), "{pending}");
    assert!(pending.contains("/p/acme/login"), "{pending}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM email_outbox WHERE to_email = 'new@x.test' AND kind = 'already_applied'")
            .await,
        0
    );

    // A publishable key (a form on the vendor's site) answers alike too, in the documented
    // shape; the vendor's backend (write key) still learns of the duplicate.
    let pk = publishable_key(&app, &s.key).await;
    let (status, fresh) = apply_from_site(&app, &pk, "fresh@x.test").await;
    assert_eq!(status, 201, "{fresh}");
    let (status, known) = apply_from_site(&app, &pk, "jane@partners.test").await;
    assert_eq!(status, 201, "{known}");
    assert_eq!(known["status"], fresh["status"]);
    assert_eq!(known["message"], fresh["message"]);
    assert!(known["id"].as_str().unwrap().starts_with("app_"), "{known}");
    assert_ne!(known["id"], fresh["id"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 3);
    let (status, err) = app
        .call(
            &s.key,
            reqwest::Method::POST,
            "/api/v1/applications",
            Some(serde_json::json!({"email": "pending@x.test", "name": "Pat"})),
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("duplicate"))
    );
}

const BAD_WEBSITES: [&str; 6] = [
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "ftp://files.example/",
    "//evil.example",
    "https://",
    "example.com",
];

#[tokio::test]
async fn websites_are_http_urls_with_a_host_at_every_door() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://acme.test/").await;
    let jane = affiliate(&app, &s, "jane@partners.test", "jane").await;
    let portal = portal_browser(&app, "jane@partners.test").await;
    let csrf = csrf_of(&app, &portal.client, "/p/acme/profile").await;
    let websites = || app.count("SELECT COUNT(*) FROM affiliates WHERE website IS NOT NULL");
    for bad in BAD_WEBSITES {
        // API: create and update an affiliate, submit an application.
        let (status, err) = app
            .call(
                &s.key,
                reqwest::Method::POST,
                "/api/v1/affiliates",
                Some(serde_json::json!({"email": "x@partners.test", "name": "X", "website": bad})),
            )
            .await;
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (422, Some("website")),
            "{bad}"
        );
        let (status, err) = app
            .call(
                &s.key,
                reqwest::Method::PATCH,
                &format!("/api/v1/affiliates/{jane}"),
                Some(serde_json::json!({"website": bad})),
            )
            .await;
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (422, Some("website")),
            "{bad}"
        );
        let (status, err) = app
            .call(
                &s.key,
                reqwest::Method::POST,
                "/api/v1/applications",
                Some(serde_json::json!({"email": "y@x.test", "name": "Y", "website": bad})),
            )
            .await;
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (422, Some("website")),
            "{bad}"
        );
        // Portal: the profile form and the public apply form.
        let (status, _) = post(
            &app,
            &portal.client,
            "/p/acme/profile",
            &csrf,
            &[("name", "Jane"), ("company", ""), ("website", bad)],
        )
        .await;
        assert_eq!(status, 422, "{bad}");
        let (status, page) = apply(&app, "z@x.test", bad).await;
        assert_eq!(status, 422, "{bad}");
        assert!(page.contains("must be a web address"), "{bad}");
    }
    assert_eq!(websites().await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliates").await, 1);

    // Good ones pass every door.
    let (status, _) = post(
        &app,
        &portal.client,
        "/p/acme/profile",
        &csrf,
        &[
            ("name", "Jane"),
            ("company", ""),
            ("website", "https://jane.example/blog"),
        ],
    )
    .await;
    assert!(status < 400, "{status}");
    assert_eq!(apply(&app, "z@x.test", "http://z.example").await.0, 200);
    assert_eq!(websites().await, 1);
}

#[tokio::test]
async fn a_fake_jpeg_logo_is_refused_with_the_logo_error() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://acme.test/").await;
    let mut fake = vec![0xFF, 0xD8, 0xFF, 0xE0];
    fake.extend_from_slice(b"<html><script>alert(1)</script></html>");
    let real: &[u8] = &[
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0,
        0xFF, 0xC0, 0x00, 0x0B, 8, 0x00, 0x02, 0x00, 0x03, 1, 1, 0x11, 0, 0xFF, 0xDA, 0x00, 0x08,
        1, 1, 0, 0, 0x3F, 0, 0xFF, 0xD9,
    ];
    for (body, expected) in [(fake, 422), (real.to_vec(), 200)] {
        let res = app
            .client
            .put(app.url("/api/v1/vendor/logo"))
            .bearer_auth(&s.key)
            .header("content-type", "image/jpeg")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let err: serde_json::Value = res.json().await.unwrap_or_default();
        assert_eq!(status, expected, "{err}");
        if expected == 422 {
            assert_eq!(err["error"]["field"], "logo");
            assert_eq!(
                err["error"]["message"],
                "the logo must be a PNG, JPEG or SVG image"
            );
            assert_eq!(
                app.count("SELECT COUNT(*) FROM vendors WHERE logo_version IS NOT NULL")
                    .await,
                0
            );
        }
    }
}

/// Sends `head` and `body` on a raw connection, then stalls without closing it, and
/// returns what the server answers (until it closes the connection).
async fn stalled_request(app: &TestApp, head: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    stream.flush().await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // Read until the server closes the connection; the bound only keeps a broken server
    // from hanging the test run (what arrived is then checked).
    while let Ok(Ok(n)) =
        tokio::time::timeout(std::time::Duration::from_secs(30), stream.read(&mut buf)).await
    {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_body_that_stops_arriving_gets_a_408_and_the_connection_is_closed() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.body_timeout = std::time::Duration::from_secs(1);
    })
    .await;
    let s = shop(&app, "Acme", "https://acme.test/").await;
    let before = app.count("SELECT COUNT(*) FROM affiliates").await;
    let body = br#"{"email": "slow@partners.test", "name": "Slow", "website": "https://slow"#;
    // The API: half a JSON body of an announced 200 bytes.
    let head = format!(
        "POST /api/v1/affiliates HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n",
        app.addr, s.key
    );
    let answer = stalled_request(&app, &head, body).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    // A form route (the portal's sign-in form), half a body.
    let head = format!(
        "POST /p/acme/login HTTP/1.1\r\nHost: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n",
        app.addr
    );
    let answer = stalled_request(&app, &head, b"csrf_token=abc&email=jane").await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliates").await, before);
    // A whole body is not affected.
    let (status, body) = app
        .call(
            &s.key,
            reqwest::Method::POST,
            "/api/v1/affiliates",
            Some(serde_json::json!({"email": "quick@partners.test", "name": "Quick"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}
