//! The guide's four steps, once, end to end.

use serde_json::json;

use crate::support::*;

/// Guide "Flow overview" steps 1–4 with the RFC 7636 Appendix B pair.
#[tokio::test]
async fn guide_flow_register_authorize_login_exchange_call() {
    let gw = TestGateway::start().await;
    let tokens = gw.oauth_tokens(ALICE, Some(RESEARCH)).await;
    assert_eq!(tokens.body["token_type"], "Bearer");
    assert_eq!(tokens.body["expires_in"], 3600);
    let response = gw
        .mcp(
            RESEARCH,
            Some(&tokens.access_token),
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let who = gw.whoami(RESEARCH, &tokens.access_token).await;
    assert_eq!(who["bearer_type"], "oauth");
    assert_eq!(who["user"], "alice");
}
