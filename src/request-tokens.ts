import {
  authorizationCodeGrantRequest,
  clientCredentialsGrantRequest,
  genericTokenEndpointRequest,
  processAuthorizationCodeResponse,
  processClientCredentialsResponse,
  processGenericTokenEndpointResponse,
  processRefreshTokenResponse,
  refreshTokenGrantRequest,
  type TokenEndpointResponse,
} from "oauth4webapi";
import type { FetchLike } from "./back-channel.js";
import { clientAuthentication, type SigningKey } from "./client-authentication.js";
import { toOAuthError } from "./map-error.js";
import { asAuthorizationServer, asClient, httpOptions } from "./oauth4webapi-options.js";
import type { AuthorizationServerMetadata, ClientRecord, TokenRecord } from "./token-store.js";

/** RFC 6749 §4.1.3 with PKCE and the RFC 8707 `resource`, at the token endpoint of the server that issued the code. */
export async function exchangeCode(
  as: AuthorizationServerMetadata,
  client: TokenClient,
  callbackParameters: URLSearchParams,
  redirectUri: string,
  codeVerifier: string,
  resource: string,
  fetch: FetchLike,
): Promise<TokenEndpointResponse> {
  const server = asAuthorizationServer(as);
  try {
    const response = await authorizationCodeGrantRequest(server, asClient(client.record), authOf(client), callbackParameters, redirectUri, codeVerifier, {
      additionalParameters: { resource },
      ...httpOptions(as.token_endpoint ?? "", fetch),
    });
    return await processAuthorizationCodeResponse(server, asClient(client.record), response);
  } catch (error) {
    throw toOAuthError(error, "token_exchange_failed", `exchanging the authorization code at ${as.token_endpoint}`);
  }
}

/** The refresh_token grant, with `resource` so the new access token keeps its audience. */
export async function refreshTokens(
  as: AuthorizationServerMetadata,
  client: TokenClient,
  refreshToken: string,
  resource: string,
  fetch: FetchLike,
): Promise<TokenEndpointResponse> {
  const server = asAuthorizationServer(as);
  try {
    const response = await refreshTokenGrantRequest(server, asClient(client.record), authOf(client), refreshToken, {
      additionalParameters: { resource },
      ...httpOptions(as.token_endpoint ?? "", fetch),
    });
    return await processRefreshTokenResponse(server, asClient(client.record), response);
  } catch (error) {
    throw toOAuthError(error, "refresh_failed", `refreshing the access token at ${as.token_endpoint}`);
  }
}

/** RFC 6749 §4.4, for machine-to-machine clients: no user, no browser, no refresh token. */
export async function requestClientCredentials(
  as: AuthorizationServerMetadata,
  client: TokenClient,
  scope: string | undefined,
  resource: string,
  fetch: FetchLike,
): Promise<TokenEndpointResponse> {
  const server = asAuthorizationServer(as);
  try {
    const response = await clientCredentialsGrantRequest(server, asClient(client.record), authOf(client), withScope({ resource }, scope), httpOptions(as.token_endpoint ?? "", fetch));
    return await processClientCredentialsResponse(server, asClient(client.record), response);
  } catch (error) {
    throw toOAuthError(error, "token_exchange_failed", `requesting a client_credentials token at ${as.token_endpoint}`);
  }
}

/** RFC 7523 §2.1: an assertion (for SEP-990, an identity assertion grant) traded for an access token. */
export async function requestWithJwtBearer(
  as: AuthorizationServerMetadata,
  client: TokenClient,
  assertion: string,
  scope: string | undefined,
  resource: string,
  fetch: FetchLike,
): Promise<TokenEndpointResponse> {
  const server = asAuthorizationServer(as);
  try {
    const parameters = withScope({ assertion, resource }, scope);
    const response = await genericTokenEndpointRequest(server, asClient(client.record), authOf(client), jwtBearerGrant, parameters, httpOptions(as.token_endpoint ?? "", fetch));
    return await processGenericTokenEndpointResponse(server, asClient(client.record), response);
  } catch (error) {
    throw toOAuthError(error, "token_exchange_failed", `presenting the identity assertion at ${as.token_endpoint}`);
  }
}

const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/** A client record with the key material that never goes to the store. */
export interface TokenClient {
  record: ClientRecord;
  signingKey?: SigningKey | undefined;
}

function authOf(client: TokenClient) {
  return clientAuthentication(client.record, client.signingKey);
}

function withScope(parameters: Record<string, string>, scope: string | undefined): Record<string, string> {
  return scope ? { ...parameters, scope } : parameters;
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
