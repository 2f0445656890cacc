/**
 * Our `OAuthProvider` in Hono: its web-standard handler needs no adapter. The MCP SDK's web-standard
 * transport serves /mcp with the guard's `AuthInfo`.
 *
 *   npx tsx examples/server-hono.ts           # then: new Client("http://127.0.0.1:3000/mcp", { auth: "oauth" })
 */
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { InMemoryOAuthProvider, type InMemoryOAuthProviderOptions } from "../src/server/index.js";
import { createMcpServer } from "./mcp-tools.js";

export function createHonoApp(provider: InMemoryOAuthProvider): Hono {
  const app = new Hono();
  app.all("/mcp", async (c) => {
    const check = await provider.authenticate(c.req.raw);
    if (check.response) return check.response;
    const server = createMcpServer();
    const transport = new WebStandardStreamableHTTPServerTransport({ enableJsonResponse: true });
    await server.connect(transport);
    return transport.handleRequest(c.req.raw, { authInfo: check.auth });
  });
  // Everything else: metadata, OAuth endpoints, the consent page (404 for the rest).
  app.all("*", (c) => provider.handle(c.req.raw));
  return app;
}

export async function startHonoExample(port = 0, options: Omit<InMemoryOAuthProviderOptions, "baseUrl"> = {}) {
  let app: Hono | undefined;
  const { server, info } = await new Promise<{ server: ReturnType<typeof serve>; info: AddressInfo }>((resolve) => {
    const server = serve({ fetch: (request) => app?.fetch(request) ?? new Response(null, { status: 503 }), port, hostname: "127.0.0.1" }, (info) => resolve({ server, info }));
  });
  const origin = `http://127.0.0.1:${info.port}`;
  const provider = new InMemoryOAuthProvider({ clientRegistration: { enabled: true }, revocation: { enabled: true }, ...options, baseUrl: origin });
  app = createHonoApp(provider);
  return { origin, mcpUrl: `${origin}/mcp`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { mcpUrl } = await startHonoExample(Number(process.env.PORT ?? 3000));
  console.log(`MCP server with its own OAuth on ${mcpUrl} (Hono)`);
}
