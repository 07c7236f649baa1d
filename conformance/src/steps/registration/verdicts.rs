//! The `Then` steps of `features/registration.feature`: what a registration answer must say
//! (RFC 7591 §3.2.1, §3.2.2; the guide's Step 1) and whether the registered client works.

use cucumber::then;
use serde_json::Value;
use url::Url;

use super::{
    MIN_ID_DISTANCE, answer, client_id, expect_accepted, expect_public, id_distance, registered,
    same_strings, saved_ids, sent_member, strings,
};
use crate::login::LoginAction;
use crate::profile::DriverKind;
use crate::steps::NOT_TESTABLE;
use crate::steps::authorize::user_agent::{self, Depth, Jar};
use crate::steps::http::brief;
use crate::world::{Agent, ClientInfo, GatewayWorld, StepResult};

// ---- Then: the answer --------------------------------------------------------------------------

/// DCR-01: RFC 7591 §3, registration without an initial access token.
#[then("the registration succeeds without credentials")]
async fn open_registration(w: &mut GatewayWorld) -> StepResult {
    let ex = w.last_exchange()?;
    let resp = ex.response()?;
    match resp.status {
        200..=299 => match resp.json().as_ref().and_then(client_id) {
            Some(_) => Ok(()),
            None => Err(format!(
                "DCR-01: {} has no client_id: {}",
                ex.line(),
                brief(&resp.body)
            )),
        },
        401 | 403 => Err(format!(
            "DCR-01: {} demands credentials (an initial access token), which MCP clients do not have",
            ex.line()
        )),
        429 => Err(format!(
            "{NOT_TESTABLE}{} rate-limited the registration",
            ex.line()
        )),
        _ => Err(format!(
            "DCR-01: {} refused an MCP client's registration: {}",
            ex.line(),
            brief(&resp.body)
        )),
    }
}

/// DCR-02: RFC 7591 §3.2.1, `201 Created` and a `client_id`.
#[then("the registration is answered 201 Created with a client_id")]
async fn answered_201(w: &mut GatewayWorld) -> StepResult {
    let (ex, json) = registered(w, "DCR-02")?;
    let status = ex.response()?.status;
    if status != 201 {
        return Err(format!(
            "DCR-02: {} answered {status}, not 201 Created (RFC 7591 §3.2.1)",
            ex.line()
        ));
    }
    client_id(&json)
        .map(|_| ())
        .ok_or_else(|| format!("DCR-02: {} has no client_id string", ex.line()))
}

/// Any successful registration (2xx, a `client_id`), for checks that are not about DCR-02's
/// status code.
#[then("a client is registered")]
async fn is_registered(w: &mut GatewayWorld) -> StepResult {
    let (ex, json) = registered(w, "")?;
    client_id(&json)
        .map(|_| ())
        .ok_or_else(|| format!("{} has no client_id string", ex.line()))
}

/// DCR-02: the registered `redirect_uris` come back, byte for byte (the TypeScript SDK needs
/// them; exact matching at the authorization endpoint compares against them).
#[then("the registration response echoes the redirect_uris")]
async fn echoes_redirect_uris(w: &mut GatewayWorld) -> StepResult {
    let (ex, json) = registered(w, "DCR-02")?;
    let sent = sent_member(&ex, "redirect_uris");
    let got = json.get("redirect_uris").cloned();
    if same_strings(sent.as_ref(), got.as_ref()) {
        Ok(())
    } else {
        Err(format!(
            "the response's redirect_uris {} are not the ones registered {}",
            got.map(|v| v.to_string())
                .unwrap_or_else(|| "(absent)".into()),
            sent.map(|v| v.to_string())
                .unwrap_or_else(|| "(absent)".into())
        ))
    }
}

/// DCR-03: a public client, no secret.
#[then("the client is registered as a public client")]
async fn public_client(w: &mut GatewayWorld) -> StepResult {
    let (ex, json) = registered(w, "DCR-03")?;
    expect_public(&ex, &json)
}

/// DCR-03: RFC 7591 §3.2.1 lets the server replace the method with `none`, or refuse it.
#[then("the client is registered as a public client or refused with invalid_client_metadata")]
async fn public_or_refused(w: &mut GatewayWorld) -> StepResult {
    let ex = answer(w)?;
    let resp = ex.response()?;
    let json = resp.json().unwrap_or(Value::Null);
    if json.get("client_secret").is_some() {
        return Err(format!(
            "DCR-03: {} issued a client_secret to a public-only registration",
            ex.line()
        ));
    }
    match resp.status {
        200..=299 => expect_public(&ex, &json),
        400 if json.get("error").and_then(Value::as_str) == Some("invalid_client_metadata") => {
            Ok(())
        }
        _ => Err(format!(
            "DCR-03: expected a public client (2xx, token_endpoint_auth_method none) or 400 invalid_client_metadata, got {}: {}",
            ex.line(),
            brief(&resp.body)
        )),
    }
}

/// DCR-04 / DCR-05: a refusal registers nothing.
#[then("no client is registered")]
async fn nothing_registered(w: &mut GatewayWorld) -> StepResult {
    let ex = answer(w)?;
    let resp = ex.response()?;
    let json = resp.json().unwrap_or(Value::Null);
    if (200..300).contains(&resp.status) || client_id(&json).is_some() {
        return Err(format!(
            "{} registered the client (client_id {:?}) instead of refusing the metadata",
            ex.line(),
            client_id(&json)
        ));
    }
    Ok(())
}

/// DCR-07: RFC 7591 §3.2.1, the echo holds what the server actually registered.
#[then("the registered grant_types and response_types are ones the server supports")]
async fn supported_types(w: &mut GatewayWorld) -> StepResult {
    let (_, json) = registered(w, "DCR-07")?;
    let advertised = |member: &str| -> Option<Vec<String>> {
        w.ctx
            .discovered
            .asm
            .as_ref()?
            .get(member)?
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
    };
    let checks = [
        ("grant_types", "grant_types_supported", "authorization_code"),
        ("response_types", "response_types_supported", "code"),
    ];
    for (member, supported_member, needed) in checks {
        let Some(value) = json.get(member) else {
            continue;
        };
        let list = strings(value).ok_or_else(|| {
            format!("DCR-07: {member} in the response is not an array of strings: {value}")
        })?;
        if !list.iter().any(|g| g == needed) {
            return Err(format!(
                "DCR-07: the registered {member} {list:?} lack {needed}"
            ));
        }
        if let Some(supported) = advertised(supported_member)
            && let Some(extra) = list.iter().find(|g| !supported.contains(g))
        {
            return Err(format!(
                "DCR-07: the registration echoes {member} {extra:?}, which the metadata's {supported_member} {supported:?} does not list"
            ));
        }
    }
    Ok(())
}

/// DCR-07: an unsupported type is refused (`invalid_client_metadata`) or not registered.
#[then(expr = "the registration refuses {string} or leaves it out of {word}")]
async fn refuses_or_drops(w: &mut GatewayWorld, value: String, member: String) -> StepResult {
    let ex = answer(w)?;
    let resp = ex.response()?;
    let json = resp.json().unwrap_or(Value::Null);
    match resp.status {
        200..=299 => {
            let echoed = json.get(&member).and_then(strings).unwrap_or_default();
            if echoed.contains(&value) {
                Err(format!(
                    "DCR-07: the registration echoes {member} {echoed:?}, including the unsupported {value:?}"
                ))
            } else {
                Ok(())
            }
        }
        400 if json.get("error").and_then(Value::as_str) == Some("invalid_client_metadata") => {
            Ok(())
        }
        _ => Err(format!(
            "DCR-07: expected 400 invalid_client_metadata or a registration without {value:?}, got {}: {}",
            ex.line(),
            brief(&resp.body)
        )),
    }
}

/// DCR-08: unique and not a counter.
#[then("the two client_ids differ and neither can be guessed from the other")]
async fn distinct_ids(w: &mut GatewayWorld) -> StepResult {
    let (a, b) = saved_ids(w)?;
    if a == b {
        return Err(format!(
            "DCR-08: both registrations got the client_id {a:?}"
        ));
    }
    let distance = id_distance(&a, &b);
    if distance < MIN_ID_DISTANCE {
        return Err(format!(
            "DCR-08: the client_ids {a:?} and {b:?} differ in only {distance} characters, like a counter or a clock; they should be random"
        ));
    }
    Ok(())
}

/// DCR-08: each id is accepted by the authorization endpoint (it reaches the login, or a code).
#[then("an authorization request is accepted for each of the two client_ids")]
async fn both_usable(w: &mut GatewayWorld) -> StepResult {
    let (a, b) = saved_ids(w)?;
    let redirect_uri = w.ctx.profile.redirect_uri.clone();
    for id in [a, b] {
        w.client = Some(ClientInfo {
            client_id: id.clone(),
            redirect_uri: redirect_uri.clone(),
            response: Value::Null,
        });
        let params = w.authorization_request(Agent::Owned).await?;
        let url = user_agent::authorization_url(w, None, &params)?;
        let outcome = user_agent::walk(w, &url, &redirect_uri, &mut Jar::default()).await?;
        expect_accepted(&outcome).map_err(|e| format!("DCR-08: client_id {id:?}: {e}"))?;
    }
    Ok(())
}

/// GUIDE-01: a JSON POST to `/oauth/register` registers a client.
#[then("the registration at the guide's path returns a client_id")]
async fn guide_client_id(w: &mut GatewayWorld) -> StepResult {
    let ex = w.last_exchange()?;
    let resp = ex.response()?;
    let id = resp.json().as_ref().and_then(client_id);
    match (resp.status, id) {
        (200 | 201, Some(_)) => Ok(()),
        _ => Err(format!(
            "GUIDE-01: {} did not register the guide's example: {}",
            ex.line(),
            brief(&resp.body)
        )),
    }
}

/// GUIDE-03: the response repeats `client_name` and `redirect_uris`. A registration refused
/// outright is GUIDE-01's failure, not this statement's.
#[then("the registration response repeats the client_name and redirect_uris it was sent")]
async fn guide_echo(w: &mut GatewayWorld) -> StepResult {
    let ex = w.last_exchange()?.clone();
    let resp = ex.response()?;
    if !(200..=299).contains(&resp.status) || resp.json().as_ref().and_then(client_id).is_none() {
        return Err(format!(
            "{NOT_TESTABLE}{} registered no client (GUIDE-01 judges that)",
            ex.line()
        ));
    }
    let json = resp.json().unwrap_or(Value::Null);
    for member in ["client_name", "redirect_uris"] {
        let sent = sent_member(&ex, member);
        let got = json.get(member).cloned();
        let same = match (&sent, &got) {
            (Some(Value::String(a)), Some(Value::String(b))) => a == b,
            _ => same_strings(sent.as_ref(), got.as_ref()),
        };
        if !same {
            return Err(format!(
                "GUIDE-03: the response's {member} is {}, not the {} that was sent",
                got.map(|v| v.to_string())
                    .unwrap_or_else(|| "absent".into()),
                sent.map(|v| v.to_string()).unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// GUIDE-02: public clients only.
#[then("the registration response contains no client_secret")]
async fn no_secret(w: &mut GatewayWorld) -> StepResult {
    let ex = w.last_exchange()?;
    let json = ex.response()?.json().unwrap_or(Value::Null);
    if json.get("client_secret").is_some() {
        Err(format!(
            "GUIDE-02: {} returned a client_secret; the guide supports public clients only",
            ex.line()
        ))
    } else {
        Ok(())
    }
}

/// INTEROP-01: what the TypeScript SDK (any 2xx, `redirect_uris` required by its schema) and the
/// Python SDK (200 or 201; no secret-based method without a secret) accept.
#[then("the registration is accepted as MCP clients expect")]
async fn accepted_by_clients(w: &mut GatewayWorld) -> StepResult {
    let (ex, json) = registered(w, "INTEROP-01")?;
    let status = ex.response()?.status;
    if !matches!(status, 200 | 201) {
        return Err(format!(
            "INTEROP-01: {} answered {status}; the Python SDK accepts 200 or 201",
            ex.line()
        ));
    }
    if client_id(&json).is_none() {
        return Err(format!("INTEROP-01: {} has no client_id", ex.line()));
    }
    if json
        .get("redirect_uris")
        .and_then(strings)
        .is_none_or(|v| v.is_empty())
    {
        return Err(format!(
            "INTEROP-01: {} has no redirect_uris, which the TypeScript SDK's schema requires",
            ex.line()
        ));
    }
    let method = json
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str);
    if method.is_some_and(|m| m != "none") && json.get("client_secret").is_none() {
        return Err(format!(
            "INTEROP-01: the client was registered with token_endpoint_auth_method {method:?} but no client_secret, which the Python SDK rejects as unusable"
        ));
    }
    Ok(())
}

/// INTEROP-01: the `client_id` works: a code for the registered `redirect_uri`, redeemed as a
/// public client. (With the interactive driver nobody listens on that URI: reaching the login is
/// the check.)
#[then("the registered client completes the authorization code flow")]
async fn completes_flow(w: &mut GatewayWorld) -> StepResult {
    let (ex, json) = registered(w, "INTEROP-01")?;
    let id = client_id(&json).ok_or("INTEROP-01: no client_id")?;
    let redirect = sent_member(&ex, "redirect_uris")
        .as_ref()
        .and_then(strings)
        .and_then(|v| v.into_iter().next())
        .ok_or("internal: the registration sent no redirect_uris")?;
    let redirect_uri =
        Url::parse(&redirect).map_err(|e| format!("internal: redirect_uri {redirect:?}: {e}"))?;
    w.client = Some(ClientInfo {
        client_id: id,
        redirect_uri: redirect_uri.clone(),
        response: json,
    });
    let params = w.authorization_request(Agent::Owned).await?;
    let url = user_agent::authorization_url(w, None, &params)?;
    if matches!(w.ctx.profile.driver, DriverKind::Interactive { .. }) {
        let outcome = user_agent::walk(w, &url, &redirect_uri, &mut Jar::default()).await?;
        return expect_accepted(&outcome).map_err(|e| format!("INTEROP-01: {e}"));
    }
    let outcome = user_agent::run(
        w,
        &url,
        params,
        &redirect_uri,
        Depth::Login(LoginAction::Approve),
    )
    .await?;
    let code = outcome.code().map(str::to_owned).ok_or_else(|| {
        format!(
            "INTEROP-01: the authorization request gave no code: {}",
            outcome.describe()
        )
    })?;
    let params = w.code_redemption(&code)?;
    w.token_request(&params).await?;
    w.take_tokens()
        .map(|_| ())
        .map_err(|e| format!("INTEROP-01: {e}"))
}
