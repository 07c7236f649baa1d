//! Steps of `features/refresh.feature`: the refresh token grant as MCP clients use it (OAuth 2.1
//! "Refresh Token Grant", "Refresh Token Recommendations"; RFC 8707 §2.2; MCP authorization
//! "Refresh Tokens").
//!
//! An honest refresh is what the TypeScript and Python SDKs send: `grant_type=refresh_token`,
//! the refresh token, `client_id` (public client, no authentication) and the RFC 8707 `resource`
//! of the original authorization request; no `scope`. Negative steps change exactly one of these.
//! The scenario keeps the newest refresh token and the one it replaced in `saved`, so rotation
//! and reuse read as steps.
//!
//! Issuing refresh tokens is the gateway's choice (REFRESH-01): when a gateway advertises the
//! grant but issues none, every scenario that needs one is N/A, and only the REFRESH-01 scenario
//! (a MAY, so WARN) reports it. Where `offline_access` may appear (REFRESH-07) is
//! [`offline_access`]'s business.

mod offline_access;

use cucumber::{given, then, when};
use serde_json::Value;

use crate::pkce;
use crate::steps::NOT_APPLICABLE;
use crate::steps::NOT_TESTABLE;
use crate::steps::http::{brief, expect_oauth_error};
use crate::steps::ttl::expect_mcp_accepts;
use crate::world::{Agent, ClientInfo, GatewayWorld, StepResult, get_param, set_param};

/// `saved` keys of this module.
const NEWEST: &str = "refresh: newest refresh token";
const USED: &str = "refresh: used refresh token";
const FIRST_ACCESS_TOKEN: &str = "refresh: first access token";
const ORIGINAL_SCOPE: &str = "refresh: original scope";
const SECOND_CLIENT: &str = "refresh: second client_id";
const MADE_UP: &str = "refresh: made-up refresh token";

/// The scope a scenario asks for that no grant covers, when the authorization server lists no
/// scope beyond the granted ones (RFC 6749 §5.2: unknown scopes are `invalid_scope` too).
const UNGRANTED_SCOPE: &str = "mcp-conformance-not-granted";

/// Sends the honest refresh request with the refresh token saved under `token`, by the client
/// saved under `client` (`None`: the scenario's own), `edit`ed.
async fn send_refresh(
    w: &mut GatewayWorld,
    token: &str,
    client: Option<&str>,
    edit: impl FnOnce(&mut Vec<(String, String)>),
) -> StepResult {
    let client_id = match client {
        Some(key) => saved(w, key)?,
        None => w
            .client
            .as_ref()
            .ok_or("internal: no client yet")?
            .client_id
            .clone(),
    };
    let mut params = vec![
        ("grant_type".to_owned(), "refresh_token".to_owned()),
        ("refresh_token".to_owned(), saved(w, token)?),
        ("client_id".to_owned(), client_id),
    ];
    if let Some(resource) = get_param(&w.authorization_params, "resource") {
        params.push(("resource".to_owned(), resource.to_owned()));
    }
    edit(&mut params);
    w.token_request(&params).await.map(|_| ())
}

fn saved(w: &GatewayWorld, key: &str) -> Result<String, String> {
    w.saved
        .get(key)
        .cloned()
        .ok_or_else(|| format!("internal: no {key:?} saved before this step"))
}

/// Takes a successful refresh response; a new refresh token becomes the newest. Returns whether
/// the refresh token rotated.
fn take_refresh(w: &mut GatewayWorld) -> Result<bool, String> {
    let old = saved(w, NEWEST)?;
    let tokens = w
        .take_tokens()
        .map_err(|e| format!("the refresh failed: {e}"))?;
    match tokens.refresh_token.filter(|new| *new != old) {
        Some(new) => {
            w.saved.insert(USED.to_owned(), old);
            w.saved.insert(NEWEST.to_owned(), new);
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Registers a client with `metadata`; `None` when the registration fails.
async fn register_with(
    w: &mut GatewayWorld,
    metadata: &Value,
) -> Result<Option<ClientInfo>, String> {
    let ex = w.register(metadata).await?;
    let resp = ex.response()?;
    let Some(json) = resp.json().filter(|_| (200..300).contains(&resp.status)) else {
        return Ok(None);
    };
    Ok(json
        .get("client_id")
        .and_then(Value::as_str)
        .map(|id| ClientInfo {
            client_id: id.to_owned(),
            redirect_uri: w.ctx.profile.redirect_uri.clone(),
            response: json.clone(),
        }))
}

/// The `grant_types` the scenario's client registration response echoed.
fn registered_grant_types(w: &GatewayWorld) -> Option<&Value> {
    w.client
        .as_ref()
        .and_then(|c| c.response.get("grant_types"))
}

/// Space-separated scope values as a sorted set.
fn scope_set(scope: &str) -> Vec<&str> {
    let mut v: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// A scope beyond `granted`: one the authorization server lists and the grant lacks (not
/// `offline_access`, which some servers treat apart), else [`UNGRANTED_SCOPE`].
fn scope_beyond(granted: &str, as_scopes: &[&str]) -> String {
    let have = scope_set(granted);
    let extra = as_scopes
        .iter()
        .find(|s| !have.contains(s) && **s != "offline_access" && !s.is_empty())
        .copied()
        .unwrap_or(UNGRANTED_SCOPE);
    let mut all: Vec<&str> = have;
    all.push(extra);
    all.join(" ")
}

// ---- REFRESH-01 -----------------------------------------------------------------------------

#[given("the gateway does not advertise the refresh grant")]
async fn refresh_not_advertised(w: &mut GatewayWorld) -> StepResult {
    if w.ctx.discovered.has_capability("refresh")? {
        return Err(format!(
            "{NOT_APPLICABLE}the gateway advertises the refresh_token grant, so the scenarios with refresh tokens apply instead"
        ));
    }
    Ok(())
}

/// Registers the way the MCP SDKs do whatever the metadata says (Python SDK: both grants); a
/// gateway that refuses such a registration gets the suite's default client instead.
#[given("a client registered with the refresh grant, as the MCP SDKs register")]
async fn sdk_like_client(w: &mut GatewayWorld) -> StepResult {
    let mut metadata = w.client_metadata();
    metadata["grant_types"] = serde_json::json!(["authorization_code", "refresh_token"]);
    match register_with(w, &metadata).await? {
        Some(client) => w.client = Some(client),
        None => {
            w.register_client().await?;
        }
    }
    Ok(())
}

/// RFC 6749 §5.2: `unsupported_grant_type`; `unauthorized_client` fits too when the client's
/// registration (as echoed) does not hold the refresh grant.
#[then("the refresh grant is refused as unsupported")]
async fn refused_as_unsupported(w: &mut GatewayWorld) -> StepResult {
    let registered_refresh = registered_grant_types(w)
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|g| g.as_str() == Some("refresh_token")));
    let allowed: &[&str] = if registered_refresh {
        &["unsupported_grant_type"]
    } else {
        &["unsupported_grant_type", "unauthorized_client"]
    };
    expect_oauth_error(w, &[400], allowed).map_err(|e| format!("REFRESH-01: {e}"))
}

#[then("a refresh token comes with the access token")]
async fn carries_refresh_token(w: &mut GatewayWorld) -> StepResult {
    let tokens = w.tokens.as_ref().ok_or("internal: no token response yet")?;
    match tokens.json.get("refresh_token") {
        Some(Value::String(s)) if !s.is_empty() => Ok(()),
        other => {
            let registered = registered_grant_types(w)
                .map(Value::to_string)
                .unwrap_or_else(|| "(not echoed)".into());
            Err(format!(
                "REFRESH-01: the gateway advertises the refresh_token grant and the client registered grant_types {registered}, but the token response's refresh_token is {}",
                other.map_or("absent".to_owned(), Value::to_string)
            ))
        }
    }
}

/// OAuth 2.1 "Token Endpoint Response": members without a value are omitted, not `null`.
#[then("no refresh token comes with the access token")]
async fn carries_no_refresh_token(w: &mut GatewayWorld) -> StepResult {
    let tokens = w.tokens.as_ref().ok_or("internal: no token response yet")?;
    match tokens.json.get("refresh_token") {
        None => Ok(()),
        Some(Value::Null) => Err(
            "REFRESH-01: the token response has \"refresh_token\": null; omit the member instead"
                .into(),
        ),
        Some(_) => Err(
            "REFRESH-01: the gateway does not advertise the refresh_token grant but issued a refresh token"
                .into(),
        ),
    }
}

#[when("the client sends a refresh request with a made-up refresh token")]
async fn made_up_refresh(w: &mut GatewayWorld) -> StepResult {
    let made_up = pkce::random_string(43, pkce::UNRESERVED);
    w.saved.insert(MADE_UP.to_owned(), made_up);
    send_refresh(w, MADE_UP, None, |_| {}).await
}

// ---- Refresh tokens and rotation (REFRESH-02) -----------------------------------------------

#[given("a refresh token for the owned agent")]
async fn a_refresh_token(w: &mut GatewayWorld) -> StepResult {
    let tokens = w.obtain_tokens(Agent::Owned).await?;
    let Some(rt) = tokens.refresh_token.clone().filter(|t| !t.is_empty()) else {
        return Err(format!(
            "{NOT_APPLICABLE}the gateway advertises the refresh grant but issued no refresh token to a client that registered it (its choice, REFRESH-01)"
        ));
    };
    let scope = tokens
        .scope
        .clone()
        .or_else(|| get_param(&w.authorization_params, "scope").map(str::to_owned));
    w.saved.insert(NEWEST.to_owned(), rt);
    w.saved
        .insert(FIRST_ACCESS_TOKEN.to_owned(), tokens.access_token);
    if let Some(scope) = scope {
        w.saved.insert(ORIGINAL_SCOPE.to_owned(), scope);
    }
    Ok(())
}

#[when("the client refreshes with the newest refresh token")]
async fn refresh_with_newest(w: &mut GatewayWorld) -> StepResult {
    send_refresh(w, NEWEST, None, |_| {}).await
}

#[when("the client refreshes with the used refresh token")]
async fn refresh_with_used(w: &mut GatewayWorld) -> StepResult {
    send_refresh(w, USED, None, |_| {}).await
}

/// OAuth 2.1 "Refresh Token Grant": a public client's refresh token is one-time use, so the
/// response carries a new one.
#[then("the refresh response rotates the refresh token")]
async fn rotates(w: &mut GatewayWorld) -> StepResult {
    if take_refresh(w)? {
        return Ok(());
    }
    Err("REFRESH-02: the refresh response carries no new refresh token; a public client's refresh token must rotate on use".into())
}

/// A successful refresh, rotation not judged (the REFRESH-02 scenarios do that).
#[then("the refresh response issues an access token")]
async fn refresh_succeeds(w: &mut GatewayWorld) -> StepResult {
    take_refresh(w).map(|_| ())
}

#[then("the refreshed access token works at the owned agent's MCP endpoint")]
async fn refreshed_token_works(w: &mut GatewayWorld) -> StepResult {
    let token = w.access_token().await?;
    expect_mcp_accepts(w, &token, "the refreshed access token: ").await
}

/// A refreshed token is new: not the first token again, and (for JWTs) with an `exp` no earlier
/// than the first one's and the same lifetime (`exp - iat`).
#[then("the refreshed access token is new and expires no earlier than the first one")]
async fn refreshed_token_is_fresh(w: &mut GatewayWorld) -> StepResult {
    let first = saved(w, FIRST_ACCESS_TOKEN)?;
    let new = w.access_token().await?;
    if new == first {
        return Err(
            "the refresh response returned the first access token again instead of a new one"
                .into(),
        );
    }
    let (Ok(a), Ok(b)) = (
        crate::jwt::decode_unverified(&first),
        crate::jwt::decode_unverified(&new),
    ) else {
        // Opaque tokens: nothing more to compare than that the response states a lifetime.
        return Ok(());
    };
    let claims = |d: &crate::jwt::Decoded| (d.claim_i64("iat"), d.claim_i64("exp"));
    match (claims(&a), claims(&b)) {
        ((Some(iat1), Some(exp1)), (Some(iat2), Some(exp2))) => {
            if exp2 < exp1 || exp2 - iat2 < exp1 - iat1 {
                Err(format!(
                    "the refreshed access token is stale: exp {exp2} (lifetime {} s) against the first token's exp {exp1} (lifetime {} s)",
                    exp2 - iat2,
                    exp1 - iat1
                ))
            } else {
                Ok(())
            }
        }
        _ => Err("an access token is a JWT without numeric iat and exp (RFC 9068 §2.2)".into()),
    }
}

// ---- Client binding (REFRESH-03) ------------------------------------------------------------

#[given("a second client that registered the refresh grant")]
async fn second_client(w: &mut GatewayWorld) -> StepResult {
    let metadata = w.client_metadata();
    let Some(client) = register_with(w, &metadata).await? else {
        let ex = w.last_exchange()?;
        let body = ex
            .response
            .as_ref()
            .map(|r| brief(&r.body))
            .unwrap_or_default();
        return Err(format!(
            "{NOT_TESTABLE}registering a second client failed: {} {body}",
            ex.line()
        ));
    };
    w.saved.insert(SECOND_CLIENT.to_owned(), client.client_id);
    Ok(())
}

#[when("the second client refreshes with the refresh token")]
async fn second_client_refreshes(w: &mut GatewayWorld) -> StepResult {
    send_refresh(w, NEWEST, Some(SECOND_CLIENT), |_| {}).await
}

// ---- Scope (REFRESH-04) ---------------------------------------------------------------------

#[when("the client refreshes with the newest refresh token and the granted scope")]
async fn refresh_with_granted_scope(w: &mut GatewayWorld) -> StepResult {
    let scope = w.saved.get(ORIGINAL_SCOPE).cloned().ok_or_else(|| {
        format!(
            "{NOT_TESTABLE}neither the authorization request nor the token response named a scope"
        )
    })?;
    send_refresh(w, NEWEST, None, |p| set_param(p, "scope", Some(&scope))).await
}

#[when("the client refreshes with the newest refresh token and a scope beyond the grant")]
async fn refresh_with_wider_scope(w: &mut GatewayWorld) -> StepResult {
    let granted = w.saved.get(ORIGINAL_SCOPE).cloned().unwrap_or_default();
    let asm = w.ctx.discovered.asm.clone().unwrap_or_default();
    let listed = asm.get("scopes_supported").and_then(Value::as_array);
    let as_scopes: Vec<&str> = listed
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let wider = scope_beyond(&granted, &as_scopes);
    send_refresh(w, NEWEST, None, |p| set_param(p, "scope", Some(&wider))).await
}

/// RFC 6749 §5.1: `scope` may be omitted when it is the requested one; when present it is the
/// original grant's.
#[then("the refresh response grants the original scope")]
async fn grants_original_scope(w: &mut GatewayWorld) -> StepResult {
    let tokens = w.tokens.as_ref().ok_or("internal: no token response yet")?;
    let (Some(granted), Some(original)) = (&tokens.scope, w.saved.get(ORIGINAL_SCOPE)) else {
        return Ok(());
    };
    if scope_set(granted) == scope_set(original) {
        Ok(())
    } else {
        Err(format!(
            "REFRESH-04: the refresh response grants scope {granted:?}, the original grant was {original:?}"
        ))
    }
}

// ---- Resource (REFRESH-05) ------------------------------------------------------------------

#[when("the client refreshes with the newest refresh token for the other agent's resource")]
async fn refresh_for_other_resource(w: &mut GatewayWorld) -> StepResult {
    let own = get_param(&w.authorization_params, "resource").map(str::to_owned);
    let other = w
        .resource_for(Agent::Other)
        .await?
        .ok_or_else(|| format!("{NOT_TESTABLE}the other agent has no resource identifier"))?;
    if own.as_deref() == Some(other.as_str()) {
        return Err(format!(
            "{NOT_TESTABLE}both agents share the resource identifier {other:?}, so a grant for one covers the other"
        ));
    }
    send_refresh(w, NEWEST, None, |p| set_param(p, "resource", Some(&other))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wider_scope_adds_one_the_grant_lacks() {
        assert_eq!(
            scope_beyond("mcp", &["mcp"]),
            format!("mcp {UNGRANTED_SCOPE}")
        );
        assert_eq!(
            scope_beyond("mcp", &["mcp", "offline_access", "admin"]),
            "mcp admin"
        );
        assert_eq!(scope_beyond("", &[]), UNGRANTED_SCOPE);
        assert_eq!(scope_set("b a  b"), ["a", "b"]);
    }
}
