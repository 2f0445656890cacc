import Keyv from "keyv";
import { afterEach, describe, expect, it } from "vitest";
import { OAuth } from "../src/index.js";
import { maxTokenLifetimeSeconds } from "../src/flow/request-tokens.js";
import { hostileServer, SECRET, type HostileServer } from "./support/hostile-server.js";
import { captureLogger } from "./support/openers.js";

let server: HostileServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function client(store: Keyv, now: number) {
  const logger = captureLogger();
  const oauth = new OAuth({
    mcpUrl: server!.mcpUrl,
    tokenStorage: store,
    logger,
    now: () => now,
    openBrowser: async (url) => void (await fetch(url).then((page) => page.body?.cancel())),
  });
  return { oauth, logger };
}

describe("odd token lifetimes stay harmless", () => {
  const cases: [string, number, number][] = [
    ["1e306 seconds: a year at most", 1e306, maxTokenLifetimeSeconds * 1000],
    ["Number.MAX_VALUE seconds", Number.MAX_VALUE, maxTokenLifetimeSeconds * 1000],
    ["0 seconds: expired at once", 0, 0],
    ["2.5 seconds: whole milliseconds", 2.5, 2500],
  ];
  for (const [name, expiresIn, lifetimeMs] of cases) {
    it(`expires_in ${name}, stored as a finite time a restarted process can read`, async () => {
      server = await hostileServer({ token: { body: { access_token: SECRET.access, refresh_token: SECRET.refresh, token_type: "Bearer", expires_in: expiresIn } } });
      const store = new Keyv();
      const now = Date.now();
      const first = client(store, now);
      await first.oauth.getAccessToken();
      const stored = (await store.get(first.oauth.storageKey("tokens", server.origin))) as { expires_at: number; obtained_at: number };
      expect(Number.isFinite(stored.expires_at)).toBe(true);
      expect(stored.expires_at - stored.obtained_at).toBe(lifetimeMs);

      if (lifetimeMs === 0) return;
      // A restarted process reads the record and uses the token: no new login, no warning.
      const second = client(store, now + 1);
      expect(await second.oauth.getAccessToken()).toBe(SECRET.access);
      expect(server.count("/authorize")).toBe(1);
      expect(second.logger.lines).toEqual([]);
    });
  }
});
