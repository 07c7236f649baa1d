//! The user agent of the authorization steps: how an authorization request is run, and where in
//! its exchanges a redirect went.
//!
//! Two ways through an authorization request:
//! - [`run`] with a full login hands the URL to the profile's login driver, like
//!   [`GatewayWorld::authorize`], but stops at any `redirect_uri` (the world's method only knows
//!   the profile's). Requests the target should refuse go this way too with the form driver, so a
//!   refusal deferred until after the login is still seen.
//! - [`walk`] is a plain browser that only follows `GET` redirects, with a cookie jar, up to the
//!   first page, and submits nothing. It is used where no person or script should be asked to log
//!   in (a request the target should refuse, under the `command` and `interactive` drivers) and
//!   where reaching the login page is the whole check.
//!
//! Nothing here judges: the steps read [`GatewayWorld::evidence`] with [`points_at`] and
//! [`login_form`].

use url::Url;

use crate::http::{Exchange, Request, Response};
pub use crate::login::form::Jar;
use crate::login::form::{ParsedForm, parse_forms, visible_text};
use crate::login::{AuthorizationOutcome, LoginAction, is_redirect_uri, redirect_outcome};
use crate::profile::DriverKind;
use crate::world::GatewayWorld;

/// Redirects a plain walk follows before it gives up.
const MAX_HOPS: usize = 10;

/// How far the user agent goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// Through the login, by the profile's driver: the user acts.
    Login(LoginAction),
    /// A request the target should refuse: through the login with the form driver, else a
    /// [`walk`] that stops at the first page.
    Refusal,
}

/// The authorization URL for `params`: the discovered `authorization_endpoint`, or `endpoint`.
pub fn authorization_url(
    w: &GatewayWorld,
    endpoint: Option<Url>,
    params: &[(String, String)],
) -> Result<Url, String> {
    let mut url = match endpoint {
        Some(u) => u,
        None => w.ctx.discovered.endpoint("authorization_endpoint")?,
    };
    {
        let mut q = url.query_pairs_mut();
        for (n, v) in params {
            q.append_pair(n, v);
        }
    }
    Ok(url)
}

/// Runs the authorization request `url` as deep as `depth` says, stopping at a redirect to
/// `stop`. Every exchange goes to the World's evidence; the outcome (or why there is none) is
/// returned and, when there is one, kept in `w.outcome`.
pub async fn run(
    w: &mut GatewayWorld,
    url: &Url,
    params: Vec<(String, String)>,
    stop: &Url,
    depth: Depth,
) -> Result<AuthorizationOutcome, String> {
    let form_driver = matches!(w.ctx.profile.driver, DriverKind::Form);
    let result = match depth {
        Depth::Refusal if !form_driver => walk(w, url, stop, &mut Jar::default()).await,
        Depth::Refusal => w.drive_login(url, stop, LoginAction::Approve).await,
        Depth::Login(action) => w.drive_login(url, stop, action).await,
    };
    w.authorization_params = params;
    w.outcome = result.as_ref().ok().cloned();
    if let Some(code) = result.as_ref().ok().and_then(AuthorizationOutcome::code) {
        w.ctx.redactor.register(code);
    }
    result
}

/// Follows `GET` redirects from `url` with the cookies of `jar` until a page, or a redirect to
/// `stop`; the page is `w.last`.
pub async fn walk(
    w: &mut GatewayWorld,
    url: &Url,
    stop: &Url,
    jar: &mut Jar,
) -> Result<AuthorizationOutcome, String> {
    let mut current = url.clone();
    for _ in 0..MAX_HOPS {
        let mut req = Request::get(current.as_str());
        if let Some(cookies) = jar.header_for(&current) {
            req = req.header("Cookie", cookies);
        }
        let exchange = w.send(req).await.clone();
        let resp = exchange.response()?;
        jar.store(&current, resp.headers_named("set-cookie"));
        if !resp.is_redirect() {
            return Ok(AuthorizationOutcome::Page {
                status: resp.status,
                url: current,
                excerpt: visible_text(&resp.body, 200),
            });
        }
        let location = exchange
            .location()
            .ok_or_else(|| format!("{} without a usable Location header", exchange.line()))?;
        if is_redirect_uri(&location, stop) {
            return Ok(redirect_outcome(location, Some(resp.status)));
        }
        if !matches!(location.scheme(), "http" | "https") {
            return Err(format!(
                "{} redirects to {location}, which a browser would not fetch over HTTP",
                exchange.line()
            ));
        }
        current = location;
    }
    Err(format!(
        "no page after {MAX_HOPS} redirects (a redirect loop?)"
    ))
}

/// Whether `candidate` is where `target` points: same scheme, host, port and path, and every
/// query parameter of `target` present (a response adds its own parameters to the query).
pub fn points_at(candidate: &Url, target: &Url) -> bool {
    is_redirect_uri(candidate, target)
        && target
            .query_pairs()
            .all(|pair| candidate.query_pairs().any(|p| p == pair))
}

/// Like [`points_at`], but any port matches when `target` is a loopback `http` URI (OAuth 2.1
/// "Loopback Interface Redirection": such a client may listen on any port).
pub fn points_at_client(candidate: &Url, target: &Url) -> bool {
    if is_loopback_http(target) {
        candidate.scheme() == target.scheme()
            && candidate.host_str() == target.host_str()
            && candidate.path() == target.path()
    } else {
        points_at(candidate, target)
    }
}

/// Whether `url` is an `http` URI on a loopback host (`localhost`, `127.0.0.1`, `[::1]`).
pub fn is_loopback_http(url: &Url) -> bool {
    url.scheme() == "http" && matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

/// Every `Location` of the World's exchanges, resolved, with its exchange.
pub fn redirects(w: &GatewayWorld) -> impl Iterator<Item = (Url, &Exchange)> {
    w.evidence
        .iter()
        .filter_map(|ex| ex.location().map(|loc| (loc, ex)))
}

/// The login form of a page: a 2xx page with a form that asks for a password.
pub fn login_form(resp: &Response, url: &Url) -> Option<ParsedForm> {
    if !(200..300).contains(&resp.status) {
        return None;
    }
    parse_forms(&resp.body, url)
        .into_iter()
        .find(ParsedForm::has_password)
}

/// `scheme://host:port/path?name&name`: where a redirect went, without parameter values (a code
/// among them).
pub fn short_url(url: &Url) -> String {
    let mut s = format!("{}{}", url.origin().ascii_serialization(), url.path());
    if url.cannot_be_a_base() {
        s = format!("{}:{}", url.scheme(), url.path());
    }
    let names: Vec<String> = url.query_pairs().map(|(n, _)| n.into_owned()).collect();
    if !names.is_empty() {
        s.push('?');
        s.push_str(&names.join("&"));
    }
    s
}

/// `METHOD origin/path → status`, for messages (the query of an authorization request is long).
pub fn short_line(ex: &Exchange) -> String {
    let target = Url::parse(&ex.request.url)
        .map(|u| format!("{}{}", u.origin().ascii_serialization(), u.path()))
        .unwrap_or_else(|_| ex.request.url.clone());
    match &ex.response {
        Some(r) => format!("{} {target} → {}", ex.request.method, r.status),
        None => format!("{} {target} → no response", ex.request.method),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn points_at_needs_the_targets_query() {
        let target = u("http://127.0.0.1:8976/callback?x=1");
        assert!(points_at(
            &u("http://127.0.0.1:8976/callback?code=c&x=1"),
            &target
        ));
        assert!(!points_at(
            &u("http://127.0.0.1:8976/callback?code=c"),
            &target
        ));
        assert!(!points_at(
            &u("http://127.0.0.1:8976/callback/?x=1"),
            &target
        ));
        assert!(!points_at(
            &u("https://127.0.0.1:8976/callback?x=1"),
            &target
        ));
    }

    #[test]
    fn loopback_clients_listen_on_any_port() {
        let registered = u("http://127.0.0.1:49152/callback");
        assert!(points_at_client(
            &u("http://127.0.0.1:8976/callback?code=c"),
            &registered
        ));
        assert!(!points_at_client(
            &u("http://localhost:8976/callback?code=c"),
            &registered
        ));
        let https = u("https://app.example:8443/cb");
        assert!(!points_at_client(&u("https://app.example:9443/cb"), &https));
        assert!(is_loopback_http(&u("http://[::1]:80/cb")));
        assert!(!is_loopback_http(&u("https://localhost/cb")));
    }
}
