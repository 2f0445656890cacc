/**
 * Our `OAuthProvider` in Hono: its web-standard handler needs no adapter. The MCP SDK's web-standard
 * transport serves /mcp with the guard's `AuthInfo`.
 *
 *   npx tsx examples/server-hono.ts           # then: new Client("http://127.0.0.1:3000/mcp", { auth: "oauth" })
 */
import { pathToFileURL } from "node:url";
import { getRequestListener, serve } from "@hono/node-server";
import { Hono } from "hono";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { InMemoryOAuthProvider, type InMemoryOAuthProviderOptions } from "../src/server/index.js";
import { listenThenMount, type Listening } from "./listen-then-mount.js";
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

/** Listens on 127.0.0.1:`port` (0: any free port); the provider's URLs follow the port. */
export function startHonoExample(port = 0, options: Omit<InMemoryOAuthProviderOptions, "baseUrl"> = {}): Promise<Listening> {
  return listenThenMount(port, (origin) =>
    getRequestListener(createHonoApp(new InMemoryOAuthProvider({ clientRegistration: { enabled: true }, revocation: { enabled: true }, ...options, baseUrl: origin })).fetch),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // With a fixed port the URLs are known up front, and Hono's own `serve` does the listening.
  const port = Number(process.env.PORT ?? 3000);
  const provider = new InMemoryOAuthProvider({ baseUrl: `http://127.0.0.1:${port}`, clientRegistration: { enabled: true }, revocation: { enabled: true } });
  serve({ fetch: createHonoApp(provider).fetch, port, hostname: "127.0.0.1" });
  console.log(`MCP server with its own OAuth on ${provider.resource} (Hono)`);
}
