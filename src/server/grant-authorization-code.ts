import { canonicalResource } from "./handle-authorize.js";
import { bindingOf, mintTokens, type TokenResponseBody } from "./issue-tokens.js";
import type { ResolvedProviderOptions } from "./options.js";
import { OAuthServerError, invalidGrant, invalidRequest } from "./server-errors.js";
import { hashToken, isCodeVerifier, pkceMatches } from "./token-crypto.js";
import type { AuthorizationCode, RegisteredClient, Revocation, TokenSet } from "./types.js";

export interface CodeGrantDeps {
  loadAuthorizationCode(codeId: string): Promise<AuthorizationCode | undefined>;
  exchangeAuthorizationCode(code: AuthorizationCode, tokens: TokenSet): Promise<boolean>;
  revokeToken(revocation: Revocation): Promise<void>;
}

/**
 * The authorization_code grant (RFC 6749 §4.1.3, OAuth 2.1 §4.1.3, RFC 7636 §4.6, RFC 8707 §2.2). Every
 * check happens here, before the subclass's atomic consume; a code that was already consumed, or loses
 * a race to be consumed, revokes everything issued from it (RFC 6749 §4.1.2), but only once the request
 * has passed the client, redirect URI and PKCE checks.
 */
export async function authorizationCodeGrant(
  client: RegisteredClient,
  form: Map<string, string>,
  o: ResolvedProviderOptions,
  deps: CodeGrantDeps,
): Promise<TokenResponseBody> {
  const code = form.get("code");
  if (!code) throw invalidRequest("code is required");
  const verifier = form.get("code_verifier");
  if (!verifier) throw invalidRequest("code_verifier is required (PKCE)");

  const record = await deps.loadAuthorizationCode(hashToken(code));
  // One message for unknown, expired and foreign codes: the answer must not help guess codes.
  const unusable = "the authorization code is invalid, expired, already used or was issued to another client";
  if (!record || record.clientId !== client.client_id) throw invalidGrant(unusable);

  const redirectUri = form.get("redirect_uri");
  if (redirectUri === undefined && record.redirectUriProvidedExplicitly) throw invalidRequest("redirect_uri is required: the authorization request had one");
  if (redirectUri !== undefined && redirectUri !== record.redirectUri) throw invalidGrant("redirect_uri differs from the one in the authorization request");
  if (!isCodeVerifier(verifier) || !pkceMatches(verifier, record.codeChallenge)) throw invalidGrant("code_verifier does not match the code_challenge");
  // Only a replay that proves possession of the verifier revokes: anyone who merely saw the spent code
  // (a log, a Referer) must not be able to log the user out.
  if (record.consumedAt !== undefined) {
    await revokeGrant(record, deps);
    throw invalidGrant(unusable);
  }
  if (record.expiresAt <= o.now() || record.grantExpiresAt <= o.now()) throw invalidGrant(unusable);

  const resource = form.get("resource");
  if (resource !== undefined && canonicalResource(resource) !== canonicalResource(record.resource)) {
    throw new OAuthServerError("invalid_target", "resource differs from the one the code was issued for");
  }

  const minted = mintTokens(bindingOf(record), record.scopes, client.grant_types.includes("refresh_token"), o);
  if (!(await deps.exchangeAuthorizationCode(record, minted.records))) {
    await revokeGrant(record, deps);
    throw invalidGrant(unusable);
  }
  return minted.body;
}

function revokeGrant(record: AuthorizationCode, deps: CodeGrantDeps): Promise<void> {
  return deps.revokeToken({ type: "grant", grantId: record.grantId, clientId: record.clientId, reason: "code_reuse" });
}
