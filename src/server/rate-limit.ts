/** A budget: at most `requests` in each window of `windowSeconds`. */
export interface RateLimitRule {
  /** Requests allowed in one window. */
  requests: number;
  /** Length of the window, in seconds; it starts at the first request counted. */
  windowSeconds: number;
}

/** The budgets of one endpoint: per client address, and for all clients together. */
export interface EndpointLimits {
  /** Per client address (see `handle`'s `clientAddress`); not applied when the address is unknown. */
  perClient?: RateLimitRule;
  /** All requests to the endpoint together: what a flood from many addresses runs into. */
  overall?: RateLimitRule;
}

/**
 * Where the counters live. The default keeps them in this process; replicas of one server share their
 * budgets through an implementation on a shared store.
 */
export interface RateLimiter {
  /**
   * Counts one request against `key` and resolves to 0 when it is within `rule`, else to the whole
   * seconds (at least 1) until it would be: the `Retry-After` of the 429. A rejection lets the request
   * through and is reported to the provider's `onError`.
   */
  hit(key: string, rule: RateLimitRule): Promise<number>;
}

/** The endpoints that are rate limited. */
export type LimitedEndpoint = "register" | "authorize" | "token" | "revoke";

/** `rateLimits` of `OAuthProviderOptions`: `false` turns them off; an endpoint set to `false` is not limited. */
export interface RateLimitOptions {
  /** Default: a {@link MemoryRateLimiter} of this provider. */
  limiter?: RateLimiter;
  /** Budgets of `/register`; what is left out keeps its {@link defaultRateLimits} value. */
  register?: EndpointLimits | false;
  /** Budgets of `/authorize`; what is left out keeps its {@link defaultRateLimits} value. */
  authorize?: EndpointLimits | false;
  /** Budgets of `/token`; what is left out keeps its {@link defaultRateLimits} value. */
  token?: EndpointLimits | false;
  /** Budgets of `/revoke`; what is left out keeps its {@link defaultRateLimits} value. */
  revoke?: EndpointLimits | false;
}

/**
 * On by default. The per-address budgets are those of the MCP SDK's `mcpAuthRouter` (express-rate-limit):
 * 20 registrations an hour, 100 authorization and 50 token or revocation requests in 15 minutes. The
 * overall ones stop a flood from many addresses while leaving room for a busy server; raise them for
 * more traffic than that.
 */
export const defaultRateLimits: Readonly<Record<LimitedEndpoint, Required<EndpointLimits>>> = {
  register: { perClient: { requests: 20, windowSeconds: 3600 }, overall: { requests: 600, windowSeconds: 3600 } },
  authorize: { perClient: { requests: 100, windowSeconds: 900 }, overall: { requests: 5000, windowSeconds: 900 } },
  token: { perClient: { requests: 50, windowSeconds: 900 }, overall: { requests: 10_000, windowSeconds: 900 } },
  revoke: { perClient: { requests: 50, windowSeconds: 900 }, overall: { requests: 5000, windowSeconds: 900 } },
};

/**
 * Fixed-window counters in a `Map`. Bounded: past `maxKeys` the expired counters are swept, then the
 * oldest dropped (which can only forgive a client, never lock one out).
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly #windows = new Map<string, { count: number; resetAt: number }>();

  /** `now`: clock in milliseconds since the epoch. `maxKeys`: counters kept at most. Defaults `Date.now` and 100000. */
  readonly #now: () => number;
  readonly #maxKeys: number;

  constructor(now: () => number = Date.now, maxKeys = 100_000) {
    this.#now = now;
    this.#maxKeys = maxKeys;
  }

  /** Counts one request against `key` in this process; see {@link RateLimiter.hit}. Never rejects. */
  async hit(key: string, rule: RateLimitRule): Promise<number> {
    const now = this.#now();
    let window = this.#windows.get(key);
    if (!window || window.resetAt <= now) {
      this.#makeRoom(now);
      window = { count: 0, resetAt: now + rule.windowSeconds * 1000 };
      this.#windows.set(key, window);
    }
    window.count++;
    return window.count <= rule.requests ? 0 : Math.max(1, Math.ceil((window.resetAt - now) / 1000));
  }

  #makeRoom(now: number): void {
    if (this.#windows.size < this.#maxKeys) return;
    for (const [key, window] of this.#windows) if (window.resetAt <= now) this.#windows.delete(key);
    for (const key of this.#windows.keys()) {
      if (this.#windows.size < this.#maxKeys) break;
      this.#windows.delete(key);
    }
  }
}

/**
 * Counts a request to `endpoint` against its budgets: the client's own first, then the overall one (a
 * client over its own budget does not use up everyone's). Resolves to the seconds to wait, or 0.
 */
export async function checkRateLimit(limiter: RateLimiter, endpoint: LimitedEndpoint, limits: EndpointLimits, clientAddress: string | undefined): Promise<number> {
  if (limits.perClient && clientAddress !== undefined) {
    const wait = await limiter.hit(`${endpoint}:client:${clientAddress}`, limits.perClient);
    if (wait > 0) return wait;
  }
  return limits.overall ? limiter.hit(`${endpoint}:overall`, limits.overall) : 0;
}
