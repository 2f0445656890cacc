import { consentCookieName, readCookie, renderConsentPage } from "./consent-page.js";
import { escapeHtml, page, pageHeaders } from "./html.js";
import { readForm } from "./http.js";
import { inMemoryOptionsShape, type InMemoryOAuthProviderOptions } from "./in-memory-options.js";
import { OAuthProvider } from "./oauth-provider.js";
import { OAuthServerError } from "./server-errors.js";
import { hashToken, randomToken, safeEqual } from "./token-crypto.js";
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

/** What the consent page needs; not the client record itself, which may be large. */
interface PendingConsent {
  clientId: string;
  clientName: string | undefined;
  request: AuthorizationRequest;
  expiresAt: number;
  /** Hash of the CSRF token of the page last rendered for this request. */
  csrfHash?: string;
}

const consentTtlMs = 10 * 60_000;
/** Expired records are dropped at most this often: a sweep walks every record. */
const sweepIntervalMs = 60_000;

/**
 * The reference `OAuthProvider`: everything in process memory (lost on restart), a consent page at
 * `<baseUrl>/consent`, and `autoApprove` for tests. Each method is synchronous inside, which is what
 * makes its consume and rotate steps atomic; a shared store needs real compare-and-set instead (see
 * `examples/keyv-oauth-provider.ts`).
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
  readonly #pending = new Map<string, PendingConsent>();
  /** Ids of the `clients` option: configured by the operator, so their redirect URIs are trusted. */
  readonly #preRegistered = new Set<string>();
  readonly #autoApprove: boolean;
  readonly #maxPending: number;
  readonly #maxClients: number;
  /** Dynamically registered clients that have not obtained a token yet, with the time they are dropped. */
  readonly #unused = new Map<string, number>();
  readonly #unusedTtlMs: number;
  #sweptAt = -Infinity;
  readonly #authenticateUser: (request: Request) => string | undefined | Promise<string | undefined>;

  constructor(options: InMemoryOAuthProviderOptions) {
    super(options, inMemoryOptionsShape);
    this.#autoApprove = options.autoApprove ?? false;
    this.#maxPending = options.maxPendingConsents ?? 10_000;
    this.#maxClients = options.maxRegisteredClients ?? 1_000;
    this.#unusedTtlMs = (options.unusedRegistrationTtlSeconds ?? 3600) * 1000;
    this.#authenticateUser = options.authenticateUser ?? (() => "user");
    for (const client of options.clients ?? []) {
      this.#clients.set(client.client_id, client);
      this.#preRegistered.add(client.client_id);
    }
    this.addRoute("/consent", "GET, POST", (request) => (request.method === "GET" ? this.#showConsent(request) : this.#decide(request)));
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
    if (this.#autoApprove) {
      const subject = await this.#authenticateUser(httpRequest);
      if (subject === undefined) return this.deny(request, "access_denied", "the user is not signed in");
      return this.approve(request, { subject });
    }
    this.#sweep();
    // Full: refuse the newcomer rather than evict a consent another user may be reading.
    if (this.#pending.size >= this.#maxPending) {
      throw new OAuthServerError("temporarily_unavailable", "too many authorization requests are waiting for a decision; try again later", 503);
    }
    const id = randomToken();
    this.#pending.set(id, { clientId: client.client_id, clientName: client.client_name, request, expiresAt: this.options.now() + consentTtlMs });
    return new URL(`${this.options.basePath}/consent?request=${id}`, this.options.baseUrl).href;
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

  async #showConsent(request: Request): Promise<Response> {
    const id = new URL(request.url).searchParams.get("request") ?? "";
    const pending = this.#pending.get(id);
    if (!pending || pending.expiresAt <= this.options.now()) return message(400, "This authorization request is unknown or has expired. Start again from the application.");
    const subject = await this.#authenticateUser(request);
    if (subject === undefined) return message(401, "Sign in first, then start again from the application.");
    const csrfToken = randomToken();
    pending.csrfHash = hashToken(csrfToken);
    const { request: authorization } = pending;
    return renderConsentPage(
      {
        action: `${this.options.basePath}/consent`,
        requestId: id,
        csrfToken,
        clientId: pending.clientId,
        clientName: pending.clientName,
        redirectUri: authorization.redirectUri,
        scopes: authorization.scopes,
        resource: authorization.resource,
        subject,
      },
      this.options.baseUrl.protocol === "https:",
    );
  }

  async #decide(request: Request): Promise<Response> {
    // A cross-site post is refused outright; SameSite=Strict already keeps the cookie off it.
    const origin = request.headers.get("origin");
    if (origin !== null && origin !== this.options.baseUrl.origin) return message(403, "This form can only be submitted from this site.");
    let form: Map<string, string>;
    try {
      form = await readForm(request);
    } catch {
      return message(400, "The form could not be read.");
    }
    const id = form.get("request") ?? "";
    const pending = this.#pending.get(id);
    const csrf = form.get("csrf") ?? "";
    const cookie = readCookie(request.headers.get("cookie"), consentCookieName(id)) ?? "";
    if (!pending?.csrfHash || !safeEqual(csrf, cookie) || !safeEqual(hashToken(csrf), pending.csrfHash)) {
      return message(403, "This consent form is not valid any more. Start again from the application.");
    }
    // Single use: a second post of the same form does nothing.
    this.#pending.delete(id);
    if (pending.expiresAt <= this.options.now()) return message(400, "This authorization request has expired. Start again from the application.");
    const subject = await this.#authenticateUser(request);
    if (subject === undefined) return message(401, "Sign in first, then start again from the application.");
    const location = form.get("decision") === "approve" ? await this.approve(pending.request, { subject }) : this.deny(pending.request);
    // 303: the browser must GET the client's redirect URI, not re-post this form to it (RFC 9700 §4.12).
    return new Response(null, { status: 303, headers: { location, "cache-control": "no-store", "referrer-policy": "no-referrer" } });
  }
}

function message(status: number, text: string): Response {
  return new Response(page("Authorization", `<h1 class="err">Authorization</h1><p>${escapeHtml(text)}</p>`), { status, headers: pageHeaders() });
}
