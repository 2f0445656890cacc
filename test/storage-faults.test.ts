import { connect, createServer, type Server, type Socket } from "node:net";
import KeyvRedis from "@keyv/redis";
import Keyv from "keyv";
import { describe, expect, it } from "vitest";
import { guardStorage } from "../src/store/guard-storage.js";
import { Fernet, FernetEncryptionWrapper, isOAuthError, MemoryLock, type TokenStorage } from "../src/index.js";
import { redisUp, uniqueNamespace } from "./support/backends.js";
import { harness, rpc } from "./support/harness.js";
import { cleanupAfterEach } from "./support/local-server.js";

const closeLater = cleanupAfterEach();

/** A TCP hop in front of the real Redis that the test can cut and restore: Redis going away for real. */
async function redisProxy(): Promise<{ url: string; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    server = createServer((client) => {
      const upstream = createConnectionToRedis();
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.on("error", () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => (server as Server).listen(port, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  };
  const cut = async () => {
    await new Promise<void>((resolve) => {
      server?.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
  };
  await listen();
  return { url: `redis://127.0.0.1:${port}`, cut, restore: listen, close: cut };
}
function createConnectionToRedis(): Socket {
  return connect({ host: "127.0.0.1", port: 6379 });
}

/** A server that accepts connections and never answers: a Redis that hangs. */
async function blackHole(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => void sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function redisKeyv(url: string): Keyv {
  // No reconnect backoff beyond 100 ms, so a restored Redis is found again quickly.
  const keyv = new Keyv({ store: new KeyvRedis({ url, socket: { reconnectStrategy: () => 100, connectTimeout: 500 } }), namespace: uniqueNamespace() });
  // destroy, not disconnect: a polite QUIT would wait for a server that may never answer.
  closeLater(async () => (keyv.store as KeyvRedis<unknown>).client.destroy());
  return keyv;
}

/** Waits (bounded) until the client of a Redis Keyv is connected again: it fails commands while offline. */
async function untilReady(keyv: Keyv): Promise<void> {
  const client = (keyv.store as KeyvRedis<unknown>).client as unknown as { isReady: boolean };
  for (let i = 0; i < 100 && !client.isReady; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(client.isReady).toBe(true);
}

describe.skipIf(!redisUp)("Redis faults", () => {
  it("Redis unreachable from the start: a transient storage_failed, no browser, no crash", async () => {
    const hole = await blackHole();
    await hole.close(); // nothing listens on that port any more
    const h = await harness({}, { tokenStorage: redisKeyv(hole.url), storageTimeoutMs: 500 });
    closeLater(h.server.close);
    const started = Date.now();
    const error = await h.oauth.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e);
    expect(isOAuthError(error, "storage_failed")).toBe(true);
    expect(isOAuthError(error) && error.transient).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(h.browser.opened).toEqual([]);
  });

  it("Redis that accepts but never answers: storage_failed after storageTimeoutMs", async () => {
    const hole = await blackHole();
    closeLater(hole.close);
    const h = await harness({}, { tokenStorage: redisKeyv(hole.url), storageTimeoutMs: 300 });
    closeLater(h.server.close);
    const started = Date.now();
    const error = await h.oauth.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e);
    expect(isOAuthError(error, "storage_failed")).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(h.browser.opened).toEqual([]);
  });

  it("Redis going away mid-session: cached tokens keep working, a refresh fails softly, and nothing stored is lost", async () => {
    const proxy = await redisProxy();
    closeLater(proxy.close);
    const keyv = redisKeyv(proxy.url);
    const h = await harness({ accessTokenTtlSeconds: 3600 }, { tokenStorage: keyv, storageTimeoutMs: 300 });
    closeLater(h.server.close);
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    const key = h.oauth.storageKey("tokens", h.server.issuer);
    const stored = await keyv.get(key);

    await proxy.cut();
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200); // no store access on the hot path
    h.clock.now += 3_600_000 - 30_000; // inside the refresh margin, not yet expired: the refresh cannot take the lock
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    h.clock.now += 60_000; // expired: now the outage is the caller's error
    const error = await h.oauth.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e);
    expect(isOAuthError(error, "storage_failed") && error.transient).toBe(true);
    expect(h.server.count((r) => r.path === "/token" && r.form.grant_type === "refresh_token")).toBe(0);

    await proxy.restore();
    await untilReady(keyv);
    expect(await keyv.get(key)).toEqual(stored);
    // No lock attempt made during the outage holds the lock now (none is replayed on reconnection, and
    // one that landed late would be released at once): nobody waits out a lease (40 s by default).
    const restoredAt = Date.now();
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    expect(Date.now() - restoredAt).toBeLessThan(3_000);
    expect(h.server.count((r) => r.path === "/token" && r.form.grant_type === "refresh_token")).toBe(1);
    expect(h.browser.opened).toHaveLength(1);
  });
});

describe.skipIf(!redisUp)("store commands during a Redis outage", () => {
  it("a write or delete that failed during the outage never lands after reconnection, over what another process stored", async () => {
    const proxy = await redisProxy();
    closeLater(proxy.close);
    const viaProxy = redisKeyv(proxy.url);
    viaProxy.on("error", () => undefined);
    const direct = new Keyv({ store: new KeyvRedis("redis://127.0.0.1:6379"), namespace: String(viaProxy.namespace) });
    closeLater(() => direct.disconnect());
    const guarded = guardStorage(viaProxy, 300);
    await guarded.set("tokens", { refresh_token: "R0" });
    await guarded.set("client", { client_id: "C0" });

    await proxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 200)); // the client notices and starts reconnecting
    await expect(guarded.delete("tokens")).rejects.toThrow();
    await expect(guarded.set("client", { client_id: "C-stale" })).rejects.toThrow();
    // Meanwhile another process, still connected, stores newer records.
    await direct.set("tokens", { refresh_token: "R1" });
    await direct.set("client", { client_id: "C1" });

    await proxy.restore();
    await untilReady(viaProxy);
    await viaProxy.get("tokens"); // commands run in order: anything queued during the outage has landed by now
    expect(await direct.get("tokens")).toEqual({ refresh_token: "R1" });
    expect(await direct.get("client")).toEqual({ client_id: "C1" });
  });
});

describe("stores whose server is not there", () => {
  const postgres = async () => new Keyv({ store: new (await import("@keyv/postgres")).default({ uri: `postgresql://postgres@127.0.0.1:${await closedPort()}/test` }) });
  const stores: [string, () => Promise<Keyv>, (keyv: Keyv) => TokenStorage][] = [
    ["@keyv/postgres", postgres, (keyv) => keyv],
    // The wrapper hides the Keyv whose errors tell an outage from a miss: it must be looked through.
    ["FernetEncryptionWrapper over @keyv/postgres", postgres, (keyv) => new FernetEncryptionWrapper(keyv, { keys: Fernet.generateKey() })],
  ];
  it.each(stores)("%s: a transient storage_failed rather than a login", async (_name, make, wrap) => {
    const storage = await make();
    storage.on("error", () => undefined); // the adapter also reports its connection failure at construction
    await new Promise((resolve) => setTimeout(resolve, 100)); // ...and that report is over before the test starts
    const h = await harness({}, { tokenStorage: wrap(storage), storageTimeoutMs: 2_000 });
    closeLater(h.server.close);
    const error = await h.oauth.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e);
    expect(isOAuthError(error, "storage_failed") && error.transient).toBe(true);
    expect(h.browser.opened).toEqual([]);
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("store faults a real server cannot produce on demand", () => {
  it("a failed write keeps what was stored and the request that paid for the new tokens succeeds", async () => {
    const inner = new Keyv();
    let failWrites = false;
    const storage: TokenStorage = {
      get: (key) => inner.get(key),
      set: async (key, value, ttl) => {
        if (failWrites) throw new Error("disk full");
        return inner.set(key, value, ttl);
      },
      delete: (key) => inner.delete(key),
    };
    const h = await harness({}, { tokenStorage: storage });
    closeLater(h.server.close);
    await h.oauth.fetch(h.server.mcpUrl, rpc());
    const key = h.oauth.storageKey("tokens", h.server.issuer);
    const stored = await inner.get(key);
    failWrites = true;
    h.clock.now += 3_600_000;
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    expect(await inner.get(key)).toEqual(stored);
    expect(h.logger.lines.some((line) => line.includes("could not write the tokens record"))).toBe(true);
  });

  it("a wrong encryption key is a typed error: no browser, nothing overwritten", async () => {
    const inner = new Keyv();
    const h = await harness({}, { tokenStorage: new FernetEncryptionWrapper(inner, { keys: Fernet.generateKey() }) });
    closeLater(h.server.close);
    await h.oauth.fetch(h.server.mcpUrl, rpc());
    const before = await inner.get(h.oauth.storageKey("tokens", h.server.issuer));
    const wrongKey = h.restart({ tokenStorage: new FernetEncryptionWrapper(inner, { keys: Fernet.generateKey() }) });
    const error = await wrongKey.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e);
    expect(isOAuthError(error, "decryption_failed")).toBe(true);
    expect(h.browser.opened).toHaveLength(1);
    expect(await inner.get(h.oauth.storageKey("tokens", h.server.issuer))).toEqual(before);
  });

  it("a lock held by a live holder longer than the wait is lock_timeout, and no second browser", async () => {
    const h = await harness({}, { lockTimeoutMs: 300, callbackTimeoutMs: 200 });
    closeLater(h.server.close);
    const holder = await new MemoryLock().acquire(`mcp-oauth:v2:${h.server.mcpUrl}:lock`, 60_000);
    closeLater(async () => holder?.release());
    const started = Date.now();
    const error = await h.oauth.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e);
    expect(isOAuthError(error, "lock_timeout") && error.transient).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(h.browser.opened).toEqual([]);
  });
});
