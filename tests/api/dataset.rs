//! The dataset loader (`affilia admin load-dataset`) at a small scale: the rows it writes are
//! the ones the API reads, the ledger verifies, and the next payout run pays exactly the
//! affiliates it reports as payable.

use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::{affilia, stderr, stdout};
use crate::helpers::vendors::vendor;
use crate::helpers::{OWNER_PASSWORD, TestApp, spawn_app};

fn rows(report: &Value, table: &str) -> u64 {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == table)
        .and_then(|r| r[1].as_u64())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_small_dataset_loads_verifies_and_reads_back() {
    let app = spawn_app().await;
    let v = vendor(&app, "Bulk").await;
    let out = affilia(
        &app,
        &[
            "admin",
            "load-dataset",
            "--vendor",
            &v.id,
            "--affiliates",
            "200",
            "--clicks",
            "5000",
            "--conversions",
            "1000",
            "--json",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rows(&report, "affiliates"), 200);
    assert_eq!(rows(&report, "enrollments"), 200);
    assert_eq!(rows(&report, "clicks"), 5000);
    assert_eq!(rows(&report, "conversions"), 1000);
    assert_eq!(rows(&report, "commissions"), 1000);
    assert!(rows(&report, "ledger_entries") > 2000, "{report}");
    assert!(rows(&report, "payouts") > 0, "{report}");
    assert!(rows(&report, "conversion_refunds") > 0, "{report}");

    let out = affilia(&app, &["ledger", "verify"]).await;
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("ledger OK"));

    let (status, list) = app
        .call(&v.key, Method::GET, "/api/v1/affiliates?per_page=5", None)
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["total"], 200);
    let (status, list) = app
        .call(&v.key, Method::GET, "/api/v1/conversions?per_page=5", None)
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["total"], 1000);
    let busiest = report["busiest_affiliate_id"].as_str().unwrap();
    let (status, one) = app
        .call(
            &v.key,
            Method::GET,
            &format!("/api/v1/affiliates/{busiest}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["email"], report["busiest_affiliate_email"]);
    let (status, list) = app
        .call(
            &v.key,
            Method::GET,
            &format!("/api/v1/conversions?affiliate_id={busiest}&per_page=5"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{list}");
    assert!(list["total"].as_i64().unwrap() > 0, "{list}");

    // What the loader calls payable is what a payout run pays.
    let (status, dry) = app
        .call(
            &v.key,
            Method::POST,
            "/api/v1/payouts/run",
            Some(json!({"dry_run": true})),
        )
        .await;
    assert_eq!(status, 200, "{dry}");
    let planned = dry["runs"][0]["payouts"].as_array().unwrap().len() as u64;
    assert_eq!(
        planned,
        report["payable_affiliates"].as_u64().unwrap(),
        "{dry}"
    );
    assert!(planned > 0);
    let (status, run) = app
        .call(&v.key, Method::POST, "/api/v1/payouts/run", Some(json!({})))
        .await;
    assert_eq!(status, 201, "{run}");
    let out = affilia(&app, &["ledger", "verify"]).await;
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    // A second load into the same vendor is refused before writing anything.
    let out = affilia(
        &app,
        &[
            "admin",
            "load-dataset",
            "--vendor",
            &v.id,
            "--affiliates",
            "5",
        ],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("already has affiliates"),
        "{}",
        stderr(&out)
    );
}

/// A run paying more affiliates than one statement holds (`RUN_CHUNK`): every payout gets
/// exactly its own commissions, its journal transaction and its `payout.created` event.
#[tokio::test]
async fn a_payout_run_larger_than_one_statement_pays_each_affiliate_exactly() {
    let app = spawn_app().await;
    let v = vendor(&app, "Bulk").await;
    let out = affilia(
        &app,
        &[
            "admin",
            "load-dataset",
            "--vendor",
            &v.id,
            "--affiliates",
            "2000",
            "--clicks",
            "2000",
            "--conversions",
            "9000",
            "--json",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));
    let payable = report["payable_affiliates"].as_u64().unwrap() as i64;
    assert!(
        payable > affilia::db::payouts::RUN_CHUNK as i64,
        "the dataset must need more than one chunk: {report}"
    );
    let events_before = app
        .count("SELECT COUNT(*) FROM events WHERE type = 'payout.created'")
        .await;
    let (status, run) = app
        .call(&v.key, Method::POST, "/api/v1/payouts/run", Some(json!({})))
        .await;
    assert_eq!(status, 201, "{run}");
    let payouts = run["runs"][0]["payouts"].as_array().unwrap();
    assert_eq!(payouts.len() as i64, payable);
    let run_id = payouts[0]["run_id"].as_str().unwrap().to_owned();
    let affiliates: std::collections::HashSet<&str> = payouts
        .iter()
        .map(|p| p["affiliate_id"].as_str().unwrap())
        .collect();
    assert_eq!(affiliates.len() as i64, payable, "one payout per affiliate");

    let of_run = |sql: &str| sql.replace("{run}", &run_id);
    assert_eq!(
        app.count(&of_run(
            "SELECT COUNT(*) FROM payouts WHERE run_id = '{run}'"
        ))
        .await,
        payable
    );
    assert_eq!(
        app.count(&of_run(
            "SELECT COUNT(*) FROM payouts p WHERE p.run_id = '{run}' AND p.commissions_cents <> \
             (SELECT COALESCE(SUM(c.amount_cents - c.reversed_cents), 0) FROM commissions c \
              JOIN payout_claims pc ON pc.commission_id = c.id WHERE pc.payout_id = p.id)"
        ))
        .await,
        0,
        "each payout records what its own commissions are worth"
    );
    assert_eq!(
        app.count(&of_run(
            "SELECT COUNT(*) FROM payouts p WHERE p.run_id = '{run}' AND NOT EXISTS \
             (SELECT 1 FROM payout_claims pc WHERE pc.payout_id = p.id)"
        ))
        .await,
        0,
        "every payout claimed its commissions"
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM commissions c JOIN payout_claims pc ON pc.commission_id = c.id \
             JOIN payouts p ON p.id = pc.payout_id \
             WHERE c.affiliate_id <> p.affiliate_id OR c.currency <> p.currency \
             OR c.program_id <> p.program_id"
        )
        .await,
        0,
        "no payout claimed another affiliate's commission"
    );
    assert_eq!(
        app.count(&of_run(
            "SELECT COUNT(DISTINCT l.txn_id) FROM ledger_entries l JOIN payouts p \
             ON p.id = l.payout_id WHERE p.run_id = '{run}' AND l.kind = 'payout'"
        ))
        .await,
        payable,
        "one journal transaction per payout"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE type = 'payout.created'")
            .await,
        events_before + payable
    );
    let mut ids: Vec<&str> = payouts.iter().map(|p| p["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    the_run_page_shows_it_a_page_at_a_time(&app, &v.owner, &run_id, &ids).await;

    let out = affilia(&app, &["ledger", "verify"]).await;
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

/// The dashboard's page of a run larger than one page: its summary counts the whole run,
/// and its pages together show every payout once.
async fn the_run_page_shows_it_a_page_at_a_time(
    app: &TestApp,
    owner: &str,
    run_id: &str,
    ids: &[&str],
) {
    let staff = app.signed_in_client(owner, OWNER_PASSWORD).await;
    let get = |path: String| {
        let staff = staff.clone();
        let url = app.url(&path);
        async move {
            let res = staff.get(url).send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let total = ids.len();
    let pages = total.div_ceil(100);
    assert!(
        pages > 1,
        "the run must need several pages: {total} payouts"
    );
    let mut seen: Vec<String> = Vec::new();
    for page in 1..=pages {
        let (status, html) = get(format!("/dashboard/payouts/runs/{run_id}?page={page}")).await;
        assert_eq!(status, 200, "page {page}: {html}");
        // The summary is the whole run's, whichever page is shown.
        assert!(
            html.contains(&format!("({total} still to pay: ")),
            "page {page} counts the whole run"
        );
        let first = (page - 1) * 100 + 1;
        let last = (page * 100).min(total);
        assert!(
            html.contains(&format!("{first}–{last} of {total}")),
            "page {page} says which payouts it shows"
        );
        assert_eq!(
            html.contains(&format!("runs/{run_id}?page={}\"", page + 1)),
            page < pages,
            "page {page}: a next link unless it is the last"
        );
        assert_eq!(html.contains("← Previous"), page > 1, "page {page}");
        seen.extend(
            html.split("id=\"payout-")
                .skip(1)
                .map(|rest| rest.split('"').next().unwrap().to_owned()),
        );
    }
    seen.sort_unstable();
    assert_eq!(seen, ids, "every payout of the run, each on one page");

    let (status, html) = get(format!(
        "/dashboard/payouts/runs/{run_id}?page={}",
        pages + 1
    ))
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("is past the last"), "{html}");
    assert!(!html.contains("id=\"payout-"));
    let (status, _) = get(format!("/dashboard/payouts/runs/{run_id}?page=two")).await;
    assert_eq!(status, 400, "a page that is not a number is refused");
}
