//! What the runner prints: one progress line per finished scenario, and the end-of-run summary.
//!
//! Both are plain text sized for a 100-column terminal: long reasons and scenario names are
//! word-wrapped under their column or truncated with `…`, never left to overflow, because a
//! wrapped terminal line breaks the columns a reader scans. The full text is in the JSON and
//! HTML reports.
//!
//! Invariant: no ANSI escapes here; the caller decides whether its stream gets colour. The
//! summary's last line is exactly [`Summary::last_line`](super::Summary::last_line), which CI
//! wrappers read.

use super::finish::severity;
use super::{Check, Report, Verdict};

/// The terminal width the summary is laid out for.
const WIDTH: usize = 100;
/// How many characters of a reason a progress line keeps.
const PROGRESS_REASON: usize = 160;
/// The summary's verdict column: two spaces, the label padded to 12 (`NOT-TESTABLE`), a space.
const INDENT: usize = 15;
/// How many wrapped lines of a reason the summary shows.
const REASON_LINES: usize = 3;

/// The line printed as a scenario finishes, e.g.
/// `[ 12/140] PASS         discovery  DISC-04 DISC-05  PRM resource equals the MCP URL`;
/// a non-PASS check gets ` — ` and the first line of its reason, truncated.
pub fn progress_line(check: &Check, done: usize, total: usize) -> String {
    let width = total.to_string().len();
    let mut line = format!(
        "[{done:>width$}/{total}] {:<12} {:<10} {}  {}",
        check.verdict.as_str(),
        check.area,
        check.requirements.join(" "),
        check.scenario,
    );
    if check.verdict != Verdict::Pass
        && let Some(reason) = check.reason.as_deref()
    {
        line.push_str(" — ");
        line.push_str(&truncate(first_line(reason), PROGRESS_REASON));
    }
    if check.expected_failure.is_some() {
        line.push_str(" (expected: baseline)");
    }
    line
}

/// The end-of-run summary: per area its counts and every non-PASS check (PASS collapsed into a
/// count), then baseline problems, the totals, the PKCE seed, and last [`Summary::last_line`].
///
/// [`Summary::last_line`]: super::Summary::last_line
pub fn summary(report: &Report) -> String {
    let mut out = Vec::new();
    let target = &report.target;
    out.push(format!("MCP gateway conformance: {}", target.mcp_url));
    out.push(format!(
        "  profile {}, login {}, time {}, spec {}, suite {}",
        target.profile,
        target.login_driver,
        target.time,
        report.spec_revision,
        report.suite_version
    ));

    for area in areas(&report.checks) {
        let checks: Vec<&Check> = report.checks.iter().filter(|c| c.area == area).collect();
        out.push(String::new());
        out.push(format!("{area} — {}", area_counts(&checks)));
        let mut shown: Vec<&Check> = checks
            .iter()
            .copied()
            .filter(|c| c.verdict != Verdict::Pass)
            .collect();
        // Real failures first, expected failures last; feature order within each rank.
        shown.sort_by_key(|c| std::cmp::Reverse(rank(c)));
        for check in shown {
            push_check(&mut out, check);
        }
        let passed = checks.len() - checks.iter().filter(|c| c.verdict != Verdict::Pass).count();
        if passed > 0 {
            out.push(format!("  {passed} PASS"));
        }
    }

    let summary = &report.summary;
    if !summary.stale_baseline.is_empty() || !summary.unknown_baseline.is_empty() {
        out.push(String::new());
        out.push("baseline".to_owned());
        for id in &summary.stale_baseline {
            push_wrapped(
                &mut out,
                "STALE",
                &format!("{id}  passes now: delete its entry from the baseline"),
            );
        }
        for id in &summary.unknown_baseline {
            push_wrapped(
                &mut out,
                "UNKNOWN",
                &format!("{id}  is not a requirement ID of this suite: fix or delete the entry"),
            );
        }
    }

    out.push(String::new());
    out.push(format!(
        "{} checks: {} PASS, {} FAIL, {} WARN, {} N/A, {} NOT-TESTABLE, {} expected (baseline)",
        report.checks.len(),
        summary.pass,
        summary.fail,
        summary.warn,
        summary.not_applicable,
        summary.not_testable,
        summary.expected_failures,
    ));
    if summary.not_testable > 0 && summary.not_testable_fails {
        out.push("NOT-TESTABLE counts as failed (--allow-not-testable accepts it)".to_owned());
    }
    out.push(format!("PKCE fuzzing seed: {}", report.seed));
    out.push(summary.last_line());
    // No trailing newline: the caller prints it with `println!`, and a CI wrapper taking the
    // output's last line (`tail -n 1`) must get `N passed, N failed`, not an empty line.
    out.join("\n")
}

/// The areas in the order their first check appears (feature-file order).
fn areas(checks: &[Check]) -> Vec<&str> {
    let mut areas: Vec<&str> = Vec::new();
    for check in checks {
        if !areas.contains(&check.area.as_str()) {
            areas.push(&check.area);
        }
    }
    areas
}

/// `4 checks: 1 PASS, 1 FAIL, 1 expected`: only the non-zero counts.
fn area_counts(checks: &[&Check]) -> String {
    let count = |verdict: Verdict| {
        checks
            .iter()
            .filter(|c| c.verdict == verdict && c.expected_failure.is_none())
            .count()
    };
    let expected = checks
        .iter()
        .filter(|c| c.expected_failure.is_some())
        .count();
    let parts: Vec<String> = [
        (count(Verdict::Pass), "PASS"),
        (count(Verdict::Fail), "FAIL"),
        (count(Verdict::Warn), "WARN"),
        (count(Verdict::NotApplicable), "N/A"),
        (count(Verdict::NotTestable), "NOT-TESTABLE"),
        (expected, "expected"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, label)| format!("{n} {label}"))
    .collect();
    let noun = if checks.len() == 1 { "check" } else { "checks" };
    format!("{} {noun}: {}", checks.len(), parts.join(", "))
}

/// Sort key of the summary: unexcused verdicts by severity, expected failures below them all.
fn rank(check: &Check) -> u8 {
    if check.expected_failure.is_some() {
        0
    } else {
        severity(check.verdict) + 1
    }
}

/// One non-PASS check: its label, IDs, scenario and check ID, then the reason and the baseline's
/// excuse under the verdict column.
fn push_check(out: &mut Vec<String>, check: &Check) {
    let label = if check.expected_failure.is_some() {
        "EXPECTED"
    } else {
        check.verdict.as_str()
    };
    let heading = format!(
        "{}  {}  ({})",
        check.requirements.join(" "),
        check.scenario,
        check.id
    );
    push_wrapped(out, label, &heading);
    let indent = " ".repeat(INDENT);
    if let Some(reason) = check.reason.as_deref() {
        for line in wrap(first_line(reason), WIDTH - INDENT, REASON_LINES) {
            out.push(format!("{indent}{line}"));
        }
    }
    if let Some(excuse) = check.expected_failure.as_deref() {
        let text = format!("expected {} (baseline): {excuse}", check.verdict);
        for line in wrap(&text, WIDTH - INDENT, REASON_LINES) {
            out.push(format!("{indent}{line}"));
        }
    }
}

/// `  LABEL        text…`, the text wrapped under its column.
fn push_wrapped(out: &mut Vec<String>, label: &str, text: &str) {
    let indent = " ".repeat(INDENT);
    for (i, line) in wrap(text, WIDTH - INDENT, REASON_LINES)
        .into_iter()
        .enumerate()
    {
        if i == 0 {
            out.push(format!("  {label:<12} {line}"));
        } else {
            out.push(format!("{indent}{line}"));
        }
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim_end()
}

/// `text` cut to `max` characters, the last one replaced by `…` when something was cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Word-wraps `text` to `width` columns (characters), splitting words longer than a line, and
/// keeps at most `max_lines`, the last one ending in `…` when text was dropped. Runs of spaces
/// inside a line are kept (the two spaces between IDs and scenario are a column separator);
/// at a line break they disappear.
fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let width = width.max(2);
    let text = text.replace(['\t', '\n', '\r'], " ");
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    // Spaces between the previous word and the next one: one, plus one per empty split token.
    let mut gap = 0;
    for token in text.split(' ') {
        if token.is_empty() {
            gap += 1;
            continue;
        }
        let mut word: Vec<char> = token.chars().collect();
        let spaces = gap + 1;
        gap = 0;
        loop {
            let needed = if current_len == 0 {
                word.len()
            } else {
                current_len + spaces + word.len()
            };
            if needed <= width {
                if current_len > 0 {
                    current.push_str(&" ".repeat(spaces));
                }
                current.extend(word.iter());
                current_len = needed;
                break;
            }
            if current_len > 0 {
                lines.push(std::mem::take(&mut current));
                current_len = 0;
                continue;
            }
            // A word longer than a whole line: hard-split it.
            let rest = word.split_off(width);
            lines.push(word.into_iter().collect());
            word = rest;
        }
    }
    if current_len > 0 {
        lines.push(current);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            let kept: String = last.chars().take(width - 2).collect();
            *last = format!("{} …", kept.trim_end());
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn progress_lines() {
        let report = sample::report();
        let total = report.checks.len() * 20;
        let lines: Vec<String> = report
            .checks
            .iter()
            .enumerate()
            .map(|(i, check)| progress_line(check, i * 20 + 1, total))
            .collect();
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn progress_line_pads_the_counter_and_truncates_the_reason() {
        let mut check = sample::report().checks.remove(1);
        check.reason = Some(format!("{}\nsecond line", "x".repeat(300)));
        let line = progress_line(&check, 12, 140);
        assert!(line.starts_with("[ 12/140] FAIL         discovery  DISC-04 DISC-05  "));
        let reason = line.split(" — ").nth(1).unwrap();
        assert_eq!(reason.chars().count(), PROGRESS_REASON);
        assert!(reason.ends_with('…'));
        assert!(!line.contains("second line"));
    }

    #[test]
    fn summary_of_sample() {
        let text = summary(&sample::report());
        insta::assert_snapshot!(text);
    }

    #[test]
    fn summary_fits_100_columns_and_ends_with_the_last_line() {
        let mut report = sample::report();
        report.checks[1].scenario = "a very long scenario name ".repeat(8);
        report.checks[1].reason = Some("y".repeat(500));
        let text = summary(&report);
        for line in text.lines() {
            assert!(line.chars().count() <= WIDTH, "too wide: {line}");
        }
        assert!(text.ends_with("\nPKCE fuzzing seed: 0x5eed0c0ffee15bad\n5 passed, 4 failed"));
        assert!(!text.contains('\u{1b}'), "no ANSI escapes");
    }

    #[test]
    fn wrap_splits_words_and_marks_dropped_text() {
        assert_eq!(wrap("a bb ccc", 4, 3), ["a bb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4, 3), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("aa bb cc dd", 2, 2), ["aa", " …"]);
        assert_eq!(wrap("aa bb cc dd", 5, 1), ["aa …"]);
        assert!(wrap("", 10, 3).is_empty());
        assert_eq!(wrap("ID-01  a  b", 20, 3), ["ID-01  a  b"]);
        assert_eq!(wrap(" ID-01  scenario", 7, 3), ["ID-01", "scenari", "o"]);
    }
}
