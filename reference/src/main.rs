//! `mcp-gateway-reference`: run the reference gateway, or prepare secrets for its configuration.
//!
//! ```text
//! mcp-gateway-reference serve --config fixtures/reference.toml [--bind 127.0.0.1:8080] [--issuer URL] [--test-clock]
//! mcp-gateway-reference hash-password < password.txt
//! mcp-gateway-reference hash-key bak_...
//! ```
//!
//! No logic lives here: parse flags, load the configuration, bind, serve. The one check of its
//! own, [`refuse_unsafe_test_clock`], keeps the test-only clock hook off non-loopback binds.

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use mcp_gateway_reference::config::{JWT_SECRET_ENV, RawConfig};
use mcp_gateway_reference::test_clock::is_loopback_bind;
use mcp_gateway_reference::{
    AppState, Config, MemoryStore, OffsetClock, Overrides, SystemClock, serve,
};

#[derive(Debug, Parser)]
#[command(name = "mcp-gateway-reference", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// The TOML configuration (users, agents, keys, limits).
        #[arg(long, env = "MCP_GATEWAY_CONFIG")]
        config: PathBuf,
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        /// Public origin of the gateway (the OAuth issuer). Default: the configuration's, else
        /// `http://<bound address>` when bound to loopback.
        #[arg(long)]
        issuer: Option<String>,
        /// Expose /__test/clock so a test harness can move the gateway's clock forward; refused
        /// unless bound to loopback.
        #[arg(long)]
        test_clock: bool,
        /// Start with the named implementer bug switched on (`faults` lists them); for
        /// `cargo xtask faults` only.
        #[cfg(feature = "faults")]
        #[arg(long, value_name = "NAME")]
        fault: Option<String>,
    },
    /// List the named faults as JSON: name, expected verdict, requirement IDs, summary.
    #[cfg(feature = "faults")]
    Faults,
    /// Print the argon2id PHC hash of the password read from standard input (for `password_hash`).
    HashPassword,
    /// Print the SHA-256 of an API key (for `api_key_sha256`), read from standard input (which
    /// keeps it out of shell history), or given as KEY.
    HashKey { key: Option<String> },
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-gateway-reference: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve {
            config,
            bind,
            issuer,
            test_clock,
            #[cfg(feature = "faults")]
            fault,
        } => {
            #[cfg(feature = "faults")]
            if let Some(name) = fault {
                let spec =
                    mcp_gateway_reference::faults::activate(&name).map_err(anyhow::Error::msg)?;
                eprintln!(
                    "mcp-gateway-reference: FAULT {} is on ({}): this gateway is deliberately broken",
                    spec.name, spec.summary
                );
            }
            serve_command(config, bind, issuer, test_clock)
        }
        #[cfg(feature = "faults")]
        Command::Faults => {
            let list: Vec<_> = mcp_gateway_reference::faults::CATALOG
                .iter()
                .map(|(_, spec)| spec)
                .collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
            Ok(())
        }
        Command::HashPassword => {
            let password = read_stdin_line()?;
            println!(
                "{}",
                mcp_gateway_reference::login::hash_password(&password)?
            );
            Ok(())
        }
        Command::HashKey { key } => {
            let key = match key {
                Some(key) => key,
                None => read_stdin_line()?,
            };
            println!("{}", mcp_gateway_reference::secrets::sha256_hex(&key));
            Ok(())
        }
    }
}

/// `--test-clock` lets any client that reaches the hook expire every code and token at will, so it
/// is refused unless the bind address is loopback: nobody off the machine can then reach it (the
/// hook also checks each peer, `test_clock.rs`).
fn refuse_unsafe_test_clock(test_clock: bool, bind: SocketAddr) -> anyhow::Result<()> {
    anyhow::ensure!(
        !test_clock || is_loopback_bind(bind),
        "--test-clock is refused on {bind}, which is not loopback: it lets clients move the \
         gateway's clock; bind to 127.0.0.1 or [::1]"
    );
    Ok(())
}

fn serve_command(
    path: PathBuf,
    bind: SocketAddr,
    issuer: Option<String>,
    test_clock: bool,
) -> anyhow::Result<()> {
    refuse_unsafe_test_clock(test_clock, bind)?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let raw: RawConfig =
        toml::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))?;

    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot listen on {bind}"))?;
        let local = listener.local_addr()?;
        let issuer = match issuer.or_else(|| raw.gateway.issuer.clone()) {
            Some(issuer) => issuer,
            None if local.ip().is_loopback() => format!("http://{local}"),
            None => anyhow::bail!(
                "bound to {local}, which is not loopback: set --issuer to the public https origin"
            ),
        };
        let overrides = Overrides {
            issuer: Some(issuer),
            jwt_secret: std::env::var(JWT_SECRET_ENV).ok(),
        };
        let config = Config::validate(raw, &overrides)
            .with_context(|| format!("invalid configuration {}", path.display()))?;
        if config.demo {
            tracing::warn!(
                "{} holds DEMO secrets (public passwords, keys and JWT secret): never expose this gateway",
                path.display()
            );
        }
        if config.uses_demo_secret() {
            tracing::warn!(
                "the JWT secret is the public demo secret: anyone can mint tokens; set {JWT_SECRET_ENV}"
            );
        }
        if config.insecure_issuer() {
            tracing::warn!(issuer = %config.issuer, "issuer is plain http on a non-loopback host (RFC 8414 §2 requires https)");
        }
        let store = Arc::new(MemoryStore::new(config.limits.clone()));
        let issuer = config.issuer.clone();
        let state = if test_clock {
            tracing::warn!(
                "--test-clock: /__test/clock lets loopback clients move this gateway's clock forward; for conformance tests only"
            );
            AppState::with_test_clock(config, Arc::new(OffsetClock::new()), store)?
        } else {
            AppState::new(config, Arc::new(SystemClock), store)?
        };
        // A stable line that scripts (xtask) wait for.
        println!("listening on http://{local} (issuer {issuer})");
        serve(listener, state, shutdown_signal()).await?;
        tracing::info!("shut down");
        Ok(())
    })
}

/// Resolves on Ctrl-C or SIGTERM, starting a graceful shutdown.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn read_stdin_line() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let line = input.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!line.is_empty(), "nothing on standard input");
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_clock_is_refused_unless_bound_to_loopback() {
        for bind in ["127.0.0.1:8080", "127.0.0.1:0", "[::1]:8080"] {
            let bind: SocketAddr = bind.parse().unwrap();
            assert!(refuse_unsafe_test_clock(true, bind).is_ok(), "{bind}");
        }
        for bind in [
            "0.0.0.0:8080",
            "[::]:8080",
            "192.0.2.1:8080",
            "[2001:db8::1]:443",
        ] {
            let bind: SocketAddr = bind.parse().unwrap();
            let error = refuse_unsafe_test_clock(true, bind)
                .unwrap_err()
                .to_string();
            assert!(error.contains("not loopback"), "{error}");
            assert!(
                refuse_unsafe_test_clock(false, bind).is_ok(),
                "no hook, no check"
            );
        }
    }

    #[test]
    fn serve_accepts_the_test_clock_flag() {
        let cli = Cli::try_parse_from([
            "mcp-gateway-reference",
            "serve",
            "--config",
            "fixtures/reference.toml",
            "--test-clock",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Serve {
                test_clock: true,
                ..
            }
        ));
        let cli = Cli::try_parse_from(["x", "serve", "--config", "f.toml"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Serve {
                test_clock: false,
                ..
            }
        ));
    }
}
