//! [`GatewayWorld`]: one scenario's state, and the client flows steps are made of.
//!
//! A World is built fresh for every scenario (cucumber-rs). It holds what the scenario has done so
//! far: every HTTP exchange (the evidence), the last one (what `Then` steps look at), the
//! registered client, the PKCE pair, the authorization outcome and tokens. The flows below are
//! those of an honest MCP client (TypeScript and Python SDKs): every endpoint comes from
//! discovery ([`crate::discovery`]), `resource` is the PRM `resource`, `scope` follows the MCP
//! scope selection strategy. Negative steps start from these and change exactly one thing.
//!
//! Every secret a flow learns (codes, tokens, verifiers) is registered with the redactor the
//! moment it is seen, so no report can print it; `Debug` prints no secrets either.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::OwnedRwLockReadGuard;
use tokio::sync::OwnedRwLockWriteGuard;
use url::Url;

use crate::context::{self, Context};
use crate::discovery;
use crate::http::{Exchange, Request, Response};
use crate::login::{AuthorizationOutcome, LoginAction};
use crate::pkce::{self, Pkce};

/// What steps return: `Err` carries the reason, which becomes the check's reason.
pub type StepResult = Result<(), String>;

/// A registered client as the registration response described it.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    pub client_id: String,
    pub redirect_uri: Url,
    pub response: Value,
}

/// A successful token response.
#[derive(Clone)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: Option<String>,
    pub expires_in: Option<i64>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub json: Value,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Which agent a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agent {
    /// `agents.owned`: the test user's agent.
    Owned,
    /// `agents.other`: an agent the test user does not own.
    Other,
}

/// The guard of the context's time gate held for the whole scenario.
pub enum Gate {
    Shared(#[allow(dead_code)] OwnedRwLockReadGuard<()>),
    Exclusive(#[allow(dead_code)] OwnedRwLockWriteGuard<()>),
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Gate::Shared(_) => "Gate::Shared",
            Gate::Exclusive(_) => "Gate::Exclusive",
        })
    }
}

#[derive(cucumber::World)]
#[world(init = Self::new)]
pub struct GatewayWorld {
    pub ctx: Arc<Context>,
    /// Every exchange of the scenario, in order.
    pub evidence: Vec<Exchange>,
    /// The exchange `Then` steps look at.
    pub last: Option<Exchange>,
    pub client: Option<ClientInfo>,
    pub pkce: Option<Pkce>,
    /// The `state` of the last authorization request.
    pub state: Option<String>,
    /// The parameters of the last authorization request.
    pub authorization_params: Vec<(String, String)>,
    pub outcome: Option<AuthorizationOutcome>,
    pub tokens: Option<Tokens>,
    /// Named values a scenario keeps for later steps (e.g. "the first access token").
    pub saved: BTreeMap<String, String>,
    pub gate: Option<Gate>,
    /// When the World was made, i.e. when the scenario started.
    pub started: std::time::Instant,
}

impl std::fmt::Debug for GatewayWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayWorld")
            .field("target", &self.ctx.discovered.mcp_url.as_str())
            .field(
                "exchanges",
                &self.evidence.iter().map(Exchange::line).collect::<Vec<_>>(),
            )
            .field("client_id", &self.client.as_ref().map(|c| &c.client_id))
            .field("pkce", &self.pkce)
            .field(
                "outcome",
                &self.outcome.as_ref().map(AuthorizationOutcome::describe),
            )
            .field("tokens", &self.tokens)
            .field("saved", &self.saved.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl GatewayWorld {
    fn new() -> anyhow::Result<GatewayWorld> {
        let ctx = context::current()
            .ok_or_else(|| anyhow::anyhow!("internal: no run context installed"))?;
        Ok(GatewayWorld::with_context(ctx))
    }

    /// A fresh World on `ctx` (the PKCE properties make one per case).
    pub fn with_context(ctx: Arc<Context>) -> GatewayWorld {
        GatewayWorld {
            ctx,
            evidence: Vec::new(),
            last: None,
            client: None,
            pkce: None,
            state: None,
            authorization_params: Vec::new(),
            outcome: None,
            tokens: None,
            saved: BTreeMap::new(),
            gate: None,
            started: std::time::Instant::now(),
        }
    }

    // ---- HTTP -------------------------------------------------------------------------------

    /// Sends `req`, records the exchange as evidence and as `last`, and registers any secret in
    /// the response with the redactor.
    pub async fn send(&mut self, req: Request) -> &Exchange {
        let exchange = self.ctx.http.send(req).await;
        self.observe(&exchange);
        self.evidence.push(exchange.clone());
        self.last.insert(exchange)
    }

    /// Registers the secrets an exchange carries (codes in `Location`, tokens in JSON).
    pub fn observe(&self, exchange: &Exchange) {
        let r = &self.ctx.redactor;
        if let Some(auth) = exchange.request.header("authorization")
            && let Some((_, credential)) = auth.split_once(' ')
        {
            r.register(credential.trim());
        }
        if let Some(resp) = &exchange.response {
            if let Some(loc) = exchange.location() {
                for (n, v) in loc.query_pairs() {
                    if n == "code" {
                        r.register(&v);
                    }
                }
            }
            if let Some(json) = resp.json() {
                for name in ["access_token", "refresh_token", "id_token", "client_secret"] {
                    if let Some(v) = json.get(name).and_then(Value::as_str) {
                        r.register(v);
                    }
                }
            }
        }
    }

    /// The last exchange's response, or why there is none.
    pub fn last_response(&self) -> Result<&Response, String> {
        self.last
            .as_ref()
            .ok_or("internal: no request was made before this step")?
            .response()
    }

    /// The last exchange.
    pub fn last_exchange(&self) -> Result<&Exchange, String> {
        self.last
            .as_ref()
            .ok_or_else(|| "internal: no request was made before this step".to_owned())
    }

    /// The last response's JSON body, or why it is not JSON.
    pub fn last_json(&self) -> Result<Value, String> {
        let ex = self.last_exchange()?;
        let resp = ex.response()?;
        resp.json().ok_or_else(|| {
            format!(
                "{}: body is not JSON ({:?})",
                ex.line(),
                resp.body.chars().take(120).collect::<String>()
            )
        })
    }

    // ---- Agents and credentials ------------------------------------------------------------

    pub fn agent_id(&self, agent: Agent) -> Result<String, String> {
        match agent {
            Agent::Owned => Ok(self.ctx.profile.owned_agent.clone()),
            Agent::Other => self
                .ctx
                .profile
                .other_agent
                .clone()
                .ok_or_else(|| "the profile names no other agent (agents.other)".to_owned()),
        }
    }

    /// The MCP URL of `agent` (from the profile's layout).
    pub fn mcp_url(&self, agent: Agent) -> Result<Url, String> {
        self.ctx.profile.mcp_url(&self.agent_id(agent)?)
    }

    /// A profile credential by its profile name (`agent_key`, `user_key`, …).
    pub fn profile_key(&self, name: &str) -> Result<String, String> {
        let p = &self.ctx.profile;
        let v = match name {
            "agent_key" => &p.agent_key,
            "other_agent_key" => &p.other_agent_key,
            "user_key" => &p.user_key,
            "other_user_key" => &p.other_user_key,
            other => return Err(format!("internal: unknown profile key {other:?}")),
        };
        v.clone()
            .ok_or_else(|| format!("the profile has no keys.{name}"))
    }

    /// POSTs JSON-RPC `body` to `agent`'s MCP endpoint with `bearer` (none: no `Authorization`).
    pub async fn mcp_call(
        &mut self,
        agent: Agent,
        bearer: Option<&str>,
        body: &Value,
    ) -> Result<&Exchange, String> {
        let url = self.mcp_url(agent)?;
        let mut req = discovery::mcp_request(url.as_str(), body);
        if let Some(b) = bearer {
            req = req.bearer(b);
        }
        Ok(self.send(req).await)
    }

    /// `tools/list`, the simplest authenticated MCP request.
    pub fn tools_list() -> Value {
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
    }

    // ---- Registration ----------------------------------------------------------------------

    /// The metadata an MCP client registers with (public client, loopback `redirect_uri`).
    pub fn client_metadata(&self) -> Value {
        let refresh = self
            .ctx
            .discovered
            .has_capability("refresh")
            .unwrap_or(false);
        let mut grants = vec!["authorization_code"];
        if refresh {
            grants.push("refresh_token");
        }
        json!({
            "client_name": "mcp-conformance",
            "redirect_uris": [self.ctx.profile.redirect_uri.as_str()],
            "grant_types": grants,
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        })
    }

    /// POSTs `metadata` to the discovered `registration_endpoint`.
    pub async fn register(&mut self, metadata: &Value) -> Result<&Exchange, String> {
        let endpoint = self.ctx.discovered.endpoint("registration_endpoint")?;
        Ok(self
            .send(Request::post(endpoint.as_str()).json(metadata))
            .await)
    }

    /// Registers a new client with [`Self::client_metadata`] and makes it the scenario's client.
    pub async fn register_client(&mut self) -> Result<ClientInfo, String> {
        let metadata = self.client_metadata();
        let ex = self.register(&metadata).await?.clone();
        let resp = ex.response()?;
        if resp.status == 429 {
            return Err(format!(
                "{}the registration endpoint rate-limits this run ({}); raise its limit for the test client's address, or run fewer scenarios (--area)",
                crate::steps::NOT_TESTABLE,
                ex.line()
            ));
        }
        if !(200..300).contains(&resp.status) {
            return Err(format!(
                "client registration failed: {} {}",
                ex.line(),
                resp.body.chars().take(200).collect::<String>()
            ));
        }
        let json = resp
            .json()
            .ok_or_else(|| format!("{}: registration response is not JSON", ex.line()))?;
        let client_id = json
            .get("client_id")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{}: registration response has no client_id", ex.line()))?
            .to_owned();
        let info = ClientInfo {
            client_id,
            redirect_uri: self.ctx.profile.redirect_uri.clone(),
            response: json,
        };
        self.client = Some(info.clone());
        Ok(info)
    }

    /// The scenario's client: the run's shared client (see [`Context::shared_client`]) unless
    /// the scenario registered its own.
    pub async fn ensure_client(&mut self) -> Result<ClientInfo, String> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let ctx = self.ctx.clone();
        let shared = ctx
            .shared_client
            .get_or_try_init(|| self.register_client())
            .await?
            .clone();
        self.client = Some(shared.clone());
        Ok(shared)
    }

    // ---- Authorization ---------------------------------------------------------------------

    /// The parameters of a correct authorization request for `agent`, with a fresh PKCE pair and
    /// `state` (kept in the World). Negative steps edit the result with [`set_param`].
    pub async fn authorization_request(
        &mut self,
        agent: Agent,
    ) -> Result<Vec<(String, String)>, String> {
        let client = self.ensure_client().await?;
        let pkce = Pkce::generate();
        let state = pkce::random_string(24, pkce::UNRESERVED);
        self.ctx.redactor.register(&pkce.verifier);
        let mut params = vec![
            ("response_type".to_owned(), "code".to_owned()),
            ("client_id".to_owned(), client.client_id.clone()),
            ("redirect_uri".to_owned(), client.redirect_uri.to_string()),
            ("code_challenge".to_owned(), pkce.challenge.clone()),
            ("code_challenge_method".to_owned(), "S256".to_owned()),
            ("state".to_owned(), state.clone()),
        ];
        if let Some(scope) = self.ctx.discovered.scope() {
            params.push(("scope".to_owned(), scope));
        }
        if let Some(resource) = self.resource_for(agent).await? {
            params.push(("resource".to_owned(), resource));
        }
        self.pkce = Some(pkce);
        self.state = Some(state);
        Ok(params)
    }

    /// The RFC 8707 `resource` a client sends for `agent`: the `resource` of the agent's
    /// protected resource metadata (found the way discovery finds it).
    pub async fn resource_for(&mut self, agent: Agent) -> Result<Option<String>, String> {
        if agent == Agent::Owned {
            return Ok(self.ctx.discovered.resource());
        }
        let mcp = self.mcp_url(agent)?;
        let ex = self
            .send(Request::get(discovery::prm_well_known(&mcp).as_str()))
            .await;
        Ok(ex
            .response
            .as_ref()
            .filter(|r| r.status == 200)
            .and_then(Response::json)
            .and_then(|j| j.get("resource").and_then(Value::as_str).map(str::to_owned))
            .or_else(|| Some(mcp.to_string())))
    }

    /// Sends the user agent to the authorization endpoint with `params` and lets the login
    /// driver act; keeps and returns the outcome.
    pub async fn authorize(
        &mut self,
        params: Vec<(String, String)>,
        action: LoginAction,
    ) -> Result<AuthorizationOutcome, String> {
        let mut url = self.ctx.discovered.endpoint("authorization_endpoint")?;
        {
            let mut q = url.query_pairs_mut();
            for (n, v) in &params {
                q.append_pair(n, v);
            }
        }
        let redirect_uri = self.ctx.profile.redirect_uri.clone();
        let result = self.drive_login(&url, &redirect_uri, action).await;
        self.authorization_params = params;
        let outcome = result?;
        if let Some(code) = outcome.code() {
            self.ctx.redactor.register(code);
        }
        self.outcome = Some(outcome.clone());
        Ok(outcome)
    }

    /// Runs the login driver from `url` until a redirect to `stop` or a page it stops at, and
    /// records its exchanges as if the World had sent them.
    pub async fn drive_login(
        &mut self,
        url: &Url,
        stop: &Url,
        action: LoginAction,
    ) -> Result<AuthorizationOutcome, String> {
        let ctx = self.ctx.clone();
        let mut exchanges = Vec::new();
        let result = ctx
            .driver
            .authorize(&ctx.http, url, stop, action, &mut exchanges)
            .await;
        self.record(exchanges);
        result.map_err(|e| crate::login::step_error(ctx.profile.driver.name(), &e))
    }

    /// Adds exchanges made outside [`Self::send`] (by a login driver) to the evidence, as `last`,
    /// and to the redactor.
    pub fn record(&mut self, exchanges: Vec<Exchange>) {
        for ex in &exchanges {
            self.observe(ex);
        }
        if let Some(last) = exchanges.last() {
            self.last = Some(last.clone());
        }
        self.evidence.extend(exchanges);
    }

    /// A fresh authorization code for `agent` from a correct request the user approves.
    pub async fn obtain_code(&mut self, agent: Agent) -> Result<String, String> {
        let params = self.authorization_request(agent).await?;
        let outcome = self.authorize(params, LoginAction::Approve).await?;
        match outcome.code() {
            Some(code) => Ok(code.to_owned()),
            None => Err(format!(
                "a correct authorization request did not yield a code: {}",
                outcome.describe()
            )),
        }
    }

    // ---- Token endpoint --------------------------------------------------------------------

    /// The token request an honest client sends to redeem `code` (OAuth 2.1 §4.1.3).
    pub fn code_redemption(&self, code: &str) -> Result<Vec<(String, String)>, String> {
        let client = self
            .client
            .as_ref()
            .ok_or("internal: no client registered")?;
        let pkce = self.pkce.as_ref().ok_or("internal: no PKCE verifier")?;
        let mut params = vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), code.to_owned()),
            ("redirect_uri".to_owned(), client.redirect_uri.to_string()),
            ("client_id".to_owned(), client.client_id.clone()),
            ("code_verifier".to_owned(), pkce.verifier.clone()),
        ];
        if let Some((_, r)) = self
            .authorization_params
            .iter()
            .find(|(n, _)| n == "resource")
        {
            params.push(("resource".to_owned(), r.clone()));
        }
        Ok(params)
    }

    /// POSTs `params` (form-encoded) to the discovered `token_endpoint`.
    pub async fn token_request(
        &mut self,
        params: &[(String, String)],
    ) -> Result<&Exchange, String> {
        let endpoint = self.ctx.discovered.endpoint("token_endpoint")?;
        Ok(self
            .send(Request::post(endpoint.as_str()).form(params))
            .await)
    }

    /// Parses the last exchange as a successful token response and keeps it.
    pub fn take_tokens(&mut self) -> Result<Tokens, String> {
        let ex = self.last_exchange()?.clone();
        let resp = ex.response()?;
        if resp.status == 429 {
            // The target's rate limit, not a refusal: the check that needed a token cannot run.
            return Err(format!(
                "{}the token endpoint rate-limits this run ({}); raise its limit for the test client's address, or run fewer scenarios (--area)",
                crate::steps::NOT_TESTABLE,
                ex.line()
            ));
        }
        if resp.status != 200 {
            return Err(format!(
                "token request failed: {} {}",
                ex.line(),
                resp.body.chars().take(200).collect::<String>()
            ));
        }
        let json = resp
            .json()
            .ok_or_else(|| format!("{}: token response is not JSON", ex.line()))?;
        let access_token = json
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{}: token response has no access_token", ex.line()))?
            .to_owned();
        let tokens = Tokens {
            access_token,
            token_type: json
                .get("token_type")
                .and_then(Value::as_str)
                .map(str::to_owned),
            expires_in: json.get("expires_in").and_then(Value::as_i64),
            refresh_token: json
                .get("refresh_token")
                .and_then(Value::as_str)
                .map(str::to_owned),
            scope: json.get("scope").and_then(Value::as_str).map(str::to_owned),
            json,
        };
        self.tokens = Some(tokens.clone());
        Ok(tokens)
    }

    /// The whole honest flow for `agent`: register, authorize, log in, redeem. Keeps the tokens.
    pub async fn obtain_tokens(&mut self, agent: Agent) -> Result<Tokens, String> {
        let code = self.obtain_code(agent).await?;
        let params = self.code_redemption(&code)?;
        self.token_request(&params).await?;
        self.take_tokens()
    }

    /// The access token of the scenario, obtaining one for the owned agent if needed.
    pub async fn access_token(&mut self) -> Result<String, String> {
        match &self.tokens {
            Some(t) => Ok(t.access_token.clone()),
            None => Ok(self.obtain_tokens(Agent::Owned).await?.access_token),
        }
    }
}

/// Sets parameter `name` to `value` (replacing every occurrence), or removes it for `None`.
pub fn set_param(params: &mut Vec<(String, String)>, name: &str, value: Option<&str>) {
    let pos = params.iter().position(|(n, _)| n == name);
    params.retain(|(n, _)| n != name);
    if let Some(v) = value {
        let at = pos.unwrap_or(params.len()).min(params.len());
        params.insert(at, (name.to_owned(), v.to_owned()));
    }
}

/// The value of parameter `name`.
pub fn get_param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_param_replaces_in_place_and_removes() {
        let mut p = vec![
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ];
        set_param(&mut p, "a", Some("x"));
        assert_eq!(p[0], ("a".to_owned(), "x".to_owned()));
        set_param(&mut p, "c", Some("3"));
        assert_eq!(p.len(), 3);
        set_param(&mut p, "b", None);
        assert_eq!(get_param(&p, "b"), None);
        assert_eq!(get_param(&p, "c"), Some("3"));
    }
}
