//! REFRESH-07 (MCP authorization "Refresh Tokens"): `offline_access` is a scope of the
//! authorization server's own metadata; the protected resource metadata's `scopes_supported` and
//! the 401 challenge's `scope`, the two sources of the MCP scope selection strategy, SHOULD NOT
//! offer it, or clients would ask every resource for it.

use cucumber::{then, when};
use serde_json::Value;

use crate::http::Request;
use crate::steps::NOT_TESTABLE;
use crate::world::{Agent, GatewayWorld, StepResult};

/// `saved` key: `(place, scopes)` pairs as JSON.
const OFFERED: &str = "refresh: offered scopes";

/// Where `offline_access` is offered among `(place, space-separated scopes)`.
fn offline_access_offered(offered: &[(String, String)]) -> Vec<String> {
    offered
        .iter()
        .filter(|(_, scopes)| scopes.split(' ').any(|s| s == "offline_access"))
        .map(|(place, scopes)| format!("{place} ({scopes:?})"))
        .collect()
}

/// Reads the scopes an MCP client is offered: the 401 challenge's `scope` and the protected
/// resource metadata's `scopes_supported` (the MCP scope selection strategy's two sources).
#[when("the client collects the scopes the owned agent's MCP endpoint offers")]
async fn collect_offered_scopes(w: &mut GatewayWorld) -> StepResult {
    let mut offered: Vec<(String, String)> = Vec::new();
    let body = crate::discovery::initialize_body();
    let ex = w.mcp_call(Agent::Owned, None, &body).await?.clone();
    let challenge = ex
        .response
        .as_ref()
        .and_then(|r| r.header("www-authenticate"))
        .and_then(|v| crate::www_authenticate::parse(v).ok())
        .and_then(|all| all.into_iter().find(|c| c.is_bearer()));
    if let Some(scope) = challenge.as_ref().and_then(|c| c.param("scope")) {
        offered.push(("the 401 challenge's scope".into(), scope.to_owned()));
    }
    let prm_url = challenge
        .as_ref()
        .and_then(|c| c.param("resource_metadata"))
        .and_then(|rm| ex.request.url.parse::<url::Url>().ok()?.join(rm).ok())
        .or_else(|| w.ctx.discovered.prm_url.clone());
    let Some(prm_url) = prm_url else {
        return Err(format!(
            "{NOT_TESTABLE}no protected resource metadata was found ({})",
            w.ctx.discovered.problems.join("; ")
        ));
    };
    let prm = w.send(Request::get(prm_url.as_str())).await.clone();
    let json = prm
        .response
        .as_ref()
        .filter(|r| r.status == 200)
        .and_then(|r| r.json())
        .ok_or_else(|| {
            format!(
                "{NOT_TESTABLE}the protected resource metadata did not load: {}",
                prm.line()
            )
        })?;
    if let Some(list) = json.get("scopes_supported").and_then(Value::as_array) {
        let scopes: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
        offered.push((
            "the protected resource metadata's scopes_supported".into(),
            scopes.join(" "),
        ));
    }
    w.saved.insert(
        OFFERED.to_owned(),
        serde_json::to_string(&offered).map_err(|e| format!("internal: {e}"))?,
    );
    Ok(())
}

/// MCP "Refresh Tokens": `offline_access` belongs to the authorization server's own metadata;
/// resource metadata and challenges SHOULD NOT carry it.
#[then("offline_access is not among the offered scopes")]
async fn no_offline_access(w: &mut GatewayWorld) -> StepResult {
    let offered: Vec<(String, String)> = serde_json::from_str(
        w.saved
            .get(OFFERED)
            .ok_or("internal: no scopes collected")?,
    )
    .map_err(|e| format!("internal: {e}"))?;
    let places = offline_access_offered(&offered);
    if places.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "REFRESH-07: offline_access is offered by {}; it belongs only in the authorization server's scopes_supported",
            places.join(" and ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_access_is_found_wherever_it_is_offered() {
        let clean = vec![("prm".to_owned(), "mcp read".to_owned())];
        assert!(offline_access_offered(&clean).is_empty());
        let dirty = vec![
            ("challenge".to_owned(), "mcp offline_access".to_owned()),
            ("prm".to_owned(), "mcp".to_owned()),
        ];
        let found = offline_access_offered(&dirty);
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("challenge"), "{found:?}");
        // A scope that merely contains the word is not offline_access.
        let near = vec![("prm".to_owned(), "offline_access_x".to_owned())];
        assert!(offline_access_offered(&near).is_empty());
    }
}
