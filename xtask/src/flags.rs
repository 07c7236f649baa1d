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
}
