//! Caps and bonuses (issue 23): caps reduce the converting affiliate's commission and say
//! why, hold under concurrent conversions (two instances, parallel events), refunds of a
//! capped commission take back only what was paid; manual and goal bonuses are posted to
//! the ledger, mature, are paid out, and `ledger verify` holds after every step.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::affiliates::affiliate;
use crate::helpers::money::{event, money_shop, pay_everyone, refer, verify_ledger};
use crate::helpers::vendors::{Shop, patch_program};
use crate::helpers::{TestApp, second_instance, spawn_app};

const DAY_MS: i64 = 86_400_000;

fn sale(id: &str, customer: &str, amount: i64, at: chrono::DateTime<chrono::Utc>) -> Value {
    json!({"id": id, "type": "charge.succeeded", "customer_id": customer, "amount_cents": amount,
           "currency": "USD", "charge_id": format!("ch_{id}"), "occurred_at": at.to_rfc3339()})
}

async fn conversion(app: &TestApp, s: &Shop, id: &str) -> Value {
    let (status, c) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/conversions/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{c}");
    c
}

/// (pending, available, paid) in USD.
async fn usd(app: &TestApp, s: &Shop, affiliate_id: &str) -> (i64, i64, i64) {
    let (status, body) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/ledger?affiliate_id={affiliate_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let b = body["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["currency"] == "USD")
        .cloned()
        .unwrap_or(json!({"pending_cents": 0, "available_cents": 0, "paid_cents": 0}));
    (
        b["pending_cents"].as_i64().unwrap(),
        b["available_cents"].as_i64().unwrap(),
        b["paid_cents"].as_i64().unwrap(),
    )
}

/// What the program's level-0 commissions add up to.
async fn direct_total(app: &TestApp, program_id: &str) -> i64 {
    app.count(&format!(
        "SELECT COALESCE(CAST(SUM(amount_cents - reversed_cents) AS BIGINT), 0) FROM commissions \
         WHERE program_id = '{program_id}' AND level = 0"
    ))
    .await
}

#[tokio::test]
async fn customer_cap_reduces_then_zeroes_and_a_refund_takes_back_only_what_was_paid() {
    let app = spawn_app().await;
    let s = money_shop(&app, "CapCust", json!({"type": "percentage", "bps": 2000})).await;
    patch_program(&app, &s, json!({"caps": {"customer_total_cents": 3000}})).await;
    let (_, p) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/programs/{}", s.program_id),
            None,
        )
        .await;
    assert_eq!(p["caps"]["customer_total_cents"], 3000, "{p}");
    assert_eq!(p["caps"]["affiliate_month_cents"], Value::Null, "{p}");
    let jane = affiliate(&app, &s, "jane@capcust.test", "capcust-jane").await;
    refer(&app, &s, "cus_a", "capcust-jane").await;
    let now = chrono::Utc::now();

    // 20.00 of 100.00: under the 30.00 cap.
    let (status, first) = event(&app, &s, sale("s1", "cus_a", 10_000, now)).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["result"]["commission_cents"], 2000, "{first}");
    // The next 20.00 is cut to the 10.00 left.
    let (_, second) = event(&app, &s, sale("s2", "cus_a", 10_000, now)).await;
    assert_eq!(second["result"]["commission_cents"], 1000, "{second}");
    let c2 = conversion(&app, &s, second["conversion_id"].as_str().unwrap()).await;
    assert_eq!(
        c2["capped"],
        json!({"by": "customer_total", "cut_cents": 1000}),
        "{c2}"
    );
    let rule = c2["commissions"][0]["rule"].as_str().unwrap();
    assert!(rule.contains("capped by customer_total"), "{rule}");
    // Nothing left: recorded with no commission, and the reason says why.
    let (_, third) = event(&app, &s, sale("s3", "cus_a", 10_000, now)).await;
    assert_eq!(third["result"]["commission_cents"], 0, "{third}");
    let c3 = conversion(&app, &s, third["conversion_id"].as_str().unwrap()).await;
    assert_eq!(
        c3["capped"],
        json!({"by": "customer_total", "cut_cents": 2000}),
        "{c3}"
    );
    assert!(
        c3["reason"].as_str().unwrap().starts_with("capped:"),
        "{c3}"
    );
    assert_eq!(usd(&app, &s, &jane).await, (3000, 0, 0));
    verify_ledger(&app).await;

    // The capped sale refunded in full: only the 10.00 it paid comes back.
    let refund = json!({"id": "r2", "type": "refund.processed", "customer_id": "cus_a",
                        "amount_cents": 10_000, "currency": "USD", "charge_id": "ch_s2",
                        "occurred_at": now.to_rfc3339()});
    let (status, body) = event(&app, &s, refund).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["result"]["reversed_cents"], 1000, "{body}");
    assert_eq!(usd(&app, &s, &jane).await, (2000, 0, 0));
    verify_ledger(&app).await;

    // Bad caps are refused and change nothing.
    let (status, body) = app
        .call(
            &s.key,
            Method::PATCH,
            &format!("/api/v1/programs/{}", s.program_id),
            Some(json!({"caps": {"customer_months": 0}})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "caps.customer_months", "{body}");
    let (status, _) = app
        .call(
            &s.key,
            Method::PATCH,
            &format!("/api/v1/programs/{}", s.program_id),
            Some(json!({"caps": {"per_day": 5}})),
        )
        .await;
    assert!(status == 400 || status == 422, "{status}");
    // An array is not an object (serde alone would read the struct from it; schemathesis).
    for body in [
        json!({"caps": [null, null]}),
        json!({"goal_bonuses": [null, null]}),
    ] {
        let (status, answer) = app
            .call(
                &s.key,
                Method::PATCH,
                &format!("/api/v1/programs/{}", s.program_id),
                Some(body),
            )
            .await;
        assert!(status == 400 || status == 422, "{status} {answer}");
    }
    let (_, p) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/programs/{}", s.program_id),
            None,
        )
        .await;
    assert_eq!(p["caps"]["customer_total_cents"], 3000, "{p}");
}

#[tokio::test]
async fn customer_months_cap_ends_commissions_after_the_first_months() {
    let app = spawn_app().await;
    let s = money_shop(
        &app,
        "CapMonths",
        json!({"type": "percentage", "bps": 1000}),
    )
    .await;
    patch_program(&app, &s, json!({"caps": {"customer_months": 1}})).await;
    let jane = affiliate(&app, &s, "jane@capmonths.test", "capmonths-jane").await;
    refer(&app, &s, "cus_m", "capmonths-jane").await;
    let now = chrono::Utc::now();
    let (_, old) = event(
        &app,
        &s,
        sale("m1", "cus_m", 10_000, now - chrono::Duration::days(70)),
    )
    .await;
    assert_eq!(old["result"]["commission_cents"], 1000, "{old}");
    let (_, late) = event(&app, &s, sale("m2", "cus_m", 10_000, now)).await;
    assert_eq!(late["result"]["commission_cents"], 0, "{late}");
    let c = conversion(&app, &s, late["conversion_id"].as_str().unwrap()).await;
    assert_eq!(
        c["capped"],
        json!({"by": "customer_months", "cut_cents": 1000}),
        "{c}"
    );
    assert_eq!(usd(&app, &s, &jane).await.0, 1000);
    verify_ledger(&app).await;
}

#[tokio::test]
async fn caps_hold_under_concurrent_conversions_on_two_instances() {
    let app = spawn_app().await;
    let other = second_instance(&app).await;
    // Per affiliate and month, across customers.
    let s = money_shop(&app, "CapMonth", json!({"type": "percentage", "bps": 2000})).await;
    patch_program(&app, &s, json!({"caps": {"affiliate_month_cents": 5000}})).await;
    affiliate(&app, &s, "jane@capmonth.test", "capmonth-jane").await;
    for c in ["cus_x", "cus_y", "cus_z"] {
        refer(&app, &s, c, "capmonth-jane").await;
    }
    // Per customer.
    let t = money_shop(&app, "CapOne", json!({"type": "percentage", "bps": 2000})).await;
    patch_program(&app, &t, json!({"caps": {"customer_total_cents": 3000}})).await;
    affiliate(&app, &t, "joe@capone.test", "capone-joe").await;
    refer(&app, &t, "cus_one", "capone-joe").await;

    let now = chrono::Utc::now();
    let customers = ["cus_x", "cus_y", "cus_z"];
    let mut calls = Vec::new();
    for i in 0..12 {
        let node = if i % 2 == 0 { &app } else { &other };
        let body = sale(&format!("pm{i}"), customers[i % 3], 10_000, now);
        calls.push(event(node, &s, body));
        let body = sale(&format!("pc{i}"), "cus_one", 10_000, now);
        calls.push(event(node, &t, body));
    }
    for (status, body) in join_all(calls).await {
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["status"], "processed", "{body}");
    }
    assert_eq!(direct_total(&app, &s.program_id).await, 5000);
    assert_eq!(direct_total(&app, &t.program_id).await, 3000);
    let capped = app
        .count(&format!(
            "SELECT COALESCE(CAST(SUM(capped_cents) AS BIGINT), 0) FROM conversions \
             WHERE program_id = '{}'",
            s.program_id
        ))
        .await;
    assert_eq!(capped, 12 * 2000 - 5000);
    verify_ledger(&app).await;
}

#[tokio::test]
async fn goal_and_manual_bonuses_are_earned_held_and_paid_like_commissions() {
    let app = spawn_app().await;
    let other = second_instance(&app).await;
    let s = money_shop(&app, "Goals", json!({"type": "percentage", "bps": 1000})).await;
    patch_program(
        &app,
        &s,
        json!({"goal_bonuses": {"first_sale_cents": 1000, "monthly_sales_count": 3,
                                "monthly_sales_cents": 5000}}),
    )
    .await;
    let jane = affiliate(&app, &s, "jane@goals.test", "goals-jane").await;
    for c in ["cus_g1", "cus_g2"] {
        refer(&app, &s, c, "goals-jane").await;
    }
    let now = chrono::Utc::now();
    // Five sales at once on two instances: the first-sale goal once, the monthly goal once.
    let calls = (0..5).map(|i| {
        let node = if i % 2 == 0 { &app } else { &other };
        event(
            node,
            &s,
            sale(&format!("g{i}"), ["cus_g1", "cus_g2"][i % 2], 10_000, now),
        )
    });
    for (status, body) in join_all(calls).await {
        assert_eq!(status, 201, "{body}");
    }
    let (status, list) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/bonuses?affiliate_id={jane}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["total"], 2, "{list}");
    let mut kinds: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["first_sale", "monthly_sales"]);
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["status"] == "pending")
    );
    // 5 × 10.00 commissions + 10.00 + 50.00 bonuses, all pending.
    assert_eq!(usd(&app, &s, &jane).await, (11_000, 0, 0));
    verify_ledger(&app).await;

    // A bonus by hand, with a note.
    let (status, b) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/affiliates/{jane}/bonuses"),
            Some(json!({"amount_cents": 2500, "note": "launch week"})),
        )
        .await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(
        (
            b["kind"].clone(),
            b["amount_cents"].clone(),
            b["currency"].clone(),
            b["status"].clone()
        ),
        (json!("manual"), json!(2500), json!("USD"), json!("pending"))
    );
    assert_eq!(b["program_id"], s.program_id.as_str());
    assert_eq!(usd(&app, &s, &jane).await, (13_500, 0, 0));
    verify_ledger(&app).await;

    // After the holding period everything is available, then paid.
    app.run_jobs_at(affilia::db::now_ms() + 31 * DAY_MS).await;
    assert_eq!(usd(&app, &s, &jane).await, (0, 13_500, 0));
    verify_ledger(&app).await;
    pay_everyone(&app, &s, &jane).await;
    assert_eq!(usd(&app, &s, &jane).await, (0, 0, 13_500));
    verify_ledger(&app).await;

    // More sales this month award the monthly goal no second time.
    let (_, more) = event(&app, &s, sale("g9", "cus_g1", 10_000, now)).await;
    assert_eq!(more["status"], "processed", "{more}");
    let (_, list) = app.call(&s.key, Method::GET, "/api/v1/bonuses", None).await;
    assert_eq!(list["total"], 3, "{list}");
    verify_ledger(&app).await;
}

#[tokio::test]
async fn bonus_input_is_checked_and_other_vendors_affiliates_are_not_found() {
    let app = spawn_app().await;
    let s = money_shop(&app, "BonusIn", json!({"type": "percentage", "bps": 1000})).await;
    let jane = affiliate(&app, &s, "jane@bonusin.test", "bonusin-jane").await;
    let t = money_shop(
        &app,
        "BonusOther",
        json!({"type": "percentage", "bps": 1000}),
    )
    .await;
    let joe = affiliate(&app, &t, "joe@bonusother.test", "bonusother-joe").await;
    let url = format!("/api/v1/affiliates/{jane}/bonuses");
    for (body, want, field) in [
        (
            json!({"amount_cents": 0, "note": "x"}),
            422,
            Some("amount_cents"),
        ),
        (
            json!({"amount_cents": 100, "note": "  "}),
            422,
            Some("note"),
        ),
        (
            json!({"amount_cents": 100, "note": "x", "currency": "XX"}),
            422,
            Some("currency"),
        ),
        (
            json!({"amount_cents": 100, "note": "x", "program_id": t.program_id}),
            422,
            Some("program_id"),
        ),
        (
            json!({"amount_cents": 100, "note": "x", "extra": 1}),
            400,
            None,
        ),
    ] {
        let (status, res) = app
            .call(&s.key, Method::POST, &url, Some(body.clone()))
            .await;
        assert_eq!(status, want, "{body} → {res}");
        if let Some(f) = field {
            assert_eq!(res["error"]["field"], f, "{res}");
        }
    }
    // Another vendor's affiliate: 404, and nothing written.
    let (status, _) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/affiliates/{joe}/bonuses"),
            Some(json!({"amount_cents": 100, "note": "x"})),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(app.count("SELECT COUNT(*) FROM bonuses").await, 0);
    // The other vendor's list does not show this vendor's bonuses.
    let (status, _) = app
        .call(
            &s.key,
            Method::POST,
            &url,
            Some(json!({"amount_cents": 100, "note": "ok"})),
        )
        .await;
    assert_eq!(status, 201);
    let (_, list) = app
        .call(
            &t.key,
            Method::GET,
            &format!("/api/v1/bonuses?affiliate_id={jane}"),
            None,
        )
        .await;
    assert_eq!(list["total"], 0, "{list}");
    verify_ledger(&app).await;
}

#[tokio::test]
async fn dashboard_sets_caps_and_goals_and_grants_a_bonus() {
    let app = spawn_app().await;
    app.setup("Acme", "owner@acme.test").await;
    let fields = crate::programs::form(&[
        ("cap_customer_total", "30.00"),
        ("cap_customer_months", "12"),
        ("cap_affiliate_month", ""),
        ("bonus_first_sale", "10.00"),
        ("bonus_monthly_count", "5"),
        ("bonus_monthly_amount", "50.00"),
    ]);
    let res = app
        .post_form("/dashboard/programs", "/dashboard/programs/new", &fields)
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let program_id = location
        .trim_start_matches("/dashboard/programs/")
        .trim_end_matches("?saved=1")
        .to_owned();
    let (vendor_id,): (String,) = sqlx::query_as("SELECT id FROM vendors")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let p = affilia::domain::partners::programs::get(&app.db, &vendor_id, &program_id)
        .await
        .unwrap();
    assert_eq!(
        (
            p.caps.customer_total_cents,
            p.caps.customer_months,
            p.caps.affiliate_month_cents
        ),
        (Some(3000), Some(12), None)
    );
    assert_eq!(
        (
            p.goal_bonuses.first_sale_cents,
            p.goal_bonuses.monthly_sales_count,
            p.goal_bonuses.monthly_sales_cents
        ),
        (Some(1000), Some(5), Some(5000))
    );
    let page = app.text(&location).await;
    assert!(
        page.contains(r#"name="cap_customer_total" value="30.00""#),
        "{page}"
    );
    // Half a monthly goal is refused with the field marked, and nothing changes.
    let bad = crate::programs::form(&[("bonus_monthly_count", "5"), ("bonus_monthly_amount", "")]);
    let res = app
        .post_form(
            &format!("/dashboard/programs/{program_id}"),
            &location,
            &bad,
        )
        .await;
    assert_eq!(res.status(), 422);

    // A bonus by hand from the affiliate page.
    let key = app
        .api_key(&vendor_id, affilia::domain::tenancy::api_keys::Scope::Full)
        .await;
    let (status, a) = app
        .call(
            &key,
            Method::POST,
            "/api/v1/affiliates",
            Some(
                json!({"email": "ann@acme.test", "name": "Ann", "program_id": program_id,
                        "send_invite": false}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    let ann = a["id"].as_str().unwrap();
    let page_url = format!("/dashboard/affiliates/{ann}");
    let res = app
        .post_form(
            &format!("{page_url}/bonuses"),
            &page_url,
            &[
                ("program_id", &program_id),
                ("amount", "12.50"),
                ("note", "conference talk"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app.text(&page_url).await;
    assert!(
        page.contains("conference talk") && page.contains("12.50"),
        "{page}"
    );
    assert_eq!(
        app.count("SELECT amount_cents FROM bonuses WHERE kind = 'manual'")
            .await,
        1250
    );
    verify_ledger(&app).await;
}
