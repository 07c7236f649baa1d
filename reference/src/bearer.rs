//! Who is calling `POST /{AGENT_ID}/mcp`: the three bearer types of the guide, and the `401`
//! challenge that lets MCP clients discover the authorization server by themselves.
//!
//! Credentials come only from `Authorization: Bearer <token>` (RFC 6750 §2.1; scheme
//! case-insensitive, RFC 9110 §11.1); a token in the query string is never accepted (MCP
//! authorization "Token Requirements"), and one sent alongside the header makes the request
//! malformed (RFC 6750 §3.1: more than one method, 400 `invalid_request`). The token is dispatched by prefix before any JWT parsing:
//!
//! | token | valid for | otherwise |
//! |---|---|---|
//! | `bak_…` agent key | its own agent only | another agent: 401 `invalid_token` |
//! | `oag_…` user key | every agent its user owns | another user's agent: 403 (valid credential, no permission) |
//! | HS256 JWT | agents its `sub` owns, within its `aud` (one agent, or the gateway origin = all) | other `aud`: 401; not owner: 403 |
//!
//! A valid credential for an agent that does not exist gets 404. API keys are compared as SHA-256
//! digests in constant time.
//!
//! Every 401 carries `WWW-Authenticate: Bearer realm="MCP", resource_metadata="<absolute URL of
//! this agent's protected resource metadata>", scope="mcp"`, plus `error="invalid_token"` when a
//! token was presented and refused (RFC 6750 §3, §3.1; RFC 9728 §5.1). The guide shows a relative
//! `resource_metadata`; RFC 9728 §5.1 wants the URL, and the TypeScript SDK drops a relative one,
//! so the reference sends it absolute.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::config::{AGENT_KEY_PREFIX, AgentId, Config, KeyOwner, SCOPE, USER_KEY_PREFIX};
use crate::jwt::AccessTokenClaims;
use crate::resource::Resource;
use crate::secrets::{ct_eq, sha256_hex};
use crate::state::AppState;

/// An authenticated caller, allowed to use the agent it was checked against.
#[derive(Debug, Clone)]
pub enum Principal {
    /// An OAuth access token issued by this gateway.
    OAuth(AccessTokenClaims),
    /// A `bak_…` key of this agent.
    AgentKey { owner: String },
    /// A `oag_…` key of the agent's owner.
    UserKey { username: String },
}

impl Principal {
    /// The user on whose behalf the call is made.
    pub fn user(&self) -> &str {
        match self {
            Principal::OAuth(claims) => &claims.sub,
            Principal::AgentKey { owner } => owner,
            Principal::UserKey { username } => username,
        }
    }

    /// `oauth`, `agent_key` or `user_key`: what `whoami` reports.
    pub fn bearer_type(&self) -> &'static str {
        match self {
            Principal::OAuth(_) => "oauth",
            Principal::AgentKey { .. } => "agent_key",
            Principal::UserKey { .. } => "user_key",
        }
    }
}

/// Why a request to the MCP endpoint was not allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerError {
    /// No `Authorization: Bearer` credentials: challenge without an error code (RFC 6750 §3.1).
    Missing,
    /// Several `Authorization` headers or an empty token: 400 `invalid_request`.
    Malformed(&'static str),
    /// Presented and refused: 401 `invalid_token`.
    InvalidToken(&'static str),
    /// Valid token without the gateway's scope: 403 `insufficient_scope` (RFC 6750 §3.1).
    InsufficientScope,
    /// Valid credentials of a user who does not own this agent: 403.
    NotOwner,
    /// Valid credentials, no such agent: 404.
    UnknownAgent,
}

/// Authenticates the request and checks that the caller may use `agent`. `query` is the raw
/// query string, looked at only to refuse a second credential method.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    agent: &AgentId,
) -> Result<Principal, BearerError> {
    let token_in_query = query.is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(name, _)| name == "access_token")
    });
    let query_token;
    let token = match bearer_token(headers) {
        Err(BearerError::Missing) if fault!(BearerQueryTokenAccepted) => {
            query_token = query
                .and_then(|q| {
                    form_urlencoded::parse(q.as_bytes()).find(|(name, _)| name == "access_token")
                })
                .map(|(_, value)| value.into_owned())
                .ok_or(BearerError::Missing)?;
            query_token.as_str()
        }
        header_token => {
            let token = header_token?;
            if token_in_query && !fault!(BearerTwoMethodsAccepted) {
                return Err(BearerError::Malformed(
                    "an access token in both the Authorization header and the query string",
                ));
            }
            token
        }
    };
    let config = &state.config;
    if token.starts_with(AGENT_KEY_PREFIX) && !fault!(BearerApiKeysRefused) {
        return match key_owner(config, token) {
            Some(KeyOwner::Agent(key_agent))
                if key_agent == *agent || fault!(BearerAgentKeyAnyAgent) =>
            {
                let owner = config
                    .agents
                    .get(agent)
                    .map(|a| a.owner.clone())
                    .ok_or(BearerError::UnknownAgent)?;
                Ok(Principal::AgentKey { owner })
            }
            Some(KeyOwner::Agent(_)) => Err(BearerError::InvalidToken(
                "this agent key is bound to another agent",
            )),
            _ => Err(BearerError::InvalidToken("unknown API key")),
        };
    }
    if token.starts_with(USER_KEY_PREFIX) && !fault!(BearerApiKeysRefused) {
        let Some(KeyOwner::User(username)) = key_owner(config, token) else {
            return Err(BearerError::InvalidToken("unknown API key"));
        };
        if !fault!(BearerUserKeyAnyOwner) {
            check_owner(config, agent, &username)?;
        }
        return Ok(Principal::UserKey { username });
    }

    let claims = state
        .signer
        .verify(token, state.clock.now())
        .map_err(|rejection| BearerError::InvalidToken(rejection.description()))?;
    if state.store.is_grant_revoked(&claims.grant_id).await {
        return Err(BearerError::InvalidToken("the access token was revoked"));
    }
    let covers = Resource::parse(config, &claims.aud).is_some_and(|r| r.covers(agent));
    if !covers && !fault!(BearerAudUnchecked) {
        return Err(BearerError::InvalidToken(
            "the access token was issued for another resource (aud)",
        ));
    }
    check_owner(config, agent, &claims.sub)?;
    if !claims.scope.split(' ').any(|s| s == SCOPE) {
        return Err(BearerError::InsufficientScope);
    }
    Ok(Principal::OAuth(claims))
}

/// RFC 6750 §2.1: `Authorization: Bearer <token68>`.
fn bearer_token(headers: &HeaderMap) -> Result<&str, BearerError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(BearerError::Missing);
    };
    if values.next().is_some() {
        return Err(BearerError::Malformed("more than one Authorization header"));
    }
    let value = value
        .to_str()
        .map_err(|_| BearerError::InvalidToken("the token is not valid ASCII"))?;
    let Some((scheme, token)) = value.split_once(' ') else {
        return if value.eq_ignore_ascii_case("bearer") {
            Err(BearerError::Malformed("the Bearer credentials are empty"))
        } else {
            Err(BearerError::Missing)
        };
    };
    if !scheme.eq_ignore_ascii_case("bearer")
        || (fault!(BearerSchemeCaseSensitive) && scheme != "Bearer")
    {
        // Another scheme (Basic, …) is not a bearer credential at all.
        return Err(BearerError::Missing);
    }
    let token = token.trim_start_matches(' ');
    if token.is_empty() {
        return Err(BearerError::Malformed("the Bearer credentials are empty"));
    }
    if !is_token68(token) {
        return Err(BearerError::InvalidToken(
            "the token is not a valid token68",
        ));
    }
    Ok(token)
}

/// RFC 9110 §11.2: `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_token68(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// Looks the key up by SHA-256 digest, comparing with every configured digest in constant time.
fn key_owner(config: &Config, key: &str) -> Option<KeyOwner> {
    let digest = sha256_hex(key);
    let mut found = None;
    for (candidate, owner) in &config.api_keys {
        if ct_eq(candidate.as_bytes(), digest.as_bytes()) {
            found = Some(owner.clone());
        }
    }
    found
}

fn check_owner(config: &Config, agent: &AgentId, username: &str) -> Result<(), BearerError> {
    match config.agents.get(agent) {
        None => Err(BearerError::UnknownAgent),
        Some(a) if a.owner == username => Ok(()),
        Some(_) => Err(BearerError::NotOwner),
    }
}

impl BearerError {
    /// Renders the error for `agent`'s endpoint.
    pub fn into_response(self, config: &Config, agent: &AgentId) -> Response {
        let mut metadata = config.agent_metadata_url(agent);
        if fault!(BearerChallengeRelativeMetadata) {
            metadata = format!("/.well-known/oauth-protected-resource/{agent}/mcp");
        }
        if fault!(BearerChallengeGuideMetadata) {
            // The guide's example, verbatim: relative, and the gateway's root metadata.
            metadata = "/.well-known/oauth-protected-resource".to_owned();
        }
        let scope: std::borrow::Cow<'static, str> = if fault!(BearerChallengeOffersOfflineAccess) {
            format!("{SCOPE} offline_access").into()
        } else {
            SCOPE.into()
        };
        let challenge = |error: Option<(&str, &str)>| {
            let mut value = format!(
                "Bearer realm=\"MCP\", resource_metadata=\"{metadata}\", scope=\"{scope}\""
            );
            if fault!(BearerChallengeNoRealm) {
                value = value.replace("realm=\"MCP\", ", "");
            }
            if fault!(BearerChallengeNoScope) {
                value = value.replace(&format!(", scope=\"{scope}\""), "");
            }
            if let Some((code, description)) = error {
                value.push_str(&format!(
                    ", error=\"{code}\", error_description=\"{description}\""
                ));
            }
            value
        };
        let (status, header_value, code, description) = match self {
            BearerError::Missing if fault!(BearerErrorWithoutCredentials) => (
                StatusCode::UNAUTHORIZED,
                Some(challenge(Some((
                    "invalid_token",
                    "authentication required: send Authorization: Bearer <token>",
                )))),
                Some("invalid_token"),
                "authentication required: send Authorization: Bearer <token>",
            ),
            BearerError::Missing => (
                StatusCode::UNAUTHORIZED,
                Some(challenge(None)),
                None,
                "authentication required: send Authorization: Bearer <token>",
            ),
            BearerError::Malformed(why) => (
                StatusCode::BAD_REQUEST,
                Some(challenge(Some(("invalid_request", why)))),
                Some("invalid_request"),
                why,
            ),
            BearerError::InvalidToken(why) => (
                StatusCode::UNAUTHORIZED,
                Some(challenge(Some(("invalid_token", why)))),
                Some("invalid_token"),
                why,
            ),
            BearerError::InsufficientScope => (
                StatusCode::FORBIDDEN,
                Some(challenge(Some((
                    "insufficient_scope",
                    "the token lacks the mcp scope",
                )))),
                Some("insufficient_scope"),
                "the token lacks the mcp scope",
            ),
            BearerError::NotOwner => (
                StatusCode::FORBIDDEN,
                None,
                Some("access_denied"),
                "the authenticated user does not own this agent",
            ),
            BearerError::UnknownAgent => (
                StatusCode::NOT_FOUND,
                None,
                Some("not_found"),
                "no such agent",
            ),
        };
        let body = match code {
            Some(code) => serde_json::json!({ "error": code, "error_description": description }),
            None => serde_json::json!({ "error_description": description }),
        };
        let mut response = (status, Json(body)).into_response();
        let header_value = header_value
            .filter(|_| !(fault!(BearerChallengeMissing) && status == StatusCode::UNAUTHORIZED));
        if let Some(value) = header_value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_01_scheme_is_case_insensitive() {
        for v in ["Bearer abc", "bearer abc", "BEARER abc", "Bearer   abc"] {
            assert_eq!(bearer_token(&headers(&[v])), Ok("abc"), "{v}");
        }
    }

    #[test]
    fn bearer_05_missing_other_scheme_and_malformed() {
        assert_eq!(bearer_token(&headers(&[])), Err(BearerError::Missing));
        assert_eq!(
            bearer_token(&headers(&["Basic YTpi"])),
            Err(BearerError::Missing)
        );
        assert!(matches!(
            bearer_token(&headers(&["Bearer"])),
            Err(BearerError::Malformed(_))
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer "])),
            Err(BearerError::Malformed(_))
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer a", "Bearer b"])),
            Err(BearerError::Malformed(_))
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer a\"b"])),
            Err(BearerError::InvalidToken(_))
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer a=b"])),
            Err(BearerError::InvalidToken(_))
        ));
    }
}
