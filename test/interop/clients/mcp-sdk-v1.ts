/**
 * The MCP TypeScript SDK 1.x client (`@modelcontextprotocol/sdk`) as a CLI app uses it: `Client`
 * over `StreamableHTTPClientTransport` with an `OAuthClientProvider` of its own (sdk-provider.ts).
 */
import { UnauthorizedError, type OAuthClientProvider, type OAuthDiscoveryState } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthClientInformationMixed, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import type { ClientPeer } from "../peer.js";
import { runSdkSession, toolResultText, type LoopbackOAuthProvider, type SdkConnectAttempt } from "./sdk-provider.js";

/** Our provider, holding this SDK's own credential and discovery types. */
type Provider = LoopbackOAuthProvider<OAuthClientInformationMixed, OAuthTokens, OAuthDiscoveryState>;

const clientName = "mcp-oauth interop (MCP TS SDK 1.x)";

export const mcpSdkV1Client: ClientPeer = {
  name: "MCP TS SDK 1.x client",
  session: (session) => runSdkSession(session, clientName, (provider: Provider) => connect(session.mcpUrl, provider)),
};

async function connect(mcpUrl: string, provider: Provider): Promise<SdkConnectAttempt> {
  // Typed as the SDK's interface, so that the compiler checks the shared provider against this SDK.
  const authProvider: OAuthClientProvider = provider;
  const client = new Client({ name: clientName, version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider });
  try {
    await client.connect(transport);
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    // 1.x takes the code alone (no RFC 9207 `iss` check).
    return { finishAuth: (callback) => transport.finishAuth(callback.get("code") ?? "") };
  }
  return {
    connected: {
      add: async (a, b) => toolResultText(await client.callTool({ name: "add", arguments: { a, b } })),
      close: () => client.close(),
    },
  };
}
