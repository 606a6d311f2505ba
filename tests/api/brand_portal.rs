//! Issue 20, branding and portal polish: readable text on the brand colour (portal CSS,
//! emails, settings warning), the logo in the dev-mailbox preview on http, portal copy,
//! per-link figures, link edits and archiving, the API tokens page's URL, the favicon.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::money::{event, money_shop};
use crate::helpers::pages::{one, page};
use crate::helpers::tracking::{aff_sess, click};
use crate::helpers::vendors::{Shop, shop, vendor};
use crate::helpers::{OWNER_PASSWORD, TestApp, spawn_app};
use crate::portal_pages::portal_affiliate;

/// A 1×1 transparent PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

async fn patch_vendor(app: &TestApp, key: &str, body: Value) -> Value {
    let (status, v) = app
        .call(key, Method::PATCH, "/api/v1/vendor", Some(body))
        .await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn affiliate_token(app: &TestApp, s: &Shop, affiliate_id: &str) -> String {
    let (status, t) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/affiliates/{affiliate_id}/token"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{t}");
    t["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_light_brand_colour_gets_dark_button_text_everywhere_and_a_warning() {
    let app = spawn_app().await;
    let acme = vendor(&app, "Acme").await;

    // The default indigo: white text, no warning.
    let css = app.text("/p/acme/brand.css").await;
    assert!(
        css.contains("--brand: #4f46e5; --on-brand: #ffffff; --brand-ink: #4f46e5;"),
        "{css}"
    );
    let (_, v) = app
        .call(&acme.key, Method::GET, "/api/v1/vendor", None)
        .await;
    assert_eq!(v["primary_text_color"], "#ffffff");
    assert_eq!(v["primary_color_warning"], Value::Null);

    // A pale yellow: near-black text on its buttons, and a warning naming WCAG AA.
    let v = patch_vendor(&app, &acme.key, json!({"primary_color": "#FDE68A"})).await;
    assert_eq!(v["primary_color"], "#fde68a");
    assert_eq!(v["primary_text_color"], "#1d2330");
    let warning = v["primary_color_warning"].as_str().unwrap();
    assert!(
        warning.contains("3:1") && warning.contains("4.5:1"),
        "{warning}"
    );
    let css = app.text("/p/acme/brand.css").await;
    assert!(
        css.contains("--brand: #fde68a; --on-brand: #1d2330;"),
        "{css}"
    );
    // Links get a darker shade of it, readable on the page (4.5:1 or more).
    let ink = css.split("--brand-ink: ").nth(1).unwrap().get(..7).unwrap();
    assert_ne!(ink, "#fde68a");
    let ratio = affilia::domain::values::color::contrast_of(ink, "#f6f7f9").unwrap();
    assert!(ratio >= 4.5, "{ink}: {ratio}");

    // Emails put the same text colour on their button.
    let (status, a) = app
        .call(
            &acme.key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "jane@partners.test", "name": "Jane"})),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    let html = one(
        &app,
        "SELECT body_html FROM email_outbox WHERE to_email = $1",
        "jane@partners.test",
    )
    .await;
    assert!(html.contains("background:#fde68a;color:#1d2330;"), "{html}");

    // The settings page: a hex text field (the picker beside it is not submitted), the
    // text colour chosen, and the warning.
    let owner = app.signed_in_client(&acme.owner, OWNER_PASSWORD).await;
    let html = page(&app, &owner, "/dashboard/settings").await.1;
    assert!(
        html.contains("id=\"primary_color\" name=\"primary_color\" value=\"#fde68a\""),
        "{html}"
    );
    assert!(html.contains("type=\"color\" id=\"primary_color_picker\" value=\"#fde68a\""));
    assert!(
        !html.contains("type=\"color\" name="),
        "the picker has no name"
    );
    assert!(html.contains("<strong>near-black</strong>"), "{html}");
    assert!(html.contains("data-test=\"contrast-warning\""), "{html}");
    assert!(html.contains("3:1 for large text and controls"), "{html}");

    // A dark colour typed in the hex field: saved, white text, no warning.
    let res = app
        .post_form_as(
            &owner,
            "/dashboard/settings",
            "/dashboard/settings",
            &[("primary_color", "#1D4ED8")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let html = page(&app, &owner, "/dashboard/settings").await.1;
    assert!(html.contains("<strong>white</strong>"), "{html}");
    assert!(!html.contains("data-test=\"contrast-warning\""));
    assert!(
        app.text("/p/acme/brand.css")
            .await
            .contains("--on-brand: #ffffff;")
    );

    // A malformed colour: said beside the field in words, nothing changed.
    let res = app
        .post_form_as(
            &owner,
            "/dashboard/settings",
            "/dashboard/settings",
            &[("primary_color", "#fff")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains(
            "class=\"field-error small\" role=\"alert\">the brand colour must be written as #rrggbb"
        ),
        "{html}"
    );
    assert!(
        !html.contains("primary_color must"),
        "no field names in words"
    );
    let (_, v) = app
        .call(&acme.key, Method::GET, "/api/v1/vendor", None)
        .await;
    assert_eq!(v["primary_color"], "#1d4ed8");
}

/// The sources of one CSP directive.
fn directive<'a>(csp: &'a str, name: &str) -> Vec<&'a str> {
    csp.split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix(name))
        .map(|rest| rest.split_whitespace().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_email_preview_shows_the_logo_on_an_http_base_url() {
    let app = spawn_app().await;
    let acme = vendor(&app, "Acme").await;
    let res = app
        .client
        .put(app.url("/api/v1/vendor/logo"))
        .bearer_auth(&acme.key)
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (status, _) = app
        .call(
            &acme.key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "jane@partners.test", "name": "Jane"})),
        )
        .await;
    assert_eq!(status, 201);
    let id = one(
        &app,
        "SELECT id FROM email_outbox WHERE to_email = $1",
        "jane@partners.test",
    )
    .await;

    let owner = app.signed_in_client(&acme.owner, OWNER_PASSWORD).await;
    let res = owner
        .get(app.url(&format!("/dashboard/emails/{id}/html")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = res.text().await.unwrap();
    // The logo is an absolute http URL on the base URL…
    let start = html.find("<img src=\"").unwrap() + 10;
    let logo = &html[start..start + html[start..].find('"').unwrap()];
    let logo = logo.replace("&#38;", "&");
    assert!(logo.starts_with(&app.url("/p/acme/logo?v=")), "{logo}");
    // …which the preview's policy allows: the base origin is listed (`https:` alone
    // blocked it, and `'self'` does not match inside the sandboxed frame).
    let img = directive(&csp, "img-src");
    let origin = url::Url::parse(&logo)
        .unwrap()
        .origin()
        .ascii_serialization();
    assert!(img.contains(&origin.as_str()), "{csp}");
    assert!(img.contains(&"https:") && img.contains(&"data:"), "{csp}");
    assert_eq!(directive(&csp, "default-src"), ["'none'"]);
    // And it loads.
    let res = app.client.get(&logo).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
}

#[tokio::test]
async fn portal_copy_names_the_company_and_the_program_without_article_slips() {
    let app = spawn_app().await;
    let acme = vendor(&app, "Acme").await;
    patch_vendor(&app, &acme.key, json!({"portal_name": "Acme Partners"})).await;

    let home = app.text("/p/acme/").await;
    assert!(home.contains("<h1>Partner with Acme</h1>"), "{home}");
    assert!(home.contains("Recommend Acme and earn"), "{home}");
    assert!(!home.contains("Partner with Acme Partners"));

    // /apply has a sign-in link for existing affiliates.
    let apply = app.text("/p/acme/apply").await;
    assert!(
        apply.contains("href=\"/p/acme/login\" data-test=\"sign-in\""),
        "{apply}"
    );

    // The "link sent" page speaks of the program, without "a Acme Partners partner".
    let client = crate::helpers::new_client();
    let res = app
        .post_form_as(
            &client,
            "/p/acme/login",
            "/p/acme/login",
            &[("email", "someone@x.test")],
        )
        .await;
    let html = res.text().await.unwrap();
    assert!(
        html.contains("is the address of a partner or applicant of Acme Partners,"),
        "{html}"
    );
    assert!(!html.contains("a Acme"));

    // Without a portal name the program is "the Acme partner program".
    patch_vendor(&app, &acme.key, json!({"portal_name": null})).await;
    let res = app
        .post_form_as(
            &client,
            "/p/acme/login",
            "/p/acme/login",
            &[("email", "someone@x.test")],
        )
        .await;
    let html = res.text().await.unwrap();
    assert!(
        html.contains("partner or applicant of the Acme partner program,"),
        "{html}"
    );
}

#[tokio::test]
async fn each_campaign_link_counts_its_own_clicks_conversions_and_commission() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 1000})).await;
    let (jane, portal) = portal_affiliate(&app, &s, "jane@partners.test", "jane").await;
    let t = affiliate_token(&app, &s, &jane).await;
    let mut ids = Vec::new();
    for (name, dest) in [
        ("Newsletter", "https://shop.example.com/news"),
        ("Video", "https://shop.example.com/video"),
    ] {
        let (status, l) = app
            .call(
                &t,
                Method::POST,
                "/api/v1/me/links",
                Some(json!({"name": name, "destination_url": dest})),
            )
            .await;
        assert_eq!(status, 201, "{l}");
        assert_eq!(l["stats"]["clicks"], 0);
        ids.push(l["id"].as_str().unwrap().to_owned());
    }

    // Two browsers through the newsletter link, one through the video link, one through
    // the plain referral link (no link: counted nowhere here). Separate clients would
    // still share an IP, so the repeat flag is checked: only counted clicks count.
    let (_, news) = click(&app, &app.client, "/r/jane/newsletter").await;
    let (_, _) = click(&app, &app.client, "/r/jane/video").await;
    let (_, _) = click(&app, &app.client, "/r/jane").await;
    app.flush_clicks().await;
    let counted = |link: &str| {
        let link = link.to_owned();
        let app = &app;
        async move {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM clicks WHERE link_id = $1 AND is_bot = 0 AND is_duplicate = 0",
            )
            .bind(link)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
            n
        }
    };
    let (news_clicks, video_clicks) = (counted(&ids[0]).await, counted(&ids[1]).await);
    assert_eq!(news_clicks, 1);
    assert!(video_clicks <= 1);

    // The newsletter click's visitor becomes a customer and buys for 100.00.
    let (status, r) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/referrals",
            Some(json!({"customer_id": "cus_news", "aff_sess": aff_sess(&news)})),
        )
        .await;
    assert!(status == 200 || status == 201, "{r}");
    assert_eq!(r["attributed"], true, "{r}");
    let (status, e) = event(
        &app,
        &s,
        json!({"id": "evt_1", "type": "charge.succeeded", "customer_id": "cus_news",
               "amount_cents": 10000, "currency": "USD",
               "occurred_at": chrono::Utc::now().to_rfc3339()}),
    )
    .await;
    assert!(status == 200 || status == 201, "{e}");

    let (status, list) = app.call(&t, Method::GET, "/api/v1/me/links", None).await;
    assert_eq!(status, 200, "{list}");
    let by_id = |id: &str| {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == id)
            .cloned()
            .unwrap()
    };
    let news_link = by_id(&ids[0]);
    assert_eq!(news_link["stats"]["clicks"], news_clicks);
    assert_eq!(news_link["stats"]["referrals"], 1);
    assert_eq!(news_link["stats"]["conversions"], 1);
    assert_eq!(
        news_link["stats"]["commissions"],
        json!([{"amount_cents": 1000, "currency": "USD"}])
    );
    let video_link = by_id(&ids[1]);
    assert_eq!(video_link["stats"]["clicks"], video_clicks);
    assert_eq!(video_link["stats"]["referrals"], 0);
    assert_eq!(video_link["stats"]["conversions"], 0);
    assert_eq!(video_link["stats"]["commissions"], json!([]));

    // The portal's list shows the same figures.
    let html = page(&app, &portal, "/p/acme/links").await.1;
    assert!(
        html.contains("data-test=\"link-conversions\">1 conversion<"),
        "{html}"
    );
    assert!(
        html.contains("data-test=\"link-commission\">10.00 USD<"),
        "{html}"
    );
    assert!(
        html.contains("data-test=\"link-conversions\">0 conversions<"),
        "{html}"
    );
}

#[tokio::test]
async fn links_are_edited_within_the_site_rules_archived_and_private_to_their_owner() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://shop.acme.test/").await;
    let (jane, portal) = portal_affiliate(&app, &s, "jane@partners.test", "jane").await;
    let (bob, bob_portal) = portal_affiliate(&app, &s, "bob@partners.test", "bob").await;
    let t = affiliate_token(&app, &s, &jane).await;
    let (status, l) = app
        .call(
            &t,
            Method::POST,
            "/api/v1/me/links",
            Some(json!({"name": "Spring", "sub_id": "yt"})),
        )
        .await;
    assert_eq!(status, 201, "{l}");
    let id = l["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/me/links/{id}");

    // A destination off the program's site: 422 on the field, nothing changed.
    let (status, e) = app
        .call(
            &t,
            Method::PATCH,
            &path,
            Some(json!({"name": "Renamed", "destination_url": "https://evil.test/"})),
        )
        .await;
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["error"]["field"], "destination_url");
    let (_, list) = app.call(&t, Method::GET, "/api/v1/me/links", None).await;
    assert_eq!(list["data"][0]["name"], "Spring");
    assert_eq!(list["data"][0]["destination_url"], Value::Null);

    // A good edit: name and destination change, the URL stays, the redirect follows.
    let (status, edited) = app
        .call(
            &t,
            Method::PATCH,
            &path,
            Some(
                json!({"name": "Spring sale", "destination_url": "https://shop.acme.test/spring"}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["name"], "Spring sale");
    assert_eq!(edited["url"], l["url"]);
    assert_eq!(edited["sub_id"], "yt", "absent fields stay");
    let (_, location) = click(&app, &app.client, "/r/jane/spring").await;
    assert!(
        location.starts_with("https://shop.acme.test/spring?ref=jane"),
        "{location}"
    );

    // Someone else's link is 404: another affiliate of the vendor, another vendor's.
    let bob_token = affiliate_token(&app, &s, &bob).await;
    let (status, _) = app
        .call(
            &bob_token,
            Method::PATCH,
            &path,
            Some(json!({"name": "Mine"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .call(&bob_token, Method::POST, &format!("{path}/archive"), None)
        .await;
    assert_eq!(status, 404);
    let other = shop(&app, "Beta", "https://beta.test/").await;
    let (eve, eve_portal) = portal_affiliate(&app, &other, "eve@partners.test", "eve").await;
    let eve_token = affiliate_token(&app, &other, &eve).await;
    let (status, _) = app
        .call(
            &eve_token,
            Method::PATCH,
            &path,
            Some(json!({"name": "Mine"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = page(&app, &eve_portal, &format!("/p/beta/links/{id}")).await;
    assert_eq!(status, 404);
    let (status, _) = page(&app, &bob_portal, &format!("/p/acme/links/{id}")).await;
    assert_eq!(status, 404);
    let res = app
        .post_form_as(
            &bob_portal,
            &format!("/p/acme/links/{id}/archive"),
            "/p/acme/links",
            &[],
        )
        .await;
    assert_eq!(res.status(), 404);

    // The portal edit form: a bad URL is said beside the field, nothing changes.
    let edit = format!("/p/acme/links/{id}");
    let (status, html) = page(&app, &portal, &edit).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("value=\"Spring sale\""), "{html}");
    let res = app
        .post_form_as(
            &portal,
            &edit,
            &edit,
            &[
                ("name", "X"),
                ("destination_url", "not a url"),
                ("sub_id", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("data-test=\"field-error\""), "{html}");
    assert!(html.contains("aria-invalid=\"true\""));
    let (_, list) = app.call(&t, Method::GET, "/api/v1/me/links", None).await;
    assert_eq!(list["data"][0]["name"], "Spring sale");
    // Emptied fields clear: the landing page again, no sub-id.
    let res = app
        .post_form_as(
            &portal,
            &edit,
            &edit,
            &[
                ("name", "Spring 2"),
                ("destination_url", ""),
                ("sub_id", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let (_, list) = app.call(&t, Method::GET, "/api/v1/me/links", None).await;
    assert_eq!(list["data"][0]["name"], "Spring 2");
    assert_eq!(list["data"][0]["destination_url"], Value::Null);
    assert_eq!(list["data"][0]["sub_id"], Value::Null);

    // Archive from the portal list: hidden from the list and the API's default list,
    // listed under "Archived links", and the link still redirects.
    let html = page(&app, &portal, "/p/acme/links").await.1;
    assert!(
        html.contains(&format!("action=\"/p/acme/links/{id}/archive\"")),
        "{html}"
    );
    let res = app
        .post_form_as(
            &portal,
            &format!("/p/acme/links/{id}/archive"),
            "/p/acme/links",
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    let html = page(&app, &portal, "/p/acme/links?done=archived").await.1;
    assert!(
        html.contains("keeps working wherever you shared it"),
        "{html}"
    );
    assert!(!html.contains("data-test=\"link-url\""), "{html}");
    assert!(html.contains("Archived links (1)"));
    let html = page(&app, &portal, "/p/acme/links?archived=1").await.1;
    assert!(html.contains("data-test=\"link-url\""), "{html}");
    assert!(html.contains("Restore"));
    let (_, list) = app.call(&t, Method::GET, "/api/v1/me/links", None).await;
    assert_eq!(list["data"], json!([]));
    let (_, list) = app
        .call(
            &t,
            Method::GET,
            "/api/v1/me/links?include_archived=true",
            None,
        )
        .await;
    assert_eq!(list["data"][0]["archived"], true);
    let (status, location) = click(&app, &app.client, "/r/jane/spring").await;
    assert_eq!(status, 302);
    assert!(
        location.starts_with("https://shop.acme.test/?ref=jane"),
        "{location}"
    );
    // Restored through the API.
    let (status, back) = app
        .call(&t, Method::POST, &format!("{path}/restore"), None)
        .await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["archived"], false);
    let (_, list) = app.call(&t, Method::GET, "/api/v1/me/links", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_api_tokens_page_points_at_the_portal_domain() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://shop.acme.test/").await;
    let (_, portal) = portal_affiliate(&app, &s, "jane@partners.test", "jane").await;
    // Without a portal domain: the main host.
    let html = page(&app, &portal, "/p/acme/api-tokens").await.1;
    assert!(
        html.contains(&format!("<code>{}</code>", app.url("/api/v1/me"))),
        "{html}"
    );
    // With one: that domain (same scheme and port as the base URL), never the dashboard.
    patch_vendor(
        &app,
        &s.key,
        json!({"portal_domains": ["affiliates.acme.test"]}),
    )
    .await;
    // A pending domain is not shown: it serves nothing yet.
    let html = page(&app, &portal, "/p/acme/api-tokens").await.1;
    assert!(!html.contains("affiliates.acme.test"), "{html}");
    app.verify_domain(&s.vendor_id, "affiliates.acme.test")
        .await;
    let html = page(&app, &portal, "/p/acme/api-tokens").await.1;
    let on_domain = app.host_url("affiliates.acme.test", "/api/v1/me");
    assert!(
        html.contains(&format!("<code>{on_domain}</code>")),
        "{html}"
    );
    assert!(!html.contains(&app.url("/api/v1/me")));
    // The API answers there (401 without a token, not "Unknown host").
    let res = app
        .client_for_host("affiliates.acme.test")
        .get(&on_domain)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_favicon_is_linked_and_served_as_svg() {
    let app = spawn_app().await;
    vendor(&app, "Acme").await;
    for path in ["/login", "/p/acme/"] {
        let html = app.text(path).await;
        let start = html
            .find("<link rel=\"icon\" href=\"")
            .unwrap_or_else(|| panic!("{path}: {html}"))
            + 23;
        let href = &html[start..start + html[start..].find('"').unwrap()];
        assert!(href.starts_with("/static/favicon.svg?v="), "{href}");
        let res = app.get(href).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "image/svg+xml");
        assert!(res.text().await.unwrap().starts_with("<svg"));
    }
}
