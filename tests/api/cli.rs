//! The `affilia` binary against the test database.

use std::process::Output;

use serde_json::Value;

use crate::helpers::affiliates::affiliate;
use crate::helpers::money::money_shop;
use crate::helpers::{TestApp, spawn_app};

pub(crate) async fn affilia(app: &TestApp, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_affilia"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("AFFILIA_SECRET_KEY", &app.secret_hex)
        .env("AFFILIA_DATA_DIR", std::env::temp_dir())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run affilia")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn admin_commands_create_a_vendor_and_a_working_api_key() {
    let app = spawn_app().await;
    let out = affilia(
        &app,
        &[
            "admin",
            "create-vendor",
            "--name",
            "Acme Cloud",
            "--owner-email",
            "owner@acme.test",
            "--owner-password",
            "long enough pw",
            "--currency",
            "EUR",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("slug: acme-cloud"), "{text}");
    assert!(text.contains("vendor_id: ven_"));

    let out = affilia(
        &app,
        &[
            "admin",
            "create-api-key",
            "--vendor",
            "acme-cloud",
            "--name",
            "backend",
            "--scope",
            "read",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let key = stdout(&out).trim().to_owned();
    assert!(key.starts_with("afk_"));
    let res = app.api_get(&key, "/api/v1/vendor").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["name"], "Acme Cloud");
    assert_eq!(body["default_currency"], "EUR");

    // The owner can sign in with the password given on the command line, then reset it.
    assert_eq!(
        app.login("owner@acme.test", "long enough pw")
            .await
            .status(),
        303
    );
    let out = affilia(
        &app,
        &[
            "admin",
            "reset-password",
            "--email",
            "owner@acme.test",
            "--password",
            "another long pw",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    app.signed_in_client("owner@acme.test", "another long pw")
        .await;

    let out = affilia(
        &app,
        &[
            "admin",
            "add-domain",
            "--vendor",
            "acme-cloud",
            "--host",
            "affiliates.acme.test",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    // Pending: the output names the TXT record, and the domain serves nothing yet.
    assert!(
        stdout(&out).contains("_affilia-challenge.affiliates.acme.test"),
        "{}",
        stdout(&out)
    );
    let on_domain = || async {
        app.state.portal_hosts.forget_all();
        app.client_for_host("affiliates.acme.test")
            .get(app.host_url("affiliates.acme.test", "/"))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(on_domain().await, 404);
    // The operator vouches for it.
    let out = affilia(&app, &["admin", "verify-domain", "affiliates.acme.test"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("acme-cloud"), "{}", stdout(&out));
    assert_eq!(on_domain().await, 200);
    // `--verified` on add-domain serves at once; an IP literal is refused.
    let out = affilia(
        &app,
        &[
            "admin",
            "add-domain",
            "--vendor",
            "acme-cloud",
            "--host",
            "partners.acme.test",
            "--verified",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    app.state.portal_hosts.forget_all();
    let res = app
        .client_for_host("partners.acme.test")
        .get(app.host_url("partners.acme.test", "/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let out = affilia(
        &app,
        &[
            "admin",
            "add-domain",
            "--vendor",
            "acme-cloud",
            "--host",
            "127.1",
            "--verified",
        ],
    )
    .await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("IP address"), "{}", stderr(&out));
    let out = affilia(&app, &["admin", "verify-domain", "unknown.acme.test"]).await;
    assert!(!out.status.success());
}

#[tokio::test]
async fn bad_arguments_fail_clearly_and_change_nothing() {
    let app = spawn_app().await;
    let out = affilia(
        &app,
        &[
            "admin",
            "create-vendor",
            "--name",
            "Acme",
            "--owner-email",
            "nope",
            "--owner-password",
            "long enough pw",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("email must contain @"),
        "{}",
        stderr(&out)
    );

    let out = affilia(
        &app,
        &[
            "admin",
            "create-api-key",
            "--vendor",
            "ghost",
            "--name",
            "x",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no such vendor"), "{}", stderr(&out));

    let out = affilia(
        &app,
        &[
            "admin",
            "create-api-key",
            "--vendor",
            "ghost",
            "--name",
            "x",
            "--scope",
            "root",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("scope must be full, write, read or publishable"));

    let out = affilia(&app, &["admin", "create-vendor", "--name", "Acme"]).await;
    assert_eq!(out.status.code(), Some(2), "clap reports missing flags");

    assert_eq!(app.count("SELECT COUNT(*) FROM vendors").await, 0);
}

#[tokio::test]
async fn serve_help_documents_every_setting() {
    let app = spawn_app().await;
    let out = affilia(&app, &["serve", "--help"]).await;
    let help = stdout(&out);
    for name in [
        "--bind",
        "AFFILIA_BIND",
        "DATABASE_URL",
        "AFFILIA_BASE_URL",
        "AFFILIA_DATA_DIR",
        "AFFILIA_SECRET_KEY",
        "AFFILIA_SMTP_URL",
        "AFFILIA_DASHBOARD_HOSTS",
        "AFFILIA_TRUSTED_PROXY",
    ] {
        assert!(help.contains(name), "{name} missing from:\n{help}");
    }
}

#[tokio::test]
async fn ledger_verify_passes_on_a_sound_ledger_and_names_each_violation() {
    use reqwest::Method;
    use serde_json::json;
    let app = spawn_app().await;
    let s = money_shop(&app, "Verify", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    let (status, _) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/conversions",
            Some(json!({"affiliate_id": jane, "amount_cents": 1000})),
        )
        .await;
    assert_eq!(status, 201);
    let out = affilia(&app, &["ledger", "verify"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("ledger OK"));

    // A stray line that balances nothing.
    sqlx::query(
        "INSERT INTO ledger_entries (id, vendor_id, txn_id, kind, account, affiliate_id, currency, \
         amount_cents, memo, created_at) VALUES ('led_bad', $1, 'ltx_bad', 'commission', 'pending', $2, \
         'USD', 7, '', 0)",
    )
    .bind(&s.vendor_id)
    .bind(&jane)
    .execute(app.db.pool())
    .await
    .unwrap();
    let out = affilia(&app, &["ledger", "verify"]).await;
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(text.contains("transaction ltx_bad sums to 7 USD"), "{text}");
    assert!(text.contains("pending balance 207"), "{text}");
    assert!(stderr(&out).contains("violation"), "{}", stderr(&out));
}
