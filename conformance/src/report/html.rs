//! The HTML report: one self-contained page (inline CSS, no script, no external resource) that a
//! person reads instead of the JSON: the run's header and counts, the requirement matrix by area,
//! then every check with its reason and its evidence in collapsible `<details>`.
//!
//! Built with `maud`, which escapes every interpolated string. Invariant: `PreEscaped` is used
//! only for the constant stylesheet (`html.css`), never on report data, because evidence holds whatever
//! the target sent (HTML login pages, error descriptions) and must show as text, not run as
//! markup. The page needs no script so it can be opened from a CI artifact store that serves it
//! with a strict Content-Security-Policy.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{Check, Evidence, Report, RequirementResult, Verdict};

/// The report as one HTML page.
pub fn to_html(report: &Report) -> String {
    let summary = &report.summary;
    let outcome = if summary.failed == 0 { "ok" } else { "bad" };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "MCP gateway conformance: " (report.target.mcp_url) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { "MCP gateway conformance report" }
                    p.target { code { (report.target.mcp_url) } }
                    p class=(format!("outcome {outcome}")) { (summary.last_line()) }
                    p.counts {
                        (count_badge(summary.pass, "PASS", "pass"))
                        (count_badge(summary.fail, "FAIL", "fail"))
                        (count_badge(summary.warn, "WARN", "warn"))
                        (count_badge(summary.not_applicable, "N/A", "na"))
                        (count_badge(summary.not_testable, "NOT-TESTABLE", "nt"))
                        (count_badge(summary.expected_failures, "expected (baseline)", "expected"))
                    }
                    (run_facts(report))
                }
                (baseline_problems(report))
                (area_index(report))
                section #requirements {
                    h2 { "Requirements" }
                    @for area in requirement_areas(&report.requirements) {
                        h3 id=(format!("req-area-{}", slug(area))) { (area) }
                        (requirement_table(report, area))
                    }
                }
                section #checks {
                    h2 { "Checks" }
                    @for area in check_areas(&report.checks) {
                        h3 id=(format!("checks-area-{}", slug(area))) { (area) }
                        @for check in report.checks.iter().filter(|c| c.area == area) {
                            (check_article(check))
                        }
                    }
                }
                footer {
                    "Report format " code { (report.schema) } ". Evidence is redacted: secrets "
                    "appear as " mark.redacted { "<redacted:KIND>" } "."
                }
            }
        }
    };
    page.into_string()
}

fn run_facts(report: &Report) -> Markup {
    let target = &report.target;
    let not_testable = if report.summary.not_testable_fails {
        "counts as failed"
    } else {
        "allowed (--allow-not-testable)"
    };
    html! {
        dl.facts {
            dt { "Base URL" } dd { code { (target.base_url) } }
            dt { "Profile" } dd { (target.profile) }
            dt { "Login driver" } dd { (target.login_driver) }
            dt { "Time mode" } dd { (target.time) }
            dt { "Spec revision" } dd { (report.spec_revision) }
            dt { "Suite version" } dd { (report.suite_version) }
            dt { "Started" } dd { (report.started_at) }
            dt { "Duration" } dd { (seconds(report.duration_ms)) }
            dt { "PKCE fuzzing seed" } dd { code { (report.seed) } }
            dt { "NOT-TESTABLE" } dd { (not_testable) }
        }
    }
}

fn count_badge(count: usize, label: &str, class: &str) -> Markup {
    html! {
        span class=(format!("badge {class}{}", if count == 0 { " zero" } else { "" })) {
            (count) " " (label)
        }
    }
}

fn baseline_problems(report: &Report) -> Markup {
    let summary = &report.summary;
    html! {
        @if !summary.stale_baseline.is_empty() || !summary.unknown_baseline.is_empty() {
            section #baseline.problems {
                h2 { "Baseline problems" }
                p { "Each of these fails the run." }
                ul {
                    @for id in &summary.stale_baseline {
                        li {
                            span.badge.fail { "STALE" } " "
                            a href=(format!("#req-{id}")) { (id) }
                            " is listed as an expected failure but its checks pass: delete its \
                             entry from the baseline."
                        }
                    }
                    @for id in &summary.unknown_baseline {
                        li {
                            span.badge.fail { "UNKNOWN" } " " code { (id) }
                            " is not a requirement ID of this suite: fix or delete the entry."
                        }
                    }
                }
            }
        }
    }
}

/// A table of areas with their counts, linking to each area's requirements and checks.
fn area_index(report: &Report) -> Markup {
    let mut areas = requirement_areas(&report.requirements);
    for area in check_areas(&report.checks) {
        if !areas.contains(&area) {
            areas.push(area);
        }
    }
    html! {
        nav {
            h2 { "Areas" }
            table.index {
                thead { tr {
                    th { "Area" } th { "Requirements" } th { "Checks" } th { "PASS" } th { "FAIL" }
                    th { "WARN" } th { "N/A" } th { "NOT-TESTABLE" } th { "expected" }
                } }
                tbody {
                    @for area in &areas {
                        @let checks: Vec<&Check> =
                            report.checks.iter().filter(|c| c.area == *area).collect();
                        @let requirements =
                            report.requirements.iter().filter(|r| r.area == *area).count();
                        @let count = |verdict: Verdict| checks.iter()
                            .filter(|c| c.verdict == verdict && c.expected_failure.is_none())
                            .count();
                        tr {
                            th { (area) }
                            td { a href=(format!("#req-area-{}", slug(area))) { (requirements) } }
                            td { a href=(format!("#checks-area-{}", slug(area))) { (checks.len()) } }
                            (count_cell(count(Verdict::Pass), "pass"))
                            (count_cell(count(Verdict::Fail), "fail"))
                            (count_cell(count(Verdict::Warn), "warn"))
                            (count_cell(count(Verdict::NotApplicable), "na"))
                            (count_cell(count(Verdict::NotTestable), "nt"))
                            (count_cell(
                                checks.iter().filter(|c| c.expected_failure.is_some()).count(),
                                "expected",
                            ))
                        }
                    }
                }
            }
        }
    }
}

fn count_cell(count: usize, class: &str) -> Markup {
    html! {
        td class=(if count > 0 { format!("num {class}") } else { "num".to_owned() }) { (count) }
    }
}

fn requirement_table(report: &Report, area: &str) -> Markup {
    html! {
        table.matrix {
            thead { tr {
                th { "ID" } th { "Level" } th { "Group" } th { "Requirement" } th { "Verdict" }
                th { "Checks" } th { "Source" }
            } }
            tbody {
                @for requirement in report.requirements.iter().filter(|r| r.area == area) {
                    tr id=(format!("req-{}", requirement.id)) {
                        td { code { (requirement.id) } }
                        td { (requirement.level) }
                        td { (requirement.group) }
                        td { (requirement.summary) }
                        td { (requirement_verdict(report, requirement)) }
                        td.links {
                            @for check in &requirement.checks {
                                a href=(format!("#check-{check}")) { (check) } " "
                            }
                        }
                        td {
                            @match requirement.url.as_deref().filter(|u| is_web_link(u)) {
                                Some(url) => a href=(url) { (requirement.source) },
                                None => (requirement.source),
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The verdict cell: exclusion, verdict badge or "not checked", and the baseline's mark.
fn requirement_verdict(report: &Report, requirement: &RequirementResult) -> Markup {
    let stale = report.summary.stale_baseline.contains(&requirement.id);
    html! {
        @if let Some(why) = &requirement.excluded {
            span.badge.excluded { "EXCLUDED" }
            div.note { (why) }
        } @else {
            @match requirement.verdict {
                Some(verdict) => (verdict_badge(verdict)),
                None => span.badge.unchecked { "NOT CHECKED" },
            }
        }
        @if let Some(reason) = &requirement.expected_failure {
            div.note {
                @if stale {
                    span.badge.fail { "STALE" } " "
                } @else {
                    span.badge.expected { "EXPECTED" } " "
                }
                "baseline: " (reason)
            }
        }
    }
}

fn check_article(check: &Check) -> Markup {
    html! {
        article.check id=(format!("check-{}", check.id)) {
            h4 {
                @if check.expected_failure.is_some() {
                    span.badge.expected { "EXPECTED " (check.verdict) }
                } @else {
                    (verdict_badge(check.verdict))
                }
                " " (check.scenario)
            }
            p.meta {
                @for id in &check.requirements {
                    a href=(format!("#req-{id}")) { (id) } " "
                }
                "· " (check.level) " · " code { (check.id) } " · " (seconds(check.duration_ms))
            }
            @if let Some(reason) = &check.reason {
                pre class=(format!("reason {}", verdict_class(check.verdict))) { (reason) }
            }
            @if let Some(excuse) = &check.expected_failure {
                p.note { "Expected failure (baseline): " (excuse) }
            }
            @if !check.evidence.is_empty() {
                details.evidence {
                    summary {
                        "Evidence: " (check.evidence.len())
                        @if check.evidence.len() == 1 { " exchange" } @else { " exchanges" }
                    }
                    @for exchange in &check.evidence {
                        (exchange_details(exchange))
                    }
                }
            }
        }
    }
}

fn exchange_details(exchange: &Evidence) -> Markup {
    let outcome = match (exchange.status, exchange.error.as_deref()) {
        (Some(status), _) => status.to_string(),
        (None, Some(_)) => "error".to_owned(),
        (None, None) => "no response".to_owned(),
    };
    html! {
        details.exchange {
            summary { code { (exchange.method) " " (redacted(&exchange.url)) " → " (outcome) } }
            div.http {
                h5 { "Request" }
                pre {
                    (exchange.method) " " (redacted(&exchange.url)) "\n"
                    (headers(&exchange.request_headers))
                    @if let Some(body) = &exchange.request_body { "\n" (redacted(&indent_json(body))) }
                }
                h5 { "Response" }
                @if let Some(status) = exchange.status {
                    pre {
                        "HTTP " (status) "\n"
                        (headers(&exchange.response_headers))
                        @if let Some(body) = &exchange.response_body {
                            "\n" (redacted(&indent_json(body)))
                        }
                    }
                }
                @if let Some(error) = &exchange.error {
                    pre.reason.fail { (redacted(error)) }
                }
            }
        }
    }
}

/// A JSON body re-indented for reading, members in their original order (`serde_json` would sort
/// them, and evidence should show what was sent); any other body unchanged.
fn indent_json(body: &str) -> String {
    let trimmed = body.trim();
    let looks_like_json = trimmed.starts_with('{') || trimmed.starts_with('[');
    if !looks_like_json || serde_json::from_str::<serde::de::IgnoredAny>(trimmed).is_err() {
        return body.to_owned();
    }
    let mut out = String::with_capacity(trimmed.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut iter = trimmed.chars().peekable();
    while let Some(c) = iter.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                // Skip whitespace to see whether the container is empty: `{}` stays on one line.
                while iter.peek().is_some_and(|n| n.is_whitespace()) {
                    iter.next();
                }
                if iter.peek().is_some_and(|n| *n == '}' || *n == ']') {
                    if let Some(close) = iter.next() {
                        out.push(close);
                    }
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    out.push_str(&"  ".repeat(depth));
}

fn headers(headers: &[(String, String)]) -> Markup {
    html! {
        @for (name, value) in headers {
            span.header { (name) ":" } " " (redacted(value)) "\n"
        }
    }
}

/// `text` with every `<redacted:KIND>` marker highlighted, so a reader sees at a glance what the
/// suite hid. The text stays escaped: the markers become the content of a `<mark>`, not markup.
fn redacted(text: &str) -> Markup {
    let mut parts: Vec<(bool, &str)> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<redacted:") {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        parts.push((false, &rest[..start]));
        parts.push((true, &rest[start..=start + len]));
        rest = &rest[start + len + 1..];
    }
    parts.push((false, rest));
    html! {
        @for (marker, part) in parts {
            @if marker { mark.redacted { (part) } } @else { (part) }
        }
    }
}

fn verdict_badge(verdict: Verdict) -> Markup {
    html! { span class=(format!("badge {}", verdict_class(verdict))) { (verdict) } }
}

/// The CSS class carrying a verdict's colour.
fn verdict_class(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Warn => "warn",
        Verdict::NotApplicable => "na",
        Verdict::NotTestable => "nt",
    }
}

fn requirement_areas(requirements: &[RequirementResult]) -> Vec<&str> {
    let mut areas: Vec<&str> = Vec::new();
    for requirement in requirements {
        if !areas.contains(&requirement.area.as_str()) {
            areas.push(&requirement.area);
        }
    }
    areas
}

fn check_areas(checks: &[Check]) -> Vec<&str> {
    let mut areas: Vec<&str> = Vec::new();
    for check in checks {
        if !areas.contains(&check.area.as_str()) {
            areas.push(&check.area);
        }
    }
    areas
}

/// An area name usable in an element ID.
fn slug(area: &str) -> String {
    area.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Only http(s) URLs become links: a registry entry is trusted data, but a `javascript:` URL must
/// never become clickable even by mistake.
fn is_web_link(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03} s", ms / 1000, ms % 1000)
}

/// The page's stylesheet, inlined (the page must load nothing); kept in its own file so it reads as
/// CSS.
const CSS: &str = include_str!("html.css");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    /// The page with a line break before each block element, so the snapshot diffs line by
    /// line. Report text cannot contain `<` (maud escapes it), so this only touches markup.
    fn broken_into_lines(page: &str) -> String {
        let mut out = page.to_owned();
        for tag in [
            "<head>", "<body>", "<header", "<nav", "<section", "<footer", "<h1", "<h2", "<h3",
            "<h4", "<h5", "<p ", "<p>", "<dl", "<dt", "<ul", "<li", "<table", "<thead", "<tbody",
            "<tr", "<article", "<details", "<div", "<pre", "</style>",
        ] {
            out = out.replace(tag, &format!("\n{tag}"));
        }
        out
    }

    #[test]
    fn sample_report() {
        insta::assert_snapshot!(broken_into_lines(&to_html(&sample::report())));
    }

    #[test]
    fn report_data_is_escaped_and_the_page_is_self_contained() {
        let mut report = sample::report();
        report.checks[0].scenario = "<script>alert(1)</script>".to_owned();
        report.checks[0].evidence[0].response_body = Some("<img src=x onerror=alert(1)>".into());
        report.requirements[0].url = Some("javascript:alert(1)".to_owned());
        let page = to_html(&report);
        assert!(!page.contains("<script"), "script element in the page");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("<img"));
        assert!(!page.contains("javascript:"));
        for external in ["src=\"http", "<link", "@import", "url("] {
            assert!(!page.contains(external), "external resource: {external}");
        }
    }

    #[test]
    fn json_bodies_are_indented_in_their_own_order() {
        assert_eq!(
            indent_json(r#"{"z":1,"a":{"b":[1, 2],"e":{}},"s":"x, {y}: \"q\""}"#),
            "{\n  \"z\": 1,\n  \"a\": {\n    \"b\": [\n      1,\n      2\n    ],\n    \"e\": {}\n  },\
             \n  \"s\": \"x, {y}: \\\"q\\\"\"\n}"
        );
        assert_eq!(indent_json("a=b&c={d}"), "a=b&c={d}");
        assert_eq!(indent_json("{not json"), "{not json");
    }

    #[test]
    fn redaction_markers_are_highlighted_as_text() {
        let markup = redacted("a=<redacted:code>&b=<redacted:jwt> <unclosed").into_string();
        assert_eq!(
            markup,
            "a=<mark class=\"redacted\">&lt;redacted:code&gt;</mark>&amp;b=\
             <mark class=\"redacted\">&lt;redacted:jwt&gt;</mark> &lt;unclosed"
        );
    }
}
