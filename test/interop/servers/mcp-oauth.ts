import { startOAuthProviderServer, type OAuthProviderServerOptions } from "../../../examples/oauth-provider-server.js";
import type { GrantCounts, RunningServer, ServerPeer } from "../peer.js";
import { grantCounts, interopTokenTtlSeconds } from "./grant-counts.js";

/**
 * Our `InMemoryOAuthProvider` as a user deploys it: the example server (node:http, the MCP SDK's
 * `McpServer` behind our guard), its consent page on, dynamic registration on.
 */
export function mcpOAuthServer(name: string, options: Omit<OAuthProviderServerOptions, "accessTokenTtlSeconds">): ServerPeer {
  return {
    name,
    async start(): Promise<RunningServer> {
      const server = await startOAuthProviderServer({ ...options, accessTokenTtlSeconds: interopTokenTtlSeconds });
      return {
        mcpUrl: server.mcpUrl,
        accessTokenTtlMs: interopTokenTtlSeconds * 1000,
        grants: async (): Promise<GrantCounts> => grantCounts(server.requests.filter((r) => r.path === "/token").map((r) => r.form.grant_type)),
        close: server.close,
      };
    },
  };
}
