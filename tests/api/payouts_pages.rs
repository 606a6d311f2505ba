//! The payout pages: the dashboard's runs (a dry-run preview, the run, its PayPal file,
//! marking paid, tenant isolation), the program form's payout fields, and the portal's
//! payouts, statements and payout settings.

use reqwest::{Client, Method};
use serde_json::json;

use crate::helpers::affiliates::affiliate;
use crate::helpers::money::{earn, money_shop, verify_ledger};
use crate::helpers::pages::{one, page};
use crate::helpers::vendors::{Shop, patch_program};
use crate::helpers::{OWNER_PASSWORD, TestApp, new_client, spawn_app};

/// A shop paying 10 % (30-day holding period), a minimum payout of 1.00 and a platform
/// fee of `fee_bps`.
pub async fn payout_shop(app: &TestApp, name: &str, fee_bps: i64) -> Shop {
    let s = money_shop(app, name, json!({"type": "percentage", "bps": 1000})).await;
    patch_program(
        app,
        &s,
        json!({"min_payout_cents": 100, "platform_fee_bps": fee_bps}),
    )
    .await;
    s
}

/// Sets an affiliate's PayPal address through the vendor API.
pub async fn paypal(app: &TestApp, s: &Shop, affiliate_id: &str, email: &str) {
    let (status, body) = app
        .call(
            &s.key,
            Method::PATCH,
            &format!("/api/v1/affiliates/{affiliate_id}"),
            Some(json!({"payout_method": "paypal", "payout_email": email})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Posts a form as a browser does, with the CSRF token of `token_page`:
/// (status, Location, body).
async fn post(
    app: &TestApp,
    client: &Client,
    path: &str,
    token_page: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let res = app.post_form_as(client, path, token_page, fields).await;
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, res.text().await.unwrap())
}

/// The figures a confirmation page posts back (its `confirm` field).
pub fn confirm_token(html: &str) -> String {
    let start = html
        .find("name=\"confirm\" value=\"")
        .unwrap_or_else(|| panic!("no confirmation in {html}"))
        + "name=\"confirm\" value=\"".len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// Posts a risky form: the first post only shows its confirmation (naming each of
/// `shown`) and changes nothing the caller checks; the second, with the figures shown,
/// acts. Returns the second post's (status, Location, body).
pub async fn post_confirmed(
    app: &TestApp,
    client: &Client,
    path: &str,
    token_page: &str,
    fields: &[(&str, &str)],
    shown: &[&str],
) -> (u16, String, String) {
    let (status, _, html) = post(app, client, path, token_page, fields).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("id=\"confirm\""), "{html}");
    for s in shown {
        assert!(html.contains(s), "{s}: {html}");
    }
    let token = confirm_token(&html);
    let mut with = fields.to_vec();
    with.push(("confirm", &token));
    post(app, client, path, token_page, &with).await
}

async fn payout_status(app: &TestApp, id: &str) -> String {
    one(app, "SELECT status FROM payouts WHERE id = $1", id).await
}

#[tokio::test]
async fn the_dashboard_previews_runs_exports_and_pays_a_payout() {
    let app = spawn_app().await;
    let s = payout_shop(&app, "Acme", 500).await;
    let jane = affiliate(&app, &s, "jane@partners.test", "jane").await;
    paypal(&app, &s, &jane, "jane@paypal.test").await;
    let conversion = earn(&app, &s, &jane, 10_000, Some("inv-1")).await;
    // Bob has money but no payout method: the preview says why he is not paid.
    let bob = affiliate(&app, &s, "bob@partners.test", "bob").await;
    earn(&app, &s, &bob, 5_000, Some("inv-2")).await;
    let staff = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;

    let (status, html) = page(&app, &staff, "/dashboard/payouts").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("href=\"/dashboard/payouts\">Payouts</a>"),
        "nav link"
    );
    assert!(html.contains("No payout run yet.") && html.contains("Preview (dry run)"));
    assert!(html.contains(&format!("<option value=\"{}\"", s.program_id)));

    // The preview shows the payout and the skipped balance, and creates nothing.
    let run_form = |action: &'static str| {
        vec![
            ("program_id", s.program_id.clone()),
            ("currency", String::new()),
            ("action", action.to_owned()),
        ]
    };
    let fields = run_form("preview");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, html) = post(
        &app,
        &staff,
        "/dashboard/payouts/run",
        "/dashboard/payouts",
        &fields,
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("nothing was created"), "{html}");
    for shown in [
        "jane@partners.test",
        "jane@paypal.test",
        "10.00 USD",
        "0.50 USD (5%)",
        "9.50 USD",
        "bob@partners.test",
        "5.00 USD",
        "no payout method or destination set",
    ] {
        assert!(html.contains(shown), "{shown}: {html}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM payouts").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM payout_runs").await, 0);

    // A bad currency is a readable error on the form.
    let (status, _, html) = post(
        &app,
        &staff,
        "/dashboard/payouts/run",
        "/dashboard/payouts",
        &[
            ("program_id", ""),
            ("currency", "dollars"),
            ("action", "run"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(
        html.contains("alert-error") && html.contains("aria-invalid"),
        "{html}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM payout_runs").await, 0);

    // The run (after its confirmation, issue 20) creates jane's payout and shows its run.
    let fields = run_form("run");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, location, _) = post_confirmed(
        &app,
        &staff,
        "/dashboard/payouts/run",
        "/dashboard/payouts",
        &fields,
        &["1 payout totalling 10.00 USD (9.50 USD to the affiliates after fees)"],
    )
    .await;
    assert_eq!(status, 303);
    assert!(
        location.starts_with("/dashboard/payouts/runs/prun_"),
        "{location}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM payouts").await, 1);
    let pid = one(
        &app,
        "SELECT id FROM payouts WHERE affiliate_id = $1",
        &jane,
    )
    .await;
    assert_eq!(payout_status(&app, &pid).await, "pending");

    let (status, html) = page(&app, &staff, &location).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("jane@paypal.test") && html.contains("9.50 USD"),
        "{html}"
    );
    assert!(html.contains(&format!("href=\"/dashboard/payouts/{pid}\"")));
    assert!(html.contains("Mark all as sent") && html.contains("Mark all paid"));
    let export = format!("{location}/export?format=paypal");
    assert!(html.contains(&format!("href=\"{export}\"")), "{html}");
    assert!(html.contains("format=csv") && html.contains("format=json"));

    // The PayPal file: email, net, currency, our id, a note, the wallet.
    let res = staff.get(app.url(&export)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"payouts-prun_")
    );
    assert_eq!(
        res.text().await.unwrap(),
        format!("jane@paypal.test,9.50,USD,{pid},Commission payout from Acme,PAYPAL\r\n")
    );
    let (status, body) = page(&app, &staff, &format!("{location}/export?format=xml")).await;
    assert_eq!(status, 422);
    assert!(body.contains("format must be one of"), "{body}");
    let (status, body) = page(&app, &staff, &format!("{location}/export?format=json")).await;
    assert_eq!(status, 200);
    assert!(body.contains(&pid));

    // The payout's statement and its actions.
    let payout_path = format!("/dashboard/payouts/{pid}");
    let (status, html) = page(&app, &staff, &payout_path).await;
    assert_eq!(status, 200);
    assert!(html.contains(&conversion) && html.contains("10.00 USD") && html.contains("9.50 USD"));
    // The commission's line gives the date of its sale.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(
        html.contains(&format!("<td class=\"nowrap small\">{today}</td>")),
        "{html}"
    );
    assert!(
        html.contains("Mark as sent") && html.contains("Mark paid") && html.contains("Mark failed")
    );

    // Failing without a reason is refused with a readable message.
    let (status, _, html) = post(
        &app,
        &staff,
        &format!("{payout_path}/failed"),
        &payout_path,
        &[("reason", "  ")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("reason is required"), "{html}");
    assert_eq!(payout_status(&app, &pid).await, "pending");

    // Mark paid with a reference: paid, emailed, no more actions.
    let (status, location, _) = post(
        &app,
        &staff,
        &format!("{payout_path}/paid"),
        &payout_path,
        &[("reference", "PP-BATCH-1")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(location, format!("{payout_path}?done=paid"));
    assert_eq!(payout_status(&app, &pid).await, "paid");
    let (_, html) = page(&app, &staff, &location).await;
    assert!(html.contains("PP-BATCH-1") && html.contains("Marked as paid"));
    assert!(!html.contains(">Mark paid<"), "no actions once paid");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM email_outbox WHERE kind = 'payout_paid' AND to_email = 'jane@partners.test'")
            .await,
        1
    );
    // Twice: a readable 409, not a 500.
    let (status, _, html) = post(
        &app,
        &staff,
        &format!("{payout_path}/paid"),
        &payout_path,
        &[("reference", "")],
    )
    .await;
    assert_eq!(status, 409);
    assert!(
        html.contains("this payout is paid; it cannot be marked as paid"),
        "{html}"
    );

    // The list filters by status and affiliate.
    let (_, html) = page(&app, &staff, "/dashboard/payouts?status=paid").await;
    assert!(html.contains(&pid) && html.contains("PP-BATCH-1"));
    let (_, html) = page(&app, &staff, "/dashboard/payouts?status=pending").await;
    assert!(!html.contains(&format!("payout-{pid}")) && html.contains("No payouts match."));
    let (status, _) = page(&app, &staff, "/dashboard/payouts?status=bogus").await;
    assert_eq!(status, 422);
    let res = staff
        .get(app.url(&format!("/dashboard/payouts?affiliate_id={bob}")))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    let table = res.text().await.unwrap();
    assert!(table.starts_with("<div id=\"payout-table\">"), "{table}");
    assert!(!table.contains(&pid));

    // The affiliate page shows the payout settings, the new balances and the payouts link.
    let (_, html) = page(&app, &staff, &format!("/dashboard/affiliates/{jane}")).await;
    assert!(html.contains("PayPal: jane@paypal.test"), "{html}");
    assert!(html.contains("<th>In payouts</th>") && html.contains("<th>Fees</th>"));
    assert!(
        html.contains("<th>Paid</th><td class=\"num\">9.50</td>")
            && html.contains("<th>Fees</th><td class=\"num\">0.50</td>"),
        "paid and fees"
    );
    assert!(html.contains(&format!("href=\"/dashboard/payouts?affiliate_id={jane}\"")));

    // Another vendor sees none of it.
    let run_path = format!(
        "/dashboard/payouts/runs/{}",
        one(&app, "SELECT run_id FROM payouts WHERE id = $1", &pid).await
    );
    app.create_vendor("Beta", "owner@beta.test").await;
    let beta = app
        .signed_in_client("owner@beta.test", OWNER_PASSWORD)
        .await;
    for path in [
        run_path.clone(),
        format!("{run_path}/export?format=paypal"),
        payout_path.clone(),
    ] {
        let (status, body) = page(&app, &beta, &path).await;
        assert_eq!(status, 404, "{path}");
        assert!(!body.contains("jane"), "{path}");
    }
    for (path, fields) in [
        (format!("{payout_path}/failed"), vec![("reason", "nope")]),
        (format!("{payout_path}/processing"), vec![]),
        (format!("{run_path}/processing"), vec![]),
        (format!("{run_path}/paid"), vec![("reference", "x")]),
    ] {
        let (status, _, _) = post(&app, &beta, &path, "/dashboard/payouts", &fields).await;
        assert_eq!(status, 404, "{path}");
    }
    let (_, html) = page(&app, &beta, "/dashboard/payouts").await;
    assert!(!html.contains(&pid) && html.contains("No payout run yet."));
    assert_eq!(payout_status(&app, &pid).await, "paid");
}

#[tokio::test]
async fn a_run_is_marked_sent_then_paid_as_a_whole() {
    let app = spawn_app().await;
    let s = payout_shop(&app, "Acme", 0).await;
    let mut ids = Vec::new();
    for (n, name) in ["ann", "ben"].iter().enumerate() {
        let id = affiliate(&app, &s, &format!("{name}@partners.test"), name).await;
        paypal(&app, &s, &id, &format!("{name}@paypal.test")).await;
        earn(&app, &s, &id, 2_000, Some(format!("inv-{n}").as_str())).await;
        ids.push(id);
    }
    let staff = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    let (status, location, _) = post_confirmed(
        &app,
        &staff,
        "/dashboard/payouts/run",
        "/dashboard/payouts",
        &[("program_id", ""), ("currency", "usd"), ("action", "run")],
        &["2 payouts totalling 4.00 USD"],
    )
    .await;
    assert_eq!(status, 303);
    // Every active program: one program here, so its run.
    assert!(
        location.starts_with("/dashboard/payouts/runs/"),
        "{location}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payouts WHERE status = 'pending'")
            .await,
        2
    );

    let (status, to, _) = post(
        &app,
        &staff,
        &format!("{location}/processing"),
        &location,
        &[],
    )
    .await;
    assert_eq!(status, 303);
    let (_, html) = page(&app, &staff, &to).await;
    assert!(html.contains("2 payouts marked as sent."), "{html}");
    assert!(
        !html.contains("Mark all as sent"),
        "nothing pending any more"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payouts WHERE status = 'processing'")
            .await,
        2
    );

    // A reference that is too long is shown back, not a 500.
    let long = "x".repeat(501);
    let (status, _, html) = post(
        &app,
        &staff,
        &format!("{location}/paid"),
        &location,
        &[("reference", &long)],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("alert-error"), "{html}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payouts WHERE status = 'paid'")
            .await,
        0
    );

    let (status, to, _) = post_confirmed(
        &app,
        &staff,
        &format!("{location}/paid"),
        &location,
        &[("reference", "BATCH-7")],
        &["2 payouts", "4.00 USD", "BATCH-7"],
    )
    .await;
    assert_eq!(status, 303);
    let (_, html) = page(&app, &staff, &to).await;
    assert!(html.contains("2 payouts marked as paid."), "{html}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payouts WHERE status = 'paid' AND reference = 'BATCH-7'")
            .await,
        2
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM email_outbox WHERE kind = 'payout_paid'")
            .await,
        2
    );
    verify_ledger(&app).await;
}

pub fn program_form<'a>(overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("name", "Partners"),
        ("slug", ""),
        ("currency", "USD"),
        ("landing_url", "https://acme.test/"),
        ("status", "active"),
        ("holding_period_days", "30"),
        ("min_payout", "50.00"),
        ("cookie_duration_days", "30"),
        ("attribution_model", "last_touch"),
        ("attribution_window_days", "30"),
        ("terms_text", ""),
        ("commission_type", "percentage"),
        ("commission_percent", "20"),
        ("platform_fee", "0"),
        ("payout_day", ""),
        ("stripe_secret_key", ""),
    ];
    for (k, v) in overrides {
        fields.retain(|(key, _)| key != k);
        fields.push((k, v));
    }
    fields
}

#[tokio::test]
async fn the_program_form_saves_the_platform_fee_payout_day_and_stripe_key() {
    let app = spawn_app().await;
    app.setup("Acme", "owner@acme.test").await;
    let (id,): (String,) = sqlx::query_as("SELECT id FROM programs")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let path = format!("/dashboard/programs/{id}");
    let html = app.text(&path).await;
    for label in [
        "Platform fee (%)",
        "Payout day (1-28, empty = no schedule)",
        "Stripe secret key (for Stripe Connect payouts)",
    ] {
        assert!(html.contains(label), "{label}");
    }
    let read = || async {
        let row: (i64, Option<i64>, Option<String>) = sqlx::query_as(
            "SELECT platform_fee_bps, payout_day, stripe_secret_key FROM programs WHERE id = $1",
        )
        .bind(&id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        row
    };

    let res = app
        .post_form(
            &path,
            &path,
            &program_form(&[
                ("platform_fee", "2.75"),
                ("payout_day", "15"),
                ("stripe_secret_key", "sk_test_51abcDEF"),
            ]),
        )
        .await;
    assert_eq!(res.status(), 303);
    let (fee, day, key) = read().await;
    assert_eq!((fee, day, key.is_some()), (275, Some(15), true));
    let html = app.text(&format!("{path}?saved=1")).await;
    assert!(
        html.contains("name=\"platform_fee\" value=\"2.75\""),
        "{html}"
    );
    assert!(html.contains("name=\"payout_day\" value=\"15\""));
    assert!(html.contains("A key is set (never shown)") && !html.contains("sk_test_51abcDEF"));

    // Refused values are shown on the form and change nothing.
    for (overrides, message, field) in [
        (
            vec![("platform_fee", "60")],
            "between 0 and 50%",
            "platform_fee",
        ),
        (
            vec![("platform_fee", "2.555")],
            "at most two decimals",
            "platform_fee",
        ),
        (vec![("payout_day", "31")], "from 1 to 28", "payout_day"),
        (vec![("payout_day", "soon")], "whole number", "payout_day"),
        (
            vec![("stripe_secret_key", "pk_live_123")],
            "Stripe secret key",
            "stripe_secret_key",
        ),
    ] {
        let res = app.post_form(&path, &path, &program_form(&overrides)).await;
        assert_eq!(res.status(), 422, "{overrides:?}");
        let body = res.text().await.unwrap();
        assert!(body.contains(message), "{message}: {body}");
        assert!(
            body.contains(&format!("name=\"{field}\"")) && body.contains("aria-invalid"),
            "{overrides:?}"
        );
        assert!(
            body.contains("A key is set"),
            "the key stays known on a refused form"
        );
    }
    assert_eq!(read().await.0, 275);

    // An empty day turns the schedule off; the box removes the key; a blank key keeps it.
    let res = app
        .post_form(&path, &path, &program_form(&[("platform_fee", "")]))
        .await;
    assert_eq!(res.status(), 303);
    let (fee, day, key) = read().await;
    assert_eq!((fee, day, key.is_some()), (0, None, true));
    let res = app
        .post_form(&path, &path, &program_form(&[("remove_stripe_key", "1")]))
        .await;
    assert_eq!(res.status(), 303);
    assert!(read().await.2.is_none());
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
    let (status, location, _) = post(app, &browser, &path, &path, &[]).await;
    assert_eq!(status, 303);
    assert_eq!(location, "/p/acme/");
    (id, browser)
}

#[tokio::test]
async fn the_portal_shows_payouts_statements_and_saves_payout_settings() {
    let app = spawn_app().await;
    let s = payout_shop(&app, "Acme", 0).await;
    let (jane, browser) = portal_affiliate(&app, &s, "jane@partners.test", "jane").await;
    let conversion = earn(&app, &s, &jane, 10_000, Some("inv-1")).await;
    let bob = affiliate(&app, &s, "bob@partners.test", "bob").await;
    paypal(&app, &s, &bob, "bob@paypal.test").await;
    earn(&app, &s, &bob, 3_000, Some("inv-2")).await;

    // Not signed in: to the portal's sign-in page.
    for path in [
        "/p/acme/payouts",
        "/p/acme/payout-settings",
        "/p/acme/payouts/pay_x",
    ] {
        let res = new_client().get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(res.headers()["location"], "/p/acme/login", "{path}");
    }
    let (_, home) = page(&app, &browser, "/p/acme/").await;
    assert!(
        home.contains("href=\"/p/acme/payouts\"")
            && home.contains("href=\"/p/acme/payout-settings\"")
    );

    // The settings form; a bad PayPal email is shown back and saves nothing.
    let (status, html) = page(&app, &browser, "/p/acme/payout-settings").await;
    assert_eq!(status, 200);
    assert!(html.contains("value=\"paypal\"") && html.contains("value=\"bank_transfer\""));
    let (status, _, html) = post(
        &app,
        &browser,
        "/p/acme/payout-settings",
        "/p/acme/payout-settings",
        &[
            ("payout_method", "paypal"),
            ("payout_email", "not-an-email"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        html.contains("alert-error") && html.contains("must contain @"),
        "{html}"
    );
    assert!(html.contains("value=\"not-an-email\""), "re-filled: {html}");
    assert!(html.contains("value=\"paypal\" checked"), "{html}");
    let count_settings_mail = "SELECT COUNT(*) FROM email_outbox WHERE kind = 'payout_settings_changed' AND to_email = 'jane@partners.test'";
    assert_eq!(app.count(count_settings_mail).await, 0);
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM affiliates WHERE id = $1 AND payout_method IS NULL")
            .bind(&jane)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(n, 1);

    // A good one is saved and confirmed by email.
    let (status, location, _) = post(
        &app,
        &browser,
        "/p/acme/payout-settings",
        "/p/acme/payout-settings",
        &[
            ("payout_method", "paypal"),
            ("payout_email", " jane@paypal.test "),
            ("payout_details", "ignored"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(location, "/p/acme/payout-settings?saved=1");
    let (_, html) = page(&app, &browser, &location).await;
    assert!(
        html.contains("Saved. We emailed you a confirmation."),
        "{html}"
    );
    assert!(html.contains("value=\"jane@paypal.test\""), "{html}");
    let mail = one(
        &app,
        "SELECT body_text FROM email_outbox WHERE kind = 'payout_settings_changed' AND to_email = $1",
        "jane@partners.test",
    )
    .await;
    assert!(mail.contains("You changed"), "{mail}");
    assert_eq!(app.count(count_settings_mail).await, 1);

    // Both are paid by a run; jane's payout is marked paid.
    let (status, body) = app
        .call(&s.key, Method::POST, "/api/v1/payouts/run", Some(json!({})))
        .await;
    assert_eq!(status, 201, "{body}");
    let mine = one(
        &app,
        "SELECT id FROM payouts WHERE affiliate_id = $1",
        &jane,
    )
    .await;
    let bobs = one(&app, "SELECT id FROM payouts WHERE affiliate_id = $1", &bob).await;
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/payouts/{mine}/mark-paid"),
            Some(json!({"reference": "PP-42"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // History and balances.
    let (status, html) = page(&app, &browser, "/p/acme/payouts").await;
    assert_eq!(status, 200);
    assert!(html.contains("<th>In payouts</th>") && html.contains("<th>Fees</th>"));
    assert!(html.contains("10.00 USD") && html.contains("PP-42") && html.contains("status-paid"));
    assert!(html.contains(&format!("href=\"/p/acme/payouts/{mine}\"")));
    assert!(!html.contains(&bobs));

    // The paid email links to the statement, which lists the commission.
    let mail = one(
        &app,
        "SELECT body_text FROM email_outbox WHERE kind = 'payout_paid' AND to_email = $1",
        "jane@partners.test",
    )
    .await;
    let statement_path = format!("/p/acme/payouts/{mine}");
    assert!(mail.contains(&app.url(&statement_path)), "{mail}");
    let (status, html) = page(&app, &browser, &statement_path).await;
    assert_eq!(status, 200);
    let rule = one(
        &app,
        "SELECT rule FROM commissions WHERE conversion_id = $1",
        &conversion,
    )
    .await;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(html.contains(&rule) && html.contains(&today), "{html}");
    // The commission's line gives the date of its sale.
    assert!(
        html.contains(&format!("<td class=\"nowrap small\">{today}</td>")),
        "{html}"
    );
    assert!(
        html.contains("10.00 USD") && html.contains("PP-42") && html.contains("jane@paypal.test")
    );

    // Someone else's statement, or none at all, is a 404.
    for id in [bobs.as_str(), "pay_00000000000000000000000000"] {
        let (status, body) = page(&app, &browser, &format!("/p/acme/payouts/{id}")).await;
        assert_eq!(status, 404, "{id}");
        assert!(!body.contains("bob@paypal.test"));
    }

    // A failed payout's email points to the settings page, which works.
    let (status, _) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/payouts/{bobs}/mark-failed"),
            Some(json!({"reason": "account closed"})),
        )
        .await;
    assert_eq!(status, 200);
    let mail = one(
        &app,
        "SELECT body_text FROM email_outbox WHERE kind = 'payout_failed' AND to_email = $1",
        "bob@partners.test",
    )
    .await;
    assert!(mail.contains(&app.url("/p/acme/payout-settings")), "{mail}");
    let (status, _) = page(&app, &browser, "/p/acme/payout-settings").await;
    assert_eq!(status, 200);
}
