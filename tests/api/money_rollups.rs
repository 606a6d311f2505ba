//! Money rollups (issue 19, `migrations/0037_money_rollups.sql`): the daily sums of
//! conversions and commissions, the affiliates' all-time earnings and the daily referral
//! counts (`0039_referral_rollups.sql`) stay equal to their rows through every money flow, answer any period exactly as grouping the rows does,
//! feed an exact leaderboard and exact per-affiliate report pages (with the all-time totals
//! of `0040_affiliate_report_totals.sql`), are checked by `ledger verify` and rebuilt by
//! `affilia rollups rebuild`.

use std::collections::BTreeSet;

use affilia::db::analytics::{self, Leader, Scope};
use affilia::db::clicks::{self, ClickRow};
use affilia::db::reports::{self, ReportOrder, ReportRow, ReportScope};
use affilia::db::{money_rollups, report_search};
use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::{affilia, stdout};
use crate::helpers::affiliates::{affiliate, payout_settings};
use crate::helpers::money::{convert, event, money_shop, pay_everyone, refer, verify_ledger};
use crate::helpers::vendors::Shop;
use crate::helpers::{TestApp, clock, spawn_app};

const DAY: i64 = 86_400_000;

fn sale(id: &str, customer: &str, amount: i64, at: i64) -> Value {
    json!({"id": id, "type": "charge.succeeded", "customer_id": customer,
           "amount_cents": amount, "currency": "USD", "charge_id": format!("ch_{id}"),
           "occurred_at": affilia::db::rfc3339(at)})
}

fn refund(id: &str, customer: &str, charge: &str, amount: i64, at: i64) -> Value {
    json!({"id": id, "type": "refund.processed", "customer_id": customer,
           "amount_cents": amount, "currency": "USD", "charge_id": charge,
           "occurred_at": affilia::db::rfc3339(at)})
}

async fn call(app: &TestApp, s: &Shop, path: &str, body: Option<Value>) -> Value {
    let (status, b) = app.call(&s.key, Method::POST, path, body).await;
    assert!(status == 200 || status == 201, "{path}: {status} {b}");
    b
}

/// A mixed money flow spread over about a month on the simulated clock: approved,
/// rejected and pending conversions, partial and full refunds (before and after payout),
/// a paid and a failed payout. Returns the first instant of the flow. The test holds the
/// clock (`clock::exclusive`, taken before its app started).
async fn money_flow(app: &TestApp, s: &Shop, _clock: &clock::Exclusive) -> i64 {
    let now = chrono::Utc::now().timestamp_millis();
    let start = (now / DAY - 35) * DAY + 5 * 3_600_000 + 17_000;
    let mut at = start;
    let mut tick = |step: i64| {
        at += step;
        affilia::db::simulate_clock(Some(at));
        at
    };
    tick(0);
    let codes = ["ann", "bob", "cat", "dan", "eve", "fay"];
    let mut affs = Vec::new();
    for code in codes {
        affs.push(affiliate(app, s, &format!("{code}@example.com"), code).await);
    }
    // Amounts from a small set, so that earnings tie and the order by id matters.
    let amounts = [10_000, 5_000, 10_000, 2_500, 5_000, 10_000, 7_500];
    let mut charged = Vec::new();
    for i in 0..30usize {
        let at = tick(7 * 3_600_000 + 13 * 60_000 + (i as i64 % 5) * 997);
        let a = i % affs.len();
        let amount = amounts[i % amounts.len()];
        match i % 5 {
            0 => {
                convert(app, s, &affs[a], amount, None, true).await;
            }
            1 => {
                let id = convert(app, s, &affs[a], amount, None, false).await;
                call(app, s, &format!("/api/v1/conversions/{id}/reject"), None).await;
            }
            2 => {
                convert(app, s, &affs[a], amount, None, false).await;
            }
            _ => {
                let customer = format!("cus_{i}");
                refer(app, s, &customer, codes[a]).await;
                let (status, body) =
                    event(app, s, sale(&format!("s{i}"), &customer, amount, at)).await;
                assert_eq!(status, 201, "{body}");
                charged.push((i, customer, amount));
            }
        }
    }
    // Refunds: partial, then some in full, a day or more after their sales.
    for (n, (i, customer, amount)) in charged.iter().enumerate() {
        if n % 3 == 2 {
            continue;
        }
        let at = tick(3_600_000 + 1);
        let (status, body) = event(
            app,
            s,
            refund(
                &format!("r{i}"),
                customer,
                &format!("ch_s{i}"),
                amount / 4,
                at,
            ),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        if n % 3 == 1 {
            let at = tick(DAY + 5);
            let (status, body) = event(
                app,
                s,
                refund(
                    &format!("rf{i}"),
                    customer,
                    &format!("ch_s{i}"),
                    *amount,
                    at,
                ),
            )
            .await;
            assert_eq!(status, 201, "{body}");
        }
    }
    // Approve what is still pending of the first affiliates (early, in another day).
    tick(DAY + 11);
    // Paid: ann. Failed: bob (his commissions go back to available).
    pay_everyone(app, s, &affs[0]).await;
    tick(2 * 3_600_000);
    payout_settings(
        app,
        s,
        &affs[1],
        json!({"payout_method": "paypal", "payout_email": "bob@paypal.test"}),
    )
    .await;
    let run = call(app, s, "/api/v1/payouts/run", Some(json!({}))).await;
    for p in run["runs"][0]["payouts"].as_array().unwrap() {
        call(
            app,
            s,
            &format!("/api/v1/payouts/{}/mark-failed", p["id"].as_str().unwrap()),
            Some(json!({"reason": "bounced"})),
        )
        .await;
    }
    // A refund after payout (clawback of a paid commission).
    let (i, customer, amount) = &charged[0];
    let at = tick(3_600_000);
    let (status, body) = event(
        app,
        s,
        refund(
            &format!("rl{i}"),
            customer,
            &format!("ch_s{i}"),
            amount / 2,
            at,
        ),
    )
    .await;
    assert!(status == 201 || status == 200, "{body}");
    affilia::db::simulate_clock(None);
    start
}

/// A small deterministic generator (xorshift).
struct Rand(u64);

impl Rand {
    fn below(&mut self, n: i64) -> i64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as i64
    }
}

fn leaders(l: &[Leader]) -> Vec<(String, String, i64, i64)> {
    l.iter()
        .map(|l| {
            (
                l.affiliate_id.clone(),
                l.currency.clone(),
                l.commissions,
                l.earned_cents,
            )
        })
        .collect()
}

fn report_rows(rows: &[ReportRow]) -> Vec<(String, String, String, i64, i64, i64, i64)> {
    rows.iter()
        .map(|r| {
            (
                r.id.clone(),
                r.name.clone(),
                r.email.clone(),
                r.clicks,
                r.conversions,
                r.revenue_cents,
                r.commission_cents,
            )
        })
        .collect()
}

const ORDERS: [ReportOrder; 5] = [
    ReportOrder::Name,
    ReportOrder::Clicks,
    ReportOrder::Conversions,
    ReportOrder::Revenue,
    ReportOrder::Commission,
];

/// A report's scope over days `[from_day, to_day)` in `currency`.
fn report_scope<'a>(
    db: &affilia::db::Db,
    vendor_id: &'a str,
    currency: &'a str,
    from_day: i64,
    to_day: i64,
) -> ReportScope<'a> {
    ReportScope {
        vendor_id,
        from_day,
        to_day,
        currency,
        kind: db.kind(),
    }
}

/// Every page the report search answers over `[from_day, to_day)` equals the same page of
/// the grouping query, with the same "more rows follow"; returns the (order, descending)
/// pairs it answered at least once (the others grouped).
async fn assert_report_pages_exact(
    db: &affilia::db::Db,
    vendor_id: &str,
    currency: &str,
    from_day: i64,
    to_day: i64,
) -> BTreeSet<(String, bool)> {
    let pool = db.pool();
    let scope = report_scope(db, vendor_id, currency, from_day, to_day);
    let mut answered = BTreeSet::new();
    for order in ORDERS {
        for descending in [true, false] {
            for (limit, offset) in [
                (1, 0),
                (2, 0),
                (3, 1),
                (2, 3),
                (5, 0),
                (4, 4),
                (1, 5),
                (50, 0),
            ] {
                let mut grouped =
                    reports::affiliate_report(pool, &scope, order, descending, limit + 1, offset)
                        .await
                        .unwrap();
                let more = grouped.len() as i64 > limit;
                grouped.truncate(limit as usize);
                let Some((rows, searched_more)) =
                    report_search::page(pool, &scope, order, descending, limit, offset)
                        .await
                        .unwrap()
                else {
                    continue;
                };
                let what = format!(
                    "{order:?} desc={descending} limit {limit} offset {offset} over days \
                     [{from_day}, {to_day}) in {currency}"
                );
                assert_eq!(report_rows(&rows), report_rows(&grouped), "{what}");
                assert_eq!(searched_more, more, "{what}");
                answered.insert((format!("{order:?}"), descending));
            }
        }
    }
    answered
}

/// The ranking by one figure (`report_search::ranked`, for the pages the threshold search
/// gives up on) gives the first rows of the grouping query whenever it answers; returns
/// the orders it answered.
async fn assert_ranked_exact(
    db: &affilia::db::Db,
    vendor_id: &str,
    currency: &str,
    from_day: i64,
    to_day: i64,
) -> BTreeSet<String> {
    let pool = db.pool();
    let scope = report_scope(db, vendor_id, currency, from_day, to_day);
    let mut answered = BTreeSet::new();
    for order in ORDERS {
        for want in [1usize, 2, 3, 4, 6, 51] {
            let ranked = report_search::ranked(pool, &scope, order, want)
                .await
                .unwrap();
            let Some(ids) = ranked else {
                continue;
            };
            let grouped: Vec<String> =
                reports::affiliate_report(pool, &scope, order, true, want as i64, 0)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| r.id)
                    .collect();
            assert_eq!(
                ids, grouped,
                "{order:?} first {want} over days [{from_day}, {to_day}) in {currency}"
            );
            answered.insert(format!("{order:?}"));
        }
    }
    answered
}

/// Stores clicks of every enrollment of the vendor over `days` days from `start` (about one
/// in six a bot or a repeat), more for the first affiliates, straight through the click
/// insert (which keeps the rollups and the all-time totals).
async fn spread_clicks(app: &TestApp, s: &Shop, start: i64, days: i64) {
    let pool = app.db.pool();
    let enrollments: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, affiliate_id FROM enrollments WHERE vendor_id = $1 ORDER BY affiliate_id",
    )
    .bind(&s.vendor_id)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut rng = Rand(0x2545_f491_4f6c_dd1d);
    let mut batch = Vec::new();
    for (n, (enrollment, affiliate)) in enrollments.iter().enumerate() {
        for i in 0..(40 / (n as i64 + 1) + 3) {
            let at = start + rng.below(days * DAY);
            batch.push(ClickRow {
                id: format!("clk_rep{n:02}{i:04}"),
                vendor_id: s.vendor_id.clone(),
                program_id: s.program_id.clone(),
                enrollment_id: enrollment.clone(),
                affiliate_id: affiliate.clone(),
                link_id: None,
                code: "x".to_owned(),
                landing_url: "https://shop.test/".to_owned(),
                referrer: None,
                user_agent: None,
                ip_hash: "h".to_owned(),
                is_bot: i64::from(rng.below(6) == 0),
                is_duplicate: i64::from(rng.below(9) == 0),
                source: "api".to_owned(),
                created_at: at,
            });
        }
    }
    clicks::insert_batch(pool, app.db.kind(), &batch)
        .await
        .unwrap();
}

/// Every page the report search answers is the grouping query's page, over the mixed
/// money flow with clicks spread over its days (called by the flow's test, which holds the
/// simulated clock: see `clock::exclusive`).
async fn check_report_pages_against_grouping(app: &TestApp, s: &Shop, start: i64, owner: &str) {
    spread_clicks(app, s, start - 3 * DAY, 40).await;
    // The click insert and every money write kept the all-time totals (verify checks them).
    verify_ledger(app).await;
    let first = start / DAY;
    let mut rng = Rand(0x51_7cc1_b727_220a);
    let mut ranges = vec![(0, 1 << 20), (first, first + 1), (first - 30, first - 20)];
    for _ in 0..14 {
        let from = first - 4 + rng.below(42);
        ranges.push((from, from + 1 + rng.below(30)));
    }
    let mut answered = BTreeSet::new();
    let mut ranked = BTreeSet::new();
    for (from, to) in ranges {
        answered.extend(assert_report_pages_exact(&app.db, &s.vendor_id, "USD", from, to).await);
        ranked.extend(assert_ranked_exact(&app.db, &s.vendor_id, "USD", from, to).await);
        // No money in that currency: the money orders group, the rest still match.
        assert_report_pages_exact(&app.db, &s.vendor_id, "EUR", from, to).await;
        assert_ranked_exact(&app.db, &s.vendor_id, "EUR", from, to).await;
    }
    // The ranking by one figure answered each figure's order at least once.
    let figures: BTreeSet<String> = ["Clicks", "Commission", "Conversions", "Revenue"]
        .map(String::from)
        .into();
    assert_eq!(ranked, figures);
    // Every largest-first order and both name orders were answered by the search at least
    // once (smallest first always groups).
    let expected: BTreeSet<(String, bool)> = ORDERS
        .iter()
        .map(|o| (format!("{o:?}"), true))
        .chain([("Name".to_owned(), false)])
        .collect();
    assert_eq!(answered, expected);

    // The dashboard pages through the same rows: "Rows 1–2", a next page while more follow.
    let staff = app
        .signed_in_client(owner, crate::helpers::OWNER_PASSWORD)
        .await;
    let (status, html) =
        crate::helpers::pages::page(app, &staff, "/dashboard/reports?period=90d&sort=-clicks")
            .await;
    assert_eq!(status, 200);
    assert!(html.contains("Rows 1–6, "), "{html}");
    assert!(!html.contains("Next →"), "{html}");
}

#[tokio::test]
async fn rollups_answer_every_period_as_the_rows_do_after_a_mixed_money_flow() {
    let clock = clock::exclusive().await;
    let app = spawn_app().await;
    let s = money_shop(&app, "Rolled", json!({"type": "percentage", "bps": 2000})).await;
    let start = money_flow(&app, &s, &clock).await;
    // Every write kept the rollups equal to the rows (ledger verify checks them).
    verify_ledger(&app).await;
    let pool = app.db.pool();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM commissions WHERE vendor_id = $1")
        .bind(&s.vendor_id)
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(n >= 20, "the flow earned commissions: {n}");
    let statuses: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT status FROM commissions WHERE vendor_id = $1 ORDER BY status",
    )
    .bind(&s.vendor_id)
    .fetch_all(pool)
    .await
    .unwrap();
    let statuses: Vec<&str> = statuses.iter().map(|(s,)| s.as_str()).collect();
    assert_eq!(
        statuses,
        ["available", "paid", "pending", "rejected", "reversed"],
        "every kind of commission is in the flow"
    );
    let (partial,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM conversions WHERE vendor_id = $1 AND refunded_cents > 0 \
         AND refunded_cents < amount_cents",
    )
    .bind(&s.vendor_id)
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(partial > 0, "partly refunded conversions");
    let (failed,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM payouts WHERE vendor_id = $1 AND status = 'failed'")
            .bind(&s.vendor_id)
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(failed > 0, "a failed payout");
    let (referred_days,): (i64,) = sqlx::query_as(
        "SELECT COUNT(DISTINCT created_at / 86400000) FROM referrals WHERE vendor_id = $1",
    )
    .bind(&s.vendor_id)
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(referred_days > 3, "customers referred over several days");

    let mut rng = Rand(0x9e37_79b9_7f4a_7c15);
    let mut ranges: Vec<(i64, i64)> = vec![
        (0, i64::MAX / 4),
        (start, start),
        (start - 10 * DAY, start - DAY),
        (start + 400 * DAY, start + 500 * DAY),
        ((start / DAY) * DAY, (start / DAY + 20) * DAY),
    ];
    for _ in 0..60 {
        let from = start - 2 * DAY + rng.below(45 * DAY);
        let len = match rng.below(3) {
            0 => rng.below(DAY),
            1 => rng.below(20 * DAY),
            _ => (rng.below(30) * DAY) + if rng.below(2) == 0 { 0 } else { rng.below(DAY) },
        };
        let from = if rng.below(4) == 0 {
            (from / DAY) * DAY
        } else {
            from
        };
        ranges.push((from, from + len));
    }
    let program = s.program_id.clone();
    for (from, to) in ranges {
        for program_id in [None, Some(program.as_str()), Some("prg_none")] {
            let scope = Scope {
                vendor_id: &s.vendor_id,
                program_id,
                from,
                to,
            };
            assert_eq!(
                analytics::referrals(pool, &scope).await.unwrap(),
                analytics::referrals_raw(pool, &scope).await.unwrap(),
                "referrals over [{from}, {to}) of {program_id:?}"
            );
            assert_eq!(
                analytics::revenue(pool, &scope).await.unwrap(),
                analytics::revenue_raw(pool, &scope).await.unwrap(),
                "revenue over [{from}, {to}) of {program_id:?}"
            );
            assert_eq!(
                analytics::commissions_by_status(pool, &scope)
                    .await
                    .unwrap(),
                analytics::commissions_by_status_raw(pool, &scope)
                    .await
                    .unwrap(),
                "commissions over [{from}, {to}) of {program_id:?}"
            );
            let per_day = |rows: Vec<affilia::db::reports::DayRevenue>| -> Vec<_> {
                rows.into_iter()
                    .map(|r| (r.day, r.currency, r.conversions, r.net_cents))
                    .collect()
            };
            assert_eq!(
                per_day(money_rollups::revenue_per_day(pool, &scope).await.unwrap()),
                per_day(
                    affilia::db::reports::revenue_per_day(pool, &s.vendor_id, program_id, from, to)
                        .await
                        .unwrap()
                ),
                "revenue per day over [{from}, {to}) of {program_id:?}"
            );
            for limit in [1, 2, 3, 4, 10] {
                let raw = leaders(
                    &analytics::leaderboard_raw(pool, &scope, limit)
                        .await
                        .unwrap(),
                );
                // Forced through the threshold search, and as served.
                let searched = leaders(
                    &money_rollups::leaderboard_with(pool, &scope, limit, 0)
                        .await
                        .unwrap(),
                );
                assert_eq!(searched, raw, "leaders {limit} over [{from}, {to})");
                let served = leaders(&analytics::leaderboard(pool, &scope, limit).await.unwrap());
                assert_eq!(served, raw, "leaders {limit} over [{from}, {to})");
            }
        }
    }

    // The API's year-long analytics read the same figures.
    let (status, body) = app
        .call(&s.key, Method::GET, "/api/v1/analytics", None)
        .await;
    assert_eq!(status, 200, "{body}");

    check_report_pages_against_grouping(&app, &s, start, "owner@rolled.test").await;
}

#[tokio::test]
async fn verify_names_a_tampered_bucket_and_a_rebuild_repairs_it() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Tampered", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    convert(&app, &s, &jane, 10_000, None, true).await;
    refer(&app, &s, "cus_tampered", "jane").await;
    let out = affilia(&app, &["ledger", "verify"]).await;
    assert!(out.status.success(), "{}", stdout(&out));

    let pool = app.db.pool();
    for tamper in [
        "UPDATE commission_rollup_days SET amount_cents = amount_cents + 1 WHERE vendor_id = $1",
        "UPDATE conversion_rollup_days SET conversions = conversions + 1 WHERE vendor_id = $1",
        "UPDATE commission_affiliate_totals SET earned_cents = earned_cents - 1 WHERE vendor_id = $1",
        "UPDATE referral_rollup_days SET referrals = referrals + 2 WHERE vendor_id = $1",
        "UPDATE conversion_affiliate_totals SET net_cents = net_cents + 1 WHERE vendor_id = $1",
        "INSERT INTO affiliate_click_totals (vendor_id, affiliate_id, clicks) \
         VALUES ($1, 'aff_ghost', 3)",
    ] {
        sqlx::query(tamper)
            .bind(&s.vendor_id)
            .execute(pool)
            .await
            .unwrap();
    }
    let out = affilia(&app, &["ledger", "verify"]).await;
    assert!(!out.status.success());
    let text = stdout(&out);
    let today = chrono::Utc::now().timestamp_millis() / DAY;
    for expected in [
        format!(
            "commission rollup of program {}, day {today}, status available, currency USD",
            s.program_id
        ),
        format!(
            "conversion rollup of program {}, day {today}, status approved, currency USD",
            s.program_id
        ),
        format!(
            "all-time earnings of affiliate {jane}, program {}, currency USD",
            s.program_id
        ),
        format!("referral rollup of program {}, day {today}", s.program_id),
        format!("all-time conversions of affiliate {jane}, currency USD"),
        "affiliate aff_ghost's all-time clicks".to_owned(),
    ] {
        assert!(text.contains(&expected), "{expected} in {text}");
    }

    let out = affilia(&app, &["rollups", "rebuild"]).await;
    assert!(out.status.success(), "{}", stdout(&out));
    verify_ledger(&app).await;
    // Kept in step again after the rebuild (slot 0 rows meet the writers' slots).
    convert(&app, &s, &jane, 4_000, None, true).await;
    pay_everyone(&app, &s, &jane).await;
    verify_ledger(&app).await;
}

/// Records a conversion of `cents` in `currency` for the affiliate; approves it when
/// `approve`.
async fn convert_in(
    app: &TestApp,
    s: &Shop,
    affiliate_id: &str,
    currency: &str,
    cents: i64,
    approve: bool,
) {
    let c = call(
        app,
        s,
        "/api/v1/conversions",
        Some(json!({"affiliate_id": affiliate_id, "currency": currency, "amount_cents": cents})),
    )
    .await;
    assert_eq!(c["status"], "pending", "{c}");
    if approve {
        let id = c["id"].as_str().unwrap();
        call(app, s, &format!("/api/v1/conversions/{id}/approve"), None).await;
    }
}

#[tokio::test]
async fn the_leaderboard_search_is_exact_with_two_programs_and_two_currencies() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Programs", json!({"type": "percentage", "bps": 2000})).await;
    let second = call(
        &app,
        &s,
        "/api/v1/programs",
        Some(json!({"name": "Second", "currency": "EUR"})),
    )
    .await;
    let p2 = second["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .call(
            &s.key,
            Method::PATCH,
            &format!("/api/v1/programs/{p2}"),
            Some(json!({"commission": {"type": "percentage", "bps": 3000}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut first = Vec::new();
    for code in ["ann", "bob", "cat", "dan"] {
        first.push(affiliate(&app, &s, &format!("{code}@example.com"), code).await);
    }
    // The vendor has two programs: vendor-wide, the search bounds an affiliate by twice
    // its largest program row. Sales in two currencies rank together.
    let program1 = s.program_id.clone();
    for (i, amount) in [10_000, 6_000, 10_000, 3_000, 6_000, 8_000, 2_000]
        .iter()
        .enumerate()
    {
        convert(&app, &s, &first[i % first.len()], *amount, None, i % 3 != 2).await;
        let currency = if i % 2 == 0 { "EUR" } else { "USD" };
        convert_in(
            &app,
            &s,
            &first[(i + 1) % first.len()],
            currency,
            *amount,
            i % 2 == 0,
        )
        .await;
    }
    verify_ledger(&app).await;
    let pool = app.db.pool();
    let now = chrono::Utc::now().timestamp_millis();
    for (from, to) in [
        (0, i64::MAX / 4),
        (now - DAY, now + DAY),
        (now - 3 * DAY, now - DAY),
    ] {
        for program_id in [None, Some(program1.as_str()), Some(p2.as_str())] {
            let scope = Scope {
                vendor_id: &s.vendor_id,
                program_id,
                from,
                to,
            };
            assert_eq!(
                analytics::revenue(pool, &scope).await.unwrap(),
                analytics::revenue_raw(pool, &scope).await.unwrap()
            );
            assert_eq!(
                analytics::commissions_by_status(pool, &scope)
                    .await
                    .unwrap(),
                analytics::commissions_by_status_raw(pool, &scope)
                    .await
                    .unwrap()
            );
            for limit in 1..=8 {
                let raw = leaders(
                    &analytics::leaderboard_raw(pool, &scope, limit)
                        .await
                        .unwrap(),
                );
                let searched = leaders(
                    &money_rollups::leaderboard_with(pool, &scope, limit, 0)
                        .await
                        .unwrap(),
                );
                assert_eq!(searched, raw, "leaders {limit} of {program_id:?}");
            }
        }
    }
    // Report pages: commissions bound by twice the largest program row, conversions by
    // twice the largest currency row.
    let today = now / DAY;
    let mut answered = BTreeSet::new();
    for (from, to) in [(0, 1 << 20), (today, today + 1), (today - 3, today)] {
        for currency in ["USD", "EUR"] {
            answered
                .extend(assert_report_pages_exact(&app.db, &s.vendor_id, currency, from, to).await);
        }
    }
    assert!(
        answered.contains(&("Commission".to_owned(), true))
            && answered.contains(&("Conversions".to_owned(), true)),
        "{answered:?}"
    );
    let all = Scope {
        vendor_id: &s.vendor_id,
        program_id: None,
        from: 0,
        to: i64::MAX / 4,
    };
    let currencies: std::collections::BTreeSet<String> = analytics::leaderboard_raw(pool, &all, 20)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.currency)
        .collect();
    assert_eq!(
        currencies.len(),
        2,
        "both programs' currencies: {currencies:?}"
    );
}

/// An affiliate's vendor-wide figure can come from several all-time rows (one per program
/// for commissions, one per currency for conversions), each below the page's last row while
/// their sum is above it: the search must bound the affiliate by all of them, not by its
/// largest row, or it stops too early and leaves the affiliate out.
#[tokio::test]
async fn the_report_search_bounds_an_affiliate_by_all_its_rows() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Bounded", json!({"type": "percentage", "bps": 2000})).await;
    let second = call(
        &app,
        &s,
        "/api/v1/programs",
        Some(json!({"name": "Second", "currency": "USD"})),
    )
    .await;
    let p2 = second["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .call(
            &s.key,
            Method::PATCH,
            &format!("/api/v1/programs/{p2}"),
            Some(json!({"commission": {"type": "percentage", "bps": 3000}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Four steady affiliates: 3 sales of 50.00 each (commission 30.00, 3 conversions).
    for code in ["ann", "bob", "cat", "dan"] {
        let a = affiliate(&app, &s, &format!("{code}@example.com"), code).await;
        for _ in 0..3 {
            convert(&app, &s, &a, 5_000, None, true).await;
        }
    }
    let eve = affiliate(&app, &s, "eve@example.com", "eve").await;
    for _ in 0..2 {
        convert(&app, &s, &eve, 1_000, None, true).await;
    }
    // Xavier: 80.00 in each program (commission 16.00 + 24.00 = 40.00, each program's row
    // below 30.00 × 2 only together) and two sales in EUR (4 conversions, 2 per currency).
    let xavier = affiliate(&app, &s, "xavier@example.com", "xavier").await;
    convert(&app, &s, &xavier, 8_000, None, true).await;
    let pool = app.db.pool();
    affilia::db::affiliates::enroll(
        pool,
        &s.vendor_id,
        &xavier,
        &p2,
        "xavier2",
        "active",
        None,
        1,
    )
    .await
    .unwrap();
    let c = call(
        &app,
        &s,
        "/api/v1/conversions",
        Some(json!({"affiliate_id": xavier, "amount_cents": 8_000, "program_id": p2})),
    )
    .await;
    call(
        &app,
        &s,
        &format!("/api/v1/conversions/{}/approve", c["id"].as_str().unwrap()),
        None,
    )
    .await;
    for _ in 0..2 {
        convert_in(&app, &s, &xavier, "EUR", 700, true).await;
    }
    verify_ledger(&app).await;

    let scope = ReportScope {
        vendor_id: &s.vendor_id,
        from_day: 0,
        to_day: 1 << 20,
        currency: "USD",
        kind: app.db.kind(),
    };
    for order in [ReportOrder::Commission, ReportOrder::Conversions] {
        let (rows, more) = report_search::page(pool, &scope, order, true, 1, 0)
            .await
            .unwrap()
            .expect("answered by the search");
        assert_eq!(rows[0].id, xavier, "{order:?}: {:?}", report_rows(&rows));
        assert!(more);
    }
    let answered = assert_report_pages_exact(&app.db, &s.vendor_id, "USD", 0, 1 << 20).await;
    assert!(
        answered.contains(&("Commission".to_owned(), true)),
        "{answered:?}"
    );
}
