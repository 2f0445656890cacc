import { randomUUID } from "node:crypto";
import { createClient } from "@keyv/redis";
import { startOAuthProviderServer, type OAuthProviderServerOptions } from "../../../examples/oauth-provider-server.js";
import { RedisProviderStore, StoreOAuthProvider } from "../../../src/server/index.js";
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

/**
 * Our `StoreOAuthProvider` on the Redis at 127.0.0.1:6379, as a replicated deployment runs it (consent
 * page on, dynamic registration on), under a prefix of its own that is deleted when the server closes.
 */
export function mcpOAuthRedisServer(name: string): ServerPeer {
  return {
    name,
    async start(): Promise<RunningServer> {
      const redis = createClient({ url: "redis://127.0.0.1:6379" });
      await redis.connect();
      const prefix = `mcp-oauth-interop:${randomUUID()}:`;
      const store = new RedisProviderStore(redis, { prefix });
      const running = await mcpOAuthServer(name, { createProvider: (options) => new StoreOAuthProvider({ ...options, store }) }).start();
      return {
        ...running,
        close: async () => {
          await running.close();
          // Bounded: a few hundred keys at most for one column.
          let cursor = "0";
          for (let round = 0; round < 100; round += 1) {
            const [next, keys] = (await redis.sendCommand(["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", "1000"])) as [string, string[]];
            if (keys.length > 0) await redis.sendCommand(["DEL", ...keys]);
            cursor = next;
            if (cursor === "0") break;
          }
          await redis.quit();
        },
      };
    },
  };
}
