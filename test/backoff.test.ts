import { generateKeyPairSync } from "node:crypto";
import Keyv from "keyv";
import { afterEach, describe, expect, it } from "vitest";
import { isOAuthError, MemoryLock, OAuth, OAuthError, type OAuthEvent, type OAuthOptions, type TokenLock } from "../src/index.js";
import { parseRetryAfter, withBackoff, type BackoffPolicy } from "../src/flow/retry-after.js";
import { good, hostileServer, SECRET, type Answer, type HostileAnswers, type HostileServer } from "./support/hostile-server.js";
import { captureLogger } from "./support/openers.js";

/*
 * 429 and 503 from the token and registration endpoints are retried after their Retry-After, bounded by
 * maxRetries, maxRetryAfterMs, requestTimeoutMs and the instance's signal; nothing else is retried.
 * Every case runs the real flow against a loopback server; the waits are real (Retry-After kept at 1 s,
 * the default backoff at 250 ms and 500 ms).
 */

let closing: (() => Promise<void>) | undefined;
afterEach(async () => {
  await closing?.();
  closing = undefined;
});

interface Setup {
  server: HostileServer;
  oauth: OAuth;
  store: Keyv;
  events: OAuthEvent[];
  clock: { now: number };
  retries: () => Extract<OAuthEvent, { type: "retry_scheduled" }>[];
  tokenRequests: (grant: string) => number;
}

async function setup(answers: HostileAnswers, overrides: Partial<OAuthOptions> = {}): Promise<Setup> {
  const server = await hostileServer(answers);
  closing = server.close;
  const store = new Keyv();
  const events: OAuthEvent[] = [];
  const clock = { now: Date.now() };
  const oauth = new OAuth({
    mcpUrl: server.mcpUrl,
    tokenStorage: store,
    logger: captureLogger(),
    now: () => clock.now,
    callbackTimeoutMs: 10_000,
    onEvent: (event) => events.push(event),
    // The browser: follows the authorization server's redirect to the real loopback callback.
    openBrowser: async (url) => void (await fetch(url).then((page) => page.body?.cancel())),
    ...overrides,
  });
  return {
    server,
    oauth,
    store,
    events,
    clock,
    retries: () => events.filter((event): event is Extract<OAuthEvent, { type: "retry_scheduled" }> => event.type === "retry_scheduled"),
    tokenRequests: (grant) => server.seen.filter((r) => r.path === "/token" && new URLSearchParams(r.body).get("grant_type") === grant).length,
  };
}

const tooMany = (retryAfter?: string): Answer => ({ status: 429, body: { error: "slow_down" }, ...(retryAfter === undefined ? {} : { headers: { "retry-after": retryAfter } }) });
const unavailable = (retryAfter?: string): Answer => ({ status: 503, body: { error: "temporarily_unavailable" }, ...(retryAfter === undefined ? {} : { headers: { "retry-after": retryAfter } }) });
const hour: Answer = { body: { ...good, expires_in: 3600 } };
const renewed = { access_token: `${SECRET.access}-renewed`, refresh_token: `${SECRET.refresh}-renewed`, token_type: "Bearer", expires_in: 3600 };

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await run();
  return { value, ms: performance.now() - started };
}

describe("429 and 503 are retried after Retry-After", () => {
  it("code exchange: a 429 with Retry-After: 1 is retried once, after at least 1 s, and the login succeeds", async () => {
    const s = await setup({ token: [tooMany("1")] });
    const { value: token, ms } = await timed(() => s.oauth.getAccessToken());
    expect(token).toBe(good.access_token);
    expect(s.tokenRequests("authorization_code")).toBe(2);
    expect(ms).toBeGreaterThanOrEqual(1_000);
    expect(s.retries()).toEqual([{ type: "retry_scheduled", endpoint: "token", status: 429, delayMs: 1_000, retry: 1 }]);
    // The same code and verifier both times: a 429 says the server did not act on the first request.
    const [first, second] = s.server.seen.filter((r) => r.path === "/token").map((r) => new URLSearchParams(r.body));
    expect(second?.get("code")).toBe(first?.get("code"));
    expect(second?.get("code_verifier")).toBe(first?.get("code_verifier"));
  });

  it("registration: a 503 without Retry-After is retried after the short default delay, and registration succeeds", async () => {
    const s = await setup({ register: [unavailable()] });
    const { value: token, ms } = await timed(() => s.oauth.getAccessToken());
    expect(token).toBe(good.access_token);
    expect(s.server.count("/register")).toBe(2);
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(s.retries()).toEqual([{ type: "retry_scheduled", endpoint: "registration", status: 503, delayMs: 250, retry: 1 }]);
  });

  it("a Retry-After given as an HTTP-date is waited for until that date", async () => {
    const clock = Date.now();
    // IMF-fixdate has whole seconds: 2 s from the client's clock, truncated, is between 1 and 2 s away.
    const date = new Date(clock + 2_000).toUTCString();
    const t = await setup({ token: [unavailable(date)] }, { now: () => clock });
    const { value: token, ms } = await timed(() => t.oauth.getAccessToken());
    expect(token).toBe(good.access_token);
    expect(t.tokenRequests("authorization_code")).toBe(2);
    const [retry] = t.retries();
    expect(retry?.delayMs).toBeGreaterThan(1_000);
    expect(retry?.delayMs).toBeLessThanOrEqual(2_000);
    expect(ms).toBeGreaterThanOrEqual(retry?.delayMs ?? Infinity);
  });

  it("client credentials with private_key_jwt: each attempt carries a newly signed assertion", async () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const s = await setup(
      { token: [tooMany("0"), unavailable("0")] },
      { grant: "client_credentials", clientId: "m2m", privateKey: privateKey.export({ format: "pem", type: "pkcs8" }).toString() },
    );
    expect(await s.oauth.getAccessToken()).toBe(good.access_token);
    const assertions = s.server.seen.filter((r) => r.path === "/token").map((r) => new URLSearchParams(r.body).get("client_assertion"));
    expect(assertions).toHaveLength(3);
    expect(assertions.every((a) => typeof a === "string" && a.split(".").length === 3)).toBe(true);
    expect(new Set(assertions).size).toBe(3);
    const jtis = assertions.map((a) => (JSON.parse(Buffer.from(a!.split(".")[1]!, "base64url").toString()) as { jti: string }).jti);
    expect(new Set(jtis).size).toBe(3);
  });
});

describe("bounded: retries spent, a wait too long, an abort", () => {
  it("refresh: 429 three times gives a transient refresh_failed with status 429; the stored tokens stay and are used while unexpired", async () => {
    const s = await setup({ token: hour, later: [tooMany(), tooMany(), tooMany(), tooMany(), tooMany(), tooMany()] });
    const first = await s.oauth.getAccessToken();
    const key = s.oauth.storageKey("tokens", s.server.origin);
    const stored: unknown = await s.store.get(key);
    expect(stored).toMatchObject({ access_token: first, refresh_token: good.refresh_token });

    // Inside the refresh margin, not expired: the refresh fails after 1 + 2 attempts, the old token is used.
    s.clock.now += 3_600_000 - 30_000;
    const { value: stillUsed, ms } = await timed(() => s.oauth.getAccessToken());
    expect(stillUsed).toBe(first);
    expect(s.tokenRequests("refresh_token")).toBe(3);
    expect(s.retries().map((r) => r.delayMs)).toEqual([250, 500]);
    expect(ms).toBeGreaterThanOrEqual(750);
    expect(await s.store.get(key)).toEqual(stored);

    // Expired: the same failure surfaces, typed and transient; nothing is deleted and no login starts.
    s.clock.now += 60_000;
    const error = await s.oauth.getAccessToken().catch((e: unknown) => e);
    expect(isOAuthError(error, "refresh_failed")).toBe(true);
    expect(error).toMatchObject({ transient: true, status: 429 });
    expect((error as OAuthError).message).toContain("still 429 after 2 retries");
    expect(s.tokenRequests("refresh_token")).toBe(6);
    expect(await s.store.get(key)).toEqual(stored);
    expect(s.server.count("/authorize")).toBe(1);

    // Once the server lets it through, the same refresh token works.
    const token = await s.oauth.getAccessToken();
    expect(token).toBe(good.access_token);
    const refreshes = s.server.seen.filter((r) => new URLSearchParams(r.body).get("grant_type") === "refresh_token");
    expect(refreshes.map((r) => new URLSearchParams(r.body).get("refresh_token"))).toEqual(Array.from({ length: 7 }, () => good.refresh_token));
    expect(s.server.count("/authorize")).toBe(1);
  });

  it("a Retry-After longer than maxRetryAfterMs is not waited for: the request fails at once, transient", async () => {
    const s = await setup({ token: [tooMany("60")] }, { maxRetryAfterMs: 5_000 });
    const { value: error, ms } = await timed(() => s.oauth.getAccessToken().catch((e: unknown) => e));
    expect(ms).toBeLessThan(5_000);
    expect(isOAuthError(error, "token_exchange_failed")).toBe(true);
    expect(error).toMatchObject({ transient: true, status: 429 });
    expect((error as OAuthError).message).toContain("longer than maxRetryAfterMs");
    expect(s.tokenRequests("authorization_code")).toBe(1);
    expect(s.retries()).toEqual([]);
  });

  it("a wait that would pass the request's deadline (requestTimeoutMs) is not started", async () => {
    const s = await setup({ register: [unavailable("3")] }, { requestTimeoutMs: 2_000 });
    const { value: error, ms } = await timed(() => s.oauth.getAccessToken().catch((e: unknown) => e));
    expect(ms).toBeLessThan(2_000);
    expect(isOAuthError(error, "registration_failed")).toBe(true);
    expect(error).toMatchObject({ transient: true, status: 503 });
    expect((error as OAuthError).message).toContain("deadline");
    expect(s.server.count("/register")).toBe(1);
  });

  it("the retry itself gets only what is left of the deadline", async () => {
    let tokenCalls = 0;
    const s = await setup(
      { token: [tooMany("1")] },
      {
        requestTimeoutMs: 2_000,
        // The retry hangs (until its signal fires): it must end at the deadline, not 2 s after it started.
        fetch: async (input, init) => {
          const url = new URL(input instanceof Request ? input.url : String(input));
          if (url.pathname === "/token" && ++tokenCalls === 2) {
            const signal = init?.signal;
            await new Promise((resolve, reject) => {
              const timer = setTimeout(resolve, 5_000);
              signal?.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
            });
          }
          return fetch(input, init);
        },
      },
    );
    const { value: error, ms } = await timed(() => s.oauth.getAccessToken().catch((e: unknown) => e));
    expect(isOAuthError(error, "token_exchange_failed")).toBe(true);
    expect(error).toMatchObject({ transient: true });
    expect((error as OAuthError).message).toContain("timed out");
    expect(tokenCalls).toBe(2);
    expect(ms).toBeLessThan(2_700);
  });

  it("an abort through the instance signal during the wait rejects at once with aborted, and nothing is sent again", async () => {
    const controller = new AbortController();
    const s = await setup({ token: [tooMany("5")] }, { signal: controller.signal });
    const pending = s.oauth.getAccessToken().catch((e: unknown) => e);
    await expect.poll(() => s.retries().length, { timeout: 5_000 }).toBe(1);
    const abortedAt = performance.now();
    controller.abort();
    const error = await pending;
    expect(performance.now() - abortedAt).toBeLessThan(500);
    expect(isOAuthError(error, "aborted")).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(s.tokenRequests("authorization_code")).toBe(1);
  });
});

describe("a refresh backs off under the token lock", () => {
  it("confirms the lease before each retry: a lease lost during the wait stops the refresh with lock_lost, nothing resent", async () => {
    let lost = false;
    const memory = new MemoryLock();
    const lock: TokenLock = {
      acquire: async (key, leaseMs) => {
        const handle = await memory.acquire(key, leaseMs);
        return handle && { extend: async (ms) => !lost && (await handle.extend(ms)), release: () => handle.release() };
      },
    };
    const s = await setup(
      { token: hour, later: [tooMany("1")] },
      // Another process takes the lock while this one waits out the Retry-After.
      { lock, onEvent: (event) => void (event.type === "retry_scheduled" && (lost = true)) },
    );
    await s.oauth.getAccessToken();
    s.clock.now += 2 * 3_600_000;
    const error = await s.oauth.getAccessToken().catch((e: unknown) => e);
    expect(isOAuthError(error, "lock_lost")).toBe(true);
    expect(s.tokenRequests("refresh_token")).toBe(1);
  });
});

describe("nothing but 429 and 503 is retried", () => {
  it("a 400 invalid_grant on refresh is sent once: the token is never spent twice, a login follows", async () => {
    const s = await setup({ token: hour, later: [{ status: 400, body: { error: "invalid_grant" } }, { body: renewed }] });
    await s.oauth.getAccessToken();
    s.clock.now += 2 * 3_600_000;
    expect(await s.oauth.getAccessToken()).toBe(renewed.access_token);
    expect(s.tokenRequests("refresh_token")).toBe(1);
    expect(s.tokenRequests("authorization_code")).toBe(2);
    expect(s.retries()).toEqual([]);
  });

  it("a 500 on the code exchange is sent once and surfaces as transient", async () => {
    const s = await setup({ token: [{ status: 500, body: { error: "server_error" } }] });
    const error = await s.oauth.getAccessToken().catch((e: unknown) => e);
    expect(isOAuthError(error, "token_exchange_failed")).toBe(true);
    expect(error).toMatchObject({ transient: true, status: 500 });
    expect(s.tokenRequests("authorization_code")).toBe(1);
    expect(s.retries()).toEqual([]);
  });

  it("a 400 on registration is sent once", async () => {
    const s = await setup({ register: [{ status: 400, body: { error: "invalid_client_metadata" } }] });
    const error = await s.oauth.getAccessToken().catch((e: unknown) => e);
    expect(isOAuthError(error, "registration_failed")).toBe(true);
    expect(s.server.count("/register")).toBe(1);
  });

  it("a network error on refresh is not retried (the server may have used the refresh token)", async () => {
    let failNext = false;
    let attempts = 0;
    const s = await setup(
      { token: hour },
      {
        fetch: async (input, init) => {
          const url = new URL(input instanceof Request ? input.url : String(input));
          if (url.pathname === "/token" && failNext) {
            attempts += 1;
            throw new TypeError("fetch failed", { cause: Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }) });
          }
          return fetch(input, init);
        },
      },
    );
    const first = await s.oauth.getAccessToken();
    failNext = true;
    s.clock.now += 3_600_000 - 30_000;
    expect(await s.oauth.getAccessToken()).toBe(first); // transient: the unexpired token stays in use
    expect(attempts).toBe(1);
    expect(s.retries()).toEqual([]);
  });
});

describe("withBackoff", () => {
  const policy = (overrides: Partial<BackoffPolicy> = {}): BackoffPolicy & { waits: number[] } => {
    const waits: number[] = [];
    return { maxRetries: 2, maxRetryAfterMs: 10_000, deadlineMs: 30_000, now: () => 0, signal: undefined, sleep: async (ms) => void waits.push(ms), waits, ...overrides };
  };
  const answers = (...statuses: number[]) => {
    let n = 0;
    return () => Promise.resolve(new Response(null, { status: statuses[Math.min(n++, statuses.length - 1)] ?? 200 }));
  };

  it("backs off 250 ms, 500 ms, 1 s, then 2 s at most, within maxRetryAfterMs", async () => {
    const p = policy({ maxRetries: 5 });
    const result = await withBackoff(answers(429, 429, 429, 429, 429, 200), p, "token");
    expect(result.response.status).toBe(200);
    expect(p.waits).toEqual([250, 500, 1_000, 2_000, 2_000]);
    const capped = policy({ maxRetryAfterMs: 300 });
    await withBackoff(answers(503, 503, 200), capped, "token");
    expect(capped.waits).toEqual([250, 300]);
  });

  it("returns the last answer with the reason once maxRetries are spent; maxRetries 0 sends once", async () => {
    const p = policy();
    const result = await withBackoff(answers(429), p, "token");
    expect(result.response.status).toBe(429);
    expect(result.gaveUp).toBe("still 429 after 2 retries");
    const none = policy({ maxRetries: 0 });
    const send = answers(503);
    expect((await withBackoff(send, none, "registration")).gaveUp).toContain("not retried");
    expect(none.waits).toEqual([]);
  });

  it("runs beforeRetry before each retry, and stops when it throws", async () => {
    let confirmed = 0;
    const p = policy({ beforeRetry: async () => void (confirmed += 1) });
    await withBackoff(answers(429, 429, 200), p, "token");
    expect(confirmed).toBe(2);
    const lost = new OAuthError("lock_lost", "lost", { transient: true });
    const failing = policy({ beforeRetry: () => Promise.reject(lost) });
    await expect(withBackoff(answers(429, 200), failing, "token")).rejects.toBe(lost);
  });

  it("a real wait ends at once on an abort, with the signal's OAuthError when it is one (a lost lease)", async () => {
    const controller = new AbortController();
    const lost = new OAuthError("lock_lost", "lost", { transient: true });
    const send = () => Promise.resolve(new Response(null, { status: 429, headers: { "retry-after": "5" } }));
    const pending = withBackoff(send, { maxRetries: 2, maxRetryAfterMs: 10_000, deadlineMs: 30_000, now: Date.now, signal: controller.signal }, "token");
    setTimeout(() => controller.abort(lost), 50);
    const started = performance.now();
    await expect(pending).rejects.toBe(lost);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe("parseRetryAfter (RFC 9110 §10.2.3)", () => {
  const now = Date.UTC(2026, 0, 1, 0, 0, 0);

  it("reads delay-seconds", () => {
    expect(parseRetryAfter("1", now)).toBe(1_000);
    expect(parseRetryAfter("0", now)).toBe(0);
    expect(parseRetryAfter("  3 ", now)).toBe(3_000);
    expect(parseRetryAfter("007", now)).toBe(7_000);
  });

  it("refuses negative, fractional, empty and garbage values (the caller's own short delay applies)", () => {
    for (const value of ["-5", "-0", "1.5", "1e3", "", " ", "soon", "5s", "1, 2", "0x10", "+3", "Infinity", null, undefined]) {
      expect(parseRetryAfter(value, now), String(value)).toBeUndefined();
    }
  });

  it("keeps huge values finite and huge, for the cap to refuse", () => {
    expect(parseRetryAfter("99999999999999999999", now)).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseRetryAfter("9".repeat(400), now)).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseRetryAfter("86400", now)).toBe(86_400_000);
  });

  it("reads the three HTTP-date forms, relative to the given clock", () => {
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:05 GMT", now)).toBe(5_000);
    expect(parseRetryAfter("Thursday, 01-Jan-26 00:00:05 GMT", now)).toBe(5_000);
    expect(parseRetryAfter("Thu Jan  1 00:00:05 2026", now)).toBe(5_000);
    expect(parseRetryAfter(new Date(now + 90_000).toUTCString(), now)).toBe(90_000);
  });

  it("a date in the past means now", () => {
    expect(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now)).toBe(0);
    expect(parseRetryAfter("Friday, 01-Jan-99 00:00:00 GMT", now)).toBe(0); // 1999: two-digit years are never > 50 years ahead
    expect(parseRetryAfter(new Date(now - 1_000).toUTCString(), now)).toBe(0);
  });

  it("refuses what only looks like a date", () => {
    for (const value of [
      "Sun, 31 Feb 2026 00:00:00 GMT", // no such day
      "Thu, 01 Jan 2026 24:00:00 GMT",
      "thu, 01 jan 2026 00:00:05 gmt", // HTTP-date is case-sensitive
      "Thu, 01 Jan 2026 00:00:05 UTC",
      "Thu, 1 Jan 2026 00:00:05 GMT",
      "2026-01-01T00:00:05Z",
      "Thu, 01 Jan 2026",
      "-1 Jan 2026",
    ]) {
      expect(parseRetryAfter(value, now), value).toBeUndefined();
    }
  });
});
