//! Steps of `features/token.feature`: the token endpoint and the authorization-code grant
//! (OAuth 2.1 "Token Endpoint", "Token Endpoint Extension", "Token Endpoint Response", "Token
//! Endpoint Error Response"; the guide's Step 3).
//!
//! Each `When` sends the honest client's redemption of a fresh code
//! ([`GatewayWorld::code_redemption`]) with exactly one thing changed: the encoding, a parameter
//! added, repeated, emptied or left out, another client, another `redirect_uri`, a replay.
//! Revocation after a replay is judged at the owned agent's MCP endpoint: a token works when the
//! endpoint does not answer 401 or 403, and is revoked when it answers 401.

use cucumber::{given, then, when};
use serde_json::Value;

use crate::discovery;
use crate::fuzz;
use crate::http::Request;
use crate::jwt;
use crate::pkce::{self, Pkce};
use crate::steps::NOT_APPLICABLE;
use crate::steps::http::{brief, expect_oauth_error};
use crate::world::{Agent, GatewayWorld, StepResult, set_param};

/// The code the scenario redeems.
const CODE: &str = "token code";
/// The access token of the scenario's first redemption.
const FIRST_ACCESS_TOKEN: &str = "token first access token";
/// The refresh token of the scenario's first redemption, when one was issued.
const FIRST_REFRESH_TOKEN: &str = "token first refresh token";

fn saved(w: &GatewayWorld, key: &str) -> Result<String, String> {
    w.saved
        .get(key)
        .cloned()
        .ok_or_else(|| format!("internal: no {key} was kept before this step"))
}

/// The honest redemption of the scenario's code.
fn redemption(w: &GatewayWorld) -> Result<Vec<(String, String)>, String> {
    w.code_redemption(&saved(w, CODE)?)
}

// ---- Given -----------------------------------------------------------------------------------

#[given("a code to redeem at the token endpoint")]
async fn a_code(w: &mut GatewayWorld) -> StepResult {
    let code = w.obtain_code(Agent::Owned).await?;
    w.saved.insert(CODE.into(), code);
    Ok(())
}

#[given("the client has redeemed a code for an access token")]
async fn redeemed_code(w: &mut GatewayWorld) -> StepResult {
    a_code(w).await?;
    let params = redemption(w)?;
    w.token_request(&params).await?;
    let tokens = w.take_tokens()?;
    w.saved
        .insert(FIRST_ACCESS_TOKEN.into(), tokens.access_token);
    if let Some(refresh) = tokens.refresh_token {
        w.saved.insert(FIRST_REFRESH_TOKEN.into(), refresh);
    }
    Ok(())
}

/// Calls the owned agent's MCP endpoint with the first redemption's access token: `Ok(status)`.
async fn call_with_first_token(w: &mut GatewayWorld) -> Result<u16, String> {
    let token = saved(w, FIRST_ACCESS_TOKEN)?;
    let ex = w
        .mcp_call(Agent::Owned, Some(&token), &discovery::initialize_body())
        .await?;
    Ok(ex.response()?.status)
}

#[given("the access token of that redemption works at the MCP endpoint")]
async fn first_token_works_before(w: &mut GatewayWorld) -> StepResult {
    first_token_works(w).await
}

#[then("the access token of the first redemption still works at the MCP endpoint")]
async fn first_token_still_works(w: &mut GatewayWorld) -> StepResult {
    first_token_works(w).await
}

async fn first_token_works(w: &mut GatewayWorld) -> StepResult {
    match call_with_first_token(w).await? {
        401 | 403 => Err(format!(
            "the access token of the first redemption is refused: {}",
            w.last_exchange()?.line()
        )),
        _ => Ok(()),
    }
}

/// OAuth 2.1 "Reuse of Authorization Codes": SHOULD revoke the tokens issued from the code.
#[then("the access token of the first redemption is refused at the MCP endpoint")]
async fn first_token_revoked(w: &mut GatewayWorld) -> StepResult {
    match call_with_first_token(w).await? {
        401 => Ok(()),
        _ => Err(format!(
            "the code was redeemed twice, yet the access token of the first redemption still gets {} (expected 401: tokens issued from a replayed code should be revoked)",
            w.last_exchange()?.line()
        )),
    }
}

/// OAuth 2.1 "Reuse of Authorization Codes": the refresh token is one of the tokens issued from
/// the replayed code, so it goes with the access token.
#[then("the refresh token of the first redemption is refused with invalid_grant")]
async fn first_refresh_revoked(w: &mut GatewayWorld) -> StepResult {
    let Some(refresh) = w.saved.get(FIRST_REFRESH_TOKEN).cloned() else {
        return Err(format!(
            "{NOT_APPLICABLE}the first redemption issued no refresh token"
        ));
    };
    let client_id = w
        .client
        .as_ref()
        .ok_or("internal: no client yet")?
        .client_id
        .clone();
    let mut params = vec![
        ("grant_type".to_owned(), "refresh_token".to_owned()),
        ("refresh_token".to_owned(), refresh),
        ("client_id".to_owned(), client_id),
    ];
    if let Some(resource) = crate::world::get_param(&w.authorization_params, "resource") {
        params.push(("resource".to_owned(), resource.to_owned()));
    }
    w.token_request(&params).await?;
    let ex = w.last_exchange()?;
    let resp = ex.response()?;
    let error = resp
        .json()
        .and_then(|j| j.get("error")?.as_str().map(str::to_owned));
    if resp.status == 400 && error.as_deref() == Some("invalid_grant") {
        Ok(())
    } else {
        Err(format!(
            "the code was redeemed twice, yet the refresh token of the first redemption still gets {} (expected 400 invalid_grant: tokens issued from a replayed code should be revoked)",
            ex.line()
        ))
    }
}

// ---- When ------------------------------------------------------------------------------------

#[when("the client redeems the code")]
async fn redeem(w: &mut GatewayWorld) -> StepResult {
    let params = redemption(w)?;
    w.token_request(&params).await.map(|_| ())
}

#[when("the client redeems the same code again")]
async fn redeem_again(w: &mut GatewayWorld) -> StepResult {
    redeem(w).await
}

#[when("the client replays the same code with a wrong code_verifier")]
async fn replay_wrong_verifier(w: &mut GatewayWorld) -> StepResult {
    let code = saved(w, CODE)?;
    let wrong = Pkce::generate().verifier;
    fuzz::redeem_with(w, &code, Some(&wrong)).await
}

#[when("the client redeems a code the gateway never issued")]
async fn redeem_unknown_code(w: &mut GatewayWorld) -> StepResult {
    w.ensure_client().await?;
    w.pkce = Some(Pkce::generate());
    let code = pkce::random_string(43, pkce::UNRESERVED);
    let params = w.code_redemption(&code)?;
    w.token_request(&params).await.map(|_| ())
}

/// OAuth 2.1 "Token Endpoint": the body is `application/x-www-form-urlencoded`.
#[when("the client redeems the code with a JSON body")]
async fn redeem_as_json(w: &mut GatewayWorld) -> StepResult {
    let params = redemption(w)?;
    let body: serde_json::Map<String, Value> = params
        .into_iter()
        .map(|(n, v)| (n, Value::String(v)))
        .collect();
    let endpoint = w.ctx.discovered.endpoint("token_endpoint")?;
    w.send(Request::post(endpoint.as_str()).json(&Value::Object(body)))
        .await;
    Ok(())
}

/// OAuth 2.1 "Token Request" binds the client to form encoding, not the server to refusing JSON:
/// either a 400 `invalid_request` JSON error or a token response is conformant.
#[then("the JSON token request is refused with invalid_request or answered with a token")]
async fn json_refused_or_answered(w: &mut GatewayWorld) -> StepResult {
    if w.last_exchange()?.response()?.status == 200 {
        return fuzz::expect_token(w);
    }
    crate::steps::http::expect_oauth_error(w, &[400], &["invalid_request"])
}

/// `name=value`, appended to the honest redemption.
#[when(expr = "the client redeems the code with the extra parameter {string}")]
async fn redeem_with_extra(w: &mut GatewayWorld, pair: String) -> StepResult {
    let (name, value) = pair
        .split_once('=')
        .ok_or_else(|| format!("internal: {pair:?} is not name=value"))?;
    let mut params = redemption(w)?;
    params.push((name.to_owned(), value.to_owned()));
    w.token_request(&params).await.map(|_| ())
}

#[when(expr = "the client redeems the code with {string} sent twice")]
async fn redeem_with_repeated(w: &mut GatewayWorld, name: String) -> StepResult {
    let mut params = redemption(w)?;
    let value = crate::world::get_param(&params, &name)
        .ok_or_else(|| format!("internal: the redemption has no {name}"))?
        .to_owned();
    params.push((name, value));
    w.token_request(&params).await.map(|_| ())
}

#[when(expr = "the client redeems the code with an empty {string}")]
async fn redeem_with_empty(w: &mut GatewayWorld, name: String) -> StepResult {
    let mut params = redemption(w)?;
    set_param(&mut params, &name, Some(""));
    w.token_request(&params).await.map(|_| ())
}

#[when(expr = "the client redeems the code leaving out {string}")]
async fn redeem_without(w: &mut GatewayWorld, name: String) -> StepResult {
    let mut params = redemption(w)?;
    set_param(&mut params, &name, None);
    w.token_request(&params).await.map(|_| ())
}

/// The registered `redirect_uri` with another path: same origin, so only the comparison with
/// the authorized URI can tell.
#[when("the client redeems the code with a different redirect_uri")]
async fn redeem_with_other_redirect_uri(w: &mut GatewayWorld) -> StepResult {
    let mut params = redemption(w)?;
    let client = w.client.as_ref().ok_or("internal: no client registered")?;
    let mut other = client.redirect_uri.clone();
    other.set_path(&format!("{}-other", other.path().trim_end_matches('/')));
    set_param(&mut params, "redirect_uri", Some(other.as_str()));
    w.token_request(&params).await.map(|_| ())
}

#[when("another registered client redeems the code")]
async fn other_client_redeems(w: &mut GatewayWorld) -> StepResult {
    let mut params = redemption(w)?;
    let first = w.client.clone();
    let other = w.register_client().await;
    w.client = first;
    set_param(&mut params, "client_id", Some(&other?.client_id));
    w.token_request(&params).await.map(|_| ())
}

#[when(expr = "the client requests a token with grant_type {string}")]
async fn request_grant(w: &mut GatewayWorld, grant_type: String) -> StepResult {
    let client = w.ensure_client().await?;
    let mut params = vec![
        ("grant_type".to_owned(), grant_type.clone()),
        ("client_id".to_owned(), client.client_id),
    ];
    if grant_type == "password" {
        // The profile's user with a wrong password: a gateway that knows the grant says
        // invalid_grant, which tells it apart from one that does not.
        let user = w
            .ctx
            .profile
            .username
            .clone()
            .unwrap_or("mcp-conformance".into());
        params.push(("username".to_owned(), user));
        params.push(("password".to_owned(), "not-the-password".to_owned()));
    }
    if let Some(scope) = w.ctx.discovered.scope() {
        params.push(("scope".to_owned(), scope));
    }
    w.token_request(&params).await.map(|_| ())
}

/// The guide's fixed path: `{base_url}/oauth/token`, whatever the metadata says.
#[when("the client redeems the code at the guide's fixed path")]
async fn redeem_at_guide_path(w: &mut GatewayWorld) -> StepResult {
    let params = redemption(w)?;
    let url = format!(
        "{}/oauth/token",
        w.ctx.profile.base_url.as_str().trim_end_matches('/')
    );
    w.send(Request::post(url).form(&params)).await;
    Ok(())
}

// ---- Then ------------------------------------------------------------------------------------

#[then("the token endpoint issues a token")]
async fn issues_token(w: &mut GatewayWorld) -> StepResult {
    fuzz::expect_token(w)
}

/// OAuth 2.1 "Token Endpoint Response"; TypeScript SDK `OAuthTokensSchema`, Python SDK
/// `OAuthToken`: members typed as they expect, absent members left out rather than `null`.
#[then("the token response is a Bearer token response without null members")]
async fn bearer_token_response(w: &mut GatewayWorld) -> StepResult {
    let json = w.last_json()?;
    token_response_problem(&json).map_or(Ok(()), |p| Err(format!("TOKEN-02: {p}")))
}

/// Why `json` is not a token response MCP clients accept.
fn token_response_problem(json: &Value) -> Option<String> {
    let Some(object) = json.as_object() else {
        return Some(format!(
            "the body is not a JSON object: {}",
            brief(&json.to_string())
        ));
    };
    if let Some((name, _)) = object.iter().find(|(_, v)| v.is_null()) {
        return Some(format!(
            "`{name}` is null; absent members must be left out (the TypeScript SDK rejects null)"
        ));
    }
    match object.get("access_token") {
        Some(Value::String(t)) if !t.is_empty() => {}
        other => {
            return Some(format!(
                "access_token is {}, not a non-empty string",
                shown(other)
            ));
        }
    }
    match object.get("token_type") {
        Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => {}
        other => {
            return Some(format!(
                "token_type is {}, not Bearer (RFC 6750; the Python SDK accepts only Bearer)",
                shown(other)
            ));
        }
    }
    if let Some(e) = object.get("expires_in")
        && !e.as_f64().is_some_and(|s| s >= 0.0)
    {
        return Some(format!(
            "expires_in is {e}, not a non-negative number of seconds"
        ));
    }
    for name in ["refresh_token", "scope"] {
        if let Some(v) = object.get(name)
            && !v.is_string()
        {
            return Some(format!("{name} is {v}, not a string"));
        }
    }
    None
}

/// A member's value for messages: its JSON, or `absent`.
fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "absent".to_owned(), Value::to_string)
}

/// `Then the token endpoint refuses with one of "invalid_request, invalid_client" and status
/// one of "400, 401"`: RFC 6749 §5.2 lets a failed client identification be `invalid_client`
/// with 401.
#[then(expr = "the token endpoint refuses with one of {string} and status one of {string}")]
async fn refuses_with(w: &mut GatewayWorld, errors: String, statuses: String) -> StepResult {
    let errors: Vec<&str> = list(&errors).collect();
    let statuses = list(&statuses)
        .map(|s| {
            s.parse::<u16>()
                .map_err(|e| format!("internal: {s:?}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    expect_oauth_error(w, &statuses, &errors)
}

fn list(s: &str) -> impl Iterator<Item = &str> {
    s.split([',', ' ']).filter(|p| !p.is_empty() && *p != "or")
}

/// The guide, Step 3: `"token_type": "Bearer", "expires_in": 3600`.
#[then("the token response has token_type Bearer and expires_in 3600, as the guide shows")]
async fn guide_token_response(w: &mut GatewayWorld) -> StepResult {
    let json = w.last_json()?;
    if let Some(problem) = token_response_problem(&json) {
        return Err(format!("GUIDE-05: {problem}"));
    }
    match json.get("expires_in").and_then(Value::as_i64) {
        Some(3600) => Ok(()),
        _ => Err(format!(
            "GUIDE-05: expires_in is {}, not 3600",
            shown(json.get("expires_in"))
        )),
    }
}

/// The guide, "Token details": the algorithm is HS256.
#[then("the access token is a JWT signed with HS256, as the guide says")]
async fn guide_hs256(w: &mut GatewayWorld) -> StepResult {
    let token = w
        .take_tokens()
        .map_err(|e| format!("GUIDE-06: {e}"))?
        .access_token;
    let decoded =
        jwt::decode_unverified(&token).map_err(|e| format!("GUIDE-06: the access token is {e}"))?;
    match decoded.header.get("alg").and_then(Value::as_str) {
        Some("HS256") => Ok(()),
        other => Err(format!(
            "GUIDE-06: the access token's header has alg {other:?}, not HS256"
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn token_02_token_responses_are_judged_as_clients_parse_them() {
        let good = json!({"access_token": "t", "token_type": "bearer", "expires_in": 3600, "scope": "mcp"});
        assert_eq!(token_response_problem(&good), None);
        for (bad, why) in [
            (
                json!({"access_token": "t", "token_type": "Bearer", "refresh_token": null}),
                "null",
            ),
            (json!({"token_type": "Bearer"}), "access_token"),
            (
                json!({"access_token": "t", "token_type": "MAC"}),
                "not Bearer",
            ),
            (json!({"access_token": "t"}), "not Bearer"),
            (
                json!({"access_token": "t", "token_type": "Bearer", "expires_in": "3600"}),
                "expires_in",
            ),
            (
                json!({"access_token": "t", "token_type": "Bearer", "scope": ["a"]}),
                "scope",
            ),
            (json!(["access_token"]), "not a JSON object"),
        ] {
            let problem = token_response_problem(&bad).unwrap_or_default();
            assert!(problem.contains(why), "{bad}: {problem:?}");
        }
    }

    #[test]
    fn lists_split_on_commas_spaces_and_or() {
        assert_eq!(
            list("invalid_request, invalid_client or x").collect::<Vec<_>>(),
            ["invalid_request", "invalid_client", "x"]
        );
    }
}
