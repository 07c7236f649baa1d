//! HS256 JWT access tokens (guide "Token details": algorithm HS256, TTL 60 minutes), shaped as
//! RFC 9068 JWT profile access tokens: header `typ: at+jwt`; claims `iss`, `sub`, `aud`,
//! `client_id`, `iat`, `exp`, `jti`, `scope`.
//!
//! One private claim, `grant_id`, ties the token to the authorization grant it came from, so that
//! a replayed authorization code or a reused refresh token revokes it (OAuth 2.1 §4.1.3, §4.3.1).
//!
//! Verification pins the algorithm to HS256 (so `alg: none` and every other algorithm are refused,
//! RFC 8725 §3.1), checks `typ` (RFC 9068 §4), `iss` and `exp` against the injected clock rather
//! than the system time. Audience and ownership are the bearer module's business.
//!
//! Invariant: this module never logs a token.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::clock::UnixTime;
use crate::config::JwtSecret;

/// RFC 9068 §2.1: the media type of JWT access tokens, without the `application/` prefix.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Tolerated clock skew for `iat` in the future; `exp` gets none, so "expired" is exact.
const IAT_SKEW_SECS: u64 = 60;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    /// RFC 9068 §2.2 (REQUIRED) / RFC 8707 §2: the resource the token was requested for. A client
    /// that sent no `resource` gets the gateway itself (the issuer origin) as audience: valid at
    /// every agent `sub` owns.
    pub aud: String,
    pub client_id: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
    pub scope: String,
    pub grant_id: String,
}

/// Why a presented JWT was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtRejection {
    /// Not a JWT, bad signature, other algorithm, or missing claims.
    Invalid,
    /// `typ` is not `at+jwt`: an ID token or some other JWT.
    WrongType,
    /// Signed with our key but for another issuer.
    WrongIssuer,
    Expired,
    /// `iat` lies in the future.
    NotYetValid,
}

impl JwtRejection {
    pub fn description(self) -> &'static str {
        match self {
            JwtRejection::Invalid => "the access token is malformed or its signature is invalid",
            JwtRejection::WrongType => "the token is not an access token (typ must be at+jwt)",
            JwtRejection::WrongIssuer => "the access token was issued by another issuer",
            JwtRejection::Expired => "the access token expired",
            JwtRejection::NotYetValid => "the access token is not valid yet",
        }
    }
}

/// The guide's signing algorithm; the fault `access-token-hs512` configures HS512 instead.
fn algorithm() -> Algorithm {
    if fault!(AccessTokenHs512) {
        Algorithm::HS512
    } else {
        Algorithm::HS256
    }
}

/// Signs and verifies access tokens with the gateway's HS256 secret.
pub struct TokenSigner {
    issuer: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    pub fn new(issuer: &str, secret: &JwtSecret) -> TokenSigner {
        let mut validation = Validation::new(algorithm());
        // Time and audience are checked by us, against the injectable clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.leeway = 0;
        TokenSigner {
            issuer: issuer.to_owned(),
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// Signs `claims` as an HS256 `at+jwt`.
    pub fn sign(&self, claims: &AccessTokenClaims) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(algorithm());
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding)
    }

    /// RFC 9068 §4 / OAuth 2.1 §5.2: validate a presented access token at time `now`.
    pub fn verify(&self, token: &str, now: UnixTime) -> Result<AccessTokenClaims, JwtRejection> {
        let data = match jsonwebtoken::decode::<AccessTokenClaims>(
            token,
            &self.decoding,
            &self.validation,
        ) {
            Err(_) if fault!(JwtSignatureUnchecked) => {
                jsonwebtoken::dangerous::insecure_decode(token)
                    .map_err(|_| JwtRejection::Invalid)?
            }
            Err(_) if fault!(JwtAlgNoneAccepted) => {
                decode_unsigned(token).ok_or(JwtRejection::Invalid)?
            }
            decoded => decoded.map_err(|_| JwtRejection::Invalid)?,
        };
        let typ_ok = data.header.typ.as_deref().is_some_and(|typ| {
            typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYP)
                || typ.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(JwtRejection::WrongType);
        }
        let claims = data.claims;
        if claims.iss != self.issuer && !fault!(JwtIssUnchecked) {
            return Err(JwtRejection::WrongIssuer);
        }
        if now.0 >= claims.exp && !fault!(JwtExpUnchecked) {
            return Err(JwtRejection::Expired);
        }
        if claims.iat > now.0.saturating_add(IAT_SKEW_SECS) {
            return Err(JwtRejection::NotYetValid);
        }
        Ok(claims)
    }
}

/// Only for the `jwt-alg-none-accepted` fault: the claims of an `alg: none` JWT, unverified.
fn decode_unsigned(token: &str) -> Option<jsonwebtoken::TokenData<AccessTokenClaims>> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = token.split('.');
    let header: serde_json::Value =
        serde_json::from_slice(&b64.decode(parts.next()?).ok()?).ok()?;
    if header.get("alg")?.as_str()? != "none" {
        return None;
    }
    let claims = serde_json::from_slice(&b64.decode(parts.next()?).ok()?).ok()?;
    let mut header_out = Header::new(Algorithm::HS256);
    header_out.typ = header.get("typ")?.as_str().map(str::to_owned);
    Some(jsonwebtoken::TokenData {
        header: header_out,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Overrides};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn signer(secret: &str) -> TokenSigner {
        let config = Config::from_toml(
            &format!("[gateway]\nissuer = \"https://gw.example\"\njwt_secret = {secret:?}\n"),
            &Overrides::default(),
        )
        .unwrap();
        TokenSigner::new(&config.issuer, &config.jwt_secret)
    }

    fn claims(iat: u64) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://gw.example".into(),
            sub: "alice".into(),
            aud: "https://gw.example/a1/mcp".into(),
            client_id: "mcp_client_x".into(),
            iat,
            exp: iat + 3600,
            jti: "j".into(),
            scope: "mcp".into(),
            grant_id: "g".into(),
        }
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn aud_07_round_trip_and_expiry_is_exact() {
        let s = signer(SECRET);
        let token = s.sign(&claims(1_000)).unwrap();
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], "HS256");
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(s.verify(&token, UnixTime(1_000)).unwrap(), claims(1_000));
        assert_eq!(s.verify(&token, UnixTime(4_599)).unwrap(), claims(1_000));
        assert_eq!(
            s.verify(&token, UnixTime(4_600)),
            Err(JwtRejection::Expired)
        );
    }

    #[test]
    fn aud_07_other_key_alg_none_and_tampering_are_refused() {
        let token = signer(SECRET).sign(&claims(1_000)).unwrap();
        let other = signer("another-secret-another-secret-xx");
        assert_eq!(
            other.verify(&token, UnixTime(1_000)),
            Err(JwtRejection::Invalid)
        );

        let parts: Vec<&str> = token.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert_eq!(
            signer(SECRET).verify(&unsigned, UnixTime(1_000)),
            Err(JwtRejection::Invalid)
        );

        let mut forged = claims(1_000);
        forged.sub = "bob".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let tampered = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
        assert_eq!(
            signer(SECRET).verify(&tampered, UnixTime(1_000)),
            Err(JwtRejection::Invalid)
        );
    }

    #[test]
    fn aud_07_typ_and_issuer_are_checked() {
        let s = signer(SECRET);
        let key = EncodingKey::from_secret(SECRET.as_bytes());
        let plain_jwt =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims(1_000), &key).unwrap();
        assert_eq!(
            s.verify(&plain_jwt, UnixTime(1_000)),
            Err(JwtRejection::WrongType)
        );

        let mut foreign = claims(1_000);
        foreign.iss = "https://other.example".into();
        let token = s.sign(&foreign).unwrap();
        assert_eq!(
            s.verify(&token, UnixTime(1_000)),
            Err(JwtRejection::WrongIssuer)
        );

        let future = s.sign(&claims(2_000)).unwrap();
        assert_eq!(
            s.verify(&future, UnixTime(1_000)),
            Err(JwtRejection::NotYetValid)
        );
    }
}
