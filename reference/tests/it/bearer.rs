//! The three bearer types at `POST /{AGENT_ID}/mcp` and the `401` challenge (issue 2, "MCP
//! endpoint and the three bearer types"; catalog BEARER-01..11, AUD-03, AUD-07, AUD-09, SEC-05).
//!
//! Covers: where credentials may come from (the `Authorization: Bearer` header only, scheme
//! case-insensitive, never the query string), the `WWW-Authenticate` challenge (parsed as RFC 9110
//! §11.2 auth-params: `realm="MCP"`, an absolute `resource_metadata`, `error` only when a token was
//! presented), every way a JWT or API key is refused (other key, `alg: none`, tampering, wrong
//! `typ`/`iss`/`aud`, expiry, revocation, unknown keys), which agents each bearer type may use
//! (`bak_` own agent only → else 401, `oag_` the user's agents → else 403, JWT per `sub` and `aud`),
//! 404 for unknown agents, authentication before any JSON-RPC handling, and that the gateway's logs
//! never hold a secret of the flow.
//!
//! Tokens are forged with the real demo secret through `jsonwebtoken` (a normal dependency of the
//! crate, so visible to integration tests); each forging test first re-signs the genuine claims
//! unchanged and checks they are accepted, so a refusal is the check at work, not a broken forgery.

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// One `WWW-Authenticate` challenge, parsed (RFC 9110 §11.2: `auth-scheme [ 1*SP #auth-param ]`).
#[derive(Debug)]
struct Challenge {
    scheme: String,
    /// `(lower-cased name, unquoted value)` in order.
    params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of auth-param `name`; panics when it appears more than once (RFC 6750 §3: each
    /// attribute at most once).
    fn param(&self, name: &str) -> Option<&str> {
        let mut found = self.params.iter().filter(|(n, _)| n == name);
        let first = found.next().map(|(_, v)| v.as_str());
        assert!(
            found.next().is_none(),
            "auth-param {name} repeated in {self:?}"
        );
        first
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Parses a single challenge: the scheme, then comma-separated `name=token` or
/// `name="quoted-string"` auth-params (backslash escapes honoured). Panics on anything else,
/// including a second challenge in the same header value.
fn parse_challenge(header: &str) -> Challenge {
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    assert!(
        !scheme.is_empty() && scheme.chars().all(is_tchar),
        "bad auth-scheme in {header:?}"
    );
    let mut chars = rest.chars().peekable();
    let mut params = Vec::new();
    let skip_ows = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while matches!(chars.peek(), Some(' ' | '\t')) {
            chars.next();
        }
    };
    loop {
        skip_ows(&mut chars);
        if chars.peek().is_none() {
            break;
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if !is_tchar(c) {
                break;
            }
            name.push(c);
            chars.next();
        }
        assert!(
            !name.is_empty(),
            "expected an auth-param name in {header:?}"
        );
        skip_ows(&mut chars);
        assert_eq!(
            chars.next(),
            Some('='),
            "auth-param {name} without '=' in {header:?} (a second challenge?)"
        );
        skip_ows(&mut chars);
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => value.push(chars.next().expect("escape at the end")),
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => panic!("unterminated quoted-string in {header:?}"),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if !is_tchar(c) {
                    break;
                }
                value.push(c);
                chars.next();
            }
            assert!(
                !value.is_empty(),
                "empty token value for {name} in {header:?}"
            );
        }
        params.push((name.to_ascii_lowercase(), value));
        skip_ows(&mut chars);
        match chars.next() {
            None => break,
            Some(',') => {}
            Some(c) => panic!("unexpected {c:?} after auth-param {name} in {header:?}"),
        }
    }
    Challenge {
        scheme: scheme.to_owned(),
        params,
    }
}

/// `{base}/.well-known/oauth-protected-resource/{agent}/mcp`
fn metadata_url(gw: &TestGateway, agent: &str) -> String {
    gw.url(&format!(
        "/.well-known/oauth-protected-resource/{agent}/mcp"
    ))
}

fn whoami_call() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami"}})
}

/// `POST /{agent}/mcp` (whoami) with the given raw `Authorization` header values.
async fn post_with_authorization(gw: &TestGateway, agent: &str, values: &[&str]) -> Response {
    let mut request = gw.http.post(gw.agent_url(agent)).json(&whoami_call());
    for value in values {
        request = request.header(AUTHORIZATION, *value);
    }
    request.send().await.unwrap()
}

/// `tools/call whoami` at `agent` with `bearer`, returning the raw response.
async fn call(gw: &TestGateway, agent: &str, bearer: &str) -> Response {
    gw.mcp(agent, Some(bearer), whoami_call()).await
}

/// The response body as JSON, asserting it is a JSON error and not a JSON-RPC answer.
async fn error_body(response: Response) -> Value {
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.unwrap();
    for field in ["result", "jsonrpc", "access_token"] {
        assert!(body.get(field).is_none(), "{field} in a refusal: {body}");
    }
    assert!(
        body["error_description"].is_string(),
        "error_description in {body}"
    );
    body
}

/// Asserts `status` with exactly one `Bearer` challenge for `agent` carrying `error` (or no `error`
/// at all when `None`). Returns the JSON body.
async fn assert_challenge(
    gw: &TestGateway,
    agent: &str,
    response: Response,
    status: StatusCode,
    error: Option<&str>,
) -> Value {
    assert_eq!(response.status(), status, "status");
    let values: Vec<String> = response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(values.len(), 1, "exactly one WWW-Authenticate: {values:?}");
    let header = &values[0];
    assert!(header.starts_with("Bearer "), "{header}");
    let challenge = parse_challenge(header);
    assert_eq!(challenge.scheme, "Bearer");
    let mut names: Vec<&str> = challenge.params.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    let count = names.len();
    names.dedup();
    assert_eq!(names.len(), count, "an auth-param is repeated in {header}");
    assert_eq!(challenge.param("realm"), Some("MCP"), "{header}");
    let metadata = challenge
        .param("resource_metadata")
        .expect("resource_metadata");
    assert_eq!(metadata, metadata_url(gw, agent), "{header}");
    let parsed = url::Url::parse(metadata).expect("resource_metadata is an absolute URL");
    assert!(parsed.host_str().is_some(), "{metadata}");
    assert_eq!(challenge.param("error"), error, "error in {header}");
    if error.is_none() {
        assert_eq!(challenge.param("error_description"), None, "{header}");
    }
    let body = error_body(response).await;
    match error {
        Some(code) => {
            assert_eq!(body["error"], code, "{body}");
            assert_schema("oauth-error", &body);
        }
        None => assert!(body.get("error").is_none(), "{body}"),
    }
    body
}

async fn assert_invalid_token(gw: &TestGateway, agent: &str, response: Response) -> Value {
    assert_challenge(
        gw,
        agent,
        response,
        StatusCode::UNAUTHORIZED,
        Some("invalid_token"),
    )
    .await
}

async fn assert_no_credentials(gw: &TestGateway, agent: &str, response: Response) -> Value {
    assert_challenge(gw, agent, response, StatusCode::UNAUTHORIZED, None).await
}

/// 403 for a valid credential of a user who does not own the agent: a JSON error, no result, no
/// `invalid_token` challenge (the credential itself is fine).
async fn assert_not_owner(response: Response) {
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    if let Some(header) = &challenge {
        assert_ne!(
            parse_challenge(header).param("error"),
            Some("invalid_token"),
            "{header}"
        );
    }
    let body = error_body(response).await;
    assert_eq!(body["error"], "access_denied", "{body}");
    assert_schema("oauth-error", &body);
}

/// 404 for valid credentials at an agent that does not exist.
async fn assert_unknown_agent(response: Response) {
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
    let body = error_body(response).await;
    assert!(body["error"].is_string(), "{body}");
}

/// Register, authorize (with `resource` as a raw URL when given), log in as `user`, exchange.
async fn tokens_for(gw: &TestGateway, user: (&str, &str), resource: Option<&str>) -> Tokens {
    let client_id = gw.register(&[REDIRECT]).await;
    let extra: Vec<(&str, &str)> = resource.map(|r| ("resource", r)).into_iter().collect();
    let params = TestGateway::authorize_params(&client_id, &extra);
    let callback = gw.obtain_code(&params, user).await;
    let code = callback.code.expect("a code");
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    form.extend_from_slice(&extra);
    let response = gw.token_request(&form).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    Tokens {
        client_id,
        access_token: body["access_token"].as_str().unwrap().to_owned(),
        refresh_token: body["refresh_token"].as_str().map(str::to_owned),
        body,
    }
}

/// Signs `claims` with `secret` under `alg`, with header `typ` (none when `None`).
fn forge(claims: &Value, alg: Algorithm, typ: Option<&str>, secret: &str) -> String {
    let mut header = Header::new(alg);
    header.typ = typ.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

// ---------------------------------------------------------------------------------------------
// The challenge and where credentials come from
// ---------------------------------------------------------------------------------------------

/// BEARER-03, BEARER-04, BEARER-05, BEARER-07 (RFC 6750 §3, §3.1; RFC 9728 §5.1): without
/// credentials the answer is 401 with exactly one `Bearer` challenge, `realm="MCP"`, the absolute
/// URL of *this agent's* protected resource metadata, and no `error`; that URL serves the metadata
/// whose `resource` is the agent's MCP URL.
#[tokio::test]
async fn bearer_03_04_05_no_credentials_get_challenge_without_error() {
    let gw = TestGateway::start().await;
    for agent in [RESEARCH, WRITER, OPS] {
        let response = gw.mcp(agent, None, whoami_call()).await;
        let values: Vec<_> = response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .collect();
        assert_eq!(values.len(), 1);
        let challenge = parse_challenge(values[0].to_str().unwrap());
        // BEARER-07: the gateway's one scope is announced.
        assert_eq!(challenge.param("scope"), Some("mcp"));
        let body = assert_no_credentials(&gw, agent, response).await;
        assert!(body.get("error").is_none(), "{body}");

        // BEARER-04: follow the link like a client does.
        let metadata = gw.http.get(metadata_url(&gw, agent)).send().await.unwrap();
        assert_eq!(metadata.status(), StatusCode::OK);
        let document: Value = metadata.json().await.unwrap();
        assert_schema("protected-resource-metadata", &document);
        assert_eq!(document["resource"], gw.agent_url(agent));
    }
}

/// BEARER-02 (MCP authorization "Token Requirements"; OAuth 2.1 §5.1.1): a valid token in the query
/// string (or in a form body) is never looked at: 401 without `error`, as if none was sent. The
/// same token in the header works.
#[tokio::test]
async fn bearer_02_token_in_query_string_is_ignored() {
    let gw = TestGateway::start().await;
    let tokens = gw.oauth_tokens(ALICE, Some(RESEARCH)).await;
    for token in [tokens.access_token.as_str(), RESEARCH_KEY, ALICE_KEY] {
        let url = format!(
            "{}?{}",
            gw.agent_url(RESEARCH),
            form_encode(&[("access_token", token)])
        );
        let response = gw
            .http
            .post(&url)
            .json(&whoami_call())
            .send()
            .await
            .unwrap();
        assert_no_credentials(&gw, RESEARCH, response).await;

        let response = gw
            .http
            .post(gw.agent_url(RESEARCH))
            .form(&[("access_token", token)])
            .send()
            .await
            .unwrap();
        assert_no_credentials(&gw, RESEARCH, response).await;

        // Control: the header form is accepted.
        assert_eq!(gw.whoami(RESEARCH, token).await["user"], "alice");
    }
}

/// BEARER-01 (RFC 6750 §2.1; RFC 9110 §11.1): the auth-scheme is case-insensitive.
#[tokio::test]
async fn bearer_01_scheme_is_case_insensitive() {
    let gw = TestGateway::start().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let response =
            post_with_authorization(&gw, RESEARCH, &[&format!("{scheme} {RESEARCH_KEY}")]).await;
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
        let body: Value = response.json().await.unwrap();
        let who = &body["result"]["structuredContent"];
        assert_eq!(who["bearer_type"], "agent_key", "{scheme}: {body}");
        assert_eq!(who["agent"], RESEARCH);
    }
}

/// BEARER-05 (RFC 6750 §3.1): another auth-scheme is not bearer credentials: 401 with the
/// challenge and no `error`, even when its payload is a valid key.
#[tokio::test]
async fn bearer_05_other_scheme_counts_as_no_credentials() {
    let gw = TestGateway::start().await;
    for value in [
        "Basic YWxpY2U6YWxpY2UtZGVtby1wYXNzd29yZA==".to_owned(),
        format!("Token {RESEARCH_KEY}"),
        format!("Bearer-{RESEARCH_KEY}"),
    ] {
        let response = post_with_authorization(&gw, RESEARCH, &[&value]).await;
        assert_no_credentials(&gw, RESEARCH, response).await;
    }
}

/// BEARER-09 (RFC 6750 §3.1 `invalid_request`): two `Authorization` headers are a malformed
/// request: 400 with `error="invalid_request"`, even when both carry valid keys.
#[tokio::test]
async fn bearer_09_two_authorization_headers_are_invalid_request() {
    let gw = TestGateway::start().await;
    let first = format!("Bearer {RESEARCH_KEY}");
    let second = format!("Bearer {ALICE_KEY}");
    let response = post_with_authorization(&gw, RESEARCH, &[&first, &second]).await;
    assert_challenge(
        &gw,
        RESEARCH,
        response,
        StatusCode::BAD_REQUEST,
        Some("invalid_request"),
    )
    .await;
    // Each one alone is fine.
    for value in [&first, &second] {
        let response = post_with_authorization(&gw, RESEARCH, &[value]).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
}

/// BEARER-09 (RFC 6750 §2.1, §3.1): `Bearer` with empty credentials → 400 `invalid_request`.
#[tokio::test]
async fn bearer_09_empty_bearer_credentials_are_invalid_request() {
    let gw = TestGateway::start().await;
    for value in ["Bearer", "Bearer ", "bearer   "] {
        let response = post_with_authorization(&gw, RESEARCH, &[value]).await;
        assert_challenge(
            &gw,
            RESEARCH,
            response,
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
        )
        .await;
    }
}

// ---------------------------------------------------------------------------------------------
// Refused tokens
// ---------------------------------------------------------------------------------------------

/// BEARER-06, AUD-07 (RFC 6750 §3.1; RFC 8725 §3.1; RFC 9068 §4): garbage, a JWT signed with
/// another secret, `alg: none`, a tampered payload, another HMAC algorithm, `typ` other than
/// `at+jwt` (or none), and a foreign `iss` → 401 `error="invalid_token"`. The genuine claims,
/// re-signed with the demo secret as `at+jwt`, are accepted (so the forgeries are well made).
#[tokio::test]
async fn bearer_06_aud_07_forged_and_malformed_jwts_are_invalid_token() {
    let gw = TestGateway::start().await;
    // No resource: valid at every agent alice owns, so the tampered `sub=bob` could be tried at
    // bob's agent.
    let tokens = gw.oauth_tokens(ALICE, None).await;
    let real = tokens.access_token.as_str();
    let (header, claims) = jwt_parts(real);
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["typ"], "at+jwt");

    // Control: re-signing the same claims the same way gives a token the gateway accepts.
    let resigned = forge(&claims, Algorithm::HS256, Some("at+jwt"), DEMO_JWT_SECRET);
    let who = gw.whoami(RESEARCH, &resigned).await;
    assert_eq!(who["bearer_type"], "oauth");
    assert_eq!(who["user"], "alice");

    let parts: Vec<&str> = real.split('.').collect();
    let mut as_bob = claims.clone();
    as_bob["sub"] = json!("bob");
    let mut foreign_iss = claims.clone();
    foreign_iss["iss"] = json!("https://other.example");

    let cases: Vec<(&str, String)> = vec![
        ("garbage", "garbage".to_owned()),
        ("three dots", "a.b.c".to_owned()),
        ("not token68", "not a token".to_owned()),
        (
            "other secret",
            forge(
                &claims,
                Algorithm::HS256,
                Some("at+jwt"),
                "another-secret-another-secret-xx",
            ),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "at+jwt"})),
                parts[1]
            ),
        ),
        (
            "alg none, signature kept",
            format!(
                "{}.{}.{}",
                b64(&json!({"alg": "none", "typ": "at+jwt"})),
                parts[1],
                parts[2]
            ),
        ),
        (
            "tampered sub",
            format!("{}.{}.{}", parts[0], b64(&as_bob), parts[2]),
        ),
        ("signature stripped", format!("{}.{}.", parts[0], parts[1])),
        (
            "HS384 with the demo secret",
            forge(&claims, Algorithm::HS384, Some("at+jwt"), DEMO_JWT_SECRET),
        ),
        (
            "typ JWT",
            forge(&claims, Algorithm::HS256, Some("JWT"), DEMO_JWT_SECRET),
        ),
        (
            "no typ",
            forge(&claims, Algorithm::HS256, None, DEMO_JWT_SECRET),
        ),
        (
            "foreign iss",
            forge(
                &foreign_iss,
                Algorithm::HS256,
                Some("at+jwt"),
                DEMO_JWT_SECRET,
            ),
        ),
    ];
    for (name, token) in &cases {
        for agent in [RESEARCH, OPS] {
            let response = call(&gw, agent, token).await;
            let body = assert_invalid_token(&gw, agent, response).await;
            assert!(
                !body.to_string().contains(token.as_str()) || token.len() < 12,
                "{name}: the token is echoed in {body}"
            );
        }
    }
}

/// BEARER-06, AUD-07 (OAuth 2.1 §5.2; guide "Token details": 60 minutes): the access token works
/// until one second before `exp` and is `invalid_token` from `exp` on.
#[tokio::test]
async fn bearer_06_expired_token_is_invalid_token() {
    let gw = TestGateway::start().await;
    let tokens = gw.oauth_tokens(ALICE, Some(RESEARCH)).await;
    let (_, claims) = jwt_parts(&tokens.access_token);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );
    gw.advance(3599);
    assert_eq!(
        gw.whoami(RESEARCH, &tokens.access_token).await["user"],
        "alice"
    );
    gw.advance(1);
    let response = call(&gw, RESEARCH, &tokens.access_token).await;
    assert_invalid_token(&gw, RESEARCH, response).await;
    gw.advance(3600);
    let response = call(&gw, RESEARCH, &tokens.access_token).await;
    assert_invalid_token(&gw, RESEARCH, response).await;
}

/// BEARER-06 (RFC 6750 §3.1): unknown `bak_…` and `oag_…` keys (and near misses of real ones) →
/// 401 `invalid_token`, at any agent.
#[tokio::test]
async fn bearer_06_unknown_api_keys_are_invalid_token() {
    let gw = TestGateway::start().await;
    let near_research = format!("{RESEARCH_KEY}x");
    let near_alice = &ALICE_KEY[..ALICE_KEY.len() - 1];
    let upper = RESEARCH_KEY.to_uppercase();
    let keys = [
        "bak_unknownAgentKey000000000000000099",
        "oag_unknownUserKey0000000000000000099",
        "bak_",
        "oag_",
        near_research.as_str(),
        near_alice,
        upper.as_str(),
    ];
    for key in keys {
        for agent in [RESEARCH, OPS] {
            let response = call(&gw, agent, key).await;
            assert_invalid_token(&gw, agent, response).await;
        }
    }
}

/// BEARER-06, AUD-07 (OAuth 2.1 §4.1.3 "SHOULD revoke"): after its code is redeemed a second time,
/// the access token issued from it is refused with 401 `invalid_token`.
#[tokio::test]
async fn bearer_06_aud_07_token_revoked_by_code_replay_is_invalid_token() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let params = TestGateway::authorize_params(&client_id, &[]);
    let code = gw.obtain_code(&params, ALICE).await.code.unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let first = gw.token_request(&form).await;
    assert_eq!(first.status(), StatusCode::OK);
    let token = first.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(gw.whoami(RESEARCH, &token).await["bearer_type"], "oauth");

    let replay = gw.token_request(&form).await;
    assert_oauth_error(replay, StatusCode::BAD_REQUEST, "invalid_grant").await;
    for agent in [RESEARCH, WRITER] {
        let response = call(&gw, agent, &token).await;
        assert_invalid_token(&gw, agent, response).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Which agents each bearer type may use
// ---------------------------------------------------------------------------------------------

/// AUD-09, BEARER-06 (MCP authorization "Token Handling": only tokens valid for this resource): a
/// `bak_` key works at its own agent only; at another agent (even one of the same owner) or an
/// unknown agent it is 401 `invalid_token`, never 403 or 404.
#[tokio::test]
async fn aud_09_agent_key_only_valid_at_its_own_agent() {
    let gw = TestGateway::start().await;
    for (key, agent, owner) in [
        (RESEARCH_KEY, RESEARCH, "alice"),
        (WRITER_KEY, WRITER, "alice"),
        (OPS_KEY, OPS, "bob"),
    ] {
        let who = gw.whoami(agent, key).await;
        assert_eq!(who["bearer_type"], "agent_key");
        assert_eq!(who["user"], owner);
        assert_eq!(who["agent"], agent);
        assert!(who.get("client_id").is_none(), "{who}");
    }
    for (key, agent) in [
        (RESEARCH_KEY, WRITER),
        (RESEARCH_KEY, OPS),
        (WRITER_KEY, RESEARCH),
        (OPS_KEY, RESEARCH),
        (RESEARCH_KEY, "no-such-agent"),
    ] {
        let response = call(&gw, agent, key).await;
        assert_invalid_token(&gw, agent, response).await;
    }
}

/// AUD-09 (issue 2: "a `oag_…` user key works for every agent its user owns (another user's agent
/// → 403)"; bearer.rs documents the 403 choice): valid at each of the user's agents; another user's
/// agent → 403 with a JSON error and no result; an unknown agent → 404.
#[tokio::test]
async fn aud_09_user_key_valid_at_every_agent_of_its_user() {
    let gw = TestGateway::start().await;
    for (key, agent, user) in [
        (ALICE_KEY, RESEARCH, "alice"),
        (ALICE_KEY, WRITER, "alice"),
        (BOB_KEY, OPS, "bob"),
    ] {
        let who = gw.whoami(agent, key).await;
        assert_eq!(who["bearer_type"], "user_key");
        assert_eq!(who["user"], user);
        assert_eq!(who["agent"], agent);
    }
    for (key, agent) in [(ALICE_KEY, OPS), (BOB_KEY, RESEARCH), (BOB_KEY, WRITER)] {
        assert_not_owner(call(&gw, agent, key).await).await;
    }
    for key in [ALICE_KEY, BOB_KEY] {
        assert_unknown_agent(call(&gw, "no-such-agent", key).await).await;
    }
}

/// AUD-03 (RFC 8707 §3; MCP "Token Audience Binding"): a token requested for research-agent has
/// that `aud`, works there (whoami: oauth, the registered client, alice) and is 401
/// `invalid_token` at any other agent, including alice's other one.
#[tokio::test]
async fn aud_03_token_with_audience_only_valid_at_that_agent() {
    let gw = TestGateway::start().await;
    let tokens = gw.oauth_tokens(ALICE, Some(RESEARCH)).await;
    let (_, claims) = jwt_parts(&tokens.access_token);
    assert_eq!(claims["aud"], gw.agent_url(RESEARCH));

    let who = gw.whoami(RESEARCH, &tokens.access_token).await;
    assert_eq!(who["bearer_type"], "oauth");
    assert_eq!(who["client_id"], tokens.client_id.as_str());
    assert_eq!(who["user"], "alice");
    assert_eq!(who["agent"], RESEARCH);
    assert_eq!(who["aud"], gw.agent_url(RESEARCH));

    for agent in [WRITER, OPS, "no-such-agent"] {
        let response = call(&gw, agent, &tokens.access_token).await;
        assert_invalid_token(&gw, agent, response).await;
    }
}

/// AUD-03 (RFC 8707 §2.1 default left to the server; RFC 9068 §2.2 `aud` REQUIRED; resource.rs:
/// no `resource` means the gateway itself, i.e. every agent `sub` owns): the token's `aud` is the
/// gateway origin; it works at both of alice's agents and gets 403 at bob's; bob's works at his and
/// gets 403 at alice's.
#[tokio::test]
async fn aud_03_token_without_resource_valid_at_every_agent_of_its_user() {
    let gw = TestGateway::start().await;
    let alice = gw.oauth_tokens(ALICE, None).await;
    let (_, claims) = jwt_parts(&alice.access_token);
    assert_eq!(claims["aud"], gw.base.as_str(), "{claims}");
    for agent in [RESEARCH, WRITER] {
        let who = gw.whoami(agent, &alice.access_token).await;
        assert_eq!(who["bearer_type"], "oauth");
        assert_eq!(who["user"], "alice");
        assert_eq!(who["agent"], agent);
        assert_eq!(who["client_id"], alice.client_id.as_str());
        assert_eq!(who["aud"], gw.base.as_str(), "{who}");
    }
    assert_not_owner(call(&gw, OPS, &alice.access_token).await).await;

    let bob = gw.oauth_tokens(BOB, None).await;
    assert_eq!(gw.whoami(OPS, &bob.access_token).await["user"], "bob");
    assert_not_owner(call(&gw, RESEARCH, &bob.access_token).await).await;
}

/// AUD-03 (resource.rs: the gateway origin, the root PRM's `resource`, is a resource that covers
/// every agent the user owns): `aud` = the origin; valid at alice's agents, 403 at bob's.
#[tokio::test]
async fn aud_03_token_for_gateway_origin_valid_at_every_agent_of_its_user() {
    let gw = TestGateway::start().await;
    let tokens = tokens_for(&gw, ALICE, Some(&gw.base)).await;
    let (_, claims) = jwt_parts(&tokens.access_token);
    assert_eq!(claims["aud"], gw.base.as_str());
    for agent in [RESEARCH, WRITER] {
        let who = gw.whoami(agent, &tokens.access_token).await;
        assert_eq!(who["bearer_type"], "oauth");
        assert_eq!(who["user"], "alice");
        assert_eq!(who["agent"], agent);
        assert_eq!(who["aud"], gw.base.as_str());
    }
    assert_not_owner(call(&gw, OPS, &tokens.access_token).await).await;
}

/// AUD-03, issue 2 ("unknown agent with valid credentials → 404"): a token valid for any of the
/// user's agents at an agent that does not exist → 404, no challenge, no result.
#[tokio::test]
async fn aud_03_valid_token_at_unknown_agent_is_not_found() {
    let gw = TestGateway::start().await;
    let no_resource = gw.oauth_tokens(ALICE, None).await;
    let origin = tokens_for(&gw, ALICE, Some(&gw.base)).await;
    for token in [&no_resource.access_token, &origin.access_token] {
        assert_unknown_agent(call(&gw, "no-such-agent", token).await).await;
    }
}

/// BEARER-08 (RFC 6750 §3.1; MCP "Runtime Insufficient Scope Errors"): a genuine token without the
/// `mcp` scope → 403 with `error="insufficient_scope"`, `scope` and `resource_metadata`.
#[tokio::test]
async fn bearer_08_token_without_mcp_scope_is_insufficient_scope() {
    let gw = TestGateway::start().await;
    let tokens = gw.oauth_tokens(ALICE, Some(RESEARCH)).await;
    let (_, mut claims) = jwt_parts(&tokens.access_token);
    assert_eq!(claims["scope"], "mcp");
    claims["scope"] = json!("other");
    let token = forge(&claims, Algorithm::HS256, Some("at+jwt"), DEMO_JWT_SECRET);
    let response = call(&gw, RESEARCH, &token).await;
    let header = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .expect("a challenge")
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(parse_challenge(&header).param("scope"), Some("mcp"));
    assert_challenge(
        &gw,
        RESEARCH,
        response,
        StatusCode::FORBIDDEN,
        Some("insufficient_scope"),
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Ordering and sessions
// ---------------------------------------------------------------------------------------------

/// BEARER-11 (MCP security "Access Token Privilege Restriction"): without (valid) credentials the
/// gateway answers 401 before any JSON-RPC handling: a `tools/call`, an invalid JSON body, a batch
/// and an unsupported `MCP-Protocol-Version` all get the challenge, never a JSON-RPC answer.
#[tokio::test]
async fn bearer_11_authentication_comes_before_json_rpc() {
    let gw = TestGateway::start().await;
    let echo = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": "side effect"}}});
    let response = gw.mcp(RESEARCH, None, echo.clone()).await;
    assert_no_credentials(&gw, RESEARCH, response).await;

    for bearer in [None, Some("garbage")] {
        let expected = bearer.map(|_| "invalid_token");
        let mut request = gw
            .http
            .post(gw.agent_url(RESEARCH))
            .header(CONTENT_TYPE, "application/json")
            .body("{not json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_challenge(&gw, RESEARCH, response, StatusCode::UNAUTHORIZED, expected).await;

        let mut request = gw
            .http
            .post(gw.agent_url(RESEARCH))
            .header("MCP-Protocol-Version", "1999-01-01")
            .json(&json!([echo]));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_challenge(&gw, RESEARCH, response, StatusCode::UNAUTHORIZED, expected).await;
    }

    // Control: with credentials the same bad body is a JSON-RPC parse error.
    let response = gw
        .http
        .post(gw.agent_url(RESEARCH))
        .bearer_auth(RESEARCH_KEY)
        .header(CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700);
}

/// BEARER-10 (MCP authorization "Token Requirements"; MCP best practices "Session Hijacking"):
/// every request is authenticated on its own; an `Mcp-Session-Id` is not a credential.
#[tokio::test]
async fn bearer_10_session_id_is_not_a_credential() {
    let gw = TestGateway::start().await;
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "1"}}});
    let response = gw.mcp(RESEARCH, Some(RESEARCH_KEY), initialize).await;
    assert_eq!(response.status(), StatusCode::OK);
    let session = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_else(|| "any-session-id".to_owned());
    let response = gw
        .http
        .post(gw.agent_url(RESEARCH))
        .header("Mcp-Session-Id", &session)
        .json(&whoami_call())
        .send()
        .await
        .unwrap();
    assert_no_credentials(&gw, RESEARCH, response).await;
}

// ---------------------------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------------------------

/// A shared in-memory log sink.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// SEC-05 (MCP security "Token Theft"; RFC 6750 §5.3; issue 2 "tracing logs that never contain a
/// token, code, verifier, password or key"): a whole flow (registration, authorization, a failed
/// and a good login, code exchange, refresh, MCP calls with the JWT, both key types and a
/// query-string token, a refused token, a replayed code) logged at TRACE level leaves none of its
/// secrets in the logs. Single-threaded, so the gateway's task logs into this thread's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn sec_05_logs_never_hold_secrets() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let resource = gw.agent_url(RESEARCH);
    let params = TestGateway::authorize_params(&client_id, &[("resource", resource.as_str())]);
    let browser = gw.browser();
    let authorize = gw.authorize(&browser, &params).await;
    let page = gw.login_page(&browser, authorize).await;
    let wrong_password = "wrong-password-Zq8xV";
    let failed = gw
        .submit_login(
            &browser,
            &page,
            &[("username", ALICE.0), ("password", wrong_password)],
        )
        .await;
    assert_ne!(failed.status(), StatusCode::SEE_OTHER);
    // A failed attempt may re-render the form with a new CSRF token.
    let html = failed.text().await.unwrap();
    let page = LoginPage {
        csrf_token: hidden_field(&html, "csrf_token").unwrap_or(page.csrf_token.clone()),
        request_id: hidden_field(&html, "request_id").unwrap_or(page.request_id.clone()),
        ..page
    };
    let response = gw
        .submit_login(
            &browser,
            &page,
            &[("username", ALICE.0), ("password", ALICE.1)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let code = Callback::from_location(&location(&response)).code.unwrap();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("resource", resource.as_str()),
    ];
    let response = gw.token_request(&exchange).await;
    assert_eq!(response.status(), StatusCode::OK);
    let first: Value = response.json().await.unwrap();
    let access = first["access_token"].as_str().unwrap().to_owned();
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();

    let response = gw
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", client_id.as_str()),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let second: Value = response.json().await.unwrap();
    let access2 = second["access_token"].as_str().unwrap().to_owned();
    let refresh2 = second["refresh_token"].as_str().unwrap().to_owned();

    for (agent, bearer) in [
        (RESEARCH, access.as_str()),
        (RESEARCH, access2.as_str()),
        (RESEARCH, RESEARCH_KEY),
        (WRITER, ALICE_KEY),
    ] {
        assert_eq!(gw.whoami(agent, bearer).await["user"], "alice");
    }
    // Refused credentials are logged too, never their value.
    for (agent, bearer) in [
        (WRITER, access2.as_str()),
        (OPS, ALICE_KEY),
        (WRITER, RESEARCH_KEY),
    ] {
        let status = call(&gw, agent, bearer).await.status();
        assert!(status.is_client_error(), "{status}");
    }
    let query = format!(
        "{}?{}",
        gw.agent_url(RESEARCH),
        form_encode(&[("access_token", &access2)])
    );
    let response = gw
        .http
        .post(&query)
        .json(&whoami_call())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A replayed code (warn-level path) and a reused refresh token (family revocation).
    let response = gw.token_request(&exchange).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = gw
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", client_id.as_str()),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    drop(gw);
    let text = logs.text();
    // The subscriber saw the gateway's own events, so the test can fail.
    for expected in [
        "access token issued for a code",
        "refresh token rotated",
        "failed login",
    ] {
        assert!(
            text.contains(expected),
            "missing {expected:?} in logs:\n{text}"
        );
    }
    let secrets = [
        ("password", ALICE.1),
        ("wrong password", wrong_password),
        ("csrf token", page.csrf_token.as_str()),
        ("code", code.as_str()),
        ("verifier", VERIFIER),
        ("access token", access.as_str()),
        ("refreshed access token", access2.as_str()),
        ("refresh token", refresh.as_str()),
        ("rotated refresh token", refresh2.as_str()),
        ("agent key", RESEARCH_KEY),
        ("user key", ALICE_KEY),
    ];
    for (name, secret) in secrets {
        assert!(
            !text.contains(secret),
            "the {name} appears in the logs:\n{text}"
        );
    }
    // Nor any JWT signature part (the most distinctive piece of a token).
    let signature = access.rsplit('.').next().unwrap();
    assert!(!text.contains(signature), "a JWT signature is in the logs");
}

/// BEARER-11 (MCP "Access Token Privilege Restriction"): the request body is not even read before
/// authentication, so an unauthenticated 2 MiB body (past the 1 MiB limit) gets the 401 challenge,
/// not a 413.
#[tokio::test]
async fn bearer_11_body_is_not_read_before_authentication() {
    let gw = TestGateway::start().await;
    let big = "x".repeat(2 * 1024 * 1024);
    let response = gw
        .http
        .post(gw.agent_url(RESEARCH))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get("www-authenticate").is_some());

    // Authenticated, the same body is refused for its size, as JSON-RPC.
    let response = gw
        .http
        .post(gw.agent_url(RESEARCH))
        .bearer_auth(RESEARCH_KEY)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32600, "{body}");
    assert!(body.get("result").is_none());
}

/// BEARER-09 (RFC 6750 §3.1: "uses more than one method to include an access token"): a token in
/// the header and another in the query string is a malformed request, 400 `invalid_request`;
/// the query token is still never accepted on its own (BEARER-02).
#[tokio::test]
async fn bearer_09_header_and_query_token_together_are_invalid_request() {
    let gw = TestGateway::start().await;
    let url = format!(
        "{}?{}",
        gw.agent_url(RESEARCH),
        form_encode(&[("access_token", RESEARCH_KEY)])
    );
    let response = gw
        .http
        .post(&url)
        .header("Authorization", format!("Bearer {RESEARCH_KEY}"))
        .json(&whoami_call())
        .send()
        .await
        .unwrap();
    assert_challenge(
        &gw,
        RESEARCH,
        response,
        StatusCode::BAD_REQUEST,
        Some("invalid_request"),
    )
    .await;
    // Another query parameter is no credential method: the header alone decides.
    let url = format!("{}?trace=1", gw.agent_url(RESEARCH));
    let response = gw
        .http
        .post(&url)
        .header("Authorization", format!("Bearer {RESEARCH_KEY}"))
        .json(&whoami_call())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
