import { ConsentFlow, type PendingConsent } from "./consent-flow.js";
import { inMemoryOptionsShape, type InMemoryOAuthProviderOptions } from "./in-memory-options.js";
import { OAuthProvider } from "./oauth-provider.js";
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

export type { InMemoryOAuthProviderOptions };

/** Expired records are dropped at most this often: a sweep walks every record. */
const sweepIntervalMs = 60_000;

/**
 * The reference `OAuthProvider`: everything in process memory (lost on restart), a consent page at
 * `<baseUrl>/consent`, and `autoApprove` for tests. Each method is synchronous inside, which is what
 * makes its consume and rotate steps atomic; a shared store needs real compare-and-set instead (see
 * `StoreOAuthProvider`, which has the same options and consent page on a store shared by replicas).
 */
export class InMemoryOAuthProvider extends OAuthProvider {
  readonly #clients = new Map<string, RegisteredClient>();
  readonly #codes = new Map<string, AuthorizationCode>();
  readonly #accessTokens = new Map<string, AccessToken>();
  readonly #refreshTokens = new Map<string, RefreshToken>();
  /**
   * Sealed successors by rotated token id, kept apart so they go when the grace window ends rather than
   * when the rotated token expires: with the old token, a sealed successor leads to the live one.
   */
  readonly #successors = new Map<string, { sealed: string; expiresAt: number }>();
  /** Pending consents, each with the hash of the CSRF token of the page last rendered for it. */
  readonly #pending = new Map<string, PendingConsent & { csrfHash?: string }>();
  /** Ids of the `clients` option: configured by the operator, so their redirect URIs are trusted. */
  readonly #preRegistered = new Set<string>();
  readonly #consent: ConsentFlow;
  readonly #maxPending: number;
  readonly #maxClients: number;
  /** Dynamically registered clients that have not obtained a token yet, with the time they are dropped. */
  readonly #unused = new Map<string, number>();
  readonly #unusedTtlMs: number;
  #sweptAt = -Infinity;

  /** Throws `OAuthError` `invalid_options` naming the first invalid option. */
  constructor(options: InMemoryOAuthProviderOptions) {
    super(options, inMemoryOptionsShape);
    this.#maxPending = options.maxPendingConsents ?? 10_000;
    this.#maxClients = options.maxRegisteredClients ?? 1_000;
    this.#unusedTtlMs = (options.unusedRegistrationTtlSeconds ?? 3600) * 1000;
    for (const client of options.clients ?? []) {
      this.#clients.set(client.client_id, client);
      this.#preRegistered.add(client.client_id);
    }
    this.#consent = new ConsentFlow({
      options: this.options,
      autoApprove: options.autoApprove ?? false,
      authenticateUser: options.authenticateUser ?? (() => "user"),
      approve: (request, approval) => this.approve(request, approval),
      deny: (request, error, description) => this.deny(request, error, description),
      // Synchronous inside, so a take is single use even with two posts in flight.
      pending: {
        add: async (id, pending) => {
          this.#sweep();
          if (this.#pending.size >= this.#maxPending) return false;
          this.#pending.set(id, pending);
          return true;
        },
        get: async (id) => this.#pending.get(id),
        setCsrfHash: async (id, _pending, csrfHash) => {
          const stored = this.#pending.get(id);
          if (stored) stored.csrfHash = csrfHash;
        },
        csrfHash: async (id) => this.#pending.get(id)?.csrfHash,
        take: async (id) => {
          const pending = this.#pending.get(id);
          this.#pending.delete(id);
          return pending;
        },
      },
    });
    this.addRoute("/consent", "GET, POST", (request) => this.#consent.handle(request));
  }

  async getClient(clientId: string): Promise<RegisteredClient | undefined> {
    this.#dropUnused();
    return this.#clients.get(clientId);
  }

  protected override trustsRedirectUri(client: RegisteredClient, redirectUri: string): boolean {
    return this.#preRegistered.has(client.client_id) || super.trustsRedirectUri(client, redirectUri);
  }

  async registerClient(client: RegisteredClient): Promise<void> {
    this.#dropUnused();
    if (this.#clients.size - this.#preRegistered.size >= this.#maxClients) {
      throw new OAuthServerError("access_denied", "this server accepts no more client registrations", 403);
    }
    this.#clients.set(client.client_id, client);
    this.#unused.set(client.client_id, this.options.now() + this.#unusedTtlMs);
  }

  /** Forgets registrations that never obtained a token in time (oldest first: the map is in insertion order). */
  #dropUnused(): void {
    const now = this.options.now();
    for (const [clientId, dropAt] of this.#unused) {
      if (dropAt > now) break;
      this.#unused.delete(clientId);
      this.#clients.delete(clientId);
    }
  }

  async authorize(client: RegisteredClient, request: AuthorizationRequest, httpRequest: Request): Promise<string> {
    return this.#consent.authorize(client, request, httpRequest);
  }

  async saveAuthorizationCode(code: AuthorizationCode): Promise<void> {
    this.#sweep();
    this.#codes.set(code.id, code);
  }

  async loadAuthorizationCode(codeId: string): Promise<AuthorizationCode | undefined> {
    return this.#codes.get(codeId);
  }

  async exchangeAuthorizationCode(code: AuthorizationCode, tokens: TokenSet): Promise<boolean> {
    const stored = this.#codes.get(code.id);
    if (!stored || stored.consumedAt !== undefined) return false;
    stored.consumedAt = this.options.now();
    this.#store(tokens);
    // The client has obtained a token: it is in use, and no longer dropped as unused.
    this.#unused.delete(code.clientId);
    return true;
  }

  async loadRefreshToken(tokenId: string): Promise<RefreshToken | undefined> {
    const token = this.#refreshTokens.get(tokenId);
    this.#dropSuccessors();
    const successor = this.#successors.get(tokenId);
    const live = successor && successor.expiresAt > this.options.now();
    return token && { ...token, ...(live ? { successor: successor.sealed } : {}) };
  }

  async exchangeRefreshToken(current: RefreshToken, rotation: RefreshRotation): Promise<boolean> {
    const stored = this.#refreshTokens.get(current.id);
    if (!stored || stored.rotatedAt !== undefined) return false;
    Object.assign(stored, { rotatedAt: rotation.rotatedAt, successorId: rotation.successorId });
    const until = rotation.rotatedAt + this.options.refreshGraceMs;
    if (until > this.options.now()) this.#successors.set(current.id, { sealed: rotation.successor, expiresAt: until });
    this.#store(rotation.tokens);
    return true;
  }

  async loadAccessToken(tokenId: string): Promise<AccessToken | undefined> {
    return this.#accessTokens.get(tokenId);
  }

  async revokeToken(revocation: Revocation): Promise<void> {
    if (revocation.type === "access_token") {
      this.#accessTokens.delete(revocation.token.id);
      return;
    }
    for (const map of [this.#codes, this.#accessTokens, this.#refreshTokens] as Map<string, { grantId: string }>[]) {
      for (const [id, record] of map) if (record.grantId === revocation.grantId) map.delete(id);
    }
    for (const id of this.#successors.keys()) if (!this.#refreshTokens.has(id)) this.#successors.delete(id);
  }

  async verifyToken(token: string): Promise<AccessToken | undefined> {
    return this.loadAccessToken(hashToken(token));
  }

  #store(tokens: TokenSet): void {
    this.#sweep();
    this.#accessTokens.set(tokens.accessToken.id, tokens.accessToken);
    if (tokens.refreshToken) this.#refreshTokens.set(tokens.refreshToken.id, tokens.refreshToken);
  }

  /** Drops expired records, so memory stays bounded by what is live. Runs on /authorize and on the token path. */
  #sweep(): void {
    this.#dropSuccessors();
    const now = this.options.now();
    if (now - this.#sweptAt < sweepIntervalMs) return;
    this.#sweptAt = now;
    for (const [id, code] of this.#codes) if (code.expiresAt <= now) this.#codes.delete(id);
    for (const [id, token] of this.#accessTokens) if (token.expiresAt <= now) this.#accessTokens.delete(id);
    for (const [id, token] of this.#refreshTokens) if (token.expiresAt !== undefined && token.expiresAt <= now) this.#refreshTokens.delete(id);
    for (const [id, pending] of this.#pending) if (pending.expiresAt <= now) this.#pending.delete(id);
  }

  /** Successors expire in the order they were made, so only the expired head of the map is walked. */
  #dropSuccessors(): void {
    const now = this.options.now();
    for (const [id, successor] of this.#successors) {
      if (successor.expiresAt > now) break;
      this.#successors.delete(id);
    }
  }
}
