//! Steps of `features/cors.feature`: CORS as a browser applies it (the Fetch standard's CORS
//! protocol) to the requests MCP Inspector makes from `http://localhost:6274`.
//!
//! A preflight is `OPTIONS` with `Origin`, `Access-Control-Request-Method` and
//! `Access-Control-Request-Headers` (lower-case, sorted, comma-separated, as browsers send it). It
//! succeeds when the status is 2xx, `Access-Control-Allow-Origin` is `*` or the origin, and every
//! requested header is allowed: listed, or covered by `*` (which never covers `Authorization`).
//! `GET` and `POST` are CORS-safelisted methods, so `Access-Control-Allow-Methods` need not name
//! them. Inspector sends no credentials (cookies), so `*` is as good as the origin.
//!
//! Every URL comes from discovery; the requests are those the TypeScript SDK sends (discovery with
//! `MCP-Protocol-Version`, registration as JSON, the token request as a form, the MCP request as
//! JSON with `Authorization` once it has a token). No login is needed: a token request with a
//! made-up code shows whether an error answer is readable, which is what a browser client needs.

use cucumber::{Parameter, then, when};
use reqwest::Method;
use url::Url;

use crate::discovery;
use crate::http::{Exchange, Request};
use crate::steps::http::brief;
use crate::world::{Agent, GatewayWorld, StepResult};

/// MCP Inspector's UI origin (its default port).
pub const INSPECTOR_ORIGIN: &str = "http://localhost:6274";

/// An endpoint a browser client talks to, in step text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Parameter)]
#[param(
    name = "endpoint",
    regex = "protected resource metadata|authorization server metadata|registration endpoint|token endpoint|MCP endpoint|authorization endpoint"
)]
pub enum Endpoint {
    ResourceMetadata,
    ServerMetadata,
    Registration,
    Token,
    Mcp,
    Authorization,
}

impl std::str::FromStr for Endpoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "protected resource metadata" => Endpoint::ResourceMetadata,
            "authorization server metadata" => Endpoint::ServerMetadata,
            "registration endpoint" => Endpoint::Registration,
            "token endpoint" => Endpoint::Token,
            "MCP endpoint" => Endpoint::Mcp,
            "authorization endpoint" => Endpoint::Authorization,
            other => return Err(format!("internal: unknown endpoint {other:?}")),
        })
    }
}

impl Endpoint {
    /// The endpoint's URL, as discovery found it.
    fn url(self, w: &GatewayWorld) -> Result<Url, String> {
        self.discovered_url(w)
            .map_err(|e| format!("{}: {e}", self.requirement()))
    }

    fn discovered_url(self, w: &GatewayWorld) -> Result<Url, String> {
        let d = &w.ctx.discovered;
        let missing = |what: &str| format!("discovery found no {what} ({})", d.problems.join("; "));
        match self {
            Endpoint::ResourceMetadata => d
                .prm_url
                .clone()
                .ok_or_else(|| missing("protected resource metadata")),
            Endpoint::ServerMetadata => d
                .asm_url
                .clone()
                .ok_or_else(|| missing("authorization server metadata")),
            Endpoint::Registration => d.endpoint("registration_endpoint"),
            Endpoint::Token => d.endpoint("token_endpoint"),
            Endpoint::Mcp => w.mcp_url(Agent::Owned),
            Endpoint::Authorization => d.endpoint("authorization_endpoint"),
        }
    }

    /// The requirement a failure at this endpoint breaks.
    fn requirement(self) -> &'static str {
        match self {
            Endpoint::Token => "TOKEN-11",
            Endpoint::Authorization => "AUTHZ-11",
            _ => "SEC-03",
        }
    }
}

/// `Authorization, Content-Type` → `authorization,content-type`, as browsers send it.
fn request_headers(list: &str) -> String {
    let mut names: Vec<String> = list
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names.join(",")
}

#[when(expr = "MCP Inspector preflights a {word} to the {endpoint} with the headers {string}")]
async fn preflight(
    w: &mut GatewayWorld,
    method: String,
    endpoint: Endpoint,
    headers: String,
) -> StepResult {
    let url = endpoint.url(w)?;
    let headers = request_headers(&headers);
    w.saved.insert("cors_method".into(), method.clone());
    w.saved.insert("cors_headers".into(), headers.clone());
    w.saved
        .insert("cors_requirement".into(), endpoint.requirement().into());
    w.send(
        Request::new(Method::OPTIONS, url.as_str())
            .header("Origin", INSPECTOR_ORIGIN)
            .header("Access-Control-Request-Method", method)
            .header("Access-Control-Request-Headers", headers),
    )
    .await;
    Ok(())
}

/// Sends the request Inspector makes at `endpoint`, with its `Origin`.
#[when(expr = "MCP Inspector sends its request to the {endpoint}")]
async fn actual_request(w: &mut GatewayWorld, endpoint: Endpoint) -> StepResult {
    let url = endpoint.url(w)?;
    w.saved
        .insert("cors_requirement".into(), endpoint.requirement().into());
    let request = match endpoint {
        Endpoint::ResourceMetadata | Endpoint::ServerMetadata => {
            Request::get(url.as_str()).header("MCP-Protocol-Version", discovery::PROTOCOL_VERSION)
        }
        Endpoint::Registration => {
            let mut metadata = w.client_metadata();
            metadata["client_name"] = "MCP Inspector (mcp-conformance)".into();
            Request::post(url.as_str()).json(&metadata)
        }
        Endpoint::Token => {
            let made_up = crate::pkce::random_string(43, crate::pkce::UNRESERVED);
            Request::post(url.as_str())
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", made_up.as_str()),
                    ("redirect_uri", w.ctx.profile.redirect_uri.as_str()),
                    ("client_id", "mcp-conformance-unknown-client"),
                    ("code_verifier", made_up.as_str()),
                ])
                .header("Accept", "application/json")
        }
        Endpoint::Mcp => discovery::mcp_request(url.as_str(), &discovery::initialize_body()),
        Endpoint::Authorization => {
            // A correct request where the target registers clients, so the endpoint gets past
            // its checks; a bare one otherwise. Either way nothing is followed.
            let mut url = url;
            if w.ctx.discovered.has_capability("registration")? {
                let params = w.authorization_request(Agent::Owned).await?;
                url.query_pairs_mut().extend_pairs(params);
            }
            Request::get(url.as_str())
        }
    };
    w.send(request.header("Origin", INSPECTOR_ORIGIN)).await;
    Ok(())
}

/// The single `Access-Control-Allow-Origin` value of `ex`, if any (several make CORS fail).
fn allow_origin(ex: &Exchange) -> Result<Option<String>, String> {
    let values: Vec<&str> = ex
        .response()?
        .headers_named("access-control-allow-origin")
        .collect();
    match values.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.trim().to_owned())),
        many => Err(format!(
            "{} carries {} Access-Control-Allow-Origin headers {many:?}; browsers accept exactly one",
            ex.line(),
            many.len()
        )),
    }
}

/// The comma-separated, lower-cased values of every `name` header.
fn header_list(ex: &Exchange, name: &str) -> Result<Vec<String>, String> {
    Ok(ex
        .response()?
        .headers_named(name)
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect())
}

/// Whether the origin check of the Fetch standard passes for Inspector.
fn expect_origin_allowed(ex: &Exchange, id: &str) -> StepResult {
    match allow_origin(ex).map_err(|e| format!("{id}: {e}"))? {
        Some(o) if o == "*" || o == INSPECTOR_ORIGIN => Ok(()),
        Some(o) => Err(format!(
            "{id}: {} allows origin {o:?}, not {INSPECTOR_ORIGIN} or *",
            ex.line()
        )),
        None => Err(format!(
            "{id}: {} has no Access-Control-Allow-Origin: a page at {INSPECTOR_ORIGIN} cannot read it",
            ex.line()
        )),
    }
}

#[then("the CORS preflight allows the request")]
async fn preflight_allowed(w: &mut GatewayWorld) -> StepResult {
    let id = w
        .saved
        .get("cors_requirement")
        .cloned()
        .unwrap_or_else(|| "SEC-03".into());
    let method = w
        .saved
        .get("cors_method")
        .cloned()
        .ok_or("internal: no preflight was sent")?;
    let requested = w.saved.get("cors_headers").cloned().unwrap_or_default();
    let ex = w.last_exchange()?;
    let resp = ex.response()?;
    if !(200..300).contains(&resp.status) {
        return Err(format!(
            "{id}: the preflight failed: {} (browsers need a 2xx): {}",
            ex.line(),
            brief(&resp.body)
        ));
    }
    expect_origin_allowed(ex, &id)?;
    let methods = header_list(ex, "access-control-allow-methods")?;
    let safelisted = matches!(method.as_str(), "GET" | "HEAD" | "POST");
    if !safelisted
        && !methods
            .iter()
            .any(|m| m == "*" || m.eq_ignore_ascii_case(&method))
    {
        return Err(format!(
            "{id}: Access-Control-Allow-Methods {methods:?} does not allow {method}"
        ));
    }
    let allowed = header_list(ex, "access-control-allow-headers")?;
    let wildcard = allowed.iter().any(|h| h == "*");
    let refused: Vec<&str> = requested
        .split(',')
        .filter(|h| !h.is_empty())
        .filter(|h| !(allowed.iter().any(|a| a == h) || (wildcard && *h != "authorization")))
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{id}: the preflight does not allow the request header(s) {} (Access-Control-Allow-Headers {allowed:?}; * never covers Authorization)",
        refused.join(", ")
    ))
}

#[then("MCP Inspector may read the response")]
async fn readable(w: &mut GatewayWorld) -> StepResult {
    let id = w
        .saved
        .get("cors_requirement")
        .cloned()
        .unwrap_or_else(|| "SEC-03".into());
    let ex = w.last_exchange()?;
    let resp = ex.response()?;
    if resp.status == 403 {
        return Err(format!(
            "{id}: {} refuses Origin {INSPECTOR_ORIGIN} with 403: MCP Inspector cannot use it ({})",
            ex.line(),
            brief(&resp.body)
        ));
    }
    expect_origin_allowed(ex, &id)
}

/// RFC 9728 §5.1 through a browser: the page can only follow the challenge if
/// `Access-Control-Expose-Headers` names `WWW-Authenticate` (or is `*`, fine without credentials).
#[then("the response exposes WWW-Authenticate to MCP Inspector")]
async fn exposes_challenge(w: &mut GatewayWorld) -> StepResult {
    let ex = w.last_exchange()?;
    let resp = ex.response()?;
    if resp.status != 401 || resp.header("www-authenticate").is_none() {
        return Err(format!(
            "SEC-03: expected a 401 with WWW-Authenticate for an unauthenticated MCP request, got {}",
            ex.line()
        ));
    }
    let exposed = header_list(ex, "access-control-expose-headers")?;
    if exposed.iter().any(|h| h == "www-authenticate" || h == "*") {
        return Ok(());
    }
    Err(format!(
        "SEC-03: Access-Control-Expose-Headers is {exposed:?}: a browser client cannot read WWW-Authenticate, so it cannot find the metadata"
    ))
}

/// OAuth 2.1 "Authorization Endpoint": CORS MUST NOT be supported there, so no answer, preflight
/// or not, grants an origin access.
#[then("the response grants MCP Inspector no cross-origin access")]
async fn no_cors(w: &mut GatewayWorld) -> StepResult {
    let ex = w.last_exchange()?;
    match allow_origin(ex).map_err(|e| format!("AUTHZ-11: {e}"))? {
        None => Ok(()),
        Some(o) => Err(format!(
            "AUTHZ-11: {} answers Origin {INSPECTOR_ORIGIN} with Access-Control-Allow-Origin {o:?}; CORS must not be supported on the authorization endpoint",
            ex.line()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_headers_are_lower_case_sorted_and_unique() {
        assert_eq!(
            request_headers("MCP-Protocol-Version, Authorization,content-type, authorization"),
            "authorization,content-type,mcp-protocol-version"
        );
        assert_eq!(request_headers(""), "");
    }
}
