//! A small hand-built [`Report`] shared by the writers' snapshot tests (test builds only).
//!
//! It holds one check of every verdict, a baseline expected failure, a stale and an unknown
//! baseline entry, an excluded and an unchecked requirement, evidence with `<redacted:…>`
//! markers and a failed request, and text that needs escaping (`<`, `&`, `"`), so that every
//! branch of every writer shows up in some snapshot.

use crate::registry::Level;

use super::{Check, Evidence, Report, RequirementResult, Summary, Target, Verdict};

const BASE: &str = "http://127.0.0.1:8080";

pub(crate) fn report() -> Report {
    Report {
        schema: super::SCHEMA.to_owned(),
        suite_version: "0.1.0".to_owned(),
        spec_revision: super::SPEC_REVISION.to_owned(),
        target: Target {
            mcp_url: format!("{BASE}/alpha/mcp"),
            base_url: BASE.to_owned(),
            profile: "reference.toml".to_owned(),
            login_driver: "form".to_owned(),
            time: "test-clock".to_owned(),
        },
        started_at: "2026-08-25T10:00:00Z".to_owned(),
        duration_ms: 12_345,
        seed: "0x5eed0c0ffee15bad".to_owned(),
        checks: checks(),
        requirements: requirements(),
        summary: Summary {
            pass: 3,
            fail: 1,
            warn: 1,
            not_applicable: 1,
            not_testable: 1,
            expected_failures: 1,
            stale_baseline: vec!["DISC-01".to_owned()],
            unknown_baseline: vec!["DISC-99".to_owned()],
            not_testable_fails: true,
            passed: 5,
            failed: 4,
        },
    }
}

fn check(
    id: &str,
    scenario: &str,
    requirements: &[&str],
    level: Level,
    verdict: Verdict,
    reason: Option<&str>,
) -> Check {
    Check {
        id: id.to_owned(),
        area: id.split(':').next().unwrap_or_default().to_owned(),
        scenario: scenario.to_owned(),
        requirements: requirements.iter().map(|r| (*r).to_owned()).collect(),
        level,
        verdict,
        reason: reason.map(str::to_owned),
        expected_failure: None,
        duration_ms: 42,
        evidence: Vec::new(),
    }
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn get(path: &str, status: u16, body: &str) -> Evidence {
    Evidence {
        method: "GET".to_owned(),
        url: format!("{BASE}{path}"),
        request_headers: headers(&[("accept", "application/json")]),
        request_body: None,
        status: Some(status),
        response_headers: headers(&[("content-type", "application/json")]),
        response_body: Some(body.to_owned()),
        error: None,
    }
}

fn checks() -> Vec<Check> {
    let prm = "/.well-known/oauth-protected-resource/alpha/mcp";
    let asm = "/.well-known/oauth-authorization-server";

    let mut prm_served = check(
        "discovery:7",
        "PRM is served without credentials",
        &["DISC-01"],
        Level::Must,
        Verdict::Pass,
        None,
    );
    prm_served.evidence = vec![get(
        prm,
        200,
        r#"{"resource":"http://127.0.0.1:8080/","authorization_servers":["http://127.0.0.1:8080/"]}"#,
    )];

    let mut prm_resource = check(
        "discovery:15",
        "PRM resource equals the MCP URL",
        &["DISC-04", "DISC-05"],
        Level::Must,
        Verdict::Fail,
        Some(
            "DISC-04: PRM \"resource\" must equal the MCP URL <http://127.0.0.1:8080/alpha/mcp> & \
             nothing else, got \"http://127.0.0.1:8080/\"\nstep: Then the PRM resource is the MCP URL",
        ),
    );
    prm_resource.evidence = prm_served.evidence.clone();

    let mut issuer = check(
        "discovery:23",
        "AS metadata issuer is the gateway origin",
        &["DISC-10"],
        Level::Must,
        Verdict::Fail,
        Some("DISC-10: issuer \"http://127.0.0.1:8080/\" has a trailing slash"),
    );
    issuer.expected_failure = Some("issuer has a trailing slash; fix tracked in OURS-123".into());
    issuer.evidence = vec![get(
        asm,
        200,
        r#"{"issuer":"http://127.0.0.1:8080/","token_endpoint":"http://127.0.0.1:8080/token"}"#,
    )];

    let iss_supported = check(
        "discovery:31",
        "AS metadata advertises the iss response parameter",
        &["DISC-12"],
        Level::Should,
        Verdict::Warn,
        Some(
            "DISC-12: authorization_response_iss_parameter_supported is absent (RFC 9207 §3 \
             SHOULD); clients that enforce RFC 9207 cannot tell a mix-up attack from this server, \
             so the check warns instead of failing because the requirement is a SHOULD",
        ),
    );

    let mut token = check(
        "token:12",
        "The code is exchanged for an access token",
        &["TOKEN-02"],
        Level::Must,
        Verdict::Pass,
        None,
    );
    token.evidence = vec![Evidence {
        method: "POST".to_owned(),
        url: format!("{BASE}/token"),
        request_headers: headers(&[("content-type", "application/x-www-form-urlencoded")]),
        request_body: Some(
            "grant_type=authorization_code&code=<redacted:code>&code_verifier=<redacted:code_verifier>&resource=http%3A%2F%2F127.0.0.1%3A8080%2Falpha%2Fmcp".to_owned(),
        ),
        status: Some(200),
        response_headers: headers(&[
            ("content-type", "application/json"),
            ("cache-control", "no-store"),
        ]),
        response_body: Some(
            r#"{"access_token":"<redacted:jwt>","token_type":"Bearer","expires_in":3600}"#
                .to_owned(),
        ),
        error: None,
    }];

    let refresh = check(
        "token:40",
        "The refresh token rotates",
        &["TOKEN-09"],
        Level::Must,
        Verdict::NotApplicable,
        Some("the authorization server metadata does not advertise the refresh_token grant"),
    );

    let mut bearer = check(
        "bearer:5",
        "A valid token reaches the MCP endpoint",
        &["BEARER-01"],
        Level::Must,
        Verdict::Pass,
        None,
    );
    bearer.evidence = vec![
        Evidence {
            method: "POST".to_owned(),
            url: format!("{BASE}/alpha/mcp"),
            request_headers: headers(&[
                ("authorization", "Bearer <redacted:jwt>"),
                ("content-type", "application/json"),
            ]),
            request_body: Some(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#.to_owned()),
            status: Some(200),
            response_headers: headers(&[("content-type", "application/json")]),
            response_body: Some(r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}"#.to_owned()),
            error: None,
        },
        Evidence {
            method: "GET".to_owned(),
            url: format!("{BASE}/alpha/mcp?probe=<redacted:secret>"),
            request_headers: Vec::new(),
            request_body: None,
            status: None,
            response_headers: Vec::new(),
            response_body: None,
            error: Some("connection closed before message completed".to_owned()),
        },
    ];

    let expired = check(
        "bearer:20",
        "An expired token is refused",
        &["BEARER-06"],
        Level::Must,
        Verdict::NotTestable,
        Some("the profile gives no way to move time (time = none)"),
    );

    vec![
        prm_served,
        prm_resource,
        issuer,
        iss_supported,
        token,
        refresh,
        bearer,
        expired,
    ]
}

fn requirement(
    id: &str,
    level: Level,
    group: &str,
    summary: &str,
    verdict: Option<Verdict>,
    checks: &[&str],
) -> RequirementResult {
    RequirementResult {
        id: id.to_owned(),
        level,
        group: group.to_owned(),
        area: match id.split('-').next() {
            Some("DISC") => "discovery",
            Some("TOKEN") => "token",
            _ => "bearer",
        }
        .to_owned(),
        summary: summary.to_owned(),
        source: "RFC 9728 §3".to_owned(),
        url: Some("https://www.rfc-editor.org/rfc/rfc9728#section-3".to_owned()),
        verdict,
        excluded: None,
        expected_failure: None,
        checks: checks.iter().map(|c| (*c).to_owned()).collect(),
    }
}

fn requirements() -> Vec<RequirementResult> {
    use Verdict::*;
    let mut disc01 = requirement(
        "DISC-01",
        Level::Must,
        "spec",
        "Serve protected resource metadata without credentials",
        Some(Pass),
        &["discovery:7"],
    );
    disc01.expected_failure = Some("PRM used to need a key".to_owned());
    let mut disc10 = requirement(
        "DISC-10",
        Level::Must,
        "spec",
        "AS metadata issuer equals the URL it was fetched from, minus the well-known suffix",
        Some(Fail),
        &["discovery:23"],
    );
    disc10.expected_failure = Some("issuer has a trailing slash; fix tracked in OURS-123".into());
    let mut disc13 = requirement(
        "DISC-13",
        Level::May,
        "spec",
        "Several authorization servers may be listed",
        None,
        &[],
    );
    disc13.excluded = Some("needs a second authorization server & a client choice".to_owned());
    disc13.url = None;
    vec![
        disc01,
        requirement(
            "DISC-04",
            Level::Must,
            "spec",
            "PRM resource is the MCP server's canonical URI",
            Some(Fail),
            &["discovery:15"],
        ),
        requirement(
            "DISC-05",
            Level::Must,
            "spec",
            "PRM is reachable at the path-inserted well-known URL",
            Some(Fail),
            &["discovery:15"],
        ),
        disc10,
        requirement(
            "DISC-12",
            Level::Should,
            "spec",
            "Advertise authorization_response_iss_parameter_supported",
            Some(Warn),
            &["discovery:31"],
        ),
        disc13,
        requirement(
            "TOKEN-02",
            Level::Must,
            "spec",
            "Exchange a valid code with its verifier for an access token",
            Some(Pass),
            &["token:12"],
        ),
        requirement(
            "TOKEN-09",
            Level::Must,
            "spec",
            "Rotate refresh tokens for public clients",
            Some(NotApplicable),
            &["token:40"],
        ),
        requirement(
            "TOKEN-12",
            Level::Interop,
            "guide",
            "Accept the resource parameter on the token request",
            None,
            &[],
        ),
        requirement(
            "BEARER-01",
            Level::Must,
            "spec",
            "Accept a valid bearer token in the Authorization header",
            Some(Pass),
            &["bearer:5"],
        ),
        requirement(
            "BEARER-06",
            Level::Must,
            "guide",
            "Refuse an expired access token with 401 invalid_token",
            Some(NotTestable),
            &["bearer:20"],
        ),
    ]
}
