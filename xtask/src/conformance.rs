//! `cargo xtask conformance`: build the suite (and, without `--target`, the reference gateway),
//! start the reference on a free loopback port with its test clock, run the suite against it, and
//! stop it. Every other flag goes through to `mcp-conformance` unchanged.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::flags::ConformanceArgs;
use crate::{cargo, project_root};

pub fn run(args: &ConformanceArgs) -> anyhow::Result<ExitCode> {
    let root = project_root();
    let profile_given = args
        .passthrough
        .iter()
        .any(|a| a == "--profile" || a.starts_with("--profile="));
    let target_given = args
        .passthrough
        .iter()
        .any(|a| a == "--target" || a.starts_with("--target="));
    let build_started = Instant::now();
    let mut build = vec!["build", "--quiet", "-p", "mcp-gateway-conformance"];
    if !target_given {
        build.extend(["-p", "mcp-gateway-reference"]);
    }
    if args.release {
        build.push("--release");
    }
    cargo(&root, &build)?;
    let profile_dir = if args.release { "release" } else { "debug" };
    let bin_dir = root.join("target").join(profile_dir);
    eprintln!(
        "xtask: built in {:.1}s",
        build_started.elapsed().as_secs_f64()
    );

    let run_started = Instant::now();
    let mut reference = None;
    let mut suite = Command::new(bin_dir.join("mcp-conformance"));
    suite.current_dir(&root);
    if !target_given {
        let (guard, url) = start_reference(&bin_dir.join("mcp-gateway-reference"), &root, &[])?;
        eprintln!("xtask: reference gateway at {url} (test clock on)");
        reference = Some(guard);
        suite.args(["--target", &url]);
        if !profile_given {
            suite.args(["--profile", "fixtures/targets/reference.toml"]);
        }
    }
    suite.args(&args.passthrough);
    let status = suite.status().context("running mcp-conformance")?;
    drop(reference);
    eprintln!(
        "xtask: conformance run took {:.1}s (after the build)",
        run_started.elapsed().as_secs_f64()
    );
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::from(1),
    })
}

/// Starts `binary` (the reference) with the demo world and its test clock on a free port, plus
/// `extra` flags, and waits for its `listening on` line.
pub fn start_reference(
    binary: &std::path::Path,
    root: &std::path::Path,
    extra: &[&str],
) -> anyhow::Result<(Guard, String)> {
    let mut child = Command::new(binary)
        .current_dir(root)
        .args([
            "serve",
            "--config",
            "fixtures/reference.toml",
            "--bind",
            "127.0.0.1:0",
            "--test-clock",
        ])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting mcp-gateway-reference")?;
    let stdout = child.stdout.take().context("reference stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("listening on ") {
                let url = rest.split_whitespace().next().unwrap_or("").to_owned();
                let _ = tx.send(url);
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(url) => Ok((Guard(child), url)),
        Err(_) => {
            let _ = child.kill();
            bail!("the reference gateway did not start within 30 s")
        }
    }
}

/// Stops the reference when the run ends, however it ends.
pub struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
