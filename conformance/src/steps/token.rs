//! Steps of `features/token.feature`.
