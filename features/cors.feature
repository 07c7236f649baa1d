@area:cors
Feature: CORS for browser-based clients
  MCP Inspector runs in a browser at http://localhost:6274: its discovery, registration, token and
  MCP requests are cross-origin fetches, so those endpoints answer CORS preflights (the Fetch
  standard) for the headers it sends and let the page read their answers, the 401 challenge
  included. The authorization endpoint is navigated to, never fetched: OAuth 2.1 forbids CORS
  there, for every origin.

  @req:SEC-03
  Scenario: Browser clients may fetch the protected resource metadata
    When MCP Inspector preflights a GET to the protected resource metadata with the headers "MCP-Protocol-Version"
    Then the CORS preflight allows the request
    When MCP Inspector sends its request to the protected resource metadata
    Then MCP Inspector may read the response

  @req:SEC-03
  Scenario: Browser clients may fetch the authorization server metadata
    When MCP Inspector preflights a GET to the authorization server metadata with the headers "MCP-Protocol-Version"
    Then the CORS preflight allows the request
    When MCP Inspector sends its request to the authorization server metadata
    Then MCP Inspector may read the response

  @req:SEC-03 @capability:registration
  Scenario: Browser clients may register
    When MCP Inspector preflights a POST to the registration endpoint with the headers "Content-Type"
    Then the CORS preflight allows the request
    When MCP Inspector sends its request to the registration endpoint
    Then MCP Inspector may read the response

  @req:TOKEN-11 @req:SEC-03
  Scenario: Browser clients may redeem codes at the token endpoint
    When MCP Inspector preflights a POST to the token endpoint with the headers "Content-Type"
    Then the CORS preflight allows the request
    When MCP Inspector sends its request to the token endpoint
    Then MCP Inspector may read the response

  @req:SEC-03
  Scenario: Browser clients may call the MCP endpoint and read its challenge
    When MCP Inspector preflights a POST to the MCP endpoint with the headers "Authorization, Content-Type, MCP-Protocol-Version"
    Then the CORS preflight allows the request
    When MCP Inspector sends its request to the MCP endpoint
    Then MCP Inspector may read the response
    And the response exposes WWW-Authenticate to MCP Inspector

  @req:AUTHZ-11
  Scenario: The authorization endpoint supports no CORS
    When MCP Inspector preflights a GET to the authorization endpoint with the headers "Content-Type"
    Then the response grants MCP Inspector no cross-origin access
    When MCP Inspector sends its request to the authorization endpoint
    Then the response grants MCP Inspector no cross-origin access
