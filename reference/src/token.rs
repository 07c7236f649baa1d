//! `POST /oauth/token`: the token endpoint (OAuth 2.1 §3.2, §4.1.3, §4.3; RFC 7636 §4.5–4.6;
//! RFC 8707 §2.2).
//!
//! Processing of `grant_type=authorization_code`, in order:
//! 1. the body is `application/x-www-form-urlencoded`, no parameter repeated (§3.2);
//! 2. the client is public: identified by `client_id` alone, which must be registered
//!    (`401 invalid_client` otherwise, so SDK clients re-register);
//! 3. the code exists and was issued to this client; `code_verifier` matches the stored S256
//!    challenge; `redirect_uri`, if sent, equals the authorized one; `resource`, if sent, is the
//!    authorized one (`invalid_target`). These checks come before the code is consumed, so a
//!    request with a wrong verifier neither uses up nor revokes the code (OAuth 2.1 §4.1.3 asks
//!    not to let invalid replays revoke: that would be a denial of service);
//! 4. the code has not expired ([`AUTHORIZATION_CODE_TTL`]);
//! 5. the code is consumed atomically; the loser of a race, or any later valid redemption, gets
//!    `invalid_grant` and revokes every token issued from the code (§4.1.3 "Reuse").
//!
//! The refresh grant is in `refresh.rs`. Every answer carries `Cache-Control: no-store` (§3.2.3).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::clock::UnixTime;
use crate::config::{ACCESS_TOKEN_TTL, AUTHORIZATION_CODE_TTL, REFRESH_TOKEN_IDLE_TTL};
use crate::error::{ErrorCode, OAuthBody, OAuthError};
use crate::form::{Params, content_type_is};
use crate::jwt::AccessTokenClaims;
use crate::resource::Resource;
use crate::secrets::{random_token, sha256_hex};
use crate::state::AppState;
use crate::store::{RefreshFamily, RegisteredClient, StoreError};

/// OAuth 2.1 §3.2.3 successful token response.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(skip_serializing_if = "token_type_left_out")]
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// The fault `token-type-missing`: the response forgets `token_type`.
fn token_type_left_out(_: &&'static str) -> bool {
    fault!(TokenTypeMissing)
}

/// What a token is issued for: the grant, its user and client, and the audience.
#[derive(Debug, Clone)]
pub struct Grant {
    pub grant_id: String,
    pub client_id: String,
    pub username: String,
    /// The resource the grant was authorized for (kept by refresh tokens).
    pub resource: Option<Resource>,
    /// The audience of this particular access token: the grant's resource, a narrower one the
    /// client asked for, or the whole gateway when no resource was named (RFC 9068 §2.2 requires
    /// an `aud`).
    pub audience: Resource,
    pub scope: String,
}

/// `POST /oauth/token`
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    OAuthBody(body): OAuthBody,
) -> Result<Response, OAuthError> {
    if fault!(TokenJsonBodyServerError)
        && content_type_is(&headers, "application/json") == Some(true)
    {
        return Err(OAuthError::server_error());
    }
    if content_type_is(&headers, "application/x-www-form-urlencoded") != Some(true) {
        return Err(OAuthError::invalid_request(
            "the token request must be application/x-www-form-urlencoded (OAuth 2.1 section 3.2)",
        ));
    }
    if headers.contains_key(header::AUTHORIZATION) {
        return Err(OAuthError::new(
            ErrorCode::InvalidClient,
            "clients of this gateway are public: send client_id in the body, no client authentication",
        ));
    }
    let params = Params::parse(&body);
    if params.is_repeated("resource") {
        // RFC 8707 §2 allows several resources; this gateway issues tokens for one at a time.
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "only one resource may be requested per token",
        ));
    }
    if let Some(name) = params.repeated().first() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {} must not be repeated (OAuth 2.1 section 3.2)",
            crate::error::describe_value(name)
        )));
    }
    if params.get("client_secret").is_some() {
        return Err(OAuthError::new(
            ErrorCode::InvalidClient,
            "clients of this gateway are public and have no client_secret",
        ));
    }
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let supported = match grant_type {
        "authorization_code" => true,
        "refresh_token" => state.config.refresh_tokens,
        _ => fault!(GrantTypeUnchecked),
    };
    if !supported {
        return Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            "supported grant types: authorization_code and refresh_token",
        ));
    }
    let client = client(&state, &params).await?;
    if !client.grant_types.iter().any(|g| g == grant_type) && !fault!(GrantTypeUnchecked) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the client did not register this grant type",
        ));
    }
    let response = match grant_type {
        "authorization_code" => authorization_code_grant(&state, &client, &params).await,
        _ => crate::refresh::refresh_token_grant(&state, &client, &params).await,
    };
    match response {
        Err(e) if fault!(TokenErrorsInvalidGrant) => Err(OAuthError::invalid_grant(e.description)),
        response => Ok(token_response(response?)),
    }
}

/// §3.2.1: a public client is identified by `client_id`, which must be registered.
async fn client(state: &AppState, params: &Params) -> Result<RegisteredClient, OAuthError> {
    let client_id = params
        .get("client_id")
        .ok_or_else(|| OAuthError::invalid_request("client_id is required for public clients"))?;
    state
        .store
        .client(client_id)
        .await
        .ok_or_else(|| OAuthError::new(ErrorCode::InvalidClient, "unknown client_id"))
}

/// OAuth 2.1 §4.1.3 with RFC 7636 §4.6.
async fn authorization_code_grant(
    state: &AppState,
    client: &RegisteredClient,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let code = params
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let verifier = params.get("code_verifier");
    if verifier.is_none() && !fault!(PkceVerifierOptional) {
        return Err(OAuthError::invalid_request(
            "code_verifier is required (PKCE, RFC 7636 section 4.5)",
        ));
    }
    let code_hash = sha256_hex(code);
    let record =
        state.store.code(&code_hash).await.ok_or_else(|| {
            OAuthError::invalid_grant("the authorization code is invalid or expired")
        })?;
    if record.client_id != client.client_id && !fault!(CodeOtherClientRedeemed) {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    let now = state.clock.now();
    if fault!(CodeReplayRevokesBeforePkce) && record.consumed {
        return Err(replayed(state, client, &record.grant_id, now).await);
    }
    if let Some(verifier) = verifier
        && !record.code_challenge.verify(verifier)
    {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge (RFC 7636 section 4.6)",
        ));
    }
    if fault!(RedirectUriRequired) && params.get("redirect_uri").is_none() {
        return Err(OAuthError::invalid_request("redirect_uri is required"));
    }
    if let Some(sent) = params.get("redirect_uri")
        && sent != record.redirect_uri
        && !fault!(RedirectUriUnchecked)
    {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the one in the authorization request",
        ));
    }
    let audience = requested_audience(state, params, record.resource.as_ref(), &record.username)?;

    if !record.consumed && now >= record.expires_at && !fault!(CodeNeverExpires) {
        return Err(OAuthError::invalid_grant(format!(
            "the authorization code expired (codes live {} s)",
            AUTHORIZATION_CODE_TTL.as_secs()
        )));
    }
    if !state.store.consume_code(&code_hash).await && !fault!(CodeReusable) {
        return Err(replayed(state, client, &record.grant_id, now).await);
    }

    let grant = Grant {
        grant_id: record.grant_id,
        client_id: record.client_id,
        username: record.username,
        resource: record.resource,
        audience,
        scope: record.scope,
    };
    let refresh_token = if issues_refresh_tokens(state, client) {
        new_refresh_family(state, &grant, now).await?
    } else {
        None
    };
    tracing::info!(client_id = %grant.client_id, user = %grant.username, "access token issued for a code");
    issue(state, &grant, now, refresh_token)
}

/// §4.1.3 "Reuse": a used code was presented again; revoke the tokens issued from it.
async fn replayed(
    state: &AppState,
    client: &RegisteredClient,
    grant_id: &str,
    now: UnixTime,
) -> OAuthError {
    if !fault!(CodeReplayNoRevoke) {
        state
            .store
            .revoke_grant(grant_id, now.after(ACCESS_TOKEN_TTL))
            .await;
    }
    tracing::warn!(client_id = %client.client_id, "authorization code replayed; grant revoked");
    OAuthError::invalid_grant(
        "the authorization code was already used; tokens issued from it are revoked",
    )
}

/// RFC 8707 §2.2: the `resource` of a token request must be one the grant covers. A grant for one
/// agent yields tokens for that agent only; a grant without a resource (or for the whole gateway)
/// may be narrowed to one of the user's agents. Without `resource`, the grant's own resource, or
/// the whole gateway, is the audience.
pub fn requested_audience(
    state: &AppState,
    params: &Params,
    granted: Option<&Resource>,
    username: &str,
) -> Result<Resource, OAuthError> {
    let Some(raw) = params.get("resource") else {
        return Ok(granted.cloned().unwrap_or(Resource::Gateway));
    };
    if fault!(TokenResourceRefused) {
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "resource is only accepted at the authorization endpoint",
        ));
    }
    let invalid = || {
        OAuthError::new(
            ErrorCode::InvalidTarget,
            "resource is not one the authorization grant covers",
        )
    };
    let Some(requested) = Resource::parse(&state.config, raw) else {
        if fault!(TokenResourceUnparsedIgnored) {
            return Ok(granted.cloned().unwrap_or(Resource::Gateway));
        }
        return Err(invalid());
    };
    match (granted, &requested) {
        (Some(g), r) if g == r => Ok(requested),
        (None | Some(Resource::Gateway), Resource::Gateway) => Ok(requested),
        (None | Some(Resource::Gateway), Resource::Agent(id)) => {
            let owned = state
                .config
                .agents
                .get(id)
                .is_some_and(|agent| agent.owner == username);
            if owned { Ok(requested) } else { Err(invalid()) }
        }
        _ => Err(invalid()),
    }
}

fn issues_refresh_tokens(state: &AppState, client: &RegisteredClient) -> bool {
    state.config.refresh_tokens && client.grant_types.iter().any(|g| g == "refresh_token")
}

/// Starts the refresh-token family of `grant` and returns its first token, `None` when the grant
/// was revoked meanwhile (a replay of its code won the race) or the store is full: the access
/// token is still useful, and the client will sign in again later.
async fn new_refresh_family(
    state: &AppState,
    grant: &Grant,
    now: UnixTime,
) -> Result<Option<String>, OAuthError> {
    let family_id = random_token(16).map_err(|_| OAuthError::server_error())?;
    let token = refresh_token_of(&family_id)?;
    let family = RefreshFamily {
        grant_id: grant.grant_id.clone(),
        client_id: grant.client_id.clone(),
        username: grant.username.clone(),
        resource: grant.resource.clone(),
        scope: grant.scope.clone(),
        current_sha256: sha256_hex(&token),
        expires_at: now.after(REFRESH_TOKEN_IDLE_TTL),
    };
    match state
        .store
        .insert_refresh_family(&sha256_hex(&family_id), family, now)
        .await
    {
        Ok(true) => Ok(Some(token)),
        Ok(false) | Err(StoreError::Full) => Ok(None),
    }
}

/// A new refresh token of family `family_id`: `{family_id}.{256 random bits}`.
pub fn refresh_token_of(family_id: &str) -> Result<String, OAuthError> {
    let secret = random_token(32).map_err(|_| OAuthError::server_error())?;
    Ok(format!("{family_id}.{secret}"))
}

/// Signs the access token of `grant` and assembles the response.
pub fn issue(
    state: &AppState,
    grant: &Grant,
    now: UnixTime,
    refresh_token: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    let claims = AccessTokenClaims {
        iss: state.config.issuer.clone(),
        sub: grant.username.clone(),
        aud: if fault!(AccessTokenAudGateway) {
            Resource::Gateway.identifier(&state.config)
        } else {
            grant.audience.identifier(&state.config)
        },
        client_id: grant.client_id.clone(),
        iat: now.0,
        exp: if fault!(AccessTokenExp7200) {
            now.after(2 * ACCESS_TOKEN_TTL).0
        } else {
            now.after(ACCESS_TOKEN_TTL).0
        },
        jti: random_token(16).map_err(|_| OAuthError::server_error())?,
        scope: grant.scope.clone(),
        grant_id: grant.grant_id.clone(),
    };
    let access_token = state.signer.sign(&claims).map_err(|e| {
        tracing::error!(error = %e, "cannot sign an access token");
        OAuthError::server_error()
    })?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_TTL.as_secs() - u64::from(fault!(TokenExpiresIn3599)),
        scope: grant.scope.clone(),
        refresh_token,
    })
}

fn token_response(body: TokenResponse) -> Response {
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    if !fault!(TokenNoStoreMissing) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
