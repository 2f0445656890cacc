import { randomBytes, randomUUID } from "node:crypto";
import type { Response } from "express";
import type { OAuthRegisteredClientsStore } from "@modelcontextprotocol/sdk/server/auth/clients.js";
import {
  InvalidGrantError,
  InvalidScopeError,
  InvalidTargetError,
  InvalidTokenError,
  ServerError,
} from "@modelcontextprotocol/sdk/server/auth/errors.js";
import type { AuthorizationParams, OAuthServerProvider } from "@modelcontextprotocol/sdk/server/auth/provider.js";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import type {
  OAuthClientInformationFull,
  OAuthTokenRevocationRequest,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";

/** Faults read at request time, so a test can flip them between calls. */
export interface SdkAuthFaults {
  /** The refresh_token grant fails this way before any stored token is looked at. */
  refresh?: "server_error" | "invalid_grant" | undefined;
  /** /authorize redirects back with this error (plus `state` and `iss`) instead of a code. */
  authorizeError?: { error: string; error_description?: string } | undefined;
  /** Every /token request is held this long before the SDK handles it. */
  tokenDelayMs?: number | undefined;
}

export interface SdkAuthProviderConfig {
  /** Issuer exactly as served in the AS metadata (`issuer.href`, trailing slash included). */
  issuer: string;
  faults: SdkAuthFaults;
  scopesSupported: string[] | undefined;
  accessTokenTtlSeconds: number;
  issueRefreshTokens: boolean;
  sendIss: boolean;
}

interface PendingCode {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  scopes: string[];
  resource: URL | undefined;
  expiresAt: number;
  /** Set once redeemed; kept so a replayed code can take its grant down with it. */
  redeemedBy?: string;
}

/** Everything that came out of one authorization; revoking it kills every token it produced. */
interface Grant {
  clientId: string;
  scopes: string[];
  resource: URL | undefined;
  revoked: boolean;
}

interface AccessTokenRecord {
  grantId: string;
  scopes: string[];
  expiresAt: number;
  revoked: boolean;
}

interface RefreshTokenRecord {
  grantId: string;
  /** Rotated tokens stay on file: presenting one again is the reuse signal. */
  rotated: boolean;
}

const CODE_TTL_MS = 10 * 60_000;

const opaque = (): string => randomBytes(32).toString("base64url");

// The SDK compares resources loosely elsewhere (fragment and one trailing slash ignored); do the same here.
const sameResource = (a: URL, b: URL): boolean =>
  a.href.replace(/#.*$/, "").replace(/\/$/, "") === b.href.replace(/#.*$/, "").replace(/\/$/, "");

/**
 * Auto-approving in-memory authorization server with rotating refresh tokens, behaving like the strict
 * real servers a client has to survive (single-use codes, reuse detection that revokes the whole grant).
 */
export class SdkAuthProvider implements OAuthServerProvider, OAuthRegisteredClientsStore {
  readonly faults: SdkAuthFaults;
  private readonly config: SdkAuthProviderConfig;
  private readonly clients = new Map<string, OAuthClientInformationFull>();
  private readonly codes = new Map<string, PendingCode>();
  private readonly grants = new Map<string, Grant>();
  private readonly accessTokens = new Map<string, AccessTokenRecord>();
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  private readonly issued: string[] = [];

  constructor(config: SdkAuthProviderConfig) {
    this.config = config;
    this.faults = config.faults;
  }

  get clientsStore(): OAuthRegisteredClientsStore {
    return this;
  }

  getClient(clientId: string): OAuthClientInformationFull | undefined {
    return this.clients.get(clientId);
  }

  registerClient(
    client: Omit<OAuthClientInformationFull, "client_id" | "client_id_issued_at">,
  ): OAuthClientInformationFull {
    // Despite the Omit, the SDK's register handler has already minted client_id; the fallback only
    // matters if clientIdGeneration is ever turned off.
    const full: OAuthClientInformationFull = {
      client_id: randomUUID(),
      client_id_issued_at: Math.floor(Date.now() / 1000),
      ...client,
    };
    this.clients.set(full.client_id, full);
    return full;
  }

  async authorize(client: OAuthClientInformationFull, params: AuthorizationParams, res: Response): Promise<void> {
    const respond = (fields: Record<string, string | undefined>): void => {
      const target = new URL(params.redirectUri);
      for (const [key, value] of Object.entries({ ...fields, state: params.state })) {
        if (value !== undefined) target.searchParams.set(key, value);
      }
      if (this.config.sendIss) target.searchParams.set("iss", this.config.issuer);
      res.redirect(302, target.href);
    };

    const fault = this.faults.authorizeError;
    if (fault) return respond({ error: fault.error, error_description: fault.error_description });

    // The SDK splits `scope` on single spaces, so doubled spaces arrive as empty scopes.
    const requested = (params.scopes ?? []).filter((s) => s !== "");
    const supported = this.config.scopesSupported;
    const unknown = supported ? requested.filter((s) => !supported.includes(s)) : [];
    if (unknown.length > 0) {
      return respond({ error: "invalid_scope", error_description: `Unknown scope: ${unknown.join(" ")}` });
    }

    const code = opaque();
    this.codes.set(code, {
      clientId: client.client_id,
      redirectUri: params.redirectUri,
      codeChallenge: params.codeChallenge,
      // Like many real servers, an empty request gets the default (here: everything advertised).
      scopes: requested.length > 0 ? requested : [...(supported ?? [])],
      resource: params.resource,
      expiresAt: Date.now() + CODE_TTL_MS,
    });
    respond({ code });
  }

  // The SDK calls this before exchangeAuthorizationCode and lets anything but an OAuthError become a 500,
  // so every rejection of a code has to happen here, as invalid_grant.
  async challengeForAuthorizationCode(client: OAuthClientInformationFull, code: string): Promise<string> {
    return this.redeemable(client, code).codeChallenge;
  }

  async exchangeAuthorizationCode(
    client: OAuthClientInformationFull,
    code: string,
    _codeVerifier?: string,
    redirectUri?: string,
    resource?: URL,
  ): Promise<OAuthTokens> {
    const pending = this.redeemable(client, code);
    // The SDK checks neither of these; a real server does.
    if (redirectUri !== undefined && redirectUri !== pending.redirectUri) {
      throw new InvalidGrantError("redirect_uri does not match the authorization request");
    }
    if (resource && pending.resource && !sameResource(resource, pending.resource)) {
      throw new InvalidTargetError("resource does not match the authorization request");
    }
    const grantId = randomUUID();
    pending.redeemedBy = grantId;
    const grant: Grant = {
      clientId: client.client_id,
      scopes: pending.scopes,
      resource: pending.resource ?? resource,
      revoked: false,
    };
    this.grants.set(grantId, grant);
    return this.issue(grantId, grant.scopes);
  }

  async exchangeRefreshToken(
    client: OAuthClientInformationFull,
    refreshToken: string,
    scopes?: string[],
    resource?: URL,
  ): Promise<OAuthTokens> {
    if (this.faults.refresh === "server_error") throw new ServerError("Injected refresh fault");
    if (this.faults.refresh === "invalid_grant") throw new InvalidGrantError("Injected refresh fault");

    const record = this.refreshTokens.get(refreshToken);
    const grant = record && this.grants.get(record.grantId);
    if (!record || !grant || grant.clientId !== client.client_id) {
      throw new InvalidGrantError("Unknown refresh token");
    }
    if (record.rotated) {
      // Reuse means the token may have been stolen: the legitimate holder loses its session too.
      grant.revoked = true;
      throw new InvalidGrantError("Refresh token was already used; the grant is revoked");
    }
    if (grant.revoked) throw new InvalidGrantError("Grant was revoked");

    const narrowed = scopes?.filter((s) => s !== "");
    if (narrowed?.some((s) => !grant.scopes.includes(s))) {
      throw new InvalidScopeError("A refresh may only narrow the granted scopes");
    }
    if (resource && grant.resource && !sameResource(resource, grant.resource)) {
      throw new InvalidTargetError("resource does not match the grant");
    }
    record.rotated = true;
    return this.issue(record.grantId, narrowed && narrowed.length > 0 ? narrowed : grant.scopes);
  }

  async verifyAccessToken(token: string): Promise<AuthInfo> {
    const record = this.accessTokens.get(token);
    const grant = record && this.grants.get(record.grantId);
    if (!record || !grant || record.revoked || grant.revoked) {
      throw new InvalidTokenError("Unknown or revoked access token");
    }
    if (record.expiresAt <= Date.now()) throw new InvalidTokenError("Access token expired");
    return {
      token,
      clientId: grant.clientId,
      scopes: record.scopes,
      expiresAt: Math.floor(record.expiresAt / 1000),
      ...(grant.resource ? { resource: grant.resource } : {}),
    };
  }

  async revokeToken(client: OAuthClientInformationFull, request: OAuthTokenRevocationRequest): Promise<void> {
    const access = this.accessTokens.get(request.token);
    const refresh = this.refreshTokens.get(request.token);
    const grant = this.grants.get(access?.grantId ?? refresh?.grantId ?? "");
    // RFC 7009: tokens of other clients and unknown tokens are ignored silently.
    if (!grant || grant.clientId !== client.client_id) return;
    if (access) access.revoked = true;
    if (refresh) grant.revoked = true;
  }

  /** Every access and refresh token ever handed out, for leak assertions. */
  tokensIssued(): string[] {
    return [...this.issued];
  }

  revokeAllAccessTokens(): void {
    for (const record of this.accessTokens.values()) record.revoked = true;
  }

  forgetClients(): void {
    this.clients.clear();
  }

  private redeemable(client: OAuthClientInformationFull, code: string): PendingCode {
    const pending = this.codes.get(code);
    if (!pending) throw new InvalidGrantError("Unknown authorization code");
    if (pending.redeemedBy !== undefined) {
      const grant = this.grants.get(pending.redeemedBy);
      if (grant) grant.revoked = true;
      throw new InvalidGrantError("Authorization code was already used");
    }
    if (pending.clientId !== client.client_id) throw new InvalidGrantError("Code was issued to another client");
    if (pending.expiresAt <= Date.now()) throw new InvalidGrantError("Authorization code expired");
    return pending;
  }

  private issue(grantId: string, scopes: string[]): OAuthTokens {
    const ttl = this.config.accessTokenTtlSeconds;
    const accessToken = opaque();
    this.accessTokens.set(accessToken, { grantId, scopes, expiresAt: Date.now() + ttl * 1000, revoked: false });
    this.issued.push(accessToken);
    const tokens: OAuthTokens = { access_token: accessToken, token_type: "Bearer", expires_in: ttl };
    if (scopes.length > 0) tokens.scope = scopes.join(" ");
    if (this.config.issueRefreshTokens) {
      const refreshToken = opaque();
      this.refreshTokens.set(refreshToken, { grantId, rotated: false });
      this.issued.push(refreshToken);
      tokens.refresh_token = refreshToken;
    }
    return tokens;
  }
}
