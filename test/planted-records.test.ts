import Keyv from "keyv";
import { afterEach, describe, expect, it } from "vitest";
import { Fernet, FernetEncryptionWrapper, OAuth, type TokenStorage } from "../src/index.js";
import { hostileServer, type HostileAnswers, type HostileServer } from "./support/hostile-server.js";
import { captureLogger } from "./support/openers.js";

/**
 * Someone who can write to the token store, but holds no encryption key, copies one server's records
 * onto another server's keys. Each MCP server here is its own authorization server, issuing tokens
 * that name it, so a token that reaches the wrong server is plain to see.
 */
const servers: HostileServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function serverNamed(name: string, extra: HostileAnswers = {}): Promise<HostileServer> {
  const answer = { body: { access_token: `AT-of-${name}`, refresh_token: `RT-of-${name}`, token_type: "Bearer", expires_in: 3600 } };
  const server = await hostileServer({ token: answer, later: answer, ...extra });
  servers.push(server);
  return server;
}

function oauthFor(mcpUrl: string, tokenStorage: TokenStorage, now = Date.now()) {
  const logger = captureLogger();
  const opened: string[] = [];
  const oauth = new OAuth({
    mcpUrl,
    tokenStorage,
    logger,
    now: () => now,
    openBrowser: async (url) => {
      opened.push(url);
      await fetch(url).then((page) => page.body?.cancel());
    },
  });
  return { oauth, logger, opened };
}

/** Every request B's servers saw that carried something of A's. */
const leaked = (b: HostileServer) => b.seen.filter((r) => `${r.authorization ?? ""} ${r.body}`.includes("-of-A"));

describe("a record only means what its key says", () => {
  for (const encrypted of [false, true]) {
    it(`A's records copied onto B's keys are refused with one warning, and nothing of A's reaches B${encrypted ? " (encrypted store)" : ""}`, async () => {
      const a = await serverNamed("A");
      const b = await serverNamed("B");
      const raw = new Keyv();
      const store: TokenStorage = encrypted ? new FernetEncryptionWrapper(raw, { keys: Fernet.generateKey() }) : raw;
      const clientA = oauthFor(a.mcpUrl, store);
      expect(await clientA.oauth.getAccessToken()).toBe("AT-of-A");

      // The attacker copies the stored values (ciphertext included) from A's keys to B's.
      const clientB = oauthFor(b.mcpUrl, store);
      for (const kind of ["discovery", "tokens", "client"] as const) {
        const value: unknown = await raw.get(clientA.oauth.storageKey(kind, a.origin));
        expect(value).toBeDefined();
        await raw.set(clientB.oauth.storageKey(kind, kind === "discovery" ? undefined : b.origin), value);
      }
      // And, for good measure, A's tokens under A's issuer key of B's server (its discovery now names A).
      await raw.set(clientB.oauth.storageKey("tokens", a.origin), await raw.get(clientA.oauth.storageKey("tokens", a.origin)));

      expect(await clientB.oauth.getAccessToken()).toBe("AT-of-B");
      expect(leaked(b)).toEqual([]);
      expect(b.count("/authorize")).toBe(1);
      expect(clientB.logger.lines.length).toBeGreaterThanOrEqual(1);
      expect(clientB.logger.lines.every((line) => line.includes("written for another server"))).toBe(true);
      // A's own client still reads its records.
      expect(await oauthFor(a.mcpUrl, store).oauth.getAccessToken()).toBe("AT-of-A");
    });
  }

  it("a record of one kind copied onto another kind's key is refused too", async () => {
    const a = await serverNamed("A");
    const raw = new Keyv();
    const first = oauthFor(a.mcpUrl, raw);
    await first.oauth.getAccessToken();
    // A client record where the binding record belongs: same server, wrong kind.
    await raw.set(first.oauth.storageKey("binding"), await raw.get(first.oauth.storageKey("client", a.origin)));
    await raw.set(first.oauth.storageKey("tokens", a.origin), { ...(await raw.get(first.oauth.storageKey("tokens", a.origin))), stored_for: { kind: "client", server: "x" } });
    const again = oauthFor(a.mcpUrl, raw);
    expect(await again.oauth.getAccessToken()).toBe("AT-of-A");
    expect(a.count("/authorize")).toBe(2);
    expect(again.logger.lines.some((line) => line.includes("tokens record"))).toBe(true);
  });
});

describe("the stored format is versioned (v2)", () => {
  it("records of 0.1.0 (mcp-oauth:v1:...) are left alone: this version logs in once with a grant of its own", async () => {
    const a = await serverNamed("A");
    const raw = new Keyv();
    const serverKey = a.mcpUrl;
    const v1 = {
      discovery: { resource: a.mcpUrl, authorizationServer: { issuer: a.origin, token_endpoint: `${a.origin}/token` }, legacy: false, discoveredAt: 0 },
      tokens: { access_token: "AT-of-the-old-version", refresh_token: "RT-of-the-old-version", token_type: "Bearer", obtained_at: 0 },
    };
    await raw.set(`mcp-oauth:v1:${serverKey}:discovery`, v1.discovery);
    await raw.set(`mcp-oauth:v1:${serverKey}:${a.origin}:tokens`, v1.tokens);
    const client = oauthFor(a.mcpUrl, raw);
    expect(await client.oauth.getAccessToken()).toBe("AT-of-A");
    expect(client.oauth.storageKey("tokens", a.origin)).toBe(`mcp-oauth:v2:${serverKey}:${a.origin}:tokens`);
    // The old version's refresh token was never sent: two versions cannot spend one refresh token twice.
    expect(a.seen.some((r) => r.body.includes("RT-of-the-old-version"))).toBe(false);
    expect(await raw.get(`mcp-oauth:v1:${serverKey}:${a.origin}:tokens`)).toEqual(v1.tokens);
    expect(client.logger.lines).toEqual([]);
  });
});

describe("the MCP URL's query is not a resource, and not in a storage key", () => {
  const noMetadata = { routes: { "/.well-known/oauth-protected-resource/mcp": { status: 404, body: "" }, "/.well-known/oauth-protected-resource": { status: 404, body: "" } } };

  it("on the 2025-03-26 path, ?api_key=... is neither sent as resource nor stored in clear", async () => {
    const a = await serverNamed("A", noMetadata);
    const raw = new Keyv();
    const client = oauthFor(`${a.mcpUrl}?api_key=SECRET-API-KEY`, raw);
    expect(await client.oauth.getAccessToken()).toBe("AT-of-A");
    const authorizeUrl = new URL(client.opened[0]!);
    expect(authorizeUrl.searchParams.get("resource")).toBe(a.mcpUrl);
    const tokenRequest = a.seen.find((r) => r.path === "/token")!;
    expect(new URLSearchParams(tokenRequest.body).get("resource")).toBe(a.mcpUrl);
    const keys = [...(raw.store as Map<string, unknown>).keys()].join("\n");
    const values = JSON.stringify([...(raw.store as Map<string, unknown>).values()]);
    expect(keys).not.toContain("SECRET-API-KEY");
    expect(values).not.toContain("SECRET-API-KEY");
    expect(client.oauth.storageKey("tokens", a.origin)).toMatch(/^mcp-oauth:v2:http:\/\/127\.0\.0\.1:\d+\/mcp\?sha256=[0-9a-f]{32}:/);
    expect(client.logger.lines.join("\n")).not.toContain("SECRET-API-KEY");
  });

  it("?tenant=a and ?tenant=b keep separate records", async () => {
    const a = await serverNamed("A", noMetadata);
    const raw = new Keyv();
    const tenantA = oauthFor(`${a.mcpUrl}?tenant=a`, raw);
    const tenantB = oauthFor(`${a.mcpUrl}?tenant=b`, raw);
    expect(tenantA.oauth.storageKey("discovery")).not.toBe(tenantB.oauth.storageKey("discovery"));
    await tenantA.oauth.getAccessToken();
    await tenantB.oauth.getAccessToken();
    expect(a.count("/authorize")).toBe(2);
  });
});
