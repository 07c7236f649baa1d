//! Named faults: realistic implementer bugs the reference can be started with, one at a time, to
//! prove that the conformance suite fails a broken gateway for the right reason
//! (`cargo xtask faults`, `docs/faults.md`).
//!
//! Compiled only with the `faults` cargo feature: without it this module does not exist and every
//! [`fault!`](crate::fault) site is the constant `false`, so default and release builds carry no
//! fault and no `--fault` flag.
//!
//! Each entry names the requirement IDs (`fixtures/requirements.toml`) whose checks must catch
//! it, and the verdict they must get: `Fail` for a MUST or a guide statement, `Warn` for a SHOULD
//! or interop expectation (and then the run must have no FAIL at all: the suite judged the
//! severity right). The switch is process-wide: `serve --fault NAME` sets it once at start.

use std::sync::OnceLock;

/// The verdict the named requirements must get when the fault is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Expect {
    Fail,
    Warn,
}

/// One catalog entry.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct FaultSpec {
    pub name: &'static str,
    pub expect: Expect,
    pub requirements: &'static [&'static str],
    pub summary: &'static str,
}

macro_rules! catalog {
    ($( $variant:ident = $name:literal, $expect:ident, [$($req:literal),+ $(,)?], $summary:literal; )*) => {
        /// Every named fault; see [`CATALOG`] for what each one breaks.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Fault { $($variant),* }

        /// The catalog, in the order the protocol meets the faults.
        pub const CATALOG: &[(Fault, FaultSpec)] = &[
            $((Fault::$variant, FaultSpec {
                name: $name,
                expect: Expect::$expect,
                requirements: &[$($req),+],
                summary: $summary,
            })),*
        ];
    };
}

catalog! {
    // --- discovery ---
    // --- registration ---
    // --- authorize and login ---
    // --- pkce, token and refresh ---
    PkcePlainAccepted = "pkce-plain-accepted", Fail, ["PKCE-02"],
        "code_challenge_method=plain is accepted, and the verifier compared as plain text";
    PkceVerifierUnchecked = "pkce-verifier-unchecked", Fail, ["PKCE-04"],
        "the token endpoint never compares the code_verifier with the challenge (the 002 recipe)";
    // --- bearer, tokens and the MCP endpoint ---
}

static ACTIVE: OnceLock<Fault> = OnceLock::new();

/// Switches on the fault called `name`, once per process.
pub fn activate(name: &str) -> Result<FaultSpec, String> {
    let (fault, spec) = CATALOG
        .iter()
        .find(|(_, spec)| spec.name == name)
        .ok_or_else(|| {
            format!("unknown fault {name:?}; `mcp-gateway-reference faults` lists them")
        })?;
    ACTIVE
        .set(*fault)
        .map_err(|_| "a fault is already active".to_owned())?;
    Ok(*spec)
}

/// Whether `fault` is the one switched on; read through [`fault!`](crate::fault).
pub fn is_active(fault: Fault) -> bool {
    ACTIVE.get() == Some(&fault)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_kebab_case_and_name_requirements() {
        let mut seen = std::collections::HashSet::new();
        for (_, spec) in CATALOG {
            assert!(seen.insert(spec.name), "duplicate fault {}", spec.name);
            assert!(
                spec.name
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'),
                "{} is not kebab-case",
                spec.name
            );
            assert!(!spec.requirements.is_empty());
        }
    }
}
