//! `cargo xtask <task>`: the project's automation, in Rust (matklad's cargo-xtask convention).
//!
//! - `serve`: build and run the reference gateway with the demo world (`fixtures/reference.toml`);
//! - `conformance`: run the suite, against the reference it starts unless `--target` is given;
//! - `coverage`: the requirement → scenario matrix (`mcp-conformance coverage`);
//! - `faults`: the kill matrix, the suite against the reference with each named fault on;
//! - `interop`: real clients (TS and Python SDKs, a browser) log in to the reference.
//! - `peer`: the suite against the TypeScript SDK's example server (`docs/peer-report.md`).
//!
//! Every task shells out to `cargo`; this crate depends on nothing of the workspace.

mod conformance;
mod faults;
mod flags;
mod interop;
mod peer;
mod serve;
mod tidy;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let flags = flags::Xtask::parse();
    let result = match flags.command {
        flags::Command::Serve(args) => serve::run(&args),
        flags::Command::Conformance(args) => conformance::run(&args),
        flags::Command::Coverage => coverage(),
        flags::Command::Faults(args) => faults::run(&args),
        flags::Command::Interop(args) => interop::run(&args),
        flags::Command::Peer => peer::run(),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs `cargo ARGS` in the workspace root; an error names the command when it fails.
fn cargo(root: &std::path::Path, args: &[&str]) -> anyhow::Result<()> {
    let status = std::process::Command::new(env!("CARGO"))
        .current_dir(root)
        .args(args)
        .status()
        .map_err(|e| anyhow::anyhow!("running cargo: {e}"))?;
    anyhow::ensure!(status.success(), "cargo {} failed", args.join(" "));
    Ok(())
}

/// The workspace root (xtask lives one level below it).
fn project_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// `cargo xtask coverage`: the suite's binary owns the registry and the Gherkin parser.
fn coverage() -> anyhow::Result<ExitCode> {
    let status = std::process::Command::new(env!("CARGO"))
        .current_dir(project_root())
        .args([
            "run",
            "--quiet",
            "-p",
            "mcp-gateway-conformance",
            "--",
            "coverage",
        ])
        .status()?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
