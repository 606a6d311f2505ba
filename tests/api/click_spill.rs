//! No click is lost: a full click queue spills to disk, the spill is drained in order, and
//! what a crashed process left is stored exactly once by the next one.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use affilia::db::clicks::{self, ClickRow};
use affilia::domain::attribution::tracking::{journal, spill};
use reqwest::header::USER_AGENT;

use crate::helpers::affiliates::affiliate;
use crate::helpers::tracking::{BROWSER, aff_sess};
use crate::helpers::vendors::shop;
use crate::helpers::{TestApp, new_client, second_instance_with, spawn_app, spawn_app_with};

fn fresh_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "affilia-spill-test-{}",
        ulid::Ulid::generate().to_string().to_ascii_lowercase()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Ids of the stored clicks in the order they were inserted (SQLite's rowid, PostgreSQL's
/// heap position: both follow insertion in a table that is only ever appended to).
async fn ids_in_insert_order(app: &TestApp) -> Vec<String> {
    let sql = if app.database_url.starts_with("postgres") {
        "SELECT id FROM clicks ORDER BY ctid"
    } else {
        "SELECT id FROM clicks ORDER BY rowid"
    };
    sqlx::query_scalar(sql)
        .fetch_all(app.db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn every_answered_redirect_has_its_click_when_the_queue_overflows() {
    let dir = fresh_dir();
    let data_dir = dir.clone();
    // Two clicks of queue and no waiting: nearly every click of the burst goes to disk.
    let app = spawn_app_with(move |s| {
        s.click_queue = 2;
        s.click_queue_wait = Duration::ZERO;
        s.data_dir = data_dir;
        s.http_workers = Some(2);
    })
    .await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/").await;
    affiliate(&app, &shop, "jane@partners.test", "jane").await;

    let mut tasks = Vec::new();
    for _ in 0..16 {
        let url = app.url("/r/jane");
        tasks.push(tokio::spawn(async move {
            let client = new_client();
            let mut ids = Vec::new();
            for _ in 0..25 {
                let res = client
                    .get(&url)
                    .header(USER_AGENT, BROWSER)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 302);
                let location = res.headers()["location"].to_str().unwrap().to_owned();
                ids.push(aff_sess(&location));
            }
            ids
        }));
    }
    let mut answered = HashSet::new();
    for t in tasks {
        answered.extend(t.await.unwrap());
    }
    assert_eq!(answered.len(), 400);
    let stats = app.state.tracker.clicks.stats();
    assert!(stats.spilled > 0, "{stats:?}");
    assert_eq!(stats.lost, 0);

    app.flush_clicks().await;
    let stored: HashSet<String> = ids_in_insert_order(&app).await.into_iter().collect();
    assert_eq!(stored, answered);
    let stats = app.state.tracker.clicks.stats();
    assert_eq!(stats.spill_pending, 0, "{stats:?}");
    assert_eq!(stats.drained, stats.spilled, "{stats:?}");
    assert_eq!(stats.recorded, 400, "{stats:?}");
    assert_eq!(stats.buffered, 0, "{stats:?}");
    // Drained segments are removed.
    let root = spill::root(&dir, &app.database_url);
    for slot in spill::slots(&root).unwrap() {
        assert!(spill::segments(&slot).unwrap().is_empty(), "{slot:?}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A real click of `app` to copy rows from (the clicks table checks its references).
async fn template(app: &TestApp) -> ClickRow {
    let shop = shop(app, "Acme", "https://shop.acme.test/").await;
    affiliate(app, &shop, "jane@partners.test", "jane").await;
    let res = app
        .client
        .get(app.url("/r/jane"))
        .header(USER_AGENT, BROWSER)
        .send()
        .await
        .unwrap();
    let id = aff_sess(res.headers()["location"].to_str().unwrap());
    app.flush_clicks().await;
    sqlx::query_as("SELECT * FROM clicks WHERE id = $1")
        .bind(id)
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

fn row(template: &ClickRow, n: i64) -> ClickRow {
    ClickRow {
        id: format!("clk_spilled{n:019}"),
        created_at: template.created_at + n,
        ..template.clone()
    }
}

fn write_segment(dir: &Path, seq: u64, rows: &[ClickRow], torn_tail: Option<&ClickRow>) {
    std::fs::create_dir_all(dir).unwrap();
    let mut bytes = Vec::new();
    for r in rows {
        bytes.extend(spill::encode(r).unwrap());
    }
    if let Some(r) = torn_tail {
        // A crash in the middle of the last append.
        let rec = spill::encode(r).unwrap();
        bytes.extend(&rec[..rec.len() / 2]);
    }
    std::fs::write(dir.join(format!("{seq:016}.spill")), bytes).unwrap();
}

/// Starts another instance on `first`'s database with `data_dir` (a restart after a crash).
async fn restart(first: &TestApp, data_dir: &Path) -> TestApp {
    let data_dir = data_dir.to_owned();
    second_instance_with(first, move |s| s.data_dir = data_dir).await
}

#[tokio::test]
async fn a_restart_drains_what_a_crash_left_in_order_and_exactly_once() {
    let first = spawn_app().await;
    let t = template(&first).await;
    // Click 1 was stored before the crash, and segment 1 repeats click 3 (the process died
    // after inserting segment 0 and before deleting it, then spilled it again elsewhere):
    // both must be stored once. Click 7 was being appended when the process died.
    clicks::insert_batch(first.db.pool(), first.db.kind(), &[row(&t, 1)])
        .await
        .unwrap();
    let dir = fresh_dir();
    let root = spill::root(&dir, &first.database_url);
    let slot = spill::slot_dir(&root, 0);
    write_segment(&slot, 0, &[row(&t, 1), row(&t, 2), row(&t, 3)], None);
    write_segment(
        &slot,
        1,
        &[row(&t, 3), row(&t, 4), row(&t, 5), row(&t, 6)],
        Some(&row(&t, 7)),
    );
    // A second slot left by another crashed process on the same data dir.
    write_segment(&spill::slot_dir(&root, 1), 0, &[row(&t, 8)], None);
    // Spill of another database in the same data dir: not ours, never touched.
    let other = spill::slot_dir(&spill::root(&dir, "sqlite://elsewhere.db"), 0);
    write_segment(&other, 0, &[row(&t, 9)], None);

    let second = restart(&first, &dir).await;
    second.flush_clicks().await;
    // The start-up drain runs before the first flush is served.
    let order = ids_in_insert_order(&second).await;
    let expected: Vec<String> = [t.id.clone()]
        .into_iter()
        .chain([1, 2, 3, 4, 5, 6, 8].map(|n| row(&t, n).id))
        .collect();
    assert_eq!(order, expected);
    let stats = second.state.tracker.clicks.stats();
    assert_eq!(stats.drained, 8, "{stats:?}"); // 3 was offered twice, 1 already stored
    assert_eq!(stats.lost, 0);
    assert!(spill::segments(&slot).unwrap().is_empty());
    assert!(
        spill::segments(&spill::slot_dir(&root, 1))
            .unwrap()
            .is_empty()
    );
    assert_eq!(spill::segments(&other).unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(dir);
}

/// Found by the crash test (tests/crash): clicks waiting in the writer's channel were lost
/// when the process was SIGKILLed. They are journaled before they are queued; the next start
/// stores what a killed process journaled, once.
#[tokio::test]
async fn a_killed_process_journal_is_stored_by_the_next_start() {
    let dir = fresh_dir();
    let data_dir = dir.clone();
    let first = spawn_app_with(move |s| s.data_dir = data_dir).await;
    let t = template(&first).await;
    let root = spill::root(&dir, &first.database_url);
    // The served click went through the journal, which a flushed writer leaves empty.
    let live = journal::slot_dir(&root, 0);
    assert!(live.join("lock").exists(), "no journal slot at {live:?}");
    assert!(spill::segments(&live).unwrap().is_empty());

    // A process that journaled clicks 1-3 and died (its lock dies with it) after storing
    // click 1 only.
    clicks::insert_batch(first.db.pool(), first.db.kind(), &[row(&t, 1)])
        .await
        .unwrap();
    let killed = journal::Journal::new(root.clone());
    for n in 1..=3 {
        killed.append(&spill::encode(&row(&t, n)).unwrap()).unwrap();
    }
    drop(killed);
    let dead = journal::slot_dir(&root, 1);
    assert_eq!(spill::segments(&dead).unwrap().len(), 1);

    let second = restart(&first, &dir).await;
    second.flush_clicks().await;
    let order = ids_in_insert_order(&second).await;
    let expected: Vec<String> = [t.id.clone()]
        .into_iter()
        .chain([1, 2, 3].map(|n| row(&t, n).id))
        .collect();
    assert_eq!(order, expected);
    assert!(spill::segments(&dead).unwrap().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_slot_held_by_a_running_process_is_left_to_it() {
    let first = spawn_app().await;
    let t = template(&first).await;
    let dir = fresh_dir();
    let root = spill::root(&dir, &first.database_url);
    let slot = spill::slot_dir(&root, 0);
    write_segment(&slot, 0, &[row(&t, 1)], None);
    // Another process (here: this test) holds slot 0.
    let lock = spill::lock_slot(&slot).unwrap().expect("free slot");
    let second = restart(&first, &dir).await;
    second.flush_clicks().await;
    assert_eq!(second.count("SELECT COUNT(*) FROM clicks").await, 1);
    assert_eq!(spill::segments(&slot).unwrap().len(), 1);
    drop(lock);
    let third = restart(&first, &dir).await;
    third.flush_clicks().await;
    assert_eq!(third.count("SELECT COUNT(*) FROM clicks").await, 2);
    let _ = std::fs::remove_dir_all(dir);
}
