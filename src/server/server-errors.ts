/**
 * An OAuth error the server answers with (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 6750 §3.1): `error` is the
 * OAuth error code, `description` the human-readable `error_description`. A subclass may throw one from
 * its abstract methods (e.g. `access_denied` from `authorize`) and it reaches the client as is; any other
 * error thrown by a subclass becomes a generic `server_error`, so internals never leak.
 *
 * Descriptions never contain a token, code or secret.
 */
export class OAuthServerError extends Error {
  override readonly name = "OAuthServerError";
  /** The OAuth error code sent as `error` (`invalid_request`, `access_denied`...). */
  readonly error: string;
  /** HTTP status of the answer. */
  readonly status: number;

  /** `description` becomes `error_description` (and `message`); `status` defaults to 400. */
  constructor(error: string, description: string, status = 400, options?: { cause?: unknown }) {
    super(description, options);
    this.error = error;
    this.status = status;
  }

  /** The `error_description` sent to the client: the error's `message`. */
  get description(): string {
    return this.message;
  }
}

/** Shorthands for the codes the endpoints use. */
export const invalidRequest = (description: string) => new OAuthServerError("invalid_request", description);
export const invalidGrant = (description: string) => new OAuthServerError("invalid_grant", description);
export const invalidClient = (description: string) => new OAuthServerError("invalid_client", description, 401);
export const invalidScope = (description: string) => new OAuthServerError("invalid_scope", description);
export const invalidTarget = (description: string) => new OAuthServerError("invalid_target", description);
export const invalidClientMetadata = (description: string) => new OAuthServerError("invalid_client_metadata", description);
export const invalidRedirectUri = (description: string) => new OAuthServerError("invalid_redirect_uri", description);

/** A subclass error as the client may see it: ours as is, anything else as an opaque `server_error`. */
export function asServerError(error: unknown, onUnexpected?: (error: unknown) => void): OAuthServerError {
  if (error instanceof OAuthServerError) return error;
  onUnexpected?.(error);
  return new OAuthServerError("server_error", "the authorization server failed to handle the request", 500, { cause: error });
}
