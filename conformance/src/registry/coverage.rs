//! The coverage matrix: the registry joined with the scenarios of `features/*.feature`.
//!
//! A MUST or SHOULD requirement needs a scenario or an exclusion reason; a scenario may only tag
//! IDs the registry has; MAY and interop requirements without a scenario are counted, not
//! failed. No I/O: scenarios come in as data and [`Coverage::render`] returns a string.

use std::collections::HashSet;
use std::fmt;

use super::{LINE_WIDTH, Registry, Requirement};

/// A scenario of a `.feature` file and the requirement IDs it is tagged with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioRef {
    /// The feature's area (its file stem).
    pub area: String,
    /// Path of the feature file; the matrix shows only its file name.
    pub feature_file: String,
    /// Line of the `Scenario:` keyword, from 1.
    pub line: usize,
    pub name: String,
    /// Requirement IDs from the tags, without `@` (a leading `@` is tolerated); other tags such
    /// as `@serial` belong filtered out, e.g. with [`is_requirement_id`].
    pub requirements: Vec<String>,
}

impl ScenarioRef {
    /// `discovery.feature:12 "name"`.
    fn label(&self) -> String {
        let file = self
            .feature_file
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or_default();
        format!("{file}:{} \"{}\"", self.line, self.name)
    }
}

/// Where one requirement stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not excluded, and at least one scenario tags it.
    Covered,
    /// Has an exclusion reason (scenarios or not).
    Excluded,
    /// MUST or SHOULD, not excluded, no scenario: makes the matrix incomplete.
    Uncovered,
    /// MAY or interop, not excluded, no scenario: counted, not a failure.
    UntestedOptional,
}

/// One requirement and the scenarios that tag it.
#[derive(Clone, Debug)]
pub struct CoverageRow<'r> {
    pub requirement: &'r Requirement,
    /// In the order given to [`coverage`].
    pub scenarios: Vec<ScenarioRef>,
}

impl CoverageRow<'_> {
    pub fn status(&self) -> Status {
        if self.requirement.excluded.is_some() {
            Status::Excluded
        } else if !self.scenarios.is_empty() {
            Status::Covered
        } else if self.requirement.level.needs_coverage() {
            Status::Uncovered
        } else {
            Status::UntestedOptional
        }
    }
}

/// Counts by [`Status`]; they add up to `requirements`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub requirements: usize,
    pub covered: usize,
    pub excluded: usize,
    pub uncovered: usize,
    pub untested_optional: usize,
}

/// The requirement × scenario matrix.
#[derive(Clone, Debug)]
pub struct Coverage<'r> {
    /// One row per requirement, in registry order.
    pub rows: Vec<CoverageRow<'r>>,
    /// A scenario and an ID it tags that the registry does not have.
    pub unknown_tags: Vec<(ScenarioRef, String)>,
    /// MUST/SHOULD requirements with neither a scenario nor an exclusion reason.
    pub uncovered: Vec<&'r Requirement>,
    /// Excluded requirements that scenarios test anyway: a warning (the reason may be stale).
    pub excluded_but_tested: Vec<&'r Requirement>,
}

/// Joins the registry with the scenarios' tags.
pub fn coverage<'r>(registry: &'r Registry, scenarios: &[ScenarioRef]) -> Coverage<'r> {
    let mut rows: Vec<CoverageRow<'r>> = registry
        .iter()
        .map(|requirement| CoverageRow {
            requirement,
            scenarios: Vec::new(),
        })
        .collect();
    let mut unknown_tags = Vec::new();
    for scenario in scenarios {
        let mut seen = HashSet::new();
        for tag in &scenario.requirements {
            let id = tag.strip_prefix('@').unwrap_or(tag);
            if !seen.insert(id) {
                continue;
            }
            match rows.iter_mut().find(|row| row.requirement.id == id) {
                Some(row) => row.scenarios.push(scenario.clone()),
                None => unknown_tags.push((scenario.clone(), id.to_owned())),
            }
        }
    }
    let uncovered = rows
        .iter()
        .filter(|row| row.status() == Status::Uncovered)
        .map(|row| row.requirement)
        .collect();
    let excluded_but_tested = rows
        .iter()
        .filter(|row| row.requirement.excluded.is_some() && !row.scenarios.is_empty())
        .map(|row| row.requirement)
        .collect();
    Coverage {
        rows,
        unknown_tags,
        uncovered,
        excluded_but_tested,
    }
}

impl Coverage<'_> {
    /// No uncovered MUST/SHOULD and no unknown tag.
    pub fn is_complete(&self) -> bool {
        self.uncovered.is_empty() && self.unknown_tags.is_empty()
    }

    pub fn totals(&self) -> Totals {
        let mut totals = Totals {
            requirements: self.rows.len(),
            ..Totals::default()
        };
        for row in &self.rows {
            match row.status() {
                Status::Covered => totals.covered += 1,
                Status::Excluded => totals.excluded += 1,
                Status::Uncovered => totals.uncovered += 1,
                Status::UntestedOptional => totals.untested_optional += 1,
            }
        }
        totals
    }

    /// The matrix as plain text, one line per requirement, at most 100 columns wide, then the
    /// unknown tags, the excluded-but-tested warnings and the totals.
    pub fn render(&self) -> String {
        let width = |f: fn(&Requirement) -> usize| {
            self.rows
                .iter()
                .map(|row| f(row.requirement))
                .max()
                .unwrap_or(0)
        };
        let id_width = width(|r| r.id.len());
        let level_width = width(|r| r.level.as_str().len());
        let area_width = width(|r| r.area.len());
        let mut out = String::new();
        for row in &self.rows {
            let r = row.requirement;
            let prefix = format!(
                "{:id_width$}  {:level_width$}  {:area_width$}  ",
                r.id,
                r.level.as_str(),
                r.area
            );
            let budget = LINE_WIDTH.saturating_sub(prefix.chars().count());
            let labels: Vec<String> = row.scenarios.iter().map(ScenarioRef::label).collect();
            let status = match (row.status(), &r.excluded) {
                (Status::Excluded, Some(_)) if !labels.is_empty() => {
                    let lead = "EXCLUDED, yet tested -> ";
                    format!(
                        "{lead}{}",
                        fit_list(&labels, budget.saturating_sub(lead.len()))
                    )
                }
                (Status::Excluded, Some(reason)) => {
                    truncate(&format!("EXCLUDED: {reason}"), budget)
                }
                (Status::Covered, _) => {
                    format!("-> {}", fit_list(&labels, budget.saturating_sub(3)))
                }
                (Status::Uncovered, _) => "UNCOVERED".to_owned(),
                _ => "no scenario".to_owned(),
            };
            out.push_str(&format!("{prefix}{status}\n"));
        }
        if !self.unknown_tags.is_empty() {
            out.push_str("\nScenario tags naming no requirement in fixtures/requirements.toml:\n");
            for (scenario, id) in &self.unknown_tags {
                out.push_str(&truncate(
                    &format!("  @{id}  {}", scenario.label()),
                    LINE_WIDTH,
                ));
                out.push('\n');
            }
        }
        if !self.excluded_but_tested.is_empty() {
            out.push_str("\nWarning: excluded requirements that scenarios test (stale reason?):\n");
            for r in &self.excluded_but_tested {
                let reason = r.excluded.as_deref().unwrap_or_default();
                out.push_str(&truncate(
                    &format!("  {}  excluded: {reason}", r.id),
                    LINE_WIDTH,
                ));
                out.push('\n');
            }
        }
        let t = self.totals();
        out.push_str(&format!(
            "\n{} requirements: {} covered, {} excluded, {} uncovered (MUST/SHOULD), \
             {} MAY/interop without scenario\n",
            t.requirements, t.covered, t.excluded, t.uncovered, t.untested_optional
        ));
        out
    }
}

impl fmt::Display for Coverage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// As many labels as fit in `budget` characters, then `, +N more`; a lone label that does not
/// fit is cut.
pub(super) fn fit_list(labels: &[String], budget: usize) -> String {
    let more = |shown: usize| match labels.len() - shown {
        0 => String::new(),
        rest => format!(", +{rest} more"),
    };
    for shown in (1..=labels.len()).rev() {
        let text = format!("{}{}", labels[..shown].join(", "), more(shown));
        if text.chars().count() <= budget {
            return text;
        }
    }
    match labels.first() {
        Some(first) => {
            let tail = more(1);
            format!(
                "{}{tail}",
                truncate(first, budget.saturating_sub(tail.len()))
            )
        }
        None => String::new(),
    }
}

/// `text` cut to `max` characters, ending in `...` when cut.
pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(3)).collect();
    format!("{kept}...")
}
