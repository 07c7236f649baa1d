//! The requirement registry and the coverage matrix.
//!
//! Owns `fixtures/requirements.toml` (embedded at compile time): one entry per requirement the
//! suite knows, with its ID, area, [`Level`], [`Group`], a one-line summary, its source and, for
//! the few the suite deliberately does not test, the reason (`excluded`). [`Registry::parse`]
//! validates the file once: IDs unique and shaped `AREA-nn`, areas from [`AREAS`], summaries one
//! line of at most [`MAX_SUMMARY_CHARS`], `GUIDE-nn` exactly for the guide group, a `url` for
//! every spec entry. Every error names the offending ID.
//!
//! [`coverage`] joins the registry with the scenarios found in `features/*.feature` (each tagged
//! with requirement IDs, see [`ScenarioRef`]) into a [`Coverage`] matrix: a MUST or SHOULD
//! requirement must have a scenario or an exclusion reason, and a scenario may only tag IDs the
//! registry has. MAY and interop requirements without a scenario are counted, not failed.
//!
//! This module does no I/O: the TOML is embedded, scenarios come in as data, and
//! [`Coverage::render`] returns a string.

use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The registry as shipped with the suite.
const EMBEDDED_TOML: &str = include_str!("../../../fixtures/requirements.toml");

/// The `schema_version` this module reads.
pub const SCHEMA_VERSION: u32 = 1;

/// The areas a requirement may belong to (roughly one per feature file).
pub const AREAS: [&str; 11] = [
    "discovery",
    "registration",
    "authorize",
    "pkce",
    "token",
    "bearer",
    "audience",
    "refresh",
    "cors",
    "mcp-endpoint",
    "ttl",
];

/// Longest allowed summary, in characters, so a summary fits one terminal line with its ID.
pub const MAX_SUMMARY_CHARS: usize = 140;

/// Width of [`Coverage::render`]'s lines, in characters.
const LINE_WIDTH: usize = 100;

/// How binding a requirement is (RFC 2119 keyword of the source, or `interop`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    #[serde(rename = "MUST")]
    Must,
    #[serde(rename = "SHOULD")]
    Should,
    #[serde(rename = "MAY")]
    May,
    /// Not a MUST in any spec text, but real clients fail without it; reported as WARN.
    #[serde(rename = "interop")]
    Interop,
}

impl Level {
    /// The spelling used in `requirements.toml` and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
            Level::Interop => "interop",
        }
    }

    /// MUST and SHOULD requirements need a scenario or an exclusion reason.
    pub fn needs_coverage(self) -> bool {
        matches!(self, Level::Must | Level::Should)
    }

    fn parse(text: &str) -> Option<Level> {
        [Level::Must, Level::Should, Level::May, Level::Interop]
            .into_iter()
            .find(|level| level.as_str() == text)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a requirement comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    /// The MCP specification, an RFC, or a real client's documented behaviour.
    Spec,
    /// A statement of the gateway guide (`shared/seeds/001`), our primary spec.
    Guide,
}

impl Group {
    /// The spelling used in `requirements.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Spec => "spec",
            Group::Guide => "guide",
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One validated `[[requirement]]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    /// `AREA-nn`, e.g. `DISC-01`; scenarios are tagged `@DISC-01`.
    pub id: String,
    /// One of [`AREAS`].
    pub area: String,
    pub level: Level,
    pub group: Group,
    /// One line in our own words.
    pub summary: String,
    pub source: String,
    /// The primary source; always present for [`Group::Spec`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Why the suite deliberately does not test this requirement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded: Option<String>,
}

/// Every requirement, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registry {
    requirements: Vec<Requirement>,
}

/// Why a registry text was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Not TOML, or a key missing, unknown or of the wrong type.
    #[error("requirements.toml does not parse: {0}")]
    Toml(#[from] toml::de::Error),
    /// `schema_version` is not [`SCHEMA_VERSION`].
    #[error("requirements.toml has schema_version {found}, this suite reads {SCHEMA_VERSION}")]
    SchemaVersion { found: u32 },
    /// The same ID in two entries.
    #[error("{id}: listed twice (entries {first} and {second}, counting from 1)")]
    DuplicateId {
        id: String,
        first: usize,
        second: usize,
    },
    /// One entry breaks a rule; `problem` says which.
    #[error("{id}: {problem}")]
    Invalid { id: String, problem: String },
}

/// The file as written; [`Registry::parse`] turns it into [`Requirement`]s.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    schema_version: u32,
    #[serde(default)]
    requirement: Vec<RawRequirement>,
}

/// Level and group stay strings here so that a bad value is reported with its ID.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirement {
    id: String,
    area: String,
    level: String,
    group: String,
    summary: String,
    source: String,
    url: Option<String>,
    excluded: Option<String>,
}

impl Registry {
    /// The registry embedded from `fixtures/requirements.toml`, parsed on first use.
    ///
    /// # Panics
    ///
    /// If the embedded file is invalid: a build defect that the unit tests catch first.
    #[allow(
        clippy::expect_used,
        reason = "the embedded file is checked by a unit test"
    )]
    pub fn embedded() -> &'static Registry {
        static EMBEDDED: OnceLock<Registry> = OnceLock::new();
        // The only `expect` outside tests: the embedded file is part of the build, and the unit
        // test `embedded_registry_parses_and_has_every_catalog_id` proves it parses.
        EMBEDDED.get_or_init(|| {
            Registry::parse(EMBEDDED_TOML)
                .expect("fixtures/requirements.toml is invalid; run the registry unit tests")
        })
    }

    /// Parses and validates a registry text (see the module doc for the rules).
    ///
    /// # Errors
    ///
    /// The first problem found: bad TOML or keys, a wrong `schema_version`, a duplicate ID, or
    /// an entry breaking a rule ([`RegistryError::Invalid`], naming the ID).
    pub fn parse(text: &str) -> Result<Registry, RegistryError> {
        let raw: RawFile = toml::from_str(text)?;
        if raw.schema_version != SCHEMA_VERSION {
            return Err(RegistryError::SchemaVersion {
                found: raw.schema_version,
            });
        }
        let mut requirements: Vec<Requirement> = Vec::with_capacity(raw.requirement.len());
        for entry in raw.requirement {
            let requirement = validate(entry)?;
            if let Some(first) = requirements.iter().position(|r| r.id == requirement.id) {
                return Err(RegistryError::DuplicateId {
                    id: requirement.id,
                    first: first + 1,
                    second: requirements.len() + 1,
                });
            }
            requirements.push(requirement);
        }
        Ok(Registry { requirements })
    }

    pub fn get(&self, id: &str) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.id == id)
    }

    /// All requirements in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, Requirement> {
        self.requirements.iter()
    }

    pub fn len(&self) -> usize {
        self.requirements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

impl<'a> IntoIterator for &'a Registry {
    type Item = &'a Requirement;
    type IntoIter = std::slice::Iter<'a, Requirement>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// `true` for a requirement ID shape, `[A-Z]+-[0-9]{2}` (without the `@` of a tag).
pub fn is_requirement_id(text: &str) -> bool {
    match text.split_once('-') {
        Some((prefix, number)) => {
            !prefix.is_empty()
                && prefix.bytes().all(|b| b.is_ascii_uppercase())
                && number.len() == 2
                && number.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

fn validate(raw: RawRequirement) -> Result<Requirement, RegistryError> {
    let id = raw.id;
    let invalid = |problem: String| RegistryError::Invalid {
        id: id.clone(),
        problem,
    };
    if !is_requirement_id(&id) {
        return Err(invalid(
            "the id must look like AREA-nn (`[A-Z]+-[0-9]{2}`)".into(),
        ));
    }
    if !AREAS.contains(&raw.area.as_str()) {
        return Err(invalid(format!(
            "unknown area {:?}; one of {}",
            raw.area,
            AREAS.join(", ")
        )));
    }
    let level = Level::parse(&raw.level).ok_or_else(|| {
        invalid(format!(
            "unknown level {:?}; one of MUST, SHOULD, MAY, interop",
            raw.level
        ))
    })?;
    let group = match raw.group.as_str() {
        "spec" => Group::Spec,
        "guide" => Group::Guide,
        other => return Err(invalid(format!("unknown group {other:?}; spec or guide"))),
    };
    if id.starts_with("GUIDE-") != (group == Group::Guide) {
        return Err(invalid(
            "GUIDE-nn ids and group \"guide\" go together".into(),
        ));
    }
    let summary = raw.summary.trim();
    if summary.is_empty() || summary.contains('\n') {
        return Err(invalid("the summary must be one non-empty line".into()));
    }
    let chars = summary.chars().count();
    if chars > MAX_SUMMARY_CHARS {
        return Err(invalid(format!(
            "summary is {chars} characters, at most {MAX_SUMMARY_CHARS}"
        )));
    }
    if raw.source.trim().is_empty() {
        return Err(invalid("the source is empty".into()));
    }
    let url = raw.url.filter(|url| !url.is_empty());
    match &url {
        Some(url) if !url.starts_with("https://") => {
            return Err(invalid(format!("url {url:?} is not an https URL")));
        }
        None if group == Group::Spec => return Err(invalid("spec entries need a url".into())),
        _ => {}
    }
    if raw
        .excluded
        .as_deref()
        .is_some_and(|reason| reason.trim().is_empty())
    {
        return Err(invalid(
            "`excluded` needs a reason; remove the key to include it".into(),
        ));
    }
    Ok(Requirement {
        area: raw.area,
        level,
        group,
        summary: summary.to_owned(),
        source: raw.source,
        url,
        excluded: raw.excluded,
        id,
    })
}

mod coverage;

pub use coverage::{Coverage, CoverageRow, ScenarioRef, Status, Totals, coverage};

#[cfg(test)]
mod tests {
    use super::coverage::{fit_list, truncate};
    use super::*;

    /// The catalog's ID ranges (`shared/research/spec-requirements.md`).
    const CATALOG: [(&str, u32); 9] = [
        ("DISC", 17),
        ("DCR", 10),
        ("AUTHZ", 14), // AUTHZ-14 is ours: user authentication (RFC 6749 §3.1).
        ("TOKEN", 12), // TOKEN-12 is ours: the SHOULD half of TOKEN-06.
        ("PKCE", 7),
        ("BEARER", 11),
        ("AUD", 9),
        ("REFRESH", 7),
        ("SEC", 7),
    ];

    #[test]
    fn embedded_registry_parses_and_has_every_catalog_id() {
        let registry = Registry::parse(EMBEDDED_TOML).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&registry, Registry::embedded());
        for (prefix, last) in CATALOG {
            for n in 1..=last {
                let id = format!("{prefix}-{n:02}");
                assert!(
                    registry.get(&id).is_some(),
                    "{id} is missing from requirements.toml"
                );
            }
        }
        // Catalog order: the catalog IDs come first, in the catalog's order.
        let catalog_ids: Vec<String> = CATALOG
            .iter()
            .flat_map(|(prefix, last)| (1..=*last).map(move |n| format!("{prefix}-{n:02}")))
            .collect();
        let file_ids: Vec<&str> = registry.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(file_ids[..catalog_ids.len()], catalog_ids);
    }

    #[test]
    fn guide_ids_are_group_guide_and_bearer_04_is_interop() {
        let registry = Registry::embedded();
        let guide: Vec<&Requirement> = registry
            .iter()
            .filter(|r| r.id.starts_with("GUIDE-"))
            .collect();
        assert!(guide.len() >= 10, "the guide's statements are registered");
        assert!(
            guide
                .iter()
                .all(|r| r.group == Group::Guide && r.level == Level::Must)
        );
        let bearer_04 = registry.get("BEARER-04").map(|r| r.level);
        assert_eq!(bearer_04, Some(Level::Interop));
    }

    #[test]
    fn level_and_group_round_trip_through_serde_and_display() {
        let registry = Registry::embedded();
        let json = serde_json::to_string(registry.get("BEARER-04").unwrap()).unwrap();
        assert!(json.contains(r#""level":"interop""#) && json.contains(r#""group":"spec""#));
        let back: Requirement = serde_json::from_str(&json).unwrap();
        assert_eq!(Some(&back), registry.get("BEARER-04"));
        assert_eq!(Level::Must.to_string(), "MUST");
        assert_eq!(Group::Guide.to_string(), "guide");
    }

    fn entry(id: &str, level: &str, extra: &str) -> String {
        format!(
            "[[requirement]]\nid = \"{id}\"\narea = \"token\"\nlevel = \"{level}\"\n\
             group = \"spec\"\nsummary = \"Summary of {id}\"\nsource = \"RFC 0000\"\n\
             url = \"https://example.test/{id}\"\n{extra}\n"
        )
    }

    fn registry_text(entries: &[String]) -> String {
        format!("schema_version = 1\n\n{}", entries.concat())
    }

    #[test]
    fn duplicate_id_is_rejected_naming_it() {
        let text = registry_text(&[entry("TOKEN-01", "MUST", ""), entry("TOKEN-01", "MAY", "")]);
        let error = Registry::parse(&text).unwrap_err();
        assert!(
            matches!(&error, RegistryError::DuplicateId { id, first: 1, second: 2 } if id == "TOKEN-01")
        );
        assert_eq!(
            error.to_string(),
            "TOKEN-01: listed twice (entries 1 and 2, counting from 1)"
        );
    }

    #[test]
    fn invalid_entries_are_rejected_naming_the_id() {
        let cases = [
            (
                entry("TOKEN-1", "MUST", ""),
                "TOKEN-1: the id must look like",
            ),
            (
                entry("TOKEN-02", "must", ""),
                "TOKEN-02: unknown level \"must\"",
            ),
            (
                entry("TOKEN-03", "MUST", "excluded = \" \""),
                "TOKEN-03: `excluded` needs a reason",
            ),
            (
                entry("GUIDE-01", "MUST", ""),
                "GUIDE-01: GUIDE-nn ids and group",
            ),
            (
                entry("TOKEN-04", "MUST", "").replace("\"token\"", "\"tokens\""),
                "TOKEN-04: unknown area \"tokens\"",
            ),
            (
                entry("TOKEN-05", "MUST", "").replace("Summary of TOKEN-05", &"x".repeat(141)),
                "TOKEN-05: summary is 141 characters",
            ),
            (
                entry("TOKEN-06", "MUST", "").replace("Summary of TOKEN-06", ""),
                "TOKEN-06: the summary must be one non-empty line",
            ),
            (
                entry("TOKEN-07", "MUST", "").replace("https://example", "http://example"),
                "TOKEN-07: url \"http://example.test/TOKEN-07\" is not an https URL",
            ),
        ];
        for (text, expected) in cases {
            let error = Registry::parse(&registry_text(&[text]))
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with(expected),
                "{error:?} should start with {expected:?}"
            );
        }
        let wrong_version = Registry::parse("schema_version = 2\n").unwrap_err();
        assert!(matches!(
            wrong_version,
            RegistryError::SchemaVersion { found: 2 }
        ));
        let unknown_key =
            Registry::parse(&registry_text(&[entry("TOKEN-08", "MAY", "clause = 1")]));
        assert!(matches!(unknown_key, Err(RegistryError::Toml(_))));
    }

    #[test]
    fn requirement_ids_have_the_tag_shape() {
        assert!(is_requirement_id("DISC-01") && is_requirement_id("INTEROP-12"));
        for not_an_id in [
            "@DISC-01", "DISC-1", "DISC-001", "disc-01", "-01", "DISC01", "serial",
        ] {
            assert!(!is_requirement_id(not_an_id), "{not_an_id}");
        }
    }

    /// MUST covered, MUST excluded, MUST uncovered, MAY uncovered, SHOULD excluded yet tested.
    fn synthetic() -> (Registry, Vec<ScenarioRef>) {
        let registry = Registry::parse(&registry_text(&[
            entry("TOKEN-01", "MUST", ""),
            entry(
                "TOKEN-02",
                "MUST",
                "excluded = \"transport: loopback http targets only\"",
            ),
            entry("TOKEN-03", "MUST", ""),
            entry("TOKEN-04", "MAY", ""),
            entry(
                "TOKEN-05",
                "SHOULD",
                "excluded = \"policy: deployment choice\"",
            ),
        ]))
        .unwrap();
        let scenario = |line: usize, name: &str, tags: &[&str]| ScenarioRef {
            area: "token".into(),
            feature_file: "features/token.feature".into(),
            line,
            name: name.into(),
            requirements: tags.iter().map(|t| t.to_string()).collect(),
        };
        let long = "a scenario name long enough to need the matrix to shorten the list";
        let scenarios = vec![
            scenario(7, "code redeemed once", &["TOKEN-01", "@TOKEN-01"]),
            scenario(19, long, &["TOKEN-01", "TOKEN-99"]),
            scenario(31, "form body required", &["TOKEN-01", "TOKEN-05"]),
        ];
        (registry, scenarios)
    }

    #[test]
    fn coverage_sorts_requirements_by_status() {
        let (registry, scenarios) = synthetic();
        let matrix = coverage(&registry, &scenarios);
        let statuses: Vec<Status> = matrix.rows.iter().map(CoverageRow::status).collect();
        use Status::*;
        assert_eq!(
            statuses,
            [Covered, Excluded, Uncovered, UntestedOptional, Excluded]
        );
        assert_eq!(
            matrix.rows[0].scenarios.len(),
            3,
            "a repeated tag counts once"
        );
        let ids = |rs: &[&Requirement]| rs.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&matrix.uncovered), ["TOKEN-03"]);
        assert_eq!(ids(&matrix.excluded_but_tested), ["TOKEN-05"]);
        assert_eq!(matrix.unknown_tags.len(), 1);
        assert_eq!(
            (
                matrix.unknown_tags[0].0.line,
                matrix.unknown_tags[0].1.as_str()
            ),
            (19, "TOKEN-99")
        );
        let totals = Totals {
            requirements: 5,
            covered: 1,
            excluded: 2,
            uncovered: 1,
            untested_optional: 1,
        };
        assert_eq!(matrix.totals(), totals);
        assert!(!matrix.is_complete());

        let covered_only: Vec<ScenarioRef> = scenarios
            .into_iter()
            .map(|s| ScenarioRef {
                requirements: vec!["TOKEN-01".into(), "TOKEN-03".into()],
                ..s
            })
            .collect();
        assert!(
            coverage(&registry, &covered_only).is_complete(),
            "a MAY needs no scenario"
        );
    }

    #[test]
    fn coverage_render_snapshot() {
        let (registry, scenarios) = synthetic();
        let text = coverage(&registry, &scenarios).render();
        assert!(
            text.lines().all(|line| line.chars().count() <= LINE_WIDTH),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn long_lists_are_shortened_to_the_budget() {
        let labels = [
            "a.feature:1 \"one\"".to_owned(),
            "a.feature:2 \"two\"".to_owned(),
        ];
        assert_eq!(
            fit_list(&labels, 100),
            "a.feature:1 \"one\", a.feature:2 \"two\""
        );
        assert_eq!(fit_list(&labels, 30), "a.feature:1 \"one\", +1 more");
        assert_eq!(fit_list(&labels, 20), "a.featur..., +1 more");
        assert_eq!(truncate("EXCLUDED: reason", 12), "EXCLUDED:...");
    }

    #[test]
    fn embedded_matrix_lines_fit_the_terminal() {
        let registry = Registry::embedded();
        let text = coverage(registry, &[]).render();
        assert!(
            text.lines().all(|line| line.chars().count() <= LINE_WIDTH),
            "{text}"
        );
    }
}
