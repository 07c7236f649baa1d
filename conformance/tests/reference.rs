//! The suite against the reference gateway, exactly as an implementer runs it against theirs: a
//! separately started gateway process, `--target URL --profile FILE`, the `form` login driver,
//! reports written to files. Every check must PASS: the reference is the oracle, so anything
//! else is a bug in one of the two.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The reference binary next to ours, rebuilt first: `cargo test -p mcp-gateway-conformance`
/// alone does not build another package's binary, and a stale one would test old code (under
/// `cargo test --workspace` this build finds nothing to do; under `cargo mutants` it picks up the
/// mutant).
fn reference_binary() -> PathBuf {
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_mcp-conformance"));
    let bin = ours.with_file_name(format!(
        "mcp-gateway-reference{}",
        std::env::consts::EXE_SUFFIX
    ));
    let status = Command::new(env!("CARGO"))
        .current_dir(root())
        .args(["build", "--quiet", "-p", "mcp-gateway-reference"])
        .status()
        .expect("cargo build runs");
    assert!(status.success(), "building the reference gateway failed");
    bin
}

struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_reference() -> (Gateway, String) {
    let mut child = Command::new(reference_binary())
        .current_dir(root())
        .args([
            "serve",
            "--config",
            "fixtures/reference.toml",
            "--bind",
            "127.0.0.1:0",
            "--test-clock",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the reference starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("listening on ") {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_owned());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the reference prints its address");
    (Gateway(child), url)
}

#[test]
fn every_check_passes_against_the_reference() {
    let (_gateway, url) = start_reference();
    let dir = std::env::temp_dir().join(format!("mcp-conformance-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("report.json");
    let junit = dir.join("report.xml");
    let html = dir.join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_mcp-conformance"))
        .current_dir(root())
        .args([
            "--target",
            &url,
            "--profile",
            "fixtures/targets/reference.toml",
            "--quiet",
        ])
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .arg("--html")
        .arg(&html)
        .output()
        .expect("mcp-conformance runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    assert!(
        out.status.success() && last.ends_with(" passed, 0 failed"),
        "the suite failed against the reference ({:?}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let schema: serde_json::Value = serde_json::from_str(include_str!(
        "../../fixtures/schemas/conformance-report.schema.json"
    ))
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "report does not match its schema: {errors:#?}"
    );
    let checks = report["checks"].as_array().unwrap();
    assert!(checks.len() >= 2, "{checks:?}");
    for c in checks {
        // N/A only for the twins of capabilities the reference has (e.g. "no refresh grant").
        assert!(c["verdict"] == "PASS" || c["verdict"] == "N/A", "{c:#}");
    }
    let passes = checks.iter().filter(|c| c["verdict"] == "PASS").count();
    assert!(
        passes * 10 >= checks.len() * 9,
        "too few PASS: {passes} of {}",
        checks.len()
    );

    // Nothing secret reaches a report.
    let secrets = [
        "alice-demo-password",
        "bak_demoResearchAgentKey000000000001",
        "oag_demoAliceUserKey00000000000000001",
        "demo-only-hs256-secret-do-not-use-in-production",
    ];
    for file in [&json, &junit, &html] {
        let text = std::fs::read_to_string(file).unwrap();
        for s in secrets {
            assert!(!text.contains(s), "{} leaks {s}", file.display());
        }
        assert!(!text.contains("eyJ"), "{} leaks a JWT", file.display());
        // A verifier is 43+ unreserved characters right after `code_verifier=`.
        for (i, _) in text.match_indices("code_verifier=") {
            let value: String = text[i + "code_verifier=".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-._~".contains(*c))
                .collect();
            assert!(value.len() < 43, "{} leaks a verifier", file.display());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
