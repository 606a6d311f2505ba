//! JSON-RPC 2.0 on the SDK's types: classifying incoming messages, version negotiation,
//! `initialize`, and the methods served in a session (`ping`, `tools/list`, `tools/call`).

use rmcp::model::{
    CallToolRequestParams, ErrorCode, ErrorData, Implementation, InitializeRequestParams,
    InitializeResult, JsonRpcError, ListToolsResult, ProtocolVersion, RequestId,
    ServerCapabilities, ServerJsonRpcMessage, ServerResult, ToolsCapability,
};
use serde_json::Value;

use super::tools::{self, Ctx};

/// One incoming message.
#[derive(Debug)]
pub enum Incoming {
    /// A request, answered.
    Request {
        /// Its id.
        id: RequestId,
        /// Method name.
        method: String,
        /// Parameters, if any.
        params: Option<Value>,
    },
    /// A notification (`notifications/initialized`, cancellations): nothing to answer.
    Notification,
    /// A response or error from the client: this server sends no requests, so ignored.
    Response,
    /// Not a JSON-RPC 2.0 message.
    Invalid {
        /// Its id, if it had a readable one.
        id: Option<RequestId>,
        /// What is wrong.
        why: &'static str,
    },
}

impl Incoming {
    /// Whether this is an `initialize` request.
    pub fn is_initialize(&self) -> bool {
        matches!(self, Incoming::Request { method, .. } if method == "initialize")
    }
}

/// Sorts a message into request, notification, response or invalid.
pub fn classify(v: Value) -> Incoming {
    let Value::Object(mut m) = v else {
        return Incoming::Invalid {
            id: None,
            why: "a JSON-RPC message must be an object",
        };
    };
    let id = m
        .get("id")
        .and_then(|id| serde_json::from_value::<RequestId>(id.clone()).ok());
    if m.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Incoming::Invalid {
            id,
            why: "jsonrpc must be \"2.0\"",
        };
    }
    match (m.remove("method"), id) {
        (Some(Value::String(method)), Some(id)) => Incoming::Request {
            id,
            method,
            params: m.remove("params"),
        },
        (Some(Value::String(_)), None) if !m.contains_key("id") => Incoming::Notification,
        (Some(_), id) => Incoming::Invalid {
            id,
            why: "method must be a string and id a string or a number",
        },
        (None, _) if m.contains_key("result") || m.contains_key("error") => Incoming::Response,
        (None, id) => Incoming::Invalid {
            id,
            why: "a request needs a method",
        },
    }
}

/// The versions served: every revision that still opens with `initialize` (newest
/// first). Later revisions replaced the handshake and sessions this transport is built on.
fn supported() -> impl Iterator<Item = &'static ProtocolVersion> {
    ProtocolVersion::KNOWN_VERSIONS
        .iter()
        .rev()
        .filter(|v| v.has_initialize())
}

/// Whether `version` (from `MCP-Protocol-Version`) is served.
pub fn is_supported(version: &str) -> bool {
    supported().any(|v| v.as_str() == version)
}

/// The client's version when served, else the newest one served (the client then decides
/// whether it can go on).
pub fn negotiate(requested: &ProtocolVersion) -> ProtocolVersion {
    supported()
        .find(|v| *v == requested)
        .cloned()
        .unwrap_or(ProtocolVersion::LATEST_WITH_INITIALIZE)
}

/// A JSON-RPC error message.
pub fn error(id: Option<RequestId>, code: ErrorCode, message: String) -> Value {
    serde_json::to_value(JsonRpcError::new(id, ErrorData::new(code, message, None)))
        .unwrap_or(Value::Null)
}

/// A JSON-RPC result message, in the shape sessions negotiated before 2026 expect.
pub fn response(id: RequestId, result: ServerResult) -> Value {
    let mut result = result;
    result.strip_result_type_for_legacy_peer();
    result.strip_non_object_output_for_legacy_peer();
    serde_json::to_value(ServerJsonRpcMessage::response(result, id)).unwrap_or(Value::Null)
}

/// Answers an `initialize` request: `(id, result, negotiated version)`, or the error
/// message to send.
pub fn initialize(message: Incoming) -> Result<(RequestId, ServerResult, ProtocolVersion), Value> {
    let Incoming::Request { id, params, .. } = message else {
        return Err(error(
            None,
            ErrorCode::INVALID_REQUEST,
            "initialize must be a request".into(),
        ));
    };
    let params: InitializeRequestParams =
        match serde_json::from_value(params.unwrap_or(Value::Null)) {
            Ok(p) => p,
            Err(e) => {
                return Err(error(
                    Some(id),
                    ErrorCode::INVALID_PARAMS,
                    format!("invalid initialize params: {e}"),
                ));
            }
        };
    let version = negotiate(&params.protocol_version);
    let mut capabilities = ServerCapabilities::default();
    capabilities.tools = Some(ToolsCapability::default());
    let result = InitializeResult::new(capabilities)
        .with_protocol_version(version.clone())
        .with_server_info(
            Implementation::new("affilia", env!("CARGO_PKG_VERSION")).with_title("Affilia"),
        )
        .with_instructions(
            "Affilia affiliate programs. A vendor API key gets the admin tools its scope \
             allows (programs, affiliates, applications, conversions, analytics, payouts); \
             an affiliate token gets the my_* self-service tools for that affiliate only. \
             payout_run is a dry run unless confirm is true. Errors carry the REST API's \
             codes (not_found, forbidden, invalid, invalid_state, duplicate, bad_request).",
        );
    Ok((id, ServerResult::InitializeResult(result), version))
}

/// Answers one message of a session; `None` for notifications and responses.
pub async fn handle(ctx: &Ctx<'_>, message: Incoming) -> Option<Value> {
    let (id, method, params) = match message {
        Incoming::Request { id, method, params } => (id, method, params),
        Incoming::Notification | Incoming::Response => return None,
        Incoming::Invalid { id, why } => {
            return Some(error(id, ErrorCode::INVALID_REQUEST, why.to_owned()));
        }
    };
    Some(match method.as_str() {
        "ping" => response(id, ServerResult::empty(())),
        "initialize" => error(
            Some(id),
            ErrorCode::INVALID_REQUEST,
            "initialize must be sent alone, without a session".into(),
        ),
        "tools/list" => response(
            id,
            ServerResult::ListToolsResult(ListToolsResult::with_all_items(tools::list(ctx.caller))),
        ),
        "tools/call" => {
            let params: CallToolRequestParams =
                match serde_json::from_value(params.unwrap_or(Value::Null)) {
                    Ok(p) => p,
                    Err(e) => {
                        return Some(error(
                            Some(id),
                            ErrorCode::INVALID_PARAMS,
                            format!("invalid tools/call params: {e}"),
                        ));
                    }
                };
            match tools::call(ctx, &params.name, params.arguments.unwrap_or_default()).await {
                Ok(result) => response(id, ServerResult::CallToolResult(result)),
                Err(e) => error(Some(id), e.code, e.message.into_owned()),
            }
        }
        other => error(
            Some(id),
            ErrorCode::METHOD_NOT_FOUND,
            format!("method not found: {other}"),
        ),
    })
}
