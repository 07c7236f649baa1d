//! Discovery documents, served without credentials and with open CORS (MCP "Authorization Server
//! Discovery"):
//!
//! - `GET /.well-known/oauth-authorization-server`: RFC 8414 authorization server metadata.
//! - `GET /.well-known/oauth-protected-resource`: RFC 9728 metadata of the gateway as a whole
//!   (`resource` = the origin), the document the guide lists.
//! - `GET /.well-known/oauth-protected-resource/{AGENT_ID}/mcp`: RFC 9728 §3.1 path-inserted
//!   metadata of one agent (`resource` = `{issuer}/{AGENT_ID}/mcp`, exactly, RFC 9728 §3.3), the
//!   document the 401 challenge links to and that MCP clients probe first.
//!
//! Invariants: `issuer` here, `authorization_servers[0]` and the `iss` of redirects and tokens are
//! the same string ([`Config::issuer`]); every URL is absolute; empty arrays and nulls are never
//! sent (RFC 8414 §3.2, RFC 9728 §3.2).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::config::{AgentId, Config, SCOPE};
use crate::state::AppState;

/// RFC 8414 §2. Members we do not support (`jwks_uri`, revocation, introspection,
/// `client_id_metadata_document_supported`) are omitted rather than sent empty.
#[derive(Debug, Serialize)]
pub struct AuthorizationServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub registration_endpoint: String,
    pub scopes_supported: Vec<&'static str>,
    pub response_types_supported: Vec<&'static str>,
    pub response_modes_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub code_challenge_methods_supported: Vec<&'static str>,
    /// RFC 9207 §3: we add `iss` to every authorization response.
    pub authorization_response_iss_parameter_supported: bool,
}

impl AuthorizationServerMetadata {
    pub fn for_config(config: &Config) -> Self {
        let mut grant_types = vec!["authorization_code"];
        if config.refresh_tokens {
            grant_types.push("refresh_token");
        }
        let url = |path: &str| {
            if fault!(AsEndpointsRelative) {
                path.to_owned()
            } else {
                config.url(path)
            }
        };
        let issuer = if fault!(IssuerTrailingSlash) {
            format!("{}/", config.issuer)
        } else {
            config.issuer.clone()
        };
        let registration_path = if fault!(DcrRegisterPath) {
            "/register"
        } else {
            "/oauth/register"
        };
        AuthorizationServerMetadata {
            issuer,
            authorization_endpoint: url("/oauth/authorize"),
            token_endpoint: url("/oauth/token"),
            registration_endpoint: url(registration_path),
            scopes_supported: vec![SCOPE],
            response_types_supported: vec!["code"],
            response_modes_supported: vec!["query"],
            grant_types_supported: grant_types,
            token_endpoint_auth_methods_supported: if fault!(AsAuthMethodsOmitted) {
                vec![]
            } else {
                vec!["none"]
            },
            code_challenge_methods_supported: if fault!(S256NotAdvertised) {
                vec![]
            } else {
                vec![crate::pkce::S256]
            },
            authorization_response_iss_parameter_supported: !fault!(IssFlagFalse),
        }
    }
}

/// RFC 9728 §2.
#[derive(Debug, Serialize)]
pub struct ProtectedResourceMetadata {
    pub resource: String,
    pub authorization_servers: Vec<String>,
    pub scopes_supported: Vec<&'static str>,
    pub bearer_methods_supported: Vec<&'static str>,
    pub resource_name: String,
}

/// `GET /.well-known/oauth-authorization-server`
pub async fn authorization_server_metadata(State(state): State<AppState>) -> Response {
    if fault!(AsMetadataOidcOnly) {
        return not_found();
    }
    let metadata = AuthorizationServerMetadata::for_config(&state.config);
    if fault!(AsMetadataNulls) {
        let mut doc = serde_json::to_value(&metadata).unwrap_or_default();
        doc["jwks_uri"] = serde_json::Value::Null;
        doc["revocation_endpoint"] = serde_json::Value::Null;
        return document(&doc);
    }
    if fault!(AsScopesString) {
        let mut doc = serde_json::to_value(&metadata).unwrap_or_default();
        doc["scopes_supported"] = SCOPE.into();
        return document(&doc);
    }
    document(&metadata)
}

/// `GET /.well-known/openid-configuration`, routed only with the `as-metadata-oidc-only` fault.
#[cfg(feature = "faults")]
pub async fn openid_configuration(State(state): State<AppState>) -> Response {
    document(&AuthorizationServerMetadata::for_config(&state.config))
}

/// `GET /.well-known/oauth-protected-resource`: the gateway origin as a resource.
pub async fn root_resource_metadata(State(state): State<AppState>) -> Response {
    if fault!(PrmRootMissing) {
        return not_found();
    }
    let config = &state.config;
    document(&ProtectedResourceMetadata {
        resource: config.issuer.clone(),
        authorization_servers: authorization_servers(config),
        scopes_supported: resource_scopes(),
        bearer_methods_supported: vec!["header"],
        resource_name: config.name.clone(),
    })
}

/// `GET /.well-known/oauth-protected-resource/{AGENT_ID}/mcp`; unknown agent → 404 JSON
/// (RFC 9728 §3.2: an error uses the applicable HTTP status; never another agent's document).
pub async fn agent_resource_metadata(
    State(state): State<AppState>,
    Path(agent_id): Path<String>,
) -> Response {
    if fault!(PrmPathInsertedMissing) {
        return not_found();
    }
    let config = &state.config;
    let Some(agent) = AgentId::parse(&agent_id).and_then(|id| config.agents.get(&id)) else {
        if fault!(PrmUnknownAgentServed) {
            return root_resource_metadata(State(state)).await;
        }
        return not_found();
    };
    document(&ProtectedResourceMetadata {
        resource: if fault!(PrmResourceIsOrigin) {
            config.issuer.clone()
        } else {
            config.agent_resource(&agent.id)
        },
        authorization_servers: authorization_servers(config),
        scopes_supported: resource_scopes(),
        bearer_methods_supported: vec!["header"],
        resource_name: agent.name.clone(),
    })
}

fn authorization_servers(config: &Config) -> Vec<String> {
    if fault!(PrmAuthorizationServersEmpty) {
        return vec![];
    }
    vec![config.issuer.clone()]
}

fn resource_scopes() -> Vec<&'static str> {
    if fault!(PrmOfflineAccessScope) {
        return vec![SCOPE, "offline_access"];
    }
    vec![SCOPE]
}

/// A JSON 404 for every unknown path: clients that probe discovery fallbacks parse the body
/// (DISC-17; non-JSON 404s break some clients' error handling).
pub async fn fallback() -> Response {
    not_found()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({
            "error": "not_found",
            "error_description": "no such resource",
        })),
    )
        .into_response()
}

/// 200 `application/json`, cacheable for a short while (metadata changes only with the config).
fn document(body: &impl Serialize) -> Response {
    let mut response = Json(body).into_response();
    if fault!(MetadataTextPlain) {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
