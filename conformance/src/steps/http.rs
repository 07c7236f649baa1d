//! Steps every area shares: the status, the OAuth error (RFC 6749 §5.2 shape), headers, caching,
//! and "nothing leaked". The `expect_*` functions are the same checks for steps that need them
//! inline.

use cucumber::{given, then};
use serde_json::Value;

use crate::world::{Agent, GatewayWorld, StepResult};

/// Whether the last response has status `status`.
pub fn expect_status(w: &GatewayWorld, allowed: &[u16]) -> StepResult {
    let ex = w.last_exchange()?;
    let resp = ex.response()?;
    if allowed.contains(&resp.status) {
        return Ok(());
    }
    Err(format!(
        "expected status {}, got {}: {}",
        join(allowed),
        ex.line(),
        brief(&resp.body)
    ))
}

/// Whether the last response is an OAuth error (RFC 6749 §5.2: JSON object with `error`) with a
/// status in `statuses` and an `error` in `errors`, and issued nothing.
pub fn expect_oauth_error(w: &GatewayWorld, statuses: &[u16], errors: &[&str]) -> StepResult {
    expect_no_token(w)?;
    let ex = w.last_exchange()?;
    let resp = ex.response()?;
    let json = resp.json();
    let error = json
        .as_ref()
        .and_then(|j| j.get("error"))
        .and_then(Value::as_str);
    if !statuses.contains(&resp.status) || error.is_none_or(|e| !errors.contains(&e)) {
        return Err(format!(
            "expected status {} with error {}, got {} with {}",
            join(statuses),
            errors.join(" or "),
            ex.line(),
            match (&json, error) {
                (_, Some(e)) => format!("error {e:?}"),
                (Some(_), None) => "a JSON body without `error`".to_owned(),
                (None, _) => format!("a non-JSON body {}", brief(&resp.body)),
            }
        ));
    }
    match resp.media_type().as_deref() {
        Some("application/json") => Ok(()),
        other => Err(format!(
            "the error body is JSON but Content-Type is {other:?}, not application/json (RFC 6749 §5.2)"
        )),
    }
}

/// Whether the last response issued no token (no `access_token`/`refresh_token` member).
pub fn expect_no_token(w: &GatewayWorld) -> StepResult {
    let ex = w.last_exchange()?;
    let resp = ex.response()?;
    if let Some(json) = resp.json() {
        for leaked in ["access_token", "refresh_token", "id_token"] {
            if json.get(leaked).is_some() {
                return Err(format!(
                    "a token was issued: {} carries `{leaked}`",
                    ex.line()
                ));
            }
        }
    }
    Ok(())
}

fn join(v: &[u16]) -> String {
    v.iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The start of a body, for messages.
pub fn brief(body: &str) -> String {
    let s: String = body.chars().take(160).collect();
    format!("{s:?}")
}

/// `"401, 403 or 404"` → `[401, 403, 404]`.
pub(crate) fn parse_statuses(list: &str) -> Result<Vec<u16>, String> {
    list.split(|c: char| c == ',' || c.is_whitespace() || c == '/')
        .filter(|s| !s.is_empty() && *s != "or")
        .map(|s| {
            s.parse::<u16>()
                .map_err(|e| format!("internal: bad status {s:?}: {e}"))
        })
        .collect()
}

fn parse_words(list: &str) -> Vec<&str> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty() && *s != "or")
        .collect()
}

/// The run's shared client (registered once); steps that need a client of their own register it.
#[given("a registered client")]
async fn a_registered_client(w: &mut GatewayWorld) -> StepResult {
    w.ensure_client().await.map(|_| ())
}

#[given("an access token for the owned agent")]
async fn an_access_token(w: &mut GatewayWorld) -> StepResult {
    w.obtain_tokens(Agent::Owned).await.map(|_| ())
}

#[then(expr = "the response status is {int}")]
async fn status_is(w: &mut GatewayWorld, status: u16) -> StepResult {
    expect_status(w, &[status])
}

#[then(expr = "the response status is one of {string}")]
async fn status_is_one_of(w: &mut GatewayWorld, list: String) -> StepResult {
    expect_status(w, &parse_statuses(&list)?)
}

/// `Then the OAuth error is "invalid_grant" with status 400`.
#[then(expr = "the OAuth error is {string} with status {int}")]
async fn oauth_error_is(w: &mut GatewayWorld, error: String, status: u16) -> StepResult {
    expect_oauth_error(w, &[status], &[&error])
}

/// `Then the OAuth error is one of "invalid_grant, invalid_request" with status 400`.
#[then(expr = "the OAuth error is one of {string} with status {int}")]
async fn oauth_error_is_one_of(w: &mut GatewayWorld, errors: String, status: u16) -> StepResult {
    expect_oauth_error(w, &[status], &parse_words(&errors))
}

#[then("no token is issued")]
async fn no_token(w: &mut GatewayWorld) -> StepResult {
    expect_no_token(w)
}

#[then(expr = "the response has the header {string}")]
async fn has_header(w: &mut GatewayWorld, name: String) -> StepResult {
    let ex = w.last_exchange()?;
    match ex.response()?.header(&name) {
        Some(_) => Ok(()),
        None => Err(format!("{} has no {name} header", ex.line())),
    }
}

#[then(expr = "the response is JSON with Content-Type application\\/json")]
async fn is_json(w: &mut GatewayWorld) -> StepResult {
    let ex = w.last_exchange()?;
    let resp = ex.response()?;
    if resp.media_type().as_deref() != Some("application/json") {
        return Err(format!(
            "{}: Content-Type is {:?}, not application/json",
            ex.line(),
            resp.header("content-type")
        ));
    }
    w.last_json().map(|_| ())
}

/// OAuth 2.1 §3.2.3: responses carrying credentials are not stored by caches.
#[then("the response forbids caching")]
async fn no_store(w: &mut GatewayWorld) -> StepResult {
    let ex = w.last_exchange()?;
    let resp = ex.response()?;
    let cc = resp.header("cache-control").unwrap_or("");
    if resp.forbids_caching() {
        Ok(())
    } else {
        Err(format!(
            "{}: Cache-Control is {cc:?}, without no-store",
            ex.line()
        ))
    }
}
