//! Every task and flag of `cargo xtask`, in one place.

use std::path::PathBuf;

#[derive(Debug, clap::Parser)]
#[command(
    name = "cargo xtask",
    about = "Project automation for the MCP gateway conformance suite"
)]
pub struct Xtask {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run the reference gateway with the demo world on 127.0.0.1 (Ctrl-C stops it).
    Serve(ServeArgs),
    /// Run the conformance suite; without --target, against the reference gateway it starts.
    Conformance(ConformanceArgs),
    /// Print the requirement → scenario matrix; fail when a MUST or SHOULD is neither covered
    /// nor excluded with a reason.
    Coverage,
    /// Prove the suite can fail: run it against the reference with each named fault switched
    /// on and check that the fault's own requirement IDs catch it (the kill matrix).
    Faults(FaultsArgs),
    /// Log in to a fresh reference with real clients (the official TS and Python SDKs, a real
    /// browser) from the 401 onwards; PASS/FAIL per step and a summary table.
    Interop(InteropArgs),
    /// Run the suite against the official TypeScript SDK's example OAuth server (a real peer)
    /// with its profile and baseline; writes docs/peer-report.md.
    Peer,
}

#[derive(Debug, clap::Args)]
pub struct InteropArgs {
    /// Run only these clients (comma-separated: ts, python, browser); default: all three.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct FaultsArgs {
    /// Run only these faults (comma-separated names); the coverage check is then skipped.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Gateways and suites run side by side (default: the machine's cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Also write the matrix as Markdown to docs/faults.md.
    #[arg(long)]
    pub write_docs: bool,
}

#[derive(Debug, clap::Args)]
pub struct ConformanceArgs {
    /// Build and run optimised binaries.
    #[arg(long)]
    pub release: bool,
    /// Flags for mcp-conformance (--target, --profile, --slow, --junit, …).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub passthrough: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Configuration file (default: fixtures/reference.toml, the demo world).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Public origin to advertise as issuer (default: http://127.0.0.1:PORT).
    #[arg(long)]
    pub issuer: Option<String>,
    /// Build and run the optimised binary.
    #[arg(long)]
    pub release: bool,
    /// Expose /__test/clock so a test harness (the conformance suite) can move the gateway's
    /// clock forward; loopback only.
    #[arg(long)]
    pub test_clock: bool,
}
