//! Steps of `features/registration.feature`: RFC 7591 dynamic client registration of public
//! clients, at the discovered `registration_endpoint` (and, for the guide's statements, at its
//! fixed `/oauth/register`).
//!
//! A registration starts from the honest MCP client's metadata ([`GatewayWorld::client_metadata`])
//! with one member set or removed, or from a body written out in the feature (what real clients
//! send). The `Then` steps read the last exchange. A target that answers `401`/`403` (it wants an
//! initial access token, which RFC 7591 §3 allows) or `429` leaves every check but DCR-01
//! NOT-TESTABLE rather than failed.
//!
//! This module holds the `When` steps and the helpers that read a registration answer;
//! [`verdicts`] the `Then` steps.

mod verdicts;

use cucumber::gherkin::Step;
use cucumber::when;
use serde_json::{Map, Value, json};

use super::NOT_TESTABLE;
use super::http::brief;
use crate::http::{Exchange, Request};
use crate::login::AuthorizationOutcome;
use crate::world::{GatewayWorld, StepResult};

/// `saved` keys of the two registrations of DCR-08.
const FIRST_ID: &str = "first client_id";
const SECOND_ID: &str = "second client_id";
/// Fewer differing characters than this between two client_ids looks like a counter.
const MIN_ID_DISTANCE: usize = 8;

// ---- When: registrations -----------------------------------------------------------------------

#[when("a client registers as an MCP client would")]
async fn register_honest(w: &mut GatewayWorld) -> StepResult {
    let metadata = w.client_metadata();
    w.register(&metadata).await.map(|_| ())
}

/// `value` is JSON when it parses as JSON (`'["https://x/cb"]'`), else a string (`"none"`).
#[when(expr = "a client registers with {word} set to {string}")]
async fn register_with(w: &mut GatewayWorld, member: String, value: String) -> StepResult {
    let mut metadata = w.client_metadata();
    let value = serde_json::from_str(&value).unwrap_or(Value::String(value));
    metadata[member.as_str()] = value;
    w.register(&metadata).await.map(|_| ())
}

#[when(expr = "a client registers without {word}")]
async fn register_without(w: &mut GatewayWorld, member: String) -> StepResult {
    let mut metadata = w.client_metadata();
    if let Some(m) = metadata.as_object_mut() {
        m.remove(&member);
    }
    w.register(&metadata).await.map(|_| ())
}

#[when("a client registers with the metadata below")]
async fn register_docstring(w: &mut GatewayWorld, step: &Step) -> StepResult {
    let text = step
        .docstring
        .as_deref()
        .ok_or("internal: the step needs a doc string with the JSON body")?;
    let metadata: Value = serde_json::from_str(text)
        .map_err(|e| format!("internal: the doc string is not JSON: {e}"))?;
    w.register(&metadata).await.map(|_| ())
}

#[when(expr = "a client sends the registration body {string} as {word}")]
async fn register_raw(w: &mut GatewayWorld, body: String, content_type: String) -> StepResult {
    let endpoint = w.ctx.discovered.endpoint("registration_endpoint")?;
    w.send(Request::post(endpoint.as_str()).raw_body(&content_type, body))
        .await;
    Ok(())
}

#[when("a client registers twice with the same client_name")]
async fn register_twice(w: &mut GatewayWorld) -> StepResult {
    for key in [FIRST_ID, SECOND_ID] {
        let metadata = w.client_metadata();
        w.register(&metadata).await?;
        let (_, json) = registered(w, "DCR-08")?;
        let id = client_id(&json).ok_or("DCR-08: a registration response has no client_id")?;
        w.saved.insert(key.to_owned(), id);
    }
    Ok(())
}

/// The guide's Step 1 body, verbatim.
fn guide_example() -> Value {
    json!({
        "client_name": "my-mcp-client",
        "redirect_uris": ["http://localhost:5173/callback"]
    })
}

#[when("a client posts the guide's registration example to /oauth/register")]
async fn register_guide(w: &mut GatewayWorld) -> StepResult {
    post_guide(w, guide_example()).await
}

#[when(
    expr = "a client posts the guide's registration example to \\/oauth\\/register with token_endpoint_auth_method {string}"
)]
async fn register_guide_method(w: &mut GatewayWorld, method: String) -> StepResult {
    let mut body = guide_example();
    body["token_endpoint_auth_method"] = Value::String(method);
    post_guide(w, body).await
}

async fn post_guide(w: &mut GatewayWorld, body: Value) -> StepResult {
    let base = w.ctx.profile.base_url.as_str().trim_end_matches('/');
    w.send(Request::post(format!("{base}/oauth/register")).json(&body))
        .await;
    Ok(())
}

// ---- Helpers -----------------------------------------------------------------------------------

/// The last exchange, unless the target refused it for reasons the suite cannot satisfy.
fn answer(w: &GatewayWorld) -> Result<Exchange, String> {
    let ex = w.last_exchange()?.clone();
    let status = ex.response()?.status;
    match status {
        401 | 403 => Err(format!(
            "{NOT_TESTABLE}{} demands credentials for registration (an initial access token, RFC 7591 §3)",
            ex.line()
        )),
        429 => Err(format!(
            "{NOT_TESTABLE}{} rate-limited the registration",
            ex.line()
        )),
        _ => Ok(ex),
    }
}

/// The last exchange as a successful registration: 2xx with a JSON object body. `req` prefixes
/// the error (none when empty).
fn registered(w: &GatewayWorld, req: &str) -> Result<(Exchange, Value), String> {
    let ex = answer(w)?;
    let resp = ex.response()?;
    let req = if req.is_empty() {
        String::new()
    } else {
        format!("{req}: ")
    };
    if !(200..300).contains(&resp.status) {
        return Err(format!(
            "{req}the registration was refused: {} {}",
            ex.line(),
            brief(&resp.body)
        ));
    }
    let json = resp.json().filter(Value::is_object).ok_or_else(|| {
        format!(
            "{req}{} answered a body that is not a JSON object",
            ex.line()
        )
    })?;
    Ok((ex, json))
}

fn client_id(json: &Value) -> Option<String> {
    json.get("client_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// DCR-03: no secret, and `token_endpoint_auth_method` registered as `none`.
fn expect_public(ex: &Exchange, json: &Value) -> StepResult {
    if json.get("client_secret").is_some() {
        return Err(format!(
            "DCR-03: {} issued a client_secret to a public-only registration",
            ex.line()
        ));
    }
    match json
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
    {
        Some("none") => Ok(()),
        other => Err(format!(
            "DCR-03: the response says token_endpoint_auth_method {other:?}, not \"none\" (RFC 7591 §3.2.1: the registered value is echoed, and absent means client_secret_basic)"
        )),
    }
}

/// Member `name` of the JSON the exchange sent.
fn sent_member(ex: &Exchange, name: &str) -> Option<Value> {
    let body: Map<String, Value> = serde_json::from_str(ex.request.body.as_deref()?).ok()?;
    body.get(name).cloned()
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// Whether two JSON arrays hold the same strings (order aside).
fn same_strings(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a.and_then(strings), b.and_then(strings)) {
        (Some(mut a), Some(mut b)) => {
            a.sort();
            b.sort();
            a == b
        }
        _ => false,
    }
}

fn saved_ids(w: &GatewayWorld) -> Result<(String, String), String> {
    match (w.saved.get(FIRST_ID), w.saved.get(SECOND_ID)) {
        (Some(a), Some(b)) => Ok((a.clone(), b.clone())),
        _ => Err("internal: the two registrations were not made".into()),
    }
}

/// Characters that differ position by position, plus the difference in length.
fn id_distance(a: &str, b: &str) -> usize {
    let differing = a.chars().zip(b.chars()).filter(|(x, y)| x != y).count();
    differing + a.chars().count().abs_diff(b.chars().count())
}

/// An authorization request was accepted: a code, or a page that is no error (the login page).
fn expect_accepted(outcome: &AuthorizationOutcome) -> StepResult {
    match outcome {
        AuthorizationOutcome::Redirect { .. } if outcome.code().is_some() => Ok(()),
        AuthorizationOutcome::Redirect { .. } => Err(format!(
            "the authorization request was refused: {}",
            outcome.describe()
        )),
        AuthorizationOutcome::Page { status, .. } if *status < 400 => Ok(()),
        AuthorizationOutcome::Page { .. } => Err(format!(
            "the authorization request was refused: {}",
            outcome.describe()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_clocks_are_near_random_ids_are_far() {
        assert!(id_distance("mcp_client_9", "mcp_client_10") < MIN_ID_DISTANCE);
        assert!(id_distance("client-0001", "client-0002") < MIN_ID_DISTANCE);
        assert!(
            id_distance(
                "mcp_client_Qm9vZ2xlIGlzIG5vdCBhIGJh",
                "mcp_client_ZXIgc2FuZHdpY2ggYXQgYWxs"
            ) >= MIN_ID_DISTANCE
        );
    }

    #[test]
    fn same_strings_ignores_order_not_bytes() {
        let a = json!(["http://127.0.0.1:1/cb", "https://x.example/cb"]);
        let b = json!(["https://x.example/cb", "http://127.0.0.1:1/cb"]);
        assert!(same_strings(Some(&a), Some(&b)));
        let c = json!(["https://x.example/cb/", "http://127.0.0.1:1/cb"]);
        assert!(!same_strings(Some(&a), Some(&c)));
        assert!(!same_strings(Some(&a), None));
    }
}
