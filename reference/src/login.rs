//! The login page: where the user authenticates and approves (or denies) the client.
//!
//! `GET /oauth/login?request_id=…` renders the page for a [`PendingAuthorization`];
//! `POST /oauth/login` checks the form and, on success, issues the authorization code and sends
//! the browser back to the client (OAuth 2.1 §4.1.2) with `303 See Other`.
//!
//! Protections (MCP security best practices, "Consent UI Requirements"; OAuth 2.1 §7.5):
//! - the page names the client and the host the code will be sent to, and the agent if the
//!   client asked for one;
//! - the form carries a CSRF token bound to the pending request, and the pending request is bound
//!   to the browser that started it (cookie set by `/oauth/authorize`);
//! - `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'` against clickjacking,
//!   `Cache-Control: no-store`, `Referrer-Policy: no-referrer`;
//! - passwords are argon2 hashes, checked against a dummy hash for unknown users so that the
//!   answer and its timing do not reveal who exists; a pending request survives at most
//!   [`MAX_LOGIN_FAILURES`] failed attempts, and each client IP is rate-limited.
//!
//! Invariant: nothing here logs a password, code or CSRF token.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use url::Url;

use crate::authorize::{ErrorRedirect, browser_id, redirect_to_client};
use crate::config::{AUTHORIZATION_CODE_TTL, MAX_LOGIN_FAILURES};
use crate::error::{ErrorCode, ErrorPage};
use crate::form::Params;
use crate::resource::Resource;
use crate::secrets::{ct_eq, random_token, sha256_hex};
use crate::state::{AppState, ClientIp};
use crate::store::{AuthorizationCode, PendingAuthorization, StoreError};

/// `GET /oauth/login?request_id=…`
pub async fn login_page(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let Some(request_id) = params.get("request_id") else {
        return unknown_request().into_response();
    };
    match pending_for_browser(&state, request_id, &headers).await {
        Ok(pending) => render(&state, request_id, &pending, None, StatusCode::OK),
        Err(page) => page.into_response(),
    }
}

/// `POST /oauth/login` (form fields `request_id`, `csrf_token`, `username`, `password`,
/// `action` = `approve` | `deny`; a missing `action` means approve).
pub async fn login_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(body) = body else {
        return ErrorPage::new(
            ErrorCode::InvalidRequest,
            "The sign-in form could not be read.",
        )
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
        .into_response();
    };
    let form = Params::parse(&body);
    let Some(request_id) = form.get("request_id") else {
        return unknown_request().into_response();
    };
    let pending = match pending_for_browser(&state, request_id, &headers).await {
        Ok(pending) => pending,
        Err(page) => return page.into_response(),
    };
    let csrf_ok = fault!(LoginCsrfUnchecked)
        || form
            .get("csrf_token")
            .is_some_and(|t| ct_eq(t.as_bytes(), pending.csrf_token.as_bytes()));
    if !csrf_ok {
        return ErrorPage::new(
            ErrorCode::AccessDenied,
            "The sign-in form was not submitted from this gateway's page (CSRF check failed).",
        )
        .with_status(StatusCode::FORBIDDEN)
        .into_response();
    }
    let back = ErrorRedirect {
        redirect_uri: pending.redirect_uri.clone(),
        state: pending.state.clone(),
        issuer: state.config.issuer.clone(),
    };

    if form.get("action") == Some("deny") && !fault!(LoginDenyIgnored) {
        if state
            .store
            .take_pending(request_id, state.clock.now())
            .await
            .is_none()
        {
            return unknown_request().into_response();
        }
        tracing::info!(client_id = %pending.client_id, "user denied the authorization request");
        return back.send_after_post(ErrorCode::AccessDenied, "the user denied the request");
    }

    if let Err(limited) = state.limiters.check_login(ip) {
        let wait = limited.retry_after.unwrap_or(60);
        let mut response = render(
            &state,
            request_id,
            &pending,
            Some(&format!(
                "Too many sign-in attempts from your network. Wait {wait} seconds and try again."
            )),
            StatusCode::TOO_MANY_REQUESTS,
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return response;
    }

    let (Some(username), Some(password)) = (form.get("username"), form.get("password")) else {
        return render(
            &state,
            request_id,
            &pending,
            Some("Enter your username and password."),
            StatusCode::BAD_REQUEST,
        );
    };

    let hash = state
        .config
        .users
        .get(username)
        .map(|u| u.password_hash.clone());
    let known_user = hash.is_some();
    let hash = hash.unwrap_or_else(|| state.dummy_password_hash.to_string());
    let password_ok = (verify_password(&state, hash, password.to_owned()).await
        || fault!(LoginAnyPassword))
        && known_user;

    if !password_ok {
        let failures = state.store.record_failed_login(request_id).await;
        tracing::info!(client_id = %pending.client_id, failures, "failed login");
        if failures >= MAX_LOGIN_FAILURES {
            state
                .store
                .take_pending(request_id, state.clock.now())
                .await;
            return back
                .send_after_post(ErrorCode::AccessDenied, "too many failed sign-in attempts");
        }
        return render(
            &state,
            request_id,
            &pending,
            Some("Invalid username or password."),
            StatusCode::OK,
        );
    }

    // The user may only grant access to an agent they own.
    if let Some(Resource::Agent(agent_id)) = &pending.resource {
        let owns = state
            .config
            .agents
            .get(agent_id)
            .is_some_and(|agent| agent.owner == username);
        if !owns {
            return render(
                &state,
                request_id,
                &pending,
                Some(
                    "This account does not own the agent the application asked for. Sign in with the agent owner's account, or deny.",
                ),
                StatusCode::FORBIDDEN,
            );
        }
    }

    let now = state.clock.now();
    let Some(pending) = state.store.take_pending(request_id, now).await else {
        return unknown_request().into_response();
    };
    let (code, grant_id) = match (random_token(32), random_token(16)) {
        (Ok(code), Ok(grant)) if fault!(CodeEmbedsChallenge) => {
            let binding = serde_json::json!({
                "client_id": pending.client_id,
                "code_challenge": pending.code_challenge.as_str(),
            });
            let encoded = base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                binding.to_string(),
            );
            (format!("{code}.{encoded}"), grant)
        }
        (Ok(code), Ok(grant)) => (code, grant),
        _ => {
            return back
                .send_after_post(ErrorCode::ServerError, "the server could not issue a code");
        }
    };
    let record = AuthorizationCode {
        client_id: pending.client_id.clone(),
        redirect_uri: pending.redirect_uri.clone(),
        code_challenge: pending.code_challenge.clone(),
        username: username.to_owned(),
        resource: if fault!(CodeDropsResource) {
            None
        } else {
            pending.resource.clone()
        },
        scope: pending.scope.clone(),
        grant_id,
        issued_at: now,
        expires_at: now.after(if fault!(CodeTtlTenMinutes) {
            crate::config::PENDING_AUTHORIZATION_TTL
        } else {
            AUTHORIZATION_CODE_TTL
        }),
        consumed: false,
    };
    match state
        .store
        .insert_code(&sha256_hex(&code), record, now)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Full) => {
            return back.send_after_post(
                ErrorCode::TemporarilyUnavailable,
                "too many authorization codes outstanding; try again shortly",
            );
        }
    }
    state.store.mark_client_used(&pending.client_id).await;
    tracing::info!(client_id = %pending.client_id, user = %username, "authorization code issued");

    let mut params = vec![("code", code.as_str())];
    let encoded_state;
    if let Some(s) = &pending.state {
        if fault!(StateReencoded) {
            encoded_state = form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            params.push(("state", &encoded_state));
        } else {
            params.push(("state", s));
        }
    }
    let issuer = if fault!(IssTrailingSlash) {
        format!("{}/", state.config.issuer)
    } else {
        state.config.issuer.clone()
    };
    params.push(("iss", &issuer));
    if fault!(CodeChallengeEchoed) {
        params.push(("code_challenge", pending.code_challenge.as_str()));
    }
    let status = if fault!(SuccessRedirect307) {
        StatusCode::TEMPORARY_REDIRECT
    } else {
        StatusCode::SEE_OTHER
    };
    redirect_to_client(&pending.redirect_uri, &params, status)
}

/// Security headers of every HTML page the gateway serves (login and error pages).
pub fn page_security_headers(headers: &mut HeaderMap) {
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // No `form-action`: browsers apply it to the redirect that follows the POST, which goes to
    // the client's redirect URI.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if fault!(LoginFrameable) {
        headers.remove(header::X_FRAME_OPTIONS);
        headers.remove(header::CONTENT_SECURITY_POLICY);
    }
}

/// An argon2 hash of a random password, for constant-work checks of unknown usernames. It uses
/// the parameters of the first configured user's hash (so an unknown user costs what a known one
/// does), or the defaults when there is no user.
pub fn dummy_password_hash(config: &crate::config::Config) -> anyhow::Result<String> {
    let password = random_token(32).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let like = config
        .users
        .values()
        .next()
        .map(|u| u.password_hash.as_str());
    let hasher = match like.and_then(|h| PasswordHash::new(h).ok()) {
        Some(hash) => {
            let algorithm =
                argon2::Algorithm::try_from(hash.algorithm).map_err(|e| anyhow::anyhow!("{e}"))?;
            let version = hash
                .version
                .map(argon2::Version::try_from)
                .transpose()
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .unwrap_or_default();
            let params = argon2::Params::try_from(&hash).map_err(|e| anyhow::anyhow!("{e}"))?;
            Argon2::new(algorithm, version, params)
        }
        None => Argon2::default(),
    };
    hash_with(&hasher, &password)
}

/// Hashes a password as an argon2id PHC string with the crate's default (OWASP) parameters.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    hash_with(&Argon2::default(), password)
}

fn hash_with(hasher: &Argon2<'_>, password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = hasher
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(hash.to_string())
}

/// Checks `password` against an argon2 PHC string, off the async runtime (argon2 is
/// deliberately slow), at most [`crate::state::MAX_CONCURRENT_PASSWORD_CHECKS`] at a time (each
/// takes about 19 MiB).
async fn verify_password(state: &AppState, hash: String, password: String) -> bool {
    let Ok(_permit) = state.password_checks.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// The pending request, if it exists and this browser started it.
async fn pending_for_browser(
    state: &AppState,
    request_id: &str,
    headers: &HeaderMap,
) -> Result<PendingAuthorization, ErrorPage> {
    let pending = state
        .store
        .pending(request_id, state.clock.now())
        .await
        .ok_or_else(unknown_request)?;
    let same_browser = browser_id(headers).is_some_and(|id| {
        ct_eq(
            sha256_hex(&id).as_bytes(),
            pending.browser_binding.as_bytes(),
        )
    });
    if !same_browser {
        return Err(ErrorPage::new(
            ErrorCode::AccessDenied,
            "This sign-in must be completed in the browser that started it (the browser cookie is missing or different).",
        )
        .with_status(StatusCode::FORBIDDEN));
    }
    Ok(pending)
}

fn unknown_request() -> ErrorPage {
    ErrorPage::new(
        ErrorCode::InvalidRequest,
        "This sign-in request is unknown, was already completed, or has expired.",
    )
}

fn render(
    state: &AppState,
    request_id: &str,
    pending: &PendingAuthorization,
    message: Option<&str>,
    status: StatusCode,
) -> Response {
    let markup = page(state, request_id, pending, message);
    let mut response = (status, Html(markup.into_string())).into_response();
    page_security_headers(response.headers_mut());
    response
}

fn page(
    state: &AppState,
    request_id: &str,
    pending: &PendingAuthorization,
    message: Option<&str>,
) -> Markup {
    let client = pending
        .client_name
        .as_deref()
        .unwrap_or("An unnamed application");
    let redirect_host = Url::parse(&pending.redirect_uri)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| {
                format!(
                    "{h}{}",
                    u.port().map(|p| format!(":{p}")).unwrap_or_default()
                )
            })
        })
        .filter(|_| !fault!(LoginPageHidesRedirectHost))
        .unwrap_or_default();
    let agent = match &pending.resource {
        Some(Resource::Agent(id)) => state.config.agents.get(id).map(|a| a.name.clone()),
        _ => None,
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Sign in · " (state.config.name) }
                style { (STYLE) }
            }
            body {
                main {
                    h1 { "Sign in to " (state.config.name) }
                    p.client {
                        strong { (client) }
                        " (client " code { (pending.client_id) } ") wants to use "
                        @if let Some(agent) = &agent { "your agent " strong { (agent) } } @else { "your agents" }
                        " through the MCP gateway."
                    }
                    p.redirect {
                        "After you sign in, you will be sent back to "
                        strong { (redirect_host) }
                        ". Continue only if you started this from that application."
                    }
                    @if let Some(message) = message {
                        p.error role="alert" { (message) }
                    }
                    form method="post" action="/oauth/login" {
                        input type="hidden" name="request_id" value=(request_id);
                        input type="hidden" name="csrf_token" value=(pending.csrf_token);
                        label for="username" { "Username" }
                        input #username type="text" name="username" autocomplete="username" required autofocus;
                        label for="password" { "Password" }
                        input #password type="password" name="password" autocomplete="current-password" required;
                        div.actions {
                            button type="submit" name="action" value="approve" { "Sign in and allow" }
                            button.deny type="submit" name="action" value="deny" formnovalidate { "Deny" }
                        }
                    }
                }
            }
        }
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}\
main{max-width:26rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}\
h1{font-size:1.3rem;margin-top:0}label{display:block;margin-top:1rem;font-weight:600}\
input{width:100%;box-sizing:border-box;padding:.5rem;margin-top:.25rem;font-size:1rem}\
.actions{display:flex;gap:.75rem;margin-top:1.5rem}button{flex:1;padding:.6rem;font-size:1rem;cursor:pointer}\
button.deny{background:#fff;border:1px solid #999}.error{color:#b00020;font-weight:600}\
.redirect{font-size:.9rem;color:#444}";
