import { randomUUID } from "node:crypto";
import { errorPage } from "./html.js";
import { parseScope, readForm, singleValued } from "./http.js";
import type { ResolvedProviderOptions } from "./options.js";
import { matchRedirectUri, redirectUriProblem } from "./redirect-uri.js";
import { OAuthServerError, asServerError, invalidRequest } from "./server-errors.js";
import { hashToken, isS256Challenge, randomToken } from "./token-crypto.js";
import type { Approval, AuthorizationCode, AuthorizationRequest, RegisteredClient } from "./types.js";

/** What /authorize needs from the provider: the client lookup, the redirect trust policy and the subclass's user interaction. */
export interface AuthorizeDeps {
  getClient(clientId: string): Promise<RegisteredClient | undefined>;
  trustsRedirectUri(client: RegisteredClient, redirectUri: string): boolean;
  authorize(client: RegisteredClient, request: AuthorizationRequest, httpRequest: Request): Promise<string>;
}

/** Longest `state` accepted. Clients use a few dozen characters; 2 KB leaves room for encoded app state. */
export const maxStateLength = 2048;

/**
 * RFC 8707 resource indicators are compared as URLs (scheme and host case, default port) with one
 * trailing slash ignored, the way clients derive them from the MCP URL. Undefined: not an absolute
 * URI without fragment (RFC 8707 §2).
 */
export function canonicalResource(value: string): string | undefined {
  if (!URL.canParse(value) || value.includes("#")) return undefined;
  return new URL(value).href.replace(/\/$/, "");
}

/**
 * The authorization endpoint. Until the client and its redirect URI are verified, every problem is an
 * error page. After that, the user has still seen nothing, so an error goes back to the client as a
 * redirect (with `error`, `state` and `iss`, RFC 9207) only when the provider trusts the redirect URI;
 * otherwise anyone could register a client and use this server to bounce browsers to any site (RFC 9700
 * §4.11.2, open redirector), and the error page is shown instead. Once the subclass has the user
 * (consent page), a denial goes back as a redirect: the user has seen where it goes.
 */
export async function handleAuthorize(request: Request, o: ResolvedProviderOptions, deps: AuthorizeDeps): Promise<Response> {
  let params: Map<string, string>;
  try {
    params = request.method === "POST" ? await readForm(request) : singleValued(new URL(request.url).searchParams);
  } catch (error) {
    const e = asServerError(error, o.onError);
    return errorPage(e.error, e.description);
  }

  // `state` is echoed back and kept while the user decides: bounded, so requests cannot fill memory.
  if ((params.get("state")?.length ?? 0) > maxStateLength) return errorPage("invalid_request", `state is longer than ${maxStateLength} characters`);
  const clientId = params.get("client_id");
  if (!clientId) return errorPage("invalid_request", "the request has no client_id");
  let client: RegisteredClient | undefined;
  try {
    client = await deps.getClient(clientId);
  } catch (error) {
    const e = asServerError(error, o.onError);
    return errorPage(e.error, e.description, e.status);
  }
  if (!client) return errorPage("invalid_client", `no client is registered with the id ${JSON.stringify(clientId.slice(0, 100))}`);

  const requestedRedirect = params.get("redirect_uri");
  const redirectUri =
    requestedRedirect === undefined
      ? client.redirect_uris.length === 1
        ? client.redirect_uris[0]
        : undefined
      : matchRedirectUri(requestedRedirect, client.redirect_uris) && requestedRedirect;
  if (!redirectUri) {
    return requestedRedirect === undefined
      ? errorPage("invalid_request", "the client registered several redirect URIs, so redirect_uri is required")
      : errorPage("invalid_request", "redirect_uri is not one the client registered");
  }
  // Defence in depth: a client from a subclass's store may never have been through /register's checks.
  const problem = redirectUriProblem(redirectUri, client.application_type);
  if (problem) return errorPage("invalid_request", `the client's redirect URI ${problem}`);

  const state = params.get("state");
  // S19 / RFC 9700 §4.12: a 307 would make the browser re-post the form body to the client.
  const status = request.method === "POST" ? 303 : 302;
  try {
    const authorization = validateAuthorizationRequest(params, client, redirectUri, requestedRedirect !== undefined, o);
    return redirect(await deps.authorize(client, authorization, request), status);
  } catch (error) {
    const e = asServerError(error, o.onError);
    if (!deps.trustsRedirectUri(client, redirectUri)) return errorPage(e.error, e.description, e.status);
    return redirect(authorizationResponseUrl(redirectUri, { error: e.error, error_description: e.description }, state, o.issuer), status);
  }
}

function validateAuthorizationRequest(
  params: Map<string, string>,
  client: RegisteredClient,
  redirectUri: string,
  explicit: boolean,
  o: ResolvedProviderOptions,
): AuthorizationRequest {
  const responseType = params.get("response_type");
  if (!responseType) throw invalidRequest("response_type is required");
  if (responseType !== "code") throw new OAuthServerError("unsupported_response_type", 'only response_type "code" is supported');

  const challenge = params.get("code_challenge");
  if (!challenge) throw invalidRequest("code_challenge is required: PKCE with S256");
  if (params.get("code_challenge_method") !== "S256") throw invalidRequest("code_challenge_method must be S256");
  if (!isS256Challenge(challenge)) throw invalidRequest("code_challenge is not an S256 challenge (43 base64url characters)");

  // A client that registered a scope gets at most that (RFC 7591 §2), and never beyond what the server supports.
  const allowed = client.scope === undefined ? o.scopesSupported : parseScope(client.scope).filter((s) => o.scopesSupported.includes(s));
  // No scopes configured: the requested ones are ignored (RFC 6749 §3.3) and the grant has none.
  const asked = parseScope(params.get("scope"));
  const requested = o.scopesSupported.length === 0 ? [] : asked;
  const refused = requested.filter((s) => !allowed.includes(s));
  if (refused.length > 0) throw new OAuthServerError("invalid_scope", `scope not allowed for this client: ${refused.join(" ").slice(0, 200)}`);
  const defaults = client.scope === undefined ? o.registration.defaultScopes.filter((s) => allowed.includes(s)) : allowed;

  // Without `resource` the tokens are still bound to the one resource this server protects.
  const resourceParam = params.get("resource");
  if (resourceParam !== undefined) {
    const resource = canonicalResource(resourceParam);
    if (resource === undefined) throw new OAuthServerError("invalid_target", "resource must be an absolute URI without a fragment");
    if (resource !== canonicalResource(o.resource)) throw new OAuthServerError("invalid_target", "this server issues tokens only for its own MCP endpoint");
  }

  return {
    clientId: client.client_id,
    redirectUri,
    redirectUriProvidedExplicitly: explicit,
    scopes: requested.length > 0 ? requested : defaults,
    state: params.get("state"),
    codeChallenge: challenge,
    resource: o.resource,
  };
}

/** A fresh code for an approved request, and the record the subclass stores (under the code's hash). */
export function mintAuthorizationCode(
  request: AuthorizationRequest,
  approval: Approval,
  o: ResolvedProviderOptions,
): { code: string; record: AuthorizationCode } {
  const scopes = approval.scopes ?? request.scopes;
  const widened = scopes.filter((s) => !request.scopes.includes(s));
  if (widened.length > 0) throw new OAuthServerError("invalid_scope", `approval grants scopes that were not requested: ${widened.join(" ")}`);
  const code = randomToken();
  return {
    code,
    record: {
      id: hashToken(code),
      grantId: randomUUID(),
      clientId: request.clientId,
      redirectUri: request.redirectUri,
      redirectUriProvidedExplicitly: request.redirectUriProvidedExplicitly,
      codeChallenge: request.codeChallenge,
      scopes,
      resource: request.resource,
      subject: approval.subject,
      ...(approval.claims ? { claims: approval.claims } : {}),
      grantExpiresAt: o.now() + o.grantLifetimeMs,
      expiresAt: o.now() + o.codeTtlMs,
    },
  };
}

/** The redirect back to the client: its URI (query kept) plus the response, `state` and `iss` (RFC 9207 §2). */
export function authorizationResponseUrl(
  redirectUri: string,
  fields: Record<string, string>,
  state: string | undefined,
  issuer: string,
): string {
  const url = new URL(redirectUri);
  for (const [key, value] of Object.entries(fields)) url.searchParams.set(key, value);
  if (state !== undefined) url.searchParams.set("state", state);
  url.searchParams.set("iss", issuer);
  return url.href;
}

function redirect(location: string, status: number): Response {
  return new Response(null, { status, headers: { location, "cache-control": "no-store", "referrer-policy": "no-referrer" } });
}
