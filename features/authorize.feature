@area:authorize
Feature: Authorization endpoint
  The client sends the user's browser to the authorization endpoint (OAuth 2.1 §4.1.1). The
  client_id and redirect_uri are checked first: when either is bad the user sees an error page and
  is never redirected, because the gateway would otherwise be an open redirector (§4.1.2.1). Every
  other error goes back to the validated redirect_uri with error, state and iss; a request the user
  grants goes back there with code and the exact state (§4.1.2, RFC 9207).

  Background:
    Given a registered client

  @req:GUIDE-04 @needs:login
  Scenario: The guide's authorization request at /oauth/authorize returns a code and the state
    When the user approves the guide's authorization request at /oauth/authorize
    Then the client receives an authorization code with its state

  @req:AUTHZ-07 @req:AUTHZ-10 @req:DISC-14 @needs:login
  Scenario: A granted request is answered with one code and the exact state, even with URL-special characters
    When the user approves an authorization request with state set to 'x y+z&a=b/c?d#e%41;f,g:h@i~j'
    Then the client receives an authorization code with its state
    And the authorization redirect carries iss only if the metadata advertises it
    And the authorization code yields an access token to the client it was issued to

  @req:AUTHZ-07 @needs:login
  Scenario: The redirect keeps the query the registered redirect URI already has
    Given a client registered with a redirect URI that carries the query "tenant=conformance"
    When the user approves an authorization request
    Then the client receives an authorization code with its state
    And the authorization redirect keeps the query "tenant=conformance"

  @req:AUTHZ-10 @needs:login
  Scenario: A code cannot be redeemed by another client
    Given the user has approved an authorization request
    When another registered client redeems the authorization code
    Then the OAuth error is "invalid_grant" with status 400

  @req:AUTHZ-10 @needs:login
  Scenario: A code redeemed without resource yields no token wider than the resource authorized
    Given the user has approved an authorization request
    When the client redeems the authorization code without resource
    Then the token is for the authorized resource alone, or refused with invalid_target

  @req:AUTHZ-02
  Scenario Outline: A request with an unknown, empty or missing client_id is refused without a redirect
    When an authorization request is sent <client_id>
    Then the authorization request is refused without a redirect to the client

    Examples:
      | client_id                     |
      | with an unknown client_id     |
      | with client_id set to ""      |
      | without client_id             |

  @req:AUTHZ-02
  Scenario Outline: A redirect_uri that was never registered is refused without a redirect to it
    When an authorization request is sent with redirect_uri set to "<redirect_uri>"
    Then the authorization request is refused without a redirect to the requested redirect_uri

    Examples:
      | redirect_uri                      |
      | https://attacker.example/callback |
      | //attacker.example/callback       |
      | javascript:alert(1)               |

  @req:AUTHZ-03
  Scenario Outline: A redirect_uri that differs from the registered one in any way is refused
    When an authorization request is sent with the registered redirect_uri changed by "<change>"
    Then the authorization request is refused without a redirect to the requested redirect_uri

    Examples:
      | change                    |
      | a trailing slash          |
      | an extra query parameter  |
      | an upper-case path        |
      | the other scheme          |
      | a longer path             |
      | a dot segment in the path |

  @req:AUTHZ-03
  Scenario: The any-port exception is for loopback redirect URIs only
    Given a client registered with an https redirect URI on a non-default port
    When an authorization request is sent with the registered redirect_uri changed by "another port"
    Then the authorization request is refused without a redirect to the requested redirect_uri

  @req:AUTHZ-04 @needs:login
  Scenario Outline: A loopback redirect URI matches whatever port the request names
    Given a client registered with the loopback redirect URI <registered>
    When the user approves an authorization request
    Then the client receives an authorization code with its state
    And the authorization code is sent to the port that was requested

    Examples:
      | registered      |
      | on another port |
      | without a port  |

  @req:AUTHZ-04
  Scenario Outline: The loopback exception covers only the port: path and host must still match
    Given a client registered with the loopback redirect URI on another port
    When an authorization request is sent with the registered redirect_uri changed by "<change>"
    Then the authorization request is refused without a redirect to the requested redirect_uri

    Examples:
      | change                  |
      | another path            |
      | the other loopback host |

  @req:AUTHZ-05
  Scenario: Omitting redirect_uri when two are registered is refused without a redirect
    Given a client registered with two redirect URIs
    When an authorization request is sent without redirect_uri
    Then the authorization request is refused without a redirect to the client

  @req:AUTHZ-05 @needs:login
  Scenario: Omitting redirect_uri when exactly one is registered sends the code to that one
    When the user approves an authorization request without redirect_uri
    Then the client receives an authorization code with its state

  # RFC 6749 §4.1.2.1 and OAuth 2.1 "Authorization Error Response" define both codes and rank
  # neither: unsupported_response_type is the precise one, but invalid_request ("includes an
  # invalid parameter value") describes a response_type the server does not accept as well.
  @req:AUTHZ-06 @req:AUTHZ-08 @req:DISC-14
  Scenario Outline: A response_type other than code is sent back as an error with the state
    When an authorization request is sent with response_type set to "<response_type>"
    Then the client receives one of the authorization errors "unsupported_response_type, invalid_request" with its state
    And the authorization redirect carries iss only if the metadata advertises it

    Examples:
      | response_type |
      | token         |
      | code token    |
      | conformance   |

  @req:AUTHZ-06 @req:AUTHZ-08
  Scenario: A missing response_type is sent back as an error with the state
    When an authorization request is sent without response_type
    Then the client receives one of the authorization errors "invalid_request, unsupported_response_type" with its state

  @req:AUTHZ-08 @req:DISC-14 @needs:login @needs:deny
  Scenario: A user who denies is sent back with access_denied and the state
    When the user denies an authorization request
    Then the client receives the authorization error "access_denied" with its state
    And the authorization redirect carries iss only if the metadata advertises it

  @req:DISC-14 @req:AUTHZ-09 @capability:iss @needs:login
  Scenario: With the iss flag advertised, success and error redirects carry iss equal to the issuer
    When the user approves an authorization request
    Then the authorization redirect carries iss equal to the metadata issuer
    When an authorization request is sent with response_type set to "token"
    Then the authorization redirect carries iss equal to the metadata issuer

  @req:AUTHZ-09
  Scenario: An authorization error response identifies the issuer with iss
    When an authorization request is sent with response_type set to "token"
    Then the authorization redirect carries iss equal to the metadata issuer

  @req:AUTHZ-01 @needs:login
  Scenario: Unknown and empty parameters are ignored
    When the user approves an authorization request with the extra parameters "prompt=consent&conformance_unknown=yes&conformance_empty="
    Then the client receives an authorization code with its state

  @req:AUTHZ-01
  Scenario Outline: A repeated parameter is refused with invalid_request
    When an authorization request is sent with the parameter <parameter> repeated
    Then the authorization request is refused with "invalid_request" or an error page

    Examples:
      | parameter             |
      | state                 |
      | response_type         |
      | code_challenge_method |

  @req:AUTHZ-13 @needs:login
  Scenario Outline: An absent or empty scope is accepted
    When the user approves an authorization request <scope>
    Then the client receives an authorization code with its state

    Examples:
      | scope                   |
      | without scope           |
      | with scope set to ""    |

  @req:AUTHZ-13 @needs:login
  Scenario: An unknown scope is refused with invalid_scope or left out of the granted scope
    When the user approves an authorization request with an unknown scope added
    Then the unknown scope is refused with invalid_scope or left out of the granted scope

  @req:AUTHZ-12
  Scenario: The login page cannot be framed and is not stored by caches
    When the user agent opens the login page of an authorization request
    Then the login page forbids framing
    And the login page is not stored by caches

  @req:AUTHZ-12
  Scenario: The login page names the client and the host the code will be sent to
    When the user agent opens the login page of an authorization request
    Then the login page shows the client_name and the redirect_uri host

  @req:AUTHZ-12
  Scenario: The cookies of the login are HttpOnly and SameSite
    When the user agent opens the login page of an authorization request
    Then the cookies set on the way to the login page are HttpOnly and SameSite

  @req:AUTHZ-14 @needs:login
  Scenario: A login with a wrong password issues no code
    When the user submits the login form with a wrong password
    Then no authorization code is sent to the client

  @req:AUTHZ-14 @needs:login
  Scenario: A login with an unknown username issues no code
    When the user submits the login form with an unknown username
    Then no authorization code is sent to the client

  @req:AUTHZ-12 @needs:login
  Scenario: A login form posted with a tampered CSRF token issues no code
    When the user submits the login form with a tampered CSRF token
    Then no authorization code is sent to the client
