//! Payouts through the API: runs (dry and real) above the minimum, the PayPal and generic
//! exports, mark paid / failed with the ledger moving accordingly, clawbacks netted by the
//! next payout, platform fees, concurrent runs on two instances, the Stripe Connect
//! provider against a local fake Stripe, the monthly schedule, payout settings changes and
//! tenant isolation.

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use reqwest::Method;
use serde_json::{Value, json};

use affilia::domain::payouts;

use crate::helpers::affiliates::{affiliate, payout_settings, set_status};
use crate::helpers::money::{earn, event, money_shop, verify_ledger};
use crate::helpers::vendors::{Shop, patch_program};
use crate::helpers::{TestApp, second_instance, spawn_app, spawn_app_with};

/// (available, in payouts, paid, fees) in USD.
async fn usd(app: &TestApp, s: &Shop, affiliate_id: &str) -> (i64, i64, i64, i64) {
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
        .unwrap_or(
            json!({"available_cents": 0, "in_payout_cents": 0, "paid_cents": 0, "fees_cents": 0}),
        );
    let n = |k: &str| b[k].as_i64().unwrap();
    (
        n("available_cents"),
        n("in_payout_cents"),
        n("paid_cents"),
        n("fees_cents"),
    )
}

async fn run(app: &TestApp, s: &Shop, body: Value) -> (u16, Value) {
    app.call(&s.key, Method::POST, "/api/v1/payouts/run", Some(body))
        .await
}

async fn total(app: &TestApp, s: &Shop, path: &str) -> i64 {
    let (status, body) = app.call(&s.key, Method::GET, path, None).await;
    assert_eq!(status, 200, "{body}");
    body["total"].as_i64().unwrap()
}

async fn download(app: &TestApp, s: &Shop, path: &str) -> (u16, String) {
    let res = app.api_get(&s.key, path).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

/// A flat 100 % commission makes a conversion's amount its commission.
async fn payout_shop(app: &TestApp, name: &str) -> Shop {
    let s = money_shop(app, name, json!({"type": "percentage", "bps": 10_000})).await;
    patch_program(
        app,
        &s,
        json!({"min_payout_cents": 5000, "platform_fee_bps": 250}),
    )
    .await;
    s
}

#[tokio::test]
async fn a_run_pays_those_above_the_minimum_and_the_paypal_file_and_mark_paid_settle_it() {
    let app = spawn_app().await;
    let s = payout_shop(&app, "Payday").await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    let joe = affiliate(&app, &s, "joe@example.com", "joe").await;
    let ann = affiliate(&app, &s, "ann@example.com", "ann").await;
    let bob = affiliate(&app, &s, "bob@example.com", "bob").await;
    for (who, amount) in [(&jane, 6000), (&joe, 3000), (&ann, 7000), (&bob, 8000)] {
        earn(&app, &s, who, amount, None).await;
    }
    for who in [&jane, &joe, &bob] {
        payout_settings(
            &app,
            &s,
            who,
            json!({"payout_method": "paypal", "payout_email": format!("{who}@paypal.test")}),
        )
        .await;
    }
    set_status(&app, &s, &bob, "paused").await;

    // Dry run: the same list, nothing written.
    let (status, dry) = run(&app, &s, json!({"dry_run": true})).await;
    assert_eq!(status, 200, "{dry}");
    let planned = dry["runs"][0]["payouts"].as_array().unwrap();
    assert_eq!(planned.len(), 1, "{dry}");
    assert_eq!(planned[0]["affiliate_id"], jane.as_str());
    assert_eq!(
        (
            planned[0]["amount_cents"].clone(),
            planned[0]["fee_cents"].clone(),
            planned[0]["net_cents"].clone()
        ),
        (json!(6000), json!(150), json!(5850))
    );
    let skipped: Vec<(String, String)> = dry["runs"][0]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["affiliate_id"].as_str().unwrap().to_owned(),
                k["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        skipped.contains(&(joe.clone(), "below_minimum".into())),
        "{skipped:?}"
    );
    assert!(
        skipped.contains(&(ann.clone(), "no_payout_method".into())),
        "{skipped:?}"
    );
    assert!(
        skipped.contains(&(bob.clone(), "affiliate_inactive".into())),
        "{skipped:?}"
    );
    assert_eq!(total(&app, &s, "/api/v1/payouts").await, 0);
    assert_eq!(total(&app, &s, "/api/v1/payout-runs").await, 0);
    assert_eq!(usd(&app, &s, &jane).await, (6000, 0, 0, 0));

    // The run: one payout, the balance moves to in_payout; a second run finds nothing.
    let (status, body) = run(&app, &s, json!({"program_id": s.program_id})).await;
    assert_eq!(status, 201, "{body}");
    let p = body["runs"][0]["payouts"][0].clone();
    let (payout, run_id) = (
        p["id"].as_str().unwrap().to_owned(),
        p["run_id"].as_str().unwrap().to_owned(),
    );
    assert_eq!(payout.len(), 30, "PayPal's customer id limit");
    assert_eq!(
        (
            p["status"].clone(),
            p["method"].clone(),
            p["commissions_cents"].clone()
        ),
        (json!("pending"), json!("paypal"), json!(6000))
    );
    assert_eq!(usd(&app, &s, &jane).await, (0, 6000, 0, 0));
    let (_, again) = run(&app, &s, json!({})).await;
    assert_eq!(again["runs"][0]["payouts"], json!([]), "{again}");
    verify_ledger(&app).await;

    // The PayPal file: no header, email, amount, currency, unique id, note, wallet.
    let (status, csv) = download(
        &app,
        &s,
        &format!("/api/v1/payouts/export?format=paypal&run_id={run_id}"),
    )
    .await;
    assert_eq!(status, 200, "{csv}");
    assert_eq!(
        csv,
        format!("{jane}@paypal.test,58.50,USD,{payout},Commission payout from Payday,PAYPAL\r\n")
    );
    let (status, generic) = download(
        &app,
        &s,
        &format!("/api/v1/payouts/export?format=csv&run_id={run_id}"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        generic.starts_with("payout_id,affiliate_id,affiliate_email"),
        "{generic}"
    );
    assert!(
        generic.contains(&format!("{payout},{jane},jane@example.com")),
        "{generic}"
    );
    let (status, as_json) = download(&app, &s, "/api/v1/payouts/export?format=json").await;
    assert_eq!(status, 200);
    let as_json: Value = serde_json::from_str(&as_json).unwrap();
    assert_eq!(as_json[0]["net_cents"], 5850);
    let (status, _) = download(&app, &s, "/api/v1/payouts/export?format=xlsx").await;
    assert_eq!(status, 422);

    // Sent, then paid: available → paid (net) and fees; the commission is paid; an email.
    let (status, b) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/payout-runs/{run_id}/mark-processing"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{b}");
    let (status, b) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/payouts/{payout}/mark-paid"),
            Some(json!({"reference": "PP-BATCH-7"})),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(
        (b["status"].clone(), b["reference"].clone()),
        (json!("paid"), json!("PP-BATCH-7"))
    );
    assert_eq!(usd(&app, &s, &jane).await, (0, 0, 5850, 150));
    for (action, body) in [
        ("mark-paid", json!({"reference": "again"})),
        ("mark-failed", json!({"reason": "x"})),
        ("mark-processing", json!({})),
    ] {
        let (status, b) = app
            .call(
                &s.key,
                Method::POST,
                &format!("/api/v1/payouts/{payout}/{action}"),
                Some(body),
            )
            .await;
        assert_eq!(status, 409, "{action}: {b}");
    }
    let (status, detail) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/payouts/{payout}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        detail["commissions"].as_array().unwrap().len(),
        1,
        "{detail}"
    );
    assert_eq!(detail["commissions"][0]["status"], "paid");
    assert_eq!(detail["adjustments_cents"], 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM email_outbox WHERE kind = 'payout_paid' AND to_email = 'jane@example.com'").await,
        1
    );
    verify_ledger(&app).await;
}

#[tokio::test]
async fn a_failed_payout_returns_the_money_and_the_next_run_pays_it() {
    let app = spawn_app().await;
    let s = payout_shop(&app, "Failing").await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    earn(&app, &s, &jane, 9000, None).await;
    payout_settings(
        &app,
        &s,
        &jane,
        json!({"payout_method": "wise", "payout_email": "jane@wise.test"}),
    )
    .await;
    let (_, body) = run(&app, &s, json!({})).await;
    let payout = body["runs"][0]["payouts"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A reason is required; bad input changes nothing.
    let (status, b) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/payouts/{payout}/mark-failed"),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, b["error"]["field"].clone()),
        (422, json!("reason")),
        "{b}"
    );
    let (status, _) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/payouts/{payout}/mark-failed"),
            Some(json!({"reason": 5})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(usd(&app, &s, &jane).await, (0, 9000, 0, 0));
    let (status, b) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/payouts/{payout}/mark-failed"),
            Some(json!({"reason": "Wise account closed"})),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(
        (b["status"].clone(), b["failure_reason"].clone()),
        (json!("failed"), json!("Wise account closed"))
    );
    assert_eq!(usd(&app, &s, &jane).await, (9000, 0, 0, 0));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM email_outbox WHERE kind = 'payout_failed'")
            .await,
        1
    );
    // The next run pays the same commission again.
    let (_, body) = run(&app, &s, json!({})).await;
    let second = body["runs"][0]["payouts"][0].clone();
    assert_eq!(
        (
            second["amount_cents"].clone(),
            second["commissions_cents"].clone()
        ),
        (json!(9000), json!(9000))
    );
    assert_ne!(second["id"], payout.as_str());
    let (status, _) = app
        .call(
            &s.key,
            Method::POST,
            &format!(
                "/api/v1/payouts/{}/mark-paid",
                second["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(usd(&app, &s, &jane).await, (0, 0, 8775, 225));
    verify_ledger(&app).await;
}

#[tokio::test]
async fn a_refund_after_payout_is_netted_by_the_next_payout() {
    let app = spawn_app().await;
    let s = payout_shop(&app, "Clawback").await;
    patch_program(&app, &s, json!({"platform_fee_bps": 0})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    payout_settings(&app, &s, &jane, json!({"payout_method": "bank_transfer", "payout_details": "IBAN DE89 3704 0044 0532 0130 00\nJane Doe"})).await;
    // A sale through the events API, approved and paid out.
    let sale = json!({"id": "evt_sale", "type": "charge.succeeded", "customer_id": "cus_1",
                      "amount_cents": 6000, "currency": "USD", "charge_id": "ch_1",
                      "occurred_at": chrono::Utc::now().to_rfc3339(),
                      "metadata": {"affiliate_code": "jane"}});
    let (status, b) = event(&app, &s, sale).await;
    assert_eq!(status, 201, "{b}");
    let conversion = b["conversion_id"].as_str().unwrap().to_owned();
    app.call(
        &s.key,
        Method::POST,
        &format!("/api/v1/conversions/{conversion}/approve"),
        None,
    )
    .await;
    let (_, body) = run(&app, &s, json!({})).await;
    let first = body["runs"][0]["payouts"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.call(
        &s.key,
        Method::POST,
        &format!("/api/v1/payouts/{first}/mark-paid"),
        None,
    )
    .await;
    assert_eq!(usd(&app, &s, &jane).await, (0, 0, 6000, 0));
    // Fully refunded after the payout: a clawback.
    let refund = json!({"id": "evt_refund", "type": "refund.processed", "customer_id": "cus_1",
                        "amount_cents": 6000, "currency": "USD", "charge_id": "ch_1",
                        "occurred_at": chrono::Utc::now().to_rfc3339()});
    let (status, b) = event(&app, &s, refund).await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(usd(&app, &s, &jane).await, (-6000, 0, 6000, 0));
    // Below zero: nothing to pay.
    let (_, body) = run(&app, &s, json!({})).await;
    assert_eq!(body["runs"][0]["payouts"], json!([]));
    // New earnings: the next payout nets the clawback off.
    earn(&app, &s, &jane, 11_000, None).await;
    let (_, body) = run(&app, &s, json!({})).await;
    let p = body["runs"][0]["payouts"][0].clone();
    assert_eq!(
        (
            p["amount_cents"].clone(),
            p["commissions_cents"].clone(),
            p["adjustments_cents"].clone(),
            p["destination"].clone()
        ),
        (
            json!(5000),
            json!(11_000),
            json!(-6000),
            json!("IBAN DE89 3704 0044 0532 0130 00\nJane Doe")
        )
    );
    verify_ledger(&app).await;
}

#[tokio::test]
async fn exports_escape_formulas_and_paypal_files_hold_one_currency() {
    let app = spawn_app().await;
    let s = payout_shop(&app, "Sheets").await;
    let (status, a) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "evil@example.com", "name": "=HYPERLINK(\"http://x\",\"y\")", "code": "evil", "send_invite": false,
                        "payout_method": "paypal", "payout_email": "evil@paypal.test"})),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    let evil = a["id"].as_str().unwrap().to_owned();
    set_status(&app, &s, &evil, "active").await;
    earn(&app, &s, &evil, 7000, None).await;
    // A second currency.
    let (status, c) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/conversions",
            Some(json!({"affiliate_id": evil, "amount_cents": 8000, "currency": "EUR"})),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    app.call(
        &s.key,
        Method::POST,
        &format!("/api/v1/conversions/{}/approve", c["id"].as_str().unwrap()),
        None,
    )
    .await;
    let (status, body) = run(&app, &s, json!({})).await;
    assert_eq!(status, 201);
    assert_eq!(
        body["runs"][0]["payouts"].as_array().unwrap().len(),
        2,
        "{body}"
    );
    let (_, csv) = download(&app, &s, "/api/v1/payouts/export?format=csv").await;
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""),
        "{csv}"
    );
    assert!(!csv.contains(",=HYPERLINK"), "{csv}");
    let (status, body) = download(&app, &s, "/api/v1/payouts/export?format=paypal").await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("currency"), "{body}");
    let (status, eur) = download(
        &app,
        &s,
        "/api/v1/payouts/export?format=paypal&currency=eur",
    )
    .await;
    assert_eq!(status, 200);
    assert!(eur.starts_with("evil@paypal.test,78.00,EUR,pay_"), "{eur}");
    assert_eq!(eur.lines().count(), 1);
}

#[tokio::test]
async fn two_instances_running_payouts_at_once_never_pay_twice() {
    let app = spawn_app().await;
    let other = second_instance(&app).await;
    let s = payout_shop(&app, "Twins").await;
    let mut team = Vec::new();
    for i in 0..6 {
        let id = affiliate(&app, &s, &format!("a{i}@example.com"), &format!("twin{i}")).await;
        payout_settings(
            &app,
            &s,
            &id,
            json!({"payout_method": "paypal", "payout_email": format!("a{i}@paypal.test")}),
        )
        .await;
        earn(&app, &s, &id, 5000 + i * 100, None).await;
        team.push(id);
    }
    for _ in 0..3 {
        let (a, b) = tokio::join!(
            app.call(&s.key, Method::POST, "/api/v1/payouts/run", Some(json!({}))),
            other.call(&s.key, Method::POST, "/api/v1/payouts/run", Some(json!({}))),
        );
        assert_eq!((a.0, b.0), (201, 201), "{} {}", a.1, b.1);
    }
    assert_eq!(total(&app, &s, "/api/v1/payouts").await, 6);
    for (i, id) in team.iter().enumerate() {
        let amount = 5000 + i64::try_from(i).unwrap() * 100;
        assert_eq!(usd(&app, &s, id).await, (0, amount, 0, 0));
        assert_eq!(
            total(&app, &s, &format!("/api/v1/payouts?affiliate_id={id}")).await,
            1
        );
    }
    verify_ledger(&app).await;
}

/// What the fake Stripe saw: (idempotency key, form body).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

async fn transfers(req: HttpRequest, body: web::Bytes, seen: web::Data<Seen>) -> HttpResponse {
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let form = String::from_utf8_lossy(&body).into_owned();
    seen.lock().unwrap().push((key, form.clone()));
    if auth != "Bearer sk_test_fakefakefake" {
        return HttpResponse::Unauthorized().json(json!({"error": {"message": "Invalid API Key"}}));
    }
    if form.contains("destination=acct_bad") {
        return HttpResponse::BadRequest()
            .json(json!({"error": {"message": "No such destination: 'acct_bad'", "code": "resource_missing"}}));
    }
    if form.contains("destination=acct_flaky") {
        return HttpResponse::ServiceUnavailable().json(json!({"error": {"message": "try later"}}));
    }
    HttpResponse::Ok().json(json!({"id": "tr_1QfakeTransfer", "object": "transfer"}))
}

async fn fake_stripe() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let data = web::Data::new(seen.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/v1/transfers", web::post().to(transfers))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    tokio::spawn(server.run());
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn stripe_connect_transfers_are_off_by_default() {
    let app = spawn_app().await;
    let s = payout_shop(&app, "Gated").await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    payout_settings(
        &app,
        &s,
        &jane,
        json!({"payout_method": "stripe_connect", "stripe_account_id": "acct_ok"}),
    )
    .await;
    earn(&app, &s, &jane, 6000, None).await;
    let (_, body) = run(&app, &s, json!({})).await;
    let payout = body["runs"][0]["payouts"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, b) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/payouts/{payout}/send"),
            None,
        )
        .await;
    assert_eq!(status, 403, "{b}");
    assert_eq!(usd(&app, &s, &jane).await, (0, 6000, 0, 0));
}

#[tokio::test]
async fn stripe_connect_sends_one_transfer_per_payout_and_a_refusal_fails_it() {
    let (base, seen) = fake_stripe().await;
    let app = spawn_app_with(|settings| {
        settings.stripe_connect_payouts = true;
        settings.stripe_api_base = url::Url::parse(&base).unwrap();
    })
    .await;
    let s = payout_shop(&app, "Connect").await;
    let mut ids = Vec::new();
    for (i, acct) in ["acct_ok", "acct_bad", "acct_flaky"].iter().enumerate() {
        let id = affiliate(
            &app,
            &s,
            &format!("c{i}@example.com"),
            &format!("connect{i}"),
        )
        .await;
        payout_settings(
            &app,
            &s,
            &id,
            json!({"payout_method": "stripe_connect", "stripe_account_id": acct}),
        )
        .await;
        earn(&app, &s, &id, 6000, None).await;
        ids.push(id);
    }
    let (_, body) = run(&app, &s, json!({})).await;
    let run_id = body["runs"][0]["run"]["id"].as_str().unwrap().to_owned();
    let payout_of = |who: &str| {
        body["runs"][0]["payouts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["affiliate_id"] == who)
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .unwrap()
    };
    let (ok, bad, flaky) = (payout_of(&ids[0]), payout_of(&ids[1]), payout_of(&ids[2]));
    // Without a key on the program: a clear error, nothing sent.
    let (status, b) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/payouts/{ok}/send"),
            None,
        )
        .await;
    assert_eq!(
        (status, b["error"]["field"].clone()),
        (422, json!("stripe_secret_key")),
        "{b}"
    );
    assert!(seen.lock().unwrap().is_empty());
    patch_program(
        &app,
        &s,
        json!({"stripe_secret_key": "sk_test_fakefakefake"}),
    )
    .await;
    let (_, program) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/programs/{}", s.program_id),
            None,
        )
        .await;
    assert_eq!(program["stripe_connect_configured"], true);
    assert!(
        !program.to_string().contains("sk_test_fakefakefake"),
        "the key is write-only"
    );

    let (status, b) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/payout-runs/{run_id}/send"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{b}");
    let ok_p = payouts::get(&app.db, &s.vendor_id, &ok).await.unwrap();
    assert_eq!(
        (ok_p.status.as_str(), ok_p.reference.as_deref()),
        ("paid", Some("tr_1QfakeTransfer"))
    );
    let bad_p = payouts::get(&app.db, &s.vendor_id, &bad).await.unwrap();
    assert_eq!(bad_p.status, "failed");
    assert!(
        bad_p
            .failure_reason
            .unwrap()
            .contains("No such destination")
    );
    let flaky_p = payouts::get(&app.db, &s.vendor_id, &flaky).await.unwrap();
    assert_eq!(flaky_p.status, "processing");
    assert!(flaky_p.provider_error.unwrap().contains("503"));
    // Balances: paid (net of the 2.5 % fee), available again, still in the payout.
    assert_eq!(usd(&app, &s, &ids[0]).await, (0, 0, 5850, 150));
    assert_eq!(usd(&app, &s, &ids[1]).await, (6000, 0, 0, 0));
    assert_eq!(usd(&app, &s, &ids[2]).await, (0, 6000, 0, 0));
    {
        let seen = seen.lock().unwrap();
        let for_ok: Vec<_> = seen.iter().filter(|(_, f)| f.contains("acct_ok")).collect();
        assert_eq!(for_ok.len(), 1);
        assert_eq!(for_ok[0].0, format!("affilia-payout-{ok}"));
        assert!(for_ok[0].1.contains("amount=5850"), "{}", for_ok[0].1);
        assert!(for_ok[0].1.contains("currency=usd"), "{}", for_ok[0].1);
    }
    // Sending the unknown one again reuses its idempotency key.
    let (status, b) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/payouts/{flaky}/send"),
            None,
        )
        .await;
    assert_eq!(
        (status, b["status"].clone()),
        (200, json!("processing")),
        "{b}"
    );
    let keys: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, f)| f.contains("acct_flaky"))
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(keys, vec![format!("affilia-payout-{flaky}"); 2]);
    // A paid payout is not sent again.
    let (status, _) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/payouts/{ok}/send"),
            None,
        )
        .await;
    assert_eq!(status, 409);
    verify_ledger(&app).await;
}

#[tokio::test]
async fn a_program_with_a_payout_day_runs_once_a_month() {
    let app = spawn_app().await;
    let s = payout_shop(&app, "Monthly").await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    payout_settings(
        &app,
        &s,
        &jane,
        json!({"payout_method": "paypal", "payout_email": "jane@paypal.test"}),
    )
    .await;
    earn(&app, &s, &jane, 6000, None).await;
    let (status, b) = app
        .call(
            &s.key,
            Method::PATCH,
            &format!("/api/v1/programs/{}", s.program_id),
            Some(json!({"payout_day": 29})),
        )
        .await;
    assert_eq!(
        (status, b["error"]["field"].clone()),
        (422, json!("payout_day"))
    );
    patch_program(&app, &s, json!({"payout_day": 3})).await;
    let at = |day: u32| {
        chrono::NaiveDate::from_ymd_opt(2026, 12, day)
            .and_then(|d| d.and_hms_opt(6, 0, 0))
            .map(|t| t.and_utc().timestamp_millis())
            .unwrap()
    };
    assert_eq!(payouts::schedule::run_due(&app.db, at(2)).await.unwrap(), 0);
    assert_eq!(payouts::schedule::run_due(&app.db, at(3)).await.unwrap(), 1);
    assert_eq!(
        payouts::schedule::run_due(&app.db, at(20)).await.unwrap(),
        0
    );
    let (_, runs) = app
        .call(&s.key, Method::GET, "/api/v1/payout-runs", None)
        .await;
    assert_eq!(runs["total"], 1);
    assert_eq!(
        (
            runs["data"][0]["trigger"].clone(),
            runs["data"][0]["schedule_key"].clone()
        ),
        (json!("schedule"), json!("2026-12"))
    );
    assert_eq!(usd(&app, &s, &jane).await, (0, 6000, 0, 0));
}

#[tokio::test]
async fn payout_settings_changes_are_validated_audited_and_emailed() {
    let app = spawn_app().await;
    let s = payout_shop(&app, "Details").await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    for (body, field) in [
        (json!({"payout_method": "paypal"}), "payout_email"),
        (
            json!({"payout_method": "paypal", "payout_email": "not-an-email"}),
            "payout_email",
        ),
        (
            json!({"payout_method": "stripe_connect", "stripe_account_id": "1234"}),
            "stripe_account_id",
        ),
        (json!({"payout_method": "bank_transfer"}), "payout_details"),
        (json!({"payout_method": "cheque"}), "payout_method"),
    ] {
        let (status, b) = app
            .call(
                &s.key,
                Method::PATCH,
                &format!("/api/v1/affiliates/{jane}"),
                Some(body),
            )
            .await;
        assert_eq!(
            (status, b["error"]["field"].clone()),
            (422, json!(field)),
            "{b}"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM email_outbox WHERE kind = 'payout_settings_changed'")
            .await,
        0
    );
    payout_settings(
        &app,
        &s,
        &jane,
        json!({"payout_method": "paypal", "payout_email": "Jane@PayPal.test"}),
    )
    .await;
    let (_, a) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/affiliates/{jane}"),
            None,
        )
        .await;
    assert_eq!(
        (a["payout_method"].clone(), a["payout_email"].clone()),
        (json!("paypal"), json!("Jane@PayPal.test"))
    );
    // Each real change (the first setting too) is emailed; the same again changes nothing.
    payout_settings(&app, &s, &jane, json!({"payout_email": "Jane@PayPal.test"})).await;
    payout_settings(&app, &s, &jane, json!({"payout_email": "jane@paypal.test"})).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM email_outbox WHERE kind = 'payout_settings_changed' AND to_email = 'jane@example.com'").await, 2);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'affiliate.payout_settings_changed'"
        )
        .await,
        2
    );
    let bodies: Vec<(String,)> =
        sqlx::query_as("SELECT body_text FROM email_outbox WHERE kind = 'payout_settings_changed'")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
    let last = bodies
        .iter()
        .map(|(b,)| b)
        .find(|b| b.contains("Now: PayPal (j•••@paypal.test)"))
        .expect("the email of the last change");
    assert!(last.contains("Details changed"), "{last}");
    assert!(last.contains("Before: PayPal (J•••@PayPal.test)"), "{last}");
}

#[tokio::test]
async fn another_vendors_payouts_are_not_found() {
    let app = spawn_app().await;
    let s = payout_shop(&app, "Mine").await;
    let other = payout_shop(&app, "Theirs").await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    payout_settings(
        &app,
        &s,
        &jane,
        json!({"payout_method": "paypal", "payout_email": "jane@paypal.test"}),
    )
    .await;
    earn(&app, &s, &jane, 6000, None).await;
    let (_, body) = run(&app, &s, json!({})).await;
    let payout = body["runs"][0]["payouts"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run_id = body["runs"][0]["run"]["id"].as_str().unwrap().to_owned();
    for (method, path) in [
        (Method::GET, format!("/api/v1/payouts/{payout}")),
        (Method::POST, format!("/api/v1/payouts/{payout}/mark-paid")),
        (
            Method::POST,
            format!("/api/v1/payouts/{payout}/mark-processing"),
        ),
        (Method::GET, format!("/api/v1/payout-runs/{run_id}")),
        (
            Method::POST,
            format!("/api/v1/payout-runs/{run_id}/mark-paid"),
        ),
    ] {
        let (status, b) = app.call(&other.key, method, &path, None).await;
        assert_eq!(status, 404, "{path}: {b}");
    }
    let (status, b) = run(&app, &other, json!({"program_id": s.program_id})).await;
    assert_eq!(
        (status, b["error"]["field"].clone()),
        (422, json!("program_id"))
    );
    assert_eq!(total(&app, &other, "/api/v1/payouts").await, 0);
    let (_, csv) = download(&app, &other, "/api/v1/payouts/export?format=csv").await;
    assert_eq!(csv.lines().count(), 1, "header only: {csv}");
    let p = payouts::get(&app.db, &s.vendor_id, &payout).await.unwrap();
    assert_eq!(p.status, "pending");
}

#[tokio::test]
async fn payout_emails_link_to_the_vendors_own_portal_domain() {
    let app = spawn_app().await;
    let s = payout_shop(&app, "Domained").await;
    let (status, b) = app
        .call(
            &s.key,
            Method::PATCH,
            "/api/v1/vendor",
            Some(json!({"portal_domains": ["partners.domained.test"]})),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    app.verify_domain(&s.vendor_id, "partners.domained.test")
        .await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    payout_settings(
        &app,
        &s,
        &jane,
        json!({"payout_method": "paypal", "payout_email": "jane@paypal.test"}),
    )
    .await;
    let mut payouts = Vec::new();
    for _ in 0..2 {
        earn(&app, &s, &jane, 9000, None).await;
        let (status, body) = run(&app, &s, json!({})).await;
        assert_eq!(status, 201, "{body}");
        payouts.push(
            body["runs"][0]["payouts"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let (status, b) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/payouts/{}/mark-paid", payouts[0]),
            Some(json!({"reference": "r1"})),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    let (status, b) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/payouts/{}/mark-failed", payouts[1]),
            Some(json!({"reason": "closed"})),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    let root = app.host_url("partners.domained.test", "/");
    for (kind, path) in [
        ("payout_paid", format!("payouts/{}", payouts[0])),
        ("payout_failed", "payout-settings".to_owned()),
    ] {
        let (text, html): (String, String) =
            sqlx::query_as("SELECT body_text, body_html FROM email_outbox WHERE kind = $1")
                .bind(kind)
                .fetch_one(app.db.pool())
                .await
                .unwrap();
        let link = format!("{root}{path}");
        assert!(text.contains(&link), "{kind}: {link} not in {text}");
        assert!(html.contains(&link), "{kind}: {link} not in the HTML");
        assert!(
            !text.contains("/p/"),
            "{kind} links to the main host: {text}"
        );
    }
}

/// `ledger verify` names a claim that breaks the rules of `payout_claims`: a commission
/// claimed by another affiliate's payout or by a payout that does not exist, and a paid
/// commission whose payout is not paid.
#[tokio::test]
async fn ledger_verify_names_a_misplaced_claim() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Claims", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(&app, &s, "jane@claims.test", "janec").await;
    let john = affiliate(&app, &s, "john@claims.test", "johnc").await;
    earn(&app, &s, &jane, 5_000, None).await;
    earn(&app, &s, &john, 3_000, None).await;
    crate::helpers::money::pay_everyone(&app, &s, &jane).await;
    verify_ledger(&app).await;
    let one = |sql: &'static str, id: &str| {
        let (db, id) = (app.db.pool().clone(), id.to_owned());
        async move {
            let (v,): (String,) = sqlx::query_as(sql).bind(id).fetch_one(&db).await.unwrap();
            v
        }
    };
    let janes = one("SELECT id FROM commissions WHERE affiliate_id = $1", &jane).await;
    let johns = one("SELECT id FROM commissions WHERE affiliate_id = $1", &john).await;
    let payout = one(
        "SELECT payout_id FROM payout_claims WHERE commission_id = $1",
        &janes,
    )
    .await;
    let messages = |app: &TestApp| {
        let (db, vendor) = (app.db.clone(), s.vendor_id.clone());
        async move {
            affilia::domain::earnings::ledger::verify_vendor(&db, &vendor)
                .await
                .unwrap()
                .into_iter()
                .map(|v| v.message)
                .collect::<Vec<_>>()
        }
    };

    // John's commission, claimed by Jane's payout.
    let claim =
        "INSERT INTO payout_claims (commission_id, vendor_id, payout_id) VALUES ($1, $2, $3)";
    let unclaim = "DELETE FROM payout_claims WHERE commission_id = $1";
    tamper(&app, claim, &[&johns, &s.vendor_id, &payout]).await;
    let found = messages(&app).await;
    assert!(names_claim(&found, &johns, &payout), "{found:?}");
    assert!(!found.iter().any(|m| m.contains(&janes)), "{found:?}");
    tamper(&app, unclaim, &[&johns]).await;
    verify_ledger(&app).await;

    // A claim naming no payout (the table has no foreign keys to the two: see 0041).
    tamper(&app, claim, &[&johns, &s.vendor_id, "pay_nosuch"]).await;
    let found = messages(&app).await;
    assert!(names_claim(&found, &johns, "pay_nosuch"), "{found:?}");
    tamper(&app, unclaim, &[&johns]).await;
    verify_ledger(&app).await;

    // Jane's paid commission, its payout back to processing.
    tamper(
        &app,
        "UPDATE payouts SET status = 'processing' WHERE id = $1",
        &[&payout],
    )
    .await;
    let found = messages(&app).await;
    assert!(names_claim(&found, &janes, &payout), "{found:?}");
}

/// Runs one statement with text values straight on the test's database (tampering that no
/// route allows).
async fn tamper(app: &TestApp, sql: &'static str, values: &[&str]) {
    let mut q = sqlx::query(sql);
    for v in values {
        q = q.bind((*v).to_owned());
    }
    q.execute(app.db.pool()).await.unwrap();
}

/// Whether one of verify's messages names `commission`'s claim by `payout`.
fn names_claim(found: &[String], commission: &str, payout: &str) -> bool {
    let claimed = format!("claimed by payout {payout}");
    found
        .iter()
        .any(|m| m.contains(commission) && m.contains(&claimed))
}
