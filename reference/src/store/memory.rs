//! The in-process [`Store`]: bounded hash maps behind one mutex each.
//!
//! A `std::sync::Mutex` is right here: no lock is held across an `.await`, and each critical
//! section is a few map operations. A poisoned lock (a panic while held, which the code does not
//! do) is recovered rather than propagated, because every map stays consistent after each
//! single operation.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{
    AuthorizationCode, PendingAuthorization, RefreshToken, RegisteredClient, Store, StoreError,
};
use crate::clock::UnixTime;
use crate::config::{CODE_REPLAY_WINDOW, Limits};

/// Bounded in-memory state of one gateway process.
#[derive(Debug)]
pub struct MemoryStore {
    limits: Limits,
    clients: Mutex<HashMap<String, RegisteredClient>>,
    pending: Mutex<HashMap<String, PendingAuthorization>>,
    codes: Mutex<HashMap<String, AuthorizationCode>>,
    refresh_tokens: Mutex<HashMap<String, RefreshToken>>,
    revoked_grants: Mutex<HashMap<String, UnixTime>>,
}

impl MemoryStore {
    pub fn new(limits: Limits) -> MemoryStore {
        MemoryStore {
            limits,
            clients: Mutex::default(),
            pending: Mutex::default(),
            codes: Mutex::default(),
            refresh_tokens: Mutex::default(),
            revoked_grants: Mutex::default(),
        }
    }

    /// Number of entries per map, for tests of the bounds.
    pub fn sizes(&self) -> StoreSizes {
        StoreSizes {
            clients: lock(&self.clients).len(),
            pending: lock(&self.pending).len(),
            codes: lock(&self.codes).len(),
            refresh_tokens: lock(&self.refresh_tokens).len(),
            revoked_grants: lock(&self.revoked_grants).len(),
        }
    }
}

/// Entry counts of a [`MemoryStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSizes {
    pub clients: usize,
    pub pending: usize,
    pub codes: usize,
    pub refresh_tokens: usize,
    pub revoked_grants: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// When a code's record may be forgotten: at expiry if never redeemed, after the replay window if
/// redeemed (so a late replay still revokes).
fn code_retained_until(code: &AuthorizationCode) -> UnixTime {
    if code.consumed {
        code.issued_at.after(CODE_REPLAY_WINDOW)
    } else {
        code.expires_at
    }
}

/// Inserts into a bounded map, purging expired entries first when it is full.
fn insert_bounded<V>(
    map: &mut HashMap<String, V>,
    capacity: usize,
    key: &str,
    value: V,
    live: impl Fn(&V) -> bool,
) -> Result<(), StoreError> {
    if map.len() >= capacity && !map.contains_key(key) {
        map.retain(|_, v| live(v));
        if map.len() >= capacity {
            return Err(StoreError::Full);
        }
    }
    map.insert(key.to_owned(), value);
    Ok(())
}

#[async_trait]
impl Store for MemoryStore {
    async fn register_client(&self, client: RegisteredClient) -> Result<(), StoreError> {
        let mut clients = lock(&self.clients);
        if clients.len() >= self.limits.max_clients {
            let oldest_unused = clients
                .values()
                .filter(|c| !c.used)
                .min_by_key(|c| c.issued_at)
                .map(|c| c.client_id.clone());
            match oldest_unused {
                Some(id) => {
                    clients.remove(&id);
                }
                None => return Err(StoreError::Full),
            }
        }
        clients.insert(client.client_id.clone(), client);
        Ok(())
    }

    async fn client(&self, client_id: &str) -> Option<RegisteredClient> {
        lock(&self.clients).get(client_id).cloned()
    }

    async fn mark_client_used(&self, client_id: &str) {
        if let Some(client) = lock(&self.clients).get_mut(client_id) {
            client.used = true;
        }
    }

    async fn insert_pending(
        &self,
        id: &str,
        pending: PendingAuthorization,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let capacity = self.limits.max_pending_authorizations;
        insert_bounded(&mut lock(&self.pending), capacity, id, pending, |p| {
            now < p.expires_at
        })
    }

    async fn pending(&self, id: &str, now: UnixTime) -> Option<PendingAuthorization> {
        lock(&self.pending)
            .get(id)
            .filter(|p| now < p.expires_at)
            .cloned()
    }

    async fn record_failed_login(&self, id: &str) -> u32 {
        match lock(&self.pending).get_mut(id) {
            Some(p) => {
                p.failed_logins = p.failed_logins.saturating_add(1);
                p.failed_logins
            }
            None => 0,
        }
    }

    async fn take_pending(&self, id: &str, now: UnixTime) -> Option<PendingAuthorization> {
        lock(&self.pending)
            .remove(id)
            .filter(|p| now < p.expires_at)
    }

    async fn insert_code(
        &self,
        code_sha256: &str,
        code: AuthorizationCode,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let capacity = self.limits.max_authorization_codes;
        insert_bounded(&mut lock(&self.codes), capacity, code_sha256, code, |c| {
            now < code_retained_until(c)
        })
    }

    async fn code(&self, code_sha256: &str) -> Option<AuthorizationCode> {
        lock(&self.codes).get(code_sha256).cloned()
    }

    async fn consume_code(&self, code_sha256: &str) -> bool {
        match lock(&self.codes).get_mut(code_sha256) {
            Some(code) if !code.consumed => {
                code.consumed = true;
                true
            }
            _ => false,
        }
    }

    async fn insert_refresh_token(
        &self,
        token_sha256: &str,
        token: RefreshToken,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let capacity = self.limits.max_refresh_tokens;
        insert_bounded(
            &mut lock(&self.refresh_tokens),
            capacity,
            token_sha256,
            token,
            |t| now < t.expires_at,
        )
    }

    async fn refresh_token(&self, token_sha256: &str) -> Option<RefreshToken> {
        lock(&self.refresh_tokens).get(token_sha256).cloned()
    }

    async fn rotate_refresh_token(
        &self,
        old_sha256: &str,
        new_sha256: &str,
        new: RefreshToken,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let mut tokens = lock(&self.refresh_tokens);
        match tokens.get(old_sha256) {
            Some(old) if !old.rotated => {}
            _ => return Ok(false),
        }
        let capacity = self.limits.max_refresh_tokens;
        insert_bounded(&mut tokens, capacity, new_sha256, new, |t| {
            now < t.expires_at
        })?;
        if let Some(old) = tokens.get_mut(old_sha256) {
            old.rotated = true;
        }
        Ok(true)
    }

    async fn revoke_grant(&self, grant_id: &str, until: UnixTime) {
        lock(&self.refresh_tokens).retain(|_, t| t.grant_id != grant_id);
        let mut revoked = lock(&self.revoked_grants);
        if revoked.len() >= self.limits.max_revoked_grants && !revoked.contains_key(grant_id) {
            // Full of live revocations: forget the one that ends soonest, whose access tokens
            // have the least time left. Reaching this needs that many successful code replays.
            if let Some(soonest) = revoked
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(id, _)| id.clone())
            {
                tracing::error!("revoked-grant store full: forgetting the oldest revocation");
                revoked.remove(&soonest);
            }
        }
        revoked.insert(grant_id.to_owned(), until);
    }

    async fn is_grant_revoked(&self, grant_id: &str) -> bool {
        lock(&self.revoked_grants).contains_key(grant_id)
    }

    async fn purge_expired(&self, now: UnixTime) {
        lock(&self.pending).retain(|_, p| now < p.expires_at);
        lock(&self.codes).retain(|_, c| now < code_retained_until(c));
        lock(&self.refresh_tokens).retain(|_, t| now < t.expires_at);
        lock(&self.revoked_grants).retain(|_, until| now < *until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkce::CodeChallenge;

    fn limits() -> Limits {
        Limits {
            max_clients: 2,
            max_authorization_codes: 2,
            ..Limits::default()
        }
    }

    fn client(id: &str, at: u64, used: bool) -> RegisteredClient {
        RegisteredClient {
            client_id: id.into(),
            client_name: None,
            redirect_uris: vec![],
            grant_types: vec![],
            response_types: vec![],
            issued_at: UnixTime(at),
            used,
        }
    }

    fn code(issued: u64) -> AuthorizationCode {
        AuthorizationCode {
            client_id: "c".into(),
            redirect_uri: "http://localhost/cb".into(),
            redirect_uri_sent: true,
            code_challenge: CodeChallenge::parse(
                Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                Some("S256"),
            )
            .unwrap(),
            username: "alice".into(),
            resource: None,
            scope: "mcp".into(),
            grant_id: "g".into(),
            issued_at: UnixTime(issued),
            expires_at: UnixTime(issued + 120),
            consumed: false,
        }
    }

    #[tokio::test]
    async fn dcr_bounded_clients_evict_oldest_unused_then_refuse() {
        let store = MemoryStore::new(limits());
        store.register_client(client("a", 1, false)).await.unwrap();
        store.register_client(client("b", 2, true)).await.unwrap();
        store.register_client(client("c", 3, false)).await.unwrap();
        assert!(store.client("a").await.is_none(), "oldest unused evicted");
        assert!(store.client("b").await.is_some(), "used client kept");
        store.mark_client_used("c").await;
        assert_eq!(
            store
                .register_client(client("d", 4, false))
                .await
                .unwrap_err(),
            StoreError::Full
        );
    }

    #[tokio::test]
    async fn token_06_consume_has_one_winner_and_record_outlives_expiry() {
        let store = MemoryStore::new(limits());
        store
            .insert_code("h", code(100), UnixTime(100))
            .await
            .unwrap();
        assert!(store.consume_code("h").await);
        assert!(!store.consume_code("h").await);
        store.purge_expired(UnixTime(100 + 121)).await;
        assert!(
            store.code("h").await.is_some(),
            "a redeemed code is kept for replay detection"
        );
        store.purge_expired(UnixTime(100 + 3600)).await;
        assert!(store.code("h").await.is_none());
    }

    #[tokio::test]
    async fn codes_are_bounded_but_expired_entries_make_room() {
        let store = MemoryStore::new(limits());
        store.insert_code("1", code(0), UnixTime(0)).await.unwrap();
        store.insert_code("2", code(0), UnixTime(0)).await.unwrap();
        assert_eq!(
            store
                .insert_code("3", code(0), UnixTime(0))
                .await
                .unwrap_err(),
            StoreError::Full
        );
        store
            .insert_code("3", code(200), UnixTime(200))
            .await
            .unwrap();
        assert_eq!(store.sizes().codes, 1);
    }

    #[tokio::test]
    async fn refresh_02_rotation_is_once_and_revocation_deletes_the_family() {
        let store = MemoryStore::new(Limits::default());
        let rt = |rotated| RefreshToken {
            grant_id: "g".into(),
            client_id: "c".into(),
            username: "alice".into(),
            resource: None,
            scope: "mcp".into(),
            expires_at: UnixTime(1_000),
            rotated,
        };
        store
            .insert_refresh_token("r1", rt(false), UnixTime(0))
            .await
            .unwrap();
        assert!(
            store
                .rotate_refresh_token("r1", "r2", rt(false), UnixTime(1))
                .await
                .unwrap()
        );
        assert!(
            !store
                .rotate_refresh_token("r1", "r3", rt(false), UnixTime(2))
                .await
                .unwrap()
        );
        assert!(store.refresh_token("r3").await.is_none());
        store.revoke_grant("g", UnixTime(500)).await;
        assert!(store.refresh_token("r2").await.is_none());
        assert!(store.is_grant_revoked("g").await);
        store.purge_expired(UnixTime(500)).await;
        assert!(!store.is_grant_revoked("g").await);
    }
}
