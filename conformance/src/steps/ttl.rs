//! Steps of `features/ttl.feature`: how long authorization codes and access tokens live, judged
//! by letting time pass on the gateway (OAuth 2.1 "Authorization Response": codes expire shortly;
//! MCP security considerations "Token Theft": short-lived access tokens; the guide: codes 120 s,
//! access tokens 3600 s).
//!
//! Time passes through [`Context::advance`](crate::context::Context::advance) only: a jump of the
//! reference's test clock (the runner then holds the time gate alone, so nothing else is in flight
//! while the gateway's time moves) or, with `--slow`, a real wait. This module never sleeps by
//! itself. Lifetimes are measured from the moment the client received the token, relative to the
//! token's own `iat`/`exp` (or `expires_in`), never against the suite's wall clock, so a target
//! whose clock is skewed is judged correctly.
//!
//! [`pass_time`] is the one way steps let time pass; [`expect_mcp_accepts`] is shared with
//! [`refresh`](super::refresh).

use std::time::Duration;

use cucumber::{given, then, when};
use serde_json::Value;

use crate::context::TimeMode;
use crate::discovery;
use crate::http::Request;
use crate::jwt;
use crate::steps::NOT_TESTABLE;
use crate::steps::http::{brief, expect_oauth_error};
use crate::world::{Agent, GatewayWorld, StepResult, Tokens};
use crate::www_authenticate;

/// The longest access-token lifetime SEC-04 still calls short: one day. MCP only says "short-lived"
/// (an hour is the common choice); beyond a day a stolen token is useful for too long.
pub const SHORT_LIVED_MAX_SECONDS: i64 = 86_400;

/// `saved` keys of this module.
const CODE: &str = "ttl: authorization code";
const ADVANCED: &str = "ttl: seconds advanced";
const RECEIVED_MS: &str = "ttl: token received (ms after start)";
const LIFETIME: &str = "ttl: access token lifetime";

/// Lets `seconds` pass on the gateway's clock; no way to move time is NOT-TESTABLE. With the test
/// clock, the clock's new reading joins the evidence.
pub async fn pass_time(w: &mut GatewayWorld, seconds: u64) -> StepResult {
    w.ctx
        .advance(Duration::from_secs(seconds))
        .await
        .map_err(|e| format!("{NOT_TESTABLE}{e}"))?;
    if let TimeMode::Hook(hook) = &w.ctx.time {
        let read = Request::get(hook.as_str());
        w.send(read).await;
    }
    let before: u64 = w
        .saved
        .get(ADVANCED)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    w.saved
        .insert(ADVANCED.to_owned(), (before + seconds).to_string());
    Ok(())
}

/// Sends an MCP `initialize` for the owned agent with `token` and checks that it got through
/// authentication (a 2xx answer); `Err` starts with `prefix`.
pub async fn expect_mcp_accepts(w: &mut GatewayWorld, token: &str, prefix: &str) -> StepResult {
    let body = discovery::initialize_body();
    let ex = w.mcp_call(Agent::Owned, Some(token), &body).await?;
    let resp = ex.response()?;
    if (200..300).contains(&resp.status) {
        return Ok(());
    }
    Err(format!(
        "{prefix}expected the MCP endpoint to accept the access token (2xx), got {}{}: {}",
        ex.line(),
        resp.header("www-authenticate")
            .map(|c| format!(" with WWW-Authenticate {c:?}"))
            .unwrap_or_default(),
        brief(&resp.body)
    ))
}

/// The lifetime a token response states, in seconds: `exp - iat` of a JWT access token (what a
/// resource server enforces), else `expires_in`.
pub fn stated_lifetime(tokens: &Tokens) -> Result<i64, String> {
    match jwt::decode_unverified(&tokens.access_token) {
        Ok(d) => match (d.claim_i64("iat"), d.claim_i64("exp")) {
            (Some(iat), Some(exp)) => Ok(exp - iat),
            _ => Err("the access token is a JWT without numeric iat and exp (RFC 9068 §2.2)".into()),
        },
        Err(_) => tokens.expires_in.ok_or_else(|| {
            "the access token is opaque and the token response has no expires_in, so its lifetime is unknown"
                .to_owned()
        }),
    }
}

/// GUIDE-07: `expires_in` is `want`.
fn check_expires_in(tokens: &Tokens, want: i64) -> StepResult {
    match tokens.json.get("expires_in") {
        Some(v) if v.as_i64() == Some(want) => Ok(()),
        Some(v) => Err(format!(
            "GUIDE-07: the token response says expires_in {v}, not {want}"
        )),
        None => Err(format!(
            "GUIDE-07: the token response has no expires_in (the guide's tokens live {want} s)"
        )),
    }
}

/// GUIDE-07: a JWT access token has `exp - iat == want`; an opaque one is judged by `expires_in`
/// alone (the other step), so it passes here.
fn check_jwt_lifetime(access_token: &str, want: i64) -> StepResult {
    let Ok(d) = jwt::decode_unverified(access_token) else {
        return Ok(());
    };
    match (d.claim_i64("iat"), d.claim_i64("exp")) {
        (Some(iat), Some(exp)) if exp - iat == want => Ok(()),
        (Some(iat), Some(exp)) => Err(format!(
            "GUIDE-07: the access token's exp - iat is {} s (iat {iat}, exp {exp}), not {want}",
            exp - iat
        )),
        (iat, exp) => Err(format!(
            "GUIDE-07: the access token is a JWT without numeric iat and exp (iat {}, exp {})",
            claim_text(&d.claims, "iat", iat),
            claim_text(&d.claims, "exp", exp)
        )),
    }
}

fn claim_text(claims: &Value, name: &str, parsed: Option<i64>) -> String {
    match (parsed, claims.get(name)) {
        (Some(v), _) => v.to_string(),
        (None, Some(v)) => format!("{v} (not an integer)"),
        (None, None) => "missing".to_owned(),
    }
}

/// SEC-04: the stated lifetime is positive and at most [`SHORT_LIVED_MAX_SECONDS`].
fn check_short_lived(lifetime: i64) -> StepResult {
    if lifetime <= 0 {
        return Err(format!(
            "SEC-04: the access token's stated lifetime is {lifetime} s: it is expired on issue"
        ));
    }
    if lifetime > SHORT_LIVED_MAX_SECONDS {
        return Err(format!(
            "SEC-04: the access token lives {lifetime} s, more than a day ({SHORT_LIVED_MAX_SECONDS} s); access tokens should be short-lived"
        ));
    }
    Ok(())
}

fn saved_i64(w: &GatewayWorld, key: &str) -> Result<i64, String> {
    w.saved
        .get(key)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("internal: no {key:?} saved before this step"))
}

/// Whole seconds since the client received the token, rounded up.
fn seconds_since_received(w: &GatewayWorld) -> Result<i64, String> {
    let received = saved_i64(w, RECEIVED_MS)?;
    let now = w.started.elapsed().as_millis() as i64;
    Ok((now - received + 999).div_euclid(1000).max(0))
}

// ---- Steps ----------------------------------------------------------------------------------

/// Moves the gateway's clock (test-clock hook) or waits in real time (`--slow`).
#[given(expr = "{int} seconds pass on the gateway's clock")]
#[when(expr = "{int} seconds pass on the gateway's clock")]
async fn seconds_pass(w: &mut GatewayWorld, seconds: u64) -> StepResult {
    pass_time(w, seconds).await
}

#[given("the gateway has just issued an authorization code for the owned agent")]
async fn fresh_code(w: &mut GatewayWorld) -> StepResult {
    let code = w.obtain_code(Agent::Owned).await?;
    w.saved.insert(CODE.to_owned(), code);
    Ok(())
}

#[when("the client now redeems the authorization code")]
async fn redeem_late(w: &mut GatewayWorld) -> StepResult {
    let code = w
        .saved
        .get(CODE)
        .cloned()
        .ok_or("internal: no authorization code saved")?;
    let params = w.code_redemption(&code)?;
    w.token_request(&params).await?;
    Ok(())
}

/// GUIDE-08: a code is redeemable for its whole lifetime.
#[then("the late redemption issues an access token")]
async fn late_redemption_works(w: &mut GatewayWorld) -> StepResult {
    let age = w.saved.get(ADVANCED).cloned().unwrap_or_default();
    w.take_tokens().map(|_| ()).map_err(|e| {
        format!("GUIDE-08: a code redeemed {age} s after issue was refused (codes live 120 s): {e}")
    })
}

/// OAuth 2.1 "Authorization Response" and RFC 6749 §5.2: an expired code is `invalid_grant`.
#[then("the late redemption is refused with invalid_grant")]
async fn late_redemption_refused(w: &mut GatewayWorld) -> StepResult {
    let age = w.saved.get(ADVANCED).cloned().unwrap_or_default();
    expect_oauth_error(w, &[400], &["invalid_grant"])
        .map_err(|e| format!("a code redeemed {age} s after issue should be expired: {e}"))
}

#[given("the client has just obtained an access token for the owned agent")]
async fn fresh_access_token(w: &mut GatewayWorld) -> StepResult {
    w.obtain_tokens(Agent::Owned).await?;
    let received = w.started.elapsed().as_millis().to_string();
    w.saved.insert(RECEIVED_MS.to_owned(), received);
    w.saved.insert(ADVANCED.to_owned(), "0".to_owned());
    Ok(())
}

#[then(expr = "the access token lifetime in expires_in is {int} seconds")]
async fn expires_in_is(w: &mut GatewayWorld, want: i64) -> StepResult {
    let tokens = w.tokens.clone().ok_or("internal: no token response yet")?;
    check_expires_in(&tokens, want)
}

#[then(expr = "the access token's JWT lifetime, exp minus iat, is {int} seconds")]
async fn jwt_lifetime_is(w: &mut GatewayWorld, want: i64) -> StepResult {
    let tokens = w.tokens.clone().ok_or("internal: no token response yet")?;
    check_jwt_lifetime(&tokens.access_token, want)
}

/// SEC-04, and the lifetime the next steps wait for.
#[then("the access token's stated lifetime is at most one day")]
async fn lifetime_at_most_a_day(w: &mut GatewayWorld) -> StepResult {
    let tokens = w.tokens.clone().ok_or("internal: no token response yet")?;
    let lifetime = stated_lifetime(&tokens).map_err(|e| format!("{NOT_TESTABLE}{e}"))?;
    check_short_lived(lifetime)?;
    w.saved.insert(LIFETIME.to_owned(), lifetime.to_string());
    Ok(())
}

/// `before` must cover the time a request takes and the rounding of `iat` down to a whole
/// second; the feature says 5.
#[when(expr = "the gateway's clock reaches {int} seconds before the access token expires")]
async fn reach_before_expiry(w: &mut GatewayWorld, before: i64) -> StepResult {
    let lifetime = saved_i64(w, LIFETIME)?;
    let wait = lifetime - before - seconds_since_received(w)? - saved_i64(w, ADVANCED)?;
    if wait < 0 {
        return Err(format!(
            "{NOT_TESTABLE}the access token lives {lifetime} s, too short to use it {before} s before it expires"
        ));
    }
    pass_time(w, wait as u64).await
}

/// Past `exp` by the profile's `tokens.exp_leeway_seconds` (clock skew a resource server may
/// tolerate) and one second more.
#[when("the gateway's clock passes the access token's expiry and the profile's leeway")]
async fn pass_expiry(w: &mut GatewayWorld) -> StepResult {
    let lifetime = saved_i64(w, LIFETIME)?;
    let leeway = w.ctx.profile.exp_leeway_seconds as i64;
    // Real time since the token was received only adds to this, which is the safe direction.
    let wait = (lifetime + leeway + 1 - saved_i64(w, ADVANCED)?).max(1);
    pass_time(w, wait as u64).await
}

#[then("the access token still works at the owned agent's MCP endpoint")]
async fn still_works(w: &mut GatewayWorld) -> StepResult {
    let token = w.access_token().await?;
    let advanced = w.saved.get(ADVANCED).cloned().unwrap_or_default();
    let prefix = format!("SEC-04 (positive twin): {advanced} s after issue, before its expiry, ");
    expect_mcp_accepts(w, &token, &prefix).await
}

/// RFC 6750 §3.1: an expired token is `invalid_token`, with 401.
#[then("the owned agent's MCP endpoint refuses the expired access token with invalid_token")]
async fn refuses_expired(w: &mut GatewayWorld) -> StepResult {
    let token = w.access_token().await?;
    let advanced = w.saved.get(ADVANCED).cloned().unwrap_or_default();
    let lifetime = w.saved.get(LIFETIME).cloned().unwrap_or_default();
    let body = discovery::initialize_body();
    let ex = w.mcp_call(Agent::Owned, Some(&token), &body).await?;
    let resp = ex.response()?;
    let challenge = resp.header("www-authenticate");
    if resp.status != 401 {
        return Err(format!(
            "SEC-04: {advanced} s after issue the access token (lifetime {lifetime} s) should be expired, but {}: {}",
            ex.line(),
            brief(&resp.body)
        ));
    }
    let value = challenge.ok_or_else(|| {
        format!(
            "SEC-04: {} refuses the expired token without WWW-Authenticate (RFC 6750 §3)",
            ex.line()
        )
    })?;
    let error = www_authenticate::parse(value)
        .ok()
        .and_then(|all| all.into_iter().find(|c| c.is_bearer()))
        .and_then(|c| c.param("error").map(str::to_owned));
    match error.as_deref() {
        Some("invalid_token") => Ok(()),
        other => Err(format!(
            "SEC-04: {} refuses the expired token, but the Bearer challenge's error is {other:?}, not \"invalid_token\" (RFC 6750 §3.1): {value:?}",
            ex.line()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tokens(access_token: &str, expires_in: Option<i64>) -> Tokens {
        let mut json = json!({"access_token": access_token, "token_type": "Bearer"});
        if let Some(e) = expires_in {
            json["expires_in"] = json!(e);
        }
        Tokens {
            access_token: access_token.to_owned(),
            token_type: Some("Bearer".into()),
            expires_in,
            refresh_token: None,
            scope: None,
            json,
        }
    }

    fn jwt_with(iat: i64, exp: i64) -> String {
        jwt::sign_hs256("k", Some("at+jwt"), &json!({"iat": iat, "exp": exp})).unwrap()
    }

    #[test]
    fn guide_07_accepts_3600_and_refuses_anything_else() {
        assert!(check_expires_in(&tokens("x", Some(3600)), 3600).is_ok());
        assert!(check_expires_in(&tokens("x", Some(3599)), 3600).is_err());
        assert!(check_expires_in(&tokens("x", None), 3600).is_err());
        assert!(check_jwt_lifetime(&jwt_with(100, 3700), 3600).is_ok());
        let e = check_jwt_lifetime(&jwt_with(100, 3701), 3600).unwrap_err();
        assert!(e.starts_with("GUIDE-07: "), "{e}");
        assert!(check_jwt_lifetime(&jwt::unsigned(&json!({"exp": 5})), 3600).is_err());
        // Opaque tokens are judged by expires_in alone.
        assert!(check_jwt_lifetime("opaque-token", 3600).is_ok());
    }

    #[test]
    fn sec_04_lifetime_comes_from_the_jwt_first_and_must_be_short() {
        assert_eq!(
            stated_lifetime(&tokens(&jwt_with(10, 3610), Some(99))).unwrap(),
            3600
        );
        assert_eq!(stated_lifetime(&tokens("opaque", Some(900))).unwrap(), 900);
        assert!(stated_lifetime(&tokens("opaque", None)).is_err());
        assert!(check_short_lived(3600).is_ok());
        assert!(check_short_lived(SHORT_LIVED_MAX_SECONDS).is_ok());
        assert!(check_short_lived(SHORT_LIVED_MAX_SECONDS + 1).is_err());
        assert!(check_short_lived(0).is_err());
    }
}
