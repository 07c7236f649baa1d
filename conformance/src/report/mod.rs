//! The outcome of a run as plain data, and the writers that render it.
//!
//! [`Report`] is what every writer reads: the terminal summary ([`terminal`]), the versioned JSON
//! document ([`json`]), JUnit XML ([`junit`]) and the self-contained HTML page ([`html`]).
//! Evidence in a report is already redacted (see [`crate::redact`]): writers never see a token,
//! code, verifier, password or key, so none of them can leak one.
//!
//! [`finish::finish`] derives everything but the checks (baseline, requirement matrix, summary);
//! the writers run after it.
//!
//! Invariant: writers are pure functions of a [`Report`]; they do no I/O but return text, so each
//! is snapshot-tested.

pub mod finish;
pub mod html;
pub mod json;
pub mod junit;
#[cfg(test)]
mod sample;
pub mod terminal;

use serde::{Deserialize, Serialize};

use crate::registry::Level;

/// The JSON document's schema identifier; bump it when a field changes meaning or disappears.
pub const SCHEMA: &str = "mcp-conformance-report/1";

/// The MCP specification revision whose authorization chapter the suite checks.
pub const SPEC_REVISION: &str = "2026-07-28";

/// What one check (one scenario) concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Verdict {
    /// Every step held.
    #[serde(rename = "PASS")]
    Pass,
    /// A MUST (or a guide statement) is broken.
    #[serde(rename = "FAIL")]
    Fail,
    /// Only a SHOULD, MAY or interop expectation is broken.
    #[serde(rename = "WARN")]
    Warn,
    /// The target does not advertise the capability the check needs (e.g. no refresh grant), or
    /// the profile switched the check's group off.
    #[serde(rename = "N/A")]
    NotApplicable,
    /// The profile lacks a prerequisite (a key, the HS256 secret, a way to move time).
    #[serde(rename = "NOT-TESTABLE")]
    NotTestable,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Warn => "WARN",
            Verdict::NotApplicable => "N/A",
            Verdict::NotTestable => "NOT-TESTABLE",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A whole run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    pub suite_version: String,
    pub spec_revision: String,
    pub target: Target,
    /// RFC 3339 UTC start time.
    pub started_at: String,
    pub duration_ms: u64,
    /// The proptest seed of the PKCE properties (printed so a run can be replayed).
    pub seed: String,
    /// One entry per scenario, in feature-file order.
    pub checks: Vec<Check>,
    /// One entry per registry requirement, in registry order.
    pub requirements: Vec<RequirementResult>,
    pub summary: Summary,
}

/// What was tested, and how.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Target {
    /// The MCP URL of the profile's owned agent (the entry point of discovery).
    pub mcp_url: String,
    pub base_url: String,
    /// The profile's file name (never its content: it holds credentials).
    pub profile: String,
    /// `form`, `command` or `interactive`.
    pub login_driver: String,
    /// How TTL checks moved time: `test-clock`, `real-time`, or `none`.
    pub time: String,
}

/// One scenario's result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Check {
    /// Stable identifier: `<feature stem>:<line>`.
    pub id: String,
    pub area: String,
    pub scenario: String,
    /// The requirement IDs the scenario is tagged with.
    pub requirements: Vec<String>,
    /// The strictest level among `requirements`; decides FAIL versus WARN.
    pub level: Level,
    pub verdict: Verdict,
    /// Why it did not pass (the failing step's message, or the missing prerequisite).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Set when a baseline lists one of `requirements` as an expected failure: its reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_failure: Option<String>,
    pub duration_ms: u64,
    /// The HTTP exchanges of the scenario, redacted.
    pub evidence: Vec<Evidence>,
}

/// One HTTP exchange as evidence, secrets already replaced by `<redacted:…>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub method: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    /// Absent when the request failed before a response (see `error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One requirement's standing after the run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RequirementResult {
    pub id: String,
    pub level: Level,
    /// `spec` or `guide`.
    pub group: String,
    pub area: String,
    pub summary: String,
    pub source: String,
    /// A link to `source` (from the registry), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The worst verdict of its checks; absent when no check tags it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// Why the suite does not test it (from the registry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded: Option<String>,
    /// Set when a baseline lists it: the baseline's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_failure: Option<String>,
    /// `Check::id`s that tag it.
    pub checks: Vec<String>,
}

/// Counts over checks, and the run's outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub not_applicable: usize,
    pub not_testable: usize,
    /// FAIL or WARN checks that a baseline expects (not counted in `fail`).
    pub expected_failures: usize,
    /// Baseline entries whose requirement now passes: they fail the run so baselines shrink.
    pub stale_baseline: Vec<String>,
    /// Baseline entries naming an ID the registry does not know.
    pub unknown_baseline: Vec<String>,
    /// Whether NOT-TESTABLE counts as failure (`--allow-not-testable` turns it off).
    pub not_testable_fails: bool,
    /// `passed` and `failed` of the last line: passed = PASS + WARN + expected failures,
    /// failed = FAIL + stale and unknown baseline entries + NOT-TESTABLE (unless allowed).
    pub passed: usize,
    pub failed: usize,
}

impl Summary {
    /// The runner's last line, which CI wrappers read.
    pub fn last_line(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed)
    }
}
