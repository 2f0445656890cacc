/**
 * The refresh_token grant on its own (refreshTokenGrant over a recording provider that keeps every
 * successor for ever): the grace window must be enforced by the grant itself, whatever a provider keeps,
 * at its exact millisecond and not at all when it is 0; only an identical retry gets the same response;
 * each refusal says what was wrong; bookkeeping after a committed rotation cannot fail the request.
 */
import { describe, expect, it } from "vitest";
import { refreshTokenGrant, type RefreshGrantDeps } from "../../src/server/grant-refresh-token.js";
import { OAuthServerError, hashToken, type AccessToken, type RefreshToken, type Revocation } from "../../src/server/index.js";
import { mintTokens, type TokenResponseBody } from "../../src/server/issue-tokens.js";
import { resolveProviderOptions } from "../../src/server/options.js";
import { preRegistered } from "./support.js";

const t0 = 1_700_000_000_000;
const client = preRegistered("c", { grant_types: ["authorization_code", "refresh_token"] });

function setup(options: { graceSeconds?: number; accessTokenTtlSeconds?: number } = {}) {
  const clock = { now: t0 };
  const errors: unknown[] = [];
  const o = resolveProviderOptions({
    baseUrl: "http://127.0.0.1:1",
    clientRegistration: { enabled: true, validScopes: ["a", "b"] },
    refreshTokenGraceSeconds: options.graceSeconds ?? 30,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 3600,
    now: () => clock.now,
    onError: (error) => void errors.push(error),
  });
  const refresh = new Map<string, RefreshToken>();
  const access = new Map<string, AccessToken>();
  const revoked: Revocation[] = [];
  const minted = mintTokens({ grantId: "g", clientId: "c", scopes: ["a", "b"], resource: o.resource, subject: "user", grantExpiresAt: t0 + 86_400_000 }, ["a", "b"], true, o);
  refresh.set(minted.records.refreshToken!.id, minted.records.refreshToken!);
  access.set(minted.records.accessToken.id, minted.records.accessToken);
  const deps: RefreshGrantDeps & { failAccessLookup?: boolean; loseRace?: boolean } = {
    loadRefreshToken: async (id) => refresh.get(id) && { ...refresh.get(id)! },
    loadAccessToken: async (id) => {
      if (deps.failAccessLookup) throw new Error("store timeout");
      return access.get(id);
    },
    exchangeRefreshToken: async (current, rotation) => {
      const stored = refresh.get(current.id);
      if (deps.loseRace) refresh.delete(current.id);
      if (!stored || stored.rotatedAt !== undefined || deps.loseRace) return false;
      // Keeps the sealed successor for ever: the window is the grant's to enforce.
      Object.assign(stored, { rotatedAt: rotation.rotatedAt, successorId: rotation.successorId, successor: rotation.successor });
      refresh.set(rotation.tokens.refreshToken!.id, rotation.tokens.refreshToken!);
      access.set(rotation.tokens.accessToken.id, rotation.tokens.accessToken);
      return true;
    },
    revokeToken: async (revocation) => {
      revoked.push(revocation);
      if (revocation.type === "access_token") access.delete(revocation.token.id);
    },
  };
  const use = (form: Record<string, string | undefined>) => {
    const map = new Map(Object.entries(form).filter((entry): entry is [string, string] => entry[1] !== undefined));
    return refreshTokenGrant(client, map, o, deps).catch((error: unknown) => {
      if (error instanceof OAuthServerError) return error;
      throw error;
    });
  };
  return { clock, o, deps, use, revoked, errors, access, refresh, first: minted.body.refresh_token!, o_resource: o.resource };
}

const refused = (error: string, description: string) => expect.objectContaining({ error, description });
const unusable = "the refresh token is invalid, expired, revoked or was issued to another client";
const reused = "the refresh token was already used; the grant is revoked and the user must authorize again";
const grantRevoked = { type: "grant", grantId: "g", clientId: "c", reason: "refresh_token_reuse" };

describe("refreshTokenGrant: refusals", () => {
  it("says what is missing or wrong", async () => {
    const s = setup();
    expect(await s.use({})).toEqual(refused("invalid_request", "refresh_token is required"));
    expect(await s.use({ refresh_token: "unknown" })).toEqual(refused("invalid_grant", unusable));
    expect(await s.use({ refresh_token: s.first, resource: "http://127.0.0.1:2/mcp" })).toEqual(refused("invalid_target", "resource differs from the one the grant is bound to"));
    const long = Array.from({ length: 60 }, (_, i) => `scope-number-${i}`).join(" ");
    const widened = (await s.use({ refresh_token: s.first, scope: `a ${long}` })) as OAuthServerError;
    expect(widened.error).toBe("invalid_scope");
    expect(widened.description).toBe(`a refresh may only narrow the granted scope; not granted: ${long.slice(0, 200)}`);
  });

  it("a rotation lost to a revocation (the token is gone) is refused, not answered with a successor", async () => {
    const s = setup();
    s.deps.loseRace = true;
    expect(await s.use({ refresh_token: s.first })).toEqual(refused("invalid_grant", unusable));
  });
});

describe("refreshTokenGrant: after a committed rotation", () => {
  it("revokes the previous access token; a lookup that fails goes to onError and the client still gets its tokens", async () => {
    const s = setup();
    expect(await s.use({ refresh_token: s.first })).toHaveProperty("access_token");
    expect(s.revoked.map((r) => r.type)).toEqual(["access_token"]);

    const failing = setup();
    failing.deps.failAccessLookup = true;
    expect(await failing.use({ refresh_token: failing.first })).toHaveProperty("access_token");
    expect(failing.errors).toEqual([new Error("store timeout")]);
  });

  it("revokes nothing when the previous access token is already gone", async () => {
    const s = setup();
    s.access.clear();
    expect(await s.use({ refresh_token: s.first })).toHaveProperty("access_token");
    expect(s.revoked).toEqual([]);
  });
});

describe("refreshTokenGrant: the grace window, enforced by the grant whatever the provider keeps", () => {
  it("an identical retry gets the same response until the window's last millisecond, then revokes the grant", async () => {
    const s = setup();
    const fresh = (await s.use({ refresh_token: s.first })) as TokenResponseBody;
    s.clock.now = t0 + 29_999;
    expect(await s.use({ refresh_token: s.first })).toMatchObject({ access_token: fresh.access_token, refresh_token: fresh.refresh_token });
    s.clock.now = t0 + 30_000;
    expect(await s.use({ refresh_token: s.first })).toEqual(refused("invalid_grant", reused));
    expect(s.revoked.at(-1)).toEqual(grantRevoked);
  });

  it("a window of 0 is off: even an immediate retry revokes", async () => {
    const s = setup({ graceSeconds: 0 });
    await s.use({ refresh_token: s.first });
    expect(await s.use({ refresh_token: s.first })).toEqual(refused("invalid_grant", reused));
    expect(s.revoked.at(-1)).toEqual(grantRevoked);
  });

  it("a retry that adds a scope or a resource the first request did not send is not the same request", async () => {
    for (const extra of [{ scope: "a b" }, { resource: "http://127.0.0.1:1/mcp" }]) {
      const s = setup();
      await s.use({ refresh_token: s.first });
      expect(await s.use({ refresh_token: s.first, ...extra })).toEqual(refused("invalid_grant", reused));
    }
    const s = setup();
    await s.use({ refresh_token: s.first, scope: "a" });
    expect(await s.use({ refresh_token: s.first })).toEqual(refused("invalid_grant", reused));
    // Another value is another request too, even one naming the same resource in another spelling.
    for (const [first, retry] of [[{ scope: "a" }, { scope: "b" }], [{ resource: "http://127.0.0.1:1/mcp" }, { resource: "http://127.0.0.1:1/mcp/" }]] as const) {
      const r = setup();
      await r.use({ refresh_token: r.first, ...first });
      expect(await r.use({ refresh_token: r.first, ...retry })).toEqual(refused("invalid_grant", reused));
    }
  });

  it("an access token that expired inside the window is handed out again with expires_in 0, from its expiry on", async () => {
    const s = setup({ accessTokenTtlSeconds: 10 });
    const fresh = (await s.use({ refresh_token: s.first })) as TokenResponseBody;
    // An expired access token is gone from the store (swept), which is not a revocation.
    s.access.delete(hashToken(fresh.access_token));
    s.clock.now = t0 + 10_000;
    expect(await s.use({ refresh_token: s.first })).toMatchObject({ access_token: fresh.access_token, expires_in: 0 });
  });
});
