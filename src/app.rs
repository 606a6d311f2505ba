//! Builds the HTTP server from settings; used by `affilia serve` and by the tests, which
//! bind port 0 and read the chosen port back.

use std::net::TcpListener;
use std::sync::Arc;

use actix_session::SessionMiddleware;
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::config::Settings;
use crate::db::Db;
use crate::domain::access::affiliate_tokens::Signer;
use crate::domain::attribution::tracking::{Tracker, WriterConfig, spill};
use crate::domain::earnings::billing::IngestWriter;
use crate::domain::payouts::stripe_connect::StripeConnect;
use crate::domain::tenancy::mail::Sender;
use crate::domain::tenancy::rate_limits::RateLimiter;
use crate::error::AppError;
use crate::http::middleware::body_timeout::body_timeout;
use crate::http::middleware::nul_bytes::nul_bytes;
use crate::http::middleware::query_length::query_length;
use crate::http::middleware::viewers::viewers_read_only;
use crate::http::middleware::{csrf::csrf, host_routing::route_by_host, htmx_errors::htmx_errors};
use crate::http::middleware::{request_id::request_id, security_headers::security_headers};
use crate::http::portal_hosts::PortalHosts;
use crate::http::{self, AppState};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "affilia_session";
/// Largest JSON body accepted by the API.
const JSON_LIMIT: usize = 1024 * 1024;

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    /// The metrics-only listener (`--metrics-bind`) and its port.
    metrics: Option<(Server, u16)>,
}

impl Application {
    /// Connects to the database, applies migrations and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = Db::connect(&settings.database_url).await?;
        db.migrate().await?;
        Self::build_with_db(settings, db)
    }

    /// Binds the listener for an already migrated database (inside a Tokio runtime: the
    /// click writer starts here).
    pub fn build_with_db(settings: Settings, db: Db) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        Self::build_with_listener(settings, db, listener)
    }

    /// Serves on an already bound listener (tests bind port 0 first, so the base URL can
    /// name the real port).
    pub fn build_with_listener(
        settings: Settings,
        db: Db,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let port = listener.local_addr()?.port();
        let metrics_on = settings.metrics_enabled();
        if metrics_on {
            crate::monitoring::install();
        }
        let metrics_route = settings.metrics_token.is_some();
        let metrics_listener = match &settings.metrics_bind {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .with_context(|| format!("cannot listen on {addr} (metrics)"))?,
            ),
            None => None,
        };
        let key = Key::derive_from(settings.secret_key.expose());
        let secure = settings.secure_cookies();
        let workers = settings.http_workers;
        let max_connections = settings.max_connections;
        let body_timeout_limit = settings.body_timeout;
        let state = web::Data::new(AppState {
            sender: Sender::from_settings(&settings),
            tracker: Tracker::start(
                db.clone(),
                settings.secret_key.expose(),
                WriterConfig {
                    capacity: settings.click_queue,
                    wait: settings.click_queue_wait,
                    spill_root: spill::root(&settings.data_dir, &settings.database_url),
                },
            ),
            ingest: IngestWriter::start(db.clone(), settings.ingest_lanes),
            stripe_connect: StripeConnect::new(
                settings.stripe_connect_payouts,
                settings.stripe_api_base.clone(),
            )?,
            affiliate_tokens: Signer::new(settings.secret_key.expose()),
            rate_limiter: RateLimiter::new(db.kind()),
            dns: crate::domain::tenancy::domain_verification::DnsChecker::new(
                settings.dns_resolver,
            ),
            db,
            settings: Arc::new(settings),
            portal_hosts: PortalHosts::default(),
        });
        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            let sessions = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
                .cookie_name(SESSION_COOKIE.to_owned())
                .cookie_secure(secure)
                .cookie_http_only(true)
                .cookie_same_site(SameSite::Lax)
                .build();
            App::new()
                .app_data(app_state.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(JSON_LIMIT)
                        .error_handler(|e, req| {
                            http::request_error(req, http::extract::unnamed_error(&e.to_string()))
                        }),
                )
                .app_data(web::QueryConfig::default().error_handler(|e, req| {
                    // `web::Query` reports no field name; prefer `http::extract::Query`.
                    http::request_error(req, http::extract::unnamed_error(&e.to_string()))
                }))
                .app_data(web::FormConfig::default().error_handler(|e, req| {
                    http::request_error(req, http::extract::unnamed_error(&e.to_string()))
                }))
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|_, req| http::request_error(req, AppError::NotFound)),
                )
                // Referral links first, behind host routing only: a redirect reads no
                // session, renders no page and needs none of the HTML surfaces' headers,
                // and each layer cost about as much as the redirect itself (profile in
                // bench/RESULTS.md). Their error pages set the security headers themselves.
                .service(
                    web::scope("/r")
                        .configure(http::tracking::referral_routes)
                        .wrap(from_fn(route_by_host)),
                )
                .service(
                    web::scope("")
                        .configure(|cfg| {
                            if metrics_route {
                                cfg.route(
                                    http::metrics::PATH,
                                    web::get().to(http::metrics::scrape_with_token),
                                );
                            }
                        })
                        .configure(http::routes)
                        .default_service(web::to(http::not_found))
                        // The last `wrap` runs first: request id → headers → host → HTMX
                        // error toasts (so CSRF and viewer refusals become toasts too) → session →
                        // CSRF → viewers read-only → query length → NUL characters in the address →
                        // handler.
                        .wrap(from_fn(nul_bytes))
                        .wrap(from_fn(query_length))
                        .wrap(from_fn(viewers_read_only))
                        .wrap(from_fn(csrf))
                        .wrap(sessions)
                        .wrap(from_fn(htmx_errors))
                        .wrap(from_fn(route_by_host))
                        .wrap(from_fn(body_timeout))
                        .wrap(from_fn(security_headers))
                        .wrap(from_fn(request_id)),
                )
                // Outermost, when on, so they time everything, referral redirects included.
                .wrap(Condition::new(metrics_on, from_fn(http::metrics::record)))
        })
        // Slow clients: at most this many connections per worker, and a request head must
        // arrive within the body timeout too (actix's own default is 5 s). Set before
        // `listen`, which takes the configuration as it is.
        .max_connections(max_connections)
        .client_request_timeout(body_timeout_limit.min(std::time::Duration::from_secs(5)))
        .listen(listener)?
        .shutdown_timeout(30);
        if let Some(n) = workers {
            server = server.workers(n);
        }
        let metrics = match metrics_listener {
            Some(listener) => {
                let metrics_port = listener.local_addr()?.port();
                let source = http::metrics::Source {
                    db: state.db.clone(),
                    clicks: Some(state.tracker.clicks.clone()),
                };
                Some((
                    http::metrics::metrics_server(listener, source)?,
                    metrics_port,
                ))
            }
            None => None,
        };
        Ok(Self {
            port,
            server: server.run(),
            state,
            metrics,
        })
    }

    /// The port of the metrics-only listener, when `--metrics-bind` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(_, port)| *port)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (database, settings).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGTERM/SIGINT, then lets in-flight requests finish (up to 30 s) and
    /// writes the clicks still queued.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        // The metrics listener handles no signals; it stops when the main server has.
        let metrics = self.metrics.map(|(server, _)| {
            let handle = server.handle();
            tokio::spawn(server);
            handle
        });
        let served = self.server.await;
        if let Some(handle) = metrics {
            handle.stop(true).await;
        }
        self.state.tracker.clicks.shutdown().await;
        served
    }
}
