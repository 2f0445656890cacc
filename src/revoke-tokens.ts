import { processRevocationResponse, revocationRequest } from "oauth4webapi";
import { assertSecureEndpoint, type FetchLike } from "./back-channel.js";
import { clientAuthentication } from "./client-authentication.js";
import { toOAuthError } from "./map-error.js";
import { asAuthorizationServer, asClient, httpOptions } from "./oauth4webapi-options.js";
import type { TokenClient } from "./request-tokens.js";
import type { AuthorizationServerMetadata, TokenRecord } from "./token-store.js";

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
  readonly refreshToken: TokenRevocation;
  readonly accessToken: TokenRevocation;
}

/**
 * RFC 7009 for the tokens of one grant: the refresh token first (revoking it ends the grant, so no new
 * access token can be minted while the access token is being revoked), then the access token, each with
 * its `token_type_hint`. The client authenticates as it does at the token endpoint, `client_id` in the
 * body included (servers built on the MCP Python SDK read the client from the body at /revoke too).
 *
 * `findClient` is asked only when there is something to send, and at most once.
 *
 * Never throws: a failure (finding the client included) is reported in the result, because logging out
 * must still delete the tokens here.
 */
export async function revokeTokens(
  as: AuthorizationServerMetadata | undefined,
  findClient: () => Promise<TokenClient | undefined>,
  tokens: TokenRecord | undefined,
  fetch: FetchLike,
): Promise<LogoutResult> {
  const endpoint = as?.revocation_endpoint;
  let found: Promise<TokenClient | undefined> | undefined;
  const revoke = async (token: string | undefined, hint: "refresh_token" | "access_token"): Promise<TokenRevocation> => {
    if (token === undefined) return { status: "not_held" };
    if (!as || endpoint === undefined) return { status: "no_endpoint" };
    const step = `revoking the ${hint === "refresh_token" ? "refresh" : "access"} token at ${endpoint}`;
    let client: TokenClient | undefined;
    try {
      // Checked at discovery too; a stored record is checked again here because it is about to carry a token.
      assertSecureEndpoint(endpoint, "revocation_endpoint");
      client = await (found ??= findClient());
      if (!client) return { status: "failed", reason: `${step}: no client registration is known at ${as.issuer}`, transient: false };
      const auth = clientAuthentication(client.record, client.signingKey);
      const response = await revocationRequest(asAuthorizationServer(as), asClient(client.record), auth, token, {
        additionalParameters: { token_type_hint: hint },
        ...httpOptions(endpoint, fetch),
      });
      await processRevocationResponse(response);
      return { status: "revoked" };
    } catch (error) {
      // The code is not reported (nothing is thrown): only the scrubbed message and the details are.
      // Everything a request carried that a server could echo back: both tokens (the access token's request
      // follows the refresh token's), and the client secret.
      const mapped = toOAuthError(error, "authorization_failed", step, [tokens?.refresh_token, tokens?.access_token, client?.record.client_secret]);
      return {
        status: "failed",
        reason: mapped.message,
        transient: mapped.transient,
        ...(mapped.status === undefined ? {} : { httpStatus: mapped.status }),
        ...(mapped.oauthError === undefined ? {} : { oauthError: mapped.oauthError }),
      };
    }
  };
  const refreshToken = await revoke(tokens?.refresh_token, "refresh_token");
  const accessToken = await revoke(tokens?.access_token, "access_token");
  return { revocationEndpoint: !as ? "unknown" : endpoint === undefined ? "no_endpoint" : "listed", refreshToken, accessToken };
}
