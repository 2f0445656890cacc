import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { WorkerConfig } from "./oauth-worker.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const outfile = `${root}node_modules/.cache/mcp-oauth-test/oauth-worker.mjs`;
let bundled: Promise<unknown> | undefined;

export interface WorkerLine {
  ready?: boolean;
  event?: string;
  grant?: string;
  warning?: string;
  done?: boolean;
  statuses?: number[];
  errors?: string[];
}

export interface Worker {
  child: ChildProcessWithoutNullStreams;
  lines: WorkerLine[];
  /** Resolves with the first line (already printed or to come) that matches; rejects after `ms`. */
  waitFor(match: (line: WorkerLine) => boolean, ms?: number): Promise<WorkerLine>;
  go(): void;
  kill(): Promise<void>;
}

/**
 * Starts test/support/oauth-worker.ts as a separate Node process. It is bundled once with esbuild (its
 * dependencies stay in node_modules), which starts 8 processes in about 2 s on 2 cores where tsx takes 9.
 */
export async function startWorker(config: WorkerConfig): Promise<Worker> {
  bundled ??= build({
    entryPoints: [fileURLToPath(new URL("./oauth-worker.ts", import.meta.url))],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outfile,
    logLevel: "silent",
  });
  await bundled;
  const child = spawn(process.execPath, [outfile], { env: { ...process.env, WORKER_CONFIG: JSON.stringify(config) }, stdio: ["pipe", "pipe", "pipe"] });
  const lines: WorkerLine[] = [];
  const waiters = new Set<() => void>();
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-4000)));
  createInterface({ input: child.stdout }).on("line", (text) => {
    lines.push(JSON.parse(text) as WorkerLine);
    for (const wake of waiters) wake();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    lines,
    waitFor: (match, ms = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find(match);
          if (found) {
            cleanup();
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`worker: no matching line in ${ms} ms; lines ${JSON.stringify(lines)}; stderr ${stderr}`));
        }, ms);
        const onExit = () => setImmediate(() => {
          if (lines.find(match)) return check();
          cleanup();
          reject(new Error(`worker exited (${child.exitCode}) without a matching line; lines ${JSON.stringify(lines)}; stderr ${stderr}`));
        });
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off("exit", onExit);
        };
        waiters.add(check);
        child.once("exit", onExit);
        check();
        if (child.exitCode !== null || child.signalCode !== null) onExit();
      }),
    go: () => void child.stdin.write("go\n"),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
