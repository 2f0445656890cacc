import { OAuthError } from "./errors.js";
import { resolveOptions, type OAuthOptions, type ResolvedOptions } from "./options.js";
import { readBearerChallenge } from "./parse-www-authenticate.js";
import { toReplayable, withBearer } from "./replayable-request.js";
import { Session } from "./session.js";
import type { TokenRecord } from "./token-store.js";

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
    const request = await toReplayable(input, init);
    const signal = this.#o.signal;
    if (signal) request.init.signal = request.init.signal ? AbortSignal.any([request.init.signal, signal]) : signal;

    let tokens = await this.#session.currentToken();
    let refreshed = false;
    let authorized = false;
    let stepUps = 0;
    // Each pass either returns or spends one of the bounded recoveries above, so the loop ends.
    for (;;) {
      const response = await this.#o.fetch(request.url, withBearer(request.init, tokens?.access_token));
      const challenge = response.status === 401 || response.status === 403 ? readBearerChallenge(response.headers) : undefined;

      if (response.status === 401) {
        if (authorized) throw new OAuthError("unauthorized", `${request.url.origin} still answers 401 after a new authorization`, { status: 401 });
        await discard(response);
        const renewed = tokens?.refresh_token && !refreshed ? await this.#session.refresh(tokens) : undefined;
        refreshed = true;
        if (renewed) {
          tokens = renewed;
        } else {
          tokens = await this.#session.authorize(challenge);
          authorized = true;
        }
        continue;
      }

      if (response.status === 403 && challenge?.error === "insufficient_scope") {
        if (stepUps >= this.#o.maxStepUpAttempts) {
          await discard(response);
          throw new OAuthError(
            "insufficient_scope",
            `${request.url.origin} still requires scope "${challenge.scope ?? ""}" after ${stepUps} step-up authorization(s)`,
            { status: 403, oauthError: "insufficient_scope" },
          );
        }
        await discard(response);
        stepUps += 1;
        tokens = await this.#session.authorize(challenge, true);
        continue;
      }

      return response;
    }
  };

  /**
   * A valid access token for the MCP server, running the pipeline if needed (discovery from the
   * well-known URLs, since no challenge is at hand). For callers that attach the header themselves.
   */
  async getAccessToken(): Promise<string> {
    const tokens: TokenRecord = (await this.#session.currentToken()) ?? (await this.#session.authorize(undefined));
    return tokens.access_token;
  }

  /** Forgets the tokens stored for this MCP server (the registration and discovery results stay). */
  async clearTokens(): Promise<void> {
    await this.#session.clear();
  }

  /** The storage key of a record, for inspection and migration (see README "Storage keys"). */
  storageKey(kind: "discovery" | "client" | "tokens", issuer?: string): string {
    return this.#session.store.key(kind, issuer);
  }
}

/** Frees the connection of a response whose body nobody will read. */
async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}
