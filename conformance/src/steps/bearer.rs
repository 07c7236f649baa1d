//! Steps of `features/bearer.feature`.
