//! Email: outbox, SMTP delivery through a real sink, retries, dev mailbox, magic links.

use affilia::config::Secret;
use affilia::db::now_ms;

use crate::helpers::smtp_sink::SmtpSink;
use crate::helpers::{TestApp, csrf_from, new_client, spawn_app, spawn_app_with};

async fn app_with_smtp(sink: &SmtpSink) -> TestApp {
    let url = sink.url();
    spawn_app_with(move |s| s.smtp_url = Some(Secret::new(url))).await
}

/// Asks for a magic link for `email` from a fresh client.
async fn request_link(app: &TestApp, email: &str) -> reqwest::Response {
    let res = app
        .post_form_as(&new_client(), "/login/link", "/login", &[("email", email)])
        .await;
    app.deliver_link_requests().await;
    res
}

/// A sign-in link opened in a fresh browser and its button pressed.
struct Followed {
    client: reqwest::Client,
    page_status: u16,
    page: String,
    result: reqwest::Response,
}

async fn follow_link(app: &TestApp, link: &str) -> Followed {
    let client = new_client();
    let res = client.get(link).send().await.unwrap();
    let page_status = res.status().as_u16();
    let page = res.text().await.unwrap();
    let token = csrf_from(&page);
    let path = link.trim_start_matches(&app.url(""));
    let result = client
        .post(app.url(path))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    Followed {
        client,
        page_status,
        page,
        result,
    }
}

async fn status_of(app: &TestApp, client: &reqwest::Client, path: &str) -> u16 {
    client
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn email_state(app: &TestApp) -> (String, i64, Option<String>, Option<i64>) {
    sqlx::query_as("SELECT status, attempts, last_error, next_attempt_at FROM email_outbox")
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

fn link_in(text: &str) -> String {
    let start = text.find("http://").expect("a link in the email");
    text[start..].split_whitespace().next().unwrap().to_owned()
}

#[tokio::test]
async fn magic_link_email_is_delivered_over_smtp_with_branding_headers_and_a_working_link() {
    let sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink).await;
    let acme = app.create_vendor("Acme", "owner@acme.test").await;
    sqlx::query("UPDATE vendors SET support_email = 'help@acme.test' WHERE id = $1")
        .bind(&acme.vendor.id)
        .execute(app.db.pool())
        .await
        .unwrap();

    let res = request_link(&app, "Owner@Acme.test").await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Check your email"));
    // Written to the outbox, not sent before the worker runs.
    assert_eq!(email_state(&app).await.0, "pending");
    assert!(sink.messages().is_empty());

    assert_eq!(app.run_jobs().await, 1);
    let messages = sink.wait_for(1, 5).await;
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.rcpt_to, vec!["<owner@acme.test>".to_owned()]);
    assert!(
        m.mail_from.starts_with("<no-reply@affilia.test>"),
        "{}",
        m.mail_from
    );
    assert_eq!(m.header("From").unwrap(), "Acme <no-reply@affilia.test>");
    assert_eq!(m.header("Reply-To").unwrap(), "help@acme.test");
    assert_eq!(m.header("Subject").unwrap(), "Your sign-in link for Acme");
    let message_id = m.header("Message-ID").unwrap();
    assert!(
        message_id.starts_with("<eml_") && message_id.ends_with("@affilia.test>"),
        "{message_id}"
    );
    assert!(
        m.header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative")
    );
    let text = m.part("text/plain").expect("text part");
    let html = m.part("text/html").expect("html part");
    assert!(html.contains("#4f46e5"), "brand colour in the HTML part");
    assert!(html.contains("Acme"));
    let link = link_in(&text);
    assert!(html.contains(&link), "same link in both parts");

    let (status, attempts, error, _) = email_state(&app).await;
    assert_eq!((status.as_str(), attempts, error), ("sent", 1, None));

    // The link works once.
    let followed = follow_link(&app, &link).await;
    assert_eq!(followed.page_status, 200);
    assert!(followed.page.contains("owner@acme.test"));
    assert_eq!(followed.result.status(), 303);
    assert_eq!(followed.result.headers()["location"], "/dashboard");
    let client = followed.client;
    assert_eq!(status_of(&app, &client, "/dashboard").await, 200);

    let again = new_client();
    let res = again.get(&link).send().await.unwrap();
    assert_eq!(res.status(), 410);
    assert!(res.text().await.unwrap().contains("Email me a new link"));

    // With real delivery, staff see the outbox but not other people's message bodies.
    let detail = client
        .get(app.url("/dashboard/emails"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(detail.contains("Your sign-in link for Acme"));
    let id: (String,) = sqlx::query_as("SELECT id FROM email_outbox")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let detail = client
        .get(app.url(&format!("/dashboard/emails/{}", id.0)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!detail.contains(&link));
    let html = client
        .get(app.url(&format!("/dashboard/emails/{}/html", id.0)))
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), 404);
}

#[tokio::test]
async fn unknown_addresses_get_the_same_answer_and_no_email() {
    let sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink).await;
    app.create_vendor("Acme", "owner@acme.test").await;
    for email in ["nobody@acme.test", "not an email"] {
        let res = request_link(&app, email).await;
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains("Check your email"));
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM email_outbox").await, 0);
    // Requests for one address are capped, so the form cannot flood an inbox.
    for _ in 0..8 {
        request_link(&app, "owner@acme.test").await;
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM email_outbox").await, 5);
}

#[tokio::test]
async fn expired_links_offer_a_new_one() {
    let app = spawn_app().await;
    app.create_vendor("Acme", "owner@acme.test").await;
    request_link(&app, "owner@acme.test").await;
    app.run_jobs().await;
    let (text,): (String,) = sqlx::query_as("SELECT body_text FROM email_outbox")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let link = link_in(&text);
    sqlx::query("UPDATE login_tokens SET expires_at = $1")
        .bind(now_ms() - 1)
        .execute(app.db.pool())
        .await
        .unwrap();
    let followed = follow_link(&app, &link).await;
    assert_eq!(followed.page_status, 410);
    assert!(followed.page.contains("no longer works"));
    assert_eq!(followed.result.status(), 410);
    assert_eq!(status_of(&app, &followed.client, "/dashboard").await, 303);
}

#[tokio::test]
async fn a_refusing_server_is_retried_with_backoff_then_failed_and_nothing_is_lost() {
    let sink = SmtpSink::start().await;
    sink.reject_all(true);
    let app = app_with_smtp(&sink).await;
    app.create_vendor("Acme", "owner@acme.test").await;
    request_link(&app, "owner@acme.test").await;

    let t0 = now_ms();
    assert_eq!(app.run_jobs_at(t0).await, 1);
    let (status, attempts, error, next) = email_state(&app).await;
    assert_eq!((status.as_str(), attempts), ("pending", 1));
    assert!(error.unwrap().contains("554"));
    let next = next.unwrap();
    assert!(
        next >= t0 + 60_000 && next < t0 + 61_000,
        "first retry a minute later"
    );
    // Not due yet: nothing runs.
    assert_eq!(app.run_jobs_at(t0 + 30_000).await, 0);

    // Nine more attempts, each after its backoff, exhaust the ten attempts.
    let mut now = t0;
    for expected in 2..=10 {
        now += 7 * 3600 * 1000;
        assert_eq!(app.run_jobs_at(now).await, 1);
        assert_eq!(email_state(&app).await.1, expected);
    }
    let (status, attempts, error, next) = email_state(&app).await;
    assert_eq!((status.as_str(), attempts, next), ("failed", 10, None));
    assert!(error.unwrap().contains("554"));
    assert_eq!(app.run_jobs_at(now + 24 * 3600 * 1000).await, 0);
    assert!(sink.messages().is_empty());

    // The owner retries it from the outbox (HTMX), and it goes out once the server accepts.
    let client = app
        .signed_in_client("owner@acme.test", crate::helpers::OWNER_PASSWORD)
        .await;
    let page = client
        .get(app.url("/dashboard/emails"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("status-failed"));
    assert!(page.contains("554"));
    let (id,): (String,) = sqlx::query_as("SELECT id FROM email_outbox")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let token = csrf_from(&page);
    let res = client
        .post(app.url(&format!("/dashboard/emails/{id}/retry")))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let row = res.text().await.unwrap();
    assert!(
        row.contains(&format!("id=\"email-{id}\"")) && row.contains("status-pending"),
        "{row}"
    );
    // Retrying an email that is not failed is a 409 toast, and changes nothing.
    let res = client
        .post(app.url(&format!("/dashboard/emails/{id}/retry")))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert_eq!(res.headers()["hx-retarget"], "#toasts");

    sink.reject_all(false);
    assert_eq!(app.run_jobs().await, 1);
    assert_eq!(sink.wait_for(1, 5).await.len(), 1);
    assert_eq!(email_state(&app).await.0, "sent");
}

#[tokio::test]
async fn a_server_that_is_down_is_retried_until_it_is_back() {
    // Find a free port, leave nothing listening on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("smtp://127.0.0.1:{port}");
    let app = spawn_app_with(move |s| s.smtp_url = Some(Secret::new(url))).await;
    app.create_vendor("Acme", "owner@acme.test").await;
    request_link(&app, "owner@acme.test").await;

    let t0 = now_ms();
    assert_eq!(app.run_jobs_at(t0).await, 1);
    let (status, attempts, error, _) = email_state(&app).await;
    assert_eq!((status.as_str(), attempts), ("pending", 1));
    assert!(!error.unwrap().is_empty());

    let sink = SmtpSink::start_on(&format!("127.0.0.1:{port}")).await;
    assert_eq!(app.run_jobs_at(t0 + 61_000).await, 1);
    assert_eq!(sink.wait_for(1, 5).await.len(), 1);
    let (status, attempts, _, _) = email_state(&app).await;
    assert_eq!((status.as_str(), attempts), ("sent", 2));
}

#[tokio::test]
async fn without_smtp_emails_wait_in_the_dev_mailbox_with_clickable_links() {
    let app = spawn_app().await;
    app.setup("Acme", "owner@acme.test").await;
    request_link(&app, "owner@acme.test").await;
    assert_eq!(app.run_jobs().await, 1);
    assert_eq!(email_state(&app).await.0, "mailbox");

    let list = app.text("/dashboard/emails").await;
    assert!(list.contains("dev mailbox"));
    let (id,): (String,) = sqlx::query_as("SELECT id FROM email_outbox")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let detail = app.text(&format!("/dashboard/emails/{id}")).await;
    let link_start = detail.find("<a href=\"http://").expect("clickable link") + 9;
    let link = detail[link_start..].split('"').next().unwrap().to_owned();
    assert!(link.contains("/login/link/"));
    let html = app.get(&format!("/dashboard/emails/{id}/html")).await;
    assert_eq!(html.status(), 200);
    let csp = html.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'self'"));
    assert_eq!(html.headers()["x-frame-options"], "SAMEORIGIN");

    // Following the link from the mailbox signs in (in another browser).
    let followed = follow_link(&app, &link).await;
    assert_eq!(followed.result.status(), 303);
    assert_eq!(status_of(&app, &followed.client, "/dashboard").await, 200);
}

#[tokio::test]
async fn outboxes_are_per_vendor() {
    let app = spawn_app().await;
    let acme = app.create_vendor("Acme", "owner@acme.test").await;
    app.create_vendor("Beta", "owner@beta.test").await;
    request_link(&app, "owner@acme.test").await;
    let (id,): (String,) = sqlx::query_as("SELECT id FROM email_outbox")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    app.login("owner@beta.test", crate::helpers::OWNER_PASSWORD)
        .await;
    assert!(!app.text("/dashboard/emails").await.contains("Acme"));
    assert_eq!(
        app.get(&format!("/dashboard/emails/{id}")).await.status(),
        404
    );
    assert_eq!(
        app.get(&format!("/dashboard/emails/{id}/html"))
            .await
            .status(),
        404
    );
    let res = app
        .post_form(&format!("/dashboard/emails/{id}/retry"), "/dashboard", &[])
        .await;
    assert_eq!(res.status(), 404);
    let (vendor,): (String,) = sqlx::query_as("SELECT vendor_id FROM email_outbox")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(vendor, acme.vendor.id);
}
