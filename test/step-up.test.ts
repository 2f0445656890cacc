import express from "express";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";
import { describe, expect, it } from "vitest";
import { isOAuthError } from "../src/index.js";
import { harness, rpc, type Harness } from "./support/harness.js";
import { cleanupAfterEach, listenLocal } from "./support/local-server.js";

const closeLater = cleanupAfterEach();

async function peer(): Promise<Harness> {
  const h = await harness({ scopesSupported: ["mcp:read", "mcp:write", "mcp:admin"] });
  closeLater(h.server.close);
  return h;
}

/**
 * A resource server in front of the SDK peer's authorization server whose tools need more scope than
 * listing them, as in the MCP spec's step-up example; `never` makes every call need more scope.
 */
async function scopedResource(h: Harness, never = false): Promise<string> {
  const app = express();
  const { origin, close } = await listenLocal(app);
  closeLater(close);
  const resourceMetadataUrl = `${origin}/.well-known/oauth-protected-resource/mcp`;
  app.get("/.well-known/oauth-protected-resource/mcp", (_req, res) =>
    void res.json({ resource: `${origin}/mcp`, authorization_servers: [h.server.issuer], scopes_supported: ["mcp:read", "mcp:write"] }),
  );
  app.post("/mcp", express.json(), (req, res, next) => {
    if (never && req.headers.authorization) {
      res.set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="mcp:admin", resource_metadata="${resourceMetadataUrl}"`);
      return void res.status(403).json({ error: "insufficient_scope" });
    }
    const requiredScopes = (req.body as { method?: string }).method === "tools/call" ? ["mcp:read", "mcp:write"] : ["mcp:read"];
    return requireBearerAuth({ verifier: h.server.provider, requiredScopes, resourceMetadataUrl })(req, res, next);
  });
  app.post("/mcp", (_req, res) => void res.json({ jsonrpc: "2.0", id: 1, result: {} }));
  return `${origin}/mcp`;
}

describe("step-up authorization on 403 insufficient_scope", () => {
  it("re-authorizes for the union of granted and challenged scopes, then retries", async () => {
    const h = await peer();
    const mcpUrl = await scopedResource(h);
    const oauth = h.restart({ mcpUrl });
    expect((await oauth.fetch(mcpUrl, rpc("tools/list"))).status).toBe(200);
    expect((await oauth.fetch(mcpUrl, rpc("tools/call"))).status).toBe(200);
    const scopes = h.browser.opened.map((url) => new URL(url).searchParams.get("scope"));
    expect(scopes).toEqual(["mcp:read", "mcp:read mcp:write"]);
    expect(h.events.filter((e) => e.type === "step_up")).toHaveLength(1);
  });

  it("gives up with a typed error after the allowed step-ups", async () => {
    const h = await peer();
    const mcpUrl = await scopedResource(h, true);
    const oauth = h.restart({ mcpUrl });
    const error = await oauth.fetch(mcpUrl, rpc("tools/list")).catch((e: unknown) => e);
    expect(isOAuthError(error, "insufficient_scope")).toBe(true);
    expect(h.browser.opened).toHaveLength(3); // the first authorization and two step-ups
  });

  it("a step-up waiting on the user does not hold up requests whose token is good enough", async () => {
    const h = await peer();
    const mcpUrl = await scopedResource(h);
    let stepUpOpened = false;
    // The first login completes; the step-up's browser window is left open, its user never coming back.
    const oauth = h.restart({ mcpUrl, callbackTimeoutMs: 3_000, openBrowser: (url) => (h.browser.opened.length === 0 ? h.browser.open(url) : void (stepUpOpened = true)) });
    expect((await oauth.fetch(mcpUrl, rpc("tools/list"))).status).toBe(200);
    let stepUpSettled = false;
    const stepUp = oauth.fetch(mcpUrl, rpc("tools/call")).then(
      (r) => r.status,
      (e: unknown) => (isOAuthError(e) ? e.code : e),
    );
    void stepUp.finally(() => (stepUpSettled = true));
    for (let i = 0; i < 100 && !stepUpOpened; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stepUpOpened).toBe(true);
    const statuses = await Promise.all(Array.from({ length: 5 }, () => oauth.fetch(mcpUrl, rpc("tools/list")).then((r) => r.status)));
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(stepUpSettled).toBe(false); // they did not wait for the step-up
    expect(await stepUp).toBe("callback_timeout");
  });
});
