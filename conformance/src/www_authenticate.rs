//! A parser for `WWW-Authenticate` (RFC 9110 §11.6.1, §11.2), strict enough to judge a gateway.
//!
//! Grammar: `challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`, `auth-param = token BWS
//! "=" BWS ( token / quoted-string )`, challenges separated by commas. A header can hold several
//! challenges, so a comma starts a new challenge when what follows is `token SP`, not `token =`.
//! The parser keeps duplicates (RFC 6750 §3 allows each of `realm`, `scope`, `error` at most once,
//! and a check wants to see a duplicate) and never panics on hostile input. No I/O.

/// One challenge: `Bearer realm="MCP", resource_metadata="…"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// As sent; compare case-insensitively (RFC 9110 §11.1).
    pub scheme: String,
    pub token68: Option<String>,
    /// Names lower-cased (parameter names are case-insensitive), values unquoted.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The first value of parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// How often parameter `name` occurs.
    pub fn count(&self, name: &str) -> usize {
        let name = name.to_ascii_lowercase();
        self.params.iter().filter(|(n, _)| *n == name).count()
    }

    pub fn is_bearer(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("bearer")
    }
}

/// Why a header value is not a valid challenge list.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty WWW-Authenticate value")]
    Empty,
    #[error("expected an auth-scheme at byte {0}")]
    ExpectedScheme(usize),
    #[error("unterminated quoted-string starting at byte {0}")]
    UnterminatedQuote(usize),
    #[error("expected `=` after parameter name at byte {0}")]
    ExpectedEquals(usize),
    #[error("expected a parameter value at byte {0}")]
    ExpectedValue(usize),
    #[error("unexpected character {1:?} at byte {0}")]
    Unexpected(usize, char),
}

/// Parses one `WWW-Authenticate` field value into its challenges.
pub fn parse(value: &str) -> Result<Vec<Challenge>, ParseError> {
    let mut p = Parser {
        s: value.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    p.skip_ows_and_commas();
    if p.at_end() {
        return Err(ParseError::Empty);
    }
    while !p.at_end() {
        let start = p.i;
        let scheme = p.token();
        if scheme.is_empty() {
            return Err(ParseError::ExpectedScheme(start));
        }
        let mut challenge = Challenge {
            scheme,
            token68: None,
            params: Vec::new(),
        };
        let had_space = p.skip_sp();
        if had_space && !p.at_end() && p.peek() != Some(b',') {
            if p.looks_like_param(p.i) {
                p.params(&mut challenge.params)?;
            } else if let Some(t68) = p.try_token68() {
                challenge.token68 = Some(t68);
            } else {
                p.params(&mut challenge.params)?;
            }
        }
        out.push(challenge);
        p.skip_ows_and_commas();
    }
    Ok(out)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip_sp(&mut self) -> bool {
        let start = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i > start
    }
    fn skip_ows_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> String {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    /// `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`, accepted only
    /// when the end, a comma or spaces follow it.
    fn try_token68(&mut self) -> Option<String> {
        let start = self.i;
        let mut j = self.i;
        while j < self.s.len()
            && (self.s[j].is_ascii_alphanumeric() || b"-._~+/".contains(&self.s[j]))
        {
            j += 1;
        }
        if j == start {
            return None;
        }
        while j < self.s.len() && self.s[j] == b'=' {
            j += 1;
        }
        let mut k = j;
        while k < self.s.len() && matches!(self.s[k], b' ' | b'\t') {
            k += 1;
        }
        if k >= self.s.len() || self.s[k] == b',' {
            self.i = k;
            return Some(String::from_utf8_lossy(&self.s[start..j]).into_owned());
        }
        None
    }
    /// Whether `token BWS "=" BWS` followed by a value starts at `start` (an auth-param, as
    /// opposed to token68 padding such as `abc==`).
    fn looks_like_param(&self, start: usize) -> bool {
        let mut j = start;
        while j < self.s.len() && is_tchar(self.s[j]) {
            j += 1;
        }
        while j < self.s.len() && matches!(self.s[j], b' ' | b'\t') {
            j += 1;
        }
        j < self.s.len() && self.s[j] == b'=' && {
            // `abc=` followed by a value is a parameter; `abc==` at the end is token68 padding.
            let mut k = j + 1;
            while k < self.s.len() && matches!(self.s[k], b' ' | b'\t') {
                k += 1;
            }
            k < self.s.len() && self.s[k] != b',' && self.s[k] != b'='
        }
    }
    fn params(&mut self, out: &mut Vec<(String, String)>) -> Result<(), ParseError> {
        loop {
            self.skip_sp();
            let start = self.i;
            let name = self.token();
            if name.is_empty() {
                return match self.peek() {
                    None => Ok(()),
                    Some(b) => Err(ParseError::Unexpected(self.i, b as char)),
                };
            }
            self.skip_sp();
            if self.peek() != Some(b'=') {
                // `name` then space: this is the next challenge's scheme. Rewind.
                self.i = start;
                return Ok(());
            }
            self.i += 1;
            self.skip_sp();
            let value = match self.peek() {
                Some(b'"') => self.quoted()?,
                Some(b) if is_tchar(b) => self.token(),
                _ => return Err(ParseError::ExpectedValue(self.i)),
            };
            out.push((name.to_ascii_lowercase(), value));
            self.skip_sp();
            match self.peek() {
                None => return Ok(()),
                Some(b',') => {
                    // Another param of this challenge, or the next challenge.
                    self.i += 1;
                    self.skip_ows_and_commas();
                    let save = self.i;
                    let next = self.token();
                    self.skip_sp();
                    let is_param = self.peek() == Some(b'=');
                    self.i = save;
                    if next.is_empty() || !is_param {
                        return Ok(());
                    }
                }
                Some(b) => return Err(ParseError::Unexpected(self.i, b as char)),
            }
        }
    }
    fn quoted(&mut self) -> Result<String, ParseError> {
        let start = self.i;
        self.i += 1;
        let mut bytes = Vec::new();
        loop {
            match self.peek() {
                None => return Err(ParseError::UnterminatedQuote(start)),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(String::from_utf8_lossy(&bytes).into_owned());
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        None => return Err(ParseError::UnterminatedQuote(start)),
                        Some(b) => {
                            bytes.push(b);
                            self.i += 1;
                        }
                    }
                }
                Some(b) => {
                    bytes.push(b);
                    self.i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: &str) -> Challenge {
        let mut all = parse(value).unwrap_or_else(|e| panic!("{value:?}: {e}"));
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    #[test]
    fn the_guides_challenge() {
        let c =
            one(r#"Bearer realm="MCP", resource_metadata="/.well-known/oauth-protected-resource""#);
        assert!(c.is_bearer());
        assert_eq!(c.param("realm"), Some("MCP"));
        assert_eq!(
            c.param("RESOURCE_METADATA"),
            Some("/.well-known/oauth-protected-resource")
        );
    }

    #[test]
    fn rfc6750_error_challenge_with_escapes() {
        let c = one(
            r#"Bearer realm="MCP", error="invalid_token", error_description="the \"aud\" is wrong", scope=mcp"#,
        );
        assert_eq!(c.param("error"), Some("invalid_token"));
        assert_eq!(c.param("error_description"), Some(r#"the "aud" is wrong"#));
        assert_eq!(c.param("scope"), Some("mcp"));
    }

    #[test]
    fn several_challenges_in_one_field() {
        let all = parse(r#"Basic realm="x", Bearer realm="MCP", scope="a b", DPoP algs="ES256""#)
            .unwrap();
        let schemes: Vec<_> = all.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["Basic", "Bearer", "DPoP"]);
        assert_eq!(all[1].param("scope"), Some("a b"));
    }

    #[test]
    fn bare_scheme_and_token68() {
        assert_eq!(one("Bearer").params, vec![]);
        let c = one("Negotiate abc+/def==");
        assert_eq!(c.token68.as_deref(), Some("abc+/def=="));
        let all = parse("Bearer, Basic").unwrap();
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn duplicates_are_kept() {
        let c = one(r#"Bearer realm="a", realm="b""#);
        assert_eq!(c.count("realm"), 2);
    }

    #[test]
    fn malformed_values_are_errors_not_panics() {
        assert_eq!(parse(""), Err(ParseError::Empty));
        assert!(matches!(
            parse(r#"Bearer realm="MCP"#),
            Err(ParseError::UnterminatedQuote(_))
        ));
        // `realm=` is, by the grammar, a token68 with padding.
        assert_eq!(one("Bearer realm=").token68.as_deref(), Some("realm="));
        assert!(parse("=x").is_err());
        for junk in [
            "\"",
            "Bearer ,,,",
            "Bearer a=\"\\",
            "Bearer a=b c",
            "\u{fffd}é",
        ] {
            let _ = parse(junk);
        }
    }
}
