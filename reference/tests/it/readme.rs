//! The README's curl walk-through, run verbatim against a live gateway, so the documentation
//! cannot drift from the code. Needs `bash`, `curl` and `sed` (present on the CI machine).

use crate::support::*;

/// Guide steps 1–4 as documented in README.md "Walk through the guide's four steps with curl":
/// the 401 challenge, discovery, registration, authorize + login, exchange, and `tools/list` with
/// the JWT, the `bak_` key and the `oag_` key.
#[tokio::test]
async fn readme_walkthrough_runs_against_the_reference() {
    let gw = TestGateway::start().await;
    let readme = std::fs::read_to_string(project_root().join("README.md")).unwrap();
    let section = readme
        .split("## Walk through the guide's four steps with curl")
        .nth(1)
        .expect("README has the walk-through section");
    let script = section
        .split("```sh\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("the section has a sh block");
    assert!(
        script.contains("G=http://127.0.0.1:8080\n"),
        "the script starts from the served port"
    );
    let script = script.replace("G=http://127.0.0.1:8080\n", &format!("G={}\n", gw.base));

    let dir = std::env::temp_dir().join(format!("readme-walkthrough-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("set -euo pipefail\n{script}"))
            .current_dir(&dir)
            .output()
            .expect("bash and curl are installed")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "walk-through failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );

    assert!(
        stdout.contains("www-authenticate: Bearer realm=\"MCP\", resource_metadata=\""),
        "401 challenge shown: {stdout}"
    );
    assert!(stdout.contains("client_id: mcp_client_"), "{stdout}");
    assert!(
        stdout.contains("callback: http://localhost:5173/callback?code="),
        "{stdout}"
    );
    assert!(
        stdout.contains("&state=random_state_value&iss="),
        "{stdout}"
    );
    assert!(stdout.contains("\"token_type\":\"Bearer\""), "{stdout}");
    assert!(stdout.contains("\"expires_in\":3600"), "{stdout}");
    assert_eq!(
        stdout.matches("\"name\":\"whoami\"").count(),
        3,
        "tools/list succeeded with the JWT, the bak_ key and the oag_ key: {stdout}"
    );
    assert!(stdout.contains("\"bearer_type\":\"oauth\""), "{stdout}");
    assert!(!stdout.contains("\"error\""), "no step failed: {stdout}");
}
