//! PKCE properties (proptest) against a live target.
//!
//! Five properties, one scenario each in `features/pkce.feature` ([`Property`]):
//! - every valid verifier (43–128 unreserved characters) with its `S256` challenge yields a token
//!   (PKCE-04);
//! - a verifier that differs from the challenged one in one character, is one character short or
//!   long, has a character outside the alphabet, or is padded is refused with `invalid_grant` (or
//!   `invalid_request` when it is malformed) and yields no token (PKCE-04);
//! - a verifier outside the RFC 7636 §4.1 grammar is refused even with its own challenge
//!   (PKCE-06, a SHOULD, hence a property of its own);
//! - every `code_challenge_method` but `S256` (absent, `plain`, `s256`, anything) is refused at
//!   the authorization endpoint (PKCE-02);
//! - every `code_challenge` that is not 43 base64url characters is refused there (PKCE-03).
//!
//! Each case is a full cycle of its own ([`check_case`]): register a client, authorize with the
//! case's challenge, log in, redeem. Cases come from [`strategy`]; a run has `--pkce-cases` cases
//! per property, drawn from an RNG seeded by `--seed` and the property's name, so a seed replays a
//! whole run. A failing case is shrunk (at most [`MAX_SHRINK_ITERS`] more cycles, each one live)
//! and reported with the seed and a one-line `--pkce-replay` command that runs exactly that case
//! ([`mod@line`] defines the line).
//!
//! proptest's runner is synchronous: it runs on a blocking thread and drives each async cycle
//! with the runtime's `Handle::block_on`. Each cycle gets a World of its own ([`GatewayWorld::with_context`]); the
//! scenario's World receives the evidence of the first passing case and of the minimal failing
//! one.

pub mod case;
pub mod line;
pub mod strategy;

use std::cell::RefCell;
use std::sync::Arc;

use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use sha2::{Digest as _, Sha256};

pub use case::{Flaw, Mutation, PkceCase, Property};

use crate::context::{Context, Options};
use crate::http::Exchange;
use crate::login::{AuthorizationOutcome, LoginAction};
use crate::pkce::{Pkce, is_valid_verifier};
use crate::steps::NOT_TESTABLE;
use crate::steps::http::{brief, expect_oauth_error};
use crate::world::{Agent, GatewayWorld, StepResult, set_param};

/// Shrink steps after a failure; each is a live cycle, so few.
pub const MAX_SHRINK_ITERS: u32 = 32;

/// Checks `property` over `--pkce-cases` cases (or only the `--pkce-replay` case, when it is one
/// of this property's; other properties then pass without a cycle).
pub async fn run_property(w: &mut GatewayWorld, property: Property) -> StepResult {
    let ctx = w.ctx.clone();
    if let Some(line) = &ctx.options.pkce_replay {
        let case: PkceCase = line
            .parse()
            .map_err(|e| format!("--pkce-replay {line:?} is not a PKCE case: {e}"))?;
        if case.property() != property {
            return Ok(());
        }
        let (result, evidence) = run_case(ctx.clone(), &case).await;
        w.evidence.extend(evidence);
        return result.map_err(|reason| failure(&ctx.options, &case, &reason, "the replayed case"));
    }
    let handle = tokio::runtime::Handle::current();
    let explored = tokio::task::spawn_blocking(move || explore(&handle, &ctx, property))
        .await
        .map_err(|e| format!("internal: the PKCE property runner stopped: {e}"))?;
    w.evidence.extend(explored.evidence);
    explored.result
}

/// One full cycle for `case` in `w` (a fresh client, then authorize, log in, redeem as the case
/// says); `Err` says how the target broke the property.
pub async fn check_case(w: &mut GatewayWorld, case: &PkceCase) -> StepResult {
    w.register_client().await?;
    let mut params = w.authorization_request(Agent::Owned).await?;
    match case {
        PkceCase::ValidVerifier { verifier } => {
            let code = code_for_verifier(w, params, verifier).await?;
            redeem_with(w, &code, Some(verifier)).await?;
            expect_token(w)
        }
        PkceCase::WrongVerifier {
            verifier,
            presented,
            ..
        } => {
            let code = code_for_verifier(w, params, verifier).await?;
            redeem_with(w, &code, Some(presented)).await?;
            // A verifier of valid syntax can only be wrong; a malformed one may be called so.
            let errors: &[&str] = if is_valid_verifier(presented) {
                &["invalid_grant"]
            } else {
                &["invalid_grant", "invalid_request"]
            };
            expect_oauth_error(w, &[400], errors)
        }
        PkceCase::InvalidVerifier { verifier, .. } => {
            let code = code_for_verifier(w, params, verifier).await?;
            redeem_with(w, &code, Some(verifier)).await?;
            expect_oauth_error(w, &[400], &["invalid_grant", "invalid_request"])
        }
        PkceCase::ChallengeMethod { method } => {
            set_param(&mut params, "code_challenge_method", method.as_deref());
            let outcome = authorize_expecting_refusal(w, params).await?;
            expect_refused_at_authorize(&outcome)
        }
        PkceCase::MalformedChallenge { challenge } => {
            set_param(&mut params, "code_challenge", Some(challenge));
            let outcome = authorize_expecting_refusal(w, params).await?;
            expect_refused_at_authorize(&outcome)
        }
    }
}

/// Authorizes with `S256` and the challenge of `verifier` (kept as the World's PKCE pair, not
/// registered as a secret: fuzz verifiers are test data and the replay line must show them).
pub async fn code_for_verifier(
    w: &mut GatewayWorld,
    mut params: Vec<(String, String)>,
    verifier: &str,
) -> Result<String, String> {
    let pkce = Pkce::from_verifier(verifier.to_owned());
    set_param(&mut params, "code_challenge", Some(&pkce.challenge));
    set_param(&mut params, "code_challenge_method", Some("S256"));
    w.pkce = Some(pkce);
    let outcome = w.authorize(params, LoginAction::Approve).await?;
    outcome.code().map(str::to_owned).ok_or_else(|| {
        format!(
            "the authorization request with the verifier's S256 challenge yielded no code: {}",
            outcome.describe()
        )
    })
}

/// The honest redemption of `code` with `code_verifier` replaced (`None`: left out).
pub async fn redeem_with(w: &mut GatewayWorld, code: &str, verifier: Option<&str>) -> StepResult {
    let mut params = w.code_redemption(code)?;
    set_param(&mut params, "code_verifier", verifier);
    w.token_request(&params).await.map(|_| ())
}

/// Whether the last response is a successful token response.
pub fn expect_token(w: &GatewayWorld) -> StepResult {
    let ex = w.last_exchange()?;
    let resp = ex.response()?;
    let json = resp.json();
    let token = json
        .as_ref()
        .and_then(|j| j.get("access_token"))
        .and_then(serde_json::Value::as_str);
    if resp.status == 200 && token.is_some_and(|t| !t.is_empty()) {
        return Ok(());
    }
    let said = match json.as_ref().and_then(|j| j.get("error")) {
        Some(e) => format!("error {e}"),
        None => brief(&resp.body),
    };
    Err(format!(
        "expected a token response, got {} with {said}",
        ex.line()
    ))
}

/// Sends an authorization request that should be refused. A target that shows its login page
/// first is followed through it; without login credentials that cannot be judged.
pub async fn authorize_expecting_refusal(
    w: &mut GatewayWorld,
    params: Vec<(String, String)>,
) -> Result<AuthorizationOutcome, String> {
    match w.authorize(params, LoginAction::Approve).await {
        Ok(outcome) => Ok(outcome),
        Err(e) if !w.ctx.profile.has("login").unwrap_or(false) => Err(format!(
            "{NOT_TESTABLE}the authorization endpoint went on to a login page instead of refusing at once, and the profile has no login credentials to see where it ends ({e})"
        )),
        Err(e) => Err(e),
    }
}

/// RFC 7636 §4.4.1 and OAuth 2.1 "Authorization Error Response": a refused request ends in an
/// error redirect with `invalid_request`, or on an error page; never with a code.
pub fn expect_refused_at_authorize(outcome: &AuthorizationOutcome) -> StepResult {
    if outcome.code().is_some() {
        return Err(format!(
            "the request was not refused: {}",
            outcome.describe()
        ));
    }
    match (outcome, outcome.error()) {
        (AuthorizationOutcome::Page { .. }, _) | (_, Some("invalid_request")) => Ok(()),
        (_, Some(other)) => Err(format!(
            "expected error=invalid_request, got error={other}: {}",
            outcome.describe()
        )),
        (_, None) => Err(format!(
            "the redirect carries neither code nor error: {}",
            outcome.describe()
        )),
    }
}

/// The command that reruns exactly `case` against the same target.
pub fn replay_command(options: &Options, case: &PkceCase) -> String {
    format!(
        "{} --seed {} --pkce-replay '{case}'",
        options.rerun_prefix, options.seed
    )
}

/// The RNG of `property` under `seed`: the same pair always draws the same cases.
pub fn rng_for(seed: &str, property: Property) -> TestRng {
    let digest = Sha256::digest(format!("mcp-conformance/pkce/{seed}/{}", property.name()));
    TestRng::from_seed(RngAlgorithm::ChaCha, &digest)
}

/// One cycle in a fresh World; a 429 anywhere makes a failure NOT-TESTABLE (the target's rate
/// limit, not its PKCE, stopped the cycle).
async fn run_case(ctx: Arc<Context>, case: &PkceCase) -> (StepResult, Vec<Exchange>) {
    let mut w = GatewayWorld::with_context(ctx);
    let mut result = check_case(&mut w, case).await;
    if result.is_err()
        && let Some(limited) = w
            .evidence
            .iter()
            .find(|e| e.response.as_ref().is_some_and(|r| r.status == 429))
    {
        result = Err(format!(
            "{NOT_TESTABLE}the target rate-limited a PKCE cycle ({}); lower --pkce-cases or raise the target's limits",
            limited.line()
        ));
    }
    (result, w.evidence)
}

/// What a property run leaves for its scenario.
struct Exploration {
    result: StepResult,
    evidence: Vec<Exchange>,
}

#[derive(Default)]
struct Log {
    cycles: u32,
    /// Evidence of the first passing case.
    sample: Vec<Exchange>,
    /// Evidence of the latest failing case: after shrinking, the minimal one.
    failing: Vec<Exchange>,
    /// Why the run cannot judge (rate limiting); later cases are skipped.
    blocked: Option<String>,
}

/// Runs `property` with proptest on this (blocking) thread.
fn explore(handle: &tokio::runtime::Handle, ctx: &Arc<Context>, property: Property) -> Exploration {
    let options = &ctx.options;
    let config = Config {
        cases: options.pkce_cases,
        max_shrink_iters: MAX_SHRINK_ITERS,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng_for(&options.seed, property));
    let log = RefCell::new(Log::default());
    let outcome = runner.run(&strategy::cases(property), |case| {
        if log.borrow().blocked.is_some() {
            return Ok(());
        }
        let (result, evidence) = handle.block_on(run_case(ctx.clone(), &case));
        let mut log = log.borrow_mut();
        log.cycles += 1;
        match result {
            Ok(()) => {
                if log.sample.is_empty() {
                    log.sample = evidence;
                }
                Ok(())
            }
            Err(reason) if reason.starts_with(NOT_TESTABLE) => {
                log.blocked = Some(reason);
                Ok(())
            }
            Err(reason) => {
                log.failing = evidence;
                Err(TestCaseError::fail(reason))
            }
        }
    });
    let log = log.into_inner();
    let result = match (outcome, log.blocked) {
        (_, Some(blocked)) => Err(blocked),
        (Ok(()), None) => Ok(()),
        (Err(TestError::Fail(reason, case)), None) => Err(failure(
            options,
            &case,
            reason.message(),
            &format!("the minimal failing case after {} cycles", log.cycles),
        )),
        (Err(TestError::Abort(reason)), None) => Err(format!(
            "internal: the PKCE property runner gave up: {}",
            reason.message()
        )),
    };
    let mut evidence = log.sample;
    evidence.extend(log.failing);
    Exploration { result, evidence }
}

/// The step error of a failing case: requirement, property, case, reason, seed, replay.
fn failure(options: &Options, case: &PkceCase, reason: &str, which: &str) -> String {
    if reason.starts_with(NOT_TESTABLE) {
        return reason.to_owned();
    }
    let property = case.property();
    format!(
        "{}: expected that {}; {which}: `{case}` — {reason}. Seed {}. Replay exactly this case: {} (against the reference: cargo xtask conformance --seed {} --pkce-replay '{case}')",
        property.requirement(),
        property.statement(),
        options.seed,
        replay_command(options, case),
        options.seed,
    )
}

#[cfg(test)]
mod tests {
    use proptest::strategy::{Strategy as _, ValueTree as _};

    use super::*;
    use crate::pkce::s256_challenge;

    /// RFC 7636 Appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_is_a_valid_verifier_case() {
        assert_eq!(s256_challenge(RFC_VERIFIER), RFC_CHALLENGE);
        let line = format!("valid-verifier:verifier={RFC_VERIFIER}");
        let case: PkceCase = line.parse().unwrap();
        assert_eq!(
            case,
            PkceCase::ValidVerifier {
                verifier: RFC_VERIFIER.into()
            }
        );
        assert_eq!(case.to_string(), line);
        assert!(case::is_s256_challenge(RFC_CHALLENGE));
    }

    fn first_case(seed: &str, property: Property) -> PkceCase {
        let mut runner = TestRunner::new_with_rng(Config::default(), rng_for(seed, property));
        strategy::cases(property)
            .new_tree(&mut runner)
            .unwrap()
            .current()
    }

    #[test]
    fn the_seed_and_the_property_determine_the_cases() {
        for property in Property::ALL {
            assert_eq!(
                first_case("00c0ffee", property),
                first_case("00c0ffee", property)
            );
            assert_eq!(first_case("00c0ffee", property).property(), property);
        }
        let runs: Vec<PkceCase> = ["1", "2", "3"]
            .iter()
            .map(|s| first_case(s, Property::ValidVerifier))
            .collect();
        assert!(runs[0] != runs[1] || runs[1] != runs[2]);
    }

    #[test]
    fn replay_command_names_seed_and_quoted_case() {
        let options = Options {
            pkce_cases: 12,
            seed: "abc123".into(),
            pkce_replay: None,
            rerun_prefix: "mcp-conformance --profile p.toml".into(),
        };
        let case = PkceCase::ChallengeMethod {
            method: Some("plain".into()),
        };
        assert_eq!(
            replay_command(&options, &case),
            "mcp-conformance --profile p.toml --seed abc123 --pkce-replay 'challenge-method:method=plain'"
        );
        let message = failure(&options, &case, "a code was issued", "the case");
        assert!(message.starts_with("PKCE-02: "), "{message}");
        assert!(message.contains("Seed abc123"), "{message}");
        assert!(
            message.contains("cargo xtask conformance --seed abc123 --pkce-replay 'challenge-method:method=plain'"),
            "{message}"
        );
    }

    #[test]
    fn refusals_at_authorize_are_judged_by_error_and_code() {
        let redirect = |query: &str| {
            crate::login::redirect_outcome(
                url::Url::parse(&format!("http://127.0.0.1:8976/callback?{query}")).unwrap(),
                Some(302),
            )
        };
        assert!(expect_refused_at_authorize(&redirect("error=invalid_request&state=s")).is_ok());
        let page = AuthorizationOutcome::Page {
            status: 400,
            url: url::Url::parse("http://gw/oauth/authorize").unwrap(),
            excerpt: "Bad request".into(),
        };
        assert!(expect_refused_at_authorize(&page).is_ok());
        for (query, why) in [
            ("code=c&state=s", "not refused"),
            ("error=access_denied", "expected error=invalid_request"),
            ("state=s", "neither code nor error"),
        ] {
            let err = expect_refused_at_authorize(&redirect(query)).unwrap_err();
            assert!(err.contains(why), "{query}: {err}");
        }
    }
}
