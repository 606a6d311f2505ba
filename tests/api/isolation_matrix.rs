//! The isolation and access-control matrix: every route (the API's from its OpenAPI
//! document, the others from the application's own route tables) is called with every
//! credential that must not reach it — none, another vendor's, a viewer's on a write, an
//! affiliate's on a vendor route, a vendor's on an affiliate route, one kind of token used
//! as another — and must refuse (401/403/404, or a redirect to a sign-in page for HTML)
//! without changing a single row of any table. Another vendor's credential on an object
//! of vendor A is a 404, never a 403 that would leak the object's existence.
//!
//! A route with no entry fails the test, naming itself: a new API route needs one line in
//! [`API_ACCESS`]; a new page, one line in its surface's table (`src/http/route_table.rs`).

use std::collections::BTreeMap;

use affilia::db::DbKind;
use affilia::domain::tenancy::api_keys::Scope;
use affilia::domain::tenancy::audit::Actor;
use affilia::domain::tenancy::{password, vendors};
use affilia::http::route_table::{self, Access};
use reqwest::{Client, Method};
use serde_json::{Value, json};
use sqlx::{Column, Row};

use crate::helpers::affiliates::affiliate;
use crate::helpers::money::{earn, pay_everyone};
use crate::helpers::vendors::{Shop, shop_named};
use crate::helpers::{OWNER_PASSWORD, TestApp, csrf_from, new_client, spawn_app};

/// Who may call an API route.
#[derive(Debug, Clone, Copy)]
enum Api {
    /// A vendor's API key (read scope for `GET`, write scope otherwise).
    Vendor,
    /// A vendor's secret key, or its publishable key from the browser.
    Browser,
    /// An embedded integration's signed JWT (a consumer of the vendor).
    Kernel,
    /// An affiliate's own token (`/me`).
    Me,
    /// Anyone, for the reason given.
    Public(&'static str),
}
use Api::*;

/// A portal domain vendor A has claimed and not yet proven.
const A_PENDING_HOST: &str = "partners.acme-pending.test";

/// Every API route: (method, path as in the OpenAPI document, who may call it).
const API_ACCESS: &[(&str, &str, Api)] = &[
    ("GET", "/api/v1/api-keys", Vendor),
    ("POST", "/api/v1/api-keys", Vendor),
    ("DELETE", "/api/v1/api-keys/{id}", Vendor),
    ("GET", "/api/v1/vendor", Vendor),
    ("PATCH", "/api/v1/vendor", Vendor),
    ("PUT", "/api/v1/vendor/logo", Vendor),
    ("DELETE", "/api/v1/vendor/logo", Vendor),
    ("POST", "/api/v1/vendor/domains/{host}/verify", Vendor),
    ("GET", "/api/v1/audit-log", Vendor),
    ("GET", "/api/v1/consumers", Vendor),
    ("POST", "/api/v1/consumers", Vendor),
    ("GET", "/api/v1/consumers/{id}", Vendor),
    ("PATCH", "/api/v1/consumers/{id}", Vendor),
    ("POST", "/api/v1/consumers/{id}/rotate-secret", Vendor),
    ("POST", "/api/v1/kernel/affiliates/provision", Kernel),
    ("POST", "/api/v1/kernel/events", Kernel),
    ("GET", "/api/v1/affiliates", Vendor),
    ("POST", "/api/v1/affiliates", Vendor),
    (
        "GET",
        "/api/v1/affiliates/by-customer/{customer_id}",
        Vendor,
    ),
    ("GET", "/api/v1/affiliates/{id}", Vendor),
    ("PATCH", "/api/v1/affiliates/{id}", Vendor),
    ("DELETE", "/api/v1/affiliates/{id}", Vendor),
    ("POST", "/api/v1/affiliates/{id}/invite", Vendor),
    ("PUT", "/api/v1/affiliates/{id}/code", Vendor),
    ("POST", "/api/v1/affiliates/{id}/token", Vendor),
    ("POST", "/api/v1/affiliates/{id}/portal-link", Vendor),
    ("POST", "/api/v1/affiliates/{id}/embed-token", Vendor),
    ("GET", "/api/v1/affiliates/{id}/promo-codes", Vendor),
    ("POST", "/api/v1/affiliates/{id}/promo-codes", Vendor),
    ("GET", "/api/v1/promo-codes/{id}", Vendor),
    ("PATCH", "/api/v1/promo-codes/{id}", Vendor),
    ("DELETE", "/api/v1/promo-codes/{id}", Vendor),
    ("POST", "/api/v1/affiliates/{id}/bonuses", Vendor),
    ("GET", "/api/v1/bonuses", Vendor),
    (
        "POST",
        "/api/v1/track",
        Public("the click API: public like /r/{code}, it only records a click"),
    ),
    (
        "OPTIONS",
        "/api/v1/track",
        Public("CORS preflight: answers no data"),
    ),
    ("GET", "/api/v1/clicks", Vendor),
    ("POST", "/api/v1/referrals", Vendor),
    ("GET", "/api/v1/referrals", Vendor),
    ("GET", "/api/v1/referrals/{id}", Vendor),
    ("GET", "/api/v1/deals", Vendor),
    ("GET", "/api/v1/deals/{id}", Vendor),
    ("POST", "/api/v1/deals/{id}/review", Vendor),
    ("GET", "/api/v1/fraud/reviews", Vendor),
    ("GET", "/api/v1/fraud/reviews/{id}", Vendor),
    ("POST", "/api/v1/fraud/reviews/{id}/approve", Vendor),
    ("POST", "/api/v1/fraud/reviews/{id}/reject", Vendor),
    ("GET", "/api/v1/me", Me),
    ("GET", "/api/v1/me/programs", Me),
    ("GET", "/api/v1/me/referral", Me),
    ("GET", "/api/v1/me/stats", Me),
    ("GET", "/api/v1/me/balance", Me),
    ("GET", "/api/v1/me/payouts", Me),
    ("GET", "/api/v1/me/commissions", Me),
    ("GET", "/api/v1/me/payout-settings", Me),
    ("PUT", "/api/v1/me/payout-settings", Me),
    ("GET", "/api/v1/me/links", Me),
    ("POST", "/api/v1/me/links", Me),
    ("PATCH", "/api/v1/me/links/{id}", Me),
    ("POST", "/api/v1/me/links/{id}/archive", Me),
    ("POST", "/api/v1/me/links/{id}/restore", Me),
    ("GET", "/api/v1/me/promo-codes", Me),
    ("GET", "/api/v1/me/deals", Me),
    ("POST", "/api/v1/me/deals", Me),
    ("GET", "/api/v1/applications", Vendor),
    ("POST", "/api/v1/applications", Browser),
    (
        "OPTIONS",
        "/api/v1/applications",
        Public("CORS preflight: answers no data"),
    ),
    ("GET", "/api/v1/applications/status", Vendor),
    ("POST", "/api/v1/applications/{id}/review", Vendor),
    ("POST", "/api/v1/events", Vendor),
    ("GET", "/api/v1/events", Vendor),
    ("GET", "/api/v1/events/{id}", Vendor),
    ("POST", "/api/v1/events/{id}/replay", Vendor),
    ("POST", "/api/v1/conversions", Vendor),
    ("GET", "/api/v1/conversions", Vendor),
    ("GET", "/api/v1/conversions/{id}", Vendor),
    ("POST", "/api/v1/conversions/{id}/approve", Vendor),
    ("POST", "/api/v1/conversions/{id}/reject", Vendor),
    ("GET", "/api/v1/commissions", Vendor),
    ("GET", "/api/v1/ledger", Vendor),
    ("GET", "/api/v1/analytics", Vendor),
    ("POST", "/api/v1/payouts/run", Vendor),
    ("GET", "/api/v1/payouts", Vendor),
    ("GET", "/api/v1/payouts/export", Vendor),
    ("GET", "/api/v1/payouts/{id}", Vendor),
    ("POST", "/api/v1/payouts/{id}/mark-paid", Vendor),
    ("POST", "/api/v1/payouts/{id}/mark-failed", Vendor),
    ("POST", "/api/v1/payouts/{id}/mark-processing", Vendor),
    ("POST", "/api/v1/payouts/{id}/send", Vendor),
    ("GET", "/api/v1/payout-runs", Vendor),
    ("GET", "/api/v1/payout-runs/{id}", Vendor),
    ("POST", "/api/v1/payout-runs/{id}/mark-processing", Vendor),
    ("POST", "/api/v1/payout-runs/{id}/mark-paid", Vendor),
    ("POST", "/api/v1/payout-runs/{id}/send", Vendor),
    ("GET", "/api/v1/programs", Vendor),
    ("POST", "/api/v1/programs", Vendor),
    ("GET", "/api/v1/programs/{id}", Vendor),
    ("PATCH", "/api/v1/programs/{id}", Vendor),
    ("POST", "/api/v1/programs/{id}/migrate-enrollments", Vendor),
    ("POST", "/api/v1/programs/{id}/terms/backtest", Vendor),
    ("GET", "/api/v1/programs/{id}/groups", Vendor),
    ("POST", "/api/v1/programs/{id}/groups", Vendor),
    ("GET", "/api/v1/groups/{id}", Vendor),
    ("PATCH", "/api/v1/groups/{id}", Vendor),
    ("GET", "/api/v1/programs/{id}/group-rules", Vendor),
    ("POST", "/api/v1/programs/{id}/group-rules", Vendor),
    ("DELETE", "/api/v1/group-rules/{id}", Vendor),
    ("PUT", "/api/v1/affiliates/{id}/group", Vendor),
    ("GET", "/api/v1/me/groups", Me),
    ("GET", "/api/v1/accounting/journal", Vendor),
    ("GET", "/api/v1/accounting/paid-totals", Vendor),
    ("GET", "/api/v1/affiliates/{id}/tax-details", Vendor),
    ("PUT", "/api/v1/affiliates/{id}/tax-details", Vendor),
    ("GET", "/api/v1/me/tax-details", Me),
    ("PUT", "/api/v1/me/tax-details", Me),
    ("GET", "/api/v1/webhook-endpoints", Vendor),
    ("POST", "/api/v1/webhook-endpoints", Vendor),
    ("GET", "/api/v1/webhook-endpoints/{id}", Vendor),
    ("PATCH", "/api/v1/webhook-endpoints/{id}", Vendor),
    ("DELETE", "/api/v1/webhook-endpoints/{id}", Vendor),
    ("GET", "/api/v1/webhook-endpoints/{id}/deliveries", Vendor),
    ("POST", "/api/v1/webhook-endpoints/{id}/test", Vendor),
    ("POST", "/api/v1/webhook-deliveries/{id}/redeliver", Vendor),
];

/// One credential of the matrix.
#[derive(Clone)]
enum Cred {
    None,
    Bearer(String),
    /// A bearer credential with an MCP session id.
    McpSession(String, String),
    /// A browser (cookies) and its CSRF token.
    Browser(Client, String),
    /// A browser on another host.
    Host(Client, String, String),
    /// An embed's `?token=` / form field.
    EmbedToken(String),
}

/// The credentials tried on one route: (what, credential, expected answer).
type Cases = Vec<(&'static str, Cred, Expect)>;

/// One planned route: (method, route pattern, filled path, JSON body?, cases).
type Planned = (Method, String, String, bool, Cases);

/// What a case must answer.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Expect {
    /// 401, 403 or 404, or a redirect to a sign-in page.
    Refused,
    /// Exactly 404: another tenant's object.
    NotFound,
}

/// One vendor's credentials and objects.
struct Tenant {
    shop: Shop,
    slug: String,
    read_key: String,
    publishable_key: String,
    affiliate_id: String,
    /// `afft_`: an affiliate access token (API `/me`, MCP).
    access_token: String,
    /// `afft_` for the embeds.
    embed_token: String,
    /// `afpl_`: the signed portal link's token.
    portal_link_token: String,
    owner: (Client, String),
    portal: (Client, String),
}

async fn ok(app: &TestApp, key: &str, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, body) = app.call(key, method.clone(), path, body).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {body}"
    );
    body
}

/// A browser's CSRF token, read from a page it may see.
async fn csrf(app: &TestApp, client: &Client, path: &str) -> String {
    let html = client
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    csrf_from(&html)
}

async fn tenant(app: &TestApp, name: &str) -> Tenant {
    let shop = shop_named(app, name).await;
    let slug = name.to_lowercase();
    let read_key = app.api_key(&shop.vendor_id, Scope::Read).await;
    let publishable_key = app.api_key(&shop.vendor_id, Scope::Publishable).await;
    let affiliate_id = affiliate(
        app,
        &shop,
        &format!("aff@{slug}.test"),
        &format!("{slug}aff"),
    )
    .await;
    ok(
        app,
        &shop.key,
        Method::PATCH,
        &format!("/api/v1/affiliates/{affiliate_id}"),
        Some(json!({"customer_id": format!("cus_{slug}")})),
    )
    .await;
    let access_token = ok(
        app,
        &shop.key,
        Method::POST,
        &format!("/api/v1/affiliates/{affiliate_id}/token"),
        None,
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let embed_token = ok(
        app,
        &shop.key,
        Method::POST,
        &format!("/api/v1/affiliates/{affiliate_id}/embed-token"),
        Some(json!({"surface": "links", "ttl_seconds": 3600})),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = ok(
        app,
        &shop.key,
        Method::POST,
        &format!("/api/v1/affiliates/{affiliate_id}/portal-link"),
        None,
    )
    .await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let portal_link_token = link.rsplit('/').next().unwrap().to_owned();
    let portal_client = new_client();
    assert_eq!(portal_client.get(&link).send().await.unwrap().status(), 303);
    let portal_csrf = csrf(app, &portal_client, &format!("/p/{slug}/profile")).await;
    let owner = app
        .signed_in_client(&format!("owner@{slug}.test"), OWNER_PASSWORD)
        .await;
    let owner_csrf = csrf(app, &owner, "/dashboard/account").await;
    Tenant {
        shop,
        slug,
        read_key,
        publishable_key,
        affiliate_id,
        access_token,
        embed_token,
        portal_link_token,
        owner: (owner, owner_csrf),
        portal: (portal_client, portal_csrf),
    }
}

/// Gives vendor A one real object of every kind a path names.
async fn objects_of(app: &TestApp, a: &Tenant) {
    let key = &a.shop.key;
    let me = &a.access_token;
    ok(
        app,
        me,
        Method::POST,
        "/api/v1/me/links",
        Some(json!({"name": "Spring", "destination_url": "https://acme.test/spring"})),
    )
    .await;
    ok(
        app,
        me,
        Method::POST,
        "/api/v1/me/deals",
        Some(json!({"lead_email": "lead@bigcorp.test", "lead_name": "Ada"})),
    )
    .await;
    ok(
        app,
        key,
        Method::POST,
        "/api/v1/applications",
        Some(json!({"email": "ann@partners.test", "name": "Ann Lee"})),
    )
    .await;
    ok(
        app,
        key,
        Method::POST,
        "/api/v1/consumers",
        Some(json!({"name": "newgensales"})),
    )
    .await;
    let hook = ok(
        app,
        key,
        Method::POST,
        "/api/v1/webhook-endpoints",
        Some(json!({"url": "https://hooks.example.com/affilia", "events": ["*"]})),
    )
    .await;
    ok(
        app,
        key,
        Method::POST,
        &format!(
            "/api/v1/webhook-endpoints/{}/test",
            hook["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    ok(
        app,
        key,
        Method::POST,
        "/api/v1/referrals",
        Some(json!({"customer_id": "cus_referred", "code": format!("{}aff", a.slug)})),
    )
    .await;
    // A partner group and a promotion rule into it.
    let programs_path = format!("/api/v1/programs/{}", a.shop.program_id);
    let gold = ok(
        app,
        key,
        Method::POST,
        &format!("{programs_path}/groups"),
        Some(json!({"name": "Gold"})),
    )
    .await;
    let groups = ok(
        app,
        key,
        Method::GET,
        &format!("{programs_path}/groups"),
        None,
    )
    .await;
    ok(
        app,
        key,
        Method::POST,
        &format!("{programs_path}/group-rules"),
        Some(
            json!({"from_group_id": groups["data"][0]["id"], "to_group_id": gold["id"],
                    "metric": "approved_conversions", "threshold": 100}),
        ),
    )
    .await;
    // An invited affiliate: an email in the outbox.
    ok(
        app,
        key,
        Method::POST,
        "/api/v1/affiliates",
        Some(json!({"email": "invitee@partners.test", "name": "Ivy", "send_invite": true})),
    )
    .await;
    ok(
        app,
        key,
        Method::POST,
        &format!("/api/v1/affiliates/{}/promo-codes", a.affiliate_id),
        Some(json!({"code": format!("{}20", a.slug.to_uppercase())})),
    )
    .await;
    earn(app, &a.shop, &a.affiliate_id, 10_000, Some("order-1")).await;
    pay_everyone(app, &a.shop, &a.affiliate_id).await;
    // A sale in the fraud review queue.
    ok(
        app,
        key,
        Method::PATCH,
        &format!("/api/v1/programs/{}", a.shop.program_id),
        Some(json!({"fraud_rules": {"disposable_email": "hold"}})),
    )
    .await;
    ok(
        app,
        key,
        Method::POST,
        "/api/v1/events",
        Some(
            json!({"id": "evt_fraud", "type": "charge.succeeded", "customer_id": "cus_referred",
                    "amount_cents": 5000, "currency": "USD", "email": "buyer@mailinator.com"}),
        ),
    )
    .await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM fraud_reviews WHERE vendor_id = '{}'",
            a.shop.vendor_id
        ))
        .await,
        1
    );
    // A personal API token, made in the portal.
    let (portal, token) = &a.portal;
    let res = portal
        .post(app.url(&format!("/p/{}/api-tokens", a.slug)))
        .form(&[("csrf_token", token.as_str()), ("name", "script")])
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success() || res.status().is_redirection(),
        "{}",
        res.status()
    );
}

/// The table an object path parameter names, from the path segment before it.
fn table_of(path: &str, param_at: usize) -> Option<(&'static str, &'static str)> {
    let before = path[..param_at].trim_end_matches('/');
    let segment = before.rsplit('/').next().unwrap_or_default();
    Some(match segment {
        "affiliates" => ("affiliates", "id"),
        "conversions" => ("conversions", "id"),
        "payouts" => ("payouts", "id"),
        "runs" | "payout-runs" => ("payout_runs", "id"),
        "programs" => ("programs", "id"),
        "webhooks" | "webhook-endpoints" => ("webhook_endpoints", "id"),
        "deliveries" | "webhook-deliveries" => ("webhook_deliveries", "id"),
        "consumers" => ("consumers", "id"),
        "keys" | "api-keys" => ("api_keys", "id"),
        "team" => ("vendor_users", "id"),
        "emails" => ("email_outbox", "id"),
        "events" => ("billing_events", "id"),
        "applications" => ("applications", "id"),
        "deals" => ("deals", "id"),
        "reviews" | "fraud" => ("fraud_reviews", "id"),
        "links" => ("links", "id"),
        "api-tokens" => ("affiliate_api_tokens", "id"),
        "referrals" => ("referrals", "id"),
        "promo-codes" => ("promo_codes", "id"),
        "groups" => ("partner_groups", "id"),
        "group-rules" => ("group_rules", "id"),
        _ => return None,
    })
}

/// `path` with every parameter replaced by a real value of vendor A (`slug` for the portal's
/// vendor); `None` when the path names no object (so another vendor may legitimately call it).
async fn fill(app: &TestApp, path: &str, a: &Tenant, slug: &str) -> (String, bool) {
    let mut out = path.to_owned();
    let mut object = false;
    while let Some(start) = out.find('{') {
        let end = out[start..].find('}').map(|e| start + e + 1).unwrap();
        let name = &out[start + 1..end - 1];
        let value = match name {
            "vendor_slug" => slug.to_owned(),
            "surface" => "links".to_owned(),
            "token" => "tok_not_a_real_token".to_owned(),
            // A customer id names no object of its own: each vendor looks up its own
            // customers, and another vendor asking about A's id learns `enrolled: false`.
            "customer_id" => format!("cus_{}", a.slug),
            // A's pending portal domain (another vendor does not list it: 404).
            "host" => A_PENDING_HOST.to_owned(),
            _ => {
                let (table, column) = table_of(&out, start).unwrap_or_else(|| {
                    panic!("isolation matrix: no object for {{{name}}} in {path}")
                });
                object = true;
                let sql = format!(
                    "SELECT {column} FROM {table} WHERE vendor_id = $1 AND {column} IS NOT NULL ORDER BY {column} LIMIT 1"
                );
                let row: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(&a.shop.vendor_id)
                    .fetch_optional(app.db.pool())
                    .await
                    .unwrap();
                row.unwrap_or_else(|| {
                    panic!("isolation matrix: vendor A has no {table} row for {path}")
                })
                .0
            }
        };
        out.replace_range(start..end, &value);
    }
    (out, object)
}

/// Every row of every table, as text (volatile bookkeeping masked).
async fn snapshot(app: &TestApp) -> BTreeMap<String, Vec<String>> {
    let tables_sql = match app.db.kind() {
        DbKind::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        DbKind::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema()"
        }
    };
    let tables: Vec<(String,)> = sqlx::query_as(tables_sql)
        .fetch_all(app.db.pool())
        .await
        .unwrap();
    // Every table at once: on PostgreSQL the round trips, not the rows, are the cost.
    let reads = tables
        .into_iter()
        .map(|(table,)| table)
        // Counters of requests per credential move on every API call, refused or not.
        .filter(|t| t != "_sqlx_migrations" && t != "rate_limit_counters")
        .map(|table| async move {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}")))
                .fetch_all(app.db.pool())
                .await
                .unwrap();
            let mut texts: Vec<String> = rows.iter().map(row_text).collect();
            texts.sort();
            (table, texts)
        });
    futures_util::future::join_all(reads)
        .await
        .into_iter()
        .collect()
}

/// One row as text; bookkeeping that a refused request may still touch (when a key or a
/// portal domain was last used) is masked.
fn row_text(row: &sqlx::any::AnyRow) -> String {
    (0..row.len())
        .map(|i| {
            if matches!(row.columns()[i].name(), "last_used_at" | "last_seen_at") {
                return "~".to_owned();
            }
            if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                return format!("{v:?}");
            }
            if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                return format!("{v:?}");
            }
            if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
                return format!("{v:?}");
            }
            "?".to_owned()
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// A valid body for a write route (so the matrix reaches the credential and object checks,
/// not a missing field): JSON for the API and MCP, form fields for pages.
fn json_body(path: &str) -> Value {
    let route = path.split('/').collect::<Vec<_>>();
    let last = route.last().copied().unwrap_or_default();
    if path == "/mcp" {
        return json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "matrix", "version": "1"}}});
    }
    match (route.get(3).copied().unwrap_or_default(), last) {
        ("affiliates", "code") => json!({"code": "matrixcode1"}),
        ("affiliates", "bonuses") => json!({"amount_cents": 100, "note": "matrix"}),
        ("affiliates", "group") => json!({"group_id": "grp_matrix"}),
        ("programs", "group-rules") => json!({"from_group_id": "grp_matrix",
            "to_group_id": "grp_matrix2", "metric": "approved_conversions", "threshold": 5}),
        ("api-keys", _) => json!({"name": "matrix", "scope": "read"}),
        ("applications", "review") => json!({"action": "reject"}),
        ("deals", "review") => json!({"decision": "reject", "reason": "matrix"}),
        ("consumers", "consumers") => json!({"name": "matrix"}),
        ("conversions", "conversions") => json!({"customer_id": "cus_matrix", "amount_cents": 100}),
        ("events", "events") => json!({"id": "evt_matrix", "type": "charge.succeeded",
            "customer_id": "cus_matrix", "amount_cents": 100, "currency": "USD"}),
        ("referrals", _) => json!({"customer_id": "cus_matrix", "code": "acmeaff"}),
        ("payouts", "mark-failed") => json!({"reason": "matrix"}),
        _ => json!({}),
    }
}

fn form_body(path: &str) -> Vec<(&'static str, &'static str)> {
    match path.rsplit('/').next().unwrap_or_default() {
        "role" => vec![("role", "admin")],
        "status" => vec![("status", "paused")],
        "review" => vec![
            ("decision", "reject"),
            ("reason", "matrix"),
            ("action", "reject"),
            ("code", ""),
            ("rejection_reason", ""),
        ],
        "enabled" => vec![("enabled", "false")],
        "bonuses" => vec![("amount", "1.00"), ("note", "matrix")],
        _ => vec![],
    }
}

/// Sends one case; returns (status, Location).
async fn send(
    app: &TestApp,
    method: &Method,
    path: &str,
    cred: &Cred,
    json_api: bool,
) -> (u16, String) {
    let plain = new_client();
    let (client, url, csrf_token) = match cred {
        Cred::Browser(c, t) => (c, app.url(path), Some(t.clone())),
        Cred::Host(c, host, t) => (c, app.host_url(host, path), Some(t.clone())),
        _ => (&plain, app.url(path), None),
    };
    let mut req = client.request(method.clone(), &url);
    if let Cred::Bearer(token) = cred {
        req = req.bearer_auth(token);
    }
    if let Cred::McpSession(token, session) = cred {
        req = req
            .bearer_auth(token)
            .header("mcp-session-id", session.as_str())
            .header("mcp-protocol-version", "2025-06-18");
    }
    if let Some(t) = &csrf_token {
        req = req.header("x-csrf-token", t.as_str());
    }
    let writes = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if let Cred::EmbedToken(t) = cred {
        if writes {
            req = req.form(&[("token", t.as_str())]);
        } else {
            req = req.query(&[("token", t.as_str())]);
        }
    } else if writes {
        req = if let Cred::McpSession(..) = cred {
            // Inside a session: `initialize` would open a new one, whatever the header says.
            req.json(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        } else if json_api {
            req.json(&json_body(path))
        } else {
            let mut form = vec![("csrf_token", csrf_token.clone().unwrap_or_default())];
            form.extend(form_body(path).into_iter().map(|(k, v)| (k, v.to_owned())));
            req.form(&form)
        };
    }
    let res = req.send().await.expect("matrix request");
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (res.status().as_u16(), location)
}

fn refused(status: u16, location: &str, expect: Expect) -> bool {
    match expect {
        Expect::NotFound => status == 404,
        Expect::Refused => {
            matches!(status, 401 | 403 | 404)
                || ((300..400).contains(&status) && location.contains("/login"))
        }
    }
}

#[tokio::test]
async fn every_route_refuses_every_credential_that_must_not_reach_it() {
    let app = spawn_app().await;
    let a = tenant(&app, "Acme").await;
    let b = tenant(&app, "Beta").await;
    objects_of(&app, &a).await;
    // A viewer of A.
    let hash = password::hash(OWNER_PASSWORD.to_owned()).await.unwrap();
    affilia::db::users::insert(
        app.db.pool(),
        &a.shop.vendor_id,
        "viewer@acme.test",
        "Vera",
        &hash,
        "viewer",
    )
    .await
    .unwrap();
    let viewer = app
        .signed_in_client("viewer@acme.test", OWNER_PASSWORD)
        .await;
    let viewer_csrf = csrf(&app, &viewer, "/dashboard/account").await;
    // B's own portal domain, and B's affiliate signed in there.
    let b_host = "partners.beta.test";
    vendors::add_portal_domain(
        &app.db,
        &["127.0.0.1".to_owned()],
        &b.shop.vendor_id,
        b_host,
        true,
        &Actor::Cli,
    )
    .await
    .unwrap();
    // A's pending portal domain: the `{host}` of the verify route.
    vendors::add_portal_domain(
        &app.db,
        &["127.0.0.1".to_owned()],
        &a.shop.vendor_id,
        A_PENDING_HOST,
        false,
        &Actor::Cli,
    )
    .await
    .unwrap();
    let b_on_host = app.client_for_host(b_host);
    let res = b_on_host
        .get(app.host_url(b_host, &format!("/login/portal/{}", b.portal_link_token)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "B's portal link on B's domain");
    let html = b_on_host
        .get(app.host_url(b_host, "/profile"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let b_host_csrf = csrf_from(&html);

    // An MCP session opened by B's key.
    let res = app
        .client
        .post(app.url("/mcp"))
        .bearer_auth(&b.shop.key)
        .header("accept", "application/json, text/event-stream")
        .json(&json_body("/mcp"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "B opens an MCP session");
    let b_mcp_session = res.headers()["mcp-session-id"].to_str().unwrap().to_owned();

    // The routes: the API's from its document, the others from the real tables.
    let document: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let mut api_routes = Vec::new();
    let mut missing = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            if !["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
                .contains(&method.as_str())
            {
                continue;
            }
            match API_ACCESS
                .iter()
                .find(|(m, p, _)| *m == method && p == path)
            {
                Some((_, _, access)) => api_routes.push((method, path.clone(), *access)),
                None => missing.push(format!("{method} {path}")),
            }
        }
    }
    assert!(
        missing.is_empty(),
        "isolation matrix: these API routes have no entry in API_ACCESS (tests/api/isolation_matrix.rs); add one line each: {missing:?}"
    );
    let tables = route_table::all();

    let baseline = snapshot(&app).await;
    let mut checked = 0usize;
    let mut routes = 0usize;
    let mut leaks = Vec::new();
    let mut public = Vec::new();

    let a_owner = Cred::Browser(a.owner.0.clone(), a.owner.1.clone());
    let b_owner = Cred::Browser(b.owner.0.clone(), b.owner.1.clone());
    let a_portal = Cred::Browser(a.portal.0.clone(), a.portal.1.clone());
    let b_portal = Cred::Browser(b.portal.0.clone(), b.portal.1.clone());
    let bearer = |s: &str| Cred::Bearer(s.to_owned());

    // (method, filled path, json?, cases)
    let mut plan: Vec<Planned> = Vec::new();
    for (method, path, access) in &api_routes {
        if let Public(reason) = access {
            public.push(format!("{method} {path}: {reason}"));
            routes += 1;
            continue;
        }
        let (filled, object) = fill(&app, path, &a, &a.slug).await;
        let writes = method != "GET";
        let mut cases: Vec<(&'static str, Cred, Expect)> =
            vec![("no credential", Cred::None, Expect::Refused)];
        match access {
            Vendor | Browser | Kernel => {
                cases.push((
                    "affiliate access token as a vendor key",
                    bearer(&a.access_token),
                    Expect::Refused,
                ));
                cases.push((
                    "portal link token as a vendor key",
                    bearer(&a.portal_link_token),
                    Expect::Refused,
                ));
                cases.push((
                    "staff session cookie instead of a key",
                    a_owner.clone(),
                    Expect::Refused,
                ));
                if !matches!(access, Browser) {
                    cases.push((
                        "publishable key as a secret key",
                        bearer(&a.publishable_key),
                        Expect::Refused,
                    ));
                }
                if writes {
                    cases.push((
                        "read-scope key on a write route",
                        bearer(&a.read_key),
                        Expect::Refused,
                    ));
                }
                if object {
                    cases.push((
                        "another vendor's key on A's object",
                        bearer(&b.shop.key),
                        Expect::NotFound,
                    ));
                }
            }
            Me => {
                cases.push(("vendor key on /me", bearer(&a.shop.key), Expect::Refused));
                cases.push((
                    "publishable key on /me",
                    bearer(&a.publishable_key),
                    Expect::Refused,
                ));
                cases.push((
                    "portal session cookie instead of a token",
                    a_portal.clone(),
                    Expect::Refused,
                ));
                if object {
                    cases.push((
                        "another vendor's affiliate on A's object",
                        bearer(&b.access_token),
                        Expect::NotFound,
                    ));
                }
            }
            Public(reason) => {
                public.push(format!("{method} {path}: {reason}"));
                cases.clear();
            }
        }
        routes += 1;
        if !cases.is_empty() {
            plan.push((
                Method::from_bytes(method.as_bytes()).unwrap(),
                path.clone(),
                filled,
                true,
                cases,
            ));
        }
    }
    for table in &tables {
        for (method, path, access) in table.listed() {
            routes += 1;
            let method = Method::from_bytes(method.as_str().as_bytes()).unwrap();
            if let Access::Public(reason) = access {
                public.push(format!("{method} {path}: {reason}"));
                continue;
            }
            let (filled, object) = fill(&app, &path, &a, &a.slug).await;
            let writes = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
            let mut cases: Vec<(&'static str, Cred, Expect)> =
                vec![("no credential", Cred::None, Expect::Refused)];
            match access {
                Access::Public(_) => continue,
                Access::Staff | Access::StaffOwnAccount => {
                    cases.push((
                        "API key instead of a session",
                        bearer(&a.shop.key),
                        Expect::Refused,
                    ));
                    cases.push((
                        "affiliate portal session on the dashboard",
                        a_portal.clone(),
                        Expect::Refused,
                    ));
                    if access == Access::Staff {
                        if writes {
                            cases.push((
                                "viewer on a write route",
                                Cred::Browser(viewer.clone(), viewer_csrf.clone()),
                                Expect::Refused,
                            ));
                        }
                        if object {
                            cases.push((
                                "another vendor's owner on A's object",
                                b_owner.clone(),
                                Expect::NotFound,
                            ));
                        }
                    }
                }
                Access::Affiliate => {
                    cases.push((
                        "another vendor's affiliate on A's portal",
                        b_portal.clone(),
                        Expect::Refused,
                    ));
                    cases.push((
                        "A's staff session on the portal",
                        a_owner.clone(),
                        Expect::Refused,
                    ));
                    cases.push((
                        "affiliate access token as a session",
                        bearer(&a.access_token),
                        Expect::Refused,
                    ));
                    if object {
                        let (on_b, _) = fill(&app, &path, &a, &b.slug).await;
                        plan.push((
                            method.clone(),
                            path.clone(),
                            on_b,
                            false,
                            vec![(
                                "another vendor's affiliate on A's object",
                                b_portal.clone(),
                                Expect::NotFound,
                            )],
                        ));
                        let host_path = filled
                            .trim_start_matches(&format!("/p/{}", a.slug))
                            .to_owned();
                        plan.push((
                            method.clone(),
                            path.clone(),
                            host_path,
                            false,
                            vec![(
                                "another vendor's host and affiliate on A's object",
                                Cred::Host(
                                    b_on_host.clone(),
                                    b_host.to_owned(),
                                    b_host_csrf.clone(),
                                ),
                                Expect::NotFound,
                            )],
                        ));
                    }
                }
                Access::EmbedToken => {
                    cases.push((
                        "vendor key as an embed token",
                        Cred::EmbedToken(a.shop.key.clone()),
                        Expect::Refused,
                    ));
                    cases.push((
                        "portal link token as an embed token",
                        Cred::EmbedToken(a.portal_link_token.clone()),
                        Expect::Refused,
                    ));
                    cases.push((
                        "portal session instead of a token",
                        a_portal.clone(),
                        Expect::Refused,
                    ));
                    if object {
                        cases.push((
                            "another vendor's embed token on A's object",
                            Cred::EmbedToken(b.embed_token.clone()),
                            Expect::NotFound,
                        ));
                    }
                }
                Access::Bearer => {
                    // B's MCP session presented with A's key: sessions are bound to the
                    // credential that opened them.
                    cases.push((
                        "another vendor's MCP session with A's key",
                        Cred::McpSession(a.shop.key.clone(), b_mcp_session.clone()),
                        Expect::NotFound,
                    ));
                    cases.push((
                        "publishable key on MCP",
                        bearer(&a.publishable_key),
                        Expect::Refused,
                    ));
                    cases.push((
                        "portal link token on MCP",
                        bearer(&a.portal_link_token),
                        Expect::Refused,
                    ));
                    cases.push((
                        "staff session cookie instead of a bearer",
                        a_owner.clone(),
                        Expect::Refused,
                    ));
                }
            }
            plan.push((method, path, filled, table.name == "mcp", cases));
        }
    }

    for (method, route, path, json_api, cases) in &plan {
        for (what, cred, expect) in cases {
            checked += 1;
            let (status, location) = send(&app, method, path, cred, *json_api).await;
            let refused = refused(status, &location, *expect);
            let after = snapshot(&app).await;
            let changed: Vec<&String> = after
                .iter()
                .filter(|(t, rows)| baseline.get(*t) != Some(rows))
                .map(|(t, _)| t)
                .collect();
            if !refused || !changed.is_empty() {
                leaks.push(format!(
                    "{method} {route} ({path}) with {what}: {status} {location}, expected {expect:?}{}",
                    if changed.is_empty() { String::new() } else { format!("; tables changed: {changed:?}") }
                ));
            }
        }
    }
    // The snapshot sees a change when there is one: A's own key renaming its program.
    ok(
        &app,
        &a.shop.key,
        Method::PATCH,
        &format!("/api/v1/programs/{}", a.shop.program_id),
        Some(json!({"name": "Renamed by the matrix"})),
    )
    .await;
    assert_ne!(
        snapshot(&app).await,
        baseline,
        "the snapshot must see a legitimate change"
    );
    println!("routes x credentials checked: {checked} ({routes} routes)");
    println!(
        "public routes ({}):\n  {}",
        public.len(),
        public.join("\n  ")
    );
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}
