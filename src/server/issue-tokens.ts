import type { ResolvedProviderOptions } from "./options.js";
import { hashToken, randomToken } from "./token-crypto.js";
import type { AccessToken, GrantBinding, RefreshToken, TokenSet } from "./types.js";

/** The RFC 6749 §5.1 token response body. */
export interface TokenResponseBody {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token?: string;
  scope?: string;
}

/** Fresh tokens for a grant, as the records to store and the response to send. */
export interface MintedTokens {
  records: TokenSet;
  body: TokenResponseBody;
  /** The new refresh token in the clear, needed to seal its successor later; undefined without one. */
  refreshToken: string | undefined;
}

/**
 * Mints an access token (scoped to `accessScopes`, possibly narrower than the grant) and, when the client
 * may refresh, a refresh token that keeps the whole grant's scope so a later refresh can ask for it again.
 */
export function mintTokens(
  binding: GrantBinding,
  accessScopes: string[],
  withRefreshToken: boolean,
  o: ResolvedProviderOptions,
): MintedTokens {
  const now = o.now();
  // Rotation restarts a refresh token's lifetime, but never past the end of the grant.
  const until = (ttlMs: number) => Math.min(now + ttlMs, binding.grantExpiresAt);
  const accessToken = randomToken();
  const access: AccessToken = { ...binding, scopes: accessScopes, id: hashToken(accessToken), issuedAt: now, expiresAt: until(o.accessTokenTtlMs) };
  const refreshToken = withRefreshToken ? randomToken() : undefined;
  const refresh: RefreshToken | undefined = refreshToken
    ? { ...binding, id: hashToken(refreshToken), issuedAt: now, expiresAt: until(o.refreshTokenTtlMs), accessTokenId: access.id }
    : undefined;
  return {
    records: { accessToken: access, ...(refresh ? { refreshToken: refresh } : {}) },
    refreshToken,
    body: {
      access_token: accessToken,
      token_type: "Bearer",
      expires_in: Math.floor((access.expiresAt - now) / 1000),
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      ...(accessScopes.length > 0 ? { scope: accessScopes.join(" ") } : {}),
    },
  };
}

/** The grant fields of a code or token, without its own id and timestamps. */
export function bindingOf(record: GrantBinding): GrantBinding {
  return {
    grantId: record.grantId,
    clientId: record.clientId,
    scopes: record.scopes,
    resource: record.resource,
    subject: record.subject,
    ...(record.claims ? { claims: record.claims } : {}),
    grantExpiresAt: record.grantExpiresAt,
  };
}
