@area:registration
Feature: Dynamic client registration
  An MCP client that finds a registration_endpoint in the authorization server metadata registers
  itself there (RFC 7591) as a public client: a JSON POST without credentials, answered 201 with a
  new client_id and the metadata as registered, never with a client_secret. Metadata the server
  does not understand is ignored; bad metadata is refused with a 400 JSON error whose code says why.

  @req:DCR-01 @capability:registration
  Scenario: Registration needs no initial access token
    When a client registers as an MCP client would
    Then the registration succeeds without credentials

  @req:DCR-02 @capability:registration
  Scenario: A registration is answered 201 with the client_id and the registered redirect_uris
    When a client registers as an MCP client would
    Then the registration is answered 201 Created with a client_id
    And the response is JSON with Content-Type application/json
    And the registration response echoes the redirect_uris

  @req:DCR-10 @capability:registration
  Scenario: The registration response is not stored by caches
    When a client registers as an MCP client would
    Then a client is registered
    And the response forbids caching

  @req:DCR-03 @capability:registration
  Scenario: A client registering with token_endpoint_auth_method none gets no client_secret
    When a client registers with token_endpoint_auth_method set to "none"
    Then the client is registered as a public client

  @req:DCR-03 @capability:registration @capability:public-only
  Scenario: A client that omits token_endpoint_auth_method gets no client_secret
    When a client registers without token_endpoint_auth_method
    Then the client is registered as a public client or refused with invalid_client_metadata

  @req:DCR-03 @capability:registration @capability:public-only
  Scenario Outline: A client asking for a secret-based method gets no client_secret
    When a client registers with token_endpoint_auth_method set to "<method>"
    Then the client is registered as a public client or refused with invalid_client_metadata

    Examples:
      | method              |
      | client_secret_basic |
      | client_secret_post  |
      | private_key_jwt     |

  @req:DCR-04 @capability:registration
  Scenario Outline: An https or loopback http redirect URI is registered as sent
    When a client registers with redirect_uris set to '<redirect_uris>'
    Then a client is registered
    And the registration response echoes the redirect_uris

    Examples:
      | redirect_uris                               |
      | ["https://claude.ai/api/mcp/auth_callback"] |
      | ["http://localhost:6274/oauth/callback"]    |
      | ["http://127.0.0.1:33418/callback"]         |

  @req:DCR-04 @req:DCR-05 @capability:registration
  Scenario: A registration without redirect_uris is refused
    When a client registers without redirect_uris
    Then no client is registered
    And the OAuth error is one of "invalid_redirect_uri, invalid_client_metadata" with status 400

  @req:DCR-04 @req:DCR-05 @capability:registration
  Scenario Outline: A redirect URI that is not absolute https or loopback http, or has a fragment, is refused
    When a client registers with redirect_uris set to '<redirect_uris>'
    Then no client is registered
    And the OAuth error is one of "invalid_redirect_uri, invalid_client_metadata" with status 400

    Examples:
      | redirect_uris                               |
      | []                                          |
      | ["http://evil.example/callback"]            |
      | ["https://client.example/callback#section"] |
      | ["javascript:alert(1)"]                     |
      | ["data:text/html,hello"]                    |
      | ["/callback"]                               |

  @req:DCR-05 @capability:registration
  Scenario: A body that is not valid JSON is refused with a JSON error
    When a client sends the registration body '{"client_name": "broken", "redirect_uris": [' as application/json
    Then no client is registered
    And the OAuth error is one of "invalid_client_metadata, invalid_request" with status 400

  @req:DCR-05 @capability:registration
  Scenario Outline: redirect_uris of the wrong type are refused with a JSON error
    When a client registers with redirect_uris set to '<redirect_uris>'
    Then no client is registered
    And the OAuth error is one of "invalid_client_metadata, invalid_redirect_uri" with status 400

    Examples:
      | redirect_uris                               |
      | [42]                                        |
      | [null]                                      |
      | {"0": "http://127.0.0.1:8976/callback"}     |

  @req:DCR-06 @capability:registration
  Scenario: Metadata the server does not understand is ignored
    When a client registers with the metadata below
      """
      {
        "client_name": "mcp-conformance",
        "redirect_uris": ["http://127.0.0.1:8976/callback"],
        "token_endpoint_auth_method": "none",
        "application_type": "native",
        "software_id": "4d3b9a52-mcp-conformance",
        "software_version": "0.1.0",
        "logo_uri": "https://client.example/logo.png",
        "scope": "",
        "x_conformance_extension": {"nested": [1, 2, 3]}
      }
      """
    Then a client is registered

  @req:DCR-06 @req:DCR-04 @capability:registration
  Scenario: Unknown metadata does not make a bad redirect URI acceptable
    When a client registers with the metadata below
      """
      {
        "client_name": "mcp-conformance",
        "redirect_uris": ["http://evil.example/callback"],
        "application_type": "web",
        "x_conformance_extension": true
      }
      """
    Then no client is registered
    And the OAuth error is one of "invalid_redirect_uri, invalid_client_metadata" with status 400

  @req:DCR-07 @capability:registration
  Scenario: Asking for the authorization_code and refresh_token grants succeeds
    When a client registers with grant_types set to '["authorization_code", "refresh_token"]'
    Then a client is registered
    And the registered grant_types and response_types are ones the server supports

  @req:DCR-07 @capability:registration
  Scenario Outline: A grant or response type the server does not support is refused or left out
    When a client registers with <member> set to '<value>'
    Then the registration refuses "<unsupported>" or leaves it out of <member>

    Examples:
      | member         | value                                        | unsupported        |
      | grant_types    | ["authorization_code", "implicit"]           | implicit           |
      | grant_types    | ["authorization_code", "client_credentials"] | client_credentials |
      | response_types | ["code", "token"]                            | token              |

  @req:DCR-08 @capability:registration
  Scenario: Two registrations with the same client_name get distinct, unguessable client_ids that both work
    When a client registers twice with the same client_name
    Then the two client_ids differ and neither can be guessed from the other
    And an authorization request is accepted for each of the two client_ids

  @req:GUIDE-01
  Scenario: The guide's registration example works at /oauth/register
    When a client posts the guide's registration example to /oauth/register
    Then the registration at the guide's path returns a client_id

  @req:GUIDE-03
  Scenario: The registration response repeats the client_name and redirect_uris it was sent
    When a client posts the guide's registration example to /oauth/register
    Then the registration response repeats the client_name and redirect_uris it was sent

  @req:GUIDE-02
  Scenario: The guide's registration example gets no client_secret
    When a client posts the guide's registration example to /oauth/register
    Then the registration response contains no client_secret

  @req:GUIDE-02
  Scenario Outline: No registration at /oauth/register returns a client_secret
    When a client posts the guide's registration example to /oauth/register with token_endpoint_auth_method "<method>"
    Then the registration response contains no client_secret

    Examples:
      | method              |
      | client_secret_basic |
      | client_secret_post  |

  @req:INTEROP-01 @capability:registration @needs:login
  Scenario: The registration the TypeScript SDK v2 sends is accepted and its client_id works
    When a client registers with the metadata below
      """
      {
        "redirect_uris": ["http://localhost:8090/callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "Simple OAuth MCP Client",
        "application_type": "native"
      }
      """
    Then the registration is accepted as MCP clients expect
    And the registered client completes the authorization code flow

  @req:INTEROP-01 @capability:registration @needs:login
  Scenario: The registration the Python SDK sends, without token_endpoint_auth_method, is accepted and its client_id works
    When a client registers with the metadata below
      """
      {
        "redirect_uris": ["http://localhost:3030/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "Simple Auth Client",
        "application_type": "native"
      }
      """
    Then the registration is accepted as MCP clients expect
    And the registered client completes the authorization code flow

  @req:INTEROP-01 @capability:registration @needs:login
  Scenario: The registration MCP Inspector sends, with an empty scope, is accepted and its client_id works
    When a client registers with the metadata below
      """
      {
        "redirect_uris": ["http://localhost:6274/oauth/callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "MCP Inspector",
        "client_uri": "https://github.com/modelcontextprotocol/inspector",
        "scope": ""
      }
      """
    Then the registration is accepted as MCP clients expect
    And the registered client completes the authorization code flow
