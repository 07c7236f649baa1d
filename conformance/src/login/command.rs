//! The `command` login driver: the operator scripts the login.
//!
//! The command runs under `sh -c` with the authorization URL in `$MCP_AUTHORIZE_URL` (and `{url}`
//! in the command text replaced by it, shell-quoted), the expected `redirect_uri` in
//! `$MCP_REDIRECT_URI`, and `approve` or `deny` in `$MCP_LOGIN_ACTION`. Its last non-empty line
//! of standard output must be the URL the browser was sent to (the callback URL with `code` and
//! `state`). Standard error passes through to the operator.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt as _;
use url::Url;

use super::{AuthorizationOutcome, LoginAction, is_redirect_uri, redirect_outcome};

/// How long a login script may take.
const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug)]
pub struct CommandDriver {
    command: String,
}

impl CommandDriver {
    pub fn new(command: String) -> CommandDriver {
        CommandDriver { command }
    }

    pub async fn authorize(
        &self,
        url: &Url,
        redirect_uri: &Url,
        action: LoginAction,
    ) -> Result<AuthorizationOutcome, String> {
        let quoted = format!("'{}'", url.as_str().replace('\'', r"'\''"));
        let text = self.command.replace("{url}", &quoted);
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&text)
            .env("MCP_AUTHORIZE_URL", url.as_str())
            .env("MCP_REDIRECT_URI", redirect_uri.as_str())
            .env(
                "MCP_LOGIN_ACTION",
                match action {
                    LoginAction::Approve => "approve",
                    LoginAction::Deny => "deny",
                },
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("login command could not start: {e}"))?;
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| "login command has no standard output".to_owned())?;
        let run = async {
            let mut out = String::new();
            stdout
                .read_to_string(&mut out)
                .await
                .map_err(|e| format!("reading the login command's output: {e}"))?;
            let status = child
                .wait()
                .await
                .map_err(|e| format!("waiting for the login command: {e}"))?;
            Ok::<_, String>((out, status))
        };
        let (out, status) = tokio::time::timeout(TIMEOUT, run)
            .await
            .map_err(|_| format!("login command did not finish within {}s", TIMEOUT.as_secs()))??;
        if !status.success() {
            return Err(format!("login command exited with {status}"));
        }
        parse_callback(&out, redirect_uri)
    }
}

/// The outcome named by the command's last non-empty output line.
fn parse_callback(out: &str, redirect_uri: &Url) -> Result<AuthorizationOutcome, String> {
    let last = out
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .ok_or_else(|| {
            "login command printed nothing; it must print the callback URL".to_owned()
        })?;
    let url = Url::parse(last).map_err(|e| {
        format!("login command's last line is not a URL ({e}); it must print the callback URL")
    })?;
    if !is_redirect_uri(&url, redirect_uri) {
        return Err(format!(
            "login command printed a URL that is not the redirect_uri {redirect_uri}: {}",
            url.origin().ascii_serialization()
        ));
    }
    Ok(redirect_outcome(url, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_last_line_is_the_callback() {
        let redirect = Url::parse("http://127.0.0.1:8976/callback").unwrap();
        let d = CommandDriver::new(
            "echo working >&2; echo noise; echo \"$MCP_REDIRECT_URI?code=c1&state=$MCP_LOGIN_ACTION\"".into(),
        );
        let url = Url::parse("http://gw/oauth/authorize?x=1").unwrap();
        let out = d
            .authorize(&url, &redirect, LoginAction::Approve)
            .await
            .unwrap();
        assert_eq!(out.code(), Some("c1"));
        assert_eq!(out.state(), Some("approve"));
    }

    #[tokio::test]
    async fn failures_say_why() {
        let redirect = Url::parse("http://127.0.0.1:8976/callback").unwrap();
        let url = Url::parse("http://gw/a").unwrap();
        let err = CommandDriver::new("exit 3".into())
            .authorize(&url, &redirect, LoginAction::Approve)
            .await
            .unwrap_err();
        assert!(err.contains("exited"), "{err}");
        let err = CommandDriver::new("echo https://evil.example/cb?code=1".into())
            .authorize(&url, &redirect, LoginAction::Approve)
            .await
            .unwrap_err();
        assert!(err.contains("not the redirect_uri"), "{err}");
        let err = CommandDriver::new("echo {url}".into())
            .authorize(&url, &redirect, LoginAction::Approve)
            .await
            .unwrap_err();
        assert!(err.contains("not the redirect_uri"), "{err}");
    }
}
