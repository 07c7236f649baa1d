//! Steps of `features/authorize.feature`.
