import { OAuthError, isOAuthError } from "../shared/errors.js";
import type { OAuthEvent } from "../shared/events.js";
import type { ResolvedOptions } from "./resolved-options.js";
import { mergeSignals } from "../shared/merge-signals.js";

/**
 * The answers that mean "not now" rather than "no": 429 (RFC 6585 §4) and 503 (RFC 9110 §15.6.4). The
 * server did not act on the request, so sending it again spends nothing. Every other status is final:
 * a 400 `invalid_grant` retried would spend a refresh token twice, and a 500 may have come after the
 * code or refresh token was used. Network errors are never retried for the same reason (the request may
 * have reached the server); they surface as before.
 */
export const retryableStatuses: ReadonlySet<number> = new Set([429, 503]);

/** The delays used when the server gives no `Retry-After`: 250 ms, 500 ms, 1 s, then 2 s at most. */
const firstDelayMs = 250;
const maxDefaultDelayMs = 2_000;

export interface BackoffPolicy {
  /** Retries after the first attempt (0: never retry). */
  maxRetries: number;
  /** Longest single wait. A server asking for longer is not waited for: the request fails at once. */
  maxRetryAfterMs: number;
  /** Deadline of every attempt and wait together, counted from the first attempt (`requestTimeoutMs`). */
  deadlineMs: number;
  /** Wall clock in ms, for a `Retry-After` given as an HTTP-date. */
  now: () => number;
  /** Ends a wait at once: the instance's signal, and for a refresh the token lock's lease. */
  signal: AbortSignal | undefined;
  /** Runs before each retry; a refresh confirms there that it still holds the token lock. */
  beforeRetry?: (() => Promise<void>) | undefined;
  onEvent?: ((event: OAuthEvent) => void) | undefined;
  /** How a wait is done. Only tests replace it; the real one is an abortable timer. */
  sleep?: ((ms: number, signal: AbortSignal | undefined) => Promise<void>) | undefined;
}

/**
 * The policy for an instance's token and registration requests. `extra` adds what one call needs on top:
 * a refresh's lease signal (aborting waits along with the instance's) and its `beforeRetry` check.
 */
export function backoffPolicy(
  options: Pick<ResolvedOptions, "maxRetries" | "maxRetryAfterMs" | "requestTimeoutMs" | "now" | "signal" | "onEvent">,
  extra: { signal?: AbortSignal; beforeRetry?: () => Promise<void> } = {},
): BackoffPolicy {
  return {
    maxRetries: options.maxRetries,
    maxRetryAfterMs: options.maxRetryAfterMs,
    deadlineMs: options.requestTimeoutMs,
    now: options.now,
    signal: mergeSignals(options.signal, extra.signal),
    beforeRetry: extra.beforeRetry,
    onEvent: options.onEvent,
  };
}

/** What {@link withBackoff} ends with: the last response, and why it was not retried again when it is a 429 or 503. */
export interface BackoffResult {
  response: Response;
  /** Set when the last response is retryable but was not retried (retries spent, wait too long, deadline); for the error message. */
  gaveUp: string | undefined;
}

/**
 * Sends a request, and again after a 429 or 503, as the server's `Retry-After` asks (else after 250 ms,
 * 500 ms...), at most `maxRetries` times. `send` must build the whole request anew on each call: a body
 * cannot be sent twice, and a `private_key_jwt` assertion must be fresh (its `jti` is single-use), so
 * retries happen at the level of the whole oauth4webapi call. `send` gets the deadline's signal: a retry
 * has only what is left of `deadlineMs`.
 *
 * A wait is never longer than `maxRetryAfterMs` nor past the deadline: when the server asks for more, the
 * last response is returned at once with `gaveUp` set, for the caller to report as its (transient) error.
 * An abort during a wait rejects at once with `aborted` (or the lease's `lock_lost`).
 */
export async function withBackoff(send: (deadline: AbortSignal) => Promise<Response>, policy: BackoffPolicy, endpoint: "token" | "registration"): Promise<BackoffResult> {
  const started = performance.now();
  const deadline = AbortSignal.timeout(policy.deadlineMs);
  const sleep = policy.sleep ?? abortableSleep;
  // Bounded: one attempt plus at most maxRetries retries.
  for (let retry = 1; ; retry += 1) {
    const response = await send(deadline);
    if (!retryableStatuses.has(response.status)) return { response, gaveUp: undefined };
    const status = response.status;
    if (retry > policy.maxRetries) {
      return { response, gaveUp: policy.maxRetries === 0 ? `${status}, not retried (maxRetries is 0)` : `still ${status} after ${policy.maxRetries} ${policy.maxRetries === 1 ? "retry" : "retries"}` };
    }
    const asked = parseRetryAfter(response.headers.get("retry-after"), policy.now());
    const delayMs = asked ?? Math.min(firstDelayMs * 2 ** (retry - 1), maxDefaultDelayMs, policy.maxRetryAfterMs);
    if (delayMs > policy.maxRetryAfterMs) {
      return { response, gaveUp: `${status} with Retry-After ${formatMs(delayMs)}, longer than maxRetryAfterMs (${policy.maxRetryAfterMs} ms): not waited for` };
    }
    if (performance.now() - started + delayMs >= policy.deadlineMs) {
      return { response, gaveUp: `${status}; waiting ${formatMs(delayMs)} more would pass the request's deadline (requestTimeoutMs, ${policy.deadlineMs} ms)` };
    }
    // The body was read in full by the back channel; nothing holds the connection while we wait.
    await response.body?.cancel().catch(() => undefined);
    policy.onEvent?.({ type: "retry_scheduled", endpoint, status, delayMs, retry });
    await sleep(delayMs, policy.signal);
    await policy.beforeRetry?.();
  }
}

/**
 * RFC 9110 §10.2.3 `Retry-After`: `delay-seconds` (digits only) or an HTTP-date (any of the three forms
 * §5.6.7 obliges a recipient to accept), as milliseconds to wait from `nowMs`. A date in the past is 0.
 * Anything else (negative or fractional numbers, garbage, impossible dates) is `undefined`, and the
 * caller falls back to its own short delay: a malformed header must not make the client wait longer.
 * Huge values are returned as they are (at most `Number.MAX_SAFE_INTEGER`) for the caller's cap to refuse.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, Number.MAX_SAFE_INTEGER);
  const at = parseHttpDate(text, nowMs);
  return at === undefined ? undefined : Math.max(0, at - nowMs);
}

const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const month = `(${months.join("|")})`;
const time = "(\\d{2}):(\\d{2}):(\\d{2})";
/** IMF-fixdate, the form senders must use: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const imfFixdate = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) ${month} (\\d{4}) ${time} GMT$`);
/** Obsolete RFC 850 form: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const rfc850 = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-${month}-(\\d{2}) ${time} GMT$`);
/** Obsolete asctime form: `Sun Nov  6 08:49:37 1994`. */
const asctime = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${month} ( \\d|\\d{2}) ${time} (\\d{4})$`);

/**
 * An HTTP-date (RFC 9110 §5.6.7) in ms since the epoch, or undefined. Parsed by hand: `Date.parse` takes
 * almost anything (`Date.parse("-5")` is a date in the year -5).
 */
function parseHttpDate(text: string, nowMs: number): number | undefined {
  let day: string | undefined, mon: string | undefined, year: number, hh: string | undefined, mm: string | undefined, ss: string | undefined;
  let match = imfFixdate.exec(text);
  if (match) {
    [, day, mon, , hh, mm, ss] = match;
    year = Number(match[3]);
  } else if ((match = rfc850.exec(text))) {
    [, day, mon, , hh, mm, ss] = match;
    // §5.6.7: a two-digit year more than 50 years in the future is the most recent past year with those digits.
    const currentYear = new Date(nowMs).getUTCFullYear();
    year = Math.floor(currentYear / 100) * 100 + Number(match[3]);
    if (year > currentYear + 50) year -= 100;
  } else if ((match = asctime.exec(text))) {
    [, mon, day, hh, mm, ss] = match;
    year = Number(match[6]);
  } else {
    return undefined;
  }
  const monthIndex = months.indexOf(mon ?? "");
  const [d, h, m, s] = [day, hh, mm, ss].map(Number) as [number, number, number, number];
  if (d < 1 || h > 23 || m > 59 || s > 60) return undefined;
  const ms = Date.UTC(year, monthIndex, d, h, m, Math.min(s, 59));
  // Date.UTC rolls 31 Feb over into March: such a date is not a date.
  return new Date(ms).getUTCDate() === d ? ms : undefined;
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms)} ms`;
}

function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const aborted = () => {
      const reason: unknown = signal?.reason;
      // A lost lease says so itself (`lock_lost`); anything else is the instance's abort.
      return isOAuthError(reason) ? reason : new OAuthError("aborted", "aborted while waiting to retry a rate-limited request", { cause: reason });
    };
    if (signal?.aborted) return reject(aborted());
    const onAbort = () => {
      clearTimeout(timer);
      reject(aborted());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
