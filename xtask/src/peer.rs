//! `cargo xtask peer`: the suite against a real peer, the official TypeScript SDK's example
//! server with OAuth (`simpleStreamableHttp.js --oauth` from `@modelcontextprotocol/sdk`, pinned
//! in `interop/package-lock.json`), judged with `fixtures/targets/ts-sdk-example.toml` and the
//! baseline `fixtures/targets/ts-sdk-example.baseline.toml`; writes `docs/peer-report.md`.
//!
//! The peer keeps its rate limits in memory (registration 20 an hour, token 50 and authorize 100
//! per 15 minutes, per client address), and one suite run needs more than that. So the run is
//! split by area into passes, each against a freshly started peer, serially (`--concurrency 1`:
//! the same requests hit the same limits every time, so the verdicts do not depend on
//! scheduling). Each pass writes `target/peer/report-<pass>.json`; `target/peer/report.json`
//! holds every check of every pass. The exit status is the worst pass's: 0 when every FAIL and
//! WARN is in the baseline and no entry is stale; NOT-TESTABLE is allowed (the peer has no API
//! keys, no second agent, no test clock).

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::interop::ensure_node_modules;
use crate::{cargo, project_root};

const SERVER: &str = "interop/node_modules/@modelcontextprotocol/sdk/dist/esm/examples/server/simpleStreamableHttp.js";
const PROFILE: &str = "fixtures/targets/ts-sdk-example.toml";
const BASELINE: &str = "fixtures/targets/ts-sdk-example.baseline.toml";
const REPORT_MD: &str = "docs/peer-report.md";

/// The passes: a name and the suite areas it runs, each against a fresh peer.
const PASSES: &[(&str, &[&str])] = &[
    ("discovery-registration", &["discovery", "registration"]),
    ("authorize-pkce", &["authorize", "pkce"]),
    (
        "token-onwards",
        &[
            "token",
            "bearer",
            "audience",
            "refresh",
            "cors",
            "mcp-endpoint",
            "ttl",
        ],
    ),
];

pub fn run() -> anyhow::Result<ExitCode> {
    let root = project_root();
    let started = Instant::now();
    ensure_node_modules(&root)?;
    cargo(
        &root,
        &["build", "--quiet", "-p", "mcp-gateway-conformance"],
    )?;
    eprintln!("xtask: built in {:.1}s", started.elapsed().as_secs_f64());

    let out = root.join("target/peer");
    std::fs::create_dir_all(&out)?;
    let suite = root.join("target/debug/mcp-conformance");
    let run_started = Instant::now();
    let mut worst = 0;
    let mut reports = Vec::new();
    let mut ports = Vec::new();
    for (name, areas) in PASSES {
        let (mcp_port, auth_port) = (free_port()?, free_port()?);
        ports.push((mcp_port, auth_port));
        let log = std::fs::File::create(out.join(format!("server-{name}.log")))?;
        let child = Command::new("node")
            .current_dir(&root)
            .args([SERVER, "--oauth"])
            .env("MCP_PORT", mcp_port.to_string())
            .env("MCP_AUTH_PORT", auth_port.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting the TypeScript SDK example server with node")?;
        let peer = Peer(child);
        wait_until_up(mcp_port, "/.well-known/oauth-protected-resource/mcp")?;
        wait_until_up(auth_port, "/.well-known/oauth-authorization-server")?;
        let json = out.join(format!("report-{name}.json"));
        let mut cmd = Command::new(&suite);
        cmd.current_dir(&root)
            .args(["--target", &format!("http://localhost:{mcp_port}")])
            .args(["--profile", PROFILE, "--baseline", BASELINE])
            .arg("--json")
            .arg(&json)
            .args([
                "--allow-not-testable",
                "--concurrency",
                "1",
                "--pkce-cases",
                "2",
            ])
            .arg("--quiet");
        for area in *areas {
            cmd.args(["--area", area]);
        }
        eprintln!(
            "xtask: pass {name} ({}) against the peer at http://localhost:{mcp_port}/mcp (AS on {auth_port})",
            areas.join(", ")
        );
        let status = cmd.status().context("running mcp-conformance")?;
        drop(peer);
        let code = status.code().unwrap_or(1);
        worst = worst.max(code);
        let text = std::fs::read_to_string(&json)
            .with_context(|| format!("reading {}", json.display()))?;
        reports.push((*name, serde_json::from_str::<Value>(&text)?));
    }

    let merged = merge(&reports);
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&merged)?,
    )?;
    std::fs::write(
        root.join(REPORT_MD),
        stable(&markdown(&merged, &reports), &ports),
    )?;
    eprintln!(
        "xtask: wrote target/peer/report.json and {REPORT_MD}; the peer runs took {:.1}s",
        run_started.elapsed().as_secs_f64()
    );
    Ok(match worst {
        0 => ExitCode::SUCCESS,
        c => ExitCode::from(u8::try_from(c).unwrap_or(1)),
    })
}

/// A free TCP port (the peer binds all interfaces, so ask for one on all of them).
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("0.0.0.0:0")?.local_addr()?.port())
}

/// Polls `GET path` on localhost:`port` until it answers 200, for up to 30 s.
fn wait_until_up(port: u16, path: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let request = format!(
                "GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
            );
            let mut answer = String::new();
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_to_string(&mut answer).is_ok()
                && answer.starts_with("HTTP/1.1 200")
            {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("the peer did not answer GET http://localhost:{port}{path} within 30 s")
}

/// Stops the peer when a pass ends, however it ends.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One report with the checks of every pass (in pass order) and the summaries added up.
fn merge(reports: &[(&str, Value)]) -> Value {
    let mut merged = reports.first().map(|(_, r)| r.clone()).unwrap_or_default();
    let mut checks = Vec::new();
    let mut summary = serde_json::Map::new();
    for (_, report) in reports {
        checks.extend(report["checks"].as_array().cloned().unwrap_or_default());
        for (key, value) in report["summary"].as_object().into_iter().flatten() {
            let entry = summary.entry(key.clone()).or_insert(Value::Null);
            *entry = match (&*entry, value) {
                (Value::Number(a), Value::Number(b)) => {
                    Value::from(a.as_u64().unwrap_or(0) + b.as_u64().unwrap_or(0))
                }
                (Value::Array(a), Value::Array(b)) => {
                    Value::Array(a.iter().chain(b).cloned().collect())
                }
                (Value::Null, v) => v.clone(),
                (a, _) => a.clone(),
            };
        }
    }
    merged["checks"] = Value::Array(checks);
    merged["summary"] = Value::Object(summary);
    // The requirement matrix is per pass; the Markdown report is built from the checks.
    merged.as_object_mut().map(|m| m.remove("requirements"));
    merged
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The report without what changes from run to run, so the committed file changes only when a
/// verdict does: the passes' ports become `MCP_PORT` / `MCP_AUTH_PORT`, the peer's client ids
/// (and session) ids, UUIDs, `<uuid>`, and the suite's random `state` values `<state>`.
fn stable(markdown: &str, ports: &[(u16, u16)]) -> String {
    let mut out = without_states(markdown);
    for (mcp, auth) in ports {
        for host in ["localhost", "127.0.0.1"] {
            out = out
                .replace(&format!("{host}:{mcp}"), &format!("{host}:MCP_PORT"))
                .replace(&format!("{host}:{auth}"), &format!("{host}:MCP_AUTH_PORT"));
        }
    }
    let bytes: Vec<char> = out.chars().collect();
    let shape = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    let mut result = String::with_capacity(out.len());
    let mut i = 0;
    while i < bytes.len() {
        let candidate = bytes.get(i..i + shape.len());
        let is_uuid = candidate.is_some_and(|c| {
            c.iter().zip(shape.chars()).all(|(&ch, s)| {
                if s == '-' {
                    ch == '-'
                } else {
                    ch.is_ascii_hexdigit()
                }
            })
        });
        if is_uuid {
            result.push_str("<uuid>");
            i += shape.len();
            // The peer's SSE event ids: `<session uuid>_<milliseconds>_<random>`.
            let rest: String = bytes[i..].iter().take(24).collect();
            if let Some(tail) = rest.strip_prefix('_')
                && let Some((millis, random)) = tail.split_once('_')
                && !millis.is_empty()
                && millis.bytes().all(|b| b.is_ascii_digit())
            {
                let random_len = random.bytes().take_while(u8::is_ascii_alphanumeric).count();
                result.push_str("_<event>");
                i += 1 + millis.len() + 1 + random_len;
            }
        } else {
            result.push(bytes[i]);
            i += 1;
        }
    }
    result
}

/// `state=VALUE` and `though "VALUE" was sent` with the random value replaced by `<state>`.
fn without_states(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = [("state=", None), ("though \"", Some('"'))]
            .into_iter()
            .filter_map(|(marker, end)| rest.find(marker).map(|at| (at, marker, end)))
            .min_by_key(|(at, _, _)| *at);
        let Some((at, marker, end)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at + marker.len()]);
        rest = &rest[at + marker.len()..];
        let stop = rest
            .find(|c: char| match end {
                Some(e) => c == e,
                None => matches!(c, '&' | ')' | ' ' | '|' | '"' | '\n'),
            })
            .unwrap_or(rest.len());
        if stop > 0 {
            out.push_str("<state>");
        }
        rest = &rest[stop..];
    }
}

/// Table-safe one-liner: no newlines, no pipes, at most `max` characters.
fn cell(s: &str, max: usize) -> String {
    let flat: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|");
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max).collect::<String>())
    } else {
        flat
    }
}

/// `docs/peer-report.md`: counts per verdict, every FAIL and WARN with its baseline reason, and
/// the N/A and NOT-TESTABLE checks with theirs.
fn markdown(merged: &Value, reports: &[(&str, Value)]) -> String {
    let checks = merged["checks"].as_array().cloned().unwrap_or_default();
    let count = |v: &str| checks.iter().filter(|c| text(c, "verdict") == v).count();
    let expected = checks
        .iter()
        .filter(|c| c.get("expected_failure").is_some())
        .count();
    let summary = &merged["summary"];
    let list = |key: &str| -> String {
        let ids: Vec<&str> = summary[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if ids.is_empty() {
            "none".to_owned()
        } else {
            ids.join(", ")
        }
    };
    let mut md = String::new();
    md.push_str("# The suite against the official TypeScript SDK example server\n\n");
    md.push_str(
        "Generated by `cargo xtask peer`; do not edit. The peer is `simpleStreamableHttp.js --oauth` \
         from `@modelcontextprotocol/sdk` ",
    );
    md.push_str(&sdk_version());
    md.push_str(
        " (pinned in `interop/package-lock.json`): its resource server at `http://localhost:MCP_PORT/mcp`, \
         its demo authorization server (`examples/server/demoInMemoryOAuthProvider.js`, no login page) \
         on `MCP_AUTH_PORT`. Profile `fixtures/targets/ts-sdk-example.toml`, baseline \
         `fixtures/targets/ts-sdk-example.baseline.toml` (every FAIL and WARN with the spec clause and \
         the peer's code that explain it).\n\n",
    );
    md.push_str(
        "The peer rate-limits per client address (registration 20 an hour, token 50 per 15 minutes), \
         so the run is split by area into passes, each against a freshly started peer, one scenario \
         at a time: ",
    );
    let passes: Vec<String> = reports
        .iter()
        .map(|(name, r)| {
            format!(
                "{name} ({} checks)",
                r["checks"].as_array().map_or(0, Vec::len)
            )
        })
        .collect();
    md.push_str(&passes.join(", "));
    md.push_str(". Checks the peer's limits still cut short are NOT-TESTABLE, never FAIL.\n\n");
    md.push_str(&format!(
        "Suite {} against MCP authorization {}.\n\n",
        text(merged, "suite_version"),
        text(merged, "spec_revision")
    ));
    md.push_str("## Counts\n\n| verdict | checks |\n|---|---|\n");
    for v in ["PASS", "FAIL", "WARN", "N/A", "NOT-TESTABLE"] {
        md.push_str(&format!("| {v} | {} |\n", count(v)));
    }
    md.push_str(&format!(
        "| total | {} |\n\n{expected} of the FAIL and WARN checks are expected by the baseline; \
         unexpected failures: {}; stale baseline entries: {}; unknown baseline IDs: {}.\n\n",
        checks.len(),
        summary["fail"].as_u64().unwrap_or(0) + summary["warn"].as_u64().unwrap_or(0),
        list("stale_baseline"),
        list("unknown_baseline"),
    ));
    md.push_str("## FAIL and WARN\n\n");
    md.push_str(
        "| verdict | requirements | scenario | reason | baseline reason |\n|---|---|---|---|---|\n",
    );
    for c in checks
        .iter()
        .filter(|c| matches!(text(c, "verdict"), "FAIL" | "WARN"))
    {
        md.push_str(&format!(
            "| {} | {} | {} (`{}`) | {} | {} |\n",
            text(c, "verdict"),
            ids(c),
            cell(text(c, "scenario"), 200),
            text(c, "id"),
            cell(text(c, "reason"), 400),
            cell(
                c.get("expected_failure")
                    .and_then(Value::as_str)
                    .unwrap_or("**not in the baseline**"),
                1000
            ),
        ));
    }
    for (title, verdict) in [("N/A", "N/A"), ("NOT-TESTABLE", "NOT-TESTABLE")] {
        md.push_str(&format!(
            "\n## {title}\n\n| requirements | scenario | reason |\n|---|---|---|\n"
        ));
        for c in checks.iter().filter(|c| text(c, "verdict") == verdict) {
            md.push_str(&format!(
                "| {} | {} (`{}`) | {} |\n",
                ids(c),
                cell(text(c, "scenario"), 200),
                text(c, "id"),
                cell(text(c, "reason"), 400),
            ));
        }
    }
    md
}

fn ids(check: &Value) -> String {
    check["requirements"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The installed SDK's version, from its package.json.
fn sdk_version() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../interop/node_modules/@modelcontextprotocol/sdk/package.json");
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "(version unknown)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_hides_ports_client_ids_and_event_ids() {
        assert_eq!(
            stable(
                "id: 8413a64b-c1dd-4104-826d-4666d842c18b_1795995492063_cziyg52a\\ndata",
                &[]
            ),
            "id: <uuid>_<event>\\ndata"
        );
        assert_eq!(
            without_states("with code=<redacted>&state=rRU~q.T_v) and though \"N7l-6B\" was sent"),
            "with code=<redacted>&state=<state>) and though \"<state>\" was sent"
        );
        let text = "POST http://localhost:33695/register → 201 (client_id Some(\"8413a64b-c1dd-4104-826d-4666d842c18b\")); AS http://127.0.0.1:40001/token; port 33695 alone stays";
        assert_eq!(
            stable(text, &[(33695, 40001)]),
            "POST http://localhost:MCP_PORT/register → 201 (client_id Some(\"<uuid>\")); AS http://127.0.0.1:MCP_AUTH_PORT/token; port 33695 alone stays"
        );
    }
}
