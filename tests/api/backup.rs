//! `affilia backup` / `affilia restore` (issue 21): an online SQLite copy that never
//! overwrites, a restore that checks what it restores and keeps the old file aside; on
//! PostgreSQL both point at pg_dump / pg_restore.

use affilia::db::{Db, DbKind};

use crate::cli::{affilia, stderr, stdout};
use crate::helpers::affiliates::affiliate;
use crate::helpers::vendors::shop_named;
use crate::helpers::{TestApp, spawn_app};

fn temp_path(name: &str) -> std::path::PathBuf {
    let unique = ulid::Ulid::generate().to_string().to_ascii_lowercase();
    std::env::temp_dir().join(format!("affilia-{name}-{unique}.db"))
}

async fn restore_into(
    app: &TestApp,
    target: &std::path::Path,
    file: &std::path::Path,
    force: bool,
) -> std::process::Output {
    let mut args = vec!["restore", file.to_str().unwrap()];
    if force {
        args.push("--force");
    }
    tokio::process::Command::new(env!("CARGO_BIN_EXE_affilia"))
        .args(&args)
        .env("DATABASE_URL", format!("sqlite://{}", target.display()))
        .env("AFFILIA_SECRET_KEY", &app.secret_hex)
        .env("AFFILIA_DATA_DIR", std::env::temp_dir())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run affilia")
}

async fn count(url: &str, sql: &'static str) -> i64 {
    let db = Db::connect(url).await.unwrap();
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(db.pool()).await.unwrap();
    db.close().await;
    n
}

fn remove(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test]
async fn postgres_backups_point_at_pg_dump() {
    let app = spawn_app().await;
    if app.db.kind() != DbKind::Postgres {
        return;
    }
    let file = temp_path("pg-backup");
    let out = affilia(&app, &["backup", file.to_str().unwrap()]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("pg_dump"), "{}", stderr(&out));
    assert!(!file.exists());
    let out = affilia(&app, &["restore", file.to_str().unwrap()]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("pg_restore"), "{}", stderr(&out));
}

#[tokio::test]
async fn a_live_sqlite_backup_restores_into_a_new_database() {
    let app = spawn_app().await;
    if app.db.kind() != DbKind::Sqlite {
        return;
    }
    let s = shop_named(&app, "Backed").await;
    affiliate(&app, &s, "jane@backed.test", "janeb").await;

    // While the server runs and keeps writing.
    let writer = {
        let app_url = app.url("/r/janeb");
        tokio::spawn(async move {
            let client = crate::helpers::new_client();
            for _ in 0..20 {
                let _ = client.get(&app_url).send().await;
            }
        })
    };
    let file = temp_path("backup");
    let out = affilia(&app, &["backup", file.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("backup written"), "{}", stdout(&out));
    writer.await.unwrap();
    // Never over an existing file.
    let out = affilia(&app, &["backup", file.to_str().unwrap()]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));

    // Into a fresh database: restored, migrated, the affiliate is there.
    let target = temp_path("restored");
    let target_url = format!("sqlite://{}", target.display());
    let out = restore_into(&app, &target, &file, false).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        count(&target_url, "SELECT COUNT(*) FROM affiliates").await,
        1
    );
    assert_eq!(
        count(&target_url, "SELECT MAX(version) FROM _sqlx_migrations").await,
        Db::latest_migration()
    );

    // Over a database holding a vendor: refused without --force, kept aside with it.
    let out = restore_into(&app, &target, &file, false).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    let out = restore_into(&app, &target, &file, true).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let aside = text
        .lines()
        .find_map(|l| l.strip_prefix("the previous database was kept as "))
        .expect("kept aside")
        .trim()
        .to_owned();
    assert!(std::path::Path::new(&aside).exists(), "{text}");
    assert_eq!(
        count(&format!("sqlite://{aside}"), "SELECT COUNT(*) FROM vendors").await,
        1
    );

    // A file that is not an Affilia database, or from an unknown migration.
    let junk = temp_path("junk");
    std::fs::write(&junk, b"not a database at all, just text").unwrap();
    let fresh = temp_path("fresh");
    let out = restore_into(&app, &fresh, &junk, true).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a SQLite database"),
        "{}",
        stderr(&out)
    );
    let future = temp_path("future");
    std::fs::copy(&file, &future).unwrap();
    let db = Db::connect(&format!("sqlite://{}", future.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE _sqlx_migrations SET version = 9999 WHERE version = $1")
        .bind(Db::latest_migration())
        .execute(db.pool())
        .await
        .unwrap();
    db.close().await;
    let out = restore_into(&app, &fresh, &future, true).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("migration 9999"), "{}", stderr(&out));
    assert!(!fresh.exists());

    for p in [&file, &target, &junk, &future, &fresh] {
        remove(p);
    }
    remove(std::path::Path::new(&aside));
}
