import { describe, expect, it } from "vitest";
import { harness, rpc } from "./support/harness.js";
import { authorizationRecorder, cleanupAfterEach } from "./support/local-server.js";

const closeLater = cleanupAfterEach();

describe("where the bearer token goes", () => {
  it("never to another origin, nor outside the resource's path, nor to the authorization server", async () => {
    const h = await harness();
    closeLater(h.server.close);
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    const elsewhere = await authorizationRecorder();
    closeLater(elsewhere.close);
    await h.oauth.fetch(`${elsewhere.origin}/mcp`, rpc());
    await h.oauth.fetch(`${h.server.origin}/not-mcp`);
    await h.oauth.fetch(`${h.server.origin}/mcpx`);
    expect(elsewhere.seen).toEqual([undefined]);
    const leaked = h.server.requests.filter((r) => r.authorization && r.path !== "/mcp");
    expect(leaked).toEqual([]);
  });

  it("not to the authorization server's endpoints or metadata when the resource spans the whole origin", async () => {
    const h = await harness({ resourceIsOrigin: true });
    closeLater(h.server.close);
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    await h.oauth.fetch(`${h.server.origin}/token`, { method: "POST" });
    await h.oauth.fetch(`${h.server.origin}/.well-known/oauth-authorization-server`);
    await h.oauth.fetch(`${h.server.origin}/register`, { method: "POST" });
    const leaked = h.server.requests.filter((r) => r.authorization && r.path !== "/mcp");
    expect(leaked).toEqual([]);
  });

  it("on the 2025-03-26 path (no resource metadata), to the whole origin but the authorization server's endpoints", async () => {
    const h = await harness({ legacy: true });
    closeLater(h.server.close);
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    expect(h.server.count((r) => r.path.startsWith("/.well-known/oauth-protected-resource"))).toBeGreaterThan(0);
    await h.oauth.fetch(`${h.server.origin}/other`);
    await h.oauth.fetch(`${h.server.origin}/token`, { method: "POST" });
    const carried = new Set(h.server.requests.filter((r) => r.authorization).map((r) => r.path));
    expect(carried).toEqual(new Set(["/mcp", "/other"]));
  });

  it("to the resource's path when the resource metadata names it with trailing slashes", async () => {
    for (const path of ["/mcp/", "/mcp//"]) {
      const h = await harness({ prmOverrides: (origin) => ({ resource: `${origin}${path}` }) });
      closeLater(h.server.close);
      expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
      await h.oauth.fetch(`${h.server.origin}/mcp/sub`);
      await h.oauth.fetch(`${h.server.origin}/mcpx`);
      const carried = new Set(h.server.requests.filter((r) => r.authorization).map((r) => r.path));
      expect(carried).toEqual(new Set(["/mcp", "/mcp/sub"]));
    }
  });
});
