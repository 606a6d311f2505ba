//! Click rollups (issue 19): kept in step by the click insert, equal to a recomputation
//! from the click log, checked by `ledger verify`, rebuilt by `affilia rollups rebuild`;
//! and list filters built from only the filters given.

use affilia::db::clicks::{self, ClickRow};
use serde_json::Value;

use crate::cli::{affilia, stdout};
use crate::helpers::affiliates::affiliate;
use crate::helpers::tracking::click;
use crate::helpers::vendors::shop;
use crate::helpers::{TestApp, spawn_app};

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

/// A stored click of `affiliate` at `at` (unix ms).
fn row(
    app_shop: &crate::helpers::vendors::Shop,
    id: &str,
    affiliate: &str,
    enrollment: &str,
    at: i64,
    bot: i64,
    dup: i64,
) -> ClickRow {
    ClickRow {
        id: id.to_owned(),
        vendor_id: app_shop.vendor_id.clone(),
        program_id: app_shop.program_id.clone(),
        enrollment_id: enrollment.to_owned(),
        affiliate_id: affiliate.to_owned(),
        link_id: None,
        code: "x".to_owned(),
        landing_url: "https://shop.test/".to_owned(),
        referrer: None,
        user_agent: None,
        ip_hash: "h".to_owned(),
        is_bot: bot,
        is_duplicate: dup,
        source: "api".to_owned(),
        created_at: at,
    }
}

/// The rollups as stored and as recomputed from the click log, in one comparable shape.
async fn rollups_and_log(
    app: &TestApp,
) -> (
    Vec<(String, i64, i64, i64, i64, i64)>,
    Vec<(String, i64, i64, i64, i64, i64)>,
) {
    let stored: Vec<(String, i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT affiliate_id, day, recorded, clicks, bots, duplicates \
         FROM click_rollup_affiliate_days ORDER BY affiliate_id, day",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    let log: Vec<(String, i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT affiliate_id, created_at / 86400000, COUNT(*), \
         CAST(SUM(CASE WHEN is_bot = 0 AND is_duplicate = 0 THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(is_bot) AS BIGINT), \
         CAST(SUM(CASE WHEN is_bot = 0 AND is_duplicate = 1 THEN 1 ELSE 0 END) AS BIGINT) \
         FROM clicks GROUP BY affiliate_id, created_at / 86400000 ORDER BY 1, 2",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    (stored, log)
}

#[tokio::test]
async fn click_rollups_follow_the_log_and_verify_catches_a_tampered_one() {
    let app = spawn_app().await;
    let s = shop(&app, "Roll", "https://roll.test/").await;
    let jane = affiliate(&app, &s, "jane@partners.test", "jane").await;
    let john = affiliate(&app, &s, "john@partners.test", "john").await;
    let (enr_jane,): (String,) =
        sqlx::query_as("SELECT id FROM enrollments WHERE affiliate_id = $1")
            .bind(&jane)
            .fetch_one(app.db.pool())
            .await
            .unwrap();

    // Live clicks through the redirect (one repeat), and older ones stored directly.
    for path in ["/r/jane", "/r/jane", "/r/john"] {
        assert_eq!(click(&app, &app.client, path).await.0, 302);
    }
    app.flush_clicks().await;
    let now = chrono::Utc::now().timestamp_millis();
    let base = (now / DAY - 10) * DAY;
    let batch: Vec<ClickRow> = (0..40)
        .map(|i| {
            row(
                &s,
                &format!("clk_test{i:03}"),
                &jane,
                &enr_jane,
                base + i * 3 * HOUR + 17,
                i64::from(i % 7 == 0),
                i64::from(i % 5 == 0),
            )
        })
        .collect();
    assert_eq!(
        clicks::insert_batch(app.db.pool(), app.db.kind(), &batch)
            .await
            .unwrap(),
        40
    );
    // A retried batch (half of it stored before) adds only the new clicks.
    let mut retry = batch[20..].to_vec();
    retry.push(row(&s, "clk_test_new", &jane, &enr_jane, base + 5, 0, 0));
    assert_eq!(
        clicks::insert_batch(app.db.pool(), app.db.kind(), &retry)
            .await
            .unwrap(),
        1
    );

    let (stored, log) = rollups_and_log(&app).await;
    assert_eq!(stored, log);
    assert!(stored.iter().any(|r| r.0 == john));
    let (hours,): (i64,) =
        sqlx::query_as("SELECT CAST(SUM(recorded) AS BIGINT) FROM click_rollup_hours")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(hours, 44);

    // Periods that do not start on an hour read whole hours from the rollup and the
    // ragged edges from the log: the same figures as counting the log.
    for (from, to) in [
        (base + 17, base + 9 * DAY),
        (base + HOUR / 2, base + 2 * DAY + 5),
        (base, base + 40),
    ] {
        let (expected,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM clicks WHERE vendor_id = $1 AND is_bot = 0 AND is_duplicate = 0 \
             AND created_at >= $2 AND created_at < $3",
        )
        .bind(&s.vendor_id)
        .bind(from)
        .bind(to)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        let q = format!(
            "/api/v1/analytics?from={}&to={}",
            affilia::db::rfc3339(from).replace('+', "%2B"),
            affilia::db::rfc3339(to).replace('+', "%2B")
        );
        let body: Value = app.api_get(&s.key, &q).await.json().await.unwrap();
        assert_eq!(body["totals"]["clicks"], expected, "{q}: {body}");
        let q = format!(
            "/api/v1/clicks?affiliate_id={jane}&from={}&to={}",
            affilia::db::rfc3339(from).replace('+', "%2B"),
            affilia::db::rfc3339(to).replace('+', "%2B")
        );
        let body: Value = app.api_get(&s.key, &q).await.json().await.unwrap();
        assert_eq!(body["summary"]["clicks"], expected, "{q}: {body}");
    }

    let out = affilia(&app, &["ledger", "verify"]).await;
    assert!(out.status.success(), "{}", stdout(&out));

    // A tampered rollup is reported, and a rebuild repairs it.
    sqlx::query(
        "UPDATE click_rollup_affiliate_days SET clicks = clicks + 1 WHERE affiliate_id = $1",
    )
    .bind(&john)
    .execute(app.db.pool())
    .await
    .unwrap();
    sqlx::query(
        "DELETE FROM click_rollup_hours WHERE hour = (SELECT MIN(hour) FROM click_rollup_hours)",
    )
    .execute(app.db.pool())
    .await
    .unwrap();
    let out = affilia(&app, &["ledger", "verify"]).await;
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains("click rollup (affiliate_days)") && text.contains(&john),
        "{text}"
    );
    assert!(text.contains("click rollup (hours)"), "{text}");
    let out = affilia(&app, &["rollups", "rebuild"]).await;
    assert!(out.status.success(), "{}", stdout(&out));
    let out = affilia(&app, &["ledger", "verify"]).await;
    assert!(out.status.success(), "{}", stdout(&out));
    let (stored, log) = rollups_and_log(&app).await;
    assert_eq!(stored, log);
}

#[tokio::test]
async fn list_filters_combine_and_a_whole_email_is_matched_exactly() {
    let app = spawn_app().await;
    let s = shop(&app, "Filt", "https://filt.test/").await;
    let jane = affiliate(&app, &s, "jane@partners.test", "jane").await;
    affiliate(&app, &s, "janet@partners.test", "janet").await;
    affiliate(&app, &s, "bob@other.test", "bob").await;

    let get = |q: &'static str| {
        let app = &app;
        let key = s.key.clone();
        async move {
            let body: Value = app.api_get(&key, q).await.json().await.unwrap();
            body
        }
    };
    assert_eq!(get("/api/v1/affiliates?search=jane").await["total"], 2);
    assert_eq!(
        get("/api/v1/affiliates?search=partners.test").await["total"],
        2
    );
    let exact = get("/api/v1/affiliates?search=JANE@partners.test").await;
    assert_eq!(exact["total"], 1, "{exact}");
    assert_eq!(exact["data"][0]["id"], jane.as_str());
    assert_eq!(
        get("/api/v1/affiliates?search=jane&status=active").await["total"],
        2
    );
    assert_eq!(
        get("/api/v1/affiliates?search=jane&status=paused").await["total"],
        0
    );
    assert_eq!(get("/api/v1/affiliates?search=100%25").await["total"], 0);
}
