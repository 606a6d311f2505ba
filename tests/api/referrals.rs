//! Referrals: binding customers per the program's attribution model and window,
//! self-referral refusal, idempotency, bad input, isolation.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::affiliates::{affiliate, set_status};
use crate::helpers::tracking::{aff_sess, click};
use crate::helpers::vendors::{Shop, patch_program, shop, shop_named};
use crate::helpers::{TestApp, spawn_app};

async fn refer(app: &TestApp, shop: &Shop, body: Value) -> (u16, Value) {
    app.call(&shop.key, Method::POST, "/api/v1/referrals", Some(body))
        .await
}

#[tokio::test]
async fn a_referral_binds_the_customer_of_a_click_once() {
    let app = spawn_app().await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/").await;
    let jane = affiliate(&app, &shop, "jane@partners.test", "jane").await;
    let (_, location) = click(&app, &app.client, "/r/jane").await;
    let sess = aff_sess(&location);

    // Straight after the click (still queued in the writer): found all the same.
    let (status, r) = refer(
        &app,
        &shop,
        json!({"customer_id": "cus_1", "email": "buyer@example.test", "aff_sess": sess}),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["attributed"], true);
    assert_eq!(r["outcome"], "created");
    let referral = &r["referral"];
    assert_eq!(referral["affiliate_id"], jane.as_str());
    assert_eq!(referral["customer_id"], "cus_1");
    assert_eq!(referral["click_id"], sess.as_str());
    assert_eq!(referral["code"], "jane");
    assert_eq!(referral["source"], "click");
    let id = referral["id"].as_str().unwrap().to_owned();

    // Reporting it again changes nothing.
    let (status, again) = refer(
        &app,
        &shop,
        json!({"customer_id": "cus_1", "email": "buyer@example.test", "aff_sess": sess}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(again["outcome"], "unchanged");
    assert_eq!(again["referral"]["id"], id.as_str());
    assert_eq!(app.count("SELECT COUNT(*) FROM referrals").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE type = 'referral.created'")
            .await,
        1
    );

    let list: Value = app
        .api_get(&shop.key, &format!("/api/v1/referrals?affiliate_id={jane}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
    assert_eq!(list["data"][0]["id"], id.as_str());
    let one = app
        .api_get(&shop.key, &format!("/api/v1/referrals/{id}"))
        .await;
    assert_eq!(one.status(), 200);

    // Another vendor sees nothing and cannot use the click.
    let rival = shop_named(&app, "Rival").await;
    assert_eq!(
        app.api_get(&rival.key, &format!("/api/v1/referrals/{id}"))
            .await
            .status(),
        404
    );
    let (status, r) = refer(
        &app,
        &rival,
        json!({"customer_id": "cus_1", "aff_sess": sess}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(r["reason"], "unknown_click");
    let (_, r) = refer(
        &app,
        &rival,
        json!({"customer_id": "cus_1", "code": "jane"}),
    )
    .await;
    assert_eq!(r["reason"], "unknown_code");
}

#[tokio::test]
async fn last_touch_moves_the_customer_and_first_touch_keeps_them() {
    let app = spawn_app().await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/").await;
    let jane = affiliate(&app, &shop, "jane@partners.test", "jane").await;
    let john = affiliate(&app, &shop, "john@partners.test", "john").await;
    let (_, a) = click(&app, &app.client, "/r/jane").await;
    let (_, b) = click(&app, &app.client, "/r/john").await;
    let (jane_click, john_click) = (aff_sess(&a), aff_sess(&b));

    let (status, r) = refer(
        &app,
        &shop,
        json!({"customer_id": "cus_1", "aff_sess": jane_click}),
    )
    .await;
    assert_eq!((status, &r["outcome"]), (201, &json!("created")));
    let (status, r) = refer(
        &app,
        &shop,
        json!({"customer_id": "cus_1", "aff_sess": john_click}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(r["outcome"], "moved");
    assert_eq!(r["referral"]["affiliate_id"], john.as_str());
    // The older touch does not take it back.
    let (_, r) = refer(
        &app,
        &shop,
        json!({"customer_id": "cus_1", "aff_sess": jane_click}),
    )
    .await;
    assert_eq!(r["outcome"], "unchanged");
    assert_eq!(r["referral"]["affiliate_id"], john.as_str());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE type = 'referral.moved'")
            .await,
        1
    );

    patch_program(&app, &shop, json!({"attribution_model": "first_touch"})).await;
    let (_, r) = refer(&app, &shop, json!({"customer_id": "cus_2", "code": "jane"})).await;
    assert_eq!(r["outcome"], "created");
    assert_eq!(r["referral"]["source"], "code");
    let (status, r) = refer(
        &app,
        &shop,
        json!({"customer_id": "cus_2", "aff_sess": john_click}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(r["outcome"], "kept_first_touch");
    assert_eq!(r["attributed"], true);
    assert_eq!(r["referral"]["affiliate_id"], jane.as_str());
    assert_eq!(app.count("SELECT COUNT(*) FROM referrals").await, 2);
}

#[tokio::test]
async fn clicks_outside_the_window_attribute_nothing() {
    let app = spawn_app().await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/").await;
    affiliate(&app, &shop, "jane@partners.test", "jane").await;
    patch_program(&app, &shop, json!({"attribution_window_days": 7})).await;
    let (_, location) = click(&app, &app.client, "/r/jane").await;
    let sess = aff_sess(&location);
    app.flush_clicks().await;
    let eight_days_ago = affilia::db::now_ms() - 8 * 86_400_000;
    sqlx::query("UPDATE clicks SET created_at = $1 WHERE id = $2")
        .bind(eight_days_ago)
        .bind(&sess)
        .execute(app.db.pool())
        .await
        .unwrap();
    let (status, r) = refer(
        &app,
        &shop,
        json!({"customer_id": "cus_1", "aff_sess": sess}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["attributed"], false);
    assert_eq!(r["outcome"], "not_attributed");
    assert_eq!(r["reason"], "outside_window");
    // A code given beside the stale click does not sneak around the window.
    let (_, r) = refer(
        &app,
        &shop,
        json!({"customer_id": "cus_1", "aff_sess": sess, "code": "jane"}),
    )
    .await;
    assert_eq!(r["reason"], "outside_window");
    assert_eq!(app.count("SELECT COUNT(*) FROM referrals").await, 0);

    patch_program(&app, &shop, json!({"attribution_window_days": 10})).await;
    let (status, r) = refer(
        &app,
        &shop,
        json!({"customer_id": "cus_1", "aff_sess": sess}),
    )
    .await;
    assert_eq!(status, 201, "{r}");
}

#[tokio::test]
async fn self_referrals_are_refused_unless_the_program_allows_them() {
    let app = spawn_app().await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/").await;
    let jane = affiliate(&app, &shop, "jane@partners.test", "jane").await;
    let (status, _) = app
        .call(
            &shop.key,
            Method::PATCH,
            &format!("/api/v1/affiliates/{jane}"),
            Some(json!({"customer_id": "cus_jane"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, location) = click(&app, &app.client, "/r/jane").await;
    let sess = aff_sess(&location);

    for body in [
        json!({"customer_id": "cus_9", "email": "JANE@Partners.test", "aff_sess": sess}),
        json!({"customer_id": "cus_jane", "code": "jane"}),
    ] {
        let (status, r) = refer(&app, &shop, body).await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(r["attributed"], false);
        assert_eq!(r["reason"], "self_referral");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM referrals").await, 0);

    patch_program(&app, &shop, json!({"allow_self_referral": true})).await;
    let (status, r) = refer(
        &app,
        &shop,
        json!({"customer_id": "cus_jane", "email": "jane@partners.test", "aff_sess": sess}),
    )
    .await;
    assert_eq!(status, 201, "{r}");
}

#[tokio::test]
async fn bad_referral_reports_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/").await;
    let jane = affiliate(&app, &shop, "jane@partners.test", "jane").await;

    let cases: [(Value, u16, &str); 8] = [
        (json!({"code": "jane"}), 400, "customer_id"),
        (
            json!({"customer_id": "", "code": "jane"}),
            422,
            "customer_id",
        ),
        (
            json!({"customer_id": "c".repeat(201), "code": "jane"}),
            422,
            "customer_id",
        ),
        (json!({"customer_id": "cus_1"}), 422, "aff_sess"),
        (
            json!({"customer_id": "cus_1", "aff_sess": "not-a-click"}),
            422,
            "aff_sess",
        ),
        (
            json!({"customer_id": "cus_1", "code": "<script>"}),
            422,
            "code",
        ),
        (
            json!({"customer_id": "cus_1", "code": "jane", "email": "nope"}),
            422,
            "email",
        ),
        (
            json!({"customer_id": "cus_1", "code": "jane", "extra": 1}),
            400,
            "extra",
        ),
    ];
    for (body, status, field) in cases {
        let (got, err) = refer(&app, &shop, body.clone()).await;
        assert_eq!(got, status, "{body}: {err}");
        assert_eq!(err["error"]["field"], field, "{body}: {err}");
    }
    let (status, r) = refer(
        &app,
        &shop,
        json!({"customer_id": "cus_1", "aff_sess": "clk_01jzzzzzzzzzzzzzzzzzzzzzzz"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(r["reason"], "unknown_click");
    let (_, r) = refer(
        &app,
        &shop,
        json!({"customer_id": "cus_1", "code": "nobody"}),
    )
    .await;
    assert_eq!(r["reason"], "unknown_code");

    set_status(&app, &shop, &jane, "deactivated").await;
    let (_, r) = refer(&app, &shop, json!({"customer_id": "cus_1", "code": "jane"})).await;
    assert_eq!(r["reason"], "affiliate_inactive");
    assert_eq!(app.count("SELECT COUNT(*) FROM referrals").await, 0);

    let read = app
        .api_key(
            &shop.vendor_id,
            affilia::domain::tenancy::api_keys::Scope::Read,
        )
        .await;
    let (status, _) = app
        .call(
            &read,
            Method::POST,
            "/api/v1/referrals",
            Some(json!({"customer_id": "cus_1", "code": "jane"})),
        )
        .await;
    assert_eq!(status, 403);
    for bad in ["page=0", "per_page=-1", "nope=1"] {
        let status = app
            .api_get(&shop.key, &format!("/api/v1/referrals?{bad}"))
            .await
            .status();
        assert!(status == 400 || status == 422, "{bad}: {status}");
    }
}

#[tokio::test]
async fn concurrent_reports_of_one_customer_bind_once() {
    let app = spawn_app().await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/").await;
    affiliate(&app, &shop, "jane@partners.test", "jane").await;
    let calls = (0..8).map(|_| {
        refer(
            &app,
            &shop,
            json!({"customer_id": "cus_race", "code": "jane"}),
        )
    });
    let results = futures_util::future::join_all(calls).await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|(s, r)| (*s == 200 || *s == 201) && r["attributed"] == true)
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM referrals").await, 1);
}
