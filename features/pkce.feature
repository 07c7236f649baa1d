@area:pkce
Feature: PKCE
  Every authorization code is bound to a code_challenge (RFC 7636; OAuth 2.1 and MCP require it
  of every client). The client sends BASE64URL(SHA256(code_verifier)) with the method S256 to the
  authorization endpoint, and proves at the token endpoint that it holds the code_verifier. The
  authorization server refuses a request without a challenge or with any method but S256, and
  refuses to redeem a code with a verifier that does not match.

  @req:PKCE-01
  Scenario: An authorization request without code_challenge is refused
    When the client requests a code without a code_challenge
    Then the authorization endpoint refuses the PKCE parameters with invalid_request and no code

  @req:PKCE-02 @needs:login
  Scenario: An authorization request with an S256 code_challenge yields a code
    When the client requests a code with code_challenge_method "S256"
    Then the authorization response carries a code

  @req:PKCE-02
  Scenario: An omitted code_challenge_method means plain and is refused, not taken as S256
    When the client requests a code without a code_challenge_method
    Then the authorization endpoint refuses the PKCE parameters with invalid_request and no code

  @req:PKCE-02
  Scenario Outline: The code_challenge_method <method> is refused
    When the client requests a code with code_challenge_method "<method>"
    Then the authorization endpoint refuses the PKCE parameters with invalid_request and no code

    Examples:
      | method |
      | plain  |
      | s256   |

  @req:PKCE-03
  Scenario Outline: A <shape> S256 code_challenge is refused
    When the client requests a code with a <shape> S256 code_challenge
    Then the authorization endpoint refuses the PKCE parameters with invalid_request and no code

    Examples:
      | shape           |
      | 42-character    |
      | padded          |
      | standard-base64 |

  @req:PKCE-04 @needs:login
  Scenario: The RFC 7636 Appendix B code_verifier redeems the code issued for its challenge
    Given a code issued for the code_challenge "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    When the client redeems the code with the code_verifier "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    Then the code redemption yields an access token

  @req:PKCE-04 @needs:login
  Scenario: A code_verifier that does not match the code_challenge is refused with invalid_grant
    Given a code issued for an S256 code_challenge
    When the client redeems the code with another valid code_verifier
    Then the OAuth error is "invalid_grant" with status 400

  @req:PKCE-04 @needs:login
  Scenario: The code_challenge itself, sent as code_verifier, is refused with invalid_grant
    Given a code issued for an S256 code_challenge
    When the client redeems the code with the code_challenge as code_verifier
    Then the OAuth error is "invalid_grant" with status 400

  @req:PKCE-05 @needs:login
  Scenario: A code issued for a code_challenge is not redeemed without code_verifier
    Given a code issued for an S256 code_challenge
    When the client redeems the code without a code_verifier
    Then the OAuth error is one of "invalid_grant, invalid_request" with status 400

  @req:PKCE-06 @needs:login
  Scenario Outline: A code_verifier that is <flaw> is refused even with its own S256 challenge
    Given a code issued for the S256 challenge of a <flaw> code_verifier
    When the client redeems the code with that code_verifier
    Then the OAuth error is one of "invalid_grant, invalid_request" with status 400

    Examples:
      | flaw             |
      | too-short        |
      | too-long         |
      | outside-alphabet |

  @req:PKCE-07 @needs:login
  Scenario: The authorization response does not reveal the code_challenge
    When the client requests a code with code_challenge_method "S256"
    Then the authorization response carries a code
    And the authorization response does not reveal the code_challenge

  # Properties (proptest): each case is a register/authorize/login/token cycle of its own.
  # --pkce-cases sets the cases per property, --seed the draw; a failure prints its minimal case
  # and a --pkce-replay command that runs exactly that case.

  @req:PKCE-04 @needs:login
  Scenario: Property: every valid code_verifier yields a token
    Then every valid code_verifier redeems the code issued for its S256 challenge

  @req:PKCE-04 @needs:login
  Scenario: Property: a code_verifier one character off, short, long, foreign or padded is refused
    Then every code_verifier that differs from the challenged one is refused

  @req:PKCE-06 @needs:login
  Scenario: Property: a code_verifier outside 43 to 128 unreserved characters is refused
    Then every code_verifier outside the RFC 7636 grammar is refused, even with its own challenge

  @req:PKCE-02
  Scenario: Property: every code_challenge_method but S256 is refused
    Then every code_challenge_method but S256 is refused at the authorization endpoint

  @req:PKCE-03
  Scenario: Property: every code_challenge that is not 43 base64url characters is refused
    Then every malformed S256 code_challenge is refused at the authorization endpoint
