//! Steps of `features/authorize.feature`: the authorization endpoint (OAuth 2.1 §4.1.1–§4.1.2.1,
//! RFC 9207) and the login page in front of it.
//!
//! Requests are the honest client's ([`GatewayWorld::authorization_request`]) with one thing
//! changed. Two families of `When`:
//! - "the user approves/denies an authorization request …" runs the whole login with the profile's
//!   driver, and fails when it cannot;
//! - "an authorization request is sent …" is a request the target should refuse: it goes as far
//!   as [`user_agent::Depth::Refusal`] says and never fails; the `Then` steps judge what happened
//!   from the outcome and every `Location` of the scenario (a refusal must never send the user
//!   agent to an unvalidated `redirect_uri`, OAuth 2.1 §4.1.2.1).
//!
//! This module holds the `Given` and `When` steps and the requests they build; [`verdicts`] the
//! `Then` steps on what came back; [`binding`] what a code is bound to (AUTHZ-10);
//! [`login_page`] the login page checks (AUTHZ-12); [`user_agent`] how a request is run.

mod binding;
mod login_page;
pub(crate) mod user_agent;
mod verdicts;

use cucumber::{given, when};
use serde_json::{Value, json};
use url::{Position, Url};

use self::user_agent::{Depth, is_loopback_http, redirects, short_line, short_url};
use super::NOT_TESTABLE;
use super::http::brief;
use crate::login::{LoginAction, is_redirect_uri};
use crate::pkce;
use crate::world::{Agent, ClientInfo, GatewayWorld, StepResult, get_param, set_param};

/// `saved` key: why a refusal run ended without an outcome.
const RUN_ERROR: &str = "authorization run error";
/// A scope no gateway defines (AUTHZ-13).
const UNKNOWN_SCOPE: &str = "conformance.unknown-scope";
/// A non-loopback `https` redirect URI with an explicit port (AUTHZ-03): `.example` is reserved
/// (RFC 2606), and the user agent stops at the redirect without fetching it.
const HTTPS_REDIRECT_URI: &str = "https://conformance.example:8443/callback";

// ---- Clients with special redirect URIs ---------------------------------------------------

#[given("a client registered with the loopback redirect URI on another port")]
async fn client_on_another_port(w: &mut GatewayWorld) -> StepResult {
    let requested = loopback_redirect_uri(w)?;
    let mut registered = requested.clone();
    let other = match requested.port_or_known_default() {
        Some(49152) => 49153,
        _ => 49152,
    };
    registered
        .set_port(Some(other))
        .map_err(|()| format!("internal: cannot set a port on {requested}"))?;
    register_for(w, &[registered.to_string()], requested).await
}

#[given("a client registered with the loopback redirect URI without a port")]
async fn client_without_port(w: &mut GatewayWorld) -> StepResult {
    let requested = loopback_redirect_uri(w)?;
    if requested.port().is_none() {
        return Err(format!(
            "{NOT_TESTABLE}client.redirect_uri {requested} has no port, so a request cannot name one the registration lacks"
        ));
    }
    let mut registered = requested.clone();
    registered
        .set_port(None)
        .map_err(|()| format!("internal: cannot remove the port of {requested}"))?;
    register_for(w, &[registered.to_string()], requested).await
}

/// AUTHZ-03: the any-port exception is for loopback redirect URIs only (OAuth 2.1 "Loopback
/// Interface Redirection"); every other URI is compared as a simple string, port included.
#[given("a client registered with an https redirect URI on a non-default port")]
async fn client_https_with_port(w: &mut GatewayWorld) -> StepResult {
    let uri = Url::parse(HTTPS_REDIRECT_URI)
        .map_err(|e| format!("internal: {HTTPS_REDIRECT_URI}: {e}"))?;
    register_for(w, &[uri.to_string()], uri).await
}

#[given("a client registered with two redirect URIs")]
async fn client_with_two(w: &mut GatewayWorld) -> StepResult {
    let first = w.ctx.profile.redirect_uri.clone();
    let mut second = first.clone();
    second.set_path(&format!("{}-second", first.path().trim_end_matches('/')));
    register_for(w, &[first.to_string(), second.to_string()], first).await
}

#[given(expr = "a client registered with a redirect URI that carries the query {string}")]
async fn client_with_query(w: &mut GatewayWorld, query: String) -> StepResult {
    let mut uri = w.ctx.profile.redirect_uri.clone();
    let joined = match uri.query() {
        Some(q) if !q.is_empty() => format!("{q}&{query}"),
        _ => query,
    };
    uri.set_query(Some(&joined));
    register_for(w, &[uri.to_string()], uri).await
}

#[given("the user has approved an authorization request")]
async fn has_approved(w: &mut GatewayWorld) -> StepResult {
    w.obtain_code(Agent::Owned).await.map(|_| ())
}

// ---- The user acts: full login --------------------------------------------------------------

#[when("the user approves an authorization request")]
async fn approve(w: &mut GatewayWorld) -> StepResult {
    let params = w.authorization_request(Agent::Owned).await?;
    login(w, None, params, LoginAction::Approve).await
}

#[when("the user denies an authorization request")]
async fn deny(w: &mut GatewayWorld) -> StepResult {
    let params = w.authorization_request(Agent::Owned).await?;
    login(w, None, params, LoginAction::Deny).await
}

#[when(expr = "the user approves an authorization request with {word} set to {string}")]
async fn approve_with(w: &mut GatewayWorld, name: String, value: String) -> StepResult {
    let mut params = w.authorization_request(Agent::Owned).await?;
    edit(w, &mut params, &name, Some(&value));
    login(w, None, params, LoginAction::Approve).await
}

#[when(expr = "the user approves an authorization request without {word}")]
async fn approve_without(w: &mut GatewayWorld, name: String) -> StepResult {
    let mut params = w.authorization_request(Agent::Owned).await?;
    edit(w, &mut params, &name, None);
    login(w, None, params, LoginAction::Approve).await
}

#[when(expr = "the user approves an authorization request with the extra parameters {string}")]
async fn approve_with_extra(w: &mut GatewayWorld, extra: String) -> StepResult {
    let mut params = w.authorization_request(Agent::Owned).await?;
    for (n, v) in form_urlencoded::parse(extra.as_bytes()) {
        params.push((n.into_owned(), v.into_owned()));
    }
    login(w, None, params, LoginAction::Approve).await
}

#[when("the user approves an authorization request with an unknown scope added")]
async fn approve_unknown_scope(w: &mut GatewayWorld) -> StepResult {
    let mut params = w.authorization_request(Agent::Owned).await?;
    let scope = match get_param(&params, "scope") {
        Some(s) => format!("{s} {UNKNOWN_SCOPE}"),
        None => UNKNOWN_SCOPE.to_owned(),
    };
    set_param(&mut params, "scope", Some(&scope));
    login(w, None, params, LoginAction::Approve).await
}

/// GUIDE-04: the guide's Step 2, at its fixed path, with exactly its parameters.
#[when("the user approves the guide's authorization request at /oauth/authorize")]
async fn approve_guide(w: &mut GatewayWorld) -> StepResult {
    let mut params = w.authorization_request(Agent::Owned).await?;
    params.retain(|(n, _)| {
        matches!(
            n.as_str(),
            "client_id"
                | "redirect_uri"
                | "response_type"
                | "code_challenge"
                | "code_challenge_method"
                | "state"
        )
    });
    let base = w.ctx.profile.base_url.as_str().trim_end_matches('/');
    let endpoint = Url::parse(&format!("{base}/oauth/authorize"))
        .map_err(|e| format!("internal: {base}/oauth/authorize: {e}"))?;
    login(w, Some(endpoint), params, LoginAction::Approve).await
}

// ---- Requests the target should refuse -------------------------------------------------------

#[when("an authorization request is sent with an unknown client_id")]
async fn send_unknown_client(w: &mut GatewayWorld) -> StepResult {
    let mut params = w.authorization_request(Agent::Owned).await?;
    let unknown = format!(
        "conformance-unknown-{}",
        pkce::random_string(20, b"abcdefghijklmnopqrstuvwxyz0123456789")
    );
    set_param(&mut params, "client_id", Some(&unknown));
    attempt(w, params).await
}

#[when(expr = "an authorization request is sent with {word} set to {string}")]
async fn send_with(w: &mut GatewayWorld, name: String, value: String) -> StepResult {
    let mut params = w.authorization_request(Agent::Owned).await?;
    edit(w, &mut params, &name, Some(&value));
    attempt(w, params).await
}

#[when(expr = "an authorization request is sent without {word}")]
async fn send_without(w: &mut GatewayWorld, name: String) -> StepResult {
    let mut params = w.authorization_request(Agent::Owned).await?;
    edit(w, &mut params, &name, None);
    attempt(w, params).await
}

#[when(
    expr = "an authorization request is sent with the registered redirect_uri changed by {string}"
)]
async fn send_changed_redirect(w: &mut GatewayWorld, change: String) -> StepResult {
    let mut params = w.authorization_request(Agent::Owned).await?;
    let current = w
        .client
        .as_ref()
        .map(|c| c.redirect_uri.clone())
        .ok_or("internal: no client")?;
    let changed = changed(&current, &change)?;
    set_param(&mut params, "redirect_uri", Some(changed.as_str()));
    attempt(w, params).await
}

#[when(expr = "an authorization request is sent with the parameter {word} repeated")]
async fn send_repeated(w: &mut GatewayWorld, name: String) -> StepResult {
    let mut params = w.authorization_request(Agent::Owned).await?;
    let value = get_param(&params, &name)
        .ok_or_else(|| format!("internal: the honest request has no {name}"))?
        .to_owned();
    params.push((name, value));
    attempt(w, params).await
}

// ---- Helpers ---------------------------------------------------------------------------------

/// Registers a client with `uris` and makes it the scenario's client, requesting `requested`.
async fn register_for(w: &mut GatewayWorld, uris: &[String], requested: Url) -> StepResult {
    let mut metadata = w.client_metadata();
    metadata["redirect_uris"] = json!(uris);
    let ex = w.register(&metadata).await?.clone();
    let resp = ex.response()?;
    let json = resp.json().filter(|_| (200..300).contains(&resp.status));
    let id = json
        .as_ref()
        .and_then(|j| j.get("client_id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    match (id, json) {
        (Some(client_id), Some(response)) => {
            w.client = Some(ClientInfo {
                client_id,
                redirect_uri: requested,
                response,
            });
            Ok(())
        }
        _ => Err(format!(
            "{NOT_TESTABLE}the target did not register the redirect URIs {uris:?}: {} {} (the registration checks say whether it should)",
            ex.line(),
            brief(&resp.body)
        )),
    }
}

/// The profile's `redirect_uri`, which must be loopback `http` for the port rule.
fn loopback_redirect_uri(w: &GatewayWorld) -> Result<Url, String> {
    let r = w.ctx.profile.redirect_uri.clone();
    if is_loopback_http(&r) {
        Ok(r)
    } else {
        Err(format!(
            "{NOT_TESTABLE}client.redirect_uri {r} is not a loopback http URI, so the loopback port rule cannot be exercised"
        ))
    }
}

/// Sets (`Some`) or removes (`None`) a parameter; keeps the World's `state` in step.
fn edit(w: &mut GatewayWorld, params: &mut Vec<(String, String)>, name: &str, value: Option<&str>) {
    set_param(params, name, value);
    if name == "state" {
        w.state = value.filter(|v| !v.is_empty()).map(str::to_owned);
    }
}

/// The URI a request names, resolved like a browser resolves `Location` against the endpoint.
fn resolve(w: &GatewayWorld, uri: &str) -> Result<Url, String> {
    let base = w.ctx.discovered.endpoint("authorization_endpoint")?;
    base.join(uri)
        .map_err(|e| format!("internal: redirect_uri {uri:?}: {e}"))
}

fn requested_redirect_uri(w: &GatewayWorld) -> Result<Option<Url>, String> {
    match get_param(&w.authorization_params, "redirect_uri") {
        Some(uri) if !uri.is_empty() => resolve(w, uri).map(Some),
        _ => Ok(None),
    }
}

/// The client's registered redirect URIs, from its registration response.
fn registered_redirect_uris(w: &GatewayWorld) -> Vec<Url> {
    let Some(client) = &w.client else {
        return Vec::new();
    };
    let listed: Vec<Url> = client
        .response
        .get("redirect_uris")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter_map(|s| Url::parse(s).ok())
                .collect()
        })
        .unwrap_or_default();
    if listed.is_empty() {
        vec![client.redirect_uri.clone()]
    } else {
        listed
    }
}

/// Runs a request the user approves or denies through the whole login; a failure fails the step.
async fn login(
    w: &mut GatewayWorld,
    endpoint: Option<Url>,
    params: Vec<(String, String)>,
    action: LoginAction,
) -> StepResult {
    let url = user_agent::authorization_url(w, endpoint, &params)?;
    let stop = stop_for(w, &params)?;
    let Err(e) = user_agent::run(w, &url, params, &stop, Depth::Login(action)).await else {
        return Ok(());
    };
    // A driver that fails after a redirect carrying a code went elsewhere than `stop`: say so.
    let misdirected = redirects(w)
        .filter(|(loc, _)| loc.query_pairs().any(|(n, _)| n == "code"))
        .find(|(loc, _)| !is_redirect_uri(loc, &stop))
        .map(|(loc, ex)| (short_url(&loc), short_line(ex)));
    match misdirected {
        Some((to, by)) => Err(format!(
            "the authorization code was sent to {to}, not to the requested redirect_uri {stop} ({by})"
        )),
        None => Err(e),
    }
}

/// Runs a request the target should refuse; what happened is for the `Then` steps to judge.
async fn attempt(w: &mut GatewayWorld, params: Vec<(String, String)>) -> StepResult {
    let url = user_agent::authorization_url(w, None, &params)?;
    let stop = stop_for(w, &params)?;
    if let Err(e) = user_agent::run(w, &url, params, &stop, Depth::Refusal).await {
        w.saved.insert(RUN_ERROR.to_owned(), e);
    }
    Ok(())
}

/// Where the user agent stops: the `redirect_uri` requested, else the client's.
fn stop_for(w: &GatewayWorld, params: &[(String, String)]) -> Result<Url, String> {
    match get_param(params, "redirect_uri") {
        Some(uri) if !uri.is_empty() => resolve(w, uri),
        _ => w
            .client
            .as_ref()
            .map(|c| c.redirect_uri.clone())
            .ok_or_else(|| "internal: no client".to_owned()),
    }
}

/// `uri` changed in one way (AUTHZ-03, AUTHZ-04), as the raw string the request sends: a URL
/// parser would undo some changes (a dot segment).
fn changed(uri: &Url, change: &str) -> Result<String, String> {
    let mut u = uri.clone();
    match change {
        // RFC 3986 §6.2.1: simple string comparison, no syntax-based normalisation.
        "a dot segment in the path" => {
            return Ok(format!(
                "{}/.{}",
                &uri[..Position::BeforePath],
                &uri[Position::BeforePath..]
            ));
        }
        "another port" => {
            let other = match uri.port_or_known_default() {
                Some(8443) => 9443,
                _ => 8443,
            };
            u.set_port(Some(other))
                .map_err(|()| format!("{NOT_TESTABLE}cannot set a port on {uri}"))?;
        }
        "a trailing slash" => u.set_path(&format!("{}/", uri.path())),
        "an extra query parameter" => {
            u.query_pairs_mut().append_pair("conformance", "1");
        }
        "an upper-case path" => {
            let upper = uri.path().to_ascii_uppercase();
            if upper == uri.path() {
                return Err(format!(
                    "{NOT_TESTABLE}the path of {uri} has no lower-case letter to change"
                ));
            }
            u.set_path(&upper);
        }
        "the other scheme" => {
            let other = if uri.scheme() == "http" {
                "https"
            } else {
                "http"
            };
            u.set_scheme(other)
                .map_err(|()| format!("{NOT_TESTABLE}cannot change the scheme of {uri}"))?;
        }
        "a longer path" => u.set_path(&format!("{}/conformance", uri.path().trim_end_matches('/'))),
        "another path" => u.set_path("/conformance-other-path"),
        "the other loopback host" => {
            let other = match uri.host_str() {
                Some("127.0.0.1") => "localhost",
                _ => "127.0.0.1",
            };
            u.set_host(Some(other))
                .map_err(|e| format!("internal: host {other}: {e}"))?;
        }
        other => return Err(format!("internal: unknown redirect_uri change {other:?}")),
    }
    Ok(u.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_differs_from_the_registered_uri() {
        let r = Url::parse("http://127.0.0.1:8976/callback").unwrap();
        for change in [
            "a trailing slash",
            "an extra query parameter",
            "an upper-case path",
            "the other scheme",
            "a longer path",
            "another path",
            "the other loopback host",
            "a dot segment in the path",
            "another port",
        ] {
            let c = changed(&r, change).unwrap();
            assert_ne!(c, r.as_str(), "{change}");
        }
        assert_eq!(
            changed(&r, "the other scheme").unwrap(),
            "https://127.0.0.1:8976/callback"
        );
        assert_eq!(
            changed(&r, "the other loopback host").unwrap(),
            "http://localhost:8976/callback"
        );
        assert_eq!(
            changed(&r, "a dot segment in the path").unwrap(),
            "http://127.0.0.1:8976/./callback"
        );
        let https = Url::parse(HTTPS_REDIRECT_URI).unwrap();
        assert_eq!(
            changed(&https, "another port").unwrap(),
            "https://conformance.example:9443/callback"
        );
    }
}
