//! The job worker: exactly-once across workers, leases, graceful release, restarts.

use std::collections::HashSet;

use affilia::config::Secret;
use affilia::db::{Db, now_ms};
use affilia::domain::tenancy::mail::{self, Brand, Message, Recipient, Rendered, Sender};
use affilia::jobs::Worker;
use affilia::jobs::mailer::Mailer;
use tokio::sync::watch;

use crate::helpers::smtp_sink::SmtpSink;
use crate::helpers::{TestApp, spawn_app_with};

/// A plain email of kind `test` that a person may unsubscribe from.
struct TestEmail {
    i: usize,
    unsubscribe_url: String,
}

impl Message for TestEmail {
    const KIND: &'static str = "test";

    fn render(&self, brand: &Brand<'_>) -> askama::Result<Rendered> {
        let i = self.i;
        Ok(Rendered {
            subject: format!("Message {i}"),
            text: format!(
                "Hello\n\nThis is message {i}.\n\n-- \n{}\n",
                brand.vendor_name
            ),
            html: format!("<p>Hello</p><p>This is message {i}.</p>"),
        })
    }

    fn unsubscribe_url(&self) -> Option<&str> {
        Some(&self.unsubscribe_url)
    }
}

async fn enqueue_emails(app: &TestApp, vendor_id: &str, n: usize) -> Vec<String> {
    let vendor = affilia::db::vendors::by_id(app.db.pool(), vendor_id)
        .await
        .unwrap()
        .unwrap();
    let sender = Sender {
        address: "no-reply@affilia.test".into(),
        base_url: app.url(""),
    };
    let mut ids = Vec::new();
    for i in 0..n {
        let mut tx = app.db.begin().await.unwrap();
        let to = format!("person{i}@example.test");
        let content = TestEmail {
            i,
            unsubscribe_url: app.url("/unsubscribe"),
        };
        ids.push(
            mail::enqueue(
                &mut tx,
                &sender,
                &vendor,
                Recipient {
                    email: &to,
                    name: Some("Person"),
                },
                &content,
            )
            .await
            .unwrap(),
        );
        tx.commit().await.unwrap();
    }
    ids
}

#[tokio::test]
async fn two_workers_on_one_database_deliver_every_email_exactly_once() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = spawn_app_with(move |s| s.smtp_url = Some(Secret::new(url))).await;
    let acme = app.create_vendor("Acme", "owner@acme.test").await;
    let ids = enqueue_emails(&app, &acme.vendor.id, 60).await;

    // Two independent workers, each with its own pool, as two instances would have.
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let db = Db::connect(&app.database_url).await.unwrap();
        let worker = Worker::new(db, Mailer::from_url(Some(&sink.url())).unwrap());
        tasks.push(tokio::spawn(async move {
            let (_stop, stopped) = watch::channel(false);
            worker.run_due(now_ms(), &stopped).await.unwrap()
        }));
    }
    let mut ran = Vec::new();
    for t in tasks {
        ran.push(t.await.unwrap());
    }
    assert_eq!(ran.iter().sum::<usize>(), 60, "{ran:?}");

    let messages = sink.wait_for(60, 10).await;
    assert_eq!(messages.len(), 60);
    let received: HashSet<String> = messages
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    let expected: HashSet<String> = ids
        .iter()
        .map(|id| format!("<{id}@affilia.test>"))
        .collect();
    assert_eq!(received, expected);
    assert!(
        messages
            .iter()
            .all(|m| m.header("List-Unsubscribe").as_deref()
                == Some(&format!("<{}>", app.url("/unsubscribe"))))
    );
    let (sent, attempts): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(SUM(attempts) AS BIGINT) FROM email_outbox WHERE status = 'sent'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!((sent, attempts), (60, 60));
    let (done,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE status = 'done' AND attempts = 1")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(done, 60);
}

#[tokio::test]
async fn a_crashed_workers_lease_expires_and_the_job_runs_again() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = spawn_app_with(move |s| s.smtp_url = Some(Secret::new(url))).await;
    let acme = app.create_vendor("Acme", "owner@acme.test").await;
    enqueue_emails(&app, &acme.vendor.id, 1).await;
    let now = now_ms();
    // A worker claims the job and dies without finishing it.
    let claimed = affilia::db::jobs::claim(app.db.pool(), "wrk_dead", now, now + 300_000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(app.run_jobs_at(now + 1_000).await, 0, "leased elsewhere");
    assert_eq!(app.run_jobs_at(now + 301_000).await, 1, "lease expired");
    assert_eq!(sink.wait_for(1, 5).await.len(), 1);
}

#[tokio::test]
async fn stopping_hands_back_claimed_jobs_without_using_attempts() {
    let app = spawn_app_with(|_| {}).await;
    let acme = app.create_vendor("Acme", "owner@acme.test").await;
    enqueue_emails(&app, &acme.vendor.id, 3).await;
    let (_stop, stopped) = watch::channel(true);
    let worker = Worker::new(app.db.clone(), Mailer::DevMailbox);
    assert_eq!(worker.run_due(now_ms(), &stopped).await.unwrap(), 0);
    let (pending, attempts, leased): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(SUM(attempts) AS BIGINT), CAST(SUM(lease_until) AS BIGINT) FROM jobs WHERE status = 'pending'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!((pending, attempts, leased), (3, 0, 0));
    assert_eq!(app.run_jobs().await, 3);
}

#[tokio::test]
async fn an_email_survives_a_restart_between_enqueue_and_send() {
    let sink = SmtpSink::start().await;
    // The server that wrote the email has no worker and no SMTP; a separate `affilia worker`
    // process started afterwards, on the same database, delivers it.
    let app = spawn_app_with(|_| {}).await;
    let acme = app.create_vendor("Acme", "owner@acme.test").await;
    let ids = enqueue_emails(&app, &acme.vendor.id, 2).await;

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_affilia"))
        .arg("worker")
        .env("DATABASE_URL", &app.database_url)
        .env("AFFILIA_SECRET_KEY", &app.secret_hex)
        .env("AFFILIA_SMTP_URL", sink.url())
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let messages = sink.wait_for(2, 30).await;
    assert_eq!(messages.len(), 2);
    let pid = child.id().unwrap().to_string();
    let status = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "worker exits cleanly on SIGTERM: {exit:?}");
    let received: HashSet<String> = messages
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    assert!(
        ids.iter()
            .all(|id| received.contains(&format!("<{id}@affilia.test>")))
    );
}
