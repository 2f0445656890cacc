import { afterEach, describe, expect, it } from "vitest";
import { harness, rpc, type Harness } from "./support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.server.close();
  h = undefined;
});

/** A discovery record as a valid one looks, for the planted variants to spoil one field of. */
function validDiscovery(h: Harness): Record<string, unknown> {
  return {
    resource: h.server.mcpUrl,
    authorizationServer: {
      issuer: h.server.issuer,
      authorization_endpoint: `${h.server.origin}/authorize`,
      token_endpoint: `${h.server.origin}/token`,
      registration_endpoint: `${h.server.origin}/register`,
      code_challenge_methods_supported: ["S256"],
    },
    legacy: false,
    discoveredAt: 0,
  };
}

describe("a corrupt or foreign stored record never wedges the client", () => {
  const spoilers: [string, (record: Record<string, unknown>, h: Harness) => unknown][] = [
    ['resource ""', (r) => ({ ...r, resource: "" })],
    ["a relative resource", (r) => ({ ...r, resource: "/mcp" })],
    ["a resource on another origin", (r) => ({ ...r, resource: "https://attacker.example/mcp" })],
    ["a resource for another path of this origin", (r, t) => ({ ...r, resource: `${t.server.origin}/other` })],
    ['an issuer ""', (r) => ({ ...r, authorizationServer: { ...(r.authorizationServer as object), issuer: "" } })],
    ["a javascript: token endpoint", (r) => ({ ...r, authorizationServer: { ...(r.authorizationServer as object), token_endpoint: "javascript:alert(1)" } })],
    ["a string instead of an object", () => "not json {"],
    ["null fields", (r) => ({ ...r, legacy: null })],
  ];
  for (const [name, spoil] of spoilers) {
    it(`a discovery record with ${name} is dropped with one warning, and the client discovers again`, async () => {
      h = await harness();
      await h.store.set(h.oauth.storageKey("discovery"), spoil(validDiscovery(h), h));
      const response = await h.oauth.fetch(h.server.mcpUrl, rpc());
      expect(response.status).toBe(200);
      expect(h.logger.lines).toHaveLength(1);
      expect(h.logger.lines[0]).toContain("ignoring an unreadable discovery record");
      const rewritten = (await h.store.get(h.oauth.storageKey("discovery"))) as { resource: string };
      expect(rewritten.resource).toBe(h.server.mcpUrl);
      // And a restarted process on the same store reads the rewritten record: no warning, no login.
      const again = h.restart();
      expect((await again.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
      expect(h.server.count("/authorize")).toBe(1);
    });
  }

  it("clearTokens() recovers from a corrupt record too", async () => {
    h = await harness();
    await h.store.set(h.oauth.storageKey("discovery"), { ...validDiscovery(h), resource: "" });
    await h.oauth.clearTokens();
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
  });
});
