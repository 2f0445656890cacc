/**
 * `npm run bench`: the hot-path cost of `oauth.fetch` (in-memory and Redis stores), the token request
 * counts of the two concurrency scenarios, and what the server's rate limits cost on its token path,
 * each side by side in one run.
 * A cold login against the MCP SDK 1.x client's own auth() flow, with where our time goes.
 *   BENCH_REQUESTS=10000 (per side, per store)   BENCH_COLD_ROUNDS=20   BENCH_SKIP_SCENARIOS=1 (no concurrency scenarios)
 */
import KeyvRedis from "@keyv/redis";
import Keyv from "keyv";
import { measureColdLogin } from "./cold-login.js";
import { measureHotPath, startLoopbackServer, type HotPathResult } from "./hot-path.js";
import { runScenarios } from "./scenarios.js";
import { measureTokenPath } from "./token-path.js";
import { redisUp, redisUrl, uniqueNamespace } from "../test/support/backends.js";

const requests = Number(process.env.BENCH_REQUESTS ?? 10_000);
const target = 1.02;
const started = Date.now();
const server = await startLoopbackServer();
const rows: [string, string, HotPathResult][] = [];
try {
  const memory = await measureHotPath(new Keyv(), requests, server.mcpUrl);
  rows.push(["in-memory Keyv", "oauth.fetch", memory.fetch], ["in-memory Keyv", "interceptor", memory.interceptor], ["in-memory Keyv", "vs no-op ic.", memory.overNoop]);
  if (redisUp) {
    const redis = new Keyv({ store: new KeyvRedis(redisUrl), namespace: uniqueNamespace() });
    const shared = await measureHotPath(redis, requests, server.mcpUrl);
    rows.push(["Redis (@keyv/redis)", "oauth.fetch", shared.fetch], ["Redis (@keyv/redis)", "interceptor", shared.interceptor], ["Redis (@keyv/redis)", "vs no-op ic.", shared.overNoop]);
    await redis.disconnect();
  } else {
    console.log("Redis store: not measured (nothing listens on 127.0.0.1:6379)");
  }
} finally {
  await server.close();
}

console.log(`\nHot path, valid cached token: oauth.fetch vs undici fetch, and oauth.interceptor() vs undici request, each against a static bearer header; "vs no-op ic.": ours against a no-op interceptor on the same agent, which pays undici's handler adapters too (loopback keep-alive, ${requests} requests each, medians)`);
console.log(`store                 path           plain µs    ours µs   ratio   target ≤ ${target}`);
for (const [name, path, r] of rows) {
  console.log(`${name.padEnd(22)}${path.padEnd(13)}${r.plainMedianUs.toFixed(1).padStart(10)} ${r.oauthMedianUs.toFixed(1).padStart(10)}   ${r.ratio.toFixed(3).padStart(5)}   ${r.ratio <= target ? "met" : "MISSED"}`);
}

const cold = await measureColdLogin(Number(process.env.BENCH_COLD_ROUNDS ?? 20));
console.log(`\nCold login: our first oauth.fetch vs the MCP SDK 1.x client's auth() with the loopback callback server an application adds (same server and browser stand-in, fresh store, ${cold.rounds} rounds each, medians)`);
console.log(`ours ${cold.oursMedianMs.toFixed(1)} ms, SDK ${cold.sdkMedianMs.toFixed(1)} ms, ratio ${cold.ratio.toFixed(3)}   target ≤ 1.0 ${cold.ratio <= 1 ? "met" : "MISSED"}`);
console.log(`where ours goes (medians): ${cold.phases.map(([name, ms]) => `${name} ${ms.toFixed(1)} ms`).join(", ")}`);

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
