import type { IncomingMessage, ServerResponse } from "node:http";
import * as z from "zod";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";

/** The MCP server every example protects: `add`, and `whoami`, which shows the guard's `AuthInfo` reaching tools. */
export function createMcpServer(): McpServer {
  const server = new McpServer({ name: "mcp-oauth-provider-example", version: "1.0.0" });
  server.registerTool("add", { description: "Add two numbers", inputSchema: { a: z.number(), b: z.number() } }, async ({ a, b }) => ({
    content: [{ type: "text", text: String(a + b) }],
  }));
  server.registerTool("whoami", { description: "The caller, as the bearer token says" }, async (extra) => ({
    content: [{ type: "text", text: JSON.stringify({ subject: extra.authInfo?.extra?.subject, clientId: extra.authInfo?.clientId, scopes: extra.authInfo?.scopes }) }],
  }));
  return server;
}

/**
 * Stateless Streamable HTTP on `node:http`: a fresh server and transport per request, as in the SDK's
 * stateless example. `req.auth`, set by the guard, reaches the tools as `authInfo`.
 */
export async function handleMcpRequest(req: IncomingMessage, res: ServerResponse, parsedBody?: unknown): Promise<void> {
  if (req.method !== "POST") return void res.writeHead(405, { allow: "POST" }).end();
  const server = createMcpServer();
  const transport = new StreamableHTTPServerTransport({});
  res.on("close", () => {
    void transport.close();
    void server.close();
  });
  try {
    await server.connect(transport);
    await transport.handleRequest(req, res, parsedBody);
  } catch {
    if (!res.headersSent) res.writeHead(500).end();
  }
}
