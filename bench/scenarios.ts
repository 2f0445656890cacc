/** The two concurrency proofs of the test suite, run once more to report their token request counts. */
import KeyvRedis from "@keyv/redis";
import Keyv from "keyv";
import { OAuth } from "../src/index.js";
import { redisUp, redisUrl, uniqueNamespace } from "../test/support/backends.js";
import { cookieBrowser } from "../test/support/cookie-browser.js";
import { harness, rpc } from "../test/support/harness.js";
import { startOidcPeer } from "../test/support/oidc-peer-process.js";
import { startWorker } from "../test/support/workers.js";

export interface ScenarioResult {
  name: string;
  tokenRequests: number;
  detail: string;
}

export async function runScenarios(): Promise<ScenarioResult[]> {
  const results = [await thousandRequests()];
  if (redisUp) results.push(await eightProcesses());
  else console.log("8-process scenario: not run (nothing listens on 127.0.0.1:6379)");
  return results;
}

async function thousandRequests(): Promise<ScenarioResult> {
  const h = await harness({ faults: {} }, { logger: { warn: () => undefined } });
  try {
    await h.oauth.fetch(h.server.mcpUrl, rpc());
    h.server.faults.tokenDelayMs = 100;
    h.clock.now += 3_600_000;
    const before = h.server.count("/token");
    const statuses = await Promise.all(Array.from({ length: 1000 }, () => h.oauth.fetch(h.server.mcpUrl, rpc()).then((r) => r.status)));
    return {
      name: "1 process, 1000 concurrent requests, expired access token (MCP SDK server)",
      tokenRequests: h.server.count("/token") - before,
      detail: `${statuses.filter((s) => s === 200).length}/1000 answered 200`,
    };
  } finally {
    await h.server.close();
  }
}

async function eightProcesses(): Promise<ScenarioResult> {
  const peer = await startOidcPeer(3, 300);
  const namespace = uniqueNamespace();
  const keyv = new Keyv({ store: new KeyvRedis(redisUrl), namespace });
  const fleet: Awaited<ReturnType<typeof startWorker>>[] = [];
  try {
    const first = new OAuth({ mcpUrl: peer.mcpUrl, tokenStorage: keyv, openBrowser: cookieBrowser().open, logger: { warn: () => undefined } });
    const loggedInAt = Date.now();
    await first.fetch(peer.mcpUrl, rpc());
    const config = { mcpUrl: peer.mcpUrl, store: { kind: "redis" as const, url: redisUrl, namespace }, browser: "never" as const, requests: 25, waitForGo: true };
    fleet.push(...(await Promise.all(Array.from({ length: 8 }, () => startWorker(config)))));
    await Promise.all(fleet.map((w) => w.waitFor((line) => line.ready === true)));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, loggedInAt + 3_300 - Date.now())));
    fleet.forEach((w) => w.go());
    const done = await Promise.all(fleet.map((w) => w.waitFor((line) => line.done === true, 40_000)));
    const stats = await peer.stats();
    const ok = done.flatMap((d) => d.statuses ?? []).filter((s) => s === 200).length;
    const invalidGrant = stats["grant_error:invalid_grant"] ?? 0;
    return {
      name: "8 processes, one Redis store, expired access token (oidc-provider, rotating refresh tokens)",
      tokenRequests: stats["grant:refresh_token"] ?? 0,
      detail: `refresh requests; ${ok}/200 answered 200, ${invalidGrant} invalid_grant`,
    };
  } finally {
    await Promise.all(fleet.map((w) => w.kill()));
    await keyv.disconnect();
    await peer.close();
  }
}
