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
    LoginAnyPassword = "login-any-password", Fail, ["AUTHZ-14"],
        "the login page accepts any password for a known username (the password check's result is ignored)";
    // --- pkce, token and refresh ---
    PkcePlainAccepted = "pkce-plain-accepted", Fail, ["PKCE-02"],
        "code_challenge_method=plain is accepted, and the verifier compared as plain text";
    PkceVerifierUnchecked = "pkce-verifier-unchecked", Fail, ["PKCE-04"],
        "the token endpoint never compares the code_verifier with the challenge (the 002 recipe)";
    PkceVerifierOptional = "pkce-verifier-optional", Fail, ["PKCE-05"],
        "a code redemption without code_verifier skips the PKCE check instead of being refused";
    PkceVerifierGrammarUnchecked = "pkce-verifier-grammar-unchecked", Warn, ["PKCE-06"],
        "a code_verifier outside 43 to 128 unreserved characters is accepted when its hash matches";
    TokenJsonBodyServerError = "token-json-body-server-error", Fail, ["TOKEN-01"],
        "a token request with a JSON body gets 500 server_error instead of invalid_request (or a token)";
    TokenTypeMissing = "token-type-missing", Fail, ["TOKEN-02", "GUIDE-05"],
        "the token response leaves out token_type";
    TokenExpiresIn3599 = "token-expires-in-3599", Fail, ["GUIDE-05"],
        "expires_in is one second short of the guide's 3600 (counted from after signing)";
    TokenNoStoreMissing = "token-no-store-missing", Fail, ["TOKEN-03"],
        "a successful token response carries no Cache-Control: no-store";
    TokenInvalidGrant401 = "token-invalid-grant-401", Fail, ["TOKEN-04"],
        "invalid_grant is answered with status 401 instead of 400";
    TokenErrorsInvalidGrant = "token-errors-invalid-grant", Fail, ["TOKEN-04"],
        "every refusal of a grant is invalid_grant, whatever the reason (missing code, scope, target)";
    CodeOtherClientRedeemed = "code-other-client-redeemed", Fail, ["TOKEN-05", "AUTHZ-10"],
        "a code issued to one client is redeemed by any registered client";
    CodeReusable = "code-reusable", Fail, ["TOKEN-06"],
        "a consumed authorization code is redeemed again (consumption result ignored)";
    CodeReplayNoRevoke = "code-replay-no-revoke", Warn, ["TOKEN-12"],
        "a replayed code is refused, but the tokens of its first redemption stay valid";
    CodeReplayRevokesBeforePkce = "code-replay-revokes-before-pkce", Warn, ["TOKEN-12"],
        "a used code revokes its grant before the code_verifier is checked: any replay revokes";
    RedirectUriUnchecked = "redirect-uri-unchecked", Fail, ["TOKEN-07"],
        "a redirect_uri other than the authorized one is redeemed";
    RedirectUriRequired = "redirect-uri-required", Fail, ["TOKEN-07"],
        "the token endpoint requires redirect_uri (RFC 6749 habit) though OAuth 2.1 lets it be omitted";
    CodeNeverExpires = "code-never-expires", Fail, ["TOKEN-08", "GUIDE-08"],
        "the token endpoint never checks the authorization code's expiry";
    GrantTypeUnchecked = "grant-type-unchecked", Fail, ["TOKEN-09"],
        "grant_type is not validated: anything but authorization_code is taken for a refresh";
    AccessTokenHs512 = "access-token-hs512", Fail, ["GUIDE-06"],
        "access tokens are signed (and verified) with HS512 instead of the guide's HS256";
    AccessTokenExp7200 = "access-token-exp-7200", Fail, ["GUIDE-07"],
        "the JWT exp is iat + 7200 while expires_in still says 3600";
    TokenResourceRefused = "token-resource-refused", Fail, ["AUD-01"],
        "the token endpoint refuses every RFC 8707 resource parameter with invalid_target";
    AccessTokenAudGateway = "access-token-aud-gateway", Warn, ["AUD-02"],
        "access tokens always carry the gateway as aud, whatever resource was requested";
    TokenResourceUnparsedIgnored = "token-resource-unparsed-ignored", Warn, ["AUD-04"],
        "a resource the token endpoint cannot resolve is ignored instead of refused with invalid_target";
    RefreshNotRotated = "refresh-not-rotated", Fail, ["REFRESH-02"],
        "a refresh answers the same refresh token again instead of rotating it";
    RefreshReuseNoRevoke = "refresh-reuse-no-revoke", Fail, ["REFRESH-02"],
        "a used refresh token is refused, but the grant is not revoked";
    RefreshOtherClient = "refresh-other-client", Fail, ["REFRESH-03"],
        "a refresh token is accepted from any registered client";
    RefreshScopeWidened = "refresh-scope-widened", Fail, ["REFRESH-04"],
        "a refresh grants whatever scope the client asks for, wider than the grant";
    RefreshResourceUnbound = "refresh-resource-unbound", Fail, ["REFRESH-05"],
        "a refresh issues a token for any resource the client names, not only the consented one";
    TokenCorsMissing = "token-cors-missing", Warn, ["TOKEN-11", "SEC-03"],
        "the token endpoint is routed outside the CORS layer: browser clients cannot redeem codes";
    PkcePlainComparisonToo = "pkce-plain-comparison-too", Fail, ["PKCE-04"],
        "the token endpoint also accepts a code_verifier equal to the S256 challenge (a plain comparison kept beside S256)";
    // --- bearer, tokens and the MCP endpoint ---
    BearerSchemeCaseSensitive = "bearer-scheme-case-sensitive", Fail, ["BEARER-01"],
        "the Authorization scheme must be spelled exactly `Bearer`: `bearer` and `BEARER` are ignored";
    BearerQueryTokenAccepted = "bearer-query-token-accepted", Fail, ["BEARER-02"],
        "without an Authorization header, the access_token query parameter is taken as the credential";
    BearerTwoMethodsAccepted = "bearer-two-methods-accepted", Warn, ["BEARER-09"],
        "a token in both the Authorization header and the query is not refused as invalid_request";
    BearerChallengeMissing = "bearer-challenge-missing", Fail, ["BEARER-03", "GUIDE-12"],
        "a 401 from the MCP endpoint carries no WWW-Authenticate at all";
    BearerChallengeNoRealm = "bearer-challenge-no-realm", Fail, ["GUIDE-12"],
        "the Bearer challenge has no realm=\"MCP\"";
    BearerChallengeRelativeMetadata = "bearer-challenge-relative-metadata", Warn, ["BEARER-04"],
        "resource_metadata is the agent's metadata as a relative path, not the absolute URL RFC 9728 §5.1 asks for";
    BearerChallengeGuideMetadata = "bearer-challenge-guide-metadata", Fail, ["DISC-05"],
        "resource_metadata is the guide's literal \"/.well-known/oauth-protected-resource\": relative, and the root metadata names another resource";
    BearerErrorWithoutCredentials = "bearer-error-without-credentials", Warn, ["BEARER-05"],
        "a request without credentials is challenged with error=\"invalid_token\"";
    BearerChallengeNoScope = "bearer-challenge-no-scope", Warn, ["BEARER-07"],
        "the 401 challenge names no scope";
    BearerChallengeOffersOfflineAccess = "bearer-challenge-offers-offline-access", Warn, ["REFRESH-07", "BEARER-07"],
        "the 401 challenge asks for scope=\"mcp offline_access\"";
    JwtAlgNoneAccepted = "jwt-alg-none-accepted", Fail, ["BEARER-06", "AUD-07"],
        "an unsigned token (alg: none) is decoded and trusted";
    JwtSignatureUnchecked = "jwt-signature-unchecked", Fail, ["BEARER-06", "AUD-07"],
        "the JWT signature is never verified (the claims are only decoded)";
    JwtExpUnchecked = "jwt-exp-unchecked", Fail, ["BEARER-06", "AUD-07"],
        "exp is not checked: an expired access token still opens the MCP endpoint";
    JwtIssUnchecked = "jwt-iss-unchecked", Fail, ["BEARER-06", "AUD-07"],
        "iss is not checked: a token signed with the key for another issuer is accepted";
    BearerAudUnchecked = "bearer-aud-unchecked", Fail, ["AUD-03", "AUD-07"],
        "aud is not checked: a token for one agent (or any audience) opens every agent its user owns";
    BearerAgentKeyAnyAgent = "bearer-agent-key-any-agent", Fail, ["AUD-09"],
        "a known bak_ agent key is accepted at every agent, not only its own";
    BearerUserKeyAnyOwner = "bearer-user-key-any-owner", Fail, ["AUD-09"],
        "a known oag_ user key is accepted at agents its user does not own";
    BearerApiKeysRefused = "bearer-api-keys-refused", Fail, ["GUIDE-10", "GUIDE-11"],
        "only JWT access tokens are understood: bak_ and oag_ keys get 401";
    McpAnonymousPassThrough = "mcp-anonymous-pass-through", Fail, ["BEARER-11", "BEARER-03", "GUIDE-09"],
        "a request without credentials is not refused but served as the agent's owner (optional auth)";
    McpSessionIdCredential = "mcp-session-id-credential", Fail, ["BEARER-10"],
        "initialize issues an Mcp-Session-Id, and later requests in the session need no token";
    McpOriginUnchecked = "mcp-origin-unchecked", Fail, ["SEC-02"],
        "the MCP endpoint ignores Origin (DNS rebinding)";
    McpCorsHidesChallenge = "mcp-cors-hides-challenge", Warn, ["SEC-03"],
        "the MCP endpoint's CORS does not expose WWW-Authenticate to browser clients";
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
