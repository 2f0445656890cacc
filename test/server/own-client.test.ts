import Keyv from "keyv";
import { describe, expect, it } from "vitest";
import { listenThenMount } from "../../examples/listen-then-mount.js";
import { Client } from "../../src/client.js";
import { OAuth, isOAuthError, type OAuthEvent } from "../../src/index.js";
import { InMemoryOAuthProvider, sendWebResponse, toNodeListener, toWebRequest } from "../../src/server/index.js";
import { rpc } from "../support/harness.js";
import { captureLogger, followRedirects } from "../support/openers.js";
import { closeLater, consentingBrowser, serverUnderTest } from "./support.js";

describe("our OAuth client against our OAuthProvider, end to end", () => {
  it("discovers, registers, authorizes, calls tools, refreshes, and a restarted process reuses the stored token", async () => {
    const t = await serverUnderTest({ accessTokenTtlSeconds: 300 });
    const store = new Keyv();
    const events: OAuthEvent[] = [];
    const browser = followRedirects();
    const logger = captureLogger();
    const clock = { now: t.clock.now };
    const make = () =>
      new OAuth({ mcpUrl: t.server.mcpUrl, tokenStorage: store, openBrowser: browser.open, onEvent: (e) => events.push(e), logger, now: () => clock.now });

    const client = new Client(t.server.mcpUrl, { auth: make() });
    await client.connect();
    expect(await client.callTool("add", { a: 2, b: 3 })).toMatchObject({ content: [{ type: "text", text: "5" }] });
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(["resource_metadata_found", "authorization_server_found", "client_ready", "callback_received", "tokens_stored"]),
    );
    expect(t.server.count("/register")).toBe(1);
    const tokenRequest = t.server.requests.find((r) => r.path === "/token");
    expect(tokenRequest?.form.resource).toBe(t.server.mcpUrl);

    // Both clocks move past the access token's life: our client refreshes ahead of expiry, the server rotates.
    clock.now += 250_000;
    t.clock.now += 250_000;
    expect(await client.callTool("add", { a: 1, b: 1 })).toMatchObject({ content: [{ type: "text", text: "2" }] });
    expect(t.server.count((r) => r.path === "/token" && r.form.grant_type === "refresh_token")).toBe(1);
    await client.close();

    const before = t.server.requests.length;
    const again = new Client(t.server.mcpUrl, { auth: make() });
    await again.connect();
    await again.callTool("add", { a: 4, b: 4 });
    await again.close();
    expect(t.server.requests.slice(before).every((r) => r.path === "/mcp")).toBe(true);
    expect(browser.opened).toHaveLength(1);
    expect(logger.lines).toEqual([]);
  });

  it("goes through the consent page (CSRF token and cookie) when auto-approval is off", async () => {
    const t = await serverUnderTest({ autoApprove: false });
    const browser = consentingBrowser("approve");
    const oauth = new OAuth({ mcpUrl: t.server.mcpUrl, tokenStorage: new Keyv(), openBrowser: browser.open, logger: captureLogger() });
    const client = new Client(t.server.mcpUrl, { auth: oauth });
    await client.connect();
    expect(await client.callTool("add", { a: 20, b: 22 })).toMatchObject({ content: [{ type: "text", text: "42" }] });
    await client.close();
    expect(t.server.count((r) => r.path === "/consent" && r.method === "POST")).toBe(1);
  });

  it("a user who denies on the consent page fails the request with access_denied", async () => {
    const t = await serverUnderTest({ autoApprove: false });
    const browser = consentingBrowser("deny");
    const oauth = new OAuth({ mcpUrl: t.server.mcpUrl, tokenStorage: new Keyv(), openBrowser: browser.open, logger: captureLogger(), callbackTimeoutMs: 10_000 });
    const error = await oauth.getAccessToken().catch((e: unknown) => e);
    expect(isOAuthError(error, "access_denied")).toBe(true);
  });

  it("steps up to a scope its registration did not name by registering again (the server limits clients to their registered scope)", async () => {
    // Listing tools needs mcp:tools, calling one also mcp:admin: the second request is a 403 step-up.
    const server = await listenThenMount(0, (origin) => {
      const provider = new InMemoryOAuthProvider({ baseUrl: origin, autoApprove: true, clientRegistration: { enabled: true, validScopes: ["mcp:tools", "mcp:admin"] }, requiredScopes: ["mcp:tools"] });
      const oauthRoutes = toNodeListener(provider.handle, { origin });
      return (req, res) => {
        if (provider.matches(new URL(req.url ?? "/", origin))) return oauthRoutes(req, res);
        void toWebRequest(req, origin).then(async (request) => {
          const { method } = (await request.clone().json()) as { method?: string };
          const check = await provider.authenticate(request, { requiredScopes: method === "tools/call" ? ["mcp:tools", "mcp:admin"] : ["mcp:tools"] });
          await sendWebResponse(res, check.response ?? Response.json({ jsonrpc: "2.0", id: 1, result: {} }));
        });
      };
    });
    closeLater(server.close);
    const browser = followRedirects();
    const oauth = new OAuth({ mcpUrl: server.mcpUrl, tokenStorage: new Keyv(), openBrowser: browser.open, logger: captureLogger(), callbackTimeoutMs: 10_000 });
    expect((await oauth.fetch(server.mcpUrl, rpc("tools/list"))).status).toBe(200);
    expect((await oauth.fetch(server.mcpUrl, rpc("tools/call"))).status).toBe(200);
    expect(browser.opened.map((url) => new URL(url).searchParams.get("scope"))).toEqual(["mcp:tools", "mcp:tools mcp:admin"]);
  });
});
