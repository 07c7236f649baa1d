//! The one-line form of a [`PkceCase`]: what a failure prints and `--pkce-replay` reads back.
//!
//! The line is `<kind>` or `<kind>:<key>=<value>,<key>=<value>…`, every value percent-encoded
//! except the RFC 3986 unreserved characters, so it holds only `A-Za-z0-9-._~%:,=` and survives a
//! shell inside single quotes: `valid-verifier:verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk`.
//! Parsing checks the case still means what its kind says (a valid verifier is valid, a wrong one
//! differs), so a hand-edited replay cannot silently test something else. No I/O.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::case::{Flaw, Mutation, PkceCase, Property};
use crate::pkce::UNRESERVED;

macro_rules! named_from_str {
    ($ty:ty, $what:literal) => {
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                <$ty>::ALL
                    .into_iter()
                    .find(|v| v.name() == s)
                    .ok_or_else(|| {
                        let names: Vec<&str> = <$ty>::ALL.iter().map(|v| v.name()).collect();
                        format!("unknown {} {s:?}; one of {}", $what, names.join(", "))
                    })
            }
        }
    };
}
named_from_str!(Property, "case kind");
named_from_str!(Mutation, "mutation");
named_from_str!(Flaw, "flaw");

impl fmt::Display for PkceCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.property().name())?;
        let fields: Vec<(&str, &str)> = match self {
            PkceCase::ValidVerifier { verifier } => vec![("verifier", verifier)],
            PkceCase::WrongVerifier {
                verifier,
                presented,
                mutation,
            } => vec![
                ("mutation", mutation.name()),
                ("verifier", verifier),
                ("presented", presented),
            ],
            PkceCase::InvalidVerifier { verifier, flaw } => {
                vec![("flaw", flaw.name()), ("verifier", verifier)]
            }
            PkceCase::ChallengeMethod { method } => match method {
                Some(m) => vec![("method", m)],
                None => vec![],
            },
            PkceCase::MalformedChallenge { challenge } => vec![("challenge", challenge)],
        };
        for (i, (key, value)) in fields.iter().enumerate() {
            write!(
                f,
                "{}{key}={}",
                if i == 0 { ':' } else { ',' },
                encode(value)
            )?;
        }
        Ok(())
    }
}

impl FromStr for PkceCase {
    type Err = String;

    fn from_str(line: &str) -> Result<PkceCase, String> {
        let line = line.trim();
        let (kind, rest) = match line.split_once(':') {
            Some((kind, rest)) => (kind, rest),
            None => (line, ""),
        };
        let property: Property = kind.parse()?;
        let mut fields = BTreeMap::new();
        for pair in rest.split(',').filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not key=value"))?;
            if fields.insert(key, decode(value)?).is_some() {
                return Err(format!("{key} is given twice"));
            }
        }
        let mut take = |key: &str| {
            fields
                .remove(key)
                .ok_or_else(|| format!("a {} case needs {key}=", property.name()))
        };
        let case = match property {
            Property::ValidVerifier => PkceCase::ValidVerifier {
                verifier: take("verifier")?,
            },
            Property::WrongVerifier => PkceCase::WrongVerifier {
                mutation: take("mutation")?.parse()?,
                verifier: take("verifier")?,
                presented: take("presented")?,
            },
            Property::InvalidVerifier => PkceCase::InvalidVerifier {
                flaw: take("flaw")?.parse()?,
                verifier: take("verifier")?,
            },
            Property::ChallengeMethod => PkceCase::ChallengeMethod {
                method: take("method").ok(),
            },
            Property::MalformedChallenge => PkceCase::MalformedChallenge {
                challenge: take("challenge")?,
            },
        };
        if let Some(key) = fields.keys().next() {
            return Err(format!("a {} case has no {key}=", property.name()));
        }
        case.check()
            .map_err(|e| format!("not a {} case: {e}", property.name()))?;
        Ok(case)
    }
}

/// Percent-encodes every byte outside the unreserved alphabet.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if UNRESERVED.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reverses [`encode`], strictly: only unreserved characters and `%XX`, UTF-8 underneath.
fn decode(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = value
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad %-escape in {value:?}"))?;
                out.push(hex);
                i += 3;
            }
            b if UNRESERVED.contains(&b) => {
                out.push(b);
                i += 1;
            }
            b => {
                return Err(format!(
                    "{:?} must be percent-encoded in {value:?}",
                    char::from(b)
                ));
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{value:?} does not decode to UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_form_is_readable_and_parses_back() {
        let case = PkceCase::WrongVerifier {
            verifier: "a".repeat(43),
            presented: format!("{} +é", "a".repeat(41)),
            mutation: Mutation::OutsideAlphabet,
        };
        let line = case.to_string();
        assert_eq!(
            line,
            format!(
                "wrong-verifier:mutation=outside-alphabet,verifier={},presented={}%20%2B%C3%A9",
                "a".repeat(43),
                "a".repeat(41)
            )
        );
        assert_eq!(line.parse::<PkceCase>(), Ok(case));
        assert_eq!(
            "challenge-method".parse::<PkceCase>(),
            Ok(PkceCase::ChallengeMethod { method: None })
        );
        assert_eq!(
            " challenge-method:method=\n".parse::<PkceCase>(),
            Ok(PkceCase::ChallengeMethod {
                method: Some(String::new())
            })
        );
    }

    #[test]
    fn parsing_refuses_cases_that_mean_something_else() {
        let valid = "a".repeat(43);
        for (line, why) in [
            ("nonsense:x=1", "unknown case kind"),
            ("valid-verifier", "needs verifier="),
            ("valid-verifier:verifier=abc", "not 43-128"),
            (
                &format!("valid-verifier:verifier={valid},extra=1") as &str,
                "has no extra=",
            ),
            (
                &format!("wrong-verifier:mutation=padded,verifier={valid},presented={valid}"),
                "equals the challenged one",
            ),
            (
                &format!("invalid-verifier:flaw=padded,verifier={valid}"),
                "the verifier is valid",
            ),
            ("challenge-method:method=S256", "must be accepted"),
            (
                &format!("malformed-challenge:challenge={valid}"),
                "well-formed",
            ),
            ("malformed-challenge:challenge=a%2", "bad %-escape"),
            (
                "malformed-challenge:challenge=a+b",
                "must be percent-encoded",
            ),
            ("malformed-challenge:challenge=%FF", "UTF-8"),
        ] {
            let err = line.parse::<PkceCase>().unwrap_err();
            assert!(err.contains(why), "{line}: {err}");
        }
    }
}
