//! The token endpoint, `grant_type=authorization_code` (TOKEN-01..11, PKCE-04..06, AUD-02,
//! AUD-04, AUD-07, REFRESH-01): the success document and its `Cache-Control`, the HS256 `at+jwt`
//! access token and its claims, form-encoding rules, every error code with its status, PKCE
//! verification, the binding of a code to its client, redirect URI and resource, the 120 s code
//! TTL and the 3600 s token TTL (moved with the manual clock), single use with revocation on
//! replay (including 64 racing redemptions), and when no refresh token is issued.
//!
//! Failed redemptions with invalid parameters must neither consume nor revoke the code (OAuth 2.1
//! §4.1.3 "Reuse of Authorization Codes", the DoS note of TOKEN-06): most negative tests therefore
//! end by redeeming the same code successfully.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_gateway_reference::Clock as _;
use reqwest::StatusCode;
use reqwest::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, AUTHORIZATION, CONTENT_TYPE, ORIGIN, WWW_AUTHENTICATE,
};
use serde_json::{Value, json};

use crate::support::*;

// ---------------------------------------------------------------------------------------------
// Helpers of this module.

/// Runs authorize + login for `client_id` as `user` (optionally for `resource` = an agent id) and
/// returns the code.
async fn new_code(
    gw: &TestGateway,
    client_id: &str,
    user: (&str, &str),
    resource: Option<&str>,
) -> String {
    let resource_url = resource.map(|agent| gw.agent_url(agent));
    let mut extra = vec![];
    if let Some(r) = &resource_url {
        extra.push(("resource", r.as_str()));
    }
    let params = TestGateway::authorize_params(client_id, &extra);
    gw.obtain_code(&params, user).await.code.expect("a code")
}

/// A freshly registered client and a code for Alice (optionally for `resource`).
async fn client_and_code(gw: &TestGateway, resource: Option<&str>) -> (String, String) {
    let client_id = gw.register(&[REDIRECT]).await;
    let code = new_code(gw, &client_id, ALICE, resource).await;
    (client_id, code)
}

/// The correct redemption of `code` by `client_id` (no `resource`).
fn code_form<'a>(client_id: &'a str, code: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]
}

/// `form` with `name` set to `value` (replaced in place, or appended).
fn with<'a>(
    mut form: Vec<(&'a str, &'a str)>,
    name: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    match form.iter_mut().find(|(n, _)| *n == name) {
        Some(pair) => pair.1 = value,
        None => form.push((name, value)),
    }
    form
}

/// `form` without `name`.
fn without<'a>(form: Vec<(&'a str, &'a str)>, name: &str) -> Vec<(&'a str, &'a str)> {
    form.into_iter().filter(|(n, _)| *n != name).collect()
}

/// `grant_type=refresh_token` for `client_id`.
async fn refresh(gw: &TestGateway, client_id: &str, refresh_token: &str) -> reqwest::Response {
    gw.token_request(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client_id),
    ])
    .await
}

// ---------------------------------------------------------------------------------------------
// Success.

/// TOKEN-02, TOKEN-03 (OAuth 2.1 §3.2.3 "Token Endpoint Response"): 200, `application/json`,
/// `Cache-Control: no-store`, `access_token`, `token_type: Bearer`, `expires_in: 3600`,
/// `scope: mcp`, `refresh_token`; no member is `null`.
#[tokio::test]
async fn token_02_03_success_response_is_json_no_store_with_all_members() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, Some(RESEARCH)).await;
    let resource = gw.agent_url(RESEARCH);
    let form = with(code_form(&client_id, &code), "resource", &resource);
    let response = gw.token_request(&form).await;
    assert_eq!(
        response
            .headers()
            .get("pragma")
            .map(|v| v.to_str().unwrap()),
        Some("no-cache")
    );
    let body = token_ok(response).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "mcp");
    let access = body["access_token"].as_str().unwrap();
    let refresh_token = body["refresh_token"].as_str().unwrap();
    assert!(!access.is_empty() && !refresh_token.is_empty());
    assert_ne!(access, refresh_token);
    insta::assert_json_snapshot!(gw.normalize(&body), {
        ".access_token" => "[access_token]",
        ".refresh_token" => "[refresh_token]",
    }, @r#"
    {
      "access_token": "[access_token]",
      "expires_in": 3600,
      "refresh_token": "[refresh_token]",
      "scope": "mcp",
      "token_type": "Bearer"
    }
    "#);
}

/// AUD-02, AUD-07 (RFC 8707 §2, RFC 9068 §2.1–2.2, guide "Token details"): the access token is an
/// HS256 JWT with `typ: at+jwt`, signed with the gateway secret, whose claims are `iss` = the
/// issuer, `sub`, `client_id`, `iat`, `exp = iat + 3600`, `jti`, `scope` and `aud` = the agent's
/// MCP URL that was asked for.
#[tokio::test]
async fn aud_02_07_access_token_is_hs256_at_jwt_with_rfc9068_claims() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, Some(RESEARCH)).await;
    let resource = gw.agent_url(RESEARCH);
    let now = gw.clock.now().0;
    let form = with(code_form(&client_id, &code), "resource", &resource);
    let body = token_ok(gw.token_request(&form).await).await;
    let token = body["access_token"].as_str().unwrap();

    let (header, claims) = jwt_parts(token);
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims["iss"], gw.base.as_str());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["client_id"], client_id.as_str());
    assert_eq!(claims["aud"], resource.as_str());
    assert_eq!(claims["scope"], "mcp");
    let iat = claims["iat"].as_u64().expect("iat is a number");
    assert_eq!(iat, now, "iat is the gateway clock's time of issue");
    assert_eq!(claims["exp"].as_u64(), Some(iat + 3600));
    assert!(
        claims["jti"].as_str().is_some_and(|j| j.len() >= 16),
        "{claims}"
    );
    insta::assert_json_snapshot!(gw.normalize(&claims), {
        ".client_id" => "[client_id]",
        ".iat" => "[iat]",
        ".exp" => "[exp]",
        ".jti" => "[jti]",
        ".grant_id" => "[grant_id]",
    }, @r#"
    {
      "aud": "http://gateway.test/research-agent/mcp",
      "client_id": "[client_id]",
      "exp": "[exp]",
      "grant_id": "[grant_id]",
      "iat": "[iat]",
      "iss": "http://gateway.test",
      "jti": "[jti]",
      "scope": "mcp",
      "sub": "alice"
    }
    "#);

    // The signature is an HMAC-SHA256 with the demo secret, and only with it.
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let key = jsonwebtoken::DecodingKey::from_secret(DEMO_JWT_SECRET.as_bytes());
    let verified = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("signed with the configured HS256 secret");
    assert_eq!(verified.claims, claims);
    let other = jsonwebtoken::DecodingKey::from_secret(b"another-secret-another-secret-xx");
    assert!(jsonwebtoken::decode::<Value>(token, &other, &validation).is_err());

    // Two tokens never share a jti.
    let code2 = new_code(&gw, &client_id, ALICE, Some(RESEARCH)).await;
    let form2 = with(code_form(&client_id, &code2), "resource", &resource);
    let body2 = token_ok(gw.token_request(&form2).await).await;
    let (_, claims2) = jwt_parts(body2["access_token"].as_str().unwrap());
    assert_ne!(claims2["jti"], claims["jti"]);
}

/// AUD-02, AUD-05 (RFC 8707 §2.1: the default when `resource` is omitted is the server's; RFC 9068
/// §2.2: `aud` is REQUIRED): a token requested without `resource` has the gateway origin as `aud`
/// and works at every agent its user owns, and only there.
#[tokio::test]
async fn aud_02_no_resource_means_the_gateway_audience() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, None).await;
    let body = token_ok(gw.token_request(&code_form(&client_id, &code)).await).await;
    let token = body["access_token"].as_str().unwrap();
    let (_, claims) = jwt_parts(token);
    assert_eq!(
        claims["aud"],
        gw.base.as_str(),
        "gateway-wide aud expected: {claims}"
    );
    assert_eq!(claims["sub"], "alice");
    assert_token_works(&gw, RESEARCH, token).await;
    assert_token_works(&gw, WRITER, token).await;
    // Bob's agent: a valid token of a user who does not own it.
    let response = gw.mcp(OPS, Some(token), ping()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

/// AUD-07 (RFC 9068 §4, RFC 8725 §3.1): the signature covers the claims: a token whose payload was
/// altered (one character, or re-encoded claims naming another user), or whose signature was
/// dropped, gets 401 `invalid_token` at the MCP endpoint.
#[tokio::test]
async fn aud_07_tampered_access_token_is_refused() {
    let gw = TestGateway::start().await;
    let tokens = gw.oauth_tokens(ALICE, None).await;
    let token = tokens.access_token.as_str();
    assert_token_works(&gw, RESEARCH, token).await;
    let parts: Vec<&str> = token.split('.').collect();
    assert!(!parts[2].is_empty(), "the JWT is signed");

    // One character of the payload changed (a base64url letter swapped for another).
    let mut payload: Vec<char> = parts[1].chars().collect();
    let i = payload.len() / 2;
    payload[i] = if payload[i] == 'A' { 'B' } else { 'A' };
    let payload: String = payload.into_iter().collect();
    let one_char = format!("{}.{payload}.{}", parts[0], parts[2]);
    assert_token_refused(&gw, RESEARCH, &one_char).await;

    // Claims re-encoded: sub = bob, to reach Bob's agent.
    let (_, mut claims) = jwt_parts(token);
    claims["sub"] = json!("bob");
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let forged = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    assert_token_refused(&gw, OPS, &forged).await;

    // Signature removed.
    let unsigned = format!("{}.{}.", parts[0], parts[1]);
    assert_token_refused(&gw, RESEARCH, &unsigned).await;

    // The genuine token still works: only the altered copies were refused.
    assert_token_works(&gw, RESEARCH, token).await;
}

// ---------------------------------------------------------------------------------------------
// Form encoding.

/// TOKEN-01 (OAuth 2.1 §3.2: the token request is `application/x-www-form-urlencoded`): a JSON
/// body is 400 `invalid_request` and issues nothing; the code is still redeemable.
#[tokio::test]
async fn token_01_json_body_is_invalid_request() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, None).await;
    let json_body: serde_json::Map<String, Value> = code_form(&client_id, &code)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    let response = gw
        .http
        .post(gw.url("/oauth/token"))
        .json(&json_body)
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;

    // A form body labelled as something else is not a form either.
    let response = gw
        .http
        .post(gw.url("/oauth/token"))
        .header(CONTENT_TYPE, "text/plain")
        .body(form_encode(&code_form(&client_id, &code)))
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;

    token_ok(gw.token_request(&code_form(&client_id, &code)).await).await;
}

/// TOKEN-01 (OAuth 2.1 §3.2: "Request and response parameters MUST NOT be included more than
/// once"): a repeated parameter, even with the same value, is `invalid_request`; nothing is
/// issued and the code is not used up.
#[tokio::test]
async fn token_01_repeated_parameter_is_invalid_request() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, None).await;
    for name in ["code", "client_id", "code_verifier", "grant_type"] {
        let mut form = code_form(&client_id, &code);
        let value = form.iter().find(|(n, _)| *n == name).unwrap().1;
        form.push((name, value));
        let body = assert_oauth_error(
            gw.token_request(&form).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
        assert!(
            body["error_description"].as_str().unwrap().contains(name),
            "the description names {name}: {body}"
        );
    }
    token_ok(gw.token_request(&code_form(&client_id, &code)).await).await;
}

/// TOKEN-01 (OAuth 2.1 §3.2: "The authorization server MUST ignore unrecognized request
/// parameters"): extra parameters do not prevent the exchange.
#[tokio::test]
async fn token_01_unknown_parameters_are_ignored() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, None).await;
    let mut form = code_form(&client_id, &code);
    form.extend([
        ("foo", "bar"),
        ("state", "xyz"),
        ("audience", "https://elsewhere.example"),
        ("nonce", "n-0S6_WzA2Mj"),
    ]);
    let body = token_ok(gw.token_request(&form).await).await;
    assert_token_works(&gw, RESEARCH, body["access_token"].as_str().unwrap()).await;
}

/// TOKEN-01 (OAuth 2.1 §3.2: "Parameters sent without a value MUST be treated as if they were
/// omitted"): an empty `code_verifier`, `code`, `client_id` or `grant_type` is a missing one
/// (`invalid_request`); an empty `redirect_uri` or `resource` is simply absent, so the exchange
/// succeeds with the authorized audience.
#[tokio::test]
async fn token_01_empty_values_are_treated_as_absent() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, Some(RESEARCH)).await;
    for name in ["code_verifier", "code", "client_id", "grant_type"] {
        let form = with(code_form(&client_id, &code), name, "");
        assert_oauth_error(
            gw.token_request(&form).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
    }
    let form = with(
        with(code_form(&client_id, &code), "redirect_uri", ""),
        "resource",
        "",
    );
    let body = token_ok(gw.token_request(&form).await).await;
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], gw.agent_url(RESEARCH).as_str());
}

// ---------------------------------------------------------------------------------------------
// Errors.

/// TOKEN-04, TOKEN-09 (OAuth 2.1 §3.2.4): a request without `grant_type` is `invalid_request`.
#[tokio::test]
async fn token_09_missing_grant_type_is_invalid_request() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, None).await;
    let form = without(code_form(&client_id, &code), "grant_type");
    assert_oauth_error(
        gw.token_request(&form).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    token_ok(gw.token_request(&code_form(&client_id, &code)).await).await;
}

/// TOKEN-09 (OAuth 2.1 §3.2.4, §10 "Removal of the implicit grant", §4.2 client credentials for
/// confidential clients only): any other grant type, or a case variant, is
/// `unsupported_grant_type` and issues nothing.
#[tokio::test]
async fn token_09_unsupported_grant_types_are_refused() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, None).await;
    for grant in [
        "password",
        "client_credentials",
        "implicit",
        "token",
        "urn:foo",
        "urn:ietf:params:oauth:grant-type:device_code",
        "Authorization_Code",
        "AUTHORIZATION_CODE",
    ] {
        let mut form = with(code_form(&client_id, &code), "grant_type", grant);
        form.extend([("username", ALICE.0), ("password", ALICE.1)]);
        let body = assert_oauth_error(
            gw.token_request(&form).await,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        )
        .await;
        assert!(body.get("access_token").is_none(), "{grant}");
    }
    token_ok(gw.token_request(&code_form(&client_id, &code)).await).await;
}

/// TOKEN-05 (OAuth 2.1 §3.2.1, §4.1.3: a public client sends `client_id`): missing →
/// `invalid_request`.
#[tokio::test]
async fn token_05_missing_client_id_is_invalid_request() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, None).await;
    let form = without(code_form(&client_id, &code), "client_id");
    assert_oauth_error(
        gw.token_request(&form).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    token_ok(gw.token_request(&code_form(&client_id, &code)).await).await;
}

/// TOKEN-04 (OAuth 2.1 §3.2.4 `invalid_client`, RFC 9110 §15.5.2: a 401 carries
/// `WWW-Authenticate`): an unregistered `client_id` → 401 `invalid_client` with a challenge.
#[tokio::test]
async fn token_04_unknown_client_id_is_401_invalid_client() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, None).await;
    for unknown in ["mcp_client_00000000000000000000000000000000", "nobody"] {
        let form = with(code_form(&client_id, &code), "client_id", unknown);
        let response = gw.token_request(&form).await;
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
        assert!(
            challenge.as_deref().is_some_and(|c| !c.trim().is_empty()),
            "a 401 needs a WWW-Authenticate challenge"
        );
    }
    token_ok(gw.token_request(&code_form(&client_id, &code)).await).await;
}

/// TOKEN-04 (OAuth 2.1 §2.4, §3.2.4; guide "Client type: public only"): clients are public, so a
/// `client_secret` parameter or an `Authorization: Basic` header is 401 `invalid_client` with a
/// challenge, and issues nothing.
#[tokio::test]
async fn token_04_client_authentication_is_401_invalid_client() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, None).await;

    let form = with(code_form(&client_id, &code), "client_secret", "s3cret");
    let response = gw.token_request(&form).await;
    assert!(response.headers().contains_key(WWW_AUTHENTICATE));
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;

    let basic = URL_SAFE_NO_PAD.encode(format!("{client_id}:s3cret"));
    let response = gw
        .http
        .post(gw.url("/oauth/token"))
        .header(AUTHORIZATION, format!("Basic {basic}"))
        .form(&code_form(&client_id, &code))
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key(WWW_AUTHENTICATE));
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;

    token_ok(gw.token_request(&code_form(&client_id, &code)).await).await;
}

/// TOKEN-05 (OAuth 2.1 §4.1.3): `code` missing → `invalid_request`; a code the server never
/// issued → `invalid_grant`.
#[tokio::test]
async fn token_05_missing_code_is_invalid_request_and_unknown_code_is_invalid_grant() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let form = without(code_form(&client_id, "unused"), "code");
    assert_oauth_error(
        gw.token_request(&form).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    for unknown in ["not-a-code", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        assert_oauth_error(
            gw.token_request(&code_form(&client_id, unknown)).await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        )
        .await;
    }
}

/// TOKEN-05, TOKEN-06 (OAuth 2.1 §4.1.3: "ensure that the authorization code was issued to the
/// authenticated client"): client Y redeeming X's code gets `invalid_grant`; the attempt neither
/// consumes the code (X redeems it afterwards) nor, made after X's redemption, revokes X's tokens.
#[tokio::test]
async fn token_05_code_of_another_client_is_invalid_grant() {
    let gw = TestGateway::start().await;
    let (x, code) = client_and_code(&gw, None).await;
    let y = gw.register(&[REDIRECT]).await;
    assert_oauth_error(
        gw.token_request(&code_form(&y, &code)).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    let body = token_ok(gw.token_request(&code_form(&x, &code)).await).await;
    let access = body["access_token"].as_str().unwrap();
    let (_, claims) = jwt_parts(access);
    assert_eq!(claims["client_id"], x.as_str());

    assert_oauth_error(
        gw.token_request(&code_form(&y, &code)).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert_token_works(&gw, RESEARCH, access).await;
    token_ok(refresh(&gw, &x, body["refresh_token"].as_str().unwrap()).await).await;
}

/// PKCE-05 (RFC 7636 §4.5, OAuth 2.1 §4.1.3): a code issued with a challenge cannot be redeemed
/// without `code_verifier`: `invalid_request`, and the code survives.
#[tokio::test]
async fn pkce_05_missing_code_verifier_is_invalid_request() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, None).await;
    let form = without(code_form(&client_id, &code), "code_verifier");
    assert_oauth_error(
        gw.token_request(&form).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    token_ok(gw.token_request(&code_form(&client_id, &code)).await).await;
}

/// PKCE-04, PKCE-06, TOKEN-06 (RFC 7636 §4.1, §4.6; OAuth 2.1 §4.1.3 "Reuse of Authorization
/// Codes"): a verifier that does not hash to the challenge (one character changed), or falls outside
/// `43*128unreserved` (42 or 129 characters, `=` padding, a space), is `invalid_grant` and issues
/// nothing. These failures neither consume the code (the right verifier then succeeds) nor, when
/// replayed after the redemption, revoke what was issued (a DoS otherwise).
#[tokio::test]
async fn pkce_04_06_bad_verifiers_are_invalid_grant_and_neither_consume_nor_revoke() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, None).await;
    let one_changed = format!("e{}", &VERIFIER[1..]);
    let too_long = format!("{VERIFIER}{}", "a".repeat(129 - VERIFIER.len()));
    let padded = format!("{VERIFIER}=");
    let spaced = format!("{} {}", &VERIFIER[..20], &VERIFIER[21..]);
    let other_valid = "a".repeat(43);
    let bad: Vec<(&str, &str)> = vec![
        ("one character changed", &one_changed),
        ("42 characters", &VERIFIER[..42]),
        ("129 characters", &too_long),
        ("padded with =", &padded),
        ("space inside", &spaced),
        ("another valid verifier", &other_valid),
        ("the challenge itself", CHALLENGE),
    ];
    assert_eq!(too_long.len(), 129);
    assert_eq!(spaced.len(), 43);
    for (why, verifier) in &bad {
        let form = with(code_form(&client_id, &code), "code_verifier", verifier);
        let body = assert_oauth_error(
            gw.token_request(&form).await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        )
        .await;
        assert!(body.get("access_token").is_none(), "{why}");
    }

    let body = token_ok(gw.token_request(&code_form(&client_id, &code)).await).await;
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh_token = body["refresh_token"].as_str().unwrap().to_owned();

    for (_, verifier) in &bad {
        let form = with(code_form(&client_id, &code), "code_verifier", verifier);
        assert_oauth_error(
            gw.token_request(&form).await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        )
        .await;
        assert_token_works(&gw, RESEARCH, &access).await;
    }
    token_ok(refresh(&gw, &client_id, &refresh_token).await).await;
}

/// TOKEN-07 (OAuth 2.1 §4.1.3, RFC 6749 §4.1.3): a `redirect_uri` sent to the token endpoint must
/// be identical to the authorized one, else `invalid_grant`; the mismatches do not consume the
/// code.
#[tokio::test]
async fn token_07_redirect_uri_mismatch_is_invalid_grant() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, None).await;
    for other in [
        "http://localhost:5173/callback/",
        "http://localhost:5174/callback",
        "http://localhost:5173/other",
        "http://127.0.0.1:5173/callback",
        "https://localhost:5173/callback",
        "http://LOCALHOST:5173/callback",
        "http://localhost:5173/callback?x=1",
        "http://attacker.example/callback",
    ] {
        let form = with(code_form(&client_id, &code), "redirect_uri", other);
        assert_oauth_error(
            gw.token_request(&form).await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        )
        .await;
    }
    token_ok(gw.token_request(&code_form(&client_id, &code)).await).await;
}

/// TOKEN-07 (OAuth 2.1 §10.x "Redirect URI Parameter in Token Request": with PKCE the parameter
/// is no longer needed): omitting `redirect_uri` is accepted.
#[tokio::test]
async fn token_07_redirect_uri_omitted_is_accepted() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, None).await;
    let form = without(code_form(&client_id, &code), "redirect_uri");
    let body = token_ok(gw.token_request(&form).await).await;
    assert_token_works(&gw, RESEARCH, body["access_token"].as_str().unwrap()).await;
}

/// AUD-04 (RFC 8707 §2.2: the token request's `resource` must be one the grant covers): a code
/// authorized for research-agent cannot be turned into a token for writer-agent (same user),
/// ops-agent (another user's), the whole gateway, an unknown agent or a malformed URI: 400
/// `invalid_target`, and the code survives.
#[tokio::test]
async fn aud_04_resource_other_than_authorized_is_invalid_target() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, Some(RESEARCH)).await;
    let research = gw.agent_url(RESEARCH);
    let others = [
        gw.agent_url(WRITER),
        gw.agent_url(OPS),
        gw.base.clone(),
        format!("{}/", gw.base),
        gw.agent_url("no-such-agent"),
        format!("{research}#frag"),
        format!("{research}?x=1"),
        format!("{research}/"),
        "research-agent/mcp".to_owned(),
        research.replace("127.0.0.1", "localhost"),
        "https://elsewhere.example/research-agent/mcp".to_owned(),
    ];
    for other in &others {
        let form = with(code_form(&client_id, &code), "resource", other);
        let body = assert_oauth_error(
            gw.token_request(&form).await,
            StatusCode::BAD_REQUEST,
            "invalid_target",
        )
        .await;
        assert!(body.get("access_token").is_none(), "{other}");
    }
    let form = with(code_form(&client_id, &code), "resource", &research);
    let body = token_ok(gw.token_request(&form).await).await;
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], research.as_str());
}

/// AUD-04, AUD-02 (RFC 8707 §2.2): omitting `resource` at the token endpoint after authorizing one
/// yields a token still restricted to the authorized resource.
#[tokio::test]
async fn aud_04_resource_omitted_at_token_keeps_authorized_audience() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, Some(RESEARCH)).await;
    let body = token_ok(gw.token_request(&code_form(&client_id, &code)).await).await;
    let token = body["access_token"].as_str().unwrap();
    let (_, claims) = jwt_parts(token);
    assert_eq!(claims["aud"], gw.agent_url(RESEARCH).as_str());
    assert_token_works(&gw, RESEARCH, token).await;
    assert_token_refused(&gw, WRITER, token).await;
}

/// AUD-04 (RFC 8707 §2.2; decided in token.rs `requested_audience`): a grant authorized without
/// `resource` may be narrowed at the token endpoint to one agent the user owns (aud = that agent),
/// but not to another user's agent or an unknown one (`invalid_target`).
#[tokio::test]
async fn aud_04_unrestricted_grant_narrows_only_to_owned_agents() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, None).await;
    for other in [
        gw.agent_url(OPS),
        gw.agent_url("no-such-agent"),
        "https://elsewhere.example/".to_owned(),
    ] {
        let form = with(code_form(&client_id, &code), "resource", &other);
        assert_oauth_error(
            gw.token_request(&form).await,
            StatusCode::BAD_REQUEST,
            "invalid_target",
        )
        .await;
    }
    let research = gw.agent_url(RESEARCH);
    let form = with(code_form(&client_id, &code), "resource", &research);
    let body = token_ok(gw.token_request(&form).await).await;
    let token = body["access_token"].as_str().unwrap();
    let (_, claims) = jwt_parts(token);
    assert_eq!(claims["aud"], research.as_str());
    assert_token_works(&gw, RESEARCH, token).await;
    assert_token_refused(&gw, WRITER, token).await;
}

// ---------------------------------------------------------------------------------------------
// Lifetimes, single use, replay.

/// TOKEN-08 (guide "Token details": codes expire in 120 s; OAuth 2.1 §4.1.2): a code is still
/// redeemable 119 s after issue.
#[tokio::test]
async fn token_08_code_is_valid_for_119_seconds() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, None).await;
    gw.advance(119);
    token_ok(gw.token_request(&code_form(&client_id, &code)).await).await;
}

/// TOKEN-08 (guide "Token details": 120 s; OAuth 2.1 §4.1.3 `invalid_grant` for an expired code):
/// at 120 s the code is expired, and stays so.
#[tokio::test]
async fn token_08_code_expires_after_120_seconds() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, None).await;
    gw.advance(120);
    for _ in 0..2 {
        assert_oauth_error(
            gw.token_request(&code_form(&client_id, &code)).await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        )
        .await;
    }
}

/// TOKEN-06 (OAuth 2.1 §4.1.3: "the authorization server MUST deny the request and SHOULD revoke
/// all tokens previously issued based on that authorization code"): the second redemption is
/// `invalid_grant`, and the first access token (401 `invalid_token`) and refresh token
/// (`invalid_grant`) are revoked.
#[tokio::test]
async fn token_06_second_redemption_is_refused_and_revokes_issued_tokens() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, None).await;
    let first = token_ok(gw.token_request(&code_form(&client_id, &code)).await).await;
    let access = first["access_token"].as_str().unwrap();
    let refresh_token = first["refresh_token"].as_str().unwrap();
    assert_token_works(&gw, RESEARCH, access).await;

    assert_oauth_error(
        gw.token_request(&code_form(&client_id, &code)).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert_token_refused(&gw, RESEARCH, access).await;
    assert_token_refused(&gw, WRITER, access).await;
    assert_oauth_error(
        refresh(&gw, &client_id, refresh_token).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    // A third attempt is refused too.
    assert_oauth_error(
        gw.token_request(&code_form(&client_id, &code)).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}

/// TOKEN-06 (OAuth 2.1 §4.1.3, issue 2 "exactly one winner when 64 requests race"): 64 concurrent
/// redemptions of one code give exactly one 200 and 63 × 400 `invalid_grant`; the 63 valid replays
/// then revoke the winner's access and refresh tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_06_64_concurrent_redemptions_have_exactly_one_winner() {
    let gw = TestGateway::start().await;
    let (client_id, code) = client_and_code(&gw, None).await;
    let results = race_token_requests(&gw, &code_form(&client_id, &code), 64).await;
    let winners: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one redemption succeeds");
    let losers: Vec<&(StatusCode, Value)> = results
        .iter()
        .filter(|(s, _)| *s != StatusCode::OK)
        .collect();
    assert_eq!(losers.len(), 63);
    for (status, body) in &losers {
        assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid_grant", "{body}");
        assert!(body.get("access_token").is_none());
    }
    let winner = winners[0];
    assert_schema("token-response", winner);
    assert_token_refused(&gw, RESEARCH, winner["access_token"].as_str().unwrap()).await;
    // Whether the winner stored its refresh-token family before or after the first replay revoked
    // the grant, no family may survive, and a refresh token it was given is dead.
    assert_eq!(
        gw.store.sizes().refresh_families,
        0,
        "no refresh family survives a replay"
    );
    if let Some(refresh_token) = winner.get("refresh_token").and_then(Value::as_str) {
        assert_oauth_error(
            refresh(&gw, &client_id, refresh_token).await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        )
        .await;
    }
}

/// TOKEN-02, AUD-07, SEC-04 (guide "Token details": TTL 60 minutes; RFC 9068 §4 `exp`): the access
/// token works 3599 s after issue and is refused at 3600 s with 401 `invalid_token`.
#[tokio::test]
async fn token_02_access_token_expires_after_expires_in_seconds() {
    let gw = TestGateway::start().await;
    let tokens = gw.oauth_tokens(ALICE, Some(RESEARCH)).await;
    assert_eq!(tokens.body["expires_in"], 3600);
    gw.advance(3599);
    assert_token_works(&gw, RESEARCH, &tokens.access_token).await;
    gw.advance(1);
    assert_token_refused(&gw, RESEARCH, &tokens.access_token).await;
}

// ---------------------------------------------------------------------------------------------
// When no refresh token is issued.

/// REFRESH-01 (MCP authorization "Refresh Tokens"; OAuth 2.1 §3.2.3): with
/// `gateway.refresh_tokens = false` the success body has no `refresh_token` member (not `null`) and
/// `grant_type=refresh_token` is `unsupported_grant_type`.
#[tokio::test]
async fn refresh_01_refresh_tokens_off_issues_none_and_refuses_the_grant() {
    let gw = TestGateway::start_with(|raw| raw.gateway.refresh_tokens = Some(false)).await;
    let (client_id, code) = client_and_code(&gw, None).await;
    let response = gw.token_request(&code_form(&client_id, &code)).await;
    let body = token_ok(response).await;
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh_token member at all: {body}"
    );
    assert!(body.get("access_token").is_some());
    insta::assert_json_snapshot!(gw.normalize(&body), {
        ".access_token" => "[access_token]",
    }, @r#"
    {
      "access_token": "[access_token]",
      "expires_in": 3600,
      "scope": "mcp",
      "token_type": "Bearer"
    }
    "#);
    assert_oauth_error(
        refresh(&gw, &client_id, "any-refresh-token").await,
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
    )
    .await;
}

/// REFRESH-01, TOKEN-04 (OAuth 2.1 §3.2.4 `unauthorized_client`; RFC 7591 §2 `grant_types`): a
/// client registered with `grant_types: ["authorization_code"]` gets no refresh token, and its
/// refresh attempt is `unauthorized_client`.
#[tokio::test]
async fn refresh_01_client_without_refresh_grant_gets_none_and_is_unauthorized() {
    let gw = TestGateway::start().await;
    let response = gw
        .register_json(json!({
            "client_name": "no refresh",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code"],
        }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let registered: Value = response.json().await.unwrap();
    assert_eq!(registered["grant_types"], json!(["authorization_code"]));
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let code = new_code(&gw, &client_id, ALICE, None).await;
    let body = token_ok(gw.token_request(&code_form(&client_id, &code)).await).await;
    assert!(body.get("refresh_token").is_none(), "{body}");

    // Even with a genuine refresh token of another client of the same user.
    let other = gw.oauth_tokens(ALICE, None).await;
    let other_refresh = other.refresh_token.unwrap();
    assert_oauth_error(
        refresh(&gw, &client_id, &other_refresh).await,
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
    )
    .await;
    // That token was not disturbed by the refused attempt.
    token_ok(refresh(&gw, &other.client_id, &other_refresh).await).await;
}

// ---------------------------------------------------------------------------------------------
// Browser clients.

/// TOKEN-11, SEC-03 (OAuth 2.1 §3.2: browser-based clients need CORS on the token endpoint): a
/// preflight from a browser origin is allowed for POST with `Content-Type`, and the answer to the
/// POST itself carries `Access-Control-Allow-Origin`.
#[tokio::test]
async fn token_11_token_endpoint_allows_cors() {
    let gw = TestGateway::start().await;
    let origin = "http://localhost:6274";
    let preflight = gw
        .http
        .request(reqwest::Method::OPTIONS, gw.url("/oauth/token"))
        .header(ORIGIN, origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let headers = preflight.headers();
    assert!(headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
    let methods = headers
        .get("access-control-allow-methods")
        .unwrap()
        .to_str()
        .unwrap()
        .to_ascii_uppercase();
    assert!(methods.contains("POST"), "{methods}");
    let allowed = headers
        .get("access-control-allow-headers")
        .unwrap()
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("content-type"), "{allowed}");

    let (client_id, code) = client_and_code(&gw, None).await;
    let response = gw
        .http
        .post(gw.url("/oauth/token"))
        .header(ORIGIN, origin)
        .form(&code_form(&client_id, &code))
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
    token_ok(response).await;
}
