import type { FetchLike } from "../shared/back-channel.js";
import type { SigningKey } from "./client-authentication.js";
import type { OAuthEvent } from "../shared/events.js";
import type { NetworkRules } from "../shared/guard-network.js";
import type { OAuthLogger } from "../shared/oauth-logger.js";
import type { IdentityProviderOptions } from "./request-identity-assertion.js";
import type { TokenLock } from "../store/token-lock.js";
import type { TokenStorage } from "../store/token-storage.js";

/**
 * How tokens are obtained when there are none:
 * - `"authorization_code"`: the user signs in in the browser (PKCE, loopback callback).
 * - `"client_credentials"`: machine to machine (RFC 6749 §4.4) with `clientId` and `clientSecret` or
 *   `privateKey`; no browser, no callback server, and a new token is requested when one expires.
 * - `"enterprise_managed"`: cross-app access (SEP-990): the user's ID token from the enterprise identity
 *   provider (`identityProvider`) is exchanged there for an identity assertion (RFC 8693), which the MCP
 *   server's authorization server trades for an access token (RFC 7523 jwt-bearer); no browser.
 */
export type Grant = "authorization_code" | "client_credentials" | "enterprise_managed";

/** `OAuthOptions` checked, with every default filled in: what the pipeline steps read. */
export interface ResolvedOptions {
  mcpUrl: URL;
  /** The MCP URL without fragment or trailing slash: the namespace of every storage key. */
  serverKey: string;
  scopes: string[];
  clientName: string;
  tokenStorage: TokenStorage;
  lock: TokenLock;
  lockLeaseMs: number;
  lockTimeoutMs: number;
  storageTimeoutMs: number;
  additionalClientMetadata: Record<string, unknown>;
  callbackPort: number | undefined;
  authorizationServer: string | undefined;
  clientId: string | undefined;
  clientSecret: string | undefined;
  signingKey: SigningKey | undefined;
  grant: Grant;
  identityProvider: IdentityProviderOptions | undefined;
  clientMetadataUrl: string | undefined;
  openBrowser: ((authorizationUrl: string) => void | Promise<void>) | undefined;
  callbackTimeoutMs: number;
  fetch: FetchLike;
  /** The network rules of the back channel (`guardNetwork`), from `mcpUrl`, `fetch`, `allowInsecureHttp` and `allowPrivateNetworks`. */
  network: NetworkRules;
  signal: AbortSignal | undefined;
  onEvent: (event: OAuthEvent) => void;
  logger: OAuthLogger;
  requestTimeoutMs: number;
  maxResponseBytes: number;
  maxStepUpAttempts: number;
  maxRetries: number;
  maxRetryAfterMs: number;
  now: () => number;
}
