//! Looking inside access tokens, and forging them for negative checks.
//!
//! A client must treat access tokens as opaque; the suite does not. When a gateway issues JWTs
//! (the guide says HS256), [`decode_unverified`] reads header and claims to check `alg`, `typ`,
//! `aud`, `exp - iat`. With the profile's HS256 secret, [`sign_hs256`] forges tokens that differ
//! from a genuine one in exactly one respect (expired, other issuer, other audience), and
//! [`unsigned`] makes an `alg: none` token, so each rejection has one reason. No I/O.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// A JWT's decoded header and claims (signature not checked).
#[derive(Clone, Debug)]
pub struct Decoded {
    pub header: Value,
    pub claims: Value,
}

impl Decoded {
    pub fn claim_i64(&self, name: &str) -> Option<i64> {
        self.claims.get(name).and_then(Value::as_i64)
    }
    /// `aud` as a list (RFC 7519 §4.1.3: a string or an array of strings).
    pub fn audiences(&self) -> Vec<String> {
        match self.claims.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Decodes a compact JWS without verifying it; `Err` says why it is not a JWT.
pub fn decode_unverified(token: &str) -> Result<Decoded, String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(format!(
            "not a compact JWT: {} dot-separated parts, not 3",
            parts.len()
        ));
    }
    let part = |i: usize, what: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(parts[i])
            .map_err(|e| format!("JWT {what} is not base64url: {e}"))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("JWT {what} is not JSON: {e}"))
    };
    Ok(Decoded {
        header: part(0, "header")?,
        claims: part(1, "claims")?,
    })
}

/// An HS256 JWS of `claims` with header `{"alg":"HS256","typ":typ}`.
pub fn sign_hs256(secret: &str, typ: Option<&str>, claims: &Value) -> Result<String, String> {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = typ.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| format!("signing a test token failed: {e}"))
}

/// `claims` with header `{"alg":"none"}` and an empty signature (RFC 7519 §6.1).
pub fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes());
    format!("{header}.{body}.")
}

/// `token` with its signature replaced by a different, well-formed one.
pub fn tamper_signature(token: &str) -> String {
    match token.rsplit_once('.') {
        Some((head, sig)) => {
            let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap_or_else(|_| vec![0; 32]);
            if let Some(b) = bytes.first_mut() {
                *b ^= 0x55;
            }
            format!("{head}.{}", URL_SAFE_NO_PAD.encode(bytes))
        }
        None => format!("{token}x"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_and_forgeries() {
        let claims = json!({"iss":"http://gw","aud":"http://gw/a/mcp","iat":10,"exp":3610});
        let t = sign_hs256("secret-secret", Some("at+jwt"), &claims).unwrap();
        let d = decode_unverified(&t).unwrap();
        assert_eq!(d.header["alg"], "HS256");
        assert_eq!(d.header["typ"], "at+jwt");
        assert_eq!(
            d.claim_i64("exp").unwrap() - d.claim_i64("iat").unwrap(),
            3600
        );
        assert_eq!(d.audiences(), ["http://gw/a/mcp"]);
        let n = unsigned(&claims);
        assert_eq!(decode_unverified(&n).unwrap().header["alg"], "none");
        let tampered = tamper_signature(&t);
        assert_ne!(tampered, t);
        assert_eq!(
            tampered.rsplit_once('.').unwrap().0,
            t.rsplit_once('.').unwrap().0
        );
        assert!(decode_unverified("bak_abc").is_err());
        assert!(decode_unverified("a.b.c").is_err());
    }
}
