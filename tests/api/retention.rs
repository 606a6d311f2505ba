//! Retention (issue 21): the worker prunes finished jobs, old emails and (when asked) old
//! click rows in bounded batches; the click rollups keep the pruned days, so `ledger
//! verify` and `rollups rebuild` still agree; the ledger and the billing event log are
//! never pruned.

use affilia::retention::Retention;
use reqwest::Method;
use serde_json::json;

use crate::helpers::affiliates::affiliate;
use crate::helpers::money::{earn, event, money_shop, refer, verify_ledger};
use crate::helpers::tracking::click;
use crate::helpers::vendors::Shop;
use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const DAY: i64 = 86_400_000;

async fn ids(app: &TestApp, sql: &'static str) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as(sql).fetch_all(app.db.pool()).await.unwrap();
    rows.into_iter().map(|r| r.0).collect()
}

/// Clicks, an invitation email (a job and an outbox row), a billing event, conversions
/// and their ledger lines.
async fn activity(app: &TestApp) -> Shop {
    let s = money_shop(app, "Keeper", json!({"type": "percentage", "bps": 1000})).await;
    let jane = affiliate(app, &s, "jane@keeper.test", "janek").await;
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "invited@keeper.test", "name": "Invited", "send_invite": true})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    for _ in 0..4 {
        let (status, _) = click(app, &crate::helpers::new_client(), "/r/janek").await;
        assert_eq!(status, 302);
    }
    app.flush_clicks().await;
    refer(app, &s, "cus_keep", "janek").await;
    let (status, body) = event(
        app,
        &s,
        json!({"id": "evt_keep", "type": "charge.succeeded", "customer_id": "cus_keep",
               "amount_cents": 4_000, "currency": "USD",
               "occurred_at": chrono::Utc::now().to_rfc3339()}),
    )
    .await;
    assert!(status == 200 || status == 201, "{body}");
    earn(app, &s, &jane, 3_000, None).await;
    app.run_jobs().await;
    s
}

#[tokio::test]
async fn old_jobs_emails_and_clicks_are_pruned_but_never_money() {
    let app = spawn_app_with(|s| {
        s.retention = Retention::new(Some(30), Some(90), Some(730)).unwrap();
    })
    .await;
    let s = activity(&app).await;
    let now = affilia::db::now_ms();
    let ledger = ids(&app, "SELECT id FROM ledger_entries ORDER BY id").await;
    let billing = ids(&app, "SELECT id FROM billing_events ORDER BY id").await;
    assert!(!ledger.is_empty() && !billing.is_empty());
    assert!(
        app.count("SELECT COUNT(*) FROM jobs WHERE status = 'done'")
            .await
            > 0
    );
    assert!(
        app.count("SELECT COUNT(*) FROM email_outbox WHERE status IN ('sent', 'mailbox')")
            .await
            > 0
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM clicks").await, 4);
    let recorded = "SELECT CAST(SUM(recorded) AS BIGINT) FROM click_rollup_hours";
    assert_eq!(app.count(recorded).await, 4);

    // A month on: finished jobs go, emails (90 days) and clicks (730) stay.
    app.run_jobs_at(now + 31 * DAY).await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM jobs WHERE status IN ('done', 'failed') AND updated_at < {now}"
        ))
        .await,
        0
    );
    assert!(
        app.count("SELECT COUNT(*) FROM email_outbox WHERE status IN ('sent', 'mailbox')")
            .await
            > 0
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM clicks").await, 4);

    // Two years on: the emails and the clicks go too; their counts stay in the rollups.
    app.run_jobs_at(now + 800 * DAY).await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM email_outbox WHERE updated_at <= {now}"
        ))
        .await,
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM clicks").await, 0);
    assert_eq!(app.count(recorded).await, 4);
    // The ledger and the billing event log are never pruned.
    let ledger_after = ids(&app, "SELECT id FROM ledger_entries ORDER BY id").await;
    assert!(ledger.iter().all(|id| ledger_after.contains(id)));
    assert_eq!(
        ids(&app, "SELECT id FROM billing_events ORDER BY id").await,
        billing
    );
    // The rollup check and the rebuild respect the pruned days.
    verify_ledger(&app).await;
    affilia::domain::attribution::clicks::rebuild_rollups_of(&app.db, &s.vendor_id)
        .await
        .unwrap();
    assert_eq!(app.count(recorded).await, 4);
    verify_ledger(&app).await;
    // It is the recorded horizon that keeps the check quiet: without it the pruned days'
    // rollups would have no clicks behind them.
    sqlx::query("UPDATE click_horizons SET pruned_before = 0")
        .execute(app.db.pool())
        .await
        .unwrap();
    let violations = affilia::domain::earnings::ledger::verify(&app.db)
        .await
        .unwrap();
    assert!(!violations.is_empty());
}

#[tokio::test]
async fn clicks_are_kept_forever_by_default() {
    let app = spawn_app().await;
    assert_eq!(app.state.settings.retention.clicks_days, 0);
    activity(&app).await;
    let now = affilia::db::now_ms();
    app.run_jobs_at(now + 3_000 * DAY).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM clicks").await, 4);
    assert!(app.count("SELECT COUNT(*) FROM ledger_entries").await > 0);
    verify_ledger(&app).await;
}

#[tokio::test]
async fn a_short_click_retention_is_refused_at_start() {
    let app = spawn_app().await;
    let out = crate::cli::affilia(&app, &["--retain-clicks-days", "30", "migrate"]).await;
    assert!(!out.status.success());
    assert!(
        crate::cli::stderr(&out).contains("at least 730"),
        "{}",
        crate::cli::stderr(&out)
    );
}
