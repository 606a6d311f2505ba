//! Payout exports streamed in keyset chunks (issue 19): on a generated dataset whose
//! payouts fill more than one chunk, every format is byte for byte the file the whole-answer
//! renderers (`export::csv`, `export::paypal`, `export::json`) make of all the rows; and the
//! ledger list's kept total is exact after a bulk load.

use reqwest::Method;
use serde_json::Value;

use affilia::db;
use affilia::domain::payouts::export;

use crate::cli::{affilia, stderr, stdout};
use crate::helpers::spawn_app;
use crate::helpers::vendors::vendor;

#[tokio::test]
async fn streamed_exports_equal_the_whole_file_on_a_dataset_of_several_chunks() {
    let app = spawn_app().await;
    let v = vendor(&app, "Streamed").await;
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
            "1000",
            "--conversions",
            "9000",
            "--json",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();

    // The loader recounted the journal: the list's total is the journal's count.
    let (status, ledger) = app
        .call(&v.key, Method::GET, "/api/v1/ledger?per_page=1", None)
        .await;
    assert_eq!(status, 200, "{ledger}");
    let lines = app
        .count(&format!(
            "SELECT COUNT(*) FROM ledger_entries WHERE vendor_id = '{}'",
            v.id
        ))
        .await;
    assert_eq!(ledger["total"], lines, "{report}");

    // The payable balances the dataset leaves are paid in a new run: its payouts and the
    // historic ones fill more than one chunk.
    let (status, run) = app
        .call(
            &v.key,
            Method::POST,
            "/api/v1/payouts/run",
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(status, 201, "{run}");

    // What the files should hold: every payout (newest first) with its affiliate.
    let filter = db::payouts::Filter {
        vendor_id: &v.id,
        ..Default::default()
    };
    let payouts = db::payouts::page(app.db.pool(), &filter, i64::MAX, 0)
        .await
        .unwrap();
    assert!(
        payouts.len() as i64 > export::CHUNK,
        "the dataset must fill several chunks: {} payouts",
        payouts.len()
    );
    let mut affiliates = std::collections::HashMap::new();
    for p in &payouts {
        if !affiliates.contains_key(&p.affiliate_id) {
            let a = db::affiliates::by_id(app.db.pool(), &v.id, &p.affiliate_id)
                .await
                .unwrap()
                .unwrap();
            affiliates.insert(p.affiliate_id.clone(), a);
        }
    }
    let all: Vec<export::Line<'_>> = payouts
        .iter()
        .map(|p| (p, &affiliates[&p.affiliate_id]))
        .collect();
    let vendor_name = db::vendors::by_id(app.db.pool(), &v.id)
        .await
        .unwrap()
        .unwrap()
        .name;

    let get = |path: String| {
        let (app, key) = (&app, v.key.clone());
        async move {
            let res = app.api_get(&key, &path).await;
            let status = res.status().as_u16();
            let disposition = res
                .headers()
                .get("content-disposition")
                .map(|h| h.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (status, disposition, res.text().await.unwrap())
        }
    };
    let (status, disposition, csv) = get("/api/v1/payouts/export?format=csv".into()).await;
    assert_eq!(status, 200);
    assert!(
        disposition.starts_with("attachment; filename=\"payouts-"),
        "{disposition}"
    );
    assert_eq!(csv, export::csv(&all));
    assert_eq!(csv.lines().count(), payouts.len() + 1);

    let (status, _, json) = get("/api/v1/payouts/export?format=json".into()).await;
    assert_eq!(status, 200);
    assert_eq!(json, export::json(&all).to_string());

    let (status, _, paypal) = get("/api/v1/payouts/export?format=paypal".into()).await;
    assert_eq!(status, 200, "{paypal}");
    let expected = export::paypal(&all, &format!("Commission payout from {vendor_name}")).unwrap();
    assert_eq!(paypal, expected);

    // A filtered export (one run) is the run's rows, and the dashboard's run file is the
    // same file.
    let run = payouts[payouts.len() / 2].run_id.clone();
    let of_run: Vec<export::Line<'_>> = all
        .iter()
        .filter(|(p, _)| p.run_id == run)
        .copied()
        .collect();
    let (status, disposition, csv) =
        get(format!("/api/v1/payouts/export?format=csv&run_id={run}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        disposition,
        format!("attachment; filename=\"payouts-{run}.csv\"")
    );
    assert_eq!(csv, export::csv(&of_run));

    // Nothing matching: the CSV header alone, an empty JSON array, an empty PayPal file.
    let none = "&run_id=prun_none";
    assert_eq!(
        get(format!("/api/v1/payouts/export?format=csv{none}"))
            .await
            .2,
        export::csv(&[])
    );
    assert_eq!(
        get(format!("/api/v1/payouts/export?format=json{none}"))
            .await
            .2,
        "[]"
    );
    assert_eq!(
        get(format!("/api/v1/payouts/export?format=paypal{none}"))
            .await
            .2,
        ""
    );

    // Refusals still come before the first byte, as the API's error envelope.
    let (status, _, body) = get("/api/v1/payouts/export?format=xml".into()).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("\"format\""), "{body}");
}
