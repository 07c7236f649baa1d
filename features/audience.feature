@area:audience
Feature: Resource indicators and token audience
  A client names the agent it wants a token for with the RFC 8707 resource parameter, the MCP URL
  from the agent's protected resource metadata. The token is bound to that resource and opens no
  other agent; a resource the gateway does not serve, or one outside the grant, is invalid_target.
  API keys are bound the same way: a bak_ key to its agent, an oag_ key to its user's agents.

  @req:AUD-01
  Scenario: A token requested for the agent's MCP URL as resource works at that agent
    Given an access token requested with the owned agent's MCP URL as resource
    When the MCP request to the owned agent carries "the access token"
    Then the MCP request is accepted

  @req:AUD-02
  Scenario: The access token is audience-restricted to the requested resource
    Given an access token requested for the owned agent's resource
    Then the access token's audience is the resource that was requested

  @req:AUD-03 @needs:other_agent
  Scenario: A token for the owned agent is refused at another agent
    Given an access token requested with the owned agent's MCP URL as resource
    And the access token is bound to the owned agent
    When the MCP request to the other agent carries "the access token"
    Then the MCP request is refused with status "401"
    When the MCP request to the owned agent carries "the access token"
    Then the MCP request is accepted

  @req:AUD-03 @req:AUD-07 @needs:hs256_secret
  Scenario: An access token re-signed for another audience is refused
    Given an access token for the owned agent
    When the MCP request to the owned agent carries a forgery of the access token "for another audience"
    Then the MCP request is refused with status "401"

  @req:AUD-04
  Scenario Outline: An authorization request for <resource> is refused with invalid_target
    When the client requests authorization for the owned agent with "<resource>" as resource
    Then the authorization is refused with invalid_target and no code

    Examples:
      | resource                     |
      | a resource on another host   |
      | a relative reference         |
      | the resource with a fragment |

  @req:AUD-04
  Scenario Outline: A code redeemed for <resource> is refused with invalid_target
    When the client redeems a code for the owned agent with "<resource>" as resource
    Then the OAuth error is "invalid_target" with status 400

    Examples:
      | resource                     |
      | a resource on another host   |
      | a relative reference         |
      | the resource with a fragment |

    @needs:other_agent
    Examples: outside the grant
      | resource                   |
      | the other agent's resource |

  @req:AUD-05
  Scenario: Without a resource parameter the gateway applies a default or refuses with invalid_target
    When the client obtains a token for the owned agent without a resource parameter
    Then the gateway either refused with invalid_target or issued a token that works at the owned agent

  @req:AUD-06
  Scenario: A resource with scheme and host in upper case is the same resource
    When the client obtains a token for the owned agent's resource with scheme and host in upper case
    Then a token is issued that works at the owned agent

  @req:AUD-06
  Scenario: An origin-only resource matches with and without a trailing slash
    When the client obtains a token for the gateway's origin-only resource with the trailing slash toggled
    Then a token is issued for that resource

  @req:AUD-09 @needs:other_agent_key
  Scenario: Another agent's key (bak_) is refused at the owned agent
    When the MCP request to the owned agent carries "the other agent's key"
    Then the MCP request is refused with status "401"

  @req:AUD-09 @needs:agent_key @needs:other_agent
  Scenario: The owned agent's key (bak_) is refused at another agent
    When the MCP request to the other agent carries "the agent key"
    Then the MCP request is refused with status "401"

  @req:AUD-09 @needs:other_user_key
  Scenario: Another user's key (oag_) is refused at the owned agent
    When the MCP request to the owned agent carries "the other user's key"
    Then the MCP request is refused with status "401, 403, 404"

  @req:AUD-09 @needs:user_key @needs:other_agent
  Scenario: The user's key (oag_) is refused at an agent the user does not own
    When the MCP request to the other agent carries "the user key"
    Then the MCP request is refused with status "401, 403, 404"
