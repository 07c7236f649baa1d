Feature: mcp-endpoint
