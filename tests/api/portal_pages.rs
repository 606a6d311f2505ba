//! The signed-in affiliate portal (dashboard, links, commissions, deals, profile, the shell
//! of the payout pages) and the iframe embeds: real figures, filters, forms and their
//! refusals, tenant isolation, and the embeds' token and framing rules.

use affilia::db::now_ms;
use affilia::domain::access::affiliate_tokens::Signer;
use affilia::domain::earnings::affiliate_stats::{self, Period};
use affilia::domain::earnings::ledger;
use affilia::domain::partners::terms::format_money;
use reqwest::{Client, Method, Response};
use serde_json::json;

use crate::helpers::affiliates::{affiliate, set_status};
use crate::helpers::money::{convert, money_shop, refer};
use crate::helpers::pages::one;
use crate::helpers::tracking::BROWSER;
use crate::helpers::vendors::{Shop, patch_program};
use crate::helpers::{TestApp, csrf_from, new_client, spawn_app};

const DAY_MS: i64 = 86_400_000;

/// A shop paying 10 % with a 30-day holding period.
async fn shop10(app: &TestApp, name: &str) -> Shop {
    money_shop(app, name, json!({"type": "percentage", "bps": 1000})).await
}

async fn exec(app: &TestApp, sql: &str, a: i64, b: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(a)
        .bind(b)
        .execute(app.db.pool())
        .await
        .unwrap();
}

/// Lets `origins` (a JSON array) frame the vendor's embeds.
async fn set_embed_origins(app: &TestApp, vendor_id: &str, origins: &str) {
    sqlx::query("UPDATE vendors SET embed_origins = $1 WHERE id = $2")
        .bind(origins)
        .bind(vendor_id)
        .execute(app.db.pool())
        .await
        .unwrap();
}

/// An invited affiliate who accepted the invitation: (id, their signed-in browser).
pub async fn portal_affiliate(
    app: &TestApp,
    s: &Shop,
    email: &str,
    code: &str,
) -> (String, Client) {
    let (status, a) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": email, "name": email, "code": code})),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_owned();
    let text = one(
        app,
        "SELECT body_text FROM email_outbox WHERE kind = 'affiliate_invite' AND to_email = $1",
        email,
    )
    .await;
    let start = text.find("http://").unwrap();
    let link = text[start..].split_whitespace().next().unwrap().to_owned();
    let path = link.trim_start_matches(&app.url("")).to_owned();
    let browser = new_client();
    let res = app.post_form_as(&browser, &path, &path, &[]).await;
    assert_eq!(res.status(), 303, "accepting the invitation");
    (id, browser)
}

/// Moves a conversion and its commissions `days` into the past.
async fn backdate(app: &TestApp, conversion_id: &str, days: i64) {
    let at = now_ms() - days * DAY_MS;
    exec(
        app,
        "UPDATE conversions SET created_at = $1 WHERE id = $2",
        at,
        conversion_id,
    )
    .await;
    exec(
        app,
        "UPDATE commissions SET created_at = $1 WHERE conversion_id = $2",
        at,
        conversion_id,
    )
    .await;
}

async fn page(client: &Client, url: &str) -> (u16, String) {
    let res = client.get(url).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

fn location(res: &Response) -> String {
    res.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn header(res: &Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// The texts of the elements marked `data-test="{name}"`, tags stripped.
fn figures(html: &str, name: &str) -> Vec<String> {
    let marker = format!("data-test=\"{name}\"");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&marker) {
        let open = rest[..i].rfind('<').unwrap();
        let tag: String = rest[open + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let body_start = i + rest[i..].find('>').unwrap() + 1;
        let close = format!("</{tag}>");
        let body_end = body_start + rest[body_start..].find(&close).unwrap();
        let mut text = String::new();
        let mut in_tag = false;
        for c in rest[body_start..body_end].chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        out.push(text.split_whitespace().collect::<Vec<_>>().join(" "));
        rest = &rest[body_end..];
    }
    out
}

fn figure(html: &str, name: &str) -> String {
    figures(html, name)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no data-test={name} in {html}"))
}

/// Posts a portal form with the session's CSRF token taken from `token_page`.
async fn post(
    app: &TestApp,
    client: &Client,
    path: &str,
    token_page: &str,
    fields: &[(&str, &str)],
) -> Response {
    app.post_form_as(client, path, token_page, fields).await
}

/// Posts a portal form as HTMX does (token in the header).
async fn htmx_post(
    app: &TestApp,
    client: &Client,
    path: &str,
    token_page: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let token = csrf_from(&page(client, &app.url(token_page)).await.1);
    let res = client
        .post(app.url(path))
        .header("hx-request", "true")
        .header("x-csrf-token", token)
        .form(fields)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

fn count_of(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

#[tokio::test]
async fn the_dashboard_shows_the_affiliates_own_figures_chart_and_balances() {
    let app = spawn_app().await;
    let s = shop10(&app, "Acme").await;
    patch_program(&app, &s, json!({"min_payout_cents": 5000, "payout_day": 1})).await;
    let (jane, browser) = portal_affiliate(&app, &s, "jane@partners.test", "jane").await;

    // Two clicks from one visitor (the second is a repeat), one referral, one approved and
    // one pending conversion.
    let visitor = new_client();
    for _ in 0..2 {
        let res = visitor
            .get(app.url("/r/jane"))
            .header("user-agent", BROWSER)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_redirection());
    }
    app.flush_clicks().await;
    refer(&app, &s, "cus_1", "jane").await;
    convert(&app, &s, &jane, 10_000, Some("inv-1"), true).await;
    convert(&app, &s, &jane, 5_000, Some("inv-2"), false).await;

    let (status, html) = page(&browser, &app.url("/p/acme/")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Signed in as <strong>jane@partners.test</strong>"));
    assert_eq!(figure(&html, "clicks"), "1");
    assert_eq!(figure(&html, "referrals"), "1");
    assert_eq!(figure(&html, "conversions"), "2");
    assert_eq!(figure(&html, "earnings"), "15.00 USD");
    let link = figure(&html, "referral-link");
    assert_eq!(link, app.url("/r/jane"));
    assert!(
        html.contains(&format!("data-copy=\"{link}\"")),
        "copy button"
    );

    // The balances are the ledger's.
    let balances = ledger::balances(&app.db, &s.vendor_id, &jane)
        .await
        .unwrap();
    let usd = balances.iter().find(|b| b.currency == "USD").unwrap();
    assert_eq!(usd.pending_cents, 500);
    assert_eq!(usd.available_cents, 1_000);
    assert_eq!(
        figure(&html, "balance-pending"),
        format_money(usd.pending_cents, "USD")
    );
    assert_eq!(
        figure(&html, "balance-available"),
        format_money(usd.available_cents, "USD")
    );
    assert_eq!(
        figure(&html, "balance-paid"),
        format_money(usd.paid_cents, "USD")
    );

    // The same figures from the domain service the API exposes.
    let period = Period::preset(None, now_ms()).unwrap();
    let stats =
        affiliate_stats::summary(&app.db, &s.vendor_id, &jane, None, period.from, period.to)
            .await
            .unwrap();
    assert_eq!(
        (stats.clicks, stats.referrals, stats.conversions),
        (1, 1, 2)
    );
    assert_eq!(stats.earnings.len(), 1);
    assert_eq!(stats.earnings[0].earned_cents, 1_500);
    assert_eq!(stats.earnings[0].commissions, 2);
    assert_eq!(stats.series.len(), 30);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let last = stats.series.last().unwrap();
    assert_eq!(last.date, today);
    assert_eq!(last.clicks, 1);
    assert_eq!(last.earned_cents["USD"], 1_500);
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["bucket"], "day");
    assert!(json["from"].as_str().unwrap().ends_with("T00:00:00.000Z"));

    // The chart: an accessible inline SVG with one bar per day and an earnings line.
    assert!(html.contains("<svg class=\"chart-svg\""), "{html}");
    assert!(
        html.contains(
            "<title id=\"chart-title\">Clicks and earnings per day, last 30 days</title>"
        )
    );
    assert!(html.contains("<desc id=\"chart-desc\">1 clicks and 15.00 USD earned"));
    assert_eq!(count_of(&html, "class=\"chart-bar\""), 30);
    assert!(html.contains("class=\"chart-line\""));

    // The next payout: available against the minimum, on the program's payout day.
    let next = figure(&html, "next-payout");
    assert!(
        next.contains("you have 10.00 USD of the 50.00 USD minimum"),
        "{next}"
    );
    assert!(next.contains(": Next payout "), "{next}");
    let estimate =
        affilia::domain::payouts::schedule::next_payouts(&app.db, &s.vendor_id, &jane, now_ms())
            .await
            .unwrap();
    assert_eq!(estimate.len(), 1);
    assert!(!estimate[0].reaches_minimum);
    assert!(estimate[0].next_run.is_some());

    // The shell: the portal nav, Dashboard current, and the sign-out form.
    assert!(html.contains("<a href=\"/p/acme/\" aria-current=\"page\">Dashboard</a>"));
    for path in ["/links", "/commissions", "/payouts", "/deals", "/profile"] {
        assert!(html.contains(&format!("href=\"/p/acme{path}\"")), "{path}");
    }
    assert!(html.contains("action=\"/p/acme/logout\""));
    assert!(html.contains("href=\"/p/acme/payout-settings\""));
}

#[tokio::test]
async fn the_period_and_program_filters_change_the_figures() {
    let app = spawn_app().await;
    let s = shop10(&app, "Acme").await;
    let (jane, browser) = portal_affiliate(&app, &s, "jane@partners.test", "jane").await;
    let old = convert(&app, &s, &jane, 20_000, Some("old"), true).await;
    backdate(&app, &old, 40).await;
    let recent = convert(&app, &s, &jane, 10_000, Some("recent"), true).await;
    backdate(&app, &recent, 10).await;
    convert(&app, &s, &jane, 5_000, Some("today"), false).await;

    let earnings = |html: &str| figure(html, "earnings");
    let (_, html) = page(&browser, &app.url("/p/acme/?period=7d")).await;
    assert_eq!(earnings(&html), "5.00 USD");
    assert_eq!(figure(&html, "conversions"), "1");
    assert_eq!(count_of(&html, "class=\"chart-bar\""), 7);
    assert!(html.contains("href=\"/p/acme/?period=7d\" aria-current=\"true\""));
    let (_, html) = page(&browser, &app.url("/p/acme/")).await;
    assert_eq!(earnings(&html), "15.00 USD");
    let (_, html) = page(&browser, &app.url("/p/acme/?period=90d")).await;
    assert_eq!(earnings(&html), "35.00 USD");
    assert_eq!(figure(&html, "conversions"), "3");
    assert_eq!(count_of(&html, "class=\"chart-bar\""), 90);
    let (_, html) = page(&browser, &app.url("/p/acme/?period=12m")).await;
    assert_eq!(earnings(&html), "35.00 USD");
    assert_eq!(count_of(&html, "class=\"chart-bar\""), 12);
    assert!(html.contains("per month, last 12 months"));

    // Balances do not depend on the period.
    let (_, html) = page(&browser, &app.url("/p/acme/?period=7d")).await;
    assert_eq!(figure(&html, "balance-available"), "30.00 USD");

    // A period or program the page does not know is refused readably.
    let (status, html) = page(&browser, &app.url("/p/acme/?period=1y")).await;
    assert_eq!(status, 422);
    assert!(
        html.contains("period must be one of: 7d, 30d, 90d, 12m"),
        "{html}"
    );
    let (status, _) = page(&browser, &app.url("/p/acme/?program=prg_nope")).await;
    assert_eq!(status, 422);
    let (status, html) = page(
        &browser,
        &app.url(&format!("/p/acme/?period=90d&program={}", s.program_id)),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(earnings(&html), "35.00 USD");

    // Explicit dates and buckets through the domain API.
    let p = Period::parse(None, Some("2026-01-01"), Some("2026-06-30"), None, now_ms()).unwrap();
    assert_eq!(p.bucket, affiliate_stats::Bucket::Week);
    let p = Period::preset(Some("90d"), now_ms()).unwrap();
    let weekly = affiliate_stats::summary_by(
        &app.db,
        &s.vendor_id,
        &jane,
        None,
        p.from,
        p.to,
        affiliate_stats::Bucket::Week,
    )
    .await
    .unwrap();
    let earned: i64 = weekly
        .series
        .iter()
        .filter_map(|pt| pt.earned_cents.get("USD"))
        .sum();
    assert_eq!(earned, 3_500);
    assert!(weekly.series.len() >= 13 && weekly.series.len() <= 14);
}

#[tokio::test]
async fn links_are_listed_created_and_refused_readably() {
    let app = spawn_app().await;
    let s = shop10(&app, "Acme").await;
    let (jane, browser) = portal_affiliate(&app, &s, "jane@partners.test", "jane").await;
    let links_of = format!("SELECT COUNT(*) FROM links WHERE affiliate_id = '{jane}'");

    let (status, html) = page(&browser, &app.url("/p/acme/links")).await;
    assert_eq!(status, 200);
    assert!(html.contains("No campaign link yet."));
    assert!(html.contains("<a href=\"/p/acme/links\" aria-current=\"page\">Links</a>"));
    assert!(html.contains("hx-post=\"/p/acme/links\""));

    // A plain post creates and redirects.
    let res = post(
        &app,
        &browser,
        "/p/acme/links",
        "/p/acme/links",
        &[("name", "Spring sale"), ("sub_id", "newsletter")],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/p/acme/links?created=1");
    let (_, html) = page(&browser, &app.url("/p/acme/links?created=1")).await;
    let url = app.url("/r/jane/spring-sale");
    assert_eq!(figures(&html, "link-url"), vec![url.clone()]);
    assert!(html.contains(&format!("data-copy=\"{url}\"")));
    assert!(html.contains("newsletter") && html.contains("Link created."));

    // HTMX gets the body only.
    let (status, body) = htmx_post(
        &app,
        &browser,
        "/p/acme/links",
        "/p/acme/links",
        &[
            ("name", "Docs"),
            ("slug", "docs"),
            ("destination_url", "https://shop.example.com/docs"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(body.starts_with("<div id=\"links-body\""), "{body}");
    assert!(!body.contains("<html"));
    assert!(body.contains(&app.url("/r/jane/docs")));
    assert_eq!(app.count(&links_of).await, 2);

    // A bad slug, a taken slug and a foreign destination are explained; nothing is created.
    let (status, body) = htmx_post(
        &app,
        &browser,
        "/p/acme/links",
        "/p/acme/links",
        &[("name", "Bad"), ("slug", "not a slug!")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body.contains("slugs are 1-40 characters of a-z, 0-9, - and _"),
        "{body}"
    );
    assert!(body.contains("value=\"not a slug!\"") && body.contains("aria-invalid=\"true\""));
    let res = post(
        &app,
        &browser,
        "/p/acme/links",
        "/p/acme/links",
        &[("name", "Docs again"), ("slug", "docs")],
    )
    .await;
    assert_eq!(res.status(), 409);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("you already have a link with this slug"),
        "{html}"
    );
    assert!(html.contains("portal-nav"), "the full page");
    let (status, body) = htmx_post(
        &app,
        &browser,
        "/p/acme/links",
        "/p/acme/links",
        &[("name", "Away"), ("destination_url", "https://evil.test/")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body.contains("destination_url must be on one of the program"),
        "{body}"
    );
    assert_eq!(app.count(&links_of).await, 2);

    // Without the CSRF token nothing happens.
    let res = browser
        .post(app.url("/p/acme/links"))
        .form(&[("name", "Forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.count(&links_of).await, 2);
}

#[tokio::test]
async fn commissions_are_filtered_by_status_program_and_dates_and_paged() {
    let app = spawn_app().await;
    let s = shop10(&app, "Acme").await;
    let (jane, browser) = portal_affiliate(&app, &s, "jane@partners.test", "jane").await;
    let approved = convert(&app, &s, &jane, 10_000, Some("a"), true).await;
    let old = convert(&app, &s, &jane, 30_000, Some("old"), false).await;
    backdate(&app, &old, 40).await;
    let rejected = convert(&app, &s, &jane, 7_000, Some("r"), false).await;
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/conversions/{rejected}/reject"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (status, html) = page(&browser, &app.url("/p/acme/commissions")).await;
    assert_eq!(status, 200);
    assert_eq!(figure(&html, "commission-total"), "3 commission(s)");
    assert_eq!(figures(&html, "commission").len(), 3);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(html.contains("10.00 USD") && html.contains(&today));
    let rule = one(
        &app,
        "SELECT rule FROM commissions WHERE conversion_id = $1",
        &approved,
    )
    .await;
    assert!(html.contains(&rule));

    let (_, html) = page(&browser, &app.url("/p/acme/commissions?status=rejected")).await;
    assert_eq!(figure(&html, "commission-total"), "1 commission(s)");
    assert!(html.contains("7.00 USD"), "{html}");
    assert!(html.contains("<option value=\"rejected\" selected>"));
    let (_, html) = page(&browser, &app.url("/p/acme/commissions?status=available")).await;
    assert_eq!(figure(&html, "commission-total"), "1 commission(s)");
    assert!(html.contains("10.00 USD"));

    let week_ago = (chrono::Utc::now() - chrono::Duration::days(7))
        .format("%Y-%m-%d")
        .to_string();
    let (_, html) = page(
        &browser,
        &app.url(&format!("/p/acme/commissions?from={week_ago}")),
    )
    .await;
    assert_eq!(figure(&html, "commission-total"), "2 commission(s)");
    assert!(!html.contains("30.00 USD"));
    let (_, html) = page(
        &browser,
        &app.url(&format!("/p/acme/commissions?to={week_ago}")),
    )
    .await;
    assert_eq!(figure(&html, "commission-total"), "1 commission(s)");
    assert!(html.contains("30.00 USD"));
    let (_, html) = page(
        &browser,
        &app.url(&format!("/p/acme/commissions?program={}", s.program_id)),
    )
    .await;
    assert_eq!(figure(&html, "commission-total"), "3 commission(s)");
    let (_, html) = page(&browser, &app.url("/p/acme/commissions?program=prg_other")).await;
    assert_eq!(figure(&html, "commission-total"), "0 commission(s)");

    // Filters the list cannot use are explained.
    let (status, html) = page(&browser, &app.url("/p/acme/commissions?status=lost")).await;
    assert_eq!(status, 422);
    assert!(html.contains("status must be one of"), "{html}");
    let (status, html) = page(&browser, &app.url("/p/acme/commissions?from=yesterday")).await;
    assert_eq!(status, 422);
    assert!(html.contains("from must be a date"), "{html}");

    // 25 a page, the filters kept across pages.
    for i in 0..24 {
        convert(
            &app,
            &s,
            &jane,
            1_000,
            Some(format!("bulk-{i}").as_str()),
            false,
        )
        .await;
    }
    let (_, html) = page(&browser, &app.url("/p/acme/commissions?status=pending")).await;
    assert_eq!(figure(&html, "commission-total"), "25 commission(s)");
    assert_eq!(figures(&html, "commission").len(), 25);
    let (_, html) = page(&browser, &app.url("/p/acme/commissions")).await;
    assert_eq!(figures(&html, "commission").len(), 25);
    assert!(
        html.contains("href=\"/p/acme/commissions?page=2\""),
        "{html}"
    );
    let (_, html) = page(&browser, &app.url("/p/acme/commissions?page=2")).await;
    assert_eq!(figures(&html, "commission").len(), 2);
    let (_, html) = page(
        &browser,
        &app.url("/p/acme/commissions?status=pending&page=1"),
    )
    .await;
    assert!(!html.contains("page=2"));
}

#[tokio::test]
async fn deals_are_registered_listed_and_duplicates_refused() {
    let app = spawn_app().await;
    let s = shop10(&app, "Acme").await;
    let (_jane, browser) = portal_affiliate(&app, &s, "jane@partners.test", "jane").await;

    let (status, html) = page(&browser, &app.url("/p/acme/deals")).await;
    assert_eq!(status, 200);
    assert!(html.contains("No deal registered yet."));

    let res = post(
        &app,
        &browser,
        "/p/acme/deals",
        "/p/acme/deals",
        &[
            ("lead_email", "cto@bigco.test"),
            ("lead_name", "Chris"),
            ("company", "BigCo"),
            ("notes", "Met at a conference"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/p/acme/deals?registered=1");
    let (_, html) = page(&browser, &app.url("/p/acme/deals?registered=1")).await;
    let deals = figures(&html, "deal");
    assert_eq!(deals.len(), 1);
    assert!(deals[0].contains("Chris pending") && deals[0].contains("cto@bigco.test · BigCo"));

    // The same lead again: a readable refusal, the form kept as typed.
    let (status, body) = htmx_post(
        &app,
        &browser,
        "/p/acme/deals",
        "/p/acme/deals",
        &[
            ("lead_email", "CTO@bigco.test"),
            ("lead_name", "Chris again"),
        ],
    )
    .await;
    assert_eq!(status, 409);
    assert!(
        body.contains("this lead is already registered in the program"),
        "{body}"
    );
    assert!(body.contains("value=\"Chris again\""));
    let res = post(
        &app,
        &browser,
        "/p/acme/deals",
        "/p/acme/deals",
        &[("lead_email", "not-an-email"), ("lead_name", "X")],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("aria-invalid=\"true\""));
    assert_eq!(app.count("SELECT COUNT(*) FROM deals").await, 1);

    let (status, body) = htmx_post(
        &app,
        &browser,
        "/p/acme/deals",
        "/p/acme/deals",
        &[("lead_email", "ops@other.test"), ("lead_name", "Olga")],
    )
    .await;
    assert_eq!(status, 201);
    assert!(body.starts_with("<div id=\"deals-body\">"), "{body}");
    assert!(body.contains("2 deal(s)"));
}

#[tokio::test]
async fn the_profile_edits_only_profile_fields() {
    let app = spawn_app().await;
    let s = shop10(&app, "Acme").await;
    let (jane, browser) = portal_affiliate(&app, &s, "jane@partners.test", "jane").await;

    let (status, html) = page(&browser, &app.url("/p/acme/profile")).await;
    assert_eq!(status, 200);
    assert!(html.contains("value=\"jane@partners.test\" readonly"));
    assert!(html.contains("id=\"api-tokens\""), "the tokens section");
    assert!(html.contains("href=\"/p/acme/api-tokens\""));

    let res = post(
        &app,
        &browser,
        "/p/acme/profile",
        "/p/acme/profile",
        &[
            ("name", "Jane Doe"),
            ("company", "Doe Media"),
            ("website", "https://jane.test"),
            ("email", "evil@attacker.test"),
            ("status", "banned"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/p/acme/profile?saved=1");
    let (_, html) = page(&browser, &app.url("/p/acme/profile?saved=1")).await;
    assert!(html.contains("Profile saved.") && html.contains("value=\"Doe Media\""));
    let (status, a) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/affiliates/{jane}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(a["name"], "Jane Doe");
    assert_eq!(a["company"], "Doe Media");
    assert_eq!(a["website"], "https://jane.test");
    assert_eq!(a["email"], "jane@partners.test");
    assert_eq!(a["status"], "active");
    assert_eq!(
        one(
            &app,
            "SELECT actor_type FROM audit_log WHERE action = 'affiliate.updated' AND actor_id = $1",
            &jane,
        )
        .await,
        "affiliate"
    );

    // An empty name is refused and changes nothing; clearing the company works.
    let res = post(
        &app,
        &browser,
        "/p/acme/profile",
        "/p/acme/profile",
        &[("name", " "), ("company", "")],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("name is required"));
    let res = post(
        &app,
        &browser,
        "/p/acme/profile",
        "/p/acme/profile",
        &[("name", "Jane Doe"), ("company", ""), ("website", "")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let (_, a) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/affiliates/{jane}"),
            None,
        )
        .await;
    assert!(a["company"].is_null(), "{a}");
}

#[tokio::test]
async fn visitors_who_are_not_signed_in_are_sent_to_sign_in() {
    let app = spawn_app().await;
    let s = shop10(&app, "Acme").await;
    let visitor = new_client();
    for path in [
        "/links",
        "/commissions",
        "/deals",
        "/profile",
        "/payouts",
        "/payout-settings",
    ] {
        let res = visitor
            .get(app.url(&format!("/p/acme{path}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(location(&res), "/p/acme/login", "{path}");
    }
    // HTMX is told where to go instead.
    let res = visitor
        .get(app.url("/p/acme/links"))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&res, "hx-redirect").as_deref(),
        Some("/p/acme/login")
    );

    // The home page is the landing page, with a way to sign in.
    let (status, html) = page(&visitor, &app.url("/p/acme/")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Partner with Acme"));
    assert!(html.contains("href=\"/p/acme/login\""));
    assert!(!html.contains("data-test=\"clicks\""));

    // A deactivated affiliate's session no longer opens the pages.
    let (_, browser) = portal_affiliate(&app, &s, "bob@partners.test", "bob").await;
    let (status, _) = page(&browser, &app.url("/p/acme/links")).await;
    assert_eq!(status, 200);
    let bob = one(
        &app,
        "SELECT id FROM affiliates WHERE email = $1",
        "bob@partners.test",
    )
    .await;
    set_status(&app, &s, &bob, "deactivated").await;
    let res = browser.get(app.url("/p/acme/links")).send().await.unwrap();
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn an_affiliate_sees_only_their_own_vendor_data_and_branding() {
    let app = spawn_app().await;
    let acme = shop10(&app, "Acme").await;
    let beta = shop10(&app, "Beta").await;
    sqlx::query("UPDATE vendors SET portal_name = 'Acme Partner Club' WHERE id = $1")
        .bind(&acme.vendor_id)
        .execute(app.db.pool())
        .await
        .unwrap();
    let (jane, browser) = portal_affiliate(&app, &acme, "jane@partners.test", "jane").await;
    let bob = affiliate(&app, &beta, "bob@beta-partners.test", "bobby").await;
    convert(&app, &beta, &bob, 99_000, Some("beta-1"), true).await;
    convert(&app, &acme, &jane, 10_000, Some("acme-1"), true).await;

    for path in [
        "/",
        "/links",
        "/commissions",
        "/deals",
        "/profile",
        "/payouts",
    ] {
        let (status, html) = page(&browser, &app.url(&format!("/p/acme{path}"))).await;
        assert_eq!(status, 200, "{path}");
        assert!(html.contains("Acme Partner Club"), "{path}");
        for other in ["Beta", "bobby", "bob@beta-partners.test", "99.00", "9.90"] {
            assert!(!html.contains(other), "{path} shows {other}");
        }
    }

    // Jane's Acme session is not a Beta sign-in.
    let (status, html) = page(&browser, &app.url("/p/beta/")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Partner with Beta") && !html.contains("Acme"));
    assert!(!html.contains("data-test=\"clicks\"") && !html.contains("jane@"));
    for path in ["/links", "/commissions", "/payouts"] {
        let res = browser
            .get(app.url(&format!("/p/beta{path}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(location(&res), "/p/beta/login");
    }
}

/// An embed request's answer.
struct Embed {
    status: u16,
    csp: String,
    xfo: Option<String>,
    headers: reqwest::header::HeaderMap,
    html: String,
}

impl Embed {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

async fn embed(app: &TestApp, path: &str) -> Embed {
    let res = new_client().get(app.url(path)).send().await.unwrap();
    let headers = res.headers().clone();
    Embed {
        status: res.status().as_u16(),
        csp: header(&res, "content-security-policy").unwrap_or_default(),
        xfo: header(&res, "x-frame-options"),
        headers,
        html: res.text().await.unwrap(),
    }
}

#[tokio::test]
async fn embeds_show_the_tokens_affiliate_framed_by_the_vendors_origins_only() {
    let app = spawn_app().await;
    let acme = shop10(&app, "Acme").await;
    let beta = shop10(&app, "Beta").await;
    set_embed_origins(
        &app,
        &acme.vendor_id,
        r#"["https://app.acme.test", "http://localhost:3000"]"#,
    )
    .await;
    let jane = affiliate(&app, &acme, "jane@partners.test", "jane").await;
    let bob = affiliate(&app, &beta, "bob@beta-partners.test", "bobby").await;
    convert(&app, &acme, &jane, 10_000, Some("acme-1"), true).await;
    convert(&app, &beta, &bob, 99_000, Some("beta-1"), true).await;
    let signer = &app.state.affiliate_tokens;
    let soon = now_ms() + 600_000;
    let token = signer.mint(&acme.vendor_id, &jane, soon);

    for surface in ["dashboard", "links", "payouts"] {
        let e = embed(&app, &format!("/embed/{surface}?token={token}")).await;
        let html = &e.html;
        assert_eq!(e.status, 200, "{surface}: {html}");
        assert!(
            e.csp
                .ends_with("frame-ancestors https://app.acme.test http://localhost:3000"),
            "{}",
            e.csp
        );
        assert!(e.csp.contains("script-src 'self'"));
        assert_eq!(e.xfo, None, "{surface}");
        assert_eq!(e.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(e.header("cache-control"), Some("no-store"));
        assert!(e.header("set-cookie").is_none(), "no session in iframes");
        // No portal chrome, and every link and form inside carries the token.
        assert!(!html.contains("portal-nav") && !html.contains("/logout"));
        for href in html.split("href=\"").skip(1) {
            let href = &href[..href.find('"').unwrap()];
            if href.starts_with("/static/") || href.ends_with("brand.css") {
                continue;
            }
            assert!(href.contains("token="), "{surface}: {href}");
        }
        for form in html.split("<form").skip(1) {
            let form = &form[..form.find("</form>").unwrap()];
            assert!(
                form.contains("name=\"token\" value=\"") || form.contains("token="),
                "{surface}: {form}"
            );
        }
        assert!(!html.contains("bobby") && !html.contains("99.00"));
    }
    let html = embed(&app, &format!("/embed/dashboard?token={token}"))
        .await
        .html;
    assert_eq!(figure(&html, "earnings"), "10.00 USD");
    assert_eq!(figure(&html, "balance-pending"), "0.00 USD");
    assert_eq!(figure(&html, "balance-available"), "10.00 USD");
    assert!(html.contains("<svg class=\"chart-svg\""));
    assert!(
        html.replace("&#38;", "&").contains(&format!(
            "href=\"/embed/dashboard?period=7d&token={token}\""
        )),
        "{html}"
    );
    let e = embed(&app, &format!("/embed/dashboard?period=7d&token={token}")).await;
    assert_eq!(e.status, 200);
    assert!(e.html.contains("Performance, last 7 days"));
    let html = embed(&app, &format!("/embed/payouts?token={token}"))
        .await
        .html;
    assert!(html.contains("Your payouts") && html.contains("10.00"));
    assert!(!html.contains("Statement</a>"));

    // The portal itself is never framed.
    let res = new_client().get(app.url("/p/acme/")).send().await.unwrap();
    assert_eq!(header(&res, "x-frame-options").as_deref(), Some("DENY"));
    assert!(
        header(&res, "content-security-policy")
            .unwrap()
            .ends_with("frame-ancestors 'none'")
    );

    // A vendor without origins: nobody may frame its embeds.
    let bob_token = signer.mint(&beta.vendor_id, &bob, soon);
    let e = embed(&app, &format!("/embed/dashboard?token={bob_token}")).await;
    assert_eq!(e.status, 200);
    assert!(e.csp.ends_with("frame-ancestors 'none'"), "{}", e.csp);
    assert_eq!(e.xfo, None);
    assert_eq!(figure(&e.html, "earnings"), "99.00 USD");
    assert!(!e.html.contains("/r/jane") && !e.html.contains("jane@"));

    // Expired: a 401 page the vendor's app may still frame.
    let old = signer.mint(&acme.vendor_id, &jane, now_ms() - 1_000);
    let e = embed(&app, &format!("/embed/dashboard?token={old}")).await;
    assert_eq!(e.status, 401);
    assert!(
        e.html
            .contains("This view has expired. Reload the page in the app.")
    );
    assert!(
        e.csp
            .ends_with("frame-ancestors https://app.acme.test http://localhost:3000")
    );
    assert_eq!(e.header("cache-control"), Some("no-store"));
    assert_eq!(e.header("referrer-policy"), Some("no-referrer"));
    assert!(!e.html.contains("10.00"));

    // Forged (another installation's key, or tampered), or missing: 401, framable by nobody.
    let forged = Signer::new(b"someone else").mint(&acme.vendor_id, &jane, soon);
    let (payload, _) = token.split_once('.').unwrap();
    let (_, sig) = bob_token.split_once('.').unwrap();
    for bad in [forged, format!("{payload}.{sig}"), String::new()] {
        let e = embed(&app, &format!("/embed/links?token={bad}")).await;
        assert_eq!(e.status, 401, "{bad}");
        assert!(e.csp.ends_with("frame-ancestors 'none'"), "{}", e.csp);
        assert!(!e.html.contains("jane"));
    }

    // A deactivated affiliate's token stops working at once.
    set_status(&app, &acme, &jane, "deactivated").await;
    let e = embed(&app, &format!("/embed/dashboard?token={token}")).await;
    assert_eq!(e.status, 401);
    assert!(e.html.contains("This view has expired"));

    // Unknown surfaces do not exist.
    let e = embed(&app, &format!("/embed/profile?token={bob_token}")).await;
    assert_eq!(e.status, 404);
    assert_eq!(e.xfo, None);
    assert_eq!(embed(&app, "/embed/links/x/extra").await.status, 404);
    // A link's page needs a token like every surface.
    assert_eq!(embed(&app, "/embed/links/lnk_x").await.status, 401);
}

#[tokio::test]
async fn the_links_embed_creates_links_for_the_tokens_affiliate_only() {
    let app = spawn_app().await;
    let acme = shop10(&app, "Acme").await;
    set_embed_origins(&app, &acme.vendor_id, r#"["https://app.acme.test"]"#).await;
    let jane = affiliate(&app, &acme, "jane@partners.test", "jane").await;
    let bob = affiliate(&app, &acme, "bob@partners.test", "bob").await;
    let token = app
        .state
        .affiliate_tokens
        .mint(&acme.vendor_id, &jane, now_ms() + 600_000);
    let count = |who: &str| format!("SELECT COUNT(*) FROM links WHERE affiliate_id = '{who}'");

    // A plain post (no cookie, no CSRF token: the access token authenticates).
    let client = new_client();
    let res = client
        .post(app.url("/embed/links"))
        .form(&[
            ("token", token.as_str()),
            ("name", "From the app"),
            ("affiliate_id", bob.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        location(&res),
        format!("/embed/links?created=1&token={token}")
    );
    assert!(
        header(&res, "content-security-policy")
            .unwrap()
            .ends_with("frame-ancestors https://app.acme.test")
    );
    assert_eq!(app.count(&count(&jane)).await, 1);
    assert_eq!(app.count(&count(&bob)).await, 0);
    let (status, html) = page(&client, &app.url(&location(&res))).await;
    assert_eq!(status, 200);
    assert!(html.contains("Link created."));
    assert_eq!(
        figures(&html, "link-url"),
        vec![app.url("/r/jane/from-the-app")]
    );

    // HTMX gets the body; a refusal is explained in it.
    let res = client
        .post(app.url("/embed/links"))
        .header("hx-request", "true")
        .form(&[
            ("token", token.as_str()),
            ("name", "Bad"),
            ("slug", "no way"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(
        header(&res, "referrer-policy").as_deref(),
        Some("no-referrer")
    );
    let body = res.text().await.unwrap();
    assert!(body.starts_with("<div id=\"links-body\""), "{body}");
    assert!(body.contains("slugs are 1-40 characters"));
    assert!(body.contains(&format!("name=\"token\" value=\"{token}\"")));
    let res = client
        .post(app.url("/embed/links"))
        .header("hx-request", "true")
        .form(&[("token", token.as_str()), ("name", "Second")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(app.count(&count(&jane)).await, 2);

    // Without a valid token nothing is created.
    let forged = Signer::new(b"other").mint(&acme.vendor_id, &bob, now_ms() + 600_000);
    let expired = app
        .state
        .affiliate_tokens
        .mint(&acme.vendor_id, &bob, now_ms() - 1);
    for bad in [forged.as_str(), expired.as_str(), ""] {
        let res = client
            .post(app.url("/embed/links"))
            .form(&[("token", bad), ("name", "Sneaky")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{bad}");
    }
    assert_eq!(app.count(&count(&bob)).await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM links").await, 2);
}

#[tokio::test]
async fn the_links_embed_edits_archives_and_restores_the_tokens_own_links() {
    let app = spawn_app().await;
    let acme = shop10(&app, "Acme").await;
    set_embed_origins(&app, &acme.vendor_id, r#"["https://app.acme.test"]"#).await;
    let jane = affiliate(&app, &acme, "jane@partners.test", "jane").await;
    let bob = affiliate(&app, &acme, "bob@partners.test", "bob").await;
    let mint = |who: &str| {
        app.state
            .affiliate_tokens
            .mint(&acme.vendor_id, who, now_ms() + 600_000)
    };
    let (token, bob_token) = (mint(&jane), mint(&bob));
    let client = new_client();
    for (t, name) in [(&token, "Newsletter"), (&bob_token, "Bob's")] {
        let res = client
            .post(app.url("/embed/links"))
            .form(&[("token", t.as_str()), ("name", name)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
    }
    let id_of = |who: &str| format!("SELECT id FROM links WHERE affiliate_id = '{who}'");
    let id: String = sqlx::query_scalar(sqlx::AssertSqlSafe(id_of(&jane)))
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    let bob_link: String = sqlx::query_scalar(sqlx::AssertSqlSafe(id_of(&bob)))
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();

    // The list offers the edit page and the archive form, each carrying the token.
    let (status, html) = page(&client, &app.url(&format!("/embed/links?token={token}"))).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!("href=\"/embed/links/{id}?token={token}\"")),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "action=\"/embed/links/{id}/archive?token={token}\""
        )),
        "{html}"
    );

    // The edit page shows the link; a refused value is explained and changes nothing.
    let e = embed(&app, &format!("/embed/links/{id}?token={token}")).await;
    assert_eq!(e.status, 200);
    assert!(e.html.contains("Newsletter") && e.html.contains("Save link"));
    assert!(
        e.csp.ends_with("frame-ancestors https://app.acme.test"),
        "{}",
        e.csp
    );
    let res = client
        .post(app.url(&format!("/embed/links/{id}")))
        .form(&[("token", token.as_str()), ("name", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("data-test=\"form-error\"")
    );
    let res = client
        .post(app.url(&format!("/embed/links/{id}")))
        .form(&[
            ("token", token.as_str()),
            ("name", "Spring newsletter"),
            ("sub_id", "s1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        location(&res),
        format!("/embed/links?done=saved&token={token}")
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM links WHERE id = '{id}' AND name = 'Spring newsletter' AND sub_id = 's1'"
        ))
        .await,
        1
    );

    // Archive, see it under the archived links, restore.
    let res = client
        .post(app.url(&format!("/embed/links/{id}/archive")))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (_, html) = page(&client, &app.url(&location(&res))).await;
    assert!(html.contains("Link archived"), "{html}");
    assert!(!html.contains("Spring newsletter"), "{html}");
    let (_, html) = page(
        &client,
        &app.url(&format!("/embed/links?archived=1&token={token}")),
    )
    .await;
    assert!(html.contains("Spring newsletter"), "{html}");
    let res = client
        .post(app.url(&format!("/embed/links/{id}/restore")))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (_, html) = page(&client, &app.url(&location(&res))).await;
    assert!(html.contains("Link restored.") && html.contains("Spring newsletter"));

    // Another affiliate's link is a 404 for every action, and stays as it was.
    assert_eq!(
        embed(&app, &format!("/embed/links/{bob_link}?token={token}"))
            .await
            .status,
        404
    );
    for (path, fields) in [
        (format!("/embed/links/{bob_link}"), vec![("name", "Taken")]),
        (format!("/embed/links/{bob_link}/archive"), vec![]),
    ] {
        let mut form = vec![("token", token.as_str())];
        form.extend(fields);
        let res = client
            .post(app.url(&path))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM links WHERE id = '{bob_link}' AND name = 'Bob''s' AND archived_at IS NULL"
        ))
        .await,
        1
    );
    // Without a valid token nothing changes.
    let res = client
        .post(app.url(&format!("/embed/links/{id}/archive")))
        .form(&[("token", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn the_payout_pages_use_the_portal_shell() {
    let app = spawn_app().await;
    let s = shop10(&app, "Acme").await;
    let (_jane, browser) = portal_affiliate(&app, &s, "jane@partners.test", "jane").await;
    for path in ["/payouts", "/payout-settings"] {
        let (status, html) = page(&browser, &app.url(&format!("/p/acme{path}"))).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            html.contains("<a href=\"/p/acme/payouts\" aria-current=\"page\">Payouts</a>"),
            "{path}: {html}"
        );
        assert!(html.contains("action=\"/p/acme/logout\""));
    }
    // Sign out ends the session.
    let res = post(&app, &browser, "/p/acme/logout", "/p/acme/payouts", &[]).await;
    assert_eq!(res.status(), 303);
    let res = browser
        .get(app.url("/p/acme/payouts"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "/p/acme/login");
}
