//! One run: load, discover, plan, execute the scenarios with cucumber, judge, report.
//!
//! ```text
//! profile + features + registry ─▶ pre-flight discovery ─▶ plan (run / N/A / NOT-TESTABLE)
//!      ─▶ cucumber (concurrent; TTL scenarios hold the time gate alone) ─▶ after hook: verdict
//!      ─▶ report::finish (baseline, requirement matrix, counts) ─▶ writers
//! ```
//!
//! Cucumber knows only passed and failed; the verdicts come from here. A failed scenario is FAIL
//! when one of its requirements is a MUST (guide statements are MUSTs), else WARN; a step error
//! starting with `NOT-TESTABLE: ` or `N/A: ` becomes that verdict. Scenarios whose prerequisites
//! are missing never run: they are reported NOT-TESTABLE with what to add to the profile.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cucumber::{World as _, event, gherkin, parser};
use futures::FutureExt as _;
use futures::stream;

use crate::baseline::Baseline;
use crate::context::{self, Context, Options, TimeMode};
use crate::discovery::Discovered;
use crate::features::{self, ScenarioInfo};
use crate::http::{Http, Request};
use crate::login::Driver;
use crate::profile::Profile;
use crate::redact::Redactor;
use crate::registry::{Group, Level, Registry};
use crate::report::{self, Check, Report, Target, Verdict};
use crate::steps::{NOT_APPLICABLE, NOT_TESTABLE};
use crate::world::{Gate, GatewayWorld};

/// Everything a run is configured with (the binary's flags).
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub profile: PathBuf,
    pub target: Option<String>,
    pub slow: bool,
    pub allow_not_testable: bool,
    pub pkce_cases: u32,
    pub seed: Option<String>,
    pub pkce_replay: Option<String>,
    pub baseline: Option<PathBuf>,
    pub concurrency: usize,
    pub features_dir: Option<PathBuf>,
    /// Only scenarios of these areas (empty: all).
    pub areas: Vec<String>,
    /// Only scenarios tagged with one of these requirement IDs (empty: all).
    pub requirements: Vec<String>,
    /// Print progress lines while running.
    pub progress: bool,
}

/// Why a scenario is not run.
#[derive(Clone, Debug)]
struct Skip {
    verdict: Verdict,
    reason: String,
}

/// Runs the suite and returns the finished report (writers are the caller's business).
pub async fn run(cfg: &RunConfig) -> anyhow::Result<Report> {
    let started_at = now_rfc3339();
    let clock = Instant::now();
    let registry = Registry::embedded();
    let suite = features::load(cfg.features_dir.as_deref())?;
    let profile = Profile::load(&cfg.profile, cfg.target.as_deref())?;
    let baseline = match &cfg.baseline {
        Some(path) => Some(Baseline::load(path)?),
        None => None,
    };
    let http = Http::new(Duration::from_secs(20))?;
    let redactor = Redactor::default();
    for secret in profile.secrets() {
        redactor.register(secret);
    }
    let time = if cfg.slow {
        TimeMode::RealTime
    } else if let Some(hook) = &profile.clock_hook {
        let ex = http.send(Request::get(hook.as_str())).await;
        match ex.response.as_ref().map(|r| r.status) {
            Some(200) => TimeMode::Hook(hook.clone()),
            _ => anyhow::bail!(
                "the profile names the clock hook {hook}, but it does not answer 200 ({}); start the reference with --test-clock, or remove clock.hook",
                ex.line()
            ),
        }
    } else {
        TimeMode::None
    };
    let mcp_url = profile
        .mcp_url(&profile.owned_agent)
        .map_err(anyhow::Error::msg)?;
    let discovered = Discovered::run(&http, &mcp_url).await;
    let seed = cfg
        .seed
        .clone()
        .unwrap_or_else(|| crate::pkce::random_string(16, b"0123456789abcdef"));
    let driver = Driver::from_profile(&profile);
    let target = Target {
        mcp_url: mcp_url.to_string(),
        base_url: profile.base_url.to_string(),
        profile: cfg
            .profile
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        login_driver: profile.driver.name().to_owned(),
        time: time.name().to_owned(),
    };
    if cfg.progress {
        eprintln!(
            "mcp-conformance {}: {} via {} (login: {}, time: {}, PKCE fuzzing seed {seed})",
            env!("CARGO_PKG_VERSION"),
            mcp_url,
            target.profile,
            target.login_driver,
            target.time
        );
        for p in &discovered.problems {
            eprintln!("  discovery: {p}");
        }
    }
    let options = Options {
        pkce_cases: cfg.pkce_cases,
        seed: seed.clone(),
        pkce_replay: cfg.pkce_replay.clone(),
        rerun_prefix: rerun_prefix(cfg),
    };
    let ctx = Arc::new(Context {
        profile,
        http,
        discovered,
        driver,
        redactor,
        time,
        options,
        time_gate: Arc::new(tokio::sync::RwLock::new(())),
        shared_client: tokio::sync::OnceCell::new(),
    });

    // Plan.
    let selected: Vec<&ScenarioInfo> = suite
        .scenarios
        .iter()
        .filter(|s| cfg.areas.is_empty() || cfg.areas.contains(&s.area))
        .filter(|s| {
            cfg.requirements.is_empty()
                || s.requirements.iter().any(|r| cfg.requirements.contains(r))
        })
        .collect();
    let mut skips: BTreeMap<String, Skip> = BTreeMap::new();
    for s in &selected {
        if let Some(skip) = plan(s, &ctx, registry)? {
            skips.insert(s.id.clone(), skip);
        }
    }
    let to_run: HashSet<String> = selected
        .iter()
        .filter(|s| !skips.contains_key(&s.id))
        .map(|s| s.id.clone())
        .collect();
    let total = selected.len();

    // Execute.
    let finished: Arc<Mutex<BTreeMap<String, Check>>> = Arc::new(Mutex::new(BTreeMap::new()));
    let index: Arc<BTreeMap<String, ScenarioInfo>> = Arc::new(
        selected
            .iter()
            .map(|s| (s.id.clone(), (*s).clone()))
            .collect(),
    );
    if cfg.progress {
        for s in &selected {
            if let Some(skip) = skips.get(&s.id) {
                let check = skipped_check(s, skip, registry);
                let done = finished.lock().map(|mut f| {
                    f.insert(check.id.clone(), check.clone());
                    f.len()
                });
                println!(
                    "{}",
                    report::terminal::progress_line(&check, done.unwrap_or(0), total)
                );
            }
        }
    } else {
        let mut f = finished
            .lock()
            .map_err(|_| anyhow::anyhow!("internal: lock poisoned"))?;
        for s in &selected {
            if let Some(skip) = skips.get(&s.id) {
                f.insert(s.id.clone(), skipped_check(s, skip, registry));
            }
        }
    }
    if !to_run.is_empty() {
        context::install(ctx.clone());
        let previous_hook = std::panic::take_hook();
        // Step failures travel as panics inside cucumber; their messages go to the report, not to
        // stderr.
        std::panic::set_hook(Box::new(|_| {}));
        let after_finished = finished.clone();
        let after_index = index.clone();
        let after_registry = registry;
        let progress = cfg.progress;
        let exclusive_time = matches!(ctx.time, TimeMode::Hook(_));
        let gate = ctx.time_gate.clone();
        GatewayWorld::cucumber::<&str>()
            .with_parser(Preparsed(suite.features.clone()))
            .with_writer(cucumber::writer::Basic::new(
                Box::new(std::io::sink()) as Box<dyn std::io::Write>,
                cucumber::writer::Coloring::Never,
                cucumber::writer::Verbosity::Default,
            ))
            .with_default_cli()
            .fail_on_skipped()
            .max_concurrent_scenarios(cfg.concurrency.max(1))
            .before(move |feature, _, scenario, world| {
                let gate = gate.clone();
                let exclusive = exclusive_time && scenario.tags.iter().any(|t| t == "needs:time");
                async move {
                    let _ = feature;
                    world.gate = Some(if exclusive {
                        Gate::Exclusive(gate.write_owned().await)
                    } else {
                        Gate::Shared(gate.read_owned().await)
                    });
                    world.started = Instant::now();
                }
                .boxed_local()
            })
            .after(move |feature, _, scenario, ev, world| {
                let id = features::scenario_id(feature, scenario);
                let info = after_index.get(&id).cloned();
                let check =
                    info.map(|info| judged_check(&info, ev, world.as_deref(), after_registry));
                if let Some(w) = world {
                    w.gate = None;
                }
                if let Some(check) = check {
                    let done = after_finished.lock().map(|mut f| {
                        f.insert(check.id.clone(), check.clone());
                        f.len()
                    });
                    if progress {
                        println!(
                            "{}",
                            report::terminal::progress_line(&check, done.unwrap_or(0), total)
                        );
                    }
                }
                async {}.boxed_local()
            })
            .filter_run((), move |feature, _, scenario| {
                to_run.contains(&features::scenario_id(feature, scenario))
            })
            .await;
        std::panic::set_hook(previous_hook);
    }

    // Judge and report.
    let finished = finished
        .lock()
        .map_err(|_| anyhow::anyhow!("internal: lock poisoned"))?
        .clone();
    let mut checks = Vec::new();
    for s in &selected {
        match finished.get(&s.id) {
            Some(c) => checks.push(c.clone()),
            None => checks.push(Check {
                reason: Some("internal: the scenario did not report back (a suite bug)".into()),
                ..skipped_check(
                    s,
                    &Skip {
                        verdict: Verdict::Fail,
                        reason: String::new(),
                    },
                    registry,
                )
            }),
        }
    }
    let mut report = Report {
        schema: report::SCHEMA.to_owned(),
        suite_version: env!("CARGO_PKG_VERSION").to_owned(),
        spec_revision: report::SPEC_REVISION.to_owned(),
        target,
        started_at,
        duration_ms: clock.elapsed().as_millis() as u64,
        seed,
        checks,
        requirements: Vec::new(),
        summary: Default::default(),
    };
    report::finish::finish(
        &mut report,
        registry,
        baseline.as_ref(),
        cfg.allow_not_testable,
    );
    Ok(report)
}

/// Whether and why `s` is not run.
fn plan(s: &ScenarioInfo, ctx: &Context, registry: &Registry) -> anyhow::Result<Option<Skip>> {
    let guide_only = !s.requirements.is_empty()
        && s.requirements
            .iter()
            .all(|r| registry.get(r).is_some_and(|req| req.group == Group::Guide));
    if guide_only && !ctx.profile.guide_group {
        return Ok(Some(Skip {
            verdict: Verdict::NotApplicable,
            reason: "the profile switches the guide group off (groups.guide = false)".into(),
        }));
    }
    let mut missing = Vec::new();
    for need in &s.needs {
        let ok = match need.as_str() {
            "time" => ctx.time != TimeMode::None,
            other => ctx.profile.has(other).map_err(anyhow::Error::msg)?,
        };
        if !ok {
            missing.push(Profile::how_to_provide(need));
        }
    }
    if !missing.is_empty() {
        return Ok(Some(Skip {
            verdict: Verdict::NotTestable,
            reason: format!("prerequisite missing: {}", missing.join("; ")),
        }));
    }
    for cap in &s.capabilities {
        if !ctx
            .discovered
            .has_capability(cap)
            .map_err(anyhow::Error::msg)?
        {
            return Ok(Some(Skip {
                verdict: Verdict::NotApplicable,
                reason: format!(
                    "the target does not advertise `{cap}` ({})",
                    capability_text(cap)
                ),
            }));
        }
    }
    Ok(None)
}

fn capability_text(cap: &str) -> &'static str {
    match cap {
        "refresh" => "no refresh_token in grant_types_supported",
        "iss" => "authorization_response_iss_parameter_supported is not true",
        "registration" => "no registration_endpoint",
        "public-only" => {
            "token_endpoint_auth_methods_supported lists more than `none`: confidential clients are served"
        }
        _ => "",
    }
}

/// The strictest level among `requirements` (unknown IDs count as MUST: better loud).
fn level_of(requirements: &[String], registry: &Registry) -> Level {
    let rank = |l: &Level| match l {
        Level::Must => 0,
        Level::Should => 1,
        Level::Interop => 2,
        Level::May => 3,
    };
    requirements
        .iter()
        .map(|r| registry.get(r).map(|req| req.level).unwrap_or(Level::Must))
        .min_by_key(rank)
        .unwrap_or(Level::Must)
}

fn skipped_check(s: &ScenarioInfo, skip: &Skip, registry: &Registry) -> Check {
    Check {
        id: s.id.clone(),
        area: s.area.clone(),
        scenario: s.name.clone(),
        requirements: s.requirements.clone(),
        level: level_of(&s.requirements, registry),
        verdict: skip.verdict,
        reason: Some(skip.reason.clone()),
        expected_failure: None,
        duration_ms: 0,
        evidence: Vec::new(),
    }
}

fn judged_check(
    s: &ScenarioInfo,
    ev: &event::ScenarioFinished,
    world: Option<&GatewayWorld>,
    registry: &Registry,
) -> Check {
    let level = level_of(&s.requirements, registry);
    let failed = |reason: String| {
        if let Some(r) = reason.strip_prefix(NOT_TESTABLE) {
            (Verdict::NotTestable, Some(r.to_owned()))
        } else if let Some(r) = reason.strip_prefix(NOT_APPLICABLE) {
            (Verdict::NotApplicable, Some(r.to_owned()))
        } else if level == Level::Must {
            (Verdict::Fail, Some(reason))
        } else {
            (Verdict::Warn, Some(reason))
        }
    };
    let (verdict, reason) = match ev {
        event::ScenarioFinished::StepPassed => (Verdict::Pass, None),
        event::ScenarioFinished::StepSkipped => (
            Verdict::Fail,
            Some("internal: a step has no definition (a suite bug)".to_owned()),
        ),
        event::ScenarioFinished::BeforeHookFailed(info) => (
            Verdict::Fail,
            Some(format!(
                "internal: the before hook failed: {}",
                panic_text(info)
            )),
        ),
        event::ScenarioFinished::StepFailed(_, _, err) => match err {
            event::StepError::Panic(info) => failed(panic_text(info)),
            other => (Verdict::Fail, Some(format!("internal: {other}"))),
        },
    };
    let (evidence, duration_ms, reason) = match world {
        Some(w) => (
            w.evidence
                .iter()
                .map(|e| w.ctx.redactor.evidence(e))
                .collect(),
            w.started.elapsed().as_millis() as u64,
            reason.map(|r| w.ctx.redactor.scrub(&r)),
        ),
        None => (Vec::new(), 0, reason),
    };
    Check {
        id: s.id.clone(),
        area: s.area.clone(),
        scenario: s.name.clone(),
        requirements: s.requirements.clone(),
        level,
        verdict,
        reason,
        expected_failure: None,
        duration_ms,
        evidence,
    }
}

fn panic_text(info: &event::Info) -> String {
    if let Some(s) = info.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = info.downcast_ref::<&str>() {
        (*s).to_owned()
    } else {
        "a step panicked without a message".to_owned()
    }
}

/// Feeds already parsed features to cucumber (they are embedded, not read from disk).
struct Preparsed(Vec<gherkin::Feature>);

impl parser::Parser<()> for Preparsed {
    type Cli = cucumber::cli::Empty;
    type Output = stream::Iter<std::vec::IntoIter<parser::Result<gherkin::Feature>>>;

    fn parse(self, _: (), _: Self::Cli) -> Self::Output {
        stream::iter(self.0.into_iter().map(Ok).collect::<Vec<_>>())
    }
}

fn rerun_prefix(cfg: &RunConfig) -> String {
    let mut s = format!("mcp-conformance --profile {}", cfg.profile.display());
    if let Some(t) = &cfg.target {
        s.push_str(&format!(" --target {t}"));
    }
    s
}

/// The current UTC time as RFC 3339 (seconds), without a date crate.
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_shape() {
        let s = super::now_rfc3339();
        assert_eq!(s.len(), 20, "{s}");
        assert!(s.starts_with("20") && s.ends_with('Z'), "{s}");
    }
}
