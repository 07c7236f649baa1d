//! Login drivers: the suite's stand-in for the human at the authorization step.
//!
//! An authorization request (OAuth 2.1 §4.1.1) ends at the user's browser. The suite offers three
//! ways through it, chosen by the profile:
//! - [`form`]: plain HTTP. Follow redirects, parse the login page with an HTML parser, fill the
//!   configured fields, submit, and stop at the redirect to our `redirect_uri` (never requested:
//!   the code is read off `Location`). Also copes with an authorization endpoint that redirects
//!   at once with a code (no login page), as the TypeScript SDK's example server does.
//! - [`command`]: run the operator's command with the authorization URL; it prints the callback
//!   URL. Any login page can be scripted this way (a headless browser, an SSO test account).
//! - [`interactive`]: print the URL and wait on a loopback port for the browser to come back, as
//!   real MCP clients do.
//!
//! Every driver ends in an [`AuthorizationOutcome`]: either the redirect to `redirect_uri` (with a
//! `code` or an `error`), or a page the flow stopped at (an error page, which is the correct
//! answer for a bad `client_id` or `redirect_uri`, OAuth 2.1 §4.1.2.1).

pub mod command;
pub mod form;
pub mod interactive;

use url::Url;

use crate::http::{Exchange, Http};
use crate::profile::{DriverKind, Profile};

/// What the user does on the login or consent page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginAction {
    Approve,
    Deny,
}

/// Where an authorization request ended.
#[derive(Clone, Debug)]
pub enum AuthorizationOutcome {
    /// The user agent was sent to `redirect_uri`: the full URL and its query parameters in order.
    Redirect {
        url: Url,
        /// Query parameters in order, duplicates kept (AUTHZ-07 checks each appears once).
        params: Vec<(String, String)>,
        /// The status of the redirecting response (302/303; 307 is wrong after a POST).
        status: Option<u16>,
    },
    /// The flow stopped at a page that is not a login form: its status and URL.
    Page {
        status: u16,
        url: Url,
        /// The start of the page's visible text, for messages.
        excerpt: String,
    },
}

impl AuthorizationOutcome {
    fn param(&self, name: &str) -> Option<&str> {
        match self {
            AuthorizationOutcome::Redirect { params, .. } => params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str()),
            AuthorizationOutcome::Page { .. } => None,
        }
    }
    pub fn code(&self) -> Option<&str> {
        self.param("code")
    }
    pub fn error(&self) -> Option<&str> {
        self.param("error")
    }
    pub fn state(&self) -> Option<&str> {
        self.param("state")
    }
    pub fn iss(&self) -> Option<&str> {
        self.param("iss")
    }
    /// How many times `name` occurs in the redirect.
    pub fn count(&self, name: &str) -> usize {
        match self {
            AuthorizationOutcome::Redirect { params, .. } => {
                params.iter().filter(|(n, _)| n == name).count()
            }
            AuthorizationOutcome::Page { .. } => 0,
        }
    }
    pub fn is_redirect(&self) -> bool {
        matches!(self, AuthorizationOutcome::Redirect { .. })
    }
    /// A one-line description without secrets (the code is not printed).
    pub fn describe(&self) -> String {
        match self {
            AuthorizationOutcome::Redirect { params, status, .. } => {
                let names: Vec<String> = params
                    .iter()
                    .map(|(n, v)| match n.as_str() {
                        "code" => "code=<redacted>".to_owned(),
                        _ => format!("{n}={v}"),
                    })
                    .collect();
                format!(
                    "redirect{} to redirect_uri with {}",
                    status.map(|s| format!(" ({s})")).unwrap_or_default(),
                    if names.is_empty() {
                        "no parameters".to_owned()
                    } else {
                        names.join("&")
                    }
                )
            }
            AuthorizationOutcome::Page {
                status,
                url,
                excerpt,
            } => format!("stopped at a page: {status} {url}: {excerpt:?}"),
        }
    }
}

/// Whether `candidate` is the client's `redirect_uri` (same scheme, host, port and path; the
/// query may carry the response).
pub fn is_redirect_uri(candidate: &Url, redirect_uri: &Url) -> bool {
    candidate.scheme() == redirect_uri.scheme()
        && candidate.host_str() == redirect_uri.host_str()
        && candidate.port_or_known_default() == redirect_uri.port_or_known_default()
        && candidate.path() == redirect_uri.path()
}

/// `AuthorizationOutcome::Redirect` for a URL that reached `redirect_uri`.
pub fn redirect_outcome(url: Url, status: Option<u16>) -> AuthorizationOutcome {
    let params = url
        .query_pairs()
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    AuthorizationOutcome::Redirect {
        url,
        params,
        status,
    }
}

/// A driver error as a step error: names the driver, and keeps a `NOT-TESTABLE: ` prefix in
/// front so the runner still sees it.
pub fn step_error(driver: &str, e: &str) -> String {
    match e.strip_prefix(crate::steps::NOT_TESTABLE) {
        Some(why) => format!(
            "{}login driver ({driver}): {why}",
            crate::steps::NOT_TESTABLE
        ),
        None => format!("login driver ({driver}): {e}"),
    }
}

/// The configured driver.
#[derive(Debug)]
pub enum Driver {
    Form(form::FormDriver),
    Command(command::CommandDriver),
    Interactive(interactive::InteractiveDriver),
}

impl Driver {
    pub fn from_profile(profile: &Profile) -> Driver {
        match &profile.driver {
            DriverKind::Form => Driver::Form(form::FormDriver::from_profile(profile)),
            DriverKind::Command(cmd) => Driver::Command(command::CommandDriver::new(cmd.clone())),
            DriverKind::Interactive { port } => {
                Driver::Interactive(interactive::InteractiveDriver::new(*port))
            }
        }
    }

    /// Runs the authorization request `url` to its end. `evidence` receives every HTTP exchange
    /// the driver makes.
    pub async fn authorize(
        &self,
        http: &Http,
        url: &Url,
        redirect_uri: &Url,
        action: LoginAction,
        evidence: &mut Vec<Exchange>,
    ) -> Result<AuthorizationOutcome, String> {
        match self {
            Driver::Form(d) => d.authorize(http, url, redirect_uri, action, evidence).await,
            Driver::Command(d) => d.authorize(url, redirect_uri, action).await,
            Driver::Interactive(d) => d.authorize(url, redirect_uri, action).await,
        }
    }
}
