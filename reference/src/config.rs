//! Configuration: [`RawConfig`] is the TOML file exactly as written; [`Config`] is what the
//! gateway runs with, validated once at start-up so that handlers never see a malformed value.
//!
//! The guide's fixed values are constants here, each citing its source, and are deliberately not
//! configurable: the reference gateway is the oracle of the conformance suite.
//!
//! Invariants: `Config` never holds a password, an API key or a code in clear, only argon2 PHC
//! strings and SHA-256 digests; its `Debug` output never shows the JWT secret.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use argon2::PasswordHash;
use serde::Deserialize;
use url::Url;

/// Guide, "Token details": "Authorization code TTL 120 seconds" (OAuth 2.1 §4.1.2 asks for a
/// short lifetime, at most 10 minutes recommended).
pub const AUTHORIZATION_CODE_TTL: Duration = Duration::from_secs(120);

/// Guide, "Token details": "Default TTL 60 minutes", answered as `expires_in: 3600`.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// How long a user has to finish the login page after `/oauth/authorize` sent them there.
pub const PENDING_AUTHORIZATION_TTL: Duration = Duration::from_secs(600);

/// Refresh tokens expire after this much inactivity (OAuth 2.1 §4.3.1 / "Refresh Token
/// Recommendations"); every rotation starts a new period.
pub const REFRESH_TOKEN_IDLE_TTL: Duration = Duration::from_secs(14 * 24 * 3600);

/// A redeemed code is remembered this long after it was issued, so that a replay can revoke what
/// it yielded (OAuth 2.1 §4.1.3: "SHOULD revoke all tokens previously issued based on that
/// authorization code"): until the last access token it can have produced (redeemed at the end of
/// the code's life) has expired. A later replay still gets `invalid_grant` but revokes nothing; the
/// grant's refresh tokens then remain protected by their own reuse detection.
pub const CODE_REPLAY_WINDOW: Duration =
    Duration::from_secs(AUTHORIZATION_CODE_TTL.as_secs() + ACCESS_TOKEN_TTL.as_secs());

/// A registered client that no user approved within this time is forgotten.
pub const UNUSED_CLIENT_TTL: Duration = Duration::from_secs(24 * 3600);

/// Longest `state` accepted at the authorization endpoint (it is stored until the login ends).
pub const MAX_STATE_LENGTH: usize = 2048;

/// The JWT secret of `fixtures/reference.toml`: public, so the server warns whenever it is used.
pub const DEMO_JWT_SECRET: &str = "demo-only-hs256-secret-do-not-use-in-production";

/// Failed logins allowed on one pending authorization before it is burnt.
pub const MAX_LOGIN_FAILURES: u32 = 5;

/// The one scope the gateway defines: use of the MCP endpoint of the user's agents.
pub const SCOPE: &str = "mcp";

/// Prefix of agent API keys (guide: "`bak_…` an Agent API Key bound to the target agent").
pub const AGENT_KEY_PREFIX: &str = "bak_";

/// Prefix of user API keys (guide: "`oag_…` a User API Key for agents the user owns").
pub const USER_KEY_PREFIX: &str = "oag_";

/// Environment variable that supplies (and overrides) the HS256 signing secret.
pub const JWT_SECRET_ENV: &str = "MCP_GATEWAY_JWT_SECRET";

/// The configuration file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub gateway: RawGateway,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub users: Vec<RawUser>,
    #[serde(default)]
    pub agents: Vec<RawAgent>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGateway {
    /// Public origin of the gateway, e.g. `https://mcp.example.com`. Defaults to `http://<bind>`.
    pub issuer: Option<String>,
    /// HS256 secret (at least 32 bytes). `MCP_GATEWAY_JWT_SECRET` overrides it.
    pub jwt_secret: Option<String>,
    /// Marks the file's secrets as public demo values: the server warns at start-up.
    #[serde(default)]
    pub demo: bool,
    /// Issue refresh tokens (rotated on every use). Default on.
    pub refresh_tokens: Option<bool>,
    /// Browser origins allowed to call the MCP endpoint (MCP Streamable HTTP, "Security Warning":
    /// servers MUST validate `Origin`). Requests without `Origin` are always allowed.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Shown on the login page.
    pub name: Option<String>,
}

impl fmt::Debug for RawGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawGateway")
            .field("issuer", &self.issuer)
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("demo", &self.demo)
            .field("refresh_tokens", &self.refresh_tokens)
            .field("allowed_origins", &self.allowed_origins)
            .finish()
    }
}

/// Bounds on every store and request; all have safe defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_clients: usize,
    pub max_pending_authorizations: usize,
    pub max_authorization_codes: usize,
    pub max_refresh_tokens: usize,
    pub max_revoked_grants: usize,
    /// Dynamic client registrations per client IP and minute (RFC 7591 §3: MAY rate-limit).
    pub registrations_per_minute: u32,
    /// Authorization requests per client IP and minute (each parks a pending login).
    pub authorizations_per_minute: u32,
    /// Login form submissions per client IP and minute.
    pub logins_per_minute: u32,
    /// Largest request body accepted anywhere, in bytes.
    pub max_body_bytes: usize,
    /// Largest registration request body, in bytes.
    pub max_registration_bytes: usize,
    pub max_redirect_uris: usize,
    pub max_redirect_uri_length: usize,
    pub max_client_name_length: usize,
    /// Requests taking longer are answered 408.
    pub request_timeout_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_clients: 10_000,
            max_pending_authorizations: 10_000,
            max_authorization_codes: 10_000,
            max_refresh_tokens: 100_000,
            max_revoked_grants: 100_000,
            registrations_per_minute: 60,
            authorizations_per_minute: 120,
            logins_per_minute: 30,
            max_body_bytes: 1024 * 1024,
            max_registration_bytes: 16 * 1024,
            max_redirect_uris: 10,
            max_redirect_uri_length: 2048,
            max_client_name_length: 200,
            request_timeout_secs: 30,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    pub username: String,
    /// argon2 PHC string (`mcp-gateway-reference hash-password`).
    pub password_hash: String,
    /// SHA-256 hex digests of the user's `oag_…` keys (`mcp-gateway-reference hash-key`).
    #[serde(default)]
    pub api_key_sha256: Vec<String>,
}

impl fmt::Debug for RawUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawUser")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    pub id: String,
    pub owner: String,
    pub name: Option<String>,
    /// SHA-256 hex digests of the agent's `bak_…` keys.
    #[serde(default)]
    pub api_key_sha256: Vec<String>,
}

/// An agent identifier: one URL path segment of unreserved characters (RFC 3986 §2.3), so it can
/// be placed in URLs and in quoted header parameters without escaping.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AgentId(String);

impl AgentId {
    pub fn parse(raw: &str) -> Option<AgentId> {
        let ok = (1..=128).contains(&raw.len())
            && raw
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~'))
            && !matches!(raw, "." | ".." | ".well-known" | "oauth");
        ok.then(|| AgentId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone)]
pub struct Agent {
    pub id: AgentId,
    pub owner: String,
    pub name: String,
}

#[derive(Clone)]
pub struct User {
    pub username: String,
    pub password_hash: String,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What an API key is bound to (dispatched by prefix, guide "OAuth 2.1 isn't the only path").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    Agent(AgentId),
    User(String),
}

/// The HS256 signing secret. Never printed.
#[derive(Clone)]
pub struct JwtSecret(Vec<u8>);

impl JwtSecret {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtSecret(<redacted>)")
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The issuer identifier and public base URL, without a trailing slash (RFC 8414 §2), e.g.
    /// `http://127.0.0.1:8080`. Every absolute URL the gateway emits starts with it.
    pub issuer: String,
    pub name: String,
    pub jwt_secret: JwtSecret,
    pub demo: bool,
    pub refresh_tokens: bool,
    pub allowed_origins: Vec<String>,
    pub limits: Limits,
    pub users: BTreeMap<String, User>,
    pub agents: BTreeMap<AgentId, Agent>,
    /// `(sha256 digest, owner)`; `bak_` keys map to agents, `oag_` keys to users.
    pub api_keys: Vec<(String, KeyOwner)>,
}

/// Values given on the command line or in the environment, which win over the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub issuer: Option<String>,
    pub jwt_secret: Option<String>,
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot parse the configuration: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("issuer {0:?}: {1}")]
    Issuer(String, &'static str),
    #[error(
        "no JWT secret: set gateway.jwt_secret or the {JWT_SECRET_ENV} environment variable (at least 32 bytes)"
    )]
    MissingSecret,
    #[error(
        "the JWT secret must be at least 32 bytes (RFC 7518 §3.2: a key as long as the HS256 output)"
    )]
    ShortSecret,
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Parses and validates a TOML document.
    pub fn from_toml(text: &str, overrides: &Overrides) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text)?;
        Config::validate(raw, overrides)
    }

    /// Turns the file as written into the configuration the gateway runs with.
    pub fn validate(raw: RawConfig, overrides: &Overrides) -> Result<Config, ConfigError> {
        let issuer_raw = overrides
            .issuer
            .clone()
            .or(raw.gateway.issuer)
            .ok_or_else(|| ConfigError::Issuer(String::new(), "no issuer configured"))?;
        let issuer = normalize_issuer(&issuer_raw)?;

        let secret = overrides
            .jwt_secret
            .clone()
            .or(raw.gateway.jwt_secret)
            .ok_or(ConfigError::MissingSecret)?;
        if secret.len() < 32 {
            return Err(ConfigError::ShortSecret);
        }

        let mut users = BTreeMap::new();
        let mut api_keys = Vec::new();
        for user in raw.users {
            if user.username.is_empty() || user.username.len() > 128 {
                return Err(invalid(format!(
                    "user {:?}: username must be 1 to 128 bytes",
                    user.username
                )));
            }
            PasswordHash::new(&user.password_hash).map_err(|e| {
                invalid(format!(
                    "user {:?}: password_hash is not an argon2 PHC string: {e}",
                    user.username
                ))
            })?;
            for digest in &user.api_key_sha256 {
                api_keys.push((
                    parse_digest(digest, &user.username)?,
                    KeyOwner::User(user.username.clone()),
                ));
            }
            let name = user.username.clone();
            let previous = users.insert(
                name.clone(),
                User {
                    username: user.username,
                    password_hash: user.password_hash,
                },
            );
            if previous.is_some() {
                return Err(invalid(format!("user {name:?} is listed twice")));
            }
        }

        let mut agents = BTreeMap::new();
        for agent in raw.agents {
            let id = AgentId::parse(&agent.id).ok_or_else(|| {
                invalid(format!(
                    "agent id {:?} must be 1 to 128 unreserved characters (A-Z a-z 0-9 - . _ ~), not \"oauth\" or \".well-known\"",
                    agent.id
                ))
            })?;
            if !users.contains_key(&agent.owner) {
                return Err(invalid(format!(
                    "agent {id}: owner {:?} is not a configured user",
                    agent.owner
                )));
            }
            for digest in &agent.api_key_sha256 {
                api_keys.push((
                    parse_digest(digest, id.as_str())?,
                    KeyOwner::Agent(id.clone()),
                ));
            }
            let entry = Agent {
                name: agent.name.unwrap_or_else(|| id.to_string()),
                id: id.clone(),
                owner: agent.owner,
            };
            if agents.insert(id.clone(), entry).is_some() {
                return Err(invalid(format!("agent {id} is listed twice")));
            }
        }
        let mut digests: Vec<&String> = api_keys.iter().map(|(d, _)| d).collect();
        digests.sort();
        if digests.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid(
                "the same API key digest is configured twice".into(),
            ));
        }

        let mut allowed_origins = Vec::new();
        for origin in raw.gateway.allowed_origins {
            let parsed = Url::parse(&origin)
                .map_err(|e| invalid(format!("allowed origin {origin:?}: {e}")))?;
            allowed_origins.push(parsed.origin().ascii_serialization());
        }
        // The gateway's own origin may always call it.
        allowed_origins.push(issuer.clone());

        let limits = raw.limits;
        if limits.max_clients == 0
            || limits.max_pending_authorizations == 0
            || limits.max_authorization_codes == 0
            || limits.max_refresh_tokens == 0
            || limits.max_revoked_grants == 0
            || limits.registrations_per_minute == 0
            || limits.authorizations_per_minute == 0
            || limits.logins_per_minute == 0
            || limits.max_redirect_uris == 0
            || limits.request_timeout_secs == 0
        {
            return Err(invalid("every limit must be at least 1".into()));
        }

        Ok(Config {
            issuer,
            name: raw
                .gateway
                .name
                .unwrap_or_else(|| "MCP Gateway (reference)".to_owned()),
            jwt_secret: JwtSecret(secret.into_bytes()),
            demo: raw.gateway.demo,
            refresh_tokens: raw.gateway.refresh_tokens.unwrap_or(true),
            allowed_origins,
            limits,
            users,
            agents,
            api_keys,
        })
    }

    /// The MCP endpoint of `agent`: `{issuer}/{AGENT_ID}/mcp` (guide, "Step 4").
    pub fn agent_resource(&self, agent: &AgentId) -> String {
        format!("{}/{}/mcp", self.issuer, agent)
    }

    /// RFC 9728 §3.1: the metadata URL of `agent`, with the well-known string inserted between the
    /// host and the path of its resource identifier.
    pub fn agent_metadata_url(&self, agent: &AgentId) -> String {
        format!(
            "{}/.well-known/oauth-protected-resource/{}/mcp",
            self.issuer, agent
        )
    }

    /// `{issuer}{path}`, for endpoint URLs.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// Whether the JWT secret is the public demo secret (the server warns).
    pub fn uses_demo_secret(&self) -> bool {
        self.jwt_secret.as_bytes() == DEMO_JWT_SECRET.as_bytes()
    }

    /// Whether the issuer is plain HTTP on a non-loopback host (a deviation from RFC 8414 §2 that
    /// the server warns about).
    pub fn insecure_issuer(&self) -> bool {
        Url::parse(&self.issuer)
            .map(|u| u.scheme() == "http" && !u.host_str().is_some_and(is_loopback_host))
            .unwrap_or(true)
    }
}

/// `localhost`, `127.0.0.0/8` (all of it is loopback, RFC 1122 §3.2.1.3) or `[::1]`: the hosts for which plain HTTP and any port are allowed
/// in redirect URIs (OAuth 2.1 §8.4.2 / "Loopback Interface Redirection").
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// RFC 8414 §2: the issuer is an `https` URL (plain `http` tolerated, with a warning) with no
/// query or fragment. We also require no path, because every endpoint hangs off the origin, and
/// we serialise it without a trailing slash so it is byte-identical everywhere it appears.
fn normalize_issuer(raw: &str) -> Result<String, ConfigError> {
    let err = |why| ConfigError::Issuer(raw.to_owned(), why);
    let url = Url::parse(raw).map_err(|_| err("not an absolute URL"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(err("must be an https (or loopback http) URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err("must have no query and no fragment (RFC 8414 §2)"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err("must not contain credentials"));
    }
    if url.path() != "/" {
        return Err(err(
            "must be an origin without a path (the gateway serves everything from its root)",
        ));
    }
    Ok(url.origin().ascii_serialization())
}

fn parse_digest(digest: &str, owner: &str) -> Result<String, ConfigError> {
    let lower = digest.to_ascii_lowercase();
    if lower.len() != 64 || !lower.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(invalid(format!(
            "{owner}: api_key_sha256 entries must be 64 hex digits (mcp-gateway-reference hash-key)"
        )));
    }
    Ok(lower)
}

fn invalid(message: String) -> ConfigError {
    ConfigError::Invalid(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_issuer(issuer: &str) -> Result<Config, ConfigError> {
        Config::from_toml(
            &format!(
                "[gateway]\nissuer = {issuer:?}\njwt_secret = \"{}\"\n",
                "x".repeat(32)
            ),
            &Overrides::default(),
        )
    }

    #[test]
    fn disc_10_issuer_is_serialised_without_trailing_slash() {
        assert_eq!(
            with_issuer("https://GW.example/").unwrap().issuer,
            "https://gw.example"
        );
        assert_eq!(
            with_issuer("http://127.0.0.1:8080").unwrap().issuer,
            "http://127.0.0.1:8080"
        );
        assert!(with_issuer("https://gw.example/base").is_err());
        assert!(with_issuer("https://gw.example/?q=1").is_err());
        assert!(with_issuer("https://gw.example/#f").is_err());
        assert!(with_issuer("ftp://gw.example").is_err());
        assert!(with_issuer("/relative").is_err());
    }

    #[test]
    fn secret_must_be_long_enough() {
        let short = Config::from_toml(
            "[gateway]\nissuer = \"https://gw.example\"\njwt_secret = \"short\"\n",
            &Overrides::default(),
        );
        assert!(matches!(short, Err(ConfigError::ShortSecret)));
        let missing = Config::from_toml(
            "[gateway]\nissuer = \"https://gw.example\"\n",
            &Overrides::default(),
        );
        assert!(matches!(missing, Err(ConfigError::MissingSecret)));
    }

    #[test]
    fn agent_ids_are_one_unreserved_segment() {
        assert!(AgentId::parse("research-agent_1.v2~x").is_some());
        for bad in ["", "a/b", "a b", "oauth", ".well-known", "..", "a\"b", "é"] {
            assert!(AgentId::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn loopback_hosts() {
        for host in ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "[::1]"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["example.com", "10.0.0.1", "localhost.evil.example", "[::2]"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let config = with_issuer("https://gw.example").unwrap();
        assert!(!format!("{config:?}").contains(&"x".repeat(32)));
    }
}
