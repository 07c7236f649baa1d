@area:bearer
Feature: Bearer credentials at the MCP endpoint
  The MCP endpoint takes its credential only from the Authorization header with the Bearer scheme
  (RFC 6750 §2.1), checks every request on its own, refuses every token it did not issue, and
  answers each failure with a 401 whose first challenge is Bearer and names the agent's protected
  resource metadata (RFC 6750 §3, RFC 9728 §5.1). Besides OAuth access tokens, the guide accepts a
  bak_ agent key for its own agent and an oag_ user key for the agents its user owns.

  @req:BEARER-01
  Scenario: The Bearer scheme name is case-insensitive, and no other scheme carries a credential
    Given an access token for the owned agent
    When the MCP request to the owned agent carries the access token under the scheme "bearer"
    Then the MCP request is accepted
    When the MCP request to the owned agent carries the access token under the scheme "BEARER"
    Then the MCP request is accepted
    When the MCP request to the owned agent carries the access token under the scheme "Token"
    Then the MCP request is refused with status "400, 401"

  @req:BEARER-02
  Scenario: An access token in the query string is never accepted
    Given an access token for the owned agent
    When the MCP request to the owned agent carries the access token only in the query parameter access_token
    Then the MCP request is refused with status "401"
    When the MCP request to the owned agent carries "the access token"
    Then the MCP request is accepted

  @req:BEARER-03
  Scenario Outline: A request with <credential> gets a 401 whose first challenge is Bearer
    When the MCP request to the owned agent carries "<credential>"
    Then the MCP request is refused with status "401"

    Examples:
      | credential     |
      | no credentials |

    @req:BEARER-06
    Examples: unknown credentials
      | credential           |
      | a malformed token    |
      | an unknown agent key |
      | an unknown user key  |

  @req:BEARER-04
  Scenario: The challenge links to the agent's own metadata by an absolute URL
    When the MCP request to the owned agent carries "no credentials"
    Then the Bearer challenge's resource_metadata is an absolute URL
    And the metadata it links to names the owned agent's MCP URL as resource

  @req:BEARER-04 @needs:other_agent
  Scenario: Another agent's challenge links to that agent's own metadata
    When the MCP request to the other agent carries "no credentials"
    Then the Bearer challenge's resource_metadata is an absolute URL
    And the metadata it links to names the other agent's MCP URL as resource

  @req:BEARER-05
  Scenario: A request without credentials is challenged without an error code
    When the MCP request to the owned agent carries "no credentials"
    Then the Bearer challenge has no error attribute
    And the Bearer challenge has each of realm, scope and error at most once

  @req:BEARER-05
  Scenario: A refused token is challenged with error="invalid_token"
    When the MCP request to the owned agent carries "a malformed token"
    Then the Bearer challenge has the error "invalid_token"
    And the Bearer challenge has each of realm, scope and error at most once

  @req:BEARER-06 @req:AUD-07
  Scenario Outline: An access token <forgery> is refused
    Given an access token for the owned agent
    When the MCP request to the owned agent carries a forgery of the access token "<forgery>"
    Then the MCP request is refused with status "401"

    Examples: changed without the signing key
      | forgery                   |
      | with a tampered signature |
      | re-encoded with alg none  |

    @needs:hs256_secret
    Examples: re-signed with the gateway's key
      | forgery                  |
      | issued by another issuer |
      | after it expired         |

  @req:BEARER-07
  Scenario: The 401 challenge names the scope a client should request
    When the MCP request to the owned agent carries "no credentials"
    Then the Bearer challenge names scopes the protected resource metadata lists

  @req:BEARER-08 @needs:hs256_secret
  Scenario: A valid token without the needed scope gets 403 insufficient_scope
    Given an access token for the owned agent
    When the MCP request to the owned agent carries the access token re-signed with the scope "conformance.unrelated"
    Then the MCP request is refused with status "403"
    And the Bearer challenge has the error "insufficient_scope"
    And the Bearer challenge names the needed scope and the resource_metadata

  @req:BEARER-09
  Scenario Outline: A broken Authorization header (<case>) gets 400 invalid_request
    When the MCP request to the owned agent carries "<case>"
    Then the MCP request is refused with status "400"
    And the refusal names the error "invalid_request"

    Examples:
      | case                       |
      | an empty Bearer credential |
      | two Authorization headers  |

  @req:BEARER-09
  Scenario: A token sent by two methods at once gets 400 invalid_request
    Given an access token for the owned agent
    When the MCP request to the owned agent carries the access token both in the Authorization header and in the query
    Then the MCP request is refused with status "400"
    And the refusal names the error "invalid_request"

  @req:BEARER-10
  Scenario: A session id is never a credential
    Given an access token for the owned agent
    When the client initializes an MCP session at the owned agent with "the access token"
    And the client lists the tools in that session presenting only the session id
    Then the MCP request is refused with status "401"
    When the client lists the tools in that session with "the access token"
    Then the MCP response is a JSON-RPC 2.0 result listing tools

  @req:BEARER-11
  Scenario: An unauthenticated tool call is refused before any JSON-RPC processing
    Given an access token for the owned agent
    When the client calls a tool at the owned agent with "no credentials"
    Then the MCP request is refused with status "401"
    When the client initializes an MCP session at the owned agent with "the access token"
    And the client calls a tool at the owned agent with "the access token"
    Then the MCP server answered the tool call with a JSON-RPC response

  @req:GUIDE-10 @needs:agent_key
  Scenario: An agent key (bak_) is accepted at its own agent
    When the MCP request to the owned agent carries "the agent key"
    Then the MCP request is accepted

  @req:GUIDE-11 @needs:user_key
  Scenario: A user key (oag_) is accepted at an agent its user owns
    When the MCP request to the owned agent carries "the user key"
    Then the MCP request is accepted

  @req:GUIDE-12
  Scenario Outline: A failed authentication (<credential>) is a 401 with Bearer realm="MCP" and resource_metadata
    When the MCP request to the owned agent carries "<credential>"
    Then the MCP request is refused with status "401"
    And the Bearer challenge has realm "MCP" and a resource_metadata

    Examples:
      | credential           |
      | no credentials       |
      | an unknown agent key |
