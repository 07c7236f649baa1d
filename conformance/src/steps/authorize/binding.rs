//! The steps of `features/authorize.feature` on what a code is bound to (AUTHZ-10, OAuth 2.1
//! §4.1.2: its client; RFC 8707 §2: the resource the user authorized), judged at the token
//! endpoint.

use cucumber::{then, when};
use serde_json::Value;
use url::Url;

use super::verdicts::outcome_code;
use crate::steps::NOT_TESTABLE;
use crate::world::{Agent, GatewayWorld, StepResult, get_param, set_param};

/// AUTHZ-10: the code is redeemed by the client it was issued to, with its verifier.
#[then("the authorization code yields an access token to the client it was issued to")]
async fn code_redeems(w: &mut GatewayWorld) -> StepResult {
    let code = outcome_code(w)?;
    let params = w.code_redemption(&code)?;
    w.token_request(&params).await?;
    w.take_tokens()
        .map(|_| ())
        .map_err(|e| format!("AUTHZ-10: {e}"))
}

#[when("another registered client redeems the authorization code")]
async fn other_client_redeems(w: &mut GatewayWorld) -> StepResult {
    let code = outcome_code(w)?;
    let metadata = w.client_metadata();
    let ex = w.register(&metadata).await?.clone();
    let other = ex
        .response()?
        .json()
        .filter(|_| {
            ex.response
                .as_ref()
                .is_some_and(|r| (200..300).contains(&r.status))
        })
        .and_then(|j| {
            j.get("client_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .ok_or_else(|| {
            format!(
                "{NOT_TESTABLE}a second client could not be registered: {}",
                ex.line()
            )
        })?;
    let mut params = w.code_redemption(&code)?;
    set_param(&mut params, "client_id", Some(&other));
    w.token_request(&params).await.map(|_| ())
}

/// AUTHZ-10: the token request leaves `resource` out, so only the code can say what the user
/// authorized.
#[when("the client redeems the authorization code without resource")]
async fn redeem_without_resource(w: &mut GatewayWorld) -> StepResult {
    if get_param(&w.authorization_params, "resource").is_none() {
        return Err(format!(
            "{NOT_TESTABLE}the authorization request named no resource (the PRM names none)"
        ));
    }
    let code = outcome_code(w)?;
    let mut params = w.code_redemption(&code)?;
    set_param(&mut params, "resource", None);
    w.token_request(&params).await.map(|_| ())
}

/// AUTHZ-10 / RFC 8707 §2: a code authorized for one resource yields no token for a wider
/// audience. Without `resource` in the token request the token is for what the user authorized,
/// or the request is refused with `invalid_target`. "What the user authorized" is measured, not
/// assumed: the `aud` this gateway gives a token redeemed *with* that resource (a gateway whose
/// tokens all carry one broad audience is AUD-02's SHOULD, not a broken binding).
#[then("the token is for the authorized resource alone, or refused with invalid_target")]
async fn token_for_authorized_resource(w: &mut GatewayWorld) -> StepResult {
    let resource = get_param(&w.authorization_params, "resource")
        .map(str::to_owned)
        .ok_or("internal: no resource was authorized")?;
    let ex = w.last_exchange()?.clone();
    let resp = ex.response()?;
    if resp.status == 400
        && resp
            .json()
            .and_then(|j| j.get("error")?.as_str().map(str::to_owned))
            .is_some_and(|e| e == "invalid_target")
    {
        return Ok(());
    }
    let token = w
        .take_tokens()
        .map_err(|e| format!("AUTHZ-10: neither a token nor invalid_target: {e}"))?
        .access_token;
    let audiences = audiences_of(&token)?;
    let honest = w
        .obtain_tokens(Agent::Owned)
        .await
        .map_err(|e| format!("AUTHZ-10: a token for {resource:?} itself: {e}"))?;
    let authorized = audiences_of(&honest.access_token)?;
    let same = |a: &String, b: &String| {
        a == b || matches!((Url::parse(a), Url::parse(b)), (Ok(x), Ok(y)) if x == y)
    };
    if !audiences.is_empty()
        && audiences
            .iter()
            .all(|a| authorized.iter().any(|b| same(a, b)))
    {
        Ok(())
    } else {
        Err(format!(
            "AUTHZ-10: the code was authorized for {resource:?}; redeemed with that resource a token has aud {authorized:?}, but this code redeemed without resource yields aud {audiences:?}: the code is not bound to its resource"
        ))
    }
}

/// The `aud` of a JWT access token; NOT-TESTABLE for opaque tokens.
fn audiences_of(token: &str) -> Result<Vec<String>, String> {
    crate::jwt::decode_unverified(token)
        .map(|decoded| decoded.audiences())
        .map_err(|e| {
            format!(
                "{NOT_TESTABLE}the access token is not a JWT ({e}), so its audience is not visible"
            )
        })
}
