//! `/__test/clock`: a test-only hook that lets a harness outside the process (the conformance
//! suite) move the gateway's clock forward, so that it can check the TTLs (authorization code
//! 120 s, access token 3600 s) over HTTP without waiting in real time.
//!
//! Contract:
//! - `GET /__test/clock` → `200 {"now": <unix seconds per the gateway clock>, "offset_seconds": N}`;
//! - `POST /__test/clock` with `Content-Type: application/json` and exactly
//!   `{"advance_seconds": N}`, `N` a whole number from 0 to [`MAX_ADVANCE_SECONDS`] (30 days) →
//!   advances, then `200` with the same shape; any other body or content type → `400`
//!   `invalid_request` ([`OAuthError`]); other methods → `405` JSON;
//! - a request from a non-loopback peer → `403` `access_denied`, whatever its method or body.
//!
//! Every answer carries `Cache-Control: no-store` (the clock changes under the client).
//!
//! Invariants:
//! - the routes exist only when the state carries a test clock ([`AppState::with_test_clock`],
//!   `serve --test-clock`); without it `/__test/clock` is the gateway's ordinary JSON 404;
//! - `serve --test-clock` refuses a non-loopback bind ([`is_loopback_bind`]), and each request is
//!   checked against the connection's peer address ([`ClientIp`]), never a proxy header such as
//!   `X-Forwarded-For`; without connect info the peer counts as `0.0.0.0` and is refused;
//! - the clock only moves forward ([`OffsetClock`]): rewinding could revive used codes and
//!   rotated refresh tokens;
//! - no CORS: the hook is for test harnesses, not browsers.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use crate::clock::OffsetClock;
use crate::error::{ErrorCode, OAuthBody, OAuthError};
use crate::form::content_type_is;
use crate::state::{AppState, ClientIp};

/// The path of the hook.
pub const PATH: &str = "/__test/clock";

/// The most one `POST` may advance the clock: 30 days, far beyond every TTL of the gateway.
pub const MAX_ADVANCE_SECONDS: u64 = 30 * 24 * 3600;

/// The hook's routes, every one behind the loopback check; [`crate::app`] merges them only when
/// [`AppState::test_clock`] is `Some`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            PATH,
            get(read_clock)
                .post(advance_clock)
                .fallback(method_not_allowed),
        )
        .layer(middleware::from_fn(loopback_peers_only))
}

/// Whether a peer may use the hook: loopback only (`127.0.0.0/8`, `::1`, and `::ffff:127.0.0.0/104`
/// as a dual-stack socket reports IPv4 peers).
pub fn is_loopback_peer(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Whether `serve --test-clock` may bind `addr`: only a loopback address, so that nobody off the
/// machine can even reach the hook (the peer check is the second line of defence).
pub fn is_loopback_bind(addr: SocketAddr) -> bool {
    is_loopback_peer(addr.ip())
}

/// Refuses every request from a non-loopback peer with `403`, before routing by method or reading
/// the body.
async fn loopback_peers_only(ClientIp(ip): ClientIp, request: Request, next: Next) -> Response {
    if !is_loopback_peer(ip) {
        tracing::warn!(peer = %ip, "refused a test clock request from a non-loopback peer");
        return OAuthError::new(
            ErrorCode::AccessDenied,
            "the test clock answers loopback clients only",
        )
        .into_response();
    }
    next.run(request).await
}

/// `GET /__test/clock`
async fn read_clock(State(state): State<AppState>) -> Response {
    match &state.test_clock {
        Some(clock) => reading(&state, clock),
        None => crate::discovery::fallback().await,
    }
}

/// `POST /__test/clock`
async fn advance_clock(
    State(state): State<AppState>,
    headers: HeaderMap,
    OAuthBody(body): OAuthBody,
) -> Result<Response, OAuthError> {
    let Some(clock) = &state.test_clock else {
        return Ok(crate::discovery::fallback().await);
    };
    let seconds = parse_advance(&headers, &body)?;
    clock.advance(Duration::from_secs(seconds));
    tracing::info!(
        advanced_seconds = seconds,
        offset_seconds = clock.offset(),
        "test clock moved forward"
    );
    Ok(reading(&state, clock))
}

/// The body of a `POST`: exactly one member.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceRequest {
    advance_seconds: u64,
}

/// Validates a `POST` into the seconds to advance, or a `400 invalid_request`.
fn parse_advance(headers: &HeaderMap, body: &[u8]) -> Result<u64, OAuthError> {
    if content_type_is(headers, "application/json") != Some(true) {
        return Err(OAuthError::invalid_request(
            "the request body must be application/json",
        ));
    }
    let request: AdvanceRequest = serde_json::from_slice(body).map_err(|_| {
        OAuthError::invalid_request(
            "the body must be a JSON object with only advance_seconds, a whole number of seconds",
        )
    })?;
    if request.advance_seconds > MAX_ADVANCE_SECONDS {
        return Err(OAuthError::invalid_request(
            "advance_seconds must be at most 2592000 (30 days)",
        ));
    }
    Ok(request.advance_seconds)
}

/// `200 {"now", "offset_seconds"}`, `no-store`. `now` is read through the gateway's clock, which
/// is `clock` itself.
fn reading(state: &AppState, clock: &OffsetClock) -> Response {
    let body = json!({
        "now": state.clock.now().0,
        "offset_seconds": clock.offset(),
    });
    let mut response = axum::Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Any method but `GET`/`HEAD`/`POST`: `405` JSON with `Allow`.
async fn method_not_allowed() -> Response {
    let mut response = (
        StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(
            json!({ "error": "method_not_allowed", "error_description": "use GET or POST" }),
        ),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use serde_json::Value;
    use tower::ServiceExt as _;

    use super::*;
    use crate::clock::{Clock as _, SystemClock};
    use crate::config::{Config, Overrides};
    use crate::store::MemoryStore;

    #[test]
    fn only_loopback_peers_and_binds_are_allowed() {
        for ip in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_loopback_peer(ip), "{ip}");
            assert!(is_loopback_bind(SocketAddr::new(ip, 8080)), "{ip}");
        }
        for ip in [
            "0.0.0.0",
            "192.0.2.1",
            "10.0.0.1",
            "::",
            "2001:db8::1",
            "::ffff:192.0.2.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_loopback_peer(ip), "{ip}");
            assert!(!is_loopback_bind(SocketAddr::new(ip, 8080)), "{ip}");
        }
    }

    fn json_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        headers
    }

    #[test]
    fn advance_bodies_are_checked_strictly() {
        let ok = |body: &str| parse_advance(&json_headers(), body.as_bytes()).ok();
        assert_eq!(ok(r#"{"advance_seconds": 0}"#), Some(0));
        assert_eq!(ok(r#"{"advance_seconds": 121}"#), Some(121));
        assert_eq!(
            ok(r#"{"advance_seconds": 2592000}"#),
            Some(MAX_ADVANCE_SECONDS)
        );
        for bad in [
            "",
            "not json",
            "[]",
            "{}",
            r#"{"advance_seconds": 2592001}"#,
            r#"{"advance_seconds": -1}"#,
            r#"{"advance_seconds": 1.5}"#,
            r#"{"advance_seconds": "60"}"#,
            r#"{"advance_seconds": null}"#,
            r#"{"advance_seconds": 60, "other": 1}"#,
            r#"{"advance_seconds": 60, "advance_seconds": 60}"#,
            r#"{"advance_seconds": 99999999999999999999999}"#,
        ] {
            let error = parse_advance(&json_headers(), bad.as_bytes()).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidRequest, "{bad}");
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{bad}");
        }
        let valid = br#"{"advance_seconds": 60}"#;
        assert!(parse_advance(&HeaderMap::new(), valid).is_err(), "no type");
        let mut form = HeaderMap::new();
        form.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert!(parse_advance(&form, valid).is_err(), "form type");
    }

    fn test_clock_app() -> (Router, Arc<OffsetClock>) {
        let config = Config::from_toml(
            &format!(
                "[gateway]\nissuer = \"http://127.0.0.1:8080\"\njwt_secret = \"{}\"\n",
                "x".repeat(32)
            ),
            &Overrides::default(),
        )
        .unwrap();
        let store = Arc::new(MemoryStore::new(config.limits.clone()));
        let clock = Arc::new(OffsetClock::new());
        let state = AppState::with_test_clock(config, clock.clone(), store).unwrap();
        assert!(
            Arc::ptr_eq(state.test_clock.as_ref().unwrap(), &clock),
            "the hook's clock"
        );
        assert_eq!(
            Arc::as_ptr(&state.clock).cast::<()>(),
            Arc::as_ptr(&clock).cast::<()>(),
            "the hook moves the gateway's own clock"
        );
        (crate::app(state), clock)
    }

    fn advance_request(peer: Option<&str>) -> Request {
        let mut request = Request::post(PATH)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"advance_seconds": 60}"#))
            .unwrap();
        if let Some(peer) = peer {
            let addr: SocketAddr = peer.parse().unwrap();
            request.extensions_mut().insert(ConnectInfo(addr));
        }
        request
    }

    async fn json_body(response: Response) -> Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn non_loopback_peers_get_403_and_do_not_move_the_clock() {
        let (app, clock) = test_clock_app();
        for peer in [
            Some("192.0.2.1:50000"),
            Some("[2001:db8::1]:50000"),
            Some("[::ffff:192.0.2.1]:50000"),
            None,
        ] {
            let mut request = advance_request(peer);
            // A proxy header claiming loopback changes nothing: only the socket peer counts.
            request
                .headers_mut()
                .insert("x-forwarded-for", HeaderValue::from_static("127.0.0.1"));
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{peer:?}");
            assert_eq!(
                response.headers().get(header::CACHE_CONTROL).unwrap(),
                "no-store"
            );
            assert_eq!(json_body(response).await["error"], "access_denied");
        }
        let get = Request::get(PATH)
            .extension(ConnectInfo(
                "192.0.2.1:50000".parse::<SocketAddr>().unwrap(),
            ))
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(get).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(clock.offset(), 0);
    }

    #[tokio::test]
    async fn loopback_peers_move_the_gateway_clock() {
        let (app, clock) = test_clock_app();
        for (peer, offset) in [("127.0.0.1:50000", 60), ("[::1]:50000", 120)] {
            let before = SystemClock.now().0;
            let response = app
                .clone()
                .oneshot(advance_request(Some(peer)))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{peer}");
            let body = json_body(response).await;
            assert_eq!(body["offset_seconds"], offset);
            let now = body["now"].as_u64().unwrap();
            assert!(now >= before + offset && now <= SystemClock.now().0 + offset);
        }
        assert_eq!(clock.offset(), 120);
        let put = Request::put(PATH)
            .extension(ConnectInfo(
                "127.0.0.1:50000".parse::<SocketAddr>().unwrap(),
            ))
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(put).await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(json_body(response).await["error"], "method_not_allowed");
    }
}
