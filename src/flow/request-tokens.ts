import {
  authorizationCodeGrantRequest,
  clientCredentialsGrantRequest,
  genericTokenEndpointRequest,
  processAuthorizationCodeResponse,
  processClientCredentialsResponse,
  processGenericTokenEndpointResponse,
  processRefreshTokenResponse,
  refreshTokenGrantRequest,
  type AuthorizationServer,
  type Client,
  type ClientAuth,
  type TokenEndpointResponse,
} from "oauth4webapi";
import { withSignal, type FetchLike } from "../shared/back-channel.js";
import { clientAuthentication, type SigningKey } from "./client-authentication.js";
import { OAuthError, type OAuthErrorCode } from "../shared/errors.js";
import { toOAuthError } from "../shared/map-error.js";
import { asAuthorizationServer, asClient, httpOptions } from "./oauth4webapi-options.js";
import { withBackoff, type BackoffPolicy } from "./retry-after.js";
import type { AuthorizationServerMetadata, ClientRecord, TokenRecord } from "../store/token-store.js";

/** RFC 6749 §4.1.3 with PKCE and the RFC 8707 `resource`, at the token endpoint of the server that issued the code. */
export function exchangeCode(
  as: AuthorizationServerMetadata,
  client: TokenClient,
  callbackParameters: URLSearchParams,
  redirectUri: string,
  codeVerifier: string,
  resource: string,
  fetch: FetchLike,
  backoff: BackoffPolicy,
): Promise<TokenEndpointResponse> {
  return atTokenEndpoint(as, client, fetch, backoff, "token_exchange_failed", "exchanging the authorization code", {
    send: (server, c, auth, http) => authorizationCodeGrantRequest(server, c, auth, callbackParameters, redirectUri, codeVerifier, { additionalParameters: { resource }, ...http }),
    process: processAuthorizationCodeResponse,
    sent: [callbackParameters.get("code") ?? undefined, codeVerifier],
  });
}

/** The refresh_token grant, with `resource` so the new access token keeps its audience. */
export function refreshTokens(
  as: AuthorizationServerMetadata,
  client: TokenClient,
  refreshToken: string,
  resource: string,
  fetch: FetchLike,
  backoff: BackoffPolicy,
): Promise<TokenEndpointResponse> {
  return atTokenEndpoint(as, client, fetch, backoff, "refresh_failed", "refreshing the access token", {
    send: (server, c, auth, http) => refreshTokenGrantRequest(server, c, auth, refreshToken, { additionalParameters: { resource }, ...http }),
    process: processRefreshTokenResponse,
    sent: [refreshToken],
  });
}

/** RFC 6749 §4.4, for machine-to-machine clients: no user, no browser, no refresh token. */
export function requestClientCredentials(
  as: AuthorizationServerMetadata,
  client: TokenClient,
  scope: string | undefined,
  resource: string,
  fetch: FetchLike,
  backoff: BackoffPolicy,
): Promise<TokenEndpointResponse> {
  return atTokenEndpoint(as, client, fetch, backoff, "token_exchange_failed", "requesting a client_credentials token", {
    send: (server, c, auth, http) => clientCredentialsGrantRequest(server, c, auth, withScope({ resource }, scope), http),
    process: processClientCredentialsResponse,
  });
}

/** RFC 7523 §2.1: an assertion (for SEP-990, an identity assertion grant) traded for an access token. */
export function requestWithJwtBearer(
  as: AuthorizationServerMetadata,
  client: TokenClient,
  assertion: string,
  scope: string | undefined,
  resource: string,
  fetch: FetchLike,
  backoff: BackoffPolicy,
): Promise<TokenEndpointResponse> {
  return atTokenEndpoint(as, client, fetch, backoff, "token_exchange_failed", "presenting the identity assertion", {
    send: (server, c, auth, http) => genericTokenEndpointRequest(server, c, auth, jwtBearerGrant, withScope({ assertion, resource }, scope), http),
    process: processGenericTokenEndpointResponse,
    sent: [assertion],
  });
}

const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/** A client record with the key material that never goes to the store. */
export interface TokenClient {
  record: ClientRecord;
  signingKey?: SigningKey | undefined;
}

interface Grant {
  send: (server: AuthorizationServer, client: Client, auth: ClientAuth, http: ReturnType<typeof httpOptions>) => Promise<Response>;
  process: (server: AuthorizationServer, client: Client, response: Response) => Promise<TokenEndpointResponse>;
  /** The secrets this grant sends besides the client's own, kept out of its error messages. */
  sent?: (string | undefined)[];
}

/**
 * One token endpoint round trip through oauth4webapi, its failures mapped to `code`, sent again after a
 * 429 or 503 as `backoff` allows. Each attempt is a whole new oauth4webapi request: the form body is
 * rebuilt and a `private_key_jwt` assertion signed anew (its `jti` is single-use). A 429 or 503 that is
 * not retried (retries spent, `Retry-After` too long) keeps its code (`refresh_failed`...), with its
 * `status` and `transient: true`: the code says which step failed, as for any other transient failure,
 * so a caller that already handles a transient `refresh_failed` (and the session, which then keeps the
 * stored tokens) needs nothing new. Only Bearer tokens come back: oauth4webapi lets `DPoP` through, and
 * a DPoP-bound token sent as a bearer token would fail at the MCP server, so it is refused here with its own code.
 */
async function atTokenEndpoint(
  as: AuthorizationServerMetadata,
  client: TokenClient,
  fetch: FetchLike,
  backoff: BackoffPolicy,
  code: OAuthErrorCode,
  step: string,
  grant: Grant,
): Promise<TokenEndpointResponse> {
  const server = asAuthorizationServer(as);
  const where = `${step} at ${as.token_endpoint}`;
  let tokens: TokenEndpointResponse;
  let gaveUp: string | undefined;
  // The signed client assertions sent (oauth4webapi makes them inside the request): a server that echoes
  // one in its error must not get it printed, like the secret.
  const assertions: string[] = [];
  const authenticate = clientAuthentication(client.record, client.signingKey);
  const recorded: ClientAuth = async (s, c, body, headers) => {
    await authenticate(s, c, body, headers);
    const assertion = body.get("client_assertion");
    if (assertion) assertions.push(assertion);
  };
  try {
    const sent = await withBackoff(
      (deadline) => grant.send(server, asClient(client.record), recorded, httpOptions(as.token_endpoint ?? "", withSignal(fetch, deadline))),
      backoff,
      "token",
    );
    gaveUp = sent.gaveUp;
    tokens = await grant.process(server, asClient(client.record), sent.response);
  } catch (error) {
    throw toOAuthError(error, code, gaveUp ? `${where} (${gaveUp})` : where, [...(grant.sent ?? []), client.record.client_secret, ...assertions]);
  }
  if (tokens.token_type === "dpop") {
    throw new OAuthError("dpop_unsupported", `${where}: the server issued a DPoP-bound token (RFC 9449), which this client cannot present yet; it was not used`);
  }
  return tokens;
}

function withScope(parameters: Record<string, string>, scope: string | undefined): Record<string, string> {
  return scope ? { ...parameters, scope } : parameters;
}

/**
 * The longest access token life believed: a year. A server may say anything (`expires_in: 1e306` would
 * make the expiry `Infinity`, which JSON stores as `null`, so the record would be unreadable after a
 * restart); past a year the token is refreshed, or used until the server answers 401.
 */
export const maxTokenLifetimeSeconds = 365 * 24 * 60 * 60;

/**
 * Token responses become a record with an absolute expiry, so a restarted process knows whether the
 * token is still good. A refresh response may omit the refresh token and scope: the previous ones stay.
 * An absent `expires_in` leaves the expiry unknown (used until a 401); a present one is clamped to
 * [0, {@link maxTokenLifetimeSeconds}] so the stored time is always a finite number.
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
    ...(typeof response.expires_in === "number" && !Number.isNaN(response.expires_in)
      ? { expires_at: nowMs + Math.round(Math.min(Math.max(response.expires_in, 0), maxTokenLifetimeSeconds) * 1000) }
      : {}),
    ...(requested ? { requested_scope: requested } : {}),
    obtained_at: nowMs,
  };
}
