//! The `Then` steps of `features/authorize.feature` on what an authorization request came back
//! with: the redirect to `redirect_uri` (code, error, `state`, `iss`, OAuth 2.1 §4.1.2 and
//! §4.1.2.1, RFC 9207) or, for requests that must be refused, the absence of any redirect to an
//! unvalidated URI, judged on every `Location` of the scenario.

use cucumber::then;
use serde_json::Value;
use url::Url;

use super::user_agent::{self, points_at, points_at_client, redirects, short_line, short_url};
use super::{RUN_ERROR, UNKNOWN_SCOPE, registered_redirect_uris, requested_redirect_uri};
use crate::login::AuthorizationOutcome;
use crate::world::{GatewayWorld, StepResult, get_param};

// ---- Then: what came back ---------------------------------------------------------------------

/// AUTHZ-07: a 302/303 to `redirect_uri` with one `code` and the exact `state`.
#[then("the client receives an authorization code with its state")]
async fn receives_code(w: &mut GatewayWorld) -> StepResult {
    let params = redirect_params(w, "an authorization code")?;
    let count = |n: &str| params.iter().filter(|(k, _)| k == n).count();
    if let Some((_, e)) = params.iter().find(|(k, _)| k == "error") {
        return Err(format!(
            "the client was sent back with error={e:?} instead of a code ({})",
            describe(w)
        ));
    }
    match count("code") {
        1 => {}
        n => {
            return Err(format!(
                "AUTHZ-07: the redirect carries code {n} times, not once ({})",
                describe(w)
            ));
        }
    }
    expect_safe_redirect_after_post(w)?;
    expect_state(w, &params)
}

/// AUTHZ-06 / AUTHZ-08: an error redirect with exactly `error` and the `state` sent.
#[then(expr = "the client receives the authorization error {string} with its state")]
async fn receives_error(w: &mut GatewayWorld, error: String) -> StepResult {
    expect_error_redirect(w, &[error.as_str()])
}

#[then(expr = "the client receives one of the authorization errors {string} with its state")]
async fn receives_one_of(w: &mut GatewayWorld, errors: String) -> StepResult {
    let list = words(&errors);
    expect_error_redirect(w, &list)
}

/// AUTHZ-04: the code goes to the port the request named, not the registered one.
#[then("the authorization code is sent to the port that was requested")]
async fn code_to_requested_port(w: &mut GatewayWorld) -> StepResult {
    let requested = requested_redirect_uri(w)?.ok_or("internal: no redirect_uri requested")?;
    match w.outcome.as_ref() {
        Some(AuthorizationOutcome::Redirect { url, .. })
            if url.port_or_known_default() == requested.port_or_known_default() =>
        {
            Ok(())
        }
        Some(AuthorizationOutcome::Redirect { url, .. }) => Err(format!(
            "AUTHZ-04: the code went to port {:?}, not to the requested port {:?}",
            url.port_or_known_default(),
            requested.port_or_known_default()
        )),
        _ => Err(format!(
            "AUTHZ-04: no redirect with a code ({})",
            describe(w)
        )),
    }
}

/// AUTHZ-07: OAuth 2.1 §4.1.2, the query of the registered URI is kept.
#[then(expr = "the authorization redirect keeps the query {string}")]
async fn keeps_query(w: &mut GatewayWorld, query: String) -> StepResult {
    let params = redirect_params(w, "the code")?;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let found: Vec<&String> = params
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v)
            .collect();
        if found.as_slice() != [&value.to_string()] {
            return Err(format!(
                "AUTHZ-07: the registered redirect URI's query parameter {name}={value} should appear once in the redirect, found {found:?} ({})",
                describe(w)
            ));
        }
    }
    Ok(())
}

/// DISC-14: `iss` on the redirect if, and only if, the metadata sets the RFC 9207 flag.
#[then("the authorization redirect carries iss only if the metadata advertises it")]
async fn iss_iff_flag(w: &mut GatewayWorld) -> StepResult {
    let params = redirect_params(w, "a response")?;
    let flag = w.ctx.discovered.has_capability("iss")?;
    let n = params.iter().filter(|(k, _)| k == "iss").count();
    match (n, flag) {
        (0, false) | (1, true) => Ok(()),
        (0, true) => Err(
            "DISC-14: the metadata sets authorization_response_iss_parameter_supported, but the redirect carries no iss (RFC 9207 §2)".into(),
        ),
        (1, false) => Err(
            "DISC-14: the redirect carries iss, but the metadata does not set authorization_response_iss_parameter_supported to true (RFC 9207 §3)".into(),
        ),
        (n, _) => Err(format!("the redirect carries iss {n} times, not once")),
    }
}

/// AUTHZ-09 / RFC 9207 §2: `iss` is the metadata `issuer`, byte for byte.
#[then("the authorization redirect carries iss equal to the metadata issuer")]
async fn iss_is_issuer(w: &mut GatewayWorld) -> StepResult {
    let params = redirect_params(w, "a response")?;
    let issuer = w
        .ctx
        .discovered
        .asm
        .as_ref()
        .and_then(|m| m.get("issuer"))
        .and_then(Value::as_str)
        .ok_or("the authorization server metadata has no issuer")?;
    let found: Vec<&String> = params
        .iter()
        .filter(|(k, _)| k == "iss")
        .map(|(_, v)| v)
        .collect();
    match found.as_slice() {
        [iss] if iss.as_str() == issuer => Ok(()),
        [] => Err(format!(
            "AUTHZ-09: the redirect carries no iss (RFC 9207): {}",
            describe(w)
        )),
        [iss] => Err(format!(
            "AUTHZ-09: iss {iss:?} is not the metadata issuer {issuer:?} (RFC 9207 §2.4: simple string comparison)"
        )),
        many => Err(format!("AUTHZ-09: iss appears {} times", many.len())),
    }
}

/// AUTHZ-02 / AUTHZ-05: no redirect to any of the client's URIs, nor to the one requested.
#[then("the authorization request is refused without a redirect to the client")]
async fn refused_no_redirect_to_client(w: &mut GatewayWorld) -> StepResult {
    reached_target(w)?;
    let forbidden: Vec<Url> = requested_redirect_uri(w)?.into_iter().collect();
    let registered = registered_redirect_uris(w);
    for (loc, ex) in redirects(w) {
        if forbidden.iter().any(|f| points_at(&loc, f))
            || registered.iter().any(|r| points_at_client(&loc, r))
        {
            return Err(format!(
                "the user agent was redirected to the client ({}) by {}, although the request names no valid client_id and redirect_uri pair (OAuth 2.1 §4.1.2.1: show an error page, never redirect)",
                short_url(&loc),
                short_line(ex)
            ));
        }
    }
    Ok(())
}

/// AUTHZ-02 / AUTHZ-03 / AUTHZ-04: no redirect to the unregistered URI, and no code anywhere.
#[then("the authorization request is refused without a redirect to the requested redirect_uri")]
async fn refused_no_redirect_to_requested(w: &mut GatewayWorld) -> StepResult {
    reached_target(w)?;
    let requested = requested_redirect_uri(w)?.ok_or("internal: no redirect_uri requested")?;
    // As sent: the resolved URL may have lost what made it differ (a dot segment).
    let sent = get_param(&w.authorization_params, "redirect_uri").unwrap_or_default();
    for (loc, ex) in redirects(w) {
        if points_at(&loc, &requested) {
            return Err(format!(
                "the user agent was redirected to the unregistered redirect_uri {sent:?} ({}) by {}; an error page is required (OAuth 2.1 §4.1.2.1: no open redirector)",
                short_url(&loc),
                short_line(ex)
            ));
        }
    }
    expect_no_code_to_client(w, "a request whose redirect_uri matches no registered one")
}

/// AUTHZ-01: refused, by an error redirect with one of `errors` or by an error page.
#[then(expr = "the authorization request is refused with {string} or an error page")]
async fn refused_with_or_page(w: &mut GatewayWorld, errors: String) -> StepResult {
    let list = words(&errors);
    match w.outcome.clone() {
        Some(AuthorizationOutcome::Redirect { .. }) => {
            expect_error_redirect_without_state(w, &list)
        }
        Some(AuthorizationOutcome::Page { status, url, .. }) => {
            let resp = w.last_response()?;
            if user_agent::login_form(resp, &url).is_some() {
                return Err(format!(
                    "the request was accepted: the user agent reached the login page ({status} {url}) instead of an error"
                ));
            }
            expect_no_code_to_client(w, "a refused request")
        }
        None => Err(run_error(w)),
    }
}

/// AUTHZ-13: refused with `invalid_scope`, or granted without the unknown scope.
#[then("the unknown scope is refused with invalid_scope or left out of the granted scope")]
async fn unknown_scope_outcome(w: &mut GatewayWorld) -> StepResult {
    let outcome = w.outcome.clone().ok_or_else(|| run_error(w))?;
    if let Some(error) = outcome.error() {
        return if error == "invalid_scope" {
            Ok(())
        } else {
            Err(format!(
                "AUTHZ-13: the unknown scope was refused with {error:?}, not invalid_scope"
            ))
        };
    }
    let code = outcome_code(w)?;
    let params = w.code_redemption(&code)?;
    w.token_request(&params).await?;
    let tokens = w.take_tokens()?;
    match tokens.scope.as_deref() {
        None => Err(format!(
            "AUTHZ-13: the token response has no scope, which means the requested scope was granted whole (RFC 6749 §5.1), {UNKNOWN_SCOPE:?} included"
        )),
        Some(s) if s.split_whitespace().any(|x| x == UNKNOWN_SCOPE) => Err(format!(
            "AUTHZ-13: the granted scope {s:?} contains the unknown scope {UNKNOWN_SCOPE:?}"
        )),
        Some(_) => Ok(()),
    }
}

/// The authorization endpoint answered at all: a refusal judged on no evidence is no refusal.
pub(super) fn reached_target(w: &GatewayWorld) -> StepResult {
    let endpoint = w.ctx.discovered.endpoint("authorization_endpoint")?;
    let answered = w.evidence.iter().any(|ex| {
        ex.response.is_some()
            && Url::parse(&ex.request.url)
                .is_ok_and(|u| u.origin() == endpoint.origin() && u.path() == endpoint.path())
    });
    if answered { Ok(()) } else { Err(run_error(w)) }
}

fn run_error(w: &GatewayWorld) -> String {
    match w.saved.get(RUN_ERROR) {
        Some(e) => format!("the authorization request could not be run: {e}"),
        None => "internal: no authorization request was run".to_owned(),
    }
}

/// No `Location` carries a `code` to one of the client's registered URIs.
pub(super) fn expect_no_code_to_client(w: &GatewayWorld, what: &str) -> StepResult {
    let registered = registered_redirect_uris(w);
    for (loc, ex) in redirects(w) {
        let has_code = loc.query_pairs().any(|(n, _)| n == "code");
        if has_code && registered.iter().any(|r| points_at_client(&loc, r)) {
            return Err(format!(
                "an authorization code was sent to the client ({}) by {} for {what}",
                short_url(&loc),
                short_line(ex)
            ));
        }
    }
    Ok(())
}

/// The parameters of the redirect to `redirect_uri`, or why there is none.
fn redirect_params(w: &GatewayWorld, expected: &str) -> Result<Vec<(String, String)>, String> {
    match &w.outcome {
        Some(AuthorizationOutcome::Redirect { params, .. }) => Ok(params.clone()),
        Some(page @ AuthorizationOutcome::Page { .. }) => Err(format!(
            "expected a redirect to redirect_uri with {expected}, but {}",
            page.describe()
        )),
        None => Err(run_error(w)),
    }
}

fn describe(w: &GatewayWorld) -> String {
    w.outcome
        .as_ref()
        .map(AuthorizationOutcome::describe)
        .unwrap_or_else(|| "no outcome".to_owned())
}

pub(super) fn outcome_code(w: &GatewayWorld) -> Result<String, String> {
    w.outcome
        .as_ref()
        .and_then(AuthorizationOutcome::code)
        .map(str::to_owned)
        .ok_or_else(|| format!("no authorization code to redeem ({})", describe(w)))
}

/// AUTHZ-07 / AUTHZ-08: the `state` sent comes back once and byte for byte (or not at all when
/// none was sent).
fn expect_state(w: &GatewayWorld, params: &[(String, String)]) -> StepResult {
    let found: Vec<&String> = params
        .iter()
        .filter(|(k, _)| k == "state")
        .map(|(_, v)| v)
        .collect();
    match (&w.state, found.as_slice()) {
        (Some(sent), [got]) if *got == sent => Ok(()),
        (Some(sent), [got]) => Err(format!(
            "the redirect returns state {got:?}, not the {sent:?} that was sent (OAuth 2.1 §4.1.2: exact value)"
        )),
        (Some(sent), []) => Err(format!(
            "the redirect has no state, though {sent:?} was sent (OAuth 2.1 §4.1.2: REQUIRED when sent)"
        )),
        (Some(_), many) => Err(format!(
            "the redirect carries state {} times, not once",
            many.len()
        )),
        (None, []) => Ok(()),
        (None, _) => Err("the redirect carries a state, though none was sent".to_owned()),
    }
}

/// An error redirect: no code, one `error` from `errors`, the exact `state`, never a 307 after a
/// POST.
fn expect_error_redirect(w: &GatewayWorld, errors: &[&str]) -> StepResult {
    expect_error_redirect_without_state(w, errors)?;
    let params = redirect_params(w, "an error")?;
    expect_state(w, &params)
}

fn expect_error_redirect_without_state(w: &GatewayWorld, errors: &[&str]) -> StepResult {
    let params = redirect_params(w, &format!("error={}", errors.join(" or ")))?;
    if params.iter().any(|(k, _)| k == "code") {
        return Err(format!(
            "an authorization code was issued where error={} was expected ({})",
            errors.join(" or "),
            describe(w)
        ));
    }
    let found: Vec<&String> = params
        .iter()
        .filter(|(k, _)| k == "error")
        .map(|(_, v)| v)
        .collect();
    match found.as_slice() {
        [e] if errors.contains(&e.as_str()) => {}
        [] => {
            return Err(format!(
                "expected error={} on the redirect, got none ({})",
                errors.join(" or "),
                describe(w)
            ));
        }
        other => {
            return Err(format!(
                "expected error={} on the redirect, got {other:?}",
                errors.join(" or ")
            ));
        }
    }
    expect_safe_redirect_after_post(w)
}

/// AUTHZ-07: OAuth 2.1 §7.5.3, the redirect that answers the login form's POST is a 302 or 303,
/// never a 307 or 308, which make the browser re-post the form (password included) to the client.
/// After a `GET` any redirect will do.
fn expect_safe_redirect_after_post(w: &GatewayWorld) -> StepResult {
    let stop = match &w.outcome {
        Some(AuthorizationOutcome::Redirect { url, .. }) => url.clone(),
        _ => return Ok(()),
    };
    for (loc, ex) in redirects(w) {
        let status = ex.response.as_ref().map_or(0, |r| r.status);
        if loc == stop && ex.request.method == "POST" && !matches!(status, 302 | 303) {
            return Err(format!(
                "AUTHZ-07: the redirect to redirect_uri after the login form's POST is a {status} ({}), not 302 or 303: the browser would re-post the form to the client",
                short_line(ex)
            ));
        }
    }
    Ok(())
}

fn words(list: &str) -> Vec<&str> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty() && *s != "or")
        .collect()
}
