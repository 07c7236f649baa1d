//! The `--baseline FILE` format: the expected failures of one gateway, by requirement ID.
//!
//! A team adopting the suite rarely passes every requirement on day one. A baseline lets CI go
//! green on the known failures while still failing on new ones:
//!
//! ```toml
//! # Expected failures of this gateway, by requirement ID. A listed requirement that passes makes
//! # the run fail ("stale"): delete its entry.
//! [[expected_failure]]
//! id = "DISC-10"
//! reason = "issuer has a trailing slash; fix tracked in OURS-123"
//! ```
//!
//! This module owns parsing and validating that file, and nothing else: whether an ID exists in
//! the registry, and whether an entry has gone stale, is decided by [`crate::report::finish`],
//! which sees the run.
//!
//! Invariants of a [`Baseline`] (checked once, here): every entry has a non-blank `id` and a
//! non-blank `reason` (an expected failure nobody can explain is a failure someone forgot), and
//! no `id` appears twice (two reasons for one requirement would make the report ambiguous).

use std::path::Path;

use serde::Deserialize;

/// A validated baseline: unique IDs, each with a reason. Build it with [`Baseline::load`] or
/// [`Baseline::parse`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baseline {
    entries: Vec<BaselineEntry>,
}

/// One expected failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaselineEntry {
    /// A requirement ID, e.g. `DISC-10` (not yet checked against the registry).
    pub id: String,
    /// Why it fails and where the fix is tracked; shown next to every check it excuses.
    pub reason: String,
}

/// Why a baseline file was refused. Every variant names the file (`origin`) so the runner can
/// print it as is.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The file could not be read.
    #[error("cannot read baseline {origin}: {source}")]
    Read {
        origin: String,
        #[source]
        source: std::io::Error,
    },
    /// Not TOML, or not the expected shape (unknown key, wrong type, `id` missing).
    #[error("baseline {origin} is not a valid baseline file: {message}")]
    Syntax { origin: String, message: String },
    /// An entry with an empty `id`.
    #[error("baseline {origin}: expected_failure #{index} has an empty id")]
    EmptyId { origin: String, index: usize },
    /// An entry without a reason (absent, empty or blank).
    #[error(
        "baseline {origin}: expected_failure #{index} ({id}) has no reason; every expected \
         failure needs one (why it fails, where the fix is tracked)"
    )]
    MissingReason {
        origin: String,
        index: usize,
        id: String,
    },
    /// Two entries with the same `id`.
    #[error(
        "baseline {origin}: {id} is listed twice (expected_failure #{first} and #{second}); \
         keep one entry per requirement"
    )]
    DuplicateId {
        origin: String,
        id: String,
        first: usize,
        second: usize,
    },
}

/// The file as written, before validation. Unknown keys are refused so that a misspelt `reson`
/// is reported instead of silently turning into a missing reason.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBaseline {
    #[serde(default)]
    expected_failure: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: String,
    reason: Option<String>,
}

impl Baseline {
    /// Reads and validates the baseline at `path`.
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Read {
            origin: origin.clone(),
            source,
        })?;
        Self::parse_from(&text, &origin)
    }

    /// Validates a baseline given as text; errors call it `<inline>`.
    pub fn parse(text: &str) -> Result<Baseline, BaselineError> {
        Self::parse_from(text, "<inline>")
    }

    /// The entries in file order.
    pub fn entries(&self) -> &[BaselineEntry] {
        &self.entries
    }

    /// The reason given for `id`, if the baseline lists it.
    pub fn reason_for(&self, id: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|entry| entry.id == id)
            .map(|entry| entry.reason.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn parse_from(text: &str, origin: &str) -> Result<Baseline, BaselineError> {
        let raw: RawBaseline = toml::from_str(text).map_err(|e| BaselineError::Syntax {
            origin: origin.to_owned(),
            // toml's message already says where (line, column, a caret under the culprit).
            message: e.to_string().trim_end().to_owned(),
        })?;
        let mut entries: Vec<BaselineEntry> = Vec::with_capacity(raw.expected_failure.len());
        for (i, entry) in raw.expected_failure.into_iter().enumerate() {
            // Entries are numbered from 1, as a person counts them in the file.
            let index = i + 1;
            let id = entry.id.trim().to_owned();
            if id.is_empty() {
                return Err(BaselineError::EmptyId {
                    origin: origin.to_owned(),
                    index,
                });
            }
            let reason = entry.reason.as_deref().map(str::trim).unwrap_or_default();
            if reason.is_empty() {
                return Err(BaselineError::MissingReason {
                    origin: origin.to_owned(),
                    index,
                    id,
                });
            }
            if let Some(first) = entries.iter().position(|e| e.id == id) {
                return Err(BaselineError::DuplicateId {
                    origin: origin.to_owned(),
                    id,
                    first: first + 1,
                    second: index,
                });
            }
            entries.push(BaselineEntry {
                id,
                reason: reason.to_owned(),
            });
        }
        Ok(Baseline { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
# Expected failures of this gateway, by requirement ID.
[[expected_failure]]
id = "DISC-10"
reason = "issuer has a trailing slash; fix tracked in OURS-123"

[[expected_failure]]
id = "TOKEN-03"
reason = "  no refresh rotation yet  "
"#;

    #[test]
    fn parses_entries_in_file_order_and_trims() {
        let baseline = Baseline::parse(EXAMPLE).unwrap();
        let ids: Vec<&str> = baseline.entries().iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["DISC-10", "TOKEN-03"]);
        assert_eq!(
            baseline.reason_for("DISC-10"),
            Some("issuer has a trailing slash; fix tracked in OURS-123")
        );
        assert_eq!(
            baseline.reason_for("TOKEN-03"),
            Some("no refresh rotation yet")
        );
        assert_eq!(baseline.reason_for("DISC-11"), None);
    }

    #[test]
    fn empty_file_is_an_empty_baseline() {
        let baseline = Baseline::parse("# nothing expected to fail\n").unwrap();
        assert!(baseline.is_empty());
    }

    #[test]
    fn missing_reason_is_refused_naming_the_entry() {
        let err = Baseline::parse("[[expected_failure]]\nid = \"DISC-10\"\n").unwrap_err();
        assert!(matches!(err, BaselineError::MissingReason { index: 1, .. }));
        let message = err.to_string();
        assert!(message.contains("<inline>"), "{message}");
        assert!(message.contains("DISC-10"), "{message}");
        assert!(message.contains("no reason"), "{message}");
    }

    #[test]
    fn empty_or_blank_reason_is_refused() {
        for reason in ["\"\"", "\"   \""] {
            let text = format!("[[expected_failure]]\nid = \"DISC-10\"\nreason = {reason}\n");
            let err = Baseline::parse(&text).unwrap_err();
            assert!(
                matches!(err, BaselineError::MissingReason { .. }),
                "{reason}: {err}"
            );
        }
    }

    #[test]
    fn empty_id_is_refused() {
        let err =
            Baseline::parse("[[expected_failure]]\nid = \" \"\nreason = \"x\"\n").unwrap_err();
        assert!(
            matches!(err, BaselineError::EmptyId { index: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn duplicate_id_is_refused_naming_both_entries() {
        let text = "[[expected_failure]]\nid = \"DISC-10\"\nreason = \"a\"\n\
                    [[expected_failure]]\nid = \"DISC-11\"\nreason = \"b\"\n\
                    [[expected_failure]]\nid = \"DISC-10\"\nreason = \"c\"\n";
        let err = Baseline::parse(text).unwrap_err();
        assert!(
            matches!(
                err,
                BaselineError::DuplicateId {
                    first: 1,
                    second: 3,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("DISC-10 is listed twice"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_toml_are_syntax_errors() {
        for text in [
            "[[expected_failure]]\nid = \"DISC-10\"\nreson = \"typo\"\n",
            "[[expected_failures]]\nid = \"DISC-10\"\nreason = \"typo\"\n",
            "[[expected_failure]]\nreason = \"no id\"\n",
            "[[expected_failure]\nid = ",
        ] {
            let err = Baseline::parse(text).unwrap_err();
            assert!(matches!(err, BaselineError::Syntax { .. }), "{text}: {err}");
        }
    }

    #[test]
    fn load_names_the_file() {
        let dir = std::env::temp_dir().join(format!("baseline-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("baseline.toml");

        let missing = Baseline::load(&dir.join("absent.toml")).unwrap_err();
        assert!(matches!(missing, BaselineError::Read { .. }));
        assert!(missing.to_string().contains("absent.toml"), "{missing}");

        std::fs::write(&path, "[[expected_failure]]\nid = \"DISC-10\"\n").unwrap();
        let err = Baseline::load(&path).unwrap_err();
        assert!(err.to_string().contains("baseline.toml"), "{err}");

        std::fs::write(&path, EXAMPLE).unwrap();
        assert_eq!(Baseline::load(&path).unwrap().entries().len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
