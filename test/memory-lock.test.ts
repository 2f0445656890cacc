/**
 * MemoryLock's lease to the millisecond, on a mocked Date clock: a lease of n ms is free exactly n ms
 * after it was taken or last extended, not a millisecond sooner; and a handle whose lock is gone (released,
 * or taken over) answers false to extend and does nothing on release, without throwing.
 */
import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryLock } from "../src/index.js";

// MemoryLock is one per process: every test takes keys no other test uses.
const key = () => `memory-lock-test-${randomUUID()}`;

describe("MemoryLock leases", () => {
  const t0 = Date.UTC(2030, 0, 1);
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(t0);
  });
  afterEach(() => void vi.useRealTimers());

  it("a lease of 100 ms holds for 99 ms and is free at 100 ms", async () => {
    const lock = new MemoryLock();
    const k = key();
    expect(await lock.acquire(k, 100)).toBeDefined();
    vi.setSystemTime(t0 + 99);
    expect(await lock.acquire(k, 100)).toBeUndefined();
    vi.setSystemTime(t0 + 100);
    expect(await lock.acquire(k, 100)).toBeDefined();
  });

  it("extend moves the end of the lease to the given time from now", async () => {
    const lock = new MemoryLock();
    const k = key();
    const handle = await lock.acquire(k, 100);
    vi.setSystemTime(t0 + 50);
    expect(await handle?.extend(200)).toBe(true);
    vi.setSystemTime(t0 + 249);
    expect(await lock.acquire(k, 100)).toBeUndefined();
    vi.setSystemTime(t0 + 250);
    expect(await lock.acquire(k, 100)).toBeDefined();
  });
});

describe("MemoryLock handles whose lock is gone", () => {
  it("after a release, extend answers false and a second release does nothing", async () => {
    const lock = new MemoryLock();
    const k = key();
    const handle = await lock.acquire(k, 60_000);
    await handle?.release();
    expect(await handle?.extend(60_000)).toBe(false);
    await expect(handle?.release()).resolves.toBeUndefined();
    // Still free: the failed extend took nothing back.
    const next = await lock.acquire(k, 60_000);
    expect(next).toBeDefined();
    await handle?.release();
    expect(await lock.acquire(k, 60_000)).toBeUndefined();
    expect(await next?.extend(60_000)).toBe(true);
  });
});
