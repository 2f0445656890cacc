import express from "express";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { describe, expect, it } from "vitest";
import { startPeer } from "./support/harness.js";
import { Client } from "../src/client.js";
import { OAuth } from "../src/index.js";
import { cleanupAfterEach, listenLocal } from "./support/local-server.js";
import { followRedirects } from "./support/openers.js";

const closeLater = cleanupAfterEach();

describe("Client", () => {
  it('auth: "oauth" builds an OAuth for the URL and connects through it', async () => {
    const server = await startPeer(closeLater);
    const browser = followRedirects();
    const client = new Client(server.mcpUrl, { auth: "oauth", oauth: { openBrowser: browser.open, logger: { warn: () => {} } } });
    expect(client.oauth).toBeInstanceOf(OAuth);
    expect(client.oauth?.mcpUrl).toBe(server.mcpUrl);
    await client.connect();
    expect((await client.callTool("add", { a: 20, b: 22 })).content).toEqual([{ type: "text", text: "42" }]);
    await client.close();

    // A second client in the same process shares the default in-memory store: no second login.
    const again = new Client(server.mcpUrl, { auth: "oauth", oauth: { openBrowser: browser.open } });
    await again.connect();
    await again.listTools();
    await again.close();
    expect(browser.opened).toHaveLength(1);
  });

  it("any other string is a static bearer token, sent only to the server's origin", async () => {
    const server = await startPeer(closeLater);
    const client = new Client(server.mcpUrl, { auth: "not-a-valid-token", transport: "streamable-http" });
    await expect(client.connect()).rejects.toThrow();
    const mcp = server.requests.filter((r) => r.path === "/mcp");
    expect(mcp.length).toBeGreaterThan(0);
    expect(mcp.every((r) => r.authorization === "Bearer not-a-valid-token")).toBe(true);
  });

  it("falls back to SSE for a server that only speaks the 2024-11-05 HTTP+SSE transport", async () => {
    const transports = new Map<string, SSEServerTransport>();
    const app = express();
    app.get("/sse", async (_req, res) => {
      const transport = new SSEServerTransport("/messages", res);
      transports.set(transport.sessionId, transport);
      const server = new McpServer({ name: "sse-only", version: "1.0.0" });
      server.registerTool("ping", { description: "ping" }, async () => ({ content: [{ type: "text", text: "pong" }] }));
      await server.connect(transport);
    });
    app.post("/messages", async (req, res) => {
      await transports.get(String(req.query.sessionId))?.handlePostMessage(req, res);
    });
    const { origin, close } = await listenLocal(app);
    closeLater(close);
    const client = new Client(`${origin}/sse`, { auth: "static-token" });
    await client.connect();
    expect((await client.callTool("ping")).content).toEqual([{ type: "text", text: "pong" }]);
    await client.close();
  });

  it("sdk throws a typed error before connect", () => {
    const client = new Client("http://127.0.0.1:1/mcp");
    expect(() => client.sdk).toThrow(expect.objectContaining({ code: "invalid_options" }));
  });
});
