//! Issue 20, dashboard words and choices: the payout methods a vendor offers (enforced on
//! the portal and `/api/v1/me`), the affiliate picker (suggestions scoped to the vendor,
//! typed text resolved without script, `?affiliate_id=` links kept), and errors worded for
//! people on pages while the API keeps its field names.

use reqwest::{Client, Method};
use serde_json::json;

use crate::helpers::money::earn;
use crate::helpers::pages::{one, page};
use crate::helpers::{OWNER_PASSWORD, TestApp, new_client, spawn_app};
use crate::payouts_pages::{payout_shop, paypal, portal_affiliate, program_form};

async fn post(
    app: &TestApp,
    client: &Client,
    path: &str,
    token_page: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let res = app.post_form_as(client, path, token_page, fields).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn me_token(app: &TestApp, key: &str, affiliate_id: &str) -> String {
    let (status, body) = app
        .call(
            key,
            Method::POST,
            &format!("/api/v1/affiliates/{affiliate_id}/token"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

const METHODS_PAGE: &str = "/dashboard/settings/payout-methods";

#[tokio::test]
async fn affiliates_pick_only_the_payout_methods_the_vendor_offers() {
    let app = spawn_app().await;
    let s = payout_shop(&app, "Acme", 0).await;
    let (jane, browser) = portal_affiliate(&app, &s, "jane@partners.test", "jane").await;
    let staff = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;

    // By default every method is offered.
    let (status, html) = page(&app, &staff, METHODS_PAGE).await;
    assert_eq!(status, 200);
    assert_eq!(html.matches(" checked").count(), 5, "{html}");
    let (_, html) = page(&app, &staff, "/dashboard/settings").await;
    assert!(
        html.contains(&format!("href=\"{METHODS_PAGE}\"")),
        "linked from Settings"
    );

    // None ticked is refused in words and stores nothing.
    let (status, html) = post(&app, &staff, METHODS_PAGE, METHODS_PAGE, &[]).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("offer at least one payout method"), "{html}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM vendor_payout_methods")
            .await,
        0
    );
    // An unknown method is refused too.
    let (status, _) = post(
        &app,
        &staff,
        METHODS_PAGE,
        METHODS_PAGE,
        &[("payout_method", "cash")],
    )
    .await;
    assert_eq!(status, 422);

    // PayPal and Wise only.
    let (status, _) = post(
        &app,
        &staff,
        METHODS_PAGE,
        METHODS_PAGE,
        &[("payout_method", "paypal"), ("payout_method", "wise")],
    )
    .await;
    assert_eq!(status, 303);
    let (_, html) = page(&app, &staff, &format!("{METHODS_PAGE}?saved=1")).await;
    assert!(html.contains("Payout methods saved."));
    assert!(html.contains("value=\"paypal\" checked") && html.contains("value=\"wise\" checked"));
    assert!(!html.contains("value=\"crypto\" checked"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'vendor.payout_methods_changed'")
            .await,
        1
    );

    // The portal offers only those, and refuses another.
    let (_, html) = page(&app, &browser, "/p/acme/payout-settings").await;
    assert!(
        html.contains("value=\"paypal\"") && html.contains("value=\"wise\""),
        "{html}"
    );
    assert!(
        !html.contains("value=\"crypto\"") && !html.contains("value=\"stripe_connect\""),
        "{html}"
    );
    let (status, html) = post(
        &app,
        &browser,
        "/p/acme/payout-settings",
        "/p/acme/payout-settings",
        &[
            ("payout_method", "crypto"),
            ("payout_details", "BTC bc1qexampleaddress"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(
        html.contains("Crypto is not offered; choose one of: PayPal, Wise"),
        "{html}"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM affiliates WHERE id = '{jane}' AND payout_method IS NULL"
        ))
        .await,
        1
    );

    // /api/v1/me refuses it with the field named, and accepts an offered one.
    let token = me_token(&app, &s.key, &jane).await;
    let (status, err) = app
        .call(
            &token,
            Method::PUT,
            "/api/v1/me/payout-settings",
            Some(json!({"payout_method": "stripe_connect", "stripe_account_id": "acct_1AbCdEf"})),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["field"], "payout_method");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not offered"),
        "{err}"
    );
    let (status, body) = app
        .call(
            &token,
            Method::PUT,
            "/api/v1/me/payout-settings",
            Some(json!({"payout_method": "paypal", "payout_email": "jane@paypal.test"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Another vendor is not affected by Acme's choice.
    let rival = payout_shop(&app, "Rival", 0).await;
    let eve = crate::helpers::affiliates::affiliate(&app, &rival, "eve@partners.test", "eve").await;
    let eve_token = me_token(&app, &rival.key, &eve).await;
    let (status, body) = app
        .call(
            &eve_token,
            Method::PUT,
            "/api/v1/me/payout-settings",
            Some(json!({"payout_method": "crypto", "payout_details": "BTC bc1qexampleaddress"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Acme stops offering PayPal: Jane keeps it (and is paid there), sees a notice, and
    // her next change must pick an offered method.
    earn(&app, &s, &jane, 10_000, Some("inv-1")).await;
    let (status, _) = post(
        &app,
        &staff,
        METHODS_PAGE,
        METHODS_PAGE,
        &[("payout_method", "wise")],
    )
    .await;
    assert_eq!(status, 303);
    let (_, html) = page(&app, &browser, "/p/acme/payout-settings").await;
    assert!(html.contains("PayPal is no longer offered"), "{html}");
    assert!(html.contains("value=\"paypal\" checked"), "{html}");
    let (status, _) = app
        .call(&s.key, Method::POST, "/api/v1/payouts/run", Some(json!({})))
        .await;
    assert!(status == 200 || status == 201, "{status}");
    assert_eq!(
        one(
            &app,
            "SELECT method FROM payouts WHERE affiliate_id = $1",
            &jane
        )
        .await,
        "paypal"
    );
    let (status, err) = app
        .call(
            &token,
            Method::PUT,
            "/api/v1/me/payout-settings",
            Some(json!({"payout_email": "jane.new@paypal.test"})),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    let (status, body) = app
        .call(
            &token,
            Method::PUT,
            "/api/v1/me/payout-settings",
            Some(json!({"payout_method": "wise", "payout_email": "jane@wise.test"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // The vendor's own API may still set any method (it is the vendor's choice).
    let bob = crate::helpers::affiliates::affiliate(&app, &s, "bob@partners.test", "bob").await;
    paypal(&app, &s, &bob, "bob@paypal.test").await;
}

#[tokio::test]
async fn the_affiliate_picker_suggests_only_this_vendors_affiliates() {
    let app = spawn_app().await;
    let s = payout_shop(&app, "Acme", 0).await;
    let mut ids = Vec::new();
    for (email, name) in [
        ("ann@partners.test", "Ann Lee"),
        ("bob@partners.test", "Bob Stone"),
    ] {
        let (status, a) = app
            .call(
                &s.key,
                Method::POST,
                "/api/v1/affiliates",
                Some(json!({"email": email, "name": name, "send_invite": false})),
            )
            .await;
        assert_eq!(status, 201, "{a}");
        let id = a["id"].as_str().unwrap().to_owned();
        crate::helpers::affiliates::set_status(&app, &s, &id, "active").await;
        earn(&app, &s, &id, 1_000, Some(&format!("inv-{name}"))).await;
        ids.push(id);
    }
    let rival = payout_shop(&app, "Rival", 0).await;
    let (status, a) = app
        .call(
            &rival.key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "anna@rival.test", "name": "Anna Rival", "send_invite": false})),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    let rival_id = a["id"].as_str().unwrap().to_owned();
    let staff = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;

    // Suggestions: this vendor's matches only, by name or email.
    let (status, html) = page(&app, &staff, "/dashboard/affiliates/suggest?affiliate=an").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Ann Lee") && html.contains("ann@partners.test"),
        "{html}"
    );
    assert!(
        html.contains(&format!("data-pick-id=\"{}\"", ids[0])),
        "{html}"
    );
    assert!(!html.contains("Anna") && !html.contains("rival"), "{html}");
    let (_, html) = page(
        &app,
        &staff,
        "/dashboard/affiliates/suggest?affiliate=anna%40rival.test",
    )
    .await;
    assert!(
        html.contains("No affiliate matches") && !html.contains("data-pick-id"),
        "{html}"
    );
    let (_, html) = page(&app, &staff, "/dashboard/affiliates/suggest?affiliate=").await;
    assert!(html.trim().is_empty(), "{html}");
    let res = new_client()
        .get(app.url("/dashboard/affiliates/suggest?affiliate=an"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "signed out: to the sign-in page");

    // The filter box is a picker, not an id box.
    let (_, html) = page(&app, &staff, "/dashboard/conversions").await;
    assert!(
        html.contains("placeholder=\"Affiliate: name or email\""),
        "{html}"
    );
    assert!(!html.contains("Affiliate id (aff_"), "{html}");

    // Typed text without script: an exact email, or the only match, filters.
    let (_, html) = page(
        &app,
        &staff,
        "/dashboard/conversions?affiliate=bob%40partners.test",
    )
    .await;
    assert!(
        html.contains("value=\"Bob Stone (bob@partners.test)\""),
        "{html}"
    );
    assert!(html.contains("1 conversion(s)"), "{html}");
    let (_, html) = page(&app, &staff, "/dashboard/payouts?affiliate=stone").await;
    assert!(
        html.contains(&format!("name=\"affiliate_id\" value=\"{}\"", ids[1])),
        "{html}"
    );
    // Several or none: a message, and nothing listed rather than everything.
    let (_, html) = page(&app, &staff, "/dashboard/conversions?affiliate=partners").await;
    assert!(html.contains("No single affiliate matches"), "{html}");
    assert!(html.contains("0 conversion(s)"), "{html}");

    // Links with ?affiliate_id= keep working and show the name.
    let (_, html) = page(
        &app,
        &staff,
        &format!("/dashboard/conversions?affiliate_id={}", ids[0]),
    )
    .await;
    assert!(
        html.contains("value=\"Ann Lee (ann@partners.test)\"") && html.contains("1 conversion(s)"),
        "{html}"
    );
    // Another vendor's affiliate id names nobody and lists nothing.
    let (_, html) = page(
        &app,
        &staff,
        &format!("/dashboard/conversions?affiliate_id={rival_id}"),
    )
    .await;
    assert!(
        !html.contains("Anna") && html.contains("0 conversion(s)"),
        "{html}"
    );
}

#[tokio::test]
async fn dashboard_errors_name_fields_in_words_while_the_api_keeps_its_names() {
    let app = spawn_app().await;
    let s = payout_shop(&app, "Acme", 0).await;
    let staff = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    let path = format!("/dashboard/programs/{}", s.program_id);

    let (status, html) = post(
        &app,
        &staff,
        &path,
        &path,
        &program_form(&[("payout_day", "31")]),
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(
        html.contains("The payout day is a day of the month from 1 to 28 (empty: no schedule)"),
        "{html}"
    );
    assert!(
        !html.contains("payout_day is") && !html.contains("null:"),
        "{html}"
    );
    let (status, html) = post(
        &app,
        &staff,
        &path,
        &path,
        &program_form(&[("landing_url", "ftp://acme.test/")]),
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(
        !html.contains("landing_url must") && html.contains("The landing page"),
        "{html}"
    );

    // The API keeps the field names of its envelope.
    let (status, err) = app
        .call(
            &s.key,
            Method::PATCH,
            &format!("/api/v1/programs/{}", s.program_id),
            Some(json!({"payout_day": 31})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(err["error"]["field"], "payout_day");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("payout_day"),
        "{err}"
    );

    // Error pages speak in words, not status codes.
    let (status, html) = page(&app, &staff, "/dashboard/affiliates/aff_nope").await;
    assert_eq!(status, 404);
    assert!(
        html.contains("Page not found") && !html.contains("404 Not Found"),
        "{html}"
    );

    // The Stripe endpoint is a copyable absolute URL.
    let (_, html) = page(&app, &staff, &path).await;
    assert!(
        html.contains(&format!("/webhooks/stripe/{}</code>", s.program_id))
            && html.contains("data-copy=\"http"),
        "{html}"
    );
    assert!(
        html.contains("data-for-types=\"flat\""),
        "commission fields are tagged by type"
    );
}
