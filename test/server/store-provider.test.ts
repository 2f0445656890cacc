import { describe, expect, it } from "vitest";
import { OAuthError } from "../../src/index.js";
import { MemoryProviderStore, StoreOAuthProvider, hashToken, type ProviderStore, type StoreOAuthProviderOptions } from "../../src/server/index.js";
import { REDIRECT_URI, formBody, pkce, preRegistered, type TokenBody } from "./support.js";

/**
 * StoreOAuthProvider in one process: two providers on one `MemoryProviderStore` stand for two replicas
 * (test/server/replicas.test.ts does it with processes and real stores). An injected clock, shared by
 * the providers and the store, expires records without waiting.
 */
const baseUrl = "http://127.0.0.1:1";

interface Replicas {
  a: StoreOAuthProvider;
  b: StoreOAuthProvider;
  store: MemoryProviderStore;
  clock: { now: number };
}

function replicas(options: Partial<StoreOAuthProviderOptions> = {}, store?: ProviderStore): Replicas {
  const clock = { now: Date.now() };
  const memory = new MemoryProviderStore({ now: () => clock.now });
  const make = () =>
    new StoreOAuthProvider({
      baseUrl,
      store: store ?? memory,
      clientRegistration: { enabled: true },
      revocation: { enabled: true },
      rateLimits: false,
      now: () => clock.now,
      onError: () => undefined,
      ...options,
    });
  return { a: make(), b: make(), store: memory, clock };
}

const url = (path: string) => `${baseUrl}${path}`;
const post = (p: StoreOAuthProvider, path: string, form: Record<string, string | undefined>, headers: Record<string, string> = {}) =>
  p.handle(new Request(url(path), { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: formBody(form) }));

async function register(p: StoreOAuthProvider): Promise<Response> {
  return p.handle(
    new Request(url("/register"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"] }),
    }),
  );
}

async function client(p: StoreOAuthProvider): Promise<string> {
  const response = await register(p);
  expect(response.status).toBe(201);
  return ((await response.json()) as { client_id: string }).client_id;
}

/** GET /authorize; returns the response and the verifier. */
async function authorize(p: StoreOAuthProvider, clientId: string): Promise<{ response: Response; verifier: string }> {
  const { verifier, challenge } = pkce();
  const target = new URL(url("/authorize"));
  for (const [k, v] of Object.entries({ response_type: "code", client_id: clientId, redirect_uri: REDIRECT_URI, code_challenge: challenge, code_challenge_method: "S256", state: "s" })) {
    target.searchParams.set(k, v);
  }
  return { response: await p.handle(new Request(target)), verifier };
}

/** The consent page as a browser has it after loading it from `p`. */
async function consentPage(p: StoreOAuthProvider, consentUrl: string): Promise<{ status: number; request: string; csrf: string; cookie: string }> {
  const page = await p.handle(new Request(consentUrl));
  const html = await page.text();
  const field = (name: string) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))?.[1] ?? "";
  return { status: page.status, request: field("request"), csrf: field("csrf"), cookie: (page.headers.getSetCookie()[0] ?? "").split(";")[0] ?? "" };
}

function decide(p: StoreOAuthProvider, c: { request: string; csrf: string; cookie: string }, decision = "approve"): Promise<Response> {
  return post(p, "/consent", { request: c.request, csrf: c.csrf, decision }, { cookie: c.cookie, origin: new URL(baseUrl).origin });
}

/** Authorize at `a`, consent at `b`, redeem at `a`; returns the tokens. */
async function login(r: Replicas, clientId: string): Promise<TokenBody> {
  const { response, verifier } = await authorize(r.a, clientId);
  const c = await consentPage(r.a, response.headers.get("location") ?? "");
  const approved = await decide(r.b, c);
  expect(approved.status).toBe(303);
  const code = new URL(approved.headers.get("location") ?? "").searchParams.get("code") ?? "";
  const redeemed = await post(r.a, "/token", { grant_type: "authorization_code", client_id: clientId, code, code_verifier: verifier, redirect_uri: REDIRECT_URI });
  expect(redeemed.status).toBe(200);
  return (await redeemed.json()) as TokenBody;
}

describe("StoreOAuthProvider options", () => {
  it("checks its options with the same zod check: a store is required, unknown options are refused", () => {
    const attempt = (options: Record<string, unknown>) => () => new StoreOAuthProvider(options as unknown as StoreOAuthProviderOptions);
    expect(attempt({ baseUrl })).toThrow(OAuthError);
    expect(attempt({ baseUrl })).toThrow(/`store`/);
    expect(attempt({ baseUrl, store: { get() {} } })).toThrow(/`store`/);
    expect(attempt({ baseUrl, store: new MemoryProviderStore(), bogus: 1 })).toThrow(/bogus/);
    expect(attempt({ baseUrl, store: new MemoryProviderStore(), maxRegisteredClients: 0 })).toThrow(/maxRegisteredClients/);
  });

  it("keeps its keys under keyPrefix", async () => {
    const r = replicas({ keyPrefix: "tenant-1:" });
    const id = await client(r.a);
    expect(await r.store.get(`tenant-1:client:${id}`)).toBeDefined();
    expect(await r.store.get(`client:${id}`)).toBeUndefined();
  });

  it("pre-registered clients are served from the options, count toward nothing and have trusted redirect URIs", async () => {
    const r = replicas({ clients: [preRegistered("known")], maxRegisteredClients: 1 });
    expect(await r.b.getClient("known")).toMatchObject({ client_id: "known" });
    expect((await register(r.a)).status).toBe(201);
    // A bad request from a trusted client is redirected back to it, not shown on the error page.
    const target = new URL(url("/authorize"));
    for (const [k, v] of Object.entries({ response_type: "token", client_id: "known", redirect_uri: REDIRECT_URI })) target.searchParams.set(k, v);
    const response = await r.a.handle(new Request(target));
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toContain("error=unsupported_response_type");
  });
});

describe("StoreOAuthProvider: the consent page across replicas", () => {
  it("the page loaded from A is approved at B; the code is redeemed at A; B's guard accepts the token", async () => {
    const r = replicas();
    const id = await client(r.a);
    const issued = await login(r, id);
    expect((await r.b.checkAuthorization(`Bearer ${issued.access_token}`)).auth?.clientId).toBe(id);
  });

  it("a wrong CSRF token (or cookie) at B is refused and does not destroy the pending consent", async () => {
    const r = replicas();
    const id = await client(r.a);
    const { response } = await authorize(r.a, id);
    const c = await consentPage(r.a, response.headers.get("location") ?? "");
    expect((await decide(r.b, { ...c, csrf: "forged" })).status).toBe(403);
    expect((await decide(r.b, { ...c, cookie: `${c.cookie.split("=")[0]}=forged` })).status).toBe(403);
    expect((await decide(r.b, { ...c, request: "x".repeat(43) })).status).toBe(403);
    // Cookie and form agree (double submit passes) but the server never issued that token.
    expect((await decide(r.b, { ...c, csrf: "forged", cookie: `${c.cookie.split("=")[0]}=forged` })).status).toBe(403);
    expect((await decide(r.b, c)).status).toBe(303);
  });

  it("a form is used once: of concurrent posts to A and B exactly one is approved", async () => {
    const r = replicas();
    const id = await client(r.a);
    const { response } = await authorize(r.a, id);
    const c = await consentPage(r.a, response.headers.get("location") ?? "");
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => decide(i % 2 ? r.a : r.b, c)));
    expect(results.map((x) => x.status).sort()).toEqual([303, ...Array(9).fill(403)]);
    expect((await decide(r.a, c)).status).toBe(403);
  });

  it("denying at B sends access_denied; authenticateUser decides who the user is on every replica", async () => {
    const r = replicas({ authenticateUser: (request) => (request.headers.get("cookie")?.includes("session=alice") ? "alice" : undefined) });
    const id = await client(r.a);
    const { response } = await authorize(r.a, id);
    const consentUrl = response.headers.get("location") ?? "";
    expect((await r.b.handle(new Request(consentUrl))).status).toBe(401);
    const page = await r.b.handle(new Request(consentUrl, { headers: { cookie: "session=alice" } }));
    const html = await page.text();
    expect(html).toContain("<strong>alice</strong>");
    const csrf = html.match(/name="csrf" value="([^"]*)"/)?.[1] ?? "";
    const cookie = `${(page.headers.getSetCookie()[0] ?? "").split(";")[0]}; session=alice`;
    const denied = await decide(r.a, { request: new URL(consentUrl).searchParams.get("request") ?? "", csrf, cookie }, "deny");
    expect(new URL(denied.headers.get("location") ?? "").searchParams.get("error")).toBe("access_denied");
  });

  it("autoApprove approves at once, and denies a user authenticateUser does not know", async () => {
    const r = replicas({ autoApprove: true, authenticateUser: () => undefined });
    const id = await client(r.a);
    const { response } = await authorize(r.a, id);
    expect(new URL(response.headers.get("location") ?? "").searchParams.get("error")).toBe("access_denied");
    const yes = replicas({ autoApprove: true });
    const { response: approved } = await authorize(yes.a, await client(yes.a));
    expect(new URL(approved.headers.get("location") ?? "").searchParams.get("code")).toBeTruthy();
  });

  it("a pending consent expires after 10 minutes on every replica", async () => {
    const r = replicas();
    const id = await client(r.a);
    const { response } = await authorize(r.a, id);
    const consentUrl = response.headers.get("location") ?? "";
    const c = await consentPage(r.a, consentUrl);
    r.clock.now += 601_000;
    expect((await r.b.handle(new Request(consentUrl))).status).toBe(400);
    expect((await decide(r.b, c)).status).toBe(403);
  });
});

describe("StoreOAuthProvider: caps and lifetimes in the store", () => {
  it("maxRegisteredClients: at most that many registrations per unusedRegistrationTtlSeconds window, across replicas", async () => {
    const r = replicas({ maxRegisteredClients: 2, unusedRegistrationTtlSeconds: 60 });
    expect((await register(r.a)).status).toBe(201);
    expect((await register(r.b)).status).toBe(201);
    const refused = await register(r.a);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: "access_denied" });
    r.clock.now += 60_000;
    expect((await register(r.b)).status).toBe(201);
  });

  it("an unused registration expires after unusedRegistrationTtlSeconds; one that obtained a token stays for grantLifetimeSeconds, extended by each issuance", async () => {
    const r = replicas({ unusedRegistrationTtlSeconds: 60, grantLifetimeSeconds: 3600, refreshTokenTtlSeconds: 3600, accessTokenTtlSeconds: 600 });
    const idle = await client(r.a);
    const used = await client(r.a);
    const first = await login(r, used);
    r.clock.now += 61_000;
    expect(await r.b.getClient(idle)).toBeUndefined();
    expect(await r.b.getClient(used)).toBeDefined();
    // 30 minutes later a refresh extends the client to an hour from then.
    r.clock.now += 1800_000;
    const refreshed = await post(r.b, "/token", { grant_type: "refresh_token", client_id: used, refresh_token: first.refresh_token });
    expect(refreshed.status).toBe(200);
    r.clock.now += 1800_000;
    expect(await r.a.getClient(used)).toBeDefined();
    r.clock.now += 1800_000;
    expect(await r.a.getClient(used)).toBeUndefined();
  });

  it("maxPendingConsents: at most that many consent requests per 10-minute window; nobody's is evicted", async () => {
    const r = replicas({ maxPendingConsents: 2 });
    const id = await client(r.a);
    const first = await authorize(r.a, id);
    const second = await authorize(r.b, id);
    const refused = await authorize(r.a, id);
    expect(new URL(refused.response.headers.get("location") ?? "").searchParams.get("error")).toBe("temporarily_unavailable");
    for (const { response } of [first, second]) expect((await consentPage(r.b, response.headers.get("location") ?? "")).status).toBe(200);
    r.clock.now += 600_000;
    expect(new URL((await authorize(r.b, id)).response.headers.get("location") ?? "").pathname).toBe("/consent");
  });

  it("every record has a TTL: codes, tokens, the sealed successor, the revoked marker and consents leave the store", async () => {
    const r = replicas({ accessTokenTtlSeconds: 60, refreshTokenTtlSeconds: 600, grantLifetimeSeconds: 1200, refreshTokenGraceSeconds: 30, authorizationCodeTtlSeconds: 120 });
    const id = await client(r.a);
    const { response, verifier } = await authorize(r.a, id);
    const c = await consentPage(r.a, response.headers.get("location") ?? "");
    expect(await r.store.get(`consent-csrf:${c.request}`)).toBeDefined();
    const code = new URL((await decide(r.b, c)).headers.get("location") ?? "").searchParams.get("code") ?? "";
    expect(await r.store.get(`consent:${c.request}`)).toBeUndefined();
    expect(await r.store.get(`consent-csrf:${c.request}`)).toBeUndefined();
    const issued = (await (await post(r.a, "/token", { grant_type: "authorization_code", client_id: id, code, code_verifier: verifier, redirect_uri: REDIRECT_URI })).json()) as TokenBody;
    const rotated = (await (await post(r.b, "/token", { grant_type: "refresh_token", client_id: id, refresh_token: issued.refresh_token })).json()) as TokenBody;
    const [codeId, atId, rtId] = [hashToken(code), hashToken(rotated.access_token), hashToken(issued.refresh_token!)];
    expect(await r.store.get(`code-consumed:${codeId}`)).toBeDefined();
    expect(await r.store.get(`rt-successor:${rtId}:${hashToken(rotated.refresh_token!)}`)).toBeDefined();

    r.clock.now += 30_000;
    expect(await r.store.get(`rt-successor:${rtId}:${hashToken(rotated.refresh_token!)}`)).toBeUndefined();
    expect(await r.store.get(`rt-rotated:${rtId}`)).toBeDefined();
    r.clock.now += 30_000;
    expect(await r.store.get(`at:${atId}`)).toBeUndefined();
    r.clock.now += 60_000;
    expect(await r.store.get(`code:${codeId}`)).toBeUndefined();
    // A single-use marker outlives what it guards by the replicas' clock margin (5 minutes).
    expect(await r.store.get(`code-consumed:${codeId}`)).toBeDefined();

    const grantKey = (await r.a.loadRefreshToken(hashToken(rotated.refresh_token!)))!.grantId;
    await post(r.a, "/revoke", { client_id: id, token: rotated.refresh_token });
    expect(await r.store.get(`grant-revoked:${grantKey}`)).toBe("revoked");
    expect(await r.a.loadRefreshToken(hashToken(rotated.refresh_token!))).toBeUndefined();
    r.clock.now += 300_000;
    expect(await r.store.get(`code-consumed:${codeId}`)).toBeUndefined();
    r.clock.now += 180_000;
    expect(await r.store.get(`rt:${rtId}`)).toBeUndefined();
    expect(await r.store.get(`rt-rotated:${rtId}`)).toBeDefined();
    r.clock.now += 300_000;
    expect(await r.store.get(`rt-rotated:${rtId}`)).toBeUndefined();
    // The marker outlives every token of the grant (grantLifetimeSeconds from the revocation, plus the margin).
    r.clock.now += 719_000;
    expect(await r.store.get(`grant-revoked:${grantKey}`)).toBe("revoked");
    r.clock.now += 1_000;
    expect(await r.store.get(`grant-revoked:${grantKey}`)).toBeUndefined();
  });

  it("a replayed code revokes its grant on every replica; a rotated refresh token replayed after the grace window too", async () => {
    const r = replicas({ refreshTokenGraceSeconds: 5 });
    const id = await client(r.a);
    const { response, verifier } = await authorize(r.a, id);
    const c = await consentPage(r.a, response.headers.get("location") ?? "");
    const code = new URL((await decide(r.b, c)).headers.get("location") ?? "").searchParams.get("code") ?? "";
    const redeem = (p: StoreOAuthProvider) => post(p, "/token", { grant_type: "authorization_code", client_id: id, code, code_verifier: verifier, redirect_uri: REDIRECT_URI });
    const issued = (await (await redeem(r.a)).json()) as TokenBody;
    expect((await r.b.checkAuthorization(`Bearer ${issued.access_token}`)).auth).toBeDefined();
    expect((await redeem(r.b)).status).toBe(400);
    expect((await r.a.checkAuthorization(`Bearer ${issued.access_token}`)).response?.status).toBe(401);

    const other = await login(r, id);
    const next = (await (await post(r.a, "/token", { grant_type: "refresh_token", client_id: id, refresh_token: other.refresh_token })).json()) as TokenBody;
    r.clock.now += 5_000;
    expect((await post(r.b, "/token", { grant_type: "refresh_token", client_id: id, refresh_token: other.refresh_token })).status).toBe(400);
    expect((await r.a.checkAuthorization(`Bearer ${next.access_token}`)).response?.status).toBe(401);
  });
});

describe("StoreOAuthProvider: concurrent refreshes", () => {
  it("of 10 concurrent refreshes of one token across replicas, all get the one successor (it is stored before the rotation is claimed)", async () => {
    const r = replicas();
    const id = await client(r.a);
    const first = await login(r, id);
    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => post(i % 2 ? r.a : r.b, "/token", { grant_type: "refresh_token", client_id: id, refresh_token: first.refresh_token })));
    expect(responses.map((x) => x.status)).toEqual(Array(10).fill(200));
    const bodies = (await Promise.all(responses.map((x) => x.json()))) as TokenBody[];
    expect(new Set(bodies.map((body) => body.refresh_token)).size).toBe(1);
    expect((await r.b.checkAuthorization(`Bearer ${bodies[0]!.access_token}`)).auth).toBeDefined();
  });

  it("the same with slow writes: whoever sees the rotation finds the successor already stored", async () => {
    const memory = new MemoryProviderStore();
    // Writes take 50 ms, claims are immediate: a rotation claimed before its successor is written shows.
    const slow: ProviderStore = {
      get: (k) => memory.get(k),
      set: async (k, v, t) => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        await memory.set(k, v, t);
      },
      add: (k, v, t) => memory.add(k, v, t),
      take: (k) => memory.take(k),
      delete: (k) => memory.delete(k),
      increment: (k, t) => memory.increment(k, t),
    };
    const r = replicas({}, slow);
    const id = await client(r.a);
    const first = await login(r, id);
    const responses = await Promise.all([r.a, r.b, r.a].map((p) => post(p, "/token", { grant_type: "refresh_token", client_id: id, refresh_token: first.refresh_token })));
    expect(responses.map((x) => x.status)).toEqual([200, 200, 200]);
    const bodies = (await Promise.all(responses.map((x) => x.json()))) as TokenBody[];
    expect(new Set(bodies.map((body) => body.refresh_token)).size).toBe(1);
  });
});

describe("StoreOAuthProvider when the store fails", () => {
  /** A MemoryProviderStore with a switch: while down, every method rejects; counts the removals attempted. */
  function switchable(): { store: ProviderStore; memory: MemoryProviderStore; down: { on: boolean }; removals: string[] } {
    const memory = new MemoryProviderStore();
    const down = { on: false };
    const removals: string[] = [];
    const guard = <A extends unknown[], R>(method: (...args: A) => Promise<R>, removes = false) =>
      async (...args: A): Promise<R> => {
        if (down.on) {
          if (removes) removals.push(String(args[0]));
          throw new Error("store unreachable");
        }
        return method(...args);
      };
    const store: ProviderStore = {
      get: guard((k) => memory.get(k)),
      set: guard((k, v, t) => memory.set(k, v, t)),
      add: guard((k, v, t) => memory.add(k, v, t)),
      take: guard((k) => memory.take(k), true),
      delete: guard((k) => memory.delete(k), true),
      increment: guard((k, t) => memory.increment(k, t)),
    };
    return { store, memory, down, removals };
  }

  it("the guard answers 503 with Retry-After (never 401), /token answers 5xx (never 401), and nothing is deleted", async () => {
    const s = switchable();
    const errors: unknown[] = [];
    const r = replicas({ onError: (e) => errors.push(e) }, s.store);
    const id = await client(r.a);
    const issued = await login(r, id);
    const unused = await authorize(r.a, id);
    const consent = await consentPage(r.a, unused.response.headers.get("location") ?? "");
    const before = JSON.stringify(await Promise.all([`at:${hashToken(issued.access_token)}`, `rt:${hashToken(issued.refresh_token!)}`].map((key) => s.memory.get(key))));

    s.down.on = true;
    const check = await r.b.checkAuthorization(`Bearer ${issued.access_token}`);
    expect(check.response?.status).toBe(503);
    expect(check.response?.headers.get("retry-after")).toBe("5");
    expect(check.response?.headers.get("www-authenticate")).toBeNull();
    expect(await check.response?.json()).toMatchObject({ error: "temporarily_unavailable" });
    const refresh = await post(r.a, "/token", { grant_type: "refresh_token", client_id: id, refresh_token: issued.refresh_token });
    expect(refresh.status).toBeGreaterThanOrEqual(500);
    expect(await refresh.json()).toMatchObject({ error: "server_error" });
    const code = await post(r.a, "/token", { grant_type: "authorization_code", client_id: id, code: "c".repeat(43), code_verifier: "v".repeat(43) });
    expect(code.status).toBeGreaterThanOrEqual(500);
    const revoke = await post(r.a, "/revoke", { client_id: id, token: issued.refresh_token });
    expect(revoke.status).toBeGreaterThanOrEqual(500);
    expect((await decide(r.b, consent)).status).toBeGreaterThanOrEqual(500);
    expect((await register(r.b)).status).toBeGreaterThanOrEqual(500);
    expect(s.removals).toEqual([]);
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) expect(String((error as Error).message)).toBe("store unreachable");

    // Back up: the same tokens and the pending consent work as before.
    s.down.on = false;
    expect(JSON.stringify(await Promise.all([`at:${hashToken(issued.access_token)}`, `rt:${hashToken(issued.refresh_token!)}`].map((key) => s.memory.get(key))))).toBe(before);
    expect((await r.b.checkAuthorization(`Bearer ${issued.access_token}`)).auth).toBeDefined();
    expect((await post(r.b, "/token", { grant_type: "refresh_token", client_id: id, refresh_token: issued.refresh_token })).status).toBe(200);
    expect((await decide(r.b, consent)).status).toBe(303);
  });
});
