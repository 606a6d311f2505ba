//! The MCP server (`/mcp`, issue 18): the streamable HTTP transport (sessions, version
//! negotiation, JSON errors), every admin tool with a vendor API key, every self-service
//! tool with an affiliate token, and the API's scope and tenant checks, over real HTTP.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::affiliates::{affiliate, payout_settings, set_status};
use crate::helpers::money::{earn, money_shop};
use crate::helpers::vendors::{Shop, patch_program};
use crate::helpers::{TestApp, spawn_app, test_settings};
use affilia::domain::tenancy::api_keys::Scope;

const VERSION: &str = "2025-06-18";

/// One MCP session over HTTP.
struct Mcp {
    url: String,
    client: reqwest::Client,
    token: String,
    session: String,
}

async fn post_raw(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    session: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut req = client
        .post(url)
        .header("Accept", "application/json, text/event-stream")
        .json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(s) = session {
        req = req
            .header("Mcp-Session-Id", s)
            .header("MCP-Protocol-Version", VERSION);
    }
    req.send().await.unwrap()
}

fn initialize_body(version: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {},
        "clientInfo": {"name": "affilia-tests", "version": "1.0"}}})
}

impl Mcp {
    async fn connect_to(url: String, token: &str) -> Self {
        let client = reqwest::Client::new();
        let res = post_raw(&client, &url, Some(token), None, &initialize_body(VERSION)).await;
        assert_eq!(res.status(), 200);
        let session = res.headers()["mcp-session-id"].to_str().unwrap().to_owned();
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["result"]["protocolVersion"], VERSION, "{body}");
        assert_eq!(body["result"]["serverInfo"]["name"], "affilia");
        assert!(body["result"]["capabilities"]["tools"].is_object());
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let res = post_raw(&client, &url, Some(token), Some(&session), &note).await;
        assert_eq!(res.status(), 202);
        Self {
            url,
            client,
            token: token.to_owned(),
            session,
        }
    }

    async fn connect(app: &TestApp, token: &str) -> Self {
        Self::connect_to(app.url("/mcp"), token).await
    }

    /// A request in the session → the whole JSON-RPC answer.
    async fn rpc(&self, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
        let res = post_raw(
            &self.client,
            &self.url,
            Some(&self.token),
            Some(&self.session),
            &body,
        )
        .await;
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["id"], 7, "{v}");
        v
    }

    async fn tools(&self) -> Vec<Value> {
        let v = self.rpc("tools/list", json!({})).await;
        v["result"]["tools"].as_array().unwrap().clone()
    }

    async fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .tools()
            .await
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    }

    /// Calls a tool that must succeed → its structured content.
    async fn ok(&self, name: &str, args: Value) -> Value {
        let v = self
            .rpc("tools/call", json!({"name": name, "arguments": args}))
            .await;
        let r = &v["result"];
        assert_eq!(r["isError"], false, "{name}: {v}");
        let text = r["content"][0]["text"].as_str().unwrap();
        assert!(!text.is_empty() && !text.contains('\n'), "{name}: {text}");
        r["structuredContent"].clone()
    }

    /// Calls a tool that must fail → (error code, field).
    async fn fails(&self, name: &str, args: Value) -> (String, Option<String>) {
        let v = self
            .rpc("tools/call", json!({"name": name, "arguments": args}))
            .await;
        let r = &v["result"];
        assert_eq!(r["isError"], true, "{name}: {v}");
        let e = &r["structuredContent"]["error"];
        let code = e["code"].as_str().unwrap().to_owned();
        assert!(r["content"][0]["text"].as_str().unwrap().starts_with(&code));
        (code, e["field"].as_str().map(str::to_owned))
    }
}

const ADMIN_TOOLS: [&str; 17] = [
    "affiliate_approve",
    "affiliate_ban",
    "affiliate_invite",
    "affiliate_pause",
    "affiliates_list",
    "analytics_get",
    "application_review",
    "applications_list",
    "conversion_approve",
    "conversion_reject",
    "conversion_report",
    "conversions_list",
    "payout_run",
    "programs_create",
    "programs_get",
    "programs_list",
    "programs_update",
];

const READ_TOOLS: [&str; 7] = [
    "affiliates_list",
    "analytics_get",
    "applications_list",
    "conversions_list",
    "payout_run",
    "programs_get",
    "programs_list",
];

const SELF_TOOLS: [&str; 7] = [
    "my_balance_get",
    "my_deal_register",
    "my_link_create",
    "my_payouts_list",
    "my_programs_list",
    "my_referral_get",
    "my_stats_get",
];

async fn token(app: &TestApp, s: &Shop, affiliate_id: &str) -> String {
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/affiliates/{affiliate_id}/token"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn transport_answers_json_with_sessions_and_version_negotiation() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 1000})).await;
    let url = app.url("/mcp");
    let client = reqwest::Client::new();

    // No credential, a wrong one: 401 in the API's envelope, never the CSRF page.
    let res = post_raw(&client, &url, None, None, &initialize_body(VERSION)).await;
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let res = post_raw(
        &client,
        &url,
        Some("afk_nope"),
        None,
        &initialize_body(VERSION),
    )
    .await;
    assert_eq!(res.status(), 401);
    let res = post_raw(
        &client,
        &url,
        Some("afft_nope.x"),
        None,
        &initialize_body(VERSION),
    )
    .await;
    assert_eq!(res.status(), 401);
    // GET offers no stream; other methods are refused too, in JSON.
    let res = client.get(&url).bearer_auth(&s.key).send().await.unwrap();
    assert_eq!(res.status(), 405);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");

    // Version negotiation: a served version is echoed, an unknown one gets our newest.
    for (asked, answered) in [
        ("2024-11-05", "2024-11-05"),
        ("2025-03-26", "2025-03-26"),
        ("2025-11-25", "2025-11-25"),
        ("1999-01-01", "2025-11-25"),
    ] {
        let res = post_raw(&client, &url, Some(&s.key), None, &initialize_body(asked)).await;
        assert_eq!(res.status(), 200);
        assert!(res.headers().contains_key("mcp-session-id"));
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["result"]["protocolVersion"], answered, "{asked}");
    }

    let ping = json!({"jsonrpc": "2.0", "id": "p", "method": "ping"});
    // Without a session: 400; with a made-up one: 404.
    let res = post_raw(&client, &url, Some(&s.key), None, &ping).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32600);
    let res = post_raw(&client, &url, Some(&s.key), Some("mcps_bogus.x"), &ping).await;
    assert_eq!(res.status(), 404);

    let mcp = Mcp::connect(&app, &s.key).await;
    let pong = mcp.rpc("ping", json!({})).await;
    assert_eq!(pong["result"], json!({}));
    let unknown = mcp.rpc("resources/list", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32601);
    let unknown_tool = mcp
        .rpc(
            "tools/call",
            json!({"name": "drop_tables", "arguments": {}}),
        )
        .await;
    assert_eq!(unknown_tool["error"]["code"], -32602);

    // An unsupported MCP-Protocol-Version header is a 400.
    let res = client
        .post(&url)
        .bearer_auth(&s.key)
        .header("Mcp-Session-Id", &mcp.session)
        .header("MCP-Protocol-Version", "1999-01-01")
        .json(&ping)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Malformed JSON: a JSON-RPC parse error.
    let res = client
        .post(&url)
        .bearer_auth(&s.key)
        .header("Mcp-Session-Id", &mcp.session)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700);

    // A batch is answered with a batch.
    let batch = json!([ping, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}]);
    let res = post_raw(&client, &url, Some(&s.key), Some(&mcp.session), &batch).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body.as_array().unwrap().len(), 2, "{body}");

    // A client taking only server-sent events gets one event.
    let res = client
        .post(&url)
        .bearer_auth(&s.key)
        .header("Accept", "text/event-stream")
        .header("Mcp-Session-Id", &mcp.session)
        .json(&ping)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = res.text().await.unwrap();
    assert!(text.starts_with("event: message\ndata: {"), "{text}");
    assert!(text.contains("\"id\":\"p\""), "{text}");

    // The session is bound to its credential: another key cannot use it.
    let other_key = app.api_key(&s.vendor_id, Scope::Full).await;
    let res = post_raw(&client, &url, Some(&other_key), Some(&mcp.session), &ping).await;
    assert_eq!(res.status(), 404);

    // Another instance with the same secret (a load balancer's other backend) serves it.
    let second = second_backend(&app).await;
    let res = post_raw(&client, &second, Some(&s.key), Some(&mcp.session), &ping).await;
    assert_eq!(res.status(), 200);

    // DELETE ends it, everywhere.
    let res = client
        .delete(&url)
        .bearer_auth(&s.key)
        .header("Mcp-Session-Id", &mcp.session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    for u in [&url, &second] {
        let res = post_raw(&client, u, Some(&s.key), Some(&mcp.session), &ping).await;
        assert_eq!(res.status(), 404);
    }
}

/// Starts a second server on the same database with the same secret; returns its `/mcp`.
async fn second_backend(first: &TestApp) -> String {
    let secret = hex::decode(&first.secret_hex).unwrap();
    let settings = test_settings(&first.database_url, secret);
    let db = affilia::db::Db::connect(&first.database_url).await.unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let app = affilia::app::Application::build_with_listener(settings, db, listener).unwrap();
    tokio::spawn(app.run_until_stopped());
    format!("http://{addr}/mcp")
}

#[tokio::test]
async fn an_admin_key_runs_a_whole_program() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 1000})).await;
    let mcp = Mcp::connect(&app, &s.key).await;
    assert_eq!(mcp.names().await, ADMIN_TOOLS);
    for t in mcp.tools().await {
        let name = t["name"].as_str().unwrap();
        assert_eq!(t["inputSchema"]["type"], "object", "{name}");
        assert_eq!(t["outputSchema"]["type"], "object", "{name}");
        let read_only = READ_TOOLS.contains(&name) && name != "payout_run";
        assert_eq!(t["annotations"]["readOnlyHint"], read_only, "{name}");
    }

    // Programs.
    let created = mcp
        .ok(
            "programs_create",
            json!({"name": "Partners", "currency": "EUR",
              "commission": {"type": "flat", "amount_cents": 500}}),
        )
        .await;
    let program_id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["currency"], "EUR");
    let listed = mcp.ok("programs_list", json!({"per_page": 10})).await;
    assert_eq!(listed["total"], 2);
    let got = mcp
        .ok("programs_get", json!({"program_id": program_id}))
        .await;
    assert_eq!(got["name"], "Partners");
    let updated = mcp
        .ok(
            "programs_update",
            json!({"program_id": program_id,
              "commission": {"type": "percentage", "bps": 1500}}),
        )
        .await;
    assert_eq!(updated["terms_version"], 2);
    assert_eq!(
        mcp.fails(
            "programs_update",
            json!({"program_id": program_id, "holding_period_days": 999})
        )
        .await
        .0,
        "invalid"
    );

    // Affiliates.
    let invited = mcp
        .ok(
            "affiliate_invite",
            json!({"email": "jane@partners.test", "name": "Jane",
              "code": "jane", "send_invite": false}),
        )
        .await;
    let jane = invited["id"].as_str().unwrap().to_owned();
    assert_eq!(invited["status"], "invited");
    assert_eq!(
        mcp.fails("affiliate_invite", json!({"email": "jane@partners.test"}))
            .await,
        ("duplicate".to_owned(), Some("email".to_owned()))
    );
    let approved = mcp
        .ok("affiliate_approve", json!({"affiliate_id": jane}))
        .await;
    assert_eq!(approved["status"], "active");
    let paused = mcp
        .ok("affiliate_pause", json!({"affiliate_id": jane}))
        .await;
    assert_eq!(paused["status"], "paused");
    mcp.ok("affiliate_approve", json!({"affiliate_id": jane}))
        .await;
    let bob = affiliate(&app, &s, "bob@partners.test", "bob").await;
    let banned = mcp.ok("affiliate_ban", json!({"affiliate_id": bob})).await;
    assert_eq!(banned["status"], "banned");
    let active = mcp.ok("affiliates_list", json!({"status": "active"})).await;
    assert_eq!(active["total"], 1);
    assert_eq!(active["data"][0]["id"], jane.as_str());

    // Applications: review one.
    let (status, submitted) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/applications",
            Some(json!({"email": "ann@partners.test", "name": "Ann Lee"})),
        )
        .await;
    assert_eq!(status, 201, "{submitted}");
    let pending = mcp
        .ok("applications_list", json!({"status": "pending"}))
        .await;
    assert_eq!(pending["total"], 1);
    let application_id = pending["data"][0]["id"].as_str().unwrap().to_owned();
    let reviewed = mcp
        .ok(
            "application_review",
            json!({"application_id": application_id,
              "action": "approve", "code": "ann"}),
        )
        .await;
    assert_eq!(reviewed["status"], "approved");
    assert_eq!(reviewed["affiliate"]["code"], "ann");
    assert_eq!(
        mcp.fails(
            "application_review",
            json!({"application_id": application_id, "action": "reject"})
        )
        .await
        .0,
        "invalid_state"
    );

    // Conversions: report, approve one, reject another.
    let c1 = mcp
        .ok(
            "conversion_report",
            json!({"affiliate_id": jane, "amount_cents": 20000,
              "external_id": "order-1"}),
        )
        .await;
    assert_eq!(c1["commission_cents"], 2000);
    let c1 = c1["id"].as_str().unwrap().to_owned();
    let (code, _) = mcp
        .fails(
            "conversion_report",
            json!({"affiliate_id": jane, "amount_cents": 20000,
               "external_id": "order-1"}),
        )
        .await;
    assert_eq!(code, "duplicate");
    let c2 = mcp
        .ok(
            "conversion_report",
            json!({"code": "jane", "amount_cents": 5000}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        mcp.ok("conversion_approve", json!({"conversion_id": c1}))
            .await["status"],
        "approved"
    );
    assert_eq!(
        mcp.ok(
            "conversion_reject",
            json!({"conversion_id": c2, "reason": "test order"})
        )
        .await["status"],
        "rejected"
    );
    assert_eq!(
        mcp.fails("conversion_approve", json!({"conversion_id": c2}))
            .await
            .0,
        "invalid_state"
    );
    let listed = mcp
        .ok("conversions_list", json!({"affiliate_id": jane}))
        .await;
    assert_eq!(listed["total"], 2);

    // Analytics.
    let analytics = mcp
        .ok("analytics_get", json!({"program_id": s.program_id}))
        .await;
    assert!(analytics["totals"].is_object(), "{analytics}");
    assert_eq!(
        analytics["leaderboard"][0]["affiliate_id"],
        jane.as_str(),
        "{analytics}"
    );

    // Payouts: a dry run first (nothing changes), then a confirmed run.
    payout_settings(
        &app,
        &s,
        &jane,
        json!({"payout_method": "paypal", "payout_email": "jane@paypal.test"}),
    )
    .await;
    patch_program(&app, &s, json!({"min_payout_cents": 1})).await;
    let dry = mcp.ok("payout_run", json!({})).await;
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        dry["runs"][0]["payouts"].as_array().unwrap().len(),
        1,
        "{dry}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM payouts").await, 0);
    let real = mcp.ok("payout_run", json!({"confirm": true})).await;
    assert_eq!(real["dry_run"], false);
    assert_eq!(
        real["runs"][0]["payouts"][0]["amount_cents"], 2000,
        "{real}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM payouts").await, 1);
    // Audited as the key's actions.
    assert!(app.count("SELECT COUNT(*) FROM audit_log").await > 0);
}

#[tokio::test]
async fn scopes_tenants_and_arguments_are_checked_as_in_the_api() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 1000})).await;
    let other = money_shop(&app, "Globex", json!({"type": "percentage", "bps": 1000})).await;
    let theirs = affiliate(&app, &other, "them@globex.test", "them").await;
    let their_conversion =
        crate::helpers::money::convert(&app, &other, &theirs, 1000, None, false).await;
    let (_, their_application) = app
        .call(
            &other.key,
            Method::POST,
            "/api/v1/applications",
            Some(json!({"email": "x@globex.test", "name": "X"})),
        )
        .await;

    // A read key sees only read tools and cannot call write ones (403 → forbidden).
    let read = app.api_key(&s.vendor_id, Scope::Read).await;
    let mcp = Mcp::connect(&app, &read).await;
    assert_eq!(mcp.names().await, READ_TOOLS);
    assert_eq!(
        mcp.fails("programs_create", json!({"name": "Nope"}))
            .await
            .0,
        "forbidden"
    );
    let dry = mcp.ok("payout_run", json!({})).await;
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        mcp.fails("payout_run", json!({"confirm": true})).await.0,
        "forbidden"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM payout_runs").await, 0);
    let write = app.api_key(&s.vendor_id, Scope::Write).await;
    assert_eq!(Mcp::connect(&app, &write).await.names().await, ADMIN_TOOLS);

    // Another vendor's ids are not found, exactly as the API's 404.
    let mcp = Mcp::connect(&app, &s.key).await;
    let (status, api) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/programs/{}", other.program_id),
            None,
        )
        .await;
    assert_eq!(
        (status, api["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    for (tool, args) in [
        ("programs_get", json!({"program_id": other.program_id})),
        (
            "programs_update",
            json!({"program_id": other.program_id, "name": "Mine"}),
        ),
        ("affiliate_approve", json!({"affiliate_id": theirs})),
        ("affiliate_pause", json!({"affiliate_id": theirs})),
        ("affiliate_ban", json!({"affiliate_id": theirs})),
        (
            "conversion_approve",
            json!({"conversion_id": their_conversion}),
        ),
        (
            "conversion_reject",
            json!({"conversion_id": their_conversion}),
        ),
        (
            "application_review",
            json!({"application_id": their_application["id"], "action": "approve"}),
        ),
        (
            "conversion_report",
            json!({"affiliate_id": theirs, "amount_cents": 100}),
        ),
    ] {
        assert_eq!(
            mcp.fails(tool, args).await,
            ("not_found".to_owned(), None),
            "{tool}"
        );
    }
    let listed = mcp
        .ok("conversions_list", json!({"affiliate_id": theirs}))
        .await;
    assert_eq!(listed["total"], 0);
    let (status, c) = app
        .call(
            &other.key,
            Method::GET,
            &format!("/api/v1/conversions/{their_conversion}"),
            None,
        )
        .await;
    assert_eq!((status, c["status"].as_str()), (200, Some("pending")));

    // Arguments are read like API bodies: unknown or mistyped fields are named.
    assert_eq!(
        mcp.fails("programs_list", json!({"vendor_id": other.vendor_id}))
            .await,
        ("bad_request".to_owned(), Some("vendor_id".to_owned()))
    );
    assert_eq!(
        mcp.fails(
            "conversion_report",
            json!({"code": "x", "amount_cents": "lots"})
        )
        .await,
        ("bad_request".to_owned(), Some("amount_cents".to_owned()))
    );
    assert_eq!(
        mcp.fails("programs_get", json!({})).await,
        ("invalid".to_owned(), Some("program_id".to_owned()))
    );
    // An affiliate tool is no tool at all for a key.
    let v = mcp
        .rpc(
            "tools/call",
            json!({"name": "my_balance_get", "arguments": {}}),
        )
        .await;
    assert_eq!(v["error"]["code"], -32602);
}

#[tokio::test]
async fn an_affiliate_token_gets_only_its_own_self_service() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 1000})).await;
    let jane = affiliate(&app, &s, "jane@partners.test", "jane").await;
    let bob = affiliate(&app, &s, "bob@partners.test", "bob").await;
    earn(&app, &s, &jane, 10_000, Some("inv-1")).await;
    earn(&app, &s, &bob, 50_000, Some("inv-2")).await;
    let t = token(&app, &s, &jane).await;

    let mcp = Mcp::connect(&app, &t).await;
    assert_eq!(mcp.names().await, SELF_TOOLS);
    for tool in mcp.tools().await {
        let name = tool["name"].as_str().unwrap();
        let writes = ["my_link_create", "my_deal_register"].contains(&name);
        assert_eq!(tool["annotations"]["readOnlyHint"], !writes, "{name}");
        // No self-service tool takes an affiliate id.
        assert!(
            tool["inputSchema"]["properties"]
                .get("affiliate_id")
                .is_none(),
            "{name}"
        );
    }

    let programs = mcp.ok("my_programs_list", json!({})).await;
    assert_eq!(programs["data"][0]["code"], "jane");
    let referral = mcp.ok("my_referral_get", json!({})).await;
    assert_eq!(referral["referral_url"], app.url("/r/jane"));
    let balance = mcp.ok("my_balance_get", json!({})).await;
    assert_eq!(balance["data"][0]["available_cents"], 1000, "{balance}");
    let stats = mcp.ok("my_stats_get", json!({"period": "30d"})).await;
    assert!(stats.is_object());
    let payouts = mcp.ok("my_payouts_list", json!({})).await;
    assert_eq!(payouts["total"], 0);
    let link = mcp
        .ok(
            "my_link_create",
            json!({"name": "Newsletter", "slug": "news"}),
        )
        .await;
    assert!(
        link["url"].as_str().unwrap().ends_with("/r/jane/news"),
        "{link}"
    );
    let deal = mcp
        .ok(
            "my_deal_register",
            json!({"lead_email": "lead@corp.test", "lead_name": "Lee"}),
        )
        .await;
    assert_eq!(deal["status"], "pending");
    let (status, deals) = app.call(&s.key, Method::GET, "/api/v1/deals", None).await;
    assert_eq!(
        (status, deals["data"][0]["affiliate_id"].as_str()),
        (200, Some(jane.as_str()))
    );

    // No way to name another affiliate, and no admin tool at all.
    assert_eq!(
        mcp.fails("my_balance_get", json!({"affiliate_id": bob}))
            .await,
        ("bad_request".to_owned(), Some("affiliate_id".to_owned()))
    );
    for admin in [
        "programs_list",
        "affiliates_list",
        "payout_run",
        "conversion_approve",
    ] {
        let v = mcp
            .rpc("tools/call", json!({"name": admin, "arguments": {}}))
            .await;
        assert_eq!(v["error"]["code"], -32602, "{admin}: {v}");
    }

    // A banned affiliate's token stops working at once.
    set_status(&app, &s, &jane, "banned").await;
    let res = post_raw(
        &mcp.client,
        &mcp.url,
        Some(&t),
        Some(&mcp.session),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
    )
    .await;
    assert_eq!(res.status(), 401);
}
