//! `grant_type=refresh_token` at the token endpoint (OAuth 2.1 §4.3; MCP authorization "Refresh
//! Tokens"; on by default, `gateway.refresh_tokens = false` turns it off).
//!
//! Refresh tokens of public clients MUST be sender-constrained or one-time use (OAuth 2.1 §4.3.1).
//! Each grant has one refresh-token family (`store::RefreshFamily`); a refresh token is
//! `{family_id}.{secret}`, and only the family's newest token is valid. Every use returns a new
//! token and retires the old one; presenting a retired one is taken as theft and revokes the whole
//! grant: its family and its access tokens. A refresh token is bound to its client and to the
//! resource the grant was authorized for; `scope` may only narrow (§4.3.1), and the family keeps
//! the grant's scope.

use crate::clock::UnixTime;
use crate::config::{ACCESS_TOKEN_TTL, REFRESH_TOKEN_IDLE_TTL};
use crate::error::{ErrorCode, OAuthError};
use crate::form::Params;
use crate::secrets::sha256_hex;
use crate::state::AppState;
use crate::store::{RegisteredClient, Rotation};
use crate::token::{Grant, TokenResponse, issue, refresh_token_of, requested_audience};

/// OAuth 2.1 §4.3.1.
pub async fn refresh_token_grant(
    state: &AppState,
    client: &RegisteredClient,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let presented = params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let invalid = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    let (family_id, _) = presented.split_once('.').ok_or_else(invalid)?;
    let family_key = sha256_hex(family_id);
    let presented_sha256 = sha256_hex(presented);
    let family = state
        .store
        .refresh_family(&family_key)
        .await
        .ok_or_else(invalid)?;
    if family.client_id != client.client_id && !fault!(RefreshOtherClient) {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    let now = state.clock.now();
    if !crate::secrets::ct_eq(
        family.current_sha256.as_bytes(),
        presented_sha256.as_bytes(),
    ) {
        // Someone holds a retired token of this family: the client's or a thief's.
        return Err(reused(state, &family.grant_id, now).await);
    }
    if now >= family.expires_at || state.store.is_grant_revoked(&family.grant_id).await {
        return Err(invalid());
    }
    if let Some(scope) = params.get("scope")
        && !fault!(RefreshScopeWidened)
    {
        let granted: Vec<&str> = family.scope.split(' ').collect();
        if scope
            .split(' ')
            .any(|s| !s.is_empty() && !granted.contains(&s))
        {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "the requested scope exceeds the scope of the grant",
            ));
        }
    }
    let audience = match params.get("resource") {
        Some(raw) if fault!(RefreshResourceUnbound) => {
            crate::resource::Resource::parse(&state.config, raw).ok_or_else(invalid)?
        }
        _ => requested_audience(state, params, family.resource.as_ref(), &family.username)?,
    };
    if fault!(RefreshNotRotated) {
        let grant = Grant {
            grant_id: family.grant_id,
            client_id: family.client_id,
            username: family.username,
            resource: family.resource,
            audience,
            scope: family.scope,
        };
        return issue(state, &grant, now, Some(presented.to_owned()));
    }

    let new_token = refresh_token_of(family_id)?;
    let family = match state
        .store
        .rotate_refresh_token(
            &family_key,
            &presented_sha256,
            &sha256_hex(&new_token),
            now.after(REFRESH_TOKEN_IDLE_TTL),
        )
        .await
    {
        Rotation::Rotated(family) => family,
        // Another request rotated it first: the same token was used twice.
        Rotation::Reused => return Err(reused(state, &family.grant_id, now).await),
        Rotation::Unknown => return Err(invalid()),
    };
    let grant = Grant {
        grant_id: family.grant_id,
        client_id: family.client_id,
        username: family.username,
        resource: family.resource,
        audience,
        // The gateway defines one scope, so a valid `scope` request equals the grant's.
        scope: match params.get("scope") {
            Some(scope) if fault!(RefreshScopeWidened) => scope.to_owned(),
            _ => family.scope,
        },
    };
    tracing::info!(client_id = %grant.client_id, user = %grant.username, "refresh token rotated");
    issue(state, &grant, now, Some(new_token))
}

/// OAuth 2.1 §4.3.1: a retired refresh token was presented; revoke the grant.
async fn reused(state: &AppState, grant_id: &str, now: UnixTime) -> OAuthError {
    if !fault!(RefreshReuseNoRevoke) {
        state
            .store
            .revoke_grant(grant_id, now.after(ACCESS_TOKEN_TTL))
            .await;
    }
    tracing::warn!("refresh token reused; grant revoked");
    OAuthError::invalid_grant("the refresh token was already used; the grant is revoked")
}
