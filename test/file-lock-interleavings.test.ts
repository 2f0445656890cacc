/**
 * FileLock when the lock changes while a contender is in the middle of taking it. The contender is paused
 * for real, without a mock: the newest generation's file is a FIFO, so its read of that file waits until
 * the test writes the holder's content, and in that pause the test does what another process would (renew
 * the lease, take and hand on the lock, clean up). Then: a holder that renewed keeps the lock, a newer
 * generation wins, a vanished file is no error, and a failure to create the lock file is an error, not a
 * busy lock.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { constants, readdirSync, unlinkSync, utimesSync, watch, writeFileSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FileLock } from "../src/index.js";
import { cleanupAfterEach } from "./support/local-server.js";
import { tempDirs } from "./support/temp-dirs.js";

const tempDir = tempDirs("mcp-oauth-lock-interleave-");
const closeLater = cleanupAfterEach();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const slot = createHash("sha256").update("k").digest("hex").slice(0, 40);
const lockPath = (dir: string, generation: number) => join(dir, `${slot}.${generation}.lock`);
const files = (dir: string) => readdirSync(dir).sort();
const holder = (extra: Record<string, unknown> = {}) => JSON.stringify({ owner: "other-process", pid: process.pid, host: hostname(), leaseMs: 1_000, ...extra });

/** Generation `n` as a FIFO with the given mtime: whoever reads it waits for `writerFor`. */
function fifoAt(dir: string, generation: number, mtimeMs: number): string {
  const path = lockPath(dir, generation);
  expect(spawnSync("mkfifo", [path]).status).toBe(0);
  utimesSync(path, mtimeMs / 1000, mtimeMs / 1000);
  // A contender still waiting when the test ends is released (it reads an empty file).
  closeLater(async () => {
    const handle = await open(path, "r+").catch(() => undefined);
    await handle?.close();
  });
  return path;
}

/** Opens the FIFO for writing, which completes once the contender has opened it to read; fails after 5 s. */
async function writerFor(fifo: string): Promise<FileHandle> {
  const opened = open(fifo, "w");
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), 5_000)));
  const first = await Promise.race([opened, late]);
  clearTimeout(timer);
  if (first !== "late") return first;
  // Nobody came to read: release our own open with a reader of our own, then fail.
  const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  await (await opened).close();
  await reader.close();
  throw new Error("the contender never read the lock file");
}

async function send(fifo: FileHandle, content: string): Promise<void> {
  await fifo.writeFile(content);
  await fifo.close();
}

/** Names of files created in `dir` from now on (the contender's own generation comes and goes). */
function created(dir: string): Set<string> {
  const names = new Set<string>();
  const watcher = watch(dir, (_event, name) => void (name && names.add(name)));
  closeLater(async () => watcher.close());
  return names;
}

async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 50 && !check(); i += 1) await sleep(20);
  return check();
}

describe("FileLock: the lock changes while a contender takes it", () => {
  it("a holder judged stale that renews its lease before the takeover is complete keeps the lock; the contender backs off and removes its file", async () => {
    const dir = tempDir();
    const fifo = fifoAt(dir, 0, Date.now() - 60_000);
    const contender = new FileLock(dir).acquire("k", 5_000);
    // The contender reads generation 0; its stat, issued with the read, sees the mtime of a minute ago.
    const first = await writerFor(fifo);
    await sleep(100);
    const now = new Date();
    utimesSync(fifo, now, now); // the holder renews
    await send(first, holder());
    // Judged stale on the old mtime, it creates generation 1, then reads generation 0 again (a writer
    // opened before its first read is closed would meet that read instead).
    expect(await eventually(() => files(dir).includes(`${slot}.1.lock`))).toBe(true);
    const second = await writerFor(fifo);
    expect(files(dir)).toEqual([`${slot}.0.lock`, `${slot}.1.lock`]);
    await send(second, holder());
    expect(await contender).toBeUndefined();
    expect(files(dir)).toEqual([`${slot}.0.lock`]);
  });

  it("a contender that judged on an old listing backs off when a newer generation exists, and removes its file", async () => {
    const dir = tempDir();
    const names = created(dir);
    const fifo = fifoAt(dir, 0, Date.now());
    const contender = new FileLock(dir).acquire("k", 5_000);
    const writer = await writerFor(fifo);
    // Meanwhile another process took the lock (generation 1, since released and removed) and holds generation 2.
    writeFileSync(lockPath(dir, 2), holder({ leaseMs: 60_000 }));
    await send(writer, holder({ released: true }));
    expect(await contender).toBeUndefined();
    expect(files(dir)).toEqual([`${slot}.0.lock`, `${slot}.2.lock`]);
    expect(await eventually(() => names.has(`${slot}.1.lock`))).toBe(true);
  });

  it("a stale holder's file that vanished before the takeover is complete (another contender cleaned up): back off, no error", async () => {
    const dir = tempDir();
    const names = created(dir);
    const fifo = fifoAt(dir, 0, Date.now() - 60_000);
    const contender = new FileLock(dir).acquire("k", 5_000);
    const writer = await writerFor(fifo);
    await sleep(100); // the contender's stat has returned
    unlinkSync(fifo);
    await send(writer, holder());
    await expect(contender).resolves.toBeUndefined();
    expect(files(dir)).toEqual([]);
    expect(await eventually(() => names.has(`${slot}.1.lock`))).toBe(true);
  });
});

describe("FileLock: creating the lock file fails", () => {
  it("a failure other than 'exists' is an error, not a busy lock", async () => {
    const dir = tempDir();
    // Another process removes every temporary file as soon as it appears: the link that publishes it fails with ENOENT.
    const watcher = watch(dir, (_event, name) => {
      if (name?.endsWith(".tmp")) {
        try {
          unlinkSync(join(dir, name));
        } catch {
          // already gone
        }
      }
    });
    closeLater(async () => watcher.close());
    const error = await new FileLock(dir).acquire("k", 5_000).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ENOENT" });
    expect(files(dir)).toEqual([]);
  });
});
