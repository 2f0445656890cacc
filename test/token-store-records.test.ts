/**
 * The token store's own rules, on `TokenStore` over a plain in-memory `TokenStorage`:
 * - keys follow the documented layout (docs/storage.md), so records survive an upgrade and other tools find them;
 * - every record carries a label naming its kind, server and issuer, and a record read under a key it
 *   was not written for is refused even when its fields would parse (tokens of issuer X are never sent
 *   to issuer Y, a record of one kind is never read as another);
 * - a correctly labelled record whose content is not valid (a non-web URL where a URL belongs, a resource
 *   that does not cover the MCP URL, a client without a client id) is absent, with one warning;
 * - what stores hand back besides objects (null for a missing key, JSON text, garbage text) is read or
 *   refused without throwing;
 * - a storage failure on read or delete is a transient storage_failed naming the record, with its cause.
 */
import { describe, expect, it } from "vitest";
import { isOAuthError, type TokenStorage } from "../src/index.js";
import { TokenStore, type DiscoveryRecord, type TokenRecord } from "../src/store/token-store.js";
import { captureLogger } from "./support/openers.js";

const mcpUrl = new URL("http://127.0.0.1:9/mcp");
const serverKey = mcpUrl.href;
const issuer = "http://127.0.0.1:9/";
const otherIssuer = "http://127.0.0.1:9/tenant2";

const discovery: DiscoveryRecord = {
  resource: mcpUrl.href,
  authorizationServer: {
    issuer,
    authorization_endpoint: `${issuer}authorize`,
    token_endpoint: `${issuer}token`,
    registration_endpoint: `${issuer}register`,
    revocation_endpoint: `${issuer}revoke`,
  },
  legacy: false,
  discoveredAt: 1,
};
const tokens: TokenRecord = { access_token: "AT-1", token_type: "Bearer", refresh_token: "RT-1", obtained_at: 1 };

/** A Map-backed store; `writes` records every set as the store received it. */
function memory(map = new Map<string, unknown>()) {
  const writes: { key: string; value: unknown; ttl: number | undefined }[] = [];
  const storage: TokenStorage = {
    get: async (key) => map.get(key),
    set: async (key, value, ttl) => {
      writes.push({ key, value, ttl });
      map.set(key, value);
    },
    delete: async (key) => map.delete(key),
  };
  return { map, storage, writes };
}

function tokenStore(storage: TokenStorage) {
  const logger = captureLogger();
  return { store: new TokenStore(storage, serverKey, logger, mcpUrl), logger };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error("it resolved"),
    (error: unknown) => error,
  );
}

describe("storage keys follow the documented layout", () => {
  it("discovery and binding per server; client and tokens per server and issuer; the lock key", () => {
    const { store } = tokenStore(memory().storage);
    expect(store.key("discovery")).toBe(`mcp-oauth:v2:${serverKey}:discovery`);
    expect(store.key("binding")).toBe(`mcp-oauth:v2:${serverKey}:binding`);
    expect(store.key("client", issuer)).toBe(`mcp-oauth:v2:${serverKey}:${issuer}:client`);
    expect(store.key("tokens", issuer)).toBe(`mcp-oauth:v2:${serverKey}:${issuer}:tokens`);
    expect(store.lockKey()).toBe(`mcp-oauth:v2:${serverKey}:lock`);
  });
});

describe("what is written", () => {
  it("each record carries exactly its kind, server and (for per-issuer records) issuer; no undefined field reaches the store", async () => {
    const m = memory();
    const { store } = tokenStore(m.storage);
    expect(await store.setDiscovery(discovery)).toBe(true);
    expect(await store.setTokens(issuer, tokens)).toBe(true);
    const [first, second] = m.writes;
    // toStrictEqual: a store that serializes `undefined` as null would make the label unreadable.
    expect(first?.value).toStrictEqual({ ...discovery, stored_for: { kind: "discovery", server: serverKey } });
    expect(second?.value).toStrictEqual({ ...tokens, stored_for: { kind: "tokens", server: serverKey, issuer } });
    expect(await store.getDiscovery()).toEqual(discovery);
    expect(await store.getTokens(issuer)).toEqual(tokens);
  });
});

describe("a record read under a key it was not written for is refused", () => {
  it("tokens written for one issuer, copied under another issuer's key of the same server", async () => {
    const m = memory();
    const { store, logger } = tokenStore(m.storage);
    await store.setTokens(issuer, tokens);
    m.map.set(store.key("tokens", otherIssuer), m.map.get(store.key("tokens", issuer)));
    expect(await store.getTokens(otherIssuer)).toBeUndefined();
    expect(logger.lines).toEqual([expect.stringContaining("it was written for another server, issuer or kind of record")]);
    expect(await store.getTokens(issuer)).toEqual(tokens);
  });

  it("a client record whose fields would also make a token record, copied onto the tokens key", async () => {
    const m = memory();
    const { store, logger } = tokenStore(m.storage);
    // Valid as a client record (loose) and, once its label is set aside, as a token record too.
    await store.setClient(issuer, { client_id: "c", redirect_uris: [], ...tokens });
    m.map.set(store.key("tokens", issuer), m.map.get(store.key("client", issuer)));
    expect(await store.getTokens(issuer)).toBeUndefined();
    expect(logger.lines).toEqual([expect.stringContaining("ignoring an unreadable tokens record")]);
    expect(logger.lines[0]).toContain("written for another server, issuer or kind");
  });
});

describe("a correctly labelled record with invalid content is absent, with one warning", () => {
  const server = { kind: "discovery", server: serverKey };
  const withAs = (fields: Record<string, unknown>) => ({ ...discovery, authorizationServer: { ...discovery.authorizationServer, ...fields }, stored_for: server });
  const cases: [string, "discovery" | "client" | "tokens" | "binding", Record<string, unknown>][] = [
    ["a javascript: token endpoint", "discovery", withAs({ token_endpoint: "javascript:alert(1)" })],
    ["a relative token endpoint", "discovery", withAs({ token_endpoint: "/token" })],
    ["an issuer whose scheme only ends in https:", "discovery", withAs({ issuer: "xhttps://as.example/" })],
    ["an empty revocation endpoint", "discovery", withAs({ revocation_endpoint: "" })],
    ["a resource that does not cover the MCP URL", "discovery", { ...discovery, resource: "http://127.0.0.1:9/other", stored_for: server }],
    ["a client without a client_id", "client", { redirect_uris: [], stored_for: { kind: "client", server: serverKey, issuer } }],
    ["a client_id that is a number", "client", { client_id: 7, redirect_uris: [], stored_for: { kind: "client", server: serverKey, issuer } }],
    ["an access token that is a number", "tokens", { ...tokens, access_token: 42, stored_for: { kind: "tokens", server: serverKey, issuer } }],
    ["a binding to an issuer that is not a web URL", "binding", { issuer: "", clientId: "c", boundAt: 1, stored_for: { kind: "binding", server: serverKey } }],
  ];
  for (const [name, kind, value] of cases) {
    it(`${kind}: ${name}`, async () => {
      const m = memory();
      const { store, logger } = tokenStore(m.storage);
      const perIssuer = kind === "client" || kind === "tokens";
      m.map.set(perIssuer ? store.key(kind, issuer) : store.key(kind), value);
      const read = { discovery: () => store.getDiscovery(), binding: () => store.getBinding(), client: () => store.getClient(issuer), tokens: () => store.getTokens(issuer) }[kind];
      expect(await read()).toBeUndefined();
      expect(await read()).toBeUndefined(); // read again (as a waiter polls): still one warning
      expect(logger.lines).toEqual([expect.stringContaining(`ignoring an unreadable ${kind} record`)]);
      expect(logger.lines[0]).toContain("it is not a valid record");
    });
  }
});

describe("what stores hand back besides objects", () => {
  it("null (a store's answer for a missing key) is absent without a warning", async () => {
    const { store, logger } = tokenStore({ get: async () => null, set: async () => undefined, delete: async () => undefined });
    expect(await store.getTokens(issuer)).toBeUndefined();
    expect(await store.getDiscovery()).toBeUndefined();
    expect(logger.lines).toEqual([]);
  });

  it("JSON text (a store that serializes) is read as the record it holds", async () => {
    const m = memory();
    const { store: writer } = tokenStore(m.storage);
    await writer.setTokens(issuer, tokens);
    const text = new Map([...m.map].map(([key, value]) => [key, JSON.stringify(value)]));
    const { store, logger } = tokenStore(memory(text).storage);
    expect(await store.getTokens(issuer)).toEqual(tokens);
    expect(logger.lines).toEqual([]);
  });

  it.each(["null", "{not json", "42", '"a string"'])("text %s is absent with one warning, never an exception", async (text) => {
    const m = memory();
    const { store, logger } = tokenStore(m.storage);
    m.map.set(store.key("tokens", issuer), text);
    expect(await store.getTokens(issuer)).toBeUndefined();
    expect(logger.lines).toEqual([expect.stringContaining("ignoring an unreadable tokens record")]);
  });
});

describe("storage failures", () => {
  it("a failed read is a transient storage_failed naming the record, with the store's error as cause", async () => {
    const failure = new Error("connection reset");
    const { store } = tokenStore({ get: () => Promise.reject(failure), set: async () => undefined, delete: async () => undefined });
    const error = await rejection(store.getTokens(issuer));
    if (!isOAuthError(error, "storage_failed")) throw new Error(`expected storage_failed, got ${String(error)}`);
    expect(error.transient).toBe(true);
    // The cause is kept as a scrubbed copy (errors.ts): same message, not the same object.
    expect(error.cause).toMatchObject({ message: failure.message });
    expect(error.message).toBe("token store: could not read the tokens record");
  });

  it("a failed delete is a transient storage_failed naming the record, with the store's error as cause", async () => {
    const failure = new Error("connection reset");
    const { store } = tokenStore({ get: async () => undefined, set: async () => undefined, delete: () => Promise.reject(failure) });
    const error = await rejection(store.delete("tokens", issuer));
    if (!isOAuthError(error, "storage_failed")) throw new Error(`expected storage_failed, got ${String(error)}`);
    expect(error.transient).toBe(true);
    // The cause is kept as a scrubbed copy (errors.ts): same message, not the same object.
    expect(error.cause).toMatchObject({ message: failure.message });
    expect(error.message).toBe("token store: could not delete the tokens record");
  });

  it("a delete that works removes the record under its key", async () => {
    const m = memory();
    const { store } = tokenStore(m.storage);
    await store.setTokens(issuer, tokens);
    await store.delete("tokens", issuer);
    expect(m.map.has(store.key("tokens", issuer))).toBe(false);
  });
});
