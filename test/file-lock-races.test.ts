import { describe, expect, it } from "vitest";
import { FileLock } from "../src/index.js";
import type { ContenderConfig } from "./support/lock-contender.js";
import { cleanupAfterEach } from "./support/local-server.js";
import { tempDirs } from "./support/temp-dirs.js";
import { startWorker } from "./support/workers.js";

// Races between holders of one lock file: separate processes and async contenders, bounded trials.
const closeLater = cleanupAfterEach();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const tempDir = tempDirs("mcp-oauth-lock-race-");

describe("FileLock races", () => {
  it("a lock left by a dead holder, contended by 3 processes and 3 async contenders at once: exactly one takes it over, in every trial", async () => {
    const trials = 20;
    const config: ContenderConfig = { mode: "hold", dirs: Array.from({ length: trials }, tempDir), gapMs: 40, leaseMs: 60_000 };
    const holder = await startWorker(config, "lock-contender");
    await holder.waitFor((line) => line.done === true);
    await holder.kill(); // exits on its own; its pid is gone once it has

    const contenders = await Promise.all(Array.from({ length: 3 }, () => startWorker({ ...config, mode: "contend" }, "lock-contender")));
    contenders.forEach((worker) => closeLater(worker.kill));
    await Promise.all(contenders.map((worker) => worker.waitFor((line) => line.ready === true)));
    const startAt = Date.now() + 300;
    contenders.forEach((worker) => worker.go(String(startAt)));
    const local = await Promise.all(
      config.dirs.map(async (dir, i) => {
        await sleep(startAt + i * config.gapMs - Date.now());
        return (await Promise.all(Array.from({ length: 3 }, () => new FileLock(dir).acquire("k", 60_000)))).filter(Boolean).length;
      }),
    );
    const won = await Promise.all(contenders.map(async (worker) => (await worker.waitFor((line) => line.done === true)).won ?? []));
    const takers = local.map((count, i) => count + won.filter((list) => list[i]).length);
    if (takers.some((n) => n !== 1)) console.log("TAKERS", JSON.stringify(takers));
    expect(takers).toEqual(Array.from({ length: trials }, () => 1));
  });

  it("an old holder's release, racing with contenders, never frees the lock of the holder that took over", async () => {
    for (let trial = 0; trial < 30; trial += 1) {
      const dir = tempDir();
      const old = await new FileLock(dir).acquire("k", 50);
      await sleep(80); // its lease ends without a renewal
      const next = await new FileLock(dir).acquire("k", 60_000);
      expect(next).toBeDefined();
      const [, ...others] = await Promise.all([old?.release(), ...Array.from({ length: 4 }, () => new FileLock(dir).acquire("k", 60_000))]);
      expect(others.filter(Boolean)).toHaveLength(0);
      expect(await next?.extend(60_000)).toBe(true);
    }
  });
});
