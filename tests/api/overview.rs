//! The vendor overview, the reports page and the affiliates list's figures: the same
//! numbers as `GET /api/v1/analytics`, changes against the previous period, pending-work
//! badges, sorting, CSV files, bad input, and another vendor's data never shown.

use chrono::{Duration, Utc};
use reqwest::{Client, Method};
use serde_json::{Value, json};

use crate::helpers::affiliates::affiliate;
use crate::helpers::money::{convert, earn, event, pay_everyone, refer};
use crate::helpers::pages::page;
use crate::helpers::tracking::click;
use crate::helpers::vendors::{Shop, patch_program, shop};
use crate::helpers::{OWNER_PASSWORD, TestApp, spawn_app};

/// The text of the element carrying `data-test="<test>"` (tags stripped, spaces squeezed).
fn figure(html: &str, test: &str) -> String {
    let marker = format!("data-test=\"{test}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("{test} in page"))
        + marker.len();
    let end = start + html[start..].find("</dd>").unwrap();
    let mut out = String::new();
    let mut in_tag = false;
    for c in html[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn sale(id: &str, customer: &str, cents: i64, when: chrono::DateTime<Utc>) -> Value {
    json!({"id": id, "type": "charge.succeeded", "customer_id": customer,
           "amount_cents": cents, "currency": "USD", "charge_id": format!("ch_{id}"),
           "occurred_at": when.to_rfc3339()})
}

async fn analytics(app: &TestApp, s: &Shop, from: &str, to: &str) -> Value {
    let (status, body) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/analytics?from={from}&to={to}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn usd_net(totals: &Value) -> i64 {
    totals["revenue"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["currency"] == "USD")
        .map(|r| r["net_cents"].as_i64().unwrap())
        .sum()
}

fn commission(totals: &Value, status: &str) -> i64 {
    totals["commissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == status && r["currency"] == "USD")
        .map(|r| r["net_cents"].as_i64().unwrap())
        .sum()
}

fn money(cents: i64) -> String {
    format!("{}.{:02} USD", cents / 100, cents % 100)
}

/// A shop paying 10 % (30-day holding), `jane` with a refunded sale, `john` with one sale
/// paid out and one in an open payout, clicks, and an older sale in the previous period;
/// plus another vendor with its own affiliate and sale. Returns (shop, jane, john, staff).
async fn seeded(app: &TestApp) -> (Shop, String, String, Client) {
    let s = shop(app, "Acme", "https://shop.acme.test/").await;
    patch_program(
        app,
        &s,
        json!({"commission": {"type": "percentage", "bps": 1000}, "holding_period_days": 30}),
    )
    .await;
    let jane = affiliate(app, &s, "jane@partners.test", "jane").await;
    let john = affiliate(app, &s, "john@partners.test", "john").await;
    for path in ["/r/jane", "/r/jane", "/r/john"] {
        assert_eq!(click(app, &app.client, path).await.0, 302);
    }
    app.flush_clicks().await;
    refer(app, &s, "cus_jane", "jane").await;
    let now = Utc::now();
    let (status, body) = event(app, &s, sale("s1", "cus_jane", 10_000, now)).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = event(
        app,
        &s,
        json!({"id": "r1", "type": "refund.processed", "customer_id": "cus_jane",
               "amount_cents": 2500, "currency": "USD", "charge_id": "ch_s1",
               "occurred_at": now.to_rfc3339()}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // A sale 40 days ago: the previous period of "last 30 days".
    let (status, body) = event(
        app,
        &s,
        sale("old", "cus_jane", 4_000, now - Duration::days(40)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    earn(app, &s, &john, 5_000, Some("j1")).await;
    pay_everyone(app, &s, &john).await;
    earn(app, &s, &john, 2_000, Some("j2")).await;
    let (status, body) = app
        .call(&s.key, Method::POST, "/api/v1/payouts/run", Some(json!({})))
        .await;
    assert_eq!(status, 201, "{body}");

    // Another vendor's affiliate and money, never shown to Acme.
    let other = shop(app, "Other", "https://shop.other.test/").await;
    let mallory = affiliate(app, &other, "mallory@other.test", "mallory").await;
    convert(app, &other, &mallory, 99_900, Some("m1"), true).await;

    let staff = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    (s, jane, john, staff)
}

#[tokio::test]
async fn overview_shows_the_analytics_figures_with_changes_chart_leaders_and_badges() {
    let app = spawn_app().await;
    let (s, jane, john, staff) = seeded(&app).await;
    let today = Utc::now().date_naive();
    let day = |d: i64| (today - Duration::days(d)).format("%Y-%m-%d").to_string();
    let api = analytics(&app, &s, &day(29), &day(0)).await;
    let prev = analytics(&app, &s, &day(59), &day(30)).await;
    let (t, p) = (&api["totals"], &prev["totals"]);

    let (status, html) = page(&app, &staff, "/dashboard").await;
    assert_eq!(status, 200);
    // The default is the last 30 days, the same figures as the API's.
    assert!(html.contains("Figures, last 30 days"));
    assert_eq!(t["clicks"], 2, "{api}");
    assert_eq!(figure(&html, "clicks"), "2 new");
    assert_eq!(
        figure(&html, "conversions"),
        format!("{} ↑ 200 %", t["conversions"])
    );
    assert_eq!(
        (t["conversions"].as_i64(), p["conversions"].as_i64()),
        (Some(3), Some(1))
    );
    let revenue = usd_net(t);
    assert_eq!((revenue, usd_net(p)), (7_500 + 5_000 + 2_000, 4_000));
    // 14,500 against 4,000: up 262.5 %, rounded half up.
    assert_eq!(
        figure(&html, "revenue"),
        format!("{} ↑ 263 %", money(revenue))
    );
    assert_eq!(
        figure(&html, "pending"),
        format!("{} new", money(commission(t, "pending")))
    );
    assert_eq!(commission(t, "pending"), 750 + 400, "{api}");
    assert_eq!(commission(t, "paid"), 500);
    assert!(figure(&html, "paid").starts_with(&money(500)));
    // John's second commission is in an open payout: still "available" in the journal's
    // words until paid, and the payout is due.
    assert_eq!(
        figure(&html, "payouts-due"),
        format!("{} (1 payout) new", money(200))
    );
    assert_eq!(
        figure(&html, "referrals"),
        format!("{} new", t["referrals"])
    );

    // The chart: accessible SVG, revenue line, and a table fallback.
    assert!(html.contains("role=\"img\""));
    assert!(
        html.contains("<title id=\"chart-title\">Clicks and revenue per day, last 30 days</title>")
    );
    assert!(html.contains("<summary>Show the figures as a table</summary>"));
    assert!(html.contains("<th>Revenue</th>"));

    // Top affiliates by commission: jane (7.50 + 4.00 for the old sale, recorded now)
    // before john (5.00 + 2.00).
    let jane_at = html
        .find(&format!(
            "/dashboard/affiliates/{jane}\">jane@partners.test"
        ))
        .unwrap();
    let john_at = html
        .find(&format!(
            "/dashboard/affiliates/{john}\">john@partners.test"
        ))
        .unwrap();
    assert!(jane_at < john_at, "ordered by commission");

    // Badges: jane's two sales wait for approval; nothing else waits.
    assert!(html.contains(
        "<a href=\"/dashboard/conversions?status=pending\"><span class=\"badge\">2</span> conversions to approve</a>"
    ));
    assert!(!html.contains("applications to review"));
    assert!(!html.contains("data-test=\"empty-state\""));

    // Another vendor's affiliate and money never appear.
    assert!(!html.contains("mallory") && !html.contains("999.00"));

    // Another period: 90 days holds the old sale too; its figures are the API's again.
    let (_, html) = page(&app, &staff, "/dashboard?period=90d").await;
    let api = analytics(&app, &s, &day(89), &day(0)).await;
    assert_eq!(usd_net(&api["totals"]), 18_500);
    assert!(figure(&html, "revenue").starts_with(&money(18_500)));
    assert!(html.contains("aria-current=\"true\">90 days</a>"));
    // Custom dates: only the old sale's day.
    let (_, html) = page(
        &app,
        &staff,
        &format!("/dashboard?from={}&to={}", day(40), day(40)),
    )
    .await;
    assert_eq!(figure(&html, "revenue"), format!("{} new", money(4_000)));
    assert_eq!(figure(&html, "conversions"), "1 new");

    // Bad input: a readable message beside the dates, the default period, never a 500.
    for q in [
        "?period=5y",
        "?from=yesterday",
        "?from=2026-02-01&to=2026-01-01",
    ] {
        let (status, html) = page(&app, &staff, &format!("/dashboard{q}")).await;
        assert_eq!(status, 200, "{q}");
        assert!(html.contains("data-test=\"period-error\""), "{q}");
        assert!(html.contains("Showing the last 30 days instead."), "{q}");
    }
}

#[tokio::test]
async fn a_new_vendor_sees_what_to_do_next() {
    let app = spawn_app().await;
    shop(&app, "Fresh", "https://fresh.test/").await;
    let staff = app
        .signed_in_client("owner@fresh.test", OWNER_PASSWORD)
        .await;
    let (status, html) = page(&app, &staff, "/dashboard").await;
    assert_eq!(status, 200);
    assert!(html.contains("data-test=\"empty-state\""));
    assert!(html.contains("/p/fresh/apply"), "signup page shared");
    assert!(html.contains("href=\"/dashboard/developers\">create an API key</a>"));
    assert_eq!(figure(&html, "clicks"), "0 no change");
    assert!(html.contains("No commission earned in this period yet."));
    assert!(
        html.contains("<a href=\"/dashboard/reports\">Reports</a>"),
        "nav link"
    );
}

async fn csv(staff: &Client, app: &TestApp, path: &str) -> (String, String) {
    let res = staff.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200, "{path}");
    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\""),
        "{path}"
    );
    (kind, res.text().await.unwrap())
}

#[tokio::test]
async fn reports_sort_page_and_download_the_same_rows_as_csv() {
    let app = spawn_app().await;
    let (s, jane, john, staff) = seeded(&app).await;
    // Names a spreadsheet would misread.
    for (id, name) in [(&jane, "=HYPERLINK(\"x\")"), (&john, "Doe, John")] {
        let (status, body) = app
            .call(
                &s.key,
                Method::PATCH,
                &format!("/api/v1/affiliates/{id}"),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    let (status, html) = page(&app, &staff, "/dashboard/reports").await;
    assert_eq!(status, 200);
    // Default: most revenue first. Jane 75.00 + 40.00 is outside 30 days: 75.00 vs 70.00.
    let jane_at = html.find(&format!("/dashboard/affiliates/{jane}")).unwrap();
    let john_at = html.find(&format!("/dashboard/affiliates/{john}")).unwrap();
    assert!(jane_at < john_at);
    assert!(html.contains("75.00 USD") && html.contains("70.00 USD"));
    // The sorted column says so, and its link flips the order.
    let th = &html[html.find("aria-sort=\"descending\"").unwrap()..];
    let th = &th[..th.find("</th>").unwrap()];
    assert!(th.contains("sort=revenue\">Revenue ↓</a>"), "{th}");
    assert!(!html.contains("mallory"));
    // By commission, smallest first: john (7.00) before jane (11.50).
    let (_, html) = page(&app, &staff, "/dashboard/reports?sort=commission").await;
    let jane_at = html.find(&format!("/dashboard/affiliates/{jane}")).unwrap();
    let john_at = html.find(&format!("/dashboard/affiliates/{john}")).unwrap();
    assert!(john_at < jane_at, "ascending commission");
    assert!(html.contains("aria-sort=\"ascending\""));

    // The CSV holds the same rows, every cell quoted and defused as needed.
    let (kind, body) = csv(&staff, &app, "/dashboard/reports?sort=-revenue&format=csv").await;
    assert!(kind.starts_with("text/csv"));
    let lines: Vec<&str> = body.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "affiliate_id,name,email,clicks,conversions,revenue,commission,currency"
    );
    assert_eq!(
        lines[1],
        format!("{jane},\"'=HYPERLINK(\"\"x\"\")\",jane@partners.test,1,1,75.00,11.50,USD")
    );
    assert_eq!(
        lines[2],
        format!("{john},\"Doe, John\",john@partners.test,1,2,70.00,7.00,USD")
    );
    assert_eq!(lines.len(), 4, "two rows and the final line end: {body}");

    // Per program: the one program, with every figure.
    let (_, body) = csv(&staff, &app, "/dashboard/reports?by=program&format=csv").await;
    let lines: Vec<&str> = body.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "program_id,name,clicks,conversions,revenue,commission,currency"
    );
    assert!(lines[1].starts_with(&s.program_id), "{body}");
    assert!(lines[1].ends_with(",2,3,145.00,18.50,USD"), "{body}");
    let (status, html) = page(&app, &staff, "/dashboard/reports?by=program").await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("/dashboard/programs/{}", s.program_id)));

    // Paging: page 2 is empty but answers.
    let (status, html) = page(&app, &staff, "/dashboard/reports?page=2").await;
    assert_eq!(status, 200);
    assert!(html.contains("Nothing happened in this period."));

    // Bad input: a message on the page, never a 500 nor a file.
    for q in [
        "?sort=-email",
        "?sort=1;DROP TABLE affiliates",
        "?from=2026-13-01",
        "?currency=EURO",
        "?by=country",
        "?from=2026-01-01T10:00:00Z&to=2026-01-02",
        "?format=csv&sort=bogus",
    ] {
        let (status, html) = page(&app, &staff, &format!("/dashboard/reports{q}")).await;
        assert_eq!(status, 200, "{q}");
        assert!(html.contains("data-test=\"report-error\""), "{q}: {html}");
    }
}

#[tokio::test]
async fn affiliates_list_shows_all_time_figures_and_exports_the_filtered_list() {
    let app = spawn_app().await;
    let (_s, jane, john, staff) = seeded(&app).await;
    let (status, html) = page(&app, &staff, "/dashboard/affiliates").await;
    assert_eq!(status, 200);
    assert!(html.contains("<th class=\"num\">Revenue</th>"));
    // All time: jane's old sale counts too (75.00 + 40.00).
    assert!(
        html.contains("data-test=\"revenue\">115.00 USD</td>"),
        "{html}"
    );
    assert!(html.contains("data-test=\"commission\">11.50 USD</td>"));
    assert!(html.contains("data-test=\"revenue\">70.00 USD</td>"));
    assert!(!html.contains("mallory"));

    let (_, body) = csv(&staff, &app, "/dashboard/affiliates?search=john&format=csv").await;
    let lines: Vec<&str> = body.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "affiliate_id,name,email,codes,status,joined,clicks,conversions,revenue,commission"
    );
    assert_eq!(lines.len(), 3, "only john: {body}");
    assert!(lines[1].starts_with(&format!(
        "{john},john@partners.test,john@partners.test,john,active,"
    )));
    assert!(lines[1].ends_with(",1,2,70.00 USD,7.00 USD"), "{body}");
    let (_, body) = csv(&staff, &app, "/dashboard/affiliates?format=csv").await;
    assert!(body.contains(&jane) && body.contains(&john) && !body.contains("mallory"));
    let (status, _) = page(&app, &staff, "/dashboard/affiliates?format=xls").await;
    assert_eq!(status, 422);
}
