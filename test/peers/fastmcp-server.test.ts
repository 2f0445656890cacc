import Keyv from "keyv";
import { afterEach, describe, expect, it } from "vitest";
import { Client } from "../../src/client.js";
import { OAuth, type OAuthEvent } from "../../src/index.js";
import { startBrowser } from "../interop/browser.js";
import type { RunningServer } from "../interop/peer.js";
import { fastmcpServer } from "../interop/servers/fastmcp.js";
import { captureLogger } from "../support/openers.js";
import { findPython } from "../support/python.js";

// FastMCP's own server (Python, fastmcp 4.0.10 from `npm run setup:interop`): its token and revocation
// endpoints come from the MCP Python SDK, which reads `client_id` from the form body only, and it lists
// `client_secret_post` and `client_secret_basic` but not `none`, so our client registers as a confidential one.
const fastmcp = findPython(["fastmcp"]);
if (!fastmcp.python) console.warn(`SKIPPED FastMCP server peer: ${fastmcp.reason}`);

let running: RunningServer | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function login(server: RunningServer, extra: Partial<ConstructorParameters<typeof OAuth>[0]> = {}) {
  const browser = await startBrowser();
  const events: OAuthEvent[] = [];
  const logger = captureLogger();
  const oauth = new OAuth({ mcpUrl: server.mcpUrl, tokenStorage: new Keyv(), openBrowser: browser.open, onEvent: (e) => events.push(e), logger, callbackTimeoutMs: 20_000, ...extra });
  const client = new Client(server.mcpUrl, { auth: oauth });
  return { client, events, logger, close: async () => (await client.close(), await browser.close()) };
}

describe.skipIf(!fastmcp.python)("our client against FastMCP's Python server", () => {
  it("logs in with client_secret_basic (client_id in the body too), calls a tool and refreshes", async () => {
    running = await fastmcpServer("defaults", {}).start();
    const t = await login(running, { additionalClientMetadata: { token_endpoint_auth_method: "client_secret_basic" } });
    await t.client.connect();
    expect(await t.client.callTool("add", { a: 2, b: 3 })).toMatchObject({ content: [{ type: "text", text: "5" }] });
    await new Promise((resolve) => setTimeout(resolve, running!.accessTokenTtlMs + 1000));
    expect(await t.client.callTool("add", { a: 1, b: 1 })).toMatchObject({ content: [{ type: "text", text: "2" }] });
    expect(await running.grants()).toEqual({ authorization_code: 1, refresh_token: 1 });
    expect(t.logger.lines).toEqual([]);
    await t.close();
  });

  it("logs in on its defaults (client_secret_post, which it lists), with required_scopes and revocation on", async () => {
    running = await fastmcpServer("required_scopes, revocation", { requiredScopes: ["mcp:tools"], revocation: true }).start();
    const t = await login(running);
    await t.client.connect();
    expect(await t.client.callTool("add", { a: 20, b: 22 })).toMatchObject({ content: [{ type: "text", text: "42" }] });
    expect(t.events.find((e) => e.type === "client_ready")).toMatchObject({ source: "dynamic" });
    expect(await running.grants()).toEqual({ authorization_code: 1, refresh_token: 0 });
    await t.close();
  });
});
