//! Steps of `features/cors.feature`.
