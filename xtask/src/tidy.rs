//! Project rules checked by `cargo test` (rust-analyzer's tidy pattern): no rule exists only in
//! CI or in a reviewer's head.
//!
//! - every Rust file opens with a `//!` module doc saying what it owns;
//! - no `#[ignore]` or `#[should_panic]` (assert today's behaviour instead);
//! - the code is `rustfmt`-clean;
//! - `.ci/run` runs exactly the README's test command.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use crate::project_root;

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if name == "target" || name.to_string_lossy().starts_with('.') {
                continue;
            }
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    fn all_rust_files() -> Vec<PathBuf> {
        let mut files = Vec::new();
        for dir in ["reference", "conformance", "xtask"] {
            rust_files(&project_root().join(dir), &mut files);
        }
        assert!(!files.is_empty());
        files
    }

    #[test]
    fn every_module_has_a_doc_comment() {
        let missing: Vec<String> = all_rust_files()
            .into_iter()
            .filter(|path| {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                let first = text
                    .lines()
                    .find(|l| !l.trim().is_empty() && !l.starts_with("#!["))
                    .unwrap_or("");
                // Wrapper files that only include modules by path are exempt.
                !first.starts_with("//!") && !first.starts_with("#[path")
            })
            .map(|p| p.display().to_string())
            .collect();
        assert!(
            missing.is_empty(),
            "files without a `//!` module doc: {missing:#?}"
        );
    }

    #[test]
    fn no_ignored_or_should_panic_tests() {
        let (ignore, should_panic) = ("#[ignore", "#[should_panic");
        let offenders: Vec<String> = all_rust_files()
            .into_iter()
            .filter(|p| !p.ends_with("tidy.rs"))
            .filter(|path| {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                text.contains(ignore) || text.contains(should_panic)
            })
            .map(|p| p.display().to_string())
            .collect();
        assert!(
            offenders.is_empty(),
            "assert today's behaviour instead: {offenders:#?}"
        );
    }

    #[test]
    fn code_is_formatted() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let output = Command::new(cargo)
            .args(["fmt", "--all", "--", "--check"])
            .current_dir(project_root())
            .output()
            .expect("cargo fmt runs");
        assert!(
            output.status.success(),
            "run `cargo fmt --all`:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }

    #[test]
    fn ci_runs_the_readme_test_command() {
        let root = project_root();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let setup = readme
            .split("## Set up")
            .nth(1)
            .and_then(|s| s.split("```sh\n").nth(1))
            .and_then(|s| s.split("```").next())
            .expect("README has a Set up section with a sh block");
        let commands: Vec<&str> = setup
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(commands.len(), 2, "two set-up commands: {commands:?}");
        let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
        let ci_commands: Vec<&str> = ci
            .lines()
            .map(str::trim)
            .filter(|l| {
                !l.is_empty()
                    && !l.starts_with('#')
                    && !l.starts_with("set ")
                    && !l.starts_with("cd ")
            })
            .collect();
        assert_eq!(
            ci_commands,
            [commands[1]],
            ".ci/run must run the README's test command"
        );
    }
}
