/**
 * One client process of the cross-process tests: an `OAuth` on a shared store (Redis or a SQLite file),
 * bundled by test/support/workers.ts and run on this machine's Node. Its config comes in WORKER_CONFIG.
 * It prints one JSON line per pipeline event, `{"ready":true}`, then (after "go" on stdin when asked)
 * fires its requests at once and prints `{"done":...}` with their statuses and errors.
 */
import KeyvRedis from "@keyv/redis";
import KeyvSqlite from "@keyv/sqlite";
import Keyv from "keyv";
import { createInterface } from "node:readline";
import { isOAuthError, OAuth } from "../../src/index.js";
import { cookieBrowser } from "./cookie-browser.js";
import { followRedirects, neverOpens } from "./openers.js";

export interface WorkerConfig {
  mcpUrl: string;
  store: { kind: "redis"; url: string; namespace: string } | { kind: "sqlite"; path: string; namespace: string };
  browser: "follow" | "cookie" | "never";
  requests: number;
  waitForGo: boolean;
  lockLeaseMs?: number;
}

const config = JSON.parse(process.env.WORKER_CONFIG ?? "{}") as WorkerConfig;
const print = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);

const store =
  config.store.kind === "redis"
    ? new Keyv({ store: new KeyvRedis(config.store.url), namespace: config.store.namespace })
    : new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${config.store.path}`, busyTimeout: 5000 }), namespace: config.store.namespace });
const browser = config.browser === "follow" ? followRedirects() : config.browser === "cookie" ? cookieBrowser() : neverOpens();
const oauth = new OAuth({
  mcpUrl: config.mcpUrl,
  tokenStorage: store,
  openBrowser: browser.open,
  onEvent: (event) => print({ event: event.type, ...("grant" in event ? { grant: event.grant } : {}) }),
  logger: { warn: (message) => print({ warning: message }) },
  callbackTimeoutMs: 20_000,
  ...(config.lockLeaseMs ? { lockLeaseMs: config.lockLeaseMs } : {}),
});

print({ ready: true });
if (config.waitForGo) {
  await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once("line", () => resolve()));
}
const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });
const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const results = await Promise.allSettled(
  Array.from({ length: config.requests }, async () => {
    const response = await oauth.fetch(config.mcpUrl, { method: "POST", headers, body });
    await response.body?.cancel();
    return response.status;
  }),
);
print({
  done: true,
  statuses: results.map((r) => (r.status === "fulfilled" ? r.value : 0)),
  errors: results.flatMap((r) => (r.status === "rejected" ? [isOAuthError(r.reason) ? r.reason.code : String(r.reason)] : [])),
});
await store.disconnect();
process.exit(0);
