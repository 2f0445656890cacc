import { genericTokenEndpointRequest, processGenericTokenEndpointResponse, type AuthorizationServer } from "oauth4webapi";
import { assertSecureEndpoint, type FetchLike } from "../shared/back-channel.js";
import { clientAuthentication } from "./client-authentication.js";
import { OAuthError } from "../shared/errors.js";
import { toOAuthError } from "../shared/map-error.js";
import { httpOptions } from "./oauth4webapi-options.js";

/** The enterprise identity provider of enterprise-managed authorization (SEP-990, cross-app access). */
export interface IdentityProviderOptions {
  /** The identity provider's token endpoint, where the ID token is exchanged (RFC 8693). */
  tokenEndpoint: string;
  /** This application's client id at the identity provider. */
  clientId: string;
  /** Its secret there, if it is a confidential client. */
  clientSecret?: string;
  /**
   * How to authenticate at the identity provider. Default: `client_secret_basic` with a secret, else
   * `none` (the client id in the body).
   */
  tokenEndpointAuthMethod?: "client_secret_basic" | "client_secret_post" | "none";
  /**
   * The user's ID token from single sign-on at the identity provider, or a function returning a current
   * one (called for every new assertion, so it can hand out a fresh token when the old one expired).
   */
  idToken: string | (() => string | Promise<string>);
}

const tokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange";
const idTokenType = "urn:ietf:params:oauth:token-type:id_token";
const idJagType = "urn:ietf:params:oauth:token-type:id-jag";

/**
 * SEP-990 step one: RFC 8693 token exchange of the user's ID token for an Identity Assertion JWT
 * Authorization Grant (ID-JAG) whose audience is the MCP server's authorization server and whose
 * resource is the MCP server. The ID-JAG is then presented with the RFC 7523 jwt-bearer grant.
 */
export async function requestIdentityAssertion(
  idp: IdentityProviderOptions,
  audience: string,
  resource: string,
  scope: string | undefined,
  fetch: FetchLike,
): Promise<string> {
  const endpoint = assertSecureEndpoint(idp.tokenEndpoint, "identity provider token_endpoint");
  // Only the token endpoint of the identity provider is used; oauth4webapi needs an issuer for form's sake.
  const server: AuthorizationServer = { issuer: endpoint.origin, token_endpoint: endpoint.href };
  const method = idp.tokenEndpointAuthMethod ?? (idp.clientSecret ? "client_secret_basic" : "none");
  const auth = clientAuthentication({ client_id: idp.clientId, redirect_uris: [], token_endpoint_auth_method: method, ...(idp.clientSecret ? { client_secret: idp.clientSecret } : {}) });
  const subjectToken = typeof idp.idToken === "function" ? await idp.idToken() : idp.idToken;
  const parameters: Record<string, string> = {
    requested_token_type: idJagType,
    audience,
    resource,
    subject_token: subjectToken,
    subject_token_type: idTokenType,
    ...(scope ? { scope } : {}),
  };
  let issuedType: unknown;
  let assertion: string;
  try {
    const response = await genericTokenEndpointRequest(server, { client_id: idp.clientId }, auth, tokenExchange, parameters, httpOptions(endpoint, fetch));
    // RFC 8693 §2.2.1: an ID-JAG is not an access token, so its token_type is "N_A".
    const result = await processGenericTokenEndpointResponse(server, { client_id: idp.clientId }, response, { recognizedTokenTypes: { n_a: () => undefined } });
    issuedType = result.issued_token_type;
    assertion = result.access_token;
  } catch (error) {
    // The user's ID token and the identity provider's secret, should the provider echo them, are not printed.
    throw toOAuthError(error, "token_exchange_failed", `exchanging the ID token for an identity assertion at ${endpoint.href}`, [subjectToken, idp.clientSecret]);
  }
  if (issuedType !== idJagType) {
    throw new OAuthError("token_exchange_failed", `the identity provider at ${endpoint.href} issued ${JSON.stringify(issuedType)}, not an ID-JAG (${idJagType})`);
  }
  return assertion;
}
