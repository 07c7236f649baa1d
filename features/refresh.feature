@area:refresh
Feature: Refresh tokens
  An MCP client keeps its access alive with the refresh token grant (OAuth 2.1 "Refresh Token
  Grant"). Issuing refresh tokens is the authorization server's choice; a server that does not
  issue them says so by leaving the grant out of its metadata. A refresh token issued to a public
  client rotates on every use, and presenting a used one revokes the grant; it works only for its
  client, for at most the granted scope and for the consented resource. The client refreshes the
  way the MCP SDKs do: grant_type, refresh_token, client_id and the RFC 8707 resource, no scope.

  @req:REFRESH-01 @capability:refresh
  Scenario: A client that registered the refresh grant receives a refresh token
    Given a registered client
    And an access token for the owned agent
    Then a refresh token comes with the access token

  @req:REFRESH-01
  Scenario: Without the refresh grant, no refresh token is issued and the grant is unsupported
    Given the gateway does not advertise the refresh grant
    And a client registered with the refresh grant, as the MCP SDKs register
    And an access token for the owned agent
    Then no refresh token comes with the access token
    When the client sends a refresh request with a made-up refresh token
    Then the refresh grant is refused as unsupported

  @req:REFRESH-02 @req:REFRESH-03 @req:REFRESH-05 @capability:refresh
  Scenario: The client that holds a refresh token gets new tokens for the consented resource
    Given a refresh token for the owned agent
    When the client refreshes with the newest refresh token
    Then the refresh response rotates the refresh token
    And the refreshed access token is new and expires no earlier than the first one
    And the refreshed access token works at the owned agent's MCP endpoint
    When the client refreshes with the newest refresh token
    Then the refresh response rotates the refresh token

  @req:REFRESH-02 @capability:refresh
  Scenario: A used refresh token is refused, and presenting it revokes the newest one
    Given a refresh token for the owned agent
    When the client refreshes with the newest refresh token
    Then the refresh response rotates the refresh token
    When the client refreshes with the used refresh token
    Then the OAuth error is "invalid_grant" with status 400
    When the client refreshes with the newest refresh token
    Then the OAuth error is "invalid_grant" with status 400

  @req:REFRESH-03 @capability:refresh
  Scenario: Another client cannot use the refresh token
    Given a refresh token for the owned agent
    And a second client that registered the refresh grant
    When the second client refreshes with the refresh token
    Then the OAuth error is "invalid_grant" with status 400

  @req:REFRESH-04 @capability:refresh
  Scenario: A refresh keeps the granted scope, whether the client repeats it or omits it
    Given a refresh token for the owned agent
    When the client refreshes with the newest refresh token and the granted scope
    Then the refresh response issues an access token
    And the refresh response grants the original scope
    When the client refreshes with the newest refresh token
    Then the refresh response issues an access token
    And the refresh response grants the original scope

  @req:REFRESH-04 @capability:refresh
  Scenario: A refresh cannot widen the granted scope
    Given a refresh token for the owned agent
    When the client refreshes with the newest refresh token and a scope beyond the grant
    Then the OAuth error is "invalid_scope" with status 400

  @req:REFRESH-05 @capability:refresh @needs:other_agent
  Scenario: A refresh for another agent's resource is refused
    Given a refresh token for the owned agent
    When the client refreshes with the newest refresh token for the other agent's resource
    Then the OAuth error is "invalid_target" with status 400

  @req:REFRESH-07
  Scenario: offline_access is offered neither by the resource metadata nor by the challenge
    When the client collects the scopes the owned agent's MCP endpoint offers
    Then offline_access is not among the offered scopes
