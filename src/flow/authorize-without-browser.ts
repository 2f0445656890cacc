import type { TokenEndpointResponse } from "oauth4webapi";
import type { FetchLike } from "../shared/back-channel.js";
import { OAuthError } from "../shared/errors.js";
import type { ResolvedOptions } from "./resolved-options.js";
import { requestIdentityAssertion } from "./request-identity-assertion.js";
import { requestClientCredentials, requestWithJwtBearer, type TokenClient } from "./request-tokens.js";
import { backoffPolicy } from "./retry-after.js";
import type { DiscoveryRecord } from "../store/token-store.js";

/**
 * The grants that need no browser and no callback server: client credentials for machine-to-machine
 * clients, and enterprise-managed authorization (SEP-990), where the user already signed in at the
 * enterprise's identity provider. Both request the RFC 8707 `resource` of the MCP server.
 */
export async function authorizeWithoutBrowser(
  options: Pick<ResolvedOptions, "grant" | "identityProvider" | "maxRetries" | "maxRetryAfterMs" | "requestTimeoutMs" | "now" | "signal" | "onEvent">,
  discovery: DiscoveryRecord,
  client: TokenClient,
  scope: string | undefined,
  fetch: FetchLike,
): Promise<TokenEndpointResponse> {
  const as = discovery.authorizationServer;
  if (!as.token_endpoint) throw new OAuthError("discovery_failed", `authorization server ${as.issuer} has no token_endpoint`);
  const backoff = backoffPolicy(options);
  if (options.grant === "client_credentials") return requestClientCredentials(as, client, scope, discovery.resource, fetch, backoff);
  if (!options.identityProvider) throw new OAuthError("invalid_options", "grant \"enterprise_managed\" needs `identityProvider`");
  const assertion = await requestIdentityAssertion(options.identityProvider, as.issuer, discovery.resource, scope, fetch);
  return requestWithJwtBearer(as, client, assertion, scope, discovery.resource, fetch, backoff);
}
