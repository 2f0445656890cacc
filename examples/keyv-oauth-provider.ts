/**
 * An example of subclassing `InMemoryOAuthProvider`: its state lives in a Keyv store, so that several
 * server processes share clients, codes and tokens and a restart logs nobody out. The consent page is
 * `InMemoryOAuthProvider`'s; pending consents (10 minutes each) stay in process memory.
 *
 * Not the production provider: it keeps client records without expiry and does not enforce
 * `maxRegisteredClients` (so the constructor refuses that option), and a consent shown by one process
 * cannot be approved at another. For several replicas use `StoreOAuthProvider` from `mcp-oauth/server`,
 * which does all of that on Redis or PostgreSQL.
 *
 * Keyv has get/set/delete but no compare-and-set, and single use of codes and refresh tokens needs one
 * (S28: two concurrent redemptions, exactly one wins; get-then-set lets both through). So the provider
 * also takes an `AtomicStore`: `setIfAbsent` is Redis `SET key value NX PX ttl`.
 *
 *   import { createClient } from "@keyv/redis";
 *   const redis = createClient({ url: "redis://127.0.0.1:6379" }); await redis.connect();
 *   const provider = new KeyvOAuthProvider({ baseUrl, keyv: new Keyv({ store: new KeyvRedis(redis) }), atomic: redisAtomicStore(redis) });
 */
import type Keyv from "keyv";
import { OAuthError } from "../src/index.js";
import {
  InMemoryOAuthProvider,
  hashToken,
  type AccessToken,
  type AuthorizationCode,
  type InMemoryOAuthProviderOptions,
  type RefreshRotation,
  type RefreshToken,
  type RegisteredClient,
  type Revocation,
  type TokenSet,
} from "../src/server/index.js";

/** The one primitive Keyv lacks. */
export interface AtomicStore {
  /** Stores `value` under `key` only if the key is absent, atomically; true when this call stored it. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  get(key: string): Promise<string | undefined>;
}

/** Redis `SET NX PX`, through the node-redis client that `@keyv/redis` uses. */
export function redisAtomicStore(redis: {
  set(key: string, value: string, options: { NX: true; PX: number }): Promise<string | null>;
  get(key: string): Promise<string | null>;
}, prefix = "mcp-oauth-server:atomic:"): AtomicStore {
  return {
    setIfAbsent: async (key, value, ttlMs) => (await redis.set(prefix + key, value, { NX: true, PX: Math.max(1, Math.ceil(ttlMs)) })) === "OK",
    get: async (key) => (await redis.get(prefix + key)) ?? undefined,
  };
}

/** For a single process (and tests): a Map, whose check-and-set runs without an await in between. */
export function memoryAtomicStore(now: () => number = Date.now): AtomicStore {
  const entries = new Map<string, { value: string; expiresAt: number }>();
  const live = (key: string) => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now()) entries.delete(key);
    return entries.get(key);
  };
  return {
    setIfAbsent: async (key, value, ttlMs) => {
      if (live(key)) return false;
      entries.set(key, { value, expiresAt: now() + ttlMs });
      return true;
    },
    get: async (key) => live(key)?.value,
  };
}

export interface KeyvOAuthProviderOptions extends InMemoryOAuthProviderOptions {
  keyv: Keyv;
  atomic: AtomicStore;
}

type Rotated = Pick<RefreshToken, "rotatedAt" | "successorId">;

export class KeyvOAuthProvider extends InMemoryOAuthProvider {
  readonly #keyv: Keyv;
  readonly #atomic: AtomicStore;

  constructor(options: KeyvOAuthProviderOptions) {
    const { keyv, atomic, ...rest } = options;
    // Accepted and ignored would be worse than refused: an operator would believe registrations are capped.
    if (rest.maxRegisteredClients !== undefined) throw new OAuthError("invalid_options", "KeyvOAuthProvider does not enforce maxRegisteredClients; use StoreOAuthProvider");
    super(rest);
    this.#keyv = keyv;
    this.#atomic = atomic;
  }

  override async getClient(clientId: string): Promise<RegisteredClient | undefined> {
    return (await this.#keyv.get<RegisteredClient>(`client:${clientId}`)) ?? (await super.getClient(clientId));
  }

  override async registerClient(client: RegisteredClient): Promise<void> {
    await this.#keyv.set(`client:${client.client_id}`, client);
  }

  override async saveAuthorizationCode(code: AuthorizationCode): Promise<void> {
    await this.#keyv.set(`code:${code.id}`, code, this.#ttl(code.expiresAt));
  }

  override async loadAuthorizationCode(codeId: string): Promise<AuthorizationCode | undefined> {
    const code = await this.#live<AuthorizationCode>(`code:${codeId}`);
    const consumedAt = code && (await this.#atomic.get(`consumed:${codeId}`));
    return code && (consumedAt ? { ...code, consumedAt: Number(consumedAt) } : code);
  }

  /**
   * Tokens first, then the claim: if the claim is lost the tokens are deleted again (nobody ever saw
   * them); if it is won, everything a reader needs is already in place.
   */
  override async exchangeAuthorizationCode(code: AuthorizationCode, tokens: TokenSet): Promise<boolean> {
    if (await this.#revoked(code.grantId)) return false;
    await this.#store(tokens);
    if (await this.#atomic.setIfAbsent(`consumed:${code.id}`, String(this.options.now()), this.#ttl(code.expiresAt))) return true;
    await this.#unstore(tokens);
    return false;
  }

  override async loadRefreshToken(tokenId: string): Promise<RefreshToken | undefined> {
    const token = await this.#live<RefreshToken>(`rt:${tokenId}`);
    const rotated = token && (await this.#atomic.get(`rotated:${tokenId}`));
    if (!token || !rotated) return token;
    const record = JSON.parse(rotated) as Rotated;
    const successor = await this.#keyv.get<string>(`successor:${tokenId}:${record.successorId}`);
    return { ...token, ...record, ...(successor ? { successor } : {}) };
  }

  /**
   * The rotation record is the claim itself, so "rotated" and "who succeeded it" become visible in one
   * step. The sealed successor is written first, under a key naming the successor (so a loser of the
   * race cannot overwrite the winner's), and lives only for the grace window: after it, a dump of the
   * store plus an old refresh token must not lead to the live one.
   */
  override async exchangeRefreshToken(current: RefreshToken, rotation: RefreshRotation): Promise<boolean> {
    if (await this.#revoked(current.grantId)) return false;
    await this.#store(rotation.tokens);
    const successorKey = `successor:${current.id}:${rotation.successorId}`;
    const graceLeft = rotation.rotatedAt + this.options.refreshGraceMs - this.options.now();
    if (graceLeft > 0) await this.#keyv.set(successorKey, rotation.successor, graceLeft);
    const record: Rotated = { rotatedAt: rotation.rotatedAt, successorId: rotation.successorId };
    const ttl = current.expiresAt === undefined ? this.options.refreshTokenTtlMs : this.#ttl(current.expiresAt);
    if (await this.#atomic.setIfAbsent(`rotated:${current.id}`, JSON.stringify(record), ttl)) return true;
    await this.#keyv.delete(successorKey);
    await this.#unstore(rotation.tokens);
    return false;
  }

  override async loadAccessToken(tokenId: string): Promise<AccessToken | undefined> {
    return this.#live<AccessToken>(`at:${tokenId}`);
  }

  /** A grant is revoked with one marker that every load checks, so no token list has to be kept in step. */
  override async revokeToken(revocation: Revocation): Promise<void> {
    if (revocation.type === "access_token") {
      await this.#keyv.delete(`at:${revocation.token.id}`);
      return;
    }
    // No token of the grant can outlive this: none is issued after it, and each lives at most this long.
    await this.#keyv.set(`revoked:${revocation.grantId}`, true, Math.max(this.options.refreshTokenTtlMs, this.options.accessTokenTtlMs));
  }

  override async verifyToken(token: string): Promise<AccessToken | undefined> {
    return this.loadAccessToken(hashToken(token));
  }

  async #live<T extends { grantId: string }>(key: string): Promise<T | undefined> {
    const record = await this.#keyv.get<T>(key);
    return record && !(await this.#revoked(record.grantId)) ? record : undefined;
  }

  async #revoked(grantId: string): Promise<boolean> {
    return (await this.#keyv.get<boolean>(`revoked:${grantId}`)) === true;
  }

  async #store(tokens: TokenSet): Promise<void> {
    await this.#keyv.set(`at:${tokens.accessToken.id}`, tokens.accessToken, this.#ttl(tokens.accessToken.expiresAt));
    const refresh = tokens.refreshToken;
    if (refresh) await this.#keyv.set(`rt:${refresh.id}`, refresh, refresh.expiresAt === undefined ? undefined : this.#ttl(refresh.expiresAt));
  }

  async #unstore(tokens: TokenSet): Promise<void> {
    await this.#keyv.delete(`at:${tokens.accessToken.id}`);
    if (tokens.refreshToken) await this.#keyv.delete(`rt:${tokens.refreshToken.id}`);
  }

  #ttl(expiresAt: number): number {
    return Math.max(1, expiresAt - this.options.now());
  }
}
