//! Target profiles: what the suite needs to know about a gateway that discovery cannot tell it.
//!
//! A profile is TOML (`--profile FILE`; `fixtures/targets/reference.toml` describes the demo
//! world). It names the agent the test user owns (the entry point of discovery), optionally an
//! agent they do not own, how to log in, the API keys to try, and optional powers (the HS256
//! secret to craft tokens, the reference's test-clock hook). Any string value may be written
//! `env:NAME` to read it from the environment, so CI keeps credentials in secrets, not files.
//!
//! Every optional part gates checks: a check whose prerequisite is missing is NOT-TESTABLE, never
//! passed. [`Prerequisite`] names them; scenarios ask for them with `@needs:<name>` tags.

use std::path::Path;

use serde::Deserialize;
use url::Url;

/// A profile as written (before `env:` indirection and defaults).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    /// A human name for reports.
    pub name: Option<String>,
    /// The gateway's base URL; `--target` overrides it.
    pub base_url: Option<String>,
    pub agents: RawAgents,
    #[serde(default)]
    pub login: RawLogin,
    #[serde(default)]
    pub keys: RawKeys,
    #[serde(default)]
    pub tokens: RawTokens,
    #[serde(default)]
    pub clock: RawClock,
    #[serde(default)]
    pub client: RawClient,
    #[serde(default)]
    pub groups: RawGroups,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgents {
    /// An agent the test user owns.
    pub owned: String,
    /// An agent the test user does not own (enables cross-agent checks).
    pub other: Option<String>,
    /// How an agent's MCP URL is built: `{base_url}` and `{agent}` are replaced.
    /// Default `{base_url}/{agent}/mcp` (the guide's layout).
    pub mcp_url: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogin {
    /// `form` (default), `command` or `interactive`.
    pub driver: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// form: the `name` of the username input (default: the first text/email input).
    pub username_field: Option<String>,
    /// form: the `name` of the password input (default: the first password input).
    pub password_field: Option<String>,
    /// form: the name or value of the submit button that grants (default: the first submit that
    /// does not look like deny/cancel).
    pub approve_button: Option<String>,
    /// form: the name or value of the submit button that denies (default: one whose name, value
    /// or label says deny, cancel or reject; none found makes the denial check NOT-TESTABLE).
    pub deny_button: Option<String>,
    /// command: a shell command; gets the authorization URL as `$MCP_AUTHORIZE_URL` (and `{url}`
    /// replaced in the command) and must print the final callback URL as its last line.
    pub command: Option<String>,
    /// interactive: the loopback port to listen on for the callback (default 8976).
    pub callback_port: Option<u16>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeys {
    /// A `bak_` key bound to the owned agent.
    pub agent_key: Option<String>,
    /// A `bak_` key bound to a different agent.
    pub other_agent_key: Option<String>,
    /// An `oag_` key of the test user (owner of the owned agent).
    pub user_key: Option<String>,
    /// An `oag_` key of a user who does not own the owned agent.
    pub other_user_key: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokens {
    /// The gateway's HS256 signing secret: enables checks with crafted tokens (expired, wrong
    /// issuer, wrong audience, `alg: none`). Never put a production secret here.
    pub hs256_secret: Option<String>,
    /// Leeway in seconds the gateway may allow on `exp` (default 60); TTL checks wait this long
    /// past expiry before calling a token that still works a failure.
    pub exp_leeway_seconds: Option<u64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClock {
    /// The reference gateway's test-clock hook (`/__test/clock`, relative to `base_url`, or
    /// absolute). Only the reference started with `--test-clock` on loopback offers it.
    pub hook: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    /// The `redirect_uri` the suite registers (default `http://127.0.0.1:8976/callback`).
    pub redirect_uri: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroups {
    /// Check the guide's own fixed paths and values (default true).
    pub guide: Option<bool>,
}

/// Which login driver runs the authorization step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DriverKind {
    Form,
    Command(String),
    Interactive { port: u16 },
}

impl DriverKind {
    pub fn name(&self) -> &'static str {
        match self {
            DriverKind::Form => "form",
            DriverKind::Command(_) => "command",
            DriverKind::Interactive { .. } => "interactive",
        }
    }
}

/// A validated profile with `env:` values resolved.
#[derive(Clone)]
pub struct Profile {
    pub name: String,
    /// The file the profile came from (reports name it; they never copy its contents).
    pub file: String,
    pub base_url: Url,
    pub owned_agent: String,
    pub other_agent: Option<String>,
    mcp_url_template: String,
    pub driver: DriverKind,
    pub username: Option<String>,
    pub password: Option<String>,
    pub username_field: Option<String>,
    pub password_field: Option<String>,
    pub approve_button: Option<String>,
    pub deny_button: Option<String>,
    pub agent_key: Option<String>,
    pub other_agent_key: Option<String>,
    pub user_key: Option<String>,
    pub other_user_key: Option<String>,
    pub hs256_secret: Option<String>,
    pub exp_leeway_seconds: u64,
    pub clock_hook: Option<Url>,
    pub redirect_uri: Url,
    pub guide_group: bool,
}

/// Credentials stay out of `Debug` (cucumber prints the World on failure with `-vv`).
impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("base_url", &self.base_url.as_str())
            .field("owned_agent", &self.owned_agent)
            .field("other_agent", &self.other_agent)
            .field("driver", &self.driver.name())
            .field("secrets", &"<redacted>")
            .finish()
    }
}

/// Why a profile cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read profile {0}: {1}")]
    Read(String, std::io::Error),
    #[error("profile {0} is not valid TOML for a profile: {1}")]
    Parse(String, toml::de::Error),
    #[error("profile {file}: `{field}` reads the environment variable {var}, which is not set")]
    MissingEnv {
        file: String,
        field: &'static str,
        var: String,
    },
    #[error("profile {file}: {message}")]
    Invalid { file: String, message: String },
}

impl Profile {
    pub fn load(path: &Path, target: Option<&str>) -> Result<Profile, ProfileError> {
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| ProfileError::Read(file.clone(), e))?;
        Profile::parse(&text, &file, target)
    }

    /// Parses `text`; `target` (from `--target`) replaces `base_url`.
    pub fn parse(text: &str, file: &str, target: Option<&str>) -> Result<Profile, ProfileError> {
        let raw: RawProfile =
            toml::from_str(text).map_err(|e| ProfileError::Parse(file.to_owned(), e))?;
        let invalid = |message: String| ProfileError::Invalid {
            file: file.to_owned(),
            message,
        };
        let env =
            |field: &'static str, v: Option<String>| -> Result<Option<String>, ProfileError> {
                match v {
                    Some(v) => match v.strip_prefix("env:") {
                        Some(var) => {
                            std::env::var(var)
                                .map(Some)
                                .map_err(|_| ProfileError::MissingEnv {
                                    file: file.to_owned(),
                                    field,
                                    var: var.to_owned(),
                                })
                        }
                        None => Ok(Some(v)),
                    },
                    None => Ok(None),
                }
            };
        let base = match target {
            Some(t) => t.to_owned(),
            None => env("base_url", raw.base_url.clone())?.ok_or_else(|| {
                invalid("no `base_url` and no --target: where is the gateway?".into())
            })?,
        };
        let base_url = Url::parse(base.trim_end_matches('/'))
            .map_err(|e| invalid(format!("base URL {base:?} is not an absolute URL: {e}")))?;
        if !matches!(base_url.scheme(), "http" | "https") {
            return Err(invalid(format!("base URL {base:?} is not http(s)")));
        }
        let owned_agent = raw.agents.owned.clone();
        if owned_agent.is_empty() {
            return Err(invalid("`agents.owned` is empty".into()));
        }
        let driver = match raw.login.driver.as_deref().unwrap_or("form") {
            "form" => DriverKind::Form,
            "command" => {
                DriverKind::Command(env("login.command", raw.login.command.clone())?.ok_or_else(
                    || invalid("login.driver = \"command\" needs `login.command`".into()),
                )?)
            }
            "interactive" => DriverKind::Interactive {
                port: raw.login.callback_port.unwrap_or(8976),
            },
            other => {
                return Err(invalid(format!(
                    "unknown login.driver {other:?} (form, command or interactive)"
                )));
            }
        };
        let redirect_uri = match (&driver, raw.client.redirect_uri.as_deref()) {
            (DriverKind::Interactive { port }, None) => format!("http://127.0.0.1:{port}/callback"),
            (_, Some(r)) => r.to_owned(),
            (_, None) => "http://127.0.0.1:8976/callback".to_owned(),
        };
        let redirect_uri = Url::parse(&redirect_uri)
            .map_err(|e| invalid(format!("client.redirect_uri {redirect_uri:?}: {e}")))?;
        let clock_hook = match raw.clock.hook.as_deref() {
            Some(h) => Some(
                base_url
                    .join(h)
                    .map_err(|e| invalid(format!("clock.hook {h:?}: {e}")))?,
            ),
            None => None,
        };
        let mcp_url_template = raw
            .agents
            .mcp_url
            .clone()
            .unwrap_or_else(|| "{base_url}/{agent}/mcp".to_owned());
        if !mcp_url_template.contains("{base_url}") && Url::parse(&mcp_url_template).is_err() {
            return Err(invalid(format!(
                "agents.mcp_url {mcp_url_template:?} is neither absolute nor based on {{base_url}}"
            )));
        }
        let profile = Profile {
            name: raw.name.clone().unwrap_or_else(|| file.to_owned()),
            file: file.to_owned(),
            base_url,
            owned_agent,
            other_agent: raw.agents.other.clone(),
            mcp_url_template,
            driver,
            username: env("login.username", raw.login.username.clone())?,
            password: env("login.password", raw.login.password.clone())?,
            username_field: raw.login.username_field.clone(),
            password_field: raw.login.password_field.clone(),
            approve_button: raw.login.approve_button.clone(),
            deny_button: raw.login.deny_button.clone(),
            agent_key: env("keys.agent_key", raw.keys.agent_key.clone())?,
            other_agent_key: env("keys.other_agent_key", raw.keys.other_agent_key.clone())?,
            user_key: env("keys.user_key", raw.keys.user_key.clone())?,
            other_user_key: env("keys.other_user_key", raw.keys.other_user_key.clone())?,
            hs256_secret: env("tokens.hs256_secret", raw.tokens.hs256_secret.clone())?,
            exp_leeway_seconds: raw.tokens.exp_leeway_seconds.unwrap_or(60),
            clock_hook,
            redirect_uri,
            guide_group: raw.groups.guide.unwrap_or(true),
        };
        profile.mcp_url(&profile.owned_agent).map_err(invalid)?;
        Ok(profile)
    }

    /// The MCP URL of `agent`, from the profile's template.
    pub fn mcp_url(&self, agent: &str) -> Result<Url, String> {
        let base = self.base_url.as_str().trim_end_matches('/');
        let text = self
            .mcp_url_template
            .replace("{base_url}", base)
            .replace("{agent}", agent);
        Url::parse(&text).map_err(|e| format!("MCP URL {text:?} for agent {agent:?}: {e}"))
    }

    /// Every secret the profile holds, for the redactor.
    pub fn secrets(&self) -> Vec<&str> {
        [
            &self.password,
            &self.agent_key,
            &self.other_agent_key,
            &self.user_key,
            &self.other_user_key,
            &self.hs256_secret,
        ]
        .into_iter()
        .filter_map(|s| s.as_deref())
        .collect()
    }

    /// Whether the profile satisfies `@needs:<name>`; `Err` for an unknown name (a suite bug).
    pub fn has(&self, need: &str) -> Result<bool, String> {
        Ok(match need {
            "agent_key" => self.agent_key.is_some(),
            "other_agent_key" => self.other_agent_key.is_some(),
            "user_key" => self.user_key.is_some(),
            "other_user_key" => self.other_user_key.is_some(),
            "other_agent" => self.other_agent.is_some(),
            "hs256_secret" => self.hs256_secret.is_some(),
            "login" => match self.driver {
                DriverKind::Form => self.username.is_some() && self.password.is_some(),
                _ => true,
            },
            // The form driver can press a deny button; the others cannot be told to.
            "deny" => self.driver == DriverKind::Form,
            other => return Err(format!("unknown prerequisite @needs:{other}")),
        })
    }

    /// What to write in the profile to satisfy `need`, for NOT-TESTABLE reasons.
    pub fn how_to_provide(need: &str) -> &'static str {
        match need {
            "agent_key" => "set keys.agent_key (a bak_ key of agents.owned)",
            "other_agent_key" => "set keys.other_agent_key (a bak_ key of another agent)",
            "user_key" => "set keys.user_key (an oag_ key of the test user)",
            "other_user_key" => "set keys.other_user_key (an oag_ key of another user)",
            "other_agent" => "set agents.other (an agent the test user does not own)",
            "hs256_secret" => {
                "set tokens.hs256_secret (the gateway's signing secret; test gateways only)"
            }
            "login" => "set login.username and login.password",
            "deny" => "use the form login driver, which can press the deny button",
            "time" => "set clock.hook (reference: --test-clock) or run with --slow",
            _ => "see the README's profile section",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [agents]
        owned = "a1"
    "#;

    #[test]
    fn defaults_and_target_override() {
        let p = Profile::parse(MINIMAL, "p.toml", Some("http://127.0.0.1:9/")).unwrap();
        assert_eq!(
            p.mcp_url("a1").unwrap().as_str(),
            "http://127.0.0.1:9/a1/mcp"
        );
        assert_eq!(p.driver, DriverKind::Form);
        assert_eq!(p.redirect_uri.as_str(), "http://127.0.0.1:8976/callback");
        assert!(p.guide_group);
        assert_eq!(p.has("agent_key"), Ok(false));
        assert!(p.has("nonsense").is_err());
    }

    #[test]
    fn custom_layout_like_the_typescript_sdk_example() {
        let text = r#"
            base_url = "http://localhost:3000"
            [agents]
            owned = "default"
            mcp_url = "{base_url}/mcp"
            [groups]
            guide = false
        "#;
        let p = Profile::parse(text, "p.toml", None).unwrap();
        assert_eq!(
            p.mcp_url("default").unwrap().as_str(),
            "http://localhost:3000/mcp"
        );
        assert!(!p.guide_group);
    }

    #[test]
    fn env_indirection_and_errors() {
        let text = r#"
            base_url = "http://127.0.0.1:1"
            [agents]
            owned = "a1"
            [login]
            password = "env:MCP_CONFORMANCE_TEST_SURELY_UNSET_VAR"
        "#;
        let err = Profile::parse(text, "p.toml", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("MCP_CONFORMANCE_TEST_SURELY_UNSET_VAR"),
            "{err}"
        );
        let err = Profile::parse(MINIMAL, "p.toml", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("base_url"), "{err}");
        let err =
            Profile::parse("[agents]\nowned='a'\nbogus=1", "p.toml", Some("http://x")).unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
    }

    #[test]
    fn debug_hides_secrets() {
        let text = r#"
            [agents]
            owned = "a1"
            [login]
            password = "hunter2-password"
            [keys]
            agent_key = "bak_secretsecret"
        "#;
        let p = Profile::parse(text, "p.toml", Some("http://127.0.0.1:1")).unwrap();
        let dbg = format!("{p:?}");
        assert!(!dbg.contains("hunter2") && !dbg.contains("bak_"), "{dbg}");
    }
}
