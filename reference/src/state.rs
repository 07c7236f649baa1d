//! [`AppState`]: everything a handler needs, cheap to clone (all behind `Arc`).
//!
//! Also the per-IP rate limiters (governor's GCRA, keyed by client address) and the
//! [`ClientIp`] extractor that feeds them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::clock::Clock;
use crate::config::Config;
use crate::error::OAuthError;
use crate::jwt::TokenSigner;
use crate::store::Store;

/// The shared state of one gateway.
#[derive(Debug, Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub store: Arc<dyn Store>,
    pub signer: Arc<TokenSigner>,
    pub limiters: Arc<RateLimiters>,
    /// An argon2 hash of a random password, verified against when the username is unknown so
    /// that a login takes as long whether or not the user exists (no user enumeration).
    pub dummy_password_hash: Arc<str>,
}

impl AppState {
    /// Builds the state; fails only if the OS has no randomness for the dummy hash.
    pub fn new(
        config: Config,
        clock: Arc<dyn Clock>,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<AppState> {
        let signer = TokenSigner::new(&config.issuer, &config.jwt_secret);
        let limiters = RateLimiters::new(&config);
        let dummy = crate::login::dummy_password_hash()?;
        Ok(AppState {
            config: Arc::new(config),
            clock,
            store,
            signer: Arc::new(signer),
            limiters: Arc::new(limiters),
            dummy_password_hash: dummy.into(),
        })
    }
}

/// Per-client-IP limits on the endpoints that create state or check passwords.
#[derive(Debug)]
pub struct RateLimiters {
    registration: DefaultKeyedRateLimiter<IpAddr>,
    login: DefaultKeyedRateLimiter<IpAddr>,
}

impl RateLimiters {
    fn new(config: &Config) -> RateLimiters {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        RateLimiters {
            registration: DefaultKeyedRateLimiter::keyed(per_minute(
                config.limits.registrations_per_minute,
            )),
            login: DefaultKeyedRateLimiter::keyed(per_minute(config.limits.logins_per_minute)),
        }
    }

    /// RFC 7591 §3 allows rate-limiting registration; `Err` is a ready `429`.
    pub fn check_registration(&self, ip: IpAddr) -> Result<(), OAuthError> {
        check(&self.registration, ip)
    }

    pub fn check_login(&self, ip: IpAddr) -> Result<(), OAuthError> {
        check(&self.login, ip)
    }

    /// Forgets addresses whose quota is full again, so the limiter maps stay bounded.
    pub fn purge(&self) {
        self.registration.retain_recent();
        self.login.retain_recent();
    }
}

fn check(limiter: &DefaultKeyedRateLimiter<IpAddr>, ip: IpAddr) -> Result<(), OAuthError> {
    limiter.check_key(&ip).map_err(|not_until| {
        let wait: Duration = not_until.wait_time_from(DefaultClock::default().now());
        OAuthError::rate_limited(wait.as_secs() + 1)
    })
}

/// The peer address of the connection (no proxy headers are trusted). Falls back to `0.0.0.0`
/// when the server was built without connect info (in-process tests).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(ClientIp(ip))
    }
}
