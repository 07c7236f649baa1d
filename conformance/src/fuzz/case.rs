//! One PKCE fuzz case ([`PkceCase`]) and the property it belongs to ([`Property`]): the data of
//! the properties, shared by the strategies that draw cases ([`super::strategy`]), the one-line
//! form that prints and replays them ([`mod@super::line`]) and the live check ([`super::check_case`]).
//! No I/O.

use crate::pkce::{UNRESERVED, is_valid_verifier};

/// The base64url alphabet (RFC 4648 §5), which an `S256` challenge is written in.
pub const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Whether `challenge` has the syntax of an `S256` challenge: 43 base64url characters, no
/// padding (RFC 7636 §4.2, the encoding of a 32-byte digest).
pub fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| BASE64URL.contains(&b))
}

/// The PKCE properties, one scenario each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Property {
    /// PKCE-04: every valid verifier redeems the code issued for its `S256` challenge.
    ValidVerifier,
    /// PKCE-04: a verifier that differs from the challenged one is refused.
    WrongVerifier,
    /// PKCE-06: a verifier outside the §4.1 grammar is refused, even with its own challenge.
    InvalidVerifier,
    /// PKCE-02: every `code_challenge_method` but `S256` is refused at authorization.
    ChallengeMethod,
    /// PKCE-03: a `code_challenge` that cannot be an `S256` challenge is refused at authorization.
    MalformedChallenge,
}

impl Property {
    pub const ALL: [Property; 5] = [
        Property::ValidVerifier,
        Property::WrongVerifier,
        Property::InvalidVerifier,
        Property::ChallengeMethod,
        Property::MalformedChallenge,
    ];

    /// The kind word of its cases' one-line form.
    pub fn name(self) -> &'static str {
        match self {
            Property::ValidVerifier => "valid-verifier",
            Property::WrongVerifier => "wrong-verifier",
            Property::InvalidVerifier => "invalid-verifier",
            Property::ChallengeMethod => "challenge-method",
            Property::MalformedChallenge => "malformed-challenge",
        }
    }

    /// The requirement a failing case violates.
    pub fn requirement(self) -> &'static str {
        match self {
            Property::ValidVerifier | Property::WrongVerifier => "PKCE-04",
            Property::InvalidVerifier => "PKCE-06",
            Property::ChallengeMethod => "PKCE-02",
            Property::MalformedChallenge => "PKCE-03",
        }
    }

    /// What the property claims, for messages.
    pub fn statement(self) -> &'static str {
        match self {
            Property::ValidVerifier => {
                "every valid code_verifier redeems the code issued for its S256 challenge"
            }
            Property::WrongVerifier => {
                "a code_verifier that differs from the challenged one is refused with invalid_grant (or invalid_request) and yields no token"
            }
            Property::InvalidVerifier => {
                "a code_verifier outside 43-128 unreserved characters is refused, even with its own S256 challenge"
            }
            Property::ChallengeMethod => {
                "every code_challenge_method but S256 is refused at the authorization endpoint"
            }
            Property::MalformedChallenge => {
                "every code_challenge that is not 43 base64url characters is refused at the authorization endpoint"
            }
        }
    }
}

/// How a wrong verifier was made from the challenged one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// One character replaced by another unreserved character.
    OneCharDiffers,
    /// One character removed.
    OneCharShort,
    /// One unreserved character inserted.
    OneCharLong,
    /// One character replaced by one outside the unreserved alphabet.
    OutsideAlphabet,
    /// `=` appended, as a base64 encoder pads.
    Padded,
}

impl Mutation {
    pub const ALL: [Mutation; 5] = [
        Mutation::OneCharDiffers,
        Mutation::OneCharShort,
        Mutation::OneCharLong,
        Mutation::OutsideAlphabet,
        Mutation::Padded,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mutation::OneCharDiffers => "one-char-differs",
            Mutation::OneCharShort => "one-char-short",
            Mutation::OneCharLong => "one-char-long",
            Mutation::OutsideAlphabet => "outside-alphabet",
            Mutation::Padded => "padded",
        }
    }

    /// `verifier` (ASCII) mutated at character `at` (taken modulo its length), using `unreserved`
    /// for a replacement or insertion and `outside` for a character outside the alphabet. The
    /// result always differs from `verifier`.
    pub fn apply(self, verifier: &str, at: usize, unreserved: u8, outside: char) -> String {
        let mut chars: Vec<char> = verifier.chars().collect();
        let at = if chars.is_empty() {
            0
        } else {
            at % chars.len()
        };
        match self {
            Mutation::OneCharDiffers if !chars.is_empty() => {
                let mut with = char::from(unreserved);
                if with == chars[at] {
                    let pos = UNRESERVED
                        .iter()
                        .position(|&b| char::from(b) == with)
                        .unwrap_or(0);
                    with = char::from(UNRESERVED[(pos + 1) % UNRESERVED.len()]);
                }
                chars[at] = with;
            }
            Mutation::OneCharShort if !chars.is_empty() => {
                chars.remove(at);
            }
            Mutation::OutsideAlphabet if !chars.is_empty() => chars[at] = outside,
            Mutation::Padded => chars.push('='),
            // One char longer; also what an empty verifier gets for any other mutation.
            _ => chars.insert(at, char::from(unreserved)),
        }
        chars.into_iter().collect()
    }
}

/// What makes a verifier invalid (RFC 7636 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    /// Fewer than 43 characters.
    TooShort,
    /// More than 128 characters.
    TooLong,
    /// A character outside the unreserved alphabet.
    OutsideAlphabet,
    /// A valid verifier with `=` appended.
    Padded,
}

impl Flaw {
    pub const ALL: [Flaw; 4] = [
        Flaw::TooShort,
        Flaw::TooLong,
        Flaw::OutsideAlphabet,
        Flaw::Padded,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Flaw::TooShort => "too-short",
            Flaw::TooLong => "too-long",
            Flaw::OutsideAlphabet => "outside-alphabet",
            Flaw::Padded => "padded",
        }
    }

    /// A fixed verifier with this flaw (the feature's examples; the property draws its own).
    pub fn example(self) -> String {
        let base = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        match self {
            Flaw::TooShort => base[..42].to_owned(),
            Flaw::TooLong => format!("{base}{base}{base}")[..129].to_owned(),
            Flaw::OutsideAlphabet => format!("{} {}", &base[..21], &base[22..]),
            Flaw::Padded => format!("{base}="),
        }
    }
}

/// One case of one property: everything needed to replay it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PkceCase {
    ValidVerifier {
        verifier: String,
    },
    /// The challenge is made from `verifier`; the token request presents `presented`.
    WrongVerifier {
        verifier: String,
        presented: String,
        mutation: Mutation,
    },
    /// The challenge is made from `verifier`, which is then presented.
    InvalidVerifier {
        verifier: String,
        flaw: Flaw,
    },
    /// `None`: no `code_challenge_method` parameter.
    ChallengeMethod {
        method: Option<String>,
    },
    MalformedChallenge {
        challenge: String,
    },
}

impl PkceCase {
    pub fn property(&self) -> Property {
        match self {
            PkceCase::ValidVerifier { .. } => Property::ValidVerifier,
            PkceCase::WrongVerifier { .. } => Property::WrongVerifier,
            PkceCase::InvalidVerifier { .. } => Property::InvalidVerifier,
            PkceCase::ChallengeMethod { .. } => Property::ChallengeMethod,
            PkceCase::MalformedChallenge { .. } => Property::MalformedChallenge,
        }
    }

    /// Why this case does not mean what its kind says, if it does not.
    pub(super) fn check(&self) -> Result<(), String> {
        match self {
            PkceCase::ValidVerifier { verifier } if !is_valid_verifier(verifier) => {
                Err("the verifier is not 43-128 unreserved characters".into())
            }
            PkceCase::WrongVerifier {
                verifier,
                presented,
                ..
            } => {
                if !is_valid_verifier(verifier) {
                    Err("the challenged verifier is not 43-128 unreserved characters".into())
                } else if presented == verifier {
                    Err("the presented verifier equals the challenged one".into())
                } else {
                    Ok(())
                }
            }
            PkceCase::InvalidVerifier { verifier, .. } if verifier.is_empty() => {
                Err("the verifier is empty (that is a missing verifier, PKCE-05)".into())
            }
            PkceCase::InvalidVerifier { verifier, .. } if is_valid_verifier(verifier) => {
                Err("the verifier is valid".into())
            }
            PkceCase::ChallengeMethod { method } if method.as_deref() == Some("S256") => {
                Err("S256 is the method that must be accepted".into())
            }
            PkceCase::MalformedChallenge { challenge } if challenge.is_empty() => {
                Err("the challenge is empty (that is a missing challenge, PKCE-01)".into())
            }
            PkceCase::MalformedChallenge { challenge } if is_s256_challenge(challenge) => {
                Err("the challenge is well-formed".into())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_always_differ() {
        let v = "A".repeat(43);
        for m in Mutation::ALL {
            for at in [0, 5, 42, 43, 1000] {
                assert_ne!(m.apply(&v, at, b'A', ' '), v, "{m:?} at {at}");
            }
        }
        assert_eq!(
            Mutation::OneCharDiffers.apply("AB", 0, b'A', ' '),
            "BB",
            "an equal replacement moves on to the next letter"
        );
    }

    #[test]
    fn flaw_examples_have_their_flaw() {
        for flaw in Flaw::ALL {
            assert!(!is_valid_verifier(&flaw.example()), "{flaw:?}");
        }
        assert_eq!(Flaw::TooShort.example().len(), 42);
        assert_eq!(Flaw::TooLong.example().len(), 129);
    }
}
