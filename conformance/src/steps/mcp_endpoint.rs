//! Steps of `features/mcp-endpoint.feature`.
