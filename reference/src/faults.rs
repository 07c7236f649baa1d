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
    PrmAuthorizationServersEmpty = "prm-authorization-servers-empty", Fail,
        ["DISC-01", "DISC-06", "GUIDE-14"],
        "the protected resource metadata sends authorization_servers as an empty array";
    PrmPathInsertedMissing = "prm-path-inserted-missing", Fail, ["DISC-02", "DISC-03"],
        "only the root protected resource metadata is served; the path-inserted URI the 401 links to is 404";
    PrmResourceIsOrigin = "prm-resource-is-origin", Fail, ["DISC-04", "DISC-05"],
        "an agent's protected resource metadata names the gateway origin as resource, not the agent's MCP URL";
    PrmUnknownAgentServed = "prm-unknown-agent-served", Fail, ["DISC-08"],
        "an unknown agent's protected resource metadata is 200 with the gateway's root document";
    PrmRootMissing = "prm-root-missing", Fail, ["GUIDE-14"],
        "/.well-known/oauth-protected-resource at the root is 404; only the per-agent documents exist";
    PrmOfflineAccessScope = "prm-offline-access-scope", Warn, ["DISC-07"],
        "the protected resource metadata offers the offline_access scope";
    MetadataTextPlain = "metadata-text-plain", Fail,
        ["DISC-03", "DISC-06", "DISC-16", "GUIDE-13", "GUIDE-14"],
        "every metadata document is served as text/plain";
    AsMetadataOidcOnly = "as-metadata-oidc-only", Fail, ["GUIDE-13"],
        "the authorization server metadata is served only at /.well-known/openid-configuration";
    AsScopesString = "as-scopes-string", Fail, ["DISC-09"],
        "scopes_supported is a space-separated string, not a JSON array (invalid RFC 8414 metadata)";
    IssuerTrailingSlash = "issuer-trailing-slash", Fail, ["DISC-10"],
        "the metadata issuer has a trailing slash that authorization_servers[0] lacks";
    AsEndpointsRelative = "as-endpoints-relative", Fail, ["DISC-11"],
        "the authorization server metadata lists endpoints as relative paths";
    S256NotAdvertised = "s256-not-advertised", Fail, ["DISC-12"],
        "code_challenge_methods_supported is left out of the authorization server metadata";
    AsAuthMethodsOmitted = "as-auth-methods-omitted", Warn, ["DISC-13"],
        "token_endpoint_auth_methods_supported is left out (RFC 8414 default: client_secret_basic)";
    IssFlagFalse = "iss-flag-false", Fail, ["DISC-14"],
        "authorization_response_iss_parameter_supported is false although redirects carry iss";
    AsMetadataNulls = "as-metadata-nulls", Fail, ["DISC-16"],
        "the authorization server metadata sends unsupported members as null";
    MetadataNoCors = "metadata-no-cors", Warn, ["SEC-03"],
        "the metadata documents carry no CORS headers and refuse preflights (browser clients cannot discover)";
    // --- registration ---
    DcrRegisterPath = "dcr-register-path", Fail, ["GUIDE-01"],
        "registration lives at /register (advertised in the metadata), not the guide's /oauth/register";
    DcrRedirectUrisNotEchoed = "dcr-redirect-uris-not-echoed", Fail, ["DCR-02", "GUIDE-03"],
        "the registration response leaves out redirect_uris";
    DcrClientNameNotEchoed = "dcr-client-name-not-echoed", Fail, ["GUIDE-03"],
        "the registration response leaves out client_name";
    DcrClientSecretIssued = "dcr-client-secret-issued", Fail, ["DCR-03", "GUIDE-02"],
        "every registration response carries a client_secret";
    DcrSecretMethodEchoed = "dcr-secret-method-echoed", Fail, ["DCR-03"],
        "client_secret_basic/client_secret_post are accepted and echoed, yet no secret is issued";
    DcrHttpRedirectAccepted = "dcr-http-redirect-accepted", Fail, ["DCR-04"],
        "plain http redirect URIs on any host are registered";
    DcrRedirectErrorInvalidRequest = "dcr-redirect-error-invalid-request", Fail,
        ["DCR-04", "DCR-05"],
        "a bad or missing redirect URI is refused with invalid_request, not invalid_redirect_uri";
    DcrMalformedJson500 = "dcr-malformed-json-500", Fail, ["DCR-05"],
        "a registration body that is not JSON gets 500 server_error";
    DcrMalformedJsonPlainText = "dcr-malformed-json-plain-text", Fail, ["DCR-05"],
        "a registration body that is not JSON gets the framework's 400 text/plain, no OAuth error";
    DcrUnknownMetadataRejected = "dcr-unknown-metadata-rejected", Fail, ["DCR-06"],
        "unknown client metadata (logo_uri, software_id, application_type) is refused";
    DcrGrantTypesUnchecked = "dcr-grant-types-unchecked", Warn, ["DCR-07"],
        "requested grant_types are registered and echoed unchecked (implicit, client_credentials)";
    DcrCounterClientId = "dcr-counter-client-id", Warn, ["DCR-08"],
        "client_ids are a counter (mcp_client_000001, ...), not random";
    DcrNoStoreMissing = "dcr-no-store-missing", Warn, ["DCR-10"],
        "the registration response has no Cache-Control: no-store";
    // --- authorize and login ---
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
