//! Steps of `features/pkce.feature`.
