//! Steps of `features/refresh.feature`.
