//! Discovery as a client performs it (MCP 2025-11-25+ "Authorization Server Discovery"): from the
//! MCP URL to the 401 challenge, to the protected resource metadata (RFC 9728), to the
//! authorization server metadata (RFC 8414). Nothing else in the suite knows an endpoint path.
//!
//! [`Discovered::run`] is the pre-flight of a run: it records what it found and, for what it did
//! not find, why; checks that need an endpoint fail with that reason. The URL construction rules
//! ([`prm_well_known`], [`asm_candidates`]) are pure functions with unit tests.

use serde_json::Value;
use url::Url;

use crate::http::{Exchange, Http, Request};
use crate::www_authenticate::{self, Challenge};

/// The MCP protocol revision the suite announces.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// A JSON-RPC `initialize` request body, the first thing a client POSTs.
pub fn initialize_body() -> Value {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "mcp-conformance", "version": env!("CARGO_PKG_VERSION")}
        }
    })
}

/// A POST of JSON-RPC `body` to an MCP URL, with the headers MCP Streamable HTTP requires.
pub fn mcp_request(url: &str, body: &Value) -> Request {
    Request::post(url)
        .json(body)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", PROTOCOL_VERSION)
}

/// RFC 9728 §3.1: the metadata URL of `resource`, `/.well-known/oauth-protected-resource`
/// inserted between host and path (a trailing `/` of the path removed first).
pub fn prm_well_known(resource: &Url) -> Url {
    let mut url = resource.clone();
    let path = resource.path().trim_end_matches('/');
    url.set_path(&format!("/.well-known/oauth-protected-resource{path}"));
    url.set_fragment(None);
    url
}

/// The root protected resource metadata URL of `url`'s origin.
pub fn prm_root(url: &Url) -> Url {
    let mut root = url.clone();
    root.set_path("/.well-known/oauth-protected-resource");
    root.set_query(None);
    root.set_fragment(None);
    root
}

/// The authorization server metadata URLs a client tries for `issuer`, in order (MCP
/// 2025-11-25+: RFC 8414 path-inserted, OIDC path-inserted, OIDC appended; for an issuer without
/// a path: RFC 8414, then OIDC).
pub fn asm_candidates(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let at = |p: String| {
        let mut u = issuer.clone();
        u.set_path(&p);
        u.set_query(None);
        u.set_fragment(None);
        u
    };
    if path.is_empty() {
        vec![
            at("/.well-known/oauth-authorization-server".into()),
            at("/.well-known/openid-configuration".into()),
        ]
    } else {
        vec![
            at(format!("/.well-known/oauth-authorization-server{path}")),
            at(format!("/.well-known/openid-configuration{path}")),
            at(format!("{path}/.well-known/openid-configuration")),
        ]
    }
}

/// What pre-flight discovery found, and what it could not.
#[derive(Clone, Debug)]
pub struct Discovered {
    pub mcp_url: Url,
    /// The unauthenticated MCP request and its answer.
    pub challenge_exchange: Option<Exchange>,
    /// The first `Bearer` challenge of that answer.
    pub challenge: Option<Challenge>,
    pub prm_url: Option<Url>,
    pub prm: Option<Value>,
    pub issuer: Option<String>,
    pub asm_url: Option<Url>,
    pub asm: Option<Value>,
    /// Why a stage failed, in order; empty when discovery went through.
    pub problems: Vec<String>,
}

impl Discovered {
    /// Runs discovery from `mcp_url` the way the TypeScript and Python SDKs do.
    pub async fn run(http: &Http, mcp_url: &Url) -> Discovered {
        let mut d = Discovered {
            mcp_url: mcp_url.clone(),
            challenge_exchange: None,
            challenge: None,
            prm_url: None,
            prm: None,
            issuer: None,
            asm_url: None,
            asm: None,
            problems: Vec::new(),
        };
        let ex = http
            .send(mcp_request(mcp_url.as_str(), &initialize_body()))
            .await;
        let mut header_prm = None;
        match &ex.response {
            Some(r) if r.status == 401 => match r.header("www-authenticate") {
                Some(v) => match www_authenticate::parse(v) {
                    Ok(all) => {
                        d.challenge = all.into_iter().find(Challenge::is_bearer);
                        match d
                            .challenge
                            .as_ref()
                            .and_then(|c| c.param("resource_metadata"))
                        {
                            // Lenient here (a relative value is resolved), strict in the checks.
                            Some(rm) => header_prm = mcp_url.join(rm).ok(),
                            None => d
                                .problems
                                .push("the 401 challenge has no resource_metadata".into()),
                        }
                    }
                    Err(e) => d
                        .problems
                        .push(format!("WWW-Authenticate does not parse: {e}")),
                },
                None => d.problems.push("the 401 has no WWW-Authenticate".into()),
            },
            Some(r) => d.problems.push(format!(
                "an unauthenticated POST to {mcp_url} answered {}, not 401",
                r.status
            )),
            None => d.problems.push(ex.line()),
        }
        d.challenge_exchange = Some(ex);

        let mut candidates: Vec<Url> = header_prm.into_iter().collect();
        candidates.push(prm_well_known(mcp_url));
        candidates.push(prm_root(mcp_url));
        for url in candidates {
            let ex = http.send(Request::get(url.as_str())).await;
            match ex.response.as_ref() {
                Some(r) if r.status == 200 => {
                    if let Some(json) = r.json().filter(Value::is_object) {
                        d.prm_url = Some(url);
                        d.prm = Some(json);
                        break;
                    }
                    d.problems.push(format!("{url} is not a JSON object"));
                }
                _ => d.problems.push(format!(
                    "no protected resource metadata at {url}: {}",
                    ex.line()
                )),
            }
        }
        let issuer = d
            .prm
            .as_ref()
            .and_then(|p| p.get("authorization_servers"))
            .and_then(|a| a.get(0))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let Some(issuer) = issuer else {
            d.problems
                .push("no authorization_servers[0] in the protected resource metadata".into());
            return d;
        };
        d.issuer = Some(issuer.clone());
        let Ok(issuer_url) = Url::parse(&issuer) else {
            d.problems
                .push(format!("authorization_servers[0] {issuer:?} is not a URL"));
            return d;
        };
        for url in asm_candidates(&issuer_url) {
            let ex = http.send(Request::get(url.as_str())).await;
            if let Some(json) = ex
                .response
                .as_ref()
                .filter(|r| r.status == 200)
                .and_then(|r| r.json())
                .filter(Value::is_object)
            {
                d.asm_url = Some(url);
                d.asm = Some(json);
                return d;
            }
        }
        d.problems.push(format!(
            "no authorization server metadata for issuer {issuer}"
        ));
        d
    }

    /// The AS metadata member `name` as an absolute URL, or why there is none.
    pub fn endpoint(&self, name: &str) -> Result<Url, String> {
        let asm = self.asm.as_ref().ok_or_else(|| {
            format!(
                "the authorization server metadata was not found ({}), so `{name}` is unknown",
                self.problems.join("; ")
            )
        })?;
        let value = asm
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the authorization server metadata has no `{name}`"))?;
        Url::parse(value).map_err(|e| format!("`{name}` {value:?} is not an absolute URL: {e}"))
    }

    /// The PRM `resource`, which clients send as RFC 8707 `resource`.
    pub fn resource(&self) -> Option<String> {
        self.prm
            .as_ref()?
            .get("resource")?
            .as_str()
            .map(str::to_owned)
    }

    /// The scope a client would request (MCP "Scope Selection Strategy"): the challenge's
    /// `scope`, else PRM `scopes_supported`, else none.
    pub fn scope(&self) -> Option<String> {
        if let Some(s) = self.challenge.as_ref().and_then(|c| c.param("scope")) {
            return Some(s.to_owned());
        }
        let list = self.prm.as_ref()?.get("scopes_supported")?.as_array()?;
        let scopes: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
        (!scopes.is_empty()).then(|| scopes.join(" "))
    }

    fn asm_list_contains(&self, member: &str, value: &str) -> bool {
        self.asm
            .as_ref()
            .and_then(|m| m.get(member))
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(value)))
    }

    /// Whether the target advertises `capability` (a `@capability:` tag).
    pub fn has_capability(&self, capability: &str) -> Result<bool, String> {
        Ok(match capability {
            "refresh" => self.asm_list_contains("grant_types_supported", "refresh_token"),
            "iss" => self
                .asm
                .as_ref()
                .and_then(|m| m.get("authorization_response_iss_parameter_supported"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            "registration" => self.endpoint("registration_endpoint").is_ok(),
            // DCR-03 binds gateways that serve public clients only (the guide's design); an
            // authorization server that also serves confidential clients may issue secrets.
            "public-only" => self
                .asm
                .as_ref()
                .and_then(|m| m.get("token_endpoint_auth_methods_supported"))
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty() && a.iter().all(|v| v.as_str() == Some("none"))),
            other => return Err(format!("unknown capability @capability:{other}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9728_path_insertion() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            prm_well_known(&u("https://gw.example/a1/mcp")).as_str(),
            "https://gw.example/.well-known/oauth-protected-resource/a1/mcp"
        );
        assert_eq!(
            prm_well_known(&u("https://gw.example/a1/mcp/")).as_str(),
            "https://gw.example/.well-known/oauth-protected-resource/a1/mcp"
        );
        assert_eq!(
            prm_well_known(&u("https://gw.example")).as_str(),
            "https://gw.example/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            prm_root(&u("http://127.0.0.1:3000/mcp?x=1")).as_str(),
            "http://127.0.0.1:3000/.well-known/oauth-protected-resource"
        );
    }

    #[test]
    fn rfc8414_and_oidc_candidates() {
        let u = |s: &str| Url::parse(s).unwrap();
        let root: Vec<String> = asm_candidates(&u("https://gw.example"))
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            root,
            [
                "https://gw.example/.well-known/oauth-authorization-server",
                "https://gw.example/.well-known/openid-configuration"
            ]
        );
        let with_path: Vec<String> = asm_candidates(&u("https://gw.example/tenant1/"))
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            with_path,
            [
                "https://gw.example/.well-known/oauth-authorization-server/tenant1",
                "https://gw.example/.well-known/openid-configuration/tenant1",
                "https://gw.example/tenant1/.well-known/openid-configuration"
            ]
        );
    }
}
