//! `cargo xtask interop`: real MCP clients log in to the reference gateway from the 401 onwards.
//!
//! Builds the reference, makes sure the clients' dependencies are there (`interop/node_modules`
//! via `npm ci`, the Python venv `target/interop/venv` from `interop/python/requirements.txt`),
//! then for each client starts a fresh reference with its test clock, runs the client script with
//! the contract's environment (`interop/README.md`), streams its output prefixed with the
//! client's name, and ends with a summary table. Exit 1 when any client failed or is missing.

use std::io::{BufRead as _, BufReader, Read};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::conformance::start_reference;
use crate::flags::InteropArgs;
use crate::{cargo, project_root};

/// The clients, in the order they run.
const CLIENTS: &[&str] = &["ts", "python", "browser"];
const VENV: &str = "target/interop/venv";
const REQUIREMENTS: &str = "interop/python/requirements.txt";
/// The demo world's user (fixtures/reference.toml); `INTEROP_USERNAME` / `INTEROP_PASSWORD` in
/// the environment override them, e.g. to watch the `authorize` step fail.
const USERNAME: &str = "alice";
const PASSWORD: &str = "alice-demo-password";
const AGENT: &str = "research-agent";
/// A client that runs longer than this is stopped and failed.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(300);

/// What one client run came to.
#[derive(Debug, Default)]
struct Outcome {
    passed: usize,
    failed: usize,
    /// The first failed step, or why the client did not run or did not finish.
    note: Option<String>,
    wall: Option<Duration>,
    ok: bool,
}

pub fn run(args: &InteropArgs) -> anyhow::Result<ExitCode> {
    let root = project_root();
    let selected = select(&args.only)?;

    let started = Instant::now();
    cargo(&root, &["build", "--quiet", "-p", "mcp-gateway-reference"])?;
    eprintln!(
        "xtask: reference built in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let reference = root.join("target/debug/mcp-gateway-reference");

    let mut results = Vec::new();
    for client in selected {
        let script = root.join(script_path(client));
        if !script.is_file() {
            results.push((
                client,
                Outcome {
                    note: Some(format!("missing: {} does not exist", script_path(client))),
                    ..Outcome::default()
                },
            ));
            continue;
        }
        let prepared = match client {
            "python" => ensure_venv(&root),
            "browser" => ensure_node_modules(&root).and_then(|()| ensure_chromium()),
            _ => ensure_node_modules(&root),
        };
        let outcome = match prepared {
            Ok(()) => run_client(client, &root, &reference)?,
            Err(e) => Outcome {
                note: Some(format!("setup failed: {e:#}")),
                ..Outcome::default()
            },
        };
        results.push((client, outcome));
    }

    println!();
    print!("{}", summary(&results));
    eprintln!(
        "xtask: interop took {:.1}s in all",
        started.elapsed().as_secs_f64()
    );
    Ok(if results.iter().all(|(_, o)| o.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn select(only: &[String]) -> anyhow::Result<Vec<&'static str>> {
    if only.is_empty() {
        return Ok(CLIENTS.to_vec());
    }
    for name in only {
        if !CLIENTS.contains(&name.as_str()) {
            bail!(
                "unknown client {name:?}; the clients: {}",
                CLIENTS.join(", ")
            );
        }
    }
    Ok(CLIENTS
        .iter()
        .copied()
        .filter(|c| only.iter().any(|o| o == c))
        .collect())
}

fn script_path(client: &str) -> &'static str {
    match client {
        "ts" => "interop/ts-client.mjs",
        "python" => "interop/python/client.py",
        _ => "interop/browser.mjs",
    }
}

/// The command line of a client, relative to the workspace root.
fn client_command(client: &str, root: &Path) -> Command {
    match client {
        "python" => {
            let mut c = Command::new(root.join(VENV).join("bin/python"));
            c.arg(script_path(client));
            c
        }
        _ => {
            let mut c = Command::new("node");
            c.arg(script_path(client));
            c
        }
    }
}

/// `npm ci --prefix interop` when `interop/node_modules` is missing.
/// The pinned npm packages in `interop/node_modules` (`npm ci --prefix interop` when the SDK is
/// not there); also used by `cargo xtask peer`.
pub fn ensure_node_modules(root: &Path) -> anyhow::Result<()> {
    if root
        .join("interop/node_modules/@modelcontextprotocol/sdk/package.json")
        .is_file()
    {
        return Ok(());
    }
    eprintln!("xtask: interop/node_modules is missing: npm ci --prefix interop");
    let started = Instant::now();
    let status = Command::new("npm")
        .current_dir(root)
        .args(["ci", "--prefix", "interop", "--no-audit", "--no-fund"])
        .status()
        .context("running npm ci (is npm installed?)")?;
    if !status.success() {
        bail!("npm ci --prefix interop failed");
    }
    eprintln!("xtask: npm ci took {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Debian's Chromium for the browser client (`$CHROMIUM`, default `/usr/bin/chromium`). When it
/// is missing and we are root on a machine with apt (a fresh CI machine), it is installed with
/// `apt-get install chromium chromium-driver`; otherwise the error says what to install.
fn ensure_chromium() -> anyhow::Result<()> {
    let chromium = env_or("CHROMIUM", "/usr/bin/chromium");
    if Path::new(&chromium).is_file() {
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if chromium != "/usr/bin/chromium" || !is_root || !Path::new("/usr/bin/apt-get").is_file() {
        bail!(
            "{chromium} is missing: install Debian's chromium (apt-get install chromium chromium-driver) or set CHROMIUM"
        );
    }
    eprintln!("xtask: {chromium} is missing: apt-get install chromium chromium-driver");
    let started = Instant::now();
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    let install = ["install", "-y", "-qq", "chromium", "chromium-driver"];
    // The package lists of a fresh machine may be empty or stale: update once and retry.
    let installed = apt(&install) || (apt(&["update", "-qq"]) && apt(&install));
    if !installed {
        bail!("apt-get install chromium chromium-driver failed");
    }
    eprintln!(
        "xtask: chromium installed in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The venv `target/interop/venv` with the pinned requirements. A copy of the requirements it was
/// installed from is kept inside it; when that copy differs from `interop/python/requirements.txt`
/// (or the venv is missing) the venv is made again from scratch.
fn ensure_venv(root: &Path) -> anyhow::Result<()> {
    let venv = root.join(VENV);
    let wanted = std::fs::read_to_string(root.join(REQUIREMENTS))
        .with_context(|| format!("reading {REQUIREMENTS}"))?;
    let stamp = venv.join("interop-requirements.txt");
    if venv_is_current(&venv, &stamp, &wanted) {
        return Ok(());
    }
    eprintln!("xtask: creating {VENV} from {REQUIREMENTS}");
    let started = Instant::now();
    if venv.exists() {
        std::fs::remove_dir_all(&venv).with_context(|| format!("removing {VENV}"))?;
    }
    let status = Command::new("python3")
        .current_dir(root)
        .args(["-m", "venv", VENV])
        .status()
        .context("running python3 -m venv (is python3-venv installed?)")?;
    if !status.success() {
        bail!("python3 -m venv {VENV} failed");
    }
    let status = Command::new(venv.join("bin/python"))
        .current_dir(root)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            REQUIREMENTS,
        ])
        .status()
        .context("running pip install")?;
    if !status.success() {
        bail!("pip install -r {REQUIREMENTS} failed");
    }
    std::fs::write(&stamp, &wanted).context("writing the venv's requirements copy")?;
    eprintln!(
        "xtask: venv ready in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn venv_is_current(venv: &Path, stamp: &Path, wanted: &str) -> bool {
    venv.join("bin/python").is_file()
        && std::fs::read_to_string(stamp).is_ok_and(|installed| installed == wanted)
}

/// One client against its own fresh reference.
fn run_client(client: &'static str, root: &Path, reference: &Path) -> anyhow::Result<Outcome> {
    let (guard, base) = start_reference(reference, root, &[])?;
    eprintln!("xtask: [{client}] reference gateway at {base} (test clock on)");
    let artifacts = root.join("target/interop").join(client);
    if artifacts.exists() {
        std::fs::remove_dir_all(&artifacts)
            .with_context(|| format!("clearing {}", artifacts.display()))?;
    }
    std::fs::create_dir_all(&artifacts)
        .with_context(|| format!("creating {}", artifacts.display()))?;

    let started = Instant::now();
    let mut child = client_command(client, root)
        .current_dir(root)
        .env("INTEROP_MCP_URL", format!("{base}/{AGENT}/mcp"))
        .env("INTEROP_USERNAME", env_or("INTEROP_USERNAME", USERNAME))
        .env("INTEROP_PASSWORD", env_or("INTEROP_PASSWORD", PASSWORD))
        .env("INTEROP_CLOCK_URL", format!("{base}/__test/clock"))
        .env("INTEROP_ARTIFACTS", &artifacts)
        .env("CHROMIUM", env_or("CHROMIUM", "/usr/bin/chromium"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting the {client} client"))?;
    let stdout = stream(client, child.stdout.take().context("client stdout")?);
    let stderr = stream(client, child.stderr.take().context("client stderr")?);

    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for the client")? {
            break status;
        }
        if started.elapsed() > CLIENT_TIMEOUT {
            timed_out = true;
            let _ = child.kill();
            break child.wait().context("waiting for the killed client")?;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let wall = started.elapsed();
    let lines: Vec<String> = stdout.join().unwrap_or_default();
    let _ = stderr.join();
    drop(guard);

    let mut outcome = tally(&lines);
    outcome.wall = Some(wall);
    if timed_out {
        outcome.note = Some(format!(
            "timed out after {} s{}",
            CLIENT_TIMEOUT.as_secs(),
            outcome
                .note
                .as_deref()
                .map(|n| format!("; {n}"))
                .unwrap_or_default()
        ));
    } else if !status.success() && outcome.failed == 0 {
        outcome.note = Some(format!("exited with {status} without a FAIL line"));
    } else if status.success() && outcome.failed > 0 {
        outcome.note = Some(format!(
            "exited 0 despite FAIL lines; {}",
            outcome.note.clone().unwrap_or_default()
        ));
    } else if outcome.passed == 0 && outcome.failed == 0 {
        outcome.note = Some("printed no PASS/FAIL line".into());
    }
    outcome.ok = !timed_out && status.success() && outcome.failed == 0 && outcome.passed > 0;
    Ok(outcome)
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// Prints every line of `pipe` prefixed with `[client]` as it arrives; returns the lines.
fn stream(
    client: &'static str,
    pipe: impl Read + Send + 'static,
) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            println!("[{client}] {line}");
            lines.push(line);
        }
        lines
    })
}

/// Counts the contract's `PASS <step>` / `FAIL <step>: <reason>` lines; the note is the first
/// failed step.
fn tally(lines: &[String]) -> Outcome {
    let mut outcome = Outcome::default();
    for line in lines {
        if line.starts_with("PASS ") {
            outcome.passed += 1;
        } else if let Some(rest) = line.strip_prefix("FAIL ") {
            outcome.failed += 1;
            if outcome.note.is_none() {
                let step = rest.split_once(": ").map_or(rest, |(step, _)| step);
                outcome.note = Some(format!("first failure: {step}"));
            }
        }
    }
    outcome
}

/// The table printed at the end: client → result, steps passed and failed, wall time, note.
fn summary(results: &[(&str, Outcome)]) -> String {
    let mut out = String::from("client   result  passed  failed  time     note\n");
    for (client, o) in results {
        let wall = o
            .wall
            .map_or_else(|| "-".to_owned(), |w| format!("{:.1}s", w.as_secs_f64()));
        out.push_str(
            format!(
                "{client:<8} {:<7} {:<7} {:<7} {wall:<8} {}",
                if o.ok { "PASS" } else { "FAIL" },
                o.passed,
                o.failed,
                o.note.as_deref().unwrap_or("")
            )
            .trim_end(),
        );
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_keeps_the_run_order_and_refuses_unknown_clients() {
        assert_eq!(select(&[]).unwrap(), ["ts", "python", "browser"]);
        let only = ["browser".to_owned(), "ts".to_owned()];
        assert_eq!(select(&only).unwrap(), ["ts", "browser"]);
        let err = select(&["rust".to_owned()]).unwrap_err().to_string();
        assert!(err.contains("unknown client \"rust\""), "{err}");
    }

    #[test]
    fn tally_counts_steps_and_names_the_first_failure() {
        let lines: Vec<String> = [
            "PASS challenge",
            "FAIL authorize: the login form came back",
            "  > POST http://127.0.0.1/oauth/login",
            "FAIL token: not reached",
            "# refresh run",
            "PASSING is not a step line",
        ]
        .map(String::from)
        .to_vec();
        let o = tally(&lines);
        assert_eq!((o.passed, o.failed), (1, 2));
        assert_eq!(o.note.as_deref(), Some("first failure: authorize"));
    }

    #[test]
    fn summary_is_a_table_with_missing_clients_as_fail() {
        let results = [
            (
                "ts",
                Outcome {
                    passed: 12,
                    wall: Some(Duration::from_millis(1234)),
                    ok: true,
                    ..Outcome::default()
                },
            ),
            (
                "python",
                Outcome {
                    note: Some("missing: interop/python/client.py does not exist".into()),
                    ..Outcome::default()
                },
            ),
        ];
        assert_eq!(
            summary(&results),
            "client   result  passed  failed  time     note\n\
             ts       PASS    12      0       1.2s\n\
             python   FAIL    0       0       -        missing: interop/python/client.py does not exist\n"
        );
    }

    #[test]
    fn a_venv_is_current_only_with_the_same_requirements() {
        let dir = std::env::temp_dir().join(format!("xtask-venv-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        let stamp = dir.join("interop-requirements.txt");
        assert!(!venv_is_current(&dir, &stamp, "mcp==2.3.0\n"));
        std::fs::write(dir.join("bin/python"), "").unwrap();
        assert!(!venv_is_current(&dir, &stamp, "mcp==2.3.0\n"));
        std::fs::write(&stamp, "mcp==2.3.0\n").unwrap();
        assert!(venv_is_current(&dir, &stamp, "mcp==2.3.0\n"));
        assert!(!venv_is_current(&dir, &stamp, "mcp==2.4.0\n"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn every_client_script_path_is_under_interop() {
        for client in CLIENTS {
            assert!(script_path(client).starts_with("interop/"));
        }
    }
}
