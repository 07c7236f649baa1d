//! The login page, `GET`/`POST /oauth/login` (AUTHZ-07..10, AUTHZ-12, PKCE-07).
//!
//! What is checked here:
//! - the page names the client (HTML-escaped), the redirect host and the requested agent, has the
//!   username/password form with a CSRF token and a Deny button, and cannot be framed or cached;
//! - a successful login is a `303` to the validated `redirect_uri` with a fresh, unguessable
//!   `code`, the byte-exact `state` and `iss`, each once; Deny is `error=access_denied`;
//! - the request is single-use, bound to the browser that started it and to its CSRF token,
//!   survives at most `MAX_LOGIN_FAILURES` (5) failed passwords, is rate-limited per IP, answers
//!   wrong passwords and unknown users identically, and lets only the agent's owner approve.
//!
//! Code TTL and redemption are in `token.rs`; the authorization request itself in `authorize.rs`.

use std::collections::BTreeMap;

use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

/// The demo users' wrong password.
const WRONG: &str = "not-the-password";

/// Registers a client for `REDIRECT`, starts an authorization in a fresh browser with `extra`
/// parameters, and opens the login page.
async fn open_login(
    gw: &TestGateway,
    extra: &[(&str, &str)],
) -> (String, reqwest::Client, LoginPage) {
    let client_id = gw.register(&[REDIRECT]).await;
    let browser = gw.browser();
    let page = {
        let params = TestGateway::authorize_params(&client_id, extra);
        let response = gw.authorize(&browser, &params).await;
        gw.login_page(&browser, response).await
    };
    (client_id, browser, page)
}

/// Asserts an HTML error page with `status`, no `Location` (so no code and no redirect), and no
/// login form. Returns the page.
async fn assert_error_page(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    assert!(
        response.headers().get(LOCATION).is_none(),
        "unexpected redirect: {:?}",
        response.headers().get(LOCATION)
    );
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let body = response.text().await.unwrap();
    assert!(body.contains("Authorization error"), "{body}");
    assert!(!body.contains("name=\"csrf_token\""), "{body}");
    body
}

/// Asserts the login page re-rendered with `status` and an explanation containing `message`,
/// without redirect. Returns the page.
async fn assert_login_rerendered(response: Response, status: StatusCode, message: &str) -> String {
    assert_eq!(response.status(), status);
    assert!(
        response.headers().get(LOCATION).is_none(),
        "unexpected redirect: {:?}",
        response.headers().get(LOCATION)
    );
    let body = response.text().await.unwrap();
    assert!(body.contains(message), "{message:?} not in {body}");
    assert!(body.contains("name=\"password\""), "{body}");
    body
}

/// The callback of a `303` back to the client, checked to go to `redirect_uri` (its own query
/// kept), with exactly the parameters `names`, each once, and `iss == issuer`.
fn callback_303(
    gw: &TestGateway,
    response: &Response,
    redirect_uri: &str,
    names: &[&str],
) -> Callback {
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "after the login POST the redirect must be 303 (never 307)"
    );
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    let callback = Callback::from_location(&location(response));
    let prefix = if redirect_uri.contains('?') {
        format!("{redirect_uri}&")
    } else {
        format!("{redirect_uri}?")
    };
    assert!(
        callback.location.starts_with(&prefix),
        "{} is not {redirect_uri}",
        callback.location
    );
    let mut expected: BTreeMap<String, usize> =
        names.iter().map(|name| ((*name).to_owned(), 1)).collect();
    if let Some((_, query)) = redirect_uri.split_once('?') {
        for (name, _) in parse_query(query) {
            *expected.entry(name).or_default() += 1;
        }
    }
    assert_eq!(callback.counts, expected, "{}", callback.location);
    assert_eq!(callback.iss.as_deref(), Some(gw.base.as_str()), "iss");
    callback
}

/// `GET url` with `browser`.
async fn get(browser: &reqwest::Client, url: &str) -> Response {
    browser.get(url).send().await.unwrap()
}

/// AUTHZ-12 (MCP security best practices "Consent UI Requirements"): the login page is a real
/// HTML page naming the client and the host the code will go to, with username/password inputs,
/// the hidden `request_id` and `csrf_token`, and a Deny button.
#[tokio::test]
async fn authz_12_login_page_names_client_and_redirect_host_and_has_the_form() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let browser = gw.browser();
    let params = TestGateway::authorize_params(&client_id, &[]);
    let authorize = gw.authorize(&browser, &params).await;
    let login_url = location(&authorize);
    let response = get(&browser, &login_url).await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = response.text().await.unwrap();

    assert!(html.contains("test client"), "client name missing: {html}");
    assert!(html.contains(&client_id), "client id missing: {html}");
    assert!(
        html.contains("localhost:5173"),
        "redirect host missing: {html}"
    );
    assert!(html.contains("your agents"), "{html}");
    assert!(
        html.contains("<form method=\"post\" action=\"/oauth/login\""),
        "{html}"
    );
    assert!(html.contains("name=\"username\""), "{html}");
    assert!(
        html.contains("type=\"password\" name=\"password\""),
        "{html}"
    );
    assert!(
        html.contains("type=\"hidden\" name=\"request_id\""),
        "{html}"
    );
    assert!(
        html.contains("type=\"hidden\" name=\"csrf_token\""),
        "{html}"
    );
    assert!(html.contains("name=\"action\" value=\"deny\""), "{html}");
    assert!(html.contains(">Deny<"), "{html}");

    let request_id = hidden_field(&html, "request_id").unwrap();
    let csrf_token = hidden_field(&html, "csrf_token").unwrap();
    assert_eq!(
        login_url,
        gw.url(&format!("/oauth/login?request_id={request_id}"))
    );
    assert!(csrf_token.len() >= 22, "{csrf_token}");
    assert_ne!(csrf_token, request_id);
    // Nothing of the authorization request that the client controls beyond its name is shown as
    // a link, and the PKCE challenge is not in the page.
    assert!(!html.contains(CHALLENGE), "{html}");
    assert!(!html.contains("href"), "{html}");
}

/// AUTHZ-12 (MCP security best practices "Consent UI Requirements", OAuth 2.1 §7.5): the login
/// page cannot be framed (`X-Frame-Options: DENY`, CSP `frame-ancestors 'none'`) nor cached.
#[tokio::test]
async fn authz_12_login_page_forbids_framing_and_caching() {
    let gw = TestGateway::start().await;
    let (_, browser, page) = open_login(&gw, &[]).await;
    let response = get(&browser, &page.url).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers["x-frame-options"], "DENY");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers[CACHE_CONTROL], "no-store");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(headers.get("access-control-allow-origin").is_none());

    // A re-rendered page (failed password) keeps the protections.
    let response = gw
        .submit_login(
            &browser,
            &page,
            &[("username", ALICE.0), ("password", WRONG)],
        )
        .await;
    let headers = response.headers();
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(headers[CACHE_CONTROL], "no-store");
}

/// AUTHZ-12 (MCP security best practices "Consent UI Requirements"): when the client asked for
/// one agent (`resource`), the page names that agent.
#[tokio::test]
async fn authz_12_login_page_names_the_requested_agent() {
    let gw = TestGateway::start().await;
    let resource = gw.agent_url(RESEARCH);
    let (_, _, page) = open_login(&gw, &[("resource", &resource)]).await;
    assert!(
        [
            "Alice's research agent",
            "Alice&#39;s research agent",
            "Alice&#x27;s research agent"
        ]
        .iter()
        .any(|name| page.html.contains(name)),
        "{}",
        page.html
    );
    assert!(!page.html.contains("your agents"), "{}", page.html);
    assert!(!page.html.contains("writer agent"), "{}", page.html);
}

/// AUTHZ-12 (MCP security best practices "Consent UI Requirements"): the client name is chosen by
/// whoever registered the client; it is HTML-escaped, never rendered as markup.
#[tokio::test]
async fn authz_12_client_name_is_html_escaped() {
    let gw = TestGateway::start().await;
    let response = gw
        .register_json(json!({
            "client_name": "<script>alert(1)</script>",
            "redirect_uris": [REDIRECT],
        }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let client_id = body["client_id"].as_str().unwrap();
    let browser = gw.browser();
    let params = TestGateway::authorize_params(client_id, &[]);
    let authorize = gw.authorize(&browser, &params).await;
    let page = gw.login_page(&browser, authorize).await;
    assert!(!page.html.contains("<script"), "{}", page.html);
    assert!(
        page.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        page.html
    );
}

/// AUTHZ-07, AUTHZ-09 (OAuth 2.1 §4.1.2, §7.5.3; RFC 9207 §2): a successful login is a `303`
/// (never `307`) to the `redirect_uri` with `code`, the byte-exact `state` (URL-special and
/// non-ASCII characters included) and `iss` equal to the metadata `issuer`, each exactly once.
#[tokio::test]
async fn authz_07_login_success_redirects_303_with_code_exact_state_and_iss() {
    let gw = TestGateway::start().await;
    let state = "a b&c=d/é?#+%";
    let client_id = gw.register(&[REDIRECT]).await;
    let params = TestGateway::authorize_params(&client_id, &[("state", state)]);
    let params: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|&(name, value)| !(name == "state" && value == "xyz"))
        .collect();
    let browser = gw.browser();
    let authorize = gw.authorize(&browser, &params).await;
    let page = gw.login_page(&browser, authorize).await;
    let response = gw
        .submit_login(
            &browser,
            &page,
            &[
                ("username", ALICE.0),
                ("password", ALICE.1),
                ("action", "approve"),
            ],
        )
        .await;
    let callback = callback_303(&gw, &response, REDIRECT, &["code", "state", "iss"]);
    assert_eq!(callback.state.as_deref(), Some(state));

    let metadata: Value = gw
        .http
        .get(gw.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(callback.iss.as_deref(), metadata["issuer"].as_str());

    let query = callback.location.split_once('?').unwrap().1;
    let pairs: Vec<Value> = parse_query(query)
        .into_iter()
        .map(|(name, value)| {
            let value = if name == "code" {
                "[code]".to_owned()
            } else {
                value
            };
            json!([name, value])
        })
        .collect();
    insta::assert_json_snapshot!(gw.normalize(&json!(pairs)), @r#"
    [
      [
        "code",
        "[code]"
      ],
      [
        "state",
        "a b&c=d/é?#+%"
      ],
      [
        "iss",
        "http://gateway.test"
      ]
    ]
    "#);
}

/// AUTHZ-10, PKCE-07 (OAuth 2.1 §4.1.2, §7.5.1; RFC 7636 §4.4): the code has at least 128 bits
/// of entropy (≥ 22 base64url characters) and the redirect reveals neither the challenge nor any
/// other part of the grant.
#[tokio::test]
async fn authz_10_code_is_unguessable_and_redirect_has_no_challenge() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let resource = gw.agent_url(RESEARCH);
    let params = TestGateway::authorize_params(&client_id, &[("resource", &resource)]);
    let callback = gw.obtain_code(&params, ALICE).await;
    let code = callback.code.clone().unwrap();
    assert!(code.len() >= 22, "{code}");
    assert!(
        code.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{code}"
    );
    for leaked in [
        CHALLENGE,
        VERIFIER,
        "S256",
        "alice",
        "research-agent",
        client_id.as_str(),
    ] {
        assert!(
            !callback.location.contains(leaked),
            "{leaked} in {}",
            callback.location
        );
    }
}

/// AUTHZ-07 (OAuth 2.1 §4.1.2): a registered redirect URI with its own query keeps it; the
/// gateway's parameters are appended.
#[tokio::test]
async fn authz_07_redirect_uri_query_is_kept() {
    let gw = TestGateway::start().await;
    let registered = "http://localhost:5173/callback?tenant=a&x=%2F";
    let client_id = gw.register(&[registered]).await;
    let params = TestGateway::authorize_params(&client_id, &[("redirect_uri", registered)]);
    let params: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|&(name, value)| !(name == "redirect_uri" && value == REDIRECT))
        .collect();
    let browser = gw.browser();
    let authorize = gw.authorize(&browser, &params).await;
    let page = gw.login_page(&browser, authorize).await;
    let response = gw
        .submit_login(
            &browser,
            &page,
            &[("username", ALICE.0), ("password", ALICE.1)],
        )
        .await;
    let callback = callback_303(&gw, &response, registered, &["code", "state", "iss"]);
    assert!(callback.code.is_some());
    assert_eq!(callback.state.as_deref(), Some("xyz"));
}

/// AUTHZ-08 (OAuth 2.1 §4.1.2.1): Deny is a `303` to the `redirect_uri` with
/// `error=access_denied`, `error_description`, `state` and `iss`, no code; the pending request is
/// gone afterwards.
#[tokio::test]
async fn authz_08_deny_redirects_access_denied_and_ends_the_request() {
    let gw = TestGateway::start().await;
    let (_, browser, page) = open_login(&gw, &[]).await;
    let response = gw
        .submit_login(&browser, &page, &[("action", "deny")])
        .await;
    let callback = callback_303(
        &gw,
        &response,
        REDIRECT,
        &["error", "error_description", "state", "iss"],
    );
    assert_eq!(callback.error.as_deref(), Some("access_denied"));
    assert_eq!(callback.state.as_deref(), Some("xyz"));
    assert!(callback.code.is_none());

    // The request cannot be approved or denied again, nor shown.
    let again = gw
        .submit_login(
            &browser,
            &page,
            &[("username", ALICE.0), ("password", ALICE.1)],
        )
        .await;
    assert_error_page(again, StatusCode::BAD_REQUEST).await;
    let again = gw
        .submit_login(&browser, &page, &[("action", "deny")])
        .await;
    assert_error_page(again, StatusCode::BAD_REQUEST).await;
    assert_error_page(get(&browser, &page.url).await, StatusCode::BAD_REQUEST).await;
}

/// AUTHZ-12 (OWASP authentication, no user enumeration): a wrong password and an unknown user get
/// the same page with the same status, and neither redirects; the request survives, so the right
/// password then works.
#[tokio::test]
async fn authz_12_wrong_password_and_unknown_user_are_indistinguishable() {
    let gw = TestGateway::start().await;
    let (_, browser, page) = open_login(&gw, &[]).await;
    let mut pages = vec![];
    for (username, password) in [
        (ALICE.0, WRONG),
        ("mallory", WRONG),
        ("mallory", ALICE.1),
        (BOB.0, ALICE.1),
    ] {
        let response = gw
            .submit_login(
                &browser,
                &page,
                &[("username", username), ("password", password)],
            )
            .await;
        let html =
            assert_login_rerendered(response, StatusCode::OK, "Invalid username or password").await;
        assert!(
            !html.contains(&format!("value=\"{username}\"")) && !html.contains("mallory"),
            "{username} echoed: {html}"
        );
        pages.push(html);
    }
    assert!(pages.iter().all(|html| *html == pages[0]), "{pages:#?}");

    let response = gw
        .submit_login(
            &browser,
            &page,
            &[("username", ALICE.0), ("password", ALICE.1)],
        )
        .await;
    let callback = callback_303(&gw, &response, REDIRECT, &["code", "state", "iss"]);
    assert!(callback.code.is_some());
}

/// AUTHZ-12 (guide "failed attempts limited"; `MAX_LOGIN_FAILURES` = 5): four failures re-render
/// the page; the fifth burns the request with a `303 error=access_denied` (state, iss, no code);
/// the right password afterwards gets an error page, not a code.
#[tokio::test]
async fn authz_12_five_failed_logins_burn_the_request() {
    let gw = TestGateway::start().await;
    let (_, browser, page) = open_login(&gw, &[]).await;
    for _ in 0..4 {
        let response = gw
            .submit_login(
                &browser,
                &page,
                &[("username", ALICE.0), ("password", WRONG)],
            )
            .await;
        assert_login_rerendered(response, StatusCode::OK, "Invalid username or password").await;
    }
    let response = gw
        .submit_login(
            &browser,
            &page,
            &[("username", ALICE.0), ("password", WRONG)],
        )
        .await;
    let callback = callback_303(
        &gw,
        &response,
        REDIRECT,
        &["error", "error_description", "state", "iss"],
    );
    assert_eq!(callback.error.as_deref(), Some("access_denied"));
    assert_eq!(callback.state.as_deref(), Some("xyz"));
    assert!(callback.code.is_none());

    let response = gw
        .submit_login(
            &browser,
            &page,
            &[("username", ALICE.0), ("password", ALICE.1)],
        )
        .await;
    assert_error_page(response, StatusCode::BAD_REQUEST).await;
}

/// AUTHZ-12 (guide "failed attempts limited"; RFC 6585 §4): login submissions are rate-limited
/// per client IP; over `limits.logins_per_minute` the answer is `429` with `Retry-After`, even for
/// the right password, and no code.
#[tokio::test]
async fn authz_12_login_attempts_are_rate_limited_per_ip() {
    let gw = TestGateway::start_with(|raw| raw.limits.logins_per_minute = 2).await;
    let (_, browser, page) = open_login(&gw, &[]).await;
    for _ in 0..2 {
        let response = gw
            .submit_login(
                &browser,
                &page,
                &[("username", ALICE.0), ("password", WRONG)],
            )
            .await;
        assert_login_rerendered(response, StatusCode::OK, "Invalid username or password").await;
    }
    let response = gw
        .submit_login(
            &browser,
            &page,
            &[("username", ALICE.0), ("password", ALICE.1)],
        )
        .await;
    let retry_after: u64 = response
        .headers()
        .get(RETRY_AFTER)
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_login_rerendered(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many sign-in attempts",
    )
    .await;

    // The limit is per IP, not per request: a new request from the same address is limited too.
    let (_, browser, page) = open_login(&gw, &[]).await;
    let response = gw
        .submit_login(
            &browser,
            &page,
            &[("username", ALICE.0), ("password", ALICE.1)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get(LOCATION).is_none());
}

/// AUTHZ-12 (OAuth 2.1 §7.5.3 CSRF; MCP security best practices "Consent UI Requirements"): the
/// form must carry the CSRF token of its own pending request; missing, wrong or another request's
/// token is `403` with no redirect and no code. The request survives: the right token works.
#[tokio::test]
async fn authz_12_csrf_token_missing_or_wrong_is_403() {
    let gw = TestGateway::start().await;
    let (client_id, browser, page) = open_login(&gw, &[]).await;
    // A second pending request in the same browser, with its own token.
    let params = TestGateway::authorize_params(&client_id, &[]);
    let authorize = gw.authorize(&browser, &params).await;
    let other_page = gw.login_page(&browser, authorize).await;
    assert_ne!(other_page.csrf_token, page.csrf_token);

    let wrong = format!("{}x", page.csrf_token);
    for csrf in [
        None,
        Some(""),
        Some(wrong.as_str()),
        Some(&other_page.csrf_token),
    ] {
        let mut form = vec![
            ("request_id", page.request_id.as_str()),
            ("username", ALICE.0),
            ("password", ALICE.1),
        ];
        if let Some(csrf) = csrf {
            form.push(("csrf_token", csrf));
        }
        let response = browser
            .post(gw.url("/oauth/login"))
            .form(&form)
            .send()
            .await
            .unwrap();
        let body = assert_error_page(response, StatusCode::FORBIDDEN).await;
        assert!(body.contains("CSRF"), "{csrf:?}: {body}");
    }

    let response = gw
        .submit_login(
            &browser,
            &page,
            &[("username", ALICE.0), ("password", ALICE.1)],
        )
        .await;
    let callback = callback_303(&gw, &response, REDIRECT, &["code", "state", "iss"]);
    assert!(callback.code.is_some());
}

/// AUTHZ-12: an unknown, missing or forged `request_id` is a `400` error page, on the page and on
/// the form, with no redirect.
#[tokio::test]
async fn authz_12_unknown_request_id_is_400_error_page() {
    let gw = TestGateway::start().await;
    let (_, browser, page) = open_login(&gw, &[]).await;
    let forged = format!("{}x", page.request_id);
    for url in [
        gw.url("/oauth/login"),
        gw.url("/oauth/login?request_id="),
        gw.url("/oauth/login?request_id=unknown"),
        gw.url(&format!("/oauth/login?request_id={forged}")),
    ] {
        let body = assert_error_page(get(&browser, &url).await, StatusCode::BAD_REQUEST).await;
        assert!(body.contains("unknown"), "{url}: {body}");
    }
    for request_id in [None, Some("unknown"), Some(forged.as_str())] {
        let mut form = vec![
            ("csrf_token", page.csrf_token.as_str()),
            ("username", ALICE.0),
            ("password", ALICE.1),
        ];
        if let Some(id) = request_id {
            form.push(("request_id", id));
        }
        let response = browser
            .post(gw.url("/oauth/login"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_error_page(response, StatusCode::BAD_REQUEST).await;
    }
}

/// AUTHZ-12 (MCP security best practices "Consent Cookie Security"): the login is bound to the
/// browser that sent the authorization request; another browser (no cookie, or its own cookie)
/// gets `403` on the page and on the form, and no code. The original browser still can.
#[tokio::test]
async fn authz_12_login_is_bound_to_the_starting_browser() {
    let gw = TestGateway::start().await;
    let (client_id, browser, page) = open_login(&gw, &[]).await;

    let fresh = gw.browser();
    // A browser with a cookie of its own, from its own authorization request.
    let other = gw.browser();
    let params = TestGateway::authorize_params(&client_id, &[]);
    let own = gw.authorize(&other, &params).await;
    assert_eq!(own.status(), StatusCode::SEE_OTHER);

    for intruder in [&fresh, &other, &gw.http] {
        let body = assert_error_page(get(intruder, &page.url).await, StatusCode::FORBIDDEN).await;
        assert!(body.contains("browser"), "{body}");
        let response = gw
            .submit_login(
                intruder,
                &page,
                &[("username", ALICE.0), ("password", ALICE.1)],
            )
            .await;
        assert_error_page(response, StatusCode::FORBIDDEN).await;
        let response = gw
            .submit_login(intruder, &page, &[("action", "deny")])
            .await;
        assert_error_page(response, StatusCode::FORBIDDEN).await;
    }

    let response = gw
        .submit_login(
            &browser,
            &page,
            &[("username", ALICE.0), ("password", ALICE.1)],
        )
        .await;
    let callback = callback_303(&gw, &response, REDIRECT, &["code", "state", "iss"]);
    assert!(callback.code.is_some());
}

/// AUTHZ-10 (guide: an OAuth token works for agents its `sub` owns): a user who does not own the
/// requested agent cannot approve; the page explains it (`403`) and keeps the request, so the
/// owner can then sign in on the same page.
#[tokio::test]
async fn authz_10_only_the_agent_owner_can_approve() {
    let gw = TestGateway::start().await;
    let resource = gw.agent_url(RESEARCH);
    let (_, browser, page) = open_login(&gw, &[("resource", &resource)]).await;
    let response = gw
        .submit_login(&browser, &page, &[("username", BOB.0), ("password", BOB.1)])
        .await;
    let html = assert_login_rerendered(response, StatusCode::FORBIDDEN, "does not own").await;
    assert_eq!(
        hidden_field(&html, "request_id"),
        Some(page.request_id.clone())
    );
    assert_eq!(
        hidden_field(&html, "csrf_token"),
        Some(page.csrf_token.clone())
    );

    let response = gw
        .submit_login(
            &browser,
            &page,
            &[("username", ALICE.0), ("password", ALICE.1)],
        )
        .await;
    let callback = callback_303(&gw, &response, REDIRECT, &["code", "state", "iss"]);
    assert!(callback.code.is_some());

    // And the other way round: Alice cannot approve Bob's agent, Bob can.
    let ops = gw.agent_url(OPS);
    let (_, browser, page) = open_login(&gw, &[("resource", &ops)]).await;
    let response = gw
        .submit_login(
            &browser,
            &page,
            &[("username", ALICE.0), ("password", ALICE.1)],
        )
        .await;
    assert_login_rerendered(response, StatusCode::FORBIDDEN, "does not own").await;
    let response = gw
        .submit_login(&browser, &page, &[("username", BOB.0), ("password", BOB.1)])
        .await;
    let callback = callback_303(&gw, &response, REDIRECT, &["code", "state", "iss"]);
    assert!(callback.code.is_some());
}

/// AUTHZ-10 (OAuth 2.1 §4.1.2: codes are single-use; the pending request is handed to one
/// caller): posting the same successful form twice yields one code; the second post is an error
/// page.
#[tokio::test]
async fn authz_10_double_submit_yields_one_code() {
    let gw = TestGateway::start().await;
    let (_, browser, page) = open_login(&gw, &[]).await;
    let fields = [("username", ALICE.0), ("password", ALICE.1)];
    let first = gw.submit_login(&browser, &page, &fields).await;
    let callback = callback_303(&gw, &first, REDIRECT, &["code", "state", "iss"]);
    assert!(callback.code.is_some());

    let second = gw.submit_login(&browser, &page, &fields).await;
    assert_error_page(second, StatusCode::BAD_REQUEST).await;
}

/// AUTHZ-10 (OAuth 2.1 §4.1.2): every login issues a fresh code, even for the same client,
/// user, state and challenge.
#[tokio::test]
async fn authz_10_each_login_issues_a_fresh_code() {
    let gw = TestGateway::start().await;
    let client_id = gw.register(&[REDIRECT]).await;
    let params = TestGateway::authorize_params(&client_id, &[]);
    let mut codes = vec![];
    for _ in 0..3 {
        let callback = gw.obtain_code(&params, ALICE).await;
        codes.push(callback.code.unwrap());
    }
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 3, "{codes:?}");
}

/// AUTHZ-12 (OAuth 2.1 §7.12 "Open Redirection"): the login form has no "return to" value; fields
/// injected into the POST (`redirect_uri`, `state`, `client_id`) change nothing: the code goes to
/// the validated URI with the original state.
#[tokio::test]
async fn authz_12_injected_login_fields_do_not_redirect_elsewhere() {
    let gw = TestGateway::start().await;
    let (_, browser, page) = open_login(&gw, &[]).await;
    let response = gw
        .submit_login(
            &browser,
            &page,
            &[
                ("username", ALICE.0),
                ("password", ALICE.1),
                ("redirect_uri", "https://evil.example/cb"),
                ("state", "forged"),
                ("client_id", "other"),
            ],
        )
        .await;
    let callback = callback_303(&gw, &response, REDIRECT, &["code", "state", "iss"]);
    assert_eq!(callback.state.as_deref(), Some("xyz"));
    assert!(!callback.location.contains("evil"), "{}", callback.location);
}

/// Issue 2 "Authorize" (pending request expires): after 600 s the login form no longer issues a
/// code; the answer is an error page, not a redirect.
#[tokio::test]
async fn authz_12_expired_pending_request_issues_no_code() {
    let gw = TestGateway::start().await;
    let (_, browser, page) = open_login(&gw, &[]).await;
    gw.advance(601);
    let response = gw
        .submit_login(
            &browser,
            &page,
            &[("username", ALICE.0), ("password", ALICE.1)],
        )
        .await;
    assert_error_page(response, StatusCode::BAD_REQUEST).await;
}
