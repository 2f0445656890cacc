import {
  authorizationCodeGrantRequest,
  ClientSecretBasic,
  ClientSecretPost,
  None,
  processAuthorizationCodeResponse,
  processRefreshTokenResponse,
  refreshTokenGrantRequest,
  type ClientAuth,
  type TokenEndpointResponse,
} from "oauth4webapi";
import type { FetchLike } from "./back-channel.js";
import { OAuthError } from "./errors.js";
import { toOAuthError } from "./map-error.js";
import { asAuthorizationServer, asClient, httpOptions } from "./oauth4webapi-options.js";
import type { AuthorizationServerMetadata, ClientRecord, TokenRecord } from "./token-store.js";

export function clientAuthentication(client: ClientRecord): ClientAuth {
  switch (client.token_endpoint_auth_method ?? "none") {
    case "none":
      return None();
    case "client_secret_basic":
      return ClientSecretBasic(requireSecret(client));
    case "client_secret_post":
      return ClientSecretPost(requireSecret(client));
    default:
      throw new OAuthError("registration_failed", `unsupported token_endpoint_auth_method ${client.token_endpoint_auth_method} for client ${client.client_id}`);
  }
}

function requireSecret(client: ClientRecord): string {
  if (!client.client_secret) {
    throw new OAuthError("registration_failed", `client ${client.client_id} uses ${client.token_endpoint_auth_method} but has no client_secret`);
  }
  return client.client_secret;
}

/** RFC 6749 §4.1.3 with PKCE and the RFC 8707 `resource`, at the token endpoint of the server that issued the code. */
export async function exchangeCode(
  as: AuthorizationServerMetadata,
  client: ClientRecord,
  callbackParameters: URLSearchParams,
  redirectUri: string,
  codeVerifier: string,
  resource: string,
  fetch: FetchLike,
): Promise<TokenEndpointResponse> {
  const server = asAuthorizationServer(as);
  try {
    const response = await authorizationCodeGrantRequest(server, asClient(client), clientAuthentication(client), callbackParameters, redirectUri, codeVerifier, {
      additionalParameters: { resource },
      ...httpOptions(as.token_endpoint ?? "", fetch),
    });
    return await processAuthorizationCodeResponse(server, asClient(client), response);
  } catch (error) {
    throw toOAuthError(error, "token_exchange_failed", `exchanging the authorization code at ${as.token_endpoint}`);
  }
}

/** The refresh_token grant, with `resource` so the new access token keeps its audience. */
export async function refreshTokens(
  as: AuthorizationServerMetadata,
  client: ClientRecord,
  refreshToken: string,
  resource: string,
  fetch: FetchLike,
): Promise<TokenEndpointResponse> {
  const server = asAuthorizationServer(as);
  try {
    const response = await refreshTokenGrantRequest(server, asClient(client), clientAuthentication(client), refreshToken, {
      additionalParameters: { resource },
      ...httpOptions(as.token_endpoint ?? "", fetch),
    });
    return await processRefreshTokenResponse(server, asClient(client), response);
  } catch (error) {
    throw toOAuthError(error, "refresh_failed", `refreshing the access token at ${as.token_endpoint}`);
  }
}

/**
 * Token responses become a record with an absolute expiry, so a restarted process knows whether the
 * token is still good. A refresh response may omit the refresh token and scope: the previous ones stay.
 */
export function toTokenRecord(response: TokenEndpointResponse, nowMs: number, requestedScope: string | undefined, previous?: TokenRecord): TokenRecord {
  const refreshToken = response.refresh_token ?? previous?.refresh_token;
  const scope = response.scope ?? previous?.scope ?? requestedScope;
  const requested = requestedScope ?? previous?.requested_scope;
  return {
    access_token: response.access_token,
    token_type: response.token_type,
    ...(refreshToken ? { refresh_token: refreshToken } : {}),
    ...(scope ? { scope } : {}),
    ...(typeof response.expires_in === "number" ? { expires_at: nowMs + response.expires_in * 1000 } : {}),
    ...(requested ? { requested_scope: requested } : {}),
    obtained_at: nowMs,
  };
}
