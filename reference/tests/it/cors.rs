//! CORS and `Origin` checks (SEC-02, SEC-03, TOKEN-11, AUTHZ-11): open CORS on the discovery
//! documents, registration and token endpoints (browser clients such as MCP Inspector); none at
//! all on the authorization endpoint and login page; on the MCP endpoint only the configured
//! origins (`fixtures/reference.toml`: `http://localhost:6274`), with `WWW-Authenticate` exposed,
//! and a present but disallowed `Origin` refused with 403 before anything else.

use reqwest::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ORIGIN,
};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

/// MCP Inspector's UI origin, allowed in `fixtures/reference.toml`.
const INSPECTOR: &str = "http://localhost:6274";
const EVIL: &str = "https://evil.example";
const REQUESTED_HEADERS: &str = "content-type,authorization,mcp-protocol-version";

/// `OPTIONS url` as a browser preflight from `origin` for a `POST` with [`REQUESTED_HEADERS`].
async fn preflight(gw: &TestGateway, path: &str, origin: &str, headers: &str) -> Response {
    gw.http
        .request(Method::OPTIONS, gw.url(path))
        .header(ORIGIN, origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

fn header(response: &Response, name: reqwest::header::HeaderName) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Asserts the response lets `origin` read it (`*` or the origin itself).
fn assert_allows_origin(response: &Response, origin: &str, what: &str) {
    let allowed = header(response, ACCESS_CONTROL_ALLOW_ORIGIN)
        .unwrap_or_else(|| panic!("{what}: no Access-Control-Allow-Origin"));
    assert!(
        allowed == "*" || allowed == origin,
        "{what}: Access-Control-Allow-Origin {allowed:?}"
    );
}

/// Asserts a successful preflight: 2xx, origin allowed, `POST` allowed, every header in
/// `requested` allowed.
fn assert_preflight_allowed(response: &Response, origin: &str, requested: &str, what: &str) {
    assert!(
        response.status().is_success(),
        "{what}: preflight status {}",
        response.status()
    );
    assert_allows_origin(response, origin, what);
    let methods = header(response, ACCESS_CONTROL_ALLOW_METHODS)
        .unwrap_or_default()
        .to_ascii_uppercase();
    assert!(
        methods == "*" || methods.split(',').any(|m| m.trim() == "POST"),
        "{what}: Access-Control-Allow-Methods {methods:?}"
    );
    let allowed_headers = header(response, ACCESS_CONTROL_ALLOW_HEADERS)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let allowed: Vec<&str> = allowed_headers.split(',').map(str::trim).collect();
    for wanted in requested.split(',') {
        assert!(
            allowed.contains(&"*") || allowed.contains(&wanted),
            "{what}: header {wanted} not in Access-Control-Allow-Headers {allowed_headers:?}"
        );
    }
}

/// Asserts that no CORS response header at all is present.
fn assert_no_cors(response: &Response, what: &str) {
    let cors: Vec<_> = response
        .headers()
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "{what}: CORS headers {cors:?}");
}

/// SEC-03, TOKEN-11 (OAuth 2.1 §3.2; RFC 8414/9728 documents read by browser clients): preflights
/// from a browser origin to the AS metadata, both PRM forms, `/oauth/register` and `/oauth/token`
/// are allowed with `Content-Type`, `Authorization` and `MCP-Protocol-Version`.
#[tokio::test]
async fn sec_03_token_11_preflight_allowed_on_public_endpoints() {
    let gw = TestGateway::start().await;
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/research-agent/mcp",
        "/oauth/register",
        "/oauth/token",
    ] {
        for origin in [INSPECTOR, "https://some-web-client.example"] {
            let response = preflight(&gw, path, origin, REQUESTED_HEADERS).await;
            assert_preflight_allowed(&response, origin, REQUESTED_HEADERS, path);
        }
    }
}

/// SEC-03 (RFC 8414 §3, RFC 9728 §3 documents fetched by browser clients): a simple `GET` with an
/// `Origin` gets `Access-Control-Allow-Origin` along with the document.
#[tokio::test]
async fn sec_03_discovery_get_with_origin_is_readable() {
    let gw = TestGateway::start().await;
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/ops-agent/mcp",
    ] {
        let response = gw
            .http
            .get(gw.url(path))
            .header(ORIGIN, INSPECTOR)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_allows_origin(&response, INSPECTOR, path);
    }
}

/// SEC-03, TOKEN-11 (OAuth 2.1 §3.2): the actual cross-origin `POST`s to `/oauth/register` (201)
/// and `/oauth/token` (an error answer too, so the browser client can read it) carry
/// `Access-Control-Allow-Origin`.
#[tokio::test]
async fn sec_03_token_11_register_and_token_posts_are_readable() {
    let gw = TestGateway::start().await;
    let register = gw
        .http
        .post(gw.url("/oauth/register"))
        .header(ORIGIN, INSPECTOR)
        .json(&json!({ "redirect_uris": [REDIRECT] }))
        .send()
        .await
        .unwrap();
    assert_eq!(register.status(), StatusCode::CREATED);
    assert_allows_origin(&register, INSPECTOR, "/oauth/register");

    let token = gw
        .http
        .post(gw.url("/oauth/token"))
        .header(ORIGIN, INSPECTOR)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "no-such-code"),
            ("client_id", "mcp_client_unknown"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert!(token.status().is_client_error(), "{}", token.status());
    assert_allows_origin(&token, INSPECTOR, "/oauth/token");
}

/// AUTHZ-11 (OAuth 2.1 §3.1: CORS MUST NOT be supported at the authorization endpoint): a `GET`
/// with an `Origin` to `/oauth/authorize` and to the login page, and preflights to both, get no
/// CORS header at all.
#[tokio::test]
async fn authz_11_no_cors_on_authorize_and_login() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let browser = gw.browser();
    let authorize = browser
        .get(gw.authorize_url(&TestGateway::authorize_params(&client_id, &[])))
        .header(ORIGIN, INSPECTOR)
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), StatusCode::SEE_OTHER);
    assert_no_cors(&authorize, "GET /oauth/authorize");

    let login_url = location(&authorize);
    let login = browser
        .get(&login_url)
        .header(ORIGIN, INSPECTOR)
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert_no_cors(&login, "GET /oauth/login");

    let bare_login = gw
        .http
        .get(gw.url("/oauth/login"))
        .header(ORIGIN, INSPECTOR)
        .send()
        .await
        .unwrap();
    assert_no_cors(&bare_login, "GET /oauth/login without a request");

    for path in ["/oauth/authorize", "/oauth/login"] {
        for origin in [INSPECTOR, EVIL] {
            let response = preflight(&gw, path, origin, REQUESTED_HEADERS).await;
            assert_no_cors(&response, &format!("preflight {path} from {origin}"));
        }
    }
}

/// SEC-03 (MCP Streamable HTTP; Inspector): a preflight to the MCP endpoint from an allowed origin
/// is allowed with `Authorization`, `MCP-Protocol-Version` and the newer MCP headers.
#[tokio::test]
async fn sec_03_mcp_preflight_from_allowed_origin() {
    let gw = TestGateway::start().await;
    let requested = "content-type,authorization,mcp-protocol-version,mcp-method,mcp-name";
    for origin in [INSPECTOR, "http://127.0.0.1:6274"] {
        let response = preflight(&gw, "/research-agent/mcp", origin, requested).await;
        assert_preflight_allowed(&response, origin, requested, origin);
        assert_eq!(
            header(&response, ACCESS_CONTROL_ALLOW_ORIGIN).as_deref(),
            Some(origin),
            "the MCP endpoint names the allowed origin, not *"
        );
    }
}

/// SEC-03, BEARER-04 (RFC 9728 §5.1: the browser client must read the challenge): a `POST` from an
/// allowed origin without a token is a 401 whose `Access-Control-Expose-Headers` includes
/// `WWW-Authenticate`; with a valid key the same origin gets the MCP result.
#[tokio::test]
async fn sec_03_mcp_401_from_allowed_origin_exposes_www_authenticate() {
    let gw = TestGateway::start().await;
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let response = gw
        .http
        .post(gw.agent_url(RESEARCH))
        .header(ORIGIN, INSPECTOR)
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get("www-authenticate").is_some());
    assert_eq!(
        header(&response, ACCESS_CONTROL_ALLOW_ORIGIN).as_deref(),
        Some(INSPECTOR)
    );
    let exposed = header(&response, ACCESS_CONTROL_EXPOSE_HEADERS)
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        exposed.split(',').any(|h| h.trim() == "www-authenticate"),
        "Access-Control-Expose-Headers {exposed:?}"
    );

    let ok = gw
        .http
        .post(gw.agent_url(RESEARCH))
        .header(ORIGIN, INSPECTOR)
        .bearer_auth(RESEARCH_KEY)
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_allows_origin(&ok, INSPECTOR, "allowed POST");
    let body: Value = ok.json().await.unwrap();
    assert!(body["result"]["tools"].is_array(), "{body}");
}

/// SEC-02, SEC-03 (MCP Streamable HTTP "Security Warning": validate `Origin`): a preflight from a
/// non-allowed origin gets no `Access-Control-Allow-Origin`.
#[tokio::test]
async fn sec_02_mcp_preflight_from_other_origin_not_allowed() {
    let gw = TestGateway::start().await;
    for origin in [EVIL, "http://localhost:6275", "null"] {
        let response = preflight(&gw, "/research-agent/mcp", origin, REQUESTED_HEADERS).await;
        assert!(
            header(&response, ACCESS_CONTROL_ALLOW_ORIGIN).is_none(),
            "{origin}: {:?}",
            response.headers()
        );
    }
}

/// SEC-02 (MCP Streamable HTTP "Security Warning", against DNS rebinding): a `POST` from a present
/// but disallowed `Origin` is 403 even with a valid `bak_` key, and carries no MCP result and no
/// `Access-Control-Allow-Origin`; without a token it is 403 too (the Origin check comes first).
#[tokio::test]
async fn sec_02_mcp_post_from_disallowed_origin_is_403() {
    let gw = TestGateway::start().await;
    let request =
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami"}});
    for (origin, bearer) in [
        (EVIL, Some(RESEARCH_KEY)),
        (EVIL, None),
        ("http://localhost:6275", Some(RESEARCH_KEY)),
        ("null", Some(RESEARCH_KEY)),
    ] {
        let mut builder = gw
            .http
            .post(gw.agent_url(RESEARCH))
            .header(ORIGIN, origin)
            .json(&request);
        if let Some(token) = bearer {
            builder = builder.bearer_auth(token);
        }
        let response = builder.send().await.unwrap();
        let what = format!("{origin} with {bearer:?}");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
        assert!(
            header(&response, ACCESS_CONTROL_ALLOW_ORIGIN).is_none(),
            "{what}"
        );
        let body: Value = response.json().await.unwrap();
        assert!(body.get("result").is_none(), "{what}: {body}");
        assert!(!body.to_string().contains("alice"), "{what}: {body}");
        assert!(body["error"].is_string(), "{what}: {body}");
    }

    // Without an Origin header (a non-browser client) the same key works.
    let who = gw.whoami(RESEARCH, RESEARCH_KEY).await;
    assert_eq!(who["agent"], RESEARCH);
}
