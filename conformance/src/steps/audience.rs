//! Steps of `features/audience.feature`.
