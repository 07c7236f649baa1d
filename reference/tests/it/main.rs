//! Integration tests of the reference gateway: every test starts a real server on an ephemeral
//! port (see `support.rs`) and talks HTTP to it. One module per protocol area; each test names the
//! requirement ID (`../shared/research/spec-requirements.md`, `fixtures/requirements` later) it
//! checks.

mod support;

mod readme;
mod smoke;
