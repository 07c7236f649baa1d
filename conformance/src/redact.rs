//! Keeping secrets out of reports: every token, code, verifier, password and key the suite sees or
//! holds is replaced by `<redacted:KIND>` before an exchange becomes [`Evidence`].
//!
//! Two layers, because either alone can miss something:
//! 1. by position: the `Authorization` and cookie headers, and parameters and JSON members whose
//!    names carry secrets (`code`, `code_verifier`, `password`, `access_token`, …);
//! 2. by value: every secret the suite learns (profile keys, password, HS256 secret, issued tokens
//!    and codes, generated verifiers) is registered with [`Redactor::register`] and replaced
//!    wherever it appears, including inside URLs, HTML and error descriptions; and anything that
//!    looks like a JWT or an API key (`bak_…`, `oag_…`).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use crate::report::Evidence;

/// Names (of form fields, query parameters and JSON members) whose values are secrets.
const SECRET_NAMES: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "code",
    "code_verifier",
    "password",
    "client_secret",
    "csrf_token",
    "registration_access_token",
];

/// Headers whose values are secrets.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "set-cookie",
    "proxy-authorization",
];

/// The secret values seen so far in this run, with their URL-encoded forms.
#[derive(Default)]
pub struct Redactor {
    values: Mutex<Patterns>,
}

/// Length of the prefix secrets are indexed by (also the shortest secret remembered).
const PREFIX: usize = 6;

/// Every pattern to replace, indexed by its first [`PREFIX`] bytes, so that scrubbing a text
/// costs one lookup per byte of the text rather than one search per secret: a run remembers
/// thousands of tokens and codes, and scrubs every header and body of its evidence.
#[derive(Default)]
struct Patterns {
    known: BTreeSet<String>,
    by_prefix: HashMap<[u8; PREFIX], Vec<String>>,
}

impl Patterns {
    fn insert(&mut self, pattern: String) {
        if !self.known.insert(pattern.clone()) {
            return;
        }
        let mut prefix = [0; PREFIX];
        prefix.copy_from_slice(&pattern.as_bytes()[..PREFIX]);
        self.by_prefix.entry(prefix).or_default().push(pattern);
    }

    /// The patterns occurring in `text`, longest first.
    fn found_in(&self, text: &str) -> Vec<&str> {
        let bytes = text.as_bytes();
        let mut found = BTreeSet::new();
        for (at, window) in bytes.windows(PREFIX).enumerate() {
            let Some(candidates) = self.by_prefix.get(window) else {
                continue;
            };
            for pattern in candidates {
                if bytes[at..].starts_with(pattern.as_bytes()) {
                    found.insert((std::cmp::Reverse(pattern.len()), pattern.as_str()));
                }
            }
        }
        found.into_iter().map(|(_, p)| p).collect()
    }
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.values.lock().map(|v| v.known.len()).unwrap_or(0);
        write!(f, "Redactor({n} patterns)")
    }
}

impl Redactor {
    /// Remembers `value` as a secret, as sent and URL-encoded. Values shorter than 6 characters
    /// are ignored: replacing them everywhere would garble evidence, and no real secret is that
    /// short.
    pub fn register(&self, value: &str) {
        if value.len() >= PREFIX
            && let Ok(mut values) = self.values.lock()
        {
            let encoded: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
            values.insert(value.to_owned());
            values.insert(encoded);
        }
    }

    /// `text` with every known secret value and every token-shaped word replaced.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        if let Ok(values) = self.values.lock() {
            // Longest first, so a secret containing another is replaced whole.
            for pattern in values.found_in(text) {
                if out.contains(pattern) {
                    out = out.replace(pattern, "<redacted:secret>");
                }
            }
        }
        scrub_shapes(&out)
    }

    /// A header value, redacted by name, then by value.
    pub fn header(&self, name: &str, value: &str) -> String {
        let lower = name.to_ascii_lowercase();
        if SECRET_HEADERS.contains(&lower.as_str()) {
            return match lower.as_str() {
                "authorization" | "proxy-authorization" => match value.split_once(' ') {
                    Some((scheme, rest)) => format!("{scheme} <redacted:{}>", kind_of(rest.trim())),
                    None => "<redacted:credential>".to_owned(),
                },
                _ => redact_cookie(value),
            };
        }
        if lower == "location" {
            return self.url(value);
        }
        self.scrub(value)
    }

    /// A URL with secret query parameters redacted.
    pub fn url(&self, url: &str) -> String {
        match url.split_once('?') {
            Some((base, query)) => {
                let (query, fragment) = match query.split_once('#') {
                    Some((q, f)) => (q, Some(f)),
                    None => (query, None),
                };
                let mut out = format!("{}?{}", self.scrub(base), self.form(query));
                if let Some(f) = fragment {
                    out.push('#');
                    out.push_str(&self.form(f));
                }
                out
            }
            None => self.scrub(url),
        }
    }

    /// An `application/x-www-form-urlencoded` string with secret fields redacted.
    pub fn form(&self, body: &str) -> String {
        let parts: Vec<String> = body
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if is_secret_name(name) => format!("{name}=<redacted:{name}>"),
                _ => self.scrub(pair),
            })
            .collect();
        parts.join("&")
    }

    /// A body: JSON members by name, form fields by name, then values.
    pub fn body(&self, body: &str, content_type: Option<&str>) -> String {
        let ct = content_type.unwrap_or("").to_ascii_lowercase();
        if let Ok(mut json) = serde_json::from_str::<serde_json::Value>(body) {
            redact_json(&mut json);
            let text = serde_json::to_string_pretty(&json).unwrap_or_default();
            return self.scrub(&text);
        }
        if ct.starts_with("application/x-www-form-urlencoded") {
            return self.form(body);
        }
        self.scrub(body)
    }

    /// An [`Exchange`](crate::http::Exchange) as evidence. Bodies are cut at 8 KiB.
    pub fn evidence(&self, exchange: &crate::http::Exchange) -> Evidence {
        let req = &exchange.request;
        let req_ct = req.header("content-type");
        Evidence {
            method: req.method.clone(),
            url: self.url(&req.url),
            request_headers: req
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), self.header(n, v)))
                .collect(),
            request_body: req.body.as_deref().map(|b| truncate(&self.body(b, req_ct))),
            status: exchange.response.as_ref().map(|r| r.status),
            response_headers: exchange
                .response
                .as_ref()
                .map(|r| {
                    r.headers
                        .iter()
                        .map(|(n, v)| (n.clone(), self.header(n, v)))
                        .collect()
                })
                .unwrap_or_default(),
            response_body: exchange.response.as_ref().and_then(|r| {
                (!r.body.is_empty())
                    .then(|| truncate(&self.body(&r.body, r.header("content-type"))))
            }),
            error: exchange.error.as_deref().map(|e| self.scrub(e)),
        }
    }
}

fn truncate(s: &str) -> String {
    const MAX: usize = 8 * 1024;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &s[..end], s.len())
}

fn is_secret_name(name: &str) -> bool {
    let decoded: String = form_urlencoded::parse(format!("{name}=").as_bytes())
        .next()
        .map(|(n, _)| n.into_owned())
        .unwrap_or_else(|| name.to_owned());
    SECRET_NAMES.contains(&decoded.to_ascii_lowercase().as_str())
}

fn kind_of(credential: &str) -> &'static str {
    if credential.starts_with("bak_") {
        "bak_key"
    } else if credential.starts_with("oag_") {
        "oag_key"
    } else if credential.matches('.').count() == 2 {
        "jwt"
    } else {
        "credential"
    }
}

fn redact_cookie(value: &str) -> String {
    value
        .split(';')
        .map(|part| {
            let part = part.trim();
            match part.split_once('=') {
                Some((name, _))
                    if !["path", "domain", "expires", "max-age", "samesite"]
                        .contains(&name.to_ascii_lowercase().as_str()) =>
                {
                    format!("{name}=<redacted:cookie>")
                }
                _ => part.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn redact_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if SECRET_NAMES.contains(&k.as_str()) && !v.is_null() {
                    *v = serde_json::Value::String(format!("<redacted:{k}>"));
                } else {
                    redact_json(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

/// Replaces words shaped like a JWT (`eyJ….….…`) or an API key (`bak_…`, `oag_…`).
fn scrub_shapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b"-_.~+/=".contains(&b);
    while i < bytes.len() {
        let starts_word = i == 0 || !is_word(bytes[i - 1]);
        if starts_word && is_word(bytes[i]) {
            let mut j = i;
            while j < bytes.len() && is_word(bytes[j]) {
                j += 1;
            }
            let word = &text[i..j];
            let replacement = if (word.starts_with("bak_") || word.starts_with("oag_"))
                && word.len() > 8
            {
                Some("<redacted:api_key>")
            } else if word.starts_with("eyJ") && word.matches('.').count() >= 2 && word.len() > 20 {
                Some("<redacted:jwt>")
            } else {
                None
            };
            match replacement {
                Some(r) => out.push_str(r),
                None => out.push_str(word),
            }
            i = j;
        } else {
            let ch = text[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8().max(1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_values_and_shapes_are_redacted() {
        let r = Redactor::default();
        r.register("alice-demo-password");
        assert_eq!(
            r.form("grant_type=authorization_code&code=abc&code_verifier=xyz&client_id=c1"),
            "grant_type=authorization_code&code=<redacted:code>&code_verifier=<redacted:code_verifier>&client_id=c1"
        );
        assert_eq!(
            r.url("http://127.0.0.1:1/cb?code=SECRET&state=s1"),
            "http://127.0.0.1:1/cb?code=<redacted:code>&state=s1"
        );
        assert_eq!(
            r.header("Authorization", "Bearer bak_abcdefgh123"),
            "Bearer <redacted:bak_key>"
        );
        assert_eq!(
            r.header("authorization", "Bearer aaa.bbb.ccc"),
            "Bearer <redacted:jwt>"
        );
        assert_eq!(
            r.header("set-cookie", "sid=abc; Path=/oauth; HttpOnly"),
            "sid=<redacted:cookie>; Path=/oauth; HttpOnly"
        );
        assert_eq!(
            r.scrub("your password alice-demo-password is wrong, key oag_demoAliceUserKey01 here"),
            "your password <redacted:secret> is wrong, key <redacted:api_key> here"
        );
        let body =
            r#"{"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.sig","token_type":"Bearer"}"#;
        let red = r.body(body, Some("application/json"));
        assert!(
            red.contains("<redacted:access_token>") && !red.contains("eyJ"),
            "{red}"
        );
        assert!(
            r.scrub("x eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.sig y")
                .contains("<redacted:jwt>")
        );
    }

    #[test]
    fn url_encoded_secret_values_are_found() {
        let r = Redactor::default();
        r.register("a b+c/d=secret");
        assert_eq!(r.scrub("x=a+b%2Bc%2Fd%3Dsecret"), "x=<redacted:secret>");
    }
}
