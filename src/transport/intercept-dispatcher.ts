import type { Dispatcher } from "undici";
import { OAuthError } from "../shared/errors.js";
import { withBearerDispatch } from "./bearer.js";
import { RequestRecovery, type Recoverable } from "./request-recovery.js";
import type { Session } from "../flow/session.js";

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;

/**
 * The same job as `oauth.fetch`, as an undici interceptor: `new Agent().compose(oauth.interceptor())`.
 * A 401 or 403 `insufficient_scope` answer is held back from the caller, recovered from, and the
 * request dispatched again, as undici's own redirect handler does. Only bodies that can be sent twice
 * (none, strings, buffers) are retried; for a streamed body the token is obtained before sending.
 */
export function createInterceptor(session: Session, maxStepUps: number): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) =>
    function oauthInterceptor(options, handler) {
      const url = new URL(options.path, options.origin);
      if (!session.covers(url)) return dispatch(options, handler);
      const replayable = options.body == null || typeof options.body === "string" || options.body instanceof Uint8Array;
      // undici's `request` passes the caller's signal along; an EventEmitter signal is left to undici.
      const signal = (options as { signal?: unknown }).signal;
      const recovery = new RequestRecovery(session, maxStepUps, url.origin, signal instanceof AbortSignal ? signal : undefined);
      // The hot path: a fresh token in memory is attached with no await, as oauth.fetch does.
      const cached = recovery.cachedToken();
      if (cached !== undefined) return dispatch(withBearerDispatch(options, cached), new RecoveringHandler(options, dispatch, handler, recovery, replayable, true));
      recovery.firstToken(!replayable).then(
        (token) => dispatch(token ? withBearerDispatch(options, token) : options, new RecoveringHandler(options, dispatch, handler, recovery, replayable, token !== undefined)),
        (error: Error) => handler.onResponseError?.(null as unknown as Controller, error),
      );
      return true;
    };
}

class RecoveringHandler implements Handler {
  #held: Recoverable | undefined;

  readonly #options: Dispatcher.DispatchOptions;
  readonly #dispatch: Dispatcher.Dispatch;
  readonly #handler: Handler;
  readonly #recovery: RequestRecovery;
  readonly #replayable: boolean;
  #tokenAttached: boolean;

  constructor(
    options: Dispatcher.DispatchOptions,
    dispatch: Dispatcher.Dispatch,
    handler: Handler,
    recovery: RequestRecovery,
    replayable: boolean,
    tokenAttached: boolean,
  ) {
    this.#options = options;
    this.#dispatch = dispatch;
    this.#handler = handler;
    this.#recovery = recovery;
    this.#replayable = replayable;
    this.#tokenAttached = tokenAttached;
  }

  /**
   * A redirect interceptor composed outside this one (`compose(oauth.interceptor(), interceptors.redirect())`)
   * dispatches every hop through it, so each hop gets the token only if it is in scope. One composed
   * inside it would follow redirects with the token attached wherever they lead on the same origin (it
   * strips Authorization only across origins), and says so by the `history` of the hop it starts: such
   * a hop is refused before it is sent.
   */
  onRequestStart(controller: Controller, context: unknown): void {
    const history = (context as { history?: unknown[] } | undefined)?.history;
    if (this.#tokenAttached && history !== undefined && history.length > 0) {
      controller.abort(
        new OAuthError(
          "redirect_refused",
          "a redirect interceptor composed inside oauth.interceptor() would follow a redirect with the bearer token attached; compose it outside instead: agent.compose(oauth.interceptor(), interceptors.redirect(...))",
        ),
      );
      return;
    }
    this.#handler.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(...args: Parameters<NonNullable<Handler["onRequestUpgrade"]>>): void {
    this.#handler.onRequestUpgrade?.(...args);
  }

  onResponseStart(controller: Controller, status: number, headers: Record<string, string | string[] | undefined>, message?: string): void {
    // Only a 401 or 403 can call for recovery; other answers pass straight through.
    if (this.#replayable && (status === 401 || status === 403)) {
      const recoverable = this.#recovery.recoverable(status, toHeaders(headers));
      if (recoverable) {
        this.#held = recoverable;
        return;
      }
    }
    this.#handler.onResponseStart?.(controller, status, headers, message);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (!this.#held) this.#handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: Record<string, string | string[] | undefined>): void {
    const held = this.#held;
    if (!held) return this.#handler.onResponseEnd?.(controller, trailers);
    this.#held = undefined;
    this.#recovery.recover(held).then(
      (token) => {
        if (controller.aborted) return;
        try {
          this.#tokenAttached = true;
          this.#dispatch(withBearerDispatch(this.#options, token), this);
        } catch (error) {
          this.#handler.onResponseError?.(controller, error as Error);
        }
      },
      (error: Error) => this.#handler.onResponseError?.(controller, error),
    );
  }

  onResponseError(controller: Controller, error: Error): void {
    this.#handler.onResponseError?.(controller, error);
  }
}

function toHeaders(headers: Record<string, string | string[] | undefined>): Headers {
  const result = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) result.append(name, item);
  }
  return result;
}
