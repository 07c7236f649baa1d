//! Dynamic client registration (DCR-01..10; RFC 7591 public clients only): `201` with the echo of
//! the registered metadata, unguessable distinct `client_id`s, never a `client_secret`, the
//! `redirect_uris` rules (`invalid_redirect_uri`), malformed or unsupported metadata
//! (`invalid_client_metadata`), unknown members ignored, `Cache-Control: no-store`, and the bounds:
//! body size, URI count and length, total clients (eviction of the oldest unused, then 429) and the
//! per-IP rate limit (429 + `Retry-After`).

use mcp_gateway_reference::Clock;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

/// `POST /oauth/register` with a raw body and content type.
async fn register_raw(gw: &TestGateway, content_type: &str, body: impl Into<String>) -> Response {
    gw.http
        .post(gw.url("/oauth/register"))
        .header(CONTENT_TYPE, content_type)
        .body(body.into())
        .send()
        .await
        .unwrap()
}

/// Asserts a `201` registration with JSON and `no-store`; returns the body.
async fn assert_registered(response: Response) -> Value {
    assert_eq!(response.status(), StatusCode::CREATED);
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    assert_eq!(
        response.headers().get(CACHE_CONTROL).unwrap(),
        "no-store",
        "DCR-10"
    );
    let body: Value = response.json().await.unwrap();
    assert_schema("client-registration-response", &body);
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert!(body.get("client_secret").is_none(), "DCR-03: {body}");
    assert!(body.get("client_secret_expires_at").is_none(), "{body}");
    body
}

/// Asserts a refused registration: the OAuth error, a description, and no client created.
async fn assert_refused(gw: &TestGateway, response: Response, code: &str, what: &str) {
    let before = gw.store.sizes().clients;
    let body = assert_oauth_error(response, StatusCode::BAD_REQUEST, code).await;
    assert!(body["error_description"].is_string(), "{what}: {body}");
    assert!(body.get("client_id").is_none(), "{what}: {body}");
    assert_eq!(
        gw.store.sizes().clients,
        before,
        "{what}: a client was stored"
    );
}

/// Whether `client_id` can start an authorization (303 to the login page).
async fn authorize_status(gw: &TestGateway, client_id: &str) -> StatusCode {
    let browser = gw.browser();
    let response = gw
        .authorize(&browser, &TestGateway::authorize_params(client_id, &[]))
        .await;
    response.status()
}

/// DCR-01, DCR-02, DCR-10 (RFC 7591 §3, §3.2.1): an open registration (no `Authorization`) is a
/// `201` echoing `client_name`, `redirect_uris`, `grant_types`, `response_types`,
/// `token_endpoint_auth_method: "none"` and `client_id_issued_at`, with `no-store`; schema and
/// snapshot.
#[tokio::test]
async fn dcr_01_02_10_registration_returns_201_with_echo() {
    let gw = TestGateway::start().await;
    let now = gw.clock.now().0;
    let response = gw
        .register_json(json!({
            "client_name": "My MCP Client",
            "redirect_uris": [REDIRECT, "https://app.example/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }))
        .await;
    let body = assert_registered(response).await;
    assert_eq!(body["client_name"], "My MCP Client");
    assert_eq!(
        body["redirect_uris"],
        json!([REDIRECT, "https://app.example/cb"])
    );
    assert_eq!(
        body["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(body["response_types"], json!(["code"]));
    assert_eq!(body["client_id_issued_at"], now);
    assert_eq!(gw.store.sizes().clients, 1);

    insta::assert_json_snapshot!(gw.normalize(&body), {
        ".client_id" => "[client_id]",
        ".client_id_issued_at" => "[issued_at]",
    }, @r#"
    {
      "client_id": "[client_id]",
      "client_id_issued_at": "[issued_at]",
      "client_name": "My MCP Client",
      "grant_types": [
        "authorization_code",
        "refresh_token"
      ],
      "redirect_uris": [
        "http://localhost:5173/callback",
        "https://app.example/cb"
      ],
      "response_types": [
        "code"
      ],
      "token_endpoint_auth_method": "none"
    }
    "#);
}

/// DCR-02, DCR-07 (RFC 7591 §2 defaults): a minimal request (only `redirect_uris`) gets the
/// defaults echoed: `response_types: ["code"]`, both grants, auth method `none`, no `client_name`.
#[tokio::test]
async fn dcr_02_07_minimal_request_gets_defaults() {
    let gw = TestGateway::start().await;
    let body = assert_registered(
        gw.register_json(json!({ "redirect_uris": [REDIRECT] }))
            .await,
    )
    .await;
    assert_eq!(body["response_types"], json!(["code"]));
    assert_eq!(
        body["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert!(body.get("client_name").is_none(), "{body}");
}

/// DCR-08 (RFC 7591 §3.2.1; claude.ai registers twice): `client_id` is `mcp_client_` followed by
/// at least 128 random bits (22+ base64url characters); two registrations with the same name get
/// distinct ids, and both can start an authorization.
#[tokio::test]
async fn dcr_08_client_id_unguessable_distinct_and_usable() {
    let gw = TestGateway::start().await;
    let mut ids = vec![];
    for _ in 0..2 {
        let response = gw
            .register_json(json!({ "client_name": "twin", "redirect_uris": [REDIRECT] }))
            .await;
        let body = assert_registered(response).await;
        let id = body["client_id"].as_str().unwrap().to_owned();
        let random = id
            .strip_prefix("mcp_client_")
            .unwrap_or_else(|| panic!("{id} lacks the mcp_client_ prefix"));
        assert!(random.len() >= 22, "{id}: fewer than 128 bits");
        assert!(
            random
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{id}: not base64url"
        );
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1]);
    for id in &ids {
        assert_eq!(
            authorize_status(&gw, id).await,
            StatusCode::SEE_OTHER,
            "{id}"
        );
    }
}

/// DCR-03 (RFC 7591 §2, §3.2.1; guide "only public clients"): an omitted or `none` auth method is
/// registered as `none` without a secret; `client_secret_basic`, `client_secret_post` and
/// `private_key_jwt` are refused with `invalid_client_metadata`, never answered with a secret.
#[tokio::test]
async fn dcr_03_public_clients_only_never_a_secret() {
    let gw = TestGateway::start().await;
    for request in [
        json!({ "redirect_uris": [REDIRECT] }),
        json!({ "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none" }),
    ] {
        let body = assert_registered(gw.register_json(request).await).await;
        assert_eq!(body["token_endpoint_auth_method"], "none");
    }
    for method in [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ] {
        let response = gw
            .register_json(json!({
                "redirect_uris": [REDIRECT],
                "token_endpoint_auth_method": method,
            }))
            .await;
        assert_refused(&gw, response, "invalid_client_metadata", method).await;
    }
}

/// DCR-04 (RFC 7591 §2, §3.2.2; OAuth 2.1 §2.3.1; MCP "Communication Security"): `redirect_uris`
/// missing, empty, relative, with a fragment, `javascript:`/`data:`/custom schemes, plain `http` on
/// a non-loopback host or with credentials → 400 `invalid_redirect_uri`, nothing registered.
#[tokio::test]
async fn dcr_04_bad_redirect_uris_are_invalid_redirect_uri() {
    let gw = TestGateway::start().await;
    let bad_bodies = [
        ("missing", json!({ "client_name": "x" })),
        ("null", json!({ "redirect_uris": null })),
        ("empty", json!({ "redirect_uris": [] })),
        ("relative", json!({ "redirect_uris": ["/callback"] })),
        (
            "no scheme",
            json!({ "redirect_uris": ["localhost:5173/cb"] }),
        ),
        (
            "fragment",
            json!({ "redirect_uris": ["https://app.example/cb#frag"] }),
        ),
        (
            "empty fragment",
            json!({ "redirect_uris": ["http://localhost/cb#"] }),
        ),
        (
            "javascript",
            json!({ "redirect_uris": ["javascript:alert(1)"] }),
        ),
        ("data", json!({ "redirect_uris": ["data:text/html,hi"] })),
        (
            "custom scheme",
            json!({ "redirect_uris": ["cursor://callback"] }),
        ),
        (
            "http non-loopback",
            json!({ "redirect_uris": ["http://evil.example/cb"] }),
        ),
        (
            "http loopback look-alike",
            json!({ "redirect_uris": ["http://localhost.evil.example/cb"] }),
        ),
        (
            "credentials",
            json!({ "redirect_uris": ["https://user:pw@app.example/cb"] }),
        ),
        (
            "one bad among good",
            json!({ "redirect_uris": [REDIRECT, "http://evil.example/cb"] }),
        ),
    ];
    for (what, body) in bad_bodies {
        let response = gw.register_json(body).await;
        assert_refused(&gw, response, "invalid_redirect_uri", what).await;
    }
    assert_eq!(gw.store.sizes().clients, 0);
}

/// DCR-04 (positive): `https` anywhere and `http` on `localhost`, `127.0.0.1` and `[::1]` (any
/// port, with a query) are accepted and echoed as sent.
#[tokio::test]
async fn dcr_04_https_and_loopback_http_redirect_uris_accepted() {
    let gw = TestGateway::start().await;
    for uri in [
        "https://claude.ai/api/mcp/auth_callback",
        "https://app.example/cb?tenant=1",
        "http://localhost/callback",
        "http://localhost:5173/callback",
        "http://127.0.0.1:33418/cb",
        "http://[::1]:8080/cb",
    ] {
        let body =
            assert_registered(gw.register_json(json!({ "redirect_uris": [uri] })).await).await;
        assert_eq!(body["redirect_uris"], json!([uri]), "{uri}");
    }
}

/// DCR-05 (RFC 7591 §3.2.2): malformed JSON, a non-object body, a non-JSON content type and wrong
/// member types → 400 `invalid_client_metadata` (JSON, `no-store`), never a 500 or a client.
#[tokio::test]
async fn dcr_05_malformed_or_mistyped_metadata_is_invalid_client_metadata() {
    let gw = TestGateway::start().await;
    let valid = json!({ "redirect_uris": [REDIRECT] }).to_string();
    let raw_cases = [
        (
            "malformed JSON",
            "application/json",
            "{\"redirect_uris\": [".to_owned(),
        ),
        ("empty body", "application/json", String::new()),
        ("array body", "application/json", format!("[{valid}]")),
        ("string body", "application/json", "\"hello\"".to_owned()),
        ("number body", "application/json", "42".to_owned()),
        ("text/plain", "text/plain", valid.clone()),
        (
            "form encoded",
            "application/x-www-form-urlencoded",
            "redirect_uris=http%3A%2F%2Flocalhost%3A5173%2Fcallback".to_owned(),
        ),
    ];
    for (what, content_type, body) in raw_cases {
        let response = register_raw(&gw, content_type, body).await;
        assert_refused(&gw, response, "invalid_client_metadata", what).await;
    }
    let typed_cases = [
        (
            "redirect_uris a string",
            json!({ "redirect_uris": REDIRECT }),
        ),
        ("redirect_uris of numbers", json!({ "redirect_uris": [1] })),
        (
            "client_name a number",
            json!({ "redirect_uris": [REDIRECT], "client_name": 7 }),
        ),
        (
            "grant_types a string",
            json!({ "redirect_uris": [REDIRECT], "grant_types": "authorization_code" }),
        ),
        (
            "response_types a string",
            json!({ "redirect_uris": [REDIRECT], "response_types": "code" }),
        ),
        (
            "token_endpoint_auth_method a number",
            json!({ "redirect_uris": [REDIRECT], "token_endpoint_auth_method": 0 }),
        ),
    ];
    for (what, body) in typed_cases {
        let response = gw.register_json(body).await;
        assert_refused(&gw, response, "invalid_client_metadata", what).await;
    }
    assert_eq!(gw.store.sizes().clients, 0);
}

/// DCR-05, DCR-07 (RFC 7591 §2, §3.2.2; OAuth 2.1 removed implicit and client credentials for
/// public clients): `client_credentials`, `implicit`, `password` grants, grants without
/// `authorization_code`, and the `token` response type → 400 `invalid_client_metadata`.
#[tokio::test]
async fn dcr_05_unsupported_grant_or_response_type_is_invalid_client_metadata() {
    let gw = TestGateway::start().await;
    let cases = [
        (
            "client_credentials",
            json!({ "redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "client_credentials"] }),
        ),
        (
            "implicit",
            json!({ "redirect_uris": [REDIRECT], "grant_types": ["implicit"] }),
        ),
        (
            "password",
            json!({ "redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "password"] }),
        ),
        (
            "refresh_token without authorization_code",
            json!({ "redirect_uris": [REDIRECT], "grant_types": ["refresh_token"] }),
        ),
        (
            "no grant at all",
            json!({ "redirect_uris": [REDIRECT], "grant_types": [] }),
        ),
        (
            "response_type token",
            json!({ "redirect_uris": [REDIRECT], "response_types": ["token"] }),
        ),
        (
            "response_type code and token",
            json!({ "redirect_uris": [REDIRECT], "response_types": ["code", "token"] }),
        ),
    ];
    for (what, body) in cases {
        let response = gw.register_json(body).await;
        assert_refused(&gw, response, "invalid_client_metadata", what).await;
    }
}

/// DCR-07 (RFC 7591 §3.2.1: echo what is registered): asking for `refresh_token` on a gateway
/// started without refresh tokens registers the client without that grant (dropped, not refused);
/// on the default gateway it is kept.
#[tokio::test]
async fn dcr_07_refresh_grant_dropped_when_refresh_tokens_off() {
    let request = json!({
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
    });
    let off = TestGateway::start_with(|raw| raw.gateway.refresh_tokens = Some(false)).await;
    let body = assert_registered(off.register_json(request.clone()).await).await;
    assert_eq!(body["grant_types"], json!(["authorization_code"]));
    let defaulted = assert_registered(
        off.register_json(json!({ "redirect_uris": [REDIRECT] }))
            .await,
    )
    .await;
    assert_eq!(defaulted["grant_types"], json!(["authorization_code"]));

    let on = TestGateway::start().await;
    let body = assert_registered(on.register_json(request).await).await;
    assert_eq!(
        body["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
}

/// DCR-06 (RFC 7591 §2; MCP Inspector sends `scope: ""`, 2026-07-28 clients `application_type`):
/// unknown or unused members are ignored, the registration succeeds.
#[tokio::test]
async fn dcr_06_unknown_fields_are_ignored() {
    let gw = TestGateway::start().await;
    let response = gw
        .register_json(json!({
            "client_name": "Inspector",
            "redirect_uris": [REDIRECT],
            "application_type": "native",
            "scope": "",
            "software_id": "4NRB1-0XZABZI9E6-5SM3R",
            "software_version": "1.0",
            "logo_uri": "https://app.example/logo.png",
            "x_vendor_extension": { "nested": [1, 2, 3] },
        }))
        .await;
    let body = assert_registered(response).await;
    assert_eq!(body["client_name"], "Inspector");
    assert_eq!(body["redirect_uris"], json!([REDIRECT]));
}

/// DCR-01 (RFC 7591 §3: open registration): a request carrying an unrelated `Authorization`
/// header is still served (no initial access token is needed or checked).
#[tokio::test]
async fn dcr_01_no_authorization_needed() {
    let gw = TestGateway::start().await;
    let response = gw
        .http
        .post(gw.url("/oauth/register"))
        .bearer_auth("whatever")
        .json(&json!({ "redirect_uris": [REDIRECT] }))
        .send()
        .await
        .unwrap();
    assert_registered(response).await;
}

/// DCR-05 (bounds; issue 2 "never a 500 for bad input"): a body larger than
/// `limits.max_registration_bytes` (16 KiB) is refused with 413 and an OAuth JSON error
/// (`invalid_request`, as `error.rs` `OAuthBody` decides), and no client is registered; a body just
/// under the limit is accepted.
#[tokio::test]
async fn dcr_05_body_over_size_limit_is_413_json() {
    let gw = TestGateway::start().await;
    let limit = 16 * 1024;
    let with_padding =
        |n: usize| json!({ "redirect_uris": [REDIRECT], "padding": "x".repeat(n) }).to_string();
    let small = with_padding(limit - 200);
    assert!(small.len() < limit);
    assert_registered(register_raw(&gw, "application/json", small).await).await;
    assert_eq!(gw.store.sizes().clients, 1);

    let big = with_padding(limit + 1);
    let response = register_raw(&gw, "application/json", big).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(gw.store.sizes().clients, 1, "nothing registered");
    assert_oauth_error(response, StatusCode::PAYLOAD_TOO_LARGE, "invalid_request").await;
}

/// DCR-04 (bounds): at most `limits.max_redirect_uris` (10) URIs; 11 → `invalid_redirect_uri`.
#[tokio::test]
async fn dcr_04_too_many_redirect_uris() {
    let gw = TestGateway::start().await;
    let uris = |n: usize| -> Vec<String> {
        (0..n)
            .map(|i| format!("http://localhost:{}/cb", 5000 + i))
            .collect()
    };
    let body =
        assert_registered(gw.register_json(json!({ "redirect_uris": uris(10) })).await).await;
    assert_eq!(body["redirect_uris"].as_array().unwrap().len(), 10);
    let response = gw.register_json(json!({ "redirect_uris": uris(11) })).await;
    assert_refused(&gw, response, "invalid_redirect_uri", "11 URIs").await;
}

/// DCR-04 (bounds): a redirect URI longer than `limits.max_redirect_uri_length` (2048 bytes) →
/// `invalid_redirect_uri`; one of exactly 2048 bytes is accepted.
#[tokio::test]
async fn dcr_04_redirect_uri_too_long() {
    let gw = TestGateway::start().await;
    let uri_of_length = |n: usize| {
        let prefix = "https://app.example/";
        format!("{prefix}{}", "a".repeat(n - prefix.len()))
    };
    let ok = uri_of_length(2048);
    assert_eq!(ok.len(), 2048);
    assert_registered(gw.register_json(json!({ "redirect_uris": [ok] })).await).await;
    let too_long = uri_of_length(2049);
    let response = gw
        .register_json(json!({ "redirect_uris": [too_long] }))
        .await;
    assert_refused(&gw, response, "invalid_redirect_uri", "2049 bytes").await;
}

/// DCR-08 (bounds: total clients, issue 2 "oldest unused evicted or 429"): with
/// `limits.max_clients = 2`, a third registration evicts the oldest client never used (its
/// authorization now shows a 400 error page, never a redirect) and keeps the other; when every
/// stored client has been used (a completed login), a new registration gets 429 + `Retry-After`.
#[tokio::test]
async fn dcr_08_total_clients_bounded_evict_oldest_unused_then_429() {
    let gw = TestGateway::start_with(|raw| raw.limits.max_clients = 2).await;
    let a = gw.register(&[REDIRECT]).await;
    gw.advance(1);
    let b = gw.register(&[REDIRECT]).await;
    gw.advance(1);
    let c = gw.register(&[REDIRECT]).await;
    assert_eq!(gw.store.sizes().clients, 2);

    let browser = gw.browser();
    let evicted = gw
        .authorize(&browser, &TestGateway::authorize_params(&a, &[]))
        .await;
    assert_eq!(evicted.status(), StatusCode::BAD_REQUEST, "evicted client");
    assert!(evicted.headers().get("location").is_none(), "no redirect");
    assert_eq!(authorize_status(&gw, &b).await, StatusCode::SEE_OTHER);
    assert_eq!(authorize_status(&gw, &c).await, StatusCode::SEE_OTHER);

    for client_id in [&b, &c] {
        let callback = gw
            .obtain_code(&TestGateway::authorize_params(client_id, &[]), ALICE)
            .await;
        assert!(callback.code.is_some(), "{callback:?}");
    }
    gw.advance(1);
    let response = gw
        .register_json(json!({ "redirect_uris": [REDIRECT] }))
        .await;
    let retry_after = retry_after_secs(&response);
    assert!(retry_after >= 1, "Retry-After {retry_after}");
    let body = assert_oauth_error(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
    )
    .await;
    assert!(body.get("client_id").is_none());
    assert_eq!(gw.store.sizes().clients, 2);
    // The used clients were kept.
    assert_eq!(authorize_status(&gw, &b).await, StatusCode::SEE_OTHER);
    assert_eq!(authorize_status(&gw, &c).await, StatusCode::SEE_OTHER);
}

/// DCR-01 (RFC 7591 §3 "MAY rate-limit"; RFC 6585 §4): with `limits.registrations_per_minute = 2`
/// the third registration from one address gets 429, an integer `Retry-After` ≥ 1 and an OAuth
/// JSON error, and registers nothing.
#[tokio::test]
async fn dcr_01_per_ip_rate_limit_429_with_retry_after() {
    let gw = TestGateway::start_with(|raw| raw.limits.registrations_per_minute = 2).await;
    gw.register(&[REDIRECT]).await;
    gw.register(&[REDIRECT]).await;
    let response = gw
        .register_json(json!({ "redirect_uris": [REDIRECT] }))
        .await;
    let retry_after = retry_after_secs(&response);
    assert!(retry_after >= 1, "Retry-After {retry_after}");
    let body = assert_oauth_error(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
    )
    .await;
    assert!(body["error_description"].is_string());
    assert!(body.get("client_id").is_none());
    assert_eq!(gw.store.sizes().clients, 2);
}

/// The `Retry-After` header as delay-seconds (RFC 9110 §10.2.3).
fn retry_after_secs(response: &Response) -> u64 {
    let value = response
        .headers()
        .get(RETRY_AFTER)
        .unwrap_or_else(|| panic!("no Retry-After on a {}", response.status()))
        .to_str()
        .unwrap();
    value
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After {value:?} is not an integer"))
}
