import type { LogoutResult } from "./logout-result.js";

/** The grant that produced a set of tokens (`jwt_bearer`: enterprise-managed authorization). */
export type TokenGrant = "authorization_code" | "refresh_token" | "client_credentials" | "jwt_bearer";

/**
 * What `onEvent` receives as the pipeline runs. Events never carry tokens, codes, verifiers or secrets;
 * `authorizationUrl` carries `state` and the PKCE challenge, which are safe to show to the user.
 */
export type OAuthEvent =
  /** A stored, unexpired token was used without any network round trip. */
  | { type: "token_reused"; expiresAt: number | undefined }
  /** Tokens another process (or instance) stored while this one waited for the token lock were used instead of refreshing or logging in. */
  | { type: "tokens_adopted"; expiresAt: number | undefined }
  /** A metadata document is about to be fetched. */
  | { type: "discovery_request"; url: string }
  /** Protected resource metadata (RFC 9728) was found and accepted. */
  | { type: "resource_metadata_found"; url: string; resource: string; authorizationServers: readonly string[] }
  /** The server has no protected resource metadata; the 2025-03-26 fallback applies. */
  | { type: "resource_metadata_absent" }
  /** Authorization server metadata was found (or, on the legacy path, default endpoints were assumed). */
  | { type: "authorization_server_found"; issuer: string; metadataUrl: string | undefined }
  /** A client identity is ready: registered now, loaded from the store, pre-registered or a metadata document. */
  | { type: "client_ready"; clientId: string; source: "dynamic" | "stored" | "pre-registered" | "metadata-document" }
  /** A stored registration was dropped because the server no longer accepts it. */
  | { type: "client_dropped"; clientId: string; reason: string }
  /** The loopback callback server is listening. */
  | { type: "callback_listening"; redirectUri: string }
  /** The authorization URL was handed to the browser opener. */
  | { type: "browser_opened"; authorizationUrl: string }
  /** A valid authorization response reached the callback server. */
  | { type: "callback_received" }
  /** New tokens were obtained and written to the store. */
  | { type: "tokens_stored"; grant: TokenGrant; expiresAt: number | undefined; scope: string | undefined; refreshable: boolean }
  /** The server asked for more scope; a new authorization starts. */
  | { type: "step_up"; scope: string }
  /**
   * The token or registration endpoint answered 429 or 503: the request is sent again after `delayMs`
   * (its `Retry-After`, else a short backoff). `retry` counts from 1 up to `maxRetries`.
   */
  | { type: "retry_scheduled"; endpoint: "token" | "registration"; status: number; delayMs: number; retry: number }
  /**
   * `oauth.logout()` revoked what it could and deleted the tokens: what became of each token, as it
   * resolves (a failure's `reason` names no token or secret).
   */
  | ({ type: "logged_out" } & LogoutResult);
