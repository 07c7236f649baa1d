@area:discovery
Feature: Discovery
  A client that knows only the MCP URL finds the authorization server by itself: the 401
  challenge links to the protected resource metadata (RFC 9728), which names the authorization
  server, whose metadata (RFC 8414) lists every endpoint.

  @req:BEARER-03 @req:DISC-02
  Scenario: An unauthenticated MCP request is challenged with a Bearer challenge
    When the client calls the owned agent's MCP endpoint without credentials
    Then the response status is 401
    And the challenge is a Bearer challenge with resource_metadata

  @req:DISC-01
  Scenario: The protected resource metadata names an authorization server
    When the client fetches the protected resource metadata linked from the challenge
    Then the response status is 200
    And the response is JSON with Content-Type application/json
