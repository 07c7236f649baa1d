//! What every scenario shares: the profile, the HTTP client, what pre-flight discovery found, the
//! login driver, the redactor, how to move time, and run options.
//!
//! Scenarios run concurrently; the context is read-only except for the redactor (a set of secret
//! values) and the time gate, an `RwLock` that scenarios moving the target's clock take for
//! writing, so no other scenario is in flight while the gateway's time jumps.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::RwLock;
use url::Url;

use crate::discovery::Discovered;
use crate::http::{Http, Request};
use crate::login::Driver;
use crate::profile::Profile;
use crate::redact::Redactor;

/// How TTL checks make time pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimeMode {
    /// The reference's `/__test/clock` hook: jump, exclusively.
    Hook(Url),
    /// `--slow`: wait in real time, concurrently with other scenarios.
    RealTime,
    /// Neither: TTL checks are NOT-TESTABLE.
    None,
}

impl TimeMode {
    pub fn name(&self) -> &'static str {
        match self {
            TimeMode::Hook(_) => "test-clock",
            TimeMode::RealTime => "real-time",
            TimeMode::None => "none",
        }
    }
}

/// Run options that steps read.
#[derive(Clone, Debug)]
pub struct Options {
    /// Cases per PKCE property.
    pub pkce_cases: u32,
    /// The proptest seed (hex), printed with every run.
    pub seed: String,
    /// Replays exactly one PKCE case (`--pkce-replay`), as printed after a failure.
    pub pkce_replay: Option<String>,
    /// The command line that reruns this run against the same target (for replay hints).
    pub rerun_prefix: String,
}

#[derive(Debug)]
pub struct Context {
    pub profile: Profile,
    pub http: Http,
    pub discovered: Discovered,
    pub driver: Driver,
    pub redactor: Redactor,
    pub time: TimeMode,
    pub options: Options,
    /// Scenarios that move the target's clock hold it for writing; every other scenario for
    /// reading.
    pub time_gate: Arc<RwLock<()>>,
    /// The client most scenarios share, registered once per run on first use: a gateway may
    /// rate-limit registration (RFC 7591 §3, SEC-06), and scenarios that are not about
    /// registration should not spend its budget. Scenarios that need their own client register
    /// one explicitly.
    pub shared_client: tokio::sync::OnceCell<crate::world::ClientInfo>,
}

impl Context {
    /// The target's current time: the test clock's when there is one, else ours.
    pub async fn now(&self) -> u64 {
        if let TimeMode::Hook(url) = &self.time
            && let Some(now) = self
                .http
                .send(Request::get(url.as_str()))
                .await
                .response
                .and_then(|r| r.json())
                .and_then(|j| j.get("now").and_then(serde_json::Value::as_u64))
        {
            return now;
        }
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    /// Lets `by` pass on the target: a jump of the test clock, or a real wait.
    pub async fn advance(&self, by: Duration) -> Result<(), String> {
        match &self.time {
            TimeMode::Hook(url) => {
                let ex = self
                    .http
                    .send(
                        Request::post(url.as_str())
                            .json(&serde_json::json!({"advance_seconds": by.as_secs()})),
                    )
                    .await;
                match ex.response.as_ref().map(|r| r.status) {
                    Some(200) => Ok(()),
                    _ => Err(format!(
                        "the test clock hook refused to advance: {}",
                        ex.line()
                    )),
                }
            }
            TimeMode::RealTime => {
                tokio::time::sleep(by).await;
                Ok(())
            }
            TimeMode::None => Err("no way to move time (needs clock.hook or --slow)".into()),
        }
    }
}

static CURRENT: Mutex<Option<Arc<Context>>> = Mutex::new(None);

/// Installs the context that new Worlds pick up (one run at a time per process).
pub fn install(ctx: Arc<Context>) {
    if let Ok(mut slot) = CURRENT.lock() {
        *slot = Some(ctx);
    }
}

/// The installed context; `None` only if the runner forgot to install one.
pub fn current() -> Option<Arc<Context>> {
    CURRENT.lock().ok().and_then(|slot| slot.clone())
}
