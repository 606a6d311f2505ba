//! Conversions, commissions and the ledger through the three doors: the billing events API,
//! Stripe webhooks (real payload shapes from tests/fixtures/stripe, a copy of
//! ../shared/fixtures/stripe kept in the repository so CI has them; signed like Stripe
//! signs them) and manual conversions.

use reqwest::Method;
use serde_json::{Value, json};

use affilia::domain::earnings::billing::stripe;

use crate::helpers::affiliates::{affiliate, set_status};
use crate::helpers::money::{
    SECRET, convert, event, money_shop, pay_everyone, post_stripe, post_stripe_raw, refer,
    stripe_event, verify_ledger,
};
use crate::helpers::vendors::{Shop, patch_program};
use crate::helpers::{TestApp, spawn_app};

const DAY_MS: i64 = 86_400_000;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/stripe/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn charge(id: &str, customer: &str, amount: i64, extra: Value) -> Value {
    let mut v = json!({"id": id, "type": "charge.succeeded", "customer_id": customer,
                       "amount_cents": amount, "currency": "USD",
                       "occurred_at": chrono::Utc::now().to_rfc3339()});
    if let Value::Object(m) = extra {
        for (k, x) in m {
            v[k] = x;
        }
    }
    v
}

async fn balances(app: &TestApp, s: &Shop, affiliate_id: &str) -> Value {
    let (status, body) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/ledger?affiliate_id={affiliate_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["balances"].clone()
}

fn usd(b: &Value) -> (i64, i64, i64) {
    let usd = b
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["currency"] == "USD")
        .cloned()
        .unwrap_or(json!({"pending_cents": 0, "available_cents": 0, "paid_cents": 0}));
    (
        usd["pending_cents"].as_i64().unwrap(),
        usd["available_cents"].as_i64().unwrap(),
        usd["paid_cents"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn one_sale_through_every_door_is_one_commission() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Doors", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    refer(&app, &s, "cus_1", "jane").await;

    // The secret is write-only.
    let (_, p) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/programs/{}", s.program_id),
            None,
        )
        .await;
    assert_eq!(p["stripe_webhook_configured"], true);
    assert!(!p.to_string().contains(SECRET));

    // 1. Checkout Session (payment mode): the conversion, keyed by its payment intent.
    let session = stripe_event(
        "evt_cs_1",
        "checkout.session.completed",
        json!({"id": "cs_1", "object": "checkout.session", "mode": "payment",
               "payment_status": "paid", "amount_total": 4900, "currency": "usd",
               "customer": "cus_1", "payment_intent": "pi_1", "metadata": {}}),
    );
    let (status, body) = post_stripe(&app, &s.program_id, &session, SECRET).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "processed", "{body}");
    let conversion = body["conversion_id"].as_str().unwrap().to_owned();

    // 2. The same webhook again: acknowledged, nothing changes.
    let (status, again) = post_stripe(&app, &s.program_id, &session, SECRET).await;
    assert_eq!(status, 200);
    assert_eq!(again["duplicate"], true);

    // 3. charge.succeeded of the same payment intent, with its invoice and charge ids.
    let charge_evt = stripe_event(
        "evt_ch_1",
        "charge.succeeded",
        json!({"id": "ch_1", "object": "charge", "amount": 4900, "currency": "usd",
               "customer": "cus_1", "payment_intent": "pi_1", "invoice": "in_1", "metadata": {}}),
    );
    let (_, body) = post_stripe(&app, &s.program_id, &charge_evt, SECRET).await;
    assert_eq!(body["conversion_id"], conversion.as_str(), "{body}");

    // 4. invoice.paid of that invoice, and an API event naming the charge: still the same.
    let invoice = stripe_event(
        "evt_in_1",
        "invoice.paid",
        json!({"id": "in_1", "object": "invoice", "amount_paid": 4900, "currency": "usd",
               "customer": "cus_1", "charge": "ch_1", "metadata": {}}),
    );
    let (_, body) = post_stripe(&app, &s.program_id, &invoice, SECRET).await;
    assert_eq!(body["conversion_id"], conversion.as_str(), "{body}");
    let (status, body) = event(
        &app,
        &s,
        charge("api_evt_1", "cus_1", 4900, json!({"charge_id": "ch_1"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["conversion_id"], conversion.as_str(), "{body}");

    // One conversion, one commission of 20 % of 49.00.
    assert_eq!(app.count("SELECT COUNT(*) FROM conversions").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM commissions").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM billing_events").await, 4);
    let (_, c) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/conversions/{conversion}"),
            None,
        )
        .await;
    assert_eq!(c["commission_cents"], 980, "{c}");
    assert_eq!(c["affiliate_id"], jane.as_str());
    assert_eq!(c["invoice_id"], "in_1");
    assert_eq!(c["charge_id"], "ch_1");
    assert_eq!(usd(&balances(&app, &s, &jane).await), (980, 0, 0));
    verify_ledger(&app).await;
}

#[tokio::test]
async fn stripe_signatures_are_checked_before_anything_is_stored() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Sig", json!({"type": "percentage", "bps": 2000})).await;
    let body = stripe_event(
        "evt_sig",
        "charge.succeeded",
        json!({"id": "ch_x", "amount": 100, "currency": "usd"}),
    );
    // Wrong secret, no header, garbage header, an old timestamp.
    let (status, err) = post_stripe(&app, &s.program_id, &body, "whsec_wrong_secret_0000").await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signature")
    );
    assert_eq!(
        post_stripe_raw(&app, &s.program_id, &body, None).await.0,
        400
    );
    assert_eq!(
        post_stripe_raw(&app, &s.program_id, &body, Some("t=1,v1=zz"))
            .await
            .0,
        400
    );
    let old = stripe::sign(
        body.as_bytes(),
        SECRET,
        chrono::Utc::now().timestamp() - 301,
    );
    assert_eq!(
        post_stripe_raw(&app, &s.program_id, &body, Some(&old))
            .await
            .0,
        400
    );
    // A tampered body under a valid signature of the original.
    let header = stripe::sign(body.as_bytes(), SECRET, chrono::Utc::now().timestamp());
    let tampered = body.replace("100", "999");
    assert_eq!(
        post_stripe_raw(&app, &s.program_id, &tampered, Some(&header))
            .await
            .0,
        400
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM billing_events").await, 0);
    // Unknown program: 404; a program without a secret: 400.
    assert_eq!(post_stripe(&app, "prg_nope", &body, SECRET).await.0, 404);
    patch_program(&app, &s, json!({"stripe_webhook_secret": null})).await;
    assert_eq!(post_stripe(&app, &s.program_id, &body, SECRET).await.0, 400);
    patch_program(&app, &s, json!({"stripe_webhook_secret": SECRET})).await;
    // A secret that is not one is refused.
    let (status, err) = app
        .call(
            &s.key,
            Method::PATCH,
            &format!("/api/v1/programs/{}", s.program_id),
            Some(json!({"stripe_webhook_secret": "sk_live_nope"})),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["field"], "stripe_webhook_secret");
    // Unknown types: 200, acknowledged and logged as ignored.
    let other = stripe_event("evt_payout", "payout.paid", json!({"id": "po_1"}));
    let (status, body) = post_stripe(&app, &s.program_id, &other, SECRET).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ignored", "{body}");
    assert_eq!(app.count("SELECT COUNT(*) FROM billing_events").await, 1);
}

#[tokio::test]
async fn real_stripe_payloads_convert_refund_and_match_api_events() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Fixtures", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;

    // odoo's Checkout Session (2019 API, display_items): 2 × 15.00 USD.
    refer(&app, &s, "cus_HP3xLqXMIwBfTg", "jane").await;
    let (status, body) = post_stripe(
        &app,
        &s.program_id,
        &fixture("checkout.session.completed.event.odoo.signed.json"),
        SECRET,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "processed", "{body}");

    // gitpay's invoice.paid: 108.00 USD.
    refer(&app, &s, "cus_QsYn1aSStYv4tf", "jane").await;
    let (_, body) = post_stripe(
        &app,
        &s.program_id,
        &fixture("invoice.paid.event.gitpay.json"),
        SECRET,
    )
    .await;
    assert_eq!(body["status"], "processed", "{body}");

    // lago's charge.succeeded has no customer and no metadata: acknowledged, not attributed.
    let (_, body) = post_stripe(
        &app,
        &s.program_id,
        &fixture("charge.succeeded.event.lago.json"),
        SECRET,
    )
    .await;
    assert_eq!(body["status"], "ignored", "{body}");

    // pay's charge.refunded (15.00 charge, 5.00 refunded) refunds a sale that came in through
    // the API with the same charge id: one third of the 3.00 commission is reversed.
    refer(&app, &s, "cus_0dUMWLtzCTagWs", "jane").await;
    let (status, body) = event(
        &app,
        &s,
        charge(
            "sale_pay_1",
            "cus_0dUMWLtzCTagWs",
            1500,
            json!({"charge_id": "ch_chargeid"}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let sale = body["conversion_id"].as_str().unwrap().to_owned();
    let refund = format!(
        r#"{{"id":"evt_refund_pay","object":"event","created":{},"type":"charge.refunded","data":{}}}"#,
        chrono::Utc::now().timestamp(),
        fixture("charge.refunded.data.pay-rails.json")
    );
    let (_, body) = post_stripe(&app, &s.program_id, &refund, SECRET).await;
    assert_eq!(body["conversion_id"], sale.as_str(), "{body}");
    let (_, c) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/conversions/{sale}"),
            None,
        )
        .await;
    assert_eq!(c["refunded_cents"], 500);
    assert_eq!(c["commissions"][0]["reversed_cents"], 100, "{c}");
    assert_eq!(c["commission_cents"], 200);

    // 600 + 2160 + 200 pending.
    assert_eq!(usd(&balances(&app, &s, &jane).await), (2960, 0, 0));
    let (_, list) = app
        .call(&s.key, Method::GET, "/api/v1/conversions?limit=2", None)
        .await;
    assert_eq!(list["total"], 3);
    assert_eq!(list["per_page"], 2);
    verify_ledger(&app).await;
}

#[tokio::test]
async fn refunds_reverse_proportionally_and_a_refund_after_payout_is_clawed_back() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Refunds", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    refer(&app, &s, "cus_r", "jane").await;
    let (_, sale) = event(
        &app,
        &s,
        charge("sale_1", "cus_r", 10_000, json!({"charge_id": "ch_r"})),
    )
    .await;
    let conversion = sale["conversion_id"].as_str().unwrap().to_owned();
    let refund = |id: &str, amount: i64| {
        json!({"id": id, "type": "refund.processed", "customer_id": "cus_r", "amount_cents": amount,
               "currency": "USD", "charge_id": "ch_r", "occurred_at": chrono::Utc::now().to_rfc3339()})
    };
    // A quarter refunded: a quarter of 20.00 taken back from pending.
    let (status, body) = event(&app, &s, refund("ref_1", 2500)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["result"]["reversed_cents"], 500, "{body}");
    assert_eq!(usd(&balances(&app, &s, &jane).await), (1500, 0, 0));
    // The same refund event again changes nothing.
    let (status, body) = event(&app, &s, refund("ref_1", 2500)).await;
    assert_eq!((status, body["duplicate"].clone()), (200, json!(true)));
    // Approved early: available at once.
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/conversions/{conversion}/approve"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "approved");
    assert_eq!(usd(&balances(&app, &s, &jane).await), (0, 1500, 0));
    let (status, _) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/conversions/{conversion}/approve"),
            None,
        )
        .await;
    assert_eq!(status, 409);
    // Paid out.
    pay_everyone(&app, &s, &jane).await;
    assert_eq!(usd(&balances(&app, &s, &jane).await), (0, 0, 1500));
    // The rest refunded after the payout: clawed back from available (negative).
    let (_, body) = event(&app, &s, refund("ref_2", 7500)).await;
    assert_eq!(body["result"]["reversed_cents"], 1500, "{body}");
    assert_eq!(body["result"]["status"], "reversed");
    assert_eq!(usd(&balances(&app, &s, &jane).await), (0, -1500, 1500));
    // Over-refunding is capped at the sale.
    let (_, body) = event(&app, &s, refund("ref_3", 100)).await;
    assert_eq!(body["status"], "ignored", "{body}");
    verify_ledger(&app).await;
}

#[tokio::test]
async fn commissions_mature_after_the_holding_period() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Hold", json!({"type": "flat", "amount_cents": 1500})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    let (status, c) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/conversions",
            Some(json!({"affiliate_id": jane, "amount_cents": 4900, "external_id": "order-1"})),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["commission_cents"], 1500);
    let now = affilia::db::now_ms();
    app.run_jobs_at(now + 29 * DAY_MS).await;
    assert_eq!(usd(&balances(&app, &s, &jane).await), (1500, 0, 0));
    app.run_jobs_at(now + 31 * DAY_MS).await;
    assert_eq!(usd(&balances(&app, &s, &jane).await), (0, 1500, 0));
    let (_, c) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/conversions/{}", c["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(c["status"], "approved");
    assert_eq!(c["commissions"][0]["status"], "available");
    // Maturing again does nothing.
    app.run_jobs_at(now + 40 * DAY_MS).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM ledger_entries").await, 4);
    verify_ledger(&app).await;
}

#[tokio::test]
async fn manual_conversions_follow_seed_004() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Manual", json!({"type": "percentage", "bps": 1000})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    let post = |body: Value| app.call(&s.key, Method::POST, "/api/v1/conversions", Some(body));
    let (status, c) =
        post(json!({"affiliate_id": jane, "amount_cents": 4900, "external_id": "inv_2026_00142"}))
            .await;
    assert_eq!(status, 201, "{c}");
    assert!(c["id"].as_str().unwrap().starts_with("cnv_"));
    assert_eq!(c["commission_cents"], 490);
    // Same external id: 409 naming the existing conversion.
    let (status, err) =
        post(json!({"affiliate_id": jane, "amount_cents": 100, "external_id": "inv_2026_00142"}))
            .await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "duplicate");
    assert_eq!(err["error"]["existing_id"], c["id"]);
    // By code; 10 % of 0.05 is half a cent, rounded up.
    let (status, c2) = post(json!({"code": "JANE", "amount_cents": 5, "currency": "eur"})).await;
    assert_eq!(status, 201, "{c2}");
    assert_eq!(c2["commission_cents"], 1); // 0.5 → 1
    assert_eq!(c2["currency"], "EUR");
    // Unknown affiliate or code: 404; bad amounts: 422; missing amount: 400.
    assert_eq!(
        post(json!({"affiliate_id": "aff_nope", "amount_cents": 100}))
            .await
            .0,
        404
    );
    assert_eq!(
        post(json!({"code": "nobody", "amount_cents": 100})).await.0,
        404
    );
    let (status, err) = post(json!({"affiliate_id": jane, "amount_cents": 0})).await;
    assert_eq!(
        (status, err["error"]["field"].clone()),
        (422, json!("amount_cents"))
    );
    assert_eq!(
        post(json!({"affiliate_id": jane, "amount_cents": -5}))
            .await
            .0,
        422
    );
    assert_eq!(
        post(json!({"affiliate_id": jane, "amount_cents": 1.5}))
            .await
            .0,
        400
    );
    assert_eq!(post(json!({"affiliate_id": jane})).await.0, 400);
    assert_eq!(post(json!({"amount_cents": 100})).await.0, 422);
    // A paused affiliate earns nothing new; the conversion is kept with the reason.
    set_status(&app, &s, &jane, "paused").await;
    let (status, c3) = post(json!({"affiliate_id": jane, "amount_cents": 1000})).await;
    assert_eq!(status, 201, "{c3}");
    assert_eq!(c3["status"], "rejected");
    assert_eq!(c3["reason"], "affiliate_inactive");
    assert_eq!(c3["commission_cents"], 0);
    // List filters and the seed's `limit`.
    let (_, list) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/conversions?status=rejected&affiliate_id={jane}"),
            None,
        )
        .await;
    assert_eq!(list["total"], 1, "{list}");
    let (status, _) = app
        .call(
            &s.key,
            Method::GET,
            "/api/v1/conversions?status=bogus",
            None,
        )
        .await;
    assert_eq!(status, 422);
    // Rejecting a rejected conversion: 409.
    let (status, _) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/conversions/{}/reject", c3["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 409);
    verify_ledger(&app).await;
}

#[tokio::test]
async fn rejecting_a_pending_conversion_takes_its_commission_back() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Reject", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    let (_, c) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/conversions",
            Some(json!({"affiliate_id": jane, "amount_cents": 1000})),
        )
        .await;
    let id = c["id"].as_str().unwrap();
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/conversions/{id}/reject"),
            Some(json!({"reason": "fraud"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["status"].clone(), body["reason"].clone()),
        (json!("rejected"), json!("fraud"))
    );
    assert_eq!(usd(&balances(&app, &s, &jane).await), (0, 0, 0));
    let (_, commissions) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/commissions?conversion_id={id}"),
            None,
        )
        .await;
    assert_eq!(commissions["data"][0]["status"], "rejected");
    verify_ledger(&app).await;
}

/// (level, amount) of each commission an event produced.
fn levels_of(processed: &Value) -> Vec<(i64, i64)> {
    processed["result"]["commissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["level"].as_i64().unwrap(),
                c["amount_cents"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn commission_rules_recurring_tiered_override_and_upline() {
    let app = spawn_app().await;
    let s = money_shop(
        &app,
        "Rules",
        json!({"type": "recurring", "bps": 3000, "max_cycles": 2,
               "multi_level": [{"level": 1, "bps": 500}, {"level": 2, "bps": 200}, {"level": 3, "bps": 100}]}),
    )
    .await;
    let grandpa = affiliate(&app, &s, "grandpa@example.com", "grandpa").await;
    let parent = affiliate(&app, &s, "parent@example.com", "parent").await;
    let kid = affiliate(&app, &s, "kid@example.com", "kid").await;
    let link = |child: String, up: String| {
        let app = &app;
        let key = s.key.clone();
        async move {
            app.call(
                &key,
                Method::PATCH,
                &format!("/api/v1/affiliates/{child}"),
                Some(json!({"parent_affiliate_id": up})),
            )
            .await
        }
    };
    assert_eq!(link(parent.clone(), grandpa.clone()).await.0, 200);
    assert_eq!(link(kid.clone(), parent.clone()).await.0, 200);
    // A loop is refused.
    let (status, err) = link(grandpa.clone(), kid.clone()).await;
    assert_eq!(
        (status, err["error"]["field"].clone()),
        (422, json!("parent_affiliate_id"))
    );
    refer(&app, &s, "cus_sub", "kid").await;
    let pay = |n: i64| {
        charge(
            &format!("inv_evt_{n}"),
            "cus_sub",
            10_000,
            json!({"subscription_id": "sub_1", "invoice_id": format!("in_{n}")}),
        )
    };
    // Cycle 1: kid 30 %, parent 5 %, grandpa 2 %.
    let (_, b) = event(&app, &s, pay(1)).await;
    let levels = levels_of(&b);
    assert_eq!(levels, vec![(0, 3000), (1, 500), (2, 200)], "{b}");
    // Paused grandpa: its level is skipped; override on the kid does not change uplines.
    set_status(&app, &s, &grandpa, "paused").await;
    let (status, _) = app
        .call(
            &s.key,
            Method::PATCH,
            &format!("/api/v1/affiliates/{kid}"),
            Some(
                json!({"commission_override": {"type": "recurring", "bps": 4000, "max_cycles": 2}}),
            ),
        )
        .await;
    assert_eq!(status, 200);
    let (_, b) = event(&app, &s, pay(2)).await;
    let levels = levels_of(&b);
    assert_eq!(levels, vec![(0, 4000), (1, 500)], "{b}");
    // Cycle 3 of a 2-cycle rate: the kid earns nothing; the upline still earns its ladder.
    let (_, b) = event(&app, &s, pay(3)).await;
    assert!(
        b["result"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("recurring_limit"),
        "{b}"
    );
    assert_eq!(b["result"]["commissions"][0]["level"], 1, "{b}");

    // Tiered: the rate rises after 2 approved conversions.
    patch_program(
        &app,
        &s,
        json!({"commission": {"type": "tiered", "bps": 1000, "tiers": [{"min_conversions": 2, "bps": 2000}]}}),
    )
    .await;
    let tier = affiliate(&app, &s, "tier@example.com", "tier").await;
    let mut earned = Vec::new();
    for _ in 0..3 {
        let (_, c) = app
            .call(
                &s.key,
                Method::POST,
                "/api/v1/conversions",
                Some(json!({"affiliate_id": tier, "amount_cents": 1000})),
            )
            .await;
        earned.push(c["commission_cents"].as_i64().unwrap());
        let id = c["id"].as_str().unwrap();
        app.call(
            &s.key,
            Method::POST,
            &format!("/api/v1/conversions/{id}/approve"),
            None,
        )
        .await;
    }
    assert_eq!(earned, vec![100, 100, 200]);
    verify_ledger(&app).await;
}

#[tokio::test]
async fn conversion_definition_first_payment_or_a_named_event() {
    let app = spawn_app().await;
    let s = money_shop(
        &app,
        "Definition",
        json!({"type": "flat", "amount_cents": 2500}),
    )
    .await;
    let _jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    refer(&app, &s, "cus_d", "jane").await;
    patch_program(&app, &s, json!({"conversion_kind": "first_payment"})).await;
    let (_, first) = event(&app, &s, charge("d1", "cus_d", 1000, json!({}))).await;
    assert_eq!(first["status"], "processed", "{first}");
    let (_, second) = event(&app, &s, charge("d2", "cus_d", 1000, json!({}))).await;
    assert_eq!(second["status"], "ignored", "{second}");
    assert_eq!(second["result"]["reason"], "not_qualifying");

    // A named event: trials started count, payments do not.
    let (status, err) = app
        .call(
            &s.key,
            Method::PATCH,
            &format!("/api/v1/programs/{}", s.program_id),
            Some(json!({"conversion_kind": "event"})),
        )
        .await;
    assert_eq!(
        (status, err["error"]["field"].clone()),
        (422, json!("conversion_event"))
    );
    patch_program(
        &app,
        &s,
        json!({"conversion_kind": "event", "conversion_event": "subscription.created"}),
    )
    .await;
    refer(&app, &s, "cus_trial", "jane").await;
    let (_, pay) = event(&app, &s, charge("d3", "cus_trial", 1000, json!({}))).await;
    assert_eq!(pay["status"], "ignored", "{pay}");
    let trial = json!({"id": "d4", "type": "subscription.created", "customer_id": "cus_trial", "amount_cents": 0,
                       "subscription_id": "sub_trial", "occurred_at": chrono::Utc::now().to_rfc3339()});
    let (status, b) = event(&app, &s, trial).await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(b["result"]["commission_cents"], 2500, "{b}");
    // The same subscription through Stripe: the same conversion.
    let sub = stripe_event(
        "evt_sub",
        "customer.subscription.created",
        json!({"id": "sub_trial", "customer": "cus_trial", "metadata": {}, "items": {"data": []}}),
    );
    let (_, b) = post_stripe(&app, &s.program_id, &sub, SECRET).await;
    assert!(b["conversion_id"].is_string(), "{b}");
    assert_eq!(app.count("SELECT COUNT(*) FROM conversions").await, 2);
    verify_ledger(&app).await;
}

#[tokio::test]
async fn attribution_from_metadata_self_referral_and_replay() {
    let app = spawn_app().await;
    let s = money_shop(
        &app,
        "Attribution",
        json!({"type": "percentage", "bps": 2000}),
    )
    .await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    // Metadata carries the code (the README's snippet keys): the customer gets bound too.
    let (_, b) = event(
        &app,
        &s,
        charge(
            "m1",
            "cus_meta",
            1000,
            json!({"metadata": {"affiliate_code": "jane"}}),
        ),
    )
    .await;
    assert_eq!(b["status"], "processed", "{b}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM referrals WHERE customer_id = 'cus_meta'")
            .await,
        1
    );
    // Stripe invoice with the code in the subscription's metadata.
    let inv = stripe_event(
        "evt_meta_inv",
        "invoice.paid",
        json!({"id": "in_meta", "amount_paid": 2000, "currency": "usd", "customer": "cus_meta2",
               "subscription_details": {"metadata": {"ref": "jane"}}}),
    );
    let (_, b) = post_stripe(&app, &s.program_id, &inv, SECRET).await;
    assert_eq!(b["status"], "processed", "{b}");

    // Self-referral: the affiliate's own customer id.
    let (status, _) = app
        .call(
            &s.key,
            Method::PATCH,
            &format!("/api/v1/affiliates/{jane}"),
            Some(json!({"customer_id": "cus_jane"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, b) = event(
        &app,
        &s,
        charge(
            "m2",
            "cus_jane",
            1000,
            json!({"metadata": {"affiliate_code": "jane"}}),
        ),
    )
    .await;
    assert_eq!(b["status"], "ignored", "{b}");
    assert_eq!(b["result"]["reason"], "self_referral");

    // A payment before the referral is reported: ignored; replayed after, it converts.
    let (_, b) = event(&app, &s, charge("m3", "cus_late", 1000, json!({}))).await;
    assert_eq!(b["result"]["reason"], "not_attributed", "{b}");
    let ev = b["id"].as_str().unwrap().to_owned();
    refer(&app, &s, "cus_late", "jane").await;
    let (status, b) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/events/{ev}/replay"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["status"], "processed", "{b}");
    let (status, _) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/events/{ev}/replay"),
            None,
        )
        .await;
    assert_eq!(status, 409);
    let (_, log) = app
        .call(&s.key, Method::GET, "/api/v1/events?status=processed", None)
        .await;
    assert_eq!(log["total"], 3, "{log}");
    let (_, one) = app
        .call(&s.key, Method::GET, &format!("/api/v1/events/{ev}"), None)
        .await;
    assert_eq!(one["attempts"], 2);
    assert_eq!(one["payload"]["customer_id"], "cus_late");
    verify_ledger(&app).await;
}

#[tokio::test]
async fn an_events_program_is_its_vendors_code_program_never_another_vendors() {
    let app = spawn_app().await;
    let acme = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 2000})).await;
    let beta = money_shop(&app, "Beta", json!({"type": "percentage", "bps": 2000})).await;
    // A second program of Acme's, and an affiliate whose code is in it.
    let (status, p) = app
        .call(
            &acme.key,
            Method::POST,
            "/api/v1/programs",
            Some(json!({"name": "Agency partners", "currency": "usd",
                        "landing_url": "https://shop.example.com/agency",
                        "commission": {"type": "percentage", "bps": 1000}})),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    let agency = p["id"].as_str().unwrap().to_owned();
    let (status, a) = app
        .call(
            &acme.key,
            Method::POST,
            "/api/v1/affiliates",
            Some(
                json!({"email": "anna@example.com", "name": "Anna", "code": "anna",
                        "program_id": agency, "send_invite": false}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    set_status(&app, &acme, a["id"].as_str().unwrap(), "active").await;
    affiliate(&app, &beta, "bella@example.com", "bella").await;

    // Acme's event naming Anna's code is for the program of that code.
    let (status, b) = event(
        &app,
        &acme,
        charge(
            "p1",
            "cus_p1",
            10_000,
            json!({"metadata": {"affiliate_code": "anna"}}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(b["status"], "processed", "{b}");
    assert_eq!(b["result"]["commission_cents"], 1000, "{b}");
    let stored = |program: &str| {
        format!(
            "SELECT COUNT(*) FROM billing_events WHERE event_id = 'p1' AND program_id = '{program}'"
        )
    };
    assert_eq!(app.count(&stored(&agency)).await, 1);

    // Acme's event naming Beta's code: Beta's code is not Acme's, so the event is for
    // Acme's default program, and it pays Beta's affiliate nothing.
    let (status, b) = event(
        &app,
        &acme,
        charge(
            "p2",
            "cus_p2",
            10_000,
            json!({"metadata": {"affiliate_code": "bella"}}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{b}");
    assert_ne!(b["status"], "processed", "{b}");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM billing_events WHERE event_id = 'p2' AND program_id = '{}'",
            acme.program_id
        ))
        .await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM conversions").await, 1);
    verify_ledger(&app).await;
}

#[tokio::test]
async fn bad_events_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Bad", json!({"type": "percentage", "bps": 2000})).await;
    let ok = charge("b1", "cus_b", 100, json!({}));
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    for (body, status, field) in [
        (with("type", json!("invoice.bogus")), 422, "type"),
        (with("currency", json!("XXQ")), 422, "currency"),
        (with("currency", Value::Null), 422, "currency"),
        (with("amount_cents", json!(-1)), 422, "amount_cents"),
        (with("amount_cents", json!("100")), 400, "amount_cents"),
        (with("occurred_at", json!("yesterday")), 422, "occurred_at"),
        (
            with("occurred_at", json!("2999-01-01T00:00:00Z")),
            422,
            "occurred_at",
        ),
        (with("metadata", json!([1])), 422, "metadata"),
        (with("program_id", json!("prg_nope")), 422, "program_id"),
        (with("id", json!("")), 422, "id"),
        (with("surprise", json!(1)), 400, ""),
    ] {
        let (code, err) = event(&app, &s, body).await;
        assert_eq!(code, status, "{err}");
        if !field.is_empty() {
            assert_eq!(err["error"]["field"], field, "{err}");
        }
    }
    let refund = json!({"id": "r", "type": "refund.processed", "customer_id": "c", "amount_cents": 5,
                        "currency": "USD", "occurred_at": chrono::Utc::now().to_rfc3339()});
    assert_eq!(event(&app, &s, refund).await.0, 422);
    let res = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth(&s.key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(app.count("SELECT COUNT(*) FROM billing_events").await, 0);
}

#[tokio::test]
async fn another_vendor_sees_none_of_it() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Mine", json!({"type": "percentage", "bps": 2000})).await;
    let other = money_shop(&app, "Theirs", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    let (_, c) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/conversions",
            Some(json!({"affiliate_id": jane, "amount_cents": 1000})),
        )
        .await;
    let id = c["id"].as_str().unwrap();
    for (method, path) in [
        (Method::GET, format!("/api/v1/conversions/{id}")),
        (Method::POST, format!("/api/v1/conversions/{id}/approve")),
        (Method::POST, format!("/api/v1/conversions/{id}/reject")),
        (Method::GET, format!("/api/v1/ledger?affiliate_id={jane}")),
    ] {
        let (status, _) = app.call(&other.key, method, &path, None).await;
        assert_eq!(status, 404, "{path}");
    }
    // Their code cannot credit my affiliate; their lists are empty.
    assert_eq!(
        app.call(
            &other.key,
            Method::POST,
            "/api/v1/conversions",
            Some(json!({"code": "jane", "amount_cents": 100}))
        )
        .await
        .0,
        404
    );
    for path in [
        "/api/v1/conversions",
        "/api/v1/commissions",
        "/api/v1/ledger",
        "/api/v1/events",
    ] {
        let (_, list) = app.call(&other.key, Method::GET, path, None).await;
        assert_eq!(list["total"], 0, "{path}");
    }
    // Their webhook endpoint is theirs: my program id signed with their secret is refused.
    patch_program(
        &app,
        &other,
        json!({"stripe_webhook_secret": "whsec_theirs_0123456789"}),
    )
    .await;
    let body = stripe_event(
        "evt_x",
        "charge.succeeded",
        json!({"id": "ch_x", "amount": 100, "currency": "usd"}),
    );
    assert_eq!(
        post_stripe(&app, &s.program_id, &body, "whsec_theirs_0123456789")
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn analytics_totals_and_leaderboard() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Stats", json!({"type": "percentage", "bps": 1000})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    let joe = affiliate(&app, &s, "joe@example.com", "joe").await;
    refer(&app, &s, "cus_a", "jane").await;
    refer(&app, &s, "cus_b", "joe").await;
    event(&app, &s, charge("a1", "cus_a", 10_000, json!({}))).await;
    event(&app, &s, charge("a2", "cus_a", 5_000, json!({}))).await;
    event(&app, &s, charge("b1", "cus_b", 2_000, json!({}))).await;
    let (status, r) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/analytics?program_id={}", s.program_id),
            None,
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["totals"]["referrals"], 2);
    assert_eq!(r["totals"]["conversions"], 3);
    assert_eq!(r["totals"]["revenue"][0]["gross_cents"], 17_000);
    assert_eq!(r["totals"]["commissions"][0]["status"], "pending");
    assert_eq!(r["totals"]["commissions"][0]["net_cents"], 1_700);
    assert_eq!(r["leaderboard"][0]["affiliate_id"], jane.as_str());
    assert_eq!(r["leaderboard"][0]["earned_cents"], 1_500);
    assert_eq!(r["leaderboard"][1]["affiliate_id"], joe.as_str());
    // Affiliate stats come from the ledger.
    let (_, a) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/affiliates/{jane}"),
            None,
        )
        .await;
    assert_eq!(a["stats"]["conversions"], 2, "{a}");
    assert_eq!(a["stats"]["balances"][0]["pending_cents"], 1_500, "{a}");
    let (status, _) = app
        .call(
            &s.key,
            Method::GET,
            "/api/v1/analytics?from=2026-13-01",
            None,
        )
        .await;
    assert_eq!(status, 422);
}

/// `GET /api/v1/ledger`: newest first, each filter alone and together, totals that match.
#[tokio::test]
async fn the_ledger_list_filters_and_orders_newest_first() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Journal", json!({"type": "percentage", "bps": 1000})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    let joe = affiliate(&app, &s, "joe@example.com", "joe").await;
    convert(&app, &s, &jane, 10_000, None, true).await;
    convert(&app, &s, &joe, 20_000, None, false).await;
    convert(&app, &s, &jane, 30_000, None, false).await;
    let list = |q: &'static str| {
        let (app, key) = (&app, s.key.clone());
        async move {
            let (status, body) = app
                .call(&key, Method::GET, &format!("/api/v1/ledger{q}"), None)
                .await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };
    let all = list("?per_page=100").await;
    let lines = all["data"].as_array().unwrap();
    // Jane: earned twice + one approval (two lines each); Joe: earned once.
    assert_eq!(all["total"], 8, "{all}");
    assert_eq!(lines.len(), 8);
    let times: Vec<i64> = lines
        .iter()
        .map(|l| {
            chrono::DateTime::parse_from_rfc3339(l["created_at"].as_str().unwrap())
                .unwrap()
                .timestamp_millis()
        })
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );

    let page = list("?per_page=3&page=2").await;
    assert_eq!(page["total"], 8);
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    assert_eq!(
        page["data"][0]["id"], lines[3]["id"],
        "page 2 follows page 1"
    );

    let body = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/ledger?affiliate_id={jane}&currency=USD"),
            None,
        )
        .await
        .1;
    // Jane's own account lines: pending twice, pending → available once (two lines).
    assert_eq!(body["total"], 4, "{body}");
    assert!(
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["affiliate_id"] == jane.as_str())
    );
    assert_eq!(list("?currency=EUR").await["total"], 0);
    assert_eq!(list("?currency=USD").await["total"], 8);
}

/// Conversion dates are read by id lists a statement at a time (payout statements list
/// thousands of commissions): every chunk's conversions are found, only the vendor's.
#[tokio::test]
async fn conversion_dates_are_read_in_chunks_and_only_the_vendors() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 1000})).await;
    let other = money_shop(&app, "Other", json!({"type": "percentage", "bps": 1000})).await;
    let a = affiliate(&app, &s, "ann@x.test", "ann").await;
    let b = affiliate(&app, &other, "bob@x.test", "bob").await;
    let mut mine = Vec::new();
    for cents in [1000, 2000, 3000] {
        mine.push(convert(&app, &s, &a, cents, None, false).await);
    }
    let theirs = convert(&app, &other, &b, 1000, None, false).await;
    // 2,500 ids, the real ones at the start, at a chunk boundary and in the last chunk.
    let missing: Vec<String> = (0..2_497).map(|i| format!("cnv_missing_{i}")).collect();
    let mut ids: Vec<&str> = missing.iter().map(String::as_str).collect();
    ids.insert(0, &mine[0]);
    ids.insert(1_000, &mine[1]);
    ids.insert(2_400, &mine[2]);
    ids.push(&theirs);
    let mut found = affilia::db::conversions::occurred_at_of(app.db.pool(), &s.vendor_id, &ids)
        .await
        .unwrap();
    found.sort();
    let mut expected = Vec::new();
    for id in &mine {
        let c = affilia::db::conversions::by_id(app.db.pool(), &s.vendor_id, id)
            .await
            .unwrap()
            .unwrap();
        expected.push((c.id, c.occurred_at));
    }
    expected.sort();
    assert_eq!(found, expected);
}
