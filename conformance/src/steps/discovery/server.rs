//! Discovery steps at the authorization server (RFC 8414): its metadata at the issuer's
//! well-known URI, what the metadata must say (exact `issuer`, absolute endpoints), whether it
//! tells the truth (`iss` in authorization responses, CIMD or registration), and the paths older
//! clients fall back to.

use cucumber::{then, when};
use serde_json::Value;
use url::Url;

use super::{ASM_SCHEMA, last_metadata, metadata_object, schema_violations};
use crate::discovery::asm_candidates;
use crate::http::Request;
use crate::login::AuthorizationOutcome;
use crate::steps::http::brief;
use crate::world::{Agent, GatewayWorld, StepResult};

// ---- The authorization server metadata --------------------------------------------------------

/// RFC 8414 §3.1: the metadata of `authorization_servers[0]` at its well-known URI; MCP also
/// accepts OpenID Connect discovery, tried in the order clients try it.
#[when("the client fetches the authorization server metadata of the issuer")]
async fn fetch_asm(w: &mut GatewayWorld) -> StepResult {
    let issuer = w.ctx.discovered.issuer.clone().ok_or_else(|| {
        format!(
            "DISC-09: no issuer: the protected resource metadata names no authorization server ({})",
            w.ctx.discovered.problems.join("; ")
        )
    })?;
    let issuer_url =
        Url::parse(&issuer).map_err(|e| format!("DISC-09: issuer {issuer:?} is not a URL: {e}"))?;
    let mut first = None;
    for url in asm_candidates(&issuer_url) {
        let ex = w.send(Request::get(url.as_str())).await.clone();
        if metadata_object(&ex).is_ok() {
            return Ok(());
        }
        first.get_or_insert(ex);
    }
    // None answered: the RFC 8414 attempt is the one to judge.
    w.last = first;
    Ok(())
}

#[then("the authorization server metadata is valid RFC 8414 metadata")]
async fn asm_valid(w: &mut GatewayWorld) -> StepResult {
    let doc = Value::Object(last_metadata(w).map_err(|e| format!("DISC-09: {e}"))?);
    let errors = schema_violations(ASM_SCHEMA, &doc)?;
    if errors.is_empty() {
        return Ok(());
    }
    Err(format!(
        "DISC-09: not valid RFC 8414 metadata: {}",
        errors.join("; ")
    ))
}

/// RFC 8414 §3.3, MCP 2026-07-28: `issuer` equals, byte for byte, the issuer the well-known URI
/// was built from, which is the resource metadata's `authorization_servers[0]`; RFC 8414 §2: no
/// query, no fragment.
#[then("the authorization server metadata issuer is identical to authorization_servers[0]")]
async fn issuer_identical(w: &mut GatewayWorld) -> StepResult {
    let doc = last_metadata(w).map_err(|e| format!("DISC-10: {e}"))?;
    let expected = w
        .ctx
        .discovered
        .issuer
        .clone()
        .ok_or("DISC-10: the protected resource metadata names no authorization server")?;
    let issuer = match doc.get("issuer") {
        Some(Value::String(s)) => s.clone(),
        other => return Err(format!("DISC-10: issuer is {other:?}, not a string")),
    };
    if issuer != expected {
        return Err(format!(
            "DISC-10: issuer {issuer:?} is not identical to authorization_servers[0] {expected:?}; clients reject the metadata (RFC 8414 §3.3)"
        ));
    }
    if issuer.contains('?') || issuer.contains('#') {
        return Err(format!(
            "DISC-10: issuer {issuer:?} has a query or fragment (RFC 8414 §2)"
        ));
    }
    Ok(())
}

/// RFC 8414 §2, RFC 6749 §3.1-§3.2: every endpoint (and `jwks_uri`) is an absolute http(s) URL
/// without a fragment; the TypeScript SDK parses each without a base.
#[then("every endpoint in the authorization server metadata is an absolute URL")]
async fn endpoints_absolute(w: &mut GatewayWorld) -> StepResult {
    let doc = last_metadata(w).map_err(|e| format!("DISC-11: {e}"))?;
    let mut bad = Vec::new();
    for (name, value) in &doc {
        if !(name.ends_with("_endpoint") || name == "jwks_uri") {
            continue;
        }
        let ok = value
            .as_str()
            .and_then(|s| Url::parse(s).ok())
            .is_some_and(|u| {
                matches!(u.scheme(), "https" | "http")
                    && u.host().is_some()
                    && u.fragment().is_none()
            });
        if !ok {
            bad.push(format!("{name}: {value}"));
        }
    }
    if bad.is_empty() {
        return Ok(());
    }
    Err(format!(
        "DISC-11: not absolute http(s) URLs without a fragment: {}",
        bad.join(", ")
    ))
}

/// A fresh authorization response from an approved, correct request (one login).
#[when("the client obtains an authorization response to compare with the metadata")]
async fn obtain_response(w: &mut GatewayWorld) -> StepResult {
    w.obtain_code(Agent::Owned).await.map(|_| ())
}

/// RFC 9207 §3: `authorization_response_iss_parameter_supported` (default false) is true when,
/// and only when, authorization responses carry `iss`.
#[then("the authorization response carries iss exactly when the metadata says so")]
async fn iss_flag_truthful(w: &mut GatewayWorld) -> StepResult {
    let flag = match w
        .ctx
        .discovered
        .asm
        .as_ref()
        .and_then(|m| m.get("authorization_response_iss_parameter_supported"))
    {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(format!(
                "DISC-14: authorization_response_iss_parameter_supported is {other}, not a boolean"
            ));
        }
    };
    let outcome = w
        .outcome
        .as_ref()
        .ok_or("internal: no authorization response")?;
    let carries = match outcome {
        AuthorizationOutcome::Redirect { .. } => outcome.count("iss") > 0,
        AuthorizationOutcome::Page { .. } => {
            return Err(format!(
                "internal: no redirect to judge: {}",
                outcome.describe()
            ));
        }
    };
    match (flag, carries) {
        (true, false) => Err(format!(
            "DISC-14: the metadata says authorization responses carry iss, but this one has none ({}); clients that check it reject the response",
            outcome.describe()
        )),
        (false, true) => Err(format!(
            "DISC-14: the authorization response carries iss but the metadata does not set authorization_response_iss_parameter_supported to true ({})",
            outcome.describe()
        )),
        _ => Ok(()),
    }
}

/// MCP 2026-07-28 "Client Registration": the AS SHOULD support Client ID Metadata Documents and
/// say so with `client_id_metadata_document_supported: true`; without it clients fall back to
/// dynamic registration, which must then work. A DCR-only gateway is legal but misses the SHOULD.
/// The suite cannot host a metadata document, so an advertised `true` is taken at its word.
#[then("the authorization server metadata claims CIMD support, or else registration works")]
async fn cimd_or_registration(w: &mut GatewayWorld) -> StepResult {
    let doc = last_metadata(w).map_err(|e| format!("DISC-15: {e}"))?;
    match doc.get("client_id_metadata_document_supported") {
        Some(Value::Bool(true)) => return Ok(()),
        None | Some(Value::Bool(false)) => {}
        Some(other) => {
            return Err(format!(
                "DISC-15: client_id_metadata_document_supported is {other}, not a boolean"
            ));
        }
    }
    if !doc.contains_key("registration_endpoint") {
        return Err(
            "DISC-15: neither Client ID Metadata Documents nor a registration_endpoint: clients have no way to register"
                .into(),
        );
    }
    // A DCR-only gateway (the guide's design) leaves the SHOULD unmet on purpose; what clients
    // need is a way to register, so that is what is judged.
    match w.register_client().await {
        Ok(_) => Ok(()),
        // A rate limit says nothing about whether clients can register: NOT-TESTABLE, not WARN.
        Err(e) if e.starts_with(crate::steps::NOT_TESTABLE) => Err(e),
        Err(e) => Err(format!(
            "DISC-15: no Client ID Metadata Documents, and dynamic registration fails: {e}"
        )),
    }
}

// ---- Fallback paths (MCP 2025-03-26 clients, Claude Code) -------------------------------------

/// Probes what older or buggy clients try when discovery fails, at the MCP URL's origin.
#[when("the client probes the paths older clients fall back to")]
async fn probe_fallbacks(w: &mut GatewayWorld) -> StepResult {
    let mcp = w.ctx.discovered.mcp_url.clone();
    let path = mcp.path().trim_end_matches('/').to_owned();
    let at = |p: &str| -> Result<String, String> {
        mcp.join(p)
            .map(|u| u.to_string())
            .map_err(|e| format!("internal: {p:?}: {e}"))
    };
    let random = crate::pkce::random_string(12, b"0123456789abcdef");
    let probes = vec![
        Request::get(at(&format!(
            "/.well-known/oauth-authorization-server{path}"
        ))?),
        Request::get(at(&format!("/.well-known/openid-configuration{path}"))?),
        Request::get(at(&format!("{path}/.well-known/openid-configuration"))?),
        Request::get(at("/authorize")?),
        Request::post(at("/token")?).form(&[("grant_type", "authorization_code")]),
        Request::post(at("/register")?).json(&serde_json::json!({})),
        Request::get(at(&format!("/no-such-path-{random}"))?),
    ];
    let count = probes.len();
    for probe in probes {
        w.send(probe).await;
    }
    w.saved.insert("fallback_probes".into(), count.to_string());
    Ok(())
}

/// DISC-17 (MAY): a path that is served (any status but 404) is an alias and fine; a 404 carries a
/// JSON body, because clients parse error bodies as JSON.
#[then("every probed path that is not served answers a JSON 404")]
async fn fallbacks_json(w: &mut GatewayWorld) -> StepResult {
    let count: usize = w
        .saved
        .get("fallback_probes")
        .and_then(|c| c.parse().ok())
        .ok_or("internal: no probes were sent")?;
    let start = w.evidence.len().saturating_sub(count);
    let mut bad = Vec::new();
    for ex in &w.evidence[start..] {
        let resp = ex.response()?;
        if resp.status == 404 && resp.json().is_none() {
            bad.push(format!(
                "{} with {:?}: {}",
                ex.line(),
                resp.header("content-type").unwrap_or("no Content-Type"),
                brief(&resp.body)
            ));
        }
    }
    if bad.is_empty() {
        return Ok(());
    }
    Err(format!(
        "DISC-17: 404s without a JSON body break clients that parse them: {}",
        bad.join("; ")
    ))
}
