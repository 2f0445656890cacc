/**
 * `npm run demo`: an MCP server that is its own authorization server (our `OAuthProvider`, the in-memory
 * reference with auto-approval), and a client that only says `new Client(url, { auth: "oauth" })`.
 * Everything runs on 127.0.0.1 and finishes in seconds. `npm run demo -- --browser` opens your real
 * browser instead of following the redirect itself, and shows the consent page there.
 */
import { startOAuthProviderServer } from "./oauth-provider-server.js";
import { Client } from "../src/client.js";
import type { OAuthEvent } from "../src/index.js";

const useRealBrowser = process.argv.includes("--browser");

function describe(event: OAuthEvent): string | undefined {
  switch (event.type) {
    case "token_reused":
      return `stored token reused (valid for ${seconds(event.expiresAt)} more), no discovery needed`;
    case "discovery_request":
      return `GET ${event.url}`;
    case "resource_metadata_found":
      return `resource metadata found: resource ${event.resource}, authorization server ${event.authorizationServers.join(", ")}`;
    case "resource_metadata_absent":
      return "no resource metadata: using the 2025-03-26 fallback";
    case "authorization_server_found":
      return `issuer ${event.issuer}`;
    case "client_ready":
      return `client ${event.source === "dynamic" ? "registered" : "ready"}: ${event.clientId} (${event.source})`;
    case "client_dropped":
      return `stored client ${event.clientId} dropped: ${event.reason}`;
    case "callback_listening":
      return `callback server listening on ${event.redirectUri}`;
    case "browser_opened":
      return useRealBrowser ? "browser opened: approve there" : "opening the authorization URL (the demo's opener follows the redirect)";
    case "callback_received":
      return "callback received: state and iss checked";
    case "tokens_stored":
      return `token cached (${event.grant}, expires in ${seconds(event.expiresAt)}, refresh token: ${event.refreshable ? "yes" : "no"})`;
    case "step_up":
      return `step-up for scope ${event.scope}`;
  }
}

function seconds(expiresAt: number | undefined): string {
  return expiresAt === undefined ? "unknown" : `${Math.round((expiresAt - Date.now()) / 1000)} s`;
}

/** Stands in for the user's browser: requests the authorization URL and follows the redirect to the callback. */
async function followRedirect(url: string): Promise<void> {
  void fetch(url, { redirect: "follow" }).catch((error: unknown) => console.error("  ! the opener failed:", error));
}

const server = await startOAuthProviderServer({ autoApprove: !useRealBrowser });
console.log(`MCP server (SDK McpServer behind our OAuthProvider) on ${server.mcpUrl}\n`);
const oauthOptions = {
  ...(useRealBrowser ? {} : { openBrowser: followRedirect }),
  onEvent: (event: OAuthEvent) => {
    const line = describe(event);
    if (line) console.log(`  ${event.type === "discovery_request" ? "->" : "ok"} ${line}`);
  },
  logger: { warn: (message: string) => console.log(`  (warning) ${message}`) },
};

try {
  console.log("First connection: new Client(url, { auth: \"oauth\" })");
  const first = new Client(server.mcpUrl, { auth: "oauth", oauth: oauthOptions });
  await first.connect();
  const tools = await first.listTools();
  console.log(`  ok tools: ${tools.tools.map((tool) => tool.name).join(", ")}`);
  const sum = await first.callTool("add", { a: 2, b: 3 });
  console.log(`  ok tool result: add(2, 3) = ${JSON.stringify(sum.content)}`);
  await first.close();

  const before = server.requests.length;
  console.log("\nSecond connection: a new Client for the same server");
  const second = new Client(server.mcpUrl, { auth: "oauth", oauth: oauthOptions });
  await second.connect();
  const again = await second.callTool("add", { a: 40, b: 2 });
  console.log(`  ok tool result: add(40, 2) = ${JSON.stringify(again.content)}`);
  await second.close();

  const later = server.requests.slice(before);
  const discovery = later.filter((r) => r.path.includes("/.well-known/")).length;
  const oauthCalls = later.filter((r) => ["/register", "/authorize", "/token"].includes(r.path)).length;
  console.log(`  ok requests on the second connection: ${later.length} to /mcp, ${discovery} discovery, ${oauthCalls} to the authorization server`);
  if (discovery !== 0 || oauthCalls !== 0) throw new Error("the cached token was not used");
  console.log("\nDone.");
} finally {
  await server.close();
}
