@area:token
Feature: Token endpoint
  The client redeems its authorization code at the token endpoint with a form-encoded POST of
  grant_type authorization_code, the code, its code_verifier, client_id and redirect_uri (OAuth 2.1
  "Token Endpoint", "Token Endpoint Extension"). Success is a JSON Bearer token response that no
  cache keeps; every refusal is a JSON OAuth error that names its reason. A code yields tokens
  once, to the client it was issued to, for the redirect_uri it was issued for.

  @req:TOKEN-02 @req:TOKEN-03 @needs:login
  Scenario: A redeemed code yields a Bearer token in a JSON response that no cache keeps
    Given a code to redeem at the token endpoint
    When the client redeems the code
    Then the response status is 200
    And the response is JSON with Content-Type application/json
    And the token response is a Bearer token response without null members
    And the response forbids caching

  @req:TOKEN-03 @req:TOKEN-04
  Scenario: A refused token request is a JSON OAuth error that no cache keeps
    Given a registered client
    When the client redeems a code the gateway never issued
    Then the OAuth error is "invalid_grant" with status 400
    And the response forbids caching

  # OAuth 2.1 "Token Request" tells the client to send form-encoded parameters; no clause tells the
  # authorization server to refuse other media types. A JSON body may be refused (400
  # invalid_request) or read as the same request; anything else (a 500, a non-JSON error) fails.
  @req:TOKEN-01 @req:TOKEN-04 @needs:login
  Scenario: A token request with a JSON body is refused with invalid_request or answered like the form
    Given a code to redeem at the token endpoint
    When the client redeems the code with a JSON body
    Then the JSON token request is refused with invalid_request or answered with a token

  @req:TOKEN-01 @needs:login
  Scenario: An unknown token request parameter is ignored
    Given a code to redeem at the token endpoint
    When the client redeems the code with the extra parameter "x_conformance_probe=1"
    Then the token endpoint issues a token

  @req:TOKEN-01 @needs:login
  Scenario: A token request parameter sent twice is refused with invalid_request
    Given a code to redeem at the token endpoint
    When the client redeems the code with "code_verifier" sent twice
    Then the OAuth error is "invalid_request" with status 400

  @req:TOKEN-01 @needs:login
  Scenario: A token request parameter sent empty counts as left out
    Given a code to redeem at the token endpoint
    When the client redeems the code with an empty "redirect_uri"
    Then the token endpoint issues a token

  @req:TOKEN-04 @needs:login
  Scenario: A code redemption without the code is refused with invalid_request
    Given a code to redeem at the token endpoint
    When the client redeems the code leaving out "code"
    Then the OAuth error is "invalid_request" with status 400

  @req:TOKEN-05 @needs:login
  Scenario: A code issued to one client is refused to another with invalid_grant
    Given a code to redeem at the token endpoint
    When another registered client redeems the code
    Then the OAuth error is "invalid_grant" with status 400

  @req:TOKEN-05 @needs:login
  Scenario: A code redemption without client_id is refused
    Given a code to redeem at the token endpoint
    When the client redeems the code leaving out "client_id"
    Then the token endpoint refuses with one of "invalid_request, invalid_client" and status one of "400, 401"

  @req:TOKEN-06 @needs:login
  Scenario: A code yields tokens only once
    Given the client has redeemed a code for an access token
    When the client redeems the same code again
    Then the OAuth error is "invalid_grant" with status 400

  @req:TOKEN-12 @needs:login
  Scenario: Redeeming a code twice revokes the access token of its first redemption
    Given the client has redeemed a code for an access token
    And the access token of that redemption works at the MCP endpoint
    When the client redeems the same code again
    Then the access token of the first redemption is refused at the MCP endpoint

  @req:TOKEN-12 @needs:login @capability:refresh
  Scenario: Redeeming a code twice revokes the refresh token of its first redemption too
    Given the client has redeemed a code for an access token
    When the client redeems the same code again
    Then the refresh token of the first redemption is refused with invalid_grant

  @req:TOKEN-12 @needs:login
  Scenario: A replay of a used code with a wrong code_verifier revokes nothing
    Given the client has redeemed a code for an access token
    When the client replays the same code with a wrong code_verifier
    Then the OAuth error is "invalid_grant" with status 400
    And the access token of the first redemption still works at the MCP endpoint

  @req:TOKEN-07 @needs:login
  Scenario: A redirect_uri other than the authorized one is refused with invalid_grant
    Given a code to redeem at the token endpoint
    When the client redeems the code with a different redirect_uri
    Then the OAuth error is "invalid_grant" with status 400

  @req:TOKEN-07 @needs:login
  Scenario: A code redemption without redirect_uri succeeds
    Given a code to redeem at the token endpoint
    When the client redeems the code leaving out "redirect_uri"
    Then the token endpoint issues a token

  @req:TOKEN-09
  Scenario Outline: The grant_type <grant_type> is refused to a public client
    Given a registered client
    When the client requests a token with grant_type "<grant_type>"
    Then the OAuth error is one of "unsupported_grant_type, unauthorized_client" with status 400

    Examples:
      | grant_type                      |
      | password                        |
      | client_credentials              |
      | urn:example:conformance:unknown |

  @req:GUIDE-05 @req:GUIDE-06 @needs:login
  Scenario: The guide's /oauth/token answers a Bearer HS256 JWT that lives 3600 seconds
    Given a code to redeem at the token endpoint
    When the client redeems the code at the guide's fixed path
    Then the response status is 200
    And the token response has token_type Bearer and expires_in 3600, as the guide shows
    And the access token is a JWT signed with HS256, as the guide says
