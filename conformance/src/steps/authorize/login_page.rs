//! The login page in front of the authorization endpoint (AUTHZ-12; MCP security best practices,
//! "Consent UI Requirements" and "Consent Cookie Security"): framing, caching, what it tells the
//! user, its cookies and its CSRF protection. The page is inspected as the form driver sees it.

use cucumber::{then, when};
use serde_json::Value;
use url::Url;

use super::user_agent::{self, Jar, short_line};
use super::verdicts::{expect_no_code_to_client, reached_target};
use crate::login::{AuthorizationOutcome, is_redirect_uri};
use crate::pkce;
use crate::profile::DriverKind;
use crate::steps::http::brief;
use crate::steps::{NOT_APPLICABLE, NOT_TESTABLE};
use crate::world::{Agent, GatewayWorld, StepResult};

// ---- The login page (AUTHZ-12) ---------------------------------------------------------------

#[when("the user agent opens the login page of an authorization request")]
async fn open_login_page(w: &mut GatewayWorld) -> StepResult {
    open_login(w, &mut Jar::default()).await.map(|_| ())
}

#[then("the login page forbids framing")]
async fn forbids_framing(w: &mut GatewayWorld) -> StepResult {
    let ex = w.last_exchange()?;
    let resp = ex.response()?;
    let xfo = resp.header("x-frame-options").map(str::trim);
    if xfo.is_some_and(|v| v.eq_ignore_ascii_case("deny") || v.eq_ignore_ascii_case("sameorigin")) {
        return Ok(());
    }
    for csp in resp.headers_named("content-security-policy") {
        for directive in csp.split(';') {
            let mut parts = directive.split_whitespace();
            if parts
                .next()
                .is_some_and(|d| d.eq_ignore_ascii_case("frame-ancestors"))
            {
                let sources: Vec<&str> = parts.collect();
                let open = sources
                    .iter()
                    .any(|s| *s == "*" || s.ends_with(':') || s.contains("*."));
                if !sources.is_empty() && !open {
                    return Ok(());
                }
            }
        }
    }
    Err(format!(
        "AUTHZ-12: the login page can be framed (clickjacking): neither X-Frame-Options DENY or SAMEORIGIN (found {xfo:?}) nor a CSP frame-ancestors without wildcards ({})",
        short_line(ex)
    ))
}

#[then("the login page is not stored by caches")]
async fn login_no_store(w: &mut GatewayWorld) -> StepResult {
    let ex = w.last_exchange()?;
    let resp = ex.response()?;
    let cc = resp.header("cache-control").unwrap_or("");
    if resp.forbids_caching() {
        Ok(())
    } else {
        Err(format!(
            "AUTHZ-12: the login page may be stored by caches: Cache-Control is {cc:?}, without no-store ({})",
            short_line(ex)
        ))
    }
}

#[then("the login page shows the client_name and the redirect_uri host")]
async fn login_names_client(w: &mut GatewayWorld) -> StepResult {
    let client = w.client.as_ref().ok_or("internal: no client")?;
    let name = client
        .response
        .get("client_name")
        .and_then(Value::as_str)
        .unwrap_or("mcp-conformance")
        .to_owned();
    let host = client.redirect_uri.host_str().unwrap_or("").to_owned();
    let ex = w.last_exchange()?;
    let text = crate::login::form::visible_text(&ex.response()?.body, 20_000).to_lowercase();
    let mut missing = Vec::new();
    if !text.contains(&name.to_lowercase()) {
        missing.push(format!("the client_name {name:?}"));
    }
    if !text.contains(&host.to_lowercase()) {
        missing.push(format!("the redirect_uri host {host:?}"));
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "AUTHZ-12: the login page does not show {} (MCP security best practices, consent UI; {})",
            missing.join(" nor "),
            short_line(ex)
        ))
    }
}

#[then("the cookies set on the way to the login page are HttpOnly and SameSite")]
async fn cookies_protected(w: &mut GatewayWorld) -> StepResult {
    let https = w
        .ctx
        .discovered
        .issuer
        .as_deref()
        .is_some_and(|i| i.starts_with("https://"));
    for ex in &w.evidence {
        let Some(resp) = &ex.response else { continue };
        for cookie in resp.headers_named("set-cookie") {
            let attrs: Vec<String> = cookie
                .split(';')
                .skip(1)
                .map(|a| a.trim().to_ascii_lowercase().replace(' ', ""))
                .collect();
            let name = cookie.split('=').next().unwrap_or("").trim();
            let deleting = attrs.iter().any(|a| a == "max-age=0");
            let mut problems = Vec::new();
            if !attrs.iter().any(|a| a == "httponly") {
                problems.push("HttpOnly");
            }
            if !attrs
                .iter()
                .any(|a| a == "samesite=lax" || a == "samesite=strict")
            {
                problems.push("SameSite=Lax or Strict");
            }
            if https && !attrs.iter().any(|a| a == "secure") {
                problems.push("Secure");
            }
            if !deleting && !problems.is_empty() {
                return Err(format!(
                    "AUTHZ-12: the cookie {name} is set without {} (MCP security best practices, consent cookie security; {})",
                    problems.join(", "),
                    short_line(ex)
                ));
            }
        }
    }
    Ok(())
}

/// What the user agent changes in the login form it posts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tamper {
    /// AUTHZ-12: the CSRF field, replaced by a random value.
    CsrfToken,
    /// AUTHZ-14: the profile's username with a random password.
    WrongPassword,
    /// AUTHZ-14: a random username with the profile's password.
    UnknownUser,
}

impl Tamper {
    fn describe(self) -> &'static str {
        match self {
            Tamper::CsrfToken => "a login form with a tampered CSRF token",
            Tamper::WrongPassword => "a login with the profile's username and a wrong password",
            Tamper::UnknownUser => "a login with an unknown username",
        }
    }
}

/// Where [`Tamper::describe`] is kept for the verdict.
const TAMPERED: &str = "login form tampered";

/// AUTHZ-12: the form the page served, posted with its CSRF field changed.
#[when("the user submits the login form with a tampered CSRF token")]
async fn tampered_csrf(w: &mut GatewayWorld) -> StepResult {
    submit_tampered(w, Tamper::CsrfToken).await
}

/// AUTHZ-14 (RFC 6749 §3.1: the authorization server MUST first verify the identity of the
/// resource owner): the real form, with a wrong password.
#[when("the user submits the login form with a wrong password")]
async fn wrong_password(w: &mut GatewayWorld) -> StepResult {
    submit_tampered(w, Tamper::WrongPassword).await
}

/// AUTHZ-14: the real form, with a username nobody has.
#[when("the user submits the login form with an unknown username")]
async fn unknown_user(w: &mut GatewayWorld) -> StepResult {
    submit_tampered(w, Tamper::UnknownUser).await
}

/// Opens the login page of an honest authorization request, fills its form as the profile's user
/// would except for `tamper`, approves, and follows the answer towards the client.
async fn submit_tampered(w: &mut GatewayWorld, tamper: Tamper) -> StepResult {
    w.saved
        .insert(TAMPERED.to_owned(), tamper.describe().to_owned());
    let mut jar = Jar::default();
    let page_url = open_login(w, &mut jar).await?;
    let form = user_agent::login_form(w.last_response()?, &page_url)
        .ok_or("internal: the login page has no login form")?;
    let is_csrf = |name: &str| {
        let n = name.to_ascii_lowercase();
        n.contains("csrf") || n.contains("xsrf") || n == "authenticity_token" || n == "_token"
    };
    if tamper == Tamper::CsrfToken
        && !form
            .fields
            .iter()
            .any(|f| f.kind == "hidden" && is_csrf(&f.name))
    {
        return Err(format!(
            "{NOT_TESTABLE}the login form has no hidden field that looks like a CSRF token (fields: {})",
            form.fields
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let p = &w.ctx.profile;
    let (mut username, mut password) = match (&p.username, &p.password) {
        (Some(u), Some(pw)) => (u.clone(), pw.clone()),
        _ => {
            return Err(format!(
                "{NOT_TESTABLE}set login.username and login.password"
            ));
        }
    };
    match tamper {
        Tamper::CsrfToken => {}
        Tamper::WrongPassword => {
            password = format!("wrong-{}", pkce::random_string(20, pkce::UNRESERVED));
        }
        Tamper::UnknownUser => {
            username = format!("nobody-{}", pkce::random_string(12, pkce::UNRESERVED));
        }
    }
    let user_field = p.username_field.clone().or_else(|| {
        form.fields
            .iter()
            .find(|f| matches!(f.kind.as_str(), "text" | "email"))
            .map(|f| f.name.clone())
    });
    let mut pairs: Vec<(String, String)> = form
        .fields
        .iter()
        .map(|f| {
            let value = if tamper == Tamper::CsrfToken && f.kind == "hidden" && is_csrf(&f.name) {
                pkce::random_string(f.value.len().max(32), pkce::UNRESERVED)
            } else if f.kind == "password" {
                password.clone()
            } else if Some(&f.name) == user_field.as_ref() {
                username.clone()
            } else {
                f.value.clone()
            };
            (f.name.clone(), value)
        })
        .collect();
    let deny_words = ["deny", "cancel", "reject", "decline"];
    if let Some((Some(name), value, _)) = form.submits.iter().find(|(n, v, l)| {
        let text = format!("{} {v} {l}", n.as_deref().unwrap_or("")).to_ascii_lowercase();
        !deny_words.iter().any(|d| text.contains(d))
    }) {
        pairs.push((name.clone(), value.clone()));
    }
    let mut req = crate::http::Request::post(form.action.as_str()).form(&pairs);
    if let Some(c) = jar.header_for(&form.action) {
        req = req.header("Cookie", c);
    }
    let ex = w.send(req).await.clone();
    let stop = w.ctx.profile.redirect_uri.clone();
    if let (Some(resp), Some(loc)) = (&ex.response, ex.location()) {
        jar.store(&form.action, resp.headers_named("set-cookie"));
        if !is_redirect_uri(&loc, &stop) && matches!(loc.scheme(), "http" | "https") {
            let _ = user_agent::walk(w, &loc, &stop, &mut jar).await;
        }
    }
    Ok(())
}

/// AUTHZ-12 / AUTHZ-14: nothing the user agent was sent to carries a code for the client.
#[then("no authorization code is sent to the client")]
async fn no_code_sent(w: &mut GatewayWorld) -> StepResult {
    reached_target(w)?;
    let what = w
        .saved
        .get(TAMPERED)
        .cloned()
        .unwrap_or_else(|| "the request".to_owned());
    expect_no_code_to_client(w, &what)
}

/// Walks an honest authorization request to its login page; returns the page URL (the page is
/// `w.last`). The page is only judged as served to the form driver.
async fn open_login(w: &mut GatewayWorld, jar: &mut Jar) -> Result<Url, String> {
    if !matches!(w.ctx.profile.driver, DriverKind::Form) {
        return Err(format!(
            "{NOT_TESTABLE}the login page is inspected over plain HTTP only with the form login driver"
        ));
    }
    let params = w.authorization_request(Agent::Owned).await?;
    let url = user_agent::authorization_url(w, None, &params)?;
    let stop = w.ctx.profile.redirect_uri.clone();
    w.authorization_params = params;
    let outcome = user_agent::walk(w, &url, &stop, jar).await?;
    match outcome {
        AuthorizationOutcome::Page { url, .. } => {
            if user_agent::login_form(w.last_response()?, &url).is_some() {
                Ok(url)
            } else {
                Err(format!(
                    "{NOT_TESTABLE}the authorization request did not lead to a page with a password form ({})",
                    outcome_line(w)
                ))
            }
        }
        redirect if redirect.code().is_some() => Err(format!(
            "{NOT_APPLICABLE}the target answers with a code at once, without a login page"
        )),
        redirect => Err(format!(
            "an honest authorization request was refused: {}",
            redirect.describe()
        )),
    }
}

fn outcome_line(w: &GatewayWorld) -> String {
    w.last
        .as_ref()
        .map(|ex| {
            format!(
                "{}: {}",
                ex.line(),
                ex.response
                    .as_ref()
                    .map(|r| brief(&r.body))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_default()
}
