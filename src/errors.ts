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
  /** The authorization server does not advertise PKCE with S256. */
  | "pkce_unsupported"
  /** An endpoint is not `https:` and not on a loopback host. */
  | "insecure_endpoint"
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
  /** The operation was aborted through an `AbortSignal`. */
  | "aborted";

export interface OAuthErrorDetails {
  /** The underlying error. */
  cause?: unknown;
  /** HTTP status of the response that caused the error, when there was one. */
  status?: number;
  /** The OAuth `error` code the server returned (`invalid_grant`, `access_denied`...), when there was one. */
  oauthError?: string;
  /** True when retrying later may succeed (network failure, 5xx); stored credentials were kept. */
  transient?: boolean;
}

export class OAuthError extends Error {
  override readonly name = "OAuthError";
  readonly code: OAuthErrorCode;
  readonly status: number | undefined;
  readonly oauthError: string | undefined;
  readonly transient: boolean;

  constructor(code: OAuthErrorCode, message: string, details: OAuthErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = details.status;
    this.oauthError = details.oauthError;
    this.transient = details.transient ?? false;
  }
}

export function isOAuthError(value: unknown, code?: OAuthErrorCode): value is OAuthError {
  return value instanceof OAuthError && (code === undefined || value.code === code);
}
