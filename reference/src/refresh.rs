//! `grant_type=refresh_token` at the token endpoint (OAuth 2.1 §4.3; MCP authorization "Refresh
//! Tokens"; on by default, `gateway.refresh_tokens = false` turns it off).
//!
//! Refresh tokens of public clients MUST be sender-constrained or rotated (OAuth 2.1 §4.3.1): every
//! use returns a new refresh token and retires the old one; presenting a retired one is taken as
//! theft and revokes the whole grant (its refresh tokens and its access tokens). A refresh token is
//! bound to its client and to the resource the grant was authorized for; `scope` may only narrow
//! (§4.3.1), and the new refresh token keeps the grant's scope.

use crate::config::ACCESS_TOKEN_TTL;
use crate::error::{ErrorCode, OAuthError};
use crate::form::Params;
use crate::secrets::sha256_hex;
use crate::state::AppState;
use crate::store::{RegisteredClient, StoreError};
use crate::token::{Grant, TokenResponse, issue, new_secret, refresh_record, requested_audience};

/// OAuth 2.1 §4.3.1.
pub async fn refresh_token_grant(
    state: &AppState,
    client: &RegisteredClient,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let presented = params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let old_hash = sha256_hex(presented);
    let invalid = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    let record = state
        .store
        .refresh_token(&old_hash)
        .await
        .ok_or_else(invalid)?;
    if record.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    let now = state.clock.now();
    if record.rotated {
        revoke(state, &record.grant_id, now).await;
        return Err(OAuthError::invalid_grant(
            "the refresh token was already used; the grant is revoked",
        ));
    }
    if now >= record.expires_at || state.store.is_grant_revoked(&record.grant_id).await {
        return Err(invalid());
    }
    if let Some(scope) = params.get("scope") {
        let granted: Vec<&str> = record.scope.split(' ').collect();
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
    let audience = requested_audience(state, params, record.resource.as_ref(), &record.username)?;

    let grant = Grant {
        grant_id: record.grant_id.clone(),
        client_id: record.client_id.clone(),
        username: record.username.clone(),
        resource: record.resource.clone(),
        audience,
        // The gateway defines one scope, so a valid `scope` request equals the grant's.
        scope: record.scope.clone(),
    };
    let new_token = new_secret()?;
    let rotated = state
        .store
        .rotate_refresh_token(
            &old_hash,
            &sha256_hex(&new_token),
            refresh_record(&grant, now),
            now,
        )
        .await;
    match rotated {
        Ok(true) => {}
        Ok(false) => {
            // Lost a race with another use of the same token: that is a reuse too.
            revoke(state, &record.grant_id, now).await;
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; the grant is revoked",
            ));
        }
        Err(StoreError::Full) => {
            return Err(OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "the token store is full; try again shortly",
            ));
        }
    }
    tracing::info!(client_id = %grant.client_id, user = %grant.username, "refresh token rotated");
    issue(state, &grant, now, Some(new_token))
}

async fn revoke(state: &AppState, grant_id: &str, now: crate::clock::UnixTime) {
    state
        .store
        .revoke_grant(grant_id, now.after(ACCESS_TOKEN_TTL))
        .await;
    tracing::warn!("refresh token reused; grant revoked");
}
