@area:mcp-endpoint
Feature: The MCP endpoint
  Behind the gateway sits an MCP server speaking JSON-RPC 2.0 over Streamable HTTP. A client with a
  token obtained the honest way starts a session on its first call; a request from an untrusted
  browser Origin is refused (DNS rebinding), and nothing reaches the server unauthenticated. Only
  the JSON-RPC shape is checked: every gateway has its own tools.

  @req:INTEROP-02
  Scenario: A token obtained as the TypeScript SDK obtains it works on the first MCP call
    Given an access token for the owned agent
    When the client initializes an MCP session at the owned agent with "the access token"
    Then the MCP response is a JSON-RPC 2.0 result
    When the client lists the tools in that session with "the access token"
    Then the MCP response is a JSON-RPC 2.0 result listing tools

  @req:SEC-02
  Scenario: A request from an untrusted Origin is refused with 403
    Given an access token for the owned agent
    When the MCP request to the owned agent carries "the access token" from the Origin "https://evil.example"
    Then the MCP request is refused as coming from an untrusted Origin
    When the MCP request to the owned agent carries "the access token"
    Then the MCP request is accepted

  @req:BEARER-11
  Scenario: A GET on the MCP endpoint without credentials is challenged or not allowed
    When the client opens a GET stream at the owned agent's MCP endpoint without credentials
    Then the MCP request is refused with status "401, 405"

  @req:GUIDE-09
  Scenario: MCP requests are JSON-RPC POSTs to /{AGENT_ID}/mcp with the access token as Bearer credential
    Given an access token for the owned agent
    When the client initializes an MCP session at the guide's fixed path of the owned agent with "the access token"
    Then the MCP response is a JSON-RPC 2.0 result
    When the client lists the tools in that session with "the access token"
    Then the MCP response is a JSON-RPC 2.0 result listing tools
    When the client POSTs the guide's tools/list request to the fixed path of the owned agent without credentials
    Then the MCP request is refused with status "401"
