//! The suite's HTTP layer: one request as sent, one response as received, nothing followed.
//!
//! Redirects are never followed automatically (a check must see the `302` and its `Location`),
//! cookies are never stored implicitly (the login drivers keep their own jar, per login), and
//! every exchange is kept whole as an [`Exchange`], the raw material of assertions and, once
//! redacted, of the report's evidence.

use std::time::Duration;

use reqwest::Method;
use url::Url;

/// A request to send.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl Request {
    pub fn new(method: Method, url: impl Into<String>) -> Request {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
        }
    }
    pub fn get(url: impl Into<String>) -> Request {
        Request::new(Method::GET, url)
    }
    pub fn post(url: impl Into<String>) -> Request {
        Request::new(Method::POST, url)
    }
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
    /// Replaces every header called `name` (case-insensitive).
    pub fn set_header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.header(name, value)
    }
    pub fn bearer(self, token: &str) -> Request {
        self.header("Authorization", format!("Bearer {token}"))
    }
    /// An `application/x-www-form-urlencoded` body, encoded in the given order (duplicates kept).
    pub fn form<K: AsRef<str>, V: AsRef<str>>(self, pairs: &[(K, V)]) -> Request {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            ser.append_pair(k.as_ref(), v.as_ref());
        }
        self.raw_body("application/x-www-form-urlencoded", ser.finish())
    }
    pub fn json(self, value: &serde_json::Value) -> Request {
        self.raw_body("application/json", value.to_string())
    }
    pub fn raw_body(mut self, content_type: &str, body: impl Into<String>) -> Request {
        self = self.set_header("Content-Type", content_type);
        self.body = Some(body.into());
        self
    }
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The request half of an exchange, as sent.
#[derive(Clone, Debug)]
pub struct SentRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl SentRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The response half, as received.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Every value of header `name`.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
    /// The media type of `Content-Type`, lower-cased, without parameters.
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }
    /// Whether `Cache-Control` carries `no-store` (OAuth 2.1 §3.2.3, RFC 9111 §5.2.2.5).
    pub fn forbids_caching(&self) -> bool {
        self.header("cache-control").is_some_and(|cc| {
            cc.split(',')
                .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
        })
    }
    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status)
    }
}

/// One request and what came back (or why nothing did).
#[derive(Clone, Debug)]
pub struct Exchange {
    pub request: SentRequest,
    pub response: Option<Response>,
    /// A transport error (connection refused, timeout, invalid URL).
    pub error: Option<String>,
}

impl Exchange {
    /// The response, or an error message naming the request that got none.
    pub fn response(&self) -> Result<&Response, String> {
        self.response.as_ref().ok_or_else(|| {
            format!(
                "{} {} got no response: {}",
                self.request.method,
                self.request.url,
                self.error.as_deref().unwrap_or("unknown error")
            )
        })
    }
    /// `"POST https://gw/oauth/token → 400"`, for messages.
    pub fn line(&self) -> String {
        match &self.response {
            Some(r) => format!(
                "{} {} → {}",
                self.request.method, self.request.url, r.status
            ),
            None => format!("{} {} → no response", self.request.method, self.request.url),
        }
    }
    /// `Location` resolved against the request URL.
    pub fn location(&self) -> Option<Url> {
        let loc = self.response.as_ref()?.header("location")?;
        Url::parse(&self.request.url).ok()?.join(loc).ok()
    }
}

/// A shared HTTP client: no redirects, no cookie store, bounded time.
#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::Client,
}

/// Bodies beyond this are cut: a check never needs more, and a hostile target cannot exhaust us.
const MAX_BODY: usize = 1024 * 1024;

impl Http {
    pub fn new(timeout: Duration) -> anyhow::Result<Http> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent(concat!("mcp-conformance/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Http { client })
    }

    /// Sends `req` and records the exchange; transport errors become [`Exchange::error`].
    pub async fn send(&self, req: Request) -> Exchange {
        let sent = SentRequest {
            method: req.method.to_string(),
            url: req.url.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
        };
        let mut builder = self.client.request(req.method.clone(), &req.url);
        for (n, v) in &req.headers {
            builder = builder.header(n.as_str(), v.as_str());
        }
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        match builder.send().await {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let headers = resp
                    .headers()
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.as_str().to_owned(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let mut bytes = Vec::new();
                let mut error = None;
                loop {
                    match resp.chunk().await {
                        Ok(Some(chunk)) => {
                            let room = MAX_BODY.saturating_sub(bytes.len());
                            bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
                            if room < chunk.len() {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            error = Some(format!("reading the body failed: {e}"));
                            break;
                        }
                    }
                }
                Exchange {
                    request: sent,
                    response: Some(Response {
                        status,
                        headers,
                        body: String::from_utf8_lossy(&bytes).into_owned(),
                    }),
                    error,
                }
            }
            Err(e) => Exchange {
                request: sent,
                response: None,
                error: Some(error_chain(&e)),
            },
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}
