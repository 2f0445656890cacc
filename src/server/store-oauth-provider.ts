import { z } from "zod";
import { ConsentFlow, consentTtlMs, type PendingConsent, type PendingConsents } from "./consent-flow.js";
import { inMemoryOptionsShape, type InMemoryOAuthProviderOptions } from "./in-memory-options.js";
import { OAuthProvider } from "./oauth-provider.js";
import type { OAuthProviderOptions } from "./options.js";
import type { ProviderStore } from "./provider-store.js";
import { OAuthServerError } from "./server-errors.js";
import { hashToken } from "./token-crypto.js";
import type {
  AccessToken,
  AuthorizationCode,
  AuthorizationRequest,
  RefreshRotation,
  RefreshToken,
  RegisteredClient,
  Revocation,
  TokenSet,
} from "./types.js";

export interface StoreOAuthProviderOptions extends InMemoryOAuthProviderOptions {
  /**
   * Where every record lives: a store all replicas share (`RedisProviderStore`, `PostgresProviderStore`),
   * or a `MemoryProviderStore` for one process. Every record is written with a TTL, see docs/server.md.
   */
  store: ProviderStore;
  /**
   * Prepended to every key this provider writes, so several providers can share one store (the Redis
   * store has its own `prefix` besides). Default `""`.
   */
  keyPrefix?: string;
}

const storeOptionsShape = {
  ...inMemoryOptionsShape,
  store: z.custom<ProviderStore>((value) => {
    const store = value as Partial<Record<keyof ProviderStore, unknown>> | null | undefined;
    return (["get", "set", "add", "take", "delete", "increment"] as const).every((method) => typeof store?.[method] === "function");
  }, "expected a ProviderStore (get, set, add, take, delete, increment)"),
  keyPrefix: z.string().optional(),
} satisfies Record<Exclude<keyof StoreOAuthProviderOptions, keyof OAuthProviderOptions>, z.ZodType>;

/** What a rotation adds to a refresh token; written once, by the `add` that wins the rotation. */
type Rotated = Pick<RefreshToken, "rotatedAt" | "successorId">;

/**
 * How far apart the replicas' clocks may be. Each TTL is computed from the writing replica's clock, so a
 * single-use marker (a consumed code, a rotated refresh token, a revoked grant) lives this much longer than
 * the record it guards: a replica whose clock runs behind must never find the record without its marker.
 */
const clockSkewMarginMs = 5 * 60_000;

/** A client id from a request is looked up in the store only if it could be a key: printable ASCII, bounded. */
const storableId = /^[\x21-\x7e]{1,255}$/;
/** Pending consent ids are `randomToken()`s. */
const consentId = /^[A-Za-z0-9_-]{43}$/;

/**
 * An `OAuthProvider` whose whole state lives in a `ProviderStore` shared by every replica of the server,
 * with a TTL on each record, and `InMemoryOAuthProvider`'s options, consent page and `authenticateUser`
 * hook. A request may reach any replica at any step: the consent page at one, its form post at another,
 * the code's redemption at a third.
 *
 * The single-use steps rest on the store's atomic operations: a code is consumed by the one `add` of its
 * consumed marker that succeeds; a refresh token is rotated by the one `add` of its rotation record that
 * succeeds; a pending consent is used by the one `take` that gets it. A revoked grant is one marker that
 * every load checks, so no list of a grant's tokens has to be kept in step. Store failures propagate: the
 * endpoints answer 500 and the bearer guard 503 with `Retry-After`, and nothing is deleted or revoked.
 */
export class StoreOAuthProvider extends OAuthProvider {
  readonly #store: ProviderStore;
  readonly #prefix: string;
  readonly #consent: ConsentFlow;
  /** The `clients` option: configured by the operator, kept in memory, their redirect URIs trusted. */
  readonly #preRegistered = new Map<string, RegisteredClient>();
  readonly #maxClients: number;
  readonly #maxPending: number;
  readonly #unusedTtlMs: number;

  /** Throws `OAuthError` `invalid_options` naming the first invalid option. */
  constructor(options: StoreOAuthProviderOptions) {
    super(options, storeOptionsShape);
    this.#store = options.store;
    this.#prefix = options.keyPrefix ?? "";
    this.#maxClients = options.maxRegisteredClients ?? 1_000;
    this.#maxPending = options.maxPendingConsents ?? 10_000;
    this.#unusedTtlMs = (options.unusedRegistrationTtlSeconds ?? 3600) * 1000;
    for (const client of options.clients ?? []) this.#preRegistered.set(client.client_id, client);
    this.#consent = new ConsentFlow({
      options: this.options,
      autoApprove: options.autoApprove ?? false,
      authenticateUser: options.authenticateUser ?? (() => "user"),
      approve: (request, approval) => this.approve(request, approval),
      deny: (request, error, description) => this.deny(request, error, description),
      pending: this.#pendingConsents(),
    });
    this.addRoute("/consent", "GET, POST", (request) => this.#consent.handle(request));
  }

  async getClient(clientId: string): Promise<RegisteredClient | undefined> {
    const configured = this.#preRegistered.get(clientId);
    if (configured) return configured;
    if (!storableId.test(clientId)) return undefined;
    return parse<RegisteredClient>(await this.#store.get(this.#key("client", clientId)));
  }

  protected override trustsRedirectUri(client: RegisteredClient, redirectUri: string): boolean {
    return this.#preRegistered.has(client.client_id) || super.trustsRedirectUri(client, redirectUri);
  }

  /**
   * Counts the registration in a window of `unusedRegistrationTtlSeconds` (see docs/server.md for what the
   * cap means across replicas), then keeps the client for that long unless it obtains a token.
   */
  async registerClient(client: RegisteredClient): Promise<void> {
    const count = await this.#store.increment(this.#key("count", "registrations"), this.#unusedTtlMs);
    if (count > this.#maxClients) throw new OAuthServerError("access_denied", "this server accepts no more client registrations", 403);
    await this.#store.set(this.#key("client", client.client_id), JSON.stringify(client), this.#unusedTtlMs);
  }

  async authorize(client: RegisteredClient, request: AuthorizationRequest, httpRequest: Request): Promise<string> {
    return this.#consent.authorize(client, request, httpRequest);
  }

  async saveAuthorizationCode(code: AuthorizationCode): Promise<void> {
    await this.#store.set(this.#key("code", code.id), JSON.stringify(code), this.#ttlUntil(code.expiresAt));
  }

  async loadAuthorizationCode(codeId: string): Promise<AuthorizationCode | undefined> {
    const [raw, consumedAt] = await Promise.all([this.#store.get(this.#key("code", codeId)), this.#store.get(this.#key("code-consumed", codeId))]);
    const code = parse<AuthorizationCode>(raw);
    if (!code || (await this.#revoked(code.grantId))) return undefined;
    return consumedAt === undefined ? code : { ...code, consumedAt: Number(consumedAt) };
  }

  /**
   * The consumed marker is the claim: the one `add` that stores it wins, and it stays (with the time) as
   * long as the code could be valid on any replica, so a replay is seen as one and revokes the grant. The
   * tokens are written first (a loser deletes them; nobody has seen them), so that once the claim is won
   * nothing can fail between it and the response.
   */
  async exchangeAuthorizationCode(code: AuthorizationCode, tokens: TokenSet): Promise<boolean> {
    const [stored, revoked] = await Promise.all([this.#store.get(this.#key("code", code.id)), this.#revoked(code.grantId)]);
    if (stored === undefined || revoked) return false;
    await this.#storeTokens(tokens);
    const now = this.options.now();
    if (!(await this.#store.add(this.#key("code-consumed", code.id), String(now), this.#ttlUntil(code.expiresAt) + clockSkewMarginMs))) {
      await this.#unstoreTokens(tokens);
      return false;
    }
    await this.#keepClient(code.clientId);
    return true;
  }

  async loadRefreshToken(tokenId: string): Promise<RefreshToken | undefined> {
    const [raw, rotatedRaw] = await Promise.all([this.#store.get(this.#key("rt", tokenId)), this.#store.get(this.#key("rt-rotated", tokenId))]);
    const token = parse<RefreshToken>(raw);
    if (!token) return undefined;
    const rotated = parse<Rotated>(rotatedRaw);
    const [revoked, successor] = await Promise.all([
      this.#revoked(token.grantId),
      rotated?.successorId === undefined ? undefined : this.#store.get(this.#key("rt-successor", `${tokenId}:${rotated.successorId}`)),
    ]);
    if (revoked) return undefined;
    return { ...token, ...rotated, ...(successor === undefined ? {} : { successor }) };
  }

  /**
   * Everything a reader of the rotated token needs (the new tokens, the sealed successor under a key
   * naming the successor, so a loser cannot overwrite the winner's) is written before the claim, so a
   * concurrent retry that sees the rotation finds its successor in place. The rotation record is the
   * claim: the one `add` that stores it wins; a loser deletes what it wrote, which nobody has seen.
   */
  async exchangeRefreshToken(current: RefreshToken, rotation: RefreshRotation): Promise<boolean> {
    const [stored, revoked] = await Promise.all([this.#store.get(this.#key("rt", current.id)), this.#revoked(current.grantId)]);
    if (stored === undefined || revoked) return false;
    await this.#storeTokens(rotation.tokens);
    const successorKey = this.#key("rt-successor", `${current.id}:${rotation.successorId}`);
    // The sealed successor lives for the grace window only: with the old token it leads to the live one.
    const graceLeft = rotation.rotatedAt + this.options.refreshGraceMs - this.options.now();
    if (graceLeft > 0) await this.#store.set(successorKey, rotation.successor, graceLeft);
    const record: Rotated = { rotatedAt: rotation.rotatedAt, successorId: rotation.successorId };
    const claimed = await this.#store.add(this.#key("rt-rotated", current.id), JSON.stringify(record), this.#ttlUntil(current.expiresAt ?? current.grantExpiresAt) + clockSkewMarginMs);
    if (claimed) {
      await this.#keepClient(current.clientId);
      return true;
    }
    await Promise.all([this.#store.delete(successorKey), this.#unstoreTokens(rotation.tokens)]);
    return false;
  }

  async loadAccessToken(tokenId: string): Promise<AccessToken | undefined> {
    const token = parse<AccessToken>(await this.#store.get(this.#key("at", tokenId)));
    return token && !(await this.#revoked(token.grantId)) ? token : undefined;
  }

  /**
   * One access token is deleted; a grant gets a revoked marker that every load checks. The marker lives
   * `grantLifetimeSeconds`: a grant ends at most that long after its approval, which came before now, so
   * no code or token of it can outlive the marker.
   */
  async revokeToken(revocation: Revocation): Promise<void> {
    if (revocation.type === "access_token") {
      await this.#store.delete(this.#key("at", revocation.token.id));
      return;
    }
    await this.#store.set(this.#key("grant-revoked", revocation.grantId), revocation.reason, this.options.grantLifetimeMs + clockSkewMarginMs);
  }

  async verifyToken(token: string): Promise<AccessToken | undefined> {
    return this.loadAccessToken(hashToken(token));
  }

  #key(kind: string, id: string): string {
    return `${this.#prefix}${kind}:${id}`;
  }

  /** Milliseconds until `expiresAt` by the provider's clock (the store gives a due record 1 ms). */
  #ttlUntil(expiresAt: number): number {
    return expiresAt - this.options.now();
  }

  async #revoked(grantId: string): Promise<boolean> {
    return (await this.#store.get(this.#key("grant-revoked", grantId))) !== undefined;
  }

  async #storeTokens(tokens: TokenSet): Promise<void> {
    const { accessToken, refreshToken } = tokens;
    await Promise.all([
      this.#store.set(this.#key("at", accessToken.id), JSON.stringify(accessToken), this.#ttlUntil(accessToken.expiresAt)),
      refreshToken && this.#store.set(this.#key("rt", refreshToken.id), JSON.stringify(refreshToken), this.#ttlUntil(refreshToken.expiresAt ?? refreshToken.grantExpiresAt)),
    ]);
  }

  async #unstoreTokens(tokens: TokenSet): Promise<void> {
    await Promise.all([this.#store.delete(this.#key("at", tokens.accessToken.id)), tokens.refreshToken && this.#store.delete(this.#key("rt", tokens.refreshToken.id))]);
  }

  /**
   * A client that obtained a token is in use: it is kept for `grantLifetimeSeconds` from now, which no
   * token issued now can outlive, instead of expiring as an unused registration. Bookkeeping after a
   * committed claim: a failure goes to `onError` and the tokens are still returned, since a 500 now would
   * leave the client with a spent code or a rotated token, and its retry would revoke the grant.
   */
  async #keepClient(clientId: string): Promise<void> {
    if (this.#preRegistered.has(clientId)) return;
    const key = this.#key("client", clientId);
    try {
      const raw = await this.#store.get(key);
      if (raw !== undefined) await this.#store.set(key, raw, this.options.grantLifetimeMs);
    } catch (error) {
      this.options.onError(error);
    }
  }

  /**
   * Pending consents in the store, so the page may be shown by one replica and posted to another. The
   * cap is a counter per window of the consent lifetime (10 minutes), see docs/server.md.
   */
  #pendingConsents(): PendingConsents {
    const store = this.#store;
    const key = (id: string) => this.#key("consent", id);
    const csrfKey = (id: string) => this.#key("consent-csrf", id);
    return {
      add: async (id, pending) => {
        const count = await store.increment(this.#key("count", "consents"), consentTtlMs);
        if (count > this.#maxPending) return false;
        await store.set(key(id), JSON.stringify(pending), this.#ttlUntil(pending.expiresAt));
        return true;
      },
      get: async (id) => (consentId.test(id) ? parse<PendingConsent>(await store.get(key(id))) : undefined),
      setCsrfHash: async (id, pending, csrfHash) => {
        await store.set(csrfKey(id), csrfHash, this.#ttlUntil(pending.expiresAt));
      },
      csrfHash: async (id) => (consentId.test(id) ? store.get(csrfKey(id)) : undefined),
      take: async (id) => {
        if (!consentId.test(id)) return undefined;
        const raw = await store.take(key(id));
        if (raw !== undefined) await store.delete(csrfKey(id));
        return parse<PendingConsent>(raw);
      },
    };
  }
}

/** A record as written by this class (JSON), or undefined when there is none. */
function parse<T>(raw: string | undefined): T | undefined {
  return raw === undefined ? undefined : (JSON.parse(raw) as T);
}
