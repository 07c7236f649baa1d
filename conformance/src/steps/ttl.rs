//! Steps of `features/ttl.feature`.
