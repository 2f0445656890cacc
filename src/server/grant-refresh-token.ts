import { canonicalResource } from "./handle-authorize.js";
import { parseScope } from "./http.js";
import { bindingOf, mintTokens, type TokenResponseBody } from "./issue-tokens.js";
import type { ResolvedProviderOptions } from "./options.js";
import { OAuthServerError, invalidGrant, invalidRequest } from "./server-errors.js";
import { hashToken, openForToken, sealForToken } from "./token-crypto.js";
import type { AccessToken, RefreshRotation, RefreshToken, RegisteredClient, Revocation } from "./types.js";

export interface RefreshGrantDeps {
  loadRefreshToken(tokenId: string): Promise<RefreshToken | undefined>;
  loadAccessToken(tokenId: string): Promise<AccessToken | undefined>;
  exchangeRefreshToken(current: RefreshToken, rotation: RefreshRotation): Promise<boolean>;
  revokeToken(revocation: Revocation): Promise<void>;
}

/** What the sealed successor holds: the response sent, and the request it answered, so only an identical retry gets it. */
interface Successor {
  body: TokenResponseBody;
  accessExpiresAt: number;
  scope: string | null;
  resource: string | null;
}

/**
 * The refresh_token grant (RFC 6749 §6, RFC 9700 §4.14.2). The token is bound to its client, scope and
 * resource; scope may only narrow. Every use rotates it and revokes the access token issued with it.
 * Presenting a rotated token again means it was copied, so the whole grant is revoked, with one
 * exception: within the grace window the immediately previous token, sent with the same parameters,
 * gets the same successor again, so a client that lost the response (or raced itself) is not logged out.
 */
export async function refreshTokenGrant(
  client: RegisteredClient,
  form: Map<string, string>,
  o: ResolvedProviderOptions,
  deps: RefreshGrantDeps,
): Promise<TokenResponseBody> {
  const token = form.get("refresh_token");
  if (!token) throw invalidRequest("refresh_token is required");
  const unusable = "the refresh token is invalid, expired, revoked or was issued to another client";
  const record = await deps.loadRefreshToken(hashToken(token));
  if (!record || record.clientId !== client.client_id) throw invalidGrant(unusable);
  if (record.expiresAt !== undefined && record.expiresAt <= o.now()) throw invalidGrant(unusable);

  const scopeParam = form.get("scope");
  const parsed = parseScope(scopeParam);
  // No scopes configured: a requested scope is ignored, as at /authorize.
  const requested = o.scopesSupported.length === 0 ? [] : parsed;
  const widened = requested.filter((s) => !record.scopes.includes(s));
  if (widened.length > 0) throw new OAuthServerError("invalid_scope", `a refresh may only narrow the granted scope; not granted: ${widened.join(" ").slice(0, 200)}`);
  const resourceParam = form.get("resource");
  if (resourceParam !== undefined && canonicalResource(resourceParam) !== canonicalResource(record.resource)) {
    throw new OAuthServerError("invalid_target", "resource differs from the one the grant is bound to");
  }
  const asked = { scope: scopeParam ?? null, resource: resourceParam ?? null };

  if (record.rotatedAt !== undefined) return replayOrRevoke(record, token, asked, o, deps);

  const minted = mintTokens(bindingOf(record), requested.length > 0 ? requested : record.scopes, true, o);
  const successor: Successor = { body: minted.body, accessExpiresAt: minted.records.accessToken.expiresAt, ...asked };
  const rotation: RefreshRotation = {
    rotatedAt: o.now(),
    successorId: minted.records.refreshToken?.id ?? "",
    successor: sealForToken(token, successor),
    tokens: minted.records,
  };
  if (await deps.exchangeRefreshToken(record, rotation)) {
    // The previous generation's access token goes with its refresh token (as FastMCP does). The rotation is
    // committed: a failure here must not turn into a 500, whose retry would present a rotated token and
    // revoke the grant; the old access token then lives out its short life instead.
    try {
      const previous = record.accessTokenId === undefined ? undefined : await deps.loadAccessToken(record.accessTokenId);
      if (previous) await deps.revokeToken({ type: "access_token", token: previous });
    } catch (error) {
      o.onError(error);
    }
    return minted.body;
  }

  // Lost the race to another request with the same token: it rotated first, so this is now a replay.
  const current = await deps.loadRefreshToken(record.id);
  if (!current?.rotatedAt) throw invalidGrant(unusable);
  return replayOrRevoke(current, token, asked, o, deps);
}

async function replayOrRevoke(
  record: RefreshToken,
  token: string,
  asked: { scope: string | null; resource: string | null },
  o: ResolvedProviderOptions,
  deps: RefreshGrantDeps,
): Promise<TokenResponseBody> {
  const now = o.now();
  // A window of 0 is off: a replay in the very millisecond of the rotation is still a replay.
  const inWindow = record.rotatedAt !== undefined && o.refreshGraceMs > 0 && now - record.rotatedAt < o.refreshGraceMs;
  // "Immediately previous": the successor must itself still be the live token, or this is an older generation.
  const next = inWindow && record.successorId ? await deps.loadRefreshToken(record.successorId) : undefined;
  const sealed = next && next.rotatedAt === undefined && record.successor ? (openForToken(token, record.successor) as Successor | undefined) : undefined;
  // An access token that is gone before its expiry was revoked: someone holding it asked for that, so
  // this is not a client that lost the response, and a revoked token must never be handed out again.
  // One that merely expired (access tokens shorter than the window) is returned with expires_in 0.
  const same = sealed && sealed.scope === asked.scope && sealed.resource === asked.resource;
  if (same && (sealed.accessExpiresAt <= now || (await deps.loadAccessToken(hashToken(sealed.body.access_token))))) {
    // The same response again; only the access token's remaining lifetime has moved on.
    return { ...sealed.body, expires_in: Math.max(0, Math.floor((sealed.accessExpiresAt - now) / 1000)) };
  }
  await deps.revokeToken({ type: "grant", grantId: record.grantId, clientId: record.clientId, reason: "refresh_token_reuse" });
  throw invalidGrant("the refresh token was already used; the grant is revoked and the user must authorize again");
}
