import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { createClient } from "@keyv/redis";
import { afterAll, describe, expect, it } from "vitest";
import { FileLock, MemoryLock, RedisLock, type TokenLock } from "../src/index.js";
import { redisUp, redisUrl, uniqueNamespace } from "./support/backends.js";
import { tempDirs } from "./support/temp-dirs.js";

// One contract for every lock: exclusion, leases, owner-checked extend and release.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const tempDir = tempDirs("mcp-oauth-lock-");
const redis = redisUp ? createClient({ url: redisUrl }) : undefined;
if (redis) await redis.connect();
afterAll(async () => redis?.close());

const locks: { name: string; unavailable: boolean; make: () => TokenLock }[] = [
  { name: "MemoryLock", unavailable: false, make: () => new MemoryLock() },
  { name: "FileLock", unavailable: false, make: () => new FileLock(tempDir()) },
  { name: "RedisLock", unavailable: !redis, make: () => new RedisLock(redis as never, { prefix: `${uniqueNamespace()}:` }) },
];

describe.each(locks)("lock contract: $name", ({ unavailable, make }) => {
  it.skipIf(unavailable)("one holder at a time; free again once released", async () => {
    const lock = make();
    const k = uniqueNamespace(); // MemoryLock is one per process: keys must not repeat across tests
    const first = await lock.acquire(k, 5_000);
    expect(first).toBeDefined();
    expect(await lock.acquire(k, 5_000)).toBeUndefined();
    expect(await lock.acquire(`${k}:other`, 5_000)).toBeDefined();
    await first?.release();
    expect(await lock.acquire(k, 5_000)).toBeDefined();
  });

  it.skipIf(unavailable)("20 simultaneous attempts: exactly one wins", async () => {
    const lock = make();
    const k = uniqueNamespace(); // MemoryLock is one per process: keys must not repeat across tests
    const handles = await Promise.all(Array.from({ length: 20 }, () => lock.acquire(k, 5_000)));
    expect(handles.filter(Boolean)).toHaveLength(1);
  });

  it.skipIf(unavailable)("a lease that is not extended ends; the old holder can then neither extend nor release the new holder's lock", async () => {
    const lock = make();
    const k = uniqueNamespace(); // MemoryLock is one per process: keys must not repeat across tests
    const old = await lock.acquire(k, 150);
    await sleep(300);
    const next = await lock.acquire(k, 5_000);
    expect(next).toBeDefined();
    expect(await old?.extend(5_000)).toBe(false);
    await old?.release();
    expect(await lock.acquire(k, 5_000)).toBeUndefined();
  });

  it.skipIf(unavailable)("extending keeps the lock past its first lease", async () => {
    const lock = make();
    const k = uniqueNamespace(); // MemoryLock is one per process: keys must not repeat across tests
    const handle = await lock.acquire(k, 300);
    for (let i = 0; i < 4; i += 1) {
      await sleep(100);
      expect(await handle?.extend(300)).toBe(true);
    }
    expect(await lock.acquire(k, 300)).toBeUndefined();
  });
});

describe("FileLock liveness", () => {
  const lockFile = (dir: string, holder: object) => {
    // The file a holder leaves: what FileLock writes, at the path it uses for key "k".
    const path = join(dir, `${lockFileName("k")}.0.lock`);
    writeFileSync(path, JSON.stringify(holder));
    return path;
  };

  it("takes over at once a lock whose holder's pid is gone, even inside its lease", async () => {
    const dir = tempDir();
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    lockFile(dir, { owner: "gone", pid: Number(dead.stdout), host: hostname(), leaseMs: 60_000 });
    expect(await new FileLock(dir).acquire("k", 5_000)).toBeDefined();
  });

  it("respects a live holder inside its lease, and an unreadable file only until its lease would have ended", async () => {
    const dir = tempDir();
    const path = lockFile(dir, { owner: "alive", pid: process.pid, host: hostname(), leaseMs: 60_000 });
    expect(await new FileLock(dir).acquire("k", 5_000)).toBeUndefined();
    writeFileSync(path, "{half");
    expect(await new FileLock(dir).acquire("k", 5_000)).toBeDefined();
  });
});

function lockFileName(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 40);
}
