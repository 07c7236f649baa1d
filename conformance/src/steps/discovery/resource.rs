//! Discovery steps up to the protected resource metadata (RFC 9728): the 401 challenge and its
//! `resource_metadata` link, the path-inserted and root well-known URIs, and what the document
//! must say (`resource` exactly the URL it was built from, an authorization server named).

use cucumber::{then, when};
use serde_json::Value;
use url::Url;

use super::{
    AgentWord, PRM_SCHEMA, last_metadata, metadata_object, requirement, schema_violations,
};
use crate::discovery::{self, prm_root, prm_well_known};
use crate::http::Request;
use crate::steps::NOT_APPLICABLE;
use crate::steps::http::brief;
use crate::world::{Agent, GatewayWorld, StepResult};
use crate::www_authenticate::{self, Challenge};

// ---- The 401 challenge ------------------------------------------------------------------------

#[when("the client calls the owned agent's MCP endpoint without credentials")]
async fn call_without_credentials(w: &mut GatewayWorld) -> StepResult {
    let body = discovery::initialize_body();
    w.mcp_call(Agent::Owned, None, &body).await.map(|_| ())
}

#[when(expr = "the client starts discovery at the {agent} agent's MCP endpoint")]
async fn start_discovery(w: &mut GatewayWorld, agent: AgentWord) -> StepResult {
    let body = discovery::initialize_body();
    w.mcp_call(agent.0, None, &body).await.map(|_| ())
}

/// The challenges of the last response's `WWW-Authenticate`, or why there are none.
fn challenges(w: &GatewayWorld) -> Result<Vec<Challenge>, String> {
    let ex = w.last_exchange()?;
    let value = ex
        .response()?
        .header("www-authenticate")
        .ok_or_else(|| format!("{} has no WWW-Authenticate", ex.line()))?;
    www_authenticate::parse(value).map_err(|e| format!("WWW-Authenticate {value:?}: {e}"))
}

/// RFC 6750 §3: the first challenge is `Bearer` (the TypeScript SDK reads only the first).
#[then("WWW-Authenticate opens with a Bearer challenge")]
async fn opens_with_bearer(w: &mut GatewayWorld) -> StepResult {
    let all = challenges(w).map_err(|e| format!("BEARER-03: {e}"))?;
    match all.first() {
        Some(c) if c.is_bearer() => Ok(()),
        Some(c) => Err(format!(
            "BEARER-03: the first challenge is {:?}, not Bearer (the TypeScript SDK reads only the first)",
            c.scheme
        )),
        None => Err("BEARER-03: WWW-Authenticate holds no challenge".into()),
    }
}

/// RFC 6750 §3, RFC 9728 §5.1: a Bearer challenge carrying `resource_metadata`. Stricter than
/// DISC-02, which also accepts the well-known URI alone: for scenarios that need the link.
#[then("the challenge is a Bearer challenge with resource_metadata")]
async fn bearer_challenge(w: &mut GatewayWorld) -> StepResult {
    opens_with_bearer(w).await?;
    let all = challenges(w)?;
    match all.first().and_then(|c| c.param("resource_metadata")) {
        Some(_) => Ok(()),
        None => Err("DISC-02: the Bearer challenge has no resource_metadata".into()),
    }
}

/// The `resource_metadata` of the first Bearer challenge of the last response, resolved against
/// the request URL (leniently: BEARER-04 judges relative values).
fn linked_metadata_url(w: &GatewayWorld) -> Result<Option<Url>, String> {
    let Ok(all) = challenges(w) else {
        return Ok(None);
    };
    let Some(link) = all
        .iter()
        .find(|c| c.is_bearer())
        .and_then(|c| c.param("resource_metadata"))
    else {
        return Ok(None);
    };
    let base = Url::parse(&w.last_exchange()?.request.url)
        .map_err(|e| format!("internal: request URL: {e}"))?;
    base.join(link)
        .map(Some)
        .map_err(|e| format!("resource_metadata {link:?} is not a URL: {e}"))
}

/// RFC 9728 §5.1; MCP "Protected Resource Metadata Discovery Requirements": a client finds the
/// metadata through the challenge's link or, without one, at the path-inserted or root
/// well-known URI. A link that leads nowhere breaks clients that follow only the link.
#[then("the protected resource metadata is found from the challenge or at its well-known URI")]
async fn prm_findable(w: &mut GatewayWorld) -> StepResult {
    let candidates = match linked_metadata_url(w)? {
        Some(link) => vec![link],
        None => {
            let mcp = w.mcp_url(Agent::Owned)?;
            vec![prm_well_known(&mcp), prm_root(&mcp)]
        }
    };
    let mut tried = Vec::new();
    for url in candidates {
        let ex = w.send(Request::get(url.as_str())).await;
        if metadata_object(ex).is_ok() {
            return Ok(());
        }
        tried.push(ex.line());
    }
    Err(format!(
        "DISC-02: no protected resource metadata found: {}",
        tried.join("; ")
    ))
}

// ---- Fetching the protected resource metadata -------------------------------------------------

/// Follows the pre-flight challenge's link (the owned agent's 401 seen before the run).
#[when("the client fetches the protected resource metadata linked from the challenge")]
async fn fetch_linked_prm(w: &mut GatewayWorld) -> StepResult {
    let d = &w.ctx.discovered;
    let link = d
        .challenge
        .as_ref()
        .and_then(|c| c.param("resource_metadata"))
        .ok_or_else(|| {
            format!("{NOT_APPLICABLE}the 401 challenge has no resource_metadata; clients use the well-known URI (DISC-02)")
        })?;
    let url = d
        .mcp_url
        .join(link)
        .map_err(|e| format!("resource_metadata {link:?} is not a URL: {e}"))?;
    w.saved
        .insert("followed_challenge_link".into(), url.to_string());
    w.send(Request::get(url.as_str())).await;
    Ok(())
}

/// Follows the link of the last response's challenge; none is N/A (DISC-02 allows the
/// well-known URI alone).
#[when("the client follows the resource_metadata link of the challenge")]
async fn follow_link(w: &mut GatewayWorld) -> StepResult {
    let ex = w.last_exchange()?;
    let status = ex.response()?.status;
    if status != 401 {
        return Err(format!(
            "DISC-05: expected a 401 challenge from an unauthenticated request, got {}",
            ex.line()
        ));
    }
    let url = linked_metadata_url(w)?.ok_or_else(|| {
        format!("{NOT_APPLICABLE}the 401 challenge has no resource_metadata; clients use the well-known URI (DISC-02)")
    })?;
    w.saved
        .insert("followed_challenge_link".into(), url.to_string());
    w.send(Request::get(url.as_str())).await;
    Ok(())
}

/// The document pre-flight discovery settled on (link, else path-inserted, else root).
#[when("the client fetches the protected resource metadata it discovered")]
async fn fetch_discovered_prm(w: &mut GatewayWorld) -> StepResult {
    let url = w.ctx.discovered.prm_url.clone().ok_or_else(|| {
        format!(
            "DISC-01: discovery found no protected resource metadata: {}",
            w.ctx.discovered.problems.join("; ")
        )
    })?;
    w.send(Request::get(url.as_str())).await;
    Ok(())
}

/// RFC 9728 §3.1: `/.well-known/oauth-protected-resource` inserted before the MCP URL's path.
#[when(
    expr = "the client fetches the {agent} agent's protected resource metadata from its well-known URI"
)]
async fn fetch_well_known_prm(w: &mut GatewayWorld, agent: AgentWord) -> StepResult {
    let url = prm_well_known(&w.mcp_url(agent.0)?);
    w.send(Request::get(url.as_str())).await;
    Ok(())
}

#[when("the client fetches the root protected resource metadata")]
async fn fetch_root_prm(w: &mut GatewayWorld) -> StepResult {
    let url = prm_root(&w.ctx.discovered.mcp_url);
    w.send(Request::get(url.as_str())).await;
    Ok(())
}

/// The path-inserted metadata URL of an agent id nobody has (random), kept in `saved`.
#[when("the client fetches the protected resource metadata of a made-up agent")]
async fn fetch_made_up_prm(w: &mut GatewayWorld) -> StepResult {
    let id = format!(
        "no-such-agent-{}",
        crate::pkce::random_string(16, b"0123456789abcdef")
    );
    let made_up = w.ctx.profile.mcp_url(&id)?;
    if made_up == w.mcp_url(Agent::Owned)? {
        return Err(format!(
            "{NOT_APPLICABLE}the profile's MCP URL layout has no {{agent}}: there is one MCP endpoint, no agent to make up"
        ));
    }
    w.saved
        .insert("made_up_mcp_url".into(), made_up.to_string());
    w.send(Request::get(prm_well_known(&made_up).as_str()))
        .await;
    Ok(())
}

// ---- Judging the protected resource metadata --------------------------------------------------

/// RFC 9728 §2, §3.2: a JSON object with `resource`, members of the right types, URLs absolute.
#[then("the protected resource metadata is valid RFC 9728 metadata")]
async fn prm_valid(w: &mut GatewayWorld) -> StepResult {
    let doc = Value::Object(last_metadata(w).map_err(|e| format!("DISC-01: {e}"))?);
    let errors = schema_violations(PRM_SCHEMA, &doc)?;
    if errors.is_empty() {
        return Ok(());
    }
    Err(format!(
        "DISC-01: not valid RFC 9728 metadata: {}",
        errors.join("; ")
    ))
}

/// MCP "Authorization Server Location": `authorization_servers` holds at least one issuer.
#[then("the protected resource metadata names at least one authorization server")]
async fn names_an_authorization_server(w: &mut GatewayWorld) -> StepResult {
    let id = requirement(w, "DISC-01");
    let doc = last_metadata(w).map_err(|e| format!("{id}: {e}"))?;
    match doc.get("authorization_servers") {
        Some(Value::Array(a)) if a.first().is_some_and(Value::is_string) => Ok(()),
        Some(other) => Err(format!(
            "{id}: authorization_servers is {other}, not an array of issuer URLs"
        )),
        None => Err(format!(
            "{id}: the metadata has no authorization_servers (MCP requires one)"
        )),
    }
}

/// RFC 9728 §3.3: `resource` is identical (string equality, no normalisation) to the MCP URL the
/// metadata URL was built from, or that the client called (DISC-05).
#[then(
    expr = "the protected resource metadata names the {agent} agent's MCP endpoint as its resource"
)]
async fn names_mcp_endpoint(w: &mut GatewayWorld, agent: AgentWord) -> StepResult {
    let id = if w.saved.contains_key("followed_challenge_link") {
        "DISC-05"
    } else {
        "DISC-04"
    };
    let expected = w.mcp_url(agent.0)?.to_string();
    let doc = last_metadata(w).map_err(|e| format!("{id}: {e}"))?;
    match doc.get("resource") {
        Some(Value::String(r)) if *r == expected => Ok(()),
        Some(Value::String(r)) => {
            let owned = w.mcp_url(Agent::Owned)?.to_string();
            let whose = if agent.0 == Agent::Other && *r == owned {
                " (the owned agent's: one document for every agent)"
            } else {
                ""
            };
            Err(format!(
                "{id}: resource is {r:?}{whose}, not exactly the MCP endpoint {expected:?}; clients must not use this metadata"
            ))
        }
        other => Err(format!(
            "{id}: resource is {other:?}, not the string {expected:?}"
        )),
    }
}

/// RFC 9728 §3.3 for the root document: built from the origin, so `resource` is the origin
/// (`https://gw` and `https://gw/` give the same well-known URI, so both are accepted).
#[then("the root protected resource metadata names the origin as its resource")]
async fn root_names_origin(w: &mut GatewayWorld) -> StepResult {
    let ex = w.last_exchange()?;
    let status = ex.response()?.status;
    if (400..500).contains(&status) {
        return Err(format!(
            "{NOT_APPLICABLE}no root protected resource metadata ({}); that is legal, clients use the path-inserted document",
            ex.line()
        ));
    }
    let doc = metadata_object(ex).map_err(|e| format!("DISC-04: {e}"))?;
    let origin = w.ctx.discovered.mcp_url.origin().ascii_serialization();
    match doc.get("resource").and_then(Value::as_str) {
        Some(r) if r == origin || r == format!("{origin}/") => Ok(()),
        other => Err(format!(
            "DISC-04: the root document's resource is {other:?}, not the origin {origin:?} it was built from (RFC 9728 §3.3)"
        )),
    }
}

/// RFC 9728 §3.2: unknown resource → an error status (4xx), never a document about another one.
#[then("the metadata of the made-up agent is refused with a client error")]
async fn made_up_refused(w: &mut GatewayWorld) -> StepResult {
    let requested = w
        .saved
        .get("made_up_mcp_url")
        .cloned()
        .ok_or("internal: no made-up agent was asked for")?;
    let ex = w.last_exchange()?;
    let resp = ex.response()?;
    if (400..500).contains(&resp.status) {
        return Ok(());
    }
    let named = resp
        .json()
        .and_then(|j| j.get("resource").and_then(Value::as_str).map(str::to_owned));
    Err(match named {
        Some(r) if r != requested => format!(
            "DISC-08: {} serves a document naming another resource, {r:?}, for an agent that does not exist",
            ex.line()
        ),
        _ => format!(
            "DISC-08: expected a 4xx for an agent that does not exist ({requested}), got {}: {}",
            ex.line(),
            brief(&resp.body)
        ),
    })
}
