import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { requirePython } from "../../support/python.js";
import type { GrantCounts, RunningServer, ServerPeer } from "../peer.js";
import { interopTokenTtlSeconds } from "./grant-counts.js";

const script = fileURLToPath(new URL("../python/fastmcp_server.py", import.meta.url));
const startTimeoutMs = 60_000;

export interface FastMcpServerOptions {
  /** `required_scopes` of FastMCP's `InMemoryOAuthProvider`. */
  requiredScopes?: string[];
  /** `revocation_options=RevocationOptions(enabled=True)`. */
  revocation?: boolean;
}

/**
 * FastMCP (Python) with its own `InMemoryOAuthProvider`, as its documentation sets it up: Streamable HTTP,
 * dynamic registration on, otherwise the provider's defaults (test/interop/python/fastmcp_server.py).
 */
export function fastmcpServer(name: string, options: FastMcpServerOptions): ServerPeer {
  return {
    name,
    async start(): Promise<RunningServer> {
      const python = requirePython(["fastmcp"]);
      const settings = { accessTokenTtlSeconds: interopTokenTtlSeconds, requiredScopes: options.requiredScopes ?? [], revocation: options.revocation ?? false };
      const child = spawn(python, [script, JSON.stringify(settings)], { stdio: ["pipe", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-4000)));
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      const close = async (): Promise<void> => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        // Closing stdin is the script's signal to exit; SIGKILL only if it does not within 3 s.
        child.stdin.end();
        const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(timer);
      };
      let first: string;
      try {
        first = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`FastMCP server did not start in ${startTimeoutMs / 1000} s: ${stderr}`)), startTimeoutMs);
          child.once("error", (error) => reject(new Error(`FastMCP server could not be spawned: ${String(error)}`)));
          child.once("exit", (code) => reject(new Error(`FastMCP server exited (${code}): ${stderr}`)));
          createInterface({ input: child.stdout }).once("line", (line) => {
            clearTimeout(timer);
            resolve(line);
          });
        });
      } catch (error) {
        await close();
        throw error;
      }
      const { mcpUrl } = JSON.parse(first) as { mcpUrl: string };
      const origin = new URL(mcpUrl).origin;
      return {
        mcpUrl,
        accessTokenTtlMs: interopTokenTtlSeconds * 1000,
        grants: async (): Promise<GrantCounts> => {
          const response = await fetch(`${origin}/test/grants`, { signal: AbortSignal.timeout(5000) });
          if (!response.ok) throw new Error(`FastMCP server's /test/grants answered ${response.status}`);
          return (await response.json()) as GrantCounts;
        },
        close,
      };
    },
  };
}
