//! Every way a request can fail, rendered the way the RFCs say.
//!
//! - [`OAuthError`]: the JSON error body `{error, error_description}` of RFC 6749 §5.2 (token
//!   endpoint), RFC 7591 §3.2.2 (registration) and RFC 8707 §2 (`invalid_target`), with
//!   `Cache-Control: no-store`. The variants of [`ErrorCode`] are the registered error codes.
//! - [`ErrorPage`]: the HTML page shown by the authorization endpoint when it must NOT redirect
//!   (OAuth 2.1 §4.1.2.1: invalid `client_id` or `redirect_uri`).
//! - Bearer-token failures at the MCP endpoint live in `bearer.rs`, next to their challenge.
//!
//! Invariant: an error response never echoes a credential. Descriptions are fixed texts; the few
//! that quote what the client sent (a repeated parameter's name, an unsupported grant type) go
//! through [`describe_value`], and every rendered description through [`sanitize_description`].

use std::borrow::Cow;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, html};

/// Error codes of RFC 6749 §4.1.2.1 and §5.2, RFC 7591 §3.2.2 and RFC 8707 §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
    /// RFC 8707 §2: the requested resource is invalid, unknown or malformed.
    InvalidTarget,
    /// RFC 7591 §3.2.2.
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2.
    InvalidClientMetadata,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
        }
    }

    /// The HTTP status RFC 6749 §5.2 gives the code in a direct (non-redirect) response.
    fn default_status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::AccessDenied => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// An OAuth error answered directly (not by redirect).
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
    pub status: StatusCode,
    /// Seconds, for `429`/`503` answers (RFC 9110 §10.2.3 `Retry-After`).
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError {
            code,
            description: description.into(),
            status: code.default_status(),
            retry_after: None,
        }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidRequest, description)
    }

    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> OAuthError {
        if fault!(TokenInvalidGrant401) {
            return OAuthError::new(ErrorCode::InvalidGrant, description)
                .with_status(StatusCode::UNAUTHORIZED);
        }
        OAuthError::new(ErrorCode::InvalidGrant, description)
    }

    /// The randomness source or a store failed: nothing the client did.
    pub fn server_error() -> OAuthError {
        OAuthError::new(
            ErrorCode::ServerError,
            "the server could not complete the request",
        )
    }

    /// `429 Too Many Requests` with `Retry-After` (RFC 6585 §4).
    pub fn rate_limited(retry_after: u64) -> OAuthError {
        OAuthError {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(retry_after.max(1)),
            ..OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "too many requests; retry later",
            )
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> OAuthError {
        self.status = status;
        self
    }
}

/// RFC 6749 §5.2 / §4.1.2.1: `error_description` is limited to `%x20-21 / %x23-5B / %x5D-7E`
/// (printable ASCII without `"` and `\`). Our texts respect it; this is the safety net for any that
/// quote client input.
pub fn sanitize_description(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

/// A client-supplied value (a parameter name, a grant type) made safe to quote in an
/// `error_description`: at most 40 characters of the allowed set.
pub fn describe_value(value: &str) -> String {
    let mut out = sanitize_description(value);
    if out.chars().count() > 40 {
        out = out.chars().take(40).collect::<String>() + "...";
    }
    out
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.code.as_str(),
            "error_description": sanitize_description(&self.description),
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 9110 §15.5.2: a 401 carries a challenge. Public clients authenticate with their
            // client_id alone; the challenge names the scheme a confidential client would use.
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"oauth\""),
            );
        }
        response
    }
}

/// The raw request body, or an OAuth JSON error (`413` past the body limit, `400` if unreadable)
/// instead of axum's plain-text rejection, so every answer of an OAuth endpoint has one format.
#[derive(Debug)]
pub struct OAuthBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for OAuthBody {
    type Rejection = OAuthError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(request, state)
            .await
            .map(OAuthBody)
            .map_err(|rejection| {
                let status = rejection.status();
                let description = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    "the request body is too large"
                } else {
                    "the request body could not be read"
                };
                OAuthError::invalid_request(description).with_status(status)
            })
    }
}

/// An error shown to the person at the browser, for authorization requests whose `client_id` or
/// `redirect_uri` cannot be trusted (OAuth 2.1 §4.1.2.1: "MUST NOT automatically redirect the
/// user agent to the invalid redirection URI"), and for login pages that can no longer be used.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
}

impl ErrorPage {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> ErrorPage {
        ErrorPage {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> ErrorPage {
        self.status = status;
        self
    }
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        let markup = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    title { "Authorization error" }
                }
                body {
                    h1 { "Authorization error" }
                    p { (self.message) }
                    p { "Error code: " code { (self.code.as_str()) } }
                    p { "Return to the application and start the sign-in again." }
                }
            }
        };
        let mut response =
            (self.status, axum::response::Html(markup.into_string())).into_response();
        crate::login::page_security_headers(response.headers_mut());
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_descriptions_stay_in_the_rfc_6749_charset() {
        assert_eq!(sanitize_description("a \"b\" \\ c § é"), "a 'b' / c ? ?");
        let long = describe_value(&"x".repeat(100));
        assert_eq!(long.len(), 43);
        assert!(describe_value("grant\"type").contains('\''));
    }
}
