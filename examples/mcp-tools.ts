import * as z from "zod";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";

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
