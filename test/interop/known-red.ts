/**
 * Cells known to fail, each run as `it.fails` so that the day it passes the suite says so and the mark
 * must go. A peer's own bug names the upstream code line; a bug of ours names the issue that fixes it.
 */
export interface RedCell {
  /** Whose bug it is. */
  owner: "peer" | "ours";
  reason: string;
  /** The upstream file and line for a peer's bug; "fixed by: <issue subject>" for ours. */
  where: string;
}

const fastmcpDropsRefreshToken: RedCell = {
  owner: "peer",
  reason:
    'the refresh after expiry answers 401 invalid_grant "refresh token does not exist": FastMCP\'s InMemoryOAuthProvider deletes a refresh token when the expired access token issued with it is presented; the SDK clients refresh after the 401, while ours, FastMCP\'s and mcp-remote refresh before expiry and are not hit',
  where: "fastmcp 4.0.10, fastmcp/server/auth/providers/in_memory.py:292-299 (load_access_token calls _revoke_internal on an expired token) and :330-336 (which removes the associated refresh token)",
};

const cells: Record<string, RedCell> = {
  "MCP TS SDK 1.x client | FastMCP InMemoryOAuthProvider (defaults)": fastmcpDropsRefreshToken,
  "MCP TS SDK 1.x client | FastMCP InMemoryOAuthProvider (required_scopes, revocation)": fastmcpDropsRefreshToken,
  "MCP TS SDK 2.x client | FastMCP InMemoryOAuthProvider (defaults)": fastmcpDropsRefreshToken,
  "MCP TS SDK 2.x client | FastMCP InMemoryOAuthProvider (required_scopes, revocation)": fastmcpDropsRefreshToken,
  "FastMCP 4.0.10 Client (Python) | MCP TS SDK mcpAuthRouter": {
    owner: "peer",
    reason:
      'the code exchange answers 400 invalid_client "Client secret is required": the Python client registers naming no token_endpoint_auth_method (RFC 7591 default client_secret_basic), mcpAuthRouter issues a secret without echoing a method and reads secrets from the body only, and the client, taking the absent method for "none", sends no secret',
    where:
      "@modelcontextprotocol/sdk 1.32, src/server/auth/handlers/register.ts (dist/esm/server/auth/handlers/register.js:38-49) and src/server/auth/middleware/clientAuth.ts (clientAuth.js:14-21); mcp 2.3.0, mcp/client/auth/oauth2.py:259-277",
  },
};

export function knownRed(client: string, server: string): RedCell | undefined {
  return cells[`${client} | ${server}`];
}

/** Every marked cell, so the report can list marks that no longer match a cell. */
export const redCells: Readonly<Record<string, RedCell>> = cells;
