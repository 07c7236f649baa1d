//! Turning the checks of a run into a finished [`Report`]: the baseline applied, the requirement
//! matrix and the summary filled.
//!
//! This module owns the rules that decide whether a run passed:
//! - a FAIL or WARN check that tags a requirement the baseline lists is an expected failure: it
//!   is counted apart, not as a failure, so CI stays green on known gaps;
//! - a baseline entry whose requirement was checked, passed at least once and failed nowhere is
//!   stale and fails the run, so baselines only shrink;
//! - a baseline entry naming an ID the registry does not know fails the run, because a typo would
//!   otherwise silently excuse nothing while looking as if it excused something;
//! - NOT-TESTABLE fails the run unless the operator allowed it (`--allow-not-testable`), because
//!   a profile that cannot test half the suite must not look like a pass.
//!
//! Invariant: [`finish`] is pure and idempotent; it reads `report.checks` (verdicts set) and
//! rewrites everything derived from them.

use crate::baseline::Baseline;
use crate::registry::Registry;

use super::{Check, Report, RequirementResult, Summary, Verdict};

/// Applies `baseline` to `report.checks`, then fills `report.requirements` (in registry order)
/// and `report.summary`. `allow_not_testable` is the `--allow-not-testable` flag.
pub fn finish(
    report: &mut Report,
    registry: &Registry,
    baseline: Option<&Baseline>,
    allow_not_testable: bool,
) {
    for check in &mut report.checks {
        check.expected_failure = baseline.and_then(|b| expected_failure(check, b));
    }

    let mut stale_baseline = Vec::new();
    let mut unknown_baseline = Vec::new();
    for entry in baseline.map(Baseline::entries).unwrap_or_default() {
        if registry.get(&entry.id).is_none() {
            unknown_baseline.push(entry.id.clone());
        } else if is_stale(&entry.id, &report.checks) {
            stale_baseline.push(entry.id.clone());
        }
    }

    report.requirements = registry
        .iter()
        .map(|requirement| {
            let tagging: Vec<&Check> = report
                .checks
                .iter()
                .filter(|check| check.requirements.contains(&requirement.id))
                .collect();
            RequirementResult {
                id: requirement.id.clone(),
                level: requirement.level,
                group: requirement.group.to_string(),
                area: requirement.area.clone(),
                summary: requirement.summary.clone(),
                source: requirement.source.clone(),
                url: requirement.url.clone(),
                verdict: worst(tagging.iter().map(|check| check.verdict)),
                excluded: requirement.excluded.clone(),
                expected_failure: baseline
                    .and_then(|b| b.reason_for(&requirement.id))
                    .map(str::to_owned),
                checks: tagging.iter().map(|check| check.id.clone()).collect(),
            }
        })
        .collect();

    let mut summary = Summary {
        stale_baseline,
        unknown_baseline,
        not_testable_fails: !allow_not_testable,
        ..Summary::default()
    };
    for check in &report.checks {
        match (check.verdict, check.expected_failure.is_some()) {
            (Verdict::Fail | Verdict::Warn, true) => summary.expected_failures += 1,
            (Verdict::Pass, _) => summary.pass += 1,
            (Verdict::Fail, false) => summary.fail += 1,
            (Verdict::Warn, false) => summary.warn += 1,
            (Verdict::NotApplicable, _) => summary.not_applicable += 1,
            (Verdict::NotTestable, _) => summary.not_testable += 1,
        }
    }
    summary.passed = summary.pass + summary.warn + summary.expected_failures;
    summary.failed = summary.fail
        + summary.stale_baseline.len()
        + summary.unknown_baseline.len()
        + if allow_not_testable {
            0
        } else {
            summary.not_testable
        };
    report.summary = summary;
}

/// The worst of `verdicts` (FAIL > WARN > NOT-TESTABLE > N/A > PASS); `None` when empty.
///
/// NOT-TESTABLE ranks above N/A because it means "could have been checked, but the profile did
/// not let us", while N/A means "does not apply to this gateway".
pub fn worst(verdicts: impl IntoIterator<Item = Verdict>) -> Option<Verdict> {
    verdicts
        .into_iter()
        .max_by_key(|verdict| severity(*verdict))
}

/// The rank used by [`worst`]: higher is worse.
pub fn severity(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Pass => 0,
        Verdict::NotApplicable => 1,
        Verdict::NotTestable => 2,
        Verdict::Warn => 3,
        Verdict::Fail => 4,
    }
}

/// The baseline reason excusing `check`: only FAIL and WARN can be excused, and the first of the
/// check's requirements that the baseline lists gives the reason.
fn expected_failure(check: &Check, baseline: &Baseline) -> Option<String> {
    if !matches!(check.verdict, Verdict::Fail | Verdict::Warn) {
        return None;
    }
    check
        .requirements
        .iter()
        .find_map(|id| baseline.reason_for(id))
        .map(str::to_owned)
}

/// A baseline entry is stale when its requirement was checked, no check of it failed or warned,
/// and at least one passed. Only N/A or NOT-TESTABLE checks prove nothing either way, so such an
/// entry stays (the gateway may still fail it where it can be tested).
fn is_stale(id: &str, checks: &[Check]) -> bool {
    let mut tagging = checks
        .iter()
        .filter(|check| check.requirements.iter().any(|r| r == id))
        .peekable();
    if tagging.peek().is_none() {
        return false;
    }
    let mut any_pass = false;
    for check in tagging {
        match check.verdict {
            Verdict::Fail | Verdict::Warn => return false,
            Verdict::Pass => any_pass = true,
            Verdict::NotApplicable | Verdict::NotTestable => {}
        }
    }
    any_pass
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Level;
    use crate::report::sample;

    /// A registry of three requirements (the second excluded), independent of the shipped one.
    fn registry() -> Registry {
        Registry::parse(
            r#"
schema_version = 1

[[requirement]]
id = "DISC-01"
area = "discovery"
level = "MUST"
group = "spec"
summary = "Serve protected resource metadata"
source = "RFC 9728 §3"
url = "https://www.rfc-editor.org/rfc/rfc9728#section-3"

[[requirement]]
id = "DISC-02"
area = "discovery"
level = "SHOULD"
group = "spec"
summary = "Point at it from WWW-Authenticate"
source = "RFC 9728 §5.1"
url = "https://www.rfc-editor.org/rfc/rfc9728#section-5.1"
excluded = "needs a second server"

[[requirement]]
id = "GUIDE-01"
area = "token"
level = "MUST"
group = "guide"
summary = "Tokens live one hour"
source = "guide §4"
"#,
        )
        .unwrap()
    }

    const A: &str = "DISC-01";
    const B: &str = "DISC-02";

    fn check(id: &str, requirements: &[&str], verdict: Verdict) -> Check {
        Check {
            id: id.to_owned(),
            area: "discovery".to_owned(),
            scenario: format!("scenario {id}"),
            requirements: requirements.iter().map(|r| (*r).to_owned()).collect(),
            level: Level::Must,
            verdict,
            reason: (verdict != Verdict::Pass).then(|| "why".to_owned()),
            expected_failure: None,
            duration_ms: 1,
            evidence: Vec::new(),
        }
    }

    fn report(checks: Vec<Check>) -> Report {
        let mut report = sample::report();
        report.checks = checks;
        report.requirements = Vec::new();
        report.summary = Summary::default();
        report
    }

    fn baseline(ids: &[&str]) -> Baseline {
        let text: String = ids
            .iter()
            .map(|id| format!("[[expected_failure]]\nid = \"{id}\"\nreason = \"known: {id}\"\n"))
            .collect();
        Baseline::parse(&text).unwrap()
    }

    fn run(checks: Vec<Check>, baseline: Option<&Baseline>, allow_not_testable: bool) -> Report {
        let mut report = report(checks);
        finish(&mut report, &registry(), baseline, allow_not_testable);
        report
    }

    #[test]
    fn worst_ranks_fail_warn_not_testable_not_applicable_pass() {
        use Verdict::*;
        assert_eq!(worst([]), None);
        assert_eq!(worst([Pass, NotApplicable]), Some(NotApplicable));
        assert_eq!(worst([NotApplicable, NotTestable, Pass]), Some(NotTestable));
        assert_eq!(worst([NotTestable, Warn]), Some(Warn));
        assert_eq!(worst([Warn, Fail, Pass]), Some(Fail));
    }

    #[test]
    fn counts_every_verdict_and_not_testable_fails_by_default() {
        let a = A;
        let checks = vec![
            check("f:1", &[a], Verdict::Pass),
            check("f:2", &[a], Verdict::Pass),
            check("f:3", &[a], Verdict::Fail),
            check("f:4", &[a], Verdict::Warn),
            check("f:5", &[a], Verdict::NotApplicable),
            check("f:6", &[a], Verdict::NotTestable),
        ];
        let summary = run(checks.clone(), None, false).summary;
        let expected = Summary {
            pass: 2,
            fail: 1,
            warn: 1,
            not_applicable: 1,
            not_testable: 1,
            not_testable_fails: true,
            passed: 3,
            failed: 2,
            ..Summary::default()
        };
        assert_eq!(summary, expected);

        let allowed = run(checks, None, true).summary;
        assert!(!allowed.not_testable_fails);
        assert_eq!((allowed.passed, allowed.failed), (3, 1));
        assert_eq!(allowed.last_line(), "3 passed, 1 failed");
    }

    #[test]
    fn baseline_turns_fail_and_warn_into_expected_failures() {
        let (a, b) = (A, B);
        let listed = baseline(&[a]);
        let report = run(
            vec![
                check("f:1", &[b, a], Verdict::Fail),
                check("f:2", &[a], Verdict::Warn),
                check("f:3", &[b], Verdict::Fail),
            ],
            Some(&listed),
            false,
        );
        let reasons: Vec<Option<&str>> = report
            .checks
            .iter()
            .map(|c| c.expected_failure.as_deref())
            .collect();
        let known = format!("known: {a}");
        assert_eq!(reasons, [Some(known.as_str()), Some(known.as_str()), None]);
        let summary = &report.summary;
        assert_eq!(
            (summary.expected_failures, summary.fail, summary.warn),
            (2, 1, 0)
        );
        assert_eq!((summary.passed, summary.failed), (2, 1));
        assert!(summary.stale_baseline.is_empty());
    }

    #[test]
    fn baseline_does_not_excuse_pass_not_applicable_or_not_testable() {
        let a = A;
        let listed = baseline(&[a]);
        let report = run(
            vec![
                check("f:1", &[a], Verdict::NotTestable),
                check("f:2", &[a], Verdict::NotApplicable),
            ],
            Some(&listed),
            false,
        );
        assert!(report.checks.iter().all(|c| c.expected_failure.is_none()));
        assert_eq!(report.summary.expected_failures, 0);
        assert_eq!(report.summary.not_testable, 1);
        // Nothing passed, so the entry is not stale: it could not be tested here.
        assert!(report.summary.stale_baseline.is_empty());
    }

    #[test]
    fn entry_whose_checks_pass_is_stale_and_fails_the_run() {
        let (a, b) = (A, B);
        let listed = baseline(&[a, b]);
        let report = run(
            vec![
                check("f:1", &[a], Verdict::Pass),
                check("f:2", &[a], Verdict::NotApplicable),
                check("f:3", &[b], Verdict::Pass),
                check("f:4", &[b], Verdict::Warn),
            ],
            Some(&listed),
            false,
        );
        assert_eq!(report.summary.stale_baseline, [a]);
        assert_eq!(report.summary.expected_failures, 1);
        assert_eq!((report.summary.passed, report.summary.failed), (3, 1));
    }

    #[test]
    fn entry_without_checks_is_neither_stale_nor_unknown() {
        let a = A;
        let listed = baseline(&[a]);
        let report = run(Vec::new(), Some(&listed), false);
        assert!(report.summary.stale_baseline.is_empty());
        assert!(report.summary.unknown_baseline.is_empty());
        assert_eq!(report.summary.failed, 0);
    }

    #[test]
    fn unknown_entry_fails_the_run() {
        let listed = baseline(&["NOPE-99"]);
        let report = run(Vec::new(), Some(&listed), false);
        assert_eq!(report.summary.unknown_baseline, ["NOPE-99"]);
        assert!(report.summary.stale_baseline.is_empty());
        assert_eq!(report.summary.failed, 1);
    }

    #[test]
    fn requirements_follow_registry_order_with_worst_verdict_and_baseline_reason() {
        let (a, b) = (A, B);
        let listed = baseline(&[b]);
        let report = run(
            vec![
                check("f:1", &[b], Verdict::Pass),
                check("f:2", &[b, a], Verdict::NotTestable),
                check("f:3", &[b], Verdict::Warn),
            ],
            Some(&listed),
            false,
        );
        let registry = registry();
        let ids: Vec<&str> = report.requirements.iter().map(|r| r.id.as_str()).collect();
        let registry_ids: Vec<&str> = registry.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, registry_ids);

        let first = &report.requirements[0];
        assert_eq!(first.id, a);
        assert_eq!(first.verdict, Some(Verdict::NotTestable));
        assert_eq!(first.checks, ["f:2"]);
        assert_eq!(first.expected_failure, None);

        let second = &report.requirements[1];
        assert_eq!(second.verdict, Some(Verdict::Warn));
        assert_eq!(second.checks, ["f:1", "f:2", "f:3"]);
        assert_eq!(
            second.expected_failure.as_deref(),
            Some(format!("known: {b}").as_str())
        );

        let untested = &report.requirements[2];
        assert_eq!(untested.verdict, None);
        assert!(untested.checks.is_empty());
    }

    #[test]
    fn requirement_copies_registry_fields() {
        let registry = registry();
        let report = run(Vec::new(), None, false);
        for (result, requirement) in report.requirements.iter().zip(registry.iter()) {
            assert_eq!(result.level, requirement.level);
            assert_eq!(result.group, requirement.group.to_string());
            assert_eq!(result.area, requirement.area);
            assert_eq!(result.summary, requirement.summary);
            assert_eq!(result.source, requirement.source);
            assert_eq!(result.url, requirement.url);
            assert_eq!(result.excluded, requirement.excluded);
        }
    }

    #[test]
    fn finish_is_idempotent() {
        let a = A;
        let listed = baseline(&[a]);
        let mut report = report(vec![check("f:1", &[a], Verdict::Fail)]);
        let registry = registry();
        finish(&mut report, &registry, Some(&listed), false);
        let once = serde_json::to_value(&report).unwrap();
        finish(&mut report, &registry, Some(&listed), false);
        assert_eq!(serde_json::to_value(&report).unwrap(), once);
        // Without the baseline the excuse disappears again.
        finish(&mut report, &registry, None, false);
        assert_eq!(report.checks[0].expected_failure, None);
        assert_eq!(report.summary.fail, 1);
    }
}
