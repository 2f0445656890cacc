/**
 * Every failure the library reports is an {@link OAuthError}; `code` says which step failed.
 *
 * Messages never contain a token, authorization code, PKCE verifier or client secret.
 */
export type OAuthErrorCode =
  /** An option given to `new OAuth()` failed validation; `message` names it. */
  | "invalid_options"
  /** Protected resource or authorization server metadata could not be fetched or parsed. */
  | "discovery_failed"
  /** The protected resource metadata names a resource other than the MCP server. */
  | "resource_mismatch"
  /** Authorization server metadata `issuer` differs from the URL it was discovered from. */
  | "issuer_mismatch"
  /**
   * The MCP server names authorization servers other than the one the client's credentials belong to
   * (`authorizationServer`, or the issuer they first worked with): nothing was sent there.
   */
  | "authorization_server_mismatch"
  /** The authorization server does not advertise PKCE with S256. */
  | "pkce_unsupported"
  /**
   * A URL is not `https:`: `http:` is allowed only when both its host and the MCP URL's are loopback
   * (`localhost`, 127.0.0.0/8, `::1`), or with `allowInsecureHttp`.
   */
  | "insecure_endpoint"
  /**
   * A URL the MCP server led the client to (resource metadata, authorization server metadata or one of
   * its endpoints) is on a more private network than the MCP server itself (public < private <
   * link-local < loopback), checked on the resolved addresses before connecting: nothing was sent. The
   * message names the host, the address and its class. `allowPrivateNetworks` turns the rule off.
   */
  | "private_address"
  /** Client registration (dynamic, CIMD or pre-registered) failed or is unusable. */
  | "registration_failed"
  /** The user or the authorization server denied the authorization request. */
  | "access_denied"
  /** The authorization server answered the authorization request with another error. */
  | "authorization_failed"
  /** No callback reached the loopback server within `callbackTimeoutMs`. */
  | "callback_timeout"
  /** The loopback callback server could not start (port in use, permission). */
  | "callback_failed"
  /** The callback's `state` did not match the one sent. */
  | "state_mismatch"
  /** The callback's RFC 9207 `iss` did not match the authorization server, or was missing when required. */
  | "issuer_response_mismatch"
  /** The authorization code could not be exchanged for tokens. */
  | "token_exchange_failed"
  /** The token endpoint issued a `token_type` other than `Bearer` (RFC 6750); the tokens were not used or kept. */
  | "unsupported_token_type"
  /** The token endpoint issued a DPoP-bound token (RFC 9449), which this client cannot present yet; nothing was kept. */
  | "dpop_unsupported"
  /** The refresh token grant failed; `transient` tells whether stored tokens were kept for a retry. */
  | "refresh_failed"
  /** The MCP server still answers 401 after a fresh authorization. */
  | "unauthorized"
  /** The MCP server still answers 403 `insufficient_scope` after the allowed step-up attempts. */
  | "insufficient_scope"
  /** The token store failed to read or write, or did not answer within `storageTimeoutMs`. Always transient. */
  | "storage_failed"
  /** A stored value could not be decrypted (wrong key, tampered or not encrypted); nothing was overwritten. */
  | "decryption_failed"
  /** Another process held the token lock longer than this one would wait (`lockTimeoutMs`). Transient. */
  | "lock_timeout"
  /**
   * The token lock's lease ended while this process held it (it stalled, or could not renew the lease),
   * so another process may be refreshing: the refresh was stopped (before its request when the loss was
   * seen in time, else by aborting it). Stored tokens are kept. Transient.
   */
  | "lock_lost"
  /**
   * A redirect would have carried the bearer token out of its scope: undici's redirect interceptor
   * composed inside `oauth.interceptor()` was about to follow one. Compose it outside instead.
   */
  | "redirect_refused"
  /** The operation was aborted through an `AbortSignal`. */
  | "aborted"
  /**
   * Something failed that the library did not foresee: a bug, or a callback (`openBrowser`, `onEvent`,
   * `logger`) or store that threw something other than an `OAuthError`. `cause` (scrubbed) says what.
   * Only `OAuthError`s leave the library, so this is the one code a caller cannot act on: report it.
   */
  | "internal_error";

/** What an {@link OAuthError} carries besides its code and message; every field is optional. */
export interface OAuthErrorDetails {
  /**
   * The underlying error. It is kept scrubbed (see {@link OAuthError.cause}): foreign errors can carry
   * response bodies, form parameters or store commands, and with them tokens and secrets.
   */
  cause?: unknown;
  /** HTTP status of the response that caused the error, when there was one. */
  status?: number;
  /** The OAuth `error` code the server returned (`invalid_grant`, `access_denied`...), when there was one. */
  oauthError?: string;
  /** True when retrying later may succeed (network failure, 5xx); stored credentials were kept. */
  transient?: boolean;
}

/**
 * Every failure the library reports. Its `cause` chain holds copies of the underlying errors with their
 * name, message, `code` and stack frames only: never the objects foreign code attached to them (oauth4webapi
 * attaches whole token responses, Redis clients their commands), and never a JSON parser's message, which
 * quotes the text it failed on. So `console.error(error)`, `util.inspect` at any depth or `JSON.stringify`
 * cannot print a token.
 */
export class OAuthError extends Error {
  override readonly name = "OAuthError";
  /** Which step failed; see {@link OAuthErrorCode}. */
  readonly code: OAuthErrorCode;
  /** HTTP status of the response that caused the error, when there was one. */
  readonly status: number | undefined;
  /** The OAuth `error` code the server returned (`invalid_grant`, `access_denied`...), when there was one. */
  readonly oauthError: string | undefined;
  /** True when retrying later may succeed (network failure, 5xx, lock or store trouble); stored credentials were kept. */
  readonly transient: boolean;

  /** `details.cause` is kept scrubbed, as the class documentation describes. */
  constructor(code: OAuthErrorCode, message: string, details: OAuthErrorDetails = {}) {
    const cause = scrubCause(details.cause, 0);
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.status = details.status;
    this.oauthError = details.oauthError;
    this.transient = details.transient ?? false;
  }
}

/**
 * Whether `value` is an {@link OAuthError}, and, when `code` is given, one with that code. A type guard,
 * so `catch (error) { if (isOAuthError(error, "access_denied")) ... }` needs no cast.
 */
export function isOAuthError(value: unknown, code?: OAuthErrorCode): value is OAuthError {
  return value instanceof OAuthError && (code === undefined || value.code === code);
}

/** How deep a cause chain is copied; deeper links are dropped (a loop cannot hang the copy). */
const maxCauseDepth = 8;

/** A cause reduced to what is safe to print: see {@link OAuthError}. Values that are not errors are dropped. */
function scrubCause(cause: unknown, depth: number): Error | undefined {
  if (cause instanceof OAuthError) return cause;
  if (!(cause instanceof Error) || depth >= maxCauseDepth) return undefined;
  const message = cause instanceof SyntaxError ? "the response is not valid JSON" : cause.message;
  const inner = scrubCause(cause.cause, depth + 1);
  const copy = new Error(message, inner === undefined ? undefined : { cause: inner });
  copy.name = cause.name;
  const code = (cause as { code?: unknown }).code;
  if (typeof code === "string" || typeof code === "number") Object.defineProperty(copy, "code", { value: code, enumerable: true });
  // The original frames, under the scrubbed message: where it happened stays visible, what it read does not.
  // The original header (name and message, which may span lines that look like frames) is cut off first.
  const stack = cause.stack ?? "";
  const header = `${cause.name}: ${cause.message}`;
  const frames = (stack.startsWith(header) ? stack.slice(header.length) : stack).split("\n").filter((line) => line.startsWith("    at "));
  copy.stack = [`${copy.name}: ${message}`, ...frames].join("\n");
  return copy;
}
