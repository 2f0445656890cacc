/**
 * mcp-remote as desktop MCP hosts run it: the host spawns `mcp-remote <url> [port]` and speaks MCP
 * JSON-RPC to it over stdio; mcp-remote does the OAuth (discovery, registration, PKCE, its loopback
 * callback server, token files, refresh) and proxies to the remote Streamable HTTP server.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { access, readdir, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { ClientPeer, ClientSession } from "../peer.js";
import { toolResultText } from "./sdk-provider.js";

const sessionTimeoutMs = 60_000;
const exitGraceMs = 5_000;
const stderrTailChars = 4_000;

const packageJsonPath = createRequire(import.meta.url).resolve("mcp-remote/package.json");
const proxyBin = join(dirname(packageJsonPath), "dist", "proxy.js");
const openUrlScript = fileURLToPath(new URL("../open-url.mjs", import.meta.url));

/**
 * mcp-remote keeps its store under `$MCP_REMOTE_CONFIG_DIR/mcp-remote-v1/` (src/lib/mcp-auth-config.ts,
 * `getConfigDir`), each file named `<hash of the server URL>_<name>`.
 */
const storeSubdir = "mcp-remote-v1";

/**
 * Environment variables by which xdg-open recognises a desktop session. Without them it takes its
 * "generic" path, which is the one that honours `BROWSER` (see below), also when this suite runs on a
 * developer's desktop.
 */
const desktopVariables = ["DISPLAY", "WAYLAND_DISPLAY", "XDG_CURRENT_DESKTOP", "XDG_SESSION_DESKTOP", "DESKTOP_SESSION", "GNOME_DESKTOP_SESSION_ID", "KDE_FULL_SESSION", "MATE_DESKTOP_SESSION_ID"];

export const mcpRemoteClient: ClientPeer = {
  name: "mcp-remote 0.15.1 (stdio proxy)",
  async check() {
    if (process.platform !== "linux") throw new Error(`the mcp-remote peer opens its browser through xdg-open, Linux only (here: ${process.platform})`);
    await access(proxyBin).catch(() => {
      throw new Error(`mcp-remote is not installed: ${proxyBin} missing (npm install)`);
    });
    const version = (JSON.parse(await readFile(packageJsonPath, "utf8")) as { version?: string }).version;
    if (version !== "0.15.1") throw new Error(`mcp-remote ${version ?? "?"} installed, the peer is written for 0.15.1`);
    // xdg-open splits BROWSER at ':' and word-splits each entry, so the script's path must have neither.
    if (/[\s:]/.test(openUrlScript)) throw new Error(`cannot use ${openUrlScript} as BROWSER: xdg-open splits it at ':' and whitespace`);
  },
  session: runSession,
};

async function runSession(session: ClientSession): Promise<string[]> {
  const configDir = join(session.stateDir, storeSubdir);
  const port = (await registeredCallbackPort(configDir)) ?? (await freePort());
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of desktopVariables) delete env[name];
  Object.assign(env, {
    MCP_REMOTE_CONFIG_DIR: session.stateDir,
    // mcp-remote opens the authorization URL with the `open` package, which on Linux runs the
    // xdg-open script bundled inside it (node_modules/open/xdg-open, preferred over the system's).
    // With no desktop session that script ends in `open_generic`, which runs each ':'-separated
    // entry of BROWSER with the URL, so BROWSER alone lands the URL in open-url.mjs (executable,
    // `#!/usr/bin/env node`), which hands it to the browser stand-in: no PATH shim or patch needed.
    BROWSER: openUrlScript,
    INTEROP_BROWSER_ENDPOINT: session.browser.endpoint,
  });
  const args = [
    proxyBin,
    session.mcpUrl,
    // An explicit port, so the redirect URI mcp-remote registers stays the one the next session uses.
    // Without it mcp-remote derives a port from the URL hash and moves to the next free one when that
    // is taken; a later session then sees a registration for another port and deletes it
    // (`invalidateMismatchedClientRegistration`), losing the refresh token's client.
    String(port),
    // Its callback server listens on 127.0.0.1 only; on Linux the redirect URI would say `localhost`.
    "--host",
    "127.0.0.1",
  ];
  // Its own process group, so that the whole tree (helpers included) can be ended at once.
  const child = spawn(process.execPath, args, { env, stdio: ["pipe", "pipe", "pipe"], detached: true });
  const proxy = new StdioPeer(child);
  const deadline = Date.now() + sessionTimeoutMs;
  try {
    await proxy.request("initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "mcp-oauth-interop-host", version: "1.0.0" } }, deadline);
    proxy.notify("notifications/initialized");
    const texts: string[] = [];
    for (const call of session.calls) {
      await sleepUntil(call.waitBeforeMs, deadline);
      const result = await proxy.request("tools/call", { name: "add", arguments: { a: call.a, b: call.b } }, deadline);
      texts.push(toolResultText(result));
    }
    return texts;
  } catch (error) {
    throw new Error(`mcp-remote session failed: ${error instanceof Error ? error.message : String(error)}\n--- mcp-remote stderr (tail) ---\n${proxy.stderrTail()}`, { cause: error });
  } finally {
    await proxy.stop();
  }
}

/** The callback port of the registration a previous session stored, if any (its only redirect URI). */
async function registeredCallbackPort(configDir: string): Promise<number | undefined> {
  const names = await readdir(configDir).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.endsWith("_client_info.json"))) {
    const info = JSON.parse(await readFile(join(configDir, name), "utf8")) as { redirect_uris?: unknown };
    const [uri] = Array.isArray(info.redirect_uris) ? info.redirect_uris : [];
    if (typeof uri === "string" && new URL(uri).port) return Number(new URL(uri).port);
  }
  return undefined;
}

/** A port the OS just handed out on 127.0.0.1, for mcp-remote to bind right after. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function sleepUntil(ms: number, deadline: number): Promise<void> {
  if (Date.now() + ms > deadline) return Promise.reject(new Error(`waiting ${ms} ms would pass the session's ${sessionTimeoutMs} ms limit`));
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface JsonRpcMessage {
  jsonrpc: "2.0";
  id?: number | string;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** The host's end of the stdio pipe: newline-delimited JSON-RPC, as MCP's stdio transport frames it. */
class StdioPeer {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  private stderr = "";
  private readonly exited: Promise<void>;
  private exitCode: string | undefined;

  readonly #child: ChildProcessByStdio<Writable, Readable, Readable>;

  constructor(child: ChildProcessByStdio<Writable, Readable, Readable>) {
    this.#child = child;
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-stderrTailChars * 4);
    });
    createInterface({ input: child.stdout }).on("line", (line) => this.receive(line));
    // A write after the proxy died would otherwise be an unhandled 'error' (EPIPE).
    child.stdin.on("error", () => {});
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exitCode = signal ?? String(code);
        for (const { reject } of this.pending.values()) reject(new Error(`mcp-remote exited (${this.exitCode}) before answering`));
        this.pending.clear();
        resolve();
      });
      child.once("error", (error) => {
        this.exitCode = `spawn error ${error.message}`;
        for (const { reject } of this.pending.values()) reject(error);
        this.pending.clear();
        resolve();
      });
    });
  }

  request(method: string, params: unknown, deadline: number): Promise<unknown> {
    if (this.exitCode !== undefined) return Promise.reject(new Error(`mcp-remote exited (${this.exitCode})`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer to ${method} within the session's ${sessionTimeoutMs} ms`));
      }, Math.max(0, deadline - Date.now()));
      this.pending.set(id, {
        resolve: (result) => (clearTimeout(timer), resolve(result)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      this.send({ jsonrpc: "2.0", id, method, params });
    });
  }

  notify(method: string): void {
    this.send({ jsonrpc: "2.0", method });
  }

  stderrTail(): string {
    return this.stderr.slice(-stderrTailChars);
  }

  /**
   * Ends the proxy as a host does (closing stdin makes mcp-remote clean up and exit), then ends the
   * whole process group if it lingers. Waits for the exit, so that the next session never meets this
   * one's callback port or refresh lease (mcp-remote coordinates instances through both).
   */
  async stop(): Promise<void> {
    this.#child.stdin.end();
    if (await this.exitsWithin(exitGraceMs)) return;
    this.killGroup("SIGTERM");
    if (await this.exitsWithin(exitGraceMs)) return;
    this.killGroup("SIGKILL");
    await this.exitsWithin(exitGraceMs);
  }

  private exitsWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]).finally(() => clearTimeout(timer));
  }

  private killGroup(signal: NodeJS.Signals): void {
    if (this.#child.pid === undefined) return;
    try {
      process.kill(-this.#child.pid, signal);
    } catch {
      // Already gone.
    }
  }

  private send(message: JsonRpcMessage): void {
    this.#child.stdin.write(`${JSON.stringify(message)}\n`);
  }

  private receive(line: string): void {
    if (!line.trim()) return;
    let message: JsonRpcMessage;
    try {
      message = JSON.parse(line) as JsonRpcMessage;
    } catch {
      this.stderr += `\n[non-JSON on stdout] ${line}`;
      return;
    }
    if (message.method !== undefined) {
      // A request from the server side: a host answers pings and declines what it does not offer.
      if (message.id !== undefined) {
        this.send(message.method === "ping" ? { jsonrpc: "2.0", id: message.id, result: {} } : { jsonrpc: "2.0", id: message.id, error: { code: -32601, message: "Method not found" } });
      }
      return;
    }
    const waiter = typeof message.id === "number" ? this.pending.get(message.id) : undefined;
    if (!waiter || typeof message.id !== "number") return;
    this.pending.delete(message.id);
    if (message.error) waiter.reject(new Error(`JSON-RPC error ${message.error.code}: ${message.error.message}${message.error.data === undefined ? "" : ` ${JSON.stringify(message.error.data)}`}`));
    else waiter.resolve(message.result);
  }
}
