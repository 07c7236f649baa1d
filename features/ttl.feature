@area:ttl
Feature: Lifetimes of authorization codes and access tokens
  Authorization codes expire shortly (OAuth 2.1 recommends ten minutes at most; the guide says
  120 seconds) and access tokens are short-lived (MCP security considerations; the guide says
  3600 seconds, and the suite calls anything up to a day short). A JWT access token's lifetime
  is exp - iat; an opaque token's is judged by expires_in alone. Scenarios that let time pass
  need a way to move the gateway's time (@needs:time): the reference's test clock, which the run
  then holds alone, or --slow, which waits in real time.

  @req:GUIDE-07
  Scenario: An access token is issued for 3600 seconds
    Given an access token for the owned agent
    Then the access token lifetime in expires_in is 3600 seconds
    And the access token's JWT lifetime, exp minus iat, is 3600 seconds

  @req:GUIDE-08 @needs:time
  Scenario: An authorization code is still redeemable 110 seconds after it was issued
    Given the gateway has just issued an authorization code for the owned agent
    When 110 seconds pass on the gateway's clock
    And the client now redeems the authorization code
    Then the late redemption issues an access token

  @req:GUIDE-08 @needs:time
  Scenario: An authorization code is refused 121 seconds after it was issued
    Given the gateway has just issued an authorization code for the owned agent
    When 121 seconds pass on the gateway's clock
    And the client now redeems the authorization code
    Then the late redemption is refused with invalid_grant

  @req:TOKEN-08 @needs:time
  Scenario: An authorization code older than ten minutes is refused
    Given the gateway has just issued an authorization code for the owned agent
    When 601 seconds pass on the gateway's clock
    And the client now redeems the authorization code
    Then the late redemption is refused with invalid_grant

  @req:SEC-04 @needs:time
  Scenario: An access token works until it expires and is refused after
    Given the client has just obtained an access token for the owned agent
    Then the access token's stated lifetime is at most one day
    When the gateway's clock reaches 5 seconds before the access token expires
    Then the access token still works at the owned agent's MCP endpoint
    When the gateway's clock passes the access token's expiry and the profile's leeway
    Then the owned agent's MCP endpoint refuses the expired access token with invalid_token
