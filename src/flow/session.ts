import { underLock, type Lease, type LockSettings } from "../store/acquire-lock.js";
import { createBackChannelFetch, withSignal, type FetchLike } from "../shared/back-channel.js";
import { CredentialBinding } from "./credential-binding.js";
import { guardNetwork } from "../shared/guard-network.js";
import { guardStorage } from "../store/guard-storage.js";
import { isOAuthError } from "../shared/errors.js";
import type { TokenGrant } from "../shared/events.js";
import type { ResolvedOptions } from "./resolved-options.js";
import { ClientChooser } from "./client-chooser.js";
import { login, type LoginRequest } from "./login.js";
import { refreshTokens, toTokenRecord } from "./request-tokens.js";
import { revokeTokens } from "./revoke-tokens.js";
import type { LogoutResult } from "../shared/logout-result.js";
import { backoffPolicy } from "./retry-after.js";
import { TokenSaver } from "../store/token-saver.js";
import { SingleFlight, type FlightKind } from "../store/single-flight.js";
import { inScope, tokenScope, type TokenScope } from "./token-scope.js";
import { TokenStore, type DiscoveryRecord, type TokenRecord } from "../store/token-store.js";

/** Refresh this long before the stored expiry (at most half the token's lifetime), so a token never expires in flight. */
const refreshMarginMs = 60_000;

/** What a holder of the token lock knows. */
interface Held {
  /** The issuer whose tokens were read (that of the discovery known when the lock was taken). */
  issuer: string | undefined;
  /** The newest tokens: the store's, or this process's whose write failed. */
  latest: TokenRecord | undefined;
  /** The access token of the record the store holds for `issuer`. */
  inStore: string | undefined;
  lease: Lease;
}

/**
 * The token keeper of one MCP server: what discovery found, which tokens are held, when they are fresh,
 * and the store around them. It runs step 1 (the token check), step 9 (the refresh) and logout itself,
 * and hands steps 2-8 to `login` (login.ts). Refreshes and logins run one at a time (`SingleFlight`) in
 * this process, and under the token lock across processes.
 */
export class Session {
  readonly store: TokenStore;
  readonly #o: ResolvedOptions;
  readonly #backChannel: FetchLike;
  #discovery: DiscoveryRecord | undefined;
  #scope: TokenScope;
  #tokens: TokenRecord | undefined;
  readonly #clients: ClientChooser;
  readonly #binding: CredentialBinding;
  #loaded: Promise<void> | undefined;
  /** The store was read once (`#loaded` settled successfully). */
  #ready = false;
  readonly #flights = new SingleFlight();
  readonly #saver: TokenSaver;
  /** The last refresh token the server refused: never sent again. */
  #refused: string | undefined;

  constructor(options: ResolvedOptions) {
    this.#o = options;
    this.#scope = tokenScope(undefined, options.mcpUrl);
    this.store = new TokenStore(guardStorage(options.tokenStorage, options.storageTimeoutMs), options.serverKey, options.logger, options.mcpUrl);
    this.#saver = new TokenSaver(this.store);
    this.#backChannel = createBackChannelFetch(guardNetwork(options.network), { timeoutMs: options.requestTimeoutMs, maxResponseBytes: options.maxResponseBytes }, options.signal);
    this.#binding = new CredentialBinding(options, this.store);
    this.#clients = new ClientChooser(options, this.store, this.#backChannel, this.#binding);
  }

  /** Where the token may be sent: the resource's origin and path (the whole origin on the 2025-03-26 path). */
  covers(url: URL): boolean {
    return inScope(this.#scope, url);
  }

  /**
   * The hot path's shortcut: the token in memory when the store was read and the token is fresh, even
   * while a login or step-up is in progress; else undefined (then `currentToken` does the real check).
   * No await, no allocation.
   */
  freshToken(): TokenRecord | undefined {
    const tokens = this.#tokens;
    return this.#ready && tokens && this.#isFresh(tokens) ? tokens : undefined;
  }

  /**
   * Step 1, token check: a stored token that is still valid, refreshed first when it is about to expire.
   * Only what the caller needs is waited for: a fresh token is returned at once, and an unexpired one
   * while a login is in progress (which will replace it).
   */
  async currentToken(): Promise<TokenRecord | undefined> {
    await this.#load();
    const tokens = this.#tokens;
    if (tokens && this.#isFresh(tokens)) return tokens;
    const unexpired = tokens && !this.#isExpired(tokens) ? tokens : undefined;
    // With no usable token, wait for the login in progress; if it fails, this request fails with it
    // rather than starting a second login (one browser window, not fifty).
    const flight = this.#flights.current;
    if (flight?.kind === "login") return unexpired ?? flight.promise;
    // Grants without a user get a new token ahead of expiry (firstToken asks); others use it to the end.
    if (!tokens?.refresh_token) return this.renewsWithoutUser() ? undefined : unexpired;
    try {
      return await this.refresh(tokens);
    } catch (error) {
      // A refresh that failed for a passing reason (this caller's or the one it joined) leaves an unexpired token usable.
      if (isOAuthError(error) && error.transient && unexpired) return unexpired;
      throw error;
    }
  }

  /** True when a new token needs no user (client credentials, enterprise-managed) and discovery is known. */
  renewsWithoutUser(): boolean {
    return this.#o.grant !== "authorization_code" && this.#discovery !== undefined;
  }

  /**
   * Step 9: the refresh token grant, once for every caller that needs it at the same moment, in this
   * process (single flight) and in every process sharing the store (the token lock). Under the lock the
   * store is read again: tokens another process refreshed meanwhile are used instead, and a newer
   * refresh token found there is the one spent.
   */
  refresh(stale: TokenRecord): Promise<TokenRecord | undefined> {
    return this.#exclusive("refresh", stale, () =>
      this.#locked(this.#o.lockTimeoutMs, stale, async (held) => {
        const { latest, lease } = held;
        const discovery = this.#discovery;
        const current = latest?.refresh_token ? latest : stale;
        const refreshToken = current.refresh_token;
        const client = discovery && (await this.#clients.known(discovery.authorizationServer));
        // A refresh token the server refused is not sent again: a full authorization follows.
        if (!discovery || !client || !refreshToken || refreshToken === this.#refused) return undefined;
        try {
          // The last moment to find out that another process may hold the lock: nothing is spent yet.
          await lease.confirm();
          const fetch = withSignal(this.#backChannel, lease.signal);
          // A 429/503 is retried under the same lease: a wait ends if the lease is lost, and each retry confirms it first.
          const backoff = backoffPolicy(this.#o, { signal: lease.signal, beforeRetry: () => lease.confirm() });
          const response = await refreshTokens(discovery.authorizationServer, { record: client.record, signingKey: this.#o.signingKey }, refreshToken, discovery.resource, fetch, backoff);
          return await this.#saveTokens(discovery, toTokenRecord(response, this.#o.now(), undefined, current), "refresh_token", held);
        } catch (error) {
          if (!isOAuthError(error) || error.transient) throw error;
          if (error.oauthError === "invalid_grant") {
            this.#refused = refreshToken;
            await this.#forgetTokens(discovery, current);
          }
          return undefined; // a full authorization follows
        }
      }),
    );
  }

  /**
   * Steps 2-8 (`login`), one at a time in this process and under the token lock across processes. When
   * the token the server refused has been replaced meanwhile by another caller, that newer token is
   * returned instead of starting another login.
   */
  authorize(request: LoginRequest = {}): Promise<TokenRecord> {
    // Another process's login may take as long as a browser may: wait for it that long, and use its tokens.
    const waitMs = this.#o.callbackTimeoutMs + this.#o.lockTimeoutMs;
    const rejected = request.rejected;
    return this.#exclusive("login", rejected, () =>
      this.#locked(waitMs, rejected, (held) =>
        login(
          {
            options: this.#o,
            store: this.store,
            backChannel: this.#backChannel,
            clients: this.#clients,
            binding: this.#binding,
            discovery: () => this.#discovery,
            setDiscovery: (discovery) => this.#setDiscovery(discovery),
            save: (discovery, record, grant) => this.#saveTokens(discovery, record, grant, held),
          },
          request,
        ),
      ),
    ) as Promise<TokenRecord>;
  }

  /** Forgets the tokens, under the token lock: a refresh in progress (here or elsewhere) must not store them again afterwards. */
  async clear(): Promise<void> {
    await this.#load().catch(() => undefined);
    const issuer = this.#discovery?.authorizationServer.issuer;
    const forget = () => {
      this.#tokens = undefined;
      this.#saver.forget();
    };
    forget();
    if (!issuer) return;
    await underLock(this.#lockSettings(), this.store.lockKey(), this.#o.lockTimeoutMs, async () => {
      forget();
      await this.store.delete("tokens", issuer);
    }, async () => undefined);
  }

  /**
   * Logs out (C43), under the token lock like `clear()`: a refresh in progress must not store the tokens
   * again, and one waiting must not spend a revoked refresh token. Revokes the held tokens (`revokeTokens`),
   * then deletes them from the store whatever the server answered. Only the tokens: the registration and
   * the discovery record stay, so the next login registers no new client.
   */
  async logout(): Promise<LogoutResult> {
    await this.#load().catch(() => undefined);
    return underLock(this.#lockSettings(), this.store.lockKey(), this.#o.lockTimeoutMs, async () => {
      const inMemory = this.#tokens;
      // Forgotten before the round trips: a request from now on waits for the lock, then logs in.
      this.#tokens = undefined;
      const { issuer, stored } = await this.#storedTokens();
      // The newest tokens this process knows: the store's, or its own whose write failed, else those in memory.
      const held = (issuer === undefined ? stored : this.#saver.newest(issuer, stored)) ?? inMemory;
      this.#saver.forget();
      const as = this.#discovery?.authorizationServer;
      const findClient = async () => {
        const client = as && (await this.#clients.known(as));
        return client && { record: client.record, signingKey: this.#o.signingKey };
      };
      const result = await revokeTokens(as, findClient, held, this.#backChannel);
      if (issuer !== undefined) await this.store.delete("tokens", issuer);
      this.#o.onEvent({ type: "logged_out", ...result });
      return result;
    }, async () => undefined);
  }

  /** Runs `task` as the session's one flight, or joins the one in progress (see `SingleFlight`). */
  #exclusive(kind: FlightKind, seen: TokenRecord | undefined, task: () => Promise<TokenRecord | undefined>): Promise<TokenRecord | undefined> {
    return this.#flights.run(kind, seen, task, (seenToken) => {
      const tokens = this.#tokens;
      return tokens && tokens.access_token !== seenToken && this.#isFresh(tokens) ? tokens : undefined;
    });
  }

  /**
   * Runs `task` holding the token lock shared with other processes, after reading the store again: when
   * another holder stored usable tokens other than `seen` meanwhile, they are taken instead. While the
   * lock is busy the store is polled the same way, so a waiter gets the holder's tokens as soon as they land.
   */
  #locked(waitMs: number, seen: TokenRecord | undefined, task: (held: Held) => Promise<TokenRecord | undefined>): Promise<TokenRecord | undefined> {
    const adoptable = (tokens: TokenRecord | undefined) => (tokens && tokens.access_token !== seen?.access_token && !this.#isExpired(tokens) ? this.#adopt(tokens) : undefined);
    return underLock(
      this.#lockSettings(),
      this.store.lockKey(),
      waitMs,
      async (lease) => {
        const { issuer, stored } = await this.#storedTokens();
        // Tokens this process could not store are written first: the store's refresh token may be spent.
        const { latest, inStore } = issuer === undefined ? { latest: stored, inStore: stored?.access_token } : await this.#saver.catchUp(issuer, stored);
        return adoptable(latest) ?? (await task({ issuer, latest, inStore, lease }));
      },
      async () => {
        const { issuer, stored } = await this.#storedTokens();
        return adoptable(issuer === undefined ? stored : this.#saver.newest(issuer, stored));
      },
    );
  }

  #lockSettings(): LockSettings {
    return { lock: this.#o.lock, leaseMs: this.#o.lockLeaseMs, commandTimeoutMs: this.#o.storageTimeoutMs, signal: this.#o.signal, logger: this.#o.logger };
  }

  /** The tokens in the store now, for the issuer of the stored discovery when this process has none yet. */
  async #storedTokens(): Promise<{ issuer: string | undefined; stored: TokenRecord | undefined }> {
    if (!this.#discovery) {
      const discovery = await this.store.getDiscovery();
      if (discovery) this.#setDiscovery(discovery);
    }
    const issuer = this.#discovery?.authorizationServer.issuer;
    return { issuer, stored: issuer === undefined ? undefined : await this.store.getTokens(issuer) };
  }

  #adopt(tokens: TokenRecord): TokenRecord {
    if (tokens === this.#tokens) return tokens;
    this.#tokens = tokens;
    this.#o.onEvent({ type: "tokens_adopted", expiresAt: tokens.expires_at });
    return tokens;
  }

  #isFresh(tokens: TokenRecord): boolean {
    if (tokens.expires_at === undefined) return true;
    const margin = Math.min(refreshMarginMs, (tokens.expires_at - tokens.obtained_at) / 2);
    return tokens.expires_at - margin > this.#o.now();
  }

  #isExpired(tokens: TokenRecord): boolean {
    return tokens.expires_at !== undefined && tokens.expires_at <= this.#o.now();
  }

  #load(): Promise<void> {
    this.#loaded ??= (async () => {
      const discovery = await this.store.getDiscovery();
      if (!discovery) return;
      this.#setDiscovery(discovery);
      this.#tokens = await this.store.getTokens(discovery.authorizationServer.issuer);
      if (this.#tokens && this.#isFresh(this.#tokens)) this.#o.onEvent({ type: "token_reused", expiresAt: this.#tokens.expires_at });
    })().then(() => void (this.#ready = true), (error: unknown) => {
      this.#loaded = undefined; // a store that was down may be back next time
      throw error;
    });
    return this.#loaded;
  }

  /** `covers` runs on every request, so what it compares against is worked out once per discovery. */
  #setDiscovery(discovery: DiscoveryRecord): void {
    this.#discovery = discovery;
    this.#scope = tokenScope(discovery, this.#o.mcpUrl);
  }

  /** Holding the lock (`held`). A login may have found another issuer, for which the store's record is unknown. */
  async #saveTokens(discovery: DiscoveryRecord, record: TokenRecord, grant: TokenGrant, held: Held): Promise<TokenRecord> {
    const issuer = discovery.authorizationServer.issuer;
    this.#tokens = record;
    await this.#saver.save(issuer, record, held.issuer === issuer ? held.inStore : undefined);
    await this.#binding.record(issuer);
    this.#o.onEvent({ type: "tokens_stored", grant, expiresAt: record.expires_at, scope: record.scope, refreshable: record.refresh_token !== undefined });
    return record;
  }

  /** Deletes stored tokens only if they are still the ones that failed: another process may have stored newer ones. */
  async #forgetTokens(discovery: DiscoveryRecord, failed: TokenRecord): Promise<void> {
    if (this.#tokens?.refresh_token === failed.refresh_token) this.#tokens = undefined;
    this.#saver.forget(failed.refresh_token);
    const issuer = discovery.authorizationServer.issuer;
    const stored = await this.store.getTokens(issuer);
    if (stored?.refresh_token === failed.refresh_token) await this.store.delete("tokens", issuer);
  }
}
