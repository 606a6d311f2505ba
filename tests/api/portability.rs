//! Vendor export and import (issue 21): every vendor table classified, a vendor with real
//! traffic moved between SQLite and PostgreSQL row for row, secrets left behind, and bad
//! files refused without writing anything.

use std::collections::BTreeSet;

use affilia::db::{Db, DbKind, portable};
use affilia::portability::{EXCLUDED, EXPORTED, redacted};
use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::{affilia, stderr, stdout};
use crate::helpers::affiliates::affiliate;
use crate::helpers::money::{earn, event, money_shop, pay_everyone, refer, verify_ledger};
use crate::helpers::tracking::click;
use crate::helpers::vendors::Shop;
use crate::helpers::{DbGuard, TestApp, spawn_app, spawn_app_with};

/// The PostgreSQL server used when the test database is SQLite (always there on the
/// project's machines and in CI).
fn pg_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| std::env::var("PG_ADMIN_URL").ok())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A fresh, empty database of the given kind (removed when the guard drops).
async fn empty_database(kind: DbKind) -> (String, DbGuard) {
    let unique = ulid::Ulid::generate().to_string().to_ascii_lowercase();
    match kind {
        DbKind::Sqlite => {
            let path = std::env::temp_dir().join(format!("affilia-test-{unique}.db"));
            (
                format!("sqlite://{}", path.display()),
                DbGuard::Sqlite(path),
            )
        }
        DbKind::Postgres => {
            let admin_url = pg_admin_url();
            let name = format!("affilia_t_{unique}");
            sqlx::any::install_default_drivers();
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
                .await
                .expect("connect to PostgreSQL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create database");
            let mut url = url::Url::parse(&admin_url).unwrap();
            url.set_path(&format!("/{name}"));
            (url.to_string(), DbGuard::Postgres { admin_url, name })
        }
    }
}

fn other(kind: DbKind) -> DbKind {
    match kind {
        DbKind::Sqlite => DbKind::Postgres,
        DbKind::Postgres => DbKind::Sqlite,
    }
}

/// Runs `affilia` with `DATABASE_URL` set to `url`.
async fn affilia_on(app: &TestApp, url: &str, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_affilia"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("AFFILIA_SECRET_KEY", &app.secret_hex)
        .env("AFFILIA_DATA_DIR", std::env::temp_dir())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run affilia")
}

fn temp_file(name: &str) -> std::path::PathBuf {
    let unique = ulid::Ulid::generate().to_string().to_ascii_lowercase();
    std::env::temp_dir().join(format!("affilia-{name}-{unique}.jsonl"))
}

/// Every row of `table` for the vendor, as sorted JSON text (a comparable shape on both
/// databases).
async fn rows_of(db: &Db, table: &str, key: &str, vendor: &str) -> Vec<String> {
    let mut conn = db.pool().acquire().await.unwrap();
    let cols = portable::columns(&mut conn, db.kind(), table)
        .await
        .unwrap();
    let mut out = Vec::new();
    portable::for_each_row(&mut conn, table, &cols, key, vendor, |mut row| {
        // Redacted secrets differ by design; the endpoint's state is checked on its own.
        for col in redacted(table) {
            row.remove(*col);
        }
        if table == "webhook_endpoints" {
            row.remove("enabled");
            row.remove("disabled_reason");
        }
        out.push(Value::Object(row).to_string());
        Ok(())
    })
    .await
    .unwrap();
    out.sort();
    out
}

/// A vendor with real traffic through the API: affiliates, clicks, a referral, billing
/// events, conversions and their commissions, a refund, a paid payout, a webhook endpoint.
async fn busy_vendor(app: &TestApp) -> (Shop, String) {
    let s = money_shop(app, "Portable", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(app, &s, "jane@portable.test", "janep").await;
    let john = affiliate(app, &s, "john@portable.test", "johnp").await;
    let browser = crate::helpers::new_client();
    for _ in 0..3 {
        let (status, _) = click(app, &browser, "/r/janep").await;
        assert_eq!(status, 302);
    }
    let (status, _) = click(app, &crate::helpers::new_client(), "/r/johnp").await;
    assert_eq!(status, 302);
    app.flush_clicks().await;
    refer(app, &s, "cus_port_1", "janep").await;
    let (status, body) = event(
        app,
        &s,
        json!({"id": "evt_port_1", "type": "charge.succeeded", "customer_id": "cus_port_1",
               "amount_cents": 10_000, "currency": "USD",
               "occurred_at": chrono::Utc::now().to_rfc3339()}),
    )
    .await;
    assert!(status == 200 || status == 201, "{body}");
    earn(app, &s, &jane, 5_000, Some("manual-1")).await;
    earn(app, &s, &john, 2_500, None).await;
    pay_everyone(app, &s, &jane).await;
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/webhook-endpoints",
            Some(json!({"url": "https://hooks.portable.example/affilia", "events": ["conversion.created"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let secret = body["secret"].as_str().unwrap().to_owned();
    app.run_jobs().await;
    (s, secret)
}

#[tokio::test]
async fn every_vendor_table_is_exported_or_excluded_with_a_reason() {
    let app = spawn_app().await;
    let mut conn = app.db.pool().acquire().await.unwrap();
    let live = portable::vendor_tables(&mut conn, app.db.kind())
        .await
        .unwrap();
    assert!(live.len() > 20, "{live:?}");
    let exported: BTreeSet<&str> = EXPORTED.iter().map(|(t, _)| *t).collect();
    let excluded: BTreeSet<&str> = EXCLUDED.iter().map(|(t, _)| *t).collect();
    let unclassified: Vec<&String> = live
        .iter()
        .filter(|t| !exported.contains(t.as_str()) && !excluded.contains(t.as_str()))
        .collect();
    assert!(
        unclassified.is_empty(),
        "tables with a vendor_id that are neither exported nor excluded (add them to \
         portability::EXPORTED or EXCLUDED with a reason): {unclassified:?}"
    );
    assert!(exported.is_disjoint(&excluded));
    for (table, reason) in EXCLUDED {
        assert!(live.iter().any(|t| t == table), "{table} is gone");
        assert!(reason.len() > 20, "{table} needs a reason");
    }
    for (table, _) in EXPORTED {
        let cols = portable::columns(&mut conn, app.db.kind(), table)
            .await
            .unwrap();
        assert!(!cols.is_empty(), "{table} does not exist");
    }
    assert!(excluded.contains("api_keys"));
}

#[tokio::test]
async fn a_vendor_moves_to_the_other_database_row_for_row() {
    let app = spawn_app().await;
    let (s, secret) = busy_vendor(&app).await;
    verify_ledger(&app).await;
    let file = temp_file("export");
    let out = affilia(
        &app,
        &["export", file.to_str().unwrap(), "--vendor", &s.vendor_id],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("ledger_entries:"), "{}", stdout(&out));
    let text = std::fs::read_to_string(&file).unwrap();
    // Secrets and API keys never reach the file.
    assert!(!text.contains(&secret));
    assert!(!text.contains(crate::helpers::money::SECRET));
    assert!(!text.contains(&s.key[..12]));
    assert!(!text.contains("\"table\":\"api_keys\""));
    let header: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(header["format"], "affilia-vendor-export");
    assert_eq!(header["version"], 1);
    assert_eq!(header["schema_migration"], Db::latest_migration());

    // An existing file is never overwritten.
    let again = affilia(
        &app,
        &["export", file.to_str().unwrap(), "--vendor", &s.vendor_id],
    )
    .await;
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );

    let target_kind = other(app.db.kind());
    let (target_url, _guard) = empty_database(target_kind).await;
    let out = affilia_on(&app, &target_url, &["import", file.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 webhook endpoint(s)"),
        "{}",
        stdout(&out)
    );

    let target = Db::connect(&target_url).await.unwrap();
    assert_eq!(target.kind(), target_kind);
    let mut compared = 0;
    for (table, key) in EXPORTED {
        let source_rows = rows_of(&app.db, table, key, &s.vendor_id).await;
        let target_rows = rows_of(&target, table, key, &s.vendor_id).await;
        assert_eq!(source_rows, target_rows, "table {table} differs");
        compared += source_rows.len();
    }
    assert!(compared > 50, "only {compared} rows compared");
    for table in [
        "clicks",
        "ledger_entries",
        "commissions",
        "payouts",
        "billing_events",
    ] {
        let key = EXPORTED.iter().find(|(t, _)| *t == table).unwrap().1;
        assert!(
            !rows_of(&app.db, table, key, &s.vendor_id).await.is_empty(),
            "no {table} to compare"
        );
    }
    let violations = affilia::domain::earnings::ledger::verify(&target)
        .await
        .unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    // The endpoint came without its secret: a new one, disabled until rotated.
    let (enabled, new_secret): (i64, String) =
        sqlx::query_as("SELECT enabled, secret FROM webhook_endpoints WHERE vendor_id = $1")
            .bind(&s.vendor_id)
            .fetch_one(target.pool())
            .await
            .unwrap();
    assert_eq!(enabled, 0);
    assert_ne!(new_secret, secret);
    assert!(new_secret.starts_with("whsec_"));
    let (keys,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM api_keys")
        .fetch_one(target.pool())
        .await
        .unwrap();
    assert_eq!(keys, 0);

    // The same vendor again is refused and writes nothing.
    let (before,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM ledger_entries")
        .fetch_one(target.pool())
        .await
        .unwrap();
    let out = affilia_on(&app, &target_url, &["import", file.to_str().unwrap()]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    let (after,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM ledger_entries")
        .fetch_one(target.pool())
        .await
        .unwrap();
    assert_eq!(before, after);
    target.close().await;
    let _ = std::fs::remove_file(&file);
}

/// Imports `text` into a fresh database of the test's kind; returns (stderr, vendors and
/// rows written).
async fn import_text(app: &TestApp, text: &str) -> (bool, String, i64) {
    let file = temp_file("bad");
    std::fs::write(&file, text).unwrap();
    let (url, _guard) = crate::helpers::fresh_database().await;
    let out = affilia_on(app, &url, &["import", file.to_str().unwrap()]).await;
    let target = Db::connect(&url).await.unwrap();
    let mut written = 0;
    for table in [
        "vendors",
        "affiliates",
        "programs",
        "clicks",
        "ledger_entries",
    ] {
        let (n,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(target.pool())
                .await
                .unwrap();
        written += n;
    }
    target.close().await;
    let _ = std::fs::remove_file(&file);
    (out.status.success(), stderr(&out), written)
}

#[tokio::test]
async fn bad_files_are_refused_and_write_nothing() {
    let app = spawn_app_with(|_| {}).await;
    let (s, _) = busy_vendor(&app).await;
    let file = temp_file("good");
    let out = affilia(
        &app,
        &["export", file.to_str().unwrap(), "--vendor", &s.vendor_id],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let good = std::fs::read_to_string(&file).unwrap();
    let _ = std::fs::remove_file(&file);
    let lines: Vec<&str> = good.lines().collect();
    let with_header = |h: Value| {
        let mut l = lines.clone();
        let h = h.to_string();
        l[0] = &h;
        l.join("\n") + "\n"
    };
    let mut header: Value = serde_json::from_str(lines[0]).unwrap();

    // The good file imports (so the refusals below are about the damage alone).
    let (ok, err, written) = import_text(&app, &good).await;
    assert!(ok, "{err}");
    assert!(written > 10);

    header["version"] = json!(2);
    let (ok, err, written) = import_text(&app, &with_header(header.clone())).await;
    assert!(!ok);
    assert!(err.contains("format version 2 is not supported"), "{err}");
    assert_eq!(written, 0);

    header["version"] = json!(1);
    header["schema_migration"] = json!(9_999);
    let (ok, err, written) = import_text(&app, &with_header(header.clone())).await;
    assert!(!ok);
    assert!(err.contains("migration 9999"), "{err}");
    assert_eq!(written, 0);

    header["format"] = json!("something-else");
    let (ok, err, written) = import_text(&app, &with_header(header)).await;
    assert!(!ok);
    assert!(err.contains("not an Affilia vendor export"), "{err}");
    assert_eq!(written, 0);

    // A line cut in the middle, near the end (after rows were inserted).
    let cut = &good[..good.len() - 40];
    let (ok, err, written) = import_text(&app, cut).await;
    assert!(!ok);
    assert!(err.contains("not valid JSON"), "{err}");
    assert_eq!(written, 0);

    // Cut at a line boundary: no end line.
    let without_end = lines[..lines.len() - 1].join("\n") + "\n";
    let (ok, err, written) = import_text(&app, &without_end).await;
    assert!(!ok);
    assert!(err.contains("truncated"), "{err}");
    assert_eq!(written, 0);

    // An unknown table (a file that smuggles in API keys, say).
    let mut l = lines.clone();
    let smuggled =
        json!({"table": "api_keys", "row": {"id": "key_x", "vendor_id": s.vendor_id}}).to_string();
    l.insert(l.len() - 1, &smuggled);
    let (ok, err, written) = import_text(&app, &(l.join("\n") + "\n")).await;
    assert!(!ok);
    assert!(err.contains("unknown table \"api_keys\""), "{err}");
    assert_eq!(written, 0);

    // A row of another vendor.
    let mut l = lines.clone();
    let foreign =
        json!({"table": "audit_log", "row": {"id": "aud_x", "vendor_id": "ven_other"}}).to_string();
    l.insert(l.len() - 1, &foreign);
    let (ok, err, written) = import_text(&app, &(l.join("\n") + "\n")).await;
    assert!(!ok);
    assert!(err.contains("another vendor"), "{err}");
    assert_eq!(written, 0);

    // A commission's payout (the pre-0041 shape) that is not a payout id.
    let mut l: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    let at = l
        .iter()
        .position(|l| l.contains("\"table\":\"commissions\""))
        .unwrap();
    let mut commission: Value = serde_json::from_str(&l[at]).unwrap();
    commission["row"]["payout_id"] = json!(5);
    l[at] = commission.to_string();
    let (ok, err, written) = import_text(&app, &(l.join("\n") + "\n")).await;
    assert!(!ok);
    assert!(err.contains("commissions.payout_id holds 5"), "{err}");
    assert_eq!(written, 0);

    let (ok, err, written) = import_text(&app, "").await;
    assert!(!ok);
    assert!(err.contains("empty"), "{err}");
    assert_eq!(written, 0);
}

/// The lines of a fresh export of the vendor, parsed.
async fn exported_lines(app: &TestApp, vendor_id: &str, name: &str) -> Vec<Value> {
    let file = temp_file(name);
    let out = affilia(
        app,
        &["export", file.to_str().unwrap(), "--vendor", vendor_id],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&file).unwrap();
    let _ = std::fs::remove_file(&file);
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Imports `lines` (an edited export: its end line is recounted) into a fresh database of
/// the test's kind, which must succeed; returns the database and its guard.
async fn import_edited(
    app: &TestApp,
    mut lines: Vec<Value>,
    name: &str,
) -> (Db, crate::helpers::DbGuard) {
    let rows = lines.iter().filter(|v| v.get("table").is_some()).count();
    *lines.last_mut().unwrap() = serde_json::json!({"end": {"rows": rows}});
    let text = lines
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    let file = temp_file(name);
    std::fs::write(&file, text + "\n").unwrap();
    let (url, guard) = crate::helpers::fresh_database().await;
    let out = affilia_on(app, &url, &["import", file.to_str().unwrap()]).await;
    let _ = std::fs::remove_file(&file);
    assert!(out.status.success(), "{}", stderr(&out));
    (Db::connect(&url).await.unwrap(), guard)
}

/// A file written before partner groups existed (no group tables, enrollments without a
/// `group_id`) imports with every program's default group and every enrollment in it, as
/// the migration placed the rows that existed when it ran.
#[tokio::test]
async fn an_export_from_before_partner_groups_imports_into_default_groups() {
    let app = spawn_app().await;
    let (s, _) = busy_vendor(&app).await;
    let group_tables = ["partner_groups", "group_terms", "group_rules"];
    let mut lines = Vec::new();
    let mut enrollments = 0;
    for mut v in exported_lines(&app, &s.vendor_id, "pre-groups").await {
        if let Some(table) = v["table"].as_str() {
            if group_tables.contains(&table) {
                continue;
            }
            if table == "enrollments" {
                v["row"].as_object_mut().unwrap().remove("group_id");
                enrollments += 1;
            }
        }
        lines.push(v);
    }
    assert!(enrollments > 0, "no enrollments exported");
    let (target, _guard) = import_edited(&app, lines, "pre-groups-old").await;
    let (ungrouped,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM enrollments WHERE vendor_id = $1 AND (group_id IS NULL OR \
         group_id NOT IN (SELECT id FROM partner_groups WHERE is_default = 1 \
         AND program_id = enrollments.program_id))",
    )
    .bind(&s.vendor_id)
    .fetch_one(target.pool())
    .await
    .unwrap();
    assert_eq!(
        ungrouped, 0,
        "every enrollment is in its program's default group"
    );
    let (programs, defaults): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM programs WHERE vendor_id = $1), \
         (SELECT COUNT(*) FROM partner_groups WHERE vendor_id = $1 AND is_default = 1)",
    )
    .bind(&s.vendor_id)
    .fetch_one(target.pool())
    .await
    .unwrap();
    assert!(programs > 0);
    assert_eq!(programs, defaults, "one default group per program");
    let violations = affilia::domain::earnings::ledger::verify(&target)
        .await
        .unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    target.close().await;
}

/// A file written before migration 0041 has each commission's payout in
/// `commissions.payout_id` and no `payout_claims` rows: import makes each its claim, so the
/// paid commissions stay settled by their payout.
#[tokio::test]
async fn an_export_from_before_payout_claims_imports_each_commissions_payout_as_its_claim() {
    let app = spawn_app().await;
    let (s, _) = busy_vendor(&app).await;
    let exported = exported_lines(&app, &s.vendor_id, "pre-claims").await;
    let mut claims = std::collections::HashMap::new();
    for v in &exported {
        if v["table"] == "payout_claims" {
            claims.insert(
                v["row"]["commission_id"].as_str().unwrap().to_owned(),
                v["row"]["payout_id"].clone(),
            );
        }
    }
    assert!(!claims.is_empty(), "no claims exported");
    let mut lines = Vec::new();
    let mut unclaimed = 0;
    for mut v in exported {
        if v["table"] == "payout_claims" {
            continue;
        }
        if v["table"] == "commissions" {
            let id = v["row"]["id"].as_str().unwrap().to_owned();
            let payout = claims.get(&id).cloned().unwrap_or(Value::Null);
            unclaimed += usize::from(payout.is_null());
            v["row"]
                .as_object_mut()
                .unwrap()
                .insert("payout_id".into(), payout);
        }
        lines.push(v);
    }
    assert!(
        unclaimed > 0,
        "every commission was claimed: nothing to tell apart"
    );
    let (target, _guard) = import_edited(&app, lines, "pre-claims-old").await;
    assert_eq!(
        rows_of(&target, "payout_claims", "vendor_id", &s.vendor_id).await,
        rows_of(&app.db, "payout_claims", "vendor_id", &s.vendor_id).await,
        "each commission is claimed by the payout its payout_id named, and no other"
    );
    let violations = affilia::domain::earnings::ledger::verify(&target)
        .await
        .unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    target.close().await;
}
