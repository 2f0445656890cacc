import { afterEach, describe, expect, it } from "vitest";
import { isOAuthError } from "../src/index.js";
import { startSdkAuthServer } from "./peers/sdk-auth-server.js";
import { harness, rpc, type Harness } from "./support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.server.close();
  h = undefined;
});

const tokenRequests = (h: Harness, grant: string) => h.server.count((r) => r.path === "/token" && r.form.grant_type === grant);

describe("concurrent logins", () => {
  it("20 concurrent first requests share one login and one token request", async () => {
    h = await harness();
    const statuses = await Promise.all(Array.from({ length: 20 }, () => h!.oauth.fetch(h!.server.mcpUrl, rpc()).then((r) => r.status)));
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(h.browser.opened).toHaveLength(1);
    expect(tokenRequests(h, "authorization_code")).toBe(1);
  });

  it("a denied login fails every request waiting on it, with one browser window", async () => {
    h = await harness({ faults: { authorizeError: { error: "access_denied" } } });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => h!.oauth.fetch(h!.server.mcpUrl, rpc())));
    expect(results.every((r) => r.status === "rejected" && isOAuthError(r.reason, "access_denied"))).toBe(true);
    expect(h.browser.opened).toHaveLength(1);
  });
});

describe("refresh", () => {
  it("refreshes ahead of expiry, sending resource, and keeps using the server without a new login", async () => {
    h = await harness({ accessTokenTtlSeconds: 120 });
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    h.clock.now += 61_000; // inside the 60 s margin before expiry
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    expect(tokenRequests(h, "refresh_token")).toBe(1);
    expect(h.server.requests.find((r) => r.form.grant_type === "refresh_token")?.form.resource).toBe(h.server.mcpUrl);
    expect(h.browser.opened).toHaveLength(1);
  });

  it("a restarted process with an expired stored token refreshes without any discovery request", async () => {
    h = await harness();
    await h.oauth.fetch(h.server.mcpUrl, rpc());
    h.clock.now += 2 * 3_600_000;
    const before = h.server.requests.length;
    const restarted = h.restart();
    expect((await restarted.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    expect(h.server.requests.slice(before).map((r) => r.path)).toEqual(["/token", "/mcp"]);
    expect(h.browser.opened).toHaveLength(1);
  });

  it("50 concurrent requests with an expired token make exactly one token request", async () => {
    h = await harness({ faults: {} });
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    h.server.faults.tokenDelayMs = 100; // keep the refresh in flight while every request arrives
    h.clock.now += 3_600_000;
    const statuses = await Promise.all(Array.from({ length: 50 }, () => h!.oauth.fetch(h!.server.mcpUrl, rpc()).then((r) => r.status)));
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(tokenRequests(h, "refresh_token")).toBe(1);
    expect(tokenRequests(h, "authorization_code")).toBe(1);
  });

  it("invalid_grant on refresh clears the tokens and runs exactly one new authorization", async () => {
    h = await harness();
    await h.oauth.fetch(h.server.mcpUrl, rpc());
    h.server.faults.refresh = "invalid_grant";
    h.clock.now += 3_600_000;
    const response = await h.oauth.fetch(h.server.mcpUrl, rpc());
    expect(response.status).toBe(200);
    expect(tokenRequests(h, "refresh_token")).toBe(1);
    expect(tokenRequests(h, "authorization_code")).toBe(2);
    expect(h.browser.opened).toHaveLength(2);
  });

  it("a 500 on refresh keeps the stored tokens and surfaces a transient typed error", async () => {
    h = await harness();
    await h.oauth.fetch(h.server.mcpUrl, rpc());
    const key = h.oauth.storageKey("tokens", h.server.issuer);
    const stored = await h.store.get(key);
    h.server.faults.refresh = "server_error";
    h.clock.now += 3_600_000;
    const error = await h.oauth.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e);
    expect(isOAuthError(error, "refresh_failed")).toBe(true);
    expect(isOAuthError(error) && error.transient).toBe(true);
    expect(isOAuthError(error) && error.status).toBe(500);
    expect(await h.store.get(key)).toEqual(stored);
    expect(h.browser.opened).toHaveLength(1);

    // Once the server recovers, the same stored refresh token works.
    h.server.faults.refresh = undefined;
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    expect(h.browser.opened).toHaveLength(1);
  });

  // Both ways a refresh starts: a token at its expiry (the request's token check) and a token the server
  // stopped accepting (the 401 recovery). Every waiter must learn that the refresh token is dead.
  it.each(["expired", "revoked"] as const)("invalid_grant with 50 concurrent requests (%s token): exactly 1 refresh request and 1 new authorization", async (how) => {
    h = await harness();
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    h.server.faults.refresh = "invalid_grant";
    h.server.faults.tokenDelayMs = 20; // keep the refresh in flight while every request arrives
    if (how === "expired") h.clock.now += 3_600_000;
    else h.server.revokeAllAccessTokens();
    const statuses = await Promise.all(Array.from({ length: 50 }, () => h!.oauth.fetch(h!.server.mcpUrl, rpc()).then((r) => r.status)));
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(tokenRequests(h, "refresh_token")).toBe(1);
    expect(tokenRequests(h, "authorization_code")).toBe(2);
    expect(h.browser.opened).toHaveLength(2);
  });

  it("a 500 on a refresh ahead of expiry leaves every waiting request the unexpired token", async () => {
    h = await harness();
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    h.clock.now += 3_600_000 - 30_000; // inside the refresh margin, not expired
    h.server.faults.refresh = "server_error";
    h.server.faults.tokenDelayMs = 50;
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => h!.oauth.fetch(h!.server.mcpUrl, rpc()).then((r) => r.status)));
    expect(results.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as Error).message))).toEqual(Array.from({ length: 20 }, () => 200));
    expect(tokenRequests(h, "refresh_token")).toBe(1);
    expect(h.browser.opened).toHaveLength(1);
  });

  it("without a refresh token, the token is sent until it expires (no unauthenticated round trip), then a new login", async () => {
    h = await harness({ issueRefreshTokens: false });
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    const before = h.server.requests.length;
    h.clock.now += 3_600_000 - 30_000; // inside the margin: no refresh possible, the token is still good
    for (let i = 0; i < 3; i += 1) expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    const mcp = h.server.requests.slice(before).filter((r) => r.path === "/mcp");
    expect(mcp.map((r) => Boolean(r.authorization))).toEqual([true, true, true]);
    expect(h.browser.opened).toHaveLength(1);
    h.clock.now += 60_000; // expired: a login follows
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    expect(h.browser.opened).toHaveLength(2);
  });

  it("clearTokens during a refresh waits for it: the refreshed tokens are not stored after the clear", async () => {
    h = await harness();
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    h.server.faults.tokenDelayMs = 300;
    h.clock.now += 3_600_000;
    const before = h.server.count("/token");
    const request = h.oauth.fetch(h.server.mcpUrl, rpc());
    for (let i = 0; i < 100 && h.server.count("/token") === before; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    await h.oauth.clearTokens();
    expect((await request).status).toBe(200);
    expect(await h.store.get(h.oauth.storageKey("tokens", h.server.issuer))).toBeUndefined();
  });

  it("a token the server stopped accepting is refreshed once on 401", async () => {
    h = await harness();
    await h.oauth.fetch(h.server.mcpUrl, rpc());
    h.server.revokeAllAccessTokens();
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    expect(tokenRequests(h, "refresh_token")).toBe(1);
    expect(h.browser.opened).toHaveLength(1);
  });

  it("a 401 right after a fresh authorization is a typed error, not a loop", async () => {
    // The resource server trusts a different authorization server than the one its metadata names,
    // so every token the client obtains is refused: a real misconfiguration.
    const other = await startSdkAuthServer();
    try {
      h = await harness({ prmOverrides: { authorization_servers: [other.issuer] } });
      const error = await h.oauth.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e);
      expect(isOAuthError(error, "unauthorized")).toBe(true);
      expect(other.count((r) => r.path === "/token")).toBe(1);
      expect(h.browser.opened).toHaveLength(1);
      expect(h.server.count("/mcp")).toBe(2);
    } finally {
      await other.close();
    }
  });
});
