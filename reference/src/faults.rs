//! Named faults: realistic implementer bugs the reference can be started with, one at a time, to
//! prove that the conformance suite fails a broken gateway for the right reason
//! (`cargo xtask faults`, `docs/faults.md`).
//!
//! Compiled only with the `faults` cargo feature: without it this module does not exist and every
//! [`fault!`](crate::fault) site is the constant `false`, so default and release builds carry no
//! fault and no `--fault` flag.
//!
//! Each entry names the requirement IDs (`fixtures/requirements.toml`) whose checks must catch
//! it, and the verdict they must get: `Fail` for a MUST or a guide statement, `Warn` for a SHOULD
//! or interop expectation (and then the run must have no FAIL at all: the suite judged the
//! severity right). The switch is process-wide: `serve --fault NAME` sets it once at start.

use std::sync::OnceLock;

/// The verdict the named requirements must get when the fault is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Expect {
    Fail,
    Warn,
}

/// One catalog entry.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct FaultSpec {
    pub name: &'static str,
    pub expect: Expect,
    pub requirements: &'static [&'static str],
    pub summary: &'static str,
}

macro_rules! catalog {
    ($( $variant:ident = $name:literal, $expect:ident, [$($req:literal),+ $(,)?], $summary:literal; )*) => {
        /// Every named fault; see [`CATALOG`] for what each one breaks.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Fault { $($variant),* }

        /// The catalog, in the order the protocol meets the faults.
        pub const CATALOG: &[(Fault, FaultSpec)] = &[
            $((Fault::$variant, FaultSpec {
                name: $name,
                expect: Expect::$expect,
                requirements: &[$($req),+],
                summary: $summary,
            })),*
        ];
    };
}

catalog! {
    // --- discovery ---
    // --- registration ---
    // --- authorize and login ---
    RepeatedParamsAccepted = "repeated-params-accepted", Fail, ["AUTHZ-01"],
        "a repeated state, response_type or code_challenge_method is not refused; the first value wins";
    UnknownClientErrorRedirect = "unknown-client-error-redirect", Fail, ["AUTHZ-02"],
        "an unknown client_id gets an invalid_client error redirect to the redirect_uri the request names";
    ErrorRedirectToUnregisteredUri = "error-redirect-to-unregistered-uri", Fail, ["AUTHZ-02"],
        "an unregistered redirect_uri gets an invalid_request error redirect to that very URI, not an error page";
    RedirectUriPrefixMatch = "redirect-uri-prefix-match", Fail, ["AUTHZ-03"],
        "redirect_uri matches when it starts with a registered URI (trailing slash, extra query, longer path pass)";
    RedirectUriNormalizedMatch = "redirect-uri-normalized-match", Fail, ["AUTHZ-03"],
        "redirect_uri is compared as a parsed URL, so /./cb, an upper-case host or an explicit default port match /cb";
    RedirectUriPortIgnored = "redirect-uri-port-ignored", Fail, ["AUTHZ-03"],
        "the loopback any-port exception is applied to every host, https ones included";
    LoopbackPortExact = "loopback-port-exact", Fail, ["AUTHZ-04"],
        "a loopback redirect_uri must name the registered port too: clients on an ephemeral port are refused";
    RedirectUriOmittedFirstRegistered = "redirect-uri-omitted-first-registered", Fail, ["AUTHZ-05"],
        "an omitted redirect_uri falls back to the first registered one even when several are registered";
    ResponseTypeCodeTokenAccepted = "response-type-code-token-accepted", Fail, ["AUTHZ-06"],
        "response_type is accepted when any of its space-separated values is code (\"code token\" passes)";
    ResponseTypeDefaultsToCode = "response-type-defaults-to-code", Fail, ["AUTHZ-06"],
        "a missing response_type is taken as code instead of refused";
    ResponseTypeWrongError = "response-type-wrong-error", Fail, ["AUTHZ-06"],
        "an unsupported response_type is answered with invalid_request instead of unsupported_response_type";
    StateReencoded = "state-reencoded", Fail, ["AUTHZ-07"],
        "the success redirect percent-encodes state before appending it, so special characters come back encoded twice";
    RedirectReplacesQuery = "redirect-replaces-query", Fail, ["AUTHZ-07"],
        "redirects to the client replace the registered redirect URI's own query with code, state and iss";
    SuccessRedirect307 = "success-redirect-307", Fail, ["AUTHZ-07"],
        "the code redirect that answers the login POST is a 307, which re-posts the password to the client";
    ErrorRedirectDropsState = "error-redirect-drops-state", Fail, ["AUTHZ-08"],
        "error redirects leave out the state the client sent";
    LoginDenyIgnored = "login-deny-ignored", Fail, ["AUTHZ-08"],
        "the login form's action is ignored: a user who denies is signed in and the client gets a code";
    IssTrailingSlash = "iss-trailing-slash", Fail, ["AUTHZ-09", "DISC-14"],
        "the redirects' iss is the issuer with a trailing slash, not the metadata issuer byte for byte";
    IssMissingOnError = "iss-missing-on-error", Fail, ["AUTHZ-08", "DISC-14"],
        "error redirects carry no iss although the metadata advertises it (only the code redirect has it)";
    CodeDropsResource = "code-drops-resource", Fail, ["AUTHZ-10"],
        "the code forgets the resource of its authorization request, so its token is for the default audience";
    CodeTtlTenMinutes = "code-ttl-ten-minutes", Fail, ["GUIDE-08"],
        "the login issues codes with the pending request's ten-minute lifetime instead of two minutes";
    CodeNotBoundToClient = "code-not-bound-to-client", Fail, ["AUTHZ-10"],
        "the token endpoint redeems a code for any registered client, not only the one it was issued to";
    AuthorizeCors = "authorize-cors", Fail, ["AUTHZ-11"],
        "the authorization endpoint gets the open CORS layer of the token endpoint";
    ResourceRequired = "resource-required", Fail, ["GUIDE-04"],
        "an authorization request without resource is refused with invalid_target (the guide's request sends none)";
    PkceChallengeOptional = "pkce-challenge-optional", Fail, ["PKCE-01"],
        "an authorization request without code_challenge is accepted, and its code redeemed without PKCE";
    PkceMethodMissingAsS256 = "pkce-method-missing-as-s256", Fail, ["PKCE-02"],
        "an omitted code_challenge_method is taken as S256 instead of refused as plain";
    PkceMethodCaseInsensitive = "pkce-method-case-insensitive", Fail, ["PKCE-02"],
        "code_challenge_method is compared case-insensitively, so s256 is taken as S256";
    CodeEmbedsChallenge = "code-embeds-challenge", Fail, ["PKCE-07"],
        "the code is self-contained: a random part and the base64url JSON of its binding, code_challenge included";
    CodeChallengeEchoed = "code-challenge-echoed", Fail, ["PKCE-07"],
        "the code redirect echoes the code_challenge back to the client";
    PkceChallengeSyntaxUnchecked = "pkce-challenge-syntax-unchecked", Warn, ["PKCE-03"],
        "an S256 code_challenge of any length and alphabet is accepted";
    LoginFrameable = "login-frameable", Warn, ["AUTHZ-12"],
        "the login page sends neither X-Frame-Options nor CSP frame-ancestors, so it can be framed";
    LoginCookieScriptReadable = "login-cookie-script-readable", Warn, ["AUTHZ-12"],
        "the browser-binding cookie is set without HttpOnly and SameSite";
    LoginPageHidesRedirectHost = "login-page-hides-redirect-host", Warn, ["AUTHZ-12"],
        "the login page names the client but not the host the code will be sent to";
    LoginCsrfUnchecked = "login-csrf-unchecked", Warn, ["AUTHZ-12"],
        "the login form's CSRF token is never compared with the one of the pending request";
    UnknownScopeGranted = "unknown-scope-granted", Warn, ["AUTHZ-13"],
        "the requested scope is granted as sent, unknown scopes included";
    // --- pkce, token and refresh ---
    PkcePlainAccepted = "pkce-plain-accepted", Fail, ["PKCE-02"],
        "code_challenge_method=plain is accepted, and the verifier compared as plain text";
    PkceVerifierUnchecked = "pkce-verifier-unchecked", Fail, ["PKCE-04"],
        "the token endpoint never compares the code_verifier with the challenge (the 002 recipe)";
    // --- bearer, tokens and the MCP endpoint ---
}

static ACTIVE: OnceLock<Fault> = OnceLock::new();

/// Switches on the fault called `name`, once per process.
pub fn activate(name: &str) -> Result<FaultSpec, String> {
    let (fault, spec) = CATALOG
        .iter()
        .find(|(_, spec)| spec.name == name)
        .ok_or_else(|| {
            format!("unknown fault {name:?}; `mcp-gateway-reference faults` lists them")
        })?;
    ACTIVE
        .set(*fault)
        .map_err(|_| "a fault is already active".to_owned())?;
    Ok(*spec)
}

/// Whether `fault` is the one switched on; read through [`fault!`](crate::fault).
pub fn is_active(fault: Fault) -> bool {
    ACTIVE.get() == Some(&fault)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_kebab_case_and_name_requirements() {
        let mut seen = std::collections::HashSet::new();
        for (_, spec) in CATALOG {
            assert!(seen.insert(spec.name), "duplicate fault {}", spec.name);
            assert!(
                spec.name
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'),
                "{} is not kebab-case",
                spec.name
            );
            assert!(!spec.requirements.is_empty());
        }
    }
}
