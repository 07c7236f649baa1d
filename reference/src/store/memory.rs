//! The in-process [`Store`]: bounded hash maps behind mutexes.
//!
//! A `std::sync::Mutex` is right here: no lock is held across an `.await`, and each critical
//! section is a few map operations. Refresh-token families and revoked grants share one mutex,
//! because "store a family unless its grant is revoked" and "revoke a grant and delete its family"
//! must exclude each other. A poisoned lock (a panic while held, which the code does not do) is
//! recovered rather than propagated: every map stays consistent after each single operation.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{
    AuthorizationCode, PendingAuthorization, RefreshFamily, RegisteredClient, Rotation, Store,
    StoreError,
};
use crate::clock::UnixTime;
use crate::config::{CODE_REPLAY_WINDOW, Limits, UNUSED_CLIENT_TTL};
use crate::secrets::ct_eq;

/// Bounded in-memory state of one gateway process.
#[derive(Debug)]
pub struct MemoryStore {
    limits: Limits,
    clients: Mutex<HashMap<String, RegisteredClient>>,
    pending: Mutex<HashMap<String, PendingAuthorization>>,
    codes: Mutex<HashMap<String, AuthorizationCode>>,
    grants: Mutex<Grants>,
}

/// Refresh-token families and revoked grants, guarded together.
#[derive(Debug, Default)]
struct Grants {
    families: HashMap<String, RefreshFamily>,
    /// Grant id → until when its access tokens are refused.
    revoked: HashMap<String, UnixTime>,
}

impl MemoryStore {
    pub fn new(limits: Limits) -> MemoryStore {
        MemoryStore {
            limits,
            clients: Mutex::default(),
            pending: Mutex::default(),
            codes: Mutex::default(),
            grants: Mutex::default(),
        }
    }

    /// Number of entries per map, for tests of the bounds.
    pub fn sizes(&self) -> StoreSizes {
        let grants = lock(&self.grants);
        StoreSizes {
            clients: lock(&self.clients).len(),
            pending: lock(&self.pending).len(),
            codes: lock(&self.codes).len(),
            refresh_families: grants.families.len(),
            revoked_grants: grants.revoked.len(),
        }
    }
}

/// Entry counts of a [`MemoryStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSizes {
    pub clients: usize,
    pub pending: usize,
    pub codes: usize,
    pub refresh_families: usize,
    pub revoked_grants: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// When a code's record may be forgotten: at expiry if never redeemed; if redeemed, once every
/// access token it can have yielded has expired (so a late replay still revokes them).
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
        let mut map = lock(&self.pending);
        if map.len() >= self.limits.max_pending_authorizations {
            map.retain(|_, p| now < p.expires_at);
            if map.len() >= self.limits.max_pending_authorizations
                && let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, p)| p.expires_at)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(id.to_owned(), pending);
        Ok(())
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

    async fn insert_refresh_family(
        &self,
        family_sha256: &str,
        family: RefreshFamily,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let mut grants = lock(&self.grants);
        if grants.revoked.contains_key(&family.grant_id) {
            return Ok(false);
        }
        let capacity = self.limits.max_refresh_tokens;
        insert_bounded(&mut grants.families, capacity, family_sha256, family, |f| {
            now < f.expires_at
        })?;
        Ok(true)
    }

    async fn refresh_family(&self, family_sha256: &str) -> Option<RefreshFamily> {
        lock(&self.grants).families.get(family_sha256).cloned()
    }

    async fn rotate_refresh_token(
        &self,
        family_sha256: &str,
        presented_sha256: &str,
        new_sha256: &str,
        expires_at: UnixTime,
    ) -> Rotation {
        let mut grants = lock(&self.grants);
        let Some(family) = grants.families.get_mut(family_sha256) else {
            return Rotation::Unknown;
        };
        if !ct_eq(
            family.current_sha256.as_bytes(),
            presented_sha256.as_bytes(),
        ) {
            return Rotation::Reused;
        }
        family.current_sha256 = new_sha256.to_owned();
        family.expires_at = expires_at;
        Rotation::Rotated(family.clone())
    }

    async fn revoke_grant(&self, grant_id: &str, until: UnixTime) {
        let mut grants = lock(&self.grants);
        grants.families.retain(|_, f| f.grant_id != grant_id);
        if grants.revoked.len() >= self.limits.max_revoked_grants
            && !grants.revoked.contains_key(grant_id)
        {
            // Full of live revocations: forget the one that ends soonest, whose access tokens
            // have the least time left (its refresh family is already gone for good). Reaching
            // this takes that many successful code replays or refresh-token thefts.
            if let Some(soonest) = grants
                .revoked
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(id, _)| id.clone())
            {
                tracing::error!("revoked-grant store full: forgetting the oldest revocation");
                grants.revoked.remove(&soonest);
            }
        }
        grants.revoked.insert(grant_id.to_owned(), until);
    }

    async fn is_grant_revoked(&self, grant_id: &str) -> bool {
        lock(&self.grants).revoked.contains_key(grant_id)
    }

    async fn purge_expired(&self, now: UnixTime) {
        lock(&self.clients).retain(|_, c| c.used || now < c.issued_at.after(UNUSED_CLIENT_TTL));
        lock(&self.pending).retain(|_, p| now < p.expires_at);
        lock(&self.codes).retain(|_, c| now < code_retained_until(c));
        let mut grants = lock(&self.grants);
        grants.families.retain(|_, f| now < f.expires_at);
        grants.revoked.retain(|_, until| now < *until);
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
            max_pending_authorizations: 2,
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

    fn challenge() -> CodeChallenge {
        CodeChallenge::parse(
            Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            Some("S256"),
        )
        .unwrap()
    }

    fn code(issued: u64) -> AuthorizationCode {
        AuthorizationCode {
            client_id: "c".into(),
            redirect_uri: "http://localhost/cb".into(),
            code_challenge: challenge(),
            username: "alice".into(),
            resource: None,
            scope: "mcp".into(),
            grant_id: "g".into(),
            issued_at: UnixTime(issued),
            expires_at: UnixTime(issued + 120),
            consumed: false,
        }
    }

    fn pending(expires: u64) -> PendingAuthorization {
        PendingAuthorization {
            client_id: "c".into(),
            client_name: None,
            redirect_uri: "http://localhost/cb".into(),
            state: None,
            code_challenge: challenge(),
            resource: None,
            scope: "mcp".into(),
            csrf_token: "t".into(),
            browser_binding: "b".into(),
            failed_logins: 0,
            expires_at: UnixTime(expires),
        }
    }

    fn family(current: &str) -> RefreshFamily {
        RefreshFamily {
            grant_id: "g".into(),
            client_id: "c".into(),
            username: "alice".into(),
            resource: None,
            scope: "mcp".into(),
            current_sha256: current.into(),
            expires_at: UnixTime(1_000),
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
    async fn unused_clients_are_purged_after_a_day_used_ones_kept() {
        let store = MemoryStore::new(Limits::default());
        store
            .register_client(client("unused", 0, false))
            .await
            .unwrap();
        store
            .register_client(client("used", 0, true))
            .await
            .unwrap();
        store
            .purge_expired(UnixTime(UNUSED_CLIENT_TTL.as_secs() - 1))
            .await;
        assert!(store.client("unused").await.is_some());
        store
            .purge_expired(UnixTime(UNUSED_CLIENT_TTL.as_secs()))
            .await;
        assert!(store.client("unused").await.is_none());
        assert!(store.client("used").await.is_some());
    }

    #[tokio::test]
    async fn pending_flood_evicts_the_oldest_instead_of_refusing() {
        let store = MemoryStore::new(limits());
        store
            .insert_pending("1", pending(600), UnixTime(0))
            .await
            .unwrap();
        store
            .insert_pending("2", pending(601), UnixTime(1))
            .await
            .unwrap();
        store
            .insert_pending("3", pending(602), UnixTime(2))
            .await
            .unwrap();
        assert!(store.pending("1", UnixTime(2)).await.is_none());
        assert!(store.pending("3", UnixTime(2)).await.is_some());
        assert_eq!(store.sizes().pending, 2);
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
        store.purge_expired(UnixTime(100 + 120 + 3600)).await;
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
    async fn refresh_02_rotation_is_once_and_leaves_one_record() {
        let store = MemoryStore::new(Limits::default());
        assert!(
            store
                .insert_refresh_family("f", family("t1"), UnixTime(0))
                .await
                .unwrap()
        );
        assert!(matches!(
            store.rotate_refresh_token("f", "t1", "t2", UnixTime(2_000)).await,
            Rotation::Rotated(f) if f.current_sha256 == "t2" && f.expires_at == UnixTime(2_000)
        ));
        assert!(matches!(
            store
                .rotate_refresh_token("f", "t1", "t3", UnixTime(2_000))
                .await,
            Rotation::Reused
        ));
        assert!(matches!(
            store
                .rotate_refresh_token("nope", "t2", "t3", UnixTime(2_000))
                .await,
            Rotation::Unknown
        ));
        assert_eq!(
            store.sizes().refresh_families,
            1,
            "rotation leaves no garbage"
        );
    }

    #[tokio::test]
    async fn token_06_revocation_deletes_the_family_and_blocks_late_inserts() {
        let store = MemoryStore::new(Limits::default());
        store
            .insert_refresh_family("f", family("t1"), UnixTime(0))
            .await
            .unwrap();
        store.revoke_grant("g", UnixTime(500)).await;
        assert!(store.refresh_family("f").await.is_none());
        assert!(store.is_grant_revoked("g").await);
        // The winner of a code race inserting after the loser revoked: nothing is stored.
        assert!(
            !store
                .insert_refresh_family("f2", family("t9"), UnixTime(1))
                .await
                .unwrap()
        );
        assert!(store.refresh_family("f2").await.is_none());
        store.purge_expired(UnixTime(500)).await;
        assert!(!store.is_grant_revoked("g").await);
    }
}
