//! The scenarios: `features/*.feature`, embedded in the binary so `cargo install` users need no
//! checkout, parsed once with cucumber's own Gherkin parser.
//!
//! Tags carry the suite's metadata (see `features/README.md`):
//! - `@req:ID`: the requirement(s) the scenario checks (at least one; `cargo xtask coverage`
//!   matches them against `fixtures/requirements.toml`);
//! - `@needs:NAME`: a profile prerequisite ([`crate::profile::Profile::has`], or `time`);
//!   missing ⇒ NOT-TESTABLE;
//! - `@capability:NAME`: something the target must advertise (`refresh`, `iss`); absent ⇒ N/A.

use std::path::Path;

use cucumber::feature::Ext as _;
use cucumber::gherkin::{self, GherkinEnv};

use crate::registry::ScenarioRef;

/// `(file stem, text)` of every feature, in the order areas are met by a client.
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "discovery",
        include_str!("../../features/discovery.feature"),
    ),
    (
        "registration",
        include_str!("../../features/registration.feature"),
    ),
    (
        "authorize",
        include_str!("../../features/authorize.feature"),
    ),
    ("pkce", include_str!("../../features/pkce.feature")),
    ("token", include_str!("../../features/token.feature")),
    ("bearer", include_str!("../../features/bearer.feature")),
    ("audience", include_str!("../../features/audience.feature")),
    ("refresh", include_str!("../../features/refresh.feature")),
    ("cors", include_str!("../../features/cors.feature")),
    (
        "mcp-endpoint",
        include_str!("../../features/mcp-endpoint.feature"),
    ),
    ("ttl", include_str!("../../features/ttl.feature")),
];

/// One scenario and what its tags say.
#[derive(Clone, Debug)]
pub struct ScenarioInfo {
    /// `<stem>:<line>`, stable across runs of the same suite version.
    pub id: String,
    /// The feature file's stem, which is also the area.
    pub area: String,
    pub name: String,
    pub line: usize,
    pub requirements: Vec<String>,
    pub needs: Vec<String>,
    pub capabilities: Vec<String>,
    pub tags: Vec<String>,
}

impl ScenarioInfo {
    pub fn as_ref(&self) -> ScenarioRef {
        ScenarioRef {
            area: self.area.clone(),
            feature_file: format!("features/{}.feature", self.area),
            line: self.line,
            name: self.name.clone(),
            requirements: self.requirements.clone(),
        }
    }
}

/// Parsed features, ready for the runner, plus the scenario index.
#[derive(Debug)]
pub struct Suite {
    pub features: Vec<gherkin::Feature>,
    pub scenarios: Vec<ScenarioInfo>,
}

/// Parses the embedded features, or those of `dir` (`--features DIR`, for people editing them).
pub fn load(dir: Option<&Path>) -> anyhow::Result<Suite> {
    let mut sources = Vec::new();
    match dir {
        None => {
            for (stem, text) in EMBEDDED {
                sources.push((stem.to_string(), text.to_string()));
            }
        }
        Some(dir) => {
            for (stem, _) in EMBEDDED {
                let path = dir.join(format!("{stem}.feature"));
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
                sources.push((stem.to_string(), text));
            }
        }
    }
    let mut features = Vec::new();
    let mut scenarios = Vec::new();
    for (stem, text) in sources {
        let mut feature = gherkin::Feature::parse(&text, GherkinEnv::default())
            .map_err(|e| anyhow::anyhow!("features/{stem}.feature: {e}"))?;
        feature.path = Some(format!("features/{stem}.feature").into());
        let feature = feature
            .expand_examples()
            .map_err(|e| anyhow::anyhow!("features/{stem}.feature: {e}"))?;
        let all = feature
            .scenarios
            .iter()
            .chain(feature.rules.iter().flat_map(|r| r.scenarios.iter()));
        for scenario in all {
            scenarios.push(info(&stem, &feature, scenario));
        }
        features.push(feature);
    }
    Ok(Suite {
        features,
        scenarios,
    })
}

/// The index key of a scenario as the runner reports it back.
pub fn scenario_id(feature: &gherkin::Feature, scenario: &gherkin::Scenario) -> String {
    format!("{}:{}", stem_of(feature), scenario.position.line)
}

fn stem_of(feature: &gherkin::Feature) -> String {
    feature
        .path
        .as_ref()
        .and_then(|p| p.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| feature.name.clone())
}

fn info(stem: &str, feature: &gherkin::Feature, scenario: &gherkin::Scenario) -> ScenarioInfo {
    let tags: Vec<String> = feature
        .tags
        .iter()
        .chain(scenario.tags.iter())
        .cloned()
        .collect();
    let with = |prefix: &str| -> Vec<String> {
        let mut v: Vec<String> = tags
            .iter()
            .filter_map(|t| t.strip_prefix(prefix).map(str::to_owned))
            .collect();
        v.dedup();
        v
    };
    ScenarioInfo {
        id: format!("{stem}:{}", scenario.position.line),
        area: stem.to_owned(),
        name: scenario.name.clone(),
        line: scenario.position.line,
        requirements: with("req:"),
        needs: with("needs:"),
        capabilities: with("capability:"),
        tags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_features_parse_and_every_scenario_names_a_requirement() {
        let suite = load(None).unwrap();
        for s in &suite.scenarios {
            assert!(
                !s.requirements.is_empty(),
                "{} ({}) has no @req: tag",
                s.id,
                s.name
            );
        }
        let mut ids: Vec<&str> = suite.scenarios.iter().map(|s| s.id.as_str()).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "two scenarios share an id");
    }

    /// `cargo xtask coverage` in test form, so CI enforces it: every MUST and SHOULD of the
    /// registry has a scenario or an exclusion reason, and no scenario names an unknown ID.
    #[test]
    fn every_must_and_should_is_covered_or_excluded() {
        let suite = load(None).unwrap();
        let refs: Vec<ScenarioRef> = suite.scenarios.iter().map(ScenarioInfo::as_ref).collect();
        let cov = crate::registry::coverage(crate::registry::Registry::embedded(), &refs);
        assert!(cov.is_complete(), "{}", cov.render());
    }
}
