//! Discovery (DISC-01..17, BEARER-04): RFC 8414 authorization server metadata, RFC 9728 protected
//! resource metadata (root and path-inserted per agent), the link from the 401 challenge to the
//! agent's document, and JSON 404s for unknown agents and paths. Every document is fetched without
//! credentials, validated against `fixtures/schemas/` and snapshotted.

use reqwest::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode, Url};
use serde_json::{Value, json};

use crate::support::*;

const ASM: &str = "/.well-known/oauth-authorization-server";
const PRM: &str = "/.well-known/oauth-protected-resource";

/// `GET path` without credentials; asserts 200 + `application/json` and returns the document.
async fn fetch_document(gw: &TestGateway, path: &str) -> Value {
    let response = gw.http.get(gw.url(path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    assert_json_content_type(&response);
    response.json().await.unwrap()
}

fn assert_json_content_type(response: &Response) {
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "Content-Type {content_type:?}"
    );
}

/// Asserts that no member anywhere in `value` is `null` or an empty array (RFC 8414 §3.2,
/// RFC 9728 §3.2: zero-element claims are omitted).
fn assert_no_empty_arrays_or_nulls(value: &Value, path: &str) {
    match value {
        Value::Null => panic!("null at {path}"),
        Value::Array(items) => {
            assert!(!items.is_empty(), "empty array at {path}");
            for (i, item) in items.iter().enumerate() {
                assert_no_empty_arrays_or_nulls(item, &format!("{path}[{i}]"));
            }
        }
        Value::Object(members) => {
            for (name, member) in members {
                assert_no_empty_arrays_or_nulls(member, &format!("{path}.{name}"));
            }
        }
        _ => {}
    }
}

/// An absolute URL on the gateway's origin, without query or fragment.
fn assert_absolute_gateway_url(gw: &TestGateway, value: &Value, what: &str) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value}"));
    let url = Url::parse(text).unwrap_or_else(|e| panic!("{what} {text:?} is not absolute: {e}"));
    assert!(url.query().is_none() && url.fragment().is_none(), "{what}");
    assert!(
        text.starts_with(&gw.base),
        "{what} {text:?} not on {}",
        gw.base
    );
}

/// Asserts a JSON 404 that is no metadata document.
async fn assert_json_404(response: Response, what: &str) {
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "{what}");
    assert_json_content_type(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "not_found", "{what}: {body}");
    assert!(body["error_description"].is_string(), "{what}: {body}");
    for member in ["resource", "authorization_servers", "issuer"] {
        assert!(
            body.get(member).is_none(),
            "{what}: {member} in a 404: {body}"
        );
    }
}

/// DISC-09, DISC-11, DISC-12, DISC-13, DISC-14, DISC-16 (RFC 8414 §2, §3; RFC 9207 §3): the
/// authorization server metadata lists every member the guide names, with absolute endpoint URLs,
/// `S256` only, public clients only, the `iss` flag and both grants; schema-valid; snapshot.
#[tokio::test]
async fn disc_09_11_12_13_14_16_authorization_server_metadata() {
    let gw = TestGateway::start().await;
    let doc = fetch_document(&gw, ASM).await;
    assert_schema("authorization-server-metadata", &doc);

    assert_eq!(doc["issuer"], gw.base.as_str());
    assert_eq!(doc["authorization_endpoint"], gw.url("/oauth/authorize"));
    assert_eq!(doc["token_endpoint"], gw.url("/oauth/token"));
    assert_eq!(doc["registration_endpoint"], gw.url("/oauth/register"));
    for member in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "registration_endpoint",
    ] {
        assert_absolute_gateway_url(&gw, &doc[member], member);
    }
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["none"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        doc["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    // DISC-15: a DCR-only gateway does not claim CIMD support.
    assert!(doc.get("client_id_metadata_document_supported").is_none());
    assert_no_empty_arrays_or_nulls(&doc, "$");

    insta::assert_json_snapshot!(gw.normalize(&doc), @r#"
    {
      "authorization_endpoint": "http://gateway.test/oauth/authorize",
      "authorization_response_iss_parameter_supported": true,
      "code_challenge_methods_supported": [
        "S256"
      ],
      "grant_types_supported": [
        "authorization_code",
        "refresh_token"
      ],
      "issuer": "http://gateway.test",
      "registration_endpoint": "http://gateway.test/oauth/register",
      "response_modes_supported": [
        "query"
      ],
      "response_types_supported": [
        "code"
      ],
      "scopes_supported": [
        "mcp"
      ],
      "token_endpoint": "http://gateway.test/oauth/token",
      "token_endpoint_auth_methods_supported": [
        "none"
      ]
    }
    "#);
}

/// DISC-13 (RFC 8414 §2 `grant_types_supported`): a gateway started without refresh tokens does
/// not advertise the `refresh_token` grant, and sends no empty or null member instead.
#[tokio::test]
async fn disc_13_grant_types_without_refresh_tokens() {
    let gw = TestGateway::start_with(|raw| raw.gateway.refresh_tokens = Some(false)).await;
    let doc = fetch_document(&gw, ASM).await;
    assert_schema("authorization-server-metadata", &doc);
    assert_eq!(doc["grant_types_supported"], json!(["authorization_code"]));
    assert_no_empty_arrays_or_nulls(&doc, "$");
}

/// DISC-10 (RFC 8414 §2, §3.3; MCP discovery: clients reject a mismatch): `issuer` is the origin
/// without a trailing slash, byte-identical to `authorization_servers[0]` of the root PRM and of
/// every agent's PRM, with no query or fragment.
#[tokio::test]
async fn disc_10_issuer_byte_identical_to_prm_authorization_servers() {
    let gw = TestGateway::start().await;
    let asm = fetch_document(&gw, ASM).await;
    let issuer = asm["issuer"].as_str().unwrap();
    assert_eq!(issuer, gw.base);
    assert!(
        !issuer.ends_with('/'),
        "trailing slash in issuer {issuer:?}"
    );
    assert!(!issuer.contains('?') && !issuer.contains('#'), "{issuer}");

    let mut prm_paths = vec![PRM.to_owned()];
    for agent in [RESEARCH, WRITER, OPS] {
        prm_paths.push(format!("{PRM}/{agent}/mcp"));
    }
    for path in prm_paths {
        let prm = fetch_document(&gw, &path).await;
        let servers = prm["authorization_servers"].as_array().unwrap();
        assert_eq!(servers.len(), 1, "{path}: {prm}");
        assert_eq!(
            servers[0].as_str().unwrap().as_bytes(),
            issuer.as_bytes(),
            "{path}"
        );
    }
}

/// DISC-01, DISC-04, DISC-06, DISC-07 (RFC 9728 §2, §3.2, §3.3): the root protected resource
/// metadata names the gateway origin as `resource` (exactly, no trailing slash), lists the issuer,
/// has the recommended members and no `offline_access`; schema-valid; snapshot.
#[tokio::test]
async fn disc_01_04_06_07_root_protected_resource_metadata() {
    let gw = TestGateway::start().await;
    let doc = fetch_document(&gw, PRM).await;
    assert_schema("protected-resource-metadata", &doc);
    assert_eq!(doc["resource"], gw.base.as_str());
    assert_eq!(doc["authorization_servers"], json!([gw.base]));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    assert!(doc["resource_name"].is_string());
    let scopes = doc["scopes_supported"].as_array().unwrap();
    assert!(!scopes.contains(&json!("offline_access")), "{doc}");
    assert_no_empty_arrays_or_nulls(&doc, "$");

    insta::assert_json_snapshot!(gw.normalize(&doc), @r#"
    {
      "authorization_servers": [
        "http://gateway.test"
      ],
      "bearer_methods_supported": [
        "header"
      ],
      "resource": "http://gateway.test",
      "resource_name": "MCP Gateway (reference, demo world)",
      "scopes_supported": [
        "mcp"
      ]
    }
    "#);
}

/// DISC-03, DISC-04, DISC-06, DISC-07 (RFC 9728 §3.1 path insertion, §3.3): each demo agent has
/// its path-inserted document whose `resource` is `{base}/{agent}/mcp` exactly; schema-valid;
/// snapshot of the research agent's.
#[tokio::test]
async fn disc_03_04_per_agent_protected_resource_metadata() {
    let gw = TestGateway::start().await;
    for agent in [RESEARCH, WRITER, OPS] {
        let doc = fetch_document(&gw, &format!("{PRM}/{agent}/mcp")).await;
        assert_schema("protected-resource-metadata", &doc);
        assert_eq!(doc["resource"], gw.agent_url(agent), "{agent}");
        assert_eq!(doc["authorization_servers"], json!([gw.base]), "{agent}");
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
        assert!(doc["resource_name"].is_string(), "{agent}");
        let scopes = doc["scopes_supported"].as_array().unwrap();
        assert!(!scopes.contains(&json!("offline_access")), "{doc}");
        assert_no_empty_arrays_or_nulls(&doc, "$");
    }

    let doc = fetch_document(&gw, &format!("{PRM}/{RESEARCH}/mcp")).await;
    insta::assert_json_snapshot!(gw.normalize(&doc), @r#"
    {
      "authorization_servers": [
        "http://gateway.test"
      ],
      "bearer_methods_supported": [
        "header"
      ],
      "resource": "http://gateway.test/research-agent/mcp",
      "resource_name": "Alice's research agent",
      "scopes_supported": [
        "mcp"
      ]
    }
    "#);
}

/// DISC-08 (RFC 9728 §3.2, §3.3): an unknown agent, an impossible agent id or a differently cased
/// known id gets a JSON 404, never a document (in particular never another agent's).
#[tokio::test]
async fn disc_08_unknown_agent_metadata_is_json_404() {
    let gw = TestGateway::start().await;
    for agent in [
        "nope",
        "a%20b",
        "Research-Agent",
        "research-agent%2F..",
        "oauth",
    ] {
        let response = gw
            .http
            .get(gw.url(&format!("{PRM}/{agent}/mcp")))
            .send()
            .await
            .unwrap();
        assert_json_404(response, agent).await;
    }
}

/// DISC-06, DISC-16 (RFC 8414 §3.2, RFC 9728 §3.2): no discovery document contains a null or an
/// empty array, also on a gateway without refresh tokens.
#[tokio::test]
async fn disc_06_16_no_empty_arrays_or_nulls() {
    for refresh in [true, false] {
        let gw = TestGateway::start_with(|raw| raw.gateway.refresh_tokens = Some(refresh)).await;
        for path in [
            ASM.to_owned(),
            PRM.to_owned(),
            format!("{PRM}/{RESEARCH}/mcp"),
            format!("{PRM}/{WRITER}/mcp"),
            format!("{PRM}/{OPS}/mcp"),
        ] {
            let doc = fetch_document(&gw, &path).await;
            assert!(doc.is_object(), "{path}");
            assert_no_empty_arrays_or_nulls(&doc, &path);
        }
    }
}

/// DISC-01 (MCP discovery; RFC 9728 §3): discovery documents need no credentials, and a stale or
/// bogus `Authorization` header does not turn them into a 401.
#[tokio::test]
async fn disc_01_discovery_needs_no_credentials() {
    let gw = TestGateway::start().await;
    for path in [
        ASM.to_owned(),
        PRM.to_owned(),
        format!("{PRM}/{RESEARCH}/mcp"),
    ] {
        let plain = gw.http.get(gw.url(&path)).send().await.unwrap();
        assert_eq!(plain.status(), StatusCode::OK, "{path}");
        assert!(plain.headers().get(WWW_AUTHENTICATE).is_none(), "{path}");
        let with_bogus = gw
            .http
            .get(gw.url(&path))
            .bearer_auth("not-a-valid-token")
            .send()
            .await
            .unwrap();
        assert_eq!(
            with_bogus.status(),
            StatusCode::OK,
            "{path} with a bogus bearer"
        );
    }
}

/// DISC-02, DISC-05, BEARER-04 (RFC 9728 §3.3 ¶2, §5.1): `POST /{agent}/mcp` without a token is a
/// 401 whose challenge carries an absolute `resource_metadata` URL (and no `error`); fetching it
/// gives a document whose `resource` equals the MCP URL that was called.
#[tokio::test]
async fn disc_05_bearer_04_challenge_links_to_agent_metadata() {
    let gw = TestGateway::start().await;
    for agent in [RESEARCH, WRITER, OPS] {
        let response = gw
            .mcp(
                agent,
                None,
                json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{agent}");
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .expect("WWW-Authenticate on a 401")
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.starts_with("Bearer "), "{challenge}");
        assert!(
            !challenge.contains("error="),
            "no error without a token: {challenge}"
        );
        let marker = "resource_metadata=\"";
        let start = challenge.find(marker).expect("resource_metadata") + marker.len();
        let end = challenge[start..].find('"').unwrap() + start;
        let metadata_url = &challenge[start..end];
        let parsed = Url::parse(metadata_url)
            .unwrap_or_else(|e| panic!("resource_metadata {metadata_url:?} not absolute: {e}"));
        assert_eq!(parsed.as_str(), metadata_url, "not in normal form");
        assert_eq!(metadata_url, gw.url(&format!("{PRM}/{agent}/mcp")));

        let doc_response = gw.http.get(metadata_url).send().await.unwrap();
        assert_eq!(doc_response.status(), StatusCode::OK);
        let doc: Value = doc_response.json().await.unwrap();
        assert_eq!(doc["resource"], gw.agent_url(agent), "{agent}");
    }
}

/// DISC-17 (MCP 2025-03-26 fallbacks; interop): unknown paths, including the legacy fallback
/// endpoints and the path-inserted AS metadata some clients probe, get a JSON 404, not plain text.
#[tokio::test]
async fn disc_17_unknown_paths_are_json_404() {
    let gw = TestGateway::start().await;
    for path in [
        "/nope",
        "/authorize",
        "/token",
        "/register",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/research-agent/mcp",
        "/.well-known/oauth-protected-resource/research-agent",
        "/research-agent/mcp/extra",
    ] {
        let response = gw.http.get(gw.url(path)).send().await.unwrap();
        assert_json_404(response, path).await;
    }
}
