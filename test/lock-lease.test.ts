import KeyvRedis, { createClient } from "@keyv/redis";
import Keyv from "keyv";
import { afterAll, describe, expect, it } from "vitest";
import { isOAuthError, RedisLock, type TokenLock } from "../src/index.js";
import { redisUp, redisUrl, uniqueNamespace } from "./support/backends.js";
import { harness, rpc, type Harness } from "./support/harness.js";
import { cleanupAfterEach } from "./support/local-server.js";

// A holder whose lease ends (it stalled, or its renewals could not reach Redis) while it refreshes: another
// process may take the lock and spend the same refresh token. Real Redis; the takeover is done by hand.
const closeLater = cleanupAfterEach();
const redis = redisUp ? createClient({ url: redisUrl }) : undefined;
if (redis) await redis.connect();
afterAll(async () => redis?.close());

/** A Redis-backed harness whose lock can be taken away from its holder, as another process would once the lease ended. */
async function redisHarness(lockLeaseMs?: number): Promise<{ h: Harness; keyv: Keyv; takeOver: () => Promise<void>; stored: () => Promise<unknown> }> {
  const namespace = uniqueNamespace();
  const keyv = new Keyv({ store: new KeyvRedis(redisUrl), namespace });
  closeLater(() => keyv.disconnect());
  const lock: TokenLock = new RedisLock(redis as never, { prefix: `${namespace}:` });
  const h = await harness({}, { tokenStorage: keyv, lock, ...(lockLeaseMs ? { lockLeaseMs } : {}) });
  closeLater(h.server.close);
  const lockKey = `${namespace}:mcp-oauth:v2:${h.server.mcpUrl}:lock`;
  return {
    h,
    keyv,
    takeOver: async () => void (await redis?.set(lockKey, "another-process", { PX: 60_000 })),
    stored: () => keyv.get(h.oauth.storageKey("tokens", h.server.issuer)),
  };
}
const refreshRequests = (h: Harness) => h.server.count((r) => r.path === "/token" && r.form.grant_type === "refresh_token");

describe.skipIf(!redisUp)("the token lock's lease, lost while refreshing", () => {
  it("lost before the token request: the refresh token is not sent, and the error is a transient lock_lost", async () => {
    const { h, keyv, takeOver, stored } = await redisHarness();
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    const before = await stored();
    // Another process takes the lock as soon as this one has read the store under it.
    let reads = 0;
    const get = keyv.get.bind(keyv);
    keyv.get = (async (key: string) => {
      const value = await get(key);
      if (key.endsWith(":tokens") && (reads += 1) === 1) await takeOver();
      return value;
    }) as typeof keyv.get;
    h.clock.now += 3_600_000;
    const error = await h.oauth.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e);
    expect(isOAuthError(error, "lock_lost") && error.transient).toBe(true);
    expect(refreshRequests(h)).toBe(0);
    expect(await stored()).toEqual(before);
    expect(h.browser.opened).toHaveLength(1);
  });

  it("lost while the token request is in flight: the request is aborted with lock_lost", async () => {
    const { h, takeOver } = await redisHarness(300); // renewed every 100 ms
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    h.server.faults.tokenDelayMs = 3_000;
    h.clock.now += 3_600_000;
    const tokenRequests = () => h.server.count("/token"); // the form is parsed only after the delay
    const before = tokenRequests();
    const started = Date.now();
    const pending = h.oauth.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e);
    for (let i = 0; i < 100 && tokenRequests() === before; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(tokenRequests()).toBe(before + 1);
    await takeOver();
    const error = await pending;
    expect(isOAuthError(error, "lock_lost") && error.transient).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(h.browser.opened).toHaveLength(1);
  });
});
