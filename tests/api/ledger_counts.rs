//! The ledger list's exact `total` read from the line count kept beside the journal
//! (issue 19, `migrations/0034_ledger_line_counts.sql`): equal to counting the journal after
//! every kind of posting, per vendor, checked by `ledger verify`, repaired by
//! `affilia rollups rebuild`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::{affilia, stdout};
use crate::helpers::affiliates::affiliate;
use crate::helpers::money::{convert, event, money_shop, pay_everyone, refer, verify_ledger};
use crate::helpers::vendors::Shop;
use crate::helpers::{TestApp, spawn_app};

/// The journal's lines of the shop's vendor, counted directly.
async fn counted(app: &TestApp, s: &Shop) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM ledger_entries WHERE vendor_id = $1")
        .bind(&s.vendor_id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    n
}

/// `total` of the unfiltered `GET /api/v1/ledger`.
async fn listed(app: &TestApp, s: &Shop) -> Value {
    let (status, body) = app
        .call(&s.key, Method::GET, "/api/v1/ledger?per_page=1", None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["total"].clone()
}

fn sale(id: &str, customer: &str, amount: i64) -> Value {
    json!({"id": id, "type": "charge.succeeded", "customer_id": customer,
           "amount_cents": amount, "currency": "USD", "charge_id": format!("ch_{id}"),
           "occurred_at": chrono::Utc::now().to_rfc3339()})
}

fn refund(id: &str, customer: &str, charge: &str, amount: i64) -> Value {
    json!({"id": id, "type": "refund.processed", "customer_id": customer,
           "amount_cents": amount, "currency": "USD", "charge_id": charge,
           "occurred_at": chrono::Utc::now().to_rfc3339()})
}

#[tokio::test]
async fn the_ledger_total_stays_exact_through_postings_reversals_and_payouts() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Counted", json!({"type": "percentage", "bps": 2000})).await;
    let other = money_shop(
        &app,
        "Elsewhere",
        json!({"type": "percentage", "bps": 1000}),
    )
    .await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    let joe = affiliate(&app, &s, "joe@example.com", "joe").await;
    let olga = affiliate(&app, &other, "olga@example.com", "olga").await;
    assert_eq!(listed(&app, &s).await, 0);

    // Earned (pending), approved early, rejected, refunded in part and in full, paid out:
    // after each, the listed total is the journal's own count.
    convert(&app, &s, &jane, 10_000, None, true).await;
    assert_eq!(listed(&app, &s).await, counted(&app, &s).await);
    let rejected = convert(&app, &s, &joe, 5_000, None, false).await;
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/conversions/{rejected}/reject"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(listed(&app, &s).await, counted(&app, &s).await);
    refer(&app, &s, "cus_j", "jane").await;
    let (status, body) = event(&app, &s, sale("s1", "cus_j", 8_000)).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = event(&app, &s, refund("r1", "cus_j", "ch_s1", 2_000)).await;
    assert_eq!(status, 201, "{body}");
    // The same refund again posts nothing, and the count does not move either.
    let before = counted(&app, &s).await;
    let (status, _) = event(&app, &s, refund("r1", "cus_j", "ch_s1", 2_000)).await;
    assert_eq!(status, 200);
    assert_eq!(counted(&app, &s).await, before);
    assert_eq!(listed(&app, &s).await, before);
    pay_everyone(&app, &s, &jane).await;
    let (status, body) = event(&app, &s, refund("r2", "cus_j", "ch_s1", 6_000)).await;
    assert_eq!(status, 201, "{body}");
    let total = counted(&app, &s).await;
    assert!(total >= 12, "every movement posted lines: {total}");
    assert_eq!(listed(&app, &s).await, total);

    // Per vendor: the other vendor's postings are not in this total, and its own is exact.
    convert(&app, &other, &olga, 3_000, None, true).await;
    assert_eq!(listed(&app, &s).await, total);
    assert_eq!(listed(&app, &other).await, counted(&app, &other).await);
    assert_eq!(listed(&app, &other).await, 4);

    // Filtered totals still count the filtered lines.
    let (status, body) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/ledger?affiliate_id={joe}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["total"], 2,
        "joe: earned then rejected, one line each: {body}"
    );
    verify_ledger(&app).await;
}

#[tokio::test]
async fn verify_reports_a_tampered_line_count_and_a_rebuild_repairs_it() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Tampered", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    convert(&app, &s, &jane, 10_000, None, true).await;
    let out = affilia(&app, &["ledger", "verify"]).await;
    assert!(out.status.success(), "{}", stdout(&out));

    // One of the vendor's slot rows (each writer task has its own) gains a line.
    sqlx::query(
        "UPDATE ledger_line_counts SET lines = lines + 1 WHERE vendor_id = $1 \
         AND slot = (SELECT MIN(slot) FROM ledger_line_counts WHERE vendor_id = $1)",
    )
    .bind(&s.vendor_id)
    .execute(app.db.pool())
    .await
    .unwrap();
    let out = affilia(&app, &["ledger", "verify"]).await;
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains("kept ledger line count is 5 but the journal holds 4 lines"),
        "{text}"
    );

    let out = affilia(&app, &["rollups", "rebuild"]).await;
    assert!(out.status.success(), "{}", stdout(&out));
    let out = affilia(&app, &["ledger", "verify"]).await;
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(listed(&app, &s).await, 4);
    verify_ledger(&app).await;
}
