//! The reference MCP gateway: an OAuth 2.1 authorization server with PKCE and dynamic client
//! registration in front of a protected MCP endpoint, exactly as the gateway guide describes it,
//! spec-correct where the guide is silent. It is the oracle the conformance suite is checked
//! against.
//!
//! Modules in the order a client meets them:
//! - [`discovery`]: RFC 8414 and RFC 9728 metadata documents;
//! - [`registration`]: RFC 7591 dynamic client registration (public clients only);
//! - [`authorize`]: the authorization endpoint, `redirect_uri` matching;
//! - [`login`]: the login page, which issues authorization codes;
//! - [`token`] and [`refresh`]: the token endpoint; [`jwt`]: HS256 access tokens;
//! - [`bearer`]: the three bearer types and the 401 challenge; [`mcp`]: the MCP endpoint.
//!
//! Underneath: [`pkce`], [`resource`] (RFC 8707), [`form`] (strict parameter parsing),
//! [`error`], [`secrets`], [`clock`], [`store`], [`config`], [`state`].
//!
//! Fault injection: `faults` (only with the `faults` cargo feature), named implementer bugs
//! switched on by `serve --fault NAME` for `cargo xtask faults`.
//!
//! Test-only: [`test_clock`], `/__test/clock` to move the gateway's clock forward, mounted only
//! when the state carries a test clock (`serve --test-clock`, loopback binds only).

/// `fault!(Name)`: whether the named fault ([`faults::Fault`]) is switched on. Without the
/// `faults` feature it is the constant `false` and the name is not even looked up, so the fault's
/// branch compiles away.
#[cfg(feature = "faults")]
macro_rules! fault {
    ($name:ident) => {
        $crate::faults::is_active($crate::faults::Fault::$name)
    };
}
#[cfg(not(feature = "faults"))]
macro_rules! fault {
    ($name:ident) => {
        false
    };
}

pub mod authorize;
pub mod bearer;
pub mod clock;
pub mod config;
pub mod discovery;
pub mod error;
#[cfg(feature = "faults")]
pub mod faults;
pub mod form;
pub mod jwt;
pub mod login;
pub mod mcp;
pub mod pkce;
pub mod refresh;
pub mod registration;
pub mod resource;
pub mod secrets;
pub mod state;
pub mod store;
pub mod test_clock;
pub mod token;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Method, Request, StatusCode, header};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use crate::clock::{Clock, ManualClock, OffsetClock, SystemClock, UnixTime};
pub use crate::config::{Config, Overrides};
pub use crate::state::AppState;
pub use crate::store::{MemoryStore, Store};

/// Request headers MCP clients send (MCP Streamable HTTP; `Mcp-Method`/`Mcp-Name` since
/// 2026-07-28, `Mcp-Session-Id` for older revisions).
const MCP_REQUEST_HEADERS: [&str; 5] = [
    "mcp-protocol-version",
    "mcp-session-id",
    "mcp-method",
    "mcp-name",
    "last-event-id",
];

/// The whole gateway as a router: every URL and every layer, on one screen.
pub fn app(state: AppState) -> Router {
    let limits = state.config.limits.clone();

    // Discovery, registration and token are called from browsers (MCP Inspector): CORS open to any
    // origin, without credentials (OAuth 2.1 §3.2: token endpoint; RFC 8414/9728 documents).
    let open_cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("mcp-protocol-version"),
        ])
        .max_age(Duration::from_secs(24 * 3600));
    let metadata = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::authorization_server_metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource",
            get(discovery::root_resource_metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource/{agent_id}/mcp",
            get(discovery::agent_resource_metadata),
        );
    let metadata = if fault!(MetadataNoCors) {
        metadata
    } else {
        metadata.layer(open_cors.clone())
    };
    let mut public = Router::new().route(
        if fault!(DcrRegisterPath) {
            "/register"
        } else {
            "/oauth/register"
        },
        post(registration::register).layer(DefaultBodyLimit::max(limits.max_registration_bytes)),
    );
    // The fault `token-cors-missing` mounts the token endpoint with the browser pages instead.
    if !fault!(TokenCorsMissing) {
        public = public.route("/oauth/token", post(token::token));
    }
    #[cfg(feature = "faults")]
    if fault!(AsMetadataOidcOnly) {
        public = public.route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        );
    }
    let public = public.layer(open_cors.clone()).merge(metadata);

    // The MCP endpoint: CORS only for the configured origins, exposing the challenge header.
    let mut mcp_headers = vec![header::CONTENT_TYPE, header::AUTHORIZATION, header::ACCEPT];
    mcp_headers.extend(MCP_REQUEST_HEADERS.map(HeaderName::from_static));
    let origins = state
        .config
        .allowed_origins
        .iter()
        .filter_map(|o| o.parse().ok())
        .collect::<Vec<_>>();
    let mcp_cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::POST, Method::GET, Method::DELETE])
        .allow_headers(mcp_headers)
        .expose_headers([
            header::WWW_AUTHENTICATE,
            HeaderName::from_static("mcp-session-id"),
        ])
        .max_age(Duration::from_secs(24 * 3600));
    let mcp_cors = if fault!(McpCorsHidesChallenge) {
        mcp_cors.expose_headers([HeaderName::from_static("mcp-session-id")])
    } else {
        mcp_cors
    };
    let protected = Router::new()
        .route(
            "/{agent_id}/mcp",
            post(mcp::mcp)
                .get(mcp::method_not_allowed)
                .delete(mcp::method_not_allowed),
        )
        .layer(mcp_cors);

    // Browser-only pages: no CORS at all (OAuth 2.1 §3.1 for the authorization endpoint).
    let mut authorization = Router::new().route("/oauth/authorize", get(authorize::authorize));
    if fault!(AuthorizeCors) {
        authorization = authorization.layer(open_cors.clone());
    }
    let mut browser = authorization.route(
        "/oauth/login",
        get(login::login_page).post(login::login_submit),
    );
    if fault!(TokenCorsMissing) {
        browser = browser.route("/oauth/token", post(token::token));
    }

    let mut router = Router::new().merge(public).merge(protected).merge(browser);
    // Test-only, and absent unless explicitly enabled (`serve --test-clock`, loopback only).
    if state.test_clock.is_some() {
        router = router.merge(test_clock::routes());
    }

    router
        .fallback(discovery::fallback)
        .with_state(state)
        // The last layer is the outermost: traces see every answer, timeouts included.
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(limits.request_timeout_secs),
        ))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            // Method and path only: query strings may carry state, codes or (misplaced) tokens.
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
        }))
}

/// Serves `state` on `listener` until `shutdown` completes, purging expired state every 30 s.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let purger = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            loop {
                tick.tick().await;
                state.store.purge_expired(state.clock.now()).await;
                state.limiters.purge();
            }
        })
    };
    let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await;
    purger.abort();
    result
}
