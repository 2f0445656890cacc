import { afterAll, describe, expect, it } from "vitest";
import type { TokenStorage } from "../src/index.js";
import { TokenStore, type DiscoveryRecord, type TokenRecord } from "../src/store/token-store.js";
import { backends, uniqueNamespace, type Backend } from "./support/backends.js";
import { harness, rpc } from "./support/harness.js";
import { cleanupAfterEach } from "./support/local-server.js";
import { captureLogger } from "./support/openers.js";

// One contract, every backend: what the token store needs from `tokenStorage`, checked on the real thing.
const closeLater = cleanupAfterEach();
const serverKey = "https://mcp.example.com/mcp/ünïcode?q=1";
const issuer = "https://as.example.com/tenant:1/";
const tokens: TokenRecord = { access_token: "AT", token_type: "Bearer", refresh_token: "RT", scope: "a b", expires_at: Date.now() + 3_600_000, obtained_at: Date.now() };
const discovery: DiscoveryRecord = { resource: serverKey, authorizationServer: { issuer, token_endpoint: `${issuer}token` }, legacy: false, discoveredAt: 1 };

function open(backend: Backend, shared: string): TokenStorage {
  const { storage, close } = backend.open(shared);
  closeLater(close);
  return storage;
}

describe.each(backends)("token storage contract: $name", (backend) => {
  const shared: string[] = [];
  const fresh = () => {
    const name = uniqueNamespace();
    shared.push(name);
    return name;
  };
  afterAll(() => shared.forEach((name) => backend.cleanup?.(name)));
  const unavailable = backend.unavailable !== undefined;

  it.skipIf(unavailable)("get, set, overwrite and delete JSON objects under URL-shaped keys", async () => {
    const storage = open(backend, fresh());
    const key = `mcp-oauth:v2:${serverKey}:${issuer}:tokens`;
    expect(await storage.get(key)).toBeUndefined();
    await storage.set(key, tokens);
    expect(await storage.get(key)).toEqual(tokens);
    await storage.set(key, { ...tokens, access_token: "AT2", note: "é ✓" });
    expect(await storage.get(key)).toEqual({ ...tokens, access_token: "AT2", note: "é ✓" });
    await storage.delete(key);
    expect(await storage.get(key)).toBeUndefined();
    await storage.delete(key); // deleting what is gone is not an error
    await Promise.all(Array.from({ length: 20 }, (_, i) => storage.set(`${key}:${i}`, { i })));
    expect(await Promise.all(Array.from({ length: 20 }, (_, i) => storage.get(`${key}:${i}`)))).toEqual(Array.from({ length: 20 }, (_, i) => ({ i })));
  });

  // A store that ignores TTLs still works (only a registration with an expiring secret gets one): no test to run.
  if (backend.ttl !== false) it.skipIf(unavailable)("a TTL in milliseconds expires the value", async () => {
    const storage = open(backend, fresh());
    const written = Date.now();
    await storage.set("short", { v: 1 }, 500);
    await storage.set("long", { v: 2 });
    const early = await storage.get("short");
    // On a loaded machine the writes alone can take longer than the TTL: only a read inside it must see the value.
    if (Date.now() - written < 450) expect(early).toEqual({ v: 1 });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, written + 800 - Date.now())));
    expect(await storage.get("short")).toBeUndefined();
    expect(await storage.get("long")).toEqual({ v: 2 });
  });

  it.skipIf(unavailable)("a second connection reads what the first wrote; token records carry no TTL", async () => {
    const name = fresh();
    const writes: unknown[][] = [];
    const first = open(backend, name);
    const spy: TokenStorage = { get: (k) => first.get(k), set: (...args) => (writes.push(args), first.set(...args)), delete: (k) => first.delete(k) };
    const logger = captureLogger();
    const store = new TokenStore(spy, serverKey, logger);
    await store.setDiscovery(discovery);
    await store.setTokens(issuer, tokens);
    await store.setClient(issuer, { client_id: "c", redirect_uris: ["http://127.0.0.1:1/callback"] }, 60_000);
    expect(writes.map((args) => args[2])).toEqual([undefined, undefined, 60_000]);

    const second = new TokenStore(open(backend, name), serverKey, logger);
    expect(await second.getDiscovery()).toEqual(discovery);
    expect(await second.getTokens(issuer)).toEqual(tokens);
    expect((await second.getClient(issuer))?.client_id).toBe("c");
    expect(logger.lines).toEqual([]);
  });

  it.skipIf(unavailable)("a corrupt record is absent, with one warning, and never crashes", async () => {
    const storage = open(backend, fresh());
    const logger = captureLogger();
    const store = new TokenStore(storage, serverKey, logger);
    await storage.set(store.key("tokens", issuer), { access_token: 42 });
    await storage.set(store.key("discovery"), "{not json");
    expect(await store.getTokens(issuer)).toBeUndefined();
    expect(await store.getDiscovery()).toBeUndefined();
    expect(await store.getTokens(issuer)).toBeUndefined(); // read again (as a waiter polls): no second warning
    expect(logger.lines).toHaveLength(2);
    expect(logger.lines.join("\n")).not.toContain("42");
  });

  it.skipIf(unavailable)("restart: a new process on the same store makes no discovery or registration request", async () => {
    const name = fresh();
    const h = await harness({}, { tokenStorage: open(backend, name) });
    closeLater(h.server.close);
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    const before = h.server.requests.length;
    const events = h.events.length;
    const restarted = h.restart({ tokenStorage: open(backend, name) });
    expect((await restarted.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    // Already authenticated on its first MCP request: no 401, no metadata, no registration, no token request.
    expect(h.server.requests.slice(before).map((r) => [r.path, Boolean(r.authorization)])).toEqual([["/mcp", true]]);
    expect(h.events.slice(events).map((e) => e.type)).toEqual(["token_reused"]);
  });
});
