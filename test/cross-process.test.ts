import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import KeyvRedis from "@keyv/redis";
import Keyv from "keyv";
import { describe, expect, it } from "vitest";
import { OAuth, type OAuthEvent } from "../src/index.js";
import { redisUp, redisUrl, uniqueNamespace } from "./support/backends.js";
import { cookieBrowser } from "./support/cookie-browser.js";
import { rpc, startPeer } from "./support/harness.js";
import { cleanupAfterEach } from "./support/local-server.js";
import { startOidcPeer } from "./support/oidc-peer-process.js";
import { followRedirects } from "./support/openers.js";
import { startWorker, type Worker, type WorkerLine } from "./support/workers.js";
import type { WorkerConfig } from "./support/oauth-worker.js";

// Proof that processes sharing a store coordinate: separate Node processes, real Redis / SQLite, real
// authorization servers (oidc-provider with refresh token rotation and reuse detection; the MCP SDK's).
const closeLater = cleanupAfterEach();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const eventsOf = (worker: Worker, type: string) => worker.lines.filter((line) => line.event === type);

async function workers(count: number, config: WorkerConfig): Promise<Worker[]> {
  const started = await Promise.all(Array.from({ length: count }, () => startWorker(config)));
  for (const worker of started) closeLater(worker.kill);
  await Promise.all(started.map((worker) => worker.waitFor((line) => line.ready === true)));
  return started;
}

const done = (worker: Worker) => worker.waitFor((line) => line.done === true, 40_000);

type StoreKind = "redis" | "sqlite";
function sharedStore(kind: StoreKind): WorkerConfig["store"] {
  const namespace = uniqueNamespace();
  if (kind === "redis") return { kind, url: redisUrl, namespace };
  const dir = mkdtempSync(join(tmpdir(), "mcp-oauth-xproc-"));
  closeLater(async () => rmSync(dir, { recursive: true, force: true }));
  return { kind, path: join(dir, "tokens.sqlite"), namespace };
}

if (!redisUp) console.warn("SKIPPED cross-process Redis proofs: Redis is not reachable on 127.0.0.1:6379");

describe.skipIf(!redisUp)("8 processes sharing one Redis store, against oidc-provider (rotation + reuse detection)", () => {
  it("after the access token expires, every request in every process succeeds with exactly one refresh and no invalid_grant", async () => {
    const peer = await startOidcPeer(3, 300);
    closeLater(peer.close);
    const store = sharedStore("redis") as Extract<WorkerConfig["store"], { kind: "redis" }>;

    // One login, by a first process (this one), fills the shared store.
    const keyv = new Keyv({ store: new KeyvRedis(store.url), namespace: store.namespace });
    closeLater(() => keyv.disconnect());
    const first = new OAuth({ mcpUrl: peer.mcpUrl, tokenStorage: keyv, openBrowser: cookieBrowser().open, logger: { warn: () => undefined } });
    const loggedInAt = Date.now();
    expect((await first.fetch(peer.mcpUrl, rpc())).status).toBe(200);

    const fleet = await workers(8, { mcpUrl: peer.mcpUrl, store, browser: "never", requests: 25, waitForGo: true });
    await sleep(Math.max(0, loggedInAt + 3_300 - Date.now())); // the 3 s access token is now expired for real
    fleet.forEach((worker) => worker.go());
    const results = await Promise.all(fleet.map(done));

    expect(results.flatMap((r) => r.errors)).toEqual([]);
    expect(results.flatMap((r) => r.statuses)).toEqual(Array.from({ length: 200 }, () => 200));
    const stats = await peer.stats();
    expect(stats["grant:refresh_token"]).toBe(1);
    expect(stats["grant:authorization_code"]).toBe(1);
    expect(stats["authorization"]).toBe(1);
    expect(Object.keys(stats).filter((key) => key.startsWith("grant_error:"))).toEqual([]);
    expect(stats["mcp:401:rejected"] ?? 0).toBe(0);
    // One process refreshed; the seven others used the tokens it stored: found under the lock or while
    // waiting for it (tokens_adopted), or already in the store when they first read it (token_reused).
    expect(fleet.map((w) => eventsOf(w, "tokens_stored").length).sort()).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    const others = fleet.filter((w) => eventsOf(w, "tokens_stored").length === 0);
    expect(others.every((w) => eventsOf(w, "tokens_adopted").length + eventsOf(w, "token_reused").length > 0)).toBe(true);
  });
});

describe.each<StoreKind>(["redis", "sqlite"])("two processes started at once on an empty %s store", (kind) => {
  it.skipIf(kind === "redis" && !redisUp)("run exactly one authorization flow; a third process started later makes no discovery request", async () => {
    const server = await startPeer(closeLater);
    const store = sharedStore(kind);
    const config: WorkerConfig = { mcpUrl: server.mcpUrl, store, browser: "follow", requests: 5, waitForGo: true };
    const pair = await workers(2, config);
    pair.forEach((worker) => worker.go());
    const results = await Promise.all(pair.map(done));

    expect(results.flatMap((r) => r.statuses)).toEqual(Array.from({ length: 10 }, () => 200));
    expect(server.count("/authorize")).toBe(1);
    expect(server.count("/register")).toBe(1);
    expect(server.count((r) => r.path === "/token")).toBe(1);
    expect(pair.map((w) => eventsOf(w, "browser_opened").length).sort()).toEqual([0, 1]);
    const waiter = pair.find((w) => eventsOf(w, "browser_opened").length === 0) as Worker;
    expect(eventsOf(waiter, "tokens_adopted")).toHaveLength(1);
    expect(eventsOf(waiter, "discovery_request")).toEqual([]);

    const before = server.requests.length;
    const [third] = await workers(1, { ...config, browser: "never", requests: 1, waitForGo: false });
    expect((await done(third as Worker)).statuses).toEqual([200]);
    expect(server.requests.slice(before).map((r) => [r.path, Boolean(r.authorization)])).toEqual([["/mcp", true]]);
  });
});

describe.each<StoreKind>(["redis", "sqlite"])("a process that dies holding the token lock (%s store)", (kind) => {
  it.skipIf(kind === "redis" && !redisUp)("frees it when its lease ends; the next process then logs in", async () => {
    const server = await startPeer(closeLater);
    const store = sharedStore(kind);
    const leaseMs = 1_500;
    // The holder opens no browser: it sits in its login, holding the lock, until it is killed.
    const [holder] = await workers(1, { mcpUrl: server.mcpUrl, store, browser: "never", requests: 1, waitForGo: false, lockLeaseMs: leaseMs });
    await (holder as Worker).waitFor((line: WorkerLine) => line.event === "browser_opened");
    await (holder as Worker).kill();
    const killedAt = Date.now();

    const keyv =
      store.kind === "redis"
        ? new Keyv({ store: new KeyvRedis(store.url), namespace: store.namespace })
        : new Keyv({ store: new (await import("@keyv/sqlite")).default({ uri: `sqlite://${store.path}` }), namespace: store.namespace });
    closeLater(() => keyv.disconnect());
    const browser = followRedirects();
    const events: OAuthEvent[] = [];
    const next = new OAuth({ mcpUrl: server.mcpUrl, tokenStorage: keyv, openBrowser: browser.open, lockLeaseMs: leaseMs, onEvent: (e) => events.push(e), logger: { warn: () => undefined } });
    expect((await next.fetch(server.mcpUrl, rpc())).status).toBe(200);
    const waited = Date.now() - killedAt;
    expect(browser.opened).toHaveLength(1);
    // Redis learns of the death only when the lease runs out; a lock file names a pid that is gone.
    expect(waited).toBeLessThan(leaseMs + 1_500);
    if (kind === "redis") expect(waited).toBeGreaterThan(200);
  });
});
