//! Steps of `features/audience.feature`: RFC 8707 resource indicators at the authorization and
//! token endpoints, and the audience an access token is bound to (MCP authorization "Resource
//! Parameter Implementation", "Canonical Server URI", "Token Audience Binding").
//!
//! Every flow starts from the honest one (the `resource` a client sends is the PRM `resource` of
//! the agent) and changes only the `resource`. Presenting tokens and keys at an MCP endpoint is
//! done with the bearer steps (`the MCP request to the … agent carries …`).

use cucumber::{given, then, when};
use url::Url;

use super::NOT_APPLICABLE;
use super::NOT_TESTABLE;
use super::bearer::authorization_for;
use super::mcp_endpoint::{jsonrpc_response, post_mcp};
use crate::discovery;
use crate::http::Request;
use crate::login::LoginAction;
use crate::world::{Agent, GatewayWorld, StepResult, get_param, set_param};

/// The `resource` an honest client sends for the owned agent, or why there is none.
async fn owned_resource(w: &mut GatewayWorld) -> Result<String, String> {
    w.resource_for(Agent::Owned).await?.ok_or_else(|| {
        format!("{NOT_TESTABLE}the protected resource metadata has no `resource` to request")
    })
}

/// A `resource` value named in a feature file, derived from the owned agent's resource.
async fn resource_named(w: &mut GatewayWorld, name: &str) -> Result<String, String> {
    let owned = owned_resource(w).await?;
    Ok(match name {
        "a resource on another host" => "https://resource.invalid/mcp".to_owned(),
        "a relative reference" => {
            let url = Url::parse(&owned).map_err(|e| format!("resource {owned:?}: {e}"))?;
            url.path().to_owned()
        }
        "the resource with a fragment" => format!("{owned}#conformance"),
        "the other agent's resource" => w
            .resource_for(Agent::Other)
            .await?
            .ok_or("internal: no resource for the other agent")?,
        other => return Err(format!("internal: unknown resource {other:?}")),
    })
}

/// `resource` with its scheme and authority in upper case (MCP "Canonical Server URI").
fn upper_case_origin(resource: &str) -> String {
    let Some((scheme, rest)) = resource.split_once("://") else {
        return resource.to_ascii_uppercase();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    format!(
        "{}://{}{}",
        scheme.to_ascii_uppercase(),
        rest[..end].to_ascii_uppercase(),
        &rest[end..]
    )
}

/// Authorizes for the owned agent with `resource` (`None`: without the parameter), and, if a
/// code comes back, redeems it as an honest client does (the same `resource`, if any).
async fn flow_with_resource(w: &mut GatewayWorld, resource: Option<&str>) -> StepResult {
    let mut params = w.authorization_request(Agent::Owned).await?;
    set_param(&mut params, "resource", resource);
    let outcome = w.authorize(params, LoginAction::Approve).await?;
    if let Some(code) = outcome.code() {
        let redemption = w.code_redemption(code)?;
        w.token_request(&redemption).await?;
    }
    Ok(())
}

#[given("an access token requested for the owned agent's resource")]
async fn token_for_owned_resource(w: &mut GatewayWorld) -> StepResult {
    let resource = owned_resource(w).await?;
    w.obtain_tokens(Agent::Owned)
        .await
        .map_err(|e| format!("with resource={resource:?}: {e}"))?;
    Ok(())
}

/// AUD-01: the MCP spec's own resource value, the agent's MCP URL, whatever the PRM says.
#[given("an access token requested with the owned agent's MCP URL as resource")]
async fn token_for_mcp_url(w: &mut GatewayWorld) -> StepResult {
    let resource = w.mcp_url(Agent::Owned)?.to_string();
    flow_with_resource(w, Some(&resource)).await?;
    let outcome = w
        .outcome
        .as_ref()
        .ok_or("internal: no authorization outcome")?;
    if outcome.code().is_none() {
        return Err(format!(
            "AUD-01: the authorization request with resource={resource:?} got no code: {}",
            outcome.describe()
        ));
    }
    w.take_tokens()
        .map(|_| ())
        .map_err(|e| format!("AUD-01: with resource={resource:?}: {e}"))
}

/// AUD-03 judges tokens bound to one agent; a gateway-wide token (AUD-02 judges that) may
/// rightly get 403 at an agent its user does not own.
#[given("the access token is bound to the owned agent")]
async fn token_bound_to_owned(w: &mut GatewayWorld) -> StepResult {
    let token = w.access_token().await?;
    let Ok(decoded) = crate::jwt::decode_unverified(&token) else {
        // An opaque token: its binding is what the gateway does with it.
        return Ok(());
    };
    let mcp = w.mcp_url(Agent::Owned)?;
    let audiences = decoded.audiences();
    let bound = !audiences.is_empty()
        && audiences
            .iter()
            .all(|a| Url::parse(a).is_ok_and(|u| u == mcp));
    if bound {
        Ok(())
    } else {
        Err(format!(
            "{NOT_APPLICABLE}the token requested for {mcp} has aud {audiences:?}, not that agent alone, so it is no token for one agent (see AUD-02)"
        ))
    }
}

#[when(expr = "the client requests authorization for the owned agent with {string} as resource")]
async fn authorize_with_resource(w: &mut GatewayWorld, which: String) -> StepResult {
    let resource = resource_named(w, &which).await?;
    let mut params = w.authorization_request(Agent::Owned).await?;
    set_param(&mut params, "resource", Some(&resource));
    w.authorize(params, LoginAction::Approve).await.map(|_| ())
}

/// RFC 8707 §2.2: the token request names a resource the grant does not cover.
#[when(expr = "the client redeems a code for the owned agent with {string} as resource")]
async fn redeem_with_resource(w: &mut GatewayWorld, which: String) -> StepResult {
    let resource = resource_named(w, &which).await?;
    let code = w.obtain_code(Agent::Owned).await?;
    let mut params = w.code_redemption(&code)?;
    set_param(&mut params, "resource", Some(&resource));
    w.token_request(&params).await.map(|_| ())
}

#[when("the client obtains a token for the owned agent without a resource parameter")]
async fn flow_without_resource(w: &mut GatewayWorld) -> StepResult {
    flow_with_resource(w, None).await
}

#[when(
    "the client obtains a token for the owned agent's resource with scheme and host in upper case"
)]
async fn flow_upper_case(w: &mut GatewayWorld) -> StepResult {
    let resource = upper_case_origin(&owned_resource(w).await?);
    flow_with_resource(w, Some(&resource)).await
}

/// MCP "Canonical Server URI": an origin-only resource (the gateway-wide one, from the PRM the
/// client found, else the root PRM) written with the other trailing-slash form.
#[when(
    "the client obtains a token for the gateway's origin-only resource with the trailing slash toggled"
)]
async fn flow_origin_only(w: &mut GatewayWorld) -> StepResult {
    let origin_only = |r: &str| Url::parse(r).is_ok_and(|u| u.path() == "/" && u.query().is_none());
    let mut resource = w.ctx.discovered.resource().filter(|r| origin_only(r));
    if resource.is_none() {
        let root = discovery::prm_root(&w.mcp_url(Agent::Owned)?);
        let ex = w.send(Request::get(root.as_str())).await;
        resource = ex
            .response
            .as_ref()
            .filter(|r| r.status == 200)
            .and_then(|r| r.json())
            .and_then(|j| j.get("resource")?.as_str().map(str::to_owned))
            .filter(|r| origin_only(r));
    }
    let Some(resource) = resource else {
        return Err(format!(
            "{NOT_APPLICABLE}neither the agent's nor the root protected resource metadata names an origin-only resource"
        ));
    };
    let toggled = match resource.strip_suffix('/') {
        Some(bare) => bare.to_owned(),
        None => format!("{resource}/"),
    };
    flow_with_resource(w, Some(&toggled)).await
}

#[then("the authorization is refused with invalid_target and no code")]
async fn authorization_invalid_target(w: &mut GatewayWorld) -> StepResult {
    let outcome = w
        .outcome
        .as_ref()
        .ok_or("internal: no authorization outcome")?;
    let resource = get_param(&w.authorization_params, "resource").unwrap_or_default();
    if outcome.code().is_some() {
        return Err(format!(
            "AUD-04: resource={resource:?} was accepted: the authorization endpoint issued a code ({})",
            outcome.describe()
        ));
    }
    match outcome.error() {
        Some("invalid_target") => Ok(()),
        _ => Err(format!(
            "AUD-04: expected an error redirect with error=invalid_target for resource={resource:?} (RFC 8707 §2), got {}",
            outcome.describe()
        )),
    }
}

/// Whether the last flow ended in an access token, and it works at the owned agent.
async fn issued_token_works(w: &mut GatewayWorld, requirement: &str) -> StepResult {
    let resource = get_param(&w.authorization_params, "resource")
        .map(|r| format!("resource={r:?}"))
        .unwrap_or_else(|| "no resource".to_owned());
    if let Some(outcome) = &w.outcome
        && outcome.code().is_none()
    {
        return Err(format!(
            "{requirement}: an authorization request with {resource} got no code: {}",
            outcome.describe()
        ));
    }
    w.take_tokens()
        .map_err(|e| format!("{requirement}: with {resource}: {e}"))?;
    let authorization = authorization_for(w, "the access token").await?;
    let url = w.mcp_url(Agent::Owned)?;
    post_mcp(w, &url, &authorization, &discovery::initialize_body(), &[]).await;
    jsonrpc_response(w, true).map(|_| ()).map_err(|e| {
        format!("{requirement}: the token got with {resource} is refused at the owned agent: {e}")
    })
}

/// MCP "Canonical Server URI": the toggled origin-only resource was accepted at both endpoints.
#[then("a token is issued for that resource")]
async fn token_issued(w: &mut GatewayWorld) -> StepResult {
    let resource = get_param(&w.authorization_params, "resource")
        .unwrap_or_default()
        .to_owned();
    if let Some(outcome) = &w.outcome
        && outcome.code().is_none()
    {
        return Err(format!(
            "AUD-06: the authorization request with resource={resource:?} got no code: {}",
            outcome.describe()
        ));
    }
    w.take_tokens()
        .map(|_| ())
        .map_err(|e| format!("AUD-06: with resource={resource:?}: {e}"))
}

#[then("a token is issued that works at the owned agent")]
async fn token_works(w: &mut GatewayWorld) -> StepResult {
    issued_token_works(w, "AUD-06").await
}

/// RFC 8707 §2.1 leaves a missing `resource` to the server: a default, or `invalid_target`.
#[then(
    "the gateway either refused with invalid_target or issued a token that works at the owned agent"
)]
async fn default_or_invalid_target(w: &mut GatewayWorld) -> StepResult {
    let outcome = w
        .outcome
        .as_ref()
        .ok_or("internal: no authorization outcome")?;
    if outcome.error() == Some("invalid_target") {
        return Ok(());
    }
    if outcome.code().is_some() {
        let refused_at_token = w
            .last_response()?
            .json()
            .and_then(|j| j.get("error").and_then(|e| e.as_str().map(str::to_owned)));
        if refused_at_token.as_deref() == Some("invalid_target") {
            return Ok(());
        }
    }
    issued_token_works(w, "AUD-05").await
}

/// RFC 8707 §2, RFC 9068 §3: `aud` is the resource the client asked for, and nothing wider.
#[then("the access token's audience is the resource that was requested")]
async fn audience_is_resource(w: &mut GatewayWorld) -> StepResult {
    let resource = get_param(&w.authorization_params, "resource")
        .map(str::to_owned)
        .ok_or_else(|| format!("{NOT_TESTABLE}no resource was requested (the PRM names none)"))?;
    let token = w.access_token().await?;
    let decoded = crate::jwt::decode_unverified(&token).map_err(|e| {
        format!("{NOT_TESTABLE}the access token is not a JWT ({e}), so its audience is not visible")
    })?;
    let audiences = decoded.audiences();
    let same = |a: &String| {
        a == &resource || matches!((Url::parse(a), Url::parse(&resource)), (Ok(x), Ok(y)) if x == y)
    };
    if !audiences.is_empty() && audiences.iter().all(same) {
        Ok(())
    } else {
        Err(format!(
            "AUD-02: the access token's aud is {audiences:?}, not the requested resource {resource:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::upper_case_origin;

    #[test]
    fn upper_case_origin_keeps_the_path() {
        assert_eq!(
            upper_case_origin("http://gw.example:8080/a1/mcp"),
            "HTTP://GW.EXAMPLE:8080/a1/mcp"
        );
        assert_eq!(
            upper_case_origin("https://gw.example"),
            "HTTPS://GW.EXAMPLE"
        );
    }
}
