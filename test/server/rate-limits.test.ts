import { request as httpRequest } from "node:http";
import { createClient } from "@keyv/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InMemoryOAuthProvider, MemoryRateLimiter, RedisRateLimiter, toNodeListener, type InMemoryOAuthProviderOptions } from "../../src/server/index.js";
import { redisUp, redisUrl, uniqueNamespace } from "../support/backends.js";
import { listenLocal } from "../support/local-server.js";
import { closeLater } from "./support.js";

/**
 * Built-in rate limits of /register, /authorize, /token and /revoke: on by default, per client address and
 * overall, 429 with Retry-After. An anonymous flood from one address stops at its own budget and leaves
 * everyone else's alone; one from many addresses stops at the overall budget.
 */
const base = "http://127.0.0.1:1";
const metadata = JSON.stringify({ redirect_uris: ["http://127.0.0.1:9/callback"], token_endpoint_auth_method: "none" });

function provider(options: Partial<InMemoryOAuthProviderOptions> = {}) {
  const clock = { now: 1_000_000 };
  const p = new InMemoryOAuthProvider({ baseUrl: base, clientRegistration: { enabled: true }, revocation: { enabled: true }, now: () => clock.now, ...options });
  const register = (clientAddress?: string) =>
    p.handle(new Request(`${base}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: metadata }), clientAddress === undefined ? {} : { clientAddress });
  return { p, clock, register };
}

describe("rate limits (on by default)", () => {
  it("an anonymous /register flood from one address is cut off at 20 an hour, with Retry-After; other addresses still register", async () => {
    const { register, clock } = provider();
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) statuses.push((await register("198.51.100.7")).status);
    expect(statuses.slice(0, 20).every((status) => status === 201)).toBe(true);
    expect(statuses.slice(20).every((status) => status === 429)).toBe(true);
    const refused = await register("198.51.100.7");
    expect(refused.headers.get("retry-after")).toBe("3600");
    expect(await refused.json()).toMatchObject({ error: "temporarily_unavailable" });
    expect((await register("203.0.113.5")).status).toBe(201);
    // The window ends, the budget is back.
    clock.now += 3_600_000;
    expect((await register("198.51.100.7")).status).toBe(201);
  });

  it("a flood from many addresses stops at the overall budget", async () => {
    const { register } = provider({ rateLimits: { register: { overall: { requests: 5, windowSeconds: 60 } } } });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await register(`192.0.2.${i + 1}`)).status);
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429, 429, 429]);
  });

  it("a request without a client address counts against the overall budget only", async () => {
    const { register } = provider({ rateLimits: { register: { perClient: { requests: 1, windowSeconds: 60 }, overall: { requests: 3, windowSeconds: 60 } } } });
    expect([(await register()).status, (await register()).status, (await register()).status, (await register()).status]).toEqual([201, 201, 201, 429]);
  });

  it("/token and /revoke answer 429 JSON, /authorize a 429 page, each with Retry-After", async () => {
    const { p } = provider({ rateLimits: { token: { perClient: { requests: 1, windowSeconds: 900 } }, revoke: { perClient: { requests: 1, windowSeconds: 900 } }, authorize: { perClient: { requests: 1, windowSeconds: 900 } } } });
    const info = { clientAddress: "198.51.100.7" };
    const form = { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=authorization_code&client_id=x&code=y" };
    for (const path of ["/token", "/revoke"]) {
      expect((await p.handle(new Request(`${base}${path}`, form), info)).status).not.toBe(429);
      const refused = await p.handle(new Request(`${base}${path}`, form), info);
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("900");
      expect(refused.headers.get("content-type")).toBe("application/json");
    }
    expect((await p.handle(new Request(`${base}/authorize?client_id=x`), info)).status).not.toBe(429);
    const page = await p.handle(new Request(`${base}/authorize?client_id=x`), info);
    expect(page.status).toBe(429);
    expect(page.headers.get("retry-after")).toBe("900");
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain("temporarily_unavailable");
  });

  it("rateLimits: false, or false for an endpoint, turns limiting off there", async () => {
    const off = provider({ rateLimits: false });
    for (let i = 0; i < 25; i++) expect((await off.register("198.51.100.7")).status).toBe(201);
    const registerOff = provider({ rateLimits: { register: false, token: { perClient: { requests: 1, windowSeconds: 60 } } } });
    for (let i = 0; i < 25; i++) expect((await registerOff.register("198.51.100.7")).status).toBe(201);
  });

  it("a limiter that fails lets the request through and reports to onError", async () => {
    const reported: unknown[] = [];
    const broken = { hit: () => Promise.reject(new Error("store down")) };
    const { register } = provider({ rateLimits: { limiter: broken }, onError: (error) => reported.push(error) });
    expect((await register("198.51.100.7")).status).toBe(201);
    expect(reported).toEqual([new Error("store down")]);
  });

  it("a shared limiter instance is shared: two providers (replicas) draw on one budget", async () => {
    const clock = { now: 1_000_000 };
    const limiter = new MemoryRateLimiter(() => clock.now);
    const a = provider({ rateLimits: { limiter, register: { perClient: { requests: 2, windowSeconds: 60 } } } });
    const b = provider({ rateLimits: { limiter, register: { perClient: { requests: 2, windowSeconds: 60 } } } });
    expect([(await a.register("198.51.100.7")).status, (await b.register("198.51.100.7")).status, (await a.register("198.51.100.7")).status]).toEqual([201, 201, 429]);
  });

  it("refuses malformed limits at construction", () => {
    expect(() => new InMemoryOAuthProvider({ baseUrl: base, rateLimits: { token: { perClient: { requests: 0, windowSeconds: 60 } } } })).toThrow(/rateLimits/);
    expect(() => new InMemoryOAuthProvider({ baseUrl: base, rateLimits: { limiter: {} as never } })).toThrow(/rateLimits/);
  });
});

describe("MemoryRateLimiter", () => {
  it("stays within maxKeys, forgiving the oldest counters first", async () => {
    const limiter = new MemoryRateLimiter(() => 0, 3);
    const rule = { requests: 1, windowSeconds: 60 };
    for (const key of ["a", "b", "c"]) expect(await limiter.hit(key, rule)).toBe(0);
    expect(await limiter.hit("a", rule)).toBe(60);
    expect(await limiter.hit("d", rule)).toBe(0); // "a", the oldest, is dropped to make room
    expect(await limiter.hit("a", rule)).toBe(0);
    expect(await limiter.hit("d", rule)).toBe(60);
  });
});

describe("the client address the node adapter passes", () => {
  async function server(trustedProxies?: number) {
    const p = new InMemoryOAuthProvider({ baseUrl: base, clientRegistration: { enabled: true }, rateLimits: { register: { perClient: { requests: 1, windowSeconds: 60 } } } });
    const s = await listenLocal(toNodeListener(p.handle, { origin: base, ...(trustedProxies === undefined ? {} : { trustedProxies }) }));
    closeLater(s.close);
    return (forwardedFor?: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${s.origin}/register`, { method: "POST", agent: false, headers: { "content-type": "application/json", ...(forwardedFor ? { "x-forwarded-for": forwardedFor } : {}) } }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end(metadata);
      });
  }

  it("is the socket's by default: a client cannot pick another with X-Forwarded-For", async () => {
    const post = await server();
    expect(await post("192.0.2.1")).toBe(201);
    expect(await post("192.0.2.2")).toBe(429);
  });

  it("with one trusted proxy, the entry that proxy appended (the rightmost), not what the client wrote before it", async () => {
    const post = await server(1);
    expect(await post("192.0.2.1")).toBe(201);
    expect(await post("192.0.2.2")).toBe(201);
    expect(await post("192.0.2.2")).toBe(429);
    // A spoofed entry on the left does not make a new client.
    expect(await post("10.9.9.9, 192.0.2.2")).toBe(429);
  });
});

describe.skipIf(!redisUp)(`RedisRateLimiter (real Redis at ${redisUrl})`, () => {
  const redis = createClient({ url: redisUrl });
  beforeAll(async () => void (await redis.connect()));
  afterAll(async () => void (await redis.close()));

  it("two replicas on one Redis draw on one budget, and the window's end gives it back", async () => {
    const prefix = `${uniqueNamespace()}:`;
    const limiter = () => new RedisRateLimiter(redis, { prefix });
    const rateLimits = (l: RedisRateLimiter) => ({ limiter: l, register: { perClient: { requests: 2, windowSeconds: 1 } } });
    const a = provider({ rateLimits: rateLimits(limiter()), now: Date.now });
    const b = provider({ rateLimits: rateLimits(limiter()), now: Date.now });
    const statuses = [(await a.register("198.51.100.7")).status, (await b.register("198.51.100.7")).status];
    const refused = await a.register("198.51.100.7");
    expect([...statuses, refused.status]).toEqual([201, 201, 429]);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect((await b.register("203.0.113.5")).status).toBe(201);
    // The counter expires with its window in Redis itself.
    const keys = await redis.keys(`${prefix}*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(await redis.pTTL(key)).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await b.register("198.51.100.7")).status).toBe(201);
  });

  it("works with a function that returns the client, and an ioredis-style call()", async () => {
    const prefix = `${uniqueNamespace()}:`;
    const viaCall = { call: (command: string, ...args: string[]) => redis.sendCommand([command, ...args]) };
    const limiter = new RedisRateLimiter(async () => viaCall, { prefix });
    const rule = { requests: 1, windowSeconds: 60 };
    expect(await limiter.hit("k", rule)).toBe(0);
    expect(await limiter.hit("k", rule)).toBe(60);
  });
});
