//! `/mcp`: the Model Context Protocol server over the streamable HTTP transport, for AI
//! agents. Protocol types come from the official Rust SDK (`rmcp`); the transport is ours
//! because the SDK's server transport is tower-based and does not mount under actix.
//!
//! * `POST /mcp` takes one JSON-RPC message (or a batch) and answers `application/json`,
//!   or one server-sent event when the client accepts only `text/event-stream`;
//!   notifications and responses alone are `202 Accepted` with no body.
//! * `initialize` opens a session: its answer carries `Mcp-Session-Id`, which every later
//!   request must send back (400 without it, 404 once it is unknown, expired or ended).
//!   Ids are signed, not stored ([`crate::domain::access::mcp_sessions`]), so any instance
//!   behind a load balancer serves any session.
//! * `GET /mcp` is 405: the server never starts a stream of its own.
//! * `DELETE /mcp` ends the session.
//!
//! Every request carries a bearer credential, checked every time exactly as the API checks
//! it: a vendor API key sees the admin tools its scope allows, an affiliate token
//! (`afft_`/`afpt_`) sees only the self-service tools. No credential is a 401 in the API's
//! JSON envelope; nothing here ever answers HTML. The credential is a header, never a
//! cookie, so a browser page cannot ride on ambient authority (the CSRF layer exempts
//! `/mcp` like `/api`).

mod rpc;
mod tools;

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use rmcp::model::{ErrorCode, RequestId};
use serde_json::{Value, json};

use crate::db;
use crate::domain::access::credentials;
use crate::domain::access::mcp_sessions::{self, Session, SessionSigner};
use crate::domain::tenancy::api_keys::{self, ApiPrincipal};
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::api::auth::bearer_token;
use crate::http::route_table::{Access, RouteTable};
use crate::route;

/// The session header (case-insensitive on the wire).
pub const SESSION_HEADER: &str = "mcp-session-id";
/// The protocol-version header clients send after `initialize`.
pub const VERSION_HEADER: &str = "mcp-protocol-version";
/// Largest request body.
const BODY_LIMIT: usize = 1024 * 1024;

/// Whether `path` is the MCP endpoint (its errors are JSON, never pages).
pub fn is_mcp(path: &str) -> bool {
    path == "/mcp" || path.starts_with("/mcp/")
}

/// The MCP routes: the one place they are declared. `GET` is listed because it answers
/// (405) rather than falling through to the 404.
pub fn table() -> RouteTable {
    RouteTable {
        name: "mcp",
        prefix: "",
        routes: vec![
            route!(POST "/mcp" => post, Access::Bearer),
            route!(DELETE "/mcp" => delete, Access::Bearer),
            route!(GET "/mcp" => method_not_allowed, Access::Public("always 405: the server starts no stream of its own")),
        ],
    }
}

/// The `/mcp` resource, built from [`table`] (one resource, so any other method is a 405).
pub fn resource() -> actix_web::Resource {
    table()
        .routes
        .iter()
        .filter_map(|e| e.route())
        .fold(
            web::resource("/mcp").app_data(web::PayloadConfig::new(BODY_LIMIT)),
            |resource, route| resource.route(route),
        )
        .default_service(web::to(method_not_allowed))
}

/// Who is calling, from the bearer credential.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A vendor's API key: the admin tools its scope allows.
    Vendor(ApiPrincipal),
    /// An affiliate's own credential: the self-service tools only.
    Affiliate {
        /// Tenant.
        vendor_id: String,
        /// The affiliate (never taken from a tool argument).
        affiliate_id: String,
    },
}

/// The caller and the raw credential (sessions are bound to it).
async fn authenticate(req: &HttpRequest, state: &AppState) -> AppResult<(Caller, String)> {
    let token = bearer_token(req).filter(|t| !t.is_empty()).ok_or_else(|| {
        AppError::Unauthorized(
            "missing Authorization: Bearer <api key or affiliate token> header".into(),
        )
    })?;
    let caller = if credentials::is_affiliate_token(&token) {
        let a = credentials::affiliate(&state.db, &state.affiliate_tokens, &token).await?;
        Caller::Affiliate {
            vendor_id: a.vendor_id,
            affiliate_id: a.id,
        }
    } else {
        let principal = api_keys::authenticate(&state.db, &token).await?;
        // A publishable key lives in web pages for the click and application forms; it
        // opens no MCP session (it would see no tool anyway).
        if principal.scope == api_keys::Scope::Publishable {
            return Err(AppError::Forbidden(
                "a publishable key cannot use MCP: use a secret API key".into(),
            ));
        }
        Caller::Vendor(principal)
    };
    Ok((caller, token))
}

fn signer(state: &AppState) -> SessionSigner {
    SessionSigner::new(state.settings.secret_key.expose())
}

fn header_str<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// A JSON-RPC error as an HTTP answer (transport-level refusals: no session, bad JSON).
fn rpc_refusal(
    status: StatusCode,
    id: Option<RequestId>,
    code: ErrorCode,
    message: &str,
) -> HttpResponse {
    HttpResponse::build(status).json(rpc::error(id, code, message.to_owned()))
}

/// The live session the request names, or the HTTP answer refusing it.
async fn session(
    req: &HttpRequest,
    state: &AppState,
    credential: &str,
) -> AppResult<Result<Session, HttpResponse>> {
    let Some(id) = header_str(req, SESSION_HEADER).filter(|s| !s.is_empty()) else {
        return Ok(Err(rpc_refusal(
            StatusCode::BAD_REQUEST,
            None,
            ErrorCode::INVALID_REQUEST,
            "Mcp-Session-Id header is required: send initialize first",
        )));
    };
    match mcp_sessions::check(&state.db, &signer(state), id, credential).await? {
        Some(s) => Ok(Ok(s)),
        None => Ok(Err(rpc_refusal(
            StatusCode::NOT_FOUND,
            None,
            ErrorCode::INVALID_REQUEST,
            "session not found (unknown, expired or ended): initialize a new one",
        ))),
    }
}

/// Whether the client takes only server-sent events (then the answer is one SSE event).
fn wants_sse(req: &HttpRequest) -> bool {
    let accept = header_str(req, header::ACCEPT.as_str()).unwrap_or("");
    accept.contains("text/event-stream")
        && !accept.contains("application/json")
        && !accept.contains("*/*")
}

fn reply(req: &HttpRequest, session_id: Option<&str>, body: &Value) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    if let Some(id) = session_id {
        res.insert_header((SESSION_HEADER, id));
    }
    if wants_sse(req) {
        res.content_type("text/event-stream")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(format!("event: message\ndata: {body}\n\n"))
    } else {
        res.json(body)
    }
}

/// `POST /mcp`.
async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let (caller, credential) = authenticate(&req, &state).await?;
    let body = crate::http::body::read_limited(&req, payload, BODY_LIMIT).await?;
    if let Some(v) = header_str(&req, VERSION_HEADER)
        && !rpc::is_supported(v)
    {
        return Ok(rpc_refusal(
            StatusCode::BAD_REQUEST,
            None,
            ErrorCode::INVALID_REQUEST,
            &format!("unsupported MCP-Protocol-Version {v}"),
        ));
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return Ok(rpc_refusal(
                StatusCode::BAD_REQUEST,
                None,
                ErrorCode::PARSE_ERROR,
                "the body is not valid JSON",
            ));
        }
    };
    let (batch, messages) = match value {
        Value::Array(items) => (true, items),
        single => (false, vec![single]),
    };
    if messages.is_empty() {
        return Ok(rpc_refusal(
            StatusCode::BAD_REQUEST,
            None,
            ErrorCode::INVALID_REQUEST,
            "an empty batch",
        ));
    }
    let incoming: Vec<rpc::Incoming> = messages.into_iter().map(rpc::classify).collect();
    if incoming.iter().any(rpc::Incoming::is_initialize) {
        return Ok(initialize(&req, &state, &credential, batch, incoming));
    }
    let session = match session(&req, &state, &credential).await? {
        Ok(s) => s,
        Err(refusal) => return Ok(refusal),
    };
    let ctx = tools::Ctx {
        state: &state,
        caller: &caller,
    };
    let mut out = Vec::new();
    for message in incoming {
        if let Some(answer) = rpc::handle(&ctx, message).await {
            out.push(answer);
        }
    }
    if out.is_empty() {
        return Ok(HttpResponse::Accepted().finish());
    }
    let body = if batch {
        Value::Array(out)
    } else {
        out.swap_remove(0)
    };
    Ok(reply(&req, Some(&session.id), &body))
}

/// `initialize`: negotiates the version and opens a session (alone, never in a batch).
fn initialize(
    req: &HttpRequest,
    state: &AppState,
    credential: &str,
    batch: bool,
    incoming: Vec<rpc::Incoming>,
) -> HttpResponse {
    let mut incoming = incoming;
    let message = match (batch, incoming.len()) {
        (false, 1) => incoming.swap_remove(0),
        _ => {
            return rpc_refusal(
                StatusCode::BAD_REQUEST,
                None,
                ErrorCode::INVALID_REQUEST,
                "initialize must be sent alone, not in a batch",
            );
        }
    };
    match rpc::initialize(message) {
        Ok((id, result, version)) => {
            let session_id = signer(state).open(credential, version.as_str(), db::now_ms());
            reply(req, Some(&session_id), &rpc::response(id, result))
        }
        Err(answer) => reply(req, None, &answer),
    }
}

/// `DELETE /mcp`: ends the session → 204.
async fn delete(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let (_, credential) = authenticate(&req, &state).await?;
    let session = match session(&req, &state, &credential).await? {
        Ok(s) => s,
        Err(refusal) => return Ok(refusal),
    };
    mcp_sessions::end(&state.db, &session).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Any other method (`GET` included: this server offers no server-initiated stream) → 405.
async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let allowed = [Method::POST, Method::DELETE];
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "POST, DELETE"))
        .json(json!({"error": {
            "code": "method_not_allowed",
            "message": format!(
                "{} is not served on /mcp: use {} (this server opens no event stream of its own)",
                req.method(),
                allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(" or ")
            ),
        }}))
}
