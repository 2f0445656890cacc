import { fileURLToPath } from "node:url";
import { startNode22Peer } from "../../support/node22.js";
import type { GrantCounts, RunningServer, ServerPeer } from "../peer.js";
import { interopTokenTtlSeconds } from "./grant-counts.js";

const script = fileURLToPath(new URL("./oidc-provider-peer.ts", import.meta.url));
const startTimeoutMs = 60_000;
const stopTimeoutMs = 5_000;
const statsTimeoutMs = 5_000;

/**
 * oidc-provider 9 (panva) as the authorization server of a real MCP server (the MCP SDK's `McpServer`
 * behind a bearer check against oidc-provider's access tokens): dynamic registration, resource
 * indicators, rotating refresh tokens, and its own login and consent pages. The process script,
 * oidc-provider-peer.ts, says why each setting is there; it runs on Node 22, which oidc-provider 9 needs.
 */
export const oidcProviderServer: ServerPeer = {
  name: "oidc-provider 9 (devInteractions)",
  async start(): Promise<RunningServer> {
    const peer = await startNode22Peer(script, { OIDC_INTEROP_TOKEN_TTL: String(interopTokenTtlSeconds) }, startTimeoutMs);
    const origin = String(peer.ready.origin);
    return {
      mcpUrl: String(peer.ready.mcpUrl),
      accessTokenTtlMs: interopTokenTtlSeconds * 1000,
      grants: async (): Promise<GrantCounts> => {
        const response = await fetch(`${origin}/test/stats`, { signal: AbortSignal.timeout(statsTimeoutMs) });
        const stats = (await response.json()) as Record<string, number>;
        return { authorization_code: stats["token:authorization_code"] ?? 0, refresh_token: stats["token:refresh_token"] ?? 0 };
      },
      close: async () => {
        // SIGTERM ends it at once (it handles no signals); the bound only keeps a stuck exit from hanging the suite.
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the oidc-provider peer did not exit within ${stopTimeoutMs} ms`)), stopTimeoutMs);
        });
        try {
          await Promise.race([peer.stop(), timeout]);
        } finally {
          clearTimeout(timer);
        }
      },
    };
  },
};
