//! Step definitions, one module per area, mirroring `features/<area>.feature`; [`http`] holds the
//! steps every area shares (status, OAuth error, headers, "nothing leaked").
//!
//! Conventions, so that every failure names its reason:
//! - steps return [`StepResult`](crate::world::StepResult); the `Err` text becomes the check's
//!   reason, so it says what was expected, what came back (status, `error`, the request line),
//!   and, where one step serves one requirement, starts with that requirement's ID;
//! - a step that finds at run time that it cannot judge returns `Err` starting with
//!   [`NOT_TESTABLE`] (a prerequisite is missing) or [`NOT_APPLICABLE`] (the target does not do
//!   the thing, legitimately); the runner turns those into verdicts, not failures;
//! - a negative check asserts the reason (status and OAuth `error`) and that nothing leaked: no
//!   token issued, no redirect to an unvalidated URI.

pub mod audience;
pub mod authorize;
pub mod bearer;
pub mod cors;
pub mod discovery;
pub mod http;
pub mod mcp_endpoint;
pub mod pkce;
pub mod refresh;
pub mod registration;
pub mod token;
pub mod ttl;

/// Prefix of a step error that makes the check NOT-TESTABLE.
pub const NOT_TESTABLE: &str = "NOT-TESTABLE: ";
/// Prefix of a step error that makes the check N/A.
pub const NOT_APPLICABLE: &str = "N/A: ";
