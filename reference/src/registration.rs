//! `POST /oauth/register`: RFC 7591 dynamic client registration, public clients only.
//!
//! Guide, "Step 1": "Only public clients (no client_secret) are supported". So:
//! - an omitted `token_endpoint_auth_method` (RFC 7591 §2 default `client_secret_basic`; the
//!   Python SDK omits it) is registered as `none` and echoed (§3.2.1 lets the server replace
//!   values), while an explicit secret-based method is refused with `invalid_client_metadata`;
//! - no `client_secret` is ever issued.
//!
//! `redirect_uris` is required; each must be absolute, without fragment, and `https` or `http` on a
//! loopback host (MCP "Communication Security"), else `invalid_redirect_uri` (§3.2.2). Unknown
//! members are ignored (§2), e.g. `application_type` (sent by 2026-07-28 clients) and `scope: ""`
//! (sent by MCP Inspector).
//!
//! Invariants: a response is `201` with the registered metadata, or an OAuth error (`400`; `413`
//! past the body limit; `429` when rate-limited or full); all carry `Cache-Control: no-store`. Bounded by body size, URI count and length, total clients
//! and a per-IP rate limit.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use url::Url;

use crate::config::{Config, is_loopback_host};
use crate::error::{ErrorCode, OAuthBody, OAuthError};
use crate::form::content_type_is;
use crate::secrets::random_token;
use crate::state::{AppState, ClientIp};
use crate::store::{RegisteredClient, StoreError};

/// Prefix of every client id, as in the guide's example `mcp_client_abc123`.
pub const CLIENT_ID_PREFIX: &str = "mcp_client_";

/// RFC 7591 §3.2.1 client information response.
#[derive(Debug, Serialize)]
pub struct ClientInformationResponse {
    pub client_id: String,
    pub client_id_issued_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: &'static str,
    /// Never set: only the `dcr-client-secret-issued` fault issues one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// The validated registration request.
#[derive(Debug, PartialEq, Eq)]
pub struct ClientRegistrationRequest {
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
}

/// `POST /oauth/register`
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    OAuthBody(body): OAuthBody,
) -> Result<Response, OAuthError> {
    state.limiters.check_registration(ip)?;
    if content_type_is(&headers, "application/json") == Some(false) {
        return Err(metadata_error("the request body must be application/json"));
    }
    if fault!(DcrMalformedJsonPlainText) && serde_json::from_slice::<Value>(&body).is_err() {
        // What a framework's JSON extractor answers by itself: 400 text/plain.
        return Ok((
            StatusCode::BAD_REQUEST,
            "Failed to parse the request body as JSON",
        )
            .into_response());
    }
    let value: Value = serde_json::from_slice(&body).map_err(|_| {
        if fault!(DcrMalformedJson500) {
            return OAuthError::server_error();
        }
        metadata_error("the request body is not valid JSON")
    })?;
    let request = ClientRegistrationRequest::validate(&state.config, &value)?;

    let client_id = if fault!(DcrCounterClientId) {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{CLIENT_ID_PREFIX}{n:06}")
    } else {
        format!(
            "{CLIENT_ID_PREFIX}{}",
            random_token(16).map_err(|_| OAuthError::server_error())?
        )
    };
    let now = state.clock.now();
    let client = RegisteredClient {
        client_id: client_id.clone(),
        client_name: request.client_name,
        redirect_uris: request.redirect_uris,
        grant_types: request.grant_types,
        response_types: request.response_types,
        issued_at: now,
        used: false,
    };
    let token_endpoint_auth_method = match value
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
    {
        Some("client_secret_basic") if fault!(DcrSecretMethodEchoed) => "client_secret_basic",
        Some("client_secret_post") if fault!(DcrSecretMethodEchoed) => "client_secret_post",
        _ => "none",
    };
    let body = ClientInformationResponse {
        client_id,
        client_id_issued_at: now.0,
        client_name: if fault!(DcrClientNameNotEchoed) {
            None
        } else {
            client.client_name.clone()
        },
        redirect_uris: if fault!(DcrRedirectUrisNotEchoed) {
            vec![]
        } else {
            client.redirect_uris.clone()
        },
        grant_types: client.grant_types.clone(),
        response_types: client.response_types.clone(),
        token_endpoint_auth_method,
        client_secret: if fault!(DcrClientSecretIssued) {
            Some(random_token(32).map_err(|_| OAuthError::server_error())?)
        } else {
            None
        },
    };
    match state.store.register_client(client).await {
        Ok(()) => {}
        Err(StoreError::Full) => return Err(OAuthError::rate_limited(60)),
    }
    tracing::info!(client_id = %body.client_id, "client registered");
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if !fault!(DcrNoStoreMissing) {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

impl ClientRegistrationRequest {
    /// RFC 7591 §2 and §3.2.2: check the client metadata; unknown members are ignored.
    pub fn validate(
        config: &Config,
        value: &Value,
    ) -> Result<ClientRegistrationRequest, OAuthError> {
        let metadata = value
            .as_object()
            .ok_or_else(|| metadata_error("the request body must be a JSON object"))?;
        let limits = &config.limits;

        if fault!(DcrUnknownMetadataRejected) {
            const KNOWN: [&str; 5] = [
                "client_name",
                "redirect_uris",
                "grant_types",
                "response_types",
                "token_endpoint_auth_method",
            ];
            if let Some(unknown) = metadata.keys().find(|k| !KNOWN.contains(&k.as_str())) {
                return Err(metadata_error(format!(
                    "unsupported client metadata {unknown}"
                )));
            }
        }

        match metadata.get("token_endpoint_auth_method") {
            None | Some(Value::Null) => {}
            Some(Value::String(method)) if method == "none" => {}
            Some(Value::String(method))
                if fault!(DcrSecretMethodEchoed)
                    && matches!(
                        method.as_str(),
                        "client_secret_basic" | "client_secret_post"
                    ) => {}
            Some(Value::String(_)) => {
                return Err(metadata_error(
                    "only public clients are supported: token_endpoint_auth_method must be none",
                ));
            }
            Some(_) => {
                return Err(metadata_error(
                    "token_endpoint_auth_method must be a string",
                ));
            }
        }

        let client_name = match metadata.get("client_name") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) if name.chars().count() <= limits.max_client_name_length => {
                Some(name.clone())
            }
            Some(Value::String(_)) => {
                return Err(metadata_error(format!(
                    "client_name is longer than {} characters",
                    limits.max_client_name_length
                )));
            }
            Some(_) => return Err(metadata_error("client_name must be a string")),
        };

        let redirect_uris = match metadata.get("redirect_uris") {
            None | Some(Value::Null) => {
                return Err(redirect_error("redirect_uris is required"));
            }
            Some(Value::Array(uris)) => uris,
            Some(_) => return Err(metadata_error("redirect_uris must be an array of strings")),
        };
        if redirect_uris.is_empty() {
            return Err(redirect_error("redirect_uris must list at least one URI"));
        }
        if redirect_uris.len() > limits.max_redirect_uris {
            return Err(redirect_error(format!(
                "at most {} redirect_uris may be registered",
                limits.max_redirect_uris
            )));
        }
        let mut uris = Vec::with_capacity(redirect_uris.len());
        for uri in redirect_uris {
            let uri = uri
                .as_str()
                .ok_or_else(|| metadata_error("redirect_uris must be an array of strings"))?;
            if uri.len() > limits.max_redirect_uri_length {
                return Err(redirect_error(format!(
                    "a redirect URI is longer than {} bytes",
                    limits.max_redirect_uri_length
                )));
            }
            check_redirect_uri(uri).map_err(redirect_error)?;
            if !uris.iter().any(|u| u == uri) {
                uris.push(uri.to_owned());
            }
        }

        let response_types =
            string_array(metadata, "response_types")?.unwrap_or_else(|| vec!["code".to_owned()]);
        if response_types.iter().any(|t| t != "code") {
            return Err(metadata_error(
                "only the response type code is supported (OAuth 2.1 removed the implicit grant)",
            ));
        }

        let supported: &[&str] = if config.refresh_tokens {
            &["authorization_code", "refresh_token"]
        } else {
            &["authorization_code"]
        };
        let grant_types = match string_array(metadata, "grant_types")? {
            None => supported.iter().map(|s| (*s).to_owned()).collect(),
            Some(requested) if fault!(DcrGrantTypesUnchecked) => requested,
            Some(requested) => {
                if let Some(bad) = requested
                    .iter()
                    .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
                {
                    return Err(metadata_error(format!(
                        "grant type {} is not supported for public clients",
                        crate::error::describe_value(bad)
                    )));
                }
                if !requested.iter().any(|g| g == "authorization_code") {
                    return Err(metadata_error(
                        "grant_types must include authorization_code (response type code)",
                    ));
                }
                // RFC 7591 §3.2.1: echo what is actually registered. A refresh grant asked of a
                // gateway that issues no refresh tokens is dropped, not refused (DCR-07).
                let mut granted: Vec<String> = Vec::new();
                for g in requested {
                    if supported.contains(&g.as_str()) && !granted.contains(&g) {
                        granted.push(g);
                    }
                }
                granted
            }
        };

        Ok(ClientRegistrationRequest {
            client_name,
            redirect_uris: uris,
            grant_types,
            response_types: vec!["code".to_owned()],
        })
    }
}

/// RFC 7591 §2 / OAuth 2.1 §2.3.1 and MCP "Communication Security": absolute, no fragment, no
/// credentials, and `https`, or `http` on a loopback host.
pub fn check_redirect_uri(uri: &str) -> Result<(), &'static str> {
    // URL parsers silently drop tabs and newlines and read `\` as `/`: such a URI would be matched
    // as one string and redirected to as another.
    if !uri.bytes().all(|c| c.is_ascii_graphic()) || uri.contains('\\') {
        return Err("a redirect URI must consist of printable ASCII without spaces or backslashes");
    }
    let url = Url::parse(uri).map_err(|_| "each redirect URI must be an absolute URI")?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err("a redirect URI must not contain a fragment");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a redirect URI must not contain credentials");
    }
    let loopback = url.host_str().is_some_and(is_loopback_host);
    match url.scheme() {
        "https" if url.host_str().is_some() => Ok(()),
        "http" if loopback || fault!(DcrHttpRedirectAccepted) => Ok(()),
        "http" => Err("plain http redirect URIs are allowed only on loopback hosts"),
        _ => Err("a redirect URI must use https, or http on a loopback host"),
    }
}

fn string_array(
    metadata: &Map<String, Value>,
    name: &str,
) -> Result<Option<Vec<String>>, OAuthError> {
    match metadata.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| metadata_error(format!("{name} must be an array of strings"))),
        Some(_) => Err(metadata_error(format!(
            "{name} must be an array of strings"
        ))),
    }
}

fn metadata_error(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, description)
}

fn redirect_error(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    if fault!(DcrRedirectErrorInvalidRequest) {
        return OAuthError::new(ErrorCode::InvalidRequest, description);
    }
    OAuthError::new(ErrorCode::InvalidRedirectUri, description)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dcr_04_redirect_uri_rules() {
        for ok in [
            "https://claude.ai/api/mcp/auth_callback",
            "http://localhost:5173/callback",
            "http://127.0.0.1/callback",
            "http://[::1]:8080/cb",
            "https://app.example/cb?tenant=1",
        ] {
            assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://evil.example/cb",
            "https://x.example/cb#f",
            "http://localhost/cb#",
            "javascript:alert(1)",
            "data:text/html,hi",
            "/callback",
            "https://user:pw@x.example/cb",
            "cursor://callback",
            "http://localhost:1\\x/callback",
            "http://localhost/call back",
            "http://localhost/callback\t",
            "https://app.example/cb\u{e9}",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }
}
