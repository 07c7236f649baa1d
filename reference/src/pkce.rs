//! Proof Key for Code Exchange, `S256` only (RFC 7636; OAuth 2.1 §4.1.1, §7.5.2).
//!
//! The client keeps a `code_verifier` (43–128 unreserved characters, RFC 7636 §4.1) and sends
//! `code_challenge = BASE64URL(SHA256(ASCII(code_verifier)))` (§4.2) with the authorization request.
//! At the token endpoint the server recomputes the challenge from the verifier and compares (§4.6).
//!
//! The `plain` method is not supported: it protects nothing once the authorization request leaks,
//! and MCP clients MUST use `S256` (MCP authorization, "Authorization Code Protection"). An omitted
//! `code_challenge_method` means `plain` (RFC 7636 §4.3), so it is refused too, never guessed.
//!
//! Invariants: pure functions, no I/O, no logging; the final comparison is constant-time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::secrets::ct_eq;

/// The only transformation we accept, spelled as on the wire (case-sensitive, RFC 7636 §4.3).
pub const S256: &str = "S256";

/// A syntactically valid S256 `code_challenge`: exactly 43 base64url characters, the encoding of
/// a 32-byte SHA-256 digest without padding (RFC 7636 §4.2).
#[derive(Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl std::fmt::Debug for CodeChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeChallenge(..)")
    }
}

/// Why a `code_challenge` or `code_challenge_method` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeError {
    /// `code_challenge` absent: PKCE is required for every client (OAuth 2.1 §4.1.1).
    Missing,
    /// `code_challenge_method` absent, which RFC 7636 §4.3 defines as `plain`.
    MethodMissing,
    /// `plain`, `s256` or anything but `S256`.
    MethodUnsupported,
    /// Not 43 characters of the base64url alphabet.
    Malformed,
}

impl ChallengeError {
    pub fn description(self) -> &'static str {
        match self {
            ChallengeError::Missing => "code_challenge is required (PKCE, RFC 7636)",
            ChallengeError::MethodMissing => {
                "code_challenge_method is required: omitted means plain (RFC 7636 section 4.3), and only S256 is supported"
            }
            ChallengeError::MethodUnsupported => {
                "transform algorithm not supported: code_challenge_method must be S256"
            }
            ChallengeError::Malformed => {
                "code_challenge must be 43 base64url characters (an S256 challenge, RFC 7636 section 4.2)"
            }
        }
    }
}

impl CodeChallenge {
    /// RFC 7636 §4.3/§4.4.1: validate the pair sent in the authorization request.
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Self, ChallengeError> {
        let challenge = match challenge {
            Some(challenge) => challenge,
            None if fault!(PkceChallengeOptional) => return Ok(CodeChallenge(String::new())),
            None => return Err(ChallengeError::Missing),
        };
        match method {
            None if fault!(PkceMethodMissingAsS256) => {}
            None => return Err(ChallengeError::MethodMissing),
            Some(S256) => {}
            Some(m) if fault!(PkceMethodCaseInsensitive) && m.eq_ignore_ascii_case(S256) => {}
            Some("plain") if fault!(PkcePlainAccepted) => {
                return Ok(CodeChallenge(challenge.to_owned()));
            }
            Some(_) => return Err(ChallengeError::MethodUnsupported),
        }
        if (challenge.len() != 43 || !challenge.bytes().all(is_base64url))
            && !fault!(PkceChallengeSyntaxUnchecked)
        {
            return Err(ChallengeError::Malformed);
        }
        Ok(CodeChallenge(challenge.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6: recompute `BASE64URL(SHA256(ASCII(code_verifier)))` and compare in
    /// constant time. A verifier outside the §4.1 grammar never matches.
    pub fn verify(&self, code_verifier: &str) -> bool {
        if fault!(PkceVerifierUnchecked) {
            return true;
        }
        if fault!(PkceChallengeOptional) && self.0.is_empty() {
            return true;
        }
        if fault!(PkcePlainAccepted) && ct_eq(code_verifier.as_bytes(), self.0.as_bytes()) {
            return true;
        }
        if fault!(PkcePlainComparisonToo) && ct_eq(code_verifier.as_bytes(), self.0.as_bytes()) {
            return true;
        }
        if !is_valid_verifier(code_verifier) && !fault!(PkceVerifierGrammarUnchecked) {
            return false;
        }
        ct_eq(s256(code_verifier).as_bytes(), self.0.as_bytes())
    }
}

/// RFC 7636 §4.1: `code-verifier = 43*128unreserved`, `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`.
pub fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len()) && verifier.bytes().all(is_unreserved)
}

/// RFC 7636 §4.2: the S256 transformation.
pub fn s256(code_verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.as_bytes()))
}

fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

fn is_base64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn pkce_04_rfc7636_appendix_b_vector() {
        assert_eq!(s256(VERIFIER), CHALLENGE);
        let challenge = CodeChallenge::parse(Some(CHALLENGE), Some("S256")).unwrap();
        assert!(challenge.verify(VERIFIER));
    }

    #[test]
    fn pkce_04_one_character_off_is_refused() {
        let challenge = CodeChallenge::parse(Some(CHALLENGE), Some("S256")).unwrap();
        let mut wrong = VERIFIER.to_owned();
        wrong.replace_range(0..1, "e");
        assert!(!challenge.verify(&wrong));
    }

    #[test]
    fn pkce_02_only_s256_is_accepted() {
        assert_eq!(
            CodeChallenge::parse(Some(CHALLENGE), None),
            Err(ChallengeError::MethodMissing)
        );
        for method in ["plain", "s256", "S512", ""] {
            assert_eq!(
                CodeChallenge::parse(Some(CHALLENGE), Some(method)),
                Err(ChallengeError::MethodUnsupported),
                "{method}"
            );
        }
        assert_eq!(
            CodeChallenge::parse(None, Some("S256")),
            Err(ChallengeError::Missing)
        );
    }

    #[test]
    fn pkce_03_challenge_syntax() {
        for bad in [
            &CHALLENGE[..42],
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM=",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw/cM",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw.cM",
        ] {
            assert_eq!(
                CodeChallenge::parse(Some(bad), Some("S256")),
                Err(ChallengeError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn pkce_06_verifier_grammar() {
        assert!(is_valid_verifier(&"a".repeat(43)));
        assert!(is_valid_verifier(&"~._-".repeat(32)));
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&format!("{} ", "a".repeat(43))));
        assert!(!is_valid_verifier(&format!("{}=", "a".repeat(43))));
        // A verifier that is too short never matches, even if its hash were the challenge.
        let short = "a".repeat(42);
        let challenge = CodeChallenge::parse(Some(&s256(&short)), Some("S256")).unwrap();
        assert!(!challenge.verify(&short));
    }
}
