/**
 * One process contending for `FileLock`s (test/file-lock-races.test.ts), bundled by test/support/workers.ts.
 * Config in WORKER_CONFIG. `hold`: takes the lock in every directory and exits without releasing (a holder
 * that died). `contend`: prints `{"ready":true}`, reads a start time (ms since the epoch) from stdin, then
 * tries the lock in directory i at start + i * gapMs, and prints `{"done":true,"won":[...]}`.
 */
import { createInterface } from "node:readline";
import { FileLock } from "../../src/store/file-lock.js";

export interface ContenderConfig {
  mode: "hold" | "contend";
  dirs: string[];
  gapMs: number;
  leaseMs: number;
}

const config = JSON.parse(process.env.WORKER_CONFIG ?? "{}") as ContenderConfig;
const print = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);

if (config.mode === "hold") {
  for (const dir of config.dirs) if (!(await new FileLock(dir).acquire("k", config.leaseMs))) throw new Error(`could not take the lock in ${dir}`);
  print({ done: true });
  process.exit(0);
}
print({ ready: true });
const startAt = Number(await new Promise<string>((resolve) => createInterface({ input: process.stdin }).once("line", resolve)));
const won: boolean[] = [];
for (const [i, dir] of config.dirs.entries()) {
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt + i * config.gapMs - Date.now())));
  won.push((await new FileLock(dir).acquire("k", config.leaseMs)) !== undefined);
}
print({ done: true, won });
process.exit(0);
