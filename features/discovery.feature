@area:discovery
Feature: Discovery
  A client that knows only the MCP URL finds the authorization server by itself: the 401
  challenge links to the protected resource metadata (RFC 9728), which names the authorization
  server, whose metadata (RFC 8414) lists every endpoint. Metadata is served without credentials,
  as application/json, and names exactly the resource or issuer its well-known URI was built from.

  # ---- The way in: the 401 challenge and the protected resource metadata (RFC 9728) ----------

  @req:BEARER-03
  Scenario: An unauthenticated MCP request is challenged with a Bearer challenge
    When the client calls the owned agent's MCP endpoint without credentials
    Then the response status is 401
    And WWW-Authenticate opens with a Bearer challenge

  @req:DISC-02
  Scenario: The protected resource metadata is findable from the challenge or the well-known URI
    When the client calls the owned agent's MCP endpoint without credentials
    Then the protected resource metadata is found from the challenge or at its well-known URI

  @req:DISC-01
  Scenario: The protected resource metadata names an authorization server
    When the client fetches the protected resource metadata it discovered
    Then the response status is 200
    And the protected resource metadata is valid RFC 9728 metadata
    And the protected resource metadata names at least one authorization server

  @req:DISC-03
  Scenario: The protected resource metadata is served at the path-inserted well-known URI
    When the client fetches the owned agent's protected resource metadata from its well-known URI
    Then the response status is 200
    And the response is JSON with Content-Type application/json

  @req:DISC-04
  Scenario: The metadata at the well-known URI names exactly the MCP endpoint it was built from
    When the client fetches the owned agent's protected resource metadata from its well-known URI
    Then the protected resource metadata names the owned agent's MCP endpoint as its resource

  @req:DISC-04 @needs:other_agent
  Scenario: Another agent's metadata names that agent's MCP endpoint, not the owned one
    When the client fetches the other agent's protected resource metadata from its well-known URI
    Then the protected resource metadata names the other agent's MCP endpoint as its resource

  @req:DISC-04
  Scenario: The root protected resource metadata, where there is one, names the origin
    When the client fetches the root protected resource metadata
    Then the root protected resource metadata names the origin as its resource

  @req:DISC-05
  Scenario: The metadata linked from a 401 names the MCP endpoint that was called
    When the client calls the owned agent's MCP endpoint without credentials
    And the client follows the resource_metadata link of the challenge
    Then the protected resource metadata names the owned agent's MCP endpoint as its resource

  @req:DISC-05 @needs:other_agent
  Scenario: Another agent's 401 links to that agent's own metadata
    When the client starts discovery at the other agent's MCP endpoint
    And the client follows the resource_metadata link of the challenge
    Then the protected resource metadata names the other agent's MCP endpoint as its resource

  @req:DISC-06
  Scenario: The protected resource metadata is JSON and leaves out members without a value
    When the client fetches the owned agent's protected resource metadata from its well-known URI
    Then the response status is 200
    And the response is JSON with Content-Type application/json
    And the protected resource metadata has no null or empty members

  @req:DISC-07
  Scenario: The protected resource metadata describes the resource for clients
    When the client fetches the protected resource metadata it discovered
    Then the protected resource metadata has the member "scopes_supported"
    And the protected resource metadata has the member "resource_name"
    And the protected resource metadata lists "header" in "bearer_methods_supported"

  @req:DISC-07
  Scenario: The protected resource metadata does not offer the offline_access scope
    When the client fetches the protected resource metadata it discovered
    Then the protected resource metadata does not list "offline_access" in "scopes_supported"

  @req:DISC-08
  Scenario: There is no protected resource metadata for an agent that does not exist
    When the client fetches the protected resource metadata of a made-up agent
    Then the metadata of the made-up agent is refused with a client error

  # ---- The authorization server metadata (RFC 8414) -----------------------------------------

  @req:DISC-09
  Scenario: The authorization server metadata is served at the well-known URI of the issuer
    When the client fetches the authorization server metadata of the issuer
    Then the response status is 200
    And the authorization server metadata is valid RFC 8414 metadata

  @req:DISC-10
  Scenario: The metadata issuer is exactly the issuer the resource metadata names
    When the client fetches the authorization server metadata of the issuer
    Then the authorization server metadata issuer is identical to authorization_servers[0]

  @req:DISC-11
  Scenario: The authorization server metadata has the members RFC 8414 and MCP clients require
    When the client fetches the authorization server metadata of the issuer
    Then the authorization server metadata has the member "issuer"
    And the authorization server metadata has the member "authorization_endpoint"
    And the authorization server metadata has the member "token_endpoint"
    And the authorization server metadata lists "code" in "response_types_supported"
    And every endpoint in the authorization server metadata is an absolute URL

  @req:DISC-12
  Scenario: The authorization server metadata advertises PKCE with S256
    When the client fetches the authorization server metadata of the issuer
    Then the authorization server metadata lists "S256" in "code_challenge_methods_supported"

  @req:DISC-12
  Scenario: The authorization server metadata does not advertise the plain PKCE method
    When the client fetches the authorization server metadata of the issuer
    Then the authorization server metadata does not list "plain" in "code_challenge_methods_supported"

  @req:DISC-13
  Scenario: The authorization server metadata describes registration for public clients
    When the client fetches the authorization server metadata of the issuer
    Then the authorization server metadata has the member "registration_endpoint"
    And the authorization server metadata lists "authorization_code" in "grant_types_supported"
    And the authorization server metadata lists "none" in "token_endpoint_auth_methods_supported"
    And the authorization server metadata has the member "scopes_supported"

  @req:DISC-14 @needs:login @capability:registration
  Scenario: The iss flag says truly whether authorization responses carry iss
    When the client obtains an authorization response to compare with the metadata
    Then the authorization response carries iss exactly when the metadata says so

  @req:DISC-15
  Scenario: Clients can register: Client ID Metadata Documents, or else dynamic registration
    When the client fetches the authorization server metadata of the issuer
    Then the authorization server metadata claims CIMD support, or else registration works

  @req:DISC-16
  Scenario: The authorization server metadata is JSON and leaves out members without a value
    When the client fetches the authorization server metadata of the issuer
    Then the response status is 200
    And the response is JSON with Content-Type application/json
    And the authorization server metadata has no null or empty members

  @req:DISC-17
  Scenario: Paths older clients fall back to are served or answer a JSON 404
    When the client probes the paths older clients fall back to
    Then every probed path that is not served answers a JSON 404

  # ---- The guide's fixed paths -----------------------------------------------------------------

  @req:GUIDE-13
  Scenario: The authorization server metadata is served at the root
    When the client fetches "/.well-known/oauth-authorization-server" at the gateway root
    Then the response status is 200
    And the response is JSON with Content-Type application/json
    And the authorization server metadata has the member "issuer"
    And the authorization server metadata has the member "token_endpoint"

  @req:GUIDE-14
  Scenario: The protected resource metadata is served at the root
    When the client fetches "/.well-known/oauth-protected-resource" at the gateway root
    Then the response status is 200
    And the response is JSON with Content-Type application/json
    And the protected resource metadata names at least one authorization server
