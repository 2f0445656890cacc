import { assertBrowsableUrl } from "./open-browser.js";
import type { AuthorizationServerMetadata } from "../store/token-store.js";

/** What an authorization request carries besides the endpoint. */
export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  state: string;
  /** The PKCE S256 challenge of the flow's verifier. */
  codeChallenge: string;
  /** The MCP server's canonical URI (RFC 8707). */
  resource: string;
  scope: string | undefined;
}

/**
 * The authorization request's URL (RFC 6749 §4.1.1 with PKCE and RFC 8707 `resource`). The one builder for
 * the browser's request and for the stored registration's probe, so both ask the same thing, and both only
 * at an endpoint a browser may open (`https:`, or `http:` on loopback).
 */
export function authorizationUrl(as: AuthorizationServerMetadata, request: AuthorizationRequest): URL {
  const url = assertBrowsableUrl(as.authorization_endpoint ?? "");
  const params = url.searchParams;
  params.set("response_type", "code");
  params.set("client_id", request.clientId);
  params.set("redirect_uri", request.redirectUri);
  params.set("state", request.state);
  params.set("code_challenge", request.codeChallenge);
  params.set("code_challenge_method", "S256");
  params.set("resource", request.resource);
  if (request.scope) params.set("scope", request.scope);
  // OpenID Connect servers drop offline_access unless consent is prompted for.
  if (request.scope?.split(" ").includes("offline_access")) params.set("prompt", "consent");
  return url;
}
