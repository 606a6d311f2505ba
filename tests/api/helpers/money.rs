//! Money: shops that pay commissions, referrals, billing events, Stripe webhooks, manual
//! conversions, payouts and the ledger check.

use reqwest::Method;
use serde_json::{Value, json};

use affilia::domain::earnings::billing::stripe;
use affilia::domain::earnings::ledger;

use super::TestApp;
use super::affiliates::payout_settings;
use super::vendors::{Shop, patch_program, shop};

/// The Stripe webhook secret of every [`money_shop`].
pub const SECRET: &str = "whsec_test_0123456789abcdef";

/// A Stripe event envelope around `object`.
pub fn stripe_event(id: &str, kind: &str, object: Value) -> String {
    json!({"id": id, "object": "event", "api_version": "2024-06-20",
           "created": chrono::Utc::now().timestamp(), "type": kind,
           "data": {"object": object}})
    .to_string()
}

/// Posts a body to the program's Stripe endpoint, signed with `secret` now.
pub async fn post_stripe(
    app: &TestApp,
    program_id: &str,
    body: &str,
    secret: &str,
) -> (u16, Value) {
    let header = stripe::sign(body.as_bytes(), secret, chrono::Utc::now().timestamp());
    post_stripe_raw(app, program_id, body, Some(&header)).await
}

/// Posts a body to the program's Stripe endpoint with the `stripe-signature` header given
/// (or none); returns (status, JSON body or null).
pub async fn post_stripe_raw(
    app: &TestApp,
    program_id: &str,
    body: &str,
    header: Option<&str>,
) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url(&format!("/webhooks/stripe/{program_id}")))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(h) = header {
        req = req.header("stripe-signature", h);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A shop whose program pays `terms`, with the Stripe secret set and a 30-day holding period.
pub async fn money_shop(app: &TestApp, name: &str, terms: Value) -> Shop {
    let s = shop(app, name, "https://shop.example.com/").await;
    patch_program(
        app,
        &s,
        json!({"commission": terms, "stripe_webhook_secret": SECRET, "holding_period_days": 30}),
    )
    .await;
    s
}

/// Reports `customer` as referred by `code`; expects it attributed.
pub async fn refer(app: &TestApp, s: &Shop, customer: &str, code: &str) {
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/referrals",
            Some(json!({"customer_id": customer, "code": code})),
        )
        .await;
    assert!(status == 200 || status == 201, "{body}");
    assert_eq!(body["attributed"], true, "{body}");
}

/// Posts a billing event to the events API.
pub async fn event(app: &TestApp, s: &Shop, body: Value) -> (u16, Value) {
    app.call(&s.key, Method::POST, "/api/v1/events", Some(body))
        .await
}

/// Asserts the ledger has no invariant violations.
pub async fn verify_ledger(app: &TestApp) {
    let violations = ledger::verify(&app.db).await.unwrap();
    assert!(violations.is_empty(), "{violations:?}");
}

/// Records a manual conversion of `cents` for the affiliate through the API (with
/// `external_id` when `external` is given, none otherwise); approves it when `approve`, so
/// its commission is available at once. Returns its id.
pub async fn convert(
    app: &TestApp,
    s: &Shop,
    affiliate_id: &str,
    cents: i64,
    external: Option<&str>,
    approve: bool,
) -> String {
    let mut body = json!({"affiliate_id": affiliate_id, "amount_cents": cents});
    if let Some(external) = external {
        body["external_id"] = json!(external);
    }
    let (status, c) = app
        .call(&s.key, Method::POST, "/api/v1/conversions", Some(body))
        .await;
    assert_eq!(status, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_owned();
    if approve {
        let (status, body) = app
            .call(
                &s.key,
                Method::POST,
                &format!("/api/v1/conversions/{id}/approve"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    id
}

/// A manual conversion of `cents`, approved so its commission is available at once;
/// returns the conversion id.
pub async fn earn(
    app: &TestApp,
    s: &Shop,
    affiliate_id: &str,
    cents: i64,
    external: Option<&str>,
) -> String {
    convert(app, s, affiliate_id, cents, external, true).await
}

/// Pays `affiliate_id` everything available now (run + mark paid).
pub async fn pay_everyone(app: &TestApp, s: &Shop, affiliate_id: &str) {
    payout_settings(
        app,
        s,
        affiliate_id,
        json!({"payout_method": "paypal", "payout_email": "payee@paypal.test"}),
    )
    .await;
    patch_program(app, s, json!({"min_payout_cents": 1})).await;
    let (status, body) = app
        .call(&s.key, Method::POST, "/api/v1/payouts/run", Some(json!({})))
        .await;
    assert_eq!(status, 201, "{body}");
    for p in body["runs"][0]["payouts"].as_array().unwrap() {
        let (status, body) = app
            .call(
                &s.key,
                Method::POST,
                &format!("/api/v1/payouts/{}/mark-paid", p["id"].as_str().unwrap()),
                Some(json!({"reference": "test"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
}
