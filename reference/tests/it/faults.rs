//! The fault switches (`reference/src/faults.rs`, `cargo xtask faults`) exist only in a build
//! with the `faults` feature: a default or release build has no `--fault` flag and no `faults`
//! command, so nobody can start a deliberately broken gateway by accident.

use std::process::Command;

fn reference(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mcp-gateway-reference"))
        .args(args)
        .output()
        .expect("the reference binary runs")
}

#[cfg(not(feature = "faults"))]
#[test]
fn a_default_build_has_no_fault_switch() {
    let help = reference(&["serve", "--help"]);
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--test-clock"), "{help}");
    assert!(
        !help.contains("--fault"),
        "a default build offers --fault:\n{help}"
    );

    let list = reference(&["faults"]);
    assert_eq!(list.status.code(), Some(2), "`faults` is not a command");
    assert!(String::from_utf8_lossy(&list.stderr).contains("unrecognized subcommand"));

    let serve = reference(&[
        "serve",
        "--config",
        "x.toml",
        "--fault",
        "pkce-plain-accepted",
    ]);
    assert_eq!(serve.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&serve.stderr).contains("unexpected argument '--fault'"));
}

#[cfg(feature = "faults")]
#[test]
fn a_faults_build_lists_its_catalog_and_refuses_unknown_names() {
    let list = reference(&["faults"]);
    assert!(list.status.success());
    let catalog: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let catalog = catalog.as_array().unwrap();
    assert!(
        catalog
            .iter()
            .any(|f| f["name"] == "pkce-verifier-unchecked")
    );
    for fault in catalog {
        assert!(
            matches!(fault["expect"].as_str(), Some("FAIL" | "WARN")),
            "{fault}"
        );
        assert!(
            !fault["requirements"].as_array().unwrap().is_empty(),
            "{fault}"
        );
    }

    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/reference.toml");
    let serve = reference(&[
        "serve",
        "--config",
        root,
        "--bind",
        "127.0.0.1:0",
        "--fault",
        "no-such-fault",
    ]);
    assert_eq!(serve.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&serve.stderr).contains("unknown fault \"no-such-fault\""));
}
