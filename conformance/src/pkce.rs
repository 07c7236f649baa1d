//! PKCE values as a client makes them (RFC 7636).
//!
//! The suite plays an honest client: a fresh 64-character verifier from the unreserved alphabet
//! (§4.1) and its `S256` challenge (§4.2). The fuzzing properties in [`crate::fuzz`] build their
//! own verifiers from [`UNRESERVED`]. This module does no I/O.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

/// RFC 7636 §4.1: `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`.
pub const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

/// RFC 7636 §4.1: a verifier has 43 to 128 characters.
pub const VERIFIER_LENGTH: std::ops::RangeInclusive<usize> = 43..=128;

/// RFC 7636 §4.2: `code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))`.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `value` is a syntactically valid verifier (RFC 7636 §4.1).
pub fn is_valid_verifier(value: &str) -> bool {
    VERIFIER_LENGTH.contains(&value.len()) && value.bytes().all(|b| UNRESERVED.contains(&b))
}

/// A verifier and its `S256` challenge.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    /// A fresh random 64-character verifier (RFC 7636 §4.1 recommends 32 random octets; 64
    /// characters of a 66-letter alphabet carry more).
    pub fn generate() -> Pkce {
        Pkce::from_verifier(random_string(64, UNRESERVED))
    }

    pub fn from_verifier(verifier: String) -> Pkce {
        let challenge = s256_challenge(&verifier);
        Pkce {
            verifier,
            challenge,
        }
    }
}

/// The verifier is a secret: never print it.
impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkce")
            .field("verifier", &"<redacted>")
            .field("challenge", &self.challenge)
            .finish()
    }
}

/// `len` characters drawn uniformly from `alphabet` with the operating system's randomness.
pub fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        // If the OS has no randomness the suite cannot make honest secrets; fall back to a
        // counter-derived value rather than panicking in the middle of a run (only uniqueness
        // matters for the checks, not secrecy).
        if getrandom::fill(&mut buf).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            for (i, b) in buf.iter_mut().enumerate() {
                *b = (nanos >> (i % 16 * 8)) as u8 ^ i as u8;
            }
        }
        // Rejection sampling keeps the distribution uniform.
        let limit = 256 - 256 % alphabet.len();
        for &b in &buf {
            if (b as usize) < limit && out.len() < len {
                out.push(alphabet[b as usize % alphabet.len()] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn generated_verifiers_are_valid_and_distinct() {
        let a = Pkce::generate();
        let b = Pkce::generate();
        assert!(is_valid_verifier(&a.verifier));
        assert_ne!(a.verifier, b.verifier);
        assert_eq!(a.challenge.len(), 43);
        assert!(!format!("{a:?}").contains(&a.verifier));
    }

    #[test]
    fn verifier_syntax() {
        assert!(is_valid_verifier(&"a".repeat(43)));
        assert!(is_valid_verifier(&"~".repeat(128)));
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&format!("{}=", "a".repeat(43))));
        assert!(!is_valid_verifier(&format!("{} ", "a".repeat(43))));
    }
}
