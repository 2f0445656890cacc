/**
 * What became of one token at logout. `failed` carries what went wrong without any secret (a server
 * that echoes the token in its `error_description` gets it printed as `[redacted]`); `transient` says
 * whether the same request may succeed later (network error, timeout, 5xx).
 */
export type TokenRevocation =
  /** The revocation endpoint answered 200 (RFC 7009 §2.2: also for a token it did not know). */
  | { readonly status: "revoked" }
  /** The revocation request failed; the token was deleted here all the same and may stay valid at the server until it expires. */
  | { readonly status: "failed"; readonly reason: string; readonly transient: boolean; readonly httpStatus?: number; readonly oauthError?: string }
  /** No such token was held (no tokens stored, or a grant without a refresh token). Nothing was sent. */
  | { readonly status: "not_held" }
  /** The token was held but the authorization server lists no `revocation_endpoint`: it was only deleted here. */
  | { readonly status: "no_endpoint" };

/** What `oauth.logout()` did. Whatever it says, the tokens are no longer stored nor held in memory. */
export interface LogoutResult {
  /**
   * `listed`: the authorization server's metadata lists a `revocation_endpoint`. `no_endpoint`: it does
   * not, so the held tokens were only deleted here and stay valid at the server until they expire.
   * `unknown`: no authorization server was ever discovered for this MCP server, so no tokens were held.
   */
  readonly revocationEndpoint: "listed" | "no_endpoint" | "unknown";
  /** What became of the refresh token, revoked first: that ends the grant, so no new access token can be minted. */
  readonly refreshToken: TokenRevocation;
  /** What became of the access token. */
  readonly accessToken: TokenRevocation;
}
