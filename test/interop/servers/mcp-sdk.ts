import { startSdkAuthServer } from "../../peers/sdk-auth-server.js";
import type { GrantCounts, RunningServer, ServerPeer } from "../peer.js";
import { grantCounts, interopTokenTtlSeconds } from "./grant-counts.js";

/** The MCP TypeScript SDK's own server side: `mcpAuthRouter` and `requireBearerAuth` (Express), its provider approving at once. */
export const mcpSdkServer: ServerPeer = {
  name: "MCP TS SDK mcpAuthRouter",
  async start(): Promise<RunningServer> {
    const server = await startSdkAuthServer({ accessTokenTtlSeconds: interopTokenTtlSeconds });
    return {
      mcpUrl: server.mcpUrl,
      accessTokenTtlMs: interopTokenTtlSeconds * 1000,
      grants: async (): Promise<GrantCounts> => grantCounts(server.requests.filter((r) => r.path === "/token").map((r) => r.form.grant_type)),
      close: server.close,
    };
  },
};
