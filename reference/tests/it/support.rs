//! Test harness: a real reference gateway on `127.0.0.1:0` with a [`ManualClock`], a browser-like
//! HTTP client (cookies kept, redirects not followed), and helpers for each step of the guide's
//! flow. Everything goes over real HTTP, as a client would. [`TestGateway::start_with_test_clock`]
//! starts one as `serve --test-clock` does instead: an [`OffsetClock`] moved over
//! `/__test/clock`.
//!
//! The demo world is `fixtures/reference.toml`; its plaintext credentials are the constants below
//! (documented in `fixtures/README.md`).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mcp_gateway_reference::config::RawConfig;
use mcp_gateway_reference::{
    AppState, Config, ManualClock, MemoryStore, OffsetClock, Overrides, serve,
};
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// RFC 7636 Appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub const ALICE: (&str, &str) = ("alice", "alice-demo-password");
pub const BOB: (&str, &str) = ("bob", "bob-demo-password");
/// Alice owns `research-agent` and `writer-agent`; Bob owns `ops-agent`.
pub const RESEARCH: &str = "research-agent";
pub const WRITER: &str = "writer-agent";
pub const OPS: &str = "ops-agent";
pub const RESEARCH_KEY: &str = "bak_demoResearchAgentKey000000000001";
pub const WRITER_KEY: &str = "bak_demoWriterAgentKey00000000000002";
pub const OPS_KEY: &str = "bak_demoOpsAgentKey0000000000000003";
pub const ALICE_KEY: &str = "oag_demoAliceUserKey00000000000000001";
pub const BOB_KEY: &str = "oag_demoBobUserKey0000000000000000002";
pub const DEMO_JWT_SECRET: &str = "demo-only-hs256-secret-do-not-use-in-production";

pub const REDIRECT: &str = "http://localhost:5173/callback";

/// A running gateway; stopped when dropped.
pub struct TestGateway {
    /// The issuer, e.g. `http://127.0.0.1:40123` (no trailing slash).
    pub base: String,
    /// The gateway's clock, except on a gateway started with [`TestGateway::start_with_test_clock`]
    /// (whose clock is `test_clock`).
    pub clock: Arc<ManualClock>,
    /// The gateway's clock when started with [`TestGateway::start_with_test_clock`].
    pub test_clock: Option<Arc<OffsetClock>>,
    pub store: Arc<MemoryStore>,
    /// A plain API client: no cookies, no redirects followed.
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The demo world as written in `fixtures/reference.toml`.
pub fn demo_config() -> RawConfig {
    let text = std::fs::read_to_string(project_root().join("fixtures/reference.toml")).unwrap();
    toml::from_str(&text).unwrap()
}

impl TestGateway {
    /// The demo world.
    pub async fn start() -> TestGateway {
        TestGateway::start_with(|_| {}).await
    }

    /// The demo world, changed by `edit` first (limits, refresh tokens, …).
    pub async fn start_with(edit: impl FnOnce(&mut RawConfig)) -> TestGateway {
        let mut raw = demo_config();
        edit(&mut raw);
        TestGateway::start_config(raw, None).await
    }

    /// The demo world with the `/__test/clock` hook, as `serve --test-clock` runs it: the
    /// gateway's clock is an [`OffsetClock`] (wall time plus what the hook advanced).
    pub async fn start_with_test_clock() -> TestGateway {
        TestGateway::start_config(demo_config(), Some(Arc::new(OffsetClock::new()))).await
    }

    async fn start_config(raw: RawConfig, test_clock: Option<Arc<OffsetClock>>) -> TestGateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = Config::validate(
            raw,
            &Overrides {
                issuer: Some(base.clone()),
                jwt_secret: None,
            },
        )
        .unwrap();
        let clock = Arc::new(ManualClock::starting_now());
        let store = Arc::new(MemoryStore::new(config.limits.clone()));
        let state = match &test_clock {
            Some(test_clock) => {
                AppState::with_test_clock(config, test_clock.clone(), store.clone()).unwrap()
            }
            None => AppState::new(config, clock.clone(), store.clone()).unwrap(),
        };
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            serve(listener, state, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestGateway {
            base,
            clock,
            test_clock,
            store,
            http: client(false),
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `{base}/{agent}/mcp`
    pub fn agent_url(&self, agent: &str) -> String {
        format!("{}/{}/mcp", self.base, agent)
    }

    /// A fresh "browser": keeps cookies, does not follow redirects.
    pub fn browser(&self) -> reqwest::Client {
        client(true)
    }

    /// Moves the gateway's clock (in process; the test clock's HTTP hook is [`Self::clock_hook`]).
    pub fn advance(&self, secs: u64) {
        match &self.test_clock {
            Some(test_clock) => test_clock.advance(Duration::from_secs(secs)),
            None => self.clock.advance(Duration::from_secs(secs)),
        }
    }

    /// `POST /__test/clock` with `{"advance_seconds": secs}`; asserts `200` and returns the
    /// reading `{now, offset_seconds}`.
    pub async fn clock_hook(&self, secs: u64) -> Value {
        let response = self
            .http
            .post(self.url("/__test/clock"))
            .json(&json!({ "advance_seconds": secs }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "the test clock hook");
        response.json().await.unwrap()
    }

    /// `POST /oauth/register` with `body`.
    pub async fn register_json(&self, body: Value) -> Response {
        self.http
            .post(self.url("/oauth/register"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Registers a public client for `redirect_uris` and returns its `client_id`.
    pub async fn register(&self, redirect_uris: &[&str]) -> String {
        let response = self
            .register_json(json!({ "client_name": "test client", "redirect_uris": redirect_uris }))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        body["client_id"].as_str().unwrap().to_owned()
    }

    /// The authorization URL with `params` (query-encoded in order).
    pub fn authorize_url(&self, params: &[(&str, &str)]) -> String {
        let query: String = form_encode(params);
        format!("{}?{}", self.url("/oauth/authorize"), query)
    }

    /// The usual, valid authorization parameters for `client_id` (RFC 7636 App. B challenge,
    /// `state=xyz`), plus `extra` appended.
    pub fn authorize_params<'a>(
        client_id: &'a str,
        extra: &[(&'a str, &'a str)],
    ) -> Vec<(&'a str, &'a str)> {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "xyz"),
        ];
        params.extend_from_slice(extra);
        params
    }

    /// `GET /oauth/authorize?…` with `browser`.
    pub async fn authorize(&self, browser: &reqwest::Client, params: &[(&str, &str)]) -> Response {
        browser
            .get(self.authorize_url(params))
            .send()
            .await
            .unwrap()
    }

    /// Follows the 303 from `/oauth/authorize` to the login page and returns it.
    pub async fn login_page(&self, browser: &reqwest::Client, authorize: Response) -> LoginPage {
        assert_eq!(
            authorize.status(),
            StatusCode::SEE_OTHER,
            "authorize should send the browser to the login page"
        );
        let url = location(&authorize);
        assert!(url.starts_with(&self.url("/oauth/login?")), "{url}");
        let page = browser.get(&url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        LoginPage {
            url,
            request_id: hidden_field(&html, "request_id").unwrap(),
            csrf_token: hidden_field(&html, "csrf_token").unwrap(),
            html,
        }
    }

    /// Submits the login form with `fields` (request_id and csrf_token are added).
    pub async fn submit_login(
        &self,
        browser: &reqwest::Client,
        page: &LoginPage,
        fields: &[(&str, &str)],
    ) -> Response {
        let mut form = vec![
            ("request_id", page.request_id.as_str()),
            ("csrf_token", page.csrf_token.as_str()),
        ];
        form.extend_from_slice(fields);
        browser
            .post(self.url("/oauth/login"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Runs authorize + login as `user` and returns the redirect back to the client.
    pub async fn obtain_code(&self, params: &[(&str, &str)], user: (&str, &str)) -> Callback {
        let browser = self.browser();
        let authorize = self.authorize(&browser, params).await;
        let page = self.login_page(&browser, authorize).await;
        let response = self
            .submit_login(
                &browser,
                &page,
                &[("username", user.0), ("password", user.1)],
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "login should redirect back to the client"
        );
        Callback::from_location(&location(&response))
    }

    /// `POST /oauth/token` with a form body.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> Response {
        self.http
            .post(self.url("/oauth/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The whole flow for `user`: register, authorize (optionally for `resource`), login, exchange.
    pub async fn oauth_tokens(&self, user: (&str, &str), resource: Option<&str>) -> Tokens {
        let client_id = self.register(&[REDIRECT]).await;
        let resource_url = resource.map(|agent| self.agent_url(agent));
        let mut extra = vec![];
        if let Some(r) = &resource_url {
            extra.push(("resource", r.as_str()));
        }
        let params = TestGateway::authorize_params(&client_id, &extra);
        let callback = self.obtain_code(&params, user).await;
        let code = callback.code.clone().expect("a code");
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        if let Some(r) = &resource_url {
            form.push(("resource", r.as_str()));
        }
        let response = self.token_request(&form).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        Tokens {
            client_id,
            access_token: body["access_token"].as_str().unwrap().to_owned(),
            refresh_token: body["refresh_token"].as_str().map(str::to_owned),
            body,
        }
    }

    /// `POST /{agent}/mcp` with an optional bearer token and a JSON-RPC body.
    pub async fn mcp(&self, agent: &str, bearer: Option<&str>, body: Value) -> Response {
        let mut request = self.http.post(self.agent_url(agent)).json(&body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// `tools/call whoami` at `agent` with `bearer`; returns the structured result.
    pub async fn whoami(&self, agent: &str, bearer: &str) -> Value {
        let response = self
            .mcp(
                agent,
                Some(bearer),
                json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami"}}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["result"]["structuredContent"].clone()
    }

    /// Replaces the random base URL with `http://gateway.test`, for snapshots.
    pub fn normalize(&self, value: &Value) -> Value {
        let text = value.to_string().replace(&self.base, "http://gateway.test");
        serde_json::from_str(&text).unwrap()
    }
}

/// The login page as the harness read it.
#[derive(Debug, Clone)]
pub struct LoginPage {
    pub url: String,
    pub request_id: String,
    pub csrf_token: String,
    pub html: String,
}

/// The redirect back to the client's `redirect_uri`, decoded.
#[derive(Debug, Clone)]
pub struct Callback {
    pub location: String,
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// Every query parameter with how often it appeared.
    pub counts: BTreeMap<String, usize>,
}

impl Callback {
    pub fn from_location(location: &str) -> Callback {
        let query = location.split_once('?').map(|(_, q)| q).unwrap_or("");
        let pairs = parse_query(query);
        let mut counts = BTreeMap::new();
        for (name, _) in &pairs {
            *counts.entry(name.clone()).or_insert(0) += 1;
        }
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        Callback {
            location: location.to_owned(),
            code: get("code"),
            state: get("state"),
            iss: get("iss"),
            error: get("error"),
            error_description: get("error_description"),
            counts,
        }
    }
}

/// Tokens from a completed flow.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub client_id: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub body: Value,
}

fn client(cookies: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(cookies)
        .build()
        .unwrap()
}

pub fn form_encode(params: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&encode_component(name));
        out.push('=');
        out.push_str(&encode_component(value));
    }
    out
}

fn encode_component(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes an `application/x-www-form-urlencoded` query, keeping repeats and order.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(name), decode_component(value))
        })
        .collect()
}

fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// The `Location` header.
pub fn location(response: &Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no Location header on a {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The `value` of `<input … name="NAME" value="…">` in `html`.
pub fn hidden_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&amp;", "&"))
}

/// Validates `document` against `fixtures/schemas/{name}.schema.json`, panicking with every error.
pub fn assert_schema(name: &str, document: &Value) {
    let path = project_root().join(format!("fixtures/schemas/{name}.schema.json"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{name} schema violations: {errors:#?}\nin {document:#}"
    );
}

/// Asserts an OAuth error answer: `status`, JSON content type, `error == code`, a non-empty
/// `error_description`, `no-store`, schema; and that no token leaked in the body. Returns the body.
pub async fn assert_oauth_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let cache = response
        .headers()
        .get(CACHE_CONTROL)
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(cache.as_deref(), Some("no-store"), "Cache-Control");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "error code in {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "the reference always explains its errors: {body}"
    );
    assert_schema("oauth-error", &body);
    for leak in ["access_token", "refresh_token", "client_secret"] {
        assert!(
            body.get(leak).is_none(),
            "{leak} leaked in an error: {body}"
        );
    }
    body
}

/// Asserts a successful token response (200, JSON, `no-store`, schema, no nulls) and returns it.
pub async fn token_ok(response: Response) -> Value {
    let status = response.status();
    let headers = response.headers().clone();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "token request failed: {body}");
    let content_type = headers.get(CONTENT_TYPE).unwrap().to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    assert_eq!(
        headers.get(CACHE_CONTROL).map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
    assert_schema("token-response", &body);
    for (name, value) in body.as_object().unwrap() {
        assert!(!value.is_null(), "{name} is null in {body}");
    }
    body
}

/// A JSON-RPC `ping` request.
pub fn ping() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})
}

/// The header and claims of a JWT, decoded without verification.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    use base64::Engine as _;
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS compact serialization: {token}");
    let decode = |part: &str| -> Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    (decode(parts[0]), decode(parts[1]))
}

/// Asserts that `token` is accepted at `agent`'s MCP endpoint (a `ping` gets a result).
pub async fn assert_token_works(gw: &TestGateway, agent: &str, token: &str) {
    let response = gw.mcp(agent, Some(token), ping()).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the token should work at {agent}"
    );
    let body: Value = response.json().await.unwrap();
    assert!(body.get("result").is_some(), "{body}");
}

/// Asserts that `token` is refused at `agent` with 401 and a Bearer challenge carrying
/// `error="invalid_token"`, and that no JSON-RPC result came back.
pub async fn assert_token_refused(gw: &TestGateway, agent: &str, token: &str) {
    let response = gw.mcp(agent, Some(token), ping()).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "the token should be refused at {agent}"
    );
    let challenge = response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .expect("a challenge")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    let text = response.text().await.unwrap();
    assert!(!text.contains("\"result\""), "{text}");
}

/// Sends the same token request `n` times at once (all released by one barrier) and returns every
/// `(status, body)`, for the single-use races of codes and refresh tokens.
pub async fn race_token_requests(
    gw: &TestGateway,
    form: &[(&str, &str)],
    n: usize,
) -> Vec<(StatusCode, Value)> {
    let form: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (http, url) = (gw.http.clone(), gw.url("/oauth/token"));
        let (form, start) = (form.clone(), start.clone());
        tasks.spawn(async move {
            start.wait().await;
            let response = http.post(url).form(&form).send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, body)
        });
    }
    tasks.join_all().await
}
