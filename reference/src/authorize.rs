//! `GET /oauth/authorize`: the authorization endpoint (OAuth 2.1 §4.1.1, RFC 7636 §4.3,
//! RFC 8707 §2.1, RFC 9207).
//!
//! Processing, in this order:
//! 1. `client_id` must name a registered client and `redirect_uri` must be one of its redirect
//!    URIs, compared as exact strings except for the port of loopback URIs (OAuth 2.1 §4.1.1,
//!    "Loopback Interface Redirection"). If either fails the user sees an [`ErrorPage`]: OAuth 2.1
//!    §4.1.2.1 says the server "MUST NOT automatically redirect the user agent to the invalid
//!    redirection URI", because that would make the gateway an open redirector for phishing.
//! 2. Every other error is sent back to that validated URI with `error`, `error_description`,
//!    `state` and `iss` (§4.1.2.1, RFC 9207 §2): repeated parameters, `response_type` other than
//!    `code`, PKCE missing or not `S256`, `resource` unknown (`invalid_target`).
//! 3. On success the request is stored server-side as a [`PendingAuthorization`] and the browser
//!    is sent (303) to the login page with the pending id; a cookie binds the login to this
//!    browser. Nothing about the request travels in the URL but that id.
//!
//! Invariant: no CORS headers on this endpoint (OAuth 2.1 §3.1: it is not for scripts).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::config::{MAX_STATE_LENGTH, PENDING_AUTHORIZATION_TTL, SCOPE, is_loopback_host};
use crate::error::{ErrorCode, ErrorPage};
use crate::form::Params;
use crate::pkce::CodeChallenge;
use crate::resource::Resource;
use crate::secrets::{random_token, sha256_hex};
use crate::state::{AppState, ClientIp};
use crate::store::{PendingAuthorization, RegisteredClient, StoreError};

/// Cookie that identifies the browser across `/oauth/authorize` and the login page.
pub const BROWSER_COOKIE: &str = "mcp_gw_browser";

/// `GET /oauth/authorize`
pub async fn authorize(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(limited) = state.limiters.check_authorization(ip) {
        let wait = limited.retry_after.unwrap_or(60);
        let mut page = ErrorPage::new(
            ErrorCode::TemporarilyUnavailable,
            "Too many sign-in attempts from your network. Wait a minute and try again.",
        )
        .with_status(StatusCode::TOO_MANY_REQUESTS)
        .into_response();
        page.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return page;
    }
    let params = Params::parse(query.unwrap_or_default().as_bytes());

    // Step 1: client and redirect URI. Failures here render a page and never redirect.
    let client = match client_of(&state, &params).await {
        Ok(client) => client,
        Err(page) => {
            if fault!(UnknownClientErrorRedirect)
                && let Some(back) = back_to_requested(&state, &params)
            {
                return back.send(ErrorCode::InvalidClient, "unknown client_id");
            }
            return page.into_response();
        }
    };
    let redirect_uri = match validated_redirect_uri(&client, &params) {
        Ok(uri) => uri,
        Err(page) => {
            if fault!(ErrorRedirectToUnregisteredUri)
                && let Some(back) = back_to_requested(&state, &params)
            {
                return back.send(ErrorCode::InvalidRequest, "redirect_uri is not registered");
            }
            return page.into_response();
        }
    };

    // Step 2: everything else is reported to the client through its redirect URI.
    let back = ErrorRedirect {
        redirect_uri: redirect_uri.clone(),
        state: params.get("state").map(str::to_owned),
        issuer: state.config.issuer.clone(),
    };
    if let Some(name) = params
        .repeated()
        .iter()
        .find(|n| n.as_str() != "resource" && !fault!(RepeatedParamsAccepted))
    {
        return back.send(
            ErrorCode::InvalidRequest,
            &format!(
                "parameter {} must not be repeated (OAuth 2.1 section 3.1)",
                crate::error::describe_value(name)
            ),
        );
    }
    if params
        .get("state")
        .is_some_and(|s| s.len() > MAX_STATE_LENGTH)
    {
        return back.send(
            ErrorCode::InvalidRequest,
            &format!("state must not be longer than {MAX_STATE_LENGTH} bytes"),
        );
    }
    match params.get("response_type") {
        None if fault!(ResponseTypeDefaultsToCode) => {}
        None => return back.send(ErrorCode::InvalidRequest, "response_type is required"),
        Some("code") => {}
        Some(types)
            if fault!(ResponseTypeCodeTokenAccepted) && types.split(' ').any(|t| t == "code") => {}
        Some(_) => {
            return back.send(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            );
        }
    }
    let code_challenge = match CodeChallenge::parse(
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        Ok(challenge) => challenge,
        Err(e) => return back.send(ErrorCode::InvalidRequest, e.description()),
    };
    if params.is_repeated("resource") {
        return back.send(
            ErrorCode::InvalidTarget,
            "only one resource may be requested per authorization",
        );
    }
    let resource = match params.get("resource") {
        None if fault!(ResourceRequired) => {
            return back.send(ErrorCode::InvalidTarget, "resource is required");
        }
        None => None,
        Some(raw) => match Resource::parse(&state.config, raw) {
            Some(resource) => Some(resource),
            None => {
                return back.send(
                    ErrorCode::InvalidTarget,
                    "resource must be the MCP URL of one of this gateway's agents",
                );
            }
        },
    };

    // Step 3: park the request and send the user to the login page.
    let (request_id, csrf_token) = match (random_token(32), random_token(32)) {
        (Ok(id), Ok(csrf)) => (id, csrf),
        _ => {
            return back.send(
                ErrorCode::ServerError,
                "the server could not start the login",
            );
        }
    };
    let browser_id = match browser_id(&headers) {
        Some(id) => id,
        None => match random_token(32) {
            Ok(id) => id,
            Err(_) => {
                return back.send(
                    ErrorCode::ServerError,
                    "the server could not start the login",
                );
            }
        },
    };
    let now = state.clock.now();
    let pending = PendingAuthorization {
        client_id: client.client_id.clone(),
        client_name: client.client_name.clone(),
        redirect_uri,
        state: back.state.clone(),
        code_challenge,
        resource,
        // The gateway defines one scope; whatever else is asked is ignored (RFC 6749 §3.3), and
        // the token response says what was granted.
        scope: match params.get("scope") {
            Some(requested) if fault!(UnknownScopeGranted) => requested.to_owned(),
            _ => SCOPE.to_owned(),
        },
        csrf_token,
        browser_binding: sha256_hex(&browser_id),
        failed_logins: 0,
        expires_at: now.after(PENDING_AUTHORIZATION_TTL),
    };
    match state.store.insert_pending(&request_id, pending, now).await {
        Ok(()) => {}
        Err(StoreError::Full) => {
            return back.send(
                ErrorCode::TemporarilyUnavailable,
                "too many sign-ins in progress; try again shortly",
            );
        }
    }
    tracing::info!(client_id = %client.client_id, "authorization request accepted; login pending");

    let location = format!(
        "{}?request_id={}",
        state.config.url("/oauth/login"),
        request_id
    );
    let mut response = see_other(&location);
    // Set (or refresh) the cookie every time, so it outlives the pending request it binds.
    {
        let secure = if state.config.issuer.starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        let cookie = if fault!(LoginCookieScriptReadable) {
            format!(
                "{BROWSER_COOKIE}={browser_id}; Path=/oauth; Max-Age={}{secure}",
                PENDING_AUTHORIZATION_TTL.as_secs()
            )
        } else {
            format!(
                "{BROWSER_COOKIE}={browser_id}; Path=/oauth; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                PENDING_AUTHORIZATION_TTL.as_secs()
            )
        };
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    response
}

/// Faults only: an error redirect to the `redirect_uri` the request names, validated or not.
fn back_to_requested(state: &AppState, params: &Params) -> Option<ErrorRedirect> {
    Some(ErrorRedirect {
        redirect_uri: params.get("redirect_uri")?.to_owned(),
        state: params.get("state").map(str::to_owned),
        issuer: state.config.issuer.clone(),
    })
}

async fn client_of(state: &AppState, params: &Params) -> Result<RegisteredClient, ErrorPage> {
    if params.is_repeated("client_id") {
        return Err(ErrorPage::new(
            ErrorCode::InvalidRequest,
            "The request names more than one client_id.",
        ));
    }
    let client_id = params.get("client_id").ok_or_else(|| {
        ErrorPage::new(ErrorCode::InvalidRequest, "The request has no client_id.")
    })?;
    state.store.client(client_id).await.ok_or_else(|| {
        ErrorPage::new(
            ErrorCode::InvalidClient,
            "The application is not registered with this gateway (unknown client_id).",
        )
    })
}

/// OAuth 2.1 §4.1.1: `redirect_uri` may be omitted only if the client registered exactly one.
fn validated_redirect_uri(client: &RegisteredClient, params: &Params) -> Result<String, ErrorPage> {
    if params.is_repeated("redirect_uri") {
        return Err(ErrorPage::new(
            ErrorCode::InvalidRequest,
            "The request names more than one redirect_uri.",
        ));
    }
    match params.get("redirect_uri") {
        None => match client.redirect_uris.as_slice() {
            [only] => Ok(only.clone()),
            [first, ..] if fault!(RedirectUriOmittedFirstRegistered) => Ok(first.clone()),
            _ => Err(ErrorPage::new(
                ErrorCode::InvalidRequest,
                "redirect_uri is required because the application registered several.",
            )),
        },
        Some(requested) => {
            if client
                .redirect_uris
                .iter()
                .any(|registered| redirect_uri_matches(registered, requested))
            {
                Ok(requested.to_owned())
            } else {
                Err(ErrorPage::new(
                    ErrorCode::InvalidRequest,
                    "The redirect_uri is not registered for this application.",
                ))
            }
        }
    }
}

/// OAuth 2.1 §4.1.1 / RFC 3986 §6.2.1: simple string comparison, except that for loopback redirect
/// URIs the port is ignored ("Loopback Interface Redirection"; Claude Code registers
/// `http://localhost/callback` and listens on an ephemeral port). Scheme, host, path and query must
/// still be identical.
///
/// The loopback comparison works on parsed components, and the requested URI must be in the
/// canonical form a URL parser gives it: the redirect goes to the parsed URL, so a raw string that
/// parses into something else (`http://localhost:1\x/callback` has the path `/x/callback`) must
/// not match.
pub fn redirect_uri_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    if fault!(RedirectUriPrefixMatch) && requested.starts_with(registered) {
        return true;
    }
    if fault!(LoopbackPortExact) {
        return false;
    }
    if fault!(RedirectUriNormalizedMatch)
        && let (Ok(a), Ok(b)) = (Url::parse(registered), Url::parse(requested))
        && a == b
    {
        return true;
    }
    match (
        loopback_without_port(registered),
        loopback_without_port(requested),
    ) {
        (Some(a), Some(b)) => a == b && is_canonical(requested),
        _ => false,
    }
}

/// `http://{host}{path}?{query}` of an `http` URI on a loopback host, without its port; `None`
/// for anything else.
fn loopback_without_port(uri: &str) -> Option<String> {
    let url = Url::parse(uri).ok()?;
    let host = url.host_str()?;
    if ((url.scheme() != "http" || !is_loopback_host(host)) && !fault!(RedirectUriPortIgnored))
        || !url.username().is_empty()
        || url.password().is_some()
        || url.fragment().is_some()
    {
        return None;
    }
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    Some(format!("{}://{host}{}{query}", url.scheme(), url.path()))
}

/// Whether `uri` is exactly what parsing and serialising it gives back.
fn is_canonical(uri: &str) -> bool {
    Url::parse(uri).is_ok_and(|url| url.as_str() == uri)
}

/// An error response sent to a validated redirect URI (OAuth 2.1 §4.1.2.1).
#[derive(Debug, Clone)]
pub struct ErrorRedirect {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub issuer: String,
}

impl ErrorRedirect {
    /// `302 Found`, for errors of the authorization request itself (a GET).
    pub fn send(&self, code: ErrorCode, description: &str) -> Response {
        self.send_with(code, description, StatusCode::FOUND)
    }

    /// `303 See Other`, for errors after the login form's POST, so the browser follows it with a
    /// GET and never re-posts the password (OAuth 2.1 §7.5.3, "HTTP 307 Redirect").
    pub fn send_after_post(&self, code: ErrorCode, description: &str) -> Response {
        self.send_with(code, description, StatusCode::SEE_OTHER)
    }

    fn send_with(&self, code: ErrorCode, description: &str, status: StatusCode) -> Response {
        let mut params = vec![("error", code.as_str()), ("error_description", description)];
        if let Some(state) = &self.state
            && !fault!(ErrorRedirectDropsState)
        {
            params.push(("state", state));
        }
        let issuer = if fault!(IssTrailingSlash) {
            format!("{}/", self.issuer)
        } else {
            self.issuer.clone()
        };
        if !fault!(IssMissingOnError) {
            params.push(("iss", &issuer));
        }
        redirect_to_client(&self.redirect_uri, &params, status)
    }
}

/// Redirect to a validated redirect URI with `params` appended to its query, keeping any query it
/// already has (OAuth 2.1 §4.1.2).
pub fn redirect_to_client(
    redirect_uri: &str,
    params: &[(&str, &str)],
    status: StatusCode,
) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        // Unreachable for a registered URI (validated at registration); fail closed.
        return ErrorPage::new(ErrorCode::ServerError, "The redirect URI cannot be used.")
            .with_status(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
    };
    if fault!(RedirectReplacesQuery) {
        url.set_query(None);
    }
    url.query_pairs_mut().extend_pairs(params);
    redirect(url.as_str(), status)
}

/// `303 See Other` to `location`.
pub fn see_other(location: &str) -> Response {
    redirect(location, StatusCode::SEE_OTHER)
}

fn redirect(location: &str, status: StatusCode) -> Response {
    let mut response = status.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The browser id from the `Cookie` header, if it has one.
pub fn browser_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == BROWSER_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authz_03_exact_match_otherwise() {
        let registered = "https://app.example/cb";
        assert!(redirect_uri_matches(registered, "https://app.example/cb"));
        for bad in [
            "https://app.example/cb/",
            "https://app.example/cb?x=1",
            "http://app.example/cb",
            "https://APP.example/cb",
            "https://app.example/cbx",
            "https://app.example:443/cb",
            "https://app.example.evil.example/cb",
        ] {
            assert!(!redirect_uri_matches(registered, bad), "{bad}");
        }
    }

    #[test]
    fn authz_04_loopback_any_port_same_scheme_host_path() {
        let registered = "http://localhost:1234/callback";
        assert!(redirect_uri_matches(
            registered,
            "http://localhost:5555/callback"
        ));
        assert!(redirect_uri_matches(
            registered,
            "http://localhost/callback"
        ));
        assert!(redirect_uri_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:49152/cb"
        ));
        assert!(redirect_uri_matches(
            "http://[::1]:80/cb?a=1",
            "http://[::1]:8080/cb?a=1"
        ));
        for bad in [
            "http://localhost:5555/other",
            "http://127.0.0.1:5555/callback",
            "https://localhost:5555/callback",
            "http://localhost:5555/callback?x",
            "http://localhost.evil.example:5555/callback",
            "http://localhost:5555\\x/callback",
            "http://localhost:5555\\@evil.example/callback",
            "http://LOCALHOST:5555/callback",
            "http://localhost:5555/./callback",
        ] {
            assert!(!redirect_uri_matches(registered, bad), "{bad}");
        }
        // The port exception is for loopback only.
        assert!(!redirect_uri_matches(
            "https://app.example:8443/cb",
            "https://app.example:9443/cb"
        ));
    }

    #[test]
    fn authz_07_redirect_keeps_existing_query_and_encodes_state() {
        let response = redirect_to_client(
            "http://localhost:5173/callback?tenant=a",
            &[("code", "c"), ("state", "a b&c=d/é")],
            StatusCode::SEE_OTHER,
        );
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()[header::LOCATION].to_str().unwrap();
        let url = Url::parse(location).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            vec![
                ("tenant".into(), "a".into()),
                ("code".into(), "c".into()),
                ("state".into(), "a b&c=d/é".into()),
            ]
        );
    }
}
