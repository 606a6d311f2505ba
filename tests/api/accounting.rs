//! Accounting export: the journal balances per period and currency and matches the ledger;
//! CSV cells are formula-safe; another vendor's money never appears; a program requiring
//! tax details skips payouts until they are given; paid totals carry the details.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::affiliates::{affiliate, payout_settings};
use crate::helpers::money::{earn, event, money_shop, pay_everyone, verify_ledger};
use crate::helpers::vendors::{Shop, patch_program};
use crate::helpers::{TestApp, spawn_app};

fn day(offset: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(offset))
        .format("%Y-%m-%d")
        .to_string()
}

async fn journal(app: &TestApp, s: &Shop, query: &str) -> Value {
    let (status, j) = app
        .call(
            &s.key,
            Method::GET,
            &format!(
                "/api/v1/accounting/journal?from={}&to={}{query}",
                day(-1),
                day(1)
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{j}");
    j
}

/// A sale in `currency` through the events API, attributed to `code`.
async fn sale(app: &TestApp, s: &Shop, id: &str, cents: i64, currency: &str, code: &str) {
    let (status, b) = event(
        app,
        s,
        json!({"id": id, "type": "charge.succeeded", "customer_id": format!("cus_{id}"),
               "amount_cents": cents, "currency": currency, "charge_id": format!("ch_{id}"),
               "metadata": {"affiliate_code": code}}),
    )
    .await;
    assert!(status == 200 || status == 201, "{b}");
    assert_eq!(b["status"], "processed", "{b}");
}

/// The vendor's ledger sums per (ledger account, currency).
async fn ledger_sums(app: &TestApp, vendor_id: &str) -> BTreeMap<(String, String), i64> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT account, currency, CAST(SUM(amount_cents) AS BIGINT) FROM ledger_entries \
         WHERE vendor_id = $1 GROUP BY account, currency",
    )
    .bind(vendor_id)
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    rows.into_iter().map(|(a, c, s)| ((a, c), s)).collect()
}

/// The journal's net per (books account, currency): credits − debits.
fn journal_sums(j: &Value) -> BTreeMap<(String, String), i64> {
    let mut out = BTreeMap::new();
    for e in j["entries"].as_array().unwrap() {
        for l in e["lines"].as_array().unwrap() {
            let key = (
                l["account_code"].as_str().unwrap().to_owned(),
                e["currency"].as_str().unwrap().to_owned(),
            );
            *out.entry(key).or_insert(0) +=
                l["credit_cents"].as_i64().unwrap() - l["debit_cents"].as_i64().unwrap();
        }
    }
    out
}

fn assert_balanced(j: &Value) {
    let entries = j["entries"].as_array().unwrap();
    assert!(!entries.is_empty(), "{j}");
    for e in entries {
        let lines = e["lines"].as_array().unwrap();
        let debit: i64 = lines
            .iter()
            .map(|l| l["debit_cents"].as_i64().unwrap())
            .sum();
        let credit: i64 = lines
            .iter()
            .map(|l| l["credit_cents"].as_i64().unwrap())
            .sum();
        assert_eq!(debit, credit, "{e}");
        assert_eq!(e["debit_cents"], debit, "{e}");
        for l in lines {
            // One side per line, never negative.
            let (d, c) = (
                l["debit_cents"].as_i64().unwrap(),
                l["credit_cents"].as_i64().unwrap(),
            );
            assert!(d >= 0 && c >= 0 && (d == 0) != (c == 0), "{l}");
        }
    }
    // Per period and currency, recomputed from the entries.
    let mut per: BTreeMap<(String, String), i64> = BTreeMap::new();
    for e in entries {
        *per.entry((
            e["period"].as_str().unwrap().to_owned(),
            e["currency"].as_str().unwrap().to_owned(),
        ))
        .or_insert(0) += e["debit_cents"].as_i64().unwrap() - e["credit_cents"].as_i64().unwrap();
    }
    assert!(per.values().all(|v| *v == 0), "{per:?}");
    let periods = j["periods"].as_array().unwrap();
    assert_eq!(periods.len(), per.len(), "{j}");
    for p in periods {
        assert_eq!(p["balanced"], true, "{p}");
        assert_eq!(p["debit_cents"], p["credit_cents"], "{p}");
    }
}

#[tokio::test]
async fn the_journal_balances_per_period_and_currency_and_matches_the_ledger() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Books", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    let joe = affiliate(&app, &s, "joe@example.com", "joe").await;
    // Another vendor's money must not show up in Books' journal.
    let rival = money_shop(&app, "Rival", json!({"type": "percentage", "bps": 5000})).await;
    let rival_aff = affiliate(&app, &rival, "r@example.com", "rivalaff").await;
    earn(&app, &rival, &rival_aff, 77_700, None).await;

    sale(&app, &s, "u1", 4900, "USD", "jane").await; // 9.80 pending
    sale(&app, &s, "u2", 10_000, "USD", "joe").await; // 20.00 pending
    sale(&app, &s, "e1", 8000, "EUR", "jane").await; // 16.00 EUR pending
    // A partial refund: 5.00 of joe's commission is clawed back.
    let (status, b) = event(
        &app,
        &s,
        json!({"id": "r1", "type": "refund.processed", "customer_id": "cus_u2",
               "amount_cents": 2500, "currency": "USD", "charge_id": "ch_u2"}),
    )
    .await;
    assert!(status == 200 || status == 201, "{b}");
    // Approved commissions paid out with a 2.5 % platform fee; one rejected by hand.
    patch_program(&app, &s, json!({"platform_fee_bps": 250})).await;
    earn(&app, &s, &jane, 30_000, Some("inv_1")).await; // 60.00 available
    let rejected = earn(&app, &s, &joe, 1000, Some("inv_2")).await;
    let _ = rejected;
    let pending = crate::helpers::money::convert(&app, &s, &joe, 1500, Some("inv_3"), false).await;
    let (status, b) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/conversions/{pending}/reject"),
            Some(json!({"reason": "test"})),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    pay_everyone(&app, &s, &jane).await;
    verify_ledger(&app).await;

    let j = journal(&app, &s, "").await;
    assert_balanced(&j);
    assert_eq!(j["period"], "month");
    // Both currencies, each on its own entries.
    let currencies: std::collections::BTreeSet<&str> = j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["currency"].as_str().unwrap())
        .collect();
    assert_eq!(currencies, ["EUR", "USD"].into_iter().collect());
    // The journal's accounts hold exactly what the ledger's mapped accounts hold.
    let l = ledger_sums(&app, &s.vendor_id).await;
    let js = journal_sums(&j);
    for cur in ["USD", "EUR"] {
        let g = |a: &str| *l.get(&(a.to_owned(), cur.to_owned())).unwrap_or(&0);
        let jv = |code: &str| *js.get(&(code.to_owned(), cur.to_owned())).unwrap_or(&0);
        assert_eq!(jv("6100") + jv("6150"), g("commission_expense"), "{cur}");
        assert_eq!(
            jv("2100"),
            g("pending") + g("available") + g("in_payout"),
            "{cur}"
        );
        assert_eq!(jv("1090"), g("paid"), "{cur}");
        assert_eq!(jv("4100"), g("fees"), "{cur}");
    }
    // Known figures: USD commissions 9.80 + 20.00 + 60.00 + 2.00 + 3.00 expensed, 3.00
    // rejected, 5.00 clawed back; jane's 60.00 + ... paid less the 2.5 % fee.
    let usd = |code: &str| *js.get(&(code.to_owned(), "USD".to_owned())).unwrap_or(&0);
    assert_eq!(usd("6150"), 500, "{j}");
    assert_eq!(usd("6100"), -(980 + 2000 + 6000 + 200 + 300) + 300, "{j}");
    // Jane's available 60.00 was paid: 58.50 out, 1.50 fee.
    assert_eq!(usd("4100"), 150, "{j}");
    assert_eq!(usd("1090"), 5850, "{j}");
    assert!(
        !j.to_string().contains("77700") && !j.to_string().contains("38850"),
        "another vendor's money leaked: {j}"
    );
    // The rival's own journal holds only its money.
    let rj = journal(&app, &rival, "").await;
    assert_balanced(&rj);
    let rs = journal_sums(&rj);
    assert_eq!(rs[&("6100".to_owned(), "USD".to_owned())], -38_850, "{rj}");

    // Per day, one currency: balanced too, and only that currency.
    let d = journal(&app, &s, "&period=day&currency=EUR").await;
    assert_balanced(&d);
    assert!(
        d["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["currency"] == "EUR" && e["period"] == day(0)),
        "{d}"
    );
    // Internal moves (maturation, payouts opened) net to nothing inside 2100: no entry.
    assert!(
        j["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["kind"] != "approval" && e["kind"] != "payout"),
        "{j}"
    );
    // The chart of accounts is part of the answer.
    let codes: Vec<&str> = j["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    for c in ["1090", "2100", "4100", "6100", "6150"] {
        assert!(codes.contains(&c), "{codes:?}");
    }

    // CSV: a header, then one row per line; debits and credits as plain decimals.
    let res = app
        .api_get(
            &s.key,
            &format!(
                "/api/v1/accounting/journal?from={}&to={}&format=csv",
                day(-1),
                day(1)
            ),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = res.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "entry_id,date,period,currency,account_code,account_name,debit,credit,description"
    );
    let line_count: usize = j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["lines"].as_array().unwrap().len())
        .sum();
    assert_eq!(lines.clone().count(), line_count);
    assert!(
        csv.contains(",2100,Accrued affiliate commissions,"),
        "{csv}"
    );
}

#[tokio::test]
async fn the_journal_refuses_bad_queries_with_422() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Strict", json!({"type": "percentage", "bps": 2000})).await;
    for (q, field) in [
        ("?to=2026-01-31".to_owned(), "from"),
        ("?from=2026-01-01".to_owned(), "to"),
        ("?from=2026-02-01&to=2026-01-01".to_owned(), "from"),
        ("?from=2000-01-01&to=2026-01-01".to_owned(), "from"),
        (
            "?from=2026-01-01&to=2026-01-31&period=week".to_owned(),
            "period",
        ),
        (
            "?from=2026-01-01&to=2026-01-31&format=xml".to_owned(),
            "format",
        ),
        (
            "?from=2026-01-01&to=2026-01-31&currency=dollars".to_owned(),
            "currency",
        ),
        ("?from=bogus&to=2026-01-31".to_owned(), "from"),
    ] {
        let (status, e) = app
            .call(
                &s.key,
                Method::GET,
                &format!("/api/v1/accounting/journal{q}"),
                None,
            )
            .await;
        assert_eq!(status, 422, "{q}: {e}");
        assert_eq!(e["error"]["field"], field, "{q}: {e}");
    }
    for (q, field) in [
        ("", "year"),
        ("?year=abc", "year"),
        ("?year=2026&format=pdf", "format"),
    ] {
        let (status, e) = app
            .call(
                &s.key,
                Method::GET,
                &format!("/api/v1/accounting/paid-totals{q}"),
                None,
            )
            .await;
        assert_eq!(status, 422, "{q}: {e}");
        assert_eq!(e["error"]["field"], field, "{q}: {e}");
    }
}

/// An affiliate's own API token.
async fn token(app: &TestApp, s: &Shop, affiliate_id: &str) -> String {
    let (status, t) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/affiliates/{affiliate_id}/token"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{t}");
    t["token"].as_str().unwrap().to_owned()
}

async fn dry_run(app: &TestApp, s: &Shop) -> Value {
    let (status, b) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/payouts/run",
            Some(json!({"dry_run": true, "program_id": s.program_id})),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    b["runs"][0].clone()
}

#[tokio::test]
async fn a_tax_required_program_skips_payouts_until_details_are_given() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Taxed", json!({"type": "percentage", "bps": 2000})).await;
    let rival = money_shop(&app, "Other", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    patch_program(
        &app,
        &s,
        json!({"require_tax_details": true, "min_payout_cents": 1}),
    )
    .await;
    let (_, p) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/programs/{}", s.program_id),
            None,
        )
        .await;
    assert_eq!(p["require_tax_details"], true, "{p}");
    payout_settings(
        &app,
        &s,
        &jane,
        json!({"payout_method": "paypal", "payout_email": "jane@paypal.test"}),
    )
    .await;
    earn(&app, &s, &jane, 10_000, None).await;

    let run = dry_run(&app, &s).await;
    assert_eq!(run["payouts"].as_array().unwrap().len(), 0, "{run}");
    assert_eq!(run["skipped"][0]["reason"], "tax_details_missing", "{run}");
    assert_eq!(run["skipped"][0]["affiliate_id"], jane.as_str(), "{run}");

    // The affiliate gives them (bad ones first: 422, nothing stored).
    let me = token(&app, &s, &jane).await;
    let (status, t) = app
        .call(&me, Method::GET, "/api/v1/me/tax-details", None)
        .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["tax_details"], Value::Null);
    for (bad, field) in [
        (
            json!({"legal_name": "Jane Doe", "country": "Germany", "tax_id": "DE123"}),
            "country",
        ),
        (
            json!({"legal_name": " ", "country": "DE", "tax_id": "DE123"}),
            "legal_name",
        ),
        (
            json!({"legal_name": "Jane", "country": "DE", "tax_id": "=1+1"}),
            "tax_id",
        ),
    ] {
        let (status, e) = app
            .call(&me, Method::PUT, "/api/v1/me/tax-details", Some(bad))
            .await;
        assert_eq!(status, 422, "{e}");
        assert_eq!(e["error"]["field"], field, "{e}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM tax_details").await, 0);
    assert_eq!(
        dry_run(&app, &s).await["skipped"][0]["reason"],
        "tax_details_missing"
    );
    let (status, t) = app
        .call(
            &me,
            Method::PUT,
            "/api/v1/me/tax-details",
            Some(json!({"legal_name": "=HYPERLINK(\"http://evil\")", "country": "de", "tax_id": "DE 123/456"})),
        )
        .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["tax_details"]["country"], "DE");
    // Audited without the tax id.
    let audit: String = sqlx::query_scalar(
        "SELECT details FROM audit_log WHERE action = 'affiliate.tax_details_changed'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert!(!audit.contains("123/456"), "{audit}");

    // Another vendor sees nothing of it.
    let (status, _) = app
        .call(
            &rival.key,
            Method::GET,
            &format!("/api/v1/affiliates/{jane}/tax-details"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .call(
            &rival.key,
            Method::PUT,
            &format!("/api/v1/affiliates/{jane}/tax-details"),
            Some(json!({"legal_name": "X", "country": "US", "tax_id": "1"})),
        )
        .await;
    assert_eq!(status, 404);
    let (_, v) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/affiliates/{jane}/tax-details"),
            None,
        )
        .await;
    assert_eq!(v["tax_details"]["tax_id"], "DE 123/456", "{v}");

    // Now the payout is made; once paid it shows in the year's totals with the details.
    let run = dry_run(&app, &s).await;
    assert_eq!(run["payouts"].as_array().unwrap().len(), 1, "{run}");
    pay_everyone(&app, &s, &jane).await;
    let year = chrono::Utc::now().format("%Y").to_string();
    let (status, totals) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/accounting/paid-totals?year={year}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{totals}");
    let row = &totals["data"][0];
    assert_eq!(row["affiliate_id"], jane.as_str(), "{totals}");
    assert_eq!(row["net_cents"], 2000, "{totals}");
    assert_eq!(row["payouts"], 1);
    assert_eq!(row["tax_details"]["country"], "DE");
    // The rival's totals are empty; last year's too.
    let (_, r) = app
        .call(
            &rival.key,
            Method::GET,
            &format!("/api/v1/accounting/paid-totals?year={year}"),
            None,
        )
        .await;
    assert_eq!(r["data"], json!([]), "{r}");

    // CSV: the legal name that looks like a formula is defused.
    let res = app
        .api_get(
            &s.key,
            &format!("/api/v1/accounting/paid-totals?year={year}&format=csv"),
        )
        .await;
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    assert!(csv.starts_with("affiliate_id,affiliate_name,affiliate_email,legal_name,country,tax_id,currency,payouts,amount,fee,net\r\n"), "{csv}");
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://evil\"\")\""),
        "{csv}"
    );
    assert!(!csv.contains(",=HYPERLINK"), "{csv}");
    assert!(
        csv.contains(",DE,DE 123/456,USD,1,20.00,0.00,20.00\r\n"),
        "{csv}"
    );
}

#[tokio::test]
async fn dashboard_downloads_and_portal_tax_form() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Desk", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    earn(&app, &s, &jane, 10_000, None).await;
    let owner = app
        .signed_in_client("owner@desk.test", crate::helpers::OWNER_PASSWORD)
        .await;
    let page = owner
        .get(app.url("/dashboard/accounting"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Accrued affiliate commissions"), "{html}");
    let res = owner
        .get(app.url(&format!(
            "/dashboard/accounting/journal?from={}&to={}&format=csv",
            day(-1),
            day(1)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("journal-{}-{}.csv", day(-1), day(1)))
    );
    let csv = res.text().await.unwrap();
    assert!(
        csv.contains(",6100,Affiliate commission expense,20.00,0.00,"),
        "{csv}"
    );
    let bad = owner
        .get(app.url("/dashboard/accounting/journal?from=&to="))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);

    // The portal's payout settings page takes the tax details.
    let (_, link) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/affiliates/{jane}/portal-link"),
            None,
        )
        .await;
    let portal = crate::helpers::new_client();
    let url = link["url"].as_str().unwrap();
    assert_eq!(portal.get(url).send().await.unwrap().status(), 303);
    let html = portal
        .get(app.url("/p/desk/payout-settings"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Tax details"), "{html}");
    let csrf = crate::helpers::csrf_from(&html);
    let res = portal
        .post(app.url("/p/desk/payout-settings/tax-details"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("legal_name", "Jane Doe GmbH"),
            ("country", "XYZ"),
            ("tax_id", "DE999"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(app.count("SELECT COUNT(*) FROM tax_details").await, 0);
    let res = portal
        .post(app.url("/p/desk/payout-settings/tax-details"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("legal_name", "Jane Doe GmbH"),
            ("country", "de"),
            ("tax_id", "DE999"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let stored: (String, String) =
        sqlx::query_as("SELECT legal_name, country FROM tax_details WHERE affiliate_id = $1")
            .bind(&jane)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(stored, ("Jane Doe GmbH".to_owned(), "DE".to_owned()));
}
