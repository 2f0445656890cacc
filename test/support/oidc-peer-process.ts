import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { node22 } from "./node22.js";

export interface OidcPeer {
  origin: string;
  mcpUrl: string;
  /** Requests by "METHOD /path", grants by "grant:<type>", failures by "grant_error:<code>", "authorization", "mcp:200"... */
  stats(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

const script = fileURLToPath(new URL("./oidc-peer.ts", import.meta.url));

/** Starts test/support/oidc-peer.ts on Node 22 (the `node@22` npm package) and waits until it listens. */
export async function startOidcPeer(accessTokenTtlSeconds = 3600, refreshedAccessTokenTtlSeconds = accessTokenTtlSeconds): Promise<OidcPeer> {
  const child = spawn(node22(), [script, String(accessTokenTtlSeconds), String(refreshedAccessTokenTtlSeconds)], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-4000)));
  const first = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`oidc-provider peer did not start in 60 s: ${stderr}`)), 60_000);
    child.once("exit", (code) => reject(new Error(`oidc-provider peer exited (${code}): ${stderr}`)));
    createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      resolve(line);
    });
  });
  const { origin, mcpUrl } = JSON.parse(first) as { origin: string; mcpUrl: string };
  return {
    origin,
    mcpUrl,
    stats: async () => (await (await fetch(`${origin}/test/stats`)).json()) as Record<string, number>,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.stdin.end();
        setTimeout(() => child.kill("SIGKILL"), 3000).unref();
      }),
  };
}
