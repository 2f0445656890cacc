import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import KeyvRedis from "@keyv/redis";
import KeyvSqlite from "@keyv/sqlite";
import Keyv from "keyv";
import { describe, expect, it } from "vitest";
import { defaultLock } from "../src/store/default-lock.js";
import { FileLock, Fernet, FernetEncryptionWrapper, MemoryLock, OAuth, OAuthError, RedisLock } from "../src/index.js";
import { resolveOptions } from "../src/options.js";
import { captureLogger } from "./support/openers.js";

describe("storage and lock options", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["a lock without acquire", { lock: { take: async () => undefined } }, "lock"],
    ["a lease under 100 ms", { lockLeaseMs: 50 }, "lockLeaseMs"],
    ["a non-positive lock timeout", { lockTimeoutMs: 0 }, "lockTimeoutMs"],
    ["a fractional storage timeout", { storageTimeoutMs: 1.5 }, "storageTimeoutMs"],
  ];
  for (const [name, options, option] of cases) {
    it(`rejects ${name}, naming the option`, () => {
      let error: unknown;
      try {
        new OAuth({ mcpUrl: "http://127.0.0.1:1/mcp", tokenStorage: new Keyv(), ...options });
      } catch (caught) {
        error = caught;
      }
      expect(error instanceof OAuthError && error.code).toBe("invalid_options");
      expect(String(error)).toContain(`\`${option}\``);
    });
  }

  it("derives the default lock from the store, looking through the encryption wrapper", async () => {
    // No connection is made: the Redis client connects on first use only.
    const redis = new Keyv({ store: new KeyvRedis("redis://127.0.0.1:6379"), namespace: "n" });
    const dir = mkdtempSync(join(tmpdir(), "mcp-oauth-options-"));
    const sqlite = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${join(dir, "t.sqlite")}` }) });
    const memorySqlite = new Keyv({ store: new KeyvSqlite({ uri: "sqlite://:memory:" }) });
    expect(defaultLock(redis)).toBeInstanceOf(RedisLock);
    expect(defaultLock(new FernetEncryptionWrapper(redis, { keys: Fernet.generateKey() }))).toBeInstanceOf(RedisLock);
    expect(defaultLock(sqlite)).toBeInstanceOf(FileLock);
    expect(defaultLock(memorySqlite)).toBeInstanceOf(MemoryLock);
    expect(defaultLock(new Keyv())).toBeInstanceOf(MemoryLock);
    expect(defaultLock({ get: async () => undefined, set: async () => true, delete: async () => true })).toBeInstanceOf(MemoryLock);
    await Promise.all([sqlite.disconnect(), memorySqlite.disconnect()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("the default lease outlasts a token request and a store command, so a live holder's lease cannot end mid-refresh", () => {
    const defaults = resolveOptions({ mcpUrl: "http://127.0.0.1:1/mcp", tokenStorage: new Keyv() });
    expect(defaults.lockLeaseMs).toBeGreaterThanOrEqual(defaults.requestTimeoutMs + defaults.storageTimeoutMs);
    const slow = resolveOptions({ mcpUrl: "http://127.0.0.1:1/mcp", tokenStorage: new Keyv(), requestTimeoutMs: 90_000, storageTimeoutMs: 10_000 });
    expect(slow.lockLeaseMs).toBeGreaterThanOrEqual(100_000);
    expect(resolveOptions({ mcpUrl: "http://127.0.0.1:1/mcp", tokenStorage: new Keyv(), lockLeaseMs: 2_000 }).lockLeaseMs).toBe(2_000);
  });

  it("warns once when a store that other processes may share gets the in-process lock by default", async () => {
    const logger = captureLogger();
    const custom = { get: async () => undefined, set: async () => true, delete: async () => true };
    const cluster = new Keyv({ store: new KeyvRedis({ rootNodes: [{ url: "redis://127.0.0.1:1" }] }) });
    for (const tokenStorage of [custom, custom, cluster, new Keyv(), new Keyv({ store: new Map() })]) new OAuth({ mcpUrl: "http://127.0.0.1:1/mcp", tokenStorage, logger });
    new OAuth({ mcpUrl: "http://127.0.0.1:1/mcp", tokenStorage: custom, logger, lock: new MemoryLock() }); // chosen, not defaulted
    expect(logger.lines).toHaveLength(2);
    expect(logger.lines.every((line) => line.includes("MemoryLock") && line.includes("`lock`"))).toBe(true);
  });
});
