//! `POST /{AGENT_ID}/mcp`: the protected MCP endpoint (MCP Streamable HTTP transport).
//!
//! Order of checks: `Origin` (a present Origin that is not allowed gets 403, MCP Streamable HTTP
//! "Security Warning", against DNS rebinding), then authentication (`bearer.rs`) before any
//! JSON-RPC processing (MCP "Access Token Privilege Restriction"), then the request itself.
//!
//! Behind the gateway sits a minimal MCP server, enough for clients to complete a session and for
//! the conformance suite to ask who the gateway thinks the caller is: `initialize`,
//! `notifications/initialized` (202), `ping`, `tools/list`, and `tools/call` with `whoami` and
//! `echo`. Protocol revisions 2025-06-18, 2025-11-25 and 2026-07-28. Responses are plain JSON
//! (the transport allows JSON or SSE); no session ids are issued (2026-07-28 is stateless, and a
//! session id is never a credential).
//!
//! Invariant: the caller's `Authorization` value is never forwarded or echoed (MCP "Token
//! Passthrough").

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::bearer::{BearerError, Principal, authenticate};
use crate::config::AgentId;
use crate::state::AppState;

/// Protocol revisions this server speaks, newest first.
pub const PROTOCOL_VERSIONS: [&str; 3] = ["2026-07-28", "2025-11-25", "2025-06-18"];

/// JSON-RPC 2.0 error codes (§5.1).
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;

/// Only for the `mcp-session-id-credential` fault: who each issued session id belongs to.
static FAULT_SESSIONS: std::sync::Mutex<std::collections::BTreeMap<String, Principal>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// `POST /{AGENT_ID}/mcp`
pub async fn mcp(
    State(state): State<AppState>,
    Path(agent_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(origin) = headers
        .get(header::ORIGIN)
        .filter(|_| !fault!(McpOriginUnchecked))
    {
        let allowed = origin
            .to_str()
            .is_ok_and(|o| state.config.allowed_origins.iter().any(|a| a == o));
        if !allowed {
            return (
                StatusCode::FORBIDDEN,
                Json(json!({
                    "error": "forbidden_origin",
                    "error_description": "requests from this Origin are not allowed",
                })),
            )
                .into_response();
        }
    }
    let Some(agent) = AgentId::parse(&agent_id) else {
        // Not a possible agent id: no resource can live here.
        return crate::discovery::fallback().await;
    };
    let principal = match authenticate(&state, &headers, query.as_deref(), &agent).await {
        Ok(principal) => principal,
        Err(BearerError::Missing) if fault!(McpAnonymousPassThrough) => {
            match state.config.agents.get(&agent) {
                Some(a) => Principal::UserKey {
                    username: a.owner.clone(),
                },
                None => return BearerError::UnknownAgent.into_response(&state.config, &agent),
            }
        }
        Err(BearerError::Missing) if fault!(McpSessionIdCredential) => {
            let session = headers
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .and_then(|id| FAULT_SESSIONS.lock().ok()?.get(id).cloned());
            match session {
                Some(principal) => principal,
                None => return BearerError::Missing.into_response(&state.config, &agent),
            }
        }
        Err(e) => return e.into_response(&state.config, &agent),
    };

    if let Some(version) = headers.get("mcp-protocol-version") {
        let known = version
            .to_str()
            .is_ok_and(|v| PROTOCOL_VERSIONS.contains(&v));
        if !known {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                Value::Null,
                INVALID_REQUEST,
                "unsupported MCP-Protocol-Version",
            );
        }
    }
    // Only now, authenticated, is the body read (up to the configured limit).
    let body = match axum::body::to_bytes(body, state.config.limits.max_body_bytes).await {
        Ok(body) => body,
        Err(_) => {
            return rpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                Value::Null,
                INVALID_REQUEST,
                "the request body is too large or unreadable",
            );
        }
    };
    let message: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                Value::Null,
                PARSE_ERROR,
                "parse error",
            );
        }
    };
    let Some(object) = message.as_object() else {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            Value::Null,
            INVALID_REQUEST,
            "expected one JSON-RPC message object (batches are not supported)",
        );
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            Value::Null,
            INVALID_REQUEST,
            "jsonrpc must be 2.0",
        );
    }
    let Some(method) = object.get("method").and_then(Value::as_str) else {
        // A response or error from the client: accepted, nothing to answer.
        return StatusCode::ACCEPTED.into_response();
    };
    let Some(id) = object.get("id").cloned() else {
        // A notification (`notifications/initialized`, `notifications/cancelled`, …).
        return StatusCode::ACCEPTED.into_response();
    };
    if !(id.is_string() || id.is_number()) {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            Value::Null,
            INVALID_REQUEST,
            "id must be a string or a number",
        );
    }
    let params = object.get("params").cloned().unwrap_or(Value::Null);
    match handle(&state, &agent, &principal, method, &params) {
        Ok(result) if fault!(McpSessionIdCredential) && method == "initialize" => {
            let Ok(session) = crate::secrets::random_token(16) else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            if let Ok(mut sessions) = FAULT_SESSIONS.lock() {
                sessions.insert(session.clone(), principal);
            }
            let mut response =
                Json(json!({ "jsonrpc": "2.0", "id": id, "result": result })).into_response();
            if let Ok(value) = HeaderValue::from_str(&session) {
                response.headers_mut().insert("mcp-session-id", value);
            }
            response
        }
        Ok(result) => Json(json!({ "jsonrpc": "2.0", "id": id, "result": result })).into_response(),
        Err((code, message)) => rpc_error(StatusCode::OK, id, code, message),
    }
}

/// `GET`/`DELETE /{AGENT_ID}/mcp`: no server-initiated SSE stream and no sessions (405, as the
/// Streamable HTTP transport allows).
pub async fn method_not_allowed(Path(agent_id): Path<String>) -> Response {
    if AgentId::parse(&agent_id).is_none() {
        // Not a possible agent (e.g. `/.well-known/mcp`): nothing lives here.
        return crate::discovery::fallback().await;
    }
    let mut response = (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({ "error": "method_not_allowed", "error_description": "use POST" })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

fn handle(
    state: &AppState,
    agent: &AgentId,
    principal: &Principal,
    method: &str,
    params: &Value,
) -> Result<Value, (i64, &'static str)> {
    match method {
        "initialize" => {
            let requested = params.get("protocolVersion").and_then(Value::as_str);
            let version = requested
                .filter(|v| PROTOCOL_VERSIONS.contains(v))
                .unwrap_or(PROTOCOL_VERSIONS[0]);
            Ok(json!({
                "protocolVersion": version,
                "capabilities": { "tools": { "listChanged": false } },
                "serverInfo": {
                    "name": "mcp-gateway-reference",
                    "version": env!("CARGO_PKG_VERSION"),
                },
                "instructions": "Reference MCP gateway. Tools: whoami (who the gateway thinks you are), echo.",
            }))
        }
        "ping" => Ok(json!({})),
        "tools/list" => Ok(json!({ "tools": tools() })),
        "tools/call" => {
            let name = params.get("name").and_then(Value::as_str);
            let arguments = params.get("arguments").cloned().unwrap_or(json!({}));
            match name {
                Some("whoami") => Ok(tool_result(whoami(state, agent, principal))),
                Some("echo") => match arguments.get("text").and_then(Value::as_str) {
                    Some(text) => Ok(json!({
                        "content": [{ "type": "text", "text": text }],
                        "isError": false,
                    })),
                    None => Err((INVALID_PARAMS, "echo needs a string argument named text")),
                },
                _ => Err((INVALID_PARAMS, "unknown tool")),
            }
        }
        _ => Err((METHOD_NOT_FOUND, "method not found")),
    }
}

/// The identity the gateway resolved, for the conformance suite and for humans.
fn whoami(state: &AppState, agent: &AgentId, principal: &Principal) -> Value {
    let mut who = json!({
        "bearer_type": principal.bearer_type(),
        "user": principal.user(),
        "agent": agent.as_str(),
        "resource": state.config.agent_resource(agent),
    });
    if let Principal::OAuth(claims) = principal {
        who["client_id"] = json!(claims.client_id);
        who["scope"] = json!(claims.scope);
        who["aud"] = json!(claims.aud);
    }
    who
}

fn tool_result(structured: Value) -> Value {
    json!({
        "content": [{ "type": "text", "text": structured.to_string() }],
        "structuredContent": structured,
        "isError": false,
    })
}

fn tools() -> Value {
    json!([
        {
            "name": "whoami",
            "title": "Who am I?",
            "description": "Reports how the gateway authenticated this request: bearer type (oauth, agent_key, user_key), user, agent and OAuth client.",
            "inputSchema": { "type": "object", "properties": {}, "additionalProperties": false },
            "outputSchema": {
                "type": "object",
                "properties": {
                    "bearer_type": { "type": "string", "enum": ["oauth", "agent_key", "user_key"] },
                    "user": { "type": "string" },
                    "agent": { "type": "string" },
                    "resource": { "type": "string" },
                    "client_id": { "type": "string" },
                    "scope": { "type": "string" },
                    "aud": { "type": "string" }
                },
                "required": ["bearer_type", "user", "agent", "resource"]
            }
        },
        {
            "name": "echo",
            "title": "Echo",
            "description": "Returns the text it is given.",
            "inputSchema": {
                "type": "object",
                "properties": { "text": { "type": "string" } },
                "required": ["text"]
            }
        }
    ])
}

fn rpc_error(status: StatusCode, id: Value, code: i64, message: &str) -> Response {
    (
        status,
        Json(json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })),
    )
        .into_response()
}
