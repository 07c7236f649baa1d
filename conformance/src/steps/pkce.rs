//! Steps of `features/pkce.feature`: RFC 7636 as OAuth 2.1 and MCP require it. The authorization
//! endpoint takes only `S256` challenges (PKCE-01..03), the token endpoint recomputes the
//! challenge from `code_verifier` (PKCE-04..06), the challenge never comes back readable
//! (PKCE-07), and the proptest properties of [`crate::fuzz`] run as scenarios of their own.
//!
//! Every step here starts from the honest client's request ([`GatewayWorld::authorization_request`],
//! [`GatewayWorld::code_redemption`]) and changes exactly one PKCE parameter.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use cucumber::{given, then, when};

use crate::fuzz::{self, Flaw, Property};
use crate::login::{AuthorizationOutcome, LoginAction};
use crate::pkce::Pkce;
use crate::world::{Agent, GatewayWorld, StepResult, get_param, set_param};

/// The code a scenario redeems.
const CODE: &str = "pkce code";
/// The verifier the code's challenge was made from, when the scenario chose it.
const VERIFIER: &str = "pkce verifier";

// ---- Authorization endpoint ------------------------------------------------------------------

/// The honest request with `name` set to `value` (`None`: removed), sent and followed.
async fn request_code_with(w: &mut GatewayWorld, name: &str, value: Option<&str>) -> StepResult {
    let mut params = w.authorization_request(Agent::Owned).await?;
    set_param(&mut params, name, value);
    fuzz::authorize_expecting_refusal(w, params)
        .await
        .map(|_| ())
}

#[when("the client requests a code without a code_challenge")]
async fn without_challenge(w: &mut GatewayWorld) -> StepResult {
    request_code_with(w, "code_challenge", None).await
}

#[when("the client requests a code without a code_challenge_method")]
async fn without_method(w: &mut GatewayWorld) -> StepResult {
    request_code_with(w, "code_challenge_method", None).await
}

#[when(expr = "the client requests a code with code_challenge_method {string}")]
async fn with_method(w: &mut GatewayWorld, method: String) -> StepResult {
    request_code_with(w, "code_challenge_method", Some(&method)).await
}

/// `42-character`, `padded` or `standard-base64` (`+` and `/` instead of `-` and `_`).
#[when(expr = "the client requests a code with a {word} S256 code_challenge")]
async fn with_malformed_challenge(w: &mut GatewayWorld, shape: String) -> StepResult {
    // A challenge whose digest has `-` and `_`, so its standard base64 differs.
    let good = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into()).challenge;
    let bad = match shape.as_str() {
        "42-character" => good[..42].to_owned(),
        "padded" => format!("{good}="),
        "standard-base64" => good.replace('-', "+").replace('_', "/"),
        other => return Err(format!("internal: unknown challenge shape {other:?}")),
    };
    request_code_with(w, "code_challenge", Some(&bad)).await
}

#[then("the authorization endpoint refuses the PKCE parameters with invalid_request and no code")]
async fn refused_at_authorize(w: &mut GatewayWorld) -> StepResult {
    let outcome = w
        .outcome
        .as_ref()
        .ok_or("internal: no authorization request was made")?;
    fuzz::expect_refused_at_authorize(outcome)
}

#[then("the authorization response carries a code")]
async fn carries_code(w: &mut GatewayWorld) -> StepResult {
    let outcome = w
        .outcome
        .as_ref()
        .ok_or("internal: no authorization request was made")?;
    match outcome.code() {
        Some(_) => Ok(()),
        None => Err(format!(
            "PKCE-02: an S256 challenge did not yield a code: {}",
            outcome.describe()
        )),
    }
}

/// OAuth 2.1 "Authorization Response": a code that carries its challenge must not carry it
/// readably; the redirect must not echo it either.
#[then("the authorization response does not reveal the code_challenge")]
async fn challenge_not_revealed(w: &mut GatewayWorld) -> StepResult {
    let outcome = w
        .outcome
        .as_ref()
        .ok_or("internal: no authorization request was made")?;
    let challenge = &w.pkce.as_ref().ok_or("internal: no PKCE pair")?.challenge;
    match leak_in(outcome, challenge) {
        Some(place) => Err(format!(
            "PKCE-07: the code_challenge is readable in {place}"
        )),
        None => Ok(()),
    }
}

/// Where `challenge` is readable in the redirect: its URL, or a parameter (the code above all)
/// whose dot-separated parts decode (base64url, base64, hex) to bytes holding the challenge or
/// its digest.
fn leak_in(outcome: &AuthorizationOutcome, challenge: &str) -> Option<String> {
    let AuthorizationOutcome::Redirect { url, params, .. } = outcome else {
        return None;
    };
    if url.as_str().contains(challenge) {
        return Some("the redirect URL".into());
    }
    let digest = URL_SAFE_NO_PAD.decode(challenge).unwrap_or_default();
    let holds = |bytes: &[u8]| {
        contains(bytes, challenge.as_bytes()) || (!digest.is_empty() && contains(bytes, &digest))
    };
    for (name, value) in params {
        if value.contains(challenge) {
            return Some(format!("the redirect parameter {name}"));
        }
        for part in value.split('.') {
            let trimmed = part.trim_end_matches('=');
            let decoded = [
                URL_SAFE_NO_PAD.decode(trimmed).ok(),
                STANDARD_NO_PAD.decode(trimmed).ok(),
                hex(trimmed),
            ];
            if decoded.iter().flatten().any(|bytes| holds(bytes)) {
                return Some(format!("the redirect parameter {name}, once decoded"));
            }
        }
    }
    None
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

// ---- Token endpoint --------------------------------------------------------------------------

/// Authorizes with the S256 challenge of `verifier` and keeps code and verifier.
async fn code_for(w: &mut GatewayWorld, verifier: &str) -> StepResult {
    let params = w.authorization_request(Agent::Owned).await?;
    let code = fuzz::code_for_verifier(w, params, verifier).await?;
    w.saved.insert(CODE.into(), code);
    w.saved.insert(VERIFIER.into(), verifier.to_owned());
    Ok(())
}

fn saved_code(w: &GatewayWorld) -> Result<String, String> {
    w.saved
        .get(CODE)
        .cloned()
        .ok_or_else(|| "internal: no code was obtained before this step".to_owned())
}

#[given("a code issued for an S256 code_challenge")]
async fn code_for_s256(w: &mut GatewayWorld) -> StepResult {
    let code = w.obtain_code(Agent::Owned).await?;
    w.saved.insert(CODE.into(), code);
    Ok(())
}

/// The challenge is set as given; the verifier is whatever the scenario presents later.
#[given(expr = "a code issued for the code_challenge {string}")]
async fn code_for_challenge(w: &mut GatewayWorld, challenge: String) -> StepResult {
    let mut params = w.authorization_request(Agent::Owned).await?;
    set_param(&mut params, "code_challenge", Some(&challenge));
    let outcome = w.authorize(params, LoginAction::Approve).await?;
    let code = outcome.code().ok_or_else(|| {
        format!(
            "PKCE-04: the S256 challenge {challenge} did not yield a code: {}",
            outcome.describe()
        )
    })?;
    w.saved.insert(CODE.into(), code.to_owned());
    Ok(())
}

/// `too-short`, `too-long`, `outside-alphabet` or `padded` ([`Flaw::example`]).
#[given(expr = "a code issued for the S256 challenge of a {word} code_verifier")]
async fn code_for_flawed(w: &mut GatewayWorld, flaw: String) -> StepResult {
    let flaw: Flaw = flaw.parse().map_err(|e| format!("internal: {e}"))?;
    code_for(w, &flaw.example()).await
}

#[when(expr = "the client redeems the code with the code_verifier {string}")]
async fn redeem_with_verifier(w: &mut GatewayWorld, verifier: String) -> StepResult {
    let code = saved_code(w)?;
    fuzz::redeem_with(w, &code, Some(&verifier)).await
}

#[when("the client redeems the code with that code_verifier")]
async fn redeem_with_that_verifier(w: &mut GatewayWorld) -> StepResult {
    let code = saved_code(w)?;
    let verifier = w
        .saved
        .get(VERIFIER)
        .cloned()
        .ok_or("internal: no verifier was chosen before this step")?;
    fuzz::redeem_with(w, &code, Some(&verifier)).await
}

#[when("the client redeems the code with another valid code_verifier")]
async fn redeem_with_other_verifier(w: &mut GatewayWorld) -> StepResult {
    let code = saved_code(w)?;
    let other = Pkce::generate().verifier;
    fuzz::redeem_with(w, &code, Some(&other)).await
}

/// PKCE-04: a server that also compares the `plain` way (verifier == challenge) accepts the
/// challenge itself, which anyone who saw the authorization request knows.
#[when("the client redeems the code with the code_challenge as code_verifier")]
async fn redeem_with_challenge(w: &mut GatewayWorld) -> StepResult {
    let code = saved_code(w)?;
    let challenge = get_param(&w.authorization_params, "code_challenge")
        .map(str::to_owned)
        .ok_or("internal: the authorization request had no code_challenge")?;
    fuzz::redeem_with(w, &code, Some(&challenge)).await
}

#[when("the client redeems the code without a code_verifier")]
async fn redeem_without_verifier(w: &mut GatewayWorld) -> StepResult {
    let code = saved_code(w)?;
    fuzz::redeem_with(w, &code, None).await
}

#[then("the code redemption yields an access token")]
async fn yields_token(w: &mut GatewayWorld) -> StepResult {
    fuzz::expect_token(w).map_err(|e| format!("PKCE-04: {e}"))
}

// ---- Properties ------------------------------------------------------------------------------

#[then("every valid code_verifier redeems the code issued for its S256 challenge")]
async fn property_valid(w: &mut GatewayWorld) -> StepResult {
    fuzz::run_property(w, Property::ValidVerifier).await
}

#[then("every code_verifier that differs from the challenged one is refused")]
async fn property_wrong(w: &mut GatewayWorld) -> StepResult {
    fuzz::run_property(w, Property::WrongVerifier).await
}

#[then("every code_verifier outside the RFC 7636 grammar is refused, even with its own challenge")]
async fn property_invalid(w: &mut GatewayWorld) -> StepResult {
    fuzz::run_property(w, Property::InvalidVerifier).await
}

#[then("every code_challenge_method but S256 is refused at the authorization endpoint")]
async fn property_methods(w: &mut GatewayWorld) -> StepResult {
    fuzz::run_property(w, Property::ChallengeMethod).await
}

#[then("every malformed S256 code_challenge is refused at the authorization endpoint")]
async fn property_malformed(w: &mut GatewayWorld) -> StepResult {
    fuzz::run_property(w, Property::MalformedChallenge).await
}

#[cfg(test)]
mod tests {
    use sha2::{Digest as _, Sha256};

    use super::*;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn redirect(query: &str) -> AuthorizationOutcome {
        crate::login::redirect_outcome(
            url::Url::parse(&format!("http://127.0.0.1:8976/callback?{query}")).unwrap(),
            Some(302),
        )
    }

    #[test]
    fn pkce_07_a_challenge_inside_the_code_is_found() {
        assert_eq!(
            leak_in(&redirect("code=opaque123&state=s"), CHALLENGE),
            None
        );
        let json = format!(r#"{{"cc":"{CHALLENGE}","u":"alice"}}"#);
        let digest = URL_SAFE_NO_PAD.decode(CHALLENGE).unwrap();
        let hex_digest: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        for code in [
            format!("eyJhbGciOiJIUzI1NiJ9.{}.sig", URL_SAFE_NO_PAD.encode(&json)),
            base64::engine::general_purpose::STANDARD.encode(&json),
            URL_SAFE_NO_PAD.encode([b"prefix".as_slice(), &digest].concat()),
            hex_digest,
            format!("x{CHALLENGE}"),
        ] {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("code", &code)
                .finish();
            assert!(leak_in(&redirect(&query), CHALLENGE).is_some(), "{code}");
        }
        assert!(leak_in(&redirect(&format!("state=s&cc={CHALLENGE}")), CHALLENGE).is_some());
    }

    #[test]
    fn sha256_digest_of_the_rfc_verifier_is_the_challenge() {
        let digest = Sha256::digest(b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(URL_SAFE_NO_PAD.encode(digest), CHALLENGE);
    }
}
