//! `mcp-conformance`: run the conformance suite against an MCP gateway.
//!
//! ```text
//! mcp-conformance --profile my-gateway.toml [--target https://gw.example] [--junit r.xml] …
//! mcp-conformance coverage      # the requirement → scenario matrix
//! ```
//!
//! Exit status: 0 when nothing failed, 1 when a check failed (FAIL, NOT-TESTABLE unless
//! `--allow-not-testable`, a stale baseline entry), 2 when the run could not start. The last line
//! of standard output is always `N passed, N failed`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mcp_conformance::report::{html, json, junit, terminal};
use mcp_conformance::runner::{self, RunConfig};

#[derive(Debug, Parser)]
#[command(
    name = "mcp-conformance",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the requirement → scenario matrix; exit 1 when a MUST or SHOULD has neither a
    /// scenario nor an exclusion reason.
    Coverage {
        /// Read features from DIR instead of the embedded copies.
        #[arg(long, value_name = "DIR")]
        features: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The target profile (TOML): agents, login, keys; see the README.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// The gateway's base URL (overrides the profile's base_url).
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// Run TTL checks in real time (waits past the code and token lifetimes: over an hour).
    #[arg(long)]
    slow: bool,
    /// Do not fail the run for NOT-TESTABLE checks.
    #[arg(long)]
    allow_not_testable: bool,
    /// Cases per PKCE property (each is a full register/authorize/login/token cycle).
    #[arg(long, default_value_t = 12, value_name = "N")]
    pkce_cases: u32,
    /// Seed of the PKCE properties (hex); printed with every run.
    #[arg(long, value_name = "HEX")]
    seed: Option<String>,
    /// Replay exactly one PKCE case, as printed after a failure.
    #[arg(long, value_name = "CASE")]
    pkce_replay: Option<String>,
    /// Expected failures by requirement ID (TOML); stale entries fail the run.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write the JSON report (schema `mcp-conformance-report/1`).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a self-contained HTML report.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Scenarios in flight at once.
    #[arg(long, default_value_t = 16, value_name = "N")]
    concurrency: usize,
    /// Only these areas (repeatable): discovery, registration, authorize, pkce, token, bearer,
    /// audience, refresh, cors, mcp-endpoint, ttl.
    #[arg(long = "area", value_name = "AREA")]
    areas: Vec<String>,
    /// Only scenarios tagged with this requirement ID (repeatable).
    #[arg(long = "req", value_name = "ID")]
    requirements: Vec<String>,
    /// Read features from DIR instead of the embedded copies.
    #[arg(long, value_name = "DIR")]
    features: Option<PathBuf>,
    /// No progress lines; only the summary.
    #[arg(long, short)]
    quiet: bool,
}

/// A report writer: a pure function from the report to a file's text.
type Writer = fn(&mcp_conformance::report::Report) -> String;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Coverage { features }) => coverage(features),
        None => run(cli.run),
    }
}

fn coverage(dir: Option<PathBuf>) -> ExitCode {
    let suite = match mcp_conformance::features::load(dir.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mcp-conformance: {e:#}");
            return ExitCode::from(2);
        }
    };
    let registry = mcp_conformance::registry::Registry::embedded();
    let refs: Vec<_> = suite.scenarios.iter().map(|s| s.as_ref()).collect();
    let cov = mcp_conformance::registry::coverage(registry, &refs);
    println!("{}", cov.render());
    if cov.is_complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn run(args: RunArgs) -> ExitCode {
    let Some(profile) = args.profile else {
        eprintln!(
            "mcp-conformance: --profile FILE is required (see the README's \"Check your gateway\"; fixtures/targets/reference.toml is an example)"
        );
        return ExitCode::from(2);
    };
    let cfg = RunConfig {
        profile,
        target: args.target,
        slow: args.slow,
        allow_not_testable: args.allow_not_testable,
        pkce_cases: args.pkce_cases,
        seed: args.seed,
        pkce_replay: args.pkce_replay,
        baseline: args.baseline,
        concurrency: args.concurrency,
        features_dir: args.features,
        areas: args.areas,
        requirements: args.requirements,
        progress: !args.quiet,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mcp-conformance: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match runtime.block_on(runner::run(&cfg)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mcp-conformance: {e:#}");
            println!("0 passed, 0 failed");
            return ExitCode::from(2);
        }
    };
    let writes: [(&Option<PathBuf>, Writer); 3] = [
        (&args.junit, junit::to_junit),
        (&args.json, json::to_json),
        (&args.html, html::to_html),
    ];
    let mut write_failed = false;
    for (path, writer) in writes {
        if let Some(path) = path
            && let Err(e) = std::fs::write(path, writer(&report))
        {
            eprintln!("mcp-conformance: cannot write {}: {e}", path.display());
            write_failed = true;
        }
    }
    println!("{}", terminal::summary(&report));
    if report.summary.failed > 0 || write_failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
