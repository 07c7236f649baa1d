//! Steps of `features/mcp-endpoint.feature`: the MCP endpoint as the JSON-RPC 2.0 server behind
//! the gateway (MCP Streamable HTTP): `Origin` validation (SEC-02), a session started with a
//! token got the honest way (INTEROP-02), the guide's fixed `/{AGENT_ID}/mcp` layout (GUIDE-09),
//! and `GET` without credentials.
//!
//! The module also owns the transport the bearer and audience steps share: [`post_mcp`] sends one
//! JSON-RPC message with the given `Authorization` values (and the session headers once a session
//! was initialized), and [`jsonrpc_response`] finds the answer in a JSON or `text/event-stream`
//! body. Only the JSON-RPC 2.0 shape is asserted, never a tool: a stranger's server has its own
//! tools, and the suite never calls a real one (a tool call names a tool that cannot exist).

use cucumber::{then, when};
use serde_json::{Value, json};
use url::Url;

use super::bearer::{authorization_for, expect_refused};
use super::http::brief;
use crate::discovery::{self, PROTOCOL_VERSION};
use crate::http::{Request, Response};
use crate::world::{Agent, GatewayWorld, StepResult};

/// `w.saved` keys of the scenario's MCP session.
const SESSION_URL: &str = "mcp-url";
const SESSION_ID: &str = "mcp-session-id";
const SESSION_VERSION: &str = "mcp-protocol-version";

/// A `tools/call` of a tool no server has: it reaches JSON-RPC processing and changes nothing.
pub(crate) fn harmless_tool_call() -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": "conformance-no-such-tool", "arguments": {}}
    })
}

/// POSTs JSON-RPC `body` to `url` with one `Authorization` header per entry of `authorization`
/// and the `extra` headers. Every request but `initialize` carries the session's
/// `Mcp-Session-Id` and negotiated `MCP-Protocol-Version`, once `initialize` returned them.
pub(crate) async fn post_mcp(
    w: &mut GatewayWorld,
    url: &Url,
    authorization: &[String],
    body: &Value,
    extra: &[(&str, &str)],
) {
    let initialize = body.get("method").and_then(Value::as_str) == Some("initialize");
    let mut req = discovery::mcp_request(url.as_str(), body);
    if !initialize {
        if let Some(id) = w.saved.get(SESSION_ID) {
            req = req.header("Mcp-Session-Id", id.clone());
        }
        if let Some(v) = w.saved.get(SESSION_VERSION) {
            req = req.set_header("MCP-Protocol-Version", v.clone());
        }
    }
    for value in authorization {
        req = req.header("Authorization", value.clone());
    }
    for (name, value) in extra {
        req = req.header(name, *value);
    }
    w.send(req).await;
}

/// The JSON-RPC messages of a response: the JSON body (one message or a batch), or the `data` of
/// every event of a `text/event-stream` body.
pub(crate) fn jsonrpc_messages(resp: &Response) -> Vec<Value> {
    let mut out = Vec::new();
    if resp.media_type().as_deref() == Some("text/event-stream") {
        let mut data = String::new();
        let flush = |data: &mut String, out: &mut Vec<Value>| {
            if let Ok(v) = serde_json::from_str::<Value>(data) {
                out.push(v);
            }
            data.clear();
        };
        for line in resp.body.lines() {
            if line.is_empty() {
                flush(&mut data, &mut out);
            } else if let Some(d) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(d.strip_prefix(' ').unwrap_or(d));
            }
        }
        flush(&mut data, &mut out);
    } else if let Some(v) = resp.json() {
        match v {
            Value::Array(batch) => out.extend(batch),
            one => out.push(one),
        }
    }
    out
}

/// Whether the last response carries a JSON-RPC `result` (the mark of a processed request).
pub(crate) fn carries_jsonrpc_result(resp: &Response) -> bool {
    jsonrpc_messages(resp)
        .iter()
        .any(|m| m.get("result").is_some())
}

/// The JSON-RPC 2.0 response (`result` or `error`) to the last request, which must have been
/// answered with a 2xx; with `want_result`, an `error` is a failure too.
pub(crate) fn jsonrpc_response(w: &GatewayWorld, want_result: bool) -> Result<Value, String> {
    let ex = w.last_exchange()?;
    let resp = ex.response()?;
    let challenge = resp
        .header("www-authenticate")
        .map(|c| format!(" (WWW-Authenticate: {c})"))
        .unwrap_or_default();
    if !(200..300).contains(&resp.status) {
        return Err(format!(
            "expected a JSON-RPC response, got {}{challenge}: {}",
            ex.line(),
            brief(&resp.body)
        ));
    }
    let id = ex
        .request
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .and_then(|b| b.get("id").cloned())
        .unwrap_or(Value::Null);
    let answer = jsonrpc_messages(resp).into_iter().find(|m| {
        m.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
            && m.get("id") == Some(&id)
            && (m.get("result").is_some() || m.get("error").is_some())
    });
    let Some(answer) = answer else {
        return Err(format!(
            "{} (Content-Type {:?}) carries no JSON-RPC 2.0 response with id {id}: {}",
            ex.line(),
            resp.header("content-type"),
            brief(&resp.body)
        ));
    };
    if want_result && let Some(error) = answer.get("error") {
        return Err(format!(
            "{}: a JSON-RPC error instead of a result: {}",
            ex.line(),
            brief(&error.to_string())
        ));
    }
    Ok(answer)
}

/// The URL of the scenario's MCP session, else the owned agent's MCP URL.
fn session_url(w: &GatewayWorld) -> Result<Url, String> {
    match w.saved.get(SESSION_URL) {
        Some(u) => Url::parse(u).map_err(|e| format!("internal: session URL {u:?}: {e}")),
        None => w.mcp_url(Agent::Owned),
    }
}

/// `initialize` at `url`; on success keeps the session id and the negotiated version, sends
/// `notifications/initialized`, and leaves the `initialize` exchange as the last one.
async fn initialize_session(
    w: &mut GatewayWorld,
    url: Url,
    credential: &str,
) -> Result<(), String> {
    let authorization = authorization_for(w, credential).await?;
    for key in [SESSION_ID, SESSION_VERSION] {
        w.saved.remove(key);
    }
    w.saved.insert(SESSION_URL.to_owned(), url.to_string());
    post_mcp(w, &url, &authorization, &discovery::initialize_body(), &[]).await;
    let Ok(answer) = jsonrpc_response(w, true) else {
        // The Then step judges the initialize answer.
        return Ok(());
    };
    let init = w.last_exchange()?.clone();
    if let Some(id) = init.response()?.header("mcp-session-id") {
        w.saved.insert(SESSION_ID.to_owned(), id.to_owned());
    }
    let version = answer
        .pointer("/result/protocolVersion")
        .and_then(Value::as_str)
        .unwrap_or(PROTOCOL_VERSION)
        .to_owned();
    w.saved.insert(SESSION_VERSION.to_owned(), version);
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    post_mcp(w, &url, &authorization, &note, &[]).await;
    let ex = w.last_exchange()?;
    let status = ex.response()?.status;
    if !(200..300).contains(&status) {
        return Err(format!(
            "notifications/initialized after a successful initialize was refused: {}",
            ex.line()
        ));
    }
    w.last = Some(init);
    Ok(())
}

/// The guide's layout: `{base_url}/{AGENT_ID}/mcp`, whatever the profile's MCP URL template.
fn guide_mcp_url(w: &GatewayWorld) -> Result<Url, String> {
    let base = w.ctx.profile.base_url.as_str().trim_end_matches('/');
    let text = format!("{base}/{}/mcp", w.ctx.profile.owned_agent);
    Url::parse(&text).map_err(|e| format!("the guide's MCP URL {text:?}: {e}"))
}

#[when(expr = "the client initializes an MCP session at the owned agent with {string}")]
async fn initialize_at_owned(w: &mut GatewayWorld, credential: String) -> StepResult {
    let url = w.mcp_url(Agent::Owned)?;
    initialize_session(w, url, &credential).await
}

#[when(
    expr = "the client initializes an MCP session at the guide's fixed path of the owned agent with {string}"
)]
async fn initialize_at_guide_path(w: &mut GatewayWorld, credential: String) -> StepResult {
    let url = guide_mcp_url(w)?;
    initialize_session(w, url, &credential).await
}

#[when(expr = "the client lists the tools in that session with {string}")]
async fn list_tools(w: &mut GatewayWorld, credential: String) -> StepResult {
    let authorization = authorization_for(w, &credential).await?;
    let url = session_url(w)?;
    post_mcp(w, &url, &authorization, &GatewayWorld::tools_list(), &[]).await;
    Ok(())
}

/// BEARER-10: the session's handle alone. A server that issued no `Mcp-Session-Id` gets a
/// made-up one, which must count for as little.
#[when("the client lists the tools in that session presenting only the session id")]
async fn list_tools_with_session_id_only(w: &mut GatewayWorld) -> StepResult {
    let url = session_url(w)?;
    let issued = w.saved.contains_key(SESSION_ID);
    if !issued {
        let made_up = format!(
            "conformance-{}",
            crate::pkce::random_string(32, crate::pkce::UNRESERVED)
        );
        w.saved.insert(SESSION_ID.to_owned(), made_up);
    }
    post_mcp(w, &url, &[], &GatewayWorld::tools_list(), &[]).await;
    if !issued {
        w.saved.remove(SESSION_ID);
    }
    Ok(())
}

#[when(expr = "the client calls a tool at the owned agent with {string}")]
async fn call_tool(w: &mut GatewayWorld, credential: String) -> StepResult {
    let authorization = authorization_for(w, &credential).await?;
    let url = session_url(w)?;
    post_mcp(w, &url, &authorization, &harmless_tool_call(), &[]).await;
    Ok(())
}

#[when(expr = "the MCP request to the owned agent carries {string} from the Origin {string}")]
async fn request_with_origin(
    w: &mut GatewayWorld,
    credential: String,
    origin: String,
) -> StepResult {
    let authorization = authorization_for(w, &credential).await?;
    let url = w.mcp_url(Agent::Owned)?;
    let body = discovery::initialize_body();
    post_mcp(w, &url, &authorization, &body, &[("Origin", &origin)]).await;
    Ok(())
}

#[when("the client opens a GET stream at the owned agent's MCP endpoint without credentials")]
async fn get_without_credentials(w: &mut GatewayWorld) -> StepResult {
    let url = w.mcp_url(Agent::Owned)?;
    let req = Request::get(url.as_str())
        .header("Accept", "text/event-stream")
        .header("MCP-Protocol-Version", PROTOCOL_VERSION);
    w.send(req).await;
    Ok(())
}

#[when(
    "the client POSTs the guide's tools/list request to the fixed path of the owned agent without credentials"
)]
async fn guide_request_without_credentials(w: &mut GatewayWorld) -> StepResult {
    let url = guide_mcp_url(w)?;
    // The guide's Step 4 request, verbatim but for the token.
    let req = Request::post(url.as_str()).raw_body(
        "application/json",
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    );
    w.send(req).await;
    Ok(())
}

#[then("the MCP response is a JSON-RPC 2.0 result")]
async fn is_result(w: &mut GatewayWorld) -> StepResult {
    jsonrpc_response(w, true).map(|_| ())
}

#[then("the MCP response is a JSON-RPC 2.0 result listing tools")]
async fn is_tools_list(w: &mut GatewayWorld) -> StepResult {
    let answer = jsonrpc_response(w, true)?;
    let tools = answer
        .pointer("/result/tools")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("the tools/list result has no `tools` array: {answer}"))?;
    match tools
        .iter()
        .find(|t| t.get("name").and_then(Value::as_str).is_none())
    {
        Some(bad) => Err(format!("a listed tool has no string `name`: {bad}")),
        None => Ok(()),
    }
}

/// BEARER-11's positive twin: an authenticated request reaches JSON-RPC processing.
#[then("the MCP server answered the tool call with a JSON-RPC response")]
async fn answered_tool_call(w: &mut GatewayWorld) -> StepResult {
    jsonrpc_response(w, false).map(|_| ())
}

/// SEC-02: the Origin check refuses, and processes nothing.
#[then("the MCP request is refused as coming from an untrusted Origin")]
async fn refused_origin(w: &mut GatewayWorld) -> StepResult {
    expect_refused(w, &[403], "SEC-02")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(content_type: &str, body: &str) -> Response {
        Response {
            status: 200,
            headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
            body: body.to_owned(),
        }
    }

    #[test]
    fn json_bodies_and_batches() {
        let one = response(
            "application/json",
            r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
        );
        assert_eq!(jsonrpc_messages(&one).len(), 1);
        assert!(carries_jsonrpc_result(&one));
        let batch = response(
            "application/json; charset=utf-8",
            r#"[{"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","id":2,"error":{"code":1}}]"#,
        );
        assert_eq!(jsonrpc_messages(&batch).len(), 2);
        assert!(!carries_jsonrpc_result(&batch));
        assert!(jsonrpc_messages(&response("text/plain", "no")).is_empty());
    }

    #[test]
    fn event_stream_data_is_joined_per_event() {
        let sse = response(
            "text/event-stream",
            "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\r\ndata: \"method\":\"n\"}\r\n\r\nid: 7\ndata:{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[]}}\n",
        );
        let messages = jsonrpc_messages(&sse);
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[1]["result"]["tools"], json!([]));
        assert!(carries_jsonrpc_result(&sse));
    }
}
