//! Random secrets, hashing and constant-time comparison.
//!
//! Every credential the gateway mints (client ids, authorization codes, refresh tokens, pending
//! request ids, CSRF tokens, JWT ids) comes from [`random_token`]: 256 bits from the operating
//! system's CSPRNG unless stated otherwise, base64url without padding (RFC 4648 §5), so it fits the
//! token68 and unreserved-character grammars of RFC 6750 §2.1 and RFC 3986 §2.3.
//!
//! Invariants: no secret is ever compared with `==` (use [`ct_eq`]); stored credentials are kept
//! as [`sha256_hex`] digests, never in clear; nothing here logs.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `bytes` random bytes from the OS, base64url-encoded without padding.
///
/// Fails only when the operating system cannot provide randomness; callers turn that into a
/// `server_error` rather than minting a weak secret.
pub fn random_token(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// Lower-case hex SHA-256 of `input`: how API keys, codes and refresh tokens are stored.
pub fn sha256_hex(input: &str) -> String {
    let digest = Sha256::digest(input.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Constant-time equality of two byte strings (the length itself is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_are_url_safe_and_distinct() {
        let a = random_token(32).unwrap();
        let b = random_token(32).unwrap();
        assert_eq!(a.len(), 43, "256 bits in base64url without padding");
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn sha256_hex_matches_known_vector() {
        // FIPS 180-2 "abc" test vector.
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn ct_eq_compares_content_and_length() {
        assert!(ct_eq(b"same", b"same"));
        assert!(!ct_eq(b"same", b"sane"));
        assert!(!ct_eq(b"same", b"same!"));
    }
}
