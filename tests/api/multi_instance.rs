//! Several `affilia serve` processes on one PostgreSQL behave as one service (README,
//! "Deploying several instances"): three real processes of the built binary, each with its
//! own port and data directory but the same secret key and database, checked over HTTP:
//! sessions, API-key revocation, referral-code changes, the shared rate limit, and jobs
//! (emails, webhooks, maturation, scheduled payouts) performed exactly once.
//!
//! SQLite is one instance by design (one process owns the database file), so on SQLite the
//! test says so and returns; it runs when `TEST_DATABASE_URL` is a PostgreSQL URL.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use affilia::db::Db;

use crate::helpers::smtp_sink::SmtpSink;
use crate::helpers::{OWNER_PASSWORD, csrf_from, fresh_database, new_client};

/// One `affilia serve` process.
struct Instance {
    name: &'static str,
    base: String,
    data_dir: PathBuf,
    child: Child,
}

impl Instance {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A port free right now (the process binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `affilia serve` (HTTP and the job worker) and waits until `/healthz` answers.
async fn start(name: &'static str, database_url: &str, secret_hex: &str, smtp: &str) -> Instance {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let data_dir = std::env::temp_dir().join(format!(
        "affilia-multi-{name}-{}",
        ulid::Ulid::generate().to_string().to_ascii_lowercase()
    ));
    std::fs::create_dir_all(&data_dir).unwrap();
    let logs: fn() -> Stdio = if std::env::var("TEST_LOG").is_ok() {
        Stdio::inherit
    } else {
        Stdio::null
    };
    let child = Command::new(env!("CARGO_BIN_EXE_affilia"))
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("AFFILIA_SECRET_KEY", secret_hex)
        .env("AFFILIA_BIND", format!("127.0.0.1:{port}"))
        .env("AFFILIA_BASE_URL", &base)
        .env("AFFILIA_DATA_DIR", &data_dir)
        .env("AFFILIA_SMTP_URL", smtp)
        .env("AFFILIA_MAIL_FROM", "no-reply@affilia.test")
        .env("AFFILIA_ALLOW_PRIVATE_WEBHOOK_URLS", "true")
        .env("AFFILIA_API_RATE_LIMIT_READ", "1000")
        .env("AFFILIA_API_RATE_LIMIT_WRITE", "1000")
        .env("AFFILIA_HTTP_WORKERS", "2")
        .env("RUST_LOG", "warn")
        .stdout(logs())
        .stderr(logs())
        .kill_on_drop(true)
        .spawn()
        .expect("start affilia serve");
    let instance = Instance {
        name,
        base,
        data_dir,
        child,
    };
    let client = new_client();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(res) = client.get(instance.url("/healthz")).send().await
            && res.status() == 200
        {
            return instance;
        }
        assert!(
            Instant::now() < deadline,
            "instance {name} did not answer /healthz"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A webhook receiver that records the `webhook-id` of every request and answers 200.
async fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let data = web::Data::new(got.clone());
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).default_service(web::to(
            |req: HttpRequest, data: web::Data<Arc<Mutex<Vec<String>>>>| async move {
                let id = req
                    .headers()
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                data.lock().unwrap().push(id);
                HttpResponse::Ok().body("ok")
            },
        ))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    tokio::spawn(server.run());
    (format!("http://{addr}/hooks"), got)
}

/// Posts a form with the CSRF token of `token_page`, on one instance.
async fn post_form(
    client: &Client,
    on: &Instance,
    path: &str,
    token_page: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let page = client
        .get(on.url(token_page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_from(&page);
    let mut form = vec![("csrf_token", token.as_str())];
    form.extend_from_slice(fields);
    client.post(on.url(path)).form(&form).send().await.unwrap()
}

/// An API call → (status, headers, JSON or null).
async fn call(
    on: &Instance,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = new_client().request(method, on.url(path)).bearer_auth(key);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

fn header(h: &reqwest::header::HeaderMap, name: &str) -> i64 {
    h.get(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(db.pool()).await.unwrap();
    n
}

/// Polls `check` every 100 ms until it holds or `secs` pass; returns how long it took.
async fn poll<F, Fut>(what: &str, secs: u64, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "{what}: not within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

/// Follows `/r/{code}` without following the redirect → (status, Location).
async fn follow(on: &Instance, code: &str) -> (StatusCode, String) {
    let res = new_client()
        .get(on.url(&format!("/r/{code}")))
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
        )
        .send()
        .await
        .unwrap();
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (res.status(), location)
}

#[tokio::test]
async fn three_instances_on_one_postgresql_behave_as_one_service() {
    let is_postgres = std::env::var("TEST_DATABASE_URL")
        .is_ok_and(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"));
    if !is_postgres {
        eprintln!(
            "skipped: several instances need PostgreSQL (SQLite is one instance by design); \
             set TEST_DATABASE_URL=postgres://... to run this test"
        );
        return;
    }
    // The clients below are built before any server of this test process installs it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (database_url, _guard) = fresh_database().await;
    let mut secret = vec![0u8; 64];
    rand::fill(&mut secret[..]);
    let secret_hex = hex::encode(&secret);
    let sink = SmtpSink::start().await;
    let (hook_url, hooks) = receiver().await;

    // One at a time: the first applies the migrations, the others find them applied.
    let a = start("a", &database_url, &secret_hex, &sink.url()).await;
    let b = start("b", &database_url, &secret_hex, &sink.url()).await;
    let c = start("c", &database_url, &secret_hex, &sink.url()).await;
    let db = Db::connect(&database_url).await.unwrap();
    // Copies of references for the polling closures' `async move` blocks.
    let (dbr, br) = (&db, &b);

    // --- Sessions: set up and sign in on A, use the cookie (and its CSRF token) on B.
    let browser = new_client();
    let res = post_form(
        &browser,
        &a,
        "/setup",
        "/setup",
        &[
            ("name", "Multi Corp"),
            ("owner_email", "owner@multi.test"),
            ("owner_password", OWNER_PASSWORD),
            ("currency", "USD"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "setup on A");
    let res = browser.get(b.url("/dashboard")).send().await.unwrap();
    assert_eq!(res.status(), 200, "A's session cookie works on B");
    assert!(res.text().await.unwrap().contains("Multi Corp"));
    let res = post_form(
        &browser,
        &b,
        "/dashboard/developers/keys",
        "/dashboard/developers",
        &[("name", "Backend"), ("scope", "full")],
    )
    .await;
    assert_eq!(res.status(), 201, "a form posted on B with A's session");
    let html = res.text().await.unwrap();
    let marker = "data-test=\"new-key\">";
    let start_at = html.find(marker).expect("the new key is shown") + marker.len();
    let key = html[start_at..start_at + html[start_at..].find('<').unwrap()].to_owned();
    // And signing in again on C (a fresh browser) works on A.
    let other = new_client();
    let res = post_form(
        &other,
        &c,
        "/login",
        "/login",
        &[("email", "owner@multi.test"), ("password", OWNER_PASSWORD)],
    )
    .await;
    assert_eq!(res.status(), 303, "sign-in on C");
    let res = other.get(a.url("/dashboard")).send().await.unwrap();
    assert_eq!(res.status(), 200, "C's session works on A");

    // --- API keys: a key made on A works on B and C; revoked on A, B refuses it at once.
    let (status, _, made) = call(
        &a,
        &key,
        Method::POST,
        "/api/v1/api-keys",
        Some(json!({"name": "temporary", "scope": "read"})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let temp_key = made["key"].as_str().unwrap().to_owned();
    let temp_id = made["id"].as_str().unwrap().to_owned();
    for on in [&a, &b, &c] {
        let (status, _, _) = call(on, &temp_key, Method::GET, "/api/v1/vendor", None).await;
        assert_eq!(status, 200, "the new key on {}", on.name);
    }
    let (status, _, _) = call(
        &a,
        &key,
        Method::DELETE,
        &format!("/api/v1/api-keys/{temp_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "revoked on A");
    for on in [&b, &c, &a] {
        let (status, _, body) = call(on, &temp_key, Method::GET, "/api/v1/vendor", None).await;
        assert_eq!(
            status, 401,
            "revoked key refused on {} at once: {body}",
            on.name
        );
    }

    // --- Webhooks to a receiver, for every event from here on.
    let (status, _, body) = call(
        &a,
        &key,
        Method::POST,
        "/api/v1/webhook-endpoints",
        Some(json!({"url": hook_url, "events": ["*"]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // --- Referral codes: changed on A, followed on B within the cache's lifetime.
    let (_, _, programs) = call(&a, &key, Method::GET, "/api/v1/programs", None).await;
    let program_id = programs["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, _, body) = call(
        &b,
        &key,
        Method::PATCH,
        &format!("/api/v1/programs/{program_id}"),
        Some(
            json!({"landing_url": "https://shop.example.com/", "holding_period_days": 0,
                    "min_payout_cents": 100}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Four affiliates, created on alternating instances, each invited by email.
    let mut affiliates = Vec::new();
    for (i, on) in [&a, &b, &c, &a].into_iter().enumerate() {
        let (status, _, body) = call(
            on,
            &key,
            Method::POST,
            "/api/v1/affiliates",
            Some(
                json!({"email": format!("p{i}@multi.test"), "name": format!("Partner {i}"),
                        "code": format!("multi-old-{i}"), "payout_method": "paypal",
                        "payout_email": format!("p{i}@paypal.test")}),
            ),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        // Invited affiliates earn nothing yet; the vendor activates them (on another
        // instance).
        let (status, _, body) = call(
            [&b, &c, &a][i % 3],
            &key,
            Method::PATCH,
            &format!("/api/v1/affiliates/{id}"),
            Some(json!({"status": "active"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        affiliates.push(id);
    }
    let (status, location) = follow(&b, "multi-old-0").await;
    assert_eq!(status, 302, "B knows the code (and caches it)");
    assert!(location.contains("ref=multi-old-0"), "{location}");
    let (status, _, body) = call(
        &a,
        &key,
        Method::PUT,
        &format!("/api/v1/affiliates/{}/code", affiliates[0]),
        Some(json!({"code": "Multi-New"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["code"], "multi-new");
    let (status, location) = follow(&a, "multi-new").await;
    assert_eq!(status, 302, "A follows the new code at once");
    assert!(location.contains("ref=multi-new"), "{location}");
    assert_eq!(
        follow(&a, "multi-old-0").await.0,
        404,
        "A: old code unknown"
    );
    // B never looked the new code up, so it reads it from the database; the old one it
    // cached a moment ago, so it may follow it until that entry's TTL (3 s) runs out.
    poll("B redirects the new code", 10, || async move {
        let (status, location) = follow(br, "multi-new").await;
        status == 302 && location.contains("ref=multi-new")
    })
    .await;
    let took = poll("B forgets the old code", 10, || async move {
        follow(br, "multi-old-0").await.0 == 404
    })
    .await;
    eprintln!("B stopped following the old code after {took:?} (cache TTL 3 s)");

    // --- Conversions mature (holding period 0) on whichever worker sweeps first, once.
    for (i, id) in affiliates.iter().enumerate() {
        let on = [&a, &b, &c][i % 3];
        let (status, _, body) = call(
            on,
            &key,
            Method::POST,
            "/api/v1/conversions",
            Some(json!({"affiliate_id": id, "amount_cents": 10_000,
                        "external_id": format!("order-{i}")})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    poll("every conversion matured", 15, || async move {
        count(
            dbr,
            "SELECT COUNT(*) FROM conversions WHERE status = 'approved'",
        )
        .await
            == 4
    })
    .await;

    // --- A scheduled payout run: due today, with three instances polling, made once.
    let (status, _, body) = call(
        &c,
        &key,
        Method::PATCH,
        &format!("/api/v1/programs/{program_id}"),
        Some(json!({"payout_day": 1})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    poll("the scheduled run", 15, || async move {
        count(dbr, "SELECT COUNT(*) FROM payout_runs").await >= 1
    })
    .await;

    // --- Quiet: every job, fan-out and delivery done; then count what left the building.
    poll("every job and delivery settled", 20, || async move {
        count(dbr, "SELECT COUNT(*) FROM jobs WHERE status = 'pending'").await == 0
            && count(dbr, "SELECT COUNT(*) FROM events WHERE fanned_out = 0").await == 0
            && count(
                dbr,
                "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'",
            )
            .await
                == 0
    })
    .await;
    let emails = count(&db, "SELECT COUNT(*) FROM email_outbox").await;
    assert!(emails >= 4, "at least the four invitations: {emails}");
    let messages = sink.messages();
    let ids: HashSet<String> = messages
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    assert_eq!(
        (messages.len(), ids.len()),
        (emails as usize, emails as usize),
        "each email sent exactly once"
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM jobs WHERE status <> 'done' OR attempts <> 1"
        )
        .await,
        0,
        "each job claimed once"
    );
    let deliveries = count(&db, "SELECT COUNT(*) FROM webhook_deliveries").await;
    let got = hooks.lock().unwrap().clone();
    let unique: HashSet<&String> = got.iter().collect();
    assert!(deliveries > 0);
    assert_eq!(
        (got.len(), unique.len()),
        (deliveries as usize, deliveries as usize),
        "each webhook delivered exactly once"
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM webhook_deliveries WHERE status <> 'succeeded' OR attempts <> 1"
        )
        .await,
        0
    );
    // Maturation once: one approval event and one release into the ledger per conversion.
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM events WHERE type = 'conversion.approved'"
        )
        .await,
        4
    );
    let (status, _, runs) = call(&b, &key, Method::GET, "/api/v1/payout-runs", None).await;
    assert_eq!(status, 200);
    assert_eq!(runs["total"], 1, "one scheduled run: {runs}");
    let (status, _, payouts) = call(&a, &key, Method::GET, "/api/v1/payouts", None).await;
    assert_eq!(status, 200);
    assert_eq!(payouts["total"], 4, "one payout per affiliate: {payouts}");
    let verify = Command::new(env!("CARGO_BIN_EXE_affilia"))
        .args(["ledger", "verify"])
        .env("DATABASE_URL", &database_url)
        .env("AFFILIA_SECRET_KEY", &secret_hex)
        .env("AFFILIA_DATA_DIR", &a.data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        verify.status.success(),
        "ledger verify: {}",
        String::from_utf8_lossy(&verify.stdout)
    );

    // --- Rate limits: one budget per key across instances (a counter row in PostgreSQL).
    let (status, _, body) = call(
        &a,
        &key,
        Method::PATCH,
        "/api/v1/vendor",
        Some(json!({"rate_limit_read_per_minute": 5})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // A window may end mid-sequence; the next one is a minute long, so a second try fits.
    let mut shared = false;
    for _ in 0..2 {
        let (_, _, made) = call(
            &a,
            &key,
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": "metered", "scope": "read"})),
        )
        .await;
        let metered = made["key"].as_str().unwrap().to_owned();
        let mut seen = Vec::new();
        for on in [&a, &a, &b, &c, &b, &a] {
            let (status, h, _) = call(on, &metered, Method::GET, "/api/v1/vendor", None).await;
            seen.push((
                status,
                header(&h, "x-ratelimit-remaining"),
                header(&h, "x-ratelimit-reset"),
            ));
        }
        if seen.iter().any(|s| s.2 != seen[0].2) {
            continue;
        }
        let remaining: Vec<i64> = seen.iter().map(|s| s.1).collect();
        let statuses: Vec<u16> = seen.iter().map(|s| s.0).collect();
        assert_eq!(
            remaining,
            vec![4, 3, 2, 1, 0, 0],
            "one budget across A, B and C"
        );
        assert_eq!(statuses, vec![200, 200, 200, 200, 200, 429]);
        shared = true;
        break;
    }
    assert!(shared, "two windows in a row ended mid-sequence");
}
