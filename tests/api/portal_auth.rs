//! Portal sign-in: magic links (same answer for every address, single use, 15 minutes,
//! stored hashed, per-address cap, per-vendor), invited affiliates activated by them,
//! applicants' status page, signed 24-hour portal links, embed tokens, sign-out, and
//! deactivated affiliates locked out.

use affilia::domain::tenancy::audit::Actor;
use reqwest::{Client, Method};
use serde_json::json;

use crate::helpers::affiliates::{affiliate, set_status};
use crate::helpers::vendors::{Shop, shop};
use crate::helpers::{TestApp, csrf_from, new_client, spawn_app};

/// The newest email of `kind` to `to`, as text.
async fn last_email(app: &TestApp, kind: &str, to: &str) -> Option<String> {
    app.deliver_link_requests().await;
    sqlx::query_as::<_, (String,)>(
        "SELECT body_text FROM email_outbox WHERE kind = $1 AND to_email = $2 \
         ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(kind)
    .bind(to)
    .fetch_optional(app.db.pool())
    .await
    .unwrap()
    .map(|(t,)| t)
}

async fn emails_of(app: &TestApp, to: &str) -> i64 {
    app.deliver_link_requests().await;
    app.count(&format!(
        "SELECT COUNT(*) FROM email_outbox WHERE to_email = '{to}'"
    ))
    .await
}

/// The first `http(s)://` link of a text.
fn link_in(text: &str) -> String {
    let start = text.find("http://").expect("a link");
    text[start..].split_whitespace().next().unwrap().to_owned()
}

/// GET a page with `client`, then POST `fields` (+ its CSRF token) to `action`.
async fn submit(
    client: &Client,
    page_url: &str,
    action_url: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let page = client
        .get(page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_from(&page);
    let mut form = vec![("csrf_token", token.as_str())];
    form.extend_from_slice(fields);
    client.post(action_url).form(&form).send().await.unwrap()
}

/// Asks the portal at `root` (absolute, ending in `/p/slug` or host root) for a link.
async fn ask_link(client: &Client, root: &str, email: &str) -> (u16, String) {
    let login = format!("{root}/login");
    let res = submit(client, &login, &login, &[("email", email)]).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Confirms and uses a link: (status of the POST, Location).
async fn use_link(client: &Client, link: &str) -> (u16, String) {
    let res = submit(client, link, link, &[]).await;
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (res.status().as_u16(), location)
}

/// A page with its 64-hex-digit tokens (CSRF) blanked.
fn without_tokens(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    let mut run = String::new();
    for c in page.chars() {
        if c.is_ascii_hexdigit() {
            run.push(c);
            continue;
        }
        out.push_str(if run.len() == 64 {
            "TOKEN"
        } else {
            run.as_str()
        });
        run.clear();
        out.push(c);
    }
    out.push_str(&run);
    out
}

async fn signed_in_at(client: &Client, url: &str) -> bool {
    client.get(url).send().await.unwrap().status() == 200
}

#[tokio::test]
async fn magic_links_sign_in_once_and_reveal_no_accounts() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://acme.test/").await;
    affiliate(&app, &s, "jane@partners.test", "jane").await;
    let root = app.url("/p/acme");
    let browser = new_client();

    let (status, known) = ask_link(&browser, &root, "Jane@Partners.test").await;
    assert_eq!(status, 200);
    let (status, unknown) = ask_link(&new_client(), &root, "nobody@partners.test").await;
    assert_eq!(status, 200);
    // The same page, but for the address it echoes (and the session's CSRF token).
    assert_eq!(
        without_tokens(&known.replace("Jane@Partners.test", "X")),
        without_tokens(&unknown.replace("nobody@partners.test", "X"))
    );
    assert!(known.contains("Check your email"));
    assert_eq!(emails_of(&app, "nobody@partners.test").await, 0);
    // A malformed address is the one different answer.
    let (status, page) = ask_link(&new_client(), &root, "not-an-email").await;
    assert_eq!(status, 422);
    assert!(page.contains("email"));

    let text = last_email(&app, "portal_sign_in", "jane@partners.test")
        .await
        .expect("a sign-in email");
    assert!(text.contains("15 minutes"));
    let link = link_in(&text);
    assert!(link.starts_with(&app.url("/p/acme/login/link/")), "{link}");
    let token = link.rsplit('/').next().unwrap();
    // Stored hashed only.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM login_tokens WHERE token_hash = '{token}'"
        ))
        .await,
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM login_tokens WHERE token_hash = '{}' AND purpose = 'affiliate_sign_in' \
             AND expires_at <= created_at + 900000",
            affilia::domain::values::tokens::sha256_hex(token)
        ))
        .await,
        1
    );

    // Opening the link only shows a button (mail scanners do not burn it).
    let confirm = browser.get(&link).send().await.unwrap();
    assert_eq!(confirm.status(), 200);
    assert!(confirm.text().await.unwrap().contains("jane@partners.test"));
    assert!(!signed_in_at(&browser, &app.url("/p/acme/payouts")).await);
    let (status, location) = use_link(&browser, &link).await;
    assert_eq!((status, location.as_str()), (303, "/p/acme/"));
    assert!(signed_in_at(&browser, &app.url("/p/acme/payouts")).await);

    // Used: a 410 page that offers a new link.
    let again = new_client();
    let page = again.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 410);
    let page = page.text().await.unwrap();
    assert!(page.contains("Email me a new link"));
    let (status, _) = use_link(&again, &link).await;
    assert_eq!(status, 410);

    // Sign out: back to the sign-in page, and the session no longer works.
    let res = submit(
        &browser,
        &app.url("/p/acme/payouts"),
        &app.url("/p/acme/logout"),
        &[],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/p/acme/login");
    assert!(!signed_in_at(&browser, &app.url("/p/acme/payouts")).await);
}

#[tokio::test]
async fn links_expire_are_capped_per_address_and_belong_to_one_vendor() {
    let app = spawn_app().await;
    let acme = shop(&app, "Acme", "https://acme.test/").await;
    shop(&app, "Beta", "https://beta.test/").await;
    affiliate(&app, &acme, "jane@partners.test", "jane").await;
    let root = app.url("/p/acme");

    ask_link(&new_client(), &root, "jane@partners.test").await;
    let link = link_in(
        &last_email(&app, "portal_sign_in", "jane@partners.test")
            .await
            .unwrap(),
    );
    // Another vendor's portal refuses it without using it up.
    let token = link.rsplit('/').next().unwrap();
    let beta_link = app.url(&format!("/p/beta/login/link/{token}"));
    assert_eq!(
        new_client().get(&beta_link).send().await.unwrap().status(),
        410
    );
    assert_eq!(use_link(&new_client(), &beta_link).await.0, 410);
    assert_eq!(use_link(&new_client(), &link).await.0, 303);

    // Expired after 15 minutes.
    ask_link(&new_client(), &root, "jane@partners.test").await;
    let link = link_in(
        &last_email(&app, "portal_sign_in", "jane@partners.test")
            .await
            .unwrap(),
    );
    sqlx::query("UPDATE login_tokens SET expires_at = $1 WHERE used_at IS NULL")
        .bind(affilia::db::now_ms() - 1)
        .execute(app.db.pool())
        .await
        .unwrap();
    assert_eq!(new_client().get(&link).send().await.unwrap().status(), 410);
    assert_eq!(use_link(&new_client(), &link).await.0, 410);

    // At most five emails per address per 15 minutes (two sent above).
    for _ in 0..6 {
        let (status, page) = ask_link(&new_client(), &root, "jane@partners.test").await;
        assert_eq!(status, 200);
        assert!(page.contains("Check your email"));
    }
    app.deliver_link_requests().await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM email_outbox WHERE kind = 'portal_sign_in'")
            .await,
        5
    );
}

#[tokio::test]
async fn invited_affiliates_are_activated_and_deactivated_ones_locked_out() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://acme.test/").await;
    let (status, a) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "ivy@partners.test", "name": "Ivy"})),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    let ivy = a["id"].as_str().unwrap().to_owned();
    assert_eq!(a["status"], "invited");
    // A magic link works for an invited affiliate too, and activates it.
    ask_link(&new_client(), &app.url("/p/acme"), "ivy@partners.test").await;
    let link = link_in(
        &last_email(&app, "portal_sign_in", "ivy@partners.test")
            .await
            .unwrap(),
    );
    let browser = new_client();
    assert!(
        browser
            .get(&link)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("Accept invitation")
    );
    assert_eq!(use_link(&browser, &link).await.0, 303);
    let (_, a) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/affiliates/{ivy}"),
            None,
        )
        .await;
    assert_eq!(a["status"], "active");
    assert_eq!(a["enrollments"][0]["status"], "active", "{a}");

    // The invitation link still in the inbox works once too (same redemption).
    let invite = link_in(
        &last_email(&app, "affiliate_invite", "ivy@partners.test")
            .await
            .unwrap(),
    );
    assert_eq!(use_link(&new_client(), &invite).await.0, 303);

    // Deactivated: the live session stops working, no new link is sent, and an
    // outstanding link is refused.
    ask_link(&new_client(), &app.url("/p/acme"), "ivy@partners.test").await;
    let pending = link_in(
        &last_email(&app, "portal_sign_in", "ivy@partners.test")
            .await
            .unwrap(),
    );
    set_status(&app, &s, &ivy, "deactivated").await;
    assert!(!signed_in_at(&browser, &app.url("/p/acme/payouts")).await);
    let before = emails_of(&app, "ivy@partners.test").await;
    let (status, _) = ask_link(&new_client(), &app.url("/p/acme"), "ivy@partners.test").await;
    assert_eq!(status, 200);
    assert_eq!(emails_of(&app, "ivy@partners.test").await, before);
    assert_eq!(
        new_client().get(&pending).send().await.unwrap().status(),
        410
    );
    assert_eq!(use_link(&new_client(), &pending).await.0, 410);
}

#[tokio::test]
async fn applicants_see_their_application_status() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://acme.test/").await;
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/applications",
            Some(json!({"email": "ann@partners.test", "name": "Ann"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    // Not signed in: the status page sends to sign-in.
    let res = new_client()
        .get(app.url("/p/acme/application"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    ask_link(&new_client(), &app.url("/p/acme"), "ann@partners.test").await;
    let link = link_in(
        &last_email(&app, "applicant_sign_in", "ann@partners.test")
            .await
            .unwrap(),
    );
    let browser = new_client();
    let (status, location) = use_link(&browser, &link).await;
    assert_eq!((status, location.as_str()), (303, "/p/acme/application"));
    let page = browser
        .get(app.url("/p/acme/application"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Pending review"), "{page}");
    // An applicant is not an affiliate.
    assert!(!signed_in_at(&browser, &app.url("/p/acme/payouts")).await);

    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/applications/{id}/review"),
            Some(json!({"action": "reject", "rejection_reason": "Audience outside our market"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let page = browser
        .get(app.url("/p/acme/application"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Not accepted"));
    assert!(page.contains("Audience outside our market"));
}

#[tokio::test]
async fn signed_portal_links_sign_in_for_a_day_on_the_vendor_portal_only() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://acme.test/").await;
    let beta = shop(&app, "Beta", "https://beta.test/").await;
    let jane = affiliate(&app, &s, "jane@partners.test", "jane").await;

    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/affiliates/{jane}/portal-link"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let url = body["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&app.url("/p/acme/login/portal/afpl_")),
        "{url}"
    );
    let expires = chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    let in_a_day = affilia::db::now_ms() + 24 * 3600 * 1000;
    assert!((in_a_day - expires).abs() < 60_000);

    let browser = new_client();
    let res = browser.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/p/acme/");
    assert!(signed_in_at(&browser, &app.url("/p/acme/payouts")).await);
    // Reusable within the day (the vendor's app may open it again)…
    assert_eq!(new_client().get(&url).send().await.unwrap().status(), 303);
    // …but only on its vendor's portal, unaltered, unexpired, and not as an API token.
    let token = url.rsplit('/').next().unwrap();
    let other = new_client();
    let res = other
        .get(app.url(&format!("/p/beta/login/portal/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    assert!(!signed_in_at(&other, &app.url("/p/beta/payouts")).await);
    let tampered = format!("{}x", &url[..url.len() - 1]);
    assert_eq!(
        new_client().get(&tampered).send().await.unwrap().status(),
        410
    );
    let expired =
        app.state
            .affiliate_tokens
            .mint_portal_link(&s.vendor_id, &jane, affilia::db::now_ms() - 1);
    let res = new_client()
        .get(app.url(&format!("/p/acme/login/portal/{expired}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    assert!(res.text().await.unwrap().contains("expired"));
    let (status, _) = app.call(token, Method::GET, "/api/v1/me", None).await;
    assert_eq!(status, 401);
    let access =
        app.state
            .affiliate_tokens
            .mint(&s.vendor_id, &jane, affilia::db::now_ms() + 60_000);
    let res = new_client()
        .get(app.url(&format!("/p/acme/login/portal/{access}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410, "an access token is not a portal link");

    // Another vendor's key cannot mint one; a deactivated affiliate gets none, and an
    // outstanding link stops working.
    let (status, _) = app
        .call(
            &beta.key,
            Method::POST,
            &format!("/api/v1/affiliates/{jane}/portal-link"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    set_status(&app, &s, &jane, "deactivated").await;
    let (status, _) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/affiliates/{jane}/portal-link"),
            None,
        )
        .await;
    assert_eq!(status, 409);
    let fresh = new_client();
    assert_eq!(fresh.get(&url).send().await.unwrap().status(), 410);
    assert!(!signed_in_at(&fresh, &app.url("/p/acme/payouts")).await);
}

#[tokio::test]
async fn links_and_embeds_use_the_vendor_domain_and_its_host() {
    let app = spawn_app().await;
    let s: Shop = shop(&app, "Acme", "https://acme.test/").await;
    let jane = affiliate(&app, &s, "jane@partners.test", "jane").await;
    affilia::domain::tenancy::vendors::add_portal_domain(
        &app.db,
        &[],
        &s.vendor_id,
        "affiliates.acme.test",
        true,
        &Actor::Cli,
    )
    .await
    .unwrap();
    let host = app.client_for_host("affiliates.acme.test");
    let root = app.host_url("affiliates.acme.test", "");

    // A link asked for on the custom domain leads back there (same port as the base URL).
    ask_link(&host, &root, "jane@partners.test").await;
    let link = link_in(
        &last_email(&app, "portal_sign_in", "jane@partners.test")
            .await
            .unwrap(),
    );
    assert!(
        link.starts_with(&app.host_url("affiliates.acme.test", "/login/link/")),
        "{link}"
    );
    let (status, location) = use_link(&host, &link).await;
    assert_eq!((status, location.as_str()), (303, "/"));
    assert!(signed_in_at(&host, &app.host_url("affiliates.acme.test", "/payouts")).await);
    // The session belongs to that host only.
    assert!(!signed_in_at(&host, &app.url("/p/acme/payouts")).await);

    // Portal links and embeds point at the vendor's domain.
    let (_, body) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/affiliates/{jane}/portal-link"),
            None,
        )
        .await;
    let url = body["url"].as_str().unwrap();
    assert!(
        url.starts_with(&app.host_url("affiliates.acme.test", "/login/portal/")),
        "{url}"
    );
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/affiliates/{jane}/embed-token"),
            Some(json!({"surface": "links", "ttl_seconds": 600})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().unwrap();
    assert!(token.starts_with("afft_"));
    assert_eq!(body["surface"], "links");
    assert_eq!(
        body["url"].as_str().unwrap(),
        app.host_url(
            "affiliates.acme.test",
            &format!("/embed/links?token={token}")
        )
    );
    let res = host
        .get(body["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Another vendor's token is refused on this vendor's domain (its data never shows here).
    let beta = shop(&app, "Beta", "https://beta.test/").await;
    let bob = affiliate(&app, &beta, "bob@partners.test", "bob").await;
    let foreign =
        app.state
            .affiliate_tokens
            .mint(&beta.vendor_id, &bob, affilia::db::now_ms() + 60_000);
    let res = host
        .get(app.host_url(
            "affiliates.acme.test",
            &format!("/embed/dashboard?token={foreign}"),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .ends_with("frame-ancestors 'none'")
    );
    assert!(!res.text().await.unwrap().contains("bob@partners.test"));
    let res = new_client()
        .get(app.url(&format!("/embed/dashboard?token={foreign}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "on the main host it is served");
    // The embed token also works on the self-service API.
    let (status, me) = app.call(token, Method::GET, "/api/v1/me", None).await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], jane.as_str());

    for (body, field) in [
        (json!({"surface": "admin"}), "surface"),
        (json!({"ttl_seconds": 7200}), "ttl_seconds"),
    ] {
        let (status, err) = app
            .call(
                &s.key,
                Method::POST,
                &format!("/api/v1/affiliates/{jane}/embed-token"),
                Some(body),
            )
            .await;
        assert_eq!(status, 422, "{err}");
        assert_eq!(err["error"]["field"], field);
    }
    let (status, _) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/affiliates/{jane}/embed-token"),
            Some(json!({"affiliate_id": "aff_other"})),
        )
        .await;
    assert_eq!(status, 400);
}
