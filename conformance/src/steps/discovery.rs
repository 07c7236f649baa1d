//! Steps of `features/discovery.feature`: the 401 challenge, RFC 9728 protected resource
//! metadata and RFC 8414 authorization server metadata, fetched the way clients fetch them.
//!
//! `When` steps fetch one document (the exchange becomes `last`); `Then` steps judge the last
//! response's JSON. Structure is checked against the RFC-only schemas
//! (`fixtures/schemas/*.rfc.schema.json`: types, absolute URLs, required members of the RFCs),
//! not against the reference's stricter ones; what MCP adds (an authorization server named,
//! `S256`, `code`) and the value rules (exact `resource` and `issuer`, no empty members) are
//! checked in code, each with its own requirement ID. Paths are discovered, never assumed, except
//! in the `GUIDE-*` steps, which check the guide's fixed paths.
//!
//! [`resource`] holds the challenge and the protected resource metadata steps, [`server`] the
//! authorization server metadata ones; this module the parameter types, the helpers both use and
//! the member checks that apply to either document.

mod resource;
mod server;

use cucumber::{Parameter, then, when};
use serde_json::Value;

use crate::http::{Exchange, Request};
use crate::steps::http::brief;
use crate::world::{Agent, GatewayWorld, StepResult};

/// RFC 9728 rules only (no MCP additions): see the schema's description.
const PRM_SCHEMA: &str =
    include_str!("../../../fixtures/schemas/protected-resource-metadata.rfc.schema.json");
/// RFC 8414 rules only (no MCP additions): see the schema's description.
const ASM_SCHEMA: &str =
    include_str!("../../../fixtures/schemas/authorization-server-metadata.rfc.schema.json");

/// `owned` or `other` in step text: which profile agent a step is about.
#[derive(Clone, Copy, Debug, Parameter)]
#[param(name = "agent", regex = "owned|other")]
pub struct AgentWord(Agent);

impl std::str::FromStr for AgentWord {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "owned" => Ok(AgentWord(Agent::Owned)),
            "other" => Ok(AgentWord(Agent::Other)),
            other => Err(format!("internal: unknown agent word {other:?}")),
        }
    }
}

/// Which metadata document a step judges (only for messages: the document is the last response).
#[derive(Clone, Copy, Debug, Parameter)]
#[param(
    name = "metadata",
    regex = "protected resource metadata|authorization server metadata"
)]
pub enum Metadata {
    /// RFC 9728.
    Resource,
    /// RFC 8414.
    Server,
}

impl std::str::FromStr for Metadata {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "protected resource metadata" => Ok(Metadata::Resource),
            "authorization server metadata" => Ok(Metadata::Server),
            other => Err(format!("internal: unknown metadata {other:?}")),
        }
    }
}

impl Metadata {
    /// The requirement a malformed member of this document breaks.
    fn format_requirement(self) -> &'static str {
        match self {
            Metadata::Resource => "DISC-06",
            Metadata::Server => "DISC-16",
        }
    }
    fn name(self) -> &'static str {
        match self {
            Metadata::Resource => "protected resource metadata",
            Metadata::Server => "authorization server metadata",
        }
    }
}

// ---- Helpers ---------------------------------------------------------------------------------

/// The last response as a metadata document: 200 and a JSON object.
fn metadata_object(ex: &Exchange) -> Result<serde_json::Map<String, Value>, String> {
    let resp = ex.response()?;
    if resp.status != 200 {
        return Err(format!(
            "expected the metadata with 200, got {}: {}",
            ex.line(),
            brief(&resp.body)
        ));
    }
    match resp.json() {
        Some(Value::Object(map)) => Ok(map),
        _ => Err(format!(
            "{}: the body is not a JSON object: {}",
            ex.line(),
            brief(&resp.body)
        )),
    }
}

fn last_metadata(w: &GatewayWorld) -> Result<serde_json::Map<String, Value>, String> {
    metadata_object(w.last_exchange()?)
}

/// Every violation of the embedded `schema` by `document`, one line each.
fn schema_violations(schema: &str, document: &Value) -> Result<Vec<String>, String> {
    let schema: Value =
        serde_json::from_str(schema).map_err(|e| format!("internal: schema: {e}"))?;
    let validator =
        jsonschema::validator_for(&schema).map_err(|e| format!("internal: schema: {e}"))?;
    Ok(validator
        .iter_errors(document)
        .map(|e| format!("{} at {:?}", e, e.instance_path().to_string()))
        .collect())
}

/// GUIDE-13, GUIDE-14: the guide's fixed paths, at the root of the profile's base URL.
#[when(expr = "the client fetches {string} at the gateway root")]
async fn fetch_at_root(w: &mut GatewayWorld, path: String) -> StepResult {
    let url = w
        .ctx
        .profile
        .base_url
        .join(&path)
        .map_err(|e| format!("internal: {path:?}: {e}"))?;
    let guide = match path.as_str() {
        "/.well-known/oauth-authorization-server" => "GUIDE-13",
        "/.well-known/oauth-protected-resource" => "GUIDE-14",
        _ => "GUIDE",
    };
    w.saved.insert(GUIDE_REQUIREMENT.into(), guide.into());
    w.send(Request::get(url.as_str())).await;
    Ok(())
}

// ---- Members of either document ---------------------------------------------------------------

/// RFC 9728 §3.2, RFC 8414 §3.2: members with zero elements are omitted; a null is no value
/// either. RFC 9728 §2 allows `bearer_methods_supported: []` ("no bearer methods").
#[then(expr = "the {metadata} has no null or empty members")]
async fn no_empty_members(w: &mut GatewayWorld, which: Metadata) -> StepResult {
    let id = which.format_requirement();
    let doc = last_metadata(w).map_err(|e| format!("{id}: {e}"))?;
    let empty: Vec<String> = doc
        .iter()
        .filter(|(name, value)| match value {
            Value::Null => true,
            Value::Array(a) => a.is_empty() && name.as_str() != "bearer_methods_supported",
            _ => false,
        })
        .map(|(name, value)| format!("{name}: {value}"))
        .collect();
    if empty.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{id}: the {} sends members without a value instead of leaving them out: {}",
        which.name(),
        empty.join(", ")
    ))
}

/// The `saved` key naming the guide requirement a document fetched at a fixed path serves.
const GUIDE_REQUIREMENT: &str = "guide_requirement";

/// The requirement ID for messages: the guide's when the document came from a guide path, else
/// `spec`.
fn requirement<'a>(w: &'a GatewayWorld, spec: &'a str) -> &'a str {
    w.saved
        .get(GUIDE_REQUIREMENT)
        .map(String::as_str)
        .unwrap_or(spec)
}

/// The requirement a scenario's member check serves, by member name.
fn member_requirement(which: Metadata, member: &str) -> &'static str {
    match (which, member) {
        (Metadata::Resource, _) => "DISC-07",
        (
            Metadata::Server,
            "issuer" | "authorization_endpoint" | "token_endpoint" | "response_types_supported",
        ) => "DISC-11",
        (Metadata::Server, "code_challenge_methods_supported") => "DISC-12",
        (Metadata::Server, _) => "DISC-13",
    }
}

#[then(expr = "the {metadata} has the member {string}")]
async fn has_member(w: &mut GatewayWorld, which: Metadata, member: String) -> StepResult {
    let id = requirement(w, member_requirement(which, &member));
    let doc = last_metadata(w).map_err(|e| format!("{id}: {e}"))?;
    match doc.get(&member) {
        None | Some(Value::Null) => Err(format!("{id}: the {} has no {member}", which.name())),
        Some(Value::String(s)) if s.is_empty() => {
            Err(format!("{id}: the {}'s {member} is empty", which.name()))
        }
        Some(_) => Ok(()),
    }
}

/// The strings of array member `member`, or why it is not one.
fn string_list(
    doc: &serde_json::Map<String, Value>,
    which: Metadata,
    member: &str,
) -> Result<Option<Vec<String>>, String> {
    match doc.get(member) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(
            a.iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect(),
        )),
        Some(other) => Err(format!(
            "the {}'s {member} is {other}, not an array",
            which.name()
        )),
    }
}

#[then(expr = "the {metadata} lists {string} in {string}")]
async fn lists_value(
    w: &mut GatewayWorld,
    which: Metadata,
    value: String,
    member: String,
) -> StepResult {
    let id = requirement(w, member_requirement(which, &member));
    let doc = last_metadata(w).map_err(|e| format!("{id}: {e}"))?;
    match string_list(&doc, which, &member).map_err(|e| format!("{id}: {e}"))? {
        Some(list) if list.contains(&value) => Ok(()),
        Some(list) => Err(format!(
            "{id}: the {}'s {member} is {list:?}, without {value:?}",
            which.name()
        )),
        None => Err(format!(
            "{id}: the {} has no {member} (expected it to list {value:?})",
            which.name()
        )),
    }
}

#[then(expr = "the {metadata} does not list {string} in {string}")]
async fn does_not_list_value(
    w: &mut GatewayWorld,
    which: Metadata,
    value: String,
    member: String,
) -> StepResult {
    let id = requirement(w, member_requirement(which, &member));
    let doc = last_metadata(w).map_err(|e| format!("{id}: {e}"))?;
    match string_list(&doc, which, &member).map_err(|e| format!("{id}: {e}"))? {
        Some(list) if list.contains(&value) => Err(match value.as_str() {
            "plain" => format!(
                "{id}: {member} is {list:?}: plain offers no protection against code interception; MCP clients must use S256 and the suite expects plain to be refused (PKCE-02)"
            ),
            "offline_access" => format!(
                "{id}: {member} is {list:?}: MCP says resource metadata SHOULD NOT offer offline_access (clients would request it from the authorization server's list)"
            ),
            _ => format!("{id}: {member} is {list:?}, with {value:?}"),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn violations(schema: &str, doc: Value) -> Vec<String> {
        schema_violations(schema, &doc).unwrap()
    }

    #[test]
    fn rfc_schemas_accept_what_the_rfcs_allow() {
        let asm = json!({
            "issuer": "https://gw.example/tenant",
            "authorization_endpoint": "https://gw.example/oauth/authorize?x=1",
            "token_endpoint": "https://gw.example/oauth/token",
            "response_types_supported": ["code"],
            "x_vendor_member": {"anything": null},
        });
        assert_eq!(violations(ASM_SCHEMA, asm), Vec::<String>::new());
        // RFC 8414 §2 requires neither PKCE methods nor the endpoints of unused grants.
        let minimal =
            json!({"issuer": "https://gw.example", "response_types_supported": ["token"]});
        assert_eq!(violations(ASM_SCHEMA, minimal), Vec::<String>::new());
        // RFC 9728 §2: authorization_servers is optional, bearer_methods_supported may be [].
        let prm = json!({"resource": "https://gw.example/a/mcp", "bearer_methods_supported": []});
        assert_eq!(violations(PRM_SCHEMA, prm), Vec::<String>::new());
    }

    #[test]
    fn rfc_schemas_refuse_what_the_rfcs_forbid() {
        let cases = [
            (
                ASM_SCHEMA,
                json!({"issuer": "https://gw.example?x=1", "response_types_supported": ["code"]}),
            ),
            (
                ASM_SCHEMA,
                json!({"issuer": "https://gw.example#f", "response_types_supported": ["code"]}),
            ),
            (ASM_SCHEMA, json!({"issuer": "https://gw.example"})),
            (
                ASM_SCHEMA,
                json!({"issuer": "https://gw.example", "response_types_supported": ["code"], "token_endpoint": "/oauth/token"}),
            ),
            (
                ASM_SCHEMA,
                json!({"issuer": "https://gw.example", "response_types_supported": ["code"], "jwks_uri": null}),
            ),
            (
                ASM_SCHEMA,
                json!({"issuer": "https://gw.example", "response_types_supported": ["code"], "token_endpoint_auth_signing_alg_values_supported": ["none"]}),
            ),
            (
                PRM_SCHEMA,
                json!({"authorization_servers": ["https://gw.example"]}),
            ),
            (
                PRM_SCHEMA,
                json!({"resource": "https://gw.example/a/mcp#frag"}),
            ),
            (
                PRM_SCHEMA,
                json!({"resource": "https://gw.example/a/mcp", "authorization_servers": "https://gw.example"}),
            ),
        ];
        for (schema, doc) in cases {
            assert!(!violations(schema, doc.clone()).is_empty(), "{doc}");
        }
    }

    #[test]
    fn the_reference_examples_validate() {
        for (rfc, strict) in [
            (
                ASM_SCHEMA,
                include_str!("../../../fixtures/schemas/authorization-server-metadata.schema.json"),
            ),
            (
                PRM_SCHEMA,
                include_str!("../../../fixtures/schemas/protected-resource-metadata.schema.json"),
            ),
        ] {
            let strict: Value = serde_json::from_str(strict).unwrap();
            for example in strict["examples"].as_array().unwrap() {
                assert_eq!(
                    violations(rfc, example.clone()),
                    Vec::<String>::new(),
                    "{example}"
                );
            }
        }
    }
}
