/**
 * `npm run bench`: the hot-path cost of `oauth.fetch` (in-memory and Redis stores), the token request
 * counts of the two concurrency scenarios, and what the server's rate limits cost on its token path,
 * each side by side in one run.
 *   BENCH_REQUESTS=10000 (per side, per store)   BENCH_SKIP_SCENARIOS=1 (hot path only)
 */
import KeyvRedis from "@keyv/redis";
import Keyv from "keyv";
import { measureHotPath, startLoopbackServer, type HotPathResult } from "./hot-path.js";
import { runScenarios } from "./scenarios.js";
import { measureTokenPath } from "./token-path.js";
import { redisUp, redisUrl, uniqueNamespace } from "../test/support/backends.js";

const requests = Number(process.env.BENCH_REQUESTS ?? 10_000);
const target = 1.05;
const started = Date.now();
const server = await startLoopbackServer();
const rows: [string, HotPathResult][] = [];
try {
  rows.push(["in-memory Keyv", await measureHotPath(new Keyv(), requests, server.mcpUrl)]);
  if (redisUp) {
    const redis = new Keyv({ store: new KeyvRedis(redisUrl), namespace: uniqueNamespace() });
    rows.push(["Redis (@keyv/redis)", await measureHotPath(redis, requests, server.mcpUrl)]);
    await redis.disconnect();
  } else {
    console.log("Redis store: not measured (nothing listens on 127.0.0.1:6379)");
  }
} finally {
  await server.close();
}

console.log(`\nHot path: oauth.fetch with a valid cached token vs fetch with a static bearer header (undici, loopback keep-alive, ${requests} requests each, medians)`);
console.log("store                 plain µs   oauth.fetch µs   ratio   target ≤ 1.05");
for (const [name, r] of rows) {
  console.log(`${name.padEnd(22)}${r.plainMedianUs.toFixed(1).padStart(8)}   ${r.oauthMedianUs.toFixed(1).padStart(14)}   ${r.ratio.toFixed(3).padStart(5)}   ${r.ratio <= target ? "met" : "MISSED"}`);
}

const tokenPath = await measureTokenPath(Math.max(1000, Math.floor(requests / 5)));
console.log(`\nServer token path: refresh grants through provider.handle, rate limits off vs on (in process, ${tokenPath.requests} each, medians)`);
console.log(`rate limits off ${tokenPath.offMedianUs.toFixed(1)} µs, on ${tokenPath.onMedianUs.toFixed(1)} µs, ratio ${tokenPath.ratio.toFixed(3)}`);

// The ratio is reported, not enforced: on a shared 2-core machine its noise is a few percent. The token
// request counts are exact, so a count other than 1 fails the run.
let wrongCount = false;
if (!process.env.BENCH_SKIP_SCENARIOS) {
  const scenarios = await runScenarios();
  console.log("\nConcurrency: token requests that reached the authorization server");
  for (const s of scenarios) console.log(`${s.name.padEnd(78)} ${s.tokenRequests} (${s.detail})`);
  wrongCount = scenarios.some((s) => s.tokenRequests !== 1);
}
console.log(`\nbench finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(wrongCount ? 1 : 0);
