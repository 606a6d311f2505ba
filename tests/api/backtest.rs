//! Terms backtest: the recorded conversions replayed through draft terms with the live
//! commission code path — identical terms give exactly what was recorded, a higher rate
//! scales, nothing is written, another vendor's program is a 404.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::affiliates::affiliate;
use crate::helpers::money::{event, money_shop};
use crate::helpers::vendors::Shop;
use crate::helpers::{TestApp, spawn_app};

/// A payment through the events API, attributed by code.
async fn pay(app: &TestApp, s: &Shop, id: &str, customer: &str, cents: i64, code: &str) {
    let (status, b) = event(
        app,
        s,
        json!({"id": id, "type": "charge.succeeded", "customer_id": customer,
               "amount_cents": cents, "currency": "USD", "charge_id": format!("ch_{id}"),
               "metadata": {"affiliate_code": code}}),
    )
    .await;
    assert!(status == 200 || status == 201, "{b}");
    assert_eq!(b["status"], "processed", "{b}");
}

/// A subscription payment, attributed by code.
async fn renew(app: &TestApp, s: &Shop, id: &str, cents: i64, code: &str) {
    let (status, b) = event(
        app,
        s,
        json!({"id": id, "type": "charge.succeeded", "customer_id": "cus_sub",
               "amount_cents": cents, "currency": "USD", "charge_id": format!("ch_{id}"),
               "subscription_id": "sub_1", "metadata": {"affiliate_code": code}}),
    )
    .await;
    assert!(status == 200 || status == 201, "{b}");
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

fn yesterday() -> String {
    (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string()
}

async fn backtest(app: &TestApp, s: &Shop, terms: Value) -> (u16, Value) {
    app.call(
        &s.key,
        Method::POST,
        &format!("/api/v1/programs/{}/terms/backtest", s.program_id),
        Some(json!({"terms": terms, "from": yesterday(), "to": today()})),
    )
    .await
}

/// Row counts of every table a backtest could touch.
async fn counts(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for t in [
        "conversions",
        "commissions",
        "ledger_entries",
        "billing_events",
        "events",
        "audit_log",
        "program_terms",
        "enrollments",
        "referrals",
        "email_outbox",
        "webhook_deliveries",
    ] {
        out.push(app.count(&format!("SELECT COUNT(*) FROM {t}")).await);
    }
    out
}

fn total(b: &Value, key: &str) -> i64 {
    b["totals"][0][key].as_i64().unwrap()
}

fn row<'a>(b: &'a Value, affiliate_id: &str) -> &'a Value {
    b["affiliates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["affiliate_id"] == affiliate_id)
        .unwrap()
}

#[tokio::test]
async fn identical_terms_give_what_was_recorded_and_a_higher_rate_scales() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Backtest", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    let joe = affiliate(&app, &s, "joe@example.com", "joe").await;
    pay(&app, &s, "e1", "cus_1", 4900, "jane").await; // 9.80
    pay(&app, &s, "e2", "cus_2", 999, "jane").await; // 2.00 (199.8 → 200)
    pay(&app, &s, "e3", "cus_3", 10_000, "joe").await; // 20.00
    // A partial refund of joe's sale: a quarter of its commission is taken back.
    let (status, b) = event(
        &app,
        &s,
        json!({"id": "r1", "type": "refund.processed", "customer_id": "cus_3",
               "amount_cents": 2500, "currency": "USD", "charge_id": "ch_e3"}),
    )
    .await;
    assert!(status == 200 || status == 201, "{b}");

    let before = counts(&app).await;
    let (status, same) = backtest(&app, &s, json!({"type": "percentage", "bps": 2000})).await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(same["conversions"], 3, "{same}");
    assert_eq!(total(&same, "current_cents"), 980 + 200 + 2000, "{same}");
    assert_eq!(
        total(&same, "backtest_cents"),
        total(&same, "current_cents")
    );
    assert_eq!(total(&same, "current_net_cents"), 980 + 200 + 1500);
    assert_eq!(
        total(&same, "backtest_net_cents"),
        total(&same, "current_net_cents")
    );
    assert_eq!(total(&same, "difference_cents"), 0);
    for a in [&jane, &joe] {
        let r = row(&same, a);
        assert_eq!(r["current_cents"], r["backtest_cents"], "{r}");
        assert_eq!(r["current_net_cents"], r["backtest_net_cents"], "{r}");
    }
    assert_eq!(row(&same, &jane)["conversions"], 2);
    assert_eq!(row(&same, &jane)["currency"], "USD");

    // Twice the rate: every commission doubles (amounts chosen so rounding is exact).
    let (status, double) = backtest(&app, &s, json!({"type": "percentage", "bps": 4000})).await;
    assert_eq!(status, 200, "{double}");
    assert_eq!(row(&double, &joe)["backtest_cents"], 4000);
    assert_eq!(row(&double, &joe)["backtest_net_cents"], 3000);
    assert_eq!(row(&double, &jane)["backtest_cents"], 1960 + 400);
    assert_eq!(total(&double, "backtest_cents"), 1960 + 400 + 4000);
    assert_eq!(total(&double, "difference_cents"), 1960 + 400 + 4000 - 3180);
    // A flat amount per conversion.
    let (_, flat) = backtest(&app, &s, json!({"type": "flat", "amount_cents": 500})).await;
    assert_eq!(total(&flat, "backtest_cents"), 1500, "{flat}");

    // Nothing was written by any of these.
    assert_eq!(counts(&app).await, before);
    // The program's terms are untouched.
    let (_, p) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/programs/{}", s.program_id),
            None,
        )
        .await;
    assert_eq!(p["commission"]["bps"], 2000, "{p}");
    assert_eq!(p["terms_version"], 1);
}

#[tokio::test]
async fn recurring_cycles_and_rejections_replay_as_recorded() {
    let app = spawn_app().await;
    let terms = json!({"type": "recurring", "bps": 1000, "max_cycles": 2});
    let s = money_shop(&app, "Subs", terms.clone()).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    for (i, id) in ["s1", "s2", "s3"].iter().enumerate() {
        renew(&app, &s, id, 1000 * (i as i64 + 1), "jane").await;
    }
    // The third payment earned nothing (past max_cycles).
    assert_eq!(
        app.count("SELECT COUNT(*) FROM commissions").await,
        2,
        "two cycles earn"
    );
    // A sale rejected by hand is worth nothing net, recorded or replayed.
    pay(&app, &s, "p1", "cus_p", 5000, "jane").await;
    let cid: String = sqlx::query_scalar("SELECT id FROM conversions WHERE amount_cents = 5000")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let (status, b) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/conversions/{cid}/reject"),
            Some(json!({"reason": "fraud"})),
        )
        .await;
    assert_eq!(status, 200, "{b}");

    let (status, same) = backtest(&app, &s, terms).await;
    assert_eq!(status, 200, "{same}");
    let r = row(&same, &jane);
    // 10 % of 10.00 and 20.00, and of the rejected 50.00 (gross, 0 net).
    assert_eq!(r["current_cents"], 100 + 200 + 500, "{same}");
    assert_eq!(r["backtest_cents"], r["current_cents"], "{same}");
    assert_eq!(r["current_net_cents"], 300, "{same}");
    assert_eq!(r["backtest_net_cents"], 300, "{same}");
    // Three cycles under the draft: the third payment earns too.
    let (_, more) = backtest(
        &app,
        &s,
        json!({"type": "recurring", "bps": 1000, "max_cycles": 3}),
    )
    .await;
    assert_eq!(row(&more, &jane)["backtest_net_cents"], 600, "{more}");
}

#[tokio::test]
async fn bad_input_and_other_vendors_programs_are_refused() {
    let app = spawn_app().await;
    let a = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 2000})).await;
    let b = money_shop(&app, "Rival", json!({"type": "percentage", "bps": 2000})).await;
    affiliate(&app, &a, "jane@example.com", "jane").await;
    pay(&app, &a, "e1", "cus_1", 4900, "jane").await;
    let before = counts(&app).await;
    let path = format!("/api/v1/programs/{}/terms/backtest", a.program_id);
    let body =
        json!({"terms": {"type": "percentage", "bps": 2000}, "from": yesterday(), "to": today()});
    // Vendor B cannot backtest (or learn about) vendor A's program.
    let (status, e) = app
        .call(&b.key, Method::POST, &path, Some(body.clone()))
        .await;
    assert_eq!(status, 404, "{e}");
    // Invalid terms and dates name the field.
    for (bad, field) in [
        (
            json!({"terms": {"type": "percentage", "bps": 20000}}),
            "terms.bps",
        ),
        (json!({"terms": {"type": "bogus"}}), "terms"),
        (json!({}), "terms"),
        (
            json!({"terms": {"type": "flat", "amount_cents": 1}, "from": "yesterday"}),
            "from",
        ),
        (
            json!({"terms": {"type": "flat", "amount_cents": 1}, "from": "2020-01-01", "to": "2026-01-01"}),
            "from",
        ),
    ] {
        let (status, e) = app.call(&a.key, Method::POST, &path, Some(bad)).await;
        assert_eq!(status, 422, "{e}");
        assert_eq!(e["error"]["field"], field, "{e}");
    }
    assert_eq!(counts(&app).await, before);
}

#[tokio::test]
async fn the_dashboard_backtests_the_typed_terms_without_saving() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Dash", json!({"type": "percentage", "bps": 2000})).await;
    affiliate(&app, &s, "jane@example.com", "jane").await;
    pay(&app, &s, "e1", "cus_1", 10_000, "jane").await;
    let owner = app
        .signed_in_client("owner@dash.test", crate::helpers::OWNER_PASSWORD)
        .await;
    let page_url = app.url(&format!("/dashboard/programs/{}", s.program_id));
    let html = owner
        .get(&page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Backtest these terms"), "{html}");
    let csrf = crate::helpers::csrf_from(&html);
    let before = counts(&app).await;
    let res = owner
        .post(app.url(&format!("/dashboard/programs/{}/backtest", s.program_id)))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("name", "Dash program"),
            ("currency", "USD"),
            ("status", "active"),
            ("commission_type", "percentage"),
            ("commission_percent", "30"),
            ("backtest_from", &yesterday()),
            ("backtest_to", &today()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("backtest-result"), "{html}");
    // The period as typed: `to` is inclusive.
    assert!(
        html.contains(&format!("Backtest {} – {}", yesterday(), today())),
        "{html}"
    );
    // Now 20.00, draft 30 %: 30.00, +10.00.
    assert!(html.contains("20.00 USD"), "{html}");
    assert!(html.contains("30.00 USD"), "{html}");
    assert!(html.contains("+10.00 USD"), "{html}");
    assert_eq!(counts(&app).await, before);
}

#[tokio::test]
async fn tiered_rates_count_the_approvals_made_before_each_conversion() {
    let app = spawn_app().await;
    let terms =
        json!({"type": "tiered", "bps": 1000, "tiers": [{"min_conversions": 1, "bps": 2000}]});
    let s = money_shop(&app, "Tiers", terms.clone()).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    // The first sale earns the base 10 %; once it is approved the next earns 20 %.
    crate::helpers::money::earn(&app, &s, &jane, 10_000, Some("t1")).await;
    crate::helpers::money::earn(&app, &s, &jane, 10_000, Some("t2")).await;
    let recorded: i64 =
        sqlx::query_scalar("SELECT CAST(SUM(amount_cents) AS BIGINT) FROM commissions")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(recorded, 1000 + 2000);
    let (status, same) = backtest(&app, &s, terms).await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(row(&same, &jane)["current_cents"], 3000, "{same}");
    assert_eq!(row(&same, &jane)["backtest_cents"], 3000, "{same}");
    // A draft whose tier starts at two approvals pays the base rate twice.
    let (_, later) = backtest(
        &app,
        &s,
        json!({"type": "tiered", "bps": 1000, "tiers": [{"min_conversions": 2, "bps": 2000}]}),
    )
    .await;
    assert_eq!(row(&later, &jane)["backtest_cents"], 2000, "{later}");
}

#[tokio::test]
async fn the_programs_caps_bite_in_the_replay_as_they_do_live() {
    let app = spawn_app().await;
    let s = money_shop(&app, "CapBack", json!({"type": "percentage", "bps": 2000})).await;
    // At most 30.00 per affiliate per calendar month, 50.00 per referred customer.
    crate::helpers::vendors::patch_program(
        &app,
        &s,
        json!({"caps": {"affiliate_month_cents": 3000, "customer_total_cents": 5000}}),
    )
    .await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    let joe = affiliate(&app, &s, "joe@example.com", "joe").await;
    // Live: jane earns 20.00, then 10.00 (capped by 10.00), then nothing (capped by 20.00).
    pay(&app, &s, "c1", "cus_1", 10_000, "jane").await;
    pay(&app, &s, "c2", "cus_2", 10_000, "jane").await;
    pay(&app, &s, "c3", "cus_3", 10_000, "jane").await;
    // Joe: one sale under every cap.
    pay(&app, &s, "c4", "cus_4", 5_000, "joe").await;

    let before = counts(&app).await;
    // The terms in force: the replay caps exactly as live ingest did.
    let (status, same) = backtest(&app, &s, json!({"type": "percentage", "bps": 2000})).await;
    assert_eq!(status, 200, "{same}");
    let j = row(&same, &jane);
    assert_eq!(j["current_cents"], 3000, "{j}");
    assert_eq!(j["backtest_cents"], 3000, "{j}");
    assert_eq!(j["current_capped_cents"], 3000, "{j}");
    assert_eq!(j["capped_cents"], 3000, "{j}");
    assert_eq!(j["difference_cents"], 0, "{j}");
    assert_eq!(row(&same, &joe)["capped_cents"], 0);
    assert_eq!(total(&same, "capped_cents"), 3000, "{same}");
    assert_eq!(
        total(&same, "backtest_cents"),
        total(&same, "current_cents")
    );

    // Twice the rate: jane's month is full after her first sale (40.00 cut to 30.00), the
    // rest is capped away; joe's 20.00 stays under both caps.
    let (status, double) = backtest(&app, &s, json!({"type": "percentage", "bps": 4000})).await;
    assert_eq!(status, 200, "{double}");
    let j = row(&double, &jane);
    assert_eq!(j["backtest_cents"], 3000, "{j}");
    assert_eq!(j["capped_cents"], 1000 + 4000 + 4000, "{j}");
    assert_eq!(j["current_capped_cents"], 3000, "{j}");
    assert_eq!(row(&double, &joe)["backtest_cents"], 2000);
    assert_eq!(row(&double, &joe)["capped_cents"], 0);
    assert_eq!(total(&double, "capped_cents"), 9000, "{double}");
    assert_eq!(total(&double, "current_capped_cents"), 3000, "{double}");

    // A flat 60.00: cut to 50.00 by the customer cap, then to 30.00 by the monthly one.
    let (status, flat) = backtest(&app, &s, json!({"type": "flat", "amount_cents": 6000})).await;
    assert_eq!(status, 200, "{flat}");
    assert_eq!(row(&flat, &joe)["backtest_cents"], 3000, "{flat}");
    assert_eq!(row(&flat, &joe)["capped_cents"], 3000, "{flat}");
    assert_eq!(row(&flat, &jane)["backtest_cents"], 3000, "{flat}");
    assert_eq!(
        row(&flat, &jane)["capped_cents"],
        3000 + 6000 + 6000,
        "{flat}"
    );
    assert_eq!(counts(&app).await, before, "a backtest writes nothing");
}

#[tokio::test]
async fn the_caps_replay_starts_from_what_was_recorded_before_the_period() {
    let app = spawn_app().await;
    let s = money_shop(&app, "CapSeed", json!({"type": "percentage", "bps": 2000})).await;
    crate::helpers::vendors::patch_program(
        &app,
        &s,
        json!({"caps": {"customer_total_cents": 5000}}),
    )
    .await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    // 40 days ago, before the period: the customer already earned jane 40.00.
    let long_ago = chrono::Utc::now() - chrono::Duration::days(40);
    let (status, b) = event(
        &app,
        &s,
        json!({"id": "old", "type": "charge.succeeded", "customer_id": "cus_1",
               "amount_cents": 20_000, "currency": "USD", "charge_id": "ch_old",
               "occurred_at": long_ago.to_rfc3339(), "metadata": {"affiliate_code": "jane"}}),
    )
    .await;
    assert!(status == 200 || status == 201, "{b}");
    // In the period: 20.00 is cut to the 10.00 left under the customer's 50.00.
    pay(&app, &s, "new", "cus_1", 10_000, "jane").await;

    let (status, same) = backtest(&app, &s, json!({"type": "percentage", "bps": 2000})).await;
    assert_eq!(status, 200, "{same}");
    let j = row(&same, &jane);
    assert_eq!(j["conversions"], 1, "{j}");
    assert_eq!(j["current_cents"], 1000, "{j}");
    assert_eq!(j["backtest_cents"], 1000, "{j}");
    assert_eq!(
        (
            j["current_capped_cents"].as_i64(),
            j["capped_cents"].as_i64()
        ),
        (Some(1000), Some(1000)),
        "{j}"
    );
}
