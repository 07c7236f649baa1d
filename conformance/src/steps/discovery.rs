//! Steps of `features/discovery.feature`: the 401 challenge, RFC 9728 protected resource
//! metadata and RFC 8414 authorization server metadata, fetched the way clients fetch them.

use cucumber::{then, when};

use crate::http::Request;
use crate::world::{Agent, GatewayWorld, StepResult};
use crate::www_authenticate;

#[when("the client calls the owned agent's MCP endpoint without credentials")]
async fn call_without_credentials(w: &mut GatewayWorld) -> StepResult {
    let body = crate::discovery::initialize_body();
    w.mcp_call(Agent::Owned, None, &body).await.map(|_| ())
}

/// RFC 6750 §3, RFC 9728 §5.1: a Bearer challenge carrying `resource_metadata`.
#[then("the challenge is a Bearer challenge with resource_metadata")]
async fn bearer_challenge(w: &mut GatewayWorld) -> StepResult {
    let ex = w.last_exchange()?;
    let value = ex
        .response()?
        .header("www-authenticate")
        .ok_or_else(|| format!("BEARER-03: {} has no WWW-Authenticate", ex.line()))?;
    let challenges = www_authenticate::parse(value)
        .map_err(|e| format!("BEARER-03: WWW-Authenticate {value:?}: {e}"))?;
    let first = challenges
        .first()
        .ok_or("BEARER-03: WWW-Authenticate holds no challenge")?;
    if !first.is_bearer() {
        return Err(format!(
            "BEARER-03: the first challenge is {:?}, not Bearer (the TypeScript SDK reads only the first)",
            first.scheme
        ));
    }
    if first.param("resource_metadata").is_none() {
        return Err(format!(
            "DISC-02: the Bearer challenge has no resource_metadata: {value:?}"
        ));
    }
    Ok(())
}

#[when("the client fetches the protected resource metadata linked from the challenge")]
async fn fetch_linked_prm(w: &mut GatewayWorld) -> StepResult {
    let d = &w.ctx.discovered;
    let link = d
        .challenge
        .as_ref()
        .and_then(|c| c.param("resource_metadata"))
        .ok_or("DISC-02: the 401 challenge has no resource_metadata")?;
    let url = d
        .mcp_url
        .join(link)
        .map_err(|e| format!("resource_metadata {link:?} is not a URL: {e}"))?;
    w.send(Request::get(url.as_str())).await;
    Ok(())
}
