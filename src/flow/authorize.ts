import { timingSafeEqual } from "node:crypto";
import { calculatePKCECodeChallenge, generateRandomCodeVerifier, generateRandomState, validateAuthResponse, type TokenEndpointResponse } from "oauth4webapi";
import type { FetchLike } from "../shared/back-channel.js";
import { OAuthError } from "../shared/errors.js";
import type { OAuthEvent } from "../shared/events.js";
import { listenForCallback, type CallbackListener, type CallbackListenerOptions } from "./listen-for-callback.js";
import { toOAuthError } from "../shared/map-error.js";
import { asAuthorizationServer, asClient } from "./oauth4webapi-options.js";
import { authorizationUrl } from "./authorization-url.js";
import { exchangeCode } from "./request-tokens.js";
import type { BackoffPolicy } from "./retry-after.js";
import type { AuthorizationServerMetadata, ClientRecord } from "../store/token-store.js";
import type { SigningKey } from "./client-authentication.js";

export interface AuthorizationInput {
  as: AuthorizationServerMetadata;
  resource: string;
  scope: string | undefined;
  /** Callback ports to try in order; 0 lets the OS pick. */
  ports: readonly number[];
  /** Called once the redirect URI is known: returns the client registered for it. */
  prepareClient: (redirectUri: string) => Promise<ClientRecord>;
  openBrowser: (authorizationUrl: string) => void | Promise<void>;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  fetch: FetchLike;
  /** How a 429 or 503 from the token endpoint is retried during the code exchange. */
  backoff: BackoffPolicy;
  onEvent: (event: OAuthEvent) => void;
  /** The private key of a pre-registered `private_key_jwt` client. */
  signingKey: SigningKey | undefined;
}

export interface AuthorizationResult {
  tokens: TokenEndpointResponse;
  client: ClientRecord;
}

/**
 * One authorization code flow with PKCE: listen on loopback, open the browser, then check the callback
 * and redeem the code at the token endpoint of the server the request went to. A callback whose `state`
 * is not this flow's is ignored (a stray request cannot end the login); for the one that matches, RFC
 * 9207 `iss` is checked first, then an implicit-flow response is refused, and only then `error` or
 * `code` is read. The browser's page reports the final outcome.
 */
export async function authorizeInBrowser(input: AuthorizationInput): Promise<AuthorizationResult> {
  const verifier = generateRandomCodeVerifier();
  const state = generateRandomState();
  let client: ClientRecord | undefined;

  const listener = await listenOnFirstFreePort(input, {
    // Before the request is sent nothing can belong to it: the state is known to the browser only after.
    belongs: (callbackUrl) => client !== undefined && hasState(callbackUrl.searchParams, state),
    handle: async (callbackUrl) => {
      const parameters = checkCallback(callbackUrl.searchParams, input.as, client!, state);
      input.onEvent({ type: "callback_received" });
      return exchangeCode(input.as, { record: client!, signingKey: input.signingKey }, parameters, listener.redirectUri, verifier, input.resource, input.fetch, input.backoff);
    },
  });
  try {
    input.onEvent({ type: "callback_listening", redirectUri: listener.redirectUri });
    client = await input.prepareClient(listener.redirectUri);
    const url = authorizationUrl(input.as, {
      clientId: client.client_id,
      redirectUri: listener.redirectUri,
      state,
      codeChallenge: await calculatePKCECodeChallenge(verifier),
      resource: input.resource,
      scope: input.scope,
    }).href;
    input.onEvent({ type: "browser_opened", authorizationUrl: url });
    await input.openBrowser(url);
    return { tokens: await listener.result, client };
  } finally {
    await listener.close();
  }
}

async function listenOnFirstFreePort(
  input: AuthorizationInput,
  callback: Pick<CallbackListenerOptions<TokenEndpointResponse>, "belongs" | "handle">,
): Promise<CallbackListener<TokenEndpointResponse>> {
  let lastError: unknown;
  for (const port of input.ports) {
    try {
      return await listenForCallback({ port, timeoutMs: input.timeoutMs, signal: input.signal, ...callback });
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/** Whether the response carries this flow's `state` (compared in constant time). */
export function hasState(parameters: URLSearchParams, expectedState: string): boolean {
  const state = parameters.get("state");
  return state !== null && sameString(state, expectedState);
}

/**
 * Returns the branded parameters oauth4webapi's code grant wants, or throws a typed error. In order:
 * `state` (a response to another request is not this flow's), RFC 9207 `iss` (a response relayed from
 * another server must not be trusted, its error fields included), an implicit-flow response (tokens in
 * the query: injected, since this client asks for `code` only), then `error` or `code`.
 */
export function checkCallback(parameters: URLSearchParams, as: AuthorizationServerMetadata, client: ClientRecord, expectedState: string): URLSearchParams {
  if (!hasState(parameters, expectedState)) {
    throw new OAuthError("state_mismatch", "the authorization response's state does not match the request; it was not started by this client");
  }
  const iss = parameters.get("iss");
  if (iss === null ? as.authorization_response_iss_parameter_supported === true : iss !== as.issuer) {
    throw new OAuthError("issuer_response_mismatch", `the authorization response ${iss === null ? "lacks the iss parameter" : "came from another issuer"} (expected ${as.issuer})`);
  }
  if (parameters.has("access_token") || parameters.has("id_token")) {
    throw new OAuthError("authorization_failed", "the authorization response carries tokens (an implicit-flow response); this client asked for a code only, so it was refused");
  }
  try {
    return validateAuthResponse(asAuthorizationServer(as), asClient(client), parameters, expectedState);
  } catch (error) {
    throw toOAuthError(error, "authorization_failed", "the authorization server answered");
  }
}

function sameString(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
