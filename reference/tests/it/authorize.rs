//! `GET /oauth/authorize` (AUTHZ-01..06, AUTHZ-08, AUTHZ-09, AUTHZ-11..13, PKCE-01..03, AUD-01,
//! AUD-04..06).
//!
//! The order of checks is the one `src/authorize.rs` documents:
//! 1. `client_id` and `redirect_uri` first; if either is bad the browser gets an HTML error page
//!    (400) with no `Location` at all, so the gateway never becomes an open redirector;
//! 2. every other error goes back by `302` to the validated `redirect_uri` with `error`,
//!    `error_description`, `state` and `iss`, each exactly once, and never a `code`;
//! 3. success is a `303` to the gateway's own login page carrying only a server-side
//!    `request_id`, with an `HttpOnly; SameSite=Lax; Path=/oauth` cookie binding the browser.
//!
//! The login page itself and the code redirect are in `login.rs`.

use std::sync::Arc;

use mcp_gateway_reference::{AppState, Config, ManualClock, MemoryStore, Overrides, serve};
use reqwest::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, LOCATION, ORIGIN, SET_COOKIE,
};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

/// A second registered redirect URI on a non-loopback `https` host.
const APP_REDIRECT: &str = "https://app.example/cb";

/// Asserts the page shown when `client_id` or `redirect_uri` cannot be trusted (AUTHZ-02): a 400
/// HTML page, no `Location` header, no cookie, and no URL of any kind in the page (in particular
/// not `bad`, raw or HTML-escaped). Returns the page.
async fn assert_error_page_without_redirect(response: Response, bad: &str) -> String {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "for {bad:?}");
    assert!(
        response.headers().get(LOCATION).is_none(),
        "a Location header for {bad:?}: {:?}",
        response.headers().get(LOCATION)
    );
    assert!(
        response.headers().get(SET_COOKIE).is_none(),
        "a login cookie for {bad:?}"
    );
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let body = response.text().await.unwrap();
    assert!(body.contains("Authorization error"), "{body}");
    if !bad.is_empty() {
        let escaped = bad.replace('&', "&amp;").replace('"', "&quot;");
        assert!(
            !body.contains(bad) && !body.contains(&escaped),
            "page echoes {bad:?}: {body}"
        );
    }
    assert!(!body.contains("://"), "page links somewhere: {body}");
    assert!(!body.contains("href"), "page links somewhere: {body}");
    body
}

/// Asserts an error redirect of step 2 (AUTHZ-08, AUTHZ-09): `302` to `redirect_uri` with
/// `error == code`, a non-empty `error_description`, `state == state`, `iss == issuer`, each
/// exactly once, and no `code` (nor anything else). Returns the decoded callback.
async fn assert_error_redirect(
    gw: &TestGateway,
    response: Response,
    redirect_uri: &str,
    code: &str,
    state: Option<&str>,
) -> Callback {
    assert_eq!(
        response.status(),
        StatusCode::FOUND,
        "error redirect status"
    );
    assert_eq!(
        response.headers().get(CACHE_CONTROL).unwrap(),
        "no-store",
        "Cache-Control"
    );
    assert!(
        response.headers().get(SET_COOKIE).is_none(),
        "an error redirect starts no login"
    );
    let callback = Callback::from_location(&location(&response));
    assert!(
        callback.location.starts_with(&format!("{redirect_uri}?")),
        "{} is not {redirect_uri}",
        callback.location
    );
    assert_eq!(
        callback.error.as_deref(),
        Some(code),
        "{}",
        callback.location
    );
    assert!(
        callback
            .error_description
            .as_deref()
            .is_some_and(|d| !d.is_empty()),
        "error_description missing: {}",
        callback.location
    );
    assert_eq!(callback.state.as_deref(), state, "state");
    assert_eq!(callback.iss.as_deref(), Some(gw.base.as_str()), "iss");
    let mut expected = vec![("error", 1), ("error_description", 1), ("iss", 1)];
    if state.is_some() {
        expected.push(("state", 1));
    }
    let expected: std::collections::BTreeMap<String, usize> = expected
        .into_iter()
        .map(|(name, n)| (name.to_owned(), n))
        .collect();
    assert_eq!(callback.counts, expected, "{}", callback.location);
    assert!(callback.code.is_none(), "an error redirect carries a code");
    callback
}

/// Asserts a successful authorization request: `303` to `{base}/oauth/login?request_id=…`.
/// Returns the login URL.
fn assert_sent_to_login(gw: &TestGateway, response: &Response) -> String {
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "accepted request should go to the login page (Location: {:?})",
        response.headers().get(LOCATION)
    );
    let url = location(response);
    assert!(
        url.starts_with(&gw.url("/oauth/login?request_id=")),
        "{url}"
    );
    url
}

/// `params` with every pair named `name` removed.
fn without<'a>(params: &[(&'a str, &'a str)], name: &str) -> Vec<(&'a str, &'a str)> {
    params.iter().copied().filter(|(n, _)| *n != name).collect()
}

/// `params` with the value of `name` replaced.
fn with<'a>(params: &[(&'a str, &'a str)], name: &str, value: &'a str) -> Vec<(&'a str, &'a str)> {
    params
        .iter()
        .map(|&(n, v)| if n == name { (n, value) } else { (n, v) })
        .collect()
}

/// AUTHZ-02 (OAuth 2.1 §4.1.2.1, MCP security "Open Redirection"): a missing, unknown or repeated
/// `client_id` shows an error page and never redirects, not even to a registered URI.
#[tokio::test]
async fn authz_02_client_id_missing_unknown_or_repeated_shows_error_page_without_redirect() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let valid = TestGateway::authorize_params(&client_id, &[]);

    let missing = without(&valid, "client_id");
    let empty = with(&valid, "client_id", "");
    let unknown = with(
        &valid,
        "client_id",
        "mcp_client_00000000000000000000000000000000",
    );
    let mut repeated = valid.clone();
    repeated.push(("client_id", &client_id));
    for (case, params) in [
        ("missing", missing),
        ("empty", empty),
        ("unknown", unknown),
        ("repeated", repeated),
    ] {
        let response = gw.authorize(&gw.browser(), &params).await;
        let body = assert_error_page_without_redirect(response, REDIRECT).await;
        assert!(
            body.contains("client_id") || body.contains("application"),
            "{case}: the page should say what is wrong: {body}"
        );
    }

    // Positive control: the same request with a good client_id is accepted.
    let response = gw.authorize(&gw.browser(), &valid).await;
    assert_sent_to_login(&gw, &response);
}

/// AUTHZ-03 (OAuth 2.1 §4.1.1, RFC 3986 §6.2.1): `redirect_uri` is compared as an exact string:
/// no trailing-slash, query, scheme, host-case, path, prefix or loopback-host tolerance. Each
/// mismatch shows an error page with no `Location` and no link to the URI.
#[tokio::test]
async fn authz_03_unregistered_redirect_uris_show_error_page_without_redirect() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT, APP_REDIRECT]).await;
    for bad in [
        "http://localhost:5173/callback/",
        "http://localhost:5173/callback?x=1",
        "http://localhost:5173/callback#frag",
        "https://localhost:5173/callback",
        "http://app.example/cb",
        "http://LOCALHOST:5173/callback",
        "https://APP.example/cb",
        "https://app.example/CB",
        "http://localhost:5173/other",
        "http://localhost:5173/Callback",
        "http://127.0.0.1:5173/callback",
        "http://[::1]:5173/callback",
        "http://localhost:5173/callback.evil",
        "http://localhost:5173/callbackx",
        "https://app.example/cb/",
        "https://app.example/cb?next=https://evil.example",
        "https://app.example.evil.example/cb",
        "https://app.example:8443/cb",
        "https://evil.example/cb",
        "/callback",
        "not a uri",
    ] {
        let params = TestGateway::authorize_params(&client_id, &[]);
        let params = with(&params, "redirect_uri", bad);
        let response = gw.authorize(&gw.browser(), &params).await;
        let body = assert_error_page_without_redirect(response, bad).await;
        assert!(body.contains("redirect_uri"), "{bad}: {body}");
    }

    // Positive control: both registered URIs, byte for byte, are accepted.
    for good in [REDIRECT, APP_REDIRECT] {
        let params = TestGateway::authorize_params(&client_id, &[]);
        let params = with(&params, "redirect_uri", good);
        let response = gw.authorize(&gw.browser(), &params).await;
        assert_sent_to_login(&gw, &response);
    }
}

/// AUTHZ-02 / AUTHZ-01 (OAuth 2.1 §3.1, §4.1.2.1): a repeated `redirect_uri`, even twice the
/// registered value, cannot be validated and shows an error page instead of redirecting.
#[tokio::test]
async fn authz_02_redirect_uri_repeated_shows_error_page_without_redirect() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT, APP_REDIRECT]).await;
    for second in [REDIRECT, APP_REDIRECT] {
        let params = TestGateway::authorize_params(&client_id, &[("redirect_uri", second)]);
        let response = gw.authorize(&gw.browser(), &params).await;
        assert_error_page_without_redirect(response, "").await;
    }
}

/// AUTHZ-05 (OAuth 2.1 §4.1.1): with two registered redirect URIs, an omitted (or empty)
/// `redirect_uri` is an error page, not a guess.
#[tokio::test]
async fn authz_05_redirect_uri_omitted_with_two_registered_shows_error_page() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT, APP_REDIRECT]).await;
    let valid = TestGateway::authorize_params(&client_id, &[]);
    for params in [
        without(&valid, "redirect_uri"),
        with(&valid, "redirect_uri", ""),
    ] {
        let response = gw.authorize(&gw.browser(), &params).await;
        let body = assert_error_page_without_redirect(response, "").await;
        assert!(body.contains("redirect_uri"), "{body}");
    }
}

/// AUTHZ-05 (OAuth 2.1 §4.1.1): with exactly one registered redirect URI, `redirect_uri` may be
/// omitted; the code then goes to that URI.
#[tokio::test]
async fn authz_05_redirect_uri_omitted_with_one_registered_is_accepted() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let params = without(
        &TestGateway::authorize_params(&client_id, &[]),
        "redirect_uri",
    );
    let response = gw.authorize(&gw.browser(), &params).await;
    assert_sent_to_login(&gw, &response);

    let callback = gw.obtain_code(&params, ALICE).await;
    assert!(
        callback.location.starts_with(&format!("{REDIRECT}?")),
        "{}",
        callback.location
    );
    assert!(callback.code.is_some());
    assert_eq!(callback.state.as_deref(), Some("xyz"));
}

/// AUTHZ-04 (OAuth 2.1 §4.1.1 "Loopback Interface Redirection"): a loopback redirect URI matches
/// on any port; the code goes to the port of the request, not of the registration.
#[tokio::test]
async fn authz_04_loopback_redirect_any_port_and_code_goes_to_requested_port() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let requested = "http://localhost:49152/callback";
    let params = TestGateway::authorize_params(&client_id, &[]);
    let params = with(&params, "redirect_uri", requested);
    let callback = gw.obtain_code(&params, ALICE).await;
    assert!(
        callback.location.starts_with(&format!("{requested}?")),
        "{}",
        callback.location
    );
    assert!(callback.code.is_some());

    // The port is the only leniency: the path must still match.
    let other_path = with(&params, "redirect_uri", "http://localhost:49152/other");
    let response = gw.authorize(&gw.browser(), &other_path).await;
    assert_error_page_without_redirect(response, "http://localhost:49152/other").await;
}

/// AUTHZ-04 (OAuth 2.1 §4.1.1): a portless `http://127.0.0.1/callback` (as Claude Code registers)
/// accepts an ephemeral port, but not the `localhost` spelling nor `https`.
#[tokio::test]
async fn authz_04_portless_loopback_registration_accepts_ephemeral_port() {
    let gw = TestGateway::start().await;
    let registered = "http://127.0.0.1/callback";
    let client_id = gw.register(&[registered, "http://[::1]/cb"]).await;
    for (requested, expected) in [
        ("http://127.0.0.1:49152/callback", true),
        ("http://127.0.0.1/callback", true),
        ("http://[::1]:8080/cb", true),
        ("http://localhost:49152/callback", false),
        ("https://127.0.0.1:49152/callback", false),
        ("http://127.0.0.1:49152/callback/", false),
        ("http://[::1]:8080/callback", false),
    ] {
        let params = TestGateway::authorize_params(&client_id, &[]);
        let params = with(&params, "redirect_uri", requested);
        if expected {
            let callback = gw.obtain_code(&params, ALICE).await;
            assert!(
                callback.location.starts_with(&format!("{requested}?")),
                "{requested}: {}",
                callback.location
            );
            assert!(callback.code.is_some(), "{requested}");
        } else {
            let response = gw.authorize(&gw.browser(), &params).await;
            assert_error_page_without_redirect(response, requested).await;
        }
    }
}

/// AUTHZ-04 / AUTHZ-03: the any-port exception is for loopback hosts only; a non-loopback
/// `https` redirect URI on another port is refused without redirect.
#[tokio::test]
async fn authz_04_port_leniency_does_not_apply_to_non_loopback_https() {
    let gw = TestGateway::start().await;
    let registered = "https://app.example:8443/cb";
    let client_id = gw.register(&[registered]).await;
    for bad in [
        "https://app.example:9443/cb",
        "https://app.example/cb",
        "https://app.example:443/cb",
    ] {
        let params = TestGateway::authorize_params(&client_id, &[]);
        let params = with(&params, "redirect_uri", bad);
        let response = gw.authorize(&gw.browser(), &params).await;
        assert_error_page_without_redirect(response, bad).await;
    }
    let params = TestGateway::authorize_params(&client_id, &[]);
    let params = with(&params, "redirect_uri", registered);
    let response = gw.authorize(&gw.browser(), &params).await;
    assert_sent_to_login(&gw, &response);
}

/// AUTHZ-02 (OAuth 2.1 §4.1.2.1): `client_id` and `redirect_uri` are checked before anything
/// else, so a request that is also otherwise wrong (no PKCE, `response_type=token`, bad
/// `resource`) with an unregistered `redirect_uri` still gets the page, never a redirect to it.
#[tokio::test]
async fn authz_02_client_and_redirect_are_checked_before_other_errors() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let evil = "https://evil.example/cb";
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![
            ("response_type", "token"),
            ("client_id", &client_id),
            ("redirect_uri", evil),
            ("state", "s"),
        ],
        vec![
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", evil),
        ],
        vec![
            ("response_type", "code"),
            ("client_id", "unknown-client"),
            ("redirect_uri", evil),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "plain"),
        ],
        vec![
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", evil),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("resource", "https://other.example/"),
            ("state", "s"),
            ("state", "s"),
        ],
    ];
    for params in cases {
        let response = gw.authorize(&gw.browser(), &params).await;
        assert_error_page_without_redirect(response, evil).await;
    }
}

/// AUTHZ-06 (OAuth 2.1 §4.1.1, §4.1.2.1): a missing `response_type` is `invalid_request`,
/// redirected to the validated URI with `state` and `iss`.
#[tokio::test]
async fn authz_06_response_type_missing_is_invalid_request_redirect() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let valid = TestGateway::authorize_params(&client_id, &[]);
    for params in [
        without(&valid, "response_type"),
        with(&valid, "response_type", ""),
    ] {
        let response = gw.authorize(&gw.browser(), &params).await;
        assert_error_redirect(&gw, response, REDIRECT, "invalid_request", Some("xyz")).await;
    }
}

/// AUTHZ-06 (OAuth 2.1 §4.1.2.1, "Removal of the OAuth 2.0 Implicit grant"): any
/// `response_type` but `code` is `unsupported_response_type`; the redirect's exact shape is
/// snapshotted.
#[tokio::test]
async fn authz_06_response_type_other_than_code_is_unsupported_response_type() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let valid = TestGateway::authorize_params(&client_id, &[]);
    for response_type in ["token", "code token", "id_token", "CODE", "code "] {
        let params = with(&valid, "response_type", response_type);
        let response = gw.authorize(&gw.browser(), &params).await;
        let callback = assert_error_redirect(
            &gw,
            response,
            REDIRECT,
            "unsupported_response_type",
            Some("xyz"),
        )
        .await;
        if response_type == "token" {
            // The exact redirect, parameters in order.
            let pairs: Vec<Value> = parse_query(callback.location.split_once('?').unwrap().1)
                .into_iter()
                .map(|(name, value)| json!([name, value]))
                .collect();
            insta::assert_json_snapshot!(gw.normalize(&json!(pairs)), @r#"
            [
              [
                "error",
                "unsupported_response_type"
              ],
              [
                "error_description",
                "only response_type=code is supported"
              ],
              [
                "state",
                "xyz"
              ],
              [
                "iss",
                "http://gateway.test"
              ]
            ]
            "#);
        }
    }
}

/// PKCE-01 (OAuth 2.1 §4.1.2.1, RFC 7636 §4.4.1): a request without `code_challenge` is refused
/// with `invalid_request` by redirect; PKCE is required for every client.
#[tokio::test]
async fn pkce_01_code_challenge_missing_is_invalid_request_redirect() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let valid = TestGateway::authorize_params(&client_id, &[]);
    for params in [
        without(&valid, "code_challenge"),
        with(&valid, "code_challenge", ""),
        without(&without(&valid, "code_challenge"), "code_challenge_method"),
    ] {
        let response = gw.authorize(&gw.browser(), &params).await;
        let callback =
            assert_error_redirect(&gw, response, REDIRECT, "invalid_request", Some("xyz")).await;
        assert!(
            callback
                .error_description
                .unwrap()
                .contains("code_challenge"),
            "the description should name code_challenge"
        );
    }
}

/// PKCE-02 (RFC 7636 §4.3, §4.4.1): an omitted `code_challenge_method` means `plain`, which is
/// not supported, so it is `invalid_request`, as are `plain`, `s256` (case matters) and `S512`;
/// only `S256` is accepted.
#[tokio::test]
async fn pkce_02_code_challenge_method_must_be_s256() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let valid = TestGateway::authorize_params(&client_id, &[]);
    let mut cases = vec![
        ("omitted", without(&valid, "code_challenge_method")),
        ("empty", with(&valid, "code_challenge_method", "")),
    ];
    for method in ["plain", "s256", "S512", "SHA256", "S256 "] {
        cases.push((method, with(&valid, "code_challenge_method", method)));
    }
    for (case, params) in cases {
        let response = gw.authorize(&gw.browser(), &params).await;
        let callback =
            assert_error_redirect(&gw, response, REDIRECT, "invalid_request", Some("xyz")).await;
        assert!(
            callback
                .error_description
                .unwrap()
                .contains("code_challenge_method"),
            "{case}: the description should name code_challenge_method"
        );
    }

    let response = gw.authorize(&gw.browser(), &valid).await;
    assert_sent_to_login(&gw, &response);
}

/// PKCE-03 (RFC 7636 §4.2, OAuth 2.1 §4.1.1): an S256 challenge is exactly 43 base64url
/// characters without padding; anything else is `invalid_request`.
#[tokio::test]
async fn pkce_03_malformed_code_challenge_is_invalid_request_redirect() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let valid = TestGateway::authorize_params(&client_id, &[]);
    let padded = format!("{CHALLENGE}=");
    let long = format!("{CHALLENGE}A");
    let plus = CHALLENGE.replace('-', "+");
    let slash = CHALLENGE.replace('-', "/");
    let dot = CHALLENGE.replace('-', ".");
    let space = CHALLENGE.replace('-', " ");
    for bad in [
        &CHALLENGE[..42],
        padded.as_str(),
        long.as_str(),
        plus.as_str(),
        slash.as_str(),
        dot.as_str(),
        space.as_str(),
        VERIFIER.get(..40).unwrap(),
        &"a".repeat(128),
    ] {
        let params = with(&valid, "code_challenge", bad);
        let response = gw.authorize(&gw.browser(), &params).await;
        let callback =
            assert_error_redirect(&gw, response, REDIRECT, "invalid_request", Some("xyz")).await;
        assert!(
            !callback.location.contains(bad),
            "{bad}: the challenge is echoed"
        );
    }
}

/// AUTHZ-01 (OAuth 2.1 §3.1): a parameter sent more than once is `invalid_request`, even with
/// the same value; a repeated `state` cannot be echoed, so the redirect has none.
#[tokio::test]
async fn authz_01_repeated_parameter_is_invalid_request_redirect() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let valid = TestGateway::authorize_params(&client_id, &[]);
    for (name, value, state) in [
        ("state", "xyz", None),
        ("state", "other", None),
        ("code_challenge", CHALLENGE, Some("xyz")),
        ("response_type", "code", Some("xyz")),
        ("code_challenge_method", "S256", Some("xyz")),
        ("scope", "mcp", Some("xyz")),
    ] {
        let mut params = valid.clone();
        params.push((name, value));
        if name == "scope" {
            params.push((name, value));
        }
        let response = gw.authorize(&gw.browser(), &params).await;
        let callback =
            assert_error_redirect(&gw, response, REDIRECT, "invalid_request", state).await;
        assert!(
            callback.error_description.unwrap().contains(name),
            "the description should name {name}"
        );
    }
}

/// AUTHZ-01 (OAuth 2.1 §3.1): unknown parameters (`prompt=consent`, `foo=bar`) and
/// empty-valued parameters are ignored; the request is accepted and the login completes.
#[tokio::test]
async fn authz_01_unknown_and_empty_parameters_are_ignored() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let params = TestGateway::authorize_params(
        &client_id,
        &[
            ("prompt", "consent"),
            ("foo", "bar"),
            ("nonce", "n-0S6_WzA2Mj"),
            ("scope", ""),
            ("resource", ""),
            ("login_hint", ""),
        ],
    );
    let response = gw.authorize(&gw.browser(), &params).await;
    assert_sent_to_login(&gw, &response);
    let callback = gw.obtain_code(&params, ALICE).await;
    assert!(callback.code.is_some());
    for name in ["prompt", "foo", "nonce"] {
        assert!(
            !callback.counts.contains_key(name),
            "{name} is echoed: {}",
            callback.location
        );
    }

    // An empty `state` is no state: nothing is echoed.
    let params = with(&params, "state", "");
    let callback = gw.obtain_code(&params, ALICE).await;
    assert!(callback.code.is_some());
    assert!(
        !callback.counts.contains_key("state"),
        "{}",
        callback.location
    );
}

/// AUTHZ-13 (RFC 6749 §3.3, OAuth 2.1 §1.4.1): the gateway defines one scope; an absent, empty,
/// known or unknown `scope` is accepted (the token response reports what was granted).
#[tokio::test]
async fn authz_13_scope_absent_empty_or_unknown_is_accepted() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    for scope in [
        None,
        Some(""),
        Some("mcp"),
        Some("openid profile"),
        Some("admin"),
    ] {
        let mut extra = vec![];
        if let Some(scope) = scope {
            extra.push(("scope", scope));
        }
        let params = TestGateway::authorize_params(&client_id, &extra);
        let response = gw.authorize(&gw.browser(), &params).await;
        assert_sent_to_login(&gw, &response);
    }
}

/// AUD-04 (RFC 8707 §2): a `resource` that is not one of this gateway's agents (unknown agent,
/// other host, fragment, query, relative, wrong path) is `invalid_target` by redirect.
#[tokio::test]
async fn aud_04_unknown_or_malformed_resource_is_invalid_target_redirect() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let research = gw.agent_url(RESEARCH);
    let bad = [
        gw.agent_url("nobody-agent"),
        gw.agent_url("Research-Agent"),
        research.replace("127.0.0.1", "other.example"),
        "https://other.example/research-agent/mcp".to_owned(),
        format!("{research}#frag"),
        format!("{research}?x=1"),
        format!("{research}/"),
        gw.url("/research-agent"),
        gw.url("/oauth/token"),
        "/research-agent/mcp".to_owned(),
        "research-agent".to_owned(),
        research.replace("http://", "https://"),
        research.replace("http://", "http://user@"),
    ];
    for resource in &bad {
        let params = TestGateway::authorize_params(&client_id, &[("resource", resource)]);
        let response = gw.authorize(&gw.browser(), &params).await;
        assert_error_redirect(&gw, response, REDIRECT, "invalid_target", Some("xyz")).await;
    }
}

/// AUD-04 (RFC 8707 §2.1): only one resource per authorization; a repeated `resource` (even the
/// same agent twice) is `invalid_target`.
#[tokio::test]
async fn aud_04_repeated_resource_is_invalid_target_redirect() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let research = gw.agent_url(RESEARCH);
    let writer = gw.agent_url(WRITER);
    for second in [&research, &writer] {
        let params = TestGateway::authorize_params(
            &client_id,
            &[("resource", &research), ("resource", second)],
        );
        let response = gw.authorize(&gw.browser(), &params).await;
        assert_error_redirect(&gw, response, REDIRECT, "invalid_target", Some("xyz")).await;
    }
}

/// AUD-01 (RFC 8707 §2.1, MCP "Resource Parameter Implementation"): an agent's MCP URL is
/// accepted as `resource`, and the login page names that agent.
#[tokio::test]
async fn aud_01_agent_resource_is_accepted() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    for agent in [RESEARCH, WRITER, OPS] {
        let resource = gw.agent_url(agent);
        let params = TestGateway::authorize_params(&client_id, &[("resource", &resource)]);
        let browser = gw.browser();
        let response = gw.authorize(&browser, &params).await;
        assert_sent_to_login(&gw, &response);
        let page = gw.login_page(&browser, response).await;
        assert!(
            page.html.contains("your agent <strong>"),
            "{agent}: {}",
            page.html
        );
    }
}

/// AUD-06 (MCP "Canonical Server URI"): scheme and host of `resource` are compared
/// case-insensitively; the path is not.
#[tokio::test]
async fn aud_06_resource_scheme_case_insensitive() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let upper = gw.agent_url(RESEARCH).replace("http://", "HTTP://");
    let params = TestGateway::authorize_params(&client_id, &[("resource", &upper)]);
    let callback = gw.obtain_code(&params, ALICE).await;
    assert!(callback.code.is_some(), "{}", callback.location);

    let upper_path = gw.agent_url(RESEARCH).replace("/mcp", "/MCP");
    let params = TestGateway::authorize_params(&client_id, &[("resource", &upper_path)]);
    let response = gw.authorize(&gw.browser(), &params).await;
    assert_error_redirect(&gw, response, REDIRECT, "invalid_target", Some("xyz")).await;
}

/// AUD-06 (MCP "Canonical Server URI"): with a gateway whose issuer is a host name
/// (`http://localhost:{port}`), an upper-case host in `resource` is accepted.
#[tokio::test]
async fn aud_06_resource_host_case_insensitive() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let config = Config::validate(
        demo_config(),
        &Overrides {
            issuer: Some(base.clone()),
            jwt_secret: None,
        },
    )
    .unwrap();
    let store = Arc::new(MemoryStore::new(config.limits.clone()));
    let state = AppState::new(config, Arc::new(ManualClock::starting_now()), store).unwrap();
    let (_shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        serve(listener, state, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let registered: Value = browser
        .post(format!("{base}/oauth/register"))
        .json(&json!({ "redirect_uris": [REDIRECT] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = registered["client_id"].as_str().unwrap();

    for (resource, accepted) in [
        (format!("{base}/research-agent/mcp"), true),
        (format!("{}/research-agent/mcp", base.to_uppercase()), true),
        (
            format!(
                "{}/research-agent/mcp",
                base.replace("localhost", "LocalHost")
            ),
            true,
        ),
        (base.to_uppercase(), true),
        (format!("{}/RESEARCH-AGENT/MCP", base.to_uppercase()), false),
    ] {
        let params = TestGateway::authorize_params(client_id, &[("resource", &resource)]);
        let response = browser
            .get(format!("{base}/oauth/authorize?{}", form_encode(&params)))
            .send()
            .await
            .unwrap();
        let expected = if accepted {
            StatusCode::SEE_OTHER
        } else {
            StatusCode::FOUND
        };
        assert_eq!(response.status(), expected, "{resource}");
        let location = location(&response);
        if accepted {
            assert!(
                location.starts_with(&format!("{base}/oauth/login?request_id=")),
                "{resource}: {location}"
            );
        } else {
            let callback = Callback::from_location(&location);
            assert_eq!(
                callback.error.as_deref(),
                Some("invalid_target"),
                "{location}"
            );
        }
    }
}

/// AUD-06 / AUD-01 (MCP "Canonical Server URI", RFC 9728 root `resource`): the gateway origin,
/// with or without a trailing slash, is accepted as a gateway-wide resource (`src/resource.rs`).
#[tokio::test]
async fn aud_06_gateway_origin_resource_with_or_without_slash_is_accepted() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let with_slash = format!("{}/", gw.base);
    let upper = gw.base.replace("http://", "HTTP://");
    for resource in [gw.base.as_str(), with_slash.as_str(), upper.as_str()] {
        let params = TestGateway::authorize_params(&client_id, &[("resource", resource)]);
        let browser = gw.browser();
        let response = gw.authorize(&browser, &params).await;
        let page = gw.login_page(&browser, response).await;
        assert!(
            page.html.contains("your agents"),
            "{resource}: {}",
            page.html
        );
    }
}

/// AUD-05 (RFC 8707 §2.1, policy in `src/jwt.rs`/`src/bearer.rs`): an omitted `resource` is
/// accepted; the grant then has no audience and covers the user's own agents.
#[tokio::test]
async fn aud_05_resource_omitted_is_accepted() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let params = TestGateway::authorize_params(&client_id, &[]);
    let browser = gw.browser();
    let response = gw.authorize(&browser, &params).await;
    let page = gw.login_page(&browser, response).await;
    assert!(page.html.contains("your agents"), "{}", page.html);
    let callback = gw.obtain_code(&params, ALICE).await;
    assert!(callback.code.is_some());
}

/// Issue 2 "Authorize" success, AUTHZ-12 (MCP security best practices "Consent Cookie
/// Security"): a valid request is a `303` to the login page carrying only a `request_id`, with an
/// `HttpOnly; SameSite=Lax; Path=/oauth` cookie and `Cache-Control: no-store`; nothing of the
/// request (state, challenge, client, redirect) travels in the login URL.
#[tokio::test]
async fn authz_12_valid_request_goes_to_login_page_with_browser_cookie() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let resource = gw.agent_url(RESEARCH);
    let params =
        TestGateway::authorize_params(&client_id, &[("resource", &resource), ("scope", "mcp")]);
    let params = with(&params, "state", "state-value-42");
    let response = gw.authorize(&gw.browser(), &params).await;
    let login_url = assert_sent_to_login(&gw, &response);
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");

    let cookies: Vec<String> = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let attributes: Vec<String> = cookies[0]
        .split(';')
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for attribute in ["httponly", "samesite=lax", "path=/oauth"] {
        assert!(
            attributes.iter().any(|a| a == attribute),
            "{attribute} missing in {}",
            cookies[0]
        );
    }

    let query = login_url.split_once('?').unwrap().1;
    let pairs = parse_query(query);
    assert_eq!(pairs.len(), 1, "{login_url}");
    assert_eq!(pairs[0].0, "request_id");
    let request_id = &pairs[0].1;
    assert!(request_id.len() >= 22, "{request_id}");
    for leaked in [
        "state-value-42",
        CHALLENGE,
        client_id.as_str(),
        "localhost",
        "research-agent",
    ] {
        assert!(!login_url.contains(leaked), "{leaked} in {login_url}");
    }

    // A second request from the same browser keeps the same browser id, with a fresh request id;
    // the cookie is set again so that it outlives the new pending request.
    let browser = gw.browser();
    let first = gw.authorize(&browser, &params).await;
    let first_url = assert_sent_to_login(&gw, &first);
    let first_cookie = cookie_value(&first);
    let second = gw.authorize(&browser, &params).await;
    let second_url = assert_sent_to_login(&gw, &second);
    assert_ne!(first_url, second_url);
    assert_eq!(
        cookie_value(&second),
        first_cookie,
        "same browser id, refreshed"
    );
}

/// The `name=value` part of the response's `Set-Cookie`.
fn cookie_value(response: &reqwest::Response) -> String {
    let header = response
        .headers()
        .get(SET_COOKIE)
        .expect("Set-Cookie on every authorization redirect")
        .to_str()
        .unwrap();
    header.split(';').next().unwrap().to_owned()
}

/// Issue 2 "Authorize" ("a server-side pending-request id (it expires)"): the pending request
/// lives 600 s; after that the login page is an error page (400), with no redirect.
#[tokio::test]
async fn authz_12_pending_request_expires_after_ten_minutes() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let params = TestGateway::authorize_params(&client_id, &[]);
    let browser = gw.browser();
    let response = gw.authorize(&browser, &params).await;
    let login_url = assert_sent_to_login(&gw, &response);

    gw.advance(599);
    let page = browser.get(&login_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "still valid at 599 s");

    gw.advance(2);
    let page = browser.get(&login_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.headers().get(LOCATION).is_none());
    let body = page.text().await.unwrap();
    assert!(body.contains("expired"), "{body}");
    assert!(!body.contains("name=\"csrf_token\""), "{body}");
}

/// AUTHZ-11 (OAuth 2.1 §3.1): no CORS on the authorization endpoint, neither on a GET with an
/// `Origin` (accepted or erroring) nor on a preflight.
#[tokio::test]
async fn authz_11_no_cors_on_authorize() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let valid = TestGateway::authorize_params(&client_id, &[]);
    let invalid = with(&valid, "response_type", "token");
    for origin in ["http://localhost:6274", "https://evil.example", "null"] {
        for params in [&valid, &invalid] {
            let response = gw
                .browser()
                .get(gw.authorize_url(params))
                .header(ORIGIN, origin)
                .send()
                .await
                .unwrap();
            assert!(
                matches!(response.status(), StatusCode::SEE_OTHER | StatusCode::FOUND),
                "{}",
                response.status()
            );
            for (name, _) in response.headers() {
                assert!(
                    !name.as_str().starts_with("access-control-"),
                    "{name} on /oauth/authorize for {origin}"
                );
            }
        }
        let preflight = gw
            .http
            .request(Method::OPTIONS, gw.authorize_url(&valid))
            .header(ORIGIN, origin)
            .header("Access-Control-Request-Method", "GET")
            .send()
            .await
            .unwrap();
        assert!(
            preflight
                .headers()
                .get(ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none(),
            "preflight allowed for {origin}"
        );
        assert!(
            !preflight.status().is_success(),
            "preflight status {}",
            preflight.status()
        );
    }
}

/// AUTHZ-01 with bounded storage (config::MAX_STATE_LENGTH): a `state` longer than 2048 bytes is
/// refused by redirect with `invalid_request` and parks nothing; 2048 bytes are accepted.
#[tokio::test]
async fn authz_01_state_is_bounded() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let long = "s".repeat(2049);
    let mut params = TestGateway::authorize_params(&client_id, &[]);
    params.retain(|(name, _)| *name != "state");
    params.push(("state", &long));
    let response = gw.authorize(&gw.browser(), &params).await;
    assert_error_redirect(&gw, response, REDIRECT, "invalid_request", Some(&long)).await;
    assert_eq!(gw.store.sizes().pending, 0);

    let fits = "s".repeat(2048);
    let mut params = TestGateway::authorize_params(&client_id, &[]);
    params.retain(|(name, _)| *name != "state");
    params.push(("state", &fits));
    let response = gw.authorize(&gw.browser(), &params).await;
    assert_sent_to_login(&gw, &response);
}

/// AUTHZ-03/AUTHZ-04: the loopback port exception compares parsed components, so a raw string
/// that a URL parser reads as another path (`\` is `/` to WHATWG parsers) or another host does not
/// match, and the browser is never sent there.
#[tokio::test]
async fn authz_04_loopback_exception_is_not_fooled_by_backslashes() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&["http://localhost/callback"]).await;
    for bad in [
        "http://localhost:5555\\x/callback",
        "http://localhost:5555\\@evil.example/callback",
        "http://localhost:5555/./callback",
    ] {
        let params = [
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", bad),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "xyz"),
        ];
        let response = gw.authorize(&gw.browser(), &params).await;
        assert_error_page_without_redirect(response, bad).await;
    }
}

/// Bounded pending logins: each client IP may start `limits.authorizations_per_minute`
/// authorizations a minute; the next gets a 429 page with `Retry-After` and no redirect.
#[tokio::test]
async fn authz_authorization_requests_are_rate_limited_per_ip() {
    let gw = TestGateway::start_with(|raw| raw.limits.authorizations_per_minute = 2).await;
    let client_id = gw.register(&[REDIRECT]).await;
    let params = TestGateway::authorize_params(&client_id, &[]);
    for _ in 0..2 {
        let response = gw.authorize(&gw.browser(), &params).await;
        assert_sent_to_login(&gw, &response);
    }
    let response = gw.authorize(&gw.browser(), &params).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get(LOCATION).is_none());
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert_eq!(gw.store.sizes().pending, 2);
}
