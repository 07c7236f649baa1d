//! The `interactive` login driver: a person logs in with a real browser.
//!
//! Like a real MCP client (OAuth 2.1 §8.4.2, loopback redirection), it listens on
//! `127.0.0.1:<port>`, prints the authorization URL, and waits for the browser to arrive at the
//! `redirect_uri`. One login at a time: concurrent scenarios queue on a lock.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::Mutex;
use url::Url;

use super::{AuthorizationOutcome, LoginAction, is_redirect_uri, redirect_outcome};

/// How long a person has to log in.
const TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug)]
pub struct InteractiveDriver {
    port: u16,
    one_at_a_time: Mutex<()>,
}

impl InteractiveDriver {
    pub fn new(port: u16) -> InteractiveDriver {
        InteractiveDriver {
            port,
            one_at_a_time: Mutex::new(()),
        }
    }

    pub async fn authorize(
        &self,
        url: &Url,
        redirect_uri: &Url,
        action: LoginAction,
    ) -> Result<AuthorizationOutcome, String> {
        let _turn = self.one_at_a_time.lock().await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .map_err(|e| {
                format!(
                    "cannot listen on 127.0.0.1:{} for the callback: {e}",
                    self.port
                )
            })?;
        let what = match action {
            LoginAction::Approve => "log in and APPROVE",
            LoginAction::Deny => "log in and DENY",
        };
        eprintln!("\n>>> Open this URL in a browser, {what}:\n>>> {url}\n");
        let wait = async {
            loop {
                let (mut socket, _) = listener
                    .accept()
                    .await
                    .map_err(|e| format!("accepting the callback: {e}"))?;
                let mut buf = vec![0u8; 16 * 1024];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                let target = head
                    .lines()
                    .next()
                    .and_then(|l| l.split_whitespace().nth(1))
                    .unwrap_or("/");
                let Ok(callback) = redirect_uri.join(target) else {
                    continue;
                };
                let body = "The conformance suite received the callback. You can close this tab.";
                let _ = socket
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
                if is_redirect_uri(&callback, redirect_uri) {
                    return Ok(redirect_outcome(callback, None));
                }
            }
        };
        tokio::time::timeout(TIMEOUT, wait)
            .await
            .map_err(|_| format!("no browser came back within {}s", TIMEOUT.as_secs()))?
    }
}
