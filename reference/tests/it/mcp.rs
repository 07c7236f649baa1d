//! The minimal MCP server behind `POST /{AGENT_ID}/mcp` (issue 2, "MCP endpoint and the three
//! bearer types"; catalog SEC-02, SEC-03, and the identity half of AUD-03/AUD-09).
//!
//! Covers JSON-RPC 2.0 over Streamable HTTP once authenticated: `initialize` and protocol version
//! negotiation (2025-06-18, 2025-11-25, 2026-07-28), `notifications/initialized` (202), `ping`,
//! `tools/list`, `tools/call` (`echo`, `whoami`), the JSON-RPC error codes (-32700, -32600,
//! -32601, -32602), the `MCP-Protocol-Version` header, `GET`/`DELETE` → 405, the `Origin` check
//! against DNS rebinding, CORS on the endpoint, and what `whoami` reports for each bearer type.
//! Authentication itself is `bearer.rs`.

use reqwest::header::{ALLOW, CONTENT_TYPE, ORIGIN};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

const VERSIONS: [&str; 3] = ["2025-06-18", "2025-11-25", "2026-07-28"];

fn request(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

fn initialize(version: &str) -> Value {
    request(
        1,
        "initialize",
        json!({
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "reference-tests", "version": "1"},
        }),
    )
}

/// A JSON-RPC call at research-agent with its own agent key; asserts 200 and returns the body.
async fn rpc(gw: &TestGateway, body: Value) -> Value {
    let response = gw.mcp(RESEARCH, Some(RESEARCH_KEY), body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers().get(CONTENT_TYPE).unwrap().to_owned();
    assert!(
        content_type
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{content_type:?}"
    );
    response.json().await.unwrap()
}

/// `POST` a raw body at research-agent with its agent key.
async fn post_raw(gw: &TestGateway, body: &str) -> Response {
    gw.http
        .post(gw.agent_url(RESEARCH))
        .bearer_auth(RESEARCH_KEY)
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// Asserts a JSON-RPC error response: HTTP `status`, `id`, `error.code == code`, a message, and no
/// `result`.
async fn assert_rpc_error(response: Response, status: StatusCode, id: Value, code: i64) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["jsonrpc"], "2.0", "{body}");
    assert_eq!(body["id"], id, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body.get("result").is_none(), "{body}");
    body
}

/// Asserts `202 Accepted` with an empty body.
async fn assert_accepted(response: Response) {
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.text().await.unwrap(), "");
}

/// MCP lifecycle "Version Negotiation": each supported `protocolVersion` is echoed; the result
/// names the server and declares the `tools` capability.
#[tokio::test]
async fn mcp_initialize_echoes_each_supported_protocol_version() {
    let gw = TestGateway::start().await;
    for version in VERSIONS {
        let body = rpc(&gw, initialize(version)).await;
        assert_eq!(body["id"], 1);
        assert!(body.get("error").is_none(), "{body}");
        let result = &body["result"];
        assert_eq!(result["protocolVersion"], version);
        assert!(result["serverInfo"]["name"].is_string(), "{result}");
        assert!(result["serverInfo"]["version"].is_string(), "{result}");
        assert!(result["capabilities"]["tools"].is_object(), "{result}");
    }
    let body = rpc(&gw, initialize("2025-11-25")).await;
    insta::assert_json_snapshot!(body, { ".result.serverInfo.version" => "[version]" }, @r#"
    {
      "id": 1,
      "jsonrpc": "2.0",
      "result": {
        "capabilities": {
          "tools": {
            "listChanged": false
          }
        },
        "instructions": "Reference MCP gateway. Tools: whoami (who the gateway thinks you are), echo.",
        "protocolVersion": "2025-11-25",
        "serverInfo": {
          "name": "mcp-gateway-reference",
          "version": "[version]"
        }
      }
    }
    "#);
}

/// MCP lifecycle "Version Negotiation": an unsupported requested version is answered with the
/// server's newest one (2026-07-28), not an error.
#[tokio::test]
async fn mcp_initialize_unknown_version_answers_newest() {
    let gw = TestGateway::start().await;
    for version in ["1999-01-01", "2024-11-05", "2025-03-26", "not-a-date"] {
        let body = rpc(&gw, initialize(version)).await;
        assert_eq!(body["result"]["protocolVersion"], "2026-07-28", "{version}");
    }
}

/// MCP lifecycle "Initialization"; Streamable HTTP "Sending Messages to the Server" (a notification
/// or response gets 202 with no body): `notifications/initialized` and a client's JSON-RPC
/// response are accepted with 202 and an empty body.
#[tokio::test]
async fn mcp_notifications_and_client_responses_get_202() {
    let gw = TestGateway::start().await;
    let notification = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_accepted(gw.mcp(RESEARCH, Some(RESEARCH_KEY), notification).await).await;
    let client_response = json!({"jsonrpc": "2.0", "id": 5, "result": {}});
    assert_accepted(gw.mcp(RESEARCH, Some(RESEARCH_KEY), client_response).await).await;
    let client_error =
        json!({"jsonrpc": "2.0", "id": 6, "error": {"code": -32601, "message": "no"}});
    assert_accepted(gw.mcp(RESEARCH, Some(RESEARCH_KEY), client_error).await).await;
    // Control: the same method with an id is a request and gets an answer.
    let body = rpc(&gw, request(2, "ping", json!({}))).await;
    assert_eq!(body["id"], 2);
}

/// MCP "Ping": `ping` → empty result, the request id echoed (string ids too).
#[tokio::test]
async fn mcp_ping_returns_empty_result() {
    let gw = TestGateway::start().await;
    let body = rpc(&gw, request(9, "ping", json!({}))).await;
    assert_eq!(body, json!({"jsonrpc": "2.0", "id": 9, "result": {}}));
    let body = rpc(
        &gw,
        json!({"jsonrpc": "2.0", "id": "abc", "method": "ping"}),
    )
    .await;
    assert_eq!(body, json!({"jsonrpc": "2.0", "id": "abc", "result": {}}));
}

/// MCP "Tools" (`tools/list`): `whoami` and `echo`, each with an object `inputSchema`.
#[tokio::test]
async fn mcp_tools_list_has_whoami_and_echo() {
    let gw = TestGateway::start().await;
    let body = rpc(&gw, request(3, "tools/list", json!({}))).await;
    let tools = body["result"]["tools"].as_array().expect("tools array");
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["whoami", "echo"]);
    for tool in tools {
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
        assert!(tool["description"].is_string(), "{tool}");
    }
    insta::assert_json_snapshot!(body["result"]["tools"][1], @r#"
    {
      "description": "Returns the text it is given.",
      "inputSchema": {
        "properties": {
          "text": {
            "type": "string"
          }
        },
        "required": [
          "text"
        ],
        "type": "object"
      },
      "name": "echo",
      "title": "Echo"
    }
    "#);
}

/// MCP "Tools" (`tools/call`; "Error Handling": unknown tool → -32602): `echo` returns its text;
/// an unknown tool or `echo` without `text` → JSON-RPC error -32602 (HTTP 200).
#[tokio::test]
async fn mcp_tools_call_echo_and_invalid_params() {
    let gw = TestGateway::start().await;
    let body = rpc(
        &gw,
        request(
            4,
            "tools/call",
            json!({"name": "echo", "arguments": {"text": "héllo \"world\""}}),
        ),
    )
    .await;
    assert_eq!(body["id"], 4);
    assert_eq!(
        body["result"]["content"],
        json!([{"type": "text", "text": "héllo \"world\""}])
    );
    assert_eq!(body["result"]["isError"], false);

    for params in [
        json!({"name": "no-such-tool"}),
        json!({"name": "echo", "arguments": {}}),
        json!({"name": "echo", "arguments": {"text": 5}}),
        json!({}),
    ] {
        let response = gw
            .mcp(
                RESEARCH,
                Some(RESEARCH_KEY),
                request(5, "tools/call", params),
            )
            .await;
        assert_rpc_error(response, StatusCode::OK, json!(5), -32602).await;
    }
}

/// JSON-RPC 2.0 §5.1: an unknown method → -32601, the id echoed.
#[tokio::test]
async fn mcp_unknown_method_is_method_not_found() {
    let gw = TestGateway::start().await;
    for method in ["resources/list", "tools/lists", ""] {
        let response = gw
            .mcp(RESEARCH, Some(RESEARCH_KEY), request(6, method, json!({})))
            .await;
        assert_rpc_error(response, StatusCode::OK, json!(6), -32601).await;
    }
}

/// JSON-RPC 2.0 §5.1 (parse error); Streamable HTTP (a body that is not a JSON-RPC message → HTTP
/// 400): invalid JSON → 400 with error -32700 and `id: null`.
#[tokio::test]
async fn mcp_invalid_json_is_parse_error() {
    let gw = TestGateway::start().await;
    for body in ["{not json", "", "{\"jsonrpc\": \"2.0\", \"id\": 1,"] {
        let response = post_raw(&gw, body).await;
        assert_rpc_error(response, StatusCode::BAD_REQUEST, Value::Null, -32700).await;
    }
}

/// JSON-RPC 2.0 §4, §5.1 (invalid request); MCP 2025-06-18+ (no batching): a batch array,
/// `jsonrpc` other than "2.0" or missing, a non-object message, and an `id` that is null or not a
/// string/number → HTTP 400 with -32600.
#[tokio::test]
async fn mcp_invalid_requests_are_rejected_with_32600() {
    let gw = TestGateway::start().await;
    let cases = [
        json!([request(1, "ping", json!({}))]),
        json!([]),
        json!({"jsonrpc": "1.0", "id": 1, "method": "ping"}),
        json!({"id": 1, "method": "ping"}),
        json!({"jsonrpc": 2.0, "id": 1, "method": "ping"}),
        json!({"jsonrpc": "2.0", "id": null, "method": "ping"}),
        json!({"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}),
        json!({"jsonrpc": "2.0", "id": true, "method": "ping"}),
        json!("ping"),
        json!(42),
    ];
    for body in cases {
        let response = gw.mcp(RESEARCH, Some(RESEARCH_KEY), body.clone()).await;
        assert_rpc_error(response, StatusCode::BAD_REQUEST, Value::Null, -32600).await;
    }
}

/// MCP Streamable HTTP "Protocol Version Header": a supported `MCP-Protocol-Version` is accepted;
/// an unsupported one → 400 (JSON-RPC -32600, no result).
#[tokio::test]
async fn mcp_protocol_version_header_checked() {
    let gw = TestGateway::start().await;
    for version in VERSIONS {
        let response = gw
            .http
            .post(gw.agent_url(RESEARCH))
            .bearer_auth(RESEARCH_KEY)
            .header("MCP-Protocol-Version", version)
            .json(&request(1, "ping", json!({})))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{version}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["result"], json!({}));
    }
    for version in ["1999-01-01", "2025-03-26", "latest"] {
        let response = gw
            .http
            .post(gw.agent_url(RESEARCH))
            .bearer_auth(RESEARCH_KEY)
            .header("MCP-Protocol-Version", version)
            .json(&request(1, "ping", json!({})))
            .send()
            .await
            .unwrap();
        assert_rpc_error(response, StatusCode::BAD_REQUEST, Value::Null, -32600).await;
    }
}

/// MCP Streamable HTTP "Listening for Messages from the Server" / "Session Management" (a server
/// without an SSE stream or sessions answers 405): `GET` and `DELETE` → 405 with `Allow: POST`.
#[tokio::test]
async fn mcp_get_and_delete_are_method_not_allowed() {
    let gw = TestGateway::start().await;
    for method in [Method::GET, Method::DELETE] {
        for bearer in [None, Some(RESEARCH_KEY)] {
            let mut request = gw
                .http
                .request(method.clone(), gw.agent_url(RESEARCH))
                .header("Accept", "text/event-stream");
            if let Some(token) = bearer {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method}"
            );
            let allow = response
                .headers()
                .get(ALLOW)
                .expect("Allow")
                .to_str()
                .unwrap();
            assert_eq!(allow, "POST");
            let body = response.text().await.unwrap();
            assert!(!body.contains("\"result\""), "{body}");
        }
    }
}

/// SEC-02 (MCP Streamable HTTP "Security Warning": validate `Origin`, 403 when present and not
/// allowed): no `Origin` (non-browser client), a configured origin and the gateway's own origin are
/// served; any other origin → 403 without a result, even with a valid key, and before
/// authentication.
#[tokio::test]
async fn sec_02_origin_checked_against_dns_rebinding() {
    let gw = TestGateway::start().await;
    let send = |origin: Option<String>, bearer: Option<&'static str>| {
        let mut request = gw.http.post(gw.agent_url(RESEARCH)).json(&request(
            1,
            "tools/call",
            json!({"name": "whoami"}),
        ));
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    for origin in [
        None,
        Some("http://localhost:6274".to_owned()),
        Some("http://127.0.0.1:6274".to_owned()),
        Some(gw.base.clone()),
    ] {
        let response = send(origin.clone(), Some(RESEARCH_KEY)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{origin:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["result"]["structuredContent"]["agent"], RESEARCH);
    }
    let port = gw.base.rsplit(':').next().unwrap();
    for origin in [
        "https://evil.example".to_owned(),
        "null".to_owned(),
        "http://localhost:6275".to_owned(),
        "https://localhost:6274".to_owned(),
        format!("http://localhost:{port}"),
        format!("{}.evil.example", gw.base),
    ] {
        for bearer in [Some(RESEARCH_KEY), None] {
            let response = send(Some(origin.clone()), bearer).await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin}");
            assert!(
                response
                    .headers()
                    .get("access-control-allow-origin")
                    .is_none()
            );
            let body: Value = response.json().await.unwrap();
            assert!(body.get("result").is_none(), "{body}");
            assert!(body["error"].is_string(), "{body}");
        }
    }
}

/// SEC-03 (CORS for browser clients such as MCP Inspector): a preflight from an allowed origin is
/// answered and allows `Authorization`, `Content-Type`, `MCP-Protocol-Version`, `Mcp-Session-Id`;
/// a 401 to that origin exposes `WWW-Authenticate`; a preflight from another origin gets no CORS
/// grant.
#[tokio::test]
async fn sec_03_cors_on_mcp_endpoint_for_allowed_origins() {
    let gw = TestGateway::start().await;
    let inspector = "http://localhost:6274";
    let preflight = |origin: &str| {
        gw.http
            .request(Method::OPTIONS, gw.agent_url(RESEARCH))
            .header(ORIGIN, origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type, mcp-protocol-version, mcp-session-id",
            )
            .send()
    };
    let response = preflight(inspector).await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_ascii_lowercase())
            .unwrap_or_default()
    };
    assert_eq!(header("access-control-allow-origin"), inspector);
    assert!(header("access-control-allow-methods").contains("post"));
    let allowed = header("access-control-allow-headers");
    for name in [
        "authorization",
        "content-type",
        "mcp-protocol-version",
        "mcp-session-id",
    ] {
        assert!(allowed.contains(name), "{name} not in {allowed}");
    }

    let response = gw
        .http
        .post(gw.agent_url(RESEARCH))
        .header(ORIGIN, inspector)
        .json(&request(1, "ping", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let get = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_ascii_lowercase())
            .unwrap_or_default()
    };
    assert_eq!(get("access-control-allow-origin"), inspector);
    assert!(
        get("access-control-expose-headers").contains("www-authenticate"),
        "{}",
        get("access-control-expose-headers")
    );
    assert!(!get("www-authenticate").is_empty());

    let response = preflight("https://evil.example").await.unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

/// AUD-03, AUD-09 (issue 2: `whoami` "returns bearer type, user, agent, client_id"): the identity
/// the gateway resolves for an OAuth JWT, a `bak_` key and a `oag_` key.
#[tokio::test]
async fn mcp_whoami_reports_identity_of_each_bearer_type() {
    let gw = TestGateway::start().await;
    let tokens = gw.oauth_tokens(ALICE, Some(RESEARCH)).await;
    let oauth = gw.whoami(RESEARCH, &tokens.access_token).await;
    assert_eq!(oauth["client_id"], tokens.client_id.as_str());
    insta::assert_json_snapshot!(gw.normalize(&oauth), { ".client_id" => "[client_id]" }, @r#"
    {
      "agent": "research-agent",
      "aud": "http://gateway.test/research-agent/mcp",
      "bearer_type": "oauth",
      "client_id": "[client_id]",
      "resource": "http://gateway.test/research-agent/mcp",
      "scope": "mcp",
      "user": "alice"
    }
    "#);
    let agent_key = gw.whoami(RESEARCH, RESEARCH_KEY).await;
    insta::assert_json_snapshot!(gw.normalize(&agent_key), @r#"
    {
      "agent": "research-agent",
      "bearer_type": "agent_key",
      "resource": "http://gateway.test/research-agent/mcp",
      "user": "alice"
    }
    "#);
    let user_key = gw.whoami(OPS, BOB_KEY).await;
    insta::assert_json_snapshot!(gw.normalize(&user_key), @r#"
    {
      "agent": "ops-agent",
      "bearer_type": "user_key",
      "resource": "http://gateway.test/ops-agent/mcp",
      "user": "bob"
    }
    "#);

    // The text content carries the same document, for clients that ignore structuredContent.
    let body = rpc(
        &gw,
        request(1, "tools/call", json!({"name": "whoami", "arguments": {}})),
    )
    .await;
    let text = body["result"]["content"][0]["text"].as_str().unwrap();
    let parsed: Value = serde_json::from_str(text).unwrap();
    assert_eq!(parsed, body["result"]["structuredContent"]);
    assert_eq!(body["result"]["isError"], false);
}
