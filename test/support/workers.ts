import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { WorkerConfig } from "./oauth-worker.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const bundles = new Map<string, Promise<string>>();

export interface WorkerLine {
  ready?: boolean;
  event?: string;
  grant?: string;
  warning?: string;
  done?: boolean;
  statuses?: number[];
  errors?: string[];
  /** lock-contender: per lock directory, whether this process took the lock. */
  won?: boolean[];
}

export interface Worker {
  child: ChildProcessWithoutNullStreams;
  lines: WorkerLine[];
  /** Resolves with the first line (already printed or to come) that matches; rejects after `ms`. */
  waitFor(match: (line: WorkerLine) => boolean, ms?: number): Promise<WorkerLine>;
  /** Writes a line to the worker's stdin (default "go"). */
  go(line?: string): void;
  kill(): Promise<void>;
}

/**
 * Starts test/support/<entry>.ts (default oauth-worker.ts) as a separate Node process, its config in
 * WORKER_CONFIG. It is bundled once with esbuild (its dependencies stay in node_modules), which starts 8
 * processes in about 2 s on 2 cores where tsx takes 9.
 */
export async function startWorker(config: WorkerConfig | object, entry = "oauth-worker"): Promise<Worker> {
  const outfile = `${root}node_modules/.cache/mcp-oauth-test/${entry}.mjs`;
  if (!bundles.has(entry)) {
    const options = { bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", outfile, logLevel: "silent" } as const;
    bundles.set(entry, build({ ...options, entryPoints: [fileURLToPath(new URL(`./${entry}.ts`, import.meta.url))] }).then(() => outfile));
  }
  await bundles.get(entry);
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
    go: (line = "go") => void child.stdin.write(`${line}\n`),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
