//! Resource indicators (RFC 8707) and audiences.
//!
//! A client names the protected resource it wants a token for with `resource` in the authorization
//! and token requests (MCP authorization, "Resource Parameter Implementation"). The gateway knows
//! two kinds of resource:
//!
//! - one agent's MCP endpoint, `{issuer}/{AGENT_ID}/mcp`, published in that agent's protected
//!   resource metadata; a token for it carries that `aud` and works only there;
//! - the gateway itself, `{issuer}`, the `resource` of the root protected resource metadata; a
//!   token for it is valid at every agent its user owns, exactly like a token requested without
//!   `resource` (RFC 8707 §2.1 leaves the default to the server).
//!
//! Comparison follows MCP "Canonical Server URI": scheme and host are case-insensitive, a bare
//! origin may end in `/` (the TypeScript SDK serialises it that way), the path is compared exactly.
//! Anything else (unknown agent, other host, query, fragment) is `invalid_target`.

use url::Url;

use crate::config::{AgentId, Config};

/// A resource the gateway can issue tokens for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Agent(AgentId),
    Gateway,
}

impl Resource {
    /// RFC 8707 §2: parse and resolve a `resource` parameter; `None` means `invalid_target`.
    pub fn parse(config: &Config, raw: &str) -> Option<Resource> {
        if !raw.bytes().all(|c| c.is_ascii_graphic()) || raw.contains('\\') {
            return None;
        }
        let url = Url::parse(raw).ok()?;
        // The path as sent must be the path as parsed: no `..`, `.` or escapes to normalise away.
        let path = raw_path(raw)?;
        if path != url.path() && !(path.is_empty() && url.path() == "/") {
            return None;
        }
        if url.fragment().is_some() || url.query().is_some() {
            return None;
        }
        if !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        // `Url` lower-cases scheme and host and drops default ports, so comparing serialised
        // origins is the case-insensitive comparison MCP asks for.
        if url.origin().ascii_serialization() != config.issuer {
            return None;
        }
        match url.path() {
            "" | "/" => Some(Resource::Gateway),
            path => {
                let id = path.strip_prefix('/')?.strip_suffix("/mcp")?;
                let id = AgentId::parse(id)?;
                config
                    .agents
                    .contains_key(&id)
                    .then_some(Resource::Agent(id))
            }
        }
    }

    /// The canonical identifier, used as the JWT `aud` (RFC 9068 §3) and in token bindings.
    pub fn identifier(&self, config: &Config) -> String {
        match self {
            Resource::Agent(id) => config.agent_resource(id),
            Resource::Gateway => config.issuer.clone(),
        }
    }

    /// Whether a token bound to `self` may be used at `agent`'s MCP endpoint (RFC 8707 §3, MCP
    /// "Token Audience Binding").
    pub fn covers(&self, agent: &AgentId) -> bool {
        match self {
            Resource::Agent(id) => id == agent,
            Resource::Gateway => true,
        }
    }
}

/// The path of an absolute URI as written: what follows the authority, up to `?` or `#`.
fn raw_path(raw: &str) -> Option<&str> {
    let after_scheme = &raw[raw.find("://")? + 3..];
    let start = after_scheme.find('/').unwrap_or(after_scheme.len());
    let rest = &after_scheme[start..];
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;

    fn config() -> Config {
        Config::from_toml(
            r#"
            [gateway]
            issuer = "https://gw.example"
            jwt_secret = "0123456789abcdef0123456789abcdef"
            [[users]]
            username = "alice"
            password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"
            [[agents]]
            id = "a1"
            owner = "alice"
            "#,
            &Overrides::default(),
        )
        .unwrap()
    }

    #[test]
    fn aud_06_scheme_and_host_are_case_insensitive_paths_exact() {
        let c = config();
        let a1 = AgentId::parse("a1").unwrap();
        assert_eq!(
            Resource::parse(&c, "https://gw.example/a1/mcp"),
            Some(Resource::Agent(a1.clone()))
        );
        assert_eq!(
            Resource::parse(&c, "HTTPS://GW.EXAMPLE/a1/mcp"),
            Some(Resource::Agent(a1.clone()))
        );
        assert_eq!(
            Resource::parse(&c, "https://gw.example:443/a1/mcp"),
            Some(Resource::Agent(a1))
        );
        assert_eq!(
            Resource::parse(&c, "https://gw.example"),
            Some(Resource::Gateway)
        );
        assert_eq!(
            Resource::parse(&c, "https://gw.example/"),
            Some(Resource::Gateway)
        );
    }

    #[test]
    fn aud_04_unknown_or_malformed_resources_are_refused() {
        let c = config();
        for bad in [
            "https://gw.example/A1/mcp",
            "https://gw.example/a1/mcp/",
            "https://gw.example/a2/mcp",
            "https://gw.example/a1/mcp#frag",
            "https://gw.example/a1/mcp?x=1",
            "http://gw.example/a1/mcp",
            "https://other.example/a1/mcp",
            "https://gw.example/a1",
            "/a1/mcp",
            "not a url",
            "https://gw.example/x/../a1/mcp",
            "https://gw.example/./a1/mcp",
            "https://gw.example/%61%31/mcp",
            "https:\\\\gw.example\\a1\\mcp",
        ] {
            assert_eq!(Resource::parse(&c, bad), None, "{bad}");
        }
    }
}
