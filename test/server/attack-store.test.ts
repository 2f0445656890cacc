/**
 * Attacker's view of StoreOAuthProvider on a shared store (src/server/store-oauth-provider.ts): replicas
 * whose clocks differ, store failures in the middle of a rotation, races with revocation, and planted or
 * corrupt records. Tests marked `it.fails` demonstrate a hole (they pass once it is fixed, and must then
 * become plain `it`); the others pin a defence that had no test. Real Redis and PostgreSQL on 127.0.0.1.
 */
import { describe, expect, it } from "vitest";
import { MemoryProviderStore, StoreOAuthProvider, hashToken, type ProviderStore, type StoreOAuthProviderOptions } from "../../src/server/index.js";
import { useBackends } from "./store-backends.js";
import { REDIRECT_URI, formBody, pkce, type TokenBody } from "./support.js";

const baseUrl = "http://127.0.0.1:1";
const { backends } = useBackends();

function provider(store: ProviderStore, options: Partial<StoreOAuthProviderOptions> = {}): StoreOAuthProvider {
  return new StoreOAuthProvider({
    baseUrl,
    store,
    autoApprove: true,
    clientRegistration: { enabled: true },
    revocation: { enabled: true },
    rateLimits: false,
    onError: () => undefined,
    ...options,
  });
}

const post = (p: StoreOAuthProvider, path: string, form: Record<string, string | undefined>) =>
  p.handle(new Request(`${baseUrl}${path}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: formBody(form) }));

async function register(p: StoreOAuthProvider): Promise<string> {
  const response = await p.handle(
    new Request(`${baseUrl}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"] }),
    }),
  );
  expect(response.status).toBe(201);
  return ((await response.json()) as { client_id: string }).client_id;
}

/** /authorize with autoApprove: the code and its verifier. */
async function code(p: StoreOAuthProvider, clientId: string): Promise<{ code: string; verifier: string }> {
  const { verifier, challenge } = pkce();
  const target = new URL(`${baseUrl}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: clientId, redirect_uri: REDIRECT_URI, code_challenge: challenge, code_challenge_method: "S256", state: "s" })) {
    target.searchParams.set(k, v);
  }
  const response = await p.handle(new Request(target));
  expect(response.status).toBe(302);
  return { code: new URL(response.headers.get("location") ?? "").searchParams.get("code") ?? "", verifier };
}

const redeem = (p: StoreOAuthProvider, clientId: string, c: { code: string; verifier: string }) =>
  post(p, "/token", { grant_type: "authorization_code", client_id: clientId, code: c.code, code_verifier: c.verifier, redirect_uri: REDIRECT_URI });
const refresh = (p: StoreOAuthProvider, clientId: string, token: string) => post(p, "/token", { grant_type: "refresh_token", client_id: clientId, refresh_token: token });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("replicas whose clocks differ by one second, on real stores", () => {
  for (const backend of backends.filter((b) => b.name !== "MemoryProviderStore")) {
    // Each TTL is computed from the writing replica's clock: the consumed-code marker (written by the
    // redeeming replica) must outlive the code record (written by the issuing one) whatever the skew, or
    // in the code's last moments a replica whose clock is behind finds it unconsumed and issues a second,
    // independent token set. Single-use markers live 5 minutes longer than what they guard.
    it(`${backend.name}: a code redeemed at the fast replica cannot be redeemed again at the slow one`, async () => {
      const store = await backend.make();
      const slow = provider(store, { authorizationCodeTtlSeconds: 2, now: () => Date.now() - 1000 });
      const fast = provider(store, { authorizationCodeTtlSeconds: 2, now: () => Date.now() });
      const clientId = await register(slow);
      const c = await code(slow, clientId);
      expect((await redeem(fast, clientId, c)).status).toBe(200);
      // The fast replica's marker lives 1 s; the slow replica's code record 2 s.
      await sleep(1300);
      const again = await redeem(slow, clientId, c);
      expect(again.status).toBe(400);
    });
  }
});

describe("a store failure after a rotation is claimed", () => {
  /**
   * A MemoryProviderStore whose second `get` of a client record after `arm()` fails: the first is the
   * token endpoint's client authentication, the second `#keepClient`, after the rotation is claimed.
   */
  function flakyClientReads(): { store: ProviderStore; arm: () => void; failed: () => boolean } {
    const memory = new MemoryProviderStore();
    let reads = -1;
    const store: ProviderStore = {
      get: async (key) => {
        if (reads >= 0 && key.startsWith("client:") && ++reads === 2) {
          reads = -1;
          throw new Error("store timeout");
        }
        return memory.get(key);
      },
      set: (k, v, t) => memory.set(k, v, t),
      add: (k, v, t) => memory.add(k, v, t),
      take: (k) => memory.take(k),
      delete: (k) => memory.delete(k),
      increment: (k, t) => memory.increment(k, t),
    };
    return { store, arm: () => void (reads = 0), failed: () => reads === -1 };
  }

  // Once a rotation is committed, the bookkeeping after it (keeping the client, revoking the previous
  // access token) is best-effort: a 500 there would leave the client holding a rotated refresh token, and
  // with no grace window (or a retry after it) its retry would be a reuse that revokes the grant.
  it("a transient store error in the bookkeeping after the claim does not cost the user the grant (grace 0)", async () => {
    const flaky = flakyClientReads();
    const p = provider(flaky.store, { refreshTokenGraceSeconds: 0 });
    const clientId = await register(p);
    const issued = (await (await redeem(p, clientId, await code(p, clientId))).json()) as TokenBody;
    flaky.arm();
    const first = await refresh(p, clientId, issued.refresh_token ?? "");
    expect(flaky.failed()).toBe(true);
    if (first.status !== 200) {
      // What the client does after a 5xx: the same request again.
      const retry = await refresh(p, clientId, issued.refresh_token ?? "");
      expect(await retry.json()).toMatchObject({ access_token: expect.any(String) });
    }
    expect(first.status).toBe(200);
  });

  it("with the default grace window the same failure is survivable: an immediate retry gets the committed successor", async () => {
    const flaky = flakyClientReads();
    const p = provider(flaky.store);
    const clientId = await register(p);
    const issued = (await (await redeem(p, clientId, await code(p, clientId))).json()) as TokenBody;
    flaky.arm();
    const first = await refresh(p, clientId, issued.refresh_token ?? "");
    expect(flaky.failed()).toBe(true);
    // Today a 500 (see the hole above); once fixed, a 200 at once. Either way the user keeps the grant.
    const answered = first.status === 200 ? first : await refresh(p, clientId, issued.refresh_token ?? "");
    expect(answered.status).toBe(200);
    const body = (await answered.json()) as TokenBody;
    expect((await p.checkAuthorization(`Bearer ${body.access_token}`)).auth).toBeDefined();
    expect((await refresh(p, clientId, body.refresh_token ?? "")).status).toBe(200);
  });
});

describe("races with revocation", () => {
  it("a rotation that passed the revoked check before the grant was revoked hands out tokens that are already dead", async () => {
    const memory = new MemoryProviderStore();
    let hold: (() => void) | undefined;
    let held: (() => void) | undefined;
    const reachedClaim = new Promise<void>((resolve) => (held = resolve));
    const store: ProviderStore = {
      get: (k) => memory.get(k),
      set: (k, v, t) => memory.set(k, v, t),
      add: async (k, v, t) => {
        if (k.startsWith("rt-rotated:") && !hold) {
          await new Promise<void>((resolve) => {
            hold = resolve;
            held?.();
          });
        }
        return memory.add(k, v, t);
      },
      take: (k) => memory.take(k),
      delete: (k) => memory.delete(k),
      increment: (k, t) => memory.increment(k, t),
    };
    const a = provider(store);
    const b = provider(store);
    const clientId = await register(a);
    const issued = (await (await redeem(a, clientId, await code(a, clientId))).json()) as TokenBody;
    const rotating = refresh(a, clientId, issued.refresh_token ?? "");
    await reachedClaim;
    expect((await post(b, "/revoke", { client_id: clientId, token: issued.refresh_token, token_type_hint: "refresh_token" })).status).toBe(200);
    hold?.();
    const rotated = await rotating;
    if (rotated.status === 200) {
      const body = (await rotated.json()) as TokenBody;
      expect((await b.checkAuthorization(`Bearer ${body.access_token}`)).response?.status).toBe(401);
      expect((await refresh(b, clientId, body.refresh_token ?? "")).status).toBe(400);
    } else {
      expect(rotated.status).toBe(400);
    }
    expect((await a.checkAuthorization(`Bearer ${issued.access_token}`)).response?.status).toBe(401);
  });

  it("a code redeemed while its grant is being revoked (a replay at the other replica) yields no live token", async () => {
    const memory = new MemoryProviderStore();
    const store: ProviderStore = {
      get: (k) => memory.get(k),
      set: async (k, v, t) => {
        // Slow token writes: the replay's revocation lands while the winner is still storing.
        if (k.startsWith("at:")) await sleep(50);
        return memory.set(k, v, t);
      },
      add: (k, v, t) => memory.add(k, v, t),
      take: (k) => memory.take(k),
      delete: (k) => memory.delete(k),
      increment: (k, t) => memory.increment(k, t),
    };
    const a = provider(store);
    const b = provider(store);
    const clientId = await register(a);
    const c = await code(a, clientId);
    const answers = await Promise.all([redeem(a, clientId, c), redeem(b, clientId, c)]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 400]);
    const winner = answers.find((r) => r.status === 200)!;
    const body = (await winner.json()) as TokenBody;
    expect((await a.checkAuthorization(`Bearer ${body.access_token}`)).response?.status).toBe(401);
    expect((await refresh(b, clientId, body.refresh_token ?? "")).status).toBe(400);
  });
});

describe("planted or corrupt records", () => {
  it("a corrupt record is an error (5xx / 503), never a valid token, client or code", async () => {
    const memory = new MemoryProviderStore();
    const p = provider(memory);
    const clientId = await register(p);
    const issued = (await (await redeem(p, clientId, await code(p, clientId))).json()) as TokenBody;

    await memory.set(`at:${hashToken(issued.access_token)}`, "{not json", 60_000);
    const guard = await p.checkAuthorization(`Bearer ${issued.access_token}`);
    expect(guard.response?.status).toBe(503);

    await memory.set(`rt:${hashToken(issued.refresh_token ?? "")}`, "[", 60_000);
    const refreshed = await refresh(p, clientId, issued.refresh_token ?? "");
    expect(refreshed.status).toBe(500);
    expect(await refreshed.json()).toMatchObject({ error: "server_error" });

    // `null` and an empty object are records of nothing: unknown, not valid.
    await memory.set(`at:${hashToken(issued.access_token)}`, "null", 60_000);
    expect((await p.checkAuthorization(`Bearer ${issued.access_token}`)).response?.status).toBe(401);
    await memory.set(`client:${clientId}`, "null", 60_000);
    const target = new URL(`${baseUrl}/authorize`);
    for (const [k, v] of Object.entries({ response_type: "code", client_id: clientId, redirect_uri: REDIRECT_URI, code_challenge: pkce().challenge, code_challenge_method: "S256" })) target.searchParams.set(k, v);
    const page = await p.handle(new Request(target));
    expect(page.status).toBe(400);
    expect(page.headers.get("location")).toBeNull();
    await memory.set(`client:${clientId}`, "{}", 60_000);
    const broken = await p.handle(new Request(target));
    expect(broken.status).toBeGreaterThanOrEqual(400);
    expect(broken.headers.get("location")).toBeNull();
  });

  it("a revoked or consumed marker of any value, even empty, counts (fail closed)", async () => {
    const memory = new MemoryProviderStore();
    const p = provider(memory);
    const clientId = await register(p);
    const c = await code(p, clientId);
    await memory.set(`code-consumed:${hashToken(c.code)}`, "", 60_000);
    expect((await redeem(p, clientId, c)).status).toBe(400);
    const c2 = await code(p, clientId);
    const issued = (await (await redeem(p, clientId, c2)).json()) as TokenBody;
    const grantId = JSON.parse((await memory.get(`at:${hashToken(issued.access_token)}`)) ?? "{}").grantId as string;
    await memory.set(`grant-revoked:${grantId}`, "", 60_000);
    expect((await p.checkAuthorization(`Bearer ${issued.access_token}`)).response?.status).toBe(401);
    expect((await refresh(p, clientId, issued.refresh_token ?? "")).status).toBe(400);
  });
});
