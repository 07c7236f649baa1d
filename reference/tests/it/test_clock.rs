//! The test-only clock hook `/__test/clock` (`serve --test-clock`), which the conformance suite
//! uses to check TTLs over HTTP: absent (JSON 404) unless enabled; `GET` reads the gateway's clock;
//! `POST {"advance_seconds": N}` moves it forward so that codes (TOKEN-08, 120 s) and access
//! tokens (BEARER-06, 3600 s) really expire; bad bodies are `400 invalid_request`; every answer is
//! `no-store`. The refusal of non-loopback peers and binds is unit-tested in `test_clock.rs` and
//! `main.rs` (this server only ever sees `127.0.0.1`).

use mcp_gateway_reference::Clock as _;
use mcp_gateway_reference::SystemClock;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::support::*;

/// Asserts a `200` reading of the hook (JSON, `no-store`, exactly `now` and `offset_seconds`) and
/// returns it.
async fn assert_reading(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers().get(CONTENT_TYPE).unwrap();
    assert!(
        content_type
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{content_type:?}"
    );
    assert_eq!(response.headers().get(CACHE_CONTROL).unwrap(), "no-store");
    let body: Value = response.json().await.unwrap();
    let members: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(members, ["now", "offset_seconds"], "{body}");
    body
}

/// Asserts that `now` (a reading's) is the wall clock plus `offset` seconds, give or take the time
/// the request took.
fn assert_now(reading: &Value, before: u64, offset: u64) {
    let now = reading["now"].as_u64().unwrap();
    let after = SystemClock.now().0;
    assert!(
        before + offset <= now && now <= after + offset,
        "now {now} is not wall time + {offset} ({before}..={after})"
    );
    assert_eq!(reading["offset_seconds"], offset);
}

/// A fresh authorization code for `client_id` (Alice, no `resource`).
async fn fresh_code(gw: &TestGateway, client_id: &str) -> String {
    let params = TestGateway::authorize_params(client_id, &[]);
    gw.obtain_code(&params, ALICE).await.code.expect("a code")
}

fn code_form<'a>(client_id: &'a str, code: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]
}

/// Without `--test-clock` the hook does not exist: every method gets the gateway's JSON 404.
#[tokio::test]
async fn test_clock_hook_is_absent_without_the_flag() {
    let gw = TestGateway::start().await;
    let get = gw.http.get(gw.url("/__test/clock")).send().await.unwrap();
    let post = gw
        .http
        .post(gw.url("/__test/clock"))
        .json(&json!({ "advance_seconds": 3601 }))
        .send()
        .await
        .unwrap();
    for response in [get, post] {
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "not_found", "{body}");
    }
    // And nothing moved: a token issued now still works.
    let tokens = gw.oauth_tokens(ALICE, Some(RESEARCH)).await;
    assert_token_works(&gw, RESEARCH, &tokens.access_token).await;
}

/// `GET /__test/clock` reads the gateway's clock: wall time, offset 0, `no-store`; the rest of the
/// gateway is unchanged by the hook.
#[tokio::test]
async fn test_clock_get_returns_the_gateway_now_and_offset() {
    let gw = TestGateway::start_with_test_clock().await;
    let before = SystemClock.now().0;
    let response = gw.http.get(gw.url("/__test/clock")).send().await.unwrap();
    let reading = assert_reading(response).await;
    assert_now(&reading, before, 0);

    let before = SystemClock.now().0;
    let reading = gw.clock_hook(42).await;
    assert_now(&reading, before, 42);
    let before = SystemClock.now().0;
    let response = gw.http.get(gw.url("/__test/clock")).send().await.unwrap();
    assert_now(&assert_reading(response).await, before, 42);

    let response = gw
        .http
        .get(gw.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// `POST` answers the reading after advancing; offsets add up; zero and exactly 30 days are
/// accepted.
#[tokio::test]
async fn test_clock_post_advances_and_answers_the_new_reading() {
    let gw = TestGateway::start_with_test_clock().await;
    for (advance, offset) in [(0, 0), (60, 60), (61, 121), (2_592_000, 2_592_121)] {
        let before = SystemClock.now().0;
        let response = gw
            .http
            .post(gw.url("/__test/clock"))
            .json(&json!({ "advance_seconds": advance }))
            .send()
            .await
            .unwrap();
        assert_now(&assert_reading(response).await, before, offset);
    }
}

/// TOKEN-08 through the hook: a code still redeems 60 s after it was issued, and a code is
/// `invalid_grant` once the hook moved the clock 121 s past its issue.
#[tokio::test]
async fn test_clock_advancing_121_seconds_expires_a_fresh_code() {
    let gw = TestGateway::start_with_test_clock().await;
    let client_id = gw.register(&[REDIRECT]).await;

    let code = fresh_code(&gw, &client_id).await;
    gw.clock_hook(60).await;
    token_ok(gw.token_request(&code_form(&client_id, &code)).await).await;

    let code = fresh_code(&gw, &client_id).await;
    let reading = gw.clock_hook(121).await;
    assert_eq!(reading["offset_seconds"], 181);
    let response = gw.token_request(&code_form(&client_id, &code)).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

/// BEARER-06 through the hook: an access token that works is refused with `401
/// error="invalid_token"` once the hook moved the clock 3601 s; API keys, which do not expire,
/// still work.
#[tokio::test]
async fn test_clock_advancing_3601_seconds_expires_an_access_token() {
    let gw = TestGateway::start_with_test_clock().await;
    let tokens = gw.oauth_tokens(ALICE, Some(RESEARCH)).await;
    assert_token_works(&gw, RESEARCH, &tokens.access_token).await;

    gw.clock_hook(3601).await;
    assert_token_refused(&gw, RESEARCH, &tokens.access_token).await;
    assert_token_works(&gw, RESEARCH, RESEARCH_KEY).await;
}

/// Bad bodies and content types are `400 invalid_request` (OAuth JSON error, `no-store`) and do not
/// move the clock.
#[tokio::test]
async fn test_clock_bad_bodies_are_invalid_request() {
    let gw = TestGateway::start_with_test_clock().await;
    let json_cases = [
        "",
        "not json",
        "[]",
        "{}",
        r#"{"advance_seconds": -1}"#,
        r#"{"advance_seconds": 1.5}"#,
        r#"{"advance_seconds": "60"}"#,
        r#"{"advance_seconds": 2592001}"#,
        r#"{"advance_seconds": 60, "set_seconds": 0}"#,
    ];
    for body in json_cases {
        let response = gw
            .http
            .post(gw.url("/__test/clock"))
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let error = assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert!(error.get("now").is_none(), "{body}: {error}");
    }
    let valid = r#"{"advance_seconds": 60}"#;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = gw.http.post(gw.url("/__test/clock")).body(valid);
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let response = request.send().await.unwrap();
        assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let before = SystemClock.now().0;
    let response = gw.http.get(gw.url("/__test/clock")).send().await.unwrap();
    assert_now(&assert_reading(response).await, before, 0);
}
