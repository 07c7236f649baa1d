//! `grant_type=refresh_token` (REFRESH-01..07, OAuth 2.1 §4.3): rotation on every use, reuse
//! detection that revokes the whole family (refresh and access tokens of the grant), binding to
//! the client, to the grant's scope and to its resource, the 14-day idle expiry (moved with the
//! manual clock), concurrent reuse, and the request errors. Turning refresh tokens off, and
//! clients registered without the refresh grant, are in `token.rs`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

const DAY: u64 = 24 * 3600;

// ---------------------------------------------------------------------------------------------
// Helpers of this module.

/// `grant_type=refresh_token` for `client_id`, plus `extra`.
async fn refresh(
    gw: &TestGateway,
    client_id: &str,
    refresh_token: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client_id),
    ];
    form.extend_from_slice(extra);
    gw.token_request(&form).await
}

/// The access and refresh tokens of a successful response.
fn pair(body: &Value) -> (String, String) {
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"]
            .as_str()
            .expect("a refresh token")
            .to_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// Rotation and reuse.

/// REFRESH-02 (OAuth 2.1 §4.3.1: refresh tokens of public clients are rotated): a refresh gives
/// 200 with a new access token that works, carrying the same user, client and audience, and a new
/// refresh token different from the old one.
#[tokio::test]
async fn refresh_02_refresh_rotates_and_issues_a_working_access_token() {
    let gw = TestGateway::start().await;
    let tokens = gw.oauth_tokens(ALICE, Some(RESEARCH)).await;
    let rt1 = tokens.refresh_token.clone().unwrap();
    let body = token_ok(refresh(&gw, &tokens.client_id, &rt1, &[]).await).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "mcp");
    let (at2, rt2) = pair(&body);
    assert_ne!(rt2, rt1, "a new refresh token");
    assert_ne!(at2, tokens.access_token, "a new access token");
    insta::assert_json_snapshot!(gw.normalize(&body), {
        ".access_token" => "[access_token]",
        ".refresh_token" => "[refresh_token]",
    }, @r#"
    {
      "access_token": "[access_token]",
      "expires_in": 3600,
      "refresh_token": "[refresh_token]",
      "scope": "mcp",
      "token_type": "Bearer"
    }
    "#);

    let old = jwt_parts(&tokens.access_token).1;
    let new = jwt_parts(&at2).1;
    for claim in ["iss", "sub", "client_id", "aud", "scope"] {
        assert_eq!(new[claim], old[claim], "{claim}");
    }
    assert_ne!(new["jti"], old["jti"]);
    assert_eq!(
        new["exp"].as_u64().unwrap(),
        new["iat"].as_u64().unwrap() + 3600
    );
    assert_token_works(&gw, RESEARCH, &at2).await;
    assert_token_refused(&gw, WRITER, &at2).await;
    let who = gw.whoami(RESEARCH, &at2).await;
    assert_eq!(who["user"], "alice");
    assert_eq!(who["client_id"], tokens.client_id.as_str());

    // Rotation alone revokes nothing: the earlier access token lives until it expires, and the
    // new refresh token can be used in turn.
    assert_token_works(&gw, RESEARCH, &tokens.access_token).await;
    let (_, rt3) = pair(&token_ok(refresh(&gw, &tokens.client_id, &rt2, &[]).await).await);
    assert_ne!(rt3, rt2);
}

/// REFRESH-02 (OAuth 2.1 §4.3.1, MCP security "Token Theft"): presenting a rotated refresh token
/// is `invalid_grant` and revokes the family: the newest refresh token fails too, and every access
/// token of the grant (including the one just refreshed) gets 401 `invalid_token`.
#[tokio::test]
async fn refresh_02_reuse_of_rotated_token_revokes_the_family() {
    let gw = TestGateway::start().await;
    let tokens = gw.oauth_tokens(ALICE, None).await;
    let client_id = tokens.client_id.as_str();
    let at1 = tokens.access_token.clone();
    let rt1 = tokens.refresh_token.clone().unwrap();
    let (at2, rt2) = pair(&token_ok(refresh(&gw, client_id, &rt1, &[]).await).await);
    assert_token_works(&gw, RESEARCH, &at1).await;
    assert_token_works(&gw, RESEARCH, &at2).await;

    // Another grant of the same user and client must not be touched.
    let unrelated = gw.oauth_tokens(ALICE, None).await;

    assert_oauth_error(
        refresh(&gw, client_id, &rt1, &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert_oauth_error(
        refresh(&gw, client_id, &rt2, &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    for token in [&at1, &at2] {
        assert_token_refused(&gw, RESEARCH, token).await;
        assert_token_refused(&gw, WRITER, token).await;
    }
    assert_token_works(&gw, RESEARCH, &unrelated.access_token).await;
    token_ok(
        refresh(
            &gw,
            &unrelated.client_id,
            unrelated.refresh_token.as_deref().unwrap(),
            &[],
        )
        .await,
    )
    .await;
}

/// REFRESH-02 (OAuth 2.1 §4.3.1): two (or sixteen) simultaneous refreshes with the same token give
/// at most one 200; the others are `invalid_grant`, and a lost race is a reuse, so the family is
/// revoked: the winner's refresh token and access token stop working.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_02_concurrent_reuse_has_at_most_one_winner_and_revokes() {
    let gw = TestGateway::start().await;
    for n in [2usize, 16] {
        let tokens = gw.oauth_tokens(ALICE, None).await;
        let rt = tokens.refresh_token.clone().unwrap();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
            ("client_id", tokens.client_id.as_str()),
        ];
        let results = race_token_requests(&gw, &form, n).await;
        let winners: Vec<&Value> = results
            .iter()
            .filter(|(s, _)| *s == StatusCode::OK)
            .map(|(_, b)| b)
            .collect();
        assert!(winners.len() <= 1, "{n} racers: {} winners", winners.len());
        for (status, body) in results.iter().filter(|(s, _)| *s != StatusCode::OK) {
            assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(body["error"], "invalid_grant", "{body}");
            assert!(body.get("access_token").is_none());
            assert!(body.get("refresh_token").is_none());
        }
        if let Some(winner) = winners.first() {
            let (at, rt) = pair(winner);
            assert_oauth_error(
                refresh(&gw, &tokens.client_id, &rt, &[]).await,
                StatusCode::BAD_REQUEST,
                "invalid_grant",
            )
            .await;
            assert_token_refused(&gw, RESEARCH, &at).await;
        }
        assert_token_refused(&gw, RESEARCH, &tokens.access_token).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Bindings.

/// REFRESH-03 (OAuth 2.1 §4.3.1: "the refresh token was issued to the authenticated client"):
/// another registered client presenting the token gets `invalid_grant` and nothing else happens:
/// the rightful client can still refresh and its access token still works.
#[tokio::test]
async fn refresh_03_refresh_token_is_bound_to_its_client() {
    let gw = TestGateway::start().await;
    let tokens = gw.oauth_tokens(ALICE, None).await;
    let rt = tokens.refresh_token.clone().unwrap();
    let thief = gw.register(&[REDIRECT]).await;
    assert_oauth_error(
        refresh(&gw, &thief, &rt, &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert_token_works(&gw, RESEARCH, &tokens.access_token).await;
    let body = token_ok(refresh(&gw, &tokens.client_id, &rt, &[]).await).await;
    let (at, _) = pair(&body);
    assert_eq!(jwt_parts(&at).1["client_id"], tokens.client_id.as_str());

    // An unregistered client_id is not a client at all.
    assert_oauth_error(
        refresh(&gw, "mcp_client_unknown", &rt, &[]).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
}

/// REFRESH-04, REFRESH-07 (OAuth 2.1 §4.3.1: the requested scope must not include any scope not
/// originally granted, `invalid_scope`; MCP "Refresh Tokens": `offline_access` only when
/// advertised, and the gateway does not): `scope=mcp` or no scope → ok with scope `mcp`;
/// `mcp admin`, `admin` or `offline_access` → `invalid_scope`, and the refused attempts do not
/// use up the token.
#[tokio::test]
async fn refresh_04_07_scope_may_not_grow() {
    let gw = TestGateway::start().await;
    let tokens = gw.oauth_tokens(ALICE, None).await;
    let client_id = tokens.client_id.as_str();
    let rt = tokens.refresh_token.clone().unwrap();
    for scope in ["mcp admin", "admin", "offline_access", "mcp offline_access"] {
        assert_oauth_error(
            refresh(&gw, client_id, &rt, &[("scope", scope)]).await,
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        )
        .await;
    }
    let body = token_ok(refresh(&gw, client_id, &rt, &[("scope", "mcp")]).await).await;
    assert_eq!(body["scope"], "mcp");
    let (at, rt2) = pair(&body);
    assert_eq!(jwt_parts(&at).1["scope"], "mcp");
    assert_token_works(&gw, RESEARCH, &at).await;

    let body = token_ok(refresh(&gw, client_id, &rt2, &[]).await).await;
    assert_eq!(body["scope"], "mcp");
}

/// REFRESH-05, AUD-04 (RFC 8707 §2.2; OAuth 2.1 §4.3): a refresh token of a grant for
/// research-agent cannot yield a token for writer-agent, ops-agent, the whole gateway or an
/// unknown agent (`invalid_target`, token not used up); with `resource=research-agent` or no
/// `resource` the new token's `aud` stays research-agent.
#[tokio::test]
async fn refresh_05_refresh_token_is_bound_to_its_resource() {
    let gw = TestGateway::start().await;
    let tokens = gw.oauth_tokens(ALICE, Some(RESEARCH)).await;
    let client_id = tokens.client_id.as_str();
    let rt = tokens.refresh_token.clone().unwrap();
    let research = gw.agent_url(RESEARCH);
    for other in [
        gw.agent_url(WRITER),
        gw.agent_url(OPS),
        gw.base.clone(),
        gw.agent_url("no-such-agent"),
        format!("{research}#frag"),
    ] {
        assert_oauth_error(
            refresh(&gw, client_id, &rt, &[("resource", &other)]).await,
            StatusCode::BAD_REQUEST,
            "invalid_target",
        )
        .await;
    }
    let body = token_ok(refresh(&gw, client_id, &rt, &[("resource", &research)]).await).await;
    let (at, rt2) = pair(&body);
    assert_eq!(jwt_parts(&at).1["aud"], research.as_str());
    assert_token_works(&gw, RESEARCH, &at).await;
    assert_token_refused(&gw, WRITER, &at).await;

    let body = token_ok(refresh(&gw, client_id, &rt2, &[]).await).await;
    let (at, rt3) = pair(&body);
    assert_eq!(jwt_parts(&at).1["aud"], research.as_str());

    // The binding survives rotation: the newest token is still refused for writer-agent.
    assert_oauth_error(
        refresh(&gw, client_id, &rt3, &[("resource", &gw.agent_url(WRITER))]).await,
        StatusCode::BAD_REQUEST,
        "invalid_target",
    )
    .await;
}

/// REFRESH-05, AUD-04 (RFC 8707 §2.2; decided in token.rs `requested_audience`): a refresh token
/// of a grant without `resource` may ask for a token narrowed to one of the user's agents, never
/// for another user's agent; the narrowing does not narrow the grant itself.
#[tokio::test]
async fn refresh_05_unrestricted_grant_narrows_only_to_owned_agents() {
    let gw = TestGateway::start().await;
    let tokens = gw.oauth_tokens(ALICE, None).await;
    let client_id = tokens.client_id.as_str();
    let rt = tokens.refresh_token.clone().unwrap();
    assert_oauth_error(
        refresh(&gw, client_id, &rt, &[("resource", &gw.agent_url(OPS))]).await,
        StatusCode::BAD_REQUEST,
        "invalid_target",
    )
    .await;
    let writer = gw.agent_url(WRITER);
    let body = token_ok(refresh(&gw, client_id, &rt, &[("resource", &writer)]).await).await;
    let (at, rt2) = pair(&body);
    assert_eq!(jwt_parts(&at).1["aud"], writer.as_str());
    assert_token_works(&gw, WRITER, &at).await;
    assert_token_refused(&gw, RESEARCH, &at).await;

    let body = token_ok(refresh(&gw, client_id, &rt2, &[]).await).await;
    let (at, _) = pair(&body);
    assert_eq!(
        jwt_parts(&at).1["aud"],
        gw.base.as_str(),
        "without resource, the grant's own audience: the whole gateway"
    );
    assert_token_works(&gw, RESEARCH, &at).await;
}

// ---------------------------------------------------------------------------------------------
// Expiry.

/// REFRESH-06 (OAuth 2.1 §4.3.1 "Refresh Token Recommendations": expire after inactivity; the
/// reference uses 14 days): unused for 14 days, the refresh token is `invalid_grant`; one second
/// earlier it still works.
#[tokio::test]
async fn refresh_06_refresh_token_expires_after_14_idle_days() {
    let gw = TestGateway::start().await;
    let early = gw.oauth_tokens(ALICE, None).await;
    let late = gw.oauth_tokens(ALICE, None).await;
    gw.advance(14 * DAY - 1);
    token_ok(
        refresh(
            &gw,
            &early.client_id,
            early.refresh_token.as_deref().unwrap(),
            &[],
        )
        .await,
    )
    .await;
    gw.advance(1);
    assert_oauth_error(
        refresh(
            &gw,
            &late.client_id,
            late.refresh_token.as_deref().unwrap(),
            &[],
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}

/// REFRESH-06 (OAuth 2.1 §4.3.1: inactivity, not age): each refresh resets the idle period, so a
/// family refreshed every 13 days lives on past 14 days from the first issue.
#[tokio::test]
async fn refresh_06_each_refresh_resets_the_idle_period() {
    let gw = TestGateway::start().await;
    let tokens = gw.oauth_tokens(ALICE, None).await;
    let client_id = tokens.client_id.as_str();
    gw.advance(13 * DAY);
    let body = token_ok(
        refresh(
            &gw,
            client_id,
            tokens.refresh_token.as_deref().unwrap(),
            &[],
        )
        .await,
    )
    .await;
    let (_, rt2) = pair(&body);
    gw.advance(13 * DAY);
    let body = token_ok(refresh(&gw, client_id, &rt2, &[]).await).await;
    let (at3, rt3) = pair(&body);
    assert_token_works(&gw, RESEARCH, &at3).await;
    gw.advance(14 * DAY);
    assert_oauth_error(
        refresh(&gw, client_id, &rt3, &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Request errors.

/// REFRESH-02, TOKEN-04 (OAuth 2.1 §4.3.1, §3.2.4): `refresh_token` missing or empty →
/// `invalid_request`; a token the server never issued → `invalid_grant`; every answer is
/// `Cache-Control: no-store` (checked by the helpers).
#[tokio::test]
async fn refresh_02_missing_or_unknown_refresh_token() {
    let gw = TestGateway::start().await;
    let tokens = gw.oauth_tokens(ALICE, None).await;
    let client_id = tokens.client_id.as_str();
    let response = gw
        .token_request(&[("grant_type", "refresh_token"), ("client_id", client_id)])
        .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_oauth_error(
        refresh(&gw, client_id, "", &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    for unknown in [
        "not-a-refresh-token",
        tokens.access_token.as_str(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert_oauth_error(
            refresh(&gw, client_id, unknown, &[]).await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        )
        .await;
    }
    // None of that disturbed the genuine token.
    token_ok(
        refresh(
            &gw,
            client_id,
            tokens.refresh_token.as_deref().unwrap(),
            &[],
        )
        .await,
    )
    .await;
}

/// REFRESH-02 with bounded storage (OAuth 2.1 §4.3.1; store::RefreshFamily): rotating a refresh
/// token replaces the grant's one record instead of leaving retired tokens behind, so refreshing in
/// a loop cannot fill the store; and the first token is still recognised as a reuse afterwards.
#[tokio::test]
async fn refresh_02_rotation_keeps_one_record_per_grant() {
    let gw = TestGateway::start().await;
    let tokens = gw.oauth_tokens(ALICE, Some(RESEARCH)).await;
    let first = tokens.refresh_token.clone().unwrap();
    let mut current = first.clone();
    for _ in 0..5 {
        let body = token_ok(refresh(&gw, &tokens.client_id, &current, &[]).await).await;
        current = pair(&body).1;
        assert_eq!(gw.store.sizes().refresh_families, 1);
    }
    assert_oauth_error(
        refresh(&gw, &tokens.client_id, &first, &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert_eq!(
        gw.store.sizes().refresh_families,
        0,
        "the reuse revoked the family"
    );
}

/// REFRESH-02 (OAuth 2.1 §4.3.1): reuse of a retired refresh token is detected before any other
/// check, so a thief cannot dodge the revocation by sending an otherwise invalid request (here an
/// over-broad `scope`): the answer is `invalid_grant` and the rightful client's new token is dead.
#[tokio::test]
async fn refresh_02_reuse_is_detected_before_other_checks() {
    let gw = TestGateway::start().await;
    let tokens = gw.oauth_tokens(ALICE, Some(RESEARCH)).await;
    let old = tokens.refresh_token.clone().unwrap();
    let body = token_ok(refresh(&gw, &tokens.client_id, &old, &[]).await).await;
    let (_, newest) = pair(&body);
    assert_oauth_error(
        refresh(&gw, &tokens.client_id, &old, &[("scope", "mcp admin")]).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert_oauth_error(
        refresh(&gw, &tokens.client_id, &newest, &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}
