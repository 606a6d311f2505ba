//! Outbound webhooks: endpoints through the API, delivery to a real local receiver with
//! both signatures verified, the event filter, retries on the backoff schedule, disabling
//! with the owner's email, redelivery, the test event, the SSRF guard, tenant isolation
//! and one delivery per endpoint and event with two workers.

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

use affilia::domain::tenancy::api_keys::Scope;
use affilia::domain::tenancy::webhooks::delivery::RETRY_DELAYS_MS;
use affilia::jobs::Worker;
use affilia::jobs::mailer::Mailer;

use crate::helpers::smtp_sink::SmtpSink;
use crate::helpers::vendors::vendor;
use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Got {
    headers: Vec<(String, String)>,
    body: String,
}

impl Got {
    fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

#[derive(Default)]
struct ReceiverState {
    got: Vec<Got>,
    status: u16,
}

/// A local HTTP receiver that records every request and answers a programmable status.
#[derive(Clone)]
struct Receiver {
    url: String,
    state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    async fn start() -> Self {
        let state = Arc::new(Mutex::new(ReceiverState {
            got: Vec::new(),
            status: 200,
        }));
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let addr = server.addrs()[0];
        tokio::spawn(server.run());
        Self {
            url: format!("http://{addr}/hooks"),
            state,
        }
    }

    fn answer(&self, status: u16) {
        self.state.lock().unwrap().status = status;
    }

    fn got(&self) -> Vec<Got> {
        self.state.lock().unwrap().got.clone()
    }
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<ReceiverState>>>,
) -> HttpResponse {
    let mut s = state.lock().unwrap();
    s.got.push(Got {
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let status = actix_web::http::StatusCode::from_u16(s.status).unwrap();
    HttpResponse::build(status).body(format!("answered {}", s.status))
}

async fn private_app() -> TestApp {
    spawn_app_with(|s| s.allow_private_webhook_urls = true).await
}

async fn endpoint(app: &TestApp, key: &str, url: &str, events: Value) -> (String, String) {
    let (status, body) = app
        .call(
            key,
            Method::POST,
            "/api/v1/webhook-endpoints",
            Some(json!({"url": url, "description": "test receiver", "events": events})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    (
        body["id"].as_str().unwrap().to_owned(),
        body["secret"].as_str().unwrap().to_owned(),
    )
}

/// Submits and approves an application; returns the application id.
async fn approved_application(app: &TestApp, key: &str, email: &str) -> String {
    let (status, body) = app
        .call(
            key,
            Method::POST,
            "/api/v1/applications",
            Some(json!({"email": email, "name": "Jane Smith"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .call(
            key,
            Method::POST,
            &format!("/api/v1/applications/{id}/review"),
            Some(json!({"action": "approve", "code": "JANE20"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    id
}

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// Verifies `Affilia-Signature: t=..,v1=..` as a receiver would (Stripe's scheme).
fn verify_affilia(secret: &str, got: &Got) {
    let header = got.header("affilia-signature");
    let mut t = "";
    let mut v1 = "";
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v,
            Some(("v1", v)) => v1 = v,
            _ => {}
        }
    }
    let expected = hex::encode(hmac(
        secret.as_bytes(),
        format!("{t}.{}", got.body).as_bytes(),
    ));
    assert_eq!(v1, expected, "Affilia-Signature must verify: {header}");
    let now = affilia::db::now_ms() / 1000;
    assert!(
        (now - t.parse::<i64>().unwrap()).abs() < 600,
        "fresh timestamp"
    );
}

/// Verifies the Standard Webhooks headers as the standardwebhooks libraries do.
fn verify_standard(secret: &str, got: &Got) {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let id = got.header("webhook-id");
    let ts = got.header("webhook-timestamp");
    let signed = format!("{id}.{ts}.{}", got.body);
    let expected = format!("v1,{}", STANDARD.encode(hmac(&key, signed.as_bytes())));
    let header = got.header("webhook-signature");
    assert!(
        header.split(' ').any(|s| s == expected),
        "webhook-signature must verify: {header}"
    );
}

#[tokio::test]
async fn an_approved_application_reaches_the_endpoint_with_signatures_that_verify() {
    let app = private_app().await;
    let v = vendor(&app, "Acme").await;
    let rx = Receiver::start().await;
    let all_rx = Receiver::start().await;
    let (endpoint_id, secret) = endpoint(
        &app,
        &v.key,
        &rx.url,
        json!(["partner_application_approved"]),
    )
    .await;
    assert!(secret.starts_with("whsec_"));
    endpoint(&app, &v.key, &all_rx.url, json!(["*"])).await;
    // The secret is shown once: never in reads.
    let (_, listed) = app
        .call(&v.key, Method::GET, "/api/v1/webhook-endpoints", None)
        .await;
    assert_eq!(listed["total"], 2);
    assert!(listed["data"][0].get("secret").is_none(), "{listed}");
    assert_eq!(
        listed["data"][0]["events"],
        json!(["partner_application_approved"])
    );

    let application_id = approved_application(&app, &v.key, "partner@example.test").await;
    assert!(app.run_jobs().await > 0);

    // The filtered endpoint got exactly the approval, in the seed-001 shape.
    let got = rx.got();
    assert_eq!(got.len(), 1, "{got:?}");
    let body = got[0].json();
    assert_eq!(body["event"], "partner_application_approved");
    assert!(body["id"].as_str().unwrap().starts_with("evt_"));
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["data"]["application"]["id"], application_id);
    assert_eq!(body["data"]["application"]["email"], "partner@example.test");
    assert_eq!(body["data"]["application"]["name"], "Jane Smith");
    assert_eq!(body["data"]["affiliate"]["code"], "jane20");
    assert!(body["data"]["affiliate"]["id"].is_string());
    assert_eq!(body["data"]["affiliate"]["customer_id"], Value::Null);
    assert_eq!(got[0].header("webhook-id"), body["id"].as_str().unwrap());
    assert_eq!(got[0].header("content-type"), "application/json");
    assert!(got[0].header("user-agent").starts_with("Affilia-Webhooks/"));
    verify_affilia(&secret, &got[0]);
    verify_standard(&secret, &got[0]);

    // The "*" endpoint got every event of the flow, each once.
    let kinds: Vec<String> = all_rx
        .got()
        .iter()
        .map(|g| g.json()["event"].as_str().unwrap().to_owned())
        .collect();
    for kind in [
        "partner_application_submitted",
        "affiliate.created",
        "partner_application_approved",
    ] {
        assert_eq!(kinds.iter().filter(|k| *k == kind).count(), 1, "{kinds:?}");
    }

    // The delivery log: status code, latency, excerpt.
    let (status, log) = app
        .call(
            &v.key,
            Method::GET,
            &format!("/api/v1/webhook-endpoints/{endpoint_id}/deliveries"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{log}");
    assert_eq!(log["total"], 1);
    let d = &log["data"][0];
    assert_eq!(d["status"], "succeeded");
    assert_eq!(d["event"], "partner_application_approved");
    assert_eq!(d["event_id"], body["id"]);
    assert_eq!(d["attempts"][0]["status_code"], 200);
    assert!(d["attempts"][0]["latency_ms"].as_i64().unwrap() >= 0);
    assert_eq!(d["attempts"][0]["response_excerpt"], "answered 200");

    // Running the worker again sends nothing more.
    app.run_jobs().await;
    assert_eq!(rx.got().len(), 1);
}

#[tokio::test]
async fn endpoints_are_validated_and_edited() {
    let app = private_app().await;
    let v = vendor(&app, "Acme").await;
    let bad = |body: Value| {
        let app = &app;
        let key = v.key.clone();
        async move {
            let (status, e) = app
                .call(&key, Method::POST, "/api/v1/webhook-endpoints", Some(body))
                .await;
            (
                status,
                e["error"]["field"].as_str().unwrap_or_default().to_owned(),
            )
        }
    };
    assert_eq!(
        bad(json!({"url": "https://hooks.example.com/x", "events": ["payout.paid", "payout.exploded"]})).await,
        (422, "events[1]".to_owned())
    );
    assert_eq!(
        bad(json!({"url": "https://hooks.example.com/x", "events": []})).await,
        (422, "events".to_owned())
    );
    assert_eq!(
        bad(json!({"url": "ftp://example.com/"})).await,
        (422, "url".to_owned())
    );
    assert_eq!(bad(json!({})).await, (422, "url".to_owned()));
    assert_eq!(
        bad(json!({"url": "https://hooks.example.com/x", "colour": "red"}))
            .await
            .0,
        400
    );

    let rx = Receiver::start().await;
    let (id, _) = endpoint(&app, &v.key, &rx.url, json!(["*"])).await;
    let (status, e) = app
        .call(
            &v.key,
            Method::PATCH,
            &format!("/api/v1/webhook-endpoints/{id}"),
            Some(json!({"events": ["deal.created", "payout.paid"], "enabled": false, "description": "ops"})),
        )
        .await;
    assert_eq!(status, 200, "{e}");
    assert_eq!(e["events"], json!(["deal.created", "payout.paid"]));
    assert_eq!(e["enabled"], false);
    assert_eq!(e["description"], "ops");
    assert_eq!(e["url"], rx.url);
    // Disabled: no test event.
    let (status, _) = app
        .call(
            &v.key,
            Method::POST,
            &format!("/api/v1/webhook-endpoints/{id}/test"),
            None,
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = app
        .call(
            &v.key,
            Method::DELETE,
            &format!("/api/v1/webhook-endpoints/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .call(
            &v.key,
            Method::GET,
            &format!("/api/v1/webhook-endpoints/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn failures_are_retried_on_the_schedule_then_the_endpoint_is_disabled_with_an_email() {
    let sink = SmtpSink::start().await;
    let smtp = sink.url();
    let app = spawn_app_with(|s| {
        s.allow_private_webhook_urls = true;
        s.smtp_url = Some(affilia::config::Secret::new(smtp));
    })
    .await;
    let v = vendor(&app, "Acme").await;
    let rx = Receiver::start().await;
    rx.answer(500);
    let (id, _) = endpoint(&app, &v.key, &rx.url, json!(["*"])).await;
    let (status, d) = app
        .call(
            &v.key,
            Method::POST,
            &format!("/api/v1/webhook-endpoints/{id}/test"),
            None,
        )
        .await;
    assert_eq!(status, 202, "{d}");
    assert_eq!(d["event"], "webhook.test");

    let mut t = affilia::db::now_ms();
    app.run_jobs_at(t).await;
    assert_eq!(rx.got().len(), 1);
    for (i, delay) in RETRY_DELAYS_MS.iter().enumerate() {
        // Not a moment early...
        app.run_jobs_at(t + delay - 1000).await;
        assert_eq!(rx.got().len(), i + 1, "retry {i} came early");
        // ...and on time.
        t += delay;
        app.run_jobs_at(t).await;
        assert_eq!(rx.got().len(), i + 2, "retry {i} did not come");
    }
    let got = rx.got();
    assert_eq!(got.len(), 9);
    let first_id = got[0].header("webhook-id");
    assert!(
        got.iter().all(|g| g.header("webhook-id") == first_id),
        "stable id"
    );
    assert!(
        got.iter().all(|g| g.body == got[0].body),
        "same body on every retry"
    );

    let (_, e) = app
        .call(
            &v.key,
            Method::GET,
            &format!("/api/v1/webhook-endpoints/{id}"),
            None,
        )
        .await;
    assert_eq!(e["enabled"], false, "{e}");
    assert!(e["disabled_reason"].as_str().unwrap().contains("failed"));
    let (_, log) = app
        .call(
            &v.key,
            Method::GET,
            &format!("/api/v1/webhook-endpoints/{id}/deliveries"),
            None,
        )
        .await;
    assert_eq!(log["data"][0]["status"], "failed");
    assert_eq!(log["data"][0]["attempts"].as_array().unwrap().len(), 9);
    assert_eq!(log["data"][0]["last_status_code"], 500);
    assert_eq!(
        log["data"][0]["attempts"][8]["error"],
        "the endpoint answered 500"
    );

    // Nothing more goes out, and the owner hears of it.
    app.run_jobs_at(t + 100 * 3_600_000).await;
    assert_eq!(rx.got().len(), 9);
    let mail = sink.wait_for(1, 10).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].rcpt_to, vec![format!("<{}>", v.owner)]);
    assert!(
        mail[0].data.contains("webhook endpoint"),
        "{}",
        mail[0].data
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'webhook_endpoint.disabled'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_410_disables_at_once_and_redelivery_and_test_events_work() {
    let app = private_app().await;
    let v = vendor(&app, "Acme").await;
    let rx = Receiver::start().await;
    rx.answer(503);
    let (id, secret) = endpoint(&app, &v.key, &rx.url, json!(["*"])).await;
    let (_, d) = app
        .call(
            &v.key,
            Method::POST,
            &format!("/api/v1/webhook-endpoints/{id}/test"),
            None,
        )
        .await;
    let delivery_id = d["id"].as_str().unwrap().to_owned();
    app.run_jobs().await;
    let (_, log) = app
        .call(
            &v.key,
            Method::GET,
            &format!("/api/v1/webhook-endpoints/{id}/deliveries"),
            None,
        )
        .await;
    assert_eq!(log["data"][0]["status"], "pending", "{log}");
    assert_eq!(log["data"][0]["last_status_code"], 503);

    // Redeliver now: one attempt, which succeeds, with the same event id.
    rx.answer(200);
    let (status, r) = app
        .call(
            &v.key,
            Method::POST,
            &format!("/api/v1/webhook-deliveries/{delivery_id}/redeliver"),
            None,
        )
        .await;
    assert_eq!(status, 202, "{r}");
    app.run_jobs().await;
    let got = rx.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    assert_eq!(got[1].json()["event"], "webhook.test");
    verify_standard(&secret, &got[1]);
    let (_, log) = app
        .call(
            &v.key,
            Method::GET,
            &format!("/api/v1/webhook-endpoints/{id}/deliveries"),
            None,
        )
        .await;
    assert_eq!(log["data"][0]["status"], "succeeded");
    assert_eq!(log["data"][0]["attempts"].as_array().unwrap().len(), 2);

    // A succeeded delivery can be sent again too.
    let (status, _) = app
        .call(
            &v.key,
            Method::POST,
            &format!("/api/v1/webhook-deliveries/{delivery_id}/redeliver"),
            None,
        )
        .await;
    assert_eq!(status, 202);
    app.run_jobs().await;
    assert_eq!(rx.got().len(), 3);

    // 410 Gone disables the endpoint at the first answer.
    rx.answer(410);
    app.call(
        &v.key,
        Method::POST,
        &format!("/api/v1/webhook-endpoints/{id}/test"),
        None,
    )
    .await;
    app.run_jobs().await;
    let (_, e) = app
        .call(
            &v.key,
            Method::GET,
            &format!("/api/v1/webhook-endpoints/{id}"),
            None,
        )
        .await;
    assert_eq!(e["enabled"], false);
    assert!(e["disabled_reason"].as_str().unwrap().contains("410"));
    // Redelivery waits for the endpoint to be enabled again.
    let (status, _) = app
        .call(
            &v.key,
            Method::POST,
            &format!("/api/v1/webhook-deliveries/{delivery_id}/redeliver"),
            None,
        )
        .await;
    assert_eq!(status, 409);
    let (_, e) = app
        .call(
            &v.key,
            Method::PATCH,
            &format!("/api/v1/webhook-endpoints/{id}"),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(
        (e["enabled"].clone(), e["disabled_reason"].clone()),
        (json!(true), Value::Null)
    );
}

#[tokio::test]
async fn private_addresses_are_refused_at_creation_and_at_delivery() {
    let app = spawn_app().await;
    let v = vendor(&app, "Acme").await;
    for url in [
        "http://hooks.example.com/plain-http",
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.1.2.3/x",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://[fd00:ec2::254]/x",
        "https://100.64.0.1/x",
        "https://2130706433/x",
    ] {
        let (status, e) = app
            .call(
                &v.key,
                Method::POST,
                "/api/v1/webhook-endpoints",
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(
            (status, e["error"]["field"].as_str()),
            (422, Some("url")),
            "{url}: {e}"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM webhook_endpoints").await, 0);

    // An endpoint saved while the installation allowed private addresses is refused at
    // delivery by a worker of an installation that does not (DNS or settings change).
    let open = private_app().await;
    let w = vendor(&open, "Open").await;
    let rx = Receiver::start().await;
    let local = rx.url.replace("127.0.0.1", "localhost");
    let (id, _) = endpoint(&open, &w.key, &local, json!(["*"])).await;
    open.call(
        &w.key,
        Method::POST,
        &format!("/api/v1/webhook-endpoints/{id}/test"),
        None,
    )
    .await;
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    Worker::new(open.db.clone(), Mailer::DevMailbox)
        .run_due(affilia::db::now_ms(), &stopped)
        .await
        .unwrap();
    assert!(rx.got().is_empty(), "nothing may reach a private address");
    let (_, log) = open
        .call(
            &w.key,
            Method::GET,
            &format!("/api/v1/webhook-endpoints/{id}/deliveries"),
            None,
        )
        .await;
    let attempt = &log["data"][0]["attempts"][0];
    assert_eq!(attempt["status_code"], Value::Null, "{log}");
    assert!(
        attempt["error"].as_str().unwrap().contains("url must"),
        "{log}"
    );
    assert_eq!(log["data"][0]["status"], "pending", "retried later");
}

#[tokio::test]
async fn tenants_see_only_their_own_endpoints_and_deliveries() {
    let app = private_app().await;
    let a = vendor(&app, "Acme").await;
    let b = vendor(&app, "Beta").await;
    let rx = Receiver::start().await;
    let (id, _) = endpoint(&app, &a.key, &rx.url, json!(["*"])).await;
    let (_, d) = app
        .call(
            &a.key,
            Method::POST,
            &format!("/api/v1/webhook-endpoints/{id}/test"),
            None,
        )
        .await;
    let delivery_id = d["id"].as_str().unwrap();
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/webhook-endpoints/{id}"), None),
        (
            Method::PATCH,
            format!("/api/v1/webhook-endpoints/{id}"),
            Some(json!({"enabled": false})),
        ),
        (
            Method::GET,
            format!("/api/v1/webhook-endpoints/{id}/deliveries"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/webhook-endpoints/{id}/test"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/webhook-deliveries/{delivery_id}/redeliver"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/webhook-endpoints/{id}"),
            None,
        ),
    ] {
        let (status, e) = app.call(&b.key, method.clone(), &path, body).await;
        assert_eq!(status, 404, "{method} {path}: {e}");
    }
    let (_, listed) = app
        .call(&b.key, Method::GET, "/api/v1/webhook-endpoints", None)
        .await;
    assert_eq!(listed["total"], 0);

    // B's events never reach A's endpoint.
    approved_application(&app, &b.key, "someone@example.test").await;
    app.run_jobs().await;
    let kinds: Vec<Value> = rx.got().iter().map(|g| g.json()["event"].clone()).collect();
    assert_eq!(kinds, vec![json!("webhook.test")]);

    // Endpoints need a full-scope key.
    let write = app.api_key(&a.id, Scope::Write).await;
    let (status, _) = app
        .call(&write, Method::GET, "/api/v1/webhook-endpoints", None)
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn two_workers_make_one_delivery_per_endpoint_and_event() {
    let app = private_app().await;
    let v = vendor(&app, "Acme").await;
    let rx = Receiver::start().await;
    let rx2 = Receiver::start().await;
    endpoint(&app, &v.key, &rx.url, json!(["*"])).await;
    endpoint(
        &app,
        &v.key,
        &rx2.url,
        json!(["partner_application_submitted"]),
    )
    .await;
    for i in 0..6 {
        let (status, _) = app
            .call(
                &v.key,
                Method::POST,
                "/api/v1/applications",
                Some(json!({"email": format!("p{i}@example.test"), "name": "P"})),
            )
            .await;
        assert_eq!(status, 201);
    }
    let events = app.count("SELECT COUNT(*) FROM events").await;
    assert_eq!(events, 6);
    let now = affilia::db::now_ms();
    let (_s1, stop1) = tokio::sync::watch::channel(false);
    let (_s2, stop2) = tokio::sync::watch::channel(false);
    let settings = app.state.settings.clone();
    let w1 = Worker::new(app.db.clone(), Mailer::DevMailbox).with_settings(&settings);
    let w2 = Worker::new(app.db.clone(), Mailer::DevMailbox).with_settings(&settings);
    let (r1, r2) = tokio::join!(w1.run_due(now, &stop1), w2.run_due(now, &stop2));
    r1.unwrap();
    r2.unwrap();
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries").await,
        12
    );
    for r in [&rx, &rx2] {
        let mut ids: Vec<String> = r.got().iter().map(|g| g.header("webhook-id")).collect();
        assert_eq!(ids.len(), 6);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 6, "each event once");
    }
}

#[tokio::test]
async fn the_dashboard_page_manages_endpoints_and_shows_the_delivery_log() {
    use crate::helpers::{OWNER_PASSWORD, csrf_from, pages::page};
    let app = private_app().await;
    let v = vendor(&app, "Acme").await;
    let rival = vendor(&app, "Rival").await;
    let staff = app.signed_in_client(&v.owner, OWNER_PASSWORD).await;
    let rx = Receiver::start().await;
    let (status, html) = page(&app, &staff, "/dashboard/developers/webhooks").await;
    assert_eq!(status, 200);
    assert!(html.contains("No endpoints yet"));
    assert!(
        html.contains("partner_application_approved"),
        "catalogue checkboxes"
    );
    let token = csrf_from(&html);

    // An unknown event type is refused with the form kept.
    let res = staff
        .post(app.url("/dashboard/developers/webhooks"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("url", rx.url.as_str()),
            ("events", "nope.nothing"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("unknown event type"));

    // Created: the secret is shown once.
    let res = staff
        .post(app.url("/dashboard/developers/webhooks"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("url", rx.url.as_str()),
            ("description", "CRM sync"),
            ("events", "deal.created"),
            ("events", "webhook.test.never"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422, "every checkbox value is checked");
    let res = staff
        .post(app.url("/dashboard/developers/webhooks"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("url", rx.url.as_str()),
            ("description", "CRM sync"),
            ("all_events", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let html = res.text().await.unwrap();
    let secret_at = html.find("whsec_").expect("secret shown");
    let secret: String = html[secret_at..]
        .chars()
        .take_while(|c| !matches!(c, '<' | '"'))
        .collect();
    let (_, html) = page(&app, &staff, "/dashboard/developers/webhooks").await;
    assert!(!html.contains(&secret), "shown once only");
    assert!(html.contains("CRM sync"));
    let (id,): (String,) = sqlx::query_as("SELECT id FROM webhook_endpoints")
        .fetch_one(app.db.pool())
        .await
        .unwrap();

    // Send a test event from the page; the log shows the answer.
    let res = staff
        .post(app.url(&format!("/dashboard/developers/webhooks/{id}/test")))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    app.run_jobs().await;
    assert_eq!(rx.got().len(), 1);
    verify_standard(&secret, &rx.got()[0]);
    let (status, html) = page(
        &app,
        &staff,
        &format!("/dashboard/developers/webhooks/{id}"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("webhook.test") && html.contains("succeeded"),
        "{html}"
    );
    assert!(html.contains("answered 200"));
    let (delivery_id,): (String,) = sqlx::query_as("SELECT id FROM webhook_deliveries")
        .fetch_one(app.db.pool())
        .await
        .unwrap();

    // Redeliver inline (HTMX gets the row back).
    let res = staff
        .post(app.url(&format!(
            "/dashboard/developers/webhooks/deliveries/{delivery_id}/redeliver"
        )))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains(&format!("delivery-{delivery_id}"))
    );
    app.run_jobs().await;
    assert_eq!(rx.got().len(), 2);

    // Disable from the list, then edit the filter.
    let res = staff
        .post(app.url(&format!("/dashboard/developers/webhooks/{id}/toggle")))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &token)
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("Enable"));
    let res = staff
        .post(app.url(&format!("/dashboard/developers/webhooks/{id}")))
        .form(&[
            ("csrf_token", token.as_str()),
            ("url", rx.url.as_str()),
            ("description", "CRM"),
            ("events", "deal.created"),
            ("events", "payout.paid"),
            ("enabled", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (_, e) = app
        .call(
            &v.key,
            Method::GET,
            &format!("/api/v1/webhook-endpoints/{id}"),
            None,
        )
        .await;
    assert_eq!(e["events"], json!(["deal.created", "payout.paid"]));
    assert_eq!(e["enabled"], true);

    // Another vendor's staff sees a 404.
    let other = app.signed_in_client(&rival.owner, OWNER_PASSWORD).await;
    let (status, _) = page(
        &app,
        &other,
        &format!("/dashboard/developers/webhooks/{id}"),
    )
    .await;
    assert_eq!(status, 404);

    // Delete.
    let res = staff
        .post(app.url(&format!("/dashboard/developers/webhooks/{id}/delete")))
        .form(&[("csrf_token", token.as_str()), ("confirm", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(app.count("SELECT COUNT(*) FROM webhook_endpoints").await, 0);
}

#[tokio::test]
async fn the_openapi_document_describes_the_webhook_routes() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let op = |method: &str, path: &str| doc["paths"][path][method].clone();
    let schema = |name: &str| doc["components"]["schemas"][name].clone();
    let ok_ref = |op: &Value, status: &str| {
        op["responses"][status]["content"]["application/json"]["schema"]["$ref"].clone()
    };
    let routes = [
        (
            "get",
            "/api/v1/webhook-endpoints",
            "list_webhook_endpoints",
            "200",
            Some("WebhookEndpointPage"),
        ),
        (
            "post",
            "/api/v1/webhook-endpoints",
            "create_webhook_endpoint",
            "201",
            Some("WebhookEndpoint"),
        ),
        (
            "get",
            "/api/v1/webhook-endpoints/{id}",
            "get_webhook_endpoint",
            "200",
            Some("WebhookEndpoint"),
        ),
        (
            "patch",
            "/api/v1/webhook-endpoints/{id}",
            "update_webhook_endpoint",
            "200",
            Some("WebhookEndpoint"),
        ),
        (
            "delete",
            "/api/v1/webhook-endpoints/{id}",
            "delete_webhook_endpoint",
            "204",
            None,
        ),
        (
            "get",
            "/api/v1/webhook-endpoints/{id}/deliveries",
            "list_webhook_deliveries",
            "200",
            Some("WebhookDeliveryPage"),
        ),
        (
            "post",
            "/api/v1/webhook-endpoints/{id}/test",
            "test_webhook_endpoint",
            "202",
            Some("WebhookDelivery"),
        ),
        (
            "post",
            "/api/v1/webhook-deliveries/{id}/redeliver",
            "redeliver_webhook_delivery",
            "202",
            Some("WebhookDelivery"),
        ),
    ];
    for (method, path, id, status, body) in routes {
        let o = op(method, path);
        assert_eq!(o["operationId"], id, "{method} {path}");
        assert_eq!(o["tags"], json!(["webhooks"]), "{method} {path}");
        assert_eq!(o["security"], json!([{"api_key": []}]), "{method} {path}");
        assert!(
            o["responses"][status].is_object(),
            "{method} {path} {status}"
        );
        match body {
            Some(name) => assert_eq!(
                ok_ref(&o, status),
                format!("#/components/schemas/{name}"),
                "{method} {path}"
            ),
            None => assert!(o["responses"][status]["content"].is_null()),
        }
        // Full-scope keys only; another vendor's object is a 404.
        for error in ["401", "403", "404", "429"] {
            assert!(o["responses"][error].is_object(), "{method} {path} {error}");
        }
    }

    // The event catalogue is the enum, and a filter is those types or exactly ["*"].
    let kinds: Vec<&str> = affilia::domain::tenancy::webhooks::catalogue::EVENT_TYPES
        .iter()
        .map(|(k, _)| *k)
        .collect();
    assert_eq!(schema("WebhookEventType")["enum"], json!(kinds));
    for name in ["WebhookEndpointInput", "WebhookEndpointPatch"] {
        let s = schema(name);
        assert_eq!(s["additionalProperties"], false, "{name}");
        let events = &s["properties"]["events"]["anyOf"];
        assert_eq!(
            events[0]["items"]["$ref"],
            "#/components/schemas/WebhookEventType"
        );
        assert_eq!(events[1]["items"]["enum"], json!(["*"]));
        assert_eq!(events[1]["maxItems"], 1);
        assert_eq!(
            s["properties"]["url"]["pattern"],
            affilia::domain::tenancy::webhooks::URL_PATTERN
        );
        assert_eq!(s["properties"]["description"]["maxLength"], 500);
    }
    assert_eq!(schema("WebhookEndpointInput")["required"], json!(["url"]));
    let create = op("post", "/api/v1/webhook-endpoints");
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/WebhookEndpointInput"
    );
    let refusal = create["responses"]["422"]["description"].as_str().unwrap();
    assert!(refusal.contains("SSRF"), "{refusal}");
    assert!(
        schema("WebhookDelivery")["properties"]["attempts"]["items"]["$ref"]
            == "#/components/schemas/WebhookAttempt"
    );

    // What the document promises is what the server does, without private URLs allowed: a
    // URL of the documented shape whose name does not resolve is accepted (delivery checks
    // again), and a host no DNS name can be is refused.
    let v = vendor(&app, "Acme").await;
    let (status, body) = app
        .call(
            &v.key,
            Method::POST,
            "/api/v1/webhook-endpoints",
            Some(json!({"url": "https://nx-1.affilia-st.zz/hook?x=1*", "events": ["payout.paid"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["url"], "https://nx-1.affilia-st.zz/hook?x=1*");
    assert!(body["secret"].as_str().unwrap().starts_with("whsec_"));
    for url in [
        "https://hooks.example.com*",
        "https://hooks.exa$mple.com/x",
        "https://hooks.example.com/x#fragment",
    ] {
        let (status, e) = app
            .call(
                &v.key,
                Method::POST,
                "/api/v1/webhook-endpoints",
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(
            (status, e["error"]["field"].as_str()),
            (422, Some("url")),
            "{url}: {e}"
        );
    }
}
