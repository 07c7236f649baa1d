//! PKCE properties (proptest) against a live target.
