import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

let cached: string | undefined;

/** The Node 22 binary of the `node@22` npm package (peers such as oidc-provider need it). */
export function node22(): string {
  if (cached) return cached;
  const path = execFileSync("npx", ["-y", "-p", "node@22", "-c", 'node -p "process.execPath"'], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  const major = Number(execFileSync(path, ["-p", "process.versions.node.split('.')[0]"], { encoding: "utf8" }).trim());
  if (major < 22) throw new Error(`expected Node >= 22 from the node@22 package, got ${path} (major ${major})`);
  cached = path;
  return cached;
}

export interface PeerProcess {
  /** The JSON lines the peer printed after its `ready` line. */
  events: Record<string, unknown>[];
  ready: Record<string, unknown>;
  stop: () => Promise<void>;
}

/**
 * Runs a TypeScript peer on Node 22 (through tsx) and waits for its first stdout line, a JSON object with
 * `event: "ready"`. Later JSON lines are collected in `events`. Bounded by `timeoutMs`.
 */
export async function startNode22Peer(file: string, env: Record<string, string>, timeoutMs = 20_000): Promise<PeerProcess> {
  const child: ChildProcess = spawn(node22(), ["--import", "tsx", file], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const events: Record<string, unknown>[] = [];
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not start within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    child.once("exit", (code) => reject(new Error(`${file} exited with ${code}: ${stderr}`)));
    lines.on("line", (line) => {
      if (!line.startsWith("{")) return;
      const message = JSON.parse(line) as Record<string, unknown>;
      if (message.event === "ready") {
        clearTimeout(timer);
        resolve(message);
      } else events.push(message);
    });
  });
  return {
    ready,
    events,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill();
      }),
  };
}
