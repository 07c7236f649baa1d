//! Strict parsing of `application/x-www-form-urlencoded` parameters (query strings and bodies).
//!
//! OAuth 2.1 §3.1 and §3.2: parameters sent without a value are treated as omitted, and request
//! and response parameters MUST NOT be included more than once. `axum::Form` silently keeps the
//! last of a repeated parameter, so the protocol endpoints parse through [`Params`] instead and
//! can answer `invalid_request` naming the repeated parameter.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, header};

/// Parsed parameters: the value of each parameter that appeared exactly once with a non-empty
/// value, plus the names that appeared more than once.
#[derive(Default)]
pub struct Params {
    values: BTreeMap<String, String>,
    repeated: Vec<String>,
}

impl std::fmt::Debug for Params {
    /// Values may be codes, verifiers or passwords: only names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Params")
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .field("repeated", &self.repeated)
            .finish()
    }
}

impl Params {
    /// Parses `input` (without the leading `?`).
    pub fn parse(input: &[u8]) -> Params {
        let mut params = Params::default();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(input) {
            *seen.entry(name.to_string()).or_default() += 1;
            pairs.push((name.into_owned(), value.into_owned()));
        }
        for (name, value) in pairs {
            if seen.get(&name).copied().unwrap_or(0) > 1 {
                if !params.repeated.contains(&name) {
                    params.repeated.push(name);
                }
            } else if !value.is_empty() {
                params.values.insert(name, value);
            }
        }
        params
    }

    /// The parameter's value, `None` when absent, empty or repeated.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether `name` was sent more than once.
    pub fn is_repeated(&self, name: &str) -> bool {
        self.repeated.iter().any(|r| r == name)
    }

    /// The names sent more than once, in order of first appearance.
    pub fn repeated(&self) -> &[String] {
        &self.repeated
    }
}

/// Whether the request's `Content-Type` is `mime` (parameters such as `charset` ignored, case
/// insensitive, RFC 9110 §8.3.1). `None` when the header is absent.
pub fn content_type_is(headers: &HeaderMap, mime: &str) -> Option<bool> {
    headers.get(header::CONTENT_TYPE).map(|value| {
        value
            .to_str()
            .ok()
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case(mime))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authz_01_empty_values_are_absent_and_repeats_are_flagged() {
        let p = Params::parse(b"a=1&b=&c=2&c=3&d=%2B%20x");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), None);
        assert!(p.is_repeated("c"));
        assert!(!p.is_repeated("a"));
        assert_eq!(p.get("d"), Some("+ x"));
        assert_eq!(p.repeated(), ["c".to_owned()]);
    }

    #[test]
    fn debug_shows_no_values() {
        let p = Params::parse(b"code_verifier=secret-verifier");
        assert!(!format!("{p:?}").contains("secret-verifier"));
    }
}
