//! proptest strategies for the PKCE properties: where each property's cases come from.
//!
//! Verifiers are drawn from [`UNRESERVED`] (RFC 7636 §4.1) with every length from 43 to 128;
//! challenges from the base64url alphabet. Each strategy builds its cases with `prop_map`, so
//! shrinking keeps the invariants: a valid verifier stays valid while it shrinks (towards 43
//! `A`s), a wrong one keeps differing, an invalid one stays invalid. No I/O.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};

use super::case::{BASE64URL, Flaw, Mutation, PkceCase, Property};
use crate::pkce::UNRESERVED;

/// Characters outside the unreserved alphabet a client might let slip into a verifier: URL and
/// base64 specials, space, and non-ASCII letters. No control characters, so every refusal is the
/// gateway's PKCE logic and not a framework choking on the request.
pub const OUTSIDE_UNRESERVED: &[char] = &[
    ' ', '+', '/', '=', '%', '!', '*', '\'', '(', ')', ',', ':', ';', '@', '&', '#', '?', '[', ']',
    '"', '<', '>', '\\', '^', '`', '{', '|', '}', 'é', 'ü',
];

/// Characters that cannot occur in an `S256` challenge: standard base64, padding, the
/// unreserved characters base64url lacks, and a few others.
pub const OUTSIDE_BASE64URL: &[char] = &['+', '/', '=', '.', '~', ' ', '%', '!', '*', 'é'];

/// Methods a client might send instead of `S256`.
pub const WRONG_METHODS: &[&str] = &[
    "plain", "s256", "S-256", "SHA256", "sha256", "S512", "S384", "none", "",
];

/// The property's cases.
pub fn cases(property: Property) -> BoxedStrategy<PkceCase> {
    match property {
        Property::ValidVerifier => valid_verifier()
            .prop_map(|verifier| PkceCase::ValidVerifier { verifier })
            .boxed(),
        Property::WrongVerifier => wrong_verifier().boxed(),
        Property::InvalidVerifier => invalid_verifier().boxed(),
        Property::ChallengeMethod => challenge_method().boxed(),
        Property::MalformedChallenge => malformed_challenge().boxed(),
    }
}

/// Cases of every property (unit tests).
pub fn any_case() -> BoxedStrategy<PkceCase> {
    prop::strategy::Union::new(Property::ALL.map(cases)).boxed()
}

/// A string of `len` characters of `alphabet`.
fn string_of(
    alphabet: &'static [u8],
    len: impl Into<prop::collection::SizeRange>,
) -> impl Strategy<Value = String> {
    vec(select(alphabet), len).prop_map(|b| b.into_iter().map(char::from).collect())
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters.
pub fn valid_verifier() -> impl Strategy<Value = String> {
    string_of(UNRESERVED, 43..=128)
}

/// A valid verifier and one [`Mutation`] of it.
pub fn wrong_verifier() -> impl Strategy<Value = PkceCase> {
    (
        valid_verifier(),
        select(Mutation::ALL.to_vec()),
        any::<Index>(),
        select(UNRESERVED),
        select(OUTSIDE_UNRESERVED),
    )
        .prop_map(|(verifier, mutation, at, unreserved, outside)| {
            let presented =
                mutation.apply(&verifier, at.index(verifier.len()), unreserved, outside);
            PkceCase::WrongVerifier {
                verifier,
                presented,
                mutation,
            }
        })
}

/// A verifier with one [`Flaw`].
pub fn invalid_verifier() -> impl Strategy<Value = PkceCase> {
    let case = |flaw: Flaw| move |verifier: String| PkceCase::InvalidVerifier { verifier, flaw };
    prop_oneof![
        string_of(UNRESERVED, 1..=42).prop_map(case(Flaw::TooShort)),
        string_of(UNRESERVED, 129..=256).prop_map(case(Flaw::TooLong)),
        (valid_verifier(), any::<Index>(), select(OUTSIDE_UNRESERVED))
            .prop_map(|(v, at, c)| replace_char(&v, at.index(v.len()), c))
            .prop_map(case(Flaw::OutsideAlphabet)),
        string_of(UNRESERVED, 43..=127)
            .prop_map(|v| format!("{v}="))
            .prop_map(case(Flaw::Padded)),
    ]
}

/// Anything but `S256`: absent, the usual mistakes, or a random word.
pub fn challenge_method() -> impl Strategy<Value = PkceCase> {
    let word: &'static [u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    prop_oneof![
        Just(None),
        select(WRONG_METHODS).prop_map(|m| Some(m.to_owned())),
        string_of(word, 1..=10)
            .prop_filter("S256 is the accepted method", |m| m != "S256")
            .prop_map(Some),
    ]
    .prop_map(|method| PkceCase::ChallengeMethod { method })
}

/// Anything that cannot be an `S256` challenge: too short, too long, a foreign character, padded.
pub fn malformed_challenge() -> impl Strategy<Value = PkceCase> {
    prop_oneof![
        string_of(BASE64URL, 1..=42),
        string_of(BASE64URL, 44..=128),
        (
            string_of(BASE64URL, 43),
            any::<Index>(),
            select(OUTSIDE_BASE64URL)
        )
            .prop_map(|(c, at, bad)| replace_char(&c, at.index(c.len()), bad)),
        string_of(BASE64URL, 43).prop_map(|c| format!("{c}=")),
    ]
    .prop_map(|challenge| PkceCase::MalformedChallenge { challenge })
}

/// `s` (ASCII) with its character at `at` replaced by `with`.
fn replace_char(s: &str, at: usize, with: char) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| if i == at { with } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::case::is_s256_challenge;
    use crate::pkce::is_valid_verifier;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// Every case prints as one shell-safe line that parses back to the same case.
        #[test]
        fn one_line_form_round_trips(case in any_case()) {
            let line = case.to_string();
            prop_assert!(
                line.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%:,=".contains(&b)),
                "not shell-safe: {line}"
            );
            prop_assert_eq!(line.parse::<PkceCase>(), Ok(case));
        }

        #[test]
        fn valid_verifiers_are_valid(v in valid_verifier()) {
            prop_assert!(is_valid_verifier(&v));
        }

        #[test]
        fn wrong_verifiers_differ_as_their_mutation_says(case in wrong_verifier()) {
            let PkceCase::WrongVerifier { verifier, presented, mutation } = case else {
                return Err(TestCaseError::fail("not a wrong-verifier case"));
            };
            prop_assert!(is_valid_verifier(&verifier));
            prop_assert_ne!(&presented, &verifier);
            let (n, p) = (verifier.chars().count(), presented.chars().count());
            match mutation {
                Mutation::OneCharDiffers => {
                    prop_assert_eq!(p, n);
                    prop_assert!(is_valid_verifier(&presented));
                    let diffs = verifier.chars().zip(presented.chars()).filter(|(a, b)| a != b).count();
                    prop_assert_eq!(diffs, 1);
                }
                Mutation::OneCharShort => prop_assert_eq!(p + 1, n),
                Mutation::OneCharLong => prop_assert_eq!(p, n + 1),
                Mutation::OutsideAlphabet => {
                    prop_assert_eq!(p, n);
                    prop_assert!(!is_valid_verifier(&presented));
                }
                Mutation::Padded => prop_assert_eq!(presented, format!("{verifier}=")),
            }
        }

        #[test]
        fn invalid_verifiers_are_invalid(case in invalid_verifier()) {
            let PkceCase::InvalidVerifier { verifier, flaw } = case else {
                return Err(TestCaseError::fail("not an invalid-verifier case"));
            };
            prop_assert!(!verifier.is_empty());
            prop_assert!(!is_valid_verifier(&verifier), "{:?} {}", flaw, verifier);
        }

        #[test]
        fn methods_are_never_s256(case in challenge_method()) {
            prop_assert_ne!(case, PkceCase::ChallengeMethod { method: Some("S256".into()) });
        }

        #[test]
        fn malformed_challenges_are_malformed(case in malformed_challenge()) {
            let PkceCase::MalformedChallenge { challenge } = case else {
                return Err(TestCaseError::fail("not a malformed-challenge case"));
            };
            prop_assert!(!challenge.is_empty());
            prop_assert!(!is_s256_challenge(&challenge), "{}", challenge);
        }
    }

    #[test]
    fn every_method_mistake_is_covered() {
        assert!(WRONG_METHODS.contains(&"plain") && WRONG_METHODS.contains(&"s256"));
        assert!(!WRONG_METHODS.contains(&"S256"));
    }
}
