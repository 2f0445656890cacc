import { authorizeInBrowser } from "./authorize.js";
import { authorizeWithoutBrowser } from "./authorize-without-browser.js";
import type { ClientChooser } from "./client-chooser.js";
import { discover } from "./discover.js";
import { openSystemBrowser } from "./open-browser.js";
import type { BearerChallenge } from "./parse-www-authenticate.js";
import { configuredClient } from "./register-client.js";
import { toTokenRecord } from "./request-tokens.js";
import type { ResolvedOptions } from "./resolved-options.js";
import { backoffPolicy } from "./retry-after.js";
import { selectScopes } from "./select-scopes.js";
import type { CredentialBinding } from "./credential-binding.js";
import type { FetchLike } from "../shared/back-channel.js";
import { isOAuthError, OAuthError } from "../shared/errors.js";
import type { TokenGrant } from "../shared/events.js";
import type { ClientRecord, DiscoveryRecord, TokenRecord, TokenStore } from "../store/token-store.js";

/** Why a login runs: what the MCP server answered, and with which token. */
export interface LoginRequest {
  /** The 401 or 403 challenge asking for it: its resource metadata URL and scope steer discovery and scope selection. */
  challenge?: BearerChallenge | undefined;
  /** The token the server refused, if any. */
  rejected?: TokenRecord | undefined;
  /** A step-up: the server answered 403 `insufficient_scope`, so the new scope adds to the refused token's. */
  stepUp?: boolean;
}

/** What a login needs from the session that runs it (which holds the token lock meanwhile). */
export interface LoginDeps {
  readonly options: ResolvedOptions;
  readonly store: TokenStore;
  readonly backChannel: FetchLike;
  readonly clients: ClientChooser;
  readonly binding: CredentialBinding;
  /** The discovery the session's tokens belong with, and the way to replace it (in memory; the store is written here). */
  discovery(): DiscoveryRecord | undefined;
  setDiscovery(discovery: DiscoveryRecord): void;
  /** Stores the new tokens, under the lock the session holds, and returns them. */
  save(discovery: DiscoveryRecord, record: TokenRecord, grant: TokenGrant): Promise<TokenRecord>;
}

/**
 * Steps 2-8: discover, choose the scope, choose or register the client, authorize (in the browser, or
 * without a user for the machine grants), exchange the code, store the tokens. A login that fails after
 * discovery found another authorization server puts the previous discovery back, so the tokens in hand
 * go on being used (and refreshed where they were issued).
 */
export async function login(deps: LoginDeps, request: LoginRequest): Promise<TokenRecord> {
  const previous = deps.discovery();
  const discovery = await discoverForLogin(deps, request.challenge?.resourceMetadata);
  try {
    return await loginAt(deps, discovery, request);
  } catch (error) {
    await restoreDiscovery(deps, previous, discovery);
    throw error;
  }
}

/**
 * Runs for every login, never from the cache: logins are rare, and a server that moved to another
 * authorization server must be followed there. Token reuse and refresh use the cache.
 */
async function discoverForLogin(deps: LoginDeps, resourceMetadataUrl: string | undefined): Promise<DiscoveryRecord> {
  const o = deps.options;
  const cached = deps.discovery();
  const ctx = { fetch: deps.backChannel, onEvent: o.onEvent, authorizationCode: o.grant === "authorization_code", rules: o.network };
  const discovery = await discover(o.mcpUrl, resourceMetadataUrl, ctx, o.now(), o.authorizationServer);
  if (cached && cached.authorizationServer.issuer !== discovery.authorizationServer.issuer) {
    // The server moved to another authorization server: no client registered at the old one is used
    // there. The tokens in hand stay until new ones are stored.
    deps.clients.forget();
  }
  deps.setDiscovery(discovery);
  await deps.store.setDiscovery(discovery);
  return discovery;
}

/**
 * A login (a step-up, say) toward another authorization server failed: the discovery of the tokens in
 * hand comes back, in memory and in the store, so that they go on being used, and refreshed at the
 * server that issued them, instead of being dropped for a login that did not happen.
 */
async function restoreDiscovery(deps: LoginDeps, previous: DiscoveryRecord | undefined, attempted: DiscoveryRecord): Promise<void> {
  if (!previous || previous.authorizationServer.issuer === attempted.authorizationServer.issuer || deps.discovery() !== attempted) return;
  deps.setDiscovery(previous);
  await deps.store.setDiscovery(previous).catch(() => false);
}

async function loginAt(deps: LoginDeps, discovery: DiscoveryRecord, { challenge, rejected, stepUp = false }: LoginRequest): Promise<TokenRecord> {
  const o = deps.options;
  const as = discovery.authorizationServer;
  const interactive = o.grant === "authorization_code";
  const scope = selectScopes({
    challenged: challenge?.scope,
    configured: o.scopes,
    resourceScopes: discovery.scopesSupported,
    serverScopes: as.scopes_supported,
    refreshable: interactive,
    ...(stepUp ? { previous: [rejected?.requested_scope, rejected?.scope] } : {}),
  });
  if (stepUp && scope) o.onEvent({ type: "step_up", scope });
  if (!interactive) return loginWithoutBrowser(deps, discovery, scope);
  const stored = o.clientId || o.clientMetadataUrl ? undefined : await deps.store.getClient(as.issuer);
  const run = (registration: ClientRecord | undefined) =>
    authorizeInBrowser({
      as,
      resource: discovery.resource,
      scope,
      ports: deps.clients.callbackPorts(registration),
      prepareClient: (redirectUri) => deps.clients.prepare(discovery, redirectUri, registration, scope),
      openBrowser: o.openBrowser ?? openSystemBrowser,
      timeoutMs: o.callbackTimeoutMs,
      signal: o.signal,
      fetch: deps.backChannel,
      backoff: backoffPolicy(o),
      onEvent: o.onEvent,
      signingKey: o.signingKey,
    });
  let result;
  try {
    result = await run(stored);
  } catch (error) {
    // A registration the server forgot surfaces as invalid_client at the token endpoint: register anew, once.
    if (!(isOAuthError(error, "token_exchange_failed") && error.oauthError === "invalid_client" && deps.clients.registered)) throw error;
    await deps.clients.drop(as.issuer, "the token endpoint answered invalid_client");
    result = await run(undefined);
  }
  return deps.save(discovery, toTokenRecord(result.tokens, o.now(), scope), "authorization_code");
}

/** Client credentials or enterprise-managed authorization: a pre-registered client, no browser. */
async function loginWithoutBrowser(deps: LoginDeps, discovery: DiscoveryRecord, scope: string | undefined): Promise<TokenRecord> {
  const o = deps.options;
  const as = discovery.authorizationServer;
  const configured = configuredClient(o, as);
  if (!configured) throw new OAuthError("invalid_options", `grant "${o.grant}" needs a pre-registered \`clientId\``);
  await deps.binding.check(as.issuer);
  const record = deps.clients.use(as.issuer, configured.record, configured.source);
  const response = await authorizeWithoutBrowser(o, discovery, { record, signingKey: o.signingKey }, scope, deps.backChannel);
  return deps.save(discovery, toTokenRecord(response, o.now(), scope), o.grant === "client_credentials" ? "client_credentials" : "jwt_bearer");
}
