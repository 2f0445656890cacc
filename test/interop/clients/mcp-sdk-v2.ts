/**
 * The MCP TypeScript SDK 2.x client (`@modelcontextprotocol/client`) as a CLI app uses it: `Client`
 * over `StreamableHTTPClientTransport` with an `OAuthClientProvider` of its own (sdk-provider.ts).
 */
import {
  Client,
  StreamableHTTPClientTransport,
  UnauthorizedError,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type StoredOAuthClientInformation,
  type StoredOAuthTokens,
} from "@modelcontextprotocol/client";
import type { ClientPeer } from "../peer.js";
import { runSdkSession, toolResultText, type LoopbackOAuthProvider, type SdkConnectAttempt } from "./sdk-provider.js";

/** Our provider, holding this SDK's own credential and discovery types. */
type Provider = LoopbackOAuthProvider<StoredOAuthClientInformation, StoredOAuthTokens, OAuthDiscoveryState>;

const clientName = "mcp-oauth interop (MCP TS SDK 2.x)";

export const mcpSdkV2Client: ClientPeer = {
  name: "MCP TS SDK 2.x client",
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
    // 2.x prefers the callback's whole query: it checks `iss` (RFC 9207) before redeeming `code`.
    return { finishAuth: (callback) => transport.finishAuth(callback) };
  }
  return {
    connected: {
      add: async (a, b) => toolResultText(await client.callTool({ name: "add", arguments: { a, b } })),
      close: () => client.close(),
    },
  };
}
