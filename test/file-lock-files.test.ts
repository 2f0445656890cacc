/**
 * FileLock's files, as another process reads them: one file per generation, `<sha256(key)[:40]>.<n>.lock`,
 * naming its holder (pid, host, lease) and renewed by its mtime; a release marker as the next generation;
 * generations compared as numbers; no temporary file left behind. And how states another process (or a
 * crash) leaves are judged: a holder on another host is never judged by its pid, an old lease ends by its
 * mtime, a release marker frees the lock even when the released file is still there, and a leftover
 * temporary file never lets a second holder in.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FileLock } from "../src/index.js";
import { tempDirs } from "./support/temp-dirs.js";

const tempDir = tempDirs("mcp-oauth-lock-files-");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const slot = createHash("sha256").update("k").digest("hex").slice(0, 40);
const lockPath = (dir: string, generation: number) => join(dir, `${slot}.${generation}.lock`);
const files = (dir: string) => readdirSync(dir).sort();

/** A pid that was in use a moment ago and is not any more. */
function deadPid(): number {
  const { pid, status } = spawnSync("true");
  expect(status).toBe(0);
  return pid;
}

/** Writes generation `n` as another holder would have left it, its mtime `ageMs` in the past. */
function plant(dir: string, generation: number, holder: Record<string, unknown>, ageMs = 0): void {
  const path = lockPath(dir, generation);
  writeFileSync(path, JSON.stringify({ owner: `planted-${generation}`, pid: process.pid, host: hostname(), leaseMs: 60_000, ...holder }));
  const when = new Date(Date.now() - ageMs);
  utimesSync(path, when, when);
}

describe("FileLock on disk", () => {
  it("each holding is the next generation's file, naming its holder; a release is a marker after it; nothing else is left", async () => {
    const dir = tempDir();
    const lock = new FileLock(dir);
    const first = await lock.acquire("k", 5_000);
    expect(files(dir)).toEqual([`${slot}.0.lock`]);
    const holder = JSON.parse(readFileSync(lockPath(dir, 0), "utf8")) as Record<string, unknown>;
    expect(holder).toEqual({ owner: expect.stringMatching(/^[0-9a-f-]{36}$/), pid: process.pid, host: hostname(), leaseMs: 5_000 });
    expect(statSync(lockPath(dir, 0)).mode & 0o777).toBe(0o600);

    await first?.release();
    expect(files(dir)).toEqual([`${slot}.1.lock`]);
    expect(JSON.parse(readFileSync(lockPath(dir, 1), "utf8"))).toMatchObject({ owner: holder.owner, released: true });

    const second = await lock.acquire("k", 5_000);
    expect(files(dir)).toEqual([`${slot}.2.lock`]);
    expect(JSON.parse(readFileSync(lockPath(dir, 2), "utf8"))).not.toHaveProperty("released");
    await second?.release();
    expect(files(dir)).toEqual([`${slot}.3.lock`]);
  });

  it("generations are compared as numbers: past generation 9 the lock still excludes", async () => {
    const dir = tempDir();
    const lock = new FileLock(dir);
    for (let i = 0; i < 6; i += 1) await (await lock.acquire("k", 5_000))?.release();
    const held = await lock.acquire("k", 5_000);
    expect(files(dir)).toEqual([`${slot}.12.lock`]);
    expect(await lock.acquire("k", 5_000)).toBeUndefined();
    expect(await held?.extend(5_000)).toBe(true);
  });

  it("a release marker frees the lock even while the released generation's file is still there (a crash between the two steps)", async () => {
    const dir = tempDir();
    plant(dir, 9, {});
    plant(dir, 10, { released: true });
    const handle = await new FileLock(dir).acquire("k", 5_000);
    expect(handle).toBeDefined();
    expect(files(dir)).toEqual([`${slot}.11.lock`]);
  });

  it("a temporary file left by a contender that crashed does not let a second holder in", async () => {
    const dir = tempDir();
    const lock = new FileLock(dir);
    const held = await lock.acquire("k", 60_000);
    // What `create` writes before linking it: `<file>.<owner>.tmp`, here for a later generation.
    writeFileSync(`${lockPath(dir, 5)}.0b9f2c1e-1111-4222-8333-944455556666.tmp`, JSON.stringify({ owner: "crashed", pid: deadPid(), host: hostname(), leaseMs: 1 }));
    expect(await lock.acquire("k", 60_000)).toBeUndefined();
    expect(await held?.extend(60_000)).toBe(true);
  });
});

describe("FileLock judging another holder", () => {
  it("a holder on another host is not judged by its pid: inside its lease it holds the lock", async () => {
    const dir = tempDir();
    plant(dir, 0, { pid: deadPid(), host: `not-${hostname()}` });
    expect(await new FileLock(dir).acquire("k", 5_000)).toBeUndefined();
  });

  it("a live holder's lease ends by its file's mtime: renewed, it holds; not renewed for longer than its lease, it is taken over", async () => {
    const dir = tempDir();
    plant(dir, 0, { leaseMs: 10_000 }, 9_000);
    expect(await new FileLock(dir).acquire("k", 5_000)).toBeUndefined();
    plant(dir, 0, { leaseMs: 10_000 }, 11_000);
    expect(await new FileLock(dir).acquire("k", 5_000)).toBeDefined();
    expect(files(dir)).toEqual([`${slot}.1.lock`]);
  });
});

describe("FileLock: which files count", () => {
  it("keys sharing a directory are independent: another key's generations do not count for this one", async () => {
    const dir = tempDir();
    const lock = new FileLock(dir);
    const held = await lock.acquire("k", 60_000);
    for (let i = 0; i < 3; i += 1) await (await lock.acquire("another key", 60_000))?.release();
    expect(files(dir)).toHaveLength(2); // k's generation 0, the other key's release marker (generation 5)
    expect(await lock.acquire("k", 60_000)).toBeUndefined();
    expect(await held?.extend(60_000)).toBe(true);
  });

  it("a file whose name only ends like a lock file (a copy, say) does not count", async () => {
    const dir = tempDir();
    const lock = new FileLock(dir);
    const held = await lock.acquire("k", 60_000);
    writeFileSync(join(dir, `old-${slot}.5.lock`), JSON.stringify({ owner: "copy", pid: process.pid, host: hostname(), leaseMs: 60_000 }));
    expect(await lock.acquire("k", 60_000)).toBeUndefined();
    expect(await held?.extend(60_000)).toBe(true);
  });

  it("the newest generation is the highest number, whatever order the directory lists them in: a release in progress (9 held, 10 its marker) is free", async () => {
    const dir = tempDir();
    // Ten keys, half written marker first: a directory listing in creation order, its reverse or hash
    // order gets some of them the wrong way round.
    const keys = Array.from({ length: 10 }, (_, i) => `key-${i}`);
    for (const [i, key] of keys.entries()) {
      const name = createHash("sha256").update(key).digest("hex").slice(0, 40);
      const held = () => writeFileSync(join(dir, `${name}.9.lock`), JSON.stringify({ owner: "releasing", pid: process.pid, host: hostname(), leaseMs: 60_000 }));
      const marker = () => writeFileSync(join(dir, `${name}.10.lock`), JSON.stringify({ owner: "releasing", pid: process.pid, host: hostname(), leaseMs: 60_000, released: true }));
      if (i % 2) {
        held();
        marker();
      } else {
        marker();
        held();
      }
    }
    const lock = new FileLock(dir);
    for (const key of keys) expect(await lock.acquire(key, 60_000)).toBeDefined();
  });
});

describe("FileLock: the end of a lease and a holder's pid", () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it("a lease of 10 s renewed at T holds until T + 10 s inclusive and has ended a millisecond later", async () => {
    const dir = tempDir();
    const renewedAt = Date.UTC(2030, 0, 1);
    plant(dir, 0, { leaseMs: 10_000 });
    utimesSync(lockPath(dir, 0), renewedAt / 1000, renewedAt / 1000);
    expect(statSync(lockPath(dir, 0)).mtimeMs).toBe(renewedAt);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(renewedAt + 10_000);
    expect(await new FileLock(dir).acquire("k", 5_000)).toBeUndefined();
    vi.setSystemTime(renewedAt + 10_001);
    expect(await new FileLock(dir).acquire("k", 5_000)).toBeDefined();
  });

  it("a holder on this host whose pid belongs to another user (signal 0 answers EPERM) is alive", async () => {
    const dir = tempDir();
    const pid = deadPid();
    plant(dir, 0, { pid });
    // As root every signal 0 succeeds, so the answer another user's process gets is simulated.
    const kill = vi.spyOn(process, "kill").mockImplementation(() => {
      throw Object.assign(new Error("kill EPERM"), { code: "EPERM" });
    });
    expect(await new FileLock(dir).acquire("k", 5_000)).toBeUndefined();
    expect(kill).toHaveBeenCalledWith(pid, 0);
  });
});

describe("FileLock handles", () => {
  it("extend renews the lease by touching the file", async () => {
    const dir = tempDir();
    const handle = await new FileLock(dir).acquire("k", 5_000);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lockPath(dir, 0), old, old);
    expect(await handle?.extend(5_000)).toBe(true);
    expect(Date.now() - statSync(lockPath(dir, 0)).mtimeMs).toBeLessThan(5_000);
    expect(await new FileLock(dir).acquire("k", 5_000)).toBeUndefined();
  });

  it("extend answers false when a newer generation exists, though the holder's own file is still there", async () => {
    const dir = tempDir();
    const handle = await new FileLock(dir).acquire("k", 5_000);
    plant(dir, 1, { owner: "next" });
    expect(await handle?.extend(5_000)).toBe(false);
  });

  it("extend answers false when the holder's file is gone", async () => {
    const dir = tempDir();
    const lock = new FileLock(dir);
    const old = await lock.acquire("k", 50);
    await sleep(80);
    const next = await lock.acquire("k", 60_000); // removes generation 0
    expect(files(dir)).toEqual([`${slot}.1.lock`]);
    expect(await old?.extend(60_000)).toBe(false);
    await old?.release();
    expect(files(dir)).toEqual([`${slot}.1.lock`]);
    expect(await next?.extend(60_000)).toBe(true);
  });
});
