import { calculatePKCECodeChallenge, generateRandomCodeVerifier, generateRandomState } from "oauth4webapi";
import type { FetchLike } from "../shared/back-channel.js";
import { authorizationUrl } from "./authorization-url.js";
import type { AuthorizationServerMetadata, ClientRecord } from "../store/token-store.js";

/**
 * Servers that restart without persisting dynamic registrations forget their clients, and an unknown
 * `client_id` or redirect URI is reported on the authorization page, where this client would never see
 * it (the user would stare at an error until the callback times out). So a registration from an earlier
 * process is probed first with the same authorization request, redirects not followed: a 400 or 401
 * means the server no longer accepts it. Returns the reason, or undefined when the registration is fine.
 */
export async function checkRegistration(
  as: AuthorizationServerMetadata,
  client: ClientRecord,
  redirectUri: string,
  resource: string,
  scope: string | undefined,
  fetch: FetchLike,
): Promise<string | undefined> {
  const url = authorizationUrl(as, {
    clientId: client.client_id,
    redirectUri,
    state: generateRandomState(),
    codeChallenge: await calculatePKCECodeChallenge(generateRandomCodeVerifier()),
    resource,
    scope,
  });
  let status: number;
  try {
    status = (await fetch(url, { headers: { accept: "text/html,application/json" } })).status;
  } catch {
    return undefined; // a probe that cannot run proves nothing; the real flow will report the problem
  }
  return status === 400 || status === 401 ? `the authorization endpoint rejected the stored registration (HTTP ${status})` : undefined;
}
