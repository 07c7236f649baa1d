//! The JSON report: the [`Report`] serialized as is, pretty-printed, versioned by its `schema`
//! member ([`SCHEMA`](super::SCHEMA)).
//!
//! Its shape is pinned by `fixtures/schemas/conformance-report.schema.json` (JSON Schema draft
//! 2020-12), which tools consuming the report can validate against. The tests below validate a
//! sample report against that schema and check that every property the schema names is one the
//! code writes, so the schema and the serde derives cannot drift apart silently.

use super::Report;

/// The report as pretty-printed JSON.
///
/// Serializing a [`Report`] cannot fail (it has only strings, numbers, booleans, sequences and
/// structs; no map with non-string keys), so there is no error to return. Should serde ever fail
/// anyway, the result is still a JSON object naming the schema and the error, rather than a panic
/// at the end of a long run.
pub fn to_json(report: &Report) -> String {
    match serde_json::to_string_pretty(report) {
        Ok(mut text) => {
            text.push('\n');
            text
        }
        Err(e) => serde_json::json!({
            "schema": super::SCHEMA,
            "error": format!("the report could not be serialized: {e}"),
        })
        .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;
    use crate::report::sample;

    const SCHEMA_TEXT: &str =
        include_str!("../../../fixtures/schemas/conformance-report.schema.json");

    fn schema() -> Value {
        serde_json::from_str(SCHEMA_TEXT).unwrap()
    }

    fn violations(document: &Value) -> Vec<String> {
        let schema = schema();
        let validator = jsonschema::validator_for(&schema).unwrap();
        validator
            .iter_errors(document)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect()
    }

    #[test]
    fn sample_report() {
        insta::assert_snapshot!(to_json(&sample::report()));
    }

    #[test]
    fn sample_report_matches_the_schema() {
        let document: Value = serde_json::from_str(&to_json(&sample::report())).unwrap();
        let errors = violations(&document);
        assert!(errors.is_empty(), "schema violations: {errors:#?}");
    }

    #[test]
    fn json_round_trips() {
        let text = to_json(&sample::report());
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(to_json(&back), text);
    }

    #[test]
    fn schema_refuses_unknown_members_and_bad_verdicts() {
        let document: Value = serde_json::from_str(&to_json(&sample::report())).unwrap();

        let mut extra = document.clone();
        extra["checks"][0]["surprise"] = Value::Bool(true);
        assert!(!violations(&extra).is_empty(), "extra member accepted");

        let mut verdict = document.clone();
        verdict["checks"][0]["verdict"] = Value::String("OK".to_owned());
        assert!(!violations(&verdict).is_empty(), "unknown verdict accepted");

        let mut version = document;
        version["schema"] = Value::String("mcp-conformance-report/0".to_owned());
        assert!(
            !violations(&version).is_empty(),
            "other schema version accepted"
        );
    }

    /// Every property the schema declares appears somewhere in the sample (which sets every
    /// optional field at least once), so the schema lists no field the code no longer writes.
    #[test]
    fn schema_declares_no_property_the_code_does_not_write() {
        fn declared(schema: &Value, out: &mut BTreeSet<String>) {
            match schema {
                Value::Object(map) => {
                    if let Some(Value::Object(properties)) = map.get("properties") {
                        out.extend(properties.keys().cloned());
                    }
                    map.values().for_each(|v| declared(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| declared(v, out)),
                _ => {}
            }
        }
        fn written(document: &Value, out: &mut BTreeSet<String>) {
            match document {
                Value::Object(map) => {
                    out.extend(map.keys().cloned());
                    map.values().for_each(|v| written(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| written(v, out)),
                _ => {}
            }
        }
        let mut in_schema = BTreeSet::new();
        declared(&schema(), &mut in_schema);
        let document: Value = serde_json::from_str(&to_json(&sample::report())).unwrap();
        let mut in_document = BTreeSet::new();
        written(&document, &mut in_document);
        let stale: Vec<&String> = in_schema.difference(&in_document).collect();
        assert!(
            stale.is_empty(),
            "schema properties never written: {stale:?}"
        );
    }
}
