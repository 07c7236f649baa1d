//! Steps of `features/bearer.feature`: credentials at the MCP endpoint (RFC 6750 §2.1, §3, §3.1;
//! MCP authorization "Token Requirements", "Token Handling"; the guide's `bak_`/`oag_` keys) and
//! the challenge of every refusal (RFC 9110 §11.6.1, RFC 9728 §5.1).
//!
//! The steps name credentials in words ([`authorization_for`]): "no credentials", "the access
//! token", "the agent key", "an unknown user key", … Every probe is an MCP `initialize`, the one
//! request any MCP server answers without a session. Forged tokens ([`forge`]) differ from the
//! scenario's genuine access token in exactly one respect, so each refusal has one reason; those
//! signed with the profile's `tokens.hs256_secret` are preceded by a control (the unchanged
//! claims, re-signed, must be accepted), or the check is NOT-TESTABLE rather than passing for the
//! wrong reason.

use cucumber::{then, when};
use serde_json::{Value, json};

use super::http::brief;
use super::mcp_endpoint::{carries_jsonrpc_result, jsonrpc_response, post_mcp};
use super::{NOT_APPLICABLE, NOT_TESTABLE};
use crate::discovery;
use crate::jwt::{self, Decoded};
use crate::pkce::random_string;
use crate::world::{Agent, GatewayWorld, StepResult};
use crate::www_authenticate::{self, Challenge};

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `owned` or `other`, as the feature files say.
pub(crate) fn agent(word: &str) -> Result<Agent, String> {
    match word {
        "owned" => Ok(Agent::Owned),
        "other" => Ok(Agent::Other),
        other => Err(format!(
            "internal: unknown agent {other:?} (owned or other)"
        )),
    }
}

/// The `Authorization` values (one header each) of a credential named in a feature file.
pub(crate) async fn authorization_for(
    w: &mut GatewayWorld,
    credential: &str,
) -> Result<Vec<String>, String> {
    let bearer = |t: String| vec![format!("Bearer {t}")];
    let key = |w: &GatewayWorld, name: &str| {
        w.profile_key(name)
            .map_err(|e| format!("{NOT_TESTABLE}{e}"))
    };
    Ok(match credential {
        "no credentials" => Vec::new(),
        "the access token" => bearer(w.access_token().await?),
        "the agent key" => bearer(key(w, "agent_key")?),
        "the other agent's key" => bearer(key(w, "other_agent_key")?),
        "the user key" => bearer(key(w, "user_key")?),
        "the other user's key" => bearer(key(w, "other_user_key")?),
        // Well-formed token68 values the gateway cannot know.
        "a malformed token" => bearer(format!(
            "conformance-not-a-token-{}",
            random_string(24, ALNUM)
        )),
        "an unknown agent key" => bearer(format!("bak_{}", random_string(32, ALNUM))),
        "an unknown user key" => bearer(format!("oag_{}", random_string(32, ALNUM))),
        // Broken requests (RFC 6750 §3.1 `invalid_request`).
        "an empty Bearer credential" => vec!["Bearer".to_owned()],
        "two Authorization headers" => vec![
            format!("Bearer conformance-{}", random_string(24, ALNUM)),
            format!("Bearer conformance-{}", random_string(24, ALNUM)),
        ],
        other => return Err(format!("internal: unknown credential {other:?}")),
    })
}

/// An `initialize` to `agent`'s MCP endpoint with the given `Authorization` values.
async fn probe(w: &mut GatewayWorld, agent: Agent, authorization: &[String]) -> StepResult {
    let url = w.mcp_url(agent)?;
    post_mcp(w, &url, authorization, &discovery::initialize_body(), &[]).await;
    Ok(())
}

/// The first challenge of the last response's `WWW-Authenticate`, which must be `Bearer`.
pub(crate) fn bearer_challenge(w: &GatewayWorld) -> Result<Challenge, String> {
    let ex = w.last_exchange()?;
    let value = ex
        .response()?
        .header("www-authenticate")
        .ok_or_else(|| format!("{} has no WWW-Authenticate", ex.line()))?;
    let challenges = www_authenticate::parse(value)
        .map_err(|e| format!("WWW-Authenticate {value:?} does not parse: {e}"))?;
    match challenges.into_iter().next() {
        Some(c) if c.is_bearer() => Ok(c),
        Some(c) => Err(format!(
            "the first challenge of {value:?} is {:?}, not Bearer (the TypeScript SDK reads only the first)",
            c.scheme
        )),
        None => Err(format!("WWW-Authenticate {value:?} holds no challenge")),
    }
}

/// The last MCP request was refused with one of `statuses`, processed nothing (no JSON-RPC
/// `result`), and, if 401, challenged with Bearer first (BEARER-03).
pub(crate) fn expect_refused(w: &GatewayWorld, statuses: &[u16], requirement: &str) -> StepResult {
    let prefix = if requirement.is_empty() {
        String::new()
    } else {
        format!("{requirement}: ")
    };
    let ex = w.last_exchange()?;
    let resp = ex.response()?;
    if !statuses.contains(&resp.status) {
        let list: Vec<String> = statuses.iter().map(u16::to_string).collect();
        return Err(format!(
            "{prefix}expected the MCP request to be refused with {}, got {}: {}",
            list.join(" or "),
            ex.line(),
            brief(&resp.body)
        ));
    }
    if carries_jsonrpc_result(resp) {
        return Err(format!(
            "{prefix}{} refused the request but still carries a JSON-RPC result: {}",
            ex.line(),
            brief(&resp.body)
        ));
    }
    if resp.status == 401 {
        bearer_challenge(w).map_err(|e| format!("BEARER-03: {e}"))?;
    }
    Ok(())
}

/// A forgery of the scenario's access token that differs from it in one respect only.
async fn forge(w: &mut GatewayWorld, forgery: &str) -> Result<String, String> {
    let token = w.access_token().await?;
    let decoded = jwt::decode_unverified(&token).map_err(|e| {
        format!("{NOT_TESTABLE}the access token is not a JWT ({e}); forged tokens need one")
    })?;
    let mut claims = decoded.claims.clone();
    match forgery {
        "with a tampered signature" => return Ok(jwt::tamper_signature(&token)),
        "re-encoded with alg none" => return Ok(jwt::unsigned(&decoded.claims)),
        "issued by another issuer" => claims["iss"] = json!("https://issuer.invalid"),
        "for another audience" => claims["aud"] = json!("https://audience.invalid/mcp"),
        "after it expired" => {
            let now = i64::try_from(w.ctx.now().await).unwrap_or(i64::MAX);
            let leeway = i64::try_from(w.ctx.profile.exp_leeway_seconds).unwrap_or(0);
            let lifetime = match (decoded.claim_i64("exp"), decoded.claim_i64("iat")) {
                (Some(exp), Some(iat)) if exp > iat => exp - iat,
                _ => 3600,
            };
            let exp = now - leeway - 120;
            claims["exp"] = json!(exp);
            claims["iat"] = json!(exp - lifetime);
            if claims.get("nbf").is_some() {
                claims["nbf"] = json!(exp - lifetime);
            }
        }
        other => return Err(format!("internal: unknown forgery {other:?}")),
    }
    resign(w, &decoded, &claims).await
}

/// `claims` signed with the profile's HS256 secret, once a control showed that the secret signs
/// tokens the gateway accepts: the unchanged claims, re-signed, must open the owned agent.
async fn resign(w: &mut GatewayWorld, decoded: &Decoded, claims: &Value) -> Result<String, String> {
    let secret = w.ctx.profile.hs256_secret.clone().ok_or_else(|| {
        format!("{NOT_TESTABLE}the profile has no tokens.hs256_secret to sign test tokens with")
    })?;
    let typ = decoded.header.get("typ").and_then(Value::as_str);
    let control = jwt::sign_hs256(&secret, typ, &decoded.claims)?;
    w.ctx.redactor.register(&control);
    probe(w, Agent::Owned, &[format!("Bearer {control}")]).await?;
    if let Err(e) = jsonrpc_response(w, true) {
        return Err(format!(
            "{NOT_TESTABLE}the unchanged access token re-signed with tokens.hs256_secret is refused ({e}), so the secret is not the gateway's and forged tokens would prove nothing"
        ));
    }
    let forged = jwt::sign_hs256(&secret, typ, claims)?;
    w.ctx.redactor.register(&forged);
    Ok(forged)
}

// ---- When ----------------------------------------------------------------------------------

#[when(expr = "the MCP request to the {word} agent carries {string}")]
async fn request_with(w: &mut GatewayWorld, to: String, credential: String) -> StepResult {
    let authorization = authorization_for(w, &credential).await?;
    probe(w, agent(&to)?, &authorization).await
}

#[when(
    expr = "the MCP request to the owned agent carries the access token under the scheme {string}"
)]
async fn request_with_scheme(w: &mut GatewayWorld, scheme: String) -> StepResult {
    let token = w.access_token().await?;
    probe(w, Agent::Owned, &[format!("{scheme} {token}")]).await
}

/// BEARER-02: the token where RFC 6750 §2.3 would put it, and nowhere else.
#[when(
    "the MCP request to the owned agent carries the access token only in the query parameter access_token"
)]
async fn request_with_query_token(w: &mut GatewayWorld) -> StepResult {
    let token = w.access_token().await?;
    let mut url = w.mcp_url(Agent::Owned)?;
    url.query_pairs_mut().append_pair("access_token", &token);
    post_mcp(w, &url, &[], &discovery::initialize_body(), &[]).await;
    Ok(())
}

/// BEARER-09: two methods at once (RFC 6750 §3.1 `invalid_request`).
#[when(
    "the MCP request to the owned agent carries the access token both in the Authorization header and in the query"
)]
async fn request_with_two_methods(w: &mut GatewayWorld) -> StepResult {
    let token = w.access_token().await?;
    let mut url = w.mcp_url(Agent::Owned)?;
    url.query_pairs_mut().append_pair("access_token", &token);
    let body = discovery::initialize_body();
    post_mcp(w, &url, &[format!("Bearer {token}")], &body, &[]).await;
    Ok(())
}

#[when(expr = "the MCP request to the owned agent carries a forgery of the access token {string}")]
async fn request_with_forgery(w: &mut GatewayWorld, forgery: String) -> StepResult {
    let forged = forge(w, &forgery).await?;
    probe(w, Agent::Owned, &[format!("Bearer {forged}")]).await
}

/// BEARER-08: a genuine token but for its scope, which the gateway does not know.
#[when(
    expr = "the MCP request to the owned agent carries the access token re-signed with the scope {string}"
)]
async fn request_with_scope(w: &mut GatewayWorld, scope: String) -> StepResult {
    if w.ctx.discovered.scope().is_none() {
        return Err(format!(
            "{NOT_APPLICABLE}the gateway names no scope (no challenge scope, no scopes_supported), so no token can lack one"
        ));
    }
    let token = w.access_token().await?;
    let decoded = jwt::decode_unverified(&token).map_err(|e| {
        format!("{NOT_TESTABLE}the access token is not a JWT ({e}); forged tokens need one")
    })?;
    if !decoded.claims.get("scope").is_some_and(Value::is_string) {
        return Err(format!(
            "{NOT_TESTABLE}the access token has no `scope` claim (RFC 9068 §2.2.3) to change"
        ));
    }
    let mut claims = decoded.claims.clone();
    claims["scope"] = json!(scope);
    let forged = resign(w, &decoded, &claims).await?;
    probe(w, Agent::Owned, &[format!("Bearer {forged}")]).await
}

// ---- Then ----------------------------------------------------------------------------------

#[then("the MCP request is accepted")]
async fn accepted(w: &mut GatewayWorld) -> StepResult {
    jsonrpc_response(w, true)
        .map(|_| ())
        .map_err(|e| format!("expected the credential to be accepted: {e}"))
}

#[then(expr = "the MCP request is refused with status {string}")]
async fn refused(w: &mut GatewayWorld, statuses: String) -> StepResult {
    expect_refused(w, &super::http::parse_statuses(&statuses)?, "")
}

/// RFC 6750 §3.1: "If the request lacks any authentication information …, the resource server
/// SHOULD NOT include an error code".
#[then("the Bearer challenge has no error attribute")]
async fn no_error(w: &mut GatewayWorld) -> StepResult {
    let c = bearer_challenge(w).map_err(|e| format!("BEARER-05: {e}"))?;
    match c.param("error") {
        None => Ok(()),
        Some(e) => Err(format!(
            "BEARER-05: a request without credentials got error={e:?} in its challenge"
        )),
    }
}

#[then(expr = "the Bearer challenge has the error {string}")]
async fn has_error(w: &mut GatewayWorld, error: String) -> StepResult {
    let c = bearer_challenge(w)?;
    match c.param("error") {
        Some(e) if e == error => Ok(()),
        other => Err(format!(
            "expected error={error:?} in the Bearer challenge, got {other:?} ({})",
            w.last_exchange()?.line()
        )),
    }
}

/// RFC 6750 §3: "The \"scope\" attribute MUST NOT appear more than once" (so `realm`, `error`).
#[then("the Bearer challenge has each of realm, scope and error at most once")]
async fn at_most_once(w: &mut GatewayWorld) -> StepResult {
    let c = bearer_challenge(w).map_err(|e| format!("BEARER-05: {e}"))?;
    let repeated: Vec<&str> = ["realm", "scope", "error"]
        .into_iter()
        .filter(|n| c.count(n) > 1)
        .collect();
    if repeated.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "BEARER-05: the Bearer challenge repeats {}",
            repeated.join(", ")
        ))
    }
}

/// MCP "Scope Selection Strategy": the challenge's `scope` is what clients request.
#[then("the Bearer challenge names scopes the protected resource metadata lists")]
async fn names_scope(w: &mut GatewayWorld) -> StepResult {
    let supported: Vec<String> = w
        .ctx
        .discovered
        .prm
        .as_ref()
        .and_then(|p| p.get("scopes_supported"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if supported.is_empty() {
        return Err(format!(
            "{NOT_APPLICABLE}the protected resource metadata lists no scopes_supported"
        ));
    }
    let c = bearer_challenge(w).map_err(|e| format!("BEARER-07: {e}"))?;
    let scope = c.param("scope").ok_or_else(|| {
        format!(
            "BEARER-07: the gateway defines scopes {supported:?}, but the 401 challenge names none"
        )
    })?;
    match scope.split(' ').find(|s| !supported.iter().any(|x| x == s)) {
        Some(unknown) => Err(format!(
            "BEARER-07: the challenge's scope {unknown:?} is not in scopes_supported {supported:?}"
        )),
        None => Ok(()),
    }
}

/// MCP "Runtime Insufficient Scope Errors": `scope` and `resource_metadata` let the client step up.
#[then("the Bearer challenge names the needed scope and the resource_metadata")]
async fn names_needed_scope(w: &mut GatewayWorld) -> StepResult {
    let c = bearer_challenge(w).map_err(|e| format!("BEARER-08: {e}"))?;
    let missing: Vec<&str> = ["scope", "resource_metadata"]
        .into_iter()
        .filter(|n| c.param(n).is_none())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "BEARER-08: the insufficient_scope challenge lacks {}",
            missing.join(" and ")
        ))
    }
}

/// The guide's "401 response behavior": `Bearer realm="MCP", resource_metadata="…"`.
#[then(expr = "the Bearer challenge has realm {string} and a resource_metadata")]
async fn guide_challenge(w: &mut GatewayWorld, realm: String) -> StepResult {
    let c = bearer_challenge(w).map_err(|e| format!("GUIDE-12: {e}"))?;
    if c.param("realm") != Some(realm.as_str()) {
        return Err(format!(
            "GUIDE-12: expected realm={realm:?}, got {:?}",
            c.param("realm")
        ));
    }
    match c.param("resource_metadata") {
        Some(_) => Ok(()),
        None => Err("GUIDE-12: the Bearer challenge has no resource_metadata".to_owned()),
    }
}

/// RFC 6750 §3.1 `invalid_request`, in the challenge or in a JSON body.
#[then(expr = "the refusal names the error {string}")]
async fn refusal_error(w: &mut GatewayWorld, error: String) -> StepResult {
    let in_challenge = bearer_challenge(w)
        .ok()
        .and_then(|c| c.param("error").map(str::to_owned));
    let in_body = w
        .last_response()?
        .json()
        .and_then(|j| j.get("error").and_then(Value::as_str).map(str::to_owned));
    if in_challenge.as_deref() == Some(error.as_str()) || in_body.as_deref() == Some(error.as_str())
    {
        return Ok(());
    }
    Err(format!(
        "expected error {error:?}, got {:?} in the challenge and {:?} in the body ({})",
        in_challenge,
        in_body,
        w.last_exchange()?.line()
    ))
}

/// RFC 9728 §5.1 and the TypeScript SDK: the link must be an absolute URL.
#[then("the Bearer challenge's resource_metadata is an absolute URL")]
async fn absolute_metadata(w: &mut GatewayWorld) -> StepResult {
    let c = bearer_challenge(w).map_err(|e| format!("BEARER-04: {e}"))?;
    let link = c
        .param("resource_metadata")
        .ok_or("BEARER-04: the Bearer challenge has no resource_metadata")?;
    match url::Url::parse(link) {
        Ok(u) if matches!(u.scheme(), "https" | "http") => Ok(()),
        Ok(u) => Err(format!(
            "BEARER-04: resource_metadata {link:?} has scheme {:?}",
            u.scheme()
        )),
        Err(e) => Err(format!(
            "BEARER-04: resource_metadata {link:?} is not an absolute URL ({e}); the TypeScript SDK ignores it"
        )),
    }
}

/// RFC 9728 §3.3: metadata reached from a resource's challenge names that very resource.
#[then(expr = "the metadata it links to names the {word} agent's MCP URL as resource")]
async fn linked_metadata_resource(w: &mut GatewayWorld, which: String) -> StepResult {
    let mcp = w.mcp_url(agent(&which)?)?;
    let c = bearer_challenge(w).map_err(|e| format!("BEARER-04: {e}"))?;
    let link = c
        .param("resource_metadata")
        .ok_or("BEARER-04: the Bearer challenge has no resource_metadata")?;
    let url = mcp
        .join(link)
        .map_err(|e| format!("BEARER-04: resource_metadata {link:?}: {e}"))?;
    let ex = w
        .send(crate::http::Request::get(url.as_str()))
        .await
        .clone();
    let resp = ex.response()?;
    let resource = resp
        .json()
        .filter(|_| resp.status == 200)
        .and_then(|j| j.get("resource").and_then(Value::as_str).map(str::to_owned))
        .ok_or_else(|| {
            format!(
                "BEARER-04: {} is not metadata with a `resource`: {}",
                ex.line(),
                brief(&resp.body)
            )
        })?;
    let same = resource == mcp.as_str()
        || url::Url::parse(&resource).is_ok_and(|r| r.as_str() == mcp.as_str());
    if same {
        Ok(())
    } else {
        Err(format!(
            "BEARER-04: the metadata linked from {mcp}'s challenge names resource {resource:?}, not {mcp}"
        ))
    }
}
