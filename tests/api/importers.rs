//! Importers from Rewardful, FirstPromoter, Tolt and PartnerStack: the four formats,
//! idempotency, merge by email, refusals, dry runs, old links, opening balances in the
//! ledger, tenant isolation, and the command line.

use affilia::domain::earnings::ledger;
use affilia::domain::tenancy::audit::Actor;
use affilia::importers::{self, Files, Options, Outcome, Provider, Report, Subject};
use reqwest::Method;
use serde_json::json;

use crate::cli::{affilia, stdout};
use crate::helpers::affiliates::affiliate;
use crate::helpers::money::verify_ledger;
use crate::helpers::tracking::{BROWSER, aff_sess, click};
use crate::helpers::vendors::{Shop, shop};
use crate::helpers::{TestApp, spawn_app};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/importers");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}/{name}")).unwrap()
}

/// The fixture files of each tool: affiliates, referrals, commissions.
fn files(provider: Provider) -> Files {
    let (a, r, c) = match provider {
        Provider::Rewardful => (
            "rewardful_affiliates.csv",
            None,
            Some("rewardful_commissions.csv"),
        ),
        Provider::FirstPromoter => (
            "firstpromoter_promoters.csv",
            Some("firstpromoter_referrals.csv"),
            None,
        ),
        Provider::Tolt => (
            "tolt_partners.csv",
            Some("tolt_customers.csv"),
            Some("tolt_commissions.csv"),
        ),
        Provider::PartnerStack => (
            "partnerstack_partners.csv",
            Some("partnerstack_customers.csv"),
            Some("partnerstack_rewards.csv"),
        ),
    };
    Files {
        affiliates: fixture(a),
        referrals: r.map(fixture),
        commissions: c.map(fixture),
    }
}

async fn import(app: &TestApp, vendor_id: &str, provider: Provider, dry_run: bool) -> Report {
    let opts = Options {
        provider,
        program_id: None,
        dry_run,
        progress: false,
        actor: &Actor::Cli,
    };
    importers::run(&app.db, vendor_id, &opts, &files(provider))
        .await
        .unwrap()
}

fn line<'r>(report: &'r Report, subject: Subject, name: &str) -> &'r importers::Line {
    report
        .lines
        .iter()
        .find(|l| l.subject == subject && l.name.eq_ignore_ascii_case(name))
        .unwrap_or_else(|| panic!("no {subject:?} line for {name}: {:#?}", report.lines))
}

/// Row counts of every table an import writes, for one vendor.
async fn census(app: &TestApp, vendor_id: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for table in [
        "affiliates",
        "enrollments",
        "referrals",
        "conversions",
        "commissions",
        "ledger_entries",
        "events",
        "audit_log",
    ] {
        let n: (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE vendor_id = $1"
        )))
        .bind(vendor_id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        out.push(n.0);
    }
    out
}

#[tokio::test]
async fn each_format_imports_and_a_second_run_changes_nothing() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://shop.acme.test/").await;
    for provider in Provider::ALL {
        let first = import(&app, &s.vendor_id, provider, false).await;
        assert!(
            first.affiliates.created >= 2,
            "{provider:?}: {:#?}",
            first.affiliates
        );
        assert!(
            first.opening_balances.created >= 1,
            "{provider:?}: {:#?}",
            first.lines
        );
        if provider != Provider::Rewardful {
            assert!(
                first.referrals.created >= 1,
                "{provider:?}: {:#?}",
                first.lines
            );
        }
        let after_first = census(&app, &s.vendor_id).await;
        let second = import(&app, &s.vendor_id, provider, false).await;
        assert!(!second.changed(), "{provider:?}: {:#?}", second.lines);
        for counts in [second.affiliates, second.referrals, second.opening_balances] {
            assert_eq!(counts.created + counts.merged, 0, "{provider:?}");
        }
        assert_eq!(
            second.affiliates.unchanged,
            first.affiliates.created + first.affiliates.merged + first.affiliates.unchanged
        );
        assert_eq!(second.referrals.unchanged, first.referrals.created);
        assert_eq!(
            second.opening_balances.unchanged,
            first.opening_balances.created
        );
        assert_eq!(
            census(&app, &s.vendor_id).await,
            after_first,
            "{provider:?}"
        );
    }
    // The codes of each tool were kept.
    for code in [
        "jane-doe", "raj", "ann13", "bob_r", "tina", "uma-t", "patkim", "quinn-ng",
    ] {
        let n = app
            .count(&format!(
                "SELECT COUNT(*) FROM enrollments WHERE code = '{code}'"
            ))
            .await;
        assert_eq!(n, 1, "code {code}");
    }
    // Imported affiliates are active, named, stamped with their tool, and got no email.
    let (status, source, first, payout): (String, String, String, Option<String>) = sqlx::query_as(
        "SELECT status, external_source, first_name, payout_email FROM affiliates WHERE email = 'jane@example.com'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), source.as_str(), first.as_str()),
        ("active", "rewardful", "Jane")
    );
    assert_eq!(payout.as_deref(), Some("jane.pay@example.com"));
    let tina: (String,) =
        sqlx::query_as("SELECT external_id FROM affiliates WHERE email = 'tina@example.com'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(tina.0, "pt_1");
    assert_eq!(app.count("SELECT COUNT(*) FROM email_outbox").await, 0);
    // One audit entry per import that changed something.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'program.imported'")
            .await,
        4
    );
    verify_ledger(&app).await;
}

#[tokio::test]
async fn the_same_email_merges_into_the_existing_affiliate() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://shop.acme.test/").await;
    let jane = affiliate(&app, &s, "Jane@Example.com", "janey").await;

    let report = import(&app, &s.vendor_id, Provider::Rewardful, false).await;
    let l = line(&report, Subject::Affiliate, "jane@example.com");
    assert_eq!(l.outcome, Outcome::Merged, "{l:?}");
    assert!(
        l.detail
            .as_deref()
            .unwrap()
            .contains("keeps its code janey"),
        "{l:?}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM affiliates WHERE LOWER(email) = 'jane@example.com'")
            .await,
        1
    );
    // Her referred customers and her history went to the existing affiliate.
    let referred: (String,) =
        sqlx::query_as("SELECT affiliate_id FROM referrals WHERE customer_id = 'cus_R1001'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(referred.0, jane);
    let balances = ledger::balances(&app.db, &s.vendor_id, &jane)
        .await
        .unwrap();
    assert_eq!(balances[0].paid_cents, 2000);

    let again = import(&app, &s.vendor_id, Provider::Rewardful, false).await;
    assert_eq!(
        line(&again, Subject::Affiliate, "jane@example.com").outcome,
        Outcome::Unchanged
    );
    assert!(!again.changed());
}

#[tokio::test]
async fn refused_rows_are_reported_with_their_line_and_reason() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://shop.acme.test/").await;
    // Another vendor already holds the code "raj": Raj's row is refused, not given it.
    let other = shop(&app, "Other", "https://other.test/").await;
    affiliate(&app, &other, "someone@other.test", "raj").await;

    let report = import(&app, &s.vendor_id, Provider::Rewardful, false).await;
    let refused: Vec<(usize, &str, &str)> = report
        .lines
        .iter()
        .filter(|l| l.outcome == Outcome::Refused)
        .map(|l| (l.line, l.subject.as_str(), l.detail.as_deref().unwrap()))
        .collect();
    assert!(
        refused.iter().any(|(n, s, d)| *n == 4
            && *s == "affiliate"
            && d.contains("raj belongs to another affiliate")),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|(n, _, d)| *n == 5 && d.contains("not an email")),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|(n, s, d)| *n == 6 && *s == "commission" && d.contains("not in this program")),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|(n, _, d)| *n == 7 && d.contains("not in this program")),
        "{refused:?}"
    );
    // Raj's commission rows have nobody to go to: refused too, and nothing of his written.
    assert!(refused.iter().any(|(n, _, _)| *n == 5), "{refused:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM affiliates WHERE LOWER(email) = 'raj@example.com'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM referrals WHERE customer_id = 'cus_R2001'")
            .await,
        0
    );
    // Emma's invalid token was normalised, and the report says so.
    let emma = line(&report, Subject::Affiliate, "emma@example.com");
    assert_eq!(emma.outcome, Outcome::Created);
    assert!(
        emma.detail.as_deref().unwrap().contains("given emma-stone"),
        "{emma:?}"
    );
    // Unknown columns are reported.
    assert_eq!(report.files[0].columns.unknown, ["campaign_name"]);
    assert!(
        report
            .describe()
            .iter()
            .any(|l| l.contains("unknown columns, not imported: campaign_name"))
    );

    // A file without an email column is refused whole, with nothing written.
    let before = census(&app, &s.vendor_id).await;
    let opts = Options {
        provider: Provider::Tolt,
        program_id: None,
        dry_run: false,
        progress: false,
        actor: &Actor::Cli,
    };
    let bad = Files {
        affiliates: "Name,Code\nZed,zed\n".into(),
        ..Files::default()
    };
    let err = importers::run(&app.db, &s.vendor_id, &opts, &bad)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no email column"), "{err}");
    // So is another vendor's program.
    let opts = Options {
        program_id: Some(&other.program_id),
        ..opts
    };
    let err = importers::run(&app.db, &s.vendor_id, &opts, &files(Provider::Tolt))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no such program"), "{err}");
    assert_eq!(census(&app, &s.vendor_id).await, before);
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_reports_what_would_happen() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://shop.acme.test/").await;
    for provider in Provider::ALL {
        let before = census(&app, &s.vendor_id).await;
        let all_before = app.count("SELECT COUNT(*) FROM affiliates").await
            + app.count("SELECT COUNT(*) FROM ledger_entries").await;
        let dry = import(&app, &s.vendor_id, provider, true).await;
        assert!(dry.dry_run && dry.changed(), "{provider:?}");
        assert_eq!(census(&app, &s.vendor_id).await, before, "{provider:?}");
        assert_eq!(
            app.count("SELECT COUNT(*) FROM affiliates").await
                + app.count("SELECT COUNT(*) FROM ledger_entries").await,
            all_before
        );
        // The real run does what the dry run said.
        let real = import(&app, &s.vendor_id, provider, false).await;
        assert_eq!(
            (dry.affiliates, dry.referrals, dry.opening_balances),
            (real.affiliates, real.referrals, real.opening_balances),
            "{provider:?}"
        );
        assert_ne!(census(&app, &s.vendor_id).await, before);
    }
}

/// The tracking snippet's click report for a page the visitor landed on.
async fn snippet_click(app: &TestApp, code: &str, url: &str) -> String {
    let body = json!({"code": code, "url": url}).to_string();
    let res = app
        .client
        .post(app.url("/api/v1/track"))
        .header("content-type", "text/plain;charset=UTF-8")
        .header("origin", "https://shop.acme.test")
        .header(reqwest::header::USER_AGENT, BROWSER)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    v["click_id"].as_str().unwrap().to_owned()
}

/// A sale of `customer` after the referral by `aff_sess`; returns the affiliate credited.
async fn sale(app: &TestApp, s: &Shop, customer: &str, aff_sess: Option<&str>, n: u32) -> String {
    if let Some(sess) = aff_sess {
        let (status, r) = app
            .call(
                &s.key,
                Method::POST,
                "/api/v1/referrals",
                Some(json!({"customer_id": customer, "aff_sess": sess})),
            )
            .await;
        assert!(status == 200 || status == 201, "{r}");
    }
    let (status, e) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/events",
            Some(json!({"id": format!("evt_{n}"), "type": "charge.succeeded", "customer_id": customer,
                "amount_cents": 10000, "currency": "USD"})),
        )
        .await;
    assert!(status == 200 || status == 201, "{e}");
    let conversion = e["conversion_id"].as_str().unwrap_or_else(|| panic!("{e}"));
    let (affiliate,): (String,) =
        sqlx::query_as("SELECT affiliate_id FROM conversions WHERE id = $1")
            .bind(conversion)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    affiliate
}

#[tokio::test]
async fn imported_partners_old_links_still_attribute_a_sale() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://shop.acme.test/").await;
    import(&app, &s.vendor_id, Provider::Rewardful, false).await;
    import(&app, &s.vendor_id, Provider::FirstPromoter, false).await;
    import(&app, &s.vendor_id, Provider::PartnerStack, false).await;
    let id_of = |email: &'static str| {
        let db = app.db.clone();
        async move {
            let (id,): (String,) = sqlx::query_as("SELECT id FROM affiliates WHERE email = $1")
                .bind(email)
                .fetch_one(db.pool())
                .await
                .unwrap();
            id
        }
    };
    let jane = id_of("jane@example.com").await;
    let ann = id_of("ann@example.com").await;
    let pat = id_of("pat@example.com").await;

    // `https://shop/?via=jane-doe` through the snippet's click endpoint.
    let sess = snippet_click(&app, "jane-doe", "https://shop.acme.test/?via=jane-doe").await;
    assert_eq!(sale(&app, &s, "cus_new1", Some(&sess), 1).await, jane);
    // `/r/jane-doe`.
    let (status, location) = click(&app, &app.client, "/r/jane-doe").await;
    assert_eq!(status, 302);
    assert_eq!(
        sale(&app, &s, "cus_new2", Some(&aff_sess(&location)), 2).await,
        jane
    );
    // `/r/?fp_ref=ann13` and `/r/?gspk=<base64 partner key>`.
    let (status, location) = click(&app, &app.client, "/r/?fp_ref=ann13").await;
    assert_eq!(status, 302, "{location}");
    assert!(location.contains("ref=ann13"), "{location}");
    assert_eq!(
        sale(&app, &s, "cus_new3", Some(&aff_sess(&location)), 3).await,
        ann
    );
    let (_, location) = click(&app, &app.client, "/r/?gspk=cGF0a2lt").await;
    assert!(location.contains("ref=patkim"), "{location}");
    assert_eq!(
        sale(&app, &s, "cus_new4", Some(&aff_sess(&location)), 4).await,
        pat
    );
    // A parameter naming no code is the "link not found" page.
    let (status, _) = click(&app, &app.client, "/r/?utm_source=x").await;
    assert_eq!(status, 404);
    // A customer the old tool had referred buys: credited without any click.
    assert_eq!(sale(&app, &s, "cus_R1001", None, 5).await, jane);
    assert_eq!(sale(&app, &s, "cus_F1", None, 6).await, ann);

    // The snippet reads every tool's parameter.
    let js = app.text("/t.js").await;
    for p in [
        "\"via\"",
        "\"aff\"",
        "\"fpr\"",
        "\"fp_ref\"",
        "\"gspk\"",
        "atob",
    ] {
        assert!(js.contains(p), "t.js lacks {p}");
    }
    verify_ledger(&app).await;
}

#[tokio::test]
async fn opening_balances_enter_the_ledger_and_paid_history_is_never_paid_again() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://shop.acme.test/").await;
    import(&app, &s.vendor_id, Provider::Rewardful, false).await;
    import(&app, &s.vendor_id, Provider::FirstPromoter, false).await;
    let balance = |email: &'static str| {
        let (db, vendor) = (app.db.clone(), s.vendor_id.clone());
        async move {
            let (id,): (String,) = sqlx::query_as("SELECT id FROM affiliates WHERE email = $1")
                .bind(email)
                .fetch_one(db.pool())
                .await
                .unwrap();
            ledger::balances(&db, &vendor, &id).await.unwrap()
        }
    };
    // Jane: 12.50 + 7.50 paid, 20.00 due.
    let jane = balance("jane@example.com").await;
    assert_eq!(jane.len(), 1);
    assert_eq!(
        (
            jane[0].currency.as_str(),
            jane[0].paid_cents,
            jane[0].available_cents,
            jane[0].pending_cents
        ),
        ("USD", 2000, 2000, 0)
    );
    // Raj: 1,000.00 EUR pending (held like any commission).
    let raj = balance("RAJ@example.com").await;
    assert_eq!(
        (raj[0].currency.as_str(), raj[0].pending_cents),
        ("EUR", 100_000)
    );
    // Ann (totals in the promoters file): earned 150, paid 100 → 50 owed.
    let ann = balance("ann@example.com").await;
    assert_eq!((ann[0].paid_cents, ann[0].available_cents), (10_000, 5_000));
    // One balanced transaction per affiliate and currency.
    assert_eq!(
        app.count(
            "SELECT COUNT(DISTINCT txn_id) FROM ledger_entries WHERE kind = 'opening_balance'"
        )
        .await,
        3
    );
    verify_ledger(&app).await;
    let out = affilia(&app, &["ledger", "verify"]).await;
    assert!(out.status.success(), "{}", stdout(&out));

    // A payout run takes what is owed, never the paid history.
    let payable: (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM commissions \
         WHERE vendor_id = $1 AND status = 'available' AND NOT EXISTS \
         (SELECT 1 FROM payout_claims pc WHERE pc.commission_id = commissions.id)",
    )
    .bind(&s.vendor_id)
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(payable.0, 2000 + 5000);
}

#[tokio::test]
async fn another_vendors_data_is_untouched() {
    let app = spawn_app().await;
    let a = shop(&app, "Acme", "https://shop.acme.test/").await;
    let b = shop(&app, "Beta", "https://beta.test/").await;
    // Beta has its own Jane (same email): she stays Beta's and is not merged.
    let beta_jane = affiliate(&app, &b, "jane@example.com", "beta-jane").await;
    let before = census(&app, &b.vendor_id).await;
    for provider in Provider::ALL {
        import(&app, &a.vendor_id, provider, false).await;
    }
    assert_eq!(census(&app, &b.vendor_id).await, before);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM affiliates WHERE email = 'jane@example.com'")
            .await,
        2
    );
    let (external,): (Option<String>,) =
        sqlx::query_as("SELECT external_source FROM affiliates WHERE id = $1")
            .bind(&beta_jane)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(external, None);
    // Beta's API does not see Acme's imported affiliates.
    let (status, list) = app
        .call(&b.key, Method::GET, "/api/v1/affiliates?per_page=100", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 1, "{list}");
}

#[tokio::test]
async fn the_command_line_imports_prints_the_report_and_keeps_the_vendor_import() {
    let app = spawn_app().await;
    let s = shop(&app, "Acme", "https://shop.acme.test/").await;
    let slug: (String,) = sqlx::query_as("SELECT slug FROM vendors WHERE id = $1")
        .bind(&s.vendor_id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let affiliates = format!("{DIR}/tolt_partners.csv");
    let referrals = format!("{DIR}/tolt_customers.csv");
    let commissions = format!("{DIR}/tolt_commissions.csv");
    let args = |dry: bool| {
        let mut a = vec![
            "import",
            "tolt",
            affiliates.as_str(),
            "--vendor",
            slug.0.as_str(),
            "--referrals",
            referrals.as_str(),
            "--commissions",
            commissions.as_str(),
        ];
        if dry {
            a.push("--dry-run");
        }
        a
    };
    let before = census(&app, &s.vendor_id).await;
    let out = affilia(&app, &args(true)).await;
    assert!(out.status.success(), "{}", crate::cli::stderr(&out));
    assert!(
        stdout(&out).contains("dry run (nothing written)"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("affiliates: 2 created"),
        "{}",
        stdout(&out)
    );
    assert_eq!(census(&app, &s.vendor_id).await, before);

    let out = affilia(&app, &args(false)).await;
    assert!(out.status.success(), "{}", crate::cli::stderr(&out));
    assert!(
        stdout(&out)
            .contains("commissions line 4: commission uma@example.com refused: status Rejected"),
        "{}",
        stdout(&out)
    );
    let out = affilia(&app, &args(false)).await;
    let text = stdout(&out);
    assert!(
        text.contains("affiliates: 0 created, 0 merged, 2 unchanged, 0 refused"),
        "{text}"
    );
    assert!(
        text.contains("referrals: 0 created, 0 merged, 2 unchanged, 0 refused"),
        "{text}"
    );
    assert!(
        text.contains("opening balances: 0 created, 0 merged, 2 unchanged, 0 refused"),
        "{text}"
    );

    // The vendor-export form is unchanged: a file alone is a vendor export.
    let out = affilia(&app, &["import", "/nonexistent/export.jsonl"]).await;
    assert!(!out.status.success());
    assert!(
        crate::cli::stderr(&out).contains("cannot open"),
        "{}",
        crate::cli::stderr(&out)
    );
    let out = affilia(
        &app,
        &["import", "/nonexistent/export.jsonl", "--vendor", "x"],
    )
    .await;
    assert!(crate::cli::stderr(&out).contains("not a tool to import from"));
}

/// A multipart form body: the CSRF token first, then `fields` (name, text) and `files`
/// (name, content) as a browser sends them.
fn form_body(token: &str, fields: &[(&str, &str)], files: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "----affiliaImportBoundary";
    let mut body = String::new();
    let mut part = |name: &str, filename: Option<&str>, value: &str| {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""
        ));
        if let Some(f) = filename {
            body.push_str(&format!("; filename=\"{f}\"\r\nContent-Type: text/csv"));
        }
        body.push_str(&format!("\r\n\r\n{value}\r\n"));
    };
    part("csrf_token", None, token);
    for (name, value) in fields {
        part(name, None, value);
    }
    for (name, value) in files {
        part(name, Some("export.csv"), value);
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

#[tokio::test]
async fn the_dashboard_previews_then_imports_an_upload() {
    let app = spawn_app().await;
    let (s, _, staff) = crate::helpers::pages::setup(&app).await;
    let (status, html) = crate::helpers::pages::page(&app, &staff, "/dashboard/import").await;
    assert_eq!(status, 200);
    assert!(html.contains("Import from another tool") && html.contains("PartnerStack"));
    let token = crate::helpers::csrf_from(&html);
    let post = |path: &'static str,
                fields: Vec<(&'static str, String)>,
                files: Vec<(&'static str, String)>| {
        let (staff, token, url) = (staff.clone(), token.clone(), app.url(path));
        async move {
            let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let fl: Vec<(&str, &str)> = files.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (ct, body) = form_body(&token, &f, &fl);
            let res = staff
                .post(url)
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let fields = vec![
        ("provider", "tolt".to_owned()),
        ("program_id", s.program_id.clone()),
    ];
    let files = vec![
        ("affiliates", fixture("tolt_partners.csv")),
        ("referrals", fixture("tolt_customers.csv")),
        ("commissions", fixture("tolt_commissions.csv")),
    ];

    let before = census(&app, &s.vendor_id).await;
    let (status, html) = post("/dashboard/import/preview", fields.clone(), files.clone()).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Preview: nothing is written yet"), "{html}");
    assert!(
        html.contains("tina@example.com") && html.contains("status Rejected"),
        "{html}"
    );
    assert!(html.contains("Confirm the import"));
    assert_eq!(census(&app, &s.vendor_id).await, before);

    // Confirming posts the preview's hidden fields back.
    let (status, html) = post(
        "/dashboard/import/confirm",
        [fields.clone(), files.clone()].concat(),
        vec![],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Imported"), "{html}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM affiliates WHERE external_source = 'tolt'")
            .await,
        2
    );
    verify_ledger(&app).await;

    // Bad input: no tool, no file, a file that is not CSV text, an oversized upload.
    let (status, html) = post("/dashboard/import/preview", vec![], files.clone()).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("choose the tool"), "{html}");
    let (status, html) = post("/dashboard/import/preview", fields.clone(), vec![]).await;
    assert_eq!(status, 422);
    assert!(html.contains("affiliates CSV"), "{html}");
    let (status, html) = post(
        "/dashboard/import/preview",
        fields.clone(),
        vec![("affiliates", "Name\nZed\n".into())],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("no email column"), "{html}");
    let huge = format!("Email\n{}", "x@example.com\n".repeat(70_000));
    let (status, _) = post(
        "/dashboard/import/preview",
        fields.clone(),
        vec![("affiliates", huge)],
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM affiliates WHERE external_source = 'tolt'")
            .await,
        2
    );
}

/// Runs the tracking snippet (`static/t.js`) in Node with a minimal browser (location,
/// cookie, fetch) for each landing query; returns the code it keeps for each.
fn snippet_codes(queries: &[&str]) -> Vec<Option<String>> {
    const HARNESS: &str = r#"
const src = require('fs').readFileSync(process.argv[1], 'utf8');
const out = [];
for (const search of JSON.parse(process.argv[2])) {
  let cookie = '';
  const window = {
    location: { search, href: 'https://shop.acme.test/' + search, protocol: 'https:' },
    fetch: () => Promise.resolve({ ok: false }),
  };
  const document = {
    currentScript: { src: 'https://affiliates.acme.test/t.js', getAttribute: () => null },
    referrer: '',
    get cookie() { return cookie; },
    set cookie(v) { cookie = v.split(';')[0]; },
  };
  new Function('window', 'document', src)(window, document);
  const r = window.Affilia.getReferral();
  out.push(r ? r.code : null);
}
console.log(JSON.stringify(out));
"#;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/static/t.js");
    let output = std::process::Command::new("node")
        .args([
            "-e",
            HARNESS,
            script,
            &serde_json::to_string(queries).unwrap(),
        ])
        .output()
        .expect("node is needed for the snippet test (CI installs it for the browser tests)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_snippet_reads_every_tools_link_parameter() {
    let codes = snippet_codes(&[
        "?via=Jane-Doe",
        "?fpr=ann13",
        "?fp_ref=ann13",
        "?aff=tina",
        "?gspk=cGF0a2lt",
        "?gspk=cGF0a2ltMQ%3D%3D",
        "?ref=first&via=second",
        "?utm_source=x",
        "?gspk=!!!",
    ]);
    let want = [
        Some("jane-doe"),
        Some("ann13"),
        Some("ann13"),
        Some("tina"),
        Some("patkim"),
        Some("patkim1"),
        Some("first"),
        None,
        None,
    ];
    assert_eq!(
        codes,
        want.iter()
            .map(|c| c.map(str::to_owned))
            .collect::<Vec<_>>()
    );
}
