//! Bounded money at every door (events API, manual conversions by API and form, program
//! terms, Stripe), the largest valid amounts through commissions and reports, the
//! `occurred_at` default, the multi-currency answer, and an affiliate's stats figures
//! through a real flow (events → commissions → approval → payout).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::affiliates::{affiliate, set_status};
use crate::helpers::money::{
    SECRET, event, money_shop, post_stripe, refer, stripe_event, verify_ledger,
};
use crate::helpers::pages::{setup, submit};
use crate::helpers::vendors::{Shop, patch_program};
use crate::helpers::{TestApp, spawn_app};

const MAX: i64 = 100_000_000_000;

/// Posts a raw JSON text (numbers too large for `serde_json::Value` to carry as integers).
async fn raw(app: &TestApp, key: &str, path: &str, body: &str) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(path))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn charge(id: &str, customer: &str, amount: i64, currency: &str) -> Value {
    json!({"id": id, "type": "charge.succeeded", "customer_id": customer,
           "amount_cents": amount, "currency": currency,
           "occurred_at": chrono::Utc::now().to_rfc3339()})
}

async fn written(app: &TestApp) -> (i64, i64, i64) {
    (
        app.count("SELECT COUNT(*) FROM billing_events").await,
        app.count("SELECT COUNT(*) FROM conversions").await,
        app.count("SELECT COUNT(*) FROM ledger_entries").await,
    )
}

fn assert_invalid(status: u16, body: &Value, field: &str) {
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], field, "{body}");
}

#[tokio::test]
async fn events_refuse_amounts_outside_the_money_range() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 2000})).await;
    affiliate(&app, &s, "jane@x.test", "jane").await;
    refer(&app, &s, "cus_1", "jane").await;

    // The report of the issue: i64-sized amounts were accepted and broke the analytics.
    for (i, amount) in [9_223_372_036_854_775_000, MAX + 1, 0, -1]
        .iter()
        .enumerate()
    {
        let (status, body) =
            event(&app, &s, charge(&format!("e{i}"), "cus_1", *amount, "USD")).await;
        assert_invalid(status, &body, "amount_cents");
    }
    // Beyond i64 and beyond u64: still a 422 naming the field, not a 400 or a 500.
    for (i, amount) in ["18446744073709551615", "100000000000000000000000"]
        .iter()
        .enumerate()
    {
        let body = format!(
            r#"{{"id":"big{i}","type":"charge.succeeded","customer_id":"cus_1","amount_cents":{amount},"currency":"USD"}}"#
        );
        let (status, b) = raw(&app, &s.key, "/api/v1/events", &body).await;
        assert_invalid(status, &b, "amount_cents");
    }
    let refund = json!({"id": "r1", "type": "refund.processed", "customer_id": "cus_1",
                        "amount_cents": MAX + 1, "currency": "USD", "charge_id": "ch_1"});
    let (status, body) = event(&app, &s, refund).await;
    assert_invalid(status, &body, "amount_cents");
    let sub = json!({"id": "s1", "type": "subscription.created", "customer_id": "cus_1",
                     "amount_cents": -5, "currency": "USD", "subscription_id": "sub_1"});
    let (status, body) = event(&app, &s, sub).await;
    assert_invalid(status, &body, "amount_cents");
    assert_eq!(written(&app).await, (0, 0, 0));

    let (status, body) = app
        .call(&s.key, Method::GET, "/api/v1/analytics", None)
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn manual_conversions_and_terms_refuse_out_of_range_amounts() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(&app, &s, "jane@x.test", "jane").await;

    for amount in [MAX + 1, 9_223_372_036_854_775_000, 0] {
        let (status, body) = app
            .call(
                &s.key,
                Method::POST,
                "/api/v1/conversions",
                Some(json!({"affiliate_id": jane, "amount_cents": amount})),
            )
            .await;
        assert_invalid(status, &body, "amount_cents");
    }
    let body = format!(r#"{{"affiliate_id":"{jane}","amount_cents":1e25}}"#);
    let (status, b) = raw(&app, &s.key, "/api/v1/conversions", &body).await;
    assert_invalid(status, &b, "amount_cents");
    assert_eq!(written(&app).await, (0, 0, 0));

    let program = format!("/api/v1/programs/{}", s.program_id);
    for (patch, field) in [
        (json!({"min_payout_cents": MAX + 1}), "min_payout_cents"),
        (json!({"min_payout_cents": -1}), "min_payout_cents"),
        (
            json!({"commission": {"type": "flat", "amount_cents": MAX + 1}}),
            "commission.amount_cents",
        ),
        (
            json!({"commission": {"type": "flat", "amount_cents": 9_223_372_036_854_775_000_i64}}),
            "commission.amount_cents",
        ),
    ] {
        let (status, body) = app.call(&s.key, Method::PATCH, &program, Some(patch)).await;
        assert_invalid(status, &body, field);
    }
    let res = app
        .client
        .patch(app.url(&program))
        .bearer_auth(&s.key)
        .header("content-type", "application/json")
        .body(r#"{"min_payout_cents": 100000000000000000000}"#)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert_invalid(status, &body, "min_payout_cents");
}

#[tokio::test]
async fn the_manual_form_refuses_amounts_above_the_range() {
    let app = spawn_app().await;
    let (_s, jane, staff) = setup(&app).await;
    let (status, _, html) = submit(
        &app,
        &staff,
        vec![
            ("affiliate_id", jane),
            ("amount", "1000000000.01".into()),
            ("currency", String::new()),
            ("external_id", String::new()),
        ],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("at most 1000000000.00"), "{html}");
    assert_eq!(app.count("SELECT COUNT(*) FROM conversions").await, 0);
}

#[tokio::test]
async fn stripe_amounts_outside_the_range_are_kept_as_ignored_events() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 2000})).await;
    affiliate(&app, &s, "jane@x.test", "jane").await;
    refer(&app, &s, "cus_1", "jane").await;
    let body = stripe_event(
        "evt_huge",
        "charge.succeeded",
        json!({"id": "ch_huge", "object": "charge", "amount": 9_223_372_036_854_775_000_i64,
               "currency": "usd", "customer": "cus_1", "metadata": {}}),
    );
    let (status, out) = post_stripe(&app, &s.program_id, &body, SECRET).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["status"], "ignored", "{out}");
    let (status, e) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/events/{}", out["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 200, "{e}");
    assert_eq!(e["result"]["reason"], "amount_out_of_range", "{e}");
    assert_eq!(e["result"]["detail"]["field"], "amount_cents", "{e}");
    assert_eq!(app.count("SELECT COUNT(*) FROM conversions").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM ledger_entries").await, 0);
}

#[tokio::test]
async fn the_largest_amounts_go_through_commissions_and_reports() {
    let app = spawn_app().await;
    let s = money_shop(
        &app,
        "Acme",
        json!({"type": "percentage", "bps": 10000,
               "multi_level": [{"level": 1, "bps": 10000}]}),
    )
    .await;
    let parent = affiliate(&app, &s, "parent@x.test", "parent").await;
    let jane = affiliate(&app, &s, "jane@x.test", "jane").await;
    let (status, b) = app
        .call(
            &s.key,
            Method::PATCH,
            &format!("/api/v1/affiliates/{jane}"),
            Some(json!({"parent_affiliate_id": parent})),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    refer(&app, &s, "cus_1", "jane").await;
    for i in 0..3 {
        let (status, body) = event(&app, &s, charge(&format!("e{i}"), "cus_1", MAX, "USD")).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["result"]["commission_cents"], MAX, "{body}");
    }
    // A partial refund of the largest payment takes back its exact share.
    let refund = json!({"id": "r1", "type": "refund.processed", "customer_id": "cus_1",
                        "amount_cents": MAX / 4, "currency": "USD", "charge_id": "e0"});
    let (status, body) = event(&app, &s, refund).await;
    assert_eq!(status, 201, "{body}");

    let (status, body) = app
        .call(&s.key, Method::GET, "/api/v1/analytics", None)
        .await;
    assert_eq!(status, 200, "{body}");
    let text = body.to_string();
    assert!(text.contains(&(3 * MAX).to_string()), "{text}");
    let (status, a) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/affiliates/{jane}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["stats"]["pending_cents"], 3 * MAX - MAX / 4, "{a}");
    assert_eq!(a["stats"]["total_earned_cents"], 3 * MAX - MAX / 4, "{a}");
    let (status, p) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/affiliates/{parent}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["stats"]["pending_cents"], 3 * MAX - MAX / 4, "{p}");
    verify_ledger(&app).await;
}

#[tokio::test]
async fn a_stored_sum_that_overflows_is_a_clear_error_not_a_500() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 2000})).await;
    affiliate(&app, &s, "jane@x.test", "jane").await;
    refer(&app, &s, "cus_1", "jane").await;
    for i in 0..2 {
        let (status, body) = event(&app, &s, charge(&format!("e{i}"), "cus_1", 100, "USD")).await;
        assert_eq!(status, 201, "{body}");
    }
    // Rows written before amounts were bounded.
    sqlx::query("UPDATE conversions SET amount_cents = $1")
        .bind(9_223_372_036_854_775_000_i64)
        .execute(app.db.pool())
        .await
        .unwrap();
    let (status, body) = app
        .call(&s.key, Method::GET, "/api/v1/analytics", None)
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "amount_out_of_range", "{body}");
}

#[tokio::test]
async fn occurred_at_defaults_to_the_time_received() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 2000})).await;
    affiliate(&app, &s, "jane@x.test", "jane").await;
    refer(&app, &s, "cus_1", "jane").await;
    let before = chrono::Utc::now().timestamp_millis();
    let (status, body) = event(
        &app,
        &s,
        json!({"id": "e1", "type": "charge.succeeded", "customer_id": "cus_1",
               "amount_cents": 4900, "currency": "USD"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let after = chrono::Utc::now().timestamp_millis();
    let (at,): (i64,) = sqlx::query_as("SELECT occurred_at FROM conversions")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert!((before..=after).contains(&at), "{before} {at} {after}");
    // The stored body carries the time, so a replay reads the same one.
    let (status, e) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/events/{}", body["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 200, "{e}");
    let stored =
        chrono::DateTime::parse_from_rfc3339(e["payload"]["occurred_at"].as_str().unwrap())
            .unwrap()
            .timestamp_millis();
    assert_eq!(stored, at);
    // A resend without the time is still the same event.
    let (status, again) = event(
        &app,
        &s,
        json!({"id": "e1", "type": "charge.succeeded", "customer_id": "cus_1",
               "amount_cents": 4900, "currency": "USD"}),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["duplicate"], true);
}

#[tokio::test]
async fn a_sale_in_another_currency_says_so_in_the_answer() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(&app, &s, "jane@x.test", "jane").await;
    refer(&app, &s, "cus_1", "jane").await;
    let (status, body) = event(&app, &s, charge("e1", "cus_1", 10_000, "EUR")).await;
    assert_eq!(status, 201, "{body}");
    let r = &body["result"];
    assert_eq!(r["currency"], "EUR", "{body}");
    assert_eq!(r["program_currency"], "USD", "{body}");
    assert!(
        r["currency_note"]
            .as_str()
            .unwrap()
            .contains("without exchange"),
        "{body}"
    );
    assert_eq!(r["commissions"][0]["currency"], "EUR", "{body}");
    assert_eq!(r["commissions"][0]["amount_cents"], 2000, "{body}");
    // A sale in the program's currency has no note.
    let (_, body) = event(&app, &s, charge("e2", "cus_1", 10_000, "USD")).await;
    assert!(body["result"].get("currency_note").is_none(), "{body}");
    // The EUR commission is in the EUR balance, not in the USD figures.
    let (_, a) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/affiliates/{jane}"),
            None,
        )
        .await;
    assert_eq!(a["stats"]["currency"], "USD", "{a}");
    assert_eq!(a["stats"]["pending_cents"], 2000, "{a}");
    assert_eq!(a["stats"]["total_commissions"], 1, "{a}");
    let eur = a["stats"]["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["currency"] == "EUR")
        .unwrap();
    assert_eq!(eur["pending_cents"], 2000, "{a}");
}

async fn approve(app: &TestApp, s: &Shop, conversion: &Value) {
    let id = conversion["conversion_id"].as_str().unwrap();
    let (status, b) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/conversions/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{b}");
}

#[tokio::test]
async fn affiliate_stats_carry_the_seed_figures() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 2000})).await;
    patch_program(
        &app,
        &s,
        json!({"platform_fee_bps": 1000, "min_payout_cents": 1}),
    )
    .await;
    let (status, a) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/affiliates",
            Some(
                json!({"email": "jane@x.test", "name": "Jane", "code": "jane",
                        "customer_id": "cust_jane", "send_invite": false,
                        "payout_method": "paypal", "payout_email": "jane@paypal.test"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    let jane = a["id"].as_str().unwrap().to_owned();
    set_status(&app, &s, &jane, "active").await;
    refer(&app, &s, "cus_1", "jane").await;

    // Paid: 250.00 of sales → 50.00 of commissions, approved and paid out (fee 5.00).
    let (_, b) = event(&app, &s, charge("b", "cus_1", 20_000, "USD")).await;
    approve(&app, &s, &b["result"]).await;
    let (_, c) = event(&app, &s, charge("c", "cus_1", 5_000, "USD")).await;
    approve(&app, &s, &c["result"]).await;
    let (status, run) = app
        .call(&s.key, Method::POST, "/api/v1/payouts/run", Some(json!({})))
        .await;
    assert_eq!(status, 201, "{run}");
    let payout = run["runs"][0]["payouts"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/payouts/{payout}/mark-paid"),
            Some(json!({"reference": "t"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Approved, not paid: 60.00 available, then 10.00 more in a payout not paid yet.
    let (_, d) = event(&app, &s, charge("d", "cus_1", 30_000, "USD")).await;
    approve(&app, &s, &d["result"]).await;
    // Pending: 20.00, half refunded → 10.00.
    let (_, a_evt) = event(&app, &s, charge("a", "cus_1", 10_000, "USD")).await;
    assert_eq!(a_evt["result"]["commission_cents"], 2000, "{a_evt}");
    let refund = json!({"id": "ra", "type": "refund.processed", "customer_id": "cus_1",
                        "amount_cents": 5_000, "currency": "USD", "charge_id": "a"});
    let (status, body) = event(&app, &s, refund).await;
    assert_eq!(status, 201, "{body}");
    // A rejected one counts nothing; a EUR one shows only in the EUR balance.
    let (_, x) = event(&app, &s, charge("x", "cus_1", 7_000, "USD")).await;
    let id = x["result"]["conversion_id"].as_str().unwrap();
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/conversions/{id}/reject"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = event(&app, &s, charge("eur", "cus_1", 10_000, "EUR")).await;
    assert_eq!(status, 201, "{body}");

    let (status, a) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/affiliates/{jane}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{a}");
    let st = &a["stats"];
    assert_eq!(st["currency"], "USD", "{a}");
    assert_eq!(st["pending_cents"], 1000, "{a}");
    assert_eq!(st["approved_cents"], 6000, "{a}");
    assert_eq!(st["paid_cents"], 5000, "{a}");
    assert_eq!(st["total_earned_cents"], 12_000, "{a}");
    // b, c, d, a (partly refunded); not the rejected one, not the EUR one.
    assert_eq!(st["total_commissions"], 4, "{a}");
    assert_eq!(st["commissions"], 6, "{a}");
    let usd = st["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["currency"] == "USD")
        .unwrap();
    assert_eq!(
        (
            &usd["pending_cents"],
            &usd["available_cents"],
            &usd["paid_cents"],
            &usd["fees_cents"]
        ),
        (&json!(1000), &json!(6000), &json!(4500), &json!(500)),
        "{a}"
    );
    assert_eq!(st["balances"].as_array().unwrap().len(), 2, "{a}");

    let (status, by) = app
        .call(
            &s.key,
            Method::GET,
            "/api/v1/affiliates/by-customer/cust_jane",
            None,
        )
        .await;
    assert_eq!(status, 200, "{by}");
    assert_eq!(by["total_earned_cents"], 12_000, "{by}");
    assert_eq!(by["currency"], "USD", "{by}");

    // A run that is not paid yet: approved_cents still counts it (in payouts).
    let (status, run) = app
        .call(&s.key, Method::POST, "/api/v1/payouts/run", Some(json!({})))
        .await;
    assert_eq!(status, 201, "{run}");
    let (_, a) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/affiliates/{jane}"),
            None,
        )
        .await;
    assert_eq!(a["stats"]["approved_cents"], 6000, "{a}");
    assert_eq!(a["stats"]["total_earned_cents"], 12_000, "{a}");
    verify_ledger(&app).await;
}
