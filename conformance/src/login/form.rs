//! The `form` login driver: a browser without a browser.
//!
//! It walks the authorization request the way a user agent would: follow each redirect (never to
//! the `redirect_uri` itself, whose `Location` is the answer), parse any HTML page with a real
//! HTML parser (`scraper`, html5ever underneath), find the login or consent form, fill it, submit
//! it, and go on. Cookies are kept in a small per-login jar, scoped by host, because login pages
//! bind their CSRF token to a cookie. An authorization endpoint that redirects at once with a code
//! (no login page) is handled by the same loop.

use std::collections::BTreeMap;

use reqwest::Method;
use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::{AuthorizationOutcome, LoginAction, is_redirect_uri, redirect_outcome};
use crate::http::{Exchange, Http, Request};
use crate::profile::Profile;

/// Redirects and form posts one login may take before the driver gives up.
const MAX_HOPS: usize = 12;

#[derive(Clone, Debug, Default)]
pub struct FormDriver {
    username: Option<String>,
    password: Option<String>,
    username_field: Option<String>,
    password_field: Option<String>,
    approve_button: Option<String>,
    deny_button: Option<String>,
}

/// A form as parsed from a page, ready to submit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedForm {
    pub method: Method,
    pub action: Url,
    /// Successful controls in document order: hidden, text, checked boxes, selects (first or
    /// selected option), textareas.
    pub fields: Vec<Field>,
    /// Submit buttons: `(name, value, label)`.
    pub submits: Vec<(Option<String>, String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub value: String,
    /// `text`, `password`, `hidden`, `email`, …
    pub kind: String,
}

impl ParsedForm {
    pub fn has_password(&self) -> bool {
        self.fields.iter().any(|f| f.kind == "password")
    }
}

impl FormDriver {
    pub fn from_profile(p: &Profile) -> FormDriver {
        FormDriver {
            username: p.username.clone(),
            password: p.password.clone(),
            username_field: p.username_field.clone(),
            password_field: p.password_field.clone(),
            approve_button: p.approve_button.clone(),
            deny_button: p.deny_button.clone(),
        }
    }

    pub async fn authorize(
        &self,
        http: &Http,
        start: &Url,
        redirect_uri: &Url,
        action: LoginAction,
        evidence: &mut Vec<Exchange>,
    ) -> Result<AuthorizationOutcome, String> {
        let mut jar = Jar::default();
        let mut next = Request::get(start.as_str());
        let mut current = start.clone();
        let mut submitted_password = false;
        let mut submitted_any = false;
        for _ in 0..MAX_HOPS {
            let req = match jar.header_for(&current) {
                Some(c) => next.header("Cookie", c),
                None => next,
            };
            let exchange = http.send(req).await;
            evidence.push(exchange.clone());
            let resp = exchange.response()?;
            jar.store(&current, resp.headers_named("set-cookie"));
            if resp.is_redirect() {
                let Some(location) = exchange.location() else {
                    return Err(format!(
                        "{} without a usable Location header",
                        exchange.line()
                    ));
                };
                if is_redirect_uri(&location, redirect_uri) {
                    if action == LoginAction::Deny && !submitted_any {
                        return Err(format!(
                            "{}the authorization endpoint answered without a page to deny on (it approves at once)",
                            crate::steps::NOT_TESTABLE
                        ));
                    }
                    return Ok(redirect_outcome(location, Some(resp.status)));
                }
                current = location;
                next = Request::get(current.as_str());
                continue;
            }
            let forms = parse_forms(&resp.body, &current);
            let form = forms
                .iter()
                .find(|f| f.has_password())
                .or_else(|| forms.iter().find(|f| !f.submits.is_empty()));
            let Some(form) = form.filter(|_| (200..300).contains(&resp.status)) else {
                return Ok(AuthorizationOutcome::Page {
                    status: resp.status,
                    url: current,
                    excerpt: visible_text(&resp.body, 200),
                });
            };
            if form.has_password() {
                if submitted_password {
                    return Err(format!(
                        "the login form came back after submitting the profile's credentials (wrong login.username/login.password, or a field the driver did not fill; page says {:?})",
                        visible_text(&resp.body, 160)
                    ));
                }
                submitted_password = true;
            }
            let pairs = self.fill(form, action)?;
            submitted_any = true;
            current = form.action.clone();
            next = if form.method == Method::GET {
                let mut url = form.action.clone();
                url.query_pairs_mut().clear().extend_pairs(pairs.iter());
                current = url.clone();
                Request::get(url.as_str())
            } else {
                Request::post(form.action.as_str()).form(&pairs)
            };
        }
        Err(format!(
            "no redirect to the redirect_uri after {MAX_HOPS} requests (a redirect loop or a multi-page login the form driver cannot do; use the command driver)"
        ))
    }

    /// The name/value pairs a user would submit.
    fn fill(
        &self,
        form: &ParsedForm,
        action: LoginAction,
    ) -> Result<Vec<(String, String)>, String> {
        let mut pairs = Vec::new();
        let user_field = self.username_field.clone().or_else(|| {
            form.fields
                .iter()
                .find(|f| matches!(f.kind.as_str(), "text" | "email") && !f.name.is_empty())
                .map(|f| f.name.clone())
        });
        let password_field = self.password_field.clone().or_else(|| {
            form.fields
                .iter()
                .find(|f| f.kind == "password")
                .map(|f| f.name.clone())
        });
        for f in &form.fields {
            let value = if Some(&f.name) == password_field.as_ref() && form.has_password() {
                self.password.clone().ok_or(
                    "the login page asks for a password: set login.password in the profile",
                )?
            } else if Some(&f.name) == user_field.as_ref() && form.has_password() {
                self.username.clone().ok_or(
                    "the login page asks for a username: set login.username in the profile",
                )?
            } else {
                f.value.clone()
            };
            pairs.push((f.name.clone(), value));
        }
        let looks_like_deny = |(name, value, label): &(Option<String>, String, String)| {
            let text =
                format!("{} {value} {label}", name.as_deref().unwrap_or("")).to_ascii_lowercase();
            ["deny", "cancel", "reject", "decline"]
                .iter()
                .any(|w| text.contains(w))
        };
        let matches_configured =
            |wanted: &str, (name, value, label): &(Option<String>, String, String)| {
                name.as_deref() == Some(wanted) || value == wanted || label == wanted
            };
        let submit = match action {
            LoginAction::Approve => match &self.approve_button {
                Some(w) => form.submits.iter().find(|s| matches_configured(w, s)),
                None => form.submits.iter().find(|s| !looks_like_deny(s)),
            },
            LoginAction::Deny => {
                let found = match &self.deny_button {
                    Some(w) => form.submits.iter().find(|s| matches_configured(w, s)),
                    None => form.submits.iter().find(|s| looks_like_deny(s)),
                };
                Some(found.ok_or(
                    "the page has no deny button the driver can find (set login.deny_button)",
                )?)
            }
        };
        if let Some((Some(name), value, _)) = submit {
            pairs.push((name.clone(), value.clone()));
        }
        Ok(pairs)
    }
}

/// Every `<form>` of `html`, with its action resolved against `base`.
pub fn parse_forms(html: &str, base: &Url) -> Vec<ParsedForm> {
    let doc = Html::parse_document(html);
    let (Ok(form_sel), Ok(control_sel)) = (
        Selector::parse("form"),
        Selector::parse("input, button, select, textarea"),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for form in doc.select(&form_sel) {
        let method = match form
            .value()
            .attr("method")
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some("POST") => Method::POST,
            _ => Method::GET,
        };
        let action = match form.value().attr("action").map(str::trim) {
            Some(a) if !a.is_empty() => base.join(a).unwrap_or_else(|_| base.clone()),
            _ => base.clone(),
        };
        let mut fields = Vec::new();
        let mut submits = Vec::new();
        for control in form.select(&control_sel) {
            collect(control, &mut fields, &mut submits);
        }
        out.push(ParsedForm {
            method,
            action,
            fields,
            submits,
        });
    }
    out
}

fn collect(
    el: ElementRef<'_>,
    fields: &mut Vec<Field>,
    submits: &mut Vec<(Option<String>, String, String)>,
) {
    let v = el.value();
    if v.attr("disabled").is_some() {
        return;
    }
    let name = v.attr("name").map(str::to_owned);
    let value = v.attr("value").unwrap_or("").to_owned();
    let label = el.text().collect::<String>().trim().to_owned();
    match v.name() {
        "button" => {
            if matches!(
                v.attr("type").map(str::to_ascii_lowercase).as_deref(),
                None | Some("submit")
            ) {
                submits.push((name, value, label));
            }
        }
        "input" => {
            let kind = v.attr("type").unwrap_or("text").to_ascii_lowercase();
            match kind.as_str() {
                "submit" | "image" => submits.push((name, value.clone(), value)),
                "checkbox" | "radio" => {
                    if let (Some(name), true) = (name, v.attr("checked").is_some()) {
                        let value = if value.is_empty() {
                            "on".to_owned()
                        } else {
                            value
                        };
                        fields.push(Field { name, value, kind });
                    }
                }
                "button" | "reset" | "file" => {}
                _ => {
                    if let Some(name) = name {
                        fields.push(Field { name, value, kind });
                    }
                }
            }
        }
        "select" => {
            if let (Some(name), Ok(opt_sel)) = (name, Selector::parse("option")) {
                let options: Vec<ElementRef<'_>> = el.select(&opt_sel).collect();
                let chosen = options
                    .iter()
                    .find(|o| o.value().attr("selected").is_some())
                    .or(options.first());
                if let Some(o) = chosen {
                    let value = o
                        .value()
                        .attr("value")
                        .map(str::to_owned)
                        .unwrap_or_else(|| o.text().collect::<String>().trim().to_owned());
                    fields.push(Field {
                        name,
                        value,
                        kind: "select".into(),
                    });
                }
            }
        }
        "textarea" => {
            if let Some(name) = name {
                fields.push(Field {
                    name,
                    value: label,
                    kind: "textarea".into(),
                });
            }
        }
        _ => {}
    }
}

/// The first `max` characters of the page's visible text, whitespace collapsed.
pub fn visible_text(html: &str, max: usize) -> String {
    let doc = Html::parse_document(html);
    let text = match Selector::parse("body") {
        Ok(sel) => doc
            .select(&sel)
            .next()
            .map(|b| b.text().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| html.to_owned()),
        Err(_) => html.to_owned(),
    };
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.chars().take(max).collect()
}

/// Cookies of one login, by host (RFC 6265 simplified: no paths or expiry, which a single login
/// flow does not need).
#[derive(Debug, Default)]
pub struct Jar {
    by_host: BTreeMap<String, BTreeMap<String, String>>,
}

impl Jar {
    /// Keeps the cookies of `Set-Cookie` values received from `url`.
    pub fn store<'a>(&mut self, url: &Url, set_cookies: impl Iterator<Item = &'a str>) {
        let host = url.host_str().unwrap_or("").to_owned();
        for sc in set_cookies {
            let pair = sc.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                let cookies = self.by_host.entry(host.clone()).or_default();
                let max_age_zero = sc.to_ascii_lowercase().contains("max-age=0");
                if value.is_empty() || max_age_zero {
                    cookies.remove(name.trim());
                } else {
                    cookies.insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
    }
    /// The `Cookie` header for a request to `url`.
    pub fn header_for(&self, url: &Url) -> Option<String> {
        let cookies = self.by_host.get(url.host_str()?)?;
        (!cookies.is_empty()).then(|| {
            cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A saved copy of the reference gateway's login page.
    const REFERENCE_LOGIN_PAGE: &str = include_str!("testdata/reference-login.html");

    #[test]
    fn parses_the_reference_login_page() {
        let base = Url::parse("http://127.0.0.1:8080/oauth/login?request_id=r1").unwrap();
        let forms = parse_forms(REFERENCE_LOGIN_PAGE, &base);
        assert_eq!(forms.len(), 1, "{forms:#?}");
        let form = &forms[0];
        assert_eq!(form.method, Method::POST);
        assert_eq!(form.action.path(), "/oauth/login");
        assert!(form.has_password());
        let names: Vec<&str> = form.fields.iter().map(|f| f.name.as_str()).collect();
        assert!(
            names.contains(&"csrf_token") && names.contains(&"username"),
            "{names:?}"
        );

        let driver = FormDriver {
            username: Some("alice".into()),
            password: Some("pw-123456".into()),
            ..FormDriver::default()
        };
        let approve = driver.fill(form, LoginAction::Approve).unwrap();
        assert!(
            approve.contains(&("username".into(), "alice".into())),
            "{approve:?}"
        );
        assert!(approve.contains(&("password".into(), "pw-123456".into())));
        assert!(
            approve.contains(&("action".into(), "approve".into())),
            "{approve:?}"
        );
        let deny = driver.fill(form, LoginAction::Deny).unwrap();
        assert!(deny.contains(&("action".into(), "deny".into())), "{deny:?}");
        // Hidden fields are submitted as found.
        let csrf = form.fields.iter().find(|f| f.name == "csrf_token").unwrap();
        assert!(approve.contains(&("csrf_token".into(), csrf.value.clone())));
    }

    #[test]
    fn entities_relative_actions_and_configured_fields() {
        let html = r#"<html><body><form method="post" action="login?a=1&amp;b=2">
            <input type="hidden" name="t" value="x&amp;y">
            <input name="login_name"><input type="email" name="mail">
            <input type="password" name="pw">
            <input type="checkbox" name="remember" checked>
            <input type="checkbox" name="spam">
            <select name="tenant"><option value="t1">One</option><option value="t2" selected>Two</option></select>
            <button type="button" name="nope">x</button>
            <input type="submit" name="go" value="Sign in">
        </form></body></html>"#;
        let base = Url::parse("https://idp.example/u/start").unwrap();
        let form = &parse_forms(html, &base)[0];
        assert_eq!(form.action.as_str(), "https://idp.example/u/login?a=1&b=2");
        let driver = FormDriver {
            username: Some("u".into()),
            password: Some("p".into()),
            username_field: Some("mail".into()),
            ..FormDriver::default()
        };
        let pairs = driver.fill(form, LoginAction::Approve).unwrap();
        let get = |n: &str| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("t"), Some("x&y"));
        assert_eq!(get("mail"), Some("u"));
        assert_eq!(get("login_name"), Some(""));
        assert_eq!(get("pw"), Some("p"));
        assert_eq!(get("remember"), Some("on"));
        assert_eq!(get("spam"), None);
        assert_eq!(get("tenant"), Some("t2"));
        assert_eq!(get("go"), Some("Sign in"));
        assert_eq!(get("nope"), None);
        let err = driver.fill(form, LoginAction::Deny).unwrap_err();
        assert!(err.contains("deny"), "{err}");
    }

    #[test]
    fn cookie_jar_scopes_by_host() {
        let mut jar = Jar::default();
        let a = Url::parse("http://a.example/x").unwrap();
        let b = Url::parse("http://b.example/x").unwrap();
        jar.store(&a, ["s=1; Path=/; HttpOnly", "t=2"].into_iter());
        assert_eq!(jar.header_for(&a).as_deref(), Some("s=1; t=2"));
        assert_eq!(jar.header_for(&b), None);
        jar.store(&a, ["s=; Max-Age=0"].into_iter());
        assert_eq!(jar.header_for(&a).as_deref(), Some("t=2"));
    }
}
