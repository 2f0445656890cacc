import { randomUUID } from "node:crypto";
import { createConnection } from "node:net";
import KeyvRedis, { createClient } from "@keyv/redis";
import Keyv from "keyv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyvOAuthProvider, memoryAtomicStore, redisAtomicStore } from "../../examples/keyv-oauth-provider.js";
import { Client } from "../../src/client.js";
import { OAuth } from "../../src/index.js";
import { startOAuthProviderServer } from "../../examples/oauth-provider-server.js";
import {
  InMemoryOAuthProvider,
  StoreOAuthProvider,
  hashToken,
  type AccessToken,
  type AuthorizationCode,
  type OAuthProvider,
  type ProviderStore,
  type RefreshToken,
  type TokenSet,
} from "../../src/server/index.js";
import { captureLogger } from "../support/openers.js";
import { useBackends, recording } from "./store-backends.js";
import { closeLater } from "./support.js";

/**
 * S28: every storage adapter must make consume and rotate atomic, and revoke whole grants. The same
 * contract runs against each provider: the in-memory reference, the Keyv example over an in-memory
 * Keyv, the Keyv example over real Redis on 127.0.0.1:6379, and `StoreOAuthProvider` on each
 * `ProviderStore` (memory, real Redis, real PostgreSQL; these fail, never skip, when the server is down).
 */
const redisUrl = "redis://127.0.0.1:6379";
const redisUp = await new Promise<boolean>((resolve) => {
  const socket = createConnection({ host: "127.0.0.1", port: 6379 }, () => {
    socket.end();
    resolve(true);
  });
  socket.on("error", () => resolve(false));
  socket.setTimeout(1000, () => {
    socket.destroy();
    resolve(false);
  });
});

type Redis = ReturnType<typeof createClient>;
let redis: Redis | undefined;
beforeAll(async () => {
  if (!redisUp) return;
  redis = createClient({ url: redisUrl });
  await redis.connect();
});
const namespaces: string[] = [];
afterAll(async () => {
  for (const namespace of namespaces) {
    const keys = await redis!.keys(`${namespace}:*`);
    if (keys.length > 0) await redis!.del(keys);
  }
  await redis?.quit();
});

const base = (baseUrl: string | URL) => ({ baseUrl, autoApprove: true, clientRegistration: { enabled: true }, revocation: { enabled: true }, refreshTokenGraceSeconds: 1 });
type Made = { provider: OAuthProvider; snapshot?: () => Promise<string> };
const { backends } = useBackends();
/** One store per backend for the file (a fresh key prefix per provider), made once the servers are connected. */
const stores = new Map<string, ProviderStore>();
beforeAll(async () => {
  for (const backend of backends) stores.set(backend.name, await backend.make());
});
let providers = 0;
const factories: [string, boolean, (baseUrl?: string | URL) => Made][] = [
  ["InMemoryOAuthProvider", true, (baseUrl = "http://127.0.0.1:1") => ({ provider: new InMemoryOAuthProvider(base(baseUrl)) })],
  [
    "KeyvOAuthProvider over an in-memory Keyv",
    true,
    (baseUrl = "http://127.0.0.1:1") => {
      const map = new Map<string, unknown>();
      const provider = new KeyvOAuthProvider({ ...base(baseUrl), keyv: new Keyv({ store: map }), atomic: memoryAtomicStore() });
      return { provider, snapshot: async () => JSON.stringify([...map.entries()]) };
    },
  ],
  [
    `KeyvOAuthProvider over Redis (${redisUrl}${redisUp ? "" : " is not reachable: start redis-server"})`,
    redisUp,
    (baseUrl = "http://127.0.0.1:1") => {
      const namespace = `mcp-oauth-server-test-${randomUUID()}`;
      namespaces.push(namespace);
      const provider = new KeyvOAuthProvider({ ...base(baseUrl), keyv: new Keyv({ store: new KeyvRedis(redis!), namespace }), atomic: redisAtomicStore(redis!, `${namespace}:atomic:`) });
      return {
        provider,
        snapshot: async () => {
          const keys = await redis!.keys(`${namespace}:*`);
          const values = await Promise.all(keys.map((key) => redis!.get(key)));
          return JSON.stringify([keys, values]);
        },
      };
    },
  ],
  ...backends.map((backend): [string, boolean, (baseUrl?: string | URL) => Made] => [
    `StoreOAuthProvider on ${backend.name}`,
    true,
    (baseUrl = "http://127.0.0.1:1") => {
      // Everything written goes through the recorder, so the check below sees every key and value stored.
      const { store, written } = recording(stores.get(backend.name)!);
      const provider = new StoreOAuthProvider({ ...base(baseUrl), store, keyPrefix: `p${++providers}:` });
      return { provider, snapshot: async () => written() };
    },
  ]),
];

function grant(prefix: string, now = Date.now()): { code: AuthorizationCode; tokens: () => TokenSet } {
  const grantId = randomUUID();
  const binding = { grantId, clientId: "c", scopes: ["s"], resource: "http://127.0.0.1:1/mcp", subject: "u", grantExpiresAt: now + 600_000 };
  return {
    code: { ...binding, id: hashToken(`${prefix}-code`), redirectUri: "http://127.0.0.1/cb", redirectUriProvidedExplicitly: true, codeChallenge: "x".repeat(43), expiresAt: now + 60_000 },
    tokens: () => {
      const n = randomUUID();
      const accessToken: AccessToken = { ...binding, id: hashToken(`at-${n}`), issuedAt: now, expiresAt: now + 60_000 };
      const refreshToken: RefreshToken = { ...binding, id: hashToken(`rt-${n}`), issuedAt: now, expiresAt: now + 600_000 };
      return { accessToken, refreshToken };
    },
  };
}

/** A fresh grant whose code has been redeemed for `tokens`. */
async function redeemed(provider: OAuthProvider): Promise<{ g: ReturnType<typeof grant>; tokens: TokenSet }> {
  const g = grant(randomUUID());
  await provider.saveAuthorizationCode(g.code);
  const tokens = g.tokens();
  expect(await provider.exchangeAuthorizationCode(g.code, tokens)).toBe(true);
  return { g, tokens };
}

for (const [name, enabled, make] of factories) {
  describe.skipIf(!enabled)(`provider contract: ${name}`, () => {
    it("of 10 concurrent consumes of one code, exactly one wins, and only its tokens are stored", async () => {
      const { provider } = make();
      const g = grant(randomUUID());
      await provider.saveAuthorizationCode(g.code);
      const sets = Array.from({ length: 10 }, () => g.tokens());
      const results = await Promise.all(sets.map((tokens) => provider.exchangeAuthorizationCode(g.code, tokens)));
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = sets[results.indexOf(true)]!;
      expect(await provider.loadAccessToken(winner.accessToken.id)).toMatchObject({ id: winner.accessToken.id });
      for (const [i, tokens] of sets.entries()) if (!results[i]) expect(await provider.loadAccessToken(tokens.accessToken.id)).toBeUndefined();
      expect((await provider.loadAuthorizationCode(g.code.id))?.consumedAt).toBeTypeOf("number");
    });

    it("of 10 concurrent rotations of one refresh token, exactly one wins, and the rotation is readable", async () => {
      const { provider } = make();
      const { g, tokens: first } = await redeemed(provider);
      const current = (await provider.loadRefreshToken(first.refreshToken!.id))!;
      const rotations = Array.from({ length: 10 }, (_, i) => {
        const tokens = g.tokens();
        return { rotatedAt: Date.now() + i, successorId: tokens.refreshToken!.id, successor: `sealed-${i}`, tokens };
      });
      const results = await Promise.all(rotations.map((rotation) => provider.exchangeRefreshToken(current, rotation)));
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = rotations[results.indexOf(true)]!;
      expect(await provider.loadRefreshToken(current.id)).toMatchObject({ rotatedAt: winner.rotatedAt, successorId: winner.successorId, successor: winner.successor });
      expect(await provider.loadRefreshToken(winner.successorId)).toBeDefined();
    });

    it("keeps the sealed successor only for the grace window, the rotation itself until the token expires", async () => {
      const { provider } = make();
      const { g, tokens: first } = await redeemed(provider);
      const next = g.tokens();
      const rotation = { rotatedAt: Date.now(), successorId: next.refreshToken!.id, successor: "sealed", tokens: next };
      expect(await provider.exchangeRefreshToken(first.refreshToken!, rotation)).toBe(true);
      expect((await provider.loadRefreshToken(first.refreshToken!.id))?.successor).toBe("sealed");
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const later = await provider.loadRefreshToken(first.refreshToken!.id);
      expect(later).toMatchObject({ rotatedAt: rotation.rotatedAt, successorId: rotation.successorId });
      expect(later?.successor).toBeUndefined();
    });

    it("revoking a grant hides its code and every token; revoking an access token hides only it", async () => {
      const { provider } = make();
      const { g, tokens } = await redeemed(provider);
      const { tokens: otherTokens } = await redeemed(provider);

      await provider.revokeToken({ type: "access_token", token: otherTokens.accessToken });
      expect(await provider.loadAccessToken(otherTokens.accessToken.id)).toBeUndefined();
      expect(await provider.loadRefreshToken(otherTokens.refreshToken!.id)).toBeDefined();

      await provider.revokeToken({ type: "grant", grantId: g.code.grantId, clientId: "c", reason: "revoked" });
      expect(await provider.loadAuthorizationCode(g.code.id)).toBeUndefined();
      expect(await provider.loadAccessToken(tokens.accessToken.id)).toBeUndefined();
      expect(await provider.loadRefreshToken(tokens.refreshToken!.id)).toBeUndefined();
      expect(await provider.loadRefreshToken(otherTokens.refreshToken!.id)).toBeDefined();
    });

    it("a full login over HTTP with our OAuth client; the store holds no code, token or secret in the clear (S29)", async () => {
      let snapshot: (() => Promise<string>) | undefined;
      const server = await startOAuthProviderServer({
        autoApprove: true,
        createProvider: (options) => {
          const made = make(options.baseUrl);
          snapshot = made.snapshot;
          // The example server is typed for InMemoryOAuthProvider but uses only the OAuthProvider surface.
          return made.provider as InMemoryOAuthProvider;
        },
      });
      closeLater(server.close);
      const issued: string[] = [];
      let code = "";
      const recordingFetch = async (input: string | URL | Request, init?: RequestInit) => {
        const response = await fetch(input, init);
        if (String(input instanceof Request ? input.url : input).endsWith("/token")) {
          const body = (await response.clone().json()) as { access_token?: string; refresh_token?: string };
          issued.push(...[body.access_token, body.refresh_token].filter((v): v is string => typeof v === "string"));
        }
        return response;
      };
      const openBrowser = async (url: string) => {
        const location = (await fetch(url, { redirect: "manual" })).headers.get("location") ?? "";
        code = new URL(location).searchParams.get("code") ?? "";
        void fetch(location).catch(() => undefined);
      };
      const oauth = new OAuth({ mcpUrl: server.mcpUrl, tokenStorage: new Keyv(), openBrowser, logger: captureLogger(), fetch: recordingFetch });
      const client = new Client(server.mcpUrl, { auth: oauth });
      await client.connect();
      expect(await client.callTool("add", { a: 1, b: 2 })).toMatchObject({ content: [{ type: "text", text: "3" }] });
      await client.close();
      expect(issued).toHaveLength(2);
      expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
      if (snapshot) {
        const stored = await snapshot();
        for (const secret of [...issued, code]) expect(stored).not.toContain(secret);
        for (const secret of [...issued, code]) expect(stored).toContain(hashToken(secret));
      }
    });
  });
}


describe("the Keyv example", () => {
  it("refuses maxRegisteredClients, which it would not enforce, pointing to StoreOAuthProvider", () => {
    const make = () => new KeyvOAuthProvider({ baseUrl: "http://127.0.0.1:1", keyv: new Keyv(), atomic: memoryAtomicStore(), maxRegisteredClients: 10 });
    expect(make).toThrow(/does not enforce maxRegisteredClients; use StoreOAuthProvider/);
  });
});
