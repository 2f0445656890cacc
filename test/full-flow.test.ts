import Keyv from "keyv";
import { describe, expect, it } from "vitest";
import { startPeer } from "./support/harness.js";
import { OAuth, type OAuthEvent } from "../src/index.js";
import { Client } from "../src/client.js";
import { cleanupAfterEach } from "./support/local-server.js";
import { captureLogger, followRedirects } from "./support/openers.js";

const closeLater = cleanupAfterEach();

describe("full authorization against the MCP SDK's server auth", () => {
  it("discovers, registers, authorizes with PKCE, calls a tool, and reuses the stored token in a new process", async () => {
    const server = await startPeer(closeLater);
    const store = new Keyv();
    const events: OAuthEvent[] = [];
    const browser = followRedirects();
    const logger = captureLogger();
    const oauth = new OAuth({ mcpUrl: server.mcpUrl, tokenStorage: store, openBrowser: browser.open, onEvent: (e) => events.push(e), logger });
    const client = new Client(server.mcpUrl, { auth: oauth });
    await client.connect();
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain("add");
    const result = await client.callTool("add", { a: 2, b: 3 });
    expect(result.content).toEqual([{ type: "text", text: "5" }]);
    await client.close();

    const types = events.map((e) => e.type);
    for (const step of ["resource_metadata_found", "authorization_server_found", "client_ready", "callback_listening", "browser_opened", "callback_received", "tokens_stored"]) {
      expect(types).toContain(step);
    }
    expect(types.indexOf("callback_listening")).toBeLessThan(types.indexOf("browser_opened"));
    expect(server.count("/register")).toBe(1);
    expect(server.count((r) => r.path === "/token")).toBe(1);
    expect(browser.opened).toHaveLength(1);

    // The authorization request carried PKCE S256, state and the RFC 8707 resource.
    const authorize = new URL(browser.opened[0] ?? "");
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.get("state")?.length).toBeGreaterThanOrEqual(22);
    expect(authorize.searchParams.get("resource")).toBe(server.mcpUrl);
    expect(authorize.searchParams.get("redirect_uri")).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const tokenRequest = server.requests.find((r) => r.path === "/token");
    expect(tokenRequest?.form.resource).toBe(server.mcpUrl);
    expect(tokenRequest?.form.code_verifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);

    // The bearer token went only to the MCP endpoint.
    for (const request of server.requests) {
      if (request.authorization?.startsWith("Bearer ")) expect(request.path).toBe("/mcp");
    }

    // A new process with the same store: no discovery, no registration, first request authenticated.
    const before = server.requests.length;
    const restartEvents: OAuthEvent[] = [];
    const again = new Client(server.mcpUrl, {
      auth: new OAuth({ mcpUrl: server.mcpUrl, tokenStorage: store, openBrowser: browser.open, onEvent: (e) => restartEvents.push(e), logger }),
    });
    await again.connect();
    await again.callTool("add", { a: 1, b: 1 });
    await again.close();
    const after = server.requests.slice(before);
    expect(after.every((r) => r.path === "/mcp")).toBe(true);
    expect(after[0]?.authorization).toMatch(/^Bearer /);
    expect(restartEvents.map((e) => e.type)).toEqual(["token_reused"]);
    expect(browser.opened).toHaveLength(1);
    expect(logger.lines).toEqual([]);
  });
});
