//! Test harness: a real server per test, a cookie-keeping client, and shortcuts.

use std::net::SocketAddr;
use std::path::PathBuf;

use affilia::app::Application;
use affilia::config::{LogFormat, Secret, Settings};
use affilia::db::Db;
use affilia::domain::partners::onboarding::{self, CreatedVendor, NewVendor, Origin};
use affilia::domain::tenancy::api_keys::{self, Scope};
use affilia::domain::tenancy::audit::Actor;
use affilia::jobs::Worker;
use affilia::jobs::mailer::Mailer;
use reqwest::redirect::Policy;
use reqwest::{Client, Response};

pub mod affiliates;
pub mod clock;
pub mod dns;
pub mod money;
pub mod pages;
pub mod smtp_sink;
pub mod tracking;
pub mod vendors;

/// A running application and a client that keeps cookies and does not follow redirects.
pub struct TestApp {
    pub addr: SocketAddr,
    pub smtp_url: Option<String>,
    pub db: Db,
    pub database_url: String,
    pub client: Client,
    pub secret_hex: String,
    pub state: actix_web::web::Data<affilia::http::AppState>,
    /// The metrics-only listener, when the test set `metrics_bind`.
    pub metrics_addr: Option<SocketAddr>,
    /// The DNS server the app looks portal domains' TXT records up on.
    pub dns: dns::TestDns,
    /// The clock stays real while the app lives (see [`clock`]).
    _clock: clock::Share,
    _guard: DbGuard,
}

/// The throwaway database of one test, removed when the test ends.
pub enum DbGuard {
    Sqlite(PathBuf),
    Postgres {
        admin_url: String,
        name: String,
    },
    /// Another instance's database: the first instance removes it.
    Shared,
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        match self {
            DbGuard::Shared => {}
            DbGuard::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            DbGuard::Postgres { admin_url, name } => {
                let admin_url = admin_url.clone();
                let name = name.clone();
                // Drop runs inside the test's runtime; a fresh thread with its own runtime
                // can block on the DROP without upsetting it.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    rt.block_on(async move {
                        sqlx::any::install_default_drivers();
                        let mut conn =
                            <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url).await?;
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut conn)
                        .await?;
                        Ok::<_, sqlx::Error>(())
                    })?;
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
                })
                .join();
            }
        }
    }
}

/// A fresh database URL for one test.
pub async fn fresh_database() -> (String, DbGuard) {
    let unique = ulid::Ulid::generate().to_string().to_ascii_lowercase();
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("affilia_t_{unique}");
            sqlx::any::install_default_drivers();
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
                .await
                .expect("connect to TEST_DATABASE_URL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
            url.set_path(&format!("/{name}"));
            (url.to_string(), DbGuard::Postgres { admin_url, name })
        }
        _ => {
            let path = std::env::temp_dir().join(format!("affilia-test-{unique}.db"));
            (
                format!("sqlite://{}", path.display()),
                DbGuard::Sqlite(path),
            )
        }
    }
}

/// A fresh database with every migration applied, for one test: a copy of a template
/// database migrated once (`CREATE DATABASE … TEMPLATE` on PostgreSQL, a file copy on
/// SQLite) instead of running the ~40 migrations per test (1.6 s a test on PostgreSQL on
/// the 2-vCPU CI machine). The template is named after the migrations' checksums, so a
/// changed or added migration makes a new one; test processes that race to build it each
/// build their own under a unique name and the first to rename it into place wins.
pub async fn fresh_migrated_database() -> (String, DbGuard) {
    let unique = ulid::Ulid::generate().to_string().to_ascii_lowercase();
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("affilia_t_{unique}");
            // `affilia_t_` too: CI's clean-up drops it with the test databases.
            let template = format!("affilia_t_tpl_{}", migrations_fingerprint());
            sqlx::any::install_default_drivers();
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
                .await
                .expect("connect to TEST_DATABASE_URL");
            for attempt in 0.. {
                let created = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "CREATE DATABASE {name} TEMPLATE {template}"
                )))
                .execute(&mut conn)
                .await;
                match created {
                    Ok(_) => break,
                    Err(e) if attempt < 100 => {
                        let message = e.to_string();
                        if message.contains("does not exist") {
                            build_pg_template(&admin_url, &template).await;
                        } else if message.contains("being accessed by other users") {
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        } else {
                            panic!("create test database from {template}: {message}");
                        }
                    }
                    Err(e) => panic!("create test database from {template}: {e}"),
                }
            }
            let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
            url.set_path(&format!("/{name}"));
            (url.to_string(), DbGuard::Postgres { admin_url, name })
        }
        _ => {
            let template = std::env::temp_dir().join(format!(
                "affilia-test-template-{}.db",
                migrations_fingerprint()
            ));
            if !template.exists() {
                let building =
                    std::env::temp_dir().join(format!("affilia-test-template-{unique}.db"));
                let db = Db::connect(&format!("sqlite://{}", building.display()))
                    .await
                    .expect("create the template database");
                db.migrate().await.expect("migrate the template database");
                // Everything into the main file, so that copying it alone is enough.
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(db.pool())
                    .await
                    .expect("checkpoint the template database");
                db.close().await;
                std::fs::rename(&building, &template).expect("put the template in place");
                for suffix in ["-wal", "-shm"] {
                    let mut p = building.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            let path = std::env::temp_dir().join(format!("affilia-test-{unique}.db"));
            std::fs::copy(&template, &path).expect("copy the template database");
            (
                format!("sqlite://{}", path.display()),
                DbGuard::Sqlite(path),
            )
        }
    }
}

/// The migrations' versions and checksums, hashed: names the template databases.
fn migrations_fingerprint() -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for m in sqlx::migrate!("./migrations").iter() {
        h.update(m.version.to_le_bytes());
        h.update(&m.checksum);
    }
    hex::encode(h.finalize())[..16].to_owned()
}

/// Builds the migrated PostgreSQL template `template` under a unique name and renames it
/// into place (another process may have done so first: then this copy is dropped).
async fn build_pg_template(admin_url: &str, template: &str) {
    let unique = ulid::Ulid::generate().to_string().to_ascii_lowercase();
    let building = format!("affilia_t_tplb_{unique}");
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(admin_url)
        .await
        .expect("connect to TEST_DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {building}")))
        .execute(&mut conn)
        .await
        .expect("create the template database");
    let mut url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{building}"));
    let db = Db::connect(url.as_str())
        .await
        .expect("connect the template database");
    db.migrate().await.expect("migrate the template database");
    db.close().await;
    let renamed = sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {building} RENAME TO {template}"
    )))
    .execute(&mut conn)
    .await;
    if renamed.is_err() {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {building} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    }
}

/// Settings for a test server on `database_url`.
pub fn test_settings(database_url: &str, secret: Vec<u8>) -> Settings {
    Settings {
        bind: "127.0.0.1:0".into(),
        base_url: url::Url::parse("http://127.0.0.1").expect("static URL"),
        database_url: database_url.to_owned(),
        data_dir: std::env::temp_dir(),
        secret_key: Secret::new(secret),
        smtp_url: None,
        mail_from: "no-reply@affilia.test".into(),
        dashboard_hosts: vec!["127.0.0.1".into(), "localhost".into()],
        trusted_proxy: false,
        log_format: LogFormat::Pretty,
        http_workers: Some(1),
        body_timeout: std::time::Duration::from_secs(affilia::config::DEFAULT_BODY_TIMEOUT_SECS),
        max_connections: affilia::config::DEFAULT_MAX_CONNECTIONS,
        ingest_lanes: None,
        stripe_connect_payouts: false,
        stripe_api_base: url::Url::parse("http://127.0.0.1:9").expect("static URL"),
        // High enough that no test is throttled by accident; the rate-limit tests set
        // their own limits.
        api_rate_limit_read: 1_000_000,
        api_rate_limit_write: 1_000_000,
        allow_private_webhook_urls: false,
        click_queue: 20_000,
        click_queue_wait: std::time::Duration::from_millis(5),
        metrics_token: None,
        metrics_bind: None,
        dns_resolver: None,
        retention: affilia::retention::Retention::default(),
    }
}

/// Starts the application on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the application after letting the test adjust the settings.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        affilia::telemetry::init(LogFormat::Pretty);
    }
    let share = clock::share().await;
    let (database_url, guard) = fresh_migrated_database().await;
    let mut secret = vec![0u8; 64];
    rand::fill(&mut secret[..]);
    let secret_hex = hex::encode(&secret);
    let mut settings = test_settings(&database_url, secret);
    let dns = dns::TestDns::start().await;
    settings.dns_resolver = Some(dns.addr);
    adjust(&mut settings);
    let smtp_url = settings.smtp_url.as_ref().map(|s| s.expose().clone());
    let db = Db::connect(&database_url)
        .await
        .expect("connect test database");
    db.migrate().await.expect("migrate test database");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    // The real port; an https base URL set by `adjust` stays https (the server itself
    // speaks plain http, as behind a TLS-terminating proxy).
    let scheme = settings.base_url.scheme().to_owned();
    settings.base_url = url::Url::parse(&format!("{scheme}://{addr}")).expect("base URL");
    let app = Application::build_with_listener(settings, db.clone(), listener).expect("build app");
    let state = app.state();
    let metrics_addr = app
        .metrics_port()
        .map(|port| SocketAddr::from(([127, 0, 0, 1], port)));
    tokio::spawn(app.run_until_stopped());
    TestApp {
        dns,
        state,
        metrics_addr,
        addr,
        smtp_url,
        db,
        database_url,
        client: new_client(),
        secret_hex,
        _clock: share,
        _guard: guard,
    }
}

/// A second instance of the application on `first`'s database, with its own pool, click
/// writer and ingest writer (what two servers behind a load balancer are).
pub async fn second_instance(first: &TestApp) -> TestApp {
    second_instance_with(first, |_| {}).await
}

/// [`second_instance`] after letting the test adjust its settings (a restart with the same
/// data dir, for example).
pub async fn second_instance_with(first: &TestApp, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let mut secret = vec![0u8; 64];
    rand::fill(&mut secret[..]);
    let secret_hex = hex::encode(&secret);
    let share = clock::share().await;
    let mut settings = test_settings(&first.database_url, secret);
    settings.dns_resolver = Some(first.dns.addr);
    adjust(&mut settings);
    let db = Db::connect(&first.database_url).await.expect("connect");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    settings.base_url = url::Url::parse(&format!("http://{addr}")).expect("base URL");
    let app = Application::build_with_listener(settings, db.clone(), listener).expect("build app");
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        dns: first.dns.clone(),
        state,
        metrics_addr: None,
        addr,
        smtp_url: None,
        db,
        database_url: first.database_url.clone(),
        client: new_client(),
        secret_hex,
        _clock: share,
        _guard: DbGuard::Shared,
    }
}

/// A fresh cookie-keeping client that does not follow redirects.
/// A test client: keeps cookies, follows no redirect, and opens a connection per request.
/// A kept-alive connection can be closed by the server (its keep-alive timeout) just as
/// the client sends the next request on it: hyper then fails that request with
/// `IncompleteMessage`, which broke a CI run of the isolation matrix under `cargo test`.
pub fn new_client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

/// Pulls the CSRF token out of a rendered page.
pub fn csrf_from(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("page has a CSRF token") + marker.len();
    html[start..start + 64].to_owned()
}

pub const OWNER_PASSWORD: &str = "correct horse battery";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Marks the vendor's pending claim on `host` verified the way an operator does
    /// (`affilia admin verify-domain`), for tests about what a verified domain does.
    pub async fn verify_domain(&self, vendor_id: &str, host: &str) {
        affilia::domain::tenancy::domain_verification::verify_by_operator(
            &self.db,
            Some(vendor_id),
            host,
        )
        .await
        .expect("verify domain");
        self.state.portal_hosts.forget_all();
    }

    /// A client that reaches this server under `host` (DNS resolved to the test address).
    pub fn client_for_host(&self, host: &str) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .resolve(host, self.addr)
            // A connection per request, as `new_client` (why there).
            .pool_max_idle_per_host(0)
            .build()
            .expect("client")
    }

    /// `http://{host}:{port}{path}`.
    pub fn host_url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.addr.port())
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn text(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("body")
    }

    /// The CSRF token of the page at `path` (which also starts the session).
    pub async fn csrf(&self, path: &str) -> String {
        csrf_from(&self.text(path).await)
    }

    /// Posts a form with the session's CSRF token taken from `token_page`.
    pub async fn post_form(
        &self,
        path: &str,
        token_page: &str,
        fields: &[(&str, &str)],
    ) -> Response {
        self.post_form_as(&self.client, path, token_page, fields)
            .await
    }

    /// Like [`Self::post_form`], for another client (another browser).
    pub async fn post_form_as(
        &self,
        client: &Client,
        path: &str,
        token_page: &str,
        fields: &[(&str, &str)],
    ) -> Response {
        let page = client
            .get(self.url(token_page))
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("body");
        let token = csrf_from(&page);
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        form.extend_from_slice(fields);
        client
            .post(self.url(path))
            .form(&form)
            .send()
            .await
            .expect("POST")
    }

    /// A new browser signed in with email and password.
    pub async fn signed_in_client(&self, email: &str, password: &str) -> Client {
        let client = new_client();
        let res = self
            .post_form_as(
                &client,
                "/login",
                "/login",
                &[("email", email), ("password", password)],
            )
            .await;
        assert_eq!(res.status(), 303, "sign-in of {email}");
        client
    }

    /// Runs a `SELECT COUNT(*) ...` (or any single-BIGINT query) against the test database.
    pub async fn count(&self, sql: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(self.db.pool())
            .await
            .expect("count query");
        n
    }

    /// Completes the first-run setup in the browser flow; the client ends signed in.
    pub async fn setup(&self, name: &str, email: &str) -> Response {
        self.post_form(
            "/setup",
            "/setup",
            &[
                ("name", name),
                ("owner_email", email),
                ("owner_password", OWNER_PASSWORD),
                ("currency", "USD"),
            ],
        )
        .await
    }

    /// Signs the client in with email and password.
    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_form(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// Creates a vendor directly through the service layer (as the CLI does).
    pub async fn create_vendor(&self, name: &str, owner_email: &str) -> CreatedVendor {
        onboarding::create(
            &self.db,
            NewVendor {
                name: name.into(),
                owner_email: owner_email.into(),
                owner_password: OWNER_PASSWORD.into(),
                currency: "USD".into(),
            },
            Origin::Cli,
        )
        .await
        .expect("create vendor")
    }

    /// A new API key for a vendor.
    pub async fn api_key(&self, vendor_id: &str, scope: Scope) -> String {
        api_keys::create(&self.db, vendor_id, "test", scope, &Actor::Cli)
            .await
            .expect("create key")
            .key
    }

    /// Runs every job due at `now` (unix ms) with a fresh worker, as the background worker
    /// would; returns how many ran.
    pub async fn run_jobs_at(&self, now: i64) -> usize {
        let mailer = Mailer::from_url(self.smtp_url.as_deref()).expect("mailer");
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        Worker::new(self.db.clone(), mailer)
            .with_settings(&self.state.settings)
            .run_due(now, &stopped)
            .await
            .expect("run jobs")
    }

    /// Handles the sign-in link requests waiting for the worker (the forms only enqueue
    /// them), writing their emails to the outbox without sending them.
    pub async fn deliver_link_requests(&self) -> usize {
        let mailer = Mailer::from_url(self.smtp_url.as_deref()).expect("mailer");
        Worker::new(self.db.clone(), mailer)
            .with_settings(&self.state.settings)
            .run_due_kind(
                affilia::domain::tenancy::mail::SIGN_IN_LINK_JOB,
                affilia::db::now_ms(),
            )
            .await
            .expect("run sign-in link jobs")
    }

    /// Runs the jobs due now.
    pub async fn run_jobs(&self) -> usize {
        self.run_jobs_at(affilia::db::now_ms()).await
    }

    /// An authenticated API call with an optional JSON body → (status, JSON or null).
    pub async fn call(
        &self,
        key: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self.client.request(method, self.url(path)).bearer_auth(key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("API call");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Waits until every click queued so far is stored.
    pub async fn flush_clicks(&self) {
        self.state.tracker.clicks.flush().await;
    }

    /// An authenticated API GET.
    pub async fn api_get(&self, key: &str, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .expect("API GET")
    }
}
