//! The JUnit XML report, for CI systems that display test results (GitLab, Jenkins, GitHub
//! actions that read JUnit).
//!
//! Mapping, chosen so a CI dashboard tells the same story as the run's last line:
//! - one `<testsuite>` per area, one `<testcase classname="AREA" name="IDS SCENARIO">` per check;
//! - FAIL → `<failure>` with the reason and a summary of the evidence (method, URL, status per
//!   exchange; already redacted);
//! - WARN → a passing test case whose `<system-out>` starts with `WARN:` (a SHOULD is not a
//!   failure, but the reader should see it);
//! - N/A, NOT-TESTABLE → `<skipped>` (the gateway did nothing wrong; when NOT-TESTABLE still
//!   fails the run, the message says so); an expected failure (baseline) → `<skipped>` whose
//!   message starts with `expected failure (baseline):`;
//! - stale and unknown baseline entries → one failing test case each in a `baseline` suite,
//!   because they fail the run too.
//!
//! Invariant: every piece of report text goes through [`escape_text`] or [`escape_attr`], which
//! escape markup and replace the characters XML 1.0 forbids, so the output always parses.

use std::fmt::Write as _;

use super::{Check, Evidence, Report, Verdict};

/// The report as a JUnit XML document.
pub fn to_junit(report: &Report) -> String {
    let mut suites: Vec<Suite> = Vec::new();
    for check in &report.checks {
        let case = case_of(check, report.summary.not_testable_fails);
        match suites.iter_mut().find(|s| s.name == check.area) {
            Some(suite) => suite.cases.push(case),
            None => suites.push(Suite {
                name: check.area.clone(),
                cases: vec![case],
            }),
        }
    }
    let baseline = baseline_cases(report);
    if !baseline.is_empty() {
        suites.push(Suite {
            name: "baseline".to_owned(),
            cases: baseline,
        });
    }

    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let all: Vec<&Case> = suites.iter().flat_map(|s| &s.cases).collect();
    let _ = writeln!(
        xml,
        "<testsuites name=\"mcp-gateway-conformance\" tests=\"{}\" failures=\"{}\" errors=\"0\" \
         skipped=\"{}\" time=\"{}\">",
        all.len(),
        all.iter().filter(|c| c.outcome.is_failure()).count(),
        all.iter().filter(|c| c.outcome.is_skipped()).count(),
        seconds(report.duration_ms),
    );
    for suite in &suites {
        write_suite(&mut xml, report, suite);
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// `text` escaped for XML character data: `&`, `<`, `>` escaped, `\r` kept as a character
/// reference (a parser would normalise a literal one away), forbidden characters replaced.
pub fn escape_text(text: &str) -> String {
    escape(text, false)
}

/// `text` escaped for a double- or single-quoted XML attribute: as [`escape_text`], plus quotes,
/// and tab, newline and carriage return as character references, because attribute-value
/// normalisation would otherwise turn them into spaces.
pub fn escape_attr(text: &str) -> String {
    escape(text, true)
}

fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            // XML 1.0 §2.2 cannot carry it even as a character reference.
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// XML 1.0 §2.2 `Char`: `#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]`
/// (a Rust `char` is never a surrogate).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

struct Suite {
    name: String,
    cases: Vec<Case>,
}

struct Case {
    classname: String,
    name: String,
    duration_ms: u64,
    outcome: Outcome,
}

enum Outcome {
    Passed,
    /// WARN: passes, the text goes to `<system-out>`.
    Warned(String),
    Failed {
        message: String,
        text: String,
    },
    Skipped {
        message: String,
        text: Option<String>,
    },
}

impl Outcome {
    fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }

    fn is_skipped(&self) -> bool {
        matches!(self, Outcome::Skipped { .. })
    }
}

fn case_of(check: &Check, not_testable_fails: bool) -> Case {
    let reason = check.reason.as_deref().unwrap_or_default();
    let first = reason.lines().next().unwrap_or_default();
    let outcome = match (check.verdict, check.expected_failure.as_deref()) {
        (Verdict::Fail | Verdict::Warn, Some(excuse)) => Outcome::Skipped {
            message: format!("expected failure (baseline): {excuse}"),
            text: Some(format!("{}: {reason}", check.verdict)),
        },
        (Verdict::Pass, _) => Outcome::Passed,
        (Verdict::Warn, None) => Outcome::Warned(format!("WARN: {reason}")),
        (Verdict::Fail, None) => Outcome::Failed {
            message: first.to_owned(),
            text: failure_text(reason, &check.evidence),
        },
        (Verdict::NotApplicable, _) => Outcome::Skipped {
            message: format!("N/A: {first}"),
            text: None,
        },
        // Skipped, not failed, even when NOT-TESTABLE fails the run: the gateway did nothing
        // wrong. The message says that it still counts against the run.
        (Verdict::NotTestable, _) => Outcome::Skipped {
            message: if not_testable_fails {
                format!("NOT-TESTABLE (fails the run unless --allow-not-testable): {first}")
            } else {
                format!("NOT-TESTABLE: {first}")
            },
            text: None,
        },
    };
    Case {
        classname: check.area.clone(),
        name: format!("{} {}", check.requirements.join(" "), check.scenario),
        duration_ms: check.duration_ms,
        outcome,
    }
}

/// The reason, then one line per exchange: `METHOD URL → STATUS` (or the transport error).
fn failure_text(reason: &str, evidence: &[Evidence]) -> String {
    let mut text = reason.to_owned();
    if !evidence.is_empty() {
        text.push_str("\n\nevidence (redacted):");
        for exchange in evidence {
            let outcome = match (exchange.status, exchange.error.as_deref()) {
                (Some(status), _) => status.to_string(),
                (None, Some(error)) => format!("error: {error}"),
                (None, None) => "no response".to_owned(),
            };
            let _ = write!(text, "\n  {} {} → {outcome}", exchange.method, exchange.url);
        }
    }
    text
}

fn baseline_cases(report: &Report) -> Vec<Case> {
    let stale = report.summary.stale_baseline.iter().map(|id| Case {
        classname: "baseline".to_owned(),
        name: format!("{id} stale baseline entry"),
        duration_ms: 0,
        outcome: Outcome::Failed {
            message: format!(
                "{id} is listed as an expected failure but its checks pass: delete its entry"
            ),
            text: String::new(),
        },
    });
    let unknown = report.summary.unknown_baseline.iter().map(|id| Case {
        classname: "baseline".to_owned(),
        name: format!("{id} unknown baseline entry"),
        duration_ms: 0,
        outcome: Outcome::Failed {
            message: format!("{id} is not a requirement ID of this suite: fix or delete its entry"),
            text: String::new(),
        },
    });
    stale.chain(unknown).collect()
}

fn write_suite(xml: &mut String, report: &Report, suite: &Suite) {
    let time: u64 = suite.cases.iter().map(|c| c.duration_ms).sum();
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" \
         time=\"{}\" timestamp=\"{}\">",
        escape_attr(&suite.name),
        suite.cases.len(),
        suite
            .cases
            .iter()
            .filter(|c| c.outcome.is_failure())
            .count(),
        suite
            .cases
            .iter()
            .filter(|c| c.outcome.is_skipped())
            .count(),
        seconds(time),
        escape_attr(&report.started_at),
    );
    xml.push_str("    <properties>\n");
    for (name, value) in [
        ("target", report.target.mcp_url.as_str()),
        ("profile", &report.target.profile),
        ("login_driver", &report.target.login_driver),
        ("time", &report.target.time),
        ("spec_revision", &report.spec_revision),
        ("suite_version", &report.suite_version),
        ("seed", &report.seed),
    ] {
        let _ = writeln!(
            xml,
            "      <property name=\"{name}\" value=\"{}\"/>",
            escape_attr(value)
        );
    }
    xml.push_str("    </properties>\n");
    for case in &suite.cases {
        write_case(xml, case);
    }
    xml.push_str("  </testsuite>\n");
}

fn write_case(xml: &mut String, case: &Case) {
    let _ = write!(
        xml,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
        escape_attr(&case.classname),
        escape_attr(&case.name),
        seconds(case.duration_ms),
    );
    match &case.outcome {
        Outcome::Passed => xml.push_str("/>\n"),
        Outcome::Warned(text) => {
            let _ = write!(
                xml,
                ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                escape_text(text)
            );
        }
        Outcome::Failed { message, text } if text.is_empty() => {
            let _ = write!(
                xml,
                ">\n      <failure message=\"{}\" type=\"FAIL\"/>\n    </testcase>\n",
                escape_attr(message),
            );
        }
        Outcome::Failed { message, text } => {
            let _ = write!(
                xml,
                ">\n      <failure message=\"{}\" type=\"FAIL\">{}</failure>\n    </testcase>\n",
                escape_attr(message),
                escape_text(text)
            );
        }
        Outcome::Skipped { message, text } => {
            let _ = match text {
                Some(text) => write!(
                    xml,
                    ">\n      <skipped message=\"{}\">{}</skipped>\n    </testcase>\n",
                    escape_attr(message),
                    escape_text(text)
                ),
                None => write!(
                    xml,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    escape_attr(message)
                ),
            };
        }
    }
}

/// Milliseconds as JUnit's seconds with three decimals.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn sample_report() {
        insta::assert_snapshot!(to_junit(&sample::report()));
    }

    #[test]
    fn escapes_markup_quotes_and_forbidden_characters() {
        let nasty = "<a href=\"x\">&'</a>\u{0}\u{8}\u{b}\u{1b}\u{fffe}\t\n\r\u{1F600}";
        assert_eq!(
            escape_attr(nasty),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\
             \u{FFFD}&#9;&#10;&#13;\u{1F600}"
        );
        assert_eq!(
            escape_text(nasty),
            "&lt;a href=\"x\"&gt;&amp;'&lt;/a&gt;\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\t\n&#13;\
             \u{1F600}"
        );
        assert_eq!(escape_text("]]>"), "]]&gt;");
    }

    #[test]
    fn counts_match_the_cases() {
        let xml = to_junit(&sample::report());
        // 8 checks + 1 stale + 1 unknown; FAIL + stale + unknown fail; N/A, NOT-TESTABLE and
        // the expected failure are skipped.
        assert!(
            xml.contains(
                "<testsuites name=\"mcp-gateway-conformance\" tests=\"10\" failures=\"3\" \
                 errors=\"0\" skipped=\"3\" time=\"12.345\">"
            ),
            "{xml}"
        );
        assert_eq!(xml.matches("<testcase ").count(), 10);
        assert_eq!(xml.matches("<failure ").count(), 3);
        assert_eq!(xml.matches("<skipped ").count(), 3);
        assert_eq!(xml.matches("WARN: ").count(), 1);
    }

    #[test]
    fn control_characters_in_report_text_never_reach_the_xml() {
        let mut report = sample::report();
        report.checks[1].reason = Some("bad\u{0}byte \u{1b}[31mred".to_owned());
        report.checks[1].scenario = "quote \" and <tag>".to_owned();
        let xml = to_junit(&report);
        assert!(!xml.chars().any(|c| !is_xml_char(c)));
        assert!(xml.contains("name=\"DISC-04 DISC-05 quote &quot; and &lt;tag&gt;\""));
        assert!(xml.contains("message=\"bad\u{FFFD}byte \u{FFFD}[31mred\""));
    }
}
