//! Server-side state: registered clients, pending logins, authorization codes, refresh tokens and
//! revoked grants.
//!
//! Handlers see only the [`Store`] trait, so a shared backend (Redis, for several gateway
//! instances) can replace [`MemoryStore`] without touching them. Every operation a race could
//! break is one trait call that the backend makes atomic: [`Store::consume_code`] has exactly one
//! winner, [`Store::take_pending`] hands a pending login to one caller, [`Store::rotate_refresh_token`]
//! retires a refresh token once.
//!
//! Invariants: codes and refresh tokens are stored under their SHA-256 digest, never in clear;
//! every map is bounded ([`crate::config::Limits`]) and expired entries are purged; this module
//! is the only one that holds locks.

mod memory;

use async_trait::async_trait;

pub use memory::MemoryStore;

use crate::clock::UnixTime;
use crate::pkce::CodeChallenge;
use crate::resource::Resource;

/// A client registered through RFC 7591 dynamic registration (always public: no secret).
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    pub client_id: String,
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub issued_at: UnixTime,
    /// Set once a user has approved this client; unused clients are evicted first when full.
    pub used: bool,
}

/// An authorization request that passed validation and waits for the user at the login page.
#[derive(Clone)]
pub struct PendingAuthorization {
    pub client_id: String,
    pub client_name: Option<String>,
    /// The validated redirect URI, as the client sent it (loopback port included).
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: CodeChallenge,
    pub resource: Option<Resource>,
    pub scope: String,
    /// Hidden field of the login form (compared in constant time).
    pub csrf_token: String,
    /// SHA-256 of the cookie set on the browser that made the request: the login must be completed
    /// by that same browser.
    pub browser_binding: String,
    pub failed_logins: u32,
    pub expires_at: UnixTime,
}

impl std::fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("resource", &self.resource)
            .field("failed_logins", &self.failed_logins)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// OAuth 2.1 §4.1.2: the code is bound to the client, redirect URI, PKCE challenge, user and
/// resource it was issued for.
#[derive(Debug, Clone)]
pub struct AuthorizationCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: CodeChallenge,
    pub username: String,
    pub resource: Option<Resource>,
    pub scope: String,
    /// Every token issued from this code carries this id, so a replay can revoke them all.
    pub grant_id: String,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
    pub consumed: bool,
}

/// A refresh-token family: one record per authorization grant. Each refresh token is
/// `{family_id}.{secret}`; the record is stored under the SHA-256 of `family_id` and remembers
/// the SHA-256 of the one token of the family that is currently valid (OAuth 2.1 §4.3.1: refresh
/// tokens of public clients are one-time use). Presenting any other token of the family is a
/// reuse, which revokes the grant. Rotation replaces the record in place, so refreshing leaves
/// nothing behind.
#[derive(Debug, Clone)]
pub struct RefreshFamily {
    pub grant_id: String,
    pub client_id: String,
    pub username: String,
    pub resource: Option<Resource>,
    pub scope: String,
    /// SHA-256 of the currently valid refresh token.
    pub current_sha256: String,
    /// Inactivity expiry; every rotation moves it.
    pub expires_at: UnixTime,
}

/// Outcome of [`Store::rotate_refresh_token`].
#[derive(Debug, Clone)]
pub enum Rotation {
    /// The presented token was the current one; it is now replaced. Carries the updated family.
    Rotated(RefreshFamily),
    /// The family exists but the presented token is not its current one: a reuse.
    Reused,
    /// No such family (never issued, expired and purged, or revoked).
    Unknown,
}

/// A store operation could not be carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The bounded map is full of live entries.
    #[error("store full")]
    Full,
}

/// The gateway's state, behind one interface.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Adds a client; when full, evicts the oldest client never used, else [`StoreError::Full`].
    /// Clients never used are also purged [`crate::config::UNUSED_CLIENT_TTL`] after registration.
    async fn register_client(&self, client: RegisteredClient) -> Result<(), StoreError>;
    async fn client(&self, client_id: &str) -> Option<RegisteredClient>;
    async fn mark_client_used(&self, client_id: &str);

    /// Parks a pending authorization; when full, the one closest to expiry is evicted, so that a
    /// flood of requests cannot lock every user out of signing in.
    async fn insert_pending(
        &self,
        id: &str,
        pending: PendingAuthorization,
        now: UnixTime,
    ) -> Result<(), StoreError>;
    /// The pending authorization, if it exists and has not expired.
    async fn pending(&self, id: &str, now: UnixTime) -> Option<PendingAuthorization>;
    /// Counts one failed login and returns the new count (0 if the entry is gone).
    async fn record_failed_login(&self, id: &str) -> u32;
    /// Removes and returns the pending authorization: exactly one caller gets it.
    async fn take_pending(&self, id: &str, now: UnixTime) -> Option<PendingAuthorization>;

    async fn insert_code(
        &self,
        code_sha256: &str,
        code: AuthorizationCode,
        now: UnixTime,
    ) -> Result<(), StoreError>;
    /// The code's record, consumed or not, expired or not (kept for replay detection).
    async fn code(&self, code_sha256: &str) -> Option<AuthorizationCode>;
    /// Marks the code consumed. Returns `true` for exactly one caller: the one that redeems it.
    async fn consume_code(&self, code_sha256: &str) -> bool;

    /// Stores a new refresh-token family. `Ok(false)` if its grant was revoked meanwhile (a code
    /// replay won the race): nothing is stored. The check and the insert are one atomic step.
    async fn insert_refresh_family(
        &self,
        family_sha256: &str,
        family: RefreshFamily,
        now: UnixTime,
    ) -> Result<bool, StoreError>;
    async fn refresh_family(&self, family_sha256: &str) -> Option<RefreshFamily>;
    /// Atomically: if `presented_sha256` is the family's current token, replace it with
    /// `new_sha256` valid until `expires_at`.
    async fn rotate_refresh_token(
        &self,
        family_sha256: &str,
        presented_sha256: &str,
        new_sha256: &str,
        expires_at: UnixTime,
    ) -> Rotation;

    /// Revokes every token of a grant, atomically with respect to [`Store::insert_refresh_family`]:
    /// its refresh-token family is deleted and its access tokens are refused until `until` (when
    /// they have all expired anyway).
    async fn revoke_grant(&self, grant_id: &str, until: UnixTime);
    async fn is_grant_revoked(&self, grant_id: &str) -> bool;

    /// Drops every expired entry.
    async fn purge_expired(&self, now: UnixTime);
}
