//! `cargo xtask faults`: prove the suite can fail. The reference is built once more with its
//! `faults` feature; the suite runs against the clean reference (every check must PASS or be
//! N/A) and then against the reference started with each named fault (`serve --fault NAME`),
//! several side by side. A fault is *killed* when every requirement ID its catalog entry names
//! gets the verdict it expects (FAIL for a MUST, WARN for a SHOULD, and then no FAIL anywhere)
//! and the run's exit code agrees; a fault caught only by some unrelated check survives.
//!
//! The clean runs use the default binary and the faults build with no fault on.
//! Without `--only`, every MUST requirement the clean run checks must be named by some fault.
//! Output: the matrix on stdout, `target/faults/matrix.json`, each run's report and log under
//! `target/faults/runs/`, and with `--write-docs` the Markdown table in `docs/faults.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::conformance::start_reference;
use crate::flags::FaultsArgs;
use crate::{cargo, project_root};

/// One catalog entry, as `mcp-gateway-reference faults` prints it.
#[derive(Debug, Clone)]
struct Fault {
    name: String,
    expect: String,
    requirements: Vec<String>,
    summary: String,
}

/// What one suite run said.
#[derive(Debug)]
struct Outcome {
    exit_code: Option<i32>,
    /// Requirement ID → verdict, for every requirement some check tagged.
    verdicts: BTreeMap<String, String>,
    /// Requirement ID → level (MUST, SHOULD, MAY, interop).
    levels: BTreeMap<String, String>,
    duration_s: f64,
}

impl Outcome {
    fn ids_with(&self, verdict: &str) -> Vec<String> {
        self.verdicts
            .iter()
            .filter(|(_, v)| *v == verdict)
            .map(|(id, _)| id.clone())
            .collect()
    }
}

pub fn run(args: &FaultsArgs) -> anyhow::Result<ExitCode> {
    let root = project_root();
    let out = root.join("target").join("faults");
    let runs = out.join("runs");
    std::fs::create_dir_all(&runs).context("creating target/faults/runs")?;
    if args.write_docs && !args.only.is_empty() {
        bail!("--write-docs documents the whole catalog: leave out --only");
    }
    let started = Instant::now();
    let faulty = build(&root, &out)?;
    let bin_dir = root.join("target").join("debug");
    eprintln!("xtask: built in {:.1}s", started.elapsed().as_secs_f64());

    let catalog = catalog(&faulty)?;
    let selected: Vec<Fault> = if args.only.is_empty() {
        catalog.clone()
    } else {
        for name in &args.only {
            if !catalog.iter().any(|f| &f.name == name) {
                bail!(
                    "unknown fault {name:?}; the catalog: `target/faults/mcp-gateway-reference faults`"
                );
            }
        }
        catalog
            .iter()
            .filter(|f| args.only.contains(&f.name))
            .cloned()
            .collect()
    };

    // The clean reference must be all PASS or N/A: the default build (no fault compiled in), and
    // the faults build with no fault switched on (a fault site must change nothing when off).
    let mut problems = Vec::new();
    let mut clean_bad = Vec::new();
    let mut clean = None;
    for (label, binary) in [
        ("clean", bin_dir.join("mcp-gateway-reference")),
        ("clean-faults-build", faulty.clone()),
    ] {
        let outcome = run_suite(&root, &binary, label, None, &bin_dir, &runs)?;
        let bad: Vec<String> = outcome
            .verdicts
            .iter()
            .filter(|(_, v)| !matches!(v.as_str(), "PASS" | "N/A"))
            .map(|(id, v)| format!("{id} {v}"))
            .collect();
        println!(
            "{label} reference: {} requirements checked, {} not PASS/N/A, exit {:?} ({:.1}s)",
            outcome.verdicts.len(),
            bad.len(),
            outcome.exit_code,
            outcome.duration_s
        );
        if !bad.is_empty() || outcome.exit_code != Some(0) {
            problems.push(format!(
                "the {label} reference is not all PASS: {}",
                bad.join(", ")
            ));
        }
        clean_bad.extend(bad.into_iter().map(|b| format!("{label}: {b}")));
        clean.get_or_insert(outcome);
    }
    let clean = clean.context("no clean run")?;
    if args.only.is_empty() {
        let named: BTreeSet<&str> = catalog
            .iter()
            .flat_map(|f| f.requirements.iter().map(String::as_str))
            .collect();
        let unfaulted: Vec<&str> = clean
            .levels
            .iter()
            .filter(|(id, level)| {
                *level == "MUST" && clean.verdicts.contains_key(*id) && !named.contains(id.as_str())
            })
            .map(|(id, _)| id.as_str())
            .collect();
        if !unfaulted.is_empty() {
            problems.push(format!(
                "MUST requirements the suite checks but no fault names: {}",
                unfaulted.join(", ")
            ));
        }
    }

    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
        .max(1);
    let queue = Mutex::new(
        selected
            .iter()
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>(),
    );
    let results: Mutex<BTreeMap<String, anyhow::Result<Outcome>>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let Some(fault) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let outcome = run_suite(
                        &root,
                        &faulty,
                        &fault.name,
                        Some(&fault.name),
                        &bin_dir,
                        &runs,
                    );
                    if let Ok(o) = &outcome {
                        eprintln!(
                            "xtask: {} done in {:.1}s (exit {:?})",
                            fault.name, o.duration_s, o.exit_code
                        );
                    }
                    results.lock().unwrap().insert(fault.name.clone(), outcome);
                }
            });
        }
    });
    let results = results.into_inner().unwrap();

    let mut rows = Vec::new();
    let mut survivors = Vec::new();
    for fault in &selected {
        let row = match &results[&fault.name] {
            Ok(outcome) => judge(fault, outcome),
            Err(e) => Row {
                fault: fault.clone(),
                killed: false,
                verdicts: BTreeMap::new(),
                caught_by: Vec::new(),
                why: format!("the run did not complete: {e:#}"),
            },
        };
        if !row.killed {
            survivors.push(format!("{}: {}", row.fault.name, row.why));
        }
        rows.push(row);
    }

    print!("{}", terminal_table(&rows));
    let matrix = json!({
        "clean": {"exit_code": clean.exit_code, "not_pass": clean_bad},
        "faults": rows.iter().map(Row::to_json).collect::<Vec<_>>(),
    });
    std::fs::write(
        out.join("matrix.json"),
        serde_json::to_string_pretty(&matrix)? + "\n",
    )?;
    if args.write_docs {
        let musts = clean
            .levels
            .iter()
            .filter(|(id, level)| *level == "MUST" && clean.verdicts.contains_key(*id))
            .count();
        std::fs::create_dir_all(root.join("docs"))?;
        std::fs::write(
            root.join("docs").join("faults.md"),
            markdown(&rows, musts, problems.is_empty()),
        )
        .context("writing docs/faults.md")?;
    }
    let killed = rows.iter().filter(|r| r.killed).count();
    println!(
        "{killed} of {} faults killed by their own requirements; matrix in target/faults/matrix.json ({:.0}s in all)",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    for survivor in &survivors {
        println!("SURVIVED {survivor}");
    }
    for problem in &problems {
        println!("PROBLEM {problem}");
    }
    Ok(if survivors.is_empty() && problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Builds the reference with its faults and keeps that binary apart (`target/faults/`), then
/// rebuilds the default binaries so `target/debug` again holds a fault-free reference.
fn build(root: &Path, out: &Path) -> anyhow::Result<PathBuf> {
    cargo(
        root,
        &[
            "build",
            "--quiet",
            "-p",
            "mcp-gateway-reference",
            "--features",
            "faults",
        ],
    )?;
    let name = format!("mcp-gateway-reference{}", std::env::consts::EXE_SUFFIX);
    let faulty = out.join(&name);
    std::fs::copy(root.join("target").join("debug").join(&name), &faulty)
        .context("keeping the faults build in target/faults")?;
    cargo(
        root,
        &[
            "build",
            "--quiet",
            "-p",
            "mcp-gateway-reference",
            "-p",
            "mcp-gateway-conformance",
        ],
    )?;
    Ok(faulty)
}

fn catalog(faulty: &Path) -> anyhow::Result<Vec<Fault>> {
    let output = Command::new(faulty)
        .arg("faults")
        .output()
        .context("listing the faults")?;
    if !output.status.success() {
        bail!("`mcp-gateway-reference faults` failed");
    }
    let list: Value = serde_json::from_slice(&output.stdout).context("parsing the fault list")?;
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    list.as_array()
        .context("the fault list is an array")?
        .iter()
        .map(|f| {
            Ok(Fault {
                name: f["name"].as_str().context("fault name")?.to_owned(),
                expect: f["expect"].as_str().context("fault expect")?.to_owned(),
                requirements: strings(&f["requirements"]),
                summary: f["summary"].as_str().unwrap_or("").to_owned(),
            })
        })
        .collect()
}

/// Starts `binary` (with `fault` on, if any), runs the suite against it with the demo profile and
/// reads its JSON report (kept as `runs/<label>.json`, with the output in `runs/<label>.log`).
fn run_suite(
    root: &Path,
    binary: &Path,
    label: &str,
    fault: Option<&str>,
    bin_dir: &Path,
    runs: &Path,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let extra: Vec<&str> = fault.map(|f| vec!["--fault", f]).unwrap_or_default();
    let (guard, url) = start_reference(binary, root, &extra)?;
    let report = runs.join(format!("{label}.json"));
    let _ = std::fs::remove_file(&report);
    let log = std::fs::File::create(runs.join(format!("{label}.log")))?;
    let status = Command::new(bin_dir.join("mcp-conformance"))
        .current_dir(root)
        .args([
            "--target",
            &url,
            "--profile",
            "fixtures/targets/reference.toml",
        ])
        .arg("--json")
        .arg(&report)
        .env("NO_COLOR", "1")
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .status()
        .context("running mcp-conformance")?;
    drop(guard);
    let text = std::fs::read_to_string(&report).with_context(|| {
        format!(
            "no report from the {label} run (exit {:?}); see target/faults/runs/{label}.log",
            status.code()
        )
    })?;
    let document: Value = serde_json::from_str(&text)?;
    let mut verdicts = BTreeMap::new();
    let mut levels = BTreeMap::new();
    for requirement in document["requirements"].as_array().into_iter().flatten() {
        let Some(id) = requirement["id"].as_str() else {
            continue;
        };
        if let Some(level) = requirement["level"].as_str() {
            levels.insert(id.to_owned(), level.to_owned());
        }
        if let Some(verdict) = requirement["verdict"].as_str() {
            verdicts.insert(id.to_owned(), verdict.to_owned());
        }
    }
    Ok(Outcome {
        exit_code: status.code(),
        verdicts,
        levels,
        duration_s: started.elapsed().as_secs_f64(),
    })
}

/// One line of the kill matrix.
#[derive(Debug)]
struct Row {
    fault: Fault,
    killed: bool,
    /// The named requirements' verdicts.
    verdicts: BTreeMap<String, String>,
    /// Every requirement that got FAIL or WARN.
    caught_by: Vec<String>,
    why: String,
}

impl Row {
    /// The named requirements with their verdicts, `ID{between}VERDICT` joined by `sep`.
    fn named(&self, between: &str, sep: &str) -> String {
        self.verdicts
            .iter()
            .map(|(id, v)| format!("{id}{between}{v}"))
            .collect::<Vec<_>>()
            .join(sep)
    }

    fn to_json(&self) -> Value {
        json!({
            "fault": self.fault.name,
            "summary": self.fault.summary,
            "expect": self.fault.expect,
            "requirements": self.verdicts,
            "killed": self.killed,
            "caught_by": self.caught_by,
            "why": self.why,
        })
    }
}

/// Killed when every named requirement has the expected verdict and the exit code agrees: a FAIL
/// fault fails the run; a WARN fault leaves no FAIL anywhere (the suite weighed it right).
fn judge(fault: &Fault, outcome: &Outcome) -> Row {
    let verdicts: BTreeMap<String, String> = fault
        .requirements
        .iter()
        .map(|id| {
            let v = outcome
                .verdicts
                .get(id)
                .cloned()
                .unwrap_or_else(|| "unchecked".to_owned());
            (id.clone(), v)
        })
        .collect();
    let mut caught_by = outcome.ids_with("FAIL");
    caught_by.extend(outcome.ids_with("WARN"));
    caught_by.sort();
    let missed: Vec<String> = verdicts
        .iter()
        .filter(|(_, v)| **v != fault.expect)
        .map(|(id, v)| format!("{id} is {v}"))
        .collect();
    let fails = outcome.ids_with("FAIL");
    let why = if !missed.is_empty() {
        format!(
            "expected {} for each named requirement, but {}",
            fault.expect,
            missed.join(", ")
        )
    } else if fault.expect == "FAIL" && outcome.exit_code == Some(0) {
        "the suite exited 0".to_owned()
    } else if fault.expect == "WARN" && !fails.is_empty() {
        format!("expected only WARNs, but FAIL on {}", fails.join(", "))
    } else {
        String::new()
    };
    Row {
        fault: fault.clone(),
        killed: why.is_empty(),
        verdicts,
        caught_by,
        why,
    }
}

fn terminal_table(rows: &[Row]) -> String {
    let width = rows
        .iter()
        .map(|r| r.fault.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = format!(
        "{:width$}  {:8}  {:24}  caught by\n",
        "fault", "verdict", "named"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "{:width$}  {:8}  {:24}  {}",
            row.fault.name,
            if row.killed { "killed" } else { "SURVIVED" },
            row.named("=", " "),
            row.caught_by.join(" ")
        );
    }
    out
}

fn markdown(rows: &[Row], musts: usize, coverage_ok: bool) -> String {
    let killed = rows.iter().filter(|r| r.killed).count();
    let warn = rows.iter().filter(|r| r.fault.expect == "WARN").count();
    let mut out = format!(
        "# The kill matrix\n\n\
         Generated by `cargo xtask faults --write-docs`; do not edit by hand. Each row is one \
         named implementer bug in the reference gateway (`reference/src/faults.rs`, compiled only \
         with the `faults` feature), the requirement IDs that must catch it and the verdict they \
         must get, and every requirement that failed or warned in that run. A fault counts as \
         killed only when its own requirements catch it.\n\n\
         **{killed} of {} faults killed** ({} expect FAIL, {warn} expect WARN); {musts} MUST \
         requirements are checked by the suite, and {}.\n\n\
         | Fault | What is broken | Expect | Named requirements | Killed | Caught by |\n\
         |---|---|---|---|---|---|\n",
        rows.len(),
        rows.len() - warn,
        if coverage_ok {
            "every one of them is named by at least one fault"
        } else {
            "**some are named by no fault** (see the task's output)"
        },
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            row.fault.name,
            row.fault.summary.replace('|', "\\|"),
            row.fault.expect,
            row.named(" ", ", "),
            if row.killed { "yes" } else { "**no**" },
            row.caught_by.join(", ")
        );
    }
    out
}
