//! Currencies without cents and with three decimals: amounts are stored in the currency's
//! ISO 4217 minor unit and every place written for people (dashboard, portal, CSV exports,
//! accounting journal, payout file) shows them with the currency's decimals; typed amounts
//! with more decimals than the currency has are refused, not rounded.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::OWNER_PASSWORD;
use crate::helpers::money::{
    SECRET, money_shop, pay_everyone, post_stripe, refer, stripe_event, verify_ledger,
};
use crate::helpers::pages::{page, submit};
use crate::helpers::vendors::{Shop, patch_program};
use crate::helpers::{TestApp, spawn_app};
use crate::portal_pages::portal_affiliate;

fn day(offset: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(offset))
        .format("%Y-%m-%d")
        .to_string()
}

async fn download(app: &TestApp, s: &Shop, path: &str) -> String {
    let res = app.api_get(&s.key, path).await;
    assert_eq!(res.status().as_u16(), 200, "{path}");
    res.text().await.unwrap()
}

async fn conversions_of(app: &TestApp, s: &Shop) -> Vec<Value> {
    let (status, list) = app
        .call(&s.key, Method::GET, "/api/v1/conversions", None)
        .await;
    assert_eq!(status, 200, "{list}");
    list["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_jpy_program_counts_and_shows_whole_yen_end_to_end() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Yen", json!({"type": "percentage", "bps": 2000})).await;
    patch_program(&app, &s, json!({"currency": "JPY"})).await;
    let (jane, portal) = portal_affiliate(&app, &s, "jane@partners.test", "jane").await;
    refer(&app, &s, "cus_jp", "jane").await;

    // Stripe sends JPY in yen (a zero-decimal currency): ¥15000 is `amount: 15000`.
    let body = stripe_event(
        "evt_jpy_1",
        "charge.succeeded",
        json!({"id": "ch_jpy_1", "object": "charge", "amount": 15_000, "currency": "jpy",
               "customer": "cus_jp", "paid": true, "status": "succeeded",
               "created": chrono::Utc::now().timestamp()}),
    );
    let (status, answer) = post_stripe(&app, &s.program_id, &body, SECRET).await;
    assert_eq!(status, 200, "{answer}");
    let list = conversions_of(&app, &s).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let c = &list[0];
    // Stored as given: yen are JPY's minor unit; 20 % is ¥3000.
    assert_eq!(
        (c["amount_cents"].as_i64(), c["currency"].as_str()),
        (Some(15_000), Some("JPY"))
    );
    let conversion_id = c["id"].as_str().unwrap().to_owned();
    let commission = app
        .count(&format!(
            "SELECT amount_cents FROM commissions WHERE conversion_id = '{conversion_id}'"
        ))
        .await;
    assert_eq!(commission, 3000);

    // The dashboard: whole yen, never "150.00".
    let staff = app.signed_in_client("owner@yen.test", OWNER_PASSWORD).await;
    let (status, html) = page(&app, &staff, "/dashboard/conversions").await;
    assert_eq!(status, 200);
    assert!(html.contains("15000 JPY"), "{html}");
    assert!(html.contains("3000 JPY"), "{html}");
    assert!(
        !html.contains("150.00") && !html.contains("30.00"),
        "{html}"
    );
    let (_, html) = page(
        &app,
        &staff,
        &format!("/dashboard/conversions/{conversion_id}"),
    )
    .await;
    assert!(
        html.contains("3000 JPY") && !html.contains("30.00"),
        "{html}"
    );

    // The portal: the affiliate's pending balance in yen.
    let (status, html) = page(&app, &portal, "/p/yen/").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("3000 JPY"), "{html}");
    assert!(!html.contains("30.00"), "{html}");

    // The report CSV's decimal columns.
    let res = staff
        .get(app.url("/dashboard/reports?format=csv&currency=JPY"))
        .send()
        .await
        .unwrap();
    let csv = res.text().await.unwrap();
    assert!(csv.contains(",15000,3000,JPY"), "{csv}");

    // Approve and pay: the payout file and the accounting journal in whole yen.
    let (status, b) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/conversions/{conversion_id}/approve"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{b}");
    pay_everyone(&app, &s, &jane).await;
    let payouts = download(&app, &s, "/api/v1/payouts/export?format=csv").await;
    assert!(payouts.contains(",JPY,3000,0,3000,"), "{payouts}");
    let paypal = download(&app, &s, "/api/v1/payouts/export?format=paypal").await;
    assert!(paypal.is_empty() || !paypal.contains("30.00"), "{paypal}");
    let journal = download(
        &app,
        &s,
        &format!(
            "/api/v1/accounting/journal?from={}&to={}&format=csv",
            day(-1),
            day(1)
        ),
    )
    .await;
    let yen_lines: Vec<&str> = journal.lines().filter(|l| l.contains(",JPY,")).collect();
    assert!(!yen_lines.is_empty(), "{journal}");
    assert!(journal.contains(",3000,"), "{journal}");
    for line in &yen_lines {
        assert!(!line.contains("30.00") && !line.contains(".00,"), "{line}");
    }
    let (_, html) = page(&app, &portal, "/p/yen/payouts").await;
    assert!(
        html.contains("3000 JPY") && !html.contains("30.00"),
        "{html}"
    );

    // A typed amount with a fraction of a yen is refused, not rounded; whole yen are read.
    let before = conversions_of(&app, &s).await.len();
    let (status, _, html) = submit(
        &app,
        &staff,
        vec![
            ("affiliate_id", "jane@partners.test".into()),
            ("amount", "1500.5".into()),
        ],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("JPY has no minor unit"), "{html}");
    assert_eq!(conversions_of(&app, &s).await.len(), before);
    let (status, location, _) = submit(
        &app,
        &staff,
        vec![
            ("affiliate_id", "jane@partners.test".into()),
            ("amount", "1500".into()),
            ("external_id", "order-1500".into()),
        ],
    )
    .await;
    assert_eq!(status, 303, "{location}");
    let manual = conversions_of(&app, &s)
        .await
        .into_iter()
        .find(|c| c["external_id"] == "order-1500")
        .unwrap();
    assert_eq!(manual["amount_cents"], 1500, "{manual}");
    verify_ledger(&app).await;
}

#[tokio::test]
async fn a_bhd_program_reads_and_shows_three_decimals() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Dinar", json!({"type": "flat", "amount_cents": 1500})).await;
    patch_program(&app, &s, json!({"currency": "BHD"})).await;
    let (_, _portal) = portal_affiliate(&app, &s, "ali@partners.test", "ali").await;
    let staff = app
        .signed_in_client("owner@dinar.test", OWNER_PASSWORD)
        .await;

    // 12.345 BHD is 12345 fils; a fourth decimal is refused.
    let (status, _, html) = submit(
        &app,
        &staff,
        vec![
            ("affiliate_id", "ali@partners.test".into()),
            ("amount", "12.3456".into()),
        ],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("BHD has at most 3 decimals"), "{html}");
    let (status, location, _) = submit(
        &app,
        &staff,
        vec![
            ("affiliate_id", "ali@partners.test".into()),
            ("amount", "12.345".into()),
        ],
    )
    .await;
    assert_eq!(status, 303, "{location}");
    let list = conversions_of(&app, &s).await;
    assert_eq!(list[0]["amount_cents"], 12_345, "{list:?}");
    let (_, html) = page(&app, &staff, "/dashboard/conversions").await;
    assert!(html.contains("12.345 BHD"), "{html}");
    // The flat commission, 1500 fils, is 1.500 BHD in words and on the form.
    assert!(html.contains("1.500 BHD"), "{html}");
    let (_, html) = page(&app, &staff, "/dashboard/programs").await;
    assert!(html.contains("1.500 per conversion"), "{html}");
    let (_, html) = page(
        &app,
        &staff,
        &format!("/dashboard/programs/{}", s.program_id),
    )
    .await;
    assert!(html.contains("value=\"1.500\""), "{html}");
    verify_ledger(&app).await;
}
