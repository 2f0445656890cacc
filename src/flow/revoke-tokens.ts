import { processRevocationResponse, revocationRequest } from "oauth4webapi";
import { assertSecureEndpoint, type FetchLike } from "../shared/back-channel.js";
import { clientAuthentication } from "./client-authentication.js";
import { toOAuthError } from "../shared/map-error.js";
import { asAuthorizationServer, asClient, httpOptions } from "./oauth4webapi-options.js";
import type { TokenClient } from "./request-tokens.js";
import type { LogoutResult, TokenRevocation } from "../shared/logout-result.js";
import type { AuthorizationServerMetadata, TokenRecord } from "../store/token-store.js";

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
