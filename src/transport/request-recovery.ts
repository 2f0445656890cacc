import { OAuthError } from "../shared/errors.js";
import { asOAuthError } from "../shared/map-error.js";
import { readBearerChallenge, type BearerChallenge } from "../flow/parse-www-authenticate.js";
import type { Session } from "../flow/session.js";
import type { TokenRecord } from "../store/token-store.js";

/**
 * The per-request policy shared by `oauth.fetch` and the undici interceptor: which token to send first,
 * and what to do when the MCP server answers 401 or 403. Every recovery is spent at most once (a refresh,
 * then one new authorization) or `maxStepUps` times (step-up), so a request can never loop.
 *
 * `signal` is the request's own: when it fires while the request waits for a refresh or a login, the
 * request rejects at once with the signal's reason, as `fetch` does. The refresh or login goes on for
 * the other requests waiting for it (it is shared), and its tokens are stored as usual.
 */
/** A 401 or 403 answer that calls for recovery, and its Bearer challenge (if it sent one). */
export interface Recoverable {
  status: number;
  challenge: BearerChallenge | undefined;
}

export class RequestRecovery {
  #tokens: TokenRecord | undefined;
  #refreshed = false;
  #authorized = false;
  #stepUps = 0;

  readonly #session: Session;
  readonly #maxStepUps: number;
  readonly #origin: string;
  readonly #signal: AbortSignal | undefined;

  constructor(
    session: Session,
    maxStepUps: number,
    origin: string,
    signal?: AbortSignal,
  ) {
    this.#session = session;
    this.#maxStepUps = maxStepUps;
    this.#origin = origin;
    this.#signal = signal;
  }

  /** The first attempt's token when the session has a fresh one in memory, with no await; else undefined. */
  cachedToken(): string | undefined {
    this.#tokens = this.#session.freshToken();
    return this.#tokens?.access_token;
  }

  /**
   * The token for the first attempt. `required` is for bodies that cannot be sent twice: with no token
   * at hand, authorize first (discovering from the well-known URLs) instead of spending the body on a 401.
   * Grants without a user renew an expired token the same way, since asking costs no one anything.
   */
  async firstToken(required = false): Promise<string | undefined> {
    this.#tokens = await this.#unlessAborted(this.#session.currentToken());
    if (!this.#tokens && (required || this.#session.renewsWithoutUser())) {
      this.#tokens = await this.#unlessAborted(this.#session.authorize());
      this.#authorized = true;
    }
    return this.#tokens?.access_token;
  }

  /**
   * The answer to recover from, with its challenge parsed once: a 401, or a 403 `insufficient_scope`, calls
   * for a refresh, a new authorization or a step-up (or for the typed error that ends them). Undefined for
   * any other answer, which goes to the caller as it is.
   */
  recoverable(status: number, headers: Headers): Recoverable | undefined {
    if (status !== 401 && status !== 403) return undefined;
    const challenge = readBearerChallenge(headers);
    return status === 401 || challenge?.error === "insufficient_scope" ? { status, challenge } : undefined;
  }

  /** The token to retry with; throws `unauthorized` or `insufficient_scope` when the recoveries are spent. */
  async recover({ status, challenge }: Recoverable): Promise<string> {
    if (status === 401) {
      if (this.#authorized) throw new OAuthError("unauthorized", `${this.#origin} still answers 401 after a new authorization`, { status: 401 });
      const renewed = this.#tokens?.refresh_token && !this.#refreshed ? await this.#unlessAborted(this.#session.refresh(this.#tokens)) : undefined;
      this.#refreshed = true;
      if (renewed) {
        this.#tokens = renewed;
      } else {
        this.#tokens = await this.#unlessAborted(this.#session.authorize({ challenge, rejected: this.#tokens }));
        this.#authorized = true;
      }
      return this.#tokens.access_token;
    }
    if (this.#stepUps >= this.#maxStepUps) {
      throw new OAuthError("insufficient_scope", `${this.#origin} still requires scope "${challenge?.scope ?? ""}" after ${this.#stepUps} step-up authorization(s)`, {
        status: 403,
        oauthError: "insufficient_scope",
      });
    }
    this.#stepUps += 1;
    this.#tokens = await this.#unlessAborted(this.#session.authorize({ challenge, rejected: this.#tokens, stepUp: true }));
    return this.#tokens.access_token;
  }

  /** The session's answer, or the request signal's reason as soon as it fires, whichever comes first. */
  #unlessAborted<T>(pipeline: Promise<T>): Promise<T> {
    // Only OAuthErrors leave the library; the caller's own abort reason is the one exception, as fetch's.
    const work = pipeline.catch((error: unknown) => Promise.reject(asOAuthError(error, `obtaining a token for ${this.#origin}`)));
    const signal = this.#signal;
    if (!signal) return work;
    if (signal.aborted) {
      work.catch(() => undefined); // shared with other waiters; this request no longer listens
      return Promise.reject(signal.reason);
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        work.catch(() => undefined);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      work.then(
        (value) => (signal.removeEventListener("abort", onAbort), resolve(value)),
        (error: unknown) => (signal.removeEventListener("abort", onAbort), reject(error)),
      );
    });
  }
}
