import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { requirePython } from "../../support/python.js";
import type { ClientPeer, ClientSession } from "../peer.js";

const script = fileURLToPath(new URL("../python/fastmcp_client.py", import.meta.url));
/** The whole session, login included, is killed past this. */
const sessionTimeoutMs = 60_000;
/** The script gives up (dumping its threads' stacks) a little earlier, so that its stderr says where it hung. */
const scriptTimeoutSeconds = 55;

/** FastMCP (Python) `Client(url, auth=OAuth(...))` with a file-backed token store, one process per session (test/interop/python/fastmcp_client.py). */
export const fastmcpClient: ClientPeer = {
  name: "FastMCP 4.0.10 Client (Python)",
  usesTokensWithoutMargin: true,
  async check(): Promise<void> {
    requirePython(["fastmcp", "fastmcp.client.auth", "key_value.aio.stores.filetree"]);
  },
  async session({ mcpUrl, stateDir, browser, calls }: ClientSession): Promise<string[]> {
    const python = requirePython(["fastmcp", "fastmcp.client.auth", "key_value.aio.stores.filetree"]);
    const started = Date.now();
    const child = spawn(python, [script], {
      stdio: ["pipe", "pipe", "pipe"],
      // COLUMNS: FastMCP logs through rich, which wraps at 80 columns off a terminal and would chop the stderr tail.
      env: { ...process.env, INTEROP_BROWSER_ENDPOINT: browser.endpoint, COLUMNS: "200" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => void (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-6000)));
    child.stdin.end(JSON.stringify({ mcpUrl, stateDir, calls, timeoutSeconds: scriptTimeoutSeconds }));
    const outcome = await new Promise<{ code: number | null; signal: string | null; timedOut: boolean }>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve({ code: null, signal: "SIGKILL", timedOut: true });
      }, sessionTimeoutMs);
      child.once("error", (error) => {
        clearTimeout(timer);
        stderr += `\nspawn failed: ${String(error)}`;
        resolve({ code: null, signal: null, timedOut: false });
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, timedOut: false });
      });
    });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const last = stdout.trim().split("\n").pop() ?? "";
    if (outcome.code === 0) {
      try {
        const { texts } = JSON.parse(last) as { texts: string[] };
        return texts;
      } catch {
        // falls through to the error below, which shows what the script printed
      }
    }
    const how = outcome.timedOut ? `was killed after ${sessionTimeoutMs / 1000} s` : `exited (${outcome.code ?? outcome.signal}) after ${seconds} s`;
    const browserFailures = browser.failures.length > 0 ? `\nbrowser failures:\n${browser.failures.join("\n")}` : "";
    // A Python traceback ends with the exception itself: that line leads the message, the tail follows.
    const reason = stderr.trim().split("\n").pop() ?? "";
    throw new Error(`FastMCP client ${how}: ${reason}\nstdout: ${last.slice(0, 500)}${browserFailures}\nstderr (tail):\n${stderr.slice(-3000)}`);
  },
};
