/**
 * The records an `OAuthProvider` subclass stores. Tokens and codes never appear in them in the clear:
 * `id` is the SHA-256 of the token (see `hashToken`), so a leaked store holds nothing a client could
 * present. Times are milliseconds since the epoch unless a field says otherwise.
 */

/** How a client authenticates at the token and revocation endpoints. */
export type ClientAuthMethod = "none" | "client_secret_basic" | "client_secret_post";

/** RFC 7591 client metadata, after validation and defaults. */
export interface ClientMetadata {
  redirect_uris: string[];
  token_endpoint_auth_method: ClientAuthMethod;
  /** A subset of `authorization_code` and `refresh_token`; always contains `authorization_code`. */
  grant_types: string[];
  /** Always `["code"]`. */
  response_types: string[];
  application_type?: "native" | "web";
  client_name?: string;
  client_uri?: string;
  logo_uri?: string;
  tos_uri?: string;
  policy_uri?: string;
  contacts?: string[];
  software_id?: string;
  software_version?: string;
  /** Space-separated scopes; the default grant when an authorization request names none. */
  scope?: string;
}

/** A client as stored. The secret is kept only as a hash; it is shown once, in the registration response. */
export interface RegisteredClient extends ClientMetadata {
  client_id: string;
  /** Seconds since the epoch. */
  client_id_issued_at: number;
  /** `hashToken(client_secret)`; absent for public clients (`token_endpoint_auth_method: "none"`). */
  client_secret_hash?: string;
  /** Seconds since the epoch; `0` or absent means the secret does not expire. */
  client_secret_expires_at?: number;
}

/** A validated authorization request, handed to `authorize()` and back to `approve()` or `deny()`. */
export interface AuthorizationRequest {
  clientId: string;
  /** The redirect URI the response goes to: the one sent (a loopback one may differ from the registered one by port only). */
  redirectUri: string;
  /** Whether the request carried `redirect_uri` (then the token request must repeat it). */
  redirectUriProvidedExplicitly: boolean;
  /** Requested scopes, or the client's default scopes when the request named none. */
  scopes: string[];
  state: string | undefined;
  /** The PKCE S256 challenge. */
  codeChallenge: string;
  /** The RFC 8707 resource the tokens will be bound to (the MCP endpoint). */
  resource: string;
}

/** What the user consented to: who they are and which of the requested scopes they granted. */
export interface Approval {
  /** The authenticated user. Ends up in `AuthInfo.extra.subject` on every request made with the tokens. */
  subject: string;
  /** The granted scopes; must be a subset of the requested ones. Default: all requested scopes. */
  scopes?: string[];
  /** Extra data carried to `AuthInfo.extra.claims`. Must be JSON-serialisable. */
  claims?: Record<string, unknown>;
}

/** Everything a grant's tokens are bound to. Shared by codes and tokens of one authorization. */
export interface GrantBinding {
  /** Identifies the authorization (the token family): every token issued from one code shares it. */
  grantId: string;
  clientId: string;
  scopes: string[];
  resource: string;
  subject: string;
  claims?: Record<string, unknown>;
  /** When the authorization ends (`grantLifetimeSeconds` after approval): no token of the grant is valid after it. */
  grantExpiresAt: number;
}

export interface AuthorizationCode extends GrantBinding {
  /** `hashToken(code)`. */
  id: string;
  redirectUri: string;
  redirectUriProvidedExplicitly: boolean;
  codeChallenge: string;
  expiresAt: number;
  /** Set by `exchangeAuthorizationCode` when the code is consumed; a consumed code presented again revokes its grant. */
  consumedAt?: number;
}

export interface AccessToken extends GrantBinding {
  /** `hashToken(access_token)`. */
  id: string;
  issuedAt: number;
  expiresAt: number;
}

export interface RefreshToken extends GrantBinding {
  /** `hashToken(refresh_token)`. */
  id: string;
  issuedAt: number;
  /** Absent: does not expire. */
  expiresAt?: number;
  /** `id` of the access token issued together with this refresh token: revoked when this one is rotated. */
  accessTokenId?: string;
  /** When this token was rotated out. Set by `exchangeRefreshToken`, together with the two fields below. */
  rotatedAt?: number;
  /** `id` of the refresh token that replaced this one. */
  successorId?: string;
  /**
   * The token response that replaced this token, encrypted with a key only this token's holder can
   * derive. It lets a retry inside the grace window get the same successor without the store ever
   * holding a usable token. Kept only for the grace window.
   */
  successor?: string;
}

/** The tokens minted for one token response. */
export interface TokenSet {
  accessToken: AccessToken;
  refreshToken?: RefreshToken;
}

/** What `exchangeRefreshToken` must write, atomically with the check that `current` was not rotated yet. */
export interface RefreshRotation {
  rotatedAt: number;
  successorId: string;
  successor: string;
  tokens: TokenSet;
}

/**
 * What `revokeToken` must revoke: one access token, or a whole grant (every code, access token and
 * refresh token carrying `grantId`).
 */
export type Revocation =
  | { type: "access_token"; token: AccessToken }
  | { type: "grant"; grantId: string; clientId: string; reason: "revoked" | "refresh_token_reuse" | "code_reuse" };

/**
 * The caller of an MCP request, once the bearer token checked out. Shaped like the MCP SDK's `AuthInfo`,
 * so it can be handed to its transports (`req.auth`, `handleRequest(request, { authInfo })`).
 */
export interface AuthInfo {
  token: string;
  clientId: string;
  scopes: string[];
  /** Seconds since the epoch. */
  expiresAt: number;
  resource: URL;
  extra: { subject: string; grantId: string; claims?: Record<string, unknown> };
}
