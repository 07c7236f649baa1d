//! Integration tests of the reference gateway: every test starts a real server on an ephemeral
//! port (see `support.rs`) and talks HTTP to it, as a client and a browser would. One module per
//! protocol area; each test is named after the requirement ID it checks (catalog:
//! `../shared/research/spec-requirements.md`).

mod support;

mod authorize; // AUTHZ-*, PKCE-01..03, AUD-01/04..06 at the authorization endpoint
mod bearer; // BEARER-*, AUD-03/07/09, SEC-05 (logs)
mod cors; // SEC-02/03, TOKEN-11, AUTHZ-11
mod discovery; // DISC-*
mod faults; // no fault switch in a default build
mod login; // the login page: AUTHZ-07..10/12, CSRF, enumeration, limits
mod mcp; // the MCP endpoint: JSON-RPC, Origin, protocol versions
mod readme; // the README walk-through, verbatim
mod refresh; // REFRESH-*
mod registration; // DCR-*
mod smoke; // the guide's four steps once
mod test_clock; // the test-only /__test/clock hook (serve --test-clock)
mod token; // TOKEN-*, PKCE-04..06, AUD-02/04
