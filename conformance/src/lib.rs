//! The conformance suite for MCP gateway authentication, as a library; `mcp-conformance` is its
//! command line. Point it at a gateway with a profile and it reports, requirement by
//! requirement, whether real MCP clients can log in through it and whether attackers cannot.
//!
//! Modules in the order a run uses them:
//! - [`profile`]: what the suite is told about a target; [`registry`]: the requirements
//!   (`fixtures/requirements.toml`); [`features`]: the embedded scenarios; [`baseline`]: expected
//!   failures;
//! - [`runner`]: a run from pre-flight to report; [`context`]: what scenarios share;
//!   [`world`]: one scenario's state and the client flows; [`steps`]: the step definitions;
//! - the client's parts: [`discovery`], [`login`] (drivers), [`pkce`], [`fuzz`] (proptest PKCE
//!   properties), [`jwt`], [`www_authenticate`], [`http`];
//! - the output: [`redact`] (nothing secret leaves), [`report`] (verdicts and writers).
//!
//! Architecture invariant: the suite talks to a gateway only over HTTP. It does not depend on the
//! reference crate; the reference is just the first target.

pub mod baseline;
pub mod context;
pub mod discovery;
pub mod features;
pub mod fuzz;
pub mod http;
pub mod jwt;
pub mod login;
pub mod pkce;
pub mod profile;
pub mod redact;
pub mod registry;
pub mod report;
pub mod runner;
pub mod steps;
pub mod world;
pub mod www_authenticate;
