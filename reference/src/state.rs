//! [`AppState`]: everything a handler needs, cheap to clone (all behind `Arc`).
//!
//! Also the per-IP rate limiters (governor's GCRA, keyed by client address) and the
//! [`ClientIp`] extractor that feeds them (and the loopback check of the test-only clock hook).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::clock::{Clock, OffsetClock};
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
    /// Bounds the argon2 verifications running at once.
    pub password_checks: Arc<tokio::sync::Semaphore>,
    /// `Some` only when the gateway was started with `--test-clock`: then it is the same clock as
    /// [`AppState::clock`], and [`crate::app`] mounts `/__test/clock` to move it (`test_clock.rs`).
    /// `None` (the default, and what [`AppState::new`] builds) means the hook does not exist.
    pub test_clock: Option<Arc<OffsetClock>>,
}

/// How many password checks may run at once (each argon2 verification holds about 19 MiB).
pub const MAX_CONCURRENT_PASSWORD_CHECKS: usize = 8;

impl AppState {
    /// Builds the state; fails only if the OS has no randomness for the dummy hash.
    pub fn new(
        config: Config,
        clock: Arc<dyn Clock>,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<AppState> {
        let signer = TokenSigner::new(&config.issuer, &config.jwt_secret);
        let limiters = RateLimiters::new(&config);
        let dummy = crate::login::dummy_password_hash(&config)?;
        Ok(AppState {
            config: Arc::new(config),
            clock,
            store,
            signer: Arc::new(signer),
            limiters: Arc::new(limiters),
            dummy_password_hash: dummy.into(),
            password_checks: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_PASSWORD_CHECKS)),
            test_clock: None,
        })
    }

    /// Builds the state of a gateway whose clock a test harness may move over HTTP
    /// (`/__test/clock`, loopback peers only): `clock` becomes both the gateway's clock and the
    /// hook's, so advancing it really expires codes and tokens. Only for `serve --test-clock`,
    /// which refuses non-loopback binds.
    pub fn with_test_clock(
        config: Config,
        clock: Arc<OffsetClock>,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<AppState> {
        let mut state = AppState::new(config, clock.clone(), store)?;
        state.test_clock = Some(clock);
        Ok(state)
    }
}

/// Per-client-IP limits on the endpoints that create state or check passwords. IPv6 clients are
/// keyed by their /64 network, which one host usually controls whole.
#[derive(Debug)]
pub struct RateLimiters {
    registration: DefaultKeyedRateLimiter<IpAddr>,
    authorization: DefaultKeyedRateLimiter<IpAddr>,
    login: DefaultKeyedRateLimiter<IpAddr>,
}

impl RateLimiters {
    fn new(config: &Config) -> RateLimiters {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        RateLimiters {
            registration: DefaultKeyedRateLimiter::keyed(per_minute(
                config.limits.registrations_per_minute,
            )),
            authorization: DefaultKeyedRateLimiter::keyed(per_minute(
                config.limits.authorizations_per_minute,
            )),
            login: DefaultKeyedRateLimiter::keyed(per_minute(config.limits.logins_per_minute)),
        }
    }

    /// RFC 7591 §3 allows rate-limiting registration; `Err` is a ready `429`.
    pub fn check_registration(&self, ip: IpAddr) -> Result<(), OAuthError> {
        check(&self.registration, ip)
    }

    /// Each authorization request parks a pending login; `Err` is a ready `429`.
    pub fn check_authorization(&self, ip: IpAddr) -> Result<(), OAuthError> {
        check(&self.authorization, ip)
    }

    pub fn check_login(&self, ip: IpAddr) -> Result<(), OAuthError> {
        check(&self.login, ip)
    }

    /// Forgets addresses whose quota is full again, so the limiter maps stay bounded.
    pub fn purge(&self) {
        self.registration.retain_recent();
        self.authorization.retain_recent();
        self.login.retain_recent();
    }
}

fn check(limiter: &DefaultKeyedRateLimiter<IpAddr>, ip: IpAddr) -> Result<(), OAuthError> {
    limiter.check_key(&rate_key(ip)).map_err(|not_until| {
        let wait: Duration = not_until.wait_time_from(DefaultClock::default().now());
        OAuthError::rate_limited(wait.as_secs() + 1)
    })
}

/// The address a rate limit counts against: IPv4 as is, IPv6 by /64 network.
fn rate_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(network.into())
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_limited_per_64_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(rate_key(a), rate_key(b));
        assert_ne!(rate_key(a), rate_key(other));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(rate_key(v4), v4);
    }
}
