//! `cargo xtask serve`: `cargo run` the reference gateway with the demo world.

use std::process::{Command, ExitCode};

use anyhow::Context as _;

use crate::flags::ServeArgs;
use crate::project_root;

pub fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let root = project_root();
    let config = args
        .config
        .clone()
        .unwrap_or_else(|| root.join("fixtures/reference.toml"));
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&root)
        .args(["run", "--quiet", "--package", "mcp-gateway-reference"]);
    if args.release {
        cmd.arg("--release");
    }
    cmd.args(["--", "serve", "--config"])
        .arg(&config)
        .arg("--bind")
        .arg(format!("127.0.0.1:{}", args.port));
    if let Some(issuer) = &args.issuer {
        cmd.args(["--issuer", issuer]);
    }
    if args.test_clock {
        cmd.arg("--test-clock");
    }
    let status = cmd.status().context("cannot run cargo")?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}
