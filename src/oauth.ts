import { resolveOptions, type OAuthOptions } from "./options.js";
import type { ResolvedOptions } from "./flow/resolved-options.js";
import type { Dispatcher } from "undici";
import { createInterceptor } from "./transport/intercept-dispatcher.js";
import { asOAuthError } from "./shared/map-error.js";
import { RequestRecovery } from "./transport/request-recovery.js";
import { withBearer } from "./transport/bearer.js";
import { toReplayable, type ReplayableRequest } from "./transport/replayable-request.js";
import type { LogoutResult } from "./shared/logout-result.js";
import { Session } from "./flow/session.js";
import type { TokenRecord } from "./store/token-store.js";
import { mergeSignals } from "./shared/merge-signals.js";

/**
 * OAuth 2.1 for one MCP server, behind a `fetch`. Pass `oauth.fetch` wherever a fetch goes (the MCP
 * SDK transports' `fetch` option, your own code): requests to the MCP server get a bearer token, and
 * the whole authorization pipeline runs when there is none or it stopped working.
 */
export class OAuth {
  readonly #o: ResolvedOptions;
  readonly #session: Session;

  constructor(options: OAuthOptions) {
    this.#o = resolveOptions(options);
    this.#session = new Session(this.#o);
  }

  /** The MCP server URL this instance authorizes for. */
  get mcpUrl(): string {
    return this.#o.mcpUrl.href;
  }

  /**
   * Same signature as the global `fetch`. Requests outside the MCP server's resource pass through
   * untouched and never carry the token. A request that meets 401 is retried once after a refresh or a
   * new authorization; one that meets 403 `insufficient_scope` is retried after a step-up, at most
   * `maxStepUpAttempts` times.
   */
  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input);
    if (!this.#session.covers(url)) return this.#o.fetch(input, init);
    const prepared = toReplayable(input, init, url);
    const request = prepared instanceof Promise ? await prepared : prepared;
    const own = request.init.signal ?? undefined;
    const signal = this.#o.signal;
    if (signal) request.init = { ...request.init, signal: mergeSignals(own, signal) ?? null };

    const recovery = new RequestRecovery(this.#session, this.#o.maxStepUpAttempts, request.url.origin, own);
    let token = recovery.cachedToken() ?? (await recovery.firstToken());
    // RequestRecovery bounds the retries: each pass returns, throws, or spends one recovery.
    for (;;) {
      const response = await this.#send(request, token);
      const recoverable = recovery.recoverable(response.status, response.headers);
      if (!recoverable) return response;
      await discard(response);
      token = await recovery.recover(recoverable);
    }
  };

  /**
   * Sends the request with the token. When the caller lets fetch follow redirects (the default), they
   * are followed here instead, so that the token goes along only while a redirect stays within its scope
   * (the resource's origin and path): the first hop out of it is sent without the Authorization header,
   * and fetch follows the rest. Fetch alone would keep the header on any redirect within the origin.
   */
  async #send(request: ReplayableRequest, token: string | undefined): Promise<Response> {
    if (token === undefined || (request.init.redirect ?? "follow") !== "follow") return this.#o.fetch(request.url, withBearer(request.init, token));
    let { url, init } = request;
    for (let hop = 0; hop < maxRedirects; hop += 1) {
      const response = await this.#o.fetch(url, withBearer(init, token, "manual"));
      const location = redirectStatuses.has(response.status) ? response.headers.get("location") : null;
      if (location === null) return response;
      await discard(response);
      const next = new URL(location, url);
      init = redirectedInit(init, response.status);
      if (!this.#session.covers(next)) return this.#o.fetch(next, withoutAuthorization(init));
      url = next;
    }
    throw new TypeError(`fetch failed: more than ${maxRedirects} redirects from ${request.url.href}`);
  }

  /**
   * A valid access token for the MCP server, running the pipeline if needed (discovery from the
   * well-known URLs, since no challenge is at hand). For callers that attach the header themselves.
   */
  async getAccessToken(): Promise<string> {
    try {
      const tokens: TokenRecord = (await this.#session.currentToken()) ?? (await this.#session.authorize());
      return tokens.access_token;
    } catch (error) {
      throw asOAuthError(error, "getAccessToken()");
    }
  }

  /**
   * The same job for undici: `new Agent().compose(oauth.interceptor())` gives a dispatcher whose requests
   * to the MCP server are authorized, for undici's `request`, `fetch` or any client that takes a dispatcher.
   */
  interceptor(): Dispatcher.DispatcherComposeInterceptor {
    return createInterceptor(this.#session, this.#o.maxStepUpAttempts);
  }

  /**
   * Logs out of the MCP server's authorization server: revokes the stored tokens there (RFC 7009), then
   * deletes them here, so that the next request logs in again.
   *
   * Under the token lock (the one a refresh or login takes, across processes), the tokens stored for the
   * current authorization server are read; the refresh token is revoked first, then the access token, at
   * the server's `revocation_endpoint`, each with its `token_type_hint`, the client authenticating as it
   * does at the token endpoint, through the same back channel (`requestTimeoutMs`, `maxResponseBytes`,
   * no redirects). Then the tokens are deleted from the store and forgotten in memory, whatever the server
   * answered. Only the tokens: the client registration, the discovery record and everything else stored
   * stay, so the next login registers no new client. `onEvent` gets `logged_out` with the same result.
   *
   * A failed revocation (network error, timeout, any non-200 answer) does not throw: it is reported as
   * `failed`, with a `reason` that names no token or secret, and the tokens are deleted all the same (they
   * may stay valid at the server until they expire). A server without a `revocation_endpoint` gives
   * `no_endpoint`, and nothing stored gives `not_held` with no request sent. It throws `OAuthError` only
   * when the store or the lock fails: `storage_failed`, `decryption_failed`, `lock_timeout` (all but
   * `decryption_failed` transient), or `aborted`; the tokens may then still be stored, and logging out
   * again is safe (RFC 7009 servers answer 200 for a token already revoked).
   *
   * {@link clearTokens} only forgets the tokens here, sending nothing.
   */
  async logout(): Promise<LogoutResult> {
    return this.#session.logout().catch((error: unknown) => Promise.reject(asOAuthError(error, "logout()")));
  }

  /**
   * Forgets the tokens stored for this MCP server (the registration and discovery results stay), without
   * telling the authorization server: they stay valid there until they expire. {@link logout} revokes them first.
   */
  async clearTokens(): Promise<void> {
    await this.#session.clear().catch((error: unknown) => Promise.reject(asOAuthError(error, "clearTokens()")));
  }

  /** The storage key of a record, for inspection and migration (see docs/storage.md, "Storage keys"). */
  storageKey(kind: "discovery" | "client" | "tokens" | "binding", issuer?: string): string {
    return this.#session.store.key(kind, issuer);
  }
}

/** Fetch's own limit (WHATWG fetch, "HTTP-redirect fetch" step 6). */
const maxRedirects = 20;
const redirectStatuses = new Set([301, 302, 303, 307, 308]);

/** What fetch sends after a redirect: 303 (and 301/302 after a POST) become a GET without a body. */
function redirectedInit(init: RequestInit, status: number): RequestInit {
  const method = (init.method ?? "GET").toUpperCase();
  if (!(status === 303 && method !== "HEAD") && !((status === 301 || status === 302) && method === "POST")) return init;
  const headers = new Headers(init.headers);
  for (const name of ["content-type", "content-length", "content-encoding", "content-language", "content-location"]) headers.delete(name);
  const { body: _body, ...rest } = init;
  return { ...rest, method: "GET", headers };
}

function withoutAuthorization(init: RequestInit): RequestInit {
  const headers = new Headers(init.headers);
  headers.delete("authorization");
  return { ...init, headers };
}

/** Frees the connection of a response whose body nobody will read. */
async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}
